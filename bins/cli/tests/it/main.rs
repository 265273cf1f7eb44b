//! Integration tests of the `dynex` binary: every test runs the built executable against a fresh
//! database on each backend (SQLite always; PostgreSQL and MariaDB when configured).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use clap::CommandFactory;
use dynex_core::Dynex;
use dynex_test_support::{TestDb, backend_tests, open_demo, run_sql};
use serde_json::Value;

mod audit;
mod client;
mod database;
mod docs;
mod export;
mod import;
mod indexes;
mod lookup;
mod manifest;
mod mapping;
mod openapi;
mod pim;
mod pipeline;
mod preview;
mod progress;
mod resume;

/// What a run of the binary produced.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    fn failed(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

fn finish(output: Output) -> Run {
    Run {
        code: output.status.code().unwrap_or_else(|| {
            panic!(
                "dynex died: {:?}\nstdout: {}\nstderr: {}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        }),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dynex"));
    cmd.args(args)
        .env_remove("DYNEX_DATABASE_URL")
        .env_remove("DYNEX_SECRET_KEY")
        .stdin(Stdio::null());
    cmd
}

/// Runs `dynex --database-url <db> args…`.
fn dynex(db: &TestDb, args: &[&str]) -> Run {
    finish(
        command(args)
            .arg("--database-url")
            .arg(&db.url)
            .output()
            .expect("run dynex"),
    )
}

/// Runs `dynex --database-url <db> args…` with environment variables set and, when given,
/// `input` on stdin.
fn dynex_env(db: &TestDb, args: &[&str], env: &[(&str, &str)], input: Option<&str>) -> Run {
    use std::io::Write;
    let mut cmd = command(args);
    cmd.arg("--database-url").arg(&db.url);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dynex");
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        let _ = stdin.write_all(input.as_bytes());
    }
    finish(child.wait_with_output().expect("wait for dynex"))
}

/// Runs `dynex --database-url <db> args…` with `input` on stdin.
fn dynex_with_stdin(db: &TestDb, args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let mut child = command(args)
        .arg("--database-url")
        .arg(&db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dynex");
    // dynex may exit before reading (a refused command); a broken pipe is fine then.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    finish(child.wait_with_output().expect("wait for dynex"))
}

fn migrate_reports_applied_migrations(db: TestDb) {
    let first = dynex(&db, &["migrate", "--json"]).ok().json();
    assert!(first["applied"].as_u64().unwrap() >= 1, "{first}");
    let again = dynex(&db, &["--json", "migrate"]).ok().json();
    assert_eq!(again, serde_json::json!({ "applied": 0 }));
    let text = dynex(&db, &["migrate"]).ok();
    assert!(text.stdout.contains("up to date"), "{}", text.stdout);
}

fn entity_configuration_round_trips(db: TestDb) {
    let _demo = open_demo(&db);
    let list = dynex(&db, &["entity", "list", "--json"]).ok().json();
    let countries = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["alias"] == "countries")
        .expect("countries listed");
    assert_eq!(
        *countries,
        serde_json::json!({"alias": "countries", "table": "spy_country", "active": true,
                           "isDeletable": false, "fields": 6, "relations": 1})
    );
    let text = dynex(&db, &["entity", "list"]).ok().stdout;
    assert!(text.starts_with("ALIAS"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("countries ") && l.contains("spy_country")),
        "{text}"
    );

    let shown = |alias: &str| dynex(&db, &["entity", "show", alias, "--json"]).ok().json();
    let before_countries = shown("countries");
    let before_rates = shown("tax-rates");
    assert_eq!(before_countries["tableName"], "spy_country");
    assert_eq!(
        before_countries["childRelations"][0]["name"],
        "countryTaxRates"
    );
    let overview = dynex(&db, &["entity", "show", "countries"]).ok().stdout;
    assert!(
        overview.contains("iso2_code") && overview.contains("maxLength=2"),
        "{overview}"
    );
    assert!(
        overview.contains("countryTaxRates → tax-rates"),
        "{overview}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("configuration.json");
    let file = file.to_str().unwrap();
    let exported = dynex(&db, &["entity", "export", "-o", file, "--json"])
        .ok()
        .json();
    assert_eq!(
        exported["exported"].as_array().unwrap().len(),
        list.as_array().unwrap().len()
    );
    let on_disk: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(dynex(&db, &["entity", "export"]).ok().json(), on_disk);
    let one = dynex(&db, &["entity", "export", "countries"]).ok().json();
    assert_eq!(one, serde_json::json!([before_countries]));

    dynex(&db, &["entity", "remove", "tax-rates"]).ok();
    dynex(&db, &["entity", "show", "tax-rates"]).failed(4);
    assert!(
        shown("countries").get("childRelations").is_none(),
        "relations to a removed entity go"
    );

    let imported = dynex(&db, &["entity", "import", file, "--json"])
        .ok()
        .json();
    assert_eq!(
        imported["imported"].as_array().unwrap().len(),
        list.as_array().unwrap().len()
    );
    assert_eq!(shown("countries"), before_countries);
    assert_eq!(shown("tax-rates"), before_rates);

    // stdin works too, and disable/enable flip the flag.
    let mut child = command(&["entity", "import", "-", "--database-url", &db.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        serde_json::to_string(&before_rates).unwrap().as_bytes(),
    )
    .unwrap();
    let run = finish(child.wait_with_output().unwrap()).ok();
    assert!(run.stdout.contains("tax-rates"), "{}", run.stdout);
    dynex(&db, &["entity", "disable", "tax-rates"]).ok();
    assert_eq!(shown("tax-rates")["isActive"], false);
    dynex(&db, &["entity", "enable", "tax-rates", "--json"]).ok();
    assert_eq!(shown("tax-rates"), before_rates);
}

fn entity_add_exposes_a_new_table(db: TestDb) {
    let dynex_db = open_demo(&db);
    let id = db.id_column();
    let rows: Vec<String> = (1..=2001)
        .map(|i| format!("({i}, 'gadget {i}', {i}.50)"))
        .collect();
    let script = format!(
        "CREATE TABLE gadgets ({id}, name VARCHAR(40) NOT NULL, price DECIMAL(10,2));\n\
         CREATE TABLE gizmo_parts ({id}, name VARCHAR(10));\n\
         INSERT INTO gadgets (id, name, price) VALUES {};\n",
        rows.join(", ")
    );
    run_sql(&dynex_db, &script);

    // A short summary, not the whole configuration (that is `entity show`'s, or --json's).
    let run = dynex(&db, &["entity", "add", "--table", "gadgets"]).ok();
    assert_eq!(
        run.stdout,
        "added entity `gadgets`: table gadgets, 3 fields, identifier id\n\
         Exposed at /dynamic-entity/gadgets\n\
         `dynex entity show gadgets` shows its fields and rules\n"
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let config = dynex(&db, &["entity", "show", "gadgets", "--json"])
        .ok()
        .json();
    assert_eq!(config["tableAlias"], "gadgets");
    assert_eq!(config["isActive"], true);
    let field = |name: &str| {
        config["definition"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["fieldName"] == name)
            .unwrap_or_else(|| panic!("field {name} in {config}"))
            .clone()
    };
    assert_eq!(field("name")["type"], "string");
    assert_eq!(field("name")["validation"]["maxLength"], 40);
    assert_eq!(field("name")["validation"]["isRequired"], true);
    assert_eq!(field("price")["type"], "decimal");
    assert_eq!(field("price")["validation"]["precision"], 10);
    assert_eq!(field("price")["validation"]["scale"], 2);
    assert_eq!(config["definition"]["identifier"], "id");

    // Taken aliases, unknown tables and the --alias/--inactive options.
    dynex(&db, &["entity", "add", "--table", "gadgets"]).failed(2);
    let again = dynex(
        &db,
        &["entity", "add", "--table", "gadgets", "--alias", "gadgets2"],
    )
    .failed(2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    dynex(&db, &["entity", "add", "--table", "no_such_table"]).failed(4);
    let other = dynex(
        &db,
        &[
            "entity",
            "add",
            "--table",
            "gizmo_parts",
            "--alias",
            "gizmos",
            "--inactive",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(other["tableAlias"], "gizmos");
    assert_eq!(other["isActive"], false);
    assert_eq!(
        other,
        dynex(&db, &["entity", "show", "gizmos", "--json"])
            .ok()
            .json(),
        "--json prints the whole configuration"
    );
    dynex(&db, &["export", "gizmos"]).failed(4);

    // More rows than one page: every row exactly once.
    let csv = dynex(&db, &["export", "gadgets"]).ok().stdout;
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("id,name,price"));
    let ids: std::collections::BTreeSet<&str> =
        lines.map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(ids.len(), 2001);
}

fn invalid_import_exits_3_and_changes_nothing(db: TestDb) {
    let _demo = open_demo(&db);
    let before = dynex(&db, &["entity", "export"]).ok().stdout;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    std::fs::write(
        &file,
        r#"[
          {"tableName": "spy_store", "tableAlias": "shops", "isActive": true,
           "definition": {"identifier": "id_store", "fields": [
             {"fieldName": "id_store", "fieldVisibleName": "id_store", "type": "integer"}]}},
          {"tableName": "spy_country", "tableAlias": "countries", "isActive": true,
           "definition": {"identifier": "id_country", "fields": [
             {"fieldName": "id_country", "fieldVisibleName": "id_country", "type": "integer"},
             {"fieldName": "no_such_column", "fieldVisibleName": "nope", "type": "string"}]}}
        ]"#,
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let run = dynex(&db, &["entity", "import", file]).failed(3);
    assert!(
        run.stderr.starts_with("error: invalid configuration"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("countries") && l.contains("no_such_column")),
        "{}",
        run.stderr
    );
    let run = dynex(&db, &["entity", "import", file, "--json"]).failed(3);
    let error = &run.json()["error"];
    assert_eq!(error["code"], "invalid_configuration");
    assert!(!error["details"].as_array().unwrap().is_empty(), "{error}");
    assert_eq!(dynex(&db, &["entity", "export"]).ok().stdout, before);
    dynex(&db, &["entity", "show", "shops"]).failed(4);

    // Malformed files and missing files are invalid input.
    std::fs::write(dir.path().join("broken.json"), "[{").unwrap();
    let broken = dir.path().join("broken.json");
    dynex(&db, &["entity", "import", broken.to_str().unwrap()]).failed(2);
    let missing = dir.path().join("missing.json");
    dynex(&db, &["entity", "import", missing.to_str().unwrap()]).failed(2);
    assert_eq!(dynex(&db, &["entity", "export"]).ok().stdout, before);
}

fn api_keys_are_shown_once_listed_and_revoked(db: TestDb) {
    let _demo = open_demo(&db);
    let created = dynex(
        &db,
        &[
            "key",
            "create",
            "ci",
            "--scope",
            "dynamic-entity:countries:read",
            "--json",
        ],
    )
    .ok()
    .json();
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("dnx_"), "{created}");
    assert_eq!(created["name"], "ci");
    assert_eq!(
        created["scopes"],
        serde_json::json!(["dynamic-entity:countries:read"])
    );
    assert_eq!(created["validTo"], Value::Null);

    let check = Dynex::open(&db.url).unwrap();
    let principal = check
        .authenticate_api_key(&key)
        .expect("the new key authenticates");
    assert_eq!(principal.name, "ci");

    let list = dynex(&db, &["key", "list", "--json"]).ok();
    assert!(
        !list.stdout.contains(&key),
        "the key itself is never listed"
    );
    let listed = list.json();
    assert_eq!(listed[0]["name"], "ci");
    assert_eq!(listed[0]["status"], "active");
    assert_eq!(listed[0]["prefix"], key[..8]);
    let text = dynex(&db, &["key", "list"]).ok().stdout;
    assert!(text.contains("ci") && !text.contains(&key), "{text}");

    dynex(&db, &["key", "create", "ci"]).failed(2);
    dynex(&db, &["key", "revoke", "ci"]).ok();
    check.refresh().unwrap();
    assert!(check.authenticate_api_key(&key).is_err());
    dynex(&db, &["key", "revoke", "ci"]).failed(4);
    assert_eq!(
        dynex(&db, &["key", "list", "--json"]).ok().json()[0]["status"],
        "revoked"
    );

    let old = dynex(
        &db,
        &["key", "create", "old", "--valid-to", "2000-01-01", "--json"],
    )
    .ok();
    assert!(old.stderr.contains("already expired"), "{}", old.stderr);
    let old = old.json();
    assert_eq!(old["validTo"], "2000-01-01 23:59:59");
    check.refresh().unwrap();
    assert_eq!(
        check.authenticate_api_key(old["key"].as_str().unwrap()),
        Err(dynex_core::KeyRefusal::Expired)
    );

    // The text form shows the key once with a warning and an example request.
    let text = dynex(
        &db,
        &["key", "create", "shop", "--valid-to", "2999-12-31 12:00:00"],
    )
    .ok()
    .stdout;
    assert!(text.contains("will not be shown again"), "{text}");
    assert!(text.contains("curl -H 'X-Api-Key: dnx_"), "{text}");
    assert!(text.contains("2999-12-31 12:00:00"), "{text}");

    dynex(
        &db,
        &[
            "key",
            "create",
            "bad",
            "--scope",
            "dynamic-entity:everything",
        ],
    )
    .failed(2);
    dynex(&db, &["key", "create", "bad", "--valid-to", "soon"]).failed(2);
    let run = dynex(
        &db,
        &["key", "create", "bad", "--valid-to", "soon", "--json"],
    )
    .failed(2);
    assert_eq!(run.json()["error"]["code"], "usage");
}

fn users_are_added_listed_and_removed(db: TestDb) {
    const PASSWORD: &str = "correct horse battery";
    const NEW_PASSWORD: &str = "another long passphrase";
    let _demo = open_demo(&db);
    let add = |args: &[&str], input: &str| {
        let mut all = vec!["user", "add"];
        all.extend_from_slice(args);
        all.push("--password-stdin");
        dynex_with_stdin(&db, &all, input)
    };
    let added = add(
        &["alice", "--role", "admin", "--json"],
        &format!("{PASSWORD}\n"),
    )
    .ok()
    .json();
    assert_eq!(added["name"], "alice");
    assert_eq!(added["role"], "admin");
    let text = add(
        &["ci-bot", "--role", "integrator"],
        &format!("{PASSWORD}\r\n"),
    )
    .ok();
    assert!(
        text.stdout.contains("integrator user `ci-bot`"),
        "{}",
        text.stdout
    );

    let list = dynex(&db, &["user", "list", "--json"]).ok();
    assert!(!list.stdout.contains(PASSWORD) && !list.stdout.contains("argon2"));
    let listed = list.json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["name"], "alice");
    assert_eq!(listed[1]["role"], "integrator");
    assert_eq!(listed[0]["createdAt"], added["createdAt"]);
    assert!(listed[0]["passwordChangedAt"].is_string());
    let text = dynex(&db, &["user", "list"]).ok().stdout;
    assert!(
        text.starts_with("NAME") && text.contains("ci-bot"),
        "{text}"
    );

    let check = Dynex::open(&db.url).unwrap();
    // Only the trailing newline is removed: the CRLF line gave the same password.
    assert!(check.authenticate_user("ci-bot", PASSWORD).is_ok());
    assert!(check.authenticate_user("alice", PASSWORD).is_ok());

    // Weak passwords, duplicates and a stdin that is no terminal are refused.
    for weak in ["tiny1\n", "aaaabbbbcccc\n", "changemechangeme\n", "\n", ""] {
        let run = add(&["bob", "--role", "admin"], weak).failed(2);
        assert!(run.stderr.contains("password"), "{weak:?}: {}", run.stderr);
    }
    let run = add(&["bob", "--role", "admin", "--json"], "short\n").failed(2);
    assert_eq!(run.json()["error"]["code"], "invalid");
    let run = add(
        &["alice", "--role", "admin", "--json"],
        &format!("{PASSWORD}\n"),
    )
    .failed(2);
    assert_eq!(run.json()["error"]["code"], "already_exists");
    dynex(
        &db,
        &["user", "add", "bob", "--role", "root", "--password-stdin"],
    )
    .failed(2);
    let run = dynex(&db, &["user", "add", "bob", "--role", "admin"]).failed(2);
    assert!(run.stderr.contains("--password-stdin"), "{}", run.stderr);
    let run = dynex(&db, &["user", "passwd", "alice"]).failed(2);
    assert!(run.stderr.contains("--password-stdin"), "{}", run.stderr);

    // passwd: the new password works at once, the old one no longer does.
    let passwd = |name: &str, input: &str| {
        dynex_with_stdin(&db, &["user", "passwd", name, "--password-stdin"], input)
    };
    passwd("alice", "tiny1\n").failed(2);
    let run = passwd("alice", &format!("{NEW_PASSWORD}\n")).ok();
    assert!(!run.stdout.contains(NEW_PASSWORD) && !run.stderr.contains(NEW_PASSWORD));
    assert!(check.authenticate_user("alice", NEW_PASSWORD).is_ok());
    assert!(matches!(
        check.authenticate_user("alice", PASSWORD),
        Err(dynex_core::CoreError::BadCredentials)
    ));
    passwd("nobody", &format!("{NEW_PASSWORD}\n")).failed(4);

    let removed = dynex(&db, &["user", "remove", "alice", "--json"])
        .ok()
        .json();
    assert_eq!(removed, serde_json::json!({ "removed": "alice" }));
    dynex(&db, &["user", "remove", "alice"]).failed(4);
    assert!(check.authenticate_user("alice", NEW_PASSWORD).is_err());
    let names: Vec<Value> = dynex(&db, &["user", "list", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].clone())
        .collect();
    assert_eq!(names, [Value::from("ci-bot")]);
}

fn unknown_names_exit_4(db: TestDb) {
    let _demo = open_demo(&db);
    for args in [
        &["entity", "show", "nope"][..],
        &["entity", "enable", "nope"],
        &["entity", "disable", "nope"],
        &["entity", "remove", "nope"],
        &["entity", "export", "countries", "nope"],
        &["export", "nope"],
        &["key", "revoke", "nope"],
        &["user", "remove", "nope"],
        &["user", "passwd", "nope", "--password-stdin"],
    ] {
        let run = dynex(&db, args).failed(4);
        assert!(
            run.stderr.starts_with("error: ") && run.stderr.contains("nope"),
            "{args:?}: {}",
            run.stderr
        );
    }
    let run = dynex(&db, &["entity", "show", "nope", "--json"]).failed(4);
    assert_eq!(run.json()["error"]["code"], "not_found");
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

fn export_writes_csv(db: TestDb) {
    let _demo = open_demo(&db);
    let run = dynex(&db, &["export", "countries"]).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("id_country,iso2_code,"),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 13, "{}", run.stdout);
    assert!(lines[1].starts_with("1,AD,AND,Andorra,"), "{}", lines[1]);
    assert!(run.stderr.contains("12 rows"), "{}", run.stderr);

    for filter in [
        "iso2_code=AT",
        "filter[countries.iso2_code]=AT",
        "countries.iso2_code=AT",
    ] {
        let run = dynex(&db, &["export", "countries", "--filter", filter]).ok();
        assert_eq!(run.stdout.lines().count(), 2, "{filter}: {}", run.stdout);
        assert!(run.stdout.contains(",AT,AUT,Austria,"), "{}", run.stdout);
    }
    let run = dynex(
        &db,
        &[
            "export",
            "countries",
            "--filter",
            r#"iso2_code={"in": ["AT", "DE"]}"#,
        ],
    )
    .ok();
    assert_eq!(run.stdout.lines().count(), 3, "{}", run.stdout);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("countries.csv");
    let summary = dynex(
        &db,
        &[
            "export",
            "countries",
            "-o",
            file.to_str().unwrap(),
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(summary["rows"], 12);
    assert!(summary["seconds"].is_number(), "{summary}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        dynex(&db, &["export", "countries"]).stdout
    );

    dynex(&db, &["export", "countries", "--filter", "no_such_field=1"]).failed(2);
    dynex(&db, &["export", "countries", "--filter", "iso2_code"]).failed(2);
    let missing_dir = dir.path().join("no/such/dir/out.csv");
    dynex(
        &db,
        &["export", "countries", "-o", missing_dir.to_str().unwrap()],
    )
    .failed(1);
}

backend_tests!(
    migrate_reports_applied_migrations,
    entity_configuration_round_trips,
    entity_add_exposes_a_new_table,
    invalid_import_exits_3_and_changes_nothing,
    api_keys_are_shown_once_listed_and_revoked,
    users_are_added_listed_and_removed,
    unknown_names_exit_4,
    export_writes_csv,
);

#[test]
fn a_mistyped_url_fails_without_creating_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| finish(command(args).current_dir(dir.path()).output().unwrap());
    let text = run(&["--database-url", "sqlit://x.db", "entity", "list"]);
    assert_eq!(text.code, 2, "{}", text.stderr);
    assert!(
        text.stderr.starts_with("error: invalid database URL"),
        "{}",
        text.stderr
    );
    let json = run(&["--database-url", "sqlit://x.db", "migrate", "--json"]);
    assert_eq!(json.code, 2);
    assert_eq!(json.json()["error"]["code"], "invalid_url");
    assert!(!dir.path().join("x.db").exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file of any name"
    );

    // A password in a URL is never echoed.
    let secret = run(&[
        "--database-url",
        "foo://admin:s3cret@db/x",
        "entity",
        "list",
    ]);
    assert_eq!(secret.code, 2);
    assert!(
        secret.stderr.contains("admin:***@db") && !secret.stderr.contains("s3cret"),
        "{}",
        secret.stderr
    );
}

fn help_paths(cmd: &clap::Command, path: Vec<String>, all: &mut Vec<Vec<String>>) {
    for sub in cmd.get_subcommands() {
        let mut p = path.clone();
        p.push(sub.get_name().to_string());
        help_paths(sub, p.clone(), all);
        all.push(p);
    }
}

#[test]
fn every_command_answers_help() {
    let mut paths = vec![Vec::new()];
    help_paths(&dynex_cli::Cli::command(), Vec::new(), &mut paths);
    assert!(paths.len() >= 15, "{paths:?}");
    let dir = tempfile::tempdir().unwrap();
    for path in &paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let run = finish(
            command(&args)
                .current_dir(dir.path())
                .env("DYNEX_DATABASE_URL", "postgres://admin:s3cret@db/x")
                .output()
                .unwrap(),
        );
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(
            run.stdout.contains("Usage: dynex"),
            "{args:?}: {}",
            run.stdout
        );
        assert!(
            !run.stdout.contains("s3cret"),
            "{args:?} shows the password: {}",
            run.stdout
        );
    }
    let top = finish(command(&["--help"]).output().unwrap()).stdout;
    assert!(
        top.contains("Exit codes") && top.contains("4  not found"),
        "{top}"
    );
    assert!(
        !Path::new(dir.path()).join("dynex.db").exists(),
        "--help opens no database"
    );

    let usage = finish(command(&["entity", "frobnicate"]).output().unwrap());
    assert_eq!(usage.code, 2);
    let usage = finish(
        command(&["entity", "frobnicate", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(usage.code, 2);
    assert_eq!(usage.json()["error"]["code"], "usage");
}
