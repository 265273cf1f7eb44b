//! The import engine as the CLI and the jobs drive it: batches read and typed on one thread and
//! written on another, in file order.

use dynex_core::{Dynex, ImportMode, ImportObserver, ImportOptions, Reject};
use dynex_test_support::{Backend, TestDb, backend_tests};

use crate::demo;

backend_tests!(
    a_key_repeated_in_a_batch_updates_what_the_first_wrote,
    max_errors_says_whether_lines_were_left_unread,
    an_import_leaves_its_connection_as_it_found_it,
);

/// Keeps the lines refused.
#[derive(Default)]
struct Lines(Vec<u64>);

impl ImportObserver for Lines {
    fn reject(&mut self, reject: &Reject) -> Result<(), dynex_core::CoreError> {
        self.0.push(reject.line);
        Ok(())
    }
}

fn names(dx: &Dynex) -> Vec<String> {
    let page = dx
        .read_collection("tax-sets", &[("page[limit]".into(), "100".into())], None)
        .unwrap();
    page.rows
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

fn a_key_repeated_in_a_batch_updates_what_the_first_wrote(db: TestDb) {
    let dx = demo(&db);
    let before = names(&dx).len();
    let options = ImportOptions {
        mode: ImportMode::Upsert,
        key: Some("name".into()),
        batch_rows: 100,
        ..ImportOptions::default()
    };
    // `Twice` comes back in the same batch: it is written before the second one is matched,
    // which then finds it unchanged instead of creating it again.
    let csv = "name\nOnce\nTwice\nOther\nTwice\nLast\n";
    let mut lines = Lines::default();
    let summary = dx
        .import("tax-sets", csv.as_bytes(), &options, &mut lines)
        .unwrap();
    assert_eq!(lines.0, Vec::<u64>::new());
    assert_eq!(
        (summary.read, summary.inserted, summary.unchanged),
        (5, 4, 1)
    );
    let after = names(&dx);
    assert_eq!(after.len(), before + 4, "{after:?}");
    assert_eq!(after.iter().filter(|n| *n == "Twice").count(), 1);
}

fn max_errors_says_whether_lines_were_left_unread(db: TestDb) {
    let dx = demo(&db);
    let options = ImportOptions {
        max_errors: Some(1),
        batch_rows: 2,
        dry_run: true,
        ..ImportOptions::default()
    };
    let run = |csv: &str| {
        let mut lines = Lines::default();
        let s = dx
            .import("tax-sets", csv.as_bytes(), &options, &mut lines)
            .unwrap();
        (s.read, s.rejected, s.stopped_early, lines.0)
    };
    // The limit is reached in the last batch: nothing was left, so not early.
    assert_eq!(run("name\nA\n\"\"\n"), (2, 1, false, vec![3]));
    // One more line after that batch: stopped early, that line unread.
    assert_eq!(run("name\nA\n\"\"\nB\n"), (2, 1, true, vec![3]));
}

/// An import that records its progress commits its batches without waiting for PostgreSQL's
/// disk, and gives its connection back to the pool with the usual setting.
fn an_import_leaves_its_connection_as_it_found_it(db: TestDb) {
    let dx = demo(&db);
    let options = ImportOptions {
        source: Some("fingerprint-of-the-file".into()),
        batch_rows: 2,
        ..ImportOptions::default()
    };
    let mut lines = Lines::default();
    let csv = "name\nP1\nP2\nP3\nP4\nP5\n";
    let summary = dx
        .import("tax-sets", csv.as_bytes(), &options, &mut lines)
        .unwrap();
    assert_eq!(summary.inserted, 5);
    assert!(
        dx.import_started("tax-sets", "fingerprint-of-the-file")
            .unwrap()
    );
    if db.backend == Backend::Postgres {
        // Every connection the pool hands out, including the import's.
        let held: Vec<_> = (0..8).map(|_| dx.db().conn().unwrap()).collect();
        for mut conn in held {
            let mut sql = dynex_query::Sql::default();
            sql.push("SELECT current_setting('synchronous_commit') AS s");
            let rows = dynex_core::db::load_cells(&mut conn, &sql).unwrap();
            assert_eq!(rows[0][0].as_deref(), Some("on"));
        }
    }
}
