//! Row errors of writes: Spryker's codes, statuses and messages, plus dynex's additions.

use dynex_wire::{Code, WireError};

/// A problem with one row of a write (or with the request as a whole), as reported to clients.
///
/// `path` is Spryker's error path: `alias[index]`, chained with `.` for nested rows
/// (`countries[1].tax-rates[0]`). [`RowError::code`] maps each to its
/// [`Code`] in the one table of codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// The body is not `{"data": [...]}` (or `{"data": {...}}` on `/{id}`).
    #[error(
        "Invalid or missing data format. Please ensure that the data is provided in the correct \
         format. Example request body: {{\"data\":[{{...}},{{...}},..]}}"
    )]
    InvalidFormat,
    /// The row to update or delete does not exist.
    #[error("The entity `{path}` could not be found in the database.")]
    NotFound {
        /// Error path of the row.
        path: String,
    },
    /// A field that may not be set by this operation was sent.
    #[error("Modification of immutable field `{path}.{field}` is prohibited.")]
    Immutable {
        /// Error path of the row.
        path: String,
        /// The field's visible name.
        field: String,
    },
    /// A value has the wrong JSON type.
    #[error("Invalid data type `{path}` for field `{field}`: expected {expected}.")]
    InvalidType {
        /// Error path of the row.
        path: String,
        /// The field's visible name.
        field: String,
        /// What the field accepts, in words.
        expected: &'static str,
    },
    /// A value breaks the field's rules.
    #[error("Invalid data value `{path}` for field: `{field}`. Field rules: {rules}")]
    InvalidValue {
        /// Error path of the row.
        path: String,
        /// The field's visible name.
        field: String,
        /// The rules as `name: value` pairs.
        rules: String,
    },
    /// A required field is missing or null.
    #[error("The required field must not be empty. Field: `{path}.{field}`")]
    Required {
        /// Error path of the row.
        path: String,
        /// The field's visible name.
        field: String,
    },
    /// PUT names a row that does not exist by an identifier that may not be created.
    #[error(
        "Entity `{path}.{identifier}` not found by identifier, and new identifier can not be \
         persisted. Please update the request."
    )]
    IdentifierNotCreatable {
        /// Error path of the row.
        path: String,
        /// `visible name: value`.
        identifier: String,
    },
    /// A unique key already holds this value.
    #[error(
        "Failed to persist the data for `{path}`. Please verify the provided data and try again. \
         Entry is duplicated."
    )]
    Duplicate {
        /// Error path of the row, with the duplicated field appended when known.
        path: String,
    },
    /// An update row carries no identifier.
    #[error("Incomplete Request - missing identifier for `{path}`")]
    MissingIdentifier {
        /// Error path of the row.
        path: String,
    },
    /// A scalar member that is not a configured field.
    #[error("The provided `{path}.{field}` is incorrect or invalid.")]
    UnknownField {
        /// Error path of the row.
        path: String,
        /// The member's name as sent.
        field: String,
    },
    /// A nested member that is not a configured relation.
    #[error(
        "Relation `{relation}` not found. Please check the requested relation name and try again."
    )]
    UnknownRelation {
        /// The member's name as sent.
        relation: String,
    },
    /// Nested rows under a relation configured as not editable.
    #[error("The relationship `{relation}` is not editable by configuration.")]
    RelationNotEditable {
        /// The relation's name.
        relation: String,
    },
    /// A value with the `url` constraint is not a relative URL.
    #[error("The URL is invalid. `{path}` field `{field}` must have a URL data format.")]
    InvalidUrl {
        /// Error path of the row.
        path: String,
        /// The field's visible name.
        field: String,
    },
    /// A written row references a parent row that does not exist.
    #[error(
        "Failed to persist the data for `{path}`. Please verify the provided data and try again. \
         A referenced entity does not exist."
    )]
    MissingReference {
        /// Error path of the row, with the referencing field appended when known.
        path: String,
    },
    /// A deleted row is still referenced by rows of another table.
    #[error(
        "Failed to delete the data for `{path}`. The entity has a child entity and can not be \
         deleted. Child entity: `{child}`."
    )]
    HasChildren {
        /// `alias.identifier = value`.
        path: String,
        /// The referencing entity's alias, or its table when it is not configured.
        child: String,
    },
    /// A column that does not accept `NULL` would be left empty.
    #[error(
        "Failed to persist the data for `{path}`. Please verify the provided data and try again. \
         Field must not be null."
    )]
    NotNull {
        /// Error path of the row, with the field appended when known.
        path: String,
    },
    /// The database refused the row for another reason (a value too long for its column, a
    /// check constraint…).
    #[error(
        "Failed to persist the data for `{path}`. Please verify the provided data and try again.{}",
        reason.as_ref().map(|r| format!(" The database reports: {r}")).unwrap_or_default()
    )]
    Persistence {
        /// Error path of the row.
        path: String,
        /// The database's own explanation, when it is safe to show.
        reason: Option<String>,
    },
    /// An object of the body names a member twice (JSON keeps only one of them).
    #[error("The member `{member}` appears twice in one object of the request body.")]
    DuplicateMember {
        /// The member's name.
        member: String,
    },
    /// A row sends `identifier` and the identifier's visible name, with different values.
    #[error(
        "The row `{path}` names its identifier twice, as `identifier` and as `{field}`, with \
         different values."
    )]
    IdentifierConflict {
        /// Error path of the row.
        path: String,
        /// The identifier's visible name.
        field: String,
    },
    /// A before-write or after-write hook refused the row.
    #[error("The entity `{path}` was rejected: {message}")]
    Rejected {
        /// Error path of the row, or the alias for a whole batch.
        path: String,
        /// The hook's explanation.
        message: String,
    },
}

impl RowError {
    /// The wire code; the code's HTTP status is that of an answer whose first error this is.
    pub fn code(&self) -> Code {
        match self {
            RowError::InvalidFormat => Code::InvalidFormat,
            RowError::DuplicateMember { .. } => Code::DuplicateMember,
            RowError::IdentifierConflict { .. } => Code::IdentifierConflict,
            RowError::Persistence { .. } => Code::Persistence,
            RowError::NotFound { .. } => Code::RowNotFound,
            RowError::Immutable { .. } => Code::Immutable,
            RowError::InvalidType { .. } => Code::InvalidType,
            RowError::InvalidValue { .. } => Code::InvalidValue,
            RowError::Required { .. } => Code::Required,
            RowError::IdentifierNotCreatable { .. } => Code::IdentifierNotCreatable,
            RowError::Duplicate { .. } => Code::Duplicate,
            RowError::MissingIdentifier { .. } => Code::MissingIdentifier,
            RowError::UnknownField { .. } => Code::UnknownField,
            RowError::UnknownRelation { .. } => Code::UnknownRelation,
            RowError::RelationNotEditable { .. } => Code::RelationNotEditable,
            RowError::InvalidUrl { .. } => Code::InvalidUrl,
            RowError::MissingReference { .. } | RowError::HasChildren { .. } => Code::Reference,
            RowError::NotNull { .. } => Code::NotNull,
            RowError::Rejected { .. } => Code::Rejected,
        }
    }

    /// The HTTP status this error answers with when it is the first error of a response.
    pub fn status(&self) -> u16 {
        self.code().status()
    }
}

impl WireError for RowError {
    fn code(&self) -> Code {
        RowError::code(self)
    }
}
