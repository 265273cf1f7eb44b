//! Natural keys in `dynex import --mapping FILE.yml`: a column that names a parent by a unique
//! field of it (`lookup: { entity, by }`) gets the parent's identifier, resolved in bulk once per
//! batch; a value that names no row is rejected with `1317`, one that names several with
//! `1302`; a lookup sees what earlier batches of the same import wrote, also inside `--atomic`;
//! an invalid lookup stops the import before anything is written. Every test runs on each
//! backend and reads the rows back.

use std::path::Path;

use dynex_core::{Dynex, ImportObserver, ImportOptions, Options, Reject};
use dynex_test_support::{TestDb, all_rows, backend_tests, open_demo, run_sql, write_file};
use serde_json::{Value, json};

use crate::dynex;
use crate::import::{counts, import, read, report, row_where};

/// The identifier of the product abstract with `sku`.
fn abstract_id(dx: &Dynex, sku: &str) -> Value {
    row_where(dx, "product-abstracts", "sku", sku)["id_product_abstract"].clone()
}

/// The product abstract (by SKU) and `is_active` of the product concrete with `sku`.
fn concrete(dx: &Dynex, sku: &str) -> Value {
    let row = row_where(dx, "product-concretes", "sku", sku);
    let parent = all_rows(dx, "product-abstracts")
        .into_iter()
        .find(|a| a["id_product_abstract"] == row["fk_product_abstract"])
        .map_or(Value::Null, |a| a["sku"].clone());
    json!([parent, row["is_active"]])
}

const CONCRETES_MAPPING: &str = "columns:\n  abstract_sku: { field: fk_product_abstract, trim: \
                                 true, lookup: { entity: product-abstracts, by: sku } }\n";

/// Product concretes name their abstract by SKU: each row gets the abstract's identifier; the
/// same SKU on several rows of a batch names the same abstract; an unknown SKU is rejected with
/// `1317` under the field, an empty cell is no lookup (a null, refused as required), and the
/// neighbours of refused rows are written.
fn concretes_are_imported_by_abstract_sku(db: TestDb) {
    let dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let mapping = write_file(dir.path(), "concretes.yml", CONCRETES_MAPPING);
    let input = write_file(
        dir.path(),
        "concretes.csv",
        "abstract_sku,sku,attributes,is_active\n\
         001,001_new_1,{},true\n\
         002,002_new_1,{},true\n \
         001 ,001_new_2,{},false\n\
         nope,nope_1,{},true\n\
         ,empty_1,{},true\n\
         003,003_new_1,{},true\n\
         002,002_new_2,{},false\n",
    );
    let rejects = dir.path().join("rejects.csv");
    let rejects = rejects.to_str().unwrap();
    let before = all_rows(&dx, "product-concretes").len();
    let run = import(
        &db,
        &[
            "product-concretes",
            &input,
            "--mapping",
            &mapping,
            "--rejects",
            rejects,
            "--batch-size",
            "3",
            "--json",
        ],
    )
    .failed(5);
    assert_eq!(counts(&run), [7, 5, 0, 0, 2], "{}", run.stdout);
    assert_eq!(
        read(rejects),
        report(
            &["abstract_sku", "sku", "attributes", "is_active"],
            &[
                vec![
                    "5",
                    "1317",
                    "fk_product_abstract",
                    "Failed to persist the data for `product-concretes[5].fk_product_abstract`. \
                     Please verify the provided data and try again. A referenced entity does \
                     not exist.",
                    "nope",
                    "nope_1",
                    "{}",
                    "true",
                ],
                vec![
                    "6",
                    "1307",
                    "fk_product_abstract",
                    "The required field must not be empty. Field: `product-concretes[6].fk_product_abstract`",
                    "",
                    "empty_1",
                    "{}",
                    "true",
                ],
            ]
        )
    );
    assert_eq!(all_rows(&dx, "product-concretes").len(), before + 5);
    assert_eq!(concrete(&dx, "001_new_1"), json!(["001", true]));
    assert_eq!(concrete(&dx, "002_new_1"), json!(["002", true]));
    assert_eq!(concrete(&dx, "001_new_2"), json!(["001", false]));
    assert_eq!(concrete(&dx, "003_new_1"), json!(["003", true]));
    assert_eq!(concrete(&dx, "002_new_2"), json!(["002", false]));
    assert_eq!(
        row_where(&dx, "product-concretes", "sku", "001_new_2")["fk_product_abstract"],
        abstract_id(&dx, "001")
    );

    // Upserting the same rows by SKU: the looked-up identifiers equal the stored ones.
    let input = write_file(
        dir.path(),
        "again.csv",
        "abstract_sku,sku,attributes,is_active\n001,001_new_1,{},true\n003,001_new_2,{},false\n",
    );
    let run = import(
        &db,
        &[
            "product-concretes",
            &input,
            "--mapping",
            &mapping,
            "--mode",
            "upsert",
            "--key",
            "sku",
            "--json",
        ],
    )
    .ok();
    assert_eq!(counts(&run), [2, 0, 1, 1, 0], "{}", run.stdout);
    assert_eq!(concrete(&dx, "001_new_2"), json!(["003", false]));
}

