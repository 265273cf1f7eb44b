//! Which pooled connection must not be pooled again: a mark the failing thread leaves for the
//! pool, kept apart from the pool and the error type so that both can use it.

use std::cell::Cell;

thread_local! {
    /// Set when a statement on this thread found its session lost (or a transaction could not be
    /// ended), so that the connection the thread returns next is discarded, not pooled again.
    static DISCARD_ON_RETURN: Cell<bool> = const { Cell::new(false) };
}

/// Marks the connection this thread holds as unusable: the pool closes it when it comes back.
///
/// Called where a statement failed because the session is gone (see `dberr::session`), and
/// where a transaction could not be ended, so a connection never returns to the pool broken or
/// inside an open transaction. A connection from another thread is never affected; a healthy
/// one discarded by mistake only costs a reconnect.
pub(crate) fn discard_on_return() {
    DISCARD_ON_RETURN.with(|d| d.set(true));
}

/// Takes the mark: whether the connection coming back must be discarded. A checkout takes it
/// too, so that a mark left by a failure whose connection went back first condemns no other.
pub(crate) fn take_discard_mark() -> bool {
    DISCARD_ON_RETURN.with(|d| d.replace(false))
}
