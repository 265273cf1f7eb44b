//! Integration tests of dynex-pipeline, one binary for the crate.

mod csv;
mod entity;
mod http;
mod http_server;
mod http_target;

/// The YAML block of docs/pipelines.md after `<!-- pipelines:NAME -->`.
pub fn docs_example(name: &str) -> String {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/pipelines.md"
    ))
    .expect("docs/pipelines.md");
    let (_, after) = docs
        .split_once(&format!("<!-- pipelines:{name} -->"))
        .expect("the marked example");
    after
        .split_once("```yaml\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block.to_string())
        .expect("a yaml block")
}
