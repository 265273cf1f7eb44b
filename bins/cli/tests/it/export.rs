//! `dynex export`: chosen fields, sorts that page by key through NULLs and ties, deltas by the
//! updated-at field, manifests of several exports, and the export → import round trip. Every
//! test runs the real binary on each backend.

use std::cmp::Ordering;
use std::path::Path;

use dynex_core::Dynex;
use dynex_test_support::{
    Backend, TestDb, all_rows, backend_tests, open_demo, run_sql, write_file,
};
use serde_json::{Value, json};

use crate::{Run, command, dynex, finish};

backend_tests!(
    fields_choose_and_order_the_columns,
    sorts_page_by_key_through_nulls_and_ties,
    sort_keys_keep_every_digit_across_pages,
    bad_sorts_are_usage_errors,
    changed_since_exports_a_delta_of_a_string_field,
    changed_since_reads_datetime_and_date_fields,
    updated_at_fields_are_checked_and_found,
    a_manifest_exports_several_entities,
    a_refused_manifest_writes_nothing,
    a_failed_manifest_export_keeps_what_was_done,
    sorted_and_partial_exports_import_back_unchanged,
    formulas_are_kept_unless_escape_is_asked,
);

/// `dynex export args…`.
fn export(db: &TestDb, args: &[&str]) -> Run {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    dynex(db, &all)
}

/// The CSV's lines after the header, split into cells (the tests' cells hold no commas).
fn body(csv: &str) -> Vec<Vec<String>> {
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// The first cell of every line after the header.
fn first_cells(csv: &str) -> Vec<String> {
    body(csv).into_iter().map(|mut c| c.remove(0)).collect()
}

/// A timestamp column type on `db`'s backend.
fn timestamp(db: &TestDb) -> &'static str {
    match db.backend {
        Backend::Mysql => "DATETIME",
        _ => "TIMESTAMP",
    }
}

/// The names of the files under `dir`, recursively, relative to it and sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                out.push(rel.to_str().unwrap().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

fn fields_choose_and_order_the_columns(db: TestDb) {
    let _demo = open_demo(&db);
    // Any fields, in the order given, the identifier left out; comma-separated or repeated.
    for args in [
        &["countries", "--fields", "name,iso2_code"][..],
        &["countries", "--fields", "name", "--fields", "iso2_code"],
        &["countries", "--fields", " name , iso2_code"],
    ] {
        let run = export(&db, args).ok();
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(lines[0], "name,iso2_code", "{args:?}");
        assert_eq!(lines[1], "Andorra,AD", "{args:?}");
        assert_eq!(lines.len(), 13, "{}", run.stdout);
    }
    // Filters and sorts on fields that are not written.
    let run = export(
        &db,
        &[
            "countries",
            "--fields",
            "iso3_code",
            "--filter",
            r#"iso2_code={"in": ["AT", "DE", "US"]}"#,
            "--sort",
            "-name",
        ],
    )
    .ok();
    assert_eq!(run.stdout, "iso3_code\nUSA\nDEU\nAUT\n");

    // An unknown or repeated field stops before anything is written: exit 2, the fields named.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let out = out.to_str().unwrap();
    let run = export(&db, &["countries", "--fields", "name,nope", "-o", out]).failed(2);
    assert!(
        run.stderr.contains("unknown field `nope`")
            && run
                .stderr
                .contains("id_country, iso2_code, iso3_code, name"),
        "{}",
        run.stderr
    );
    assert!(!Path::new(out).exists());
    let run = export(&db, &["countries", "--fields", "name,nope", "--json"]).failed(2);
    assert_eq!(run.json()["error"]["code"], "invalid");
    let run = export(&db, &["countries", "--fields", "name,name"]).failed(2);
    assert!(run.stderr.contains("listed twice"), "{}", run.stderr);
    export(&db, &["countries", "--fields", "name,,iso2_code"]).failed(2);
}

/// One row of the sort test table: identifier, name and price in cents.
type Sortable = (i64, Option<String>, Option<i64>);

