//! Cancelling the statements of a caller that went away.
//!
//! A request whose client closed its connection should not keep a pooled connection busy for
//! the length of the statement timeout: eight slow filters from clients that gave up would
//! hold a pool of eight. The server runs each request's database work inside a [`Cancel`]
//! scope ([`Cancel::within`]); every connection taken from a pool on that thread registers
//! its session there (PostgreSQL's backend pid, MariaDB's connection id), and
//! [`Cancel::cancel`] asks the database, from a connection of its own, to cancel the statement
//! those sessions run (`pg_cancel_backend`, `KILL QUERY`). A connection is unregistered the
//! moment it goes back to the pool, under the same lock the cancel holds, so a cancel never
//! reaches a session that serves someone else by then. Once cancelled, the scope refuses every
//! further checkout, so the caller's work stops at its next statement.
//!
//! SQLite runs statements inside the process and its driver exposes no interrupt: a statement
//! already running there ends on its own; the scope stops the ones after it.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::CoreError;

thread_local! {
    /// The scope of the work running on this thread, if any.
    static CURRENT: RefCell<Option<Arc<Scope>>> = const { RefCell::new(None) };
}

/// A handle to cancel the database work of one caller; clones share it.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<Scope>);

#[derive(Debug, Default)]
struct Scope {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    cancelled: bool,
    /// The sessions this scope's thread holds now.
    sessions: Vec<Session>,
}

/// A database session running a scope's statements, and who can cancel them.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) id: BackendId,
    pub(crate) canceller: Arc<dyn Cancels>,
}

/// The database's own id of a session: PostgreSQL's backend pid, MariaDB's connection id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BackendId(pub(crate) u64);

impl Cancel {
    /// A new scope, not cancelled.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Runs `f` on this thread inside the scope: connections it takes from a pool can be
    /// cancelled through [`Cancel::cancel`] while it holds them.
    ///
    /// Work of a scope cancelled before it started does not run at all; the answer is then
    /// [`CoreError::Unavailable`].
    pub fn within<R>(&self, f: impl FnOnce() -> Result<R, CoreError>) -> Result<R, CoreError> {
        if self.is_cancelled() {
            return Err(cancelled());
        }
        let previous = CURRENT.with(|c| c.replace(Some(self.0.clone())));
        /// Restores the thread's previous scope, however `f` ends.
        struct Restore(Option<Arc<Scope>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                if let Some(scope) = CURRENT.with(|c| c.replace(self.0.take())) {
                    scope.lock().sessions.clear();
                }
            }
        }
        let _restore = Restore(previous);
        f()
    }

    /// Cancels the scope: the statements its sessions run now are cancelled by the database,
    /// and the scope's next checkout fails. Blocking: it may open a connection.
    pub fn cancel(&self) {
        let mut state = self.0.lock();
        state.cancelled = true;
        // Under the lock: a session cannot go back to the pool (and on to another caller)
        // while its cancel is on the way.
        for session in &state.sessions {
            if let Err(e) = session.canceller.cancel(session.id) {
                log::warn!("cannot cancel the statement of a caller that went away: {e}");
            }
        }
        state.sessions.clear();
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.lock().cancelled
    }
}

impl Scope {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn cancelled() -> CoreError {
    CoreError::Unavailable("the request was cancelled: its client went away".into())
}

/// Whether this thread runs inside a scope (then checkouts register their session).
pub(crate) fn active() -> bool {
    CURRENT.with(|c| c.borrow().is_some())
}

/// Registers a session just taken from the pool with this thread's scope; fails when the
/// scope was cancelled.
pub(crate) fn checked_out(session: Option<Session>) -> Result<(), CoreError> {
    CURRENT.with(|c| {
        let Some(scope) = &*c.borrow() else {
            return Ok(());
        };
        let mut state = scope.lock();
        if state.cancelled {
            return Err(cancelled());
        }
        state.sessions.extend(session);
        Ok(())
    })
}

/// Unregisters this thread's sessions: a connection is going back to the pool.
///
/// The pool does not say which one, so all are unregistered: a thread that still holds
/// another connection loses the chance to cancel it, never the safety of the one returned.
pub(crate) fn returned() {
    CURRENT.with(|c| {
        if let Some(scope) = &*c.borrow() {
            scope.lock().sessions.clear();
        }
    });
}

/// Cancels the statement a session runs, from outside it (the database's own cancel).
pub(crate) trait Cancels: Send + Sync + std::fmt::Debug {
    /// Cancels the statement the session `id` runs now; a session running none is left alone.
    fn cancel(&self, id: BackendId) -> Result<(), CoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Db;

    /// A cancelled scope takes no further connection and runs no new work; the pool serves
    /// everyone else on.
    #[test]
    fn a_cancelled_scope_stops_at_its_next_checkout() {
        let dir = tempfile::tempdir().expect("a directory");
        let db =
            Db::connect(&format!("sqlite://{}/c.db", dir.path().display()), 2).expect("a database");
        let cancel = Cancel::new();
        assert_eq!(cancel.within(|| db.conn().map(|_| 1)).expect("work"), 1);
        let same = cancel.clone();
        let stopped = cancel.within(|| {
            let _held = db.conn()?;
            same.cancel();
            db.conn().map(|_| ())
        });
        assert!(
            matches!(&stopped, Err(CoreError::Unavailable(m)) if m.contains("went away")),
            "{stopped:?}"
        );
        let mut ran = false;
        assert!(
            cancel
                .within(|| {
                    ran = true;
                    Ok(())
                })
                .is_err()
        );
        assert!(!ran, "work of a cancelled scope ran");
        assert!(!active(), "the scope outlived its work");
        db.conn().expect("the pool serves on");
    }
}