/// A value that names several rows is refused with `1302` and says how many; a value that is
/// not of the type of the field looked up is a `1305`.
fn ambiguous_and_mistyped_lookups_are_rejected(db: TestDb) {
    let dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    // `fk_tax_set` is no unique field: several abstracts have tax set 1, one has tax set 2.
    let by_tax_set = all_rows(&dx, "product-abstracts")
        .iter()
        .filter(|a| a["fk_tax_set"] == 1)
        .count();
    assert!(by_tax_set > 1);
    let mapping = write_file(
        dir.path(),
        "by-tax-set.yml",
        "columns:\n  Steuersatz: { field: fk_product_abstract, lookup: { entity: \
         product-abstracts, by: fk_tax_set } }\n",
    );
    let input = write_file(
        dir.path(),
        "concretes.csv",
        "Steuersatz,sku,attributes\n1,t1,{}\n2,t2,{}\neins,t3,{}\n",
    );
    let rejects = dir.path().join("rejects.csv");
    let rejects = rejects.to_str().unwrap();
    let run = import(
        &db,
        &[
            "product-concretes",
            &input,
            "--mapping",
            &mapping,
            "--rejects",
            rejects,
            "--json",
        ],
    )
    .failed(5);
    assert_eq!(counts(&run), [3, 1, 0, 0, 2], "{}", run.stdout);
    let ambiguous = format!(
        "Failed to persist the data for `product-concretes[2]`. Please verify the provided data \
         and try again. The database reports: `fk_tax_set` = `1` matches {by_tax_set} rows of \
         `product-abstracts`; look rows up by a unique field"
    );
    assert_eq!(
        read(rejects),
        report(
            &["Steuersatz", "sku", "attributes"],
            &[
                vec!["2", "1302", "", &ambiguous, "1", "t1", "{}"],
                vec![
                    "4",
                    "1305",
                    "fk_product_abstract",
                    "Invalid data type `product-concretes[4]` for field `fk_product_abstract`: \
                     expected an integer.",
                    "eins",
                    "t3",
                    "{}",
                ],
            ]
        )
    );
    assert_eq!(
        row_where(&dx, "product-concretes", "sku", "t2")["fk_product_abstract"],
        abstract_id(&dx, "008")
    );
}

/// Creates `teams` (each may name a parent team), exposes it as an entity and opens the
/// database again to read it.
fn teams(db: &TestDb, dx: &Dynex) -> Dynex {
    let id = db.id_column();
    let script = format!(
        "CREATE TABLE teams ({id}, name VARCHAR(40) NOT NULL UNIQUE, fk_parent INT NULL, \
         FOREIGN KEY (fk_parent) REFERENCES teams (id));\n"
    );
    run_sql(dx, &script);
    dynex(db, &["entity", "add", "--table", "teams"]).ok();
    Dynex::open(&db.url).expect("open")
}

