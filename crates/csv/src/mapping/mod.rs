//! Import mappings: how the columns of another system's CSV file become fields.
//!
//! A mapping is a small YAML document (`dynex import --mapping FILE.yml`):
//!
//! ```yaml
//! columns:
//!   Artikelnummer: sku                                  # rename
//!   Preis: { field: price, decimal_comma: true }
//!   Aktiv: { field: is_active, map: { "ja": true, "nein": false } }
//!   Name: { field: name, trim: true, case: upper }
//!   Datum: { field: valid_from, date_format: "%d.%m.%Y" }
//!   Farbe: { field: color_code, default: "#000000" }
//!   Steuersatz: { field: fk_tax_set, lookup: { entity: tax-sets, by: name } }
//!   Intern: ignore
//! constants:
//!   fk_tax_set: 1
//! unmapped: error
//! ```
//!
//! [`Mapping::from_yaml`] checks the document on its own (the `yaml` module deserialises it, the
//! `transform` module holds what a column does to its cells); [`Mapping::plan_in`] (the `plan`
//! module) binds it to an entity of a catalog and a file's header, checking the field names,
//! and gives a [`MappingPlan`] whose [`MappingPlan::header`] is the header of visible field
//! names the import uses and whose [`MappingPlan::apply`] turns the cells of each record into
//! cells under that header. A column with a `lookup` (a natural key) gives the text to look up; the import
//! resolves it, in bulk, to the identifier of the row it names ([`MappingPlan::lookups`]).

use std::collections::HashMap;

use serde::Deserialize;
use serde_norway::Value as Yaml;

mod error;
mod plan;
mod transform;
mod yaml;

pub use error::{MappingError, UnknownField};
pub use plan::{CellError, Lookup, MappingPlan};

use transform::Rule;

/// What to do with file columns that the mapping does not mention and that are no field names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmapped {
    /// Refuse the file before anything is written (the default).
    #[default]
    Error,
    /// Leave those columns out.
    Ignore,
}

/// What the mapping says about one column of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    /// Left out.
    Ignore,
    /// Fills a field.
    Field(Rule),
}

/// A column mapping for imports: renamed and ignored columns, constants and cell transforms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    /// File column → what becomes of it, in the mapping's order.
    columns: Vec<(String, Column)>,
    /// Field → the cell text it gets on every row.
    constants: Vec<(String, String)>,
    unmapped: Unmapped,
}

impl Mapping {
    /// Reads a mapping document and checks it on its own (the field names are checked by
    /// [`Mapping::plan`]).
    ///
    /// Refuses text that is not YAML, unknown keys and options, values of the wrong kind, bad
    /// date formats, two columns mapped to one field and a constant for a field that a column
    /// fills.
    pub fn from_yaml(text: &str) -> Result<Mapping, MappingError> {
        let doc: Yaml =
            serde_norway::from_str(text).map_err(|e| MappingError::Syntax(e.to_string()))?;
        Mapping::from_value(&doc)
    }

    /// Reads a parsed document (see [`Mapping::from_yaml`]).
    fn from_value(doc: &Yaml) -> Result<Mapping, MappingError> {
        if matches!(doc, Yaml::Null) {
            return Err(MappingError::Empty);
        }
        let mapping = yaml::document(doc).map_err(MappingError::Document)?;
        mapping.check()?;
        Ok(mapping)
    }

    /// Refuses two columns mapped to one field, and a constant for a field that a column fills
    /// or that another constant already fills.
    fn check(&self) -> Result<(), MappingError> {
        let mut by_field: HashMap<&str, &str> = HashMap::new();
        for (name, column) in &self.columns {
            if let Column::Field(rule) = column
                && let Some(other) = by_field.insert(&rule.field, name)
            {
                return Err(MappingError::TwoColumns {
                    first: other.to_string(),
                    second: name.clone(),
                    field: rule.field.clone(),
                });
            }
        }
        for (i, (field, _)) in self.constants.iter().enumerate() {
            if let Some(column) = by_field.get(field.as_str()) {
                return Err(MappingError::ConstantAndColumn {
                    field: field.clone(),
                    column: column.to_string(),
                });
            }
            if self.constants[..i].iter().any(|(f, _)| f == field) {
                return Err(MappingError::ConstantTwice {
                    field: field.clone(),
                });
            }
        }
        Ok(())
    }

    /// What to do with columns the mapping does not mention.
    pub fn unmapped(&self) -> Unmapped {
        self.unmapped
    }
}

#[cfg(test)]
mod tests;
