//! Why a mapping document or its binding to an entity and a file is refused.

use crate::ParseCellError;

/// Why [`Mapping::from_yaml`](super::Mapping::from_yaml) refuses a document or
/// [`Mapping::plan_in`](super::Mapping::plan_in) refuses to bind it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// The text is not YAML (the parser's message).
    #[error("the mapping is not valid YAML: {0}")]
    Syntax(String),
    /// The document is empty.
    #[error("the mapping is empty")]
    Empty,
    /// A key, option or value of the document is unknown or of the wrong kind; the message
    /// says where.
    #[error("{0}")]
    Document(String),
    /// Two columns fill one field.
    #[error("the columns `{first}` and `{second}` both map to the field `{field}`")]
    TwoColumns {
        /// The column named first.
        first: String,
        /// The column named second.
        second: String,
        /// The field both fill.
        field: String,
    },
    /// A constant is given for a field that a column fills.
    #[error("the field `{field}` is both a constant and mapped from the column `{column}`")]
    ConstantAndColumn {
        /// The field.
        field: String,
        /// The column that fills it.
        column: String,
    },
    /// Two constants, whose keys are the same text, are given for one field.
    #[error("the constant `{field}` is given twice")]
    ConstantTwice {
        /// The field.
        field: String,
    },
    /// A lookup names an entity that the catalog does not serve.
    #[error("the column `{column}`: `lookup`: no entity `{entity}` is configured and active")]
    LookupEntity {
        /// The column with the lookup.
        column: String,
        /// The alias looked up.
        entity: String,
    },
    /// A lookup matches by a field the entity looked up does not have.
    #[error(
        "the column `{column}`: `lookup`: `{entity}` has no field `{by}` (its fields are: {})",
        known.join(", ")
    )]
    LookupField {
        /// The column with the lookup.
        column: String,
        /// The alias looked up.
        entity: String,
        /// The field named.
        by: String,
        /// The visible names of the fields it has.
        known: Vec<String>,
    },
    /// The mapping names fields the entity does not have.
    #[error(
        "the mapping names {} that `{entity}` does not have: {} (the fields of `{entity}` are: \
         {})",
        if unknown.len() > 1 { "fields" } else { "a field" },
        unknown.iter().map(UnknownField::to_string).collect::<Vec<_>>().join(", "),
        known.join(", ")
    )]
    UnknownFields {
        /// The entity's alias.
        entity: String,
        /// The names it does not have, in the mapping's order (columns, then constants).
        unknown: Vec<UnknownField>,
        /// The visible names of the fields it has.
        known: Vec<String>,
    },
    /// Columns of the file are neither mentioned by the mapping nor field names, and the
    /// mapping does not say `unmapped: ignore`.
    #[error("{}", unmapped_columns(entity, columns))]
    Unmapped {
        /// The entity's alias.
        entity: String,
        /// The columns, in the file's order.
        columns: Vec<String>,
    },
    /// A field would be filled from two sources (a column and another column or a constant).
    #[error("the field `{field}` would be filled from both {first} and {second}")]
    TwoSources {
        /// The field.
        field: String,
        /// The first source, such as "the column `A`".
        first: String,
        /// The second source, such as "the constant".
        second: String,
    },
    /// A constant is no value of its field.
    #[error("the constant `{field}`: {source}")]
    Constant {
        /// The field.
        field: String,
        /// Why the text is no value of the field.
        source: ParseCellError,
    },
}

/// A field name in a mapping that its entity does not have, and where the mapping names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// The name as written.
    pub field: String,
    /// The column mapped to it, or `None` for a constant.
    pub column: Option<String>,
}

impl std::fmt::Display for UnknownField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(column) => write!(f, "`{}` (column `{column}`)", self.field),
            None => write!(f, "`{}` (constant)", self.field),
        }
    }
}

/// The message of [`MappingError::Unmapped`], in the singular for one column.
fn unmapped_columns(entity: &str, columns: &[String]) -> String {
    let many = columns.len() > 1;
    let names: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
    format!(
        "the column{} {} of the file {} neither in the mapping nor {} of `{entity}` (map {} under \
         `columns`, mark {} `ignore`, or set `unmapped: ignore`)",
        if many { "s" } else { "" },
        names.join(", "),
        if many { "are" } else { "is" },
        if many { "fields" } else { "a field" },
        if many { "them" } else { "it" },
        if many { "them" } else { "it" },
    )
}
