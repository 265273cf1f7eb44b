//! The core's error type; the server maps each variant to a wire code and HTTP status.

use dynex_query::QueryError;
use dynex_schema::ConfigError;

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
    Database(#[from] diesel::result::Error),
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
}
