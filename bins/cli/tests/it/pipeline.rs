//! `dynex pipeline add|check|list|show|export|remove`: definitions checked as a whole, kept as
//! written.

use dynex_test_support::{
    POCKETBASE_ADMIN, POCKETBASE_PASSWORD, PocketBase, TestDb, backend_tests, open_demo,
};
use serde_json::{Value, json};

use crate::{dynex, dynex_with_stdin};

/// A definition of the demo catalog, with a comment that `export` must give back.
const COUNTRIES: &str = "\
# Countries kept in PocketBase, into the demo catalog.
name: pb-countries
description: Countries from PocketBase
source:
  http:
    url: http://127.0.0.1:8090/api/collections/countries/records
    records: $.items[*]
    paginate:
      page: { param: page, size_param: perPage, size: 200 }
map:
  fields:
    iso2_code: $.code
    iso3_code: $.code3
    name: { path: $.name, trim: true }
target:
  entity:
    entity: countries
    mode: upsert
    key: iso2_code
";

fn definitions_are_checked_saved_listed_exported_and_removed(db: TestDb) {
    let _demo = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("countries.yml");
    std::fs::write(&file, COUNTRIES).unwrap();
    let file = file.to_str().unwrap();

    let checked = dynex(&db, &["pipeline", "check", file]).ok();
    assert_eq!(checked.stdout, "pipeline `pb-countries` is valid\n");
    let none = dynex(&db, &["pipeline", "list", "--json"]).ok().json();
    assert_eq!(none, json!([]), "check saves nothing");

    let added = dynex(&db, &["pipeline", "add", file]).ok();
    assert_eq!(added.stdout, "pipeline `pb-countries` added\n");
    let again = dynex(&db, &["pipeline", "add", file, "--json"]).ok().json();
    assert_eq!(again, json!({"name": "pb-countries", "saved": "unchanged"}));

    let list = dynex(&db, &["pipeline", "list", "--json"]).ok().json();
    assert_eq!(list[0]["name"], "pb-countries");
    assert_eq!(
        list[0]["source"],
        "http http://127.0.0.1:8090/api/collections/countries/records"
    );
    assert_eq!(list[0]["target"], "entity countries (upsert)");
    let table = dynex(&db, &["pipeline", "list"]).ok().stdout;
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table.lines().any(|l| l.starts_with("pb-countries ")),
        "{table}"
    );

    let shown = dynex(&db, &["pipeline", "show", "pb-countries", "--json"])
        .ok()
        .json();
    assert_eq!(shown["definition"]["target"]["entity"]["key"], "iso2_code");
    let text = dynex(&db, &["pipeline", "show", "pb-countries"])
        .ok()
        .stdout;
    assert!(
        text.contains("fields:  iso2_code, iso3_code, name"),
        "{text}"
    );

    let exported = dynex(&db, &["pipeline", "export", "pb-countries"]).ok();
    assert_eq!(
        exported.stdout, COUNTRIES,
        "exported as written, comment included"
    );

    // A changed definition replaces the stored one; stdin works as a file.
    let renamed = COUNTRIES.replace("Countries from PocketBase", "Countries");
    let updated = dynex_with_stdin(&db, &["pipeline", "add", "-", "--json"], &renamed)
        .ok()
        .json();
    assert_eq!(updated, json!({"name": "pb-countries", "saved": "updated"}));
    assert_eq!(
        dynex(&db, &["pipeline", "export", "pb-countries"])
            .ok()
            .stdout,
        renamed
    );

    dynex(&db, &["pipeline", "remove", "pb-countries"]).ok();
    dynex(&db, &["pipeline", "show", "pb-countries"]).failed(4);
    dynex(&db, &["pipeline", "remove", "pb-countries"]).failed(4);

    // Saves that changed something and the removal are in the audit log; the unchanged save
    // is not.
    let audit = dynex(&db, &["audit", "--action", "pipeline.", "--json"])
        .ok()
        .json();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["pipeline.remove", "pipeline.save", "pipeline.save"],
        "{audit}"
    );
}

