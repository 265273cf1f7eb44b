//! Change events: a row per row written to an entity that a pipeline's `changes` source
//! follows, recorded in the transaction of the write (a transactional outbox).
//!
//! Writes of the API, imports and pipelines with an entity target add their events with one
//! multi-row `INSERT` per batch, just before the batch commits: an event exists exactly when
//! its change committed. Only followed entities pay for it; which ones are followed is computed
//! from the stored definitions with the configuration snapshot, so the write path asks no
//! query. Saving or removing a pipeline bumps the configuration version, so every process
//! (another server, the CLI) follows the new set at its next version check.
//!
//! **Order.** Event ids ascend in the order the events were *inserted*, and a transaction that
//! took an id first may commit after one that took a later id (PostgreSQL and MariaDB allocate
//! ids outside the transaction). A reader that kept only "the highest id seen" would skip such
//! an event forever. [`Dynex::change_events`] therefore stops at the first gap in the ids it
//! reads until the event after the gap is [`SETTLE`] old: a missing id is either an event not
//! committed yet (it appears within that time, as events are the last statement before a
//! commit) or an id a rolled-back transaction burned (it never appears).

use std::collections::HashSet;

use diesel::prelude::*;
use dynex_query::{Dialect, Sql, Value};
use serde::Serialize;
use serde_json::Value as Json;

use crate::Dynex;
use crate::clock;
use crate::db::AnyConnection;
use crate::error::CoreError;
use crate::schema::dynex_change;

/// How long the event after a gap in the ids must be old before the gap is taken for an id a
/// rolled-back transaction burned, and skipped.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(3);

/// How long events are kept once every `changes` pipeline has read them.
pub const CHANGE_RETENTION: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// How long events are kept at most, read or not (a pipeline that never runs holds nothing back
/// longer).
pub const CHANGE_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Events inserted per statement (7 values each, far below every backend's limit of binds).
const EVENTS_PER_STATEMENT: usize = 500;

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeOperation {
    /// A new row.
    Insert,
    /// A changed row.
    Update,
    /// A removed row.
    Delete,
}

impl ChangeOperation {
    /// The name events keep.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOperation::Insert => "insert",
            ChangeOperation::Update => "update",
            ChangeOperation::Delete => "delete",
        }
    }
}

/// An event about to be recorded.
#[derive(Debug, Clone)]
pub(crate) struct NewChange {
    pub entity: String,
    pub identifier: Json,
    pub operation: ChangeOperation,
    pub fields: Vec<String>,
}

/// What a write needs to record its events: the followed entities and who writes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Changes<'a> {
    pub followed: &'a HashSet<String>,
    pub principal: &'a str,
}

impl<'a> Changes<'a> {
    /// `None` when no entity is followed: the write records nothing.
    pub(crate) fn of(followed: &'a HashSet<String>, principal: &'a str) -> Option<Changes<'a>> {
        (!followed.is_empty()).then_some(Changes {
            followed,
            principal,
        })
    }

    /// Whether writes of `alias` record events.
    pub(crate) fn follows(&self, alias: &str) -> bool {
        self.followed.contains(alias)
    }
}

/// A recorded change event.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable)]
#[diesel(table_name = dynex_change, check_for_backend(crate::db::MultiBackend))]
pub struct ChangeEvent {
    /// The event's id, ascending with the writes.
    pub id: i64,
    /// The entity's alias.
    pub entity: String,
    /// The row's identifier (JSON text).
    pub identifier: String,
    /// `insert`, `update` or `delete`.
    pub operation: String,
    /// The visible names of the fields that changed (JSON array text).
    pub fields: String,
    /// Who wrote: an API key's, user's or client's name, `import`, `pipeline:NAME`.
    pub principal: String,
    /// When (Unix milliseconds).
    pub created_ms: i64,
}

/// A page of events ([`Dynex::change_events`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangePage {
    /// The events of the entities asked for, in id order.
    pub events: Vec<ChangeEvent>,
    /// The id up to which every event was read (of any entity): where the next page starts.
    /// `None` when nothing settled was read.
    pub position: Option<i64>,
    /// Whether more events may follow at once (the page was full).
    pub more: bool,
    /// Whether reading stopped at a gap in the ids that has not settled: events may follow
    /// within [`SETTLE`].
    pub waiting: bool,
}

/// The entities that `changes` sources of the stored definitions follow. A definition that is
/// not YAML follows nothing (it was checked when it was saved).
pub(crate) fn followed<'d>(definitions: impl Iterator<Item = &'d str>) -> HashSet<String> {
    let mut out = HashSet::new();
    for text in definitions {
        out.extend(definition_follows(text));
    }
    out
}

