//! The transforms of a mapped column: what happens to a cell's text before it is typed.
//!
//! A [`Rule`] is read from the mapping document (see the `yaml` module) and applied to each
//! cell of its column by a plan; the steps run in a fixed order: trim, default, value map,
//! case, decimal comma, date format.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use dynex_schema::FieldType;
use serde::Deserialize;

/// Letter case a cell is changed to (`case: upper` or `case: lower`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Case {
    Upper,
    Lower,
}

/// A value map: cell texts to replacement texts, and what to do with the other texts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ValueMap {
    /// The listed texts, in the mapping's order (for messages).
    pub(super) keys: Vec<String>,
    /// Listed text → replacement.
    pub(super) values: HashMap<String, String>,
    /// The replacement of texts that are not listed (`_default`); without it they refuse the row.
    pub(super) otherwise: Option<String>,
}

impl ValueMap {
    fn apply(&self, text: String) -> Result<String, String> {
        let key = text.trim();
        if let Some(v) = self.values.get(key) {
            return Ok(v.clone());
        }
        if key.is_empty() {
            // Empty cells are left to `default`; they only match an explicit `""` entry.
            return Ok(text);
        }
        if let Some(v) = &self.otherwise {
            return Ok(v.clone());
        }
        let mut listed: Vec<String> = self
            .keys
            .iter()
            .take(10)
            .map(|k| format!("`{k}`"))
            .collect();
        if self.keys.len() > 10 {
            listed.push("…".into());
        }
        Err(format!(
            "`{key}` is not in the value map ({}) and the map has no `_default`",
            listed.join(", ")
        ))
    }
}

/// The transforms of one mapped column, in the order they apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Rule {
    /// The visible name of the field the column fills.
    pub(super) field: String,
    pub(super) trim: bool,
    /// Replaces an empty cell (after `trim`).
    pub(super) default: Option<String>,
    pub(super) map: Option<ValueMap>,
    pub(super) case: Option<Case>,
    pub(super) decimal_comma: bool,
    /// A chrono `strftime` format the cells are written in.
    pub(super) date_format: Option<String>,
    /// The cell (after the transforms) names a row of another entity by a field of it.
    pub(super) lookup: Option<Box<LookupSpec>>,
}

/// `lookup: { entity: ALIAS, by: FIELD }` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct LookupSpec {
    pub(super) entity: String,
    pub(super) by: String,
}

impl Rule {
    /// A rule that copies the column into the field `field` as it is.
    pub(super) fn plain(field: &str) -> Rule {
        Rule {
            field: field.to_string(),
            ..Rule::default()
        }
    }

    /// Whether the cell is copied as it is.
    pub(super) fn is_plain(&self) -> bool {
        !self.trim
            && self.default.is_none()
            && self.map.is_none()
            && self.case.is_none()
            && !self.decimal_comma
            && self.date_format.is_none()
    }

    /// The cell's text for a field of type `ty`, or why the cell cannot be one.
    pub(super) fn apply(&self, text: &str, ty: FieldType) -> Result<String, String> {
        let mut text = if self.trim { text.trim() } else { text }.to_string();
        if text.is_empty()
            && let Some(default) = &self.default
        {
            text = default.clone();
        }
        if let Some(map) = &self.map {
            text = map.apply(text)?;
        }
        if text.is_empty() {
            return Ok(text);
        }
        match self.case {
            Some(Case::Upper) => text = text.to_uppercase(),
            Some(Case::Lower) => text = text.to_lowercase(),
            None => {}
        }
        if self.decimal_comma {
            text = decimal_comma(&text)?;
        }
        if let Some(format) = &self.date_format {
            text = date(&text, format, ty)?;
        }
        Ok(text)
    }
}

/// `1.234,50` → `1234.50`: dots are thousands separators, the comma is the decimal point.
fn decimal_comma(text: &str) -> Result<String, String> {
    let refuse = || format!("`{text}` is not a number with a decimal comma (such as 1.234,50)");
    let (int, frac) = match text.split_once(',') {
        Some((int, frac)) => (int, Some(frac)),
        None => (text, None),
    };
    if frac.is_some_and(|f| f.contains([',', '.'])) {
        return Err(refuse());
    }
    // Thousands separators stand between groups of three digits: `12.50` is no such number.
    let mut groups = int.split('.');
    groups.next();
    if groups.any(|g| g.len() != 3) {
        return Err(refuse());
    }
    let int = int.replace('.', "");
    Ok(match frac {
        Some(frac) => format!("{int}.{frac}"),
        None => int,
    })
}

/// A date (and time) written in `format`, as ISO text for a field of type `ty`: `YYYY-MM-DD`
/// for a date field, `YYYY-MM-DD HH:MM:SS` for a date and time field; for other fields the
/// date alone when the format has no time.
fn date(text: &str, format: &str, ty: FieldType) -> Result<String, String> {
    const DATE: &str = "%Y-%m-%d";
    const DATETIME: &str = "%Y-%m-%d %H:%M:%S%.f";
    if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
        return Ok(match ty {
            FieldType::Date => t.format(DATE).to_string(),
            _ => t.format(DATETIME).to_string(),
        });
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, format) {
        return Ok(match ty {
            FieldType::DateTime => d
                .and_time(chrono::NaiveTime::MIN)
                .format(DATETIME)
                .to_string(),
            _ => d.format(DATE).to_string(),
        });
    }
    Err(format!("`{text}` is not a date in the format `{format}`"))
}
