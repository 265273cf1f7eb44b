//! Database failures mapped for a write or delete attempt: a row error naming the refused row
//! and field, a retry, or a fatal error.

use dynex_query::Dialect;
use dynex_schema::Entity;
use dynex_validate::RowError;

use crate::dberr::{DbFault, classify};
use crate::error::CoreError;

/// Why an attempt stopped early.
pub(crate) enum Abort {
    /// A deadlock or busy database: try again.
    Retry,
    /// The database refused a set-based statement (a duplicate, a missing reference, a row
    /// still referenced): repeat row by row to name the rows.
    Refused,
    /// Not the client's fault.
    Fatal(CoreError),
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Abort {
        Abort::Fatal(CoreError::from(e))
    }
}

impl From<CoreError> for Abort {
    fn from(e: CoreError) -> Abort {
        Abort::Fatal(e)
    }
}

/// The visible name of `column` in `entity`, or the column itself when it is not exposed.
fn visible(entity: &Entity, column: &str) -> String {
    entity
        .fields()
        .iter()
        .find(|f| f.field_name == column)
        .map_or_else(|| column.to_string(), |f| f.field_visible_name.clone())
}

/// The row error for a statement the database refused for one row.
pub(crate) fn refusal(entity: &Entity, path: &str, fault: DbFault) -> Result<RowError, Abort> {
    // MariaDB names the unique key, not its columns; a key name is not a field.
    let with = |col: Option<&String>| match col {
        Some(c) if entity.column(c).is_some() => format!("{path}.{}", visible(entity, c)),
        _ => path.to_string(),
    };
    Ok(match fault {
        DbFault::Unique(cols) => RowError::Duplicate {
            path: with(cols.first()),
        },
        DbFault::ForeignKey { columns, .. } => RowError::MissingReference {
            path: with(columns.first()),
        },
        DbFault::NotNull(col) => RowError::NotNull {
            path: with(col.as_ref()),
        },
        DbFault::Data(reason) => RowError::Persistence {
            path: path.to_string(),
            reason: Some(reason),
        },
        DbFault::Retry => return Err(Abort::Retry),
        DbFault::Other(e) => return Err(Abort::Fatal(CoreError::from(e))),
    })
}

/// How a set-based statement failed, for the attempt.
pub(crate) fn abort(dialect: Dialect, e: diesel::result::Error) -> Abort {
    match classify(dialect, e) {
        DbFault::Retry => Abort::Retry,
        DbFault::Other(e) => Abort::Fatal(CoreError::from(e)),
        _ => Abort::Refused,
    }
}
