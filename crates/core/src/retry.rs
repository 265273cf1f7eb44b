//! Retrying a write transaction that a deadlock or a busy database interrupted.

use std::time::Duration;

use crate::error::CoreError;

/// How many attempts a write gets when deadlocks or a busy database interrupt it.
const RETRIES: u32 = 4;

/// Waits before attempt `attempt` (counted from 0): 20, 40, 80 ms.
fn back_off(attempt: u32) {
    if attempt > 0 {
        std::thread::sleep(Duration::from_millis(10 << attempt));
    }
}

/// Runs `attempt` until it answers `Some`, backing off between tries; `None` or
/// [`CoreError::Busy`] (a SQLite file still locked after the busy timeout, even at `BEGIN`) asks
/// for another try, and [`CoreError::Busy`] answers when every try asked for one.
pub(crate) fn on_busy<T>(
    mut attempt: impl FnMut() -> Result<Option<T>, CoreError>,
) -> Result<T, CoreError> {
    for n in 0..RETRIES {
        back_off(n);
        match attempt() {
            Ok(Some(done)) => return Ok(done),
            Ok(None) | Err(CoreError::Busy) => {}
            Err(e) => return Err(e),
        }
    }
    Err(CoreError::Busy)
}
