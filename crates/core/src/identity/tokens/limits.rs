//! Login limits: failed logins counted per principal and per address in a sliding window,
//! refusing further attempts for a while once either has used up its failures.
//!
//! An attempt claims its place before its password is checked: it records itself as a failure
//! first and then counts the others. Checking a password takes a while (Argon2), so counting
//! first let every attempt of a burst pass the count before any had failed (30 parallel wrong
//! passwords were 11 evaluated with a limit of 5). Recorded first, each attempt sees at least
//! every attempt recorded before it, so at most `limit` are evaluated whatever the timing, on
//! every backend, without a lock. An attempt that is refused, or whose password is right, takes
//! its record back.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::{GrantError, millis};
use crate::clock::now_ms;
use crate::db::AnyConnection;
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
    id: i32,
    subject: String,
    failed_at: i64,
}

/// Rate-limit subjects of one login attempt: the principal and the address.
pub(super) struct Subjects {
    principal: String,
    address: String,
}

/// A login attempt that holds its place among the failures of its subjects (see the module
/// documentation): it stays a failure unless [`Claim::succeed`] or [`Claim::release`] takes it
/// back.
pub(super) struct Claim<'s> {
    subjects: &'s Subjects,
    /// The ids of the rows recorded for the principal and for the address.
    ids: [i32; 2],
}

/// Records one failure of `subject` at `at` and returns its id.
fn record(conn: &mut AnyConnection, subject: &str, at: i64) -> Result<i32, CoreError> {
    let insert = diesel::insert_into(dynex_login_failure::table).values((
        dynex_login_failure::subject.eq(subject),
        dynex_login_failure::failed_at.eq(at),
    ));
    // Each backend says which id it gave in its own way, on the same connection.
    let id: i64 = match conn {
        AnyConnection::Sqlite(c) => {
            insert.execute(c)?;
            diesel::select(diesel::dsl::sql::<BigInt>("last_insert_rowid()")).get_result(c)?
        }
        #[cfg(feature = "postgres")]
        AnyConnection::Postgres(c) => insert
            .returning(dynex_login_failure::id)
            .get_result::<i32>(c)?
            .into(),
        #[cfg(feature = "mysql")]
        AnyConnection::Mysql(c) => {
            insert.execute(c)?;
            diesel::select(diesel::dsl::sql::<BigInt>(
                "CAST(LAST_INSERT_ID() AS SIGNED)",
            ))
            .get_result(c)?
        }
    };
    i32::try_from(id).map_err(|_| CoreError::Corrupt(format!("a login failure id {id}")))
}

impl Subjects {
    pub(super) fn new(kind: &str, name: &str, address: &str) -> Subjects {
        Subjects {
            principal: format!("{kind}:{}", name.to_ascii_lowercase()),
            address: format!("addr:{address}"),
        }
    }

    /// Claims a place for one attempt: refused when either subject used up its failures within
    /// the window, counting the attempts still being checked.
    pub(super) fn claim(
        &self,
        conn: &mut AnyConnection,
        limits: &LoginLimits,
    ) -> Result<Claim<'_>, GrantError> {
        let now = now_ms();
        let claim = Claim {
            subjects: self,
            ids: [
                record(conn, &self.principal, now)?,
                record(conn, &self.address, now)?,
            ],
        };
        let window = millis(limits.window);
        let rows = dynex_login_failure::table
            .filter(dynex_login_failure::subject.eq_any([&self.principal, &self.address]))
            .filter(dynex_login_failure::failed_at.gt(now - window))
            .select(FailureRow::as_select())
            .order((dynex_login_failure::failed_at, dynex_login_failure::id))
            .load(conn)?;
        let mut wait = 0i64;
        for (subject, max) in [
            (&self.principal, limits.per_principal),
            (&self.address, limits.per_address),
        ] {
            // Every other attempt counts, finished or not.
            let times: Vec<i64> = rows
                .iter()
                .filter(|r| &r.subject == subject && !claim.ids.contains(&r.id))
                .map(|r| r.failed_at)
                .collect();
            if max > 0 && times.len() >= max {
                // Allowed again once enough of the oldest failures leave the window (at most
                // the window: attempts claimed after `now` count too).
                let oldest_that_counts = times[times.len() - max];
                wait = wait.max((oldest_that_counts + window - now).min(window));
            }
        }
        if wait > 0 {
            claim.release(conn)?;
            let secs = u64::try_from((wait + 999) / 1000).unwrap_or(1).max(1);
            return Err(GrantError::TooManyAttempts(secs));
        }
        Ok(claim)
    }
}

impl Claim<'_> {
    /// Keeps the attempt as a failure of both subjects and forgets failures older than the
    /// window.
    pub(super) fn fail(
        self,
        conn: &mut AnyConnection,
        limits: &LoginLimits,
    ) -> Result<(), CoreError> {
        diesel::delete(
            dynex_login_failure::table
                .filter(dynex_login_failure::failed_at.le(now_ms() - millis(limits.window))),
        )
        .execute(conn)?;
        Ok(())
    }

    /// Forgets the principal's failures after a successful login; the address keeps its own
    /// and loses this attempt's.
    pub(super) fn succeed(self, conn: &mut AnyConnection) -> Result<(), CoreError> {
        diesel::delete(
            dynex_login_failure::table
                .filter(dynex_login_failure::subject.eq(&self.subjects.principal))
                .or_filter(dynex_login_failure::id.eq(self.ids[1])),
        )
        .execute(conn)?;
        Ok(())
    }

    /// Takes the attempt back: it was refused, or it could not be checked.
    pub(super) fn release(self, conn: &mut AnyConnection) -> Result<(), CoreError> {
        diesel::delete(dynex_login_failure::table.filter(dynex_login_failure::id.eq_any(self.ids)))
            .execute(conn)?;
        Ok(())
    }
}
