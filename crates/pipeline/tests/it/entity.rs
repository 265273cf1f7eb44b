//! The `entity` source: an entity of this dynex read in keyset pages, continuing from its
//! cursor; and the checks of the new source and target kinds.

use std::path::Path;

use dynex_pipeline::definition::Definition;
use dynex_pipeline::run::{RunOptions, run};
use dynex_test_support::{TestDb, backend_tests, open_demo, run_sql};
use serde_json::json;

use crate::docs_example;

backend_tests!(an_entity_source_pages_through_rows_and_continues_from_its_cursor);

/// The `entity` source example of docs/pipelines.md, in pages of 4, into `file`.
fn definition(file: &Path) -> Definition {
    let yaml = docs_example("entity");
    let yaml = yaml.replace("page_size: 500", "page_size: 4").replace(
        "/var/lib/dynex/outbox/{pipeline}-{timestamp}.csv",
        &file.display().to_string(),
    );
    assert!(
        yaml.contains(&file.display().to_string()) && yaml.contains("page_size: 4"),
        "{yaml}"
    );
    Definition::parse(&yaml).unwrap()
}

/// The first run reads every row the filter keeps, in pages of `page_size` ordered by the
/// cursor field (nulls first), and keeps the highest value; the next run reads only rows at or
/// after it.
fn an_entity_source_pages_through_rows_and_continues_from_its_cursor(db: TestDb) {
    let dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let first_file = dir.path().join("first.csv");
    let first = definition(&first_file);
    first.check(&dx.snapshot().catalog).unwrap();
    let summary = run(&dx, &first, &RunOptions::default(), &mut ()).unwrap();
    assert_eq!(
        (summary.pages, summary.read, summary.inserted),
        (2, 6, 6),
        "{summary:?}"
    );
    assert_eq!(summary.cursor_after, Some(json!("2024-02-01 09:25:00")));
    assert_eq!(
        std::fs::read_to_string(&first_file).unwrap(),
        "sku,updated_at\n003,\n001,2024-02-01 09:00:00\n002,2024-02-01 09:05:00\n\
         004,2024-02-01 09:15:00\n005,2024-02-01 09:20:00\n006,2024-02-01 09:25:00\n"
    );

    run_sql(
        &dx,
        "UPDATE spy_product_abstract SET updated_at = '2024-03-01 10:00:00' \
         WHERE id_product_abstract = 2",
    );
    let second_file = dir.path().join("second.csv");
    let summary = run(
        &dx,
        &definition(&second_file),
        &RunOptions::default(),
        &mut (),
    )
    .unwrap();
    assert_eq!(
        (summary.pages, summary.read),
        (1, 2),
        "the row at the cursor and the changed one: {summary:?}"
    );
    assert_eq!(summary.cursor_before, Some(json!("2024-02-01 09:25:00")));
    assert_eq!(summary.cursor_after, Some(json!("2024-03-01 10:00:00")));
    assert_eq!(
        std::fs::read_to_string(&second_file).unwrap(),
        "sku,updated_at\n006,2024-02-01 09:25:00\n002,2024-03-01 10:00:00\n"
    );
}

/// Every problem of the new kinds is named with its place.
#[test]
fn the_new_kinds_are_checked_with_every_problem_named() {
    let db = TestDb::sqlite();
    let dx = open_demo(&db);
    let catalog = &dx.snapshot().catalog;
    let problems = |yaml: &str| -> Vec<String> {
        let definition = Definition::parse(yaml).unwrap();
        definition
            .check(catalog)
            .unwrap_err()
            .0
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    let found = problems(
        "
name: in
source:
  csv: { folder: /no/such/folder, pattern: 'a/*.csv', delimiter: ';;', page_size: 0 }
map:
  fields:
    code: $.code
  lookups:
    fk_country: { entity: countries, by: iso2_code, path: $.country }
target:
  csv: { file: '/no/such/folder/{pipeline}-{date}.csv' }
",
    );
    for expected in [
        "source.csv.folder: `/no/such/folder` is not a folder",
        "source.csv.pattern:",
        "source.csv.delimiter: `;;` cannot separate cells",
        "source.csv.page_size:",
        "target.csv.file: `{date}` is no placeholder",
        "map.lookups: lookups are resolved by an entity target only",
    ] {
        assert!(
            found.iter().any(|p| p.starts_with(expected)),
            "missing {expected:?} in {found:#?}"
        );
    }
    let found = problems(
        "
name: out
source:
  entity: { entity: planets, incremental: { field: updated_at } }
map:
  fields:
    code: $.code
target:
  csv: { file: '/no/such/folder/out.csv' }
",
    );
    assert!(
        found.contains(&"target.csv.file: the folder `/no/such/folder` does not exist".into()),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("source.entity.entity: `planets` is not an entity")),
        "{found:#?}"
    );
    let found = problems(
        "
name: out
source:
  entity:
    entity: product-abstracts
    filter: { product-abstracts.updated_at: x }
    incremental: { field: updated }
    page_size: 0
map:
  fields:
    sku: $.sku
target:
  csv: { file: out.csv }
",
    );
    for expected in [
        "source.entity.page_size:",
        "source.entity.incremental.field: `updated` is not a field of `product-abstracts`",
        "source.entity.incremental.field: the pipeline keeps no cursor",
    ] {
        assert!(
            found.iter().any(|p| p.starts_with(expected)),
            "missing {expected:?} in {found:#?}"
        );
    }
    // An unknown key of a new kind is refused as any other.
    let typo = Definition::parse(
        "
name: out
source: { csv: { folder: /tmp, pagesize: 2 } }
map: { fields: { code: $.code } }
target: { csv: { file: out.csv } }
",
    )
    .unwrap_err();
    assert!(
        typo.to_string().contains("unknown field `pagesize`"),
        "{typo}"
    );
}