/// The entities one definition's `changes` source follows.
pub(crate) fn definition_follows(text: &str) -> Vec<String> {
    let Ok(doc) = serde_norway::from_str::<serde_norway::Value>(text) else {
        return Vec::new();
    };
    doc.get("source")
        .and_then(|s| s.get("changes"))
        .and_then(|c| c.get("entities"))
        .and_then(|e| e.as_sequence())
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Inserts `changes` on `conn` (inside the write's transaction), a statement per
/// [`EVENTS_PER_STATEMENT`].
pub(crate) fn insert(
    conn: &mut AnyConnection,
    dialect: Dialect,
    changes: &[NewChange],
    principal: &str,
) -> QueryResult<()> {
    let _ = dialect;
    let now = clock::now_ms();
    for chunk in changes.chunks(EVENTS_PER_STATEMENT) {
        let mut sql = Sql::with_capacity(chunk.len() * 16 + 4);
        sql.push_static("INSERT INTO ");
        sql.ident("dynex_change");
        sql.push_static(" (entity, identifier, operation, fields, principal, created_ms) VALUES ");
        for (i, c) in chunk.iter().enumerate() {
            sql.push_static(if i == 0 { "(" } else { ", (" });
            sql.bind(Value::Text(c.entity.clone()));
            sql.push_static(", ");
            sql.bind(Value::Text(c.identifier.to_string()));
            sql.push_static(", ");
            sql.bind(Value::Text(c.operation.as_str().to_string()));
            sql.push_static(", ");
            sql.bind(Value::Text(
                serde_json::to_string(&c.fields).unwrap_or_else(|_| "[]".into()),
            ));
            sql.push_static(", ");
            sql.bind(Value::Text(principal.to_string()));
            sql.push_static(", ");
            sql.bind(Value::Int(now));
            sql.push_static(")");
        }
        crate::db::execute(conn, &sql)?;
    }
    Ok(())
}

/// Change events.
impl Dynex {
    /// The entities whose writes record change events now.
    pub fn followed_entities(&self) -> Vec<String> {
        let mut list: Vec<String> = self.snapshot().followed.iter().cloned().collect();
        list.sort();
        list
    }

    /// Up to `limit` settled events after id `after`: those of `entities` (all when empty), in
    /// id order, and the position reached. Reading stops before a gap in the ids whose next
    /// event is younger than [`SETTLE`] (see the module documentation).
    pub fn change_events(
        &self,
        entities: &[String],
        after: i64,
        limit: i64,
    ) -> Result<ChangePage, CoreError> {
        let mut conn = self.inner.db.conn()?;
        let rows: Vec<ChangeEvent> = dynex_change::table
            .filter(dynex_change::id.gt(after))
            .order(dynex_change::id)
            .limit(limit.max(1))
            .select(ChangeEvent::as_select())
            .load(&mut *conn)?;
        let more = rows.len() as i64 >= limit.max(1);
        let settled_before =
            clock::now_ms() - i64::try_from(SETTLE.as_millis()).unwrap_or(i64::MAX);
        let mut page = ChangePage {
            more,
            ..ChangePage::default()
        };
        let mut expected = after + 1;
        for event in rows {
            if event.id != expected && event.created_ms > settled_before {
                // An earlier id may still commit: wait for it, or for the gap to settle.
                page.more = false;
                page.waiting = true;
                break;
            }
            expected = event.id + 1;
            page.position = Some(event.id);
            if entities.is_empty() || entities.contains(&event.entity) {
                page.events.push(event);
            }
        }
        Ok(page)
    }

    /// The highest event id recorded, 0 when there is none: a cheap check for new events.
    pub fn last_change(&self) -> Result<i64, CoreError> {
        let mut conn = self.inner.db.conn()?;
        let max: Option<i64> = dynex_change::table
            .select(diesel::dsl::max(dynex_change::id))
            .first(&mut *conn)?;
        Ok(max.unwrap_or(0))
    }

    /// Removes events every `changes` pipeline with a cursor has read that are older than
    /// [`CHANGE_RETENTION`], and every event older than [`CHANGE_MAX_AGE`]; returns how many.
    /// Deliveries older than [`DELIVERY_RETENTION`] go too.
    pub fn prune_changes(&self) -> Result<usize, CoreError> {
        use crate::schema::{dynex_pipeline, dynex_pipeline_state as state};
        let now = clock::now_ms();
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let mut conn = self.inner.db.conn()?;
        let definitions: Vec<(String, String)> = dynex_pipeline::table
            .select((dynex_pipeline::name, dynex_pipeline::definition))
            .load(&mut *conn)?;
        let readers: Vec<String> = definitions
            .into_iter()
            .filter(|(_, d)| !definition_follows(d).is_empty())
            .map(|(n, _)| n)
            .collect();
        let cursors: Vec<String> = state::table
            .filter(state::pipeline.eq_any(&readers))
            .select(state::cursor_value)
            .load(&mut *conn)?;
        // A cursor of a `changes` source is the last event id read, as JSON text.
        let read_by_all = cursors
            .iter()
            .map(|c| c.trim_matches('"').parse::<i64>().unwrap_or(0))
            .min()
            .unwrap_or(i64::MAX);
        let mut removed = diesel::delete(
            dynex_change::table
                .filter(dynex_change::created_ms.lt(now - ms(CHANGE_RETENTION)))
                .filter(dynex_change::id.le(read_by_all)),
        )
        .execute(&mut *conn)?;
        removed += diesel::delete(
            dynex_change::table.filter(dynex_change::created_ms.lt(now - ms(CHANGE_MAX_AGE))),
        )
        .execute(&mut *conn)?;
        {
            use crate::schema::dynex_pipeline_delivery as d;
            diesel::delete(d::table.filter(d::created_ms.lt(now - ms(DELIVERY_RETENTION))))
                .execute(&mut *conn)?;
        }
        Ok(removed)
    }
}

/// How long deliveries are listed.
pub const DELIVERY_RETENTION: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// A request of an `http` target, to record ([`Dynex::record_deliveries`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The URL, without credentials.
    pub url: String,
    /// The last answer's status, when one came.
    pub status: Option<u16>,
    /// Requests sent (1 when the first succeeded).
    pub attempts: u32,
    /// Whether the other side took it.
    pub ok: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// The source record it carried (for a `changes` source, the event), or an array of them
    /// for a batch.
    pub record: Json,
}

/// A recorded delivery ([`Dynex::deliveries`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Ascending with time.
    pub id: i64,
    /// The run that sent it.
    pub run: i64,
    /// The URL, without credentials.
    pub url: String,
    /// The last answer's status.
    pub status: Option<i32>,
    /// Requests sent.
    pub attempts: i32,
    /// Whether the other side took it.
    pub ok: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// The record it carried.
    pub record: Json,
    /// When (RFC 3339, UTC).
    pub at: String,
}

