//! Which database a command opened: a SQLite file that does not exist is refused (only
//! `migrate` creates one), and "not found" messages name the database and the closest name.

use std::path::Path;

use dynex_core::redact;
use dynex_test_support::{TestDb, backend_tests, open_demo};

use super::{Run, command, dynex, finish};

backend_tests!(
    not_found_messages_name_the_database_and_the_closest_name,
    an_empty_database_is_named_in_the_entity_list,
);

/// Runs `dynex args…` in `dir` (no `--database-url` unless `args` has one).
fn run_in(dir: &Path, args: &[&str]) -> Run {
    finish(command(args).current_dir(dir).output().expect("run dynex"))
}

#[test]
fn a_missing_sqlite_file_is_refused_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let absolute = format!("sqlite://{}", dir.path().join("shop.db").display());
    let commands: &[&[&str]] = &[
        &["entity", "list"],
        &["entity", "add", "--table", "spy_country"],
        &["entity", "import", "configuration.json"],
        &["key", "create", "ci"],
        &["user", "list"],
        &["client", "list"],
        &["import", "countries", "countries.csv"],
        &["export", "countries"],
        &["openapi"],
        &["audit"],
        &["pipeline", "list"],
        &["variable", "list"],
    ];
    for url in ["sqlite://shop.db", absolute.as_str()] {
        for args in commands {
            let mut all = vec!["--database-url", url];
            all.extend_from_slice(args);
            let run = run_in(dir.path(), &all);
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
            assert_eq!(
                run.stderr,
                format!(
                    "error: no SQLite database at {} (database URL {url}); `dynex \
                     --database-url {url} migrate` creates one, or pass the URL of an existing \
                     database\n",
                    dir.path().join("shop.db").display()
                ),
                "{args:?}"
            );
            all.push("--json");
            let run = run_in(dir.path(), &all);
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
            assert_eq!(run.json()["error"]["code"], "database_not_found");
        }
    }
    // The default URL, sqlite://dynex.db, the same.
    let run = run_in(dir.path(), &["entity", "list"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("dynex.db (database URL sqlite://dynex.db)"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file of any name (no -wal, no -shm)"
    );

    // A command that needs no database runs without one.
    let run = run_in(dir.path(), &["variable", "new-key"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim().len(), 64, "{}", run.stdout);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // migrate creates it; then the other commands work.
    let run = run_in(
        dir.path(),
        &["--database-url", "sqlite://shop.db", "migrate"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(dir.path().join("shop.db").is_file());
    let run = run_in(
        dir.path(),
        &["--database-url", "sqlite://shop.db", "entity", "list"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn in_memory_databases_are_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "sqlite://file::memory:",
        "sqlite://file:scratch?mode=memory&cache=shared",
    ] {
        let run = run_in(dir.path(), &["--database-url", url, "entity", "list"]);
        assert_eq!(run.code, 0, "{url}: {}", run.stderr);
        assert_eq!(
            run.stderr,
            format!(
                "no entities configured in {url}; add one with `dynex entity add --table TABLE` \
                 or `dynex entity import FILE.json`\n"
            )
        );
        let run = run_in(
            dir.path(),
            &["--database-url", url, "key", "create", "ci", "--json"],
        );
        assert_eq!(run.code, 0, "{url}: {}", run.stderr);
        assert!(run.json()["key"].as_str().unwrap().starts_with("dnx_"));
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "in memory: no file (`scratch` neither)"
    );
}

fn not_found_messages_name_the_database_and_the_closest_name(db: TestDb) {
    let _demo = open_demo(&db);
    let url = redact(&db.url);
    let refused = |args: &[&str], message: String| {
        let run = dynex(&db, args).failed(4);
        assert_eq!(run.stderr, format!("error: {message}\n"), "{args:?}");
    };
    for args in [
        &["entity", "show", "contries"][..],
        &["entity", "remove", "contries"],
        &["entity", "enable", "contries"],
        &["entity", "export", "contries"],
    ] {
        refused(
            args,
            format!("entity `contries` not found in {url}; did you mean `countries`?"),
        );
    }
    for args in [&["export", "Countries"][..], &["import", "Countries", "-"]] {
        refused(
            args,
            format!(
                "entity `Countries` is not configured or not active in {url}; did you mean \
                 `countries`?"
            ),
        );
    }
    refused(
        &["entity", "show", "tax-rate"],
        format!("entity `tax-rate` not found in {url}; did you mean `tax-rates`?"),
    );
    refused(
        &["entity", "add", "--table", "spy_contry"],
        format!("table `spy_contry` not found in {url}; did you mean `spy_country`?"),
    );
    // Nothing close: no suggestion.
    refused(
        &["entity", "show", "warehouses"],
        format!("entity `warehouses` not found in {url}"),
    );
    refused(
        &["entity", "add", "--table", "pyz_warehouse"],
        format!("table `pyz_warehouse` not found in {url}"),
    );
    // dynex's own tables are never suggested.
    refused(
        &["entity", "add", "--table", "dynex_api_kay"],
        format!("table `dynex_api_kay` not found in {url}"),
    );
    // An inactive entity is said to be one.
    dynex(&db, &["entity", "disable", "tax-rates"]).ok();
    refused(
        &["export", "tax-rates"],
        format!(
            "entity `tax-rates` is not configured or not active in {url}; it is inactive: \
             `dynex entity enable tax-rates` serves it"
        ),
    );

    // With --json: the same message and the same code as before, nothing on stderr.
    let run = dynex(&db, &["export", "contries", "--json"]).failed(4);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let error = &run.json()["error"];
    assert_eq!(error["code"], "unknown_entity");
    assert_eq!(
        error["message"],
        format!(
            "entity `contries` is not configured or not active in {url}; did you mean \
             `countries`?"
        )
    );
    let run = dynex(&db, &["entity", "show", "contries", "--json"]).failed(4);
    assert_eq!(run.json()["error"]["code"], "not_found");

    // In a manifest step, the step stays named.
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.yml");
    std::fs::write(&manifest, "exports:\n  - entity: contries\n").unwrap();
    let run = dynex(&db, &["export", "--manifest", manifest.to_str().unwrap()]).failed(4);
    assert!(
        run.stderr
            .contains("export 1 of 1 (`contries`): entity `contries` is not configured")
            && run
                .stderr
                .ends_with(&format!(" in {url}; did you mean `countries`?\n")),
        "{}",
        run.stderr
    );
}

fn an_empty_database_is_named_in_the_entity_list(db: TestDb) {
    dynex(&db, &["migrate"]).ok();
    let run = dynex(&db, &["entity", "list"]).ok();
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(
        run.stderr,
        format!(
            "no entities configured in {}; add one with `dynex entity add --table TABLE` or \
             `dynex entity import FILE.json`\n",
            redact(&db.url)
        )
    );
    let run = dynex(&db, &["entity", "list", "--json"]).ok();
    assert_eq!(run.json(), serde_json::json!([]));
}
