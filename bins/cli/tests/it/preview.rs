//! Rejected lines shown without `--rejects` (on stderr, or as `first_rejects` with `--json`),
//! and reject messages in CSV terms.

use dynex_test_support::{TestDb, all_rows, backend_tests, open_demo, write_file};
use serde_json::{Value, json};

use super::dynex;

backend_tests!(
    rejected_lines_are_shown_without_a_rejects_file,
    csv_rejects_speak_of_cells_and_the_api_of_json,
);

/// A countries file: good lines 2 and 15, type errors on lines 3 to 14 (an identifier that is
/// no integer on 3 to 8, a flag that is no boolean on 9 to 14).
fn countries_file() -> String {
    let mut text = String::from("id_country,iso2_code,iso3_code,name,postal_code_mandatory\n");
    text.push_str(",Q1,QQ1,First good,true\n");
    for n in 3..=8 {
        text.push_str(&format!("x{n},B{n},BB{n},Bad id,true\n"));
    }
    for n in 9..=14 {
        text.push_str(&format!(",C{},CC{},Bad flag,maybe\n", n - 8, n - 8));
    }
    text.push_str(",Q2,QQ2,Second good,false\n");
    text
}

/// The preview line of a rejected line of [`countries_file`].
fn preview_line(n: u64) -> String {
    if n <= 8 {
        format!(
            "rejected line {n}: 1305 id_country: Invalid data type `countries[{n}]` for field \
             `id_country`: expected an integer."
        )
    } else {
        format!(
            "rejected line {n}: 1305 postal_code_mandatory: Invalid data type `countries[{n}]` \
             for field `postal_code_mandatory`: expected true or false (or 1 or 0)."
        )
    }
}

