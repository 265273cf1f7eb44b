//! Database errors of writes, classified once for every backend.
//!
//! Each backend reports constraint failures differently (PostgreSQL in structured details,
//! MariaDB and SQLite in message text); this module turns them into one [`DbFault`], which the
//! writer maps to a row error with the row's path.

use diesel::result::{DatabaseErrorKind, Error};
use dynex_query::Dialect;

/// What a failed statement means for the rows it wrote.
#[derive(Debug)]
pub(crate) enum DbFault {
    /// A unique key holds the value already; the key's columns when the backend names them.
    Unique(Vec<String>),
    /// A referenced row does not exist (insert/update) or a referencing row still exists
    /// (delete); the referencing columns and table when named.
    ForeignKey {
        columns: Vec<String>,
        table: Option<String>,
    },
    /// A column that does not accept NULL would be NULL.
    NotNull(Option<String>),
    /// The database refused a value (too long, out of range, wrong format, check constraint).
    Data(String),
    /// A deadlock, a serialization failure or a busy database: the attempt may be repeated.
    Retry,
    /// Anything else: not the client's fault.
    Other(Error),
}

/// Classifies a failed write statement.
pub(crate) fn classify(dialect: Dialect, err: Error) -> DbFault {
    let Error::DatabaseError(kind, info) = &err else {
        return DbFault::Other(err);
    };
    let message = info.message().to_string();
    let details = info.details().unwrap_or_default().to_string();
    let lower = message.to_ascii_lowercase();
    match kind {
        DatabaseErrorKind::UniqueViolation => DbFault::Unique(match dialect {
            Dialect::Postgres => key_columns(&details),
            Dialect::Mysql => between(&message, "for key '", "'")
                .map(|k| k.rsplit('.').next().unwrap_or(k).to_string())
                .into_iter()
                .collect(),
            Dialect::Sqlite => sqlite_columns(&message, "constraint failed: "),
        }),
        DatabaseErrorKind::ForeignKeyViolation => match dialect {
            Dialect::Postgres => DbFault::ForeignKey {
                columns: key_columns(&details),
                table: between(&details, "referenced from table \"", "\"").map(str::to_string),
            },
            Dialect::Mysql => DbFault::ForeignKey {
                columns: between(&message, "FOREIGN KEY (`", "`)")
                    .map(|c| c.split("`, `").map(str::to_string).collect())
                    .unwrap_or_default(),
                table: message
                    .contains("delete or update a parent row")
                    .then(|| between(&message, "fails (`", ", CONSTRAINT"))
                    .flatten()
                    .map(|t| {
                        t.rsplit('.')
                            .next()
                            .unwrap_or(t)
                            .trim_matches('`')
                            .to_string()
                    }),
            },
            Dialect::Sqlite => DbFault::ForeignKey {
                columns: Vec::new(),
                table: None,
            },
        },
        DatabaseErrorKind::NotNullViolation => DbFault::NotNull(match dialect {
            Dialect::Postgres => info.column_name().map(str::to_string),
            Dialect::Mysql => between(&message, "Column '", "'").map(str::to_string),
            Dialect::Sqlite => sqlite_columns(&message, "constraint failed: ").pop(),
        }),
        DatabaseErrorKind::SerializationFailure => DbFault::Retry,
        DatabaseErrorKind::CheckViolation => DbFault::Data(message),
        DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::ReadOnlyTransaction => {
            DbFault::Other(err)
        }
        _ => {
            if lower.contains("deadlock")
                || lower.contains("could not serialize")
                || lower.contains("database is locked")
                || lower.contains("lock wait timeout")
                || lower.contains("database table is locked")
            {
                DbFault::Retry
            } else if let Some(col) = between(&message, "Field '", "' doesn't have a default") {
                DbFault::NotNull(Some(col.to_string()))
            } else if lower.contains("permission denied")
                || lower.contains("read-only")
                || lower.contains("readonly")
                || lower.contains("no such table")
                || lower.contains("no such column")
                || lower.contains("does not exist")
                || lower.contains("doesn't exist")
                || lower.contains("unknown column")
                || lower.contains("disk")
                || lower.contains("syntax error")
                || lower.contains("sql syntax")
            {
                // Configuration drift or server trouble, not the client's data.
                DbFault::Other(err)
            } else {
                DbFault::Data(message)
            }
        }
    }
}

/// What a failed statement says about the session and the database, whatever the statement was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Session {
    /// The session is gone: the database restarted, failed over or ended it (`pg_terminate_backend`,
    /// `KILL`, an idle-session killer). The connection must not be pooled again.
    Lost,
    /// The database cancelled the statement at the statement timeout.
    TimedOut,
    /// The statement was cancelled on request: its caller went away (see `crate::cancel`), or
    /// an operator cancelled it (`pg_cancel_backend`, `KILL QUERY`).
    Cancelled,
    /// SQLite's file stayed locked by another writer past the busy timeout.
    Busy,
    /// The session is fine; the statement failed for its own reasons.
    Fine,
}

