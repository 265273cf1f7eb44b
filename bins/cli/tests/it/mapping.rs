//! `dynex import --mapping FILE.yml`: a German-style export loads without editing it (renamed
//! and ignored columns, a constant, trims, upper case, defaults, a ja/nein map, decimal commas,
//! a dd.mm.yyyy date); cells a transform refuses are rejected under the file's own header; an
//! invalid mapping stops the import before anything is written. Every test runs the real binary
//! on each backend and reads the rows back.

use std::path::Path;

use dynex_core::Dynex;
use dynex_test_support::{TestDb, all_rows, backend_tests, open_demo, write_file};
use serde_json::{Value, json};

use crate::import::{counts, import, read, report};

/// The one row of `alias` whose `field` is `value`.
fn row_where(dx: &Dynex, alias: &str, field: &str, value: &Value) -> Value {
    let mut found: Vec<Value> = all_rows(dx, alias)
        .into_iter()
        .filter(|r| &r[field] == value)
        .collect();
    assert_eq!(found.len(), 1, "{alias} where {field} = {value}: {found:?}");
    found.remove(0)
}

/// The mapping of the product export: a trimmed, upper-cased SKU, a default colour, dates
/// written dd.mm.yyyy, an ignored column and a constant tax set.
const PRODUCTS_MAPPING: &str = r##"
columns:
  Artikelnummer: { field: sku, trim: true, case: upper }
  Merkmale: attributes
  Farbe: { field: color_code, default: "#000000" }
  Angelegt: { field: created_at, date_format: "%d.%m.%Y %H:%M" }
  Geändert: { field: updated_at, date_format: "%d.%m.%Y" }
  Intern: ignore
constants:
  fk_tax_set: 1
"##;

const PRODUCTS_HEADER: [&str; 6] = [
    "Artikelnummer",
    "Intern",
    "Merkmale",
    "Farbe",
    "Angelegt",
    "Geändert",
];

/// The product export: two good rows and one with a date that does not exist.
const PRODUCTS: &str = "Artikelnummer,Intern,Merkmale,Farbe,Angelegt,Geändert\n  \
                        neu-1 ,x1,{},#DC2E09,01.03.2024 14:05,02.03.2024\n\
                        neu-2,x2,\"{\"\"farbe\"\":\"\"rot\"\"}\",,15.12.2023 08:30,\n\
                        \tneu-3,x3,{},#FFFFFF,31.02.2024 10:00,01.03.2024\n";

/// The mapping of the stock export: decimal commas, a ja/nein map, an ignored column and a
/// constant warehouse.
const STOCK_MAPPING: &str = r#"
columns:
  Artikel: fk_product
  Menge: { field: quantity, decimal_comma: true }
  Immer lieferbar: { field: is_never_out_of_stock, map: { "ja": true, "nein": false, "1": true, "0": false } }
  Bemerkung: ignore
constants:
  fk_stock: 2
unmapped: error
"#;

/// The stock export: products without a stock row in warehouse 2; one row says `vielleicht`.
const STOCK: &str = "Artikel,Menge,Immer lieferbar,Bemerkung\n\
                     1,\"1.234,5\",ja,a\n\
                     3,\"12,75\", nein ,b\n\
                     5,7,vielleicht,c\n\
                     7,\"0,5\",0,\"d, e\"\n";

