//! The mapping document as written: YAML values read into a [`Mapping`] and its column rules.
//!
//! The document is parsed with serde into a YAML value first, so that text that is no YAML
//! at all is told apart from YAML that is no mapping; then each part is read into its typed
//! form here. Keys may be any scalar (`1: true` in a value map), values of the wrong kind are
//! named in the message ("not a list"), and every message says where in the document it is.

use chrono::format::{Item, StrftimeItems};
use serde::Deserialize;
use serde_norway::Value as Yaml;

use super::transform::{Case, LookupSpec, Rule, ValueMap};
use super::{Column, Mapping, Unmapped};

/// The text of a YAML scalar as a CSV cell: strings as they are, numbers and booleans as written,
/// `null` as an empty cell.
fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::Null => Some(String::new()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// A YAML value in a message.
fn shown(value: &Yaml) -> String {
    match value {
        Yaml::Sequence(_) => "a list".into(),
        Yaml::Mapping(_) => "a mapping".into(),
        Yaml::Tagged(t) => format!("a value tagged `{}`", t.tag),
        other => format!("`{}`", scalar_text(other).unwrap_or_default()),
    }
}

/// The entries of a YAML mapping in the document's order, keys as text; `null` has none.
fn entries<'a>(value: &'a Yaml, what: &str) -> Result<Vec<(String, &'a Yaml)>, String> {
    match value {
        Yaml::Null => Ok(Vec::new()),
        Yaml::Mapping(m) => m
            .iter()
            .map(|(k, v)| match scalar_text(k) {
                Some(k) => Ok((k, v)),
                None => Err(format!("{what}: the key {} is not a name", shown(k))),
            })
            .collect(),
        other => Err(format!("{what} must be a mapping, not {}", shown(other))),
    }
}

fn boolean(value: &Yaml, what: &str) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("{what} must be true or false, not {}", shown(value)))
}

fn string(value: &Yaml, what: &str) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{what} must be a string, not {}", shown(value)))
}

fn scalar(value: &Yaml, what: &str) -> Result<String, String> {
    scalar_text(value).ok_or_else(|| {
        format!(
            "{what} must be a string, a number or a boolean, not {}",
            shown(value)
        )
    })
}

/// One of the words of a unit-variant enum (`upper`, `ignore`, …), read by its serde derive;
/// `None` for any other value, tagged ones included.
fn word<T: for<'de> Deserialize<'de>>(value: &Yaml) -> Option<T> {
    match value {
        Yaml::String(_) => T::deserialize(value.clone()).ok(),
        _ => None,
    }
}

/// Reads a whole document: `columns`, `constants` and `unmapped`, each at most once.
pub(super) fn document(doc: &Yaml) -> Result<Mapping, String> {
    let top = match doc {
        Yaml::Mapping(_) => entries(doc, "the mapping")?,
        other => {
            return Err(format!(
                "the mapping must be a YAML mapping with `columns`, `constants` or `unmapped`, \
                 not {}",
                shown(other)
            ));
        }
    };
    let mut mapping = Mapping::default();
    for (key, value) in top {
        match key.as_str() {
            "columns" => {
                for (name, v) in entries(value, "`columns`")? {
                    let column = column(&name, v)?;
                    mapping.columns.push((name, column));
                }
            }
            "constants" => {
                for (field, v) in entries(value, "`constants`")? {
                    let text = match v {
                        // A list or mapping is JSON text, for a `json` field.
                        Yaml::Sequence(_) | Yaml::Mapping(_) => serde_json::to_string(v)
                            .map_err(|e| format!("the constant `{field}`: {e}"))?,
                        _ => scalar(v, &format!("the constant `{field}`"))?,
                    };
                    mapping.constants.push((field, text));
                }
            }
            "unmapped" => {
                mapping.unmapped = word::<Unmapped>(value).ok_or_else(|| {
                    format!(
                        "`unmapped` must be `error` or `ignore`, not {}",
                        shown(value)
                    )
                })?;
            }
            _ => {
                return Err(format!(
                    "unknown key `{key}` in the mapping (the keys are columns, constants and \
                     unmapped)"
                ));
            }
        }
    }
    Ok(mapping)
}

