//! What jobs show while they run: the import's progress bar (no time left before the first
//! rows), the export's progress line (rows, rows/s) on a terminal only, and the warning about a
//! sort that no index serves. A terminal is a pseudo-terminal from util-linux's `script`.

use std::path::Path;
use std::process::{Command, Stdio};

use dynex_core::{Dynex, Options};
use dynex_test_support::{TestDb, backend_tests, run_sql, write_file};

use super::dynex;

backend_tests!(
    import_progress_shows_no_eta_before_the_first_rows,
    export_progress_counts_rows_on_a_terminal_only,
    a_sort_without_an_index_warns_and_names_the_index,
);

/// Rows of the `gauges` file.
const ROWS: usize = 30_000;

/// A table `gauges` (no index but its primary key) exposed as an entity, and a CSV file of
/// [`ROWS`] rows for it in `dir`.
fn gauges(db: &TestDb, dir: &Path) -> String {
    let dynex = Dynex::open_with(
        &db.url,
        Options {
            watch_interval: None,
            ..Options::default()
        },
    )
    .expect("open the test database");
    run_sql(
        &dynex,
        &format!(
            "CREATE TABLE gauges ({}, name VARCHAR(40) NOT NULL, reading INT NULL)",
            db.id_column()
        ),
    );
    drop(dynex);
    super::dynex(db, &["entity", "add", "--table", "gauges"]).ok();
    let mut text = String::from("name,reading\n");
    for i in 0..ROWS {
        // Names out of identifier order, so that a sort by name moves rows.
        text.push_str(&format!("g{:05},{}\n", (i * 7919) % ROWS, i % 97));
    }
    write_file(dir, "gauges.csv", text)
}

