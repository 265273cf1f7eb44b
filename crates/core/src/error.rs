//! The core's error type and its place on the wire.

use dynex_query::QueryError;
use dynex_schema::ConfigError;
use dynex_wire::{Code, WireError};

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The database URL is malformed or names a backend this build lacks.
    #[error("invalid database URL {0}")]
    InvalidUrl(String),
    /// The database cannot be reached or the pool is exhausted.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Applying dynex's migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// No active entity is served under this alias.
    #[error("entity `{0}` is not configured or not active")]
    UnknownEntity(String),
    /// No row has this identifier (Spryker 1303).
    #[error("The entity `{0}` could not be found in the database.")]
    RowNotFound(String),
    /// The request's query parameters are invalid.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A configuration does not fit the live schema or the rules.
    #[error("invalid configuration:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Config(Vec<ConfigError>),
    /// A configuration file is not valid JSON of the expected shape.
    #[error("invalid configuration file: {0}")]
    ConfigFormat(String),
    /// A named object (entity, API key) does not exist.
    #[error("{kind} `{name}` not found")]
    NotFound {
        /// What was looked for.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A named object already exists.
    #[error("{kind} `{name}` already exists")]
    AlreadyExists {
        /// What was created.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// Bad input to an administrative operation.
    #[error("{0}")]
    Invalid(String),
    /// A database statement failed.
    #[error("database error: {0}")]
    Database(diesel::result::Error),
    /// The database cancelled a statement at the statement timeout.
    #[error("statement timeout: {0}")]
    StatementTimeout(String),
    /// A write refused rows: Spryker's error objects, in payload order.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "))]
    Rows(Vec<dynex_validate::RowError>),
    /// The caller's credentials lack a scope the request needs (nested writes reach other
    /// entities).
    #[error("missing scope {0}")]
    MissingScope(String),
    /// The entity does not allow this method (DELETE without `isDeletable`).
    #[error("Method not allowed for the entity `{0}`.")]
    MethodNotAllowed(String),
    /// A collection DELETE without any filter, which would empty the table.
    #[error(
        "Deleting from `{0}` needs at least one filter; a DELETE without a filter would remove every row."
    )]
    FilterRequired(String),
    /// The database stayed busy (deadlocks, lock timeouts) through every retry.
    #[error("the database is busy; the write was retried and gave up")]
    Busy,
    /// A user name and password do not match (whether the user exists is not told).
    #[error("invalid user name or password")]
    BadCredentials,
    /// Stored data could not be decoded.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// A conditional request's `If-Match` or `If-None-Match` does not hold for the row it
    /// names; nothing was written.
    #[error(
        "The entity `{path}` does not match the request's precondition (`{header}`); nothing was written."
    )]
    PreconditionFailed {
        /// The row, as `<alias>.<identifier> = <value>` (the alias alone on a collection).
        path: String,
        /// The header that does not hold.
        header: &'static str,
    },
}

/// Every database error becomes a core error here, once: a lost session marks its connection
/// for replacement and answers `1390` (the request may be retried), as does a statement cancelled
/// on request; a statement timeout `1392`,
/// a SQLite file locked past the busy timeout counts as busy.
impl From<diesel::result::Error> for CoreError {
    fn from(e: diesel::result::Error) -> Self {
        use crate::dberr::Session;
        match crate::dberr::session(&e) {
            Session::Lost => {
                crate::session::discard_on_return();
                CoreError::Unavailable(format!("the database session was lost: {e}"))
            }
            Session::TimedOut => CoreError::StatementTimeout(e.to_string()),
            Session::Cancelled => {
                CoreError::Unavailable(format!("the statement was cancelled: {e}"))
            }
            Session::Busy => CoreError::Busy,
            Session::Fine => CoreError::Database(e),
        }
    }
}

impl CoreError {
    /// The wire code of this error; a refusal of rows takes its first row's code.
    pub fn code(&self) -> Code {
        match self {
            CoreError::UnknownEntity(_) => Code::UnknownEntity,
            CoreError::RowNotFound(_) => Code::RowNotFound,
            CoreError::Query(q) => q.code(),
            CoreError::Rows(rows) => rows.first().map_or(Code::Persistence, |r| r.code()),
            CoreError::MissingScope(_) | CoreError::BadCredentials => Code::Unauthorized,
            CoreError::MethodNotAllowed(_) => Code::MethodNotAllowed,
            CoreError::FilterRequired(_) => Code::FilterRequired,
            CoreError::Busy | CoreError::Unavailable(_) => Code::Unavailable,
            CoreError::StatementTimeout(_) => Code::StatementTimeout,
            CoreError::Invalid(_) | CoreError::Config(_) | CoreError::ConfigFormat(_) => {
                Code::InvalidInput
            }
            CoreError::NotFound { .. } => Code::NotFound,
            CoreError::PreconditionFailed { .. } => Code::PreconditionFailed,
            CoreError::AlreadyExists { .. } => Code::AlreadyExists,
            CoreError::InvalidUrl(_)
            | CoreError::Migration(_)
            | CoreError::Database(_)
            | CoreError::Corrupt(_) => Code::Internal,
        }
    }

    /// The message a client sees: the error's text, except where the wire has its own words
    /// (and for server-side failures, whose details are only logged).
    pub fn message(&self) -> String {
        match self {
            CoreError::MissingScope(scope) => {
                format!("Unauthorized request. The credentials lack the scope `{scope}`.")
            }
            CoreError::Busy => "The database is busy. Please try again later.".to_string(),
            CoreError::Rows(rows) => match rows.first() {
                Some(first) => first.to_string(),
                None => "Failed to persist the data.".to_string(),
            },
            CoreError::UnknownEntity(_) | CoreError::BadCredentials => {
                self.code().message().to_string()
            }
            other if other.code().is_server_error() => other.code().message().to_string(),
            other => other.to_string(),
        }
    }
}

impl WireError for CoreError {
    fn code(&self) -> Code {
        CoreError::code(self)
    }

    fn message(&self) -> String {
        CoreError::message(self)
    }
}
