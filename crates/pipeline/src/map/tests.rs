use serde_json::json;

use super::*;
use crate::problem::Problem;

fn spec(yaml: &str) -> MapSpec {
    serde_norway::from_str(yaml).unwrap()
}

fn compile(yaml: &str) -> Mapping {
    let mut checker = Checker::default();
    let mapping = spec(yaml).compile("map", &mut checker);
    if let Err(problems) = checker.finish() {
        panic!("{problems}");
    }
    mapping.unwrap()
}

fn problems(yaml: &str) -> Vec<Problem> {
    let mut checker = Checker::default();
    let mapping = spec(yaml).compile("map", &mut checker);
    assert!(mapping.is_none());
    checker.finish().unwrap_err().0
}

fn no_vars() -> Map<String, Value> {
    Map::new()
}

/// The rows of `record` (which must not be skipped).
fn rows(mapping: &Mapping, record: Value) -> Vec<Row> {
    match mapping.apply(&record, &no_vars()).unwrap() {
        Mapped::Rows(rows) => rows,
        Mapped::Skipped(skip) => panic!("skipped: {skip}"),
    }
}

/// The fields of the one row of `record`.
fn one(mapping: &Mapping, record: Value) -> Value {
    let mut rows = rows(mapping, record);
    assert_eq!(rows.len(), 1);
    Value::Object(rows.remove(0).fields)
}

fn error(mapping: &Mapping, record: Value) -> MapError {
    mapping.apply(&record, &no_vars()).unwrap_err()
}

/// Maps `value` through `cast: name`.
fn cast(name: &str, value: Value) -> Result<Value, MapError> {
    let mapping = compile(&format!("fields: {{ x: {{ path: $.x, cast: {name} }} }}"));
    mapping
        .apply(&json!({ "x": value }), &no_vars())
        .map(|m| match m {
            Mapped::Rows(mut rows) => rows.remove(0).fields.remove("x").unwrap(),
            Mapped::Skipped(s) => panic!("skipped: {s}"),
        })
}

#[test]
fn plain_paths_find_values_in_spec_order() {
    let m = compile(
        r#"
fields:
  name: $.values.name[0].data
  code: "$['the code']"
  last: $.list[-1]
  missing: $.nothing.here
  whole: $.obj
"#,
    );
    let rec = json!({
        "values": { "name": [{ "data": "Shirt" }] },
        "the code": "S1",
        "list": [1, 2, 3],
        "obj": { "a": [1] }
    });
    let fields = one(&m, rec);
    assert_eq!(
        fields,
        json!({ "name": "Shirt", "code": "S1", "last": 3, "missing": null, "whole": { "a": [1] } })
    );
    let keys: Vec<&String> = fields.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["name", "code", "last", "missing", "whole"]);
}

#[test]
fn general_paths_agree_with_plain_ones() {
    // The plain fast path and serde_json_path must give the same answers.
    let rec = json!({ "a": { "b": [10, { "c": "x" }], "d e": 1 }, "n": null });
    for path in [
        "$.a.b[0]",
        "$.a.b[1].c",
        "$.a.b[-1].c",
        "$.a.b[5]",
        "$.a.b[-5]",
        "$.a.x",
        "$['a']['d e']",
        "$.a.b.c",
        "$.n",
        "$.n.x",
        "$",
        "$.a.b[1]['c']",
    ] {
        let parsed = Path::parse(path).unwrap();
        let general = serde_json_path::JsonPath::parse(path).unwrap();
        let expected: Vec<&Value> = general.query(&rec).all();
        let got: Vec<&Value> = match parsed.find(&rec, None) {
            Found::Nothing => vec![],
            Found::One(v) => vec![v],
            Found::Several(vs) => vs,
        };
        assert_eq!(got, expected, "{path}");
    }
}

