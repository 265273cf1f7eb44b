//! JSON read strictly, for request bodies.
//!
//! An object that names a member twice is refused (serde_json keeps the last one, so
//! `{"name": "a", "name": "b"}` would silently be `b`), and text holding a NUL character
//! (U+0000) can be found before it reaches a database (PostgreSQL refuses it in text and
//! `jsonb`, SQLite cuts identifiers at it).
//!
//! [`from_slice`] builds the same [`serde_json::Value`] as `serde_json::from_slice` in the same
//! single pass; the check is the lookup the map's insert makes anyway.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value as Json};

/// Why a body is not strict JSON.
#[derive(Debug, thiserror::Error)]
pub enum StrictJsonError {
    /// Not JSON at all.
    #[error("{0}")]
    Syntax(serde_json::Error),
    /// An object names this member twice.
    #[error("the member `{0}` appears twice in one object")]
    DuplicateMember(String),
}

/// Parses JSON text, refusing an object that names a member twice.
pub fn from_slice(bytes: &[u8]) -> Result<Json, StrictJsonError> {
    let duplicate = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Strict(&duplicate)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    match (parsed, duplicate.take()) {
        (_, Some(member)) => Err(StrictJsonError::DuplicateMember(member)),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(StrictJsonError::Syntax(e)),
    }
}

/// The path (`data[0].name`, `$` for the whole value) of the first string or member name in
/// `v` that holds a NUL character.
pub fn nul_path(v: &Json) -> Option<String> {
    fn walk(v: &Json, path: &mut String) -> bool {
        match v {
            Json::String(s) => s.contains('\0'),
            Json::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Json::Object(members) => members.iter().any(|(k, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&k.replace('\0', "\\u0000"));
                let found = k.contains('\0') || walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Json::Null | Json::Bool(_) | Json::Number(_) => false,
        }
    }
    let mut path = String::new();
    walk(v, &mut path).then(|| if path.is_empty() { "$".into() } else { path })
}

/// Whether `v` holds a NUL character in any string or member name.
pub fn has_nul(v: &Json) -> bool {
    match v {
        Json::String(s) => s.contains('\0'),
        Json::Array(items) => items.iter().any(has_nul),
        Json::Object(members) => members.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        Json::Null | Json::Bool(_) | Json::Number(_) => false,
    }
}

/// Builds a value as serde_json's own visitor does, noting the first member named twice.
#[derive(Clone, Copy)]
struct Strict<'d>(&'d Cell<Option<String>>);

/// The member serde_json's `arbitrary_precision` feature wraps a number in.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Json;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Number::from_f64(v).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.is_empty() && key == NUMBER_TOKEN {
                let text: String = map.next_value()?;
                return text
                    .parse::<Number>()
                    .map(Json::Number)
                    .map_err(de::Error::custom);
            }
            let value = map.next_value_seed(self)?;
            match members.entry(key) {
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                serde_json::map::Entry::Occupied(slot) => {
                    let key = slot.key().clone();
                    let error = de::Error::custom(format_args!("the member `{key}` appears twice"));
                    self.0.set(Some(key));
                    return Err(error);
                }
            }
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn duplicate_members_are_refused_at_any_depth() {
        let ok = br#"{"data": [{"a": 1, "b": [1.5, "x", null, true]}, {"a": 2}]}"#;
        assert_eq!(
            from_slice(ok).unwrap(),
            serde_json::from_slice::<Json>(ok).unwrap()
        );
        for (text, member) in [
            (&br#"{"data": {"name": "a", "name": "b"}}"#[..], "name"),
            (br#"{"data": [{"x": {"y": 1, "y": 2}}]}"#, "y"),
            (br#"{"data": 1, "data": 2}"#, "data"),
            // Escapes are read first: the same name spelled twice.
            (br#"{"a": 1, "\u0061": 2}"#, "a"),
        ] {
            match from_slice(text) {
                Err(StrictJsonError::DuplicateMember(m)) => assert_eq!(m, member),
                other => panic!("{}: {other:?}", String::from_utf8_lossy(text)),
            }
        }
        assert!(matches!(
            from_slice(b"{\"a\": 1,}"),
            Err(StrictJsonError::Syntax(_))
        ));
        assert!(matches!(
            from_slice(b"{\"a\": 1} x"),
            Err(StrictJsonError::Syntax(_))
        ));
    }

    #[test]
    fn nul_characters_are_found_with_their_path() {
        assert_eq!(
            nul_path(&json!({"a": ["x", "y\u{0}"]})).as_deref(),
            Some("a[1]")
        );
        assert_eq!(
            nul_path(&json!({"a": {"b\u{0}": 1}})).as_deref(),
            Some("a.b\\u0000")
        );
        assert_eq!(nul_path(&json!("\u{0}")).as_deref(), Some("$"));
        assert_eq!(
            nul_path(&json!({"a": [1, "x", null], "b": {"c": true}})),
            None
        );
        assert!(has_nul(&json!([{"k": ["\u{0}"]}])));
        assert!(!has_nul(&json!([{"k": ["\\u0000"]}])));
    }
}