/// 2,500 rows with many ties and NULLs in `name` and `price`.
fn sortables(db: &TestDb, dx: &Dynex) -> Vec<Sortable> {
    let rows: Vec<Sortable> = (1..=2500)
        .map(|i: i64| {
            let name = (i % 5 != 0).then(|| format!("n{}", (i * 13) % 4));
            let price = (i % 7 != 0).then_some(((i * 37) % 11) * 100 + 50);
            (i, name, price)
        })
        .collect();
    let values: Vec<String> = rows
        .iter()
        .map(|(id, name, price)| {
            let name = name
                .as_ref()
                .map_or_else(|| "NULL".to_string(), |n| format!("'{n}'"));
            let price = price.map_or_else(
                || "NULL".to_string(),
                |p| format!("{}.{:02}", p / 100, p % 100),
            );
            format!("({id}, {name}, {price})")
        })
        .collect();
    run_sql(
        dx,
        &format!(
            "CREATE TABLE sortables ({}, name VARCHAR(20) NULL, price DECIMAL(10,2) NULL);\n\
             INSERT INTO sortables (id, name, price) VALUES {};\n",
            db.id_column(),
            values.join(", ")
        ),
    );
    dynex(db, &["entity", "add", "--table", "sortables"]).ok();
    rows
}