/// Every problem of a definition is named at once, with its place, and nothing is saved.
fn a_definition_is_refused_with_every_problem(db: TestDb) {
    let _demo = open_demo(&db);
    let broken = COUNTRIES
        .replace("name: pb-countries", "name: Bad Name")
        .replace("records: $.items[*]", "records: $.items[*")
        .replace("iso3_code: $.code3", "iso9_code: $.code3")
        .replace("entity: countries", "entity: planets");
    let refused = dynex_with_stdin(&db, &["pipeline", "add", "-"], &broken).failed(3);
    let stderr = refused.stderr;
    for expected in [
        "invalid pipeline definition: ",
        "name: `Bad Name` is not a pipeline name",
        "source.http.records",
        "target.entity.entity: `planets` is not an entity of this dynex",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    let json = dynex_with_stdin(&db, &["pipeline", "add", "-", "--json"], &broken)
        .failed(3)
        .json();
    assert_eq!(json["error"]["code"], "invalid_pipeline");
    let paths: Vec<&str> = json["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"name"), "{json}");
    assert!(paths.contains(&"source.http.records"), "{json}");
    assert!(paths.contains(&"target.entity.entity"), "{json}");

    // With the entity right, a field it lacks is named.
    let unknown_field = COUNTRIES.replace("iso3_code: $.code3", "iso9_code: $.code3");
    let refused = dynex_with_stdin(&db, &["pipeline", "check", "-"], &unknown_field).failed(3);
    assert!(
        refused
            .stderr
            .contains("map.fields.iso9_code: `iso9_code` is not a field of `countries`"),
        "{}",
        refused.stderr
    );

    // An unknown key is a structure problem, named with its line.
    let typo = COUNTRIES.replace("    records:", "    recrods:");
    let refused = dynex_with_stdin(&db, &["pipeline", "add", "-"], &typo).failed(3);
    assert!(
        refused.stderr.contains("unknown field `recrods`"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("line 7"), "{}", refused.stderr);

    let none: Value = dynex(&db, &["pipeline", "list", "--json"]).ok().json();
    assert_eq!(none, json!([]), "nothing saved");
}

backend_tests!(
    definitions_are_checked_saved_listed_exported_and_removed,
    a_definition_is_refused_with_every_problem,
    records_of_a_real_pocketbase_arrive_incrementally,
    dead_letters_are_replayed_through_a_fixed_mapping,
    a_run_killed_halfway_loses_and_duplicates_nothing,
    a_folder_of_csv_files_arrives_through_pipeline_run,
    rows_reach_an_http_api_through_pipeline_run,
    dependencies_run_in_order_and_loops_are_refused,
    schedules_are_checked_and_stop_needs_a_run,
);

/// A pipeline named `name` that writes the demo's countries to `file`, after `after`.
fn countries_to_csv(dir: &std::path::Path, name: &str, after: &[&str], file: &str) -> String {
    let path = dir.join(format!("{name}.yml"));
    let after = if after.is_empty() {
        String::new()
    } else {
        format!("after: [{}]\n", after.join(", "))
    };
    std::fs::write(
        &path,
        format!(
            "name: {name}\n{after}source:\n  entity: {{ entity: countries }}\nmap:\n  fields:\n    iso2_code: $.iso2_code\ntarget:\n  csv: {{ file: \"{}\" }}\n",
            dir.join(file).display()
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// A schedule is checked on save (five fields, a known time zone, a timeout of a second at
/// least); `stop` says when nothing runs, and names an unknown pipeline.
fn schedules_are_checked_and_stop_needs_a_run(db: TestDb) {
    let _demo = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let file = countries_to_csv(dir.path(), "nightly", &[], "n.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    let scheduled = |schedule: &str| {
        std::fs::write(&file, format!("{schedule}\n{text}")).unwrap();
        dynex(&db, &["pipeline", "add", &file])
    };
    let refused =
        scheduled("schedule: { cron: \"0 */5 * * * *\", timezone: Mars/Olympus }\ntimeout: 0")
            .failed(3);
    for expected in [
        "schedule.cron",
        "has 6 fields",
        "timeout",
        "a run needs at least one second",
    ] {
        assert!(refused.stderr.contains(expected), "{}", refused.stderr);
    }
    let zone = scheduled("schedule: { cron: \"0 3 * * *\", timezone: Mars/Olympus }").failed(3);
    assert!(
        zone.stderr.contains("`Mars/Olympus` is not a time zone"),
        "{}",
        zone.stderr
    );
    scheduled("schedule: { cron: \"0 3 * * MON-FRI\", timezone: Europe/Berlin }\ntimeout: 600")
        .ok();
    let stop = dynex(&db, &["pipeline", "stop", "nightly"]).ok();
    assert_eq!(stop.stdout, "`nightly` has no run in progress\n");
    let stop = dynex(&db, &["pipeline", "stop", "nightly", "--json"])
        .ok()
        .json();
    assert_eq!(stop, json!({ "pipeline": "nightly", "run": null }));
    dynex(&db, &["pipeline", "stop", "nope"]).failed(4);
}

/// `after:` is checked on save (unknown names, loops named) and on removal, and
/// `run --with-dependencies` runs the chain in order, stopping at the first failure.
fn dependencies_run_in_order_and_loops_are_refused(db: TestDb) {
    let _demo = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let a = countries_to_csv(dir.path(), "a", &[], "a.csv");
    let b = countries_to_csv(dir.path(), "b", &["a"], "b.csv");
    let c = countries_to_csv(dir.path(), "c", &["b"], "c.csv");

    let early = dynex(&db, &["pipeline", "add", &b]).failed(3);
    assert!(
        early.stderr.contains("after[0]") && early.stderr.contains("there is no pipeline `a`"),
        "{}",
        early.stderr
    );
    for file in [&a, &b, &c] {
        dynex(&db, &["pipeline", "add", file]).ok();
    }
    let looping = countries_to_csv(dir.path(), "a", &["c"], "a.csv");
    let refused = dynex(&db, &["pipeline", "add", &looping]).failed(3);
    assert!(
        refused
            .stderr
            .contains("the dependencies make a loop: a → c → b → a"),
        "{}",
        refused.stderr
    );
    let kept = dynex(&db, &["pipeline", "remove", "a"]).failed(3);
    assert!(kept.stderr.contains("`b` run after it"), "{}", kept.stderr);

    let chain = dynex(
        &db,
        &["pipeline", "run", "c", "--with-dependencies", "--json"],
    )
    .ok()
    .json();
    let names: Vec<&str> = chain["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pipeline"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert!(
        chain["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] == "succeeded")
    );
    for file in ["a.csv", "b.csv", "c.csv"] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(text.starts_with("iso2_code\n"), "{file}: {text}");
    }

    // `d` writes into a folder that is gone by the time it runs: its run fails, and `e`
    // after it never runs.
    std::fs::create_dir(dir.path().join("gone")).unwrap();
    let d = countries_to_csv(dir.path(), "d", &["a"], "gone/d.csv");
    let e = countries_to_csv(dir.path(), "e", &["d"], "e.csv");
    dynex(&db, &["pipeline", "add", &d]).ok();
    dynex(&db, &["pipeline", "add", &e]).ok();
    std::fs::remove_dir(dir.path().join("gone")).unwrap();
    // The definition no longer holds, so `d` is refused before it runs (exit 3).
    let stopped = dynex(&db, &["pipeline", "run", "e", "--with-dependencies"]).failed(3);
    assert!(
        stopped.stdout.contains("of `a` succeeded"),
        "{}",
        stopped.stdout
    );
    assert!(
        stopped.stderr.contains("the folder") && stopped.stderr.contains("does not exist"),
        "{}",
        stopped.stderr
    );
    assert!(
        stopped.stdout.contains("not run, as `d` failed: `e`"),
        "{}",
        stopped.stdout
    );
    assert!(!dir.path().join("e.csv").exists());
    let runs = dynex(&db, &["pipeline", "runs", "e", "--json"]).ok().json();
    assert_eq!(runs, json!([]), "e never ran");
}

/// The first pipeline of docs/pipelines.md, as printed there, pointed at `pb`: it logs in as
/// PocketBase's superuser (password kept as a secret variable), pages through the collection in
/// `updated` order, and keeps the highest `updated` as its cursor.
fn pocketbase_definition(pb: &PocketBase) -> String {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/pipelines.md"
    ))
    .expect("docs/pipelines.md");
    let (_, after) = docs
        .split_once("<!-- pipelines:first -->")
        .expect("the marked example");
    let block = after
        .split_once("```yaml\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .expect("a yaml block");
    // The block is indented under a list item.
    let indent = block.len() - block.trim_start_matches(' ').len();
    let yaml: String = block
        .lines()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(yaml.contains(POCKETBASE_ADMIN), "{yaml}");
    yaml.replace("http://127.0.0.1:8090", &pb.url) + "\n"
}

/// A pipeline reads a real PocketBase: the first run creates the rows, a change made in
/// PocketBase afterwards arrives with the next run, and nothing else is written again.
fn records_of_a_real_pocketbase_arrive_incrementally(db: TestDb) {
    let dx = open_demo(&db);
    let pb = PocketBase::start();
    pb.create_collection("countries", &["code", "code3", "name"]);
    let mut ids = Vec::new();
    for (code, code3, name) in [
        ("P1", "PB1", "First"),
        ("P2", "PB2", " Second "),
        ("P3", "PB3", "Third"),
        ("P4", "PB4", "Fourth"),
        ("P5", "PB5", "Fifth"),
    ] {
        let record = pb.create(
            "countries",
            json!({"code": code, "code3": code3, "name": name}),
        );
        ids.push(record["id"].as_str().unwrap().to_string());
        // PocketBase's times have milliseconds: distinct ones keep the order plain.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let key = dynex(&db, &["variable", "new-key"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let with_key = |args: &[&str], input: Option<&str>| {
        crate::dynex_env(&db, args, &[("DYNEX_SECRET_KEY", &key)], input)
    };
    with_key(
        &["variable", "set", "PB_PASSWORD", "--secret"],
        Some(POCKETBASE_PASSWORD),
    )
    .ok();
    let listed = dynex(&db, &["variable", "list"]).ok().stdout;
    assert!(!listed.contains(POCKETBASE_PASSWORD), "{listed}");
    assert!(listed.contains("(secret, not shown)"), "{listed}");

    dynex_with_stdin(&db, &["pipeline", "add", "-"], &pocketbase_definition(&pb)).ok();
    let first = with_key(&["pipeline", "run", "pb-countries", "--json"], None)
        .ok()
        .json();
    assert_eq!(first["state"], "succeeded", "{first}");
    assert_eq!(
        (&first["read"], &first["inserted"], &first["pages"]),
        (&json!(5), &json!(5), &json!(3)),
        "{first}"
    );
    let second_name = dx
        .read_collection(
            "countries",
            &[("filter[countries.iso2_code]".into(), "P2".into())],
            None,
        )
        .unwrap();
    assert_eq!(second_name.rows[0]["name"], "Second", "trimmed");

    // A change in PocketBase: only the records from the stored cursor on are read again; the
    // one at the cursor is unchanged, the changed one is updated.
    std::thread::sleep(std::time::Duration::from_millis(5));
    pb.update("countries", &ids[1], json!({"name": "Second, renamed"}));
    let second = with_key(&["pipeline", "run", "pb-countries", "--json"], None)
        .ok()
        .json();
    assert_eq!(
        (
            &second["read"],
            &second["updated"],
            &second["unchanged"],
            &second["inserted"]
        ),
        (&json!(2), &json!(1), &json!(1), &json!(0)),
        "{second}"
    );
    let renamed = dx
        .read_collection(
            "countries",
            &[("filter[countries.iso2_code]".into(), "P2".into())],
            None,
        )
        .unwrap();
    assert_eq!(renamed.rows[0]["name"], "Second, renamed");

    // `--full` ignores the cursor: every record is read again and found unchanged.
    let full = with_key(
        &["pipeline", "run", "pb-countries", "--full", "--json"],
        None,
    )
    .ok()
    .json();
    assert_eq!(
        (&full["read"], &full["unchanged"], &full["cursorBefore"]),
        (&json!(5), &json!(5), &Value::Null),
        "{full}"
    );

    // The history lists every run; nothing recorded holds the password.
    let runs = dynex(&db, &["pipeline", "runs", "pb-countries", "--json"]).ok();
    assert_eq!(runs.json().as_array().unwrap().len(), 3);
    assert!(!runs.stdout.contains(POCKETBASE_PASSWORD));
    // Without the key, the secret cannot be read and the run does not start.
    let refused = dynex(&db, &["pipeline", "run", "pb-countries"]).failed(2);
    assert!(
        refused.stderr.contains("DYNEX_SECRET_KEY"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains(POCKETBASE_PASSWORD));
}

/// `pipeline test` shows what the mapping makes of records without writing; a record the
/// entity refuses is a dead letter; after the mapping is fixed, `pipeline retry` delivers it
/// and removes the dead letter.
fn dead_letters_are_replayed_through_a_fixed_mapping(db: TestDb) {
    let dx = open_demo(&db);
    let pb = PocketBase::start();
    pb.create_collection("countries", &["code", "code3", "name"]);
    for (code, code3, name) in [
        ("R1", "RR1", "One"),
        ("R2", "RR2", "Two"),
        ("R3", "LONGER", "Three"),
    ] {
        pb.create(
            "countries",
            json!({"code": code, "code3": code3, "name": name}),
        );
    }
    dynex_with_stdin(&db, &["variable", "set", "PB_TOKEN"], &pb.token).ok();
    let definition = |iso3: &str| {
        format!(
            "\
name: pb-retry
source:
  http:
    url: {url}/api/collections/countries/records
    query: {{ sort: code }}
    records: $.items[*]
    auth:
      bearer: {{ token: '${{PB_TOKEN}}' }}
map:
  fields:
    iso2_code: $.code
    iso3_code: {iso3}
    name: $.name
target:
  entity: {{ entity: countries, key: iso2_code }}
",
            url = pb.url
        )
    };
    let rows = |code: &str| {
        dx.read_collection(
            "countries",
            &[("filter[countries.iso2_code]".into(), code.into())],
            None,
        )
        .unwrap()
        .rows
    };
    dynex_with_stdin(&db, &["pipeline", "add", "-"], &definition("$.code3")).ok();

    let samples = dynex(
        &db,
        &["pipeline", "test", "pb-retry", "--sample", "2", "--json"],
    )
    .ok()
    .json();
    assert_eq!(samples.as_array().unwrap().len(), 2, "{samples}");
    assert_eq!(samples[0]["record"]["code"], "R1");
    assert_eq!(
        samples[0]["rows"],
        json!([{"iso2_code": "R1", "iso3_code": "RR1", "name": "One"}])
    );
    let text = dynex(&db, &["pipeline", "test", "pb-retry", "--sample", "1"])
        .ok()
        .stdout;
    assert!(text.starts_with("record 1:\n"), "{text}");
    assert!(text.contains("  → 1 row:"), "{text}");

    // A dry run checks everything and keeps nothing.
    let dry = dynex(&db, &["pipeline", "run", "pb-retry", "--dry-run", "--json"])
        .failed(5)
        .json();
    assert_eq!(
        (&dry["inserted"], &dry["deadLetters"]),
        (&json!(2), &json!(1)),
        "{dry}"
    );
    assert!(rows("R1").is_empty(), "a dry run writes nothing");
    let none = dynex(&db, &["pipeline", "dead-letters", "pb-retry", "--json"])
        .ok()
        .json();
    assert_eq!(none, json!([]), "a dry run keeps no dead letter");

    let first = dynex(&db, &["pipeline", "run", "pb-retry", "--json"])
        .failed(5)
        .json();
    assert_eq!(
        (&first["inserted"], &first["deadLetters"]),
        (&json!(2), &json!(1)),
        "{first}"
    );
    let letters = dynex(&db, &["pipeline", "dead-letters", "pb-retry", "--json"])
        .ok()
        .json();
    assert_eq!(letters.as_array().unwrap().len(), 1, "{letters}");
    assert_eq!(letters[0]["stage"], "write");
    assert_eq!(letters[0]["code"], "1306");
    assert_eq!(letters[0]["field"], "iso3_code");
    assert_eq!(letters[0]["record"]["code"], "R3");
    assert!(rows("R3").is_empty());

    // The mapping fixed: the dead letter is delivered by a retry and removed.
    let fixed = definition("{ template: \"{{ record.code3[:3] }}\" }");
    dynex_with_stdin(&db, &["pipeline", "add", "-"], &fixed).ok();
    let retried = dynex(&db, &["pipeline", "retry", "pb-retry", "--json"])
        .ok()
        .json();
    assert_eq!(
        (
            &retried["read"],
            &retried["inserted"],
            &retried["deadLetters"]
        ),
        (&json!(1), &json!(1), &json!(0)),
        "{retried}"
    );
    assert_eq!(rows("R3")[0]["iso3_code"], "LON");
    let none = dynex(&db, &["pipeline", "dead-letters", "pb-retry", "--json"])
        .ok()
        .json();
    assert_eq!(none, json!([]));
    let runs = dynex(&db, &["pipeline", "runs", "pb-retry", "--json"])
        .ok()
        .json();
    assert_eq!(runs[0]["options"]["replay"], true, "{runs}");
}

/// Serves `pages` JSON pages of countries (`/p1.json` …, each naming the next) on a local
/// port; a request for page `hold` waits until `release` is set. Returns the base URL.
fn page_server(
    pages: usize,
    per_page: usize,
    hold: usize,
    release: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> String {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let release = release.clone();
            std::thread::spawn(move || {
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                // The rest of the head.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let page: usize = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|p| p.strip_prefix("/p"))
                    .and_then(|p| p.strip_suffix(".json"))
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(1);
                if page == hold {
                    while !release.load(Ordering::SeqCst) {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                }
                let items: Vec<serde_json::Value> = (0..per_page)
                    .map(|i| {
                        let n = (page - 1) * per_page + i;
                        let code = format!("K{}", (b'A' + u8::try_from(n).unwrap()) as char);
                        json!({"code": code, "code3": format!("{code}X"), "name": format!("Killed {n}")})
                    })
                    .collect();
                let mut body = json!({ "items": items });
                if page < pages {
                    body["next"] = json!(format!("p{}.json", page + 1));
                }
                let body = body.to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    url
}

/// A run killed with SIGKILL halfway: the pages it committed stay, and the next run delivers
/// the rest, finds the committed ones unchanged, and duplicates nothing.
fn a_run_killed_halfway_loses_and_duplicates_nothing(db: TestDb) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dx = open_demo(&db);
    let release = std::sync::Arc::new(AtomicBool::new(false));
    let (pages, per_page) = (5, 4);
    let url = page_server(pages, per_page, 3, release.clone());
    let definition = format!(
        "\
name: killed
source:
  http:
    url: {url}/p1.json
    records: $.items[*]
    paginate:
      next_link: {{ path: $.next }}
map:
  fields:
    iso2_code: $.code
    iso3_code: $.code3
    name: $.name
target:
  entity: {{ entity: countries, key: iso2_code }}
"
    );
    dynex_with_stdin(&db, &["pipeline", "add", "-"], &definition).ok();
    let count = || {
        dx.read_collection(
            "countries",
            &[(
                "filter[countries.name]".into(),
                r#"{"like":"Killed %"}"#.into(),
            )],
            None,
        )
        .unwrap()
        .rows
        .len()
    };
    let mut child = crate::command(&["pipeline", "run", "killed"])
        .arg("--database-url")
        .arg(&db.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Pages 1 and 2 are committed; the run waits for page 3.
    let started = std::time::Instant::now();
    while count() < 2 * per_page {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "no page committed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // While it runs, the pipeline cannot be run a second time.
    let busy = dynex(&db, &["pipeline", "run", "killed"]).failed(2);
    assert!(
        busy.stderr
            .contains("a run in progress of the pipeline `killed` already exists"),
        "{}",
        busy.stderr
    );
    child.kill().unwrap();
    child.wait().unwrap();
    release.store(true, Ordering::SeqCst);
    assert_eq!(count(), 2 * per_page, "the killed run committed two pages");

    let second = dynex(&db, &["pipeline", "run", "killed", "--json"])
        .ok()
        .json();
    assert_eq!(
        (&second["read"], &second["unchanged"], &second["inserted"]),
        (
            &json!(pages * per_page),
            &json!(2 * per_page),
            &json!((pages - 2) * per_page)
        ),
        "{second}"
    );
    assert_eq!(count(), pages * per_page, "every record once");
    let runs = dynex(&db, &["pipeline", "runs", "killed", "--json"])
        .ok()
        .json();
    // The next run found the killed one's process gone, and said so.
    assert_eq!(runs[1]["state"], "interrupted", "{runs}");
    assert!(
        runs[1]["error"].as_str().is_some_and(
            |e| e.starts_with("interrupted: its process (") && e.ends_with(") is gone")
        ),
        "{runs}"
    );
    assert_eq!(runs[0]["state"], "succeeded");
}

/// The `csv` source example of docs/pipelines.md, end to end: the files of the folder become
/// rows and move to `done/`; a second run finds nothing; a malformed line is a dead letter and
/// the exit code says so.
fn a_folder_of_csv_files_arrives_through_pipeline_run(db: TestDb) {
    let dx = open_demo(&db);
    let inbox = tempfile::tempdir().unwrap();
    let folder = inbox.path();
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/pipelines.md"
    ))
    .expect("docs/pipelines.md");
    let yaml = docs
        .split_once("<!-- pipelines:csv -->")
        .and_then(|(_, after)| after.split_once("```yaml\n"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .expect("the marked example");
    let yaml = yaml.replace("/var/lib/dynex/inbox/countries", folder.to_str().unwrap());
    std::fs::write(
        folder.join("countries-1.csv"),
        "code,code3,name\nc1,CC1, First \nc2,CC2,Second\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("countries-2.csv"),
        "name,code,code3\nThird,c3,CC3\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("other.csv"),
        "code,code3,name\nX9,XX9,Not matched\n",
    )
    .unwrap();
    dynex_with_stdin(&db, &["pipeline", "add", "-"], &yaml).ok();
    let listed = dynex(&db, &["pipeline", "list", "--json"]).ok().json();
    assert_eq!(
        listed[0]["source"],
        format!("csv {}", folder.join("countries-*.csv").display())
    );

    let first = dynex(&db, &["pipeline", "run", "country-files"])
        .ok()
        .stdout;
    assert!(first.contains("succeeded"), "{first}");
    assert!(first.contains("  records read:  3\n"), "{first}");
    assert!(first.contains("  inserted:      3\n"), "{first}");
    let name = |code: &str| {
        dx.read_collection(
            "countries",
            &[("filter[countries.iso2_code]".into(), code.into())],
            None,
        )
        .unwrap()
        .rows
        .first()
        .map(|r| r["name"].clone())
    };
    assert_eq!(name("C1"), Some(json!("First")));
    assert_eq!(name("C3"), Some(json!("Third")));
    assert_eq!(name("X9"), None);
    let mut done: Vec<String> = std::fs::read_dir(folder.join("done"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    done.sort();
    assert_eq!(done, ["countries-1.csv", "countries-2.csv"]);
    assert!(folder.join("other.csv").exists());

    let again = dynex(&db, &["pipeline", "run", "country-files", "--json"])
        .ok()
        .json();
    assert_eq!(
        (&again["pages"], &again["read"]),
        (&json!(0), &json!(0)),
        "{again}"
    );

    std::fs::write(
        folder.join("countries-3.csv"),
        "code,code3,name\nc4,CC4,Fourth\nc5,CC5\n",
    )
    .unwrap();
    let third = dynex(&db, &["pipeline", "run", "country-files", "--json"])
        .failed(5)
        .json();
    assert_eq!(
        (&third["inserted"], &third["deadLetters"]),
        (&json!(1), &json!(1)),
        "{third}"
    );
    let letters = dynex(
        &db,
        &["pipeline", "dead-letters", "country-files", "--json"],
    )
    .ok()
    .json();
    assert_eq!(letters[0]["stage"], "read", "{letters}");
    assert_eq!(letters[0]["code"], "1301");
    assert_eq!(letters[0]["record"]["line"], 3);
}

/// One request an [`api_server`] received: method, path, `Authorization` and JSON body.
type Received = (String, String, String, Value);

/// A JSON API on a local port that takes every `PUT` but refuses `/api/items/007` with `422`;
/// returns its base URL and what it received. Connections are kept alive, as clients pool them.
fn api_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Received>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or_default().to_string();
                    let path = parts.next().unwrap_or_default().to_string();
                    let (mut length, mut authorization) = (0, String::new());
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 {
                            return;
                        }
                        let Some((name, value)) = header.trim_end().split_once(':') else {
                            break;
                        };
                        match name.to_ascii_lowercase().as_str() {
                            "content-length" => length = value.trim().parse().unwrap_or(0),
                            "authorization" => authorization = value.trim().to_string(),
                            _ => {}
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let refused = path.ends_with("/007");
                    log.lock().unwrap().push((
                        method,
                        path,
                        authorization,
                        serde_json::from_slice(&body).unwrap_or(Value::Null),
                    ));
                    let (status, answer) = if refused {
                        (
                            "422 Unprocessable Content",
                            r#"{"error":"taxSet is required"}"#,
                        )
                    } else {
                        ("200 OK", r#"{"saved":true}"#)
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                }
            });
        }
    });
    (url, received)
}

/// The per-record `http` target example of docs/pipelines.md, as printed, through `dynex
/// pipeline add`, `list`, `run` and `dead-letters`: a `PUT` per product, the refused one a dead
/// letter, and the bearer token (a secret variable) in no output.
fn rows_reach_an_http_api_through_pipeline_run(db: TestDb) {
    const TOKEN: &str = "erp-t0ken-s3cret";
    let _demo = open_demo(&db);
    let (url, received) = api_server();
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/pipelines.md"
    ))
    .expect("docs/pipelines.md");
    let yaml = docs
        .split_once("<!-- pipelines:http-record -->")
        .and_then(|(_, after)| after.split_once("```yaml\n"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .expect("the marked example");
    let yaml = yaml.replace("https://erp.example.com", &url);
    let key = dynex(&db, &["variable", "new-key"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let with_key = |args: &[&str], input: Option<&str>| {
        crate::dynex_env(&db, args, &[("DYNEX_SECRET_KEY", &key)], input)
    };
    with_key(&["variable", "set", "ERP_TOKEN", "--secret"], Some(TOKEN)).ok();
    dynex_with_stdin(&db, &["pipeline", "add", "-"], &yaml).ok();
    let listed = dynex(&db, &["pipeline", "list", "--json"]).ok().json();
    assert_eq!(
        listed[0]["target"],
        format!("http PUT {url}/api/items/{{{{ row.sku }}}} (per record)")
    );
    assert_eq!(listed[0]["source"], "entity product-abstracts");

    let run = with_key(&["pipeline", "run", "items-to-erp"], None).failed(5);
    for expected in [
        "succeeded",
        "  records read:  8\n",
        "  inserted:      0\n",
        "  updated:       7\n",
        "  dead letters:  1\n",
        "  cursor:        \"2024-02-01 09:35:00\"",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} in {}",
            run.stdout
        );
    }
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 8, "{received:?}");
    assert!(
        received
            .iter()
            .all(|(method, path, auth, _)| method == "PUT"
                && path.starts_with("/api/items/")
                && *auth == format!("Bearer {TOKEN}")),
        "{received:?}"
    );
    let first = received.iter().find(|r| r.1 == "/api/items/001").unwrap();
    assert_eq!(
        first.3,
        json!({"number": "001", "color": "#DC2E09", "taxSet": 1, "source": "dynex"})
    );

    let letters = dynex(&db, &["pipeline", "dead-letters", "items-to-erp", "--json"]).ok();
    let json = letters.json();
    assert_eq!(json.as_array().unwrap().len(), 1, "{json}");
    assert_eq!(
        (
            &json[0]["stage"],
            &json[0]["code"],
            &json[0]["record"]["sku"]
        ),
        (&json!("write"), &json!("422"), &json!("007")),
        "{json}"
    );
    assert_eq!(json[0]["message"], r#"{"error":"taxSet is required"}"#);
    let runs = dynex(&db, &["pipeline", "runs", "items-to-erp", "--json"]).ok();
    let shown = dynex(&db, &["pipeline", "show", "items-to-erp", "--json"]).ok();
    // Each request is listed: seven delivered, the refused one with its status and answer.
    let deliveries = dynex(&db, &["pipeline", "deliveries", "items-to-erp", "--json"]).ok();
    let list = deliveries.json();
    let list = list.as_array().expect("a list");
    assert_eq!(list.len(), 8, "{list:?}");
    assert_eq!(
        list.iter().filter(|d| d["ok"] == true).count(),
        7,
        "{list:?}"
    );
    let refused = list.iter().find(|d| d["ok"] == false).expect("the refusal");
    assert_eq!(
        (&refused["status"], &refused["record"]["sku"]),
        (&json!(422), &json!("007")),
        "{refused}"
    );
    let table = dynex(&db, &["pipeline", "deliveries", "items-to-erp"]).ok();
    assert!(
        table.stdout.starts_with("ID") && table.stdout.contains("delivered"),
        "{}",
        table.stdout
    );
    dynex(&db, &["pipeline", "deliveries", "nope"]).failed(4);
    for output in [
        &run.stdout,
        &run.stderr,
        &letters.stdout,
        &runs.stdout,
        &shown.stdout,
        &deliveries.stdout,
        &table.stdout,
    ] {
        assert!(!output.contains(TOKEN), "{output}");
    }
}