/// Reads the entry of one column.
pub(super) fn column(name: &str, value: &Yaml) -> Result<Column, String> {
    let what = format!("the column `{name}`");
    let options = match value {
        Yaml::String(s) if s == "ignore" => return Ok(Column::Ignore),
        Yaml::String(s) if s.is_empty() => return Err(format!("{what}: the field name is empty")),
        Yaml::String(s) => return Ok(Column::Field(Rule::plain(s))),
        Yaml::Mapping(_) => entries(value, &what)?,
        other => {
            return Err(format!(
                "{what} must map to a field name, `ignore` or options such as {{ field: NAME }}, \
                 not {}",
                shown(other)
            ));
        }
    };
    // Without `field`, the column fills the field of its own name.
    let mut rule = Rule::plain(name);
    let mut ignore = false;
    for (key, v) in options {
        let option = format!("{what}: `{key}`");
        match key.as_str() {
            "field" => {
                rule.field = string(v, &option)?;
                if rule.field.is_empty() {
                    return Err(format!("{what}: the field name is empty"));
                }
            }
            "ignore" => ignore = boolean(v, &option)?,
            "trim" => rule.trim = boolean(v, &option)?,
            "decimal_comma" => rule.decimal_comma = boolean(v, &option)?,
            "default" => rule.default = Some(scalar(v, &option)?),
            "case" => {
                let text = string(v, &option)?;
                rule.case =
                    Some(word::<Case>(v).ok_or_else(|| {
                        format!("{option} must be `upper` or `lower`, not `{text}`")
                    })?);
            }
            "date_format" => rule.date_format = Some(date_format(v, &option)?),
            "lookup" => rule.lookup = Some(Box::new(lookup(v, &option)?)),
            "map" => rule.map = Some(value_map(v, &option)?),
            _ => {
                return Err(format!(
                    "{what}: unknown option `{key}` (the options are field, ignore, trim, \
                     default, map, case, decimal_comma, date_format and lookup)"
                ));
            }
        }
    }
    if ignore {
        if options_given(&rule, name) {
            return Err(format!("{what} is ignored and has other options too"));
        }
        return Ok(Column::Ignore);
    }
    Ok(Column::Field(rule))
}

/// Whether a rule says more than "the field of the column's own name".
fn options_given(rule: &Rule, name: &str) -> bool {
    rule.field != name || !rule.is_plain() || rule.lookup.is_some()
}

/// Reads `date_format: FORMAT`, a chrono `strftime` format.
fn date_format(value: &Yaml, what: &str) -> Result<String, String> {
    let format = string(value, what)?;
    let bad =
        format.is_empty() || StrftimeItems::new(&format).any(|item| matches!(item, Item::Error));
    if bad {
        return Err(format!(
            "{what}: `{format}` is not a date format (chrono strftime, such as %d.%m.%Y)"
        ));
    }
    Ok(format)
}

/// Reads `map: { TEXT: REPLACEMENT, …, _default: REPLACEMENT }`.
fn value_map(value: &Yaml, what: &str) -> Result<ValueMap, String> {
    let mut map = ValueMap::default();
    for (from, to) in entries(value, what)? {
        let to = scalar(to, &format!("{what}: the value of `{from}`"))?;
        if from == "_default" {
            map.otherwise = Some(to);
        } else {
            map.keys.push(from.clone());
            map.values.insert(from, to);
        }
    }
    Ok(map)
}

/// Reads `lookup: { entity: ALIAS, by: FIELD }`.
fn lookup(value: &Yaml, what: &str) -> Result<LookupSpec, String> {
    if !matches!(value, Yaml::Mapping(_)) {
        return Err(format!(
            "{what} must be a mapping such as {{ entity: ALIAS, by: FIELD }}, not {}",
            shown(value)
        ));
    }
    let (mut entity, mut by) = (None, None);
    for (key, v) in entries(value, what)? {
        let option = format!("{what}: `{key}`");
        match key.as_str() {
            "entity" => entity = Some(string(v, &option)?),
            "by" => by = Some(string(v, &option)?),
            _ => {
                return Err(format!(
                    "{what}: unknown option `{key}` (the options are entity and by)"
                ));
            }
        }
    }
    match (entity, by) {
        (Some(entity), Some(by)) if !entity.is_empty() && !by.is_empty() => {
            Ok(LookupSpec { entity, by })
        }
        _ => Err(format!(
            "{what} needs both `entity` (the alias of the entity looked up) and `by` (its field \
             the cells are matched against)"
        )),
    }
}
