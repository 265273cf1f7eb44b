//! Integration tests of the dynex API server over the demo catalog, each on SQLite, PostgreSQL
//! and MariaDB (see `dynex-test-support` for how the server backends are chosen).
//!
//! Requests go through `dynex_server::create_app`, exactly what `dynex-server` serves; `oauth`
//! starts the `dynex-server` binary itself and talks to it as a real OAuth 2.0 client would.

mod access;
mod admin;
mod admin_entities;
mod admin_jobs;
mod admin_pipelines;
mod audit;
mod auth;
mod changes;
mod concurrency;
mod conditional;
mod config;
mod csv;
mod csv_abort;
mod docs;
mod duplicates;
mod errors;
mod faults;
mod first_minutes;
mod hooks;
mod nested;
mod nul;
mod oauth;
mod openapi;
mod ops;
mod ops_process;
mod overview;
mod paging;
mod pipelines;
mod propagation;
mod query;
mod read;
mod same_answers;
mod schedules;
mod support;
mod token;
mod transactions;
mod types;
mod ui;
mod validation;
mod writes;
