//! The `csv` source (a folder of files) and the `csv` target (a file per run), run against the
//! demo catalog on every backend.

use std::collections::VecDeque;
use std::path::Path;

use dynex_core::Dynex;
use dynex_pipeline::definition::{Definition, SourceSpec};
use dynex_pipeline::run::{RunError, RunOptions, RunSummary, run, run_into, run_with};
use dynex_pipeline::source::{Page, Source, SourceError};
use dynex_pipeline::target::{Delivered, RecordRow, Target, TargetError};
use dynex_test_support::{TestDb, backend_tests, open_demo, write_file};
use serde_json::{Value, json};

backend_tests!(
    the_csv_target_writes_every_kind_of_value_as_dynex_exports_it,
    a_failing_run_leaves_no_half_file,
    files_are_moved_to_done_only_once_their_rows_are_committed,
    a_file_that_is_not_csv_is_moved_to_failed_with_the_reason,
);

/// The names of the files in `dir` (not its folders), sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap())
                .filter(|e| e.file_type().unwrap().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A source of records given in pages; `Err` at a page makes the source fail there.
struct Pages(VecDeque<Result<Vec<Value>, String>>);

impl Source for Pages {
    fn next_page(&mut self) -> Result<Option<Page>, SourceError> {
        match self.0.pop_front() {
            None => Ok(None),
            Some(Ok(records)) => Ok(Some(Page {
                records,
                ..Page::default()
            })),
            Some(Err(e)) => Err(SourceError::Other(e)),
        }
    }
}

fn run_pages(
    dynex: &Dynex,
    definition: &Definition,
    pages: Vec<Result<Vec<Value>, String>>,
) -> Result<RunSummary, RunError> {
    run_with(dynex, definition, &RunOptions::default(), &mut (), |_| {
        Ok(Box::new(Pages(pages.into())) as Box<dyn Source>)
    })
}

fn csv_target_definition(dir: &Path, formulas: &str) -> Definition {
    Definition::parse(&format!(
        "
name: csv-out
source: {{ connector: {{ name: pages }} }}
map:
  fields:
    code: $.code
    name: $.name
    price: $.price
    active: $.active
    tags: $.tags
target:
  csv: {{ file: '{}/{{pipeline}}-{{timestamp}}.csv'{formulas} }}
",
        dir.display()
    ))
    .unwrap()
}

/// Header from the mapping, quoting as `dynex export` quotes, null as an empty cell, numbers,
/// booleans and JSON as JSON text; formula-like strings escaped only when asked.
fn the_csv_target_writes_every_kind_of_value_as_dynex_exports_it(db: TestDb) {
    let dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let records = [
        json!({"code": "A1", "name": "plain", "price": 12.5, "active": true, "tags": ["x", "y"]}),
        json!({"code": "A2", "name": "a, \"quoted\"\nname", "price": -5, "active": false,
               "tags": {"k": 1}}),
        json!({"code": "A3", "name": null, "price": null}),
        json!({"code": "=SUM(A1)", "name": "-minus", "price": 0, "active": null}),
    ];
    let definition = csv_target_definition(dir.path(), ", formulas: escape");
    definition.check(&dx.snapshot().catalog).unwrap();
    let summary = run_pages(
        &dx,
        &definition,
        vec![Ok(records[..2].to_vec()), Ok(records[2..].to_vec())],
    )
    .unwrap();
    assert_eq!((summary.pages, summary.inserted), (2, 4), "{summary:?}");
    let written = files(dir.path());
    assert_eq!(written.len(), 1, "{written:?}");
    let name = &written[0];
    // csv-out-20261206T183000Z.csv
    assert!(
        name.starts_with("csv-out-") && name.ends_with("Z.csv") && name.len() == 28,
        "{name}"
    );
    assert_eq!(name.as_bytes()[16], b'T', "{name}");
    let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(
        text,
        "code,name,price,active,tags\n\
         A1,plain,12.5,true,\"[\"\"x\"\",\"\"y\"\"]\"\n\
         A2,\"a, \"\"quoted\"\"\nname\",-5,false,\"{\"\"k\"\":1}\"\n\
         A3,,,,\n\
         '=SUM(A1),'-minus,0,,\n"
    );

    // Kept as they are by default, as `dynex export` does; a new file per run.
    std::fs::remove_file(dir.path().join(name)).unwrap();
    let definition = csv_target_definition(dir.path(), "");
    run_pages(&dx, &definition, vec![Ok(records[3..].to_vec())]).unwrap();
    let written = files(dir.path());
    let text = std::fs::read_to_string(dir.path().join(&written[0])).unwrap();
    assert_eq!(text, "code,name,price,active,tags\n=SUM(A1),-minus,0,,\n");

    // A run that delivers nothing still leaves a file: the header.
    std::fs::remove_file(dir.path().join(&written[0])).unwrap();
    run_pages(&dx, &definition, vec![]).unwrap();
    let written = files(dir.path());
    let text = std::fs::read_to_string(dir.path().join(&written[0])).unwrap();
    assert_eq!(text, "code,name,price,active,tags\n");
}

/// A run that fails after pages were written leaves neither the file nor its temporary one;
/// a dry run writes nothing at all.
fn a_failing_run_leaves_no_half_file(db: TestDb) {
    let dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let definition = csv_target_definition(dir.path(), "");
    let failed = run_pages(
        &dx,
        &definition,
        vec![
            Ok(vec![json!({"code": "B1"})]),
            Ok(vec![json!({"code": "B2"})]),
            Err("the warehouse went away".into()),
        ],
    )
    .unwrap_err();
    let RunError::Failed(summary) = failed else {
        panic!("a failed run: {failed}");
    };
    assert_eq!(summary.inserted, 2, "two pages were written before");
    assert!(
        summary.error.as_deref().unwrap().contains("went away"),
        "{summary:?}"
    );
    assert_eq!(files(dir.path()), Vec::<String>::new());

    let dry = run_with(
        &dx,
        &definition,
        &RunOptions {
            dry_run: true,
            ..RunOptions::default()
        },
        &mut (),
        |_| Ok(Box::new(Pages(vec![Ok(vec![json!({"code": "B1"})])].into())) as Box<dyn Source>),
    )
    .unwrap();
    assert_eq!(dry.pages, 1);
    assert_eq!(
        files(dir.path()),
        Vec::<String>::new(),
        "a dry run writes no file"
    );
}

/// A folder pipeline into the demo's countries.
fn folder_definition(folder: &Path, page_size: usize) -> Definition {
    Definition::parse(&format!(
        "
name: country-files
source:
  csv: {{ folder: '{}', page_size: {page_size} }}
map:
  fields:
    iso2_code: $.code
    iso3_code: $.code3
    name: {{ path: $.name, default: unnamed }}
target:
  entity: {{ entity: countries, key: iso2_code }}
",
        folder.display()
    ))
    .unwrap()
}

fn country(dx: &Dynex, code: &str) -> Option<Value> {
    dx.read_collection(
        "countries",
        &[("filter[countries.iso2_code]".into(), code.into())],
        None,
    )
    .unwrap()
    .rows
    .pop()
}

/// A target that fails at its `n`th page, after delivering the ones before to nowhere.
struct FailsAt(usize);

impl Target for FailsAt {
    fn deliver(&mut self, rows: Vec<RecordRow>) -> Result<Delivered, TargetError> {
        self.0 -= 1;
        if self.0 == 0 {
            return Err(TargetError("the other side is down".into()));
        }
        Ok(Delivered {
            inserted: rows.len() as u64,
            ..Delivered::default()
        })
    }
}

/// Files go to `done/` once the page that ends them is committed: not when the target fails
/// first, nor in a dry run. A malformed line is a dead letter and its neighbours are written;
/// a second run finds nothing; a name already in `done/` is not overwritten.
fn files_are_moved_to_done_only_once_their_rows_are_committed(db: TestDb) {
    let dx = open_demo(&db);
    let inbox = tempfile::tempdir().unwrap();
    let folder = inbox.path();
    write_file(
        folder,
        "a.csv",
        "code,code3,name\nF1,FF1,First\nF2,FF2\nF3,FF3,\"Third, with a comma\"\nF4,FF4,\n",
    );
    write_file(folder, "b.csv", "name,code,code3\nSecond file,G1,GG1\n");
    write_file(folder, "notes.txt", "not a CSV file, not matched\n");
    write_file(folder, "sub/c.csv", "code,code3,name\nH1,HH1,Sub\n");
    let definition = folder_definition(folder, 2);
    definition.check(&dx.snapshot().catalog).unwrap();

    // The target fails at the second page of a.csv: the file stays where it is.
    let SourceSpec::Csv(spec) = &definition.source else {
        unreachable!()
    };
    let failed = run_into(
        &dx,
        &definition,
        &RunOptions::default(),
        &mut (),
        |start| Ok(Box::new(spec.open(start)?) as Box<dyn Source>),
        &mut FailsAt(2),
    )
    .unwrap_err();
    assert!(
        failed.to_string().contains("the other side is down"),
        "{failed}"
    );
    assert_eq!(files(folder), ["a.csv", "b.csv", "notes.txt"]);
    assert!(!folder.join("done").exists());

    // Nor does a dry run move anything.
    let dry = run(
        &dx,
        &definition,
        &RunOptions {
            dry_run: true,
            ..RunOptions::default()
        },
        &mut (),
    )
    .unwrap();
    assert_eq!((dry.read, dry.inserted, dry.dead_letters), (5, 4, 1));
    assert_eq!(files(folder), ["a.csv", "b.csv", "notes.txt"]);
    assert!(country(&dx, "F1").is_none());

    let first = run(&dx, &definition, &RunOptions::default(), &mut ()).unwrap();
    // a.csv: 2 pages of 2 lines, the second one with the malformed line; b.csv: 1 page.
    assert_eq!(
        (
            first.pages,
            first.read,
            first.inserted,
            first.dead_letters,
            first.state.as_str()
        ),
        (3, 5, 4, 1, "succeeded"),
        "{first:?}"
    );
    assert_eq!(files(folder), ["notes.txt"]);
    assert_eq!(files(&folder.join("done")), ["a.csv", "b.csv"]);
    assert_eq!(
        files(&folder.join("sub")),
        ["c.csv"],
        "subfolders are not read"
    );
    assert_eq!(country(&dx, "F3").unwrap()["name"], "Third, with a comma");
    assert_eq!(
        country(&dx, "F4").unwrap()["name"],
        "unnamed",
        "an empty cell is null"
    );
    assert_eq!(country(&dx, "G1").unwrap()["iso3_code"], "GG1");
    assert!(country(&dx, "F2").is_none());
    // The run that failed kept the malformed line of its first page too: a file read again
    // repeats its dead letters.
    let letters = dx.dead_letters("country-files", 10).unwrap();
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0].record, letters[1].record);
    assert_eq!(
        (letters[0].stage.as_str(), letters[0].code.as_str()),
        ("read", "1301")
    );
    assert_eq!(
        letters[0].record,
        json!({"file": "a.csv", "line": 3, "cells": ["F2", "FF2"]})
    );
    assert!(
        letters[0]
            .message
            .contains("a.csv, line 3: the line has 2 cells"),
        "{}",
        letters[0].message
    );

    let second = run(&dx, &definition, &RunOptions::default(), &mut ()).unwrap();
    assert_eq!((second.pages, second.read), (0, 0), "{second:?}");

    // The same name again: read, and kept beside the first one.
    write_file(folder, "a.csv", "code,code3,name\nF1,FF1,First again\n");
    let third = run(&dx, &definition, &RunOptions::default(), &mut ()).unwrap();
    assert_eq!(third.updated, 1, "{third:?}");
    assert_eq!(files(&folder.join("done")), ["a.1.csv", "a.csv", "b.csv"]);
    assert_eq!(
        std::fs::read_to_string(folder.join("done/a.1.csv")).unwrap(),
        "code,code3,name\nF1,FF1,First again\n"
    );
}

