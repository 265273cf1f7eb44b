//! The audit log: who changed what, when and from where.
//!
//! Every change of the configuration, API keys, users, clients, token revocations and jobs is
//! recorded in `dynex_audit` by the [`Dynex`] handle that made it, with the [`Actor`] the handle
//! acts for ([`Dynex::acting`]); data writes too when [`crate::Options::audit_data_writes`] is
//! on. Entries never hold secrets: a key's or client's secret, a password or a token.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::db::AnyConnection;
use crate::error::CoreError;
use crate::schema::dynex_audit;
use crate::{Dynex, clock};

/// Who acts, and from where: the principal of a request and the client's address, or the
/// CLI's operating-system user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The API key's, user's or client's name, or the operating-system user.
    pub name: String,
    /// The client's address, or `cli`.
    pub source: String,
}

impl Actor {
    /// The actor of a handle nobody named: a program embedding dynex.
    pub fn local() -> Actor {
        Actor {
            name: "local".into(),
            source: "local".into(),
        }
    }

    /// The command-line tool, run by the operating-system user `$USER` (`cli` if unknown).
    pub fn cli() -> Actor {
        Actor {
            name: std::env::var("USER")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "cli".into()),
            source: "cli".into(),
        }
    }
}

/// A change to record: what was done, to what, with what details.
#[derive(Debug)]
pub(crate) struct Audit {
    action: &'static str,
    target: String,
    detail: Value,
}

impl Audit {
    /// `action` (as `area.verb`) done to `target`.
    pub(crate) fn new(action: &'static str, target: impl Into<String>) -> Audit {
        Audit {
            action,
            target: target.into(),
            detail: json!({}),
        }
    }

    /// The same with details (never a secret).
    pub(crate) fn with(mut self, detail: Value) -> Audit {
        self.detail = detail;
        self
    }
}

/// Whether a change's result says something changed (a revocation of an unknown name did not).
pub(crate) trait Changed {
    /// Whether to record the change.
    fn changed(&self) -> bool;
}

impl Changed for bool {
    fn changed(&self) -> bool {
        *self
    }
}

impl Changed for () {
    fn changed(&self) -> bool {
        true
    }
}

impl Changed for crate::NewApiKey {
    fn changed(&self) -> bool {
        true
    }
}

impl Changed for crate::NewClient {
    fn changed(&self) -> bool {
        true
    }
}

impl Changed for crate::UserInfo {
    fn changed(&self) -> bool {
        true
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    /// Ascending with time; the cursor of [`AuditFilter::before`].
    pub id: i64,
    /// When, in UTC (`2026-12-06T15:20:01.123Z`).
    pub at: String,
    /// Who ([`Actor::name`]).
    pub actor: String,
    /// From where ([`Actor::source`]).
    pub source: String,
    /// What, as `area.verb` (`key.create`, `entity.save`, `data.update`).
    pub action: String,
    /// What it was done to.
    pub target: String,
    /// More: scopes of a new key, identifiers of written rows.
    pub detail: Value,
}

/// Which entries to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// At most this many (1 to 1000; 100 when 0).
    pub limit: u32,
    /// Only entries older than this id (the last id of the previous page).
    pub before: Option<i64>,
    /// Only this action, or every action of an area with `area.` (`key.`).
    pub action: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this target.
    pub target: Option<String>,
}

/// The longest stored text of a column (`VARCHAR(255)`), in characters.
const COLUMN_CHARS: usize = 255;

fn clip(text: &str) -> String {
    text.chars().take(COLUMN_CHARS).collect()
}

/// Writes one entry.
pub(crate) fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    audit: &Audit,
) -> Result<(), CoreError> {
    diesel::insert_into(dynex_audit::table)
        .values((
            dynex_audit::at_ms.eq(clock::now_ms()),
            dynex_audit::actor.eq(clip(&actor.name)),
            dynex_audit::source.eq(clip(&actor.source)),
            dynex_audit::action.eq(audit.action),
            dynex_audit::target.eq(clip(&audit.target)),
            dynex_audit::detail.eq(audit.detail.to_string()),
        ))
        .execute(conn)?;
    Ok(())
}

fn at_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// The audit log.
impl Dynex {
    /// A handle on the same database that records `actor` as the author of its changes.
    pub fn acting(&self, actor: Actor) -> Dynex {
        Dynex {
            inner: Arc::clone(&self.inner),
            actor: Some(Arc::new(actor)),
        }
    }

    /// Whether data writes are recorded ([`crate::Options::audit_data_writes`]).
    pub fn audits_data_writes(&self) -> bool {
        self.inner.options.audit_data_writes
    }

    /// Who this handle's changes are recorded for.
    pub fn actor(&self) -> Actor {
        self.actor.as_deref().cloned().unwrap_or_else(Actor::local)
    }

    /// Records `audit` as done by this handle's actor. A failure is logged, not returned: the
    /// change it describes is done already.
    pub(crate) fn audit(&self, conn: &mut AnyConnection, audit: &Audit) {
        if let Err(e) = record(conn, &self.actor(), audit) {
            log::error!(
                "the audit log could not record {} of `{}`: {e}",
                audit.action,
                audit.target
            );
        }
    }

    /// Lists audit entries, newest first.
    pub fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, CoreError> {
        let limit = match filter.limit {
            0 => 100,
            n => n.min(1000),
        };
        let mut query = dynex_audit::table.into_boxed();
        if let Some(before) = filter.before {
            query = query.filter(dynex_audit::id.lt(before));
        }
        if let Some(action) = &filter.action {
            if action.is_empty()
                || !action
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'-')
            {
                return Err(CoreError::Invalid(format!(
                    "invalid action `{action}`: expected `area.verb` or `area.`"
                )));
            }
            query = match action.strip_suffix('.') {
                Some(area) => query.filter(dynex_audit::action.like(format!("{area}.%"))),
                None => query.filter(dynex_audit::action.eq(action.clone())),
            };
        }
        if let Some(actor) = &filter.actor {
            query = query.filter(dynex_audit::actor.eq(actor.clone()));
        }
        if let Some(target) = &filter.target {
            query = query.filter(dynex_audit::target.eq(target.clone()));
        }
        let rows: Vec<(i64, i64, String, String, String, String, String)> = query
            .order(dynex_audit::id.desc())
            .limit(i64::from(limit))
            .select((
                dynex_audit::id,
                dynex_audit::at_ms,
                dynex_audit::actor,
                dynex_audit::source,
                dynex_audit::action,
                dynex_audit::target,
                dynex_audit::detail,
            ))
            .load(&mut *self.inner.db.conn()?)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, at, actor, source, action, target, detail)| AuditEntry {
                    id,
                    at: at_text(at),
                    actor,
                    source,
                    action,
                    target,
                    detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
                },
            )
            .collect())
    }

    /// Deletes entries older than `age`; returns how many.
    pub fn prune_audit(&self, age: Duration) -> Result<usize, CoreError> {
        let age = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        let cutoff = clock::now_ms().saturating_sub(age);
        Ok(
            diesel::delete(dynex_audit::table.filter(dynex_audit::at_ms.lt(cutoff)))
                .execute(&mut *self.inner.db.conn()?)?,
        )
    }
}
