//! Integration tests of dynex-pipeline, one binary for the crate.

mod http;
mod http_server;
