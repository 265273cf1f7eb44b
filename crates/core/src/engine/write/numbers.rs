//! JSON numbers sent for decimal fields, kept digit for digit.
//!
//! serde_json reads a number with a fraction or an exponent as a binary double, which holds 15
//! to 17 significant digits (and, without its `float_roundtrip` feature, is not always the
//! nearest one): `12345678901234567.5` arrives as `12345678901234568`, and
//! `0.10000000000000000001` as `0.1`. A decimal must be stored as sent or refused, never
//! rounded on the way in. So where a decimal field of a row holds a number that the double did
//! not keep exactly, the body is read once more for the raw text of its members (serde_json's
//! `RawValue`, following the rows and their nested rows only), and the number becomes the
//! string of its exact digits, which the decimal check takes as it takes a string sent by the
//! client. Numbers a double holds exactly (most, and every integer within 64 bits) stay as
//! they are, so bodies without such numbers are read once.

use std::collections::HashMap;

use dynex_schema::{Catalog, Entity, FieldType, plain_decimal};
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json};

/// The body as raw text: its `data` member.
#[derive(serde::Deserialize)]
struct RawBody<'a> {
    #[serde(borrow)]
    data: &'a RawValue,
}

/// Replaces each number sent for a decimal field of `roots` (rows of `entity`, and their nested
/// rows) that a double did not keep exactly with the string of its digits as written in
/// `body`. `by_id`: the body's `data` is one object rather than an array.
pub(super) fn keep_digits(
    catalog: &Catalog,
    entity: &Entity,
    body: &[u8],
    by_id: bool,
    roots: &mut [Map<String, Json>],
) {
    if !roots.iter().any(|row| inexact(catalog, entity, row)) {
        return;
    }
    // The body parsed once already; it reads again as raw text.
    let Ok(raw) = serde_json::from_slice::<RawBody<'_>>(body) else {
        return;
    };
    let rows: Vec<&RawValue> = if by_id {
        vec![raw.data]
    } else {
        match serde_json::from_str(raw.data.get()) {
            Ok(rows) => rows,
            Err(_) => return,
        }
    };
    for (row, raw) in roots.iter_mut().zip(rows) {
        patch(catalog, entity, row, raw);
    }
}

/// The number as written, when the double it was read as says something else.
fn exact(number: &serde_json::Number, raw: &str) -> Option<String> {
    if number.is_i64() || number.is_u64() {
        return None;
    }
    let written = plain_decimal(raw.trim())?;
    let read = plain_decimal(&number.to_string())?;
    let value = |s: &str| -> String {
        match s.split_once('.') {
            Some((int, frac)) => {
                let frac = frac.trim_end_matches('0');
                if frac.is_empty() {
                    int.to_string()
                } else {
                    format!("{int}.{frac}")
                }
            }
            None => s.to_string(),
        }
    };
    (value(&written) != value(&read)).then_some(written)
}

/// Whether `field` of `entity` is a decimal field.
fn decimal_field(entity: &Entity, key: &str) -> bool {
    entity
        .field_index(key)
        .is_some_and(|i| entity.fields()[i].ty == FieldType::Decimal)
}

/// The child entity of the relation `key` of `entity`, if it is one.
fn child<'c>(catalog: &'c Catalog, entity: &Entity, key: &str) -> Option<&'c Entity> {
    let relation = entity.relation(key)?;
    catalog.entity(relation.child_alias()).map(|e| &**e)
}

/// Whether a row or one of its nested rows holds a number with a fraction or an exponent for a
/// decimal field: only those may have lost digits.
fn inexact(catalog: &Catalog, entity: &Entity, row: &Map<String, Json>) -> bool {
    row.iter().any(|(key, value)| match value {
        Json::Number(n) => !(n.is_i64() || n.is_u64()) && decimal_field(entity, key),
        Json::Array(items) => child(catalog, entity, key).is_some_and(|child| {
            items
                .iter()
                .filter_map(Json::as_object)
                .any(|row| inexact(catalog, child, row))
        }),
        _ => false,
    })
}

/// Puts the exact digits of `raw` (the same row as text) into `row`, recursively.
fn patch(catalog: &Catalog, entity: &Entity, row: &mut Map<String, Json>, raw: &RawValue) {
    // Like the parsed row, the last of repeated members counts.
    let Ok(members) = serde_json::from_str::<HashMap<String, &RawValue>>(raw.get()) else {
        return;
    };
    for (key, value) in row.iter_mut() {
        let Some(raw) = members.get(key.as_str()) else {
            continue;
        };
        match value {
            Json::Number(n) if decimal_field(entity, key) => {
                if let Some(digits) = exact(n, raw.get()) {
                    *value = Json::String(digits);
                }
            }
            Json::Array(items) => {
                let Some(child) = child(catalog, entity, key) else {
                    continue;
                };
                let Ok(raw_items) = serde_json::from_str::<Vec<&RawValue>>(raw.get()) else {
                    continue;
                };
                for (item, raw) in items.iter_mut().zip(raw_items) {
                    if let Json::Object(row) = item {
                        patch(catalog, child, row, raw);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_numbers_a_double_changed_are_replaced() {
        let number = |text: &str| -> serde_json::Number {
            serde_json::from_str(text).expect("a JSON number")
        };
        let cases = [
            ("12345678901234567.5", Some("12345678901234567.5")),
            ("0.10000000000000000001", Some("0.10000000000000000001")),
            ("9007199254740993.5", Some("9007199254740993.5")),
            (
                "123456789012345678901234567890",
                Some("123456789012345678901234567890"),
            ),
            ("12345678901234.56", None),
            ("1.005", None),
            ("12.50", None),
            ("1e3", None),
            ("9007199254740993", None),
        ];
        for (text, expected) in cases {
            assert_eq!(exact(&number(text), text).as_deref(), expected, "{text}");
        }
    }
}