#[test]
fn several_values_are_an_array_unless_first_or_join() {
    let m = compile(
        r#"
fields:
  all: $.tags[*]
  one_of_many: { path: "$.tags[*]", first: true }
  first_of_array: { path: $.tags, first: true }
  joined: { path: "$.items[*].code", join: ", " }
  joined_array: { path: $.tags, join: "|" }
  mixed: { path: $.mixed, join: "-" }
  nothing: { path: "$.none[*]", join: "," }
"#,
    );
    let rec = json!({
        "tags": ["a", "b"],
        "items": [{ "code": "x" }, { "code": "y" }, { "other": 1 }],
        "mixed": ["s", 1, true, null, 2.5],
    });
    assert_eq!(
        one(&m, rec),
        json!({
            "all": ["a", "b"],
            "one_of_many": "a",
            "first_of_array": "a",
            "joined": "x, y",
            "joined_array": "a|b",
            "mixed": "s-1-true-2.5",
            "nothing": null
        })
    );
    let m = compile("fields: { j: { path: $.list, join: ',' } }");
    let e = error(&m, json!({ "list": ["a", { "b": 1 }] }));
    assert_eq!(e.code, MapErrorCode::Shape);
    assert_eq!(e.field, "j");
    assert!(e.message.contains(r#"{"b":1}"#), "{e}");
}

#[test]
fn constants_including_null() {
    let m = compile(
        r#"
fields:
  source: { value: pim }
  n: { value: 3 }
  nothing: { value: ~ }
  obj: { value: { a: [1, 2] } }
"#,
    );
    assert_eq!(
        one(&m, json!({})),
        json!({ "source": "pim", "n": 3, "nothing": null, "obj": { "a": [1, 2] } })
    );
}

#[test]
fn templates_see_record_item_and_vars() {
    let m = compile(
        r#"
fields:
  full: { template: "{{ record.first }} {{ record.last }}", trim: true }
  channel: { template: "{{ vars.channel | upper }}-{{ record.meta.deep.code }}" }
  empty: { template: "{{ record.nothing }}", default: n/a }
  whole: { template: "{{ record | length }}" }
  keys: { template: "{{ record | items | length }}" }
  indexed: { template: "{{ record['first'] }}" }
"#,
    );
    let mut vars = Map::new();
    vars.insert("channel".into(), json!("web"));
    let rec = json!({ "first": "Ada", "last": "Lovelace", "meta": { "deep": { "code": 7 } } });
    let Mapped::Rows(rows) = m.apply(&rec, &vars).unwrap() else {
        panic!()
    };
    assert_eq!(
        Value::Object(rows[0].fields.clone()),
        json!({
            "full": "Ada Lovelace",
            "channel": "WEB-7",
            "empty": "n/a",
            "whole": "3",
            "keys": "3",
            "indexed": "Ada"
        })
    );
    // Without vars the template renders the undefined variable as nothing.
    let fields = one(&m, json!({ "first": "A", "meta": {} }));
    assert_eq!(fields["full"], json!("A"));
    assert_eq!(fields["channel"], json!("-"));
}

#[test]
fn a_template_that_fails_refuses_the_record() {
    let m = compile(r#"fields: { x: { template: "{{ record.a / record.b }}" } }"#);
    let e = error(&m, json!({ "a": 1, "b": "text" }));
    assert_eq!(e.code, MapErrorCode::Template);
    assert_eq!(e.field, "x");
    assert!(e.message.starts_with("the template failed"), "{e}");
}

#[test]
fn value_maps_with_default() {
    let m = compile(
        r#"
fields:
  in_stock:
    path: $.stock
    map: { "Y": true, "N": false, 1: true, 0: false }
    default: false
  status:
    path: $.status
    map: { a: Active, _default: Other }
    case: upper
"#,
    );
    let f = |rec: Value| one(&m, rec);
    assert_eq!(
        f(json!({ "stock": "Y", "status": "a" }))["in_stock"],
        json!(true)
    );
    assert_eq!(f(json!({ "stock": " N " }))["in_stock"], json!(false));
    assert_eq!(f(json!({ "stock": 1 }))["in_stock"], json!(true));
    assert_eq!(f(json!({ "stock": "0" }))["in_stock"], json!(false));
    // Nothing found, or null: the default (not looked up in the map).
    assert_eq!(f(json!({}))["in_stock"], json!(false));
    assert_eq!(f(json!({ "stock": null }))["in_stock"], json!(false));
    // Targets are cased too; `_default` catches the rest.
    assert_eq!(f(json!({ "status": "a" }))["status"], json!("ACTIVE"));
    assert_eq!(f(json!({ "status": "zzz" }))["status"], json!("OTHER"));
    assert_eq!(f(json!({}))["status"], json!(null));
    let e = error(&m, json!({ "stock": "maybe" }));
    assert_eq!(e.code, MapErrorCode::NotInMap);
    assert_eq!(e.field, "in_stock");
    assert_eq!(
        e.to_string(),
        "field `in_stock`: `\"maybe\"` is not in the value map (`Y`, `N`, `1`, `0`) and the map has no `_default`"
    );
}

#[test]
fn trim_case_and_required() {
    let m = compile(
        r#"
fields:
  sku: { path: $.sku, trim: true, case: upper, required: true }
  low: { path: $.name, case: lower }
  list: { path: $.list, trim: true, case: lower }
"#,
    );
    assert_eq!(
        one(
            &m,
            json!({ "sku": "  ab-1 ", "name": "MiXed", "list": [" A ", "B", 3] })
        ),
        json!({ "sku": "AB-1", "low": "mixed", "list": ["a", "b", 3] })
    );
    for rec in [json!({}), json!({ "sku": null })] {
        let e = error(&m, rec);
        assert_eq!(e.code, MapErrorCode::Missing);
        assert_eq!(e.field, "sku");
        assert_eq!(
            e.to_string(),
            "field `sku`: is required but the record has no value for it"
        );
    }
}

#[test]
fn integer_casts_are_exact() {
    assert_eq!(cast("integer", json!(42)).unwrap(), json!(42));
    assert_eq!(cast("integer", json!(42.0)).unwrap(), json!(42));
    assert_eq!(cast("integer", json!("42")).unwrap(), json!(42));
    assert_eq!(cast("integer", json!("-7")).unwrap(), json!(-7));
    assert_eq!(cast("integer", json!("+7")).unwrap(), json!(7));
    assert_eq!(
        cast("integer", json!("18446744073709551615")).unwrap(),
        json!(18446744073709551615u64)
    );
    assert_eq!(cast("integer", json!(null)).unwrap(), json!(null));
    for bad in [
        json!("abc"),
        json!(1.5),
        json!("1.0"),
        json!(""),
        json!(" 4"),
        json!(true),
        json!(1e300),
        json!("99999999999999999999"),
    ] {
        let e = cast("integer", bad.clone()).unwrap_err();
        assert_eq!(e.code, MapErrorCode::Cast, "{bad}");
        assert_eq!(e.field, "x");
        assert!(e.message.ends_with("is not an integer"), "{e}");
    }
    assert_eq!(
        cast("integer", json!("abc")).unwrap_err().to_string(),
        "field `x`: `\"abc\"` is not an integer"
    );
}

#[test]
fn number_casts_keep_every_digit() {
    assert_eq!(cast("number", json!(19.9)).unwrap(), json!(19.9));
    assert_eq!(cast("number", json!(3)).unwrap(), json!(3));
    assert_eq!(cast("number", json!("19.90")).unwrap(), json!("19.90"));
    assert_eq!(
        cast("number", json!("12345678901234567890.123456789")).unwrap(),
        json!("12345678901234567890.123456789")
    );
    for bad in [
        json!("abc"),
        json!("1,5"),
        json!("1e"),
        json!("."),
        json!(false),
    ] {
        let e = cast("number", bad.clone()).unwrap_err();
        assert_eq!(e.code, MapErrorCode::Cast, "{bad}");
        assert!(e.message.ends_with("is not a number"), "{e}");
    }
}

#[test]
fn decimals_are_normalised() {
    for (text, expected) in [
        ("0", "0"),
        ("+007.50", "7.50"),
        ("-.5", "-0.5"),
        ("5.", "5"),
        ("-0.00", "0.00"),
        ("1.5e3", "1500"),
        ("1.5E+1", "15"),
        ("12e-4", "0.0012"),
        ("-1.25e-1", "-0.125"),
        ("123.456e1", "1234.56"),
    ] {
        assert_eq!(cast::decimal(text).as_deref(), Some(expected), "{text}");
    }
    for bad in [
        "", "-", "+", ".", "1..2", "1e1001", "0x10", "1 ", "e5", "1e+",
    ] {
        assert_eq!(cast::decimal(bad), None, "{bad}");
    }
}

#[test]
fn boolean_casts() {
    for (v, b) in [
        (json!(true), true),
        (json!("false"), false),
        (json!("TRUE"), true),
        (json!("1"), true),
        (json!("0"), false),
        (json!("yes"), true),
        (json!("No"), false),
        (json!(1), true),
        (json!(0), false),
    ] {
        assert_eq!(cast("boolean", v.clone()).unwrap(), json!(b), "{v}");
    }
    for bad in [json!("maybe"), json!(2), json!(""), json!({ "a": true })] {
        let e = cast("boolean", bad.clone()).unwrap_err();
        assert_eq!(e.code, MapErrorCode::Cast, "{bad}");
        assert!(e.message.ends_with("is not a boolean"), "{e}");
    }
}

#[test]
fn date_and_datetime_casts() {
    assert_eq!(
        cast("date", json!("2024-03-01")).unwrap(),
        json!("2024-03-01")
    );
    // The day as the source wrote it, not the UTC day.
    assert_eq!(
        cast("date", json!("2024-03-01T23:30:00-05:00")).unwrap(),
        json!("2024-03-01")
    );
    assert_eq!(
        cast("date", json!("2024-03-01 10:00:00")).unwrap(),
        json!("2024-03-01")
    );
    assert_eq!(
        cast("date", json!(1709251200)).unwrap(),
        json!("2024-03-01")
    );
    for bad in [json!("2024-02-30"), json!("01.03.2024"), json!(true)] {
        let e = cast("date", bad.clone()).unwrap_err();
        assert_eq!(e.code, MapErrorCode::Cast, "{bad}");
        assert!(e.message.contains("is not a date"), "{e}");
    }
    assert_eq!(
        cast("datetime", json!("2024-03-01T09:30:00+01:00")).unwrap(),
        json!("2024-03-01T08:30:00Z")
    );
    assert_eq!(
        cast("datetime", json!("2024-03-01 09:30:00.250Z")).unwrap(),
        json!("2024-03-01T09:30:00.250Z")
    );
    assert_eq!(
        cast("datetime", json!(1709285400)).unwrap(),
        json!("2024-03-01T09:30:00Z")
    );
    assert_eq!(
        cast("datetime", json!(1709285400.5)).unwrap(),
        json!("2024-03-01T09:30:00.500Z")
    );
    // Without an offset the time is ambiguous; a date alone has no time.
    for bad in [
        json!("2024-03-01T09:30:00"),
        json!("2024-03-01"),
        json!("1709285400"),
    ] {
        let e = cast("datetime", bad.clone()).unwrap_err();
        assert_eq!(e.code, MapErrorCode::Cast, "{bad}");
        assert!(e.message.contains("is not a date and time"), "{e}");
    }
}

#[test]
fn string_casts_and_long_values_in_messages() {
    assert_eq!(cast("string", json!(12.5)).unwrap(), json!("12.5"));
    assert_eq!(cast("string", json!(false)).unwrap(), json!("false"));
    assert_eq!(cast("string", json!("s")).unwrap(), json!("s"));
    // An array is cast element by element.
    assert_eq!(cast("string", json!([1, "a"])).unwrap(), json!(["1", "a"]));
    let e = cast("string", json!({ "a": 1 })).unwrap_err();
    assert_eq!(e.code, MapErrorCode::Cast);
    let long = "x".repeat(500);
    let e = cast("integer", json!(long)).unwrap_err();
    assert!(e.message.len() < 120, "{e}");
    assert!(e.message.contains('…'), "{e}");
}

#[test]
fn skip_when_skips_the_record() {
    let m = compile(
        r#"
skip_when:
  - record.enabled == false
  - vars.channel not in record.channels
fields: { sku: $.sku }
"#,
    );
    let mut vars = Map::new();
    vars.insert("channel".into(), json!("web"));
    let skipped = m
        .apply(
            &json!({ "sku": "a", "enabled": false, "channels": ["web"] }),
            &vars,
        )
        .unwrap();
    assert_eq!(
        skipped,
        Mapped::Skipped(Skip::When {
            index: 0,
            condition: "record.enabled == false".into()
        })
    );
    let skipped = m
        .apply(&json!({ "sku": "a", "channels": ["shop"] }), &vars)
        .unwrap();
    assert!(
        matches!(skipped, Mapped::Skipped(Skip::When { index: 1, .. })),
        "{skipped:?}"
    );
    let kept = m
        .apply(
            &json!({ "sku": "a", "enabled": true, "channels": ["web"] }),
            &vars,
        )
        .unwrap();
    assert!(
        matches!(kept, Mapped::Rows(ref r) if r.len() == 1),
        "{kept:?}"
    );
}

#[test]
fn split_gives_one_row_per_item() {
    let m = compile(
        r#"
split: $.values.name[*]
skip_when:
  - item.data is none
fields:
  sku: $.identifier
  locale: "@.locale"
  name: { path: "@['data']", case: upper }
  label: { template: "{{ record.identifier }}/{{ item.locale }}" }
lookups:
  fk_locale: { entity: locales, by: code, path: "@.locale", required: true }
  fk_family: { entity: families, by: code, path: $.family }
"#,
    );
    let rec = json!({
        "identifier": "s1",
        "family": "shirts",
        "values": { "name": [
            { "locale": "en_US", "data": "Shirt" },
            { "locale": "fr_FR", "data": null },
            { "locale": "de_DE", "data": "Hemd" }
        ] }
    });
    let found = rows(&m, rec);
    assert_eq!(found.len(), 2);
    assert_eq!(
        Value::Object(found[1].fields.clone()),
        json!({ "sku": "s1", "locale": "de_DE", "name": "HEMD", "label": "s1/de_DE" })
    );
    assert_eq!(
        found[1].lookups,
        vec![
            Lookup {
                field: "fk_locale".into(),
                entity: "locales".into(),
                by: "code".into(),
                value: json!("de_DE")
            },
            Lookup {
                field: "fk_family".into(),
                entity: "families".into(),
                by: "code".into(),
                value: json!("shirts")
            },
        ]
    );
    // A split that finds nothing, and one whose items are all left out: skipped.
    assert_eq!(
        m.apply(&json!({ "identifier": "s2" }), &no_vars()).unwrap(),
        Mapped::Skipped(Skip::NothingToSplit)
    );
    assert_eq!(
        m.apply(
            &json!({ "values": { "name": [{ "locale": "en_US", "data": null }] } }),
            &no_vars()
        )
        .unwrap(),
        Mapped::Skipped(Skip::When {
            index: 0,
            condition: "item.data is none".into()
        })
    );
    // A required lookup of an item without the key refuses the record.
    let e = error(&m, json!({ "values": { "name": [{ "data": "x" }] } }));
    assert_eq!(
        (e.field.as_str(), e.code),
        ("fk_locale", MapErrorCode::Missing)
    );
}

#[test]
fn lookups_need_one_plain_value() {
    let m = compile(
        r#"
fields: { name: $.name }
lookups:
  fk_country: { entity: countries, by: iso2_code, path: "$.countries[*]" }
"#,
    );
    let found = rows(&m, json!({ "name": "x" }));
    assert_eq!(found[0].lookups[0].value, json!(null));
    let found = rows(&m, json!({ "countries": ["AT"] }));
    assert_eq!(found[0].lookups[0].value, json!("AT"));
    let e = error(&m, json!({ "countries": ["AT", "DE"] }));
    assert_eq!(
        (e.field.as_str(), e.code),
        ("fk_country", MapErrorCode::Shape)
    );
    assert_eq!(
        e.to_string(),
        "field `fk_country`: the path finds 2 values; a lookup needs one"
    );
    let e = error(&m, json!({ "countries": [{ "code": "AT" }] }));
    assert_eq!(e.code, MapErrorCode::Shape);
}

#[test]
fn every_problem_is_reported_at_once() {
    let found = problems(
        r#"
skip_when:
  - record.a ==
  - "item.x"
split: "@.list"
fields:
  bad_path: "$.a["
  both: { path: $.a, value: 1 }
  neither: { trim: true }
  bad_cast: { path: $.a, cast: float }
  bad_case: { path: $.a, case: title }
  bad_template: { template: "{{ record.a " }
  first_join: { path: $.a, first: true, join: "," }
  bad_default: { path: $.a, cast: integer, default: abc }
  bad_map: { path: $.a, cast: boolean, map: { "Y": true, "N": perhaps } }
  fine: $.ok
  item_path: "@.x"
lookups:
  fine: { entity: e, by: b, path: $.x }
  no_entity: { by: b, path: "$.x[" }
"#,
    );
    let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "map.split",
            "map.skip_when[0]",
            "map.fields.bad_path",
            "map.fields.both",
            "map.fields.neither",
            "map.fields.bad_cast.cast",
            "map.fields.bad_case.case",
            "map.fields.bad_template.template",
            "map.fields.first_join.join",
            "map.fields.bad_default.default",
            "map.fields.bad_map.map.N",
            "map.lookups.fine",
            "map.lookups.no_entity.entity",
            "map.lookups.no_entity.path",
        ],
        "{found:#?}"
    );
    let message = |path: &str| {
        found
            .iter()
            .find(|p| p.path == path)
            .map(|p| p.message.clone())
            .unwrap()
    };
    assert!(message("map.fields.bad_path").starts_with("`$.a[` is not a JSONPath: "));
    assert_eq!(
        message("map.fields.both"),
        "has `path` and `value`; give only one of `path`, `value` or `template`"
    );
    assert_eq!(
        message("map.fields.bad_cast.cast"),
        "`float` is not a cast; use one of string, integer, number, boolean, date, datetime"
    );
    assert_eq!(
        message("map.fields.bad_default.default"),
        "`\"abc\"` is not an integer"
    );
    assert!(message("map.skip_when[0]").contains("is not an expression"));
}

#[test]
fn item_without_split_is_a_problem() {
    let found = problems(
        r#"
skip_when: ["item.x == 1"]
fields:
  a: "@.x"
  b: { template: "{{ item.y }}" }
lookups:
  c: { entity: e, by: b, path: "@.z" }
"#,
    );
    let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "map.skip_when[0]",
            "map.fields.a",
            "map.fields.b.template",
            "map.lookups.c.path"
        ]
    );
    assert!(
        found.iter().all(|p| p.message.contains("no `split`")),
        "{found:#?}"
    );
}

