//! The examples of `docs/api.md` hold: each documented request gets the documented answer.

use actix_web::test::{TestRequest, call_service, init_service, read_body};
use dynex_core::{Dynex, Options};
use dynex_test_support::{TestDb, async_backend_tests};
use serde_json::Value;

const API_DOC: &str = include_str!("../../../../docs/api.md");

struct Example {
    uri: String,
    status: u16,
    body: Value,
}

/// Finds each ```http block, the `Response `NNN`:` line after it and the ```json block after that.
fn examples(doc: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find("```http\n") {
        rest = &rest[start + 8..];
        let request = rest.lines().next().unwrap_or_default();
        let uri = request
            .strip_prefix("GET ")
            .expect("examples are GET requests")
            .to_string();
        let status_at = rest
            .find("Response `")
            .expect("a response status follows a request");
        let status = rest[status_at + 10..status_at + 13]
            .parse()
            .expect("status");
        let json_at = rest.find("```json\n").expect("a JSON body follows") + 8;
        let json_end = json_at + rest[json_at..].find("```").expect("closed block");
        let body = serde_json::from_str(&rest[json_at..json_end]).expect("documented JSON parses");
        out.push(Example { uri, status, body });
        rest = &rest[json_end..];
    }
    out
}

/// Percent-encodes query values as a client would (the doc shows them readable).
fn encode(uri: &str) -> String {
    let Some((path, query)) = uri.split_once('?') else {
        return uri.to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => format!(
                "{k}={}",
                form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            ),
            None => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

async_backend_tests!(api_doc_examples_hold);

async fn api_doc_examples_hold(db: TestDb) {
    let dynex = Dynex::open_with(
        &db.url,
        Options {
            watch_interval: None,
            ..Options::default()
        },
    )
    .unwrap();
    dynex.load_demo().unwrap();
    let key = dynex.create_api_key("docs", &[], None).unwrap().key;
    let app = init_service(dynex_server::create_app(
        dynex,
        dynex_server::AppConfig::default(),
    ))
    .await;
    let examples = examples(API_DOC);
    assert!(examples.len() >= 9, "found {} examples", examples.len());
    for ex in examples {
        let req = TestRequest::get()
            .uri(&encode(&ex.uri))
            .insert_header(("X-Api-Key", key.as_str()))
            .to_request();
        let resp = call_service(&app, req).await;
        assert_eq!(resp.status().as_u16(), ex.status, "{}", ex.uri);
        let body: Value = serde_json::from_slice(&read_body(resp).await).unwrap();
        assert_eq!(body, ex.body, "{}", ex.uri);
    }
}
