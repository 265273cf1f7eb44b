//! Tests of reading mappings, binding them to entities and applying their transforms.

use dynex_schema::{Catalog, Entity, EntityConfig, FieldType};

use super::transform::Rule;
use super::yaml::column;
use super::*;

fn entity() -> Entity {
    let c = EntityConfig::parse_many(
        r#"{"tableName":"t","tableAlias":"things","definition":{"identifier":"id","fields":[
          {"fieldName":"id","fieldVisibleName":"id","type":"integer"},
          {"fieldName":"sku","fieldVisibleName":"sku","type":"string"},
          {"fieldName":"name","fieldVisibleName":"name","type":"string"},
          {"fieldName":"price","fieldVisibleName":"price","type":"decimal"},
          {"fieldName":"active","fieldVisibleName":"is_active","type":"boolean"},
          {"fieldName":"valid_from","fieldVisibleName":"valid_from","type":"date"},
          {"fieldName":"seen_at","fieldVisibleName":"seen_at","type":"datetime"},
          {"fieldName":"color","fieldVisibleName":"color_code","type":"string"},
          {"fieldName":"tax","fieldVisibleName":"fk_tax_set","type":"integer"},
          {"fieldName":"attrs","fieldVisibleName":"attributes","type":"json"}]}}"#,
    )
    .unwrap()
    .remove(0);
    Entity::new(c).unwrap()
}

fn strings(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_string()).collect()
}

const GERMAN: &str = r##"
columns:
  Artikelnummer: sku
  Preis: { field: price, decimal_comma: true }
  Aktiv: { field: is_active, map: { "ja": true, "nein": false, 1: true, 0: false } }
  Name: { field: name, trim: true, case: upper }
  Datum: { field: valid_from, date_format: "%d.%m.%Y" }
  Gesehen: { field: seen_at, date_format: "%d.%m.%Y %H:%M" }
  Farbe: { field: color_code, default: "#000000" }
  Intern: ignore
  Notiz: { ignore: true }
constants:
  fk_tax_set: 1
unmapped: error
"##;

#[test]
fn a_german_export_becomes_visible_fields() {
    let mapping = Mapping::from_yaml(GERMAN).unwrap();
    let header = strings(&[
        "Artikelnummer",
        "Intern",
        "Preis",
        "Aktiv",
        "Name",
        "Datum",
        "Gesehen",
        "Farbe",
        "Notiz",
        "attributes",
    ]);
    let plan = mapping.plan(&entity(), &header).unwrap();
    assert_eq!(
        plan.header(),
        [
            "sku",
            "price",
            "is_active",
            "name",
            "valid_from",
            "seen_at",
            "color_code",
            "attributes",
            "fk_tax_set"
        ]
    );
    let row = strings(&[
        "A-1",
        "x",
        "1.234,50",
        "ja",
        "  Tisch ",
        "01.03.2024",
        "02.03.2024 14:05",
        "",
        "y",
        "{}",
    ]);
    assert_eq!(
        plan.apply(&row).unwrap(),
        [
            "A-1",
            "1234.50",
            "true",
            "TISCH",
            "2024-03-01",
            "2024-03-02 14:05:00",
            "#000000",
            "{}",
            "1"
        ]
    );
    let mut bad = row.clone();
    bad[5] = "31.02.2024".into();
    assert_eq!(
        plan.apply(&bad).unwrap_err(),
        CellError {
            column: "Datum".into(),
            field: "valid_from".into(),
            reason: "`31.02.2024` is not a date in the format `%d.%m.%Y`".into()
        }
    );
    let mut bad = row.clone();
    bad[3] = "vielleicht".into();
    let e = plan.apply(&bad).unwrap_err();
    assert_eq!(
        (e.column.as_str(), e.field.as_str()),
        ("Aktiv", "is_active")
    );
    assert_eq!(
        e.reason,
        "`vielleicht` is not in the value map (`ja`, `nein`, `1`, `0`) and the map has no \
         `_default`"
    );
    assert_eq!(e.to_string(), format!("column `Aktiv`: {}", e.reason));
}