/// Ids in the order of `keys` (`(column, descending)`, 1 = name, 2 = price), NULL smallest,
/// ties by id.
fn expected_order(rows: &[Sortable], keys: &[(usize, bool)]) -> Vec<String> {
    let mut sorted = rows.to_vec();
    sorted.sort_by(|a, b| {
        for &(k, desc) in keys {
            let o = match k {
                1 => a.1.cmp(&b.1),
                _ => a.2.cmp(&b.2),
            };
            let o = if desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.0.cmp(&b.0)
    });
    sorted.iter().map(|r| r.0.to_string()).collect()
}

fn sorts_page_by_key_through_nulls_and_ties(db: TestDb) {
    let dx = open_demo(&db);
    let rows = sortables(&db, &dx);
    for (sort, keys) in [
        ("price", &[(2, false)][..]),
        ("-price", &[(2, true)]),
        ("-price,name", &[(2, true), (1, false)]),
        ("name,-price", &[(1, false), (2, true)]),
        ("-name,-price", &[(1, true), (2, true)]),
    ] {
        let expected = expected_order(&rows, keys);
        // Pages of 1,000 (the default) and smaller ones, so that page boundaries fall inside
        // runs of ties and of NULLs.
        let pages: &[&str] = if sort == "-price,name" {
            &["1000", "97", "7"]
        } else {
            &["1000", "97"]
        };
        for page in pages {
            let run = export(
                &db,
                &[
                    "sortables",
                    "--sort",
                    sort,
                    "--fields",
                    "id",
                    "--page-rows",
                    page,
                ],
            )
            .ok();
            let ids = first_cells(&run.stdout);
            assert_eq!(ids.len(), 2500, "--sort {sort}, pages of {page}");
            assert!(
                ids == expected,
                "--sort {sort}, pages of {page}: wrong order"
            );
        }
    }
    // `--sort=…` works too, and the cells of NULLs are empty.
    let run = export(
        &db,
        &["sortables", "--sort=-price,name", "--page-rows", "300"],
    )
    .ok();
    let by_id: std::collections::HashMap<String, &Sortable> =
        rows.iter().map(|r| (r.0.to_string(), r)).collect();
    let expected: Vec<Vec<String>> = expected_order(&rows, &[(2, true), (1, false)])
        .into_iter()
        .map(|id| {
            let (_, name, price) = by_id[&id];
            let price = price.map_or_else(String::new, |p| format!("{}.{:02}", p / 100, p % 100));
            vec![id, name.clone().unwrap_or_default(), price]
        })
        .collect();
    assert!(body(&run.stdout) == expected, "{}", &run.stdout[..200]);
    assert_eq!(expected[0][2], "10.50");
    assert_eq!(
        expected[2499][2], "",
        "NULL prices come last in descending order"
    );
    // The identifier order of plain exports is unchanged.
    let run = export(&db, &["sortables", "--fields", "id", "--page-rows", "999"]).ok();
    let ids: Vec<String> = (1..=2500).map(|i| i.to_string()).collect();
    assert!(first_cells(&run.stdout) == ids);
}

/// Values that one backend stores inexactly (SQLite keeps `0.1 + 0.2` as a double just above
/// 0.3) still page exactly: every row once, with a page boundary after every row.
fn sort_keys_keep_every_digit_across_pages(db: TestDb) {
    let dx = open_demo(&db);
    run_sql(
        &dx,
        &format!(
            "CREATE TABLE prices ({}, name VARCHAR(20) NULL, price DECIMAL(10,2) NULL);\n\
             INSERT INTO prices (id, name, price) VALUES (1, 'a', 0.1 + 0.2), (2, 'a', 0.3), \
             (3, 'b', 0.1 + 0.2), (4, NULL, NULL), (5, 'b', 0.3), (6, 'a', 0.1 + 0.2);\n",
            db.id_column()
        ),
    );
    dynex(&db, &["entity", "add", "--table", "prices"]).ok();
    for sort in [
        "price",
        "-price",
        "price,-name",
        "-name,price",
        "name,-price",
    ] {
        let run = export(
            &db,
            &[
                "prices",
                "--sort",
                sort,
                "--fields",
                "id",
                "--page-rows",
                "1",
            ],
        )
        .ok();
        let mut ids = first_cells(&run.stdout);
        ids.sort();
        assert_eq!(ids, ["1", "2", "3", "4", "5", "6"], "--sort {sort}");
    }
    let run = export(&db, &["prices", "--sort", "-name,id", "--page-rows", "1"]).ok();
    assert_eq!(
        first_cells(&run.stdout),
        ["3", "5", "1", "2", "6", "4"],
        "{}",
        run.stdout
    );
}

fn bad_sorts_are_usage_errors(db: TestDb) {
    let _demo = open_demo(&db);
    let run = export(&db, &["countries", "--sort", "-nmae"]).failed(2);
    assert!(
        run.stderr
            .contains("Sort field `nmae` for table alias `countries` not found."),
        "{}",
        run.stderr
    );
    let run = export(&db, &["countries", "--sort", "-nmae", "--json"]).failed(2);
    assert_eq!(run.json()["error"]["code"], "invalid_query");
    for bad in ["name,,iso2_code", "name,-name", "-"] {
        let run = export(&db, &["countries", "--sort", bad]).failed(2);
        assert!(run.stderr.contains("`sort`"), "{bad}: {}", run.stderr);
    }
    // Sorted by name, descending: the first and the last country.
    let run = export(&db, &["countries", "--sort", "-name", "--fields", "name"]).ok();
    let names = first_cells(&run.stdout);
    assert_eq!(names.first().map(String::as_str), Some("United States"));
    assert_eq!(names.last().map(String::as_str), Some("Andorra"));
}

/// The rows of product-abstracts changed since `since`, as `id,updated_at` cells, and the JSON
/// summary.
fn delta(db: &TestDb, alias: &str, since: &str) -> (Vec<String>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("delta.csv");
    let run = export(
        db,
        &[
            alias,
            "--changed-since",
            since,
            "--fields",
            "identifier",
            "-o",
            out.to_str().unwrap(),
            "--json",
        ],
    )
    .ok();
    let ids = first_cells(&std::fs::read_to_string(&out).unwrap());
    (ids, run.json())
}

fn changed_since_exports_a_delta_of_a_string_field(db: TestDb) {
    let _demo = open_demo(&db);
    // product-abstracts: updated_at is a `string` field on a timestamp column; rows 3 and 7
    // have none and are in no delta.
    let ids = |since: &str| delta(&db, "product-abstracts", since).0;
    assert_eq!(ids("2024-02-01"), ["1", "2", "4", "5", "6", "8"]);
    assert_eq!(
        ids("2024-02-01 09:05:00"),
        ["2", "4", "5", "6", "8"],
        "inclusive"
    );
    assert_eq!(ids("2024-02-01T09:05:00Z"), ["2", "4", "5", "6", "8"]);
    assert_eq!(ids("2024-02-01T10:05:00+01:00"), ["2", "4", "5", "6", "8"]);
    assert_eq!(ids("2024-02-01T09:05:01Z"), ["4", "5", "6", "8"]);
    assert_eq!(ids("2024-02-01 09:35:00"), ["8"]);
    assert!(ids("2024-02-02").is_empty());

    let (_, summary) = delta(&db, "product-abstracts", "2024-02-01T09:05:00Z");
    assert_eq!(summary["rows"], 5);
    assert_eq!(summary["changed_since"], "2024-02-01T09:05:00Z");
    assert_eq!(summary["max_changed_at"], "2024-02-01 09:35:00");
    assert!(summary["seconds"].is_number(), "{summary}");
    let (_, summary) = delta(&db, "product-abstracts", "2030-01-01");
    assert_eq!(
        (&summary["rows"], &summary["max_changed_at"]),
        (&json!(0), &Value::Null)
    );

    // A full export reports the latest change too, so that deltas can chain from it; the
    // summary says so on stderr as text, and as JSON with --json (stdout holds the CSV).
    let run = export(&db, &["product-concretes"]).ok();
    assert!(
        run.stderr.contains("latest change 2024-02-01 12:19:00"),
        "{}",
        run.stderr
    );
    let run = export(&db, &["product-concretes", "--json"]).ok();
    let summary: Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert_eq!(summary["changed_since"], Value::Null);
    assert_eq!(summary["max_changed_at"], "2024-02-01 12:19:00");
    let run = export(&db, &["countries", "--json"]).ok();
    let summary: Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert_eq!(summary["max_changed_at"], Value::Null);

    // An entity without updatedAtField, and times that are no times: exit 2.
    let run = export(&db, &["countries", "--changed-since", "2024-01-01"]).failed(2);
    assert!(
        run.stderr.contains("`updatedAtField`") && run.stderr.contains("countries"),
        "{}",
        run.stderr
    );
    for bad in ["yesterday", "2024-02-30", "01.02.2024"] {
        let run = export(&db, &["product-abstracts", "--changed-since", bad]).failed(2);
        assert!(run.stderr.contains("RFC 3339"), "{bad}: {}", run.stderr);
    }
}

fn changed_since_reads_datetime_and_date_fields(db: TestDb) {
    let dx = open_demo(&db);
    run_sql(
        &dx,
        &format!(
            "CREATE TABLE visits ({}, day DATE NULL, updated_at {} NULL);\n\
             INSERT INTO visits (id, day, updated_at) VALUES \
             (1, '2024-01-01', '2024-01-01 23:59:59'), (2, '2024-01-02', '2024-01-02 10:00:00'), \
             (3, NULL, NULL), (4, '2024-01-03', '2024-01-02 10:00:01');\n",
            db.id_column(),
            timestamp(&db)
        ),
    );
    // `entity add` makes the `updated_at` column the updated-at field.
    let config = dynex(&db, &["entity", "add", "--table", "visits", "--json"])
        .ok()
        .json();
    assert_eq!(config["definition"]["updatedAtField"], "updated_at");
    let ids = |since: &str| delta(&db, "visits", since).0;
    assert_eq!(ids("2024-01-02"), ["2", "4"]);
    assert_eq!(ids("2024-01-02 10:00:00"), ["2", "4"]);
    assert_eq!(ids("2024-01-02T11:00:00+01:00"), ["2", "4"]);
    assert_eq!(ids("2024-01-02T10:00:00.5Z"), ["4"]);
    assert_eq!(ids("2024-01-01T23:59:59Z"), ["1", "2", "4"]);
    let (_, summary) = delta(&db, "visits", "2024-01-01");
    assert_eq!(summary["max_changed_at"], "2024-01-02 10:00:01");

    // A date field: a time within a day keeps the whole day.
    let mut config = dynex(&db, &["entity", "show", "visits", "--json"])
        .ok()
        .json();
    config["definition"]["updatedAtField"] = json!("day");
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "visits.json", config.to_string());
    dynex(&db, &["entity", "import", &file]).ok();
    assert_eq!(ids("2024-01-02 15:00:00"), ["2", "4"]);
    assert_eq!(ids("2024-01-03T00:00:00Z"), ["4"]);
    let (_, summary) = delta(&db, "visits", "2024-01-01");
    assert_eq!(summary["max_changed_at"], "2024-01-03");
}

