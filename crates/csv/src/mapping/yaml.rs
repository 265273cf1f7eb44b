//! The mapping document as written, deserialised with serde into a [`Mapping`] and its rules.
//!
//! Each part of the document (the whole, `columns`, one column, its options, a value map, a
//! lookup, a constant) is a [`Part`]: a serde visitor that takes the kinds of YAML value the
//! part allows and refuses the others by name ("not a list"), with where in the document it
//! is. Keys may be any scalar (`1: true` in a value map) and are read as the text a CSV cell
//! would have. Hand-written visitors rather than `#[derive(Deserialize)]`: the derive's
//! messages ("unknown field `trimm`, expected one of …", "invalid type: string") say neither
//! which column is meant nor what the mapping allows, and its field keys must be strings.

use std::fmt;

use chrono::format::{Item, StrftimeItems};
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer, StrDeserializer};
use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess,
};
use serde_norway::Value as Yaml;

use super::transform::{Case, LookupSpec, Rule, ValueMap};
use super::{Column, Mapping, Unmapped};

/// A YAML scalar as visited.
enum Scalar {
    Null,
    Bool(bool),
    /// A number, as serde_norway writes it.
    Number(String),
    String(String),
}

impl Scalar {
    /// The scalar as a CSV cell: strings as they are, numbers and booleans as written, `null`
    /// as an empty cell.
    fn into_text(self) -> String {
        match self {
            Scalar::Null => String::new(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Number(n) | Scalar::String(n) => n,
        }
    }

    /// The scalar in a message.
    fn shown(self) -> String {
        format!("`{}`", self.into_text())
    }
}

/// One part of a mapping document, read by the kind of YAML value it is; every kind a part
/// does not take is refused with how it is shown.
trait Part<'de>: Sized {
    /// What the part reads into.
    type Value;

    /// Refuses a value, named as `shown` (such as "a list" or "`x`").
    fn refuse<E: de::Error>(self, shown: String) -> Result<Self::Value, E>;

    /// Reads a scalar.
    fn scalar<E: de::Error>(self, scalar: Scalar) -> Result<Self::Value, E> {
        self.refuse(scalar.shown())
    }

    /// Reads a list.
    fn seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Self::Value, A::Error> {
        self.refuse("a list".into())
    }

    /// Reads a mapping.
    fn map<A: MapAccess<'de>>(self, _map: A) -> Result<Self::Value, A::Error> {
        self.refuse("a mapping".into())
    }

    /// Reads a tagged value (`!tag value`), given its tag without the `!` and its value.
    fn tagged<E: de::Error>(self, tag: &str, _value: Yaml) -> Result<Self::Value, E> {
        self.refuse(tagged(tag))
    }
}

/// A tagged value in a message.
fn tagged(tag: &str) -> String {
    format!("a value tagged `!{tag}`")
}

/// Reads a [`Part`] from any serde deserializer of YAML values.
struct Read<P>(P);

