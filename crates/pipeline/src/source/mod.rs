//! Where records come from: the [`Source`] trait and the sources dynex brings.
//!
//! A source hands out records a page at a time; the run maps and writes each page before it asks
//! for the next one (a source that may be read ahead is read a page ahead, on a thread of its
//! own), so memory holds a few pages whatever the volume. A program that embeds dynex
//! implements [`Source`] for a system nobody else supports.

pub mod ahead;
pub mod changes;
pub mod csv;
pub mod dx;
pub mod entity;
pub mod http;

use crate::Record;

/// What a run tells its source before the first page.
#[derive(Debug, Clone, Default)]
pub struct Start {
    /// What the last successful run left to continue from: the highest value of the cursor
    /// field it delivered, or the source's own token ([`Page::token`]). `None` on a first run
    /// and on a `--full` one.
    pub cursor: Option<serde_json::Value>,
}

/// One page of records.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Page {
    /// The records, in the source's order.
    pub records: Vec<Record>,
    /// The source's own position after this page (a cursor token of its API), kept as the
    /// pipeline's cursor once the page's records are committed; `None` when the source has no
    /// such token and the cursor is a field of the records.
    pub token: Option<String>,
    /// What the source read but could not make a record of (a malformed line of a file, a
    /// file that is not CSV): each becomes a dead letter of the stage `read`, committed with
    /// the page, while the page's good records go on.
    pub rejected: Vec<Rejected>,
}

/// Something a source read but could not make a record of, kept as a dead letter.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// What was read, as far as it goes (a line's cells, a file's name), for people to find it.
    pub record: Record,
    /// A short code for why (`1301` for a malformed line, as `dynex import` reports it).
    pub code: String,
    /// Why it is no record.
    pub message: String,
}

/// Why a source could not deliver its next page. The run ends as failed with this cause;
/// what earlier pages committed stays.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The request failed: a network error, or an answer refused after the retries (`status`
    /// is the last HTTP status, if any).
    #[error("request to {url} failed{}: {message}", status.map(|s| format!(" with status {s}")).unwrap_or_default())]
    Request {
        /// The URL requested (without credentials).
        url: String,
        /// The last HTTP status, when an answer came.
        status: Option<u16>,
        /// What went wrong.
        message: String,
    },
    /// The answer came but is not what the definition expects (not JSON, no records where the
    /// path points).
    #[error("unexpected answer from {url}: {message}")]
    Malformed {
        /// The URL requested (without credentials).
        url: String,
        /// What is wrong with the answer.
        message: String,
    },
    /// Logging in failed (a token request was refused).
    #[error("authentication failed: {0}")]
    Auth(String),
    /// Any other failure of the source (a file that cannot be read, a connector's own error).
    #[error("{0}")]
    Other(String),
}

/// A source of records, read a page at a time.
pub trait Source: Send {
    /// Reads the next page; `Ok(None)` once the source has no more records.
    fn next_page(&mut self) -> Result<Option<Page>, SourceError>;

    /// The records of the last page handed out are committed by the target: a source that
    /// acknowledges what it delivered (a file moved to `done/`, a message acknowledged) does it
    /// here. Not called in a dry run, nor after a page whose delivery failed.
    fn committed(&mut self) -> Result<(), SourceError> {
        Ok(())
    }

    /// Whether the run may read this source's next pages before the page handed out is
    /// committed, on a thread of its own ([`ahead::Ahead`]): true for a source whose
    /// [`Source::committed`] does nothing, so that reading overlaps writing. A source that
    /// acknowledges each page keeps the default, `false`.
    fn read_ahead(&self) -> bool {
        false
    }
}