fn rejected_lines_are_shown_without_a_rejects_file(db: TestDb) {
    let dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "countries.csv", countries_file());
    let before = all_rows(&dx, "countries").len();

    // --json: the first ten in the summary, nothing on stderr; the same as the report's first
    // ten lines when --rejects is given too.
    let rejects = dir.path().join("rejects.csv");
    let rejects = rejects.to_str().unwrap();
    for extra in [&[][..], &["--rejects", rejects]] {
        let mut args = vec!["import", "countries", &input, "--json", "--dry-run"];
        args.extend_from_slice(extra);
        let run = dynex(&db, &args).failed(5);
        assert!(run.stderr.is_empty(), "{}", run.stderr);
        let summary = run.json();
        assert_eq!(summary["rejected"], 12);
        let first = summary["first_rejects"].as_array().unwrap().clone();
        assert_eq!(first.len(), 10, "{summary}");
        for (r, n) in first.iter().zip(3u64..) {
            let field = if n <= 8 {
                "id_country"
            } else {
                "postal_code_mandatory"
            };
            let message = preview_line(n);
            let (_, message) = message.split_once(&format!("{field}: ")).unwrap();
            assert_eq!(
                *r,
                json!({"line": n, "code": "1305", "field": field, "message": message})
            );
        }
        if !extra.is_empty() {
            // These messages hold no comma, so the report's cells split at commas.
            let report = std::fs::read_to_string(rejects).unwrap();
            let reported: Vec<Value> = report
                .lines()
                .skip(1)
                .take(10)
                .map(|l| {
                    let r: Vec<&str> = l.splitn(5, ',').collect();
                    json!({"line": r[0].parse::<u64>().unwrap(), "code": r[1],
                           "field": r[2], "message": r[3]})
                })
                .collect();
            assert_eq!(first, reported);
        }
    }
    let clean = dynex(
        &db,
        &[
            "import",
            "countries",
            &input,
            "--json",
            "--dry-run",
            "--atomic",
        ],
    )
    .failed(5)
    .json();
    assert_eq!(clean["first_rejects"].as_array().unwrap().len(), 10);
    assert_eq!(all_rows(&dx, "countries").len(), before, "dry runs");

    // With --rejects, the report has them and stderr stays quiet.
    let run = dynex(
        &db,
        &[
            "import",
            "countries",
            &input,
            "--rejects",
            rejects,
            "--dry-run",
        ],
    )
    .failed(5);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert!(run.stdout.contains("rejected lines: "), "{}", run.stdout);

    // Without: the first ten on stderr, then how to get the rest; the good rows are in.
    let run = dynex(&db, &["import", "countries", &input]).failed(5);
    assert!(run.stdout.contains("  rejected   12\n"), "{}", run.stdout);
    let mut want: Vec<String> = (3..=12).map(preview_line).collect();
    want.push("… and 2 more; use --rejects FILE for all".into());
    assert_eq!(run.stderr.lines().collect::<Vec<_>>(), want);
    let names: Vec<Value> = all_rows(&dx, "countries")
        .iter()
        .skip(before)
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, [json!("First good"), json!("Second good")]);

    // Empty when nothing was rejected.
    let good = write_file(
        dir.path(),
        "good.csv",
        "iso2_code,iso3_code,name\nQ3,QQ3,Third good\n",
    );
    let run = dynex(&db, &["import", "countries", &good, "--json"]).ok();
    assert_eq!(run.json()["first_rejects"], json!([]));
    // Imported again, its one line is a duplicate (of iso2_code or iso3_code, whichever
    // unique key the database checks first).
    let run = dynex(&db, &["import", "countries", &good]).failed(5);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    assert!(
        lines[0].starts_with("rejected line 2: 1309 iso")
            && lines[0]
                .ends_with("Please verify the provided data and try again. Entry is duplicated."),
        "{}",
        run.stderr
    );
    assert_eq!(
        lines[1],
        "use --rejects FILE for a report with each line's cells, to fix and import again"
    );

    // A manifest shows them per file.
    let manifest = write_file(
        dir.path(),
        "manifest.yml",
        "imports:\n  - entity: countries\n    file: countries.csv\n",
    );
    let run = dynex(&db, &["import", "--manifest", &manifest, "--dry-run"]).failed(5);
    assert!(
        run.stderr
            .ends_with("… and 4 more; use --rejects DIR for all\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.starts_with("rejected line 2: 1309 iso"),
        "{}",
        run.stderr
    );
    let report = dynex(
        &db,
        &["import", "--manifest", &manifest, "--dry-run", "--json"],
    )
    .failed(5);
    assert!(report.stderr.is_empty(), "{}", report.stderr);
    let step = &report.json()["steps"][0];
    assert_eq!(step["rejected"], 14);
    assert_eq!(step["first_rejects"][0]["line"], 2);
    assert_eq!(step["first_rejects"].as_array().unwrap().len(), 10);
}

/// A cell that is no integer is "expected an integer" in a CSV import, while the API's JSON
/// message for the same value stays "expected a JSON integer".
fn csv_rejects_speak_of_cells_and_the_api_of_json(db: TestDb) {
    let dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(
        dir.path(),
        "rates.csv",
        "name,rate,fk_country\nBad country,1.5,two\nBad rate,lots,2\n",
    );
    let rejects = dir.path().join("rejects.csv");
    let run = dynex(
        &db,
        &[
            "import",
            "tax-rates",
            &input,
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    )
    .failed(5);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let report = std::fs::read_to_string(&rejects).unwrap();
    assert!(
        report.contains(
            "Invalid data type `tax-rates[2]` for field `fk_country`: expected an integer."
        ),
        "{report}"
    );
    assert!(
        report.contains(
            "Invalid data type `tax-rates[3]` for field `rate`: expected a decimal number such \
             as 12.50."
        ),
        "{report}"
    );
    assert!(!report.contains("JSON"), "{report}");

    let refused = dx
        .write(&dynex_core::WriteRequest {
            alias: "tax-rates",
            method: dynex_core::Method::Create,
            id: None,
            body: br#"{"data": [{"fk_country": "two", "name": "Bad", "rate": 1}]}"#,
            transactional: true,
            principal: None,
        })
        .expect_err("a string for an integer");
    assert!(
        refused
            .to_string()
            .contains("for field `fk_country`: expected a JSON integer."),
        "{refused}"
    );
}
