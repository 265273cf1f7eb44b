//! Table-driven validation cases over the demo catalog: one row created by POST against the
//! fields, types and rules of its entity, and the errors a client gets for it.
//!
//! These are the cases that depend on nothing but `dynex_validate`, so they run here without a
//! database; the server's `tests/it/validation.rs` keeps the HTTP tests that prove the wiring
//! (each code reaches the client with its status on every operation, nothing is written, the
//! order of errors across rows, nested rows). Each row is checked the way the server checks a
//! row of a POST: [`split_row`], then [`check_row`] with the create intent and the required
//! check, and the errors are compared as the wire array the client would receive.

use dynex_schema::{Constraint, Entity, EntityConfig, Rules};
use dynex_validate::{Intent, RowCheck, RowError, check_row, split_row};
use serde_json::{Value, json};

/// The demo catalog, as `dynex_core` loads it.
const DEMO: &str = include_str!("../../../fixtures/demo/configuration.json");

/// The demo catalog with the rule changes of the server's `configured_rules_min_max_enum_and_url`
/// test: `min`/`max` on `price-products.net_price`, `enumValues` on `price-products.currency`
/// and the `url` constraint on `categories.category_key`.
fn catalog() -> Vec<Entity> {
    let mut configs = EntityConfig::parse_many(DEMO).expect("the demo configuration");
    for config in &mut configs {
        for field in &mut config.definition.fields {
            match (
                config.table_alias.as_str(),
                field.field_visible_name.as_str(),
            ) {
                ("price-products", "net_price") => {
                    field.validation = Rules {
                        is_required: false,
                        min: Some(0),
                        max: Some(1000000),
                        ..Rules::default()
                    };
                }
                ("price-products", "currency") => {
                    field.enum_values = Some(vec![json!("EUR"), json!("USD"), json!("CHF")]);
                }
                ("categories", "category_key") => {
                    field.validation.constraints = vec![Constraint {
                        name: "url".to_string(),
                    }];
                }
                _ => {}
            }
        }
    }
    configs
        .into_iter()
        .map(|c| Entity::new(c).expect("a valid entity"))
        .collect()
}

/// The errors of one row created by POST under `alias`, as the wire array of the answer.
fn post(entity: &Entity, row: &Value) -> Value {
    let path = format!("{}[0]", entity.alias());
    let mut errors = Vec::new();
    let split = split_row(
        entity,
        row.as_object().expect("a row is an object"),
        &path,
        &mut errors,
    );
    let check = RowCheck {
        intent: Some(Intent::Create),
        require: true,
        identifier_is_key: false,
        from_parent: &[],
        given: &[],
        decimals_as_doubles: false,
    };
    check_row(entity, &split, &path, &check, &mut errors);
    errors.iter().map(wire).collect()
}

/// One error as the client receives it.
fn wire(e: &RowError) -> Value {
    json!({"code": e.code().as_str(), "status": e.status(), "message": e.to_string()})
}

