//! Integration tests of dynex-pipeline, one binary for the crate.

mod csv;
mod entity;
mod http;
mod http_server;