/// The parent's name of each team, by name.
fn team_parents(dx: &Dynex) -> Vec<(String, Option<String>)> {
    let all = all_rows(dx, "teams");
    let name = |id: &Value| {
        all.iter()
            .find(|t| t["id"] == *id)
            .map(|t| t["name"].as_str().unwrap().to_string())
    };
    all.iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                name(&t["fk_parent"]),
            )
        })
        .collect()
}

/// Lookups see what is stored when their batch starts: inside one `--atomic` transaction a row
/// finds a parent written by an earlier batch of the same import (also of the same entity); a
/// parent in the same batch is not seen yet.
fn lookups_see_earlier_batches_of_an_atomic_import(db: TestDb) {
    let dx = teams(&db, &open_demo(&db));
    let dir = tempfile::tempdir().unwrap();
    let mapping = write_file(
        dir.path(),
        "teams.yml",
        "columns:\n  parent: { field: fk_parent, lookup: { entity: teams, by: name } }\n",
    );
    // Batches of two: (root, other), (a → root, b → root), (c → a).
    let input = write_file(
        dir.path(),
        "teams.csv",
        "name,parent\nroot,\nother,\na,root\nb,root\nc,a\n",
    );
    let args = [
        "teams",
        &input,
        "--mapping",
        &mapping,
        "--batch-size",
        "2",
        "--atomic",
        "--json",
    ];
    let run = import(&db, &args).ok();
    assert_eq!(counts(&run), [5, 5, 0, 0, 0], "{}", run.stdout);
    assert_eq!(run.json()["committed"], true);
    let some = |s: &str| Some(s.to_string());
    let expected = vec![
        ("root".to_string(), None),
        ("other".to_string(), None),
        ("a".to_string(), some("root")),
        ("b".to_string(), some("root")),
        ("c".to_string(), some("a")),
    ];
    assert_eq!(team_parents(&dx), expected);

    // A dry run sees its own earlier batches too, and writes nothing.
    let input = write_file(dir.path(), "more.csv", "name,parent\nd,c\ne,\nf,e\n");
    let mut dry = args;
    dry[1] = &input;
    dry[6] = "--dry-run";
    let run = import(&db, &dry).ok();
    assert_eq!(counts(&run), [3, 3, 0, 0, 0], "{}", run.stdout);
    assert_eq!(team_parents(&dx), expected);

    // The parent in the same batch as its child is not stored yet when the batch starts.
    let rejects = dir.path().join("rejects.csv");
    let rejects = rejects.to_str().unwrap();
    let run = import(
        &db,
        &[
            "teams",
            &input,
            "--mapping",
            &mapping,
            "--rejects",
            rejects,
            "--json",
        ],
    )
    .failed(5);
    assert_eq!(counts(&run), [3, 2, 0, 0, 1], "{}", run.stdout);
    assert_eq!(
        read(rejects),
        report(
            &["name", "parent"],
            &[vec![
                "4",
                "1317",
                "fk_parent",
                "Failed to persist the data for `teams[4].fk_parent`. Please verify the provided \
                 data and try again. A referenced entity does not exist.",
                "f",
                "e",
            ]]
        )
    );
    let parents = team_parents(&dx);
    assert_eq!(parents[5..], [("d".into(), some("c")), ("e".into(), None)]);
}

