//! `dynex openapi`: the OpenAPI 3.1 description of the API that `dynex-server` serves over this
//! database, the same document as its `GET /openapi.json`.

use std::io::Write;
use std::path::PathBuf;

use dynex_core::Dynex;
use dynex_query::PageLimits;
use serde_json::json;

use crate::output::{print_json, write_file};

/// `dynex openapi [-o FILE]`
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
The description covers the database's active entities: paths, schemas with the validation rules,
parameters, credentials and error codes. The server settings that show in it are read from the
same options and environment variables as dynex-server's, so one environment prints the same
document as GET /openapi.json.")]
pub struct OpenapiArgs {
    /// Write to this file instead of stdout (replaced only when the description is complete).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The base URL clients reach the server at, e.g. https://api.example.com (default: relative to where the document is fetched from).
    #[arg(long, value_name = "URL")]
    pub server_url: Option<String>,
    /// URL prefix of the Data Exchange API, as given to dynex-server.
    #[arg(long, env = "DYNEX_ROUTE_PREFIX", default_value = "dynamic-entity")]
    pub route_prefix: String,
    /// Rows per page without page[limit], as given to dynex-server.
    #[arg(long, env = "DYNEX_PAGE_LIMIT_DEFAULT", default_value_t = 20)]
    pub page_limit_default: u64,
    /// Largest page[limit], as given to dynex-server.
    #[arg(long, env = "DYNEX_PAGE_LIMIT_MAX", default_value_t = 1000)]
    pub page_limit_max: u64,
    /// Largest request body in bytes, as given to dynex-server.
    #[arg(long, env = "DYNEX_MAX_BODY_BYTES", default_value_t = dynex_core::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
}

/// Prints or writes the description.
pub(crate) fn run(
    dynex: &Dynex,
    args: &OpenapiArgs,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    // The same bounds dynex-server puts on its settings.
    let limits = PageLimits {
        default_limit: args.page_limit_default.max(1),
        max_limit: args.page_limit_max.max(args.page_limit_default).max(1),
    };
    let snapshot = dynex.snapshot();
    let options = dynex_openapi::Options::served(
        &args.route_prefix,
        limits.default_limit,
        limits.max_limit,
        args.max_body_bytes,
        args.server_url.as_deref(),
    );
    let document = dynex_openapi::describe(&snapshot.catalog, &options);
    let Some(path) = &args.output else {
        print_json(out, &document)?;
        return Ok(());
    };
    write_file(path, |w| Ok(print_json(w, &document)?))?;
    let paths = document["paths"].as_object().map_or(0, |p| p.len());
    let entities = snapshot.catalog.entities().len();
    if json {
        print_json(
            out,
            &json!({ "file": path, "entities": entities, "paths": paths }),
        )?;
    } else {
        writeln!(
            out,
            "wrote the OpenAPI 3.1 description of {entities} entities ({paths} paths) to {}",
            path.display()
        )?;
    }
    Ok(())
}