/// Runs `dynex --database-url <db> args…` with its standard streams on a terminal; returns
/// its exit code and what the terminal received (stdout and stderr, with the control codes).
fn on_terminal(db: &TestDb, dir: &Path, args: &[&str]) -> (i32, String) {
    let quote = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
    let mut line = vec![quote(env!("CARGO_BIN_EXE_dynex"))];
    line.extend(args.iter().map(|a| quote(a)));
    line.push("--database-url".into());
    line.push(quote(&db.url));
    let output = Command::new("script")
        .args(["-q", "-e", "-c", &line.join(" "), "/dev/null"])
        .current_dir(dir)
        .env("TERM", "xterm")
        .env_remove("DYNEX_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("util-linux `script` runs a command on a pseudo-terminal");
    (
        output.status.code().expect("an exit code"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// The frames a terminal showed: the text between carriage returns and line feeds, with the
/// escape sequences that clear a line removed.
fn frames(screen: &str) -> Vec<String> {
    screen
        .split(['\r', '\n'])
        .map(|f| f.replace("\u{1b}[2K", "").trim().to_string())
        .filter(|f| !f.is_empty())
        .collect()
}

fn import_progress_shows_no_eta_before_the_first_rows(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = gauges(&db, dir.path());
    let (code, screen) = on_terminal(
        &db,
        dir.path(),
        &["import", "gauges", &file, "--batch-size", "1000"],
    );
    assert_eq!(code, 0, "{screen}");
    let frames = frames(&screen);
    let bars: Vec<&String> = frames.iter().filter(|f| f.contains("(ETA ")).collect();
    assert!(!bars.is_empty(), "a progress bar: {screen:?}");
    assert!(
        bars[0].ends_with(" 0% reading the first rows (ETA –)"),
        "the first frame has no time left: {:?}",
        bars[0]
    );
    // Once rows are counted, the time left is told.
    let counted: Vec<&&String> = bars.iter().filter(|b| b.contains(" rows/s, ")).collect();
    assert!(!counted.is_empty(), "{bars:?}");
    for bar in counted {
        assert!(!bar.contains("(ETA –)"), "{bar:?}");
    }
    assert!(
        frames
            .iter()
            .any(|f| f.starts_with("read ") && f.ends_with(&ROWS.to_string())),
        "the summary: {screen:?}"
    );

    // Not a terminal: no bar.
    let run = dynex(&db, &["import", "gauges", &file, "--dry-run"]).ok();
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

fn export_progress_counts_rows_on_a_terminal_only(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = gauges(&db, dir.path());
    dynex(&db, &["import", "gauges", &file]).ok();
    let out = dir.path().join("out.csv");
    let out = out.to_str().unwrap();

    let (code, screen) = on_terminal(
        &db,
        dir.path(),
        &["export", "gauges", "-o", out, "--page-rows", "500"],
    );
    assert_eq!(code, 0, "{screen}");
    let frames = frames(&screen);
    let progress: Vec<&String> = frames
        .iter()
        .filter(|f| f.contains("exporting `gauges`: "))
        .collect();
    assert!(!progress.is_empty(), "a progress line: {screen:?}");
    for line in &progress {
        let (_, counts) = line.split_once("exporting `gauges`: ").unwrap();
        let (rows, rest) = counts.split_once(" rows, ").unwrap();
        let rows: u64 = rows.replace(',', "").parse().unwrap();
        let (rate, _) = rest.split_once(" rows/s, ").unwrap();
        if rows == 0 {
            assert_eq!(rate, "–", "no rate before the first row: {line:?}");
        } else {
            assert!(rate.replace(',', "").parse::<u64>().is_ok(), "{line:?}");
        }
    }
    assert!(
        frames
            .iter()
            .any(|f| f.starts_with(&format!("exported {ROWS} rows of `gauges` to {out}"))),
        "{screen:?}"
    );
    assert_eq!(
        std::fs::read_to_string(out).unwrap().lines().count(),
        ROWS + 1
    );

    // With --json, or with the CSV itself on the terminal: no progress line.
    let (code, screen) = on_terminal(&db, dir.path(), &["export", "gauges", "-o", out, "--json"]);
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("exporting"), "{screen:?}");
    assert!(screen.contains("\"rows\": 30000"), "{screen:?}");
    let (code, screen) = on_terminal(&db, dir.path(), &["export", "gauges", "--fields", "name"]);
    assert_eq!(code, 0);
    assert!(!screen.contains("exporting"), "{:?}", &screen[..200]);
    // Not a terminal: the summary alone.
    let run = dynex(&db, &["export", "gauges", "-o", out]).ok();
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("exported 30000 rows"),
        "{}",
        run.stderr
    );
}

fn a_sort_without_an_index_warns_and_names_the_index(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = gauges(&db, dir.path());
    dynex(&db, &["import", "gauges", &file]).ok();
    let out = dir.path().join("out.csv");
    let out = out.to_str().unwrap();
    let export = |sort: &str| {
        dynex(
            &db,
            &[
                "export",
                "gauges",
                "--sort",
                sort,
                "-o",
                out,
                "--page-rows",
                "2000",
            ],
        )
        .ok()
        .stderr
    };
    let warning = |columns: &str, named: &str| {
        format!(
            "warning: no index on gauges({columns}): an export sorted by {columns} reads and \
             sorts the whole table for each page of 2000 rows; create one to make it fast: \
             CREATE INDEX gauges_{named} ON gauges ({columns})"
        )
    };

    let stderr = export("name");
    let (first, rest) = stderr.split_once('\n').unwrap();
    assert_eq!(first, warning("name", "name"));
    assert!(rest.starts_with("exported 30000 rows"), "{stderr}");
    let csv = std::fs::read_to_string(out).unwrap();
    let names: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(names.len(), ROWS);
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "sorted by name");

    let stderr = export("-reading,name");
    assert!(
        stderr.starts_with(&warning("reading, name", "reading_name")),
        "{stderr}"
    );
    // The identifier only breaks ties: sorted by it first, nothing to warn about.
    for sort in ["id", "-id", "id,name"] {
        let stderr = export(sort);
        assert!(!stderr.contains("warning"), "{sort}: {stderr}");
    }
    // With --json and -o, stdout stays the JSON summary.
    let run = dynex(
        &db,
        &["export", "gauges", "--sort", "name", "-o", out, "--json"],
    )
    .ok();
    assert_eq!(run.json()["rows"], 30000);
    assert!(
        run.stderr.starts_with("warning: no index on gauges(name)"),
        "{}",
        run.stderr
    );

    // The statement the warning suggests, run as printed, silences it.
    let (_, statement) = first.split_once("create one to make it fast: ").unwrap();
    let dynex_db = Dynex::open(&db.url).unwrap();
    run_sql(&dynex_db, statement);
    drop(dynex_db);
    for sort in ["name", "-name", "name,id"] {
        let stderr = export(sort);
        assert!(!stderr.contains("warning"), "{sort}: {stderr}");
    }
    // Still one for a sort the index does not lead with.
    assert!(export("name,reading").starts_with("warning: no index on gauges(name, reading)"));
}