#[test]
fn an_empty_mapping_is_a_problem() {
    let found = problems("{}");
    assert_eq!(
        found,
        vec![Problem::new("map.fields", "the mapping fills no field")]
    );
}

#[test]
fn unknown_keys_are_refused() {
    for yaml in [
        "fields: { a: $.a }\nfilter: x",
        "fields: { a: { path: $.a, cats: string } }",
        "fields: { a: $.a }\nlookups: { b: { entity: e, by: b, path: $.b, key: 1 } }",
    ] {
        let e = serde_norway::from_str::<MapSpec>(yaml)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field"), "{yaml}: {e}");
    }
    let e = serde_norway::from_str::<MapSpec>("fields: { a: $.a, a: $.b }")
        .unwrap_err()
        .to_string();
    assert!(e.contains("duplicate") || e.contains("twice"), "{e}");
    let e = serde_json::from_str::<MapSpec>(r#"{"fields": {"a": "$.a", "a": "$.b"}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`a` is given twice"), "{e}");
}

#[test]
fn specs_round_trip_through_yaml_and_json() {
    let text = r#"
skip_when:
  - record.enabled == false
split: $.values.name[*]
fields:
  sku: $.identifier
  name: { path: "@.data", trim: true, case: upper, required: true }
  flag: { path: $.f, map: { "Y": true, 1: false, _default: ~ }, default: false, cast: boolean }
  tags: { path: "$.tags[*]", join: "," }
  first: { path: $.tags, first: true }
  nothing: { value: ~ }
  label: { template: "{{ record.a }}" }
lookups:
  fk_family: { entity: families, by: code, path: $.family, required: true }
"#;
    let original = spec(text);
    let yaml = serde_norway::to_string(&original).unwrap();
    let back: MapSpec = serde_norway::from_str(&yaml).unwrap();
    assert_eq!(back, original, "{yaml}");
    let json = serde_json::to_string(&original).unwrap();
    let back: MapSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(back, original, "{json}");
    // `value: ~` is a constant null, not a missing value.
    let FieldSpec::Options(nothing) = &original.fields.0[5].1 else {
        panic!()
    };
    assert_eq!(nothing.value, Some(Value::Null));
    assert_eq!(
        original.target_fields(),
        [
            "sku",
            "name",
            "flag",
            "tags",
            "first",
            "nothing",
            "label",
            "fk_family"
        ]
    );
    compile(text);
}

#[test]
fn templates_convert_only_what_they_use() {
    let mut need = Need::Nothing;
    let used: Vec<String> = vec![
        "record.values.name".into(),
        "record.sku".into(),
        "vars".into(),
    ];
    need.add_uses("record", &used);
    let rec = json!({ "sku": "a", "big": [1, 2, 3], "values": { "name": "n", "other": 1 } });
    let converted = need.convert(&rec);
    assert_eq!(converted.len(), Some(2));
    assert_eq!(converted.get_attr("values").unwrap().len(), Some(1));
    let mut need = Need::Nothing;
    need.add_uses(
        "record",
        &["record.values".to_string(), "record".to_string()],
    );
    assert_eq!(need, Need::All);
}

#[test]
fn the_documented_example_gives_the_documented_row() {
    let doc: serde_norway::Value = serde_norway::from_str(
        r#"
map:
  skip_when:
    - record.enabled == false
  split: $.values.name[*]
  fields:
    sku: { path: $.identifier, trim: true, case: upper, required: true }
    locale: "@.locale"                        # `@`: the split item
    name: "@.data"
    price: { path: "$.values.price[0].amount", cast: number }
    in_stock:
      path: $.values.in_stock[0].data
      map: { "Y": true, "N": false }
      default: false
    categories: { path: "$.categories[*]", join: "," }
    created_at: { path: $.created, cast: datetime }
    label: { template: "{{ record.family }}: {{ item.data }} ({{ vars.channel }})" }
    source: { value: pim }
  lookups:
    fk_family: { entity: families, by: code, path: $.family }
"#,
    )
    .unwrap();
    let spec: MapSpec = serde_norway::from_value(doc["map"].clone()).unwrap();
    let mut checker = Checker::default();
    let m = spec.compile("map", &mut checker).unwrap();
    let record = json!({
      "identifier": " shirt-1 ",
      "enabled": true,
      "family": "clothing",
      "created": "2024-03-01T09:30:00+01:00",
      "values": {
        "name": [
          { "locale": "en_US", "data": "Shirt" },
          { "locale": "de_DE", "data": "Hemd" }
        ],
        "price": [{ "amount": "19.90", "currency": "EUR" }],
        "in_stock": [{ "data": "Y" }]
      },
      "categories": ["summer", "men"]
    });
    let mut vars = Map::new();
    vars.insert("channel".into(), json!("web"));
    let Mapped::Rows(rows) = m.apply(&record, &vars).unwrap() else {
        panic!()
    };
    assert_eq!(rows.len(), 2);
    assert_eq!(
        Value::Object(rows[0].fields.clone()),
        json!({ "sku": "SHIRT-1", "locale": "en_US", "name": "Shirt", "price": "19.90",
          "in_stock": true, "categories": "summer,men", "created_at": "2024-03-01T08:30:00Z",
          "label": "clothing: Shirt (web)", "source": "pim" })
    );
    assert_eq!(rows[1].fields["name"], json!("Hemd"));
    assert_eq!(rows[0].lookups[0].value, json!("clothing"));
}

/// minijinja does not report a variable met only inside a slice; it is converted whole.
#[test]
fn a_slice_of_a_record_value_sees_the_value() {
    for t in ["{{ record.code3[:3] }}", "{{ record.code3[0:3] }}"] {
        let m = compile(&format!(
            "fields:\n  a: {{ template: \"{t}\" }}\n  b: $.code\n"
        ));
        assert_eq!(
            one(&m, serde_json::json!({"code": "X", "code3": "LONGER"})),
            serde_json::json!({"a": "LON", "b": "X"}),
            "{t}"
        );
    }
}