/// Deliveries of `http` targets.
impl Dynex {
    /// Records what a page's requests did, for `dynex pipeline deliveries`.
    pub fn record_deliveries(
        &self,
        pipeline: &str,
        run_id: i64,
        deliveries: &[NewDelivery],
    ) -> Result<(), CoreError> {
        use crate::schema::dynex_pipeline_delivery as d;
        if deliveries.is_empty() {
            return Ok(());
        }
        let now = clock::now_ms();
        let mut conn = self.inner.db.conn()?;
        conn.transaction(|conn| -> Result<(), CoreError> {
            for x in deliveries {
                diesel::insert_into(d::table)
                    .values((
                        d::pipeline.eq(pipeline),
                        d::run_id.eq(run_id),
                        d::url.eq(&x.url),
                        d::status.eq(x.status.map(i32::from)),
                        d::attempts.eq(i32::try_from(x.attempts).unwrap_or(i32::MAX)),
                        d::ok.eq(i16::from(x.ok)),
                        d::error.eq(x.error.as_deref()),
                        d::record.eq(x.record.to_string()),
                        d::created_ms.eq(now),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// The latest `limit` deliveries of `pipeline`, newest first.
    pub fn deliveries(&self, pipeline: &str, limit: i64) -> Result<Vec<Delivery>, CoreError> {
        use crate::schema::dynex_pipeline_delivery as d;
        type Row = (
            i64,
            i64,
            String,
            Option<i32>,
            i32,
            i16,
            Option<String>,
            String,
            i64,
        );
        let mut conn = self.inner.db.conn()?;
        let rows: Vec<Row> = d::table
            .filter(d::pipeline.eq(pipeline))
            .order(d::id.desc())
            .limit(limit.max(0))
            .select((
                d::id,
                d::run_id,
                d::url,
                d::status,
                d::attempts,
                d::ok,
                d::error,
                d::record,
                d::created_ms,
            ))
            .load(&mut *conn)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, run, url, status, attempts, ok, error, record, created)| Delivery {
                    id,
                    run,
                    url,
                    status,
                    attempts,
                    ok: ok != 0,
                    error,
                    record: serde_json::from_str(&record).unwrap_or(Json::Null),
                    at: chrono::DateTime::<chrono::Utc>::from_timestamp_millis(created)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                        .unwrap_or_default(),
                },
            )
            .collect())
    }
}