fn updated_at_fields_are_checked_and_found(db: TestDb) {
    let _demo = open_demo(&db);
    let config = dynex(&db, &["entity", "show", "product-abstracts", "--json"])
        .ok()
        .json();
    assert_eq!(config["definition"]["updatedAtField"], "updated_at");
    let countries = dynex(&db, &["entity", "show", "countries", "--json"])
        .ok()
        .json();
    assert!(countries["definition"].get("updatedAtField").is_none());

    let dir = tempfile::tempdir().unwrap();
    for (field, says) in [
        ("fk_tax_set", "of type `integer`"),
        ("changed", "`changed` is not the fieldName"),
    ] {
        let mut bad = config.clone();
        bad["definition"]["updatedAtField"] = json!(field);
        let file = write_file(dir.path(), "bad.json", bad.to_string());
        let run = dynex(&db, &["entity", "import", &file]).failed(3);
        assert!(
            run.stderr.contains("definition.updatedAtField") && run.stderr.contains(says),
            "{field}: {}",
            run.stderr
        );
    }
    let shown = dynex(&db, &["entity", "show", "product-abstracts", "--json"])
        .ok()
        .json();
    assert_eq!(shown, config, "a refused configuration changes nothing");
}

/// Runs `dynex export --manifest <manifest> args…` in `cwd`.
fn export_manifest(db: &TestDb, cwd: &Path, manifest: &str, args: &[&str]) -> Run {
    let mut all = vec!["export", "--manifest", manifest];
    all.extend_from_slice(args);
    finish(
        command(&all)
            .arg("--database-url")
            .arg(&db.url)
            .current_dir(cwd)
            .output()
            .expect("run dynex"),
    )
}

