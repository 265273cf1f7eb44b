//! `dynex import --resume`: an import killed in the middle continues after its last committed
//! batch, without repeating or losing a row.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use dynex_core::{Dynex, ExportRequest};
use dynex_test_support::{TestDb, backend_tests, open_demo};
use serde_json::{Value, json};

use crate::{command, dynex};

backend_tests!(
    an_import_killed_midway_resumes_exactly,
    resume_refusals,
    a_manifest_resumes_step_by_step,
);

/// The category keys stored now.
fn keys(dx: &Dynex) -> Vec<String> {
    let request = ExportRequest {
        fields: vec!["category_key".into()],
        ..ExportRequest::default()
    };
    let plan = dx.plan_export("categories", &request, None).expect("plan");
    let mut out = Vec::new();
    dx.export_cells(&plan, |cells| {
        out.push(cells[0].to_string());
        Ok(())
    })
    .expect("read categories");
    out
}

/// A categories file of `n` new rows, with a bad row every 1000 lines.
fn categories(n: usize) -> String {
    let mut text = String::from("category_key,is_in_menu\n");
    for i in 1..=n {
        if i % 1000 == 0 {
            text.push_str(&format!("bad-{i},maybe\n"));
        } else {
            text.push_str(&format!("bulk-{i:06},true\n"));
        }
    }
    text
}

/// `kill -9` in the middle of an insert (where a plain re-run would duplicate or refuse every
/// committed row), then `--resume`: every good row exactly once, the bad rows rejected once.
fn an_import_killed_midway_resumes_exactly(db: TestDb) {
    let dx = open_demo(&db);
    let before = keys(&dx).len();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let rows = 30_000;
    std::fs::write(&path, categories(rows)).unwrap();
    let path = path.to_str().unwrap();

    let mut child = command(&["import", "categories", path, "--batch-size", "50"])
        .arg("--database-url")
        .arg(&db.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start dynex import");
    // Kill it once some batches are committed, long before the end.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stored = keys(&dx).len() - before;
        if stored >= 500 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it could be killed"
        );
        assert!(Instant::now() < deadline, "no batch committed within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    child.wait().unwrap();
    let committed = keys(&dx).len() - before;
    assert!(
        committed < rows - 30,
        "killed too late: {committed} rows in"
    );

    let run = dynex(&db, &["import", "categories", path, "--resume", "--json"]).failed(5);
    let summary = run.json();
    let skipped = summary["skipped"].as_u64().unwrap();
    let read = summary["read"].as_u64().unwrap();
    assert_eq!(skipped + read, rows as u64, "{}", run.stdout);
    assert!(skipped > 0, "{}", run.stdout);
    // Bad rows of the resumed part are rejected again; those before the kill were reported by
    // the killed run.
    let bad_after = (1..=rows)
        .filter(|i| i % 1000 == 0 && *i as u64 > skipped)
        .count() as u64;
    assert_eq!(summary["rejected"], json!(bad_after), "{}", run.stdout);
    assert_eq!(
        summary["inserted"],
        json!(read - bad_after),
        "{}",
        run.stdout
    );

    let all = keys(&dx);
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no row twice");
    let bulk = all.iter().filter(|k| k.starts_with("bulk-")).count();
    assert_eq!(bulk, rows - rows / 1000, "every good row once");
    assert!(!all.iter().any(|k| k.starts_with("bad-")));

    // Finished: resuming again skips every line and writes nothing.
    let run = dynex(&db, &["import", "categories", path, "--resume", "--json"]).ok();
    let summary = run.json();
    assert_eq!(
        (summary["skipped"].clone(), summary["read"].clone()),
        (json!(rows), json!(0)),
        "{}",
        run.stdout
    );
    assert_eq!(keys(&dx), all);
}

/// `--resume` with nothing to resume, with stdin, or with `--atomic` is bad input (exit 2) and
/// writes nothing; a finished import resumes to nothing; an edited file is another file.
fn resume_refusals(db: TestDb) {
    let dx = open_demo(&db);
    let before = keys(&dx);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.csv");
    std::fs::write(&path, "category_key,is_in_menu\nr-1,true\nr-2,true\n").unwrap();
    let path = path.to_str().unwrap();
    for args in [
        vec!["import", "categories", path, "--resume"],
        vec!["import", "categories", path, "--resume", "--atomic"],
        vec!["import", "categories", path, "--resume", "--dry-run"],
        vec!["import", "categories", "-", "--resume"],
    ] {
        let run = dynex(&db, &args).failed(2);
        assert!(run.stderr.contains("resume"), "{args:?}: {}", run.stderr);
    }
    assert_eq!(keys(&dx), before);
    dynex(&db, &["import", "categories", path]).ok();
    // A finished import has nothing left: every line is skipped.
    let run = dynex(&db, &["import", "categories", path, "--resume", "--json"]).ok();
    assert_eq!(run.json()["skipped"], json!(2), "{}", run.stdout);
    // The same name with other content is another file.
    std::fs::write(path, "category_key,is_in_menu\nr-3,true\n").unwrap();
    let run = dynex(&db, &["import", "categories", path, "--resume", "--json"]).failed(2);
    let error: Value = run.json();
    assert_eq!(error["error"]["code"], json!("invalid"), "{}", run.stdout);
}

/// `--resume` with a manifest: a step whose file was imported is skipped line by line, a step the
/// interruption never reached runs in full.
fn a_manifest_resumes_step_by_step(db: TestDb) {
    let dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.csv");
    let second = dir.path().join("second.csv");
    std::fs::write(&first, "category_key,is_in_menu\nm-1,true\nm-2,true\n").unwrap();
    std::fs::write(&second, "category_key,is_in_menu\nm-3,true\n").unwrap();
    let manifest = dir.path().join("manifest.yml");
    std::fs::write(
        &manifest,
        "imports:\n  - entity: categories\n    file: first.csv\n  \
         - entity: categories\n    file: second.csv\norder: manifest\n",
    )
    .unwrap();
    let manifest = manifest.to_str().unwrap();
    // As if the run had stopped after its first step.
    dynex(&db, &["import", "categories", first.to_str().unwrap()]).ok();
    let run = dynex(
        &db,
        &["import", "--manifest", manifest, "--resume", "--json"],
    )
    .ok();
    let report = run.json();
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(
        (steps[0]["skipped"].clone(), steps[0]["inserted"].clone()),
        (json!(2), json!(0)),
        "{}",
        run.stdout
    );
    assert_eq!(steps[1]["inserted"], json!(1), "{}", run.stdout);
    let mine: Vec<String> = keys(&dx)
        .into_iter()
        .filter(|k| k.starts_with("m-"))
        .collect();
    assert_eq!(mine, ["m-1", "m-2", "m-3"]);
}
