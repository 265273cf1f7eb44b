//! Integration tests of dynex-core against SQLite, PostgreSQL and MariaDB.

mod config;
mod export;
mod import;
mod keys;
mod read;
mod rows;
mod runs;
mod tokens;
mod users;
mod writes;

use dynex_core::{Dynex, Options};
use dynex_test_support::TestDb;

/// Opens a test database with the demo catalog loaded and no background watcher.
pub fn demo(db: &TestDb) -> Dynex {
    let dynex = Dynex::open_with(
        &db.url,
        Options {
            watch_interval: None,
            ..Options::default()
        },
    )
    .expect("open");
    assert!(dynex.load_demo().expect("demo"));
    dynex
}