const MANIFEST: &str = r#"exports:
  - entity: countries
    file: "out/{entity}-{timestamp}.csv"
    filter: ['iso2_code={"in": ["AT", "DE", "US"]}']
    fields: [iso2_code, name]
    sort: "-name"
  - entity: product-abstracts
    changed_since: "2024-02-01 09:10:00"
    fields: sku,updated_at
  - entity: stores
    file: "{entity}.csv"
"#;

fn a_manifest_exports_several_entities(db: TestDb) {
    let _demo = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "jobs/manifest.yml", MANIFEST);
    // A relative manifest path: the files land beside the manifest, not in the working
    // directory.
    let run = export_manifest(&db, dir.path(), "jobs/manifest.yml", &["--json"]).ok();
    let report = run.json();
    let files = files_under(dir.path());
    assert_eq!(files.len(), 4, "{files:?}");
    let countries = files
        .iter()
        .find(|f| f.starts_with("jobs/out/countries-"))
        .unwrap_or_else(|| panic!("{files:?}"));
    let stamp = countries
        .strip_prefix("jobs/out/countries-")
        .and_then(|s| s.strip_suffix(".csv"))
        .unwrap();
    assert!(
        stamp.len() == 16
            && stamp.as_bytes()[8] == b'T'
            && stamp.ends_with('Z')
            && stamp[..8].bytes().all(|b| b.is_ascii_digit()),
        "{stamp}"
    );
    assert!(files.contains(&"jobs/product-abstracts.csv".to_string()));
    assert!(files.contains(&"jobs/stores.csv".to_string()));
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(
        read(countries),
        "iso2_code,name\nUS,United States\nDE,Germany\nAT,Austria\n"
    );
    let abstracts = read("jobs/product-abstracts.csv");
    assert_eq!(
        first_cells(&abstracts),
        ["004", "005", "006", "008"],
        "{abstracts}"
    );
    assert!(abstracts.starts_with("sku,updated_at\n"), "{abstracts}");
    assert_eq!(first_cells(&read("jobs/stores.csv")), ["1", "2", "3"]);

    let exports = report["exports"].as_array().unwrap();
    let pick = |e: &Value| {
        let seconds = e["seconds"].as_f64().unwrap();
        assert!(seconds >= 0.0);
        (
            e["entity"].as_str().unwrap().to_string(),
            e["rows"].clone(),
            e["max_changed_at"].clone(),
        )
    };
    assert_eq!(
        exports.iter().map(pick).collect::<Vec<_>>(),
        [
            ("countries".into(), json!(3), Value::Null),
            (
                "product-abstracts".into(),
                json!(4),
                json!("2024-02-01 09:35:00")
            ),
            ("stores".into(), json!(3), Value::Null),
        ]
    );
    assert_eq!(
        exports[0]["file"].as_str().unwrap(),
        Path::new("jobs")
            .join(countries.strip_prefix("jobs/").unwrap())
            .to_str()
            .unwrap()
    );
    assert_eq!(report["rows"], 10);
    assert!(report["seconds"].is_number());
    assert_eq!(
        report.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["exports", "rows", "seconds"]
    );
    assert!(run.stderr.contains("1/3 countries -> "), "{}", run.stderr);

    // As text: one line per export and a total on stderr, nothing on stdout; an absolute
    // manifest path works from anywhere.
    let manifest = dir.path().join("jobs/manifest.yml");
    let run = export_manifest(&db, &std::env::temp_dir(), manifest.to_str().unwrap(), &[]).ok();
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // The countries are sorted by name, which spy_country has no index on: a warning first.
    let (warning, rest) = run.stderr.split_once('\n').unwrap();
    assert!(
        warning.starts_with("warning: ")
            && warning.contains("export 1 of 3 (`countries`): no index on spy_country(name)"),
        "{}",
        run.stderr
    );
    let lines: Vec<&str> = rest.lines().collect();
    assert_eq!(lines.len(), 4, "{}", run.stderr);
    assert!(
        lines[1].starts_with("2/3 product-abstracts -> ")
            && lines[1].contains("product-abstracts.csv: 4 rows in"),
        "{}",
        run.stderr
    );
    assert!(
        lines[3].starts_with("total: 10 rows in 3 files"),
        "{}",
        run.stderr
    );
}