/// A German-style export of another system loads as it is; every transform shows in the rows
/// read back; a cell a transform refuses rejects its row, reported with the file's own header
/// and cells, and its neighbours are written.
fn a_german_export_loads_through_a_mapping(db: TestDb) {
    let dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let mapping = write_file(dir.path(), "products.yml", PRODUCTS_MAPPING);
    let input = write_file(dir.path(), "artikel.csv", PRODUCTS);
    let rejects = dir.path().join("rejects.csv");
    let rejects = rejects.to_str().unwrap();
    let args = [
        "product-abstracts",
        &input,
        "--mapping",
        &mapping,
        "--rejects",
        rejects,
        "--json",
    ];
    let run = import(&db, &args).failed(5);
    assert_eq!(counts(&run), [3, 2, 0, 0, 1], "{}", run.stdout);
    assert_eq!(
        read(rejects),
        report(
            &PRODUCTS_HEADER,
            &[vec![
                "4",
                "1305",
                "created_at",
                "Invalid data type `product-abstracts[4]` for field `created_at` (column \
                 `Angelegt`): `31.02.2024 10:00` is not a date in the format `%d.%m.%Y %H:%M`.",
                "\tneu-3",
                "x3",
                "{}",
                "#FFFFFF",
                "31.02.2024 10:00",
                "01.03.2024",
            ]]
        )
    );
    let product = |sku: &str| {
        let mut row = row_where(&dx, "product-abstracts", "sku", &json!(sku));
        let object = row.as_object_mut().unwrap();
        assert!(
            object
                .remove("id_product_abstract")
                .unwrap()
                .as_i64()
                .unwrap()
                > 0
        );
        // A date-only format gives `2024-03-02`; the column is a timestamp on PostgreSQL and
        // MariaDB, which read it back with midnight.
        let updated = object.remove("updated_at").unwrap();
        match updated.as_str() {
            Some(t) => {
                assert!(t == "2024-03-02" || t == "2024-03-02 00:00:00", "{t}");
                object.insert("updated_at".into(), json!("2024-03-02"));
            }
            None => assert!(updated.is_null()),
        }
        row
    };
    assert_eq!(
        product("NEU-1"),
        json!({"sku": "NEU-1", "fk_tax_set": 1, "attributes": "{}", "color_code": "#DC2E09",
               "created_at": "2024-03-01 14:05:00", "updated_at": "2024-03-02"})
    );
    assert_eq!(
        product("NEU-2"),
        json!({"sku": "NEU-2", "fk_tax_set": 1, "attributes": r#"{"farbe":"rot"}"#,
               "color_code": "#000000", "created_at": "2023-12-15 08:30:00"})
    );
    assert!(
        all_rows(&dx, "product-abstracts").iter().all(|r| !r["sku"]
            .as_str()
            .unwrap()
            .contains("neu-3")
            && r["sku"] != "NEU-3"),
        "the refused row is not written"
    );

    // Numbers with decimal commas and a ja/nein map, into another entity.
    let mapping = write_file(dir.path(), "stock.yml", STOCK_MAPPING);
    let input = write_file(dir.path(), "bestand.csv", STOCK);
    let before = all_rows(&dx, "stock-products").len();
    let run = import(
        &db,
        &[
            "stock-products",
            &input,
            "--mapping",
            &mapping,
            "--rejects",
            rejects,
            "--json",
        ],
    )
    .failed(5);
    assert_eq!(counts(&run), [4, 3, 0, 0, 1], "{}", run.stdout);
    assert_eq!(
        read(rejects),
        report(
            &["Artikel", "Menge", "Immer lieferbar", "Bemerkung"],
            &[vec![
                "4",
                "1305",
                "is_never_out_of_stock",
                "Invalid data type `stock-products[4]` for field `is_never_out_of_stock` (column \
                 `Immer lieferbar`): `vielleicht` is not in the value map (`ja`, `nein`, `1`, \
                 `0`) and the map has no `_default`.",
                "5",
                "7",
                "vielleicht",
                "c",
            ]]
        )
    );
    let stock: Vec<Value> = all_rows(&dx, "stock-products")[before..]
        .iter()
        .map(|r| {
            json!([
                r["fk_product"],
                r["fk_stock"],
                r["quantity"],
                r["is_never_out_of_stock"]
            ])
        })
        .collect();
    assert_eq!(
        stock,
        [
            json!([1, 2, "1234.5000000000", true]),
            json!([3, 2, "12.7500000000", false]),
            json!([7, 2, "0.5000000000", false]),
        ]
    );
}

/// Upsert through a mapping: the key column may be renamed and transformed; importing the
/// same file again finds every row unchanged; `unmapped: ignore` drops unknown columns.
fn upserts_match_mapped_keys(db: TestDb) {
    let dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let mapping = write_file(
        dir.path(),
        "countries.yml",
        "columns:\n  ISO: { field: iso2_code, trim: true, case: upper }\n  \
         Land: name\n  PLZ Pflicht: { field: postal_code_mandatory, map: { ja: true, nein: \
         false, _default: false } }\nunmapped: ignore\n",
    );
    let input = write_file(
        dir.path(),
        "laender.csv",
        "ISO,Land,PLZ Pflicht,Einwohner\nat ,Österreich,ja,9000000\nbe,Belgium,nein,\n\
         XW,Westland,unbekannt,1\n",
    );
    let args = [
        "countries",
        &input,
        "--mapping",
        &mapping,
        "--mode",
        "upsert",
        "--key",
        "iso2_code",
        "--json",
    ];
    let run = import(&db, &args).ok();
    // Austria's name changes; Belgium is as stored; Westland is new.
    assert_eq!(counts(&run), [3, 1, 1, 1, 0], "{}", run.stdout);
    let country = |iso: &str| {
        let r = row_where(&dx, "countries", "iso2_code", &json!(iso));
        json!([r["name"], r["postal_code_mandatory"]])
    };
    assert_eq!(country("AT"), json!(["Österreich", true]));
    assert_eq!(country("BE"), json!(["Belgium", false]));
    assert_eq!(country("XW"), json!(["Westland", false]));
    let all = all_rows(&dx, "countries");
    let run = import(&db, &args).ok();
    assert_eq!(counts(&run), [3, 0, 0, 3, 0], "{}", run.stdout);
    assert_eq!(all_rows(&dx, "countries"), all);
}