/// Messages of a lost session. libpq and libmysqlclient report most of these as plain errors,
/// not as a distinct kind.
const LOST: &[&str] = &[
    // PostgreSQL: pg_terminate_backend, a shutdown, a restart, a dropped socket.
    "terminating connection",
    "server closed the connection",
    "no connection to the server",
    "could not receive data from server",
    "could not send data to server",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "connection to server",
    "ssl connection has been closed",
    // MariaDB and MySQL: KILL, wait_timeout, a restart.
    "server has gone away",
    "lost connection to",
    "connection was killed",
    "server shutdown in progress",
    "can't connect to",
    "connection refused",
    "broken pipe",
    "connection reset",
];

/// What a failed statement says about its session.
pub(crate) fn session(err: &Error) -> Session {
    let info = match err {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => return Session::Lost,
        Error::DatabaseError(_, info) => info,
        _ => return Session::Fine,
    };
    let lower = info.message().to_ascii_lowercase();
    if lower.contains("statement timeout") || lower.contains("max_statement_time") {
        Session::TimedOut
    } else if lower.contains("due to user request")
        || lower.contains("query execution was interrupted")
    {
        Session::Cancelled
    } else if LOST.iter().any(|m| lower.contains(m)) {
        Session::Lost
    } else if lower.contains("database is locked") || lower.contains("database table is locked") {
        Session::Busy
    } else {
        Session::Fine
    }
}

/// `Key (a, b)=(1, 2) already exists.` → `["a", "b"]` (PostgreSQL details).
fn key_columns(details: &str) -> Vec<String> {
    between(details, "Key (", ")=")
        .map(|c| {
            c.split(',')
                .map(|s| s.trim().trim_matches('"').to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// `UNIQUE constraint failed: t.a, t.b` → `["a", "b"]` (SQLite messages).
fn sqlite_columns(message: &str, marker: &str) -> Vec<String> {
    message
        .split_once(marker)
        .map(|(_, cols)| {
            cols.split(',')
                .map(|c| c.trim().rsplit('.').next().unwrap_or("").to_string())
                .filter(|c| !c.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_sessions_timeouts_and_locks_are_told_apart() {
        use diesel::result::DatabaseErrorInformation;
        fn err(kind: DatabaseErrorKind, message: &str) -> Error {
            let info: Box<dyn DatabaseErrorInformation + Send + Sync> =
                Box::new(message.to_string());
            Error::DatabaseError(kind, info)
        }
        let unknown = DatabaseErrorKind::Unknown;
        for (message, expected) in [
            (
                "terminating connection due to administrator command",
                Session::Lost,
            ),
            ("MySQL server has gone away", Session::Lost),
            ("Lost connection to server during query", Session::Lost),
            ("Connection was killed", Session::Lost),
            (
                "canceling statement due to statement timeout",
                Session::TimedOut,
            ),
            (
                "Query execution was interrupted (max_statement_time exceeded)",
                Session::TimedOut,
            ),
            ("database is locked", Session::Busy),
            (
                "canceling statement due to user request",
                Session::Cancelled,
            ),
            ("Query execution was interrupted", Session::Cancelled),
            (
                "duplicate key value violates unique constraint",
                Session::Fine,
            ),
        ] {
            assert_eq!(session(&err(unknown, message)), expected, "{message}");
        }
        assert_eq!(
            session(&err(DatabaseErrorKind::ClosedConnection, "")),
            Session::Lost
        );
        assert_eq!(session(&Error::NotFound), Session::Fine);
    }

    #[test]
    fn backend_messages_name_their_columns() {
        assert_eq!(
            key_columns("Key (iso2_code)=(AT) already exists."),
            vec!["iso2_code"]
        );
        assert_eq!(
            key_columns("Key (fk_a, fk_b)=(1, 2) already exists."),
            vec!["fk_a", "fk_b"]
        );
        assert_eq!(
            sqlite_columns(
                "UNIQUE constraint failed: spy_country.iso2_code",
                "constraint failed: "
            ),
            vec!["iso2_code"]
        );
        assert_eq!(
            between(
                "Cannot delete or update a parent row: a foreign key constraint fails \
                 (`db`.`spy_tax_rate`, CONSTRAINT `fk` FOREIGN KEY (`fk_country`) REFERENCES \
                 `spy_country` (`id_country`))",
                "fails (`",
                ", CONSTRAINT"
            ),
            Some("db`.`spy_tax_rate`")
        );
    }
}