impl<'de, P: Part<'de>> DeserializeSeed<'de> for Read<P> {
    type Value = P::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<P::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, P: Part<'de>> de::Visitor<'de> for Read<P> {
    type Value = P::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a part of a CSV mapping")
    }

    fn visit_unit<E: de::Error>(self) -> Result<P::Value, E> {
        self.0.scalar(Scalar::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<P::Value, E> {
        self.0.scalar(Scalar::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<P::Value, E> {
        self.0.scalar(Scalar::Number(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<P::Value, E> {
        self.0.scalar(Scalar::Number(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<P::Value, E> {
        // serde_norway's spelling: `.inf`, `.nan`, the shortest exact digits.
        let number = serde_norway::Number::from(v).to_string();
        self.0.scalar(Scalar::Number(number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<P::Value, E> {
        self.0.scalar(Scalar::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<P::Value, E> {
        self.0.scalar(Scalar::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<P::Value, A::Error> {
        self.0.seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<P::Value, A::Error> {
        self.0.map(map)
    }

    /// serde_norway visits a tagged value (`!tag value`) as an enum whose variant is the tag.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<P::Value, A::Error> {
        let (tag, value): (String, _) = data.variant()?;
        self.0.tagged(&tag, value.newtype_variant()?)
    }
}

/// A key of a mapping: any scalar, as text.
struct Key<'a> {
    what: &'a str,
}

impl<'de> Part<'de> for Key<'_> {
    type Value = String;

    fn refuse<E: de::Error>(self, shown: String) -> Result<String, E> {
        Err(E::custom(format!(
            "{}: the key {shown} is not a name",
            self.what
        )))
    }

    fn scalar<E: de::Error>(self, scalar: Scalar) -> Result<String, E> {
        Ok(scalar.into_text())
    }
}

/// `true` or `false`.
struct Flag<'a> {
    what: &'a str,
}

impl<'de> Part<'de> for Flag<'_> {
    type Value = bool;

    fn refuse<E: de::Error>(self, shown: String) -> Result<bool, E> {
        Err(E::custom(format!(
            "{} must be true or false, not {shown}",
            self.what
        )))
    }

    fn scalar<E: de::Error>(self, scalar: Scalar) -> Result<bool, E> {
        match scalar {
            Scalar::Bool(b) => Ok(b),
            other => self.refuse(other.shown()),
        }
    }

    /// A tag is looked through, as serde_norway's `as_bool` does.
    fn tagged<E: de::Error>(self, tag: &str, value: Yaml) -> Result<bool, E> {
        value.as_bool().map_or_else(|| self.refuse(tagged(tag)), Ok)
    }
}

/// A YAML string.
struct Text<'a> {
    what: &'a str,
}

impl<'de> Part<'de> for Text<'_> {
    type Value = String;

    fn refuse<E: de::Error>(self, shown: String) -> Result<String, E> {
        Err(E::custom(format!(
            "{} must be a string, not {shown}",
            self.what
        )))
    }

    fn scalar<E: de::Error>(self, scalar: Scalar) -> Result<String, E> {
        match scalar {
            Scalar::String(s) => Ok(s),
            other => self.refuse(other.shown()),
        }
    }

    /// A tag is looked through, as serde_norway's `as_str` does.
    fn tagged<E: de::Error>(self, tag: &str, value: Yaml) -> Result<String, E> {
        match value.as_str() {
            Some(s) => Ok(s.to_string()),
            None => self.refuse(tagged(tag)),
        }
    }
}

/// Any scalar, as the text of a cell.
struct CellText<'a> {
    what: &'a str,
}

impl<'de> Part<'de> for CellText<'_> {
    type Value = String;

    fn refuse<E: de::Error>(self, shown: String) -> Result<String, E> {
        Err(E::custom(format!(
            "{} must be a string, a number or a boolean, not {shown}",
            self.what
        )))
    }

    fn scalar<E: de::Error>(self, scalar: Scalar) -> Result<String, E> {
        Ok(scalar.into_text())
    }
}

/// A mapping may be part of a larger serde document; it is read and checked as
/// [`Mapping::from_yaml`] reads and checks a whole one.
impl<'de> Deserialize<'de> for Mapping {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mapping = Read(Document).deserialize(deserializer)?;
        mapping.check().map_err(de::Error::custom)?;
        Ok(mapping)
    }
}

/// Reads a parsed document, not yet checked as a whole (see `Mapping::check`).
pub(super) fn document(doc: &Yaml) -> Result<Mapping, String> {
    Read(Document).deserialize(doc).map_err(|e| e.to_string())
}

/// The whole document: `columns`, `constants` and `unmapped`, each at most once (the YAML
/// parser refuses repeated keys).
struct Document;

impl<'de> Part<'de> for Document {
    type Value = Mapping;

    fn refuse<E: de::Error>(self, shown: String) -> Result<Mapping, E> {
        Err(E::custom(format!(
            "the mapping must be a YAML mapping with `columns`, `constants` or `unmapped`, not \
             {shown}"
        )))
    }

    fn scalar<E: de::Error>(self, scalar: Scalar) -> Result<Mapping, E> {
        match scalar {
            Scalar::Null => Err(E::custom("the mapping is empty")),
            other => self.refuse(other.shown()),
        }
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Mapping, A::Error> {
        let mut mapping = Mapping::default();
        while let Some(key) = map.next_key_seed(Read(Key {
            what: "the mapping",
        }))? {
            match key.as_str() {
                "columns" => mapping.columns = map.next_value_seed(Read(Columns))?,
                "constants" => mapping.constants = map.next_value_seed(Read(Constants))?,
                "unmapped" => mapping.unmapped = map.next_value_seed(Read(UnmappedPart))?,
                _ => {
                    return Err(de::Error::custom(format!(
                        "unknown key `{key}` in the mapping (the keys are columns, constants \
                         and unmapped)"
                    )));
                }
            }
        }
        Ok(mapping)
    }
}

/// `columns:`, file column → what becomes of it; `null` names none.
struct Columns;

impl<'de> Part<'de> for Columns {
    type Value = Vec<(String, Column)>;

    fn refuse<E: de::Error>(self, shown: String) -> Result<Self::Value, E> {
        Err(E::custom(format!(
            "`columns` must be a mapping, not {shown}"
        )))
    }

    fn scalar<E: de::Error>(self, scalar: Scalar) -> Result<Self::Value, E> {
        match scalar {
            Scalar::Null => Ok(Vec::new()),
            other => self.refuse(other.shown()),
        }
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(name) = map.next_key_seed(Read(Key { what: "`columns`" }))? {
            let column = map.next_value_seed(Read(ColumnPart { name: &name }))?;
            out.push((name, column));
        }
        Ok(out)
    }
}

/// `constants:`, field → the cell text it gets on every row; `null` names none.
struct Constants;

impl<'de> Part<'de> for Constants {
    type Value = Vec<(String, String)>;

    fn refuse<E: de::Error>(self, shown: String) -> Result<Self::Value, E> {
        Err(E::custom(format!(
            "`constants` must be a mapping, not {shown}"
        )))
    }

    fn scalar<E: de::Error>(self, scalar: Scalar) -> Result<Self::Value, E> {
        match scalar {
            Scalar::Null => Ok(Vec::new()),
            other => self.refuse(other.shown()),
        }
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(field) = map.next_key_seed(Read(Key {
            what: "`constants`",
        }))? {
            let text = map.next_value_seed(Read(Constant { field: &field }))?;
            out.push((field, text));
        }
        Ok(out)
    }
}

/// The value of one constant: a scalar as its text, a list or mapping as JSON text (for a
/// `json` field).
struct Constant<'a> {
    field: &'a str,
}

impl Constant<'_> {
    fn json<E: de::Error>(&self, value: &Yaml) -> Result<String, E> {
        serde_json::to_string(value)
            .map_err(|e| E::custom(format!("the constant `{}`: {e}", self.field)))
    }
}

impl<'de> Part<'de> for Constant<'_> {
    type Value = String;

    fn refuse<E: de::Error>(self, shown: String) -> Result<String, E> {
        CellText {
            what: &format!("the constant `{}`", self.field),
        }
        .refuse(shown)
    }

    fn scalar<E: de::Error>(self, scalar: Scalar) -> Result<String, E> {
        Ok(scalar.into_text())
    }

    fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<String, A::Error> {
        self.json(&Yaml::deserialize(SeqAccessDeserializer::new(seq))?)
    }

    fn map<A: MapAccess<'de>>(self, map: A) -> Result<String, A::Error> {
        self.json(&Yaml::deserialize(MapAccessDeserializer::new(map))?)
    }
}

/// `unmapped: error` or `unmapped: ignore`.
struct UnmappedPart;

impl<'de> Part<'de> for UnmappedPart {
    type Value = Unmapped;

    fn refuse<E: de::Error>(self, shown: String) -> Result<Unmapped, E> {
        Err(E::custom(format!(
            "`unmapped` must be `error` or `ignore`, not {shown}"
        )))
    }

    fn scalar<E: de::Error>(self, scalar: Scalar) -> Result<Unmapped, E> {
        match scalar {
            Scalar::String(s) => word(&s).map_or_else(|| self.refuse(format!("`{s}`")), Ok),
            other => self.refuse(other.shown()),
        }
    }

    /// A tag is looked through, as serde_norway's `as_str` does.
    fn tagged<E: de::Error>(self, tag: &str, value: Yaml) -> Result<Unmapped, E> {
        value
            .as_str()
            .and_then(word)
            .map_or_else(|| self.refuse(tagged(tag)), Ok)
    }
}

/// One of the words of a unit-variant enum (`upper`, `ignore`, …), read by its serde derive.
fn word<'a, T: Deserialize<'a>>(text: &'a str) -> Option<T> {
    T::deserialize(StrDeserializer::<de::value::Error>::new(text)).ok()
}

/// The entry of one column: a field name, `ignore`, or options.
struct ColumnPart<'a> {
    name: &'a str,
}

impl<'de> Part<'de> for ColumnPart<'_> {
    type Value = Column;

    fn refuse<E: de::Error>(self, shown: String) -> Result<Column, E> {
        Err(E::custom(format!(
            "the column `{}` must map to a field name, `ignore` or options such as {{ field: \
             NAME }}, not {shown}",
            self.name
        )))
    }

    fn scalar<E: de::Error>(self, scalar: Scalar) -> Result<Column, E> {
        match scalar {
            Scalar::String(s) if s == "ignore" => Ok(Column::Ignore),
            Scalar::String(s) if s.is_empty() => Err(E::custom(format!(
                "the column `{}`: the field name is empty",
                self.name
            ))),
            Scalar::String(s) => Ok(Column::Field(Rule::plain(&s))),
            other => self.refuse(other.shown()),
        }
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Column, A::Error> {
        let name = self.name;
        let what = format!("the column `{name}`");
        let custom = |message: String| <A::Error as de::Error>::custom(message);
        // Without `field`, the column fills the field of its own name.
        let mut rule = Rule::plain(name);
        let mut ignore = false;
        while let Some(key) = map.next_key_seed(Read(Key { what: &what }))? {
            let what = &format!("{what}: `{key}`");
            match key.as_str() {
                "field" => {
                    rule.field = map.next_value_seed(Read(Text { what }))?;
                    if rule.field.is_empty() {
                        return Err(custom(format!(
                            "the column `{name}`: the field name is empty"
                        )));
                    }
                }
                "ignore" => ignore = map.next_value_seed(Read(Flag { what }))?,
                "trim" => rule.trim = map.next_value_seed(Read(Flag { what }))?,
                "decimal_comma" => rule.decimal_comma = map.next_value_seed(Read(Flag { what }))?,
                "default" => rule.default = Some(map.next_value_seed(Read(CellText { what }))?),
                "case" => {
                    let text = map.next_value_seed(Read(Text { what }))?;
                    let case = word::<Case>(&text).ok_or_else(|| {
                        custom(format!("{what} must be `upper` or `lower`, not `{text}`"))
                    })?;
                    rule.case = Some(case);
                }
                "date_format" => {
                    let format = map.next_value_seed(Read(Text { what }))?;
                    rule.date_format = Some(date_format(format, what).map_err(custom)?);
                }
                "lookup" => {
                    rule.lookup = Some(Box::new(map.next_value_seed(Read(LookupPart { what }))?));
                }
                "map" => rule.map = Some(map.next_value_seed(Read(ValueMapPart { what }))?),
                _ => {
                    return Err(custom(format!(
                        "the column `{name}`: unknown option `{key}` (the options are field, \
                         ignore, trim, default, map, case, decimal_comma, date_format and lookup)"
                    )));
                }
            }
        }
        if ignore {
            if options_given(&rule, name) {
                return Err(custom(format!(
                    "the column `{name}` is ignored and has other options too"
                )));
            }
            return Ok(Column::Ignore);
        }
        Ok(Column::Field(rule))
    }
}

/// Reads the entry of one column from a parsed YAML value.
#[cfg(test)]
pub(super) fn column(name: &str, value: &Yaml) -> Result<Column, String> {
    Read(ColumnPart { name })
        .deserialize(value)
        .map_err(|e| e.to_string())
}

/// Whether a rule says more than "the field of the column's own name".
fn options_given(rule: &Rule, name: &str) -> bool {
    rule.field != name || !rule.is_plain() || rule.lookup.is_some()
}

/// Checks `date_format: FORMAT`, a chrono `strftime` format.
fn date_format(format: String, what: &str) -> Result<String, String> {
    let bad =
        format.is_empty() || StrftimeItems::new(&format).any(|item| matches!(item, Item::Error));
    if bad {
        return Err(format!(
            "{what}: `{format}` is not a date format (chrono strftime, such as %d.%m.%Y)"
        ));
    }
    Ok(format)
}

/// `map: { TEXT: REPLACEMENT, …, _default: REPLACEMENT }`; `null` lists nothing.
struct ValueMapPart<'a> {
    what: &'a str,
}

impl<'de> Part<'de> for ValueMapPart<'_> {
    type Value = ValueMap;

    fn refuse<E: de::Error>(self, shown: String) -> Result<ValueMap, E> {
        Err(E::custom(format!(
            "{} must be a mapping, not {shown}",
            self.what
        )))
    }

    fn scalar<E: de::Error>(self, scalar: Scalar) -> Result<ValueMap, E> {
        match scalar {
            Scalar::Null => Ok(ValueMap::default()),
            other => self.refuse(other.shown()),
        }
    }

    fn map<A: MapAccess<'de>>(self, map: A) -> Result<ValueMap, A::Error> {
        let mut out = ValueMap::default();
        let values = value_map_entries(map, self.what)?;
        for (from, to) in values {
            if from == "_default" {
                out.otherwise = Some(to);
            } else {
                out.keys.push(from.clone());
                out.values.insert(from, to);
            }
        }
        Ok(out)
    }
}

