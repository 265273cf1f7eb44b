//! Reject records: a refused or malformed line of the file, with the code, status and field
//! of its first error.

use dynex_csv::Malformed;
use dynex_validate::RowError;

/// A refused line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Its line number (the header is line 1).
    pub line: u64,
    /// The first error's code (`1301` for a line that is no row).
    pub code: String,
    /// The HTTP status the API answers for that code.
    pub status: u16,
    /// The field the first error is about, if one.
    pub field: Option<String>,
    /// Every error of the row, `; `-separated.
    pub message: String,
    /// The line's cells as read.
    pub cells: Vec<String>,
}

/// The field an error is about, where it names one.
fn error_field(e: &RowError) -> Option<String> {
    match e {
        RowError::Immutable { field, .. }
        | RowError::InvalidType { field, .. }
        | RowError::InvalidValue { field, .. }
        | RowError::Required { field, .. }
        | RowError::UnknownField { field, .. }
        | RowError::InvalidUrl { field, .. }
        | RowError::IdentifierConflict { field, .. } => Some(field.clone()),
        RowError::Duplicate { path }
        | RowError::MissingReference { path }
        | RowError::NotNull { path } => {
            // The database names the field after the row's path when it can.
            path.rsplit_once("].").map(|(_, f)| f.to_string())
        }
        _ => None,
    }
}

/// A refused line: the first error decides the code, status and field.
pub(super) fn reject_of(line: u64, cells: Vec<String>, errors: &[RowError]) -> Reject {
    let first = errors.first();
    let code = first.map_or(dynex_wire::Code::Persistence, RowError::code);
    Reject {
        line,
        code: code.as_str().to_string(),
        status: code.status(),
        field: first.and_then(error_field),
        message: errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        cells,
    }
}

/// A line that is not a row (wrong number of cells, not UTF-8, bad quoting).
pub(super) fn malformed(m: Malformed) -> Reject {
    Reject {
        line: m.line,
        code: RowError::InvalidFormat.code().to_string(),
        status: RowError::InvalidFormat.status(),
        field: None,
        message: format!("Line {} is not a row: {}.", m.line, m.reason),
        cells: m.cells,
    }
}