/// Every kind of invalid mapping exits 2 with a message naming the problem, before the rejects
/// file is created and before any row is written.
fn invalid_mappings_are_refused_before_writing(db: TestDb) {
    let dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(
        dir.path(),
        "artikel.csv",
        "Artikelnummer,Merkmale,Steuer,Intern\nNEU-9,{},1,x\n",
    );
    let rejects = dir.path().join("rejects.csv");
    let rejects = rejects.to_str().unwrap();
    let before = all_rows(&dx, "product-abstracts");
    let refused = |name: &str, yaml: Option<&str>, message: &str| {
        let mapping = match yaml {
            Some(yaml) => write_file(dir.path(), name, yaml),
            None => dir.path().join(name).to_str().unwrap().to_string(),
        };
        let run = import(
            &db,
            &[
                "product-abstracts",
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
        assert!(run.stdout.is_empty(), "{name}: {}", run.stdout);
        assert!(!Path::new(rejects).exists(), "{name}: no rejects file");
        assert_eq!(
            all_rows(&dx, "product-abstracts"),
            before,
            "{name}: nothing written"
        );
    };
    let good = "columns:\n  Artikelnummer: sku\n  Merkmale: attributes\n  Steuer: fk_tax_set\n  \
                Intern: ignore\n";
    refused("missing.yml", None, "cannot read");
    refused(
        "syntax.yml",
        Some("columns: [\n"),
        "the mapping is not valid YAML",
    );
    refused("empty.yml", Some(""), "the mapping is empty");
    refused(
        "unknown-key.yml",
        Some(&format!("{good}constant:\n  color_code: x\n")),
        "unknown key `constant` in the mapping (the keys are columns, constants and unmapped)",
    );
    refused(
        "unknown-option.yml",
        Some(
            "columns:\n  Artikelnummer: { field: sku, uppercase: true }\n  Merkmale: attributes\n  \
             Steuer: fk_tax_set\n  Intern: ignore\n",
        ),
        "the column `Artikelnummer`: unknown option `uppercase`",
    );
    refused(
        "unknown-field.yml",
        Some(
            "columns:\n  Artikelnummer: sku\n  Merkmale: attribute\n  Steuer: fk_tax_set\n  \
             Intern: ignore\nconstants:\n  colour: \"#000000\"\n",
        ),
        "the mapping names fields that `product-abstracts` does not have: `attribute` (column \
         `Merkmale`), `colour` (constant) (the fields of `product-abstracts` are: \
         id_product_abstract, sku, fk_tax_set, attributes, color_code, created_at, updated_at)",
    );
    refused(
        "two-columns.yml",
        Some(
            "columns:\n  Artikelnummer: sku\n  Merkmale: attributes\n  Steuer: fk_tax_set\n  \
             Intern: sku\n",
        ),
        "the columns `Artikelnummer` and `Intern` both map to the field `sku`",
    );
    refused(
        "constant-and-column.yml",
        Some(&format!("{good}constants:\n  fk_tax_set: 2\n")),
        "the field `fk_tax_set` is both a constant and mapped from the column `Steuer`",
    );
    refused(
        "constant-type.yml",
        Some(
            "columns:\n  Artikelnummer: sku\n  Merkmale: attributes\n  Steuer: ignore\n  \
             Intern: ignore\nconstants:\n  fk_tax_set: eins\n",
        ),
        "the constant `fk_tax_set`: `eins` is not an integer",
    );
    refused(
        "unmapped.yml",
        Some("columns:\n  Artikelnummer: sku\n  Merkmale: attributes\n"),
        "the columns `Steuer`, `Intern` of the file are neither in the mapping nor fields of \
         `product-abstracts`",
    );
    refused(
        "bad-date-format.yml",
        Some(
            "columns:\n  Artikelnummer: sku\n  Merkmale: attributes\n  Steuer: fk_tax_set\n  \
             Intern: { field: created_at, date_format: \"%d.%m.%\" }\n",
        ),
        "the column `Intern`: `date_format`: `%d.%m.%` is not a date format",
    );
    refused(
        "bad-case.yml",
        Some(
            "columns:\n  Artikelnummer: { field: sku, case: title }\n  Merkmale: attributes\n  \
             Steuer: fk_tax_set\n  Intern: ignore\n",
        ),
        "the column `Artikelnummer`: `case` must be `upper` or `lower`, not `title`",
    );
    refused(
        "bad-unmapped.yml",
        Some(&format!("{good}unmapped: skip\n")),
        "`unmapped` must be `error` or `ignore`, not `skip`",
    );

    // The good mapping loads the file.
    let mapping = write_file(dir.path(), "good.yml", good);
    let run = import(
        &db,
        &["product-abstracts", &input, "--mapping", &mapping, "--json"],
    )
    .ok();
    assert_eq!(counts(&run), [1, 1, 0, 0, 0], "{}", run.stdout);
    assert_eq!(
        row_where(&dx, "product-abstracts", "sku", &json!("NEU-9"))["fk_tax_set"],
        1
    );
}

backend_tests!(
    a_german_export_loads_through_a_mapping,
    upserts_match_mapped_keys,
    invalid_mappings_are_refused_before_writing,
);
