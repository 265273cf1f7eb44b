//! Decoding what reads return into wire values: each row's JSON array into the object of
//! visible names and output types, and text columns into cells or JSON values.

use std::borrow::Cow;

use dynex_schema::{Entity, Field, FieldType, Value, format_decimal, normalize_datetime};
use serde_json::{Map, Value as Json};

/// The text of a field's wire value, from the text of its column ([`select_cells`]): what
/// [`decode_row`] makes of the column, written as a CSV cell (`None`, SQL `NULL`, is empty).
///
/// [`select_cells`]: crate::select_cells
pub fn cell_text<'r>(field: &Field, raw: Option<&'r str>) -> Cow<'r, str> {
    let Some(raw) = raw else {
        return Cow::Borrowed("");
    };
    match field.ty {
        FieldType::Boolean => {
            let on = match raw.parse::<f64>() {
                Ok(n) => n != 0.0,
                Err(_) => matches!(raw, "t" | "true" | "TRUE"),
            };
            Cow::Borrowed(if on { "true" } else { "false" })
        }
        FieldType::Decimal => match field.validation.scale {
            Some(scale) => Cow::Owned(format_decimal(raw, scale)),
            None => Cow::Borrowed(raw),
        },
        FieldType::DateTime => normalize_datetime(raw).map_or(Cow::Borrowed(raw), Cow::Owned),
        FieldType::Date => Cow::Borrowed(raw.get(..10).unwrap_or(raw)),
        // As JSON values: numbers in their shortest form, JSON documents compact.
        FieldType::Float => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Cow::Borrowed(raw), |n| Cow::Owned(n.to_string())),
        FieldType::Json => serde_json::from_str::<Json>(raw)
            .map(|v| match v {
                Json::String(s) => Cow::Owned(s),
                other => Cow::Owned(other.to_string()),
            })
            .unwrap_or(Cow::Borrowed(raw)),
        FieldType::Integer | FieldType::String => Cow::Borrowed(raw),
    }
}

/// The wire value of a field from the text of its column ([`select_cells`]).
///
/// It is what [`decode_row`] makes of the column's JSON: what [`cell_text`] writes, typed (a
/// number, a boolean, a JSON document) where the field's type is not text. Rows to compare are
/// read this way without a JSON document per row; the text is moved into the value where it is
/// kept as it is.
///
/// [`select_cells`]: crate::select_cells
pub fn decode_cell(field: &Field, raw: Option<String>) -> Json {
    let Some(raw) = raw else {
        return Json::Null;
    };
    match field.ty {
        FieldType::Integer => raw.parse::<i64>().map_or(Json::String(raw), Json::from),
        FieldType::Float => match raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            Some(n) => Json::Number(n),
            None => Json::String(raw),
        },
        FieldType::Boolean => Json::Bool(cell_text(field, Some(&raw)) == "true"),
        FieldType::Json => serde_json::from_str(&raw).unwrap_or(Json::String(raw)),
        FieldType::String => Json::String(raw),
        FieldType::Decimal | FieldType::DateTime | FieldType::Date => {
            let text = cell_text(field, Some(&raw));
            if matches!(text, Cow::Borrowed(t) if t.len() == raw.len()) {
                Json::String(raw)
            } else {
                Json::String(text.into_owned())
            }
        }
    }
}

/// Decodes one `row_json` into the wire object (visible names, Spryker's output types) and the
/// values of the extra columns.
pub fn decode_row(
    entity: &Entity,
    row_json: &str,
) -> Result<(Map<String, Json>, Vec<Json>), String> {
    decode_fields(entity, None, row_json)
}

/// [`decode_row`] of a row read with [`crate::Select::fields`] `fields`.
pub fn decode_fields(
    entity: &Entity,
    fields: Option<&[usize]>,
    row_json: &str,
) -> Result<(Map<String, Json>, Vec<Json>), String> {
    let (values, extras) = decode_values(entity, fields, row_json)?;
    let object = selected(entity, fields)
        .into_iter()
        .zip(values)
        .map(|(field, v)| (field.field_visible_name.clone(), v))
        .collect();
    Ok((object, extras))
}

