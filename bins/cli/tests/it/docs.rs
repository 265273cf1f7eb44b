//! The README's and the docs' command-line examples, run as printed: each block marked
//! `<!-- NAME -->` is given to `sh` with the `dynex` under test first on the `PATH`, as a user
//! who ran `cargo install --path bins/cli` would have it; transcripts (`$ command` lines
//! followed by what it prints) must print what they show, timings aside.

use std::path::Path;
use std::process::Command;

use dynex_core::{Dynex, Options};
use serde_json::Value;

use super::{Run, finish};

const README: &str = include_str!("../../../../README.md");
const CLI: &str = include_str!("../../../../docs/cli.md");
const IMPORT_EXPORT: &str = include_str!("../../../../docs/import-export.md");

/// The `lang` code block that follows `<!-- marker -->` in `doc`.
fn block(doc: &str, marker: &str, lang: &str) -> String {
    let (_, after) = doc
        .split_once(&format!("<!-- {marker} -->"))
        .unwrap_or_else(|| panic!("no <!-- {marker} --> in the docs"));
    after
        .split_once(&format!("```{lang}\n"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block.to_string())
        .unwrap_or_else(|| panic!("no {lang} block after <!-- {marker} -->"))
}

/// The demo catalog in `dir/dynex-demo.db`, as `dynex-server --demo` leaves it.
fn demo_in(dir: &Path) {
    let url = format!("sqlite://{}", dir.join("dynex-demo.db").display());
    let dynex = Dynex::open_with(
        &url,
        Options {
            watch_interval: None,
            ..Options::default()
        },
    )
    .expect("open the demo database");
    assert!(dynex.load_demo().expect("load the demo"));
}

/// Runs `script` with `sh -e` in `dir`, with the `dynex` under test on the `PATH`.
fn shell(dir: &Path, script: &str) -> Run {
    let bin = Path::new(env!("CARGO_BIN_EXE_dynex")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    finish(
        Command::new("sh")
            .args(["-e", "-c", script])
            .current_dir(dir)
            .env("PATH", path)
            .env_remove("DYNEX_DATABASE_URL")
            .env_remove("DYNEX_SECRET_KEY")
            .output()
            .expect("run sh"),
    )
}

/// What a documented output and a real one share: the times and rates of a run are left out.
fn timeless(text: &str) -> String {
    text.lines()
        .map(|line| {
            for label in ["  seconds ", "  rows/s "] {
                if line.starts_with(label) {
                    return label.trim_end().to_string();
                }
            }
            // "… in 0.01 s": the number of seconds goes.
            match line.find(" in ") {
                Some(at) => {
                    let rest = &line[at + 4..];
                    let digits = rest
                        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                        .unwrap_or(rest.len());
                    if digits > 0 && rest[digits..].starts_with(" s") {
                        format!("{} in … s{}", &line[..at], &rest[digits + 2..])
                    } else {
                        line.to_string()
                    }
                }
                None => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs each `$ command` of a transcript in `dir` and checks that it prints (stdout, then
/// stderr) the lines under it; `local` turns the real output into the documented one where it
/// depends on the machine. Returns the exit codes.
fn transcript(dir: &Path, text: &str, local: &dyn Fn(String) -> String) -> Vec<i32> {
    let mut codes = Vec::new();
    let mut steps: Vec<(String, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        match line.strip_prefix("$ ") {
            Some(command) => steps.push((command.to_string(), Vec::new())),
            None => steps
                .last_mut()
                .expect("a transcript starts with a command")
                .1
                .push(line),
        }
    }
    for (command, printed) in steps {
        let run = shell(dir, &command);
        let actual = local(format!("{}{}", run.stdout, run.stderr));
        assert_eq!(
            timeless(&actual),
            timeless(&printed.join("\n")),
            "`{command}` prints something else than documented"
        );
        codes.push(run.code);
    }
    codes
}

fn same(text: String) -> String {
    text
}

#[test]
fn the_install_line_installs_a_plain_dynex_command() {
    for doc in [README, CLI] {
        assert!(
            doc.contains("```sh\ncargo install --path bins/cli\n```"),
            "the install line"
        );
    }
    // `cargo install` puts the package's binary on the PATH under the name of its target.
    assert!(
        include_str!("../../Cargo.toml").contains("[[bin]]\nname = \"dynex\"\n"),
        "bins/cli builds a binary named dynex"
    );
}

#[test]
fn the_readme_lines_on_the_demo_database_work_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let script = block(README, "readme:demo", "sh");
    let run = shell(dir.path(), &script).ok();
    assert!(run.stdout.contains("countries "), "{}", run.stdout);
    assert!(
        run.stdout.contains("dnx_"),
        "the key is shown: {}",
        run.stdout
    );
    assert!(run.stdout.contains("unchanged  12"), "{}", run.stdout);
    let csv = std::fs::read_to_string(dir.path().join("countries.csv")).unwrap();
    assert!(csv.starts_with("iso2_code,name\n"), "{csv}");
    assert_eq!(csv.lines().count(), 13, "{csv}");
    // The key exists in the demo database, with the scope the line gave it.
    let keys = shell(
        dir.path(),
        "dynex --database-url sqlite://dynex-demo.db key list --json",
    )
    .ok()
    .json();
    assert_eq!(keys[0]["name"], "my-integration", "{keys}");
    assert_eq!(
        keys[0]["scopes"],
        serde_json::json!(["dynamic-entity:countries:read"])
    );
}

#[test]
fn the_readme_lines_on_an_own_database_work_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    // The user's own database: a SQLite file with a table of theirs.
    let shop = format!("sqlite://{}", dir.path().join("shop.db").display());
    let db = dynex_core::Db::connect(&shop, 2).unwrap();
    dynex_core::db::run_script(
        &mut db.conn().unwrap(),
        "CREATE TABLE product (id INTEGER PRIMARY KEY, sku VARCHAR(64) NOT NULL UNIQUE, \
         name VARCHAR(255))",
    )
    .unwrap();
    drop(db);
    let script = block(README, "readme:own", "sh");
    let run = shell(dir.path(), &script).ok();
    assert!(
        run.stdout.contains("Exposed at /dynamic-entity/products\n"),
        "{}",
        run.stdout
    );
    let config = shell(
        dir.path(),
        "dynex --database-url sqlite://shop.db entity show products --json",
    )
    .ok()
    .json();
    assert_eq!(config["tableName"], "product");
    assert!(README.contains("serves it at\n`/dynamic-entity/products`"));

    // Printed in another directory, the same lines refuse to make an empty shop.db.
    let elsewhere = tempfile::tempdir().unwrap();
    let first = script.lines().nth(1).expect("a second line");
    let run = shell(elsewhere.path(), first);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("no SQLite database at"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

/// The example of docs/import-export.md: the file, the command and the summary it prints.
#[test]
fn the_import_example_runs_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());
    let script = block(IMPORT_EXPORT, "import:example", "sh");
    let run = shell(dir.path(), &script);
    assert_eq!(run.code, 5, "rows were rejected: {}", run.stderr);
    let (_, after) = IMPORT_EXPORT.split_once(&script).unwrap();
    let printed = after
        .split_once("```text\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(text, _)| text)
        .unwrap();
    assert_eq!(timeless(&run.stdout), timeless(printed));
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    // The report the docs show under "Rejected rows".
    let report = std::fs::read_to_string(dir.path().join("rejects.csv")).unwrap();
    assert!(IMPORT_EXPORT.contains(&report), "{report}");
}

/// Writes the docs' `countries.csv` (docs/import-export.md) into `dir`.
fn documented_countries(dir: &Path) {
    let script = block(IMPORT_EXPORT, "import:example", "sh");
    let (file, _) = script.split_once("CSV\n").unwrap();
    let (_, file) = file.split_once("<<'CSV'\n").unwrap();
    std::fs::write(dir.join("countries.csv"), file).unwrap();
}

#[test]
fn the_cli_transcripts_print_what_they_show() {
    let dir = tempfile::tempdir().unwrap();
    demo_in(dir.path());

    let home = |text: String| text.replace(&dir.path().display().to_string(), "/home/me");
    let codes = transcript(
        dir.path(),
        &block(CLI, "cli:missing-database", "text"),
        &home,
    );
    assert_eq!(codes, [2]);
    assert!(!dir.path().join("shop.db").exists());

    let codes = transcript(dir.path(), &block(CLI, "cli:did-you-mean", "text"), &same);
    assert_eq!(codes, [4, 4]);

    let codes = transcript(dir.path(), &block(CLI, "cli:entity-add", "text"), &same);
    assert_eq!(codes, [0]);

    let codes = transcript(dir.path(), &block(CLI, "cli:sort-warning", "text"), &same);
    assert_eq!(codes, [0]);
    let csv = std::fs::read_to_string(dir.path().join("countries.csv")).unwrap();
    assert_eq!(csv.lines().count(), 13, "{csv}");

    // The preview of rejected lines, on a demo database of its own.
    let fresh = tempfile::tempdir().unwrap();
    demo_in(fresh.path());
    documented_countries(fresh.path());
    let codes = transcript(
        fresh.path(),
        &block(CLI, "cli:rejects-preview", "text"),
        &same,
    );
    assert_eq!(codes, [5]);
    let listed: Value = shell(
        fresh.path(),
        "dynex --database-url sqlite://dynex-demo.db export countries --filter \
         'iso2_code={\"in\": [\"WA\", \"QQ\"]}' --fields iso2_code",
    )
    .ok()
    .stdout
    .lines()
    .skip(1)
    .map(Value::from)
    .collect();
    assert_eq!(
        listed,
        serde_json::json!(["WA", "QQ"]),
        "the good rows are in"
    );
}
