//! Where rows go: the [`Target`] trait, for every target but this dynex's own entities.
//!
//! An `entity` target writes through the import engine of `dynex-core` (one connection and one
//! batch per page, see [`crate::run`]); every other target is a [`Target`]: it is handed the
//! rows of one page at a time and says which it delivered and which the other side refused. A
//! refused row becomes a dead letter; an error ends the run.

pub mod csv;
pub mod dx;
pub mod http;

pub use dynex_core::RecordRow;

/// What a target did with one page's rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Rows the other side created.
    pub inserted: u64,
    /// Rows the other side changed.
    pub updated: u64,
    /// Rows the other side already had as they are.
    pub unchanged: u64,
    /// Rows the other side refused, each with why.
    pub refused: Vec<Refusal>,
    /// The requests sent, each with the numbers of its rows, for the list of deliveries (an
    /// `http` target's).
    pub deliveries: Vec<(Vec<u64>, dynex_core::changes::NewDelivery)>,
}

/// A row the other side refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The row's number ([`RecordRow::number`]).
    pub number: u64,
    /// The other side's code for it (an HTTP status or an error code).
    pub code: String,
    /// The field it is about, when the other side says.
    pub field: Option<String>,
    /// What the other side said.
    pub message: String,
}

/// Why a target could not take a page: the run ends as failed, what earlier pages delivered
/// stays.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(pub String);

/// A place rows are delivered to, a page at a time.
pub trait Target {
    /// Delivers one page's rows; rows the other side refuses are listed in the result, not
    /// returned as an error.
    fn deliver(&mut self, rows: Vec<RecordRow>) -> Result<Delivered, TargetError>;

    /// Called once after the last page of a run that did not fail (a file is completed here).
    fn finish(&mut self) -> Result<(), TargetError> {
        Ok(())
    }
}