/// A tax rate names its country by ISO code, upper-cased on the way; the same file upserted
/// by name again finds every row unchanged.
fn tax_rates_are_imported_by_country_code(db: TestDb) {
    let dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let mapping = write_file(
        dir.path(),
        "rates.yml",
        "columns:\n  Land: { field: fk_country, trim: true, case: upper, lookup: { entity: \
         countries, by: iso2_code } }\n  Bezeichnung: name\n  Satz: { field: rate, \
         decimal_comma: true }\n",
    );
    let input = write_file(
        dir.path(),
        "rates.csv",
        "Land,Bezeichnung,Satz\nde,Germany Super Reduced,\"4,5\"\nAT ,Austria Parking,13\n\
         XX,Nowhere,\"1,0\"\n,Everywhere,1\n",
    );
    let rejects = dir.path().join("rejects.csv");
    let rejects = rejects.to_str().unwrap();
    let args = [
        "tax-rates",
        &input,
        "--mapping",
        &mapping,
        "--rejects",
        rejects,
        "--json",
    ];
    let run = import(&db, &args).failed(5);
    assert_eq!(counts(&run), [4, 3, 0, 0, 1], "{}", run.stdout);
    assert_eq!(
        read(rejects),
        report(
            &["Land", "Bezeichnung", "Satz"],
            &[vec![
                "4",
                "1317",
                "fk_country",
                "Failed to persist the data for `tax-rates[4].fk_country`. Please verify the \
                 provided data and try again. A referenced entity does not exist.",
                "XX",
                "Nowhere",
                "1,0",
            ]]
        )
    );
    let country = |iso: &str| row_where(&dx, "countries", "iso2_code", iso)["id_country"].clone();
    let rate = |name: &str| {
        let r = row_where(&dx, "tax-rates", "name", name);
        let rate = match &r["rate"] {
            Value::String(s) => s.parse::<f64>().unwrap(),
            other => other.as_f64().unwrap(),
        };
        json!([r["fk_country"], rate])
    };
    assert_eq!(rate("Germany Super Reduced"), json!([country("DE"), 4.5]));
    assert_eq!(rate("Austria Parking"), json!([country("AT"), 13.0]));
    assert_eq!(rate("Everywhere"), json!([null, 1.0]));

    let mut upsert = args.to_vec();
    upsert.extend(["--mode", "upsert", "--key", "name"]);
    let run = import(&db, &upsert).failed(5);
    assert_eq!(counts(&run), [4, 0, 0, 3, 1], "{}", run.stdout);
}