fn rule(yaml: &str) -> Rule {
    match column("c", &serde_norway::from_str(yaml).unwrap()).unwrap() {
        Column::Field(rule) => rule,
        Column::Ignore => panic!("ignored"),
    }
}

#[test]
fn transforms_apply_in_order() {
    let s = FieldType::String;
    // trim → default → map → case.
    let r = rule(r#"{ trim: true, default: "none", map: { none: "n/a", x: "yes" }, case: upper }"#);
    assert_eq!(r.apply("   ", s).unwrap(), "N/A");
    assert_eq!(r.apply(" x ", s).unwrap(), "YES");
    assert!(r.apply("y", s).is_err());
    // Without trim the spaces stay, but the map matches the text without them.
    let r = rule(r#"{ map: { ja: true, _default: false } }"#);
    assert_eq!(r.apply(" ja ", s).unwrap(), "true");
    assert_eq!(r.apply("nein", s).unwrap(), "false");
    assert_eq!(r.apply("", s).unwrap(), "", "empty cells pass a map");
    let r = rule(r#"{ map: { "": "-", 1.5: 2 } }"#);
    assert_eq!(r.apply("", s).unwrap(), "-");
    assert_eq!(r.apply("1.5", s).unwrap(), "2");
    assert_eq!(
        rule(r#"{ map: { 1: ~ } }"#).apply("1", s).unwrap(),
        "",
        "null is an empty cell"
    );
    let r = rule("{ trim: false, case: lower }");
    assert_eq!(r.apply(" ÄB ", s).unwrap(), " äb ");
    let r = rule("{ default: 0 }");
    assert_eq!(r.apply("", s).unwrap(), "0");
    assert_eq!(r.apply(" ", s).unwrap(), " ", "not empty without trim");
}

#[test]
fn decimal_commas() {
    let d = FieldType::Decimal;
    let r = rule("{ decimal_comma: true }");
    for (from, to) in [
        ("1.234,50", "1234.50"),
        ("-1.234.567,5", "-1234567.5"),
        ("12,5", "12.5"),
        ("12", "12"),
        ("1.000", "1000"),
        ("", ""),
    ] {
        assert_eq!(r.apply(from, d).unwrap(), to, "{from}");
    }
    for bad in ["12.50", "1,2,3", "1,234.5", "1.23.456,0"] {
        assert_eq!(
            r.apply(bad, d).unwrap_err(),
            format!("`{bad}` is not a number with a decimal comma (such as 1.234,50)")
        );
    }
}

#[test]
fn dates_are_written_as_iso_for_their_field() {
    // A format, a cell in it, and what the cell becomes in a date, datetime and string field.
    let cases = [
        (
            r#"{ date_format: "%d.%m.%Y" }"#,
            "05.11.2026",
            ["2026-11-05", "2026-11-05 00:00:00", "2026-11-05"],
        ),
        (
            r#"{ date_format: "%m/%d/%Y %I:%M %p" }"#,
            "11/05/2026 02:30 PM",
            ["2026-11-05", "2026-11-05 14:30:00", "2026-11-05 14:30:00"],
        ),
    ];
    for (format, cell, [date, datetime, string]) in cases {
        let r = rule(format);
        assert_eq!(r.apply(cell, FieldType::Date).unwrap(), date);
        assert_eq!(r.apply(cell, FieldType::DateTime).unwrap(), datetime);
        assert_eq!(r.apply(cell, FieldType::String).unwrap(), string);
    }
    let r = rule(r#"{ date_format: "%d.%m.%Y" }"#);
    assert_eq!(r.apply("", FieldType::Date).unwrap(), "");
    assert!(r.apply("2026-11-05", FieldType::Date).is_err());
    let r = rule(r#"{ date_format: "%Y%m%d%H%M%S%.f" }"#);
    assert_eq!(
        r.apply("20261105143000.25", FieldType::DateTime).unwrap(),
        "2026-11-05 14:30:00.250"
    );
}

#[test]
fn columns_not_mentioned_keep_their_name() {
    let e = entity();
    let mapping =
        Mapping::from_yaml("columns:\n  Preis: { field: price, decimal_comma: true }\n").unwrap();
    let plan = mapping
        .plan(&e, &strings(&["sku", "Preis", "name"]))
        .unwrap();
    assert_eq!(plan.header(), ["sku", "price", "name"]);
    assert_eq!(
        plan.apply(&strings(&[" a ", "2,5", "b"])).unwrap(),
        [" a ", "2.5", "b"]
    );
    // Options without `field` apply to the column's own field.
    let mapping = Mapping::from_yaml("columns:\n  price: { decimal_comma: true }\n").unwrap();
    let plan = mapping.plan(&e, &strings(&["price"])).unwrap();
    assert_eq!(plan.apply(&strings(&["3,25"])).unwrap(), ["3.25"]);
    // Columns the mapping names need not be in the file.
    let plan = Mapping::from_yaml(GERMAN)
        .unwrap()
        .plan(&e, &strings(&["sku"]))
        .unwrap();
    assert_eq!(plan.header(), ["sku", "fk_tax_set"]);
}

#[test]
fn unmapped_columns() {
    let e = entity();
    let header = strings(&["sku", "Extra", "Other"]);
    let error = Mapping::from_yaml("columns: {}")
        .unwrap()
        .plan(&e, &header)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "the columns `Extra`, `Other` of the file are neither in the mapping nor fields \
             of `things`"
        ),
        "{error}"
    );
    let mapping = Mapping::from_yaml("unmapped: ignore").unwrap();
    assert_eq!(mapping.unmapped(), Unmapped::Ignore);
    let plan = mapping.plan(&e, &header).unwrap();
    assert_eq!(plan.header(), ["sku"]);
    assert_eq!(plan.apply(&strings(&["a", "b", "c"])).unwrap(), ["a"]);
}

#[test]
fn constants_are_typed_and_json_may_be_structured() {
    let e = entity();
    let mapping = Mapping::from_yaml(
        "constants:\n  fk_tax_set: 2\n  is_active: true\n  attributes: { color: red }\n  \
         name: ~\n",
    )
    .unwrap();
    let plan = mapping.plan(&e, &strings(&["sku"])).unwrap();
    assert_eq!(
        plan.header(),
        ["sku", "fk_tax_set", "is_active", "attributes", "name"]
    );
    assert_eq!(
        plan.apply(&strings(&["a"])).unwrap(),
        ["a", "2", "true", r#"{"color":"red"}"#, ""]
    );
    let bad = Mapping::from_yaml("constants:\n  fk_tax_set: one\n").unwrap();
    assert_eq!(
        bad.plan(&e, &[]).unwrap_err().to_string(),
        "the constant `fk_tax_set`: `one` is not an integer"
    );
}

/// A catalog with `things` and `taxes` (looked up by `name`, a string, or `since`, a date).
fn catalog() -> Catalog {
    let taxes = EntityConfig::parse_many(
        r#"{"tableName":"x","tableAlias":"taxes","definition":{"identifier":"id","fields":[
          {"fieldName":"id","fieldVisibleName":"id","type":"integer"},
          {"fieldName":"name","fieldVisibleName":"name","type":"string"},
          {"fieldName":"since","fieldVisibleName":"since","type":"date"}]}}"#,
    )
    .unwrap()
    .remove(0);
    Catalog::new([entity(), Entity::new(taxes).unwrap()])
}

#[test]
fn lookups_leave_the_text_to_look_up() {
    let e = entity();
    let mapping = Mapping::from_yaml(
        "columns:\n  Steuer: { field: fk_tax_set, trim: true, case: upper, lookup: { entity: \
         taxes, by: name } }\n  Ab: { field: color_code, date_format: \"%d.%m.%Y\", lookup: \
         { entity: taxes, by: since } }\n  fk_tax_set2: ignore\n",
    )
    .unwrap();
    let plan = mapping
        .plan_in(&catalog(), &e, &strings(&["sku", "Steuer", "Ab"]))
        .unwrap();
    assert_eq!(plan.header(), ["sku", "fk_tax_set", "color_code"]);
    assert_eq!(
        plan.lookups(),
        [
            Lookup {
                position: 1,
                column: "Steuer".into(),
                field: "fk_tax_set".into(),
                entity: "taxes".into(),
                by: "name".into()
            },
            Lookup {
                position: 2,
                column: "Ab".into(),
                field: "color_code".into(),
                entity: "taxes".into(),
                by: "since".into()
            }
        ]
    );
    // Transforms apply, typed by the field looked up (a date here, not a string).
    assert_eq!(
        plan.apply(&strings(&["a", " full ", "05.11.2026"]))
            .unwrap(),
        ["a", "FULL", "2026-11-05"]
    );
    // A column with a lookup that is not in the file is no lookup.
    let plan = mapping.plan_in(&catalog(), &e, &strings(&["sku"])).unwrap();
    assert!(plan.lookups().is_empty());
    // Without a field, the column's own field gets the identifier.
    let plan =
        Mapping::from_yaml("columns:\n  fk_tax_set: { lookup: { entity: taxes, by: name } }")
            .unwrap()
            .plan_in(&catalog(), &e, &strings(&["fk_tax_set"]))
            .unwrap();
    assert_eq!(plan.lookups()[0].field, "fk_tax_set");
    assert_eq!(plan.apply(&strings(&["x"])).unwrap(), ["x"]);
}

#[test]
fn invalid_lookups_are_refused() {
    let e = entity();
    let refused = |yaml: &str, message: &str| {
        let error = Mapping::from_yaml(yaml)
            .and_then(|m| m.plan_in(&catalog(), &e, &strings(&["A"])))
            .unwrap_err()
            .to_string();
        assert!(error.contains(message), "{yaml}: {error}");
    };
    refused(
        "columns: { A: { field: fk_tax_set, lookup: taxes } }",
        "the column `A`: `lookup` must be a mapping such as { entity: ALIAS, by: FIELD }, \
         not `taxes`",
    );
    refused(
        "columns: { A: { field: fk_tax_set, lookup: { entity: taxes } } }",
        "the column `A`: `lookup` needs both `entity`",
    );
    refused(
        "columns: { A: { field: fk_tax_set, lookup: { entity: taxes, by: name, on: x } } }",
        "the column `A`: `lookup`: unknown option `on` (the options are entity and by)",
    );
    refused(
        "columns: { A: { field: fk_tax_set, lookup: { entity: taxis, by: name } } }",
        "the column `A`: `lookup`: no entity `taxis` is configured and active",
    );
    refused(
        "columns: { A: { field: fk_tax_set, lookup: { entity: taxes, by: nam } } }",
        "the column `A`: `lookup`: `taxes` has no field `nam` (its fields are: id, name, \
         since)",
    );
    refused(
        "columns: { A: { field: fk_tax, lookup: { entity: taxes, by: name } } }",
        "the mapping names a field that `things` does not have: `fk_tax` (column `A`)",
    );
    refused(
        "columns: { A: { ignore: true, lookup: { entity: taxes, by: name } } }",
        "ignored and has other options",
    );
    // Without a catalog, nothing can be looked up.
    let error = Mapping::from_yaml(
        "columns: { A: { field: fk_tax_set, lookup: { entity: taxes, by: name } } }",
    )
    .unwrap()
    .plan(&e, &strings(&["A"]))
    .unwrap_err()
    .to_string();
    assert!(error.contains("no entity `taxes`"), "{error}");
}

#[test]
fn invalid_mappings_are_refused() {
    let e = entity();
    let refused = |yaml: &str, header: &[&str], message: &str| {
        let error = Mapping::from_yaml(yaml)
            .and_then(|m| m.plan(&e, &strings(header)))
            .unwrap_err()
            .to_string();
        assert!(error.contains(message), "{yaml}: {error}");
    };
    refused("", &[], "the mapping is empty");
    refused("columns: [", &[], "the mapping is not valid YAML");
    refused("- a", &[], "must be a YAML mapping");
    refused("colums: {}", &[], "unknown key `colums` in the mapping");
    refused(
        "columns: [a]",
        &[],
        "`columns` must be a mapping, not a list",
    );
    refused(
        "columns: { A: { field: sku, trimm: true } }",
        &[],
        "the column `A`: unknown option `trimm`",
    );
    refused(
        "columns: { A: 3 }",
        &[],
        "the column `A` must map to a field name",
    );
    refused(
        "columns: { A: { field: sku, trim: yes } }",
        &[],
        "`trim` must be true or false",
    );
    refused(
        "columns: { A: { case: title } }",
        &[],
        "must be `upper` or `lower`, not `title`",
    );
    refused(
        "columns: { A: { date_format: \"%d.%Q\" } }",
        &[],
        "`%d.%Q` is not a date format",
    );
    refused(
        "columns: { A: { map: [1] } }",
        &[],
        "`map` must be a mapping",
    );
    refused(
        "columns: { A: { map: { x: [1] } } }",
        &[],
        "the value of `x` must be a string",
    );
    refused(
        "columns: { A: { ignore: true, field: sku } }",
        &[],
        "ignored and has other options",
    );
    refused(
        "unmapped: maybe",
        &[],
        "`unmapped` must be `error` or `ignore`, not `maybe`",
    );
    refused(
        "columns: { A: sku, B: sku }",
        &[],
        "the columns `A` and `B` both map to the field `sku`",
    );
    refused(
        "columns: { A: fk_tax_set }\nconstants: { fk_tax_set: 1 }",
        &[],
        "the field `fk_tax_set` is both a constant and mapped from the column `A`",
    );
    refused(
        "columns: { A: prise, B: { field: name } }\nconstants: { fk_tax: 1 }",
        &[],
        "the mapping names fields that `things` does not have: `prise` (column `A`), \
         `fk_tax` (constant) (the fields of `things` are: id, sku,",
    );
    refused(
        "columns: { A: sku }",
        &["A", "sku"],
        "the field `sku` would be filled from both the column `A` and the column `sku`",
    );
    refused(
        "constants: { sku: x }",
        &["sku"],
        "the field `sku` would be filled from both the column `sku` and the constant",
    );
    refused(
        "columns: { A: { field: \"\" } }",
        &[],
        "the field name is empty",
    );
}

/// Tags are looked through where a string or a boolean is read, and refused by name elsewhere;
/// keys may be any scalar.
#[test]
fn tags_and_scalar_keys() {
    let e = entity();
    let plan = Mapping::from_yaml(
        "columns: { A: { field: !t sku, trim: !t true }, 1: { map: { 2: 3, ~: x } } }\n\
         unmapped: !t ignore",
    )
    .unwrap()
    .plan(&e, &strings(&["A", "1", "B"]))
    .unwrap_err();
    assert_eq!(
        plan.to_string(),
        "the mapping names a field that `things` does not have: `1` (column `1`) (the fields of \
         `things` are: id, sku, name, price, is_active, valid_from, seen_at, color_code, \
         fk_tax_set, attributes)"
    );
    let refused = |yaml: &str, message: &str| {
        assert_eq!(
            Mapping::from_yaml(yaml).unwrap_err().to_string(),
            message,
            "{yaml}"
        );
    };
    refused(
        "columns: { A: { default: !t x } }",
        "the column `A`: `default` must be a string, a number or a boolean, not a value tagged \
         `!t`",
    );
    refused(
        "columns: { A: !t sku }",
        "the column `A` must map to a field name, `ignore` or options such as { field: NAME }, \
         not a value tagged `!t`",
    );
    refused(
        "columns: { !t A: sku }",
        "`columns`: the key a value tagged `!t` is not a name",
    );
    refused(
        "columns: { A: { trim: !t yes } }",
        "the column `A`: `trim` must be true or false, not a value tagged `!t`",
    );
    refused(
        "constants: { sku: !t x }",
        "the constant `sku` must be a string, a number or a boolean, not a value tagged `!t`",
    );
    refused(
        "!t ~",
        "the mapping must be a YAML mapping with `columns`, `constants` or `unmapped`, not a \
         value tagged `!t`",
    );
    refused("columns: []", "`columns` must be a mapping, not a list");
    refused(
        "columns: { A: { map: { 1.5: [] } } }",
        "the column `A`: `map`: the value of `1.5` must be a string, a number or a boolean, not \
         a list",
    );
}
