//! `dynex audit`: what the CLI changed, recorded as the operating-system user from `cli`.

use dynex_test_support::{TestDb, backend_tests, open_demo};

use super::{command, dynex, finish};

fn the_cli_records_and_shows_its_changes(db: TestDb) {
    let _demo = open_demo(&db);
    let as_ops = |args: &[&str]| {
        finish(
            command(args)
                .arg("--database-url")
                .arg(&db.url)
                .env("USER", "ops")
                .output()
                .expect("run dynex"),
        )
        .ok()
    };
    as_ops(&["key", "create", "nightly-etl"]);
    as_ops(&["entity", "disable", "stores"]);
    as_ops(&["key", "revoke", "nightly-etl"]);

    let log = dynex(&db, &["audit", "--limit", "3", "--json"]).ok().json();
    let entries = log.as_array().expect("a list");
    let summary: Vec<(&str, &str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("key.revoke", "nightly-etl", "ops", "cli"),
            ("entity.disable", "stores", "ops", "cli"),
            ("key.create", "nightly-etl", "ops", "cli"),
        ]
    );
    let keys = dynex(&db, &["audit", "--action", "key.", "--json"])
        .ok()
        .json();
    assert_eq!(keys.as_array().map(Vec::len), Some(2), "{keys}");
    let table = dynex(&db, &["audit", "--limit", "1"]).ok().stdout;
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("key.revoke"), "{table}");
    let refused = dynex(&db, &["audit", "--action", "KEY%", "--json"]);
    assert_eq!(refused.code, 2, "{}", refused.stdout);
}

backend_tests!(the_cli_records_and_shows_its_changes);
