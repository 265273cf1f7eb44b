//! The one notion of "now": token issue times, revocations, login limits, job progress and key
//! expiry all read the wall clock here.

use chrono::NaiveDateTime;

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The current UTC date and time, as API key expiry dates are stored.
pub(crate) fn now_utc() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}
