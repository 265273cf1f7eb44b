//! Integration tests of the dynex API server over the demo catalog, each on SQLite, PostgreSQL
//! and MariaDB (see `dynex-test-support` for how the server backends are chosen).
//!
//! Requests go through `dynex_server::create_app`, exactly what `dynex-server` serves; `oauth`
//! starts the `dynex-server` binary itself and talks to it as a real OAuth 2.0 client would.

mod access;
mod admin;
mod admin_entities;
mod admin_jobs;
mod auth;
mod concurrency;
mod config;
mod csv;
mod csv_abort;
mod docs;
mod duplicates;
mod errors;
mod nested;
mod nul;
mod oauth;
mod openapi;
mod paging;
mod query;
mod read;
mod support;
mod token;
mod transactions;
mod types;
mod ui;
mod validation;
mod writes;