/// A lookup of an entity that is not configured or not active, by a field it does not have,
/// into a field the imported entity does not have, or written wrong, exits 2 before anything
/// is written.
fn invalid_lookups_are_refused_before_writing(db: TestDb) {
    let dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(
        dir.path(),
        "concretes.csv",
        "abstract_sku,sku,attributes\n001,x_1,{}\n",
    );
    let rejects = dir.path().join("rejects.csv");
    let rejects = rejects.to_str().unwrap();
    let before = all_rows(&dx, "product-concretes");
    dynex(&db, &["entity", "disable", "tax-sets"]).ok();
    let refused = |name: &str, lookup: &str, message: &str| {
        let mapping = write_file(
            dir.path(),
            name,
            format!(
                "columns:\n  abstract_sku: {{ field: fk_product_abstract, lookup: {lookup} }}\n"
            ),
        );
        let run = import(
            &db,
            &[
                "product-concretes",
                &input,
                "--mapping",
                &mapping,
                "--rejects",
                rejects,
            ],
        )
        .failed(2);
        assert!(
            run.stderr.starts_with("error: ") && run.stderr.contains(message),
            "{name}: {}",
            run.stderr
        );
        assert!(!Path::new(rejects).exists(), "{name}: no rejects file");
        assert_eq!(
            all_rows(&dx, "product-concretes"),
            before,
            "{name}: nothing written"
        );
    };
    refused(
        "unknown-entity.yml",
        "{ entity: product-abstract, by: sku }",
        "the column `abstract_sku`: `lookup`: no entity `product-abstract` is configured and \
         active",
    );
    refused(
        "inactive-entity.yml",
        "{ entity: tax-sets, by: name }",
        "the column `abstract_sku`: `lookup`: no entity `tax-sets` is configured and active",
    );
    refused(
        "unknown-by.yml",
        "{ entity: product-abstracts, by: skus }",
        "the column `abstract_sku`: `lookup`: `product-abstracts` has no field `skus` (its fields \
         are: id_product_abstract, sku, fk_tax_set, attributes, color_code, created_at, \
         updated_at)",
    );
    refused(
        "no-by.yml",
        "{ entity: product-abstracts }",
        "the column `abstract_sku`: `lookup` needs both `entity`",
    );
    refused(
        "unknown-option.yml",
        "{ entity: product-abstracts, by: sku, unique: true }",
        "the column `abstract_sku`: `lookup`: unknown option `unique` (the options are entity and \
         by)",
    );
    refused(
        "not-a-mapping.yml",
        "product-abstracts.sku",
        "the column `abstract_sku`: `lookup` must be a mapping such as { entity: ALIAS, by: FIELD \
         }, not `product-abstracts.sku`",
    );
    let mapping = write_file(
        dir.path(),
        "unknown-field.yml",
        "columns:\n  abstract_sku: { field: fk_abstract, lookup: { entity: product-abstracts, by: \
         sku } }\n",
    );
    let run = import(&db, &["product-concretes", &input, "--mapping", &mapping]).failed(2);
    assert!(
        run.stderr.contains(
            "the mapping names a field that `product-concretes` does not have: `fk_abstract` \
             (column `abstract_sku`)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(all_rows(&dx, "product-concretes"), before);
}

/// Collects the rejects of a library import.
#[derive(Default)]
struct Rejects(Vec<Reject>);

impl ImportObserver for Rejects {
    fn reject(&mut self, reject: &Reject) -> Result<(), dynex_core::CoreError> {
        self.0.push(reject.clone());
        Ok(())
    }
}

/// With a page limit of three rows, the distinct values of a batch are read in chunks that fit
/// a page, and a value that alone fills a page is reported as matching that many rows or more.
fn lookups_are_read_in_pages(db: TestDb) {
    let reader = open_demo(&db);
    let mut page_limits = reader.page_limits();
    page_limits.default_limit = 2;
    page_limits.max_limit = 3;
    let dx = Dynex::open_with(
        &db.url,
        Options {
            watch_interval: None,
            page_limits,
            ..Options::default()
        },
    )
    .unwrap();
    let mapping = |by: &str| {
        dynex_csv::Mapping::from_yaml(&format!(
            "columns:\n  parent: {{ field: fk_product_abstract, lookup: {{ entity: \
             product-abstracts, by: {by} }} }}\n"
        ))
        .unwrap()
    };
    let options = ImportOptions {
        batch_rows: 10,
        mapping: Some(mapping("sku")),
        ..ImportOptions::default()
    };
    let csv = "parent,sku,attributes\n001,p1,{}\n002,p2,{}\n003,p3,{}\n004,p4,{}\n005,p5,{}\n\
               008,p8,{}\n";
    let mut rejects = Rejects::default();
    let summary = dx
        .import("product-concretes", csv.as_bytes(), &options, &mut rejects)
        .unwrap();
    assert_eq!((summary.inserted, summary.rejected), (6, 0), "{rejects:?}");
    for (sku, parent) in [("p1", "001"), ("p3", "003"), ("p5", "005"), ("p8", "008")] {
        assert_eq!(
            row_where(&reader, "product-concretes", "sku", sku)["fk_product_abstract"],
            abstract_id(&reader, parent),
            "{sku}"
        );
    }

    let options = ImportOptions {
        mapping: Some(mapping("fk_tax_set")),
        ..options
    };
    let csv = "parent,sku,attributes\n2,q2,{}\n1,q1,{}\n";
    let mut rejects = Rejects::default();
    let summary = dx
        .import("product-concretes", csv.as_bytes(), &options, &mut rejects)
        .unwrap();
    assert_eq!((summary.inserted, summary.rejected), (1, 1));
    assert_eq!(rejects.0.len(), 1);
    assert_eq!((rejects.0[0].line, rejects.0[0].code.as_str()), (3, "1302"));
    assert!(
        rejects.0[0]
            .message
            .ends_with("`fk_tax_set` = `1` matches 3 or more rows of `product-abstracts`; look rows up by a unique field"),
        "{}",
        rejects.0[0].message
    );
}

impl std::fmt::Debug for Rejects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|r| &r.message))
            .finish()
    }
}

backend_tests!(
    concretes_are_imported_by_abstract_sku,
    ambiguous_and_mistyped_lookups_are_rejected,
    lookups_see_earlier_batches_of_an_atomic_import,
    tax_rates_are_imported_by_country_code,
    invalid_lookups_are_refused_before_writing,
    lookups_are_read_in_pages,
);
