//! Rows given as JSON objects (a pipeline's mapped records) written as an import writes lines.

use dynex_core::{
    CoreError, Dynex, ImportMode, ImportObserver, ImportOptions, ImportSummary, RecordRow, Reject,
    RowLookup, RowsSpec,
};
use dynex_test_support::{TestDb, backend_tests};
use serde_json::{Map, Value, json};

use crate::demo;

backend_tests!(
    rows_are_matched_checked_and_refused_one_by_one,
    lookups_find_identifiers_by_natural_keys,
);

/// Keeps the rejects and the summaries of each batch.
#[derive(Default)]
struct Seen {
    rejects: Vec<Reject>,
    progress: Vec<u64>,
}

impl ImportObserver for Seen {
    fn reject(&mut self, reject: &Reject) -> Result<(), CoreError> {
        self.rejects.push(reject.clone());
        Ok(())
    }

    fn progress(&mut self, summary: &ImportSummary, _bytes_read: u64) {
        self.progress.push(summary.read);
    }
}

fn row(number: u64, fields: Value) -> RecordRow {
    let Value::Object(fields) = fields else {
        panic!("an object")
    };
    RecordRow {
        number,
        fields,
        lookups: Vec::new(),
    }
}

fn country(dx: &Dynex, iso2: &str) -> Option<Value> {
    let page = dx
        .read_collection(
            "countries",
            &[("filter[countries.iso2_code]".into(), iso2.into())],
            None,
        )
        .unwrap();
    page.rows.into_iter().next()
}

fn rows_are_matched_checked_and_refused_one_by_one(db: TestDb) {
    let dx = demo(&db);
    let austria = country(&dx, "AT").expect("the demo has Austria");
    let fields: Vec<String> = ["iso2_code", "iso3_code", "name"]
        .map(String::from)
        .to_vec();
    let options = ImportOptions {
        mode: ImportMode::Upsert,
        key: Some("iso2_code".into()),
        ..ImportOptions::default()
    };
    let spec = RowsSpec {
        alias: "countries",
        fields: &fields,
        lookups: &[],
        options: &options,
    };
    let batches = vec![
        Ok(vec![
            // Unchanged: what is stored.
            row(
                1,
                json!({"iso2_code": "AT", "iso3_code": austria["iso3_code"], "name": austria["name"]}),
            ),
            row(
                2,
                json!({"iso2_code": "Q1", "iso3_code": "QQ1", "name": "Quxland"}),
            ),
        ]),
        Ok(vec![
            // Too long for its field: refused alone, with its number.
            row(
                3,
                json!({"iso2_code": "Q2", "iso3_code": "QQQQQ", "name": "Too long"}),
            ),
            row(
                4,
                json!({"iso2_code": "AT", "iso3_code": austria["iso3_code"], "name": "Österreich"}),
            ),
        ]),
    ];
    let mut seen = Seen::default();
    let summary = dx
        .write_rows(&spec, &mut batches.into_iter(), &mut seen)
        .unwrap();
    assert_eq!(
        (
            summary.read,
            summary.inserted,
            summary.updated,
            summary.unchanged,
            summary.rejected
        ),
        (4, 1, 1, 1, 1),
        "{summary:?}"
    );
    assert!(summary.committed);
    assert_eq!(seen.progress, [2, 4], "progress after each batch");
    assert_eq!(seen.rejects.len(), 1);
    assert_eq!(seen.rejects[0].line, 3);
    assert_eq!(seen.rejects[0].field.as_deref(), Some("iso3_code"));
    assert_eq!(country(&dx, "Q1").unwrap()["name"], "Quxland");
    assert_eq!(country(&dx, "AT").unwrap()["name"], "Österreich");
    assert!(country(&dx, "Q2").is_none());

    // A dry run reports the same and keeps nothing.
    let dry = ImportOptions {
        dry_run: true,
        ..options.clone()
    };
    let spec = RowsSpec {
        options: &dry,
        ..spec
    };
    let batches = vec![Ok(vec![row(
        1,
        json!({"iso2_code": "Q3", "iso3_code": "QQ3", "name": "Dry"}),
    )])];
    let summary = dx
        .write_rows(&spec, &mut batches.into_iter(), &mut Seen::default())
        .unwrap();
    assert_eq!((summary.inserted, summary.committed), (1, false));
    assert!(country(&dx, "Q3").is_none());

    // A failing source ends the run with its error; committed batches stay.
    let batches: Vec<Result<Vec<RecordRow>, CoreError>> = vec![
        Ok(vec![row(
            1,
            json!({"iso2_code": "Q4", "iso3_code": "QQ4", "name": "Kept"}),
        )]),
        Err(CoreError::Invalid("the source failed".into())),
    ];
    let spec = RowsSpec {
        options: &options,
        ..spec
    };
    let failed = dx.write_rows(&spec, &mut batches.into_iter(), &mut Seen::default());
    assert!(matches!(failed, Err(CoreError::Invalid(m)) if m == "the source failed"));
    assert_eq!(country(&dx, "Q4").unwrap()["name"], "Kept");

    // Upserts need the key among the fields.
    let spec = RowsSpec {
        fields: &fields[1..],
        ..spec
    };
    let refused = dx.write_rows(&spec, &mut std::iter::empty(), &mut Seen::default());
    assert!(matches!(refused, Err(CoreError::Invalid(m)) if m.contains("iso2_code")));
}

fn lookups_find_identifiers_by_natural_keys(db: TestDb) {
    let dx = demo(&db);
    let austria = country(&dx, "AT").unwrap();
    let fields: Vec<String> = ["name", "rate", "fk_country"].map(String::from).to_vec();
    let lookups = [RowLookup {
        field: "fk_country".into(),
        entity: "countries".into(),
        by: "iso2_code".into(),
    }];
    let options = ImportOptions {
        mode: ImportMode::Upsert,
        key: Some("name".into()),
        ..ImportOptions::default()
    };
    let spec = RowsSpec {
        alias: "tax-rates",
        fields: &fields,
        lookups: &lookups,
        options: &options,
    };
    let rate = |number, name: &str, iso2: &str| {
        let mut fields = Map::new();
        fields.insert("name".into(), json!(name));
        fields.insert("rate".into(), json!("7.5"));
        RecordRow {
            number,
            fields,
            lookups: vec![Some(json!(iso2))],
        }
    };
    let batches = vec![Ok(vec![
        rate(1, "Pipeline AT", "AT"),
        rate(2, "Pipeline nowhere", "ZZ"),
    ])];
    let mut seen = Seen::default();
    let summary = dx
        .write_rows(&spec, &mut batches.into_iter(), &mut seen)
        .unwrap();
    assert_eq!((summary.inserted, summary.rejected), (1, 1), "{summary:?}");
    assert_eq!(seen.rejects[0].line, 2);
    assert_eq!(seen.rejects[0].field.as_deref(), Some("fk_country"));
    let found = dx
        .read_collection(
            "tax-rates",
            &[("filter[tax-rates.name]".into(), "Pipeline AT".into())],
            None,
        )
        .unwrap();
    assert_eq!(found.rows[0]["fk_country"], austria["id_country"]);
    assert_eq!(found.rows[0]["rate"], "7.50", "decimals are exact strings");
}
