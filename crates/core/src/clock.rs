//! The one notion of "now": token issue times and expiry, revocations, login limits, job
//! progress and key expiry all read the wall clock here.
//!
//! A test can [`freeze`] the clock on its own thread, to check what happens at an exact
//! instant (the last millisecond before a token expires, and the first after).

use std::cell::Cell;

use chrono::NaiveDateTime;

thread_local! {
    /// The instant the clock is frozen at on this thread, if it is.
    static FROZEN: Cell<Option<i64>> = const { Cell::new(None) };
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    if let Some(ms) = FROZEN.with(Cell::get) {
        return ms;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The current UTC date and time, as API key expiry dates are stored.
pub(crate) fn now_utc() -> NaiveDateTime {
    match FROZEN.with(Cell::get) {
        Some(ms) => chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .naive_utc(),
        None => chrono::Utc::now().naive_utc(),
    }
}

/// The clock of one thread, frozen by [`freeze`] until this is dropped.
#[must_use = "the clock thaws when this is dropped"]
pub struct Frozen {
    previous: Option<i64>,
}

/// Freezes the clock of the calling thread at `ms` (milliseconds since the epoch).
///
/// What dynex does on this thread sees that instant until the guard is dropped. For tests;
/// other threads keep the wall clock.
pub fn freeze(ms: i64) -> Frozen {
    Frozen {
        previous: FROZEN.with(|f| f.replace(Some(ms))),
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        FROZEN.with(|f| f.set(self.previous));
    }
}