/// The entries of a value map, each replacement read as the text of a cell.
fn value_map_entries<'de, A: MapAccess<'de>>(
    mut map: A,
    what: &str,
) -> Result<Vec<(String, String)>, A::Error> {
    let mut out = Vec::new();
    while let Some(from) = map.next_key_seed(Read(Key { what }))? {
        let to = map.next_value_seed(Read(CellText {
            what: &format!("{what}: the value of `{from}`"),
        }))?;
        out.push((from, to));
    }
    Ok(out)
}

/// `lookup: { entity: ALIAS, by: FIELD }`.
struct LookupPart<'a> {
    what: &'a str,
}

impl<'de> Part<'de> for LookupPart<'_> {
    type Value = LookupSpec;

    fn refuse<E: de::Error>(self, shown: String) -> Result<LookupSpec, E> {
        Err(E::custom(format!(
            "{} must be a mapping such as {{ entity: ALIAS, by: FIELD }}, not {shown}",
            self.what
        )))
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<LookupSpec, A::Error> {
        let what = self.what;
        let custom = |message: String| <A::Error as de::Error>::custom(message);
        let (mut entity, mut by) = (None, None);
        while let Some(key) = map.next_key_seed(Read(Key { what }))? {
            let option = &format!("{what}: `{key}`");
            match key.as_str() {
                "entity" => entity = Some(map.next_value_seed(Read(Text { what: option }))?),
                "by" => by = Some(map.next_value_seed(Read(Text { what: option }))?),
                _ => {
                    return Err(custom(format!(
                        "{what}: unknown option `{key}` (the options are entity and by)"
                    )));
                }
            }
        }
        match (entity, by) {
            (Some(entity), Some(by)) if !entity.is_empty() && !by.is_empty() => {
                Ok(LookupSpec { entity, by })
            }
            _ => Err(custom(format!(
                "{what} needs both `entity` (the alias of the entity looked up) and `by` (its \
                 field the cells are matched against)"
            ))),
        }
    }
}