/// [`decode_fields`] without the names: the wire values by position, then the extra columns.
///
/// The values are those of the fields read: every field in the entity's order, or `fields`.
/// Matching many rows by position costs no object per row.
pub fn decode_values(
    entity: &Entity,
    fields: Option<&[usize]>,
    row_json: &str,
) -> Result<(Vec<Json>, Vec<Json>), String> {
    let values: Vec<Json> =
        serde_json::from_str(row_json).map_err(|e| format!("row is not a JSON array: {e}"))?;
    let fields = selected(entity, fields);
    if values.len() < fields.len() {
        return Err(format!(
            "row has {} values, the entity {} fields",
            values.len(),
            fields.len()
        ));
    }
    let mut values = values.into_iter();
    let converted = fields
        .iter()
        .zip(values.by_ref())
        .map(|(field, v)| output(field.ty, field.validation.scale, v))
        .collect();
    Ok((converted, values.collect()))
}

/// A value read back from the database as JSON, to bind again: numbers as integers where they
/// are whole, strings as text, arrays and objects as their JSON text.
pub fn value_from_json(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or_default())),
        Json::String(s) => Value::Text(s.clone()),
        other => Value::Text(other.to_string()),
    }
}

/// The fields a read returns: `fields`, or every field of the entity.
fn selected<'e>(entity: &'e Entity, fields: Option<&[usize]>) -> Vec<&'e Field> {
    let all = entity.fields();
    match fields {
        Some(indexes) => indexes.iter().filter_map(|&i| all.get(i)).collect(),
        None => all.iter().collect(),
    }
}