fn a_refused_manifest_writes_nothing(db: TestDb) {
    let _demo = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let first = "exports:\n  - entity: countries\n    file: \"out/{entity}.csv\"\n";
    for (second, code, says) in [
        ("  - entity: nope\n", 4, "nope"),
        (
            "  - entity: stores\n    fields: [name, colour]\n",
            2,
            "unknown field `colour`",
        ),
        (
            "  - entity: stores\n    sort: \"-colour\"\n",
            2,
            "Sort field `colour`",
        ),
        (
            "  - entity: stores\n    changed_since: \"2024-01-01\"\n",
            2,
            "updatedAtField",
        ),
        (
            "  - entity: product-abstracts\n    changed_since: soon\n",
            2,
            "RFC 3339",
        ),
        (
            "  - entity: stores\n    file: \"{entity}-{date}.csv\"\n",
            2,
            "unknown placeholder `{date}`",
        ),
        (
            "  - entity: stores\n    sep: \";\"\n",
            2,
            "unknown field `sep`",
        ),
        ("  - entity: stores\n    filter: colour=red\n", 2, "colour"),
        (
            "  - entity: tax-sets\n    file: \"out/countries.csv\"\n",
            2,
            "file of an earlier export",
        ),
        ("  - {}\n", 2, "missing field `entity`"),
    ] {
        let manifest = write_file(dir.path(), "m.yml", format!("{first}{second}"));
        let run = export_manifest(&db, dir.path(), &manifest, &[]).failed(code);
        assert!(run.stderr.contains(says), "{second}: {}", run.stderr);
        assert_eq!(files_under(dir.path()), ["m.yml"], "{second}");
        let run = export_manifest(&db, dir.path(), &manifest, &["--json"]).failed(code);
        assert!(
            run.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains(says),
            "{second}: {}",
            run.stdout
        );
        assert_eq!(files_under(dir.path()), ["m.yml"], "{second}");
    }
    let manifest = write_file(dir.path(), "m.yml", first);
    for extra in [
        &["countries"][..],
        &["-o", "x.csv"],
        &["--fields", "name"],
        &["--sort", "name"],
        &["--filter", "name=x"],
        &["--changed-since", "2024-01-01"],
    ] {
        let run = export_manifest(&db, dir.path(), &manifest, extra).failed(2);
        assert!(
            run.stderr.contains("cannot be used with"),
            "{extra:?}: {}",
            run.stderr
        );
    }
    export_manifest(&db, dir.path(), "missing.yml", &[]).failed(2);
    assert_eq!(files_under(dir.path()), ["m.yml"]);
    dynex(&db, &["export"]).failed(2);
}

