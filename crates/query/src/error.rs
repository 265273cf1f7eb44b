//! Why a request query is refused: one variant per problem of the query string, each with its
//! wire code.

use dynex_wire::{Code, WireError};

/// A query parameter problem, each mapped to a Spryker (or dynex) error code by [`QueryError::code`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// A filter names a field that is not configured (Spryker 1315).
    #[error("Filter field `{field}` for table alias `{alias}` not found.")]
    UnknownFilterField {
        /// The field as written in the request.
        field: String,
        /// The entity's alias.
        alias: String,
    },
    /// An `include` or a filter names a relation that does not exist at that level (Spryker
    /// 1313).
    #[error("Relation `{0}` not found. Please check the requested relation name and try again.")]
    UnknownRelation(String),
    /// A filter value does not parse as the field's type (dynex 1319).
    #[error("Invalid filter value for field `{field}`: {reason}.")]
    InvalidFilterValue {
        /// The field's visible name.
        field: String,
        /// Why the value was refused.
        reason: String,
    },
    /// A filter operator that does not exist, or does not apply to the field's type (dynex
    /// 1325).
    #[error("Invalid filter operator `{operator}` for field `{field}`: {reason}.")]
    InvalidOperator {
        /// The field's visible name.
        field: String,
        /// The operator as written.
        operator: String,
        /// Why it was refused.
        reason: String,
    },
    /// A sort names a field that is not configured.
    #[error("Sort field `{field}` for table alias `{alias}` not found.")]
    UnknownSortField {
        /// The field as written.
        field: String,
        /// The entity's alias.
        alias: String,
    },
    /// A query parameter is malformed (dynex 1320).
    #[error("Invalid query parameter `{name}`: {reason}.")]
    InvalidParameter {
        /// The parameter as written in the request.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `page[after]` cursor that this server did not issue for this read (dynex 1326).
    #[error("Invalid cursor in `page[after]`: {0}.")]
    InvalidCursor(String),
}

impl QueryError {
    /// The wire code of this error.
    pub fn code(&self) -> Code {
        match self {
            QueryError::UnknownRelation(_) => Code::UnknownRelation,
            QueryError::UnknownFilterField { .. } => Code::UnknownFilterField,
            QueryError::InvalidFilterValue { .. } => Code::InvalidFilterValue,
            QueryError::InvalidParameter { .. } | QueryError::UnknownSortField { .. } => {
                Code::InvalidParameter
            }
            QueryError::InvalidOperator { .. } => Code::InvalidOperator,
            QueryError::InvalidCursor(_) => Code::InvalidCursor,
        }
    }
}

impl WireError for QueryError {
    fn code(&self) -> Code {
        QueryError::code(self)
    }
}