/// Converts a stored value to Spryker's output type for the field.
fn output(ty: FieldType, scale: Option<u32>, v: Json) -> Json {
    match (ty, v) {
        (_, Json::Null) => Json::Null,
        (FieldType::Boolean, Json::Number(n)) => Json::Bool(n.as_f64().is_some_and(|f| f != 0.0)),
        (FieldType::Boolean, Json::String(s)) => {
            Json::Bool(matches!(s.as_str(), "1" | "t" | "true" | "TRUE"))
        }
        (FieldType::Integer, Json::String(s)) => {
            s.parse::<i64>().map(Json::from).unwrap_or(Json::String(s))
        }
        (FieldType::Integer, Json::Bool(b)) => Json::from(i64::from(b)),
        (FieldType::Decimal, Json::String(s)) => {
            Json::String(scale.map_or_else(|| s.clone(), |sc| format_decimal(&s, sc)))
        }
        (FieldType::Decimal, Json::Number(n)) => {
            let s = n.to_string();
            Json::String(scale.map_or_else(|| s.clone(), |sc| format_decimal(&s, sc)))
        }
        (FieldType::String, Json::Number(n)) => Json::String(n.to_string()),
        (FieldType::String, Json::Bool(b)) => Json::String(b.to_string()),
        (FieldType::String, Json::String(s)) => Json::String(s),
        (FieldType::DateTime, Json::String(s)) => Json::String(normalize_datetime(&s).unwrap_or(s)),
        (FieldType::Date, Json::String(s)) => Json::String(s.get(..10).unwrap_or(&s).to_string()),
        (FieldType::Json, Json::String(s)) => serde_json::from_str(&s).unwrap_or(Json::String(s)),
        (_, v) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::entity;

    /// A field `c` of type `ty` with a decimal `scale`.
    fn field(ty: &str, scale: Option<u32>) -> Field {
        let mut f: Field = serde_json::from_value(serde_json::json!({
            "fieldName": "c", "fieldVisibleName": "c", "type": ty
        }))
        .unwrap();
        f.validation.scale = scale;
        f
    }

    #[test]
    fn cells_are_the_text_of_wire_values() {
        let cell =
            |ty: &str, scale, raw: Option<&str>| cell_text(&field(ty, scale), raw).into_owned();
        // Booleans as each backend writes them: PostgreSQL `true`, SQLite and MariaDB `1`.
        assert_eq!(cell("boolean", None, Some("true")), "true");
        assert_eq!(cell("boolean", None, Some("1")), "true");
        assert_eq!(cell("boolean", None, Some("0")), "false");
        assert_eq!(cell("boolean", None, Some("f")), "false");
        assert_eq!(cell("decimal", Some(2), Some("20")), "20.00");
        assert_eq!(cell("decimal", None, Some("20.5")), "20.5");
        // Floats as serde_json writes the number the JSON path decodes.
        let big = serde_json::Number::from_f64(1e20).unwrap().to_string();
        assert_eq!(cell("float", None, Some("100000000000000000000")), big);
        assert_eq!(cell("float", None, Some("0.10000000000000001")), "0.1");
        assert_eq!(cell("json", None, Some("{\"a\": [1, 2]}")), "{\"a\":[1,2]}");
        assert_eq!(cell("json", None, Some("\"text\"")), "text");
        assert_eq!(
            cell("date", None, Some("2024-01-02 00:00:00")),
            "2024-01-02"
        );
        assert_eq!(
            cell("datetime", None, Some("2024-01-02T03:04:05")),
            "2024-01-02 03:04:05"
        );
        assert_eq!(cell("string", None, Some(" a, b ")), " a, b ");
        assert_eq!(cell("integer", None, None), "");
        // Exactly what a row read as JSON becomes.
        let e = entity(3);
        let (object, _) = decode_row(&e, r#"[7, "20", 1]"#).unwrap();
        for (i, raw) in ["7", "20", "1"].iter().enumerate() {
            let f = &e.fields()[i];
            let wire = match &object[&f.field_visible_name] {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(cell_text(f, Some(raw)), wire, "{}", f.field_name);
        }
    }

    #[test]
    fn cell_values_are_the_wire_values_of_the_json_read() {
        // (type, scale, the column as text, the column as the JSON read has it)
        let cases: [(&str, Option<u32>, &str, Json); 15] = [
            ("integer", None, "42", Json::from(42)),
            ("integer", None, "-7", Json::from("-7")),
            ("float", None, "1.5", Json::from(1.5)),
            ("float", None, "100000000000000000000", Json::from(1e20)),
            ("boolean", None, "1", Json::from(1)),
            ("boolean", None, "0", Json::from(0)),
            ("boolean", None, "true", Json::from("true")),
            ("boolean", None, "f", Json::from("f")),
            ("decimal", Some(2), "20.5", Json::from("20.5")),
            ("decimal", None, "20.50", Json::from("20.50")),
            (
                "datetime",
                None,
                "2024-01-02T03:04:05",
                Json::from("2024-01-02T03:04:05"),
            ),
            (
                "date",
                None,
                "2024-01-02 00:00:00",
                Json::from("2024-01-02 00:00:00"),
            ),
            (
                "json",
                None,
                "{\"a\": [1, 2]}",
                Json::from("{\"a\": [1, 2]}"),
            ),
            ("json", None, "not json", Json::from("not json")),
            ("string", None, " a, b ", Json::from(" a, b ")),
        ];
        for (ty, scale, text, stored) in cases {
            let f = field(ty, scale);
            assert_eq!(
                decode_cell(&f, Some(text.to_string())),
                output(f.ty, scale, stored),
                "{ty} {text}"
            );
        }
        assert_eq!(decode_cell(&field("integer", None), None), Json::Null);
        assert_eq!(decode_cell(&field("string", None), None), Json::Null);
    }

    #[test]
    fn rows_decode_to_spryker_types() {
        let e = entity(4);
        let (obj, extra) = decode_row(&e, r#"[7, "20", 1, 5, 14]"#).unwrap();
        assert_eq!(
            serde_json::Value::Object(obj),
            serde_json::json!({"id": 7, "taxRate": "20.00", "active": true, "c3": "5"})
        );
        assert_eq!(extra, vec![serde_json::json!(14)]);
    }
}
