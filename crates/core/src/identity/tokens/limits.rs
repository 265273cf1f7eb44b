//! Login limits: failed logins counted per principal and per address in a sliding window,
//! refusing further attempts for a while once either has used up its failures.

use std::time::Duration;

use diesel::prelude::*;

use super::{GrantError, millis};
use crate::clock::now_ms;
use crate::db::{AnyConnection, on_backend};
use crate::error::CoreError;
use crate::schema::dynex_login_failure;

/// How many failed logins are tolerated before further attempts are refused for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures per user name or client id within [`LoginLimits::window`].
    pub per_principal: usize,
    /// Failures per client address within [`LoginLimits::window`], whatever names it tried.
    pub per_address: usize,
    /// The sliding window failures are counted in.
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_principal: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = dynex_login_failure, check_for_backend(crate::db::MultiBackend))]
struct FailureRow {
    subject: String,
    failed_at: i64,
}

/// Rate-limit subjects of one login attempt: the principal and the address.
pub(super) struct Subjects {
    principal: String,
    address: String,
}

impl Subjects {
    pub(super) fn new(kind: &str, name: &str, address: &str) -> Subjects {
        Subjects {
            principal: format!("{kind}:{}", name.to_ascii_lowercase()),
            address: format!("addr:{address}"),
        }
    }

    /// Refuses the attempt when either subject used up its failures within the window.
    pub(super) fn check(
        &self,
        conn: &mut AnyConnection,
        limits: &LoginLimits,
    ) -> Result<(), GrantError> {
        let now = now_ms();
        let window = millis(limits.window);
        let rows = dynex_login_failure::table
            .filter(dynex_login_failure::subject.eq_any([&self.principal, &self.address]))
            .filter(dynex_login_failure::failed_at.gt(now - window))
            .select(FailureRow::as_select())
            .order(dynex_login_failure::failed_at)
            .load(conn)?;
        let mut wait = 0i64;
        for (subject, max) in [
            (&self.principal, limits.per_principal),
            (&self.address, limits.per_address),
        ] {
            let times: Vec<i64> = rows
                .iter()
                .filter(|r| &r.subject == subject)
                .map(|r| r.failed_at)
                .collect();
            if max > 0 && times.len() >= max {
                // Allowed again once enough of the oldest failures leave the window.
                let oldest_that_counts = times[times.len() - max];
                wait = wait.max(oldest_that_counts + window - now);
            }
        }
        if wait > 0 {
            let secs = u64::try_from((wait + 999) / 1000).unwrap_or(1).max(1);
            return Err(GrantError::TooManyAttempts(secs));
        }
        Ok(())
    }

    /// Records a failure for both subjects and forgets failures older than the window.
    pub(super) fn fail(
        &self,
        conn: &mut AnyConnection,
        limits: &LoginLimits,
    ) -> Result<(), CoreError> {
        let now = now_ms();
        let insert = diesel::insert_into(dynex_login_failure::table).values(vec![
            (
                dynex_login_failure::subject.eq(&self.principal),
                dynex_login_failure::failed_at.eq(now),
            ),
            (
                dynex_login_failure::subject.eq(&self.address),
                dynex_login_failure::failed_at.eq(now),
            ),
        ]);
        // On the backend's own connection: diesel's multi-backend connection has no multi-row
        // `INSERT`.
        on_backend!(conn, c => insert.execute(c))?;
        diesel::delete(
            dynex_login_failure::table
                .filter(dynex_login_failure::failed_at.le(now - millis(limits.window))),
        )
        .execute(conn)?;
        Ok(())
    }

    /// Forgets the principal's failures after a successful login (the address keeps its own).
    pub(super) fn succeed(&self, conn: &mut AnyConnection) -> Result<(), CoreError> {
        diesel::delete(
            dynex_login_failure::table.filter(dynex_login_failure::subject.eq(&self.principal)),
        )
        .execute(conn)?;
        Ok(())
    }
}