/// Files that are not CSV (not UTF-8, a header with a repeated column, a quote never closed)
/// go to `failed/` with why beside them, each one a dead letter; the good file between them is
/// read.
fn a_file_that_is_not_csv_is_moved_to_failed_with_the_reason(db: TestDb) {
    let dx = open_demo(&db);
    let inbox = tempfile::tempdir().unwrap();
    let folder = inbox.path();
    write_file(
        folder,
        "1-latin1.csv",
        b"code,code3,name\nL1,LL1,Espa\xf1a\n",
    );
    write_file(folder, "2-header.csv", "code,code,name\nD1,DD1,Twice\n");
    write_file(folder, "3-good.csv", "code,code3,name\nK1,KK1,Good\n");
    write_file(
        folder,
        "4-quote.csv",
        "code,code3,name\nQ1,QQ1,Fine\nQ2,QQ2,\"never closed\nQ3,QQ3,Lost\n",
    );
    // A failed file of that name from an earlier day is not overwritten.
    write_file(folder, "failed/2-header.csv", "older\n");
    let definition = folder_definition(folder, 10);
    let summary = run(&dx, &definition, &RunOptions::default(), &mut ()).unwrap();
    assert_eq!(
        (summary.inserted, summary.dead_letters),
        (1, 3),
        "{summary:?}"
    );
    assert!(country(&dx, "K1").is_some());
    assert!(
        country(&dx, "Q1").is_none(),
        "nothing of a broken file is written"
    );
    assert_eq!(files(folder), Vec::<String>::new());
    assert_eq!(files(&folder.join("done")), ["3-good.csv"]);
    assert_eq!(
        files(&folder.join("failed")),
        [
            "1-latin1.csv",
            "1-latin1.csv.error.txt",
            "2-header.1.csv",
            "2-header.1.csv.error.txt",
            "2-header.csv",
            "4-quote.csv",
            "4-quote.csv.error.txt",
        ]
    );
    let why = |name: &str| std::fs::read_to_string(folder.join("failed").join(name)).unwrap();
    assert!(
        why("1-latin1.csv.error.txt").contains("not UTF-8 (line 2"),
        "{}",
        why("1-latin1.csv.error.txt")
    );
    assert!(
        why("2-header.1.csv.error.txt").contains("names the column `code` twice"),
        "{}",
        why("2-header.1.csv.error.txt")
    );
    assert!(
        why("4-quote.csv.error.txt").contains("quote opened on line 3 is never closed"),
        "{}",
        why("4-quote.csv.error.txt")
    );
    let letters = dx.dead_letters("country-files", 10).unwrap();
    let codes: Vec<(&str, &str, &Value)> = letters
        .iter()
        .map(|d| (d.stage.as_str(), d.code.as_str(), &d.record))
        .collect();
    assert_eq!(
        codes,
        [
            ("read", "unreadable_file", &json!({"file": "1-latin1.csv"})),
            ("read", "unreadable_file", &json!({"file": "2-header.csv"})),
            ("read", "unreadable_file", &json!({"file": "4-quote.csv"})),
        ]
    );
}
