//! The demo's rows as the API returns them: what tests compare reads and untouched data with.

use serde_json::{Value, json};

/// The fields of the demo's `countries` in configuration order, which answers and exports keep.
pub const COUNTRY_FIELDS: [&str; 6] = [
    "id_country",
    "iso2_code",
    "iso3_code",
    "name",
    "postal_code_mandatory",
    "postal_code_regex",
];

/// The demo's country with this id (1 to 12), as the API returns it.
pub fn country(id: i64) -> Value {
    let (iso2, iso3, name, mandatory, regex) = match id {
        1 => ("AD", "AND", "Andorra", json!(true), json!("AD[0-9]{3}")),
        2 => ("AT", "AUT", "Austria", json!(true), json!("[0-9]{4}")),
        3 => ("BE", "BEL", "Belgium", json!(false), json!("[0-9]{4}")),
        4 => ("CH", "CHE", "Switzerland", json!(true), json!("[0-9]{4}")),
        5 => ("DE", "DEU", "Germany", json!(true), json!("[0-9]{5}")),
        6 => ("ES", "ESP", "Spain", json!(false), json!("[0-9]{5}")),
        7 => ("FR", "FRA", "France", json!(true), json!("[0-9]{5}")),
        8 => ("GB", "GBR", "United Kingdom", Value::Null, Value::Null),
        9 => ("IT", "ITA", "Italy", json!(false), json!("[0-9]{5}")),
        10 => (
            "NL",
            "NLD",
            "Netherlands",
            json!(true),
            json!("[0-9]{4} ?[A-Z]{2}"),
        ),
        11 => (
            "PL",
            "POL",
            "Poland",
            Value::Null,
            json!("[0-9]{2}-[0-9]{3}"),
        ),
        12 => (
            "US",
            "USA",
            "United States",
            json!(true),
            json!("[0-9]{5}(-[0-9]{4})?"),
        ),
        _ => panic!("the demo has no country {id}"),
    };
    json!({
        "id_country": id,
        "iso2_code": iso2,
        "iso3_code": iso3,
        "name": name,
        "postal_code_mandatory": mandatory,
        "postal_code_regex": regex,
    })
}

/// All 12 demo countries, in identifier order.
pub fn countries() -> Vec<Value> {
    (1..=12).map(country).collect()
}

/// The demo's tax rate with this id (1 to 10), as the API returns it.
pub fn tax_rate(id: i64) -> Value {
    let (country, name, rate) = match id {
        1 => (json!(2), "Austria Standard", "20.00"),
        2 => (json!(2), "Austria Reduced", "10.00"),
        3 => (json!(5), "Germany Standard", "19.00"),
        4 => (json!(5), "Germany Reduced", "7.00"),
        5 => (json!(7), "France Standard", "20.00"),
        6 => (json!(7), "France Reduced", "5.50"),
        7 => (json!(10), "Netherlands Standard", "21.00"),
        8 => (json!(10), "Netherlands Reduced", "9.00"),
        9 => (json!(4), "Switzerland Standard", "8.10"),
        10 => (Value::Null, "Tax Exempt", "0.00"),
        _ => panic!("the demo has no tax rate {id}"),
    };
    json!({"id_tax_rate": id, "fk_country": country, "name": name, "rate": rate})
}

/// All 10 demo tax rates, in identifier order.
pub fn tax_rates() -> Vec<Value> {
    (1..=10).map(tax_rate).collect()
}

/// A country with its `countryTaxRates` (the tax rates with these ids).
pub fn country_with_rates(id: i64, rates: &[i64]) -> Value {
    let mut c = country(id);
    c["countryTaxRates"] = Value::Array(rates.iter().map(|r| tax_rate(*r)).collect());
    c
}

/// JSON integers `ids`.
pub fn ids(ids: impl IntoIterator<Item = i64>) -> Vec<Value> {
    ids.into_iter().map(Value::from).collect()
}