fn a_failed_manifest_export_keeps_what_was_done(db: TestDb) {
    let _demo = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    // The second export's file is a directory: its export fails when the finished file is
    // moved into place, after the first file was written.
    std::fs::create_dir_all(dir.path().join("stores.csv/inside")).unwrap();
    let manifest = write_file(
        dir.path(),
        "m.yml",
        "exports:\n  - entity: countries\n  - entity: stores\n  - entity: tax-sets\n",
    );
    let run = export_manifest(&db, dir.path(), &manifest, &["--json"]).failed(1);
    let report = run.json();
    assert_eq!(report["exports"][0]["entity"], "countries");
    assert_eq!(report["exports"].as_array().unwrap().len(), 1);
    assert_eq!(report["rows"], 12);
    assert_eq!(report["failed"]["export"], 2);
    assert_eq!(report["failed"]["entity"], "stores");
    assert!(
        report["failed"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("stores.csv"),
        "{report}"
    );
    // The first file is kept, no temporary file is left behind, the third never ran.
    assert_eq!(files_under(dir.path()), ["countries.csv", "m.yml"]);
    assert!(
        run.stderr.contains("stopped: export 2 of 3"),
        "{}",
        run.stderr
    );
    let run = export_manifest(&db, dir.path(), &manifest, &[]).failed(1);
    assert!(
        run.stderr.contains("error: export 2 of 3"),
        "{}",
        run.stderr
    );
}

fn sorted_and_partial_exports_import_back_unchanged(db: TestDb) {
    let dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let before = all_rows(&dx, "product-abstracts");
    let sorted = dir.path().join("sorted.csv");
    let sorted = sorted.to_str().unwrap();
    export(
        &db,
        &[
            "product-abstracts",
            "--sort",
            "-color_code,sku",
            "--page-rows",
            "3",
            "-o",
            sorted,
        ],
    )
    .ok();
    let partial = dir.path().join("partial.csv");
    let partial = partial.to_str().unwrap();
    export(
        &db,
        &[
            "product-abstracts",
            "--fields",
            "sku,color_code,updated_at",
            "--changed-since",
            "2024-02-01 09:15:00",
            "-o",
            partial,
        ],
    )
    .ok();
    let imported = |args: &[&str]| {
        let mut all = vec!["import", "product-abstracts"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--mode", "upsert", "--json"]);
        dynex(&db, &all).ok().json()
    };
    let s = imported(&[sorted]);
    assert_eq!((&s["read"], &s["unchanged"]), (&json!(8), &json!(8)), "{s}");
    let s = imported(&[partial, "--key", "sku"]);
    assert_eq!((&s["read"], &s["unchanged"]), (&json!(4), &json!(4)), "{s}");
    assert_eq!(all_rows(&dx, "product-abstracts"), before);
}

/// `-o` through a symbolic link or onto a device writes through it: the CSV lands in the link's
/// target and the link stays a link (a file renamed over `/dev/null` had replaced it).
#[test]
fn output_through_a_link_keeps_the_link() {
    let db = TestDb::sqlite();
    let _demo = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.csv");
    let link = dir.path().join("link.csv");
    std::fs::write(&target, "old").unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    export(
        &db,
        &[
            "countries",
            "--fields",
            "iso2_code",
            "-o",
            link.to_str().unwrap(),
        ],
    )
    .ok();
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    let csv = std::fs::read_to_string(&target).unwrap();
    assert!(csv.starts_with("iso2_code\nAD\n"), "{csv}");
    export(&db, &["countries", "-o", "/dev/null"]).ok();
    assert!(!Path::new("/dev/null").symlink_metadata().unwrap().is_file());
}

/// Text cells a spreadsheet would run (`=`, `+`, `-`, `@` first) are written as stored by
/// default, and with `--formulas escape` prefixed with `'`; numbers such as `-5.00` never are.
fn formulas_are_kept_unless_escape_is_asked(db: TestDb) {
    let dx = open_demo(&db);
    dx.write(&dynex_core::WriteRequest {
        alias: "tax-rates",
        method: dynex_core::Method::Create,
        id: None,
        body: br#"{"data": [{"fk_country": 2, "name": "=1+2", "rate": -5},
                            {"fk_country": 2, "name": "@cmd", "rate": 1}]}"#,
        transactional: true,
        principal: None,
    })
    .expect("two tax rates");
    let args = [
        "tax-rates",
        "--fields",
        "name,rate",
        "--filter",
        "fk_country=2",
    ];
    let kept = export(&db, &args).ok();
    let lines: Vec<&str> = kept.stdout.lines().collect();
    assert!(
        lines.contains(&"=1+2,-5.00") && lines.contains(&"@cmd,1.00"),
        "{lines:?}"
    );
    let mut escape = args.to_vec();
    escape.extend(["--formulas", "escape"]);
    let escaped = export(&db, &escape).ok();
    let lines: Vec<&str> = escaped.stdout.lines().collect();
    assert!(
        lines.contains(&"'=1+2,-5.00") && lines.contains(&"'@cmd,1.00"),
        "{lines:?}"
    );
    assert!(lines.contains(&"Austria Standard,20.00"), "{lines:?}");
    escape.extend(["--formulas", "sometimes"]);
    export(&db, &escape).failed(2);
}
