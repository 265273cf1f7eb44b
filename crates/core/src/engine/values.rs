//! Values converted between the database's JSON answers, bound parameters and key text.

use dynex_query::Value;
use serde_json::Value as Json;

/// A value as text, for matching keys read back from the database with keys sent.
pub(crate) fn key_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Int(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Text(s)
        | Value::Decimal(s)
        | Value::Date(s)
        | Value::DateTime(s)
        | Value::Json(s) => s.clone(),
    }
}

/// A JSON value as key text, to compare with [`key_text`] of a value sent.
pub(crate) fn json_key_text(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value read back from the database, to bind again (a parent's key for its children).
pub(crate) fn json_to_value(v: &Json) -> Value {
    dynex_query::value_from_json(v)
}
