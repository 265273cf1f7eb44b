//! The framework baseline of `benches/read.sh`: a bare actix-web server that answers
//! `GET /fixed/{tail:.*}` with one fixed JSON body.
//!
//! The body is read once at start from `--body FILE` (the benchmark saves a real dynex answer
//! there), so the baseline sends exactly as many bytes as dynex does, with the same content type,
//! the same HTTP stack and the same worker count (default: one per CPU, as `dynex-server`). What
//! dynex costs beyond this is its own work: routing, authentication, query parsing, the database
//! round trip and JSON encoding.
//!
//! ```text
//! cargo run --release -p dynex-server --example bare_actix -- --body body.json --bind 127.0.0.1:18081
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use actix_web::http::header::ContentType;
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpResponse, HttpServer};
use anyhow::Context;
use clap::Parser;

/// Command-line settings of the baseline server.
#[derive(Debug, Parser)]
#[command(
    name = "bare_actix",
    about = "Answer GET /fixed/{tail:.*} with a fixed JSON body"
)]
struct Args {
    /// File whose content is the response body (read once at start).
    #[arg(long)]
    body: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18081")]
    bind: SocketAddr,
    /// HTTP worker threads (default: one per CPU, like dynex-server).
    #[arg(long)]
    workers: Option<usize>,
}

async fn fixed(body: web::Data<Bytes>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body.get_ref().clone())
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let body = std::fs::read(&args.body)
        .with_context(|| format!("cannot read the body file {}", args.body.display()))?;
    // Fail early on a body that is not JSON: the benchmark must compare like with like.
    serde_json::from_slice::<serde_json::Value>(&body)
        .with_context(|| format!("{} is not JSON", args.body.display()))?;
    let body = web::Data::new(Bytes::from(body));
    println!(
        "bare_actix listening on http://{} ({} body bytes)",
        args.bind,
        body.len()
    );
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(body.clone())
            .route("/fixed/{tail:.*}", web::get().to(fixed))
    });
    if let Some(w) = args.workers {
        server = server.workers(w.max(1));
    }
    server.bind(args.bind)?.run().await?;
    Ok(())
}
