//! The written form of a mapping: what a definition's `map:` section deserialises into.
//!
//! Everything here is plain data: [`MapSpec::compile`](super::MapSpec::compile) checks it and
//! turns it into a [`Mapping`](super::Mapping). Options whose values are checked by `compile`
//! (`cast`, `case`, the JSONPath and template texts) are kept as text here, so that a definition
//! with several mistakes is refused with all of them at once rather than with the first one
//! serde meets.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How one source record becomes zero, one or several rows of a target entity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapSpec {
    /// Target field name → where its value comes from, in the order the row lists them.
    #[serde(default)]
    pub fields: Entries<FieldSpec>,
    /// Conditions (minijinja expressions); a record for which one of them is true is skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_when: Vec<String>,
    /// A JSONPath whose values each give one row, seen by the field specs as `item`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// Target field name → the natural key of a row of another entity, resolved later.
    #[serde(default, skip_serializing_if = "Entries::is_empty")]
    pub lookups: Entries<LookupSpec>,
}

/// Where one target field's value comes from: a JSONPath, or options.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldSpec {
    /// `name: $.path`: the value the JSONPath finds, as it is.
    Path(String),
    /// `name: { path: …, cast: … }`: a path, a constant or a template, with transforms.
    Options(Box<FieldOptions>),
}

/// The options of a field spec written as a mapping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldOptions {
    /// A JSONPath (`$` is the record, `@` the split item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A constant JSON value (`null` included).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<Value>,
    /// A minijinja template rendered with `record`, `item` and `vars`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Source value → target value; `_default` replaces values that are not listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<Entries<Value>>,
    /// The value when nothing (or null) is found.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub default: Option<Value>,
    /// `string`, `integer`, `number`, `boolean`, `date` or `datetime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cast: Option<String>,
    /// Removes white space around text values.
    #[serde(default, skip_serializing_if = "is_false")]
    pub trim: bool,
    /// `upper` or `lower`: changes the letter case of text values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// A missing (or null) value is an error rather than null.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// Joins several values found into one text with this separator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<String>,
    /// Keeps the first of several values found.
    #[serde(default, skip_serializing_if = "is_false")]
    pub first: bool,
}

/// A field that names a row of another entity by a natural key (`lookups:`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupSpec {
    /// The entity whose row is looked up.
    #[serde(default)]
    pub entity: String,
    /// The field of that entity that holds the natural key.
    #[serde(default)]
    pub by: String,
    /// A JSONPath to the natural key in the record (`$`) or the split item (`@`).
    #[serde(default)]
    pub path: String,
    /// A missing (or null) natural key is an error rather than a null reference.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Deserialises a present value, `null` included, as `Some` (a missing key stays `None` through
/// `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// An ordered map written as a YAML/JSON mapping, which keeps the document's order.
///
/// A key given twice is refused. Keys may be written as numbers or booleans (`1: true` in a
/// value map); they are kept as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Entries<V>(pub Vec<(String, V)>);

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<V> Entries<V> {
    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries in the document's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl<V: Serialize> Serialize for Entries<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(String, V)> = Vec::new();
                while let Some(Key(key)) = access.next_key::<Key>()? {
                    if out.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format!("`{key}` is given twice")));
                    }
                    let value = access.next_value()?;
                    out.push((key, value));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// A mapping key: text, or a number or boolean taken as its text.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a text, number or boolean key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key, E> {
                Ok(Key(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

impl Serialize for FieldSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldSpec::Path(p) => s.serialize_str(p),
            FieldSpec::Options(o) => o.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for FieldSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SpecVisitor;
        impl<'de> Visitor<'de> for SpecVisitor {
            type Value = FieldSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSONPath text or a mapping of field options")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldSpec, E> {
                Ok(FieldSpec::Path(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<FieldSpec, E> {
                Ok(FieldSpec::Path(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<FieldSpec, A::Error> {
                FieldOptions::deserialize(de::value::MapAccessDeserializer::new(access))
                    .map(|o| FieldSpec::Options(Box::new(o)))
            }
        }
        d.deserialize_any(SpecVisitor)
    }
}