/// What a row gets: accepted, or refused with one error of this kind.
enum Expect {
    /// No error.
    Accepted,
    /// 1305 for this field, expecting this type in words.
    Type(&'static str, &'static str),
    /// 1306 for this field, with these rules in the message.
    Rule(&'static str, &'static str),
    /// 1316 for this field.
    Url(&'static str),
    /// 1311 for this member.
    UnknownField(&'static str),
    /// 1313 for this member.
    UnknownRelation(&'static str),
}

impl Expect {
    /// The wire array this expectation stands for, for a row of `alias`.
    fn wire(&self, alias: &str) -> Value {
        let (code, message) = match *self {
            Expect::Accepted => return json!([]),
            Expect::Type(field, expected) => (
                "1305",
                format!("Invalid data type `{alias}[0]` for field `{field}`: expected {expected}."),
            ),
            Expect::Rule(field, rules) => (
                "1306",
                format!(
                    "Invalid data value `{alias}[0]` for field: `{field}`. Field rules: {rules}"
                ),
            ),
            Expect::Url(field) => (
                "1316",
                format!(
                    "The URL is invalid. `{alias}[0]` field `{field}` must have a URL data format."
                ),
            ),
            Expect::UnknownField(member) => (
                "1311",
                format!("The provided `{alias}[0].{member}` is incorrect or invalid."),
            ),
            Expect::UnknownRelation(member) => (
                "1313",
                format!(
                    "Relation `{member}` not found. Please check the requested relation name and \
                     try again."
                ),
            ),
        };
        json!([{"code": code, "status": 400, "message": message}])
    }
}

const STRING: &str = "a JSON string";
const BOOLEAN: &str = "true or false";
const INTEGER: &str = "a JSON integer";
const DECIMAL: &str = "a decimal number or a string such as \"12.50\"";
const NESTED: &str = "an array of objects (nested rows)";
const ISO2: &str = "is_required: true, min_length: 2, max_length: 2";
const RATE: &str = "is_required: true, precision: 8, scale: 2";
const CURRENCY: &str = "is_required: true, max_length: 3, enum_values: [\"EUR\", \"USD\", \"CHF\"]";
const NET_PRICE: &str = "min: 0, max: 1000000";

/// Every case: the entity, the row sent and what it gets.
fn cases() -> Vec<(&'static str, Value, Expect)> {
    use Expect::*;
    let price = |currency: &str, net: Value| {
        json!({"fk_product": 1, "fk_price_type": 2, "fk_store": 2, "currency": currency,
               "net_price": net})
    };
    let country =
        |member: &str, value: Value| json!({"iso2_code": "XA", "name": "X", member: value});
    vec![
        // Types are strict (wrong_json_types_are_1305): integers must be JSON integers,
        // booleans JSON booleans, strings JSON strings; decimals numbers or numeric strings.
        (
            "countries",
            json!({"iso2_code": 12, "name": "X"}),
            Type("iso2_code", STRING),
        ),
        (
            "countries",
            json!({"iso2_code": "XA", "name": ["X"]}),
            Type("name", STRING),
        ),
        (
            "countries",
            json!({"iso2_code": "XA", "name": "X", "postal_code_mandatory": "yes"}),
            Type("postal_code_mandatory", BOOLEAN),
        ),
        (
            "countries",
            json!({"iso2_code": "XA", "name": "X", "postal_code_mandatory": 1}),
            Type("postal_code_mandatory", BOOLEAN),
        ),
        (
            "tax-rates",
            json!({"name": "X", "rate": "1.00", "fk_country": "5"}),
            Type("fk_country", INTEGER),
        ),
        (
            "tax-rates",
            json!({"name": "X", "rate": "1.00", "fk_country": 5.5}),
            Type("fk_country", INTEGER),
        ),
        (
            "tax-rates",
            json!({"name": "X", "rate": "1.00", "fk_country": true}),
            Type("fk_country", INTEGER),
        ),
        (
            "tax-rates",
            json!({"name": "X", "rate": true}),
            Type("rate", DECIMAL),
        ),
        (
            "tax-rates",
            json!({"name": "X", "rate": "abc"}),
            Type("rate", DECIMAL),
        ),
        (
            "tax-rates",
            json!({"name": "X", "rate": "1e3"}),
            Type("rate", DECIMAL),
        ),
        ("tax-rates", json!({"name": "A", "rate": 7.5}), Accepted),
        ("tax-rates", json!({"name": "B", "rate": "12"}), Accepted),
        (
            "tax-rates",
            json!({"name": "C", "rate": 3, "fk_country": 2}),
            Accepted,
        ),
        // Lengths, precision and scale (rule_violations_are_1306), and values at the limits.
        (
            "countries",
            json!({"iso2_code": "A", "name": "X"}),
            Rule("iso2_code", ISO2),
        ),
        (
            "countries",
            json!({"iso2_code": "ABC", "name": "X"}),
            Rule("iso2_code", ISO2),
        ),
        (
            "countries",
            json!({"iso2_code": "", "name": "X"}),
            Rule("iso2_code", ISO2),
        ),
        (
            "countries",
            json!({"iso2_code": "XA", "iso3_code": "ABCD", "name": "X"}),
            Rule("iso3_code", "max_length: 3"),
        ),
        (
            "countries",
            json!({"iso2_code": "XA", "name": "X".repeat(256)}),
            Rule("name", "is_required: true, max_length: 255"),
        ),
        (
            "tax-rates",
            json!({"name": "X", "rate": "1234567.00"}),
            Rule("rate", RATE),
        ),
        (
            "tax-rates",
            json!({"name": "X", "rate": 1234567}),
            Rule("rate", RATE),
        ),
        (
            "tax-rates",
            json!({"name": "X", "rate": "1.234"}),
            Rule("rate", RATE),
        ),
        (
            "tax-rates",
            json!({"name": "X", "rate": "-0.001"}),
            Rule("rate", RATE),
        ),
        (
            "tax-rates",
            json!({"name": "max", "rate": "999999.99"}),
            Accepted,
        ),
        (
            "tax-rates",
            json!({"name": "zeros", "rate": "000123456.7800"}),
            Accepted,
        ),
        (
            "tax-rates",
            json!({"name": "negative", "rate": "-999999.99"}),
            Accepted,
        ),
        (
            "countries",
            json!({"iso2_code": "XA", "iso3_code": "", "name": "X".repeat(255)}),
            Accepted,
        ),
        // Lengths count characters, not bytes (lengths_count_characters).
        (
            "countries",
            json!({"iso2_code": "ÄÖ", "iso3_code": "ÄÖÜ", "name": "Ümlautland"}),
            Accepted,
        ),
        (
            "countries",
            json!({"iso2_code": "日本", "iso3_code": "日本国", "name": "日本"}),
            Accepted,
        ),
        (
            "countries",
            json!({"iso2_code": "ÄÖÜ", "name": "X"}),
            Rule("iso2_code", ISO2),
        ),
        (
            "countries",
            json!({"iso2_code": "XB", "iso3_code": "日本国x", "name": "X"}),
            Rule("iso3_code", "max_length: 3"),
        ),
        // Configured rules (configured_rules_min_max_enum_and_url): `min`/`max` and
        // `enumValues` (1306), the `url` constraint (1316).
        (
            "price-products",
            price("GBP", json!(1)),
            Rule("currency", CURRENCY),
        ),
        (
            "price-products",
            price("eur", json!(1)),
            Rule("currency", CURRENCY),
        ),
        (
            "price-products",
            price("EUR", json!(-1)),
            Rule("net_price", NET_PRICE),
        ),
        (
            "price-products",
            price("EUR", json!(1000001)),
            Rule("net_price", NET_PRICE),
        ),
        ("price-products", price("CHF", json!(0)), Accepted),
        ("price-products", price("USD", json!(1000000)), Accepted),
        (
            "categories",
            json!({"category_key": "https://example.com/x"}),
            Url("category_key"),
        ),
        (
            "categories",
            json!({"category_key": "en/x"}),
            Url("category_key"),
        ),
        (
            "categories",
            json!({"category_key": "/en/a b"}),
            Url("category_key"),
        ),
        (
            "categories",
            json!({"category_key": ""}),
            Url("category_key"),
        ),
        (
            "categories",
            json!({"category_key": "demoshop"}),
            Url("category_key"),
        ),
        ("categories", json!({"category_key": "/en/new"}), Accepted),
        ("categories", json!({"category_key": "/"}), Accepted),
        // Scalar members that are no configured field (unknown_fields_are_1311): names are
        // exact visible names.
        (
            "countries",
            country("bogus", json!(1)),
            UnknownField("bogus"),
        ),
        (
            "countries",
            country("Name", json!("X")),
            UnknownField("Name"),
        ),
        (
            "countries",
            country("spy_country", json!(null)),
            UnknownField("spy_country"),
        ),
        (
            "countries",
            country("fk_country", json!(2)),
            UnknownField("fk_country"),
        ),
        (
            "countries",
            country("countryTaxRates ", json!("x")),
            UnknownField("countryTaxRates "),
        ),
        // Nested members that are no configured relation (unknown_relations_are_1313), and a
        // relation whose value is not an array of objects (1305).
        (
            "countries",
            country("nope", json!([{}])),
            UnknownRelation("nope"),
        ),
        (
            "countries",
            country("nope", json!({"a": 1})),
            UnknownRelation("nope"),
        ),
        (
            "countries",
            country("nope", json!([])),
            UnknownRelation("nope"),
        ),
        (
            "countries",
            country("countrytaxrates", json!([])),
            UnknownRelation("countrytaxrates"),
        ),
        (
            "countries",
            country("productPrices", json!([{"currency": "EUR"}])),
            UnknownRelation("productPrices"),
        ),
        (
            "countries",
            country("countryTaxRates", json!({"name": "X", "rate": "1.00"})),
            Type("countryTaxRates", NESTED),
        ),
        (
            "countries",
            country("countryTaxRates", json!([1])),
            Type("countryTaxRates", NESTED),
        ),
        (
            "countries",
            country("countryTaxRates", json!("x")),
            Type("countryTaxRates", NESTED),
        ),
        (
            "countries",
            country("countryTaxRates", json!([[]])),
            Type("countryTaxRates", NESTED),
        ),
    ]
}

#[test]
fn each_row_gets_the_errors_the_api_answers_with() {
    let catalog = catalog();
    let mut failures = Vec::new();
    let cases = cases();
    for (alias, row, expect) in &cases {
        let entity = catalog
            .iter()
            .find(|e| e.alias() == *alias)
            .unwrap_or_else(|| panic!("the demo has no entity `{alias}`"));
        let got = post(entity, row);
        let want = expect.wire(alias);
        if got != want {
            failures.push(format!("{alias} {row}:\n  got  {got}\n  want {want}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
