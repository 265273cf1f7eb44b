//! Pipeline definitions kept in dynex's own tables.
//!
//! The store keeps the text its author wrote, so that `dynex pipeline export` gives it back with
//! its comments; `dynex-pipeline` checks a definition as a whole before it is saved here.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::Dynex;
use crate::audit::Audit;
use crate::clock;
use crate::error::CoreError;
use crate::schema::dynex_pipeline;

/// The longest pipeline name.
pub const PIPELINE_NAME_MAX: usize = 128;

/// A stored pipeline definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable)]
#[diesel(table_name = dynex_pipeline, check_for_backend(crate::db::MultiBackend))]
pub struct StoredPipeline {
    /// The pipeline's name.
    pub name: String,
    /// The definition as its author wrote it.
    pub definition: String,
    /// When it was first saved (Unix milliseconds).
    pub created_at_ms: i64,
    /// When it was last saved (Unix milliseconds).
    pub updated_at_ms: i64,
}

/// Whether a save created the pipeline or replaced its definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Saved {
    /// A new pipeline.
    Created,
    /// An existing pipeline's definition was replaced.
    Updated,
    /// The definition was the same as the stored one: nothing was written.
    Unchanged,
}

impl crate::audit::Changed for Saved {
    fn changed(&self) -> bool {
        *self != Saved::Unchanged
    }
}

/// Refuses a name that is not 1 to 128 lowercase letters, digits, `-` and `_`, starting with a
/// letter or digit: names appear in URLs, file names and log lines.
pub fn check_pipeline_name(name: &str) -> Result<(), CoreError> {
    let valid = !name.is_empty()
        && name.len() <= PIPELINE_NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(CoreError::Invalid(format!(
            "`{name}` is not a pipeline name: use 1 to {PIPELINE_NAME_MAX} lowercase letters, \
             digits, `-` and `_`, starting with a letter or digit"
        )))
    }
}

/// Pipeline definitions.
impl Dynex {
    /// Saves the definition of pipeline `name`, creating it or replacing the stored one.
    ///
    /// The text is stored as given: check it with `dynex-pipeline` first.
    pub fn save_pipeline(&self, name: &str, definition: &str) -> Result<Saved, CoreError> {
        check_pipeline_name(name)?;
        let audit = Audit::new("pipeline.save", name).with(json!({ "bytes": definition.len() }));
        self.change(audit, |conn| {
            let saved = save(conn, name, definition)?;
            if saved != Saved::Unchanged {
                // Every process reloads the entities that `changes` sources follow.
                crate::store::bump_version(conn)?;
            }
            Ok(saved)
        })
    }

    /// Every stored pipeline, by name.
    pub fn pipelines(&self) -> Result<Vec<StoredPipeline>, CoreError> {
        let mut conn = self.inner.db.conn()?;
        Ok(dynex_pipeline::table
            .order(dynex_pipeline::name)
            .select(StoredPipeline::as_select())
            .load(&mut *conn)?)
    }

    /// The stored pipeline `name`; `CoreError::NotFound` when there is none.
    pub fn pipeline(&self, name: &str) -> Result<StoredPipeline, CoreError> {
        let mut conn = self.inner.db.conn()?;
        dynex_pipeline::table
            .filter(dynex_pipeline::name.eq(name))
            .select(StoredPipeline::as_select())
            .first(&mut *conn)
            .optional()?
            .ok_or_else(|| CoreError::NotFound {
                kind: "pipeline",
                name: name.to_string(),
            })
    }

    /// Removes pipeline `name` with its cursor and dead letters (its runs stay in the
    /// history); `CoreError::NotFound` when there is none.
    pub fn remove_pipeline(&self, name: &str) -> Result<(), CoreError> {
        use crate::schema::{dynex_pipeline_dead_letter as dead, dynex_pipeline_state as state};
        let removed = self.change(Audit::new("pipeline.remove", name), |conn| {
            conn.transaction(|conn| -> Result<bool, CoreError> {
                // Its cursor and dead letters go with it; its run history stays.
                diesel::delete(state::table.filter(state::pipeline.eq(name))).execute(conn)?;
                diesel::delete(dead::table.filter(dead::pipeline.eq(name))).execute(conn)?;
                crate::store::bump_version(conn)?;
                Ok(
                    diesel::delete(dynex_pipeline::table.filter(dynex_pipeline::name.eq(name)))
                        .execute(conn)?
                        > 0,
                )
            })
        })?;
        removed.then_some(()).ok_or_else(|| CoreError::NotFound {
            kind: "pipeline",
            name: name.to_string(),
        })
    }
}

/// How a pipeline run ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Still going: its process shows it is alive at least every [`RUN_HEARTBEAT`].
    Running,
    /// Every page was read and delivered (some records may be dead letters).
    Succeeded,
    /// The source, the mapping's setup or the database failed; what was committed stays.
    Failed,
    /// Its process died (or went silent for [`RUN_LEASE`]); the next run found it so. What it
    /// committed stays, and the next run starts from its last committed cursor.
    Interrupted,
}

/// How long a run may go without a sign of life before the next run of its pipeline takes
/// its process for dead and marks it [`RunState::Interrupted`].
pub const RUN_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// How often a running run shows it is alive ([`Dynex::pipeline_run_alive`]).
pub const RUN_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(10);

/// The process a run belongs to, kept in its options as `owner`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
struct Owner {
    host: String,
    pid: u32,
}

impl Owner {
    fn this_process() -> Owner {
        Owner {
            host: host_name(),
            pid: std::process::id(),
        }
    }

    /// Whether the owner is a process of this host that no longer exists (Linux's `/proc`
    /// tells; elsewhere only the lease does).
    fn is_gone(&self) -> bool {
        self.host == host_name()
            && std::path::Path::new("/proc/self").exists()
            && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// This process as runs and scheduled ticks name their owner: `host:pid`.
pub fn process_name() -> String {
    format!("{}:{}", host_name(), std::process::id())
}

/// This machine's name, as far as it can be read.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

impl RunState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Interrupted => "interrupted",
        }
    }
}

/// A pipeline run as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineRun {
    /// The run's id, ascending with time.
    pub id: i64,
    /// The pipeline's name.
    pub pipeline: String,
    /// `running`, `succeeded`, `failed` or `interrupted`.
    pub state: String,
    /// The run's options (`dryRun`, `full`).
    pub options: serde_json::Value,
    /// The counts: read, inserted, updated, unchanged, rejected, skipped, dead letters.
    pub summary: serde_json::Value,
    /// The cursor the run started from.
    pub cursor_before: Option<serde_json::Value>,
    /// The cursor the run committed last.
    pub cursor_after: Option<serde_json::Value>,
    /// What ended a failed run.
    pub error: Option<String>,
    /// When it started (UTC).
    pub started_at: String,
    /// When its last batch was committed (UTC).
    pub updated_at: String,
    /// When it ended (UTC).
    pub finished_at: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = crate::schema::dynex_pipeline_run, check_for_backend(crate::db::MultiBackend))]
struct RunRow {
    id: i64,
    pipeline: String,
    state: String,
    options: String,
    summary: String,
    cursor_before: Option<String>,
    cursor_after: Option<String>,
    error: Option<String>,
    started_ms: i64,
    updated_ms: i64,
    finished_ms: Option<i64>,
}

/// A record a pipeline could not deliver.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// Its id, ascending with time.
    pub id: i64,
    /// The run that met it.
    pub run_id: i64,
    /// `read` (the source could not read it), `map` (the mapping could not convert it) or
    /// `write` (the target refused it).
    pub stage: String,
    /// The first error's code.
    pub code: String,
    /// The field the first error is about.
    pub field: Option<String>,
    /// Every error, `; `-separated.
    pub message: String,
    /// The source record as received.
    pub record: serde_json::Value,
    /// When (UTC).
    pub created_at: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = crate::schema::dynex_pipeline_dead_letter, check_for_backend(crate::db::MultiBackend))]
struct DeadLetterRow {
    id: i64,
    run_id: i64,
    stage: String,
    code: String,
    field: Option<String>,
    message: String,
    record: String,
    created_ms: i64,
}

/// A record to keep as a dead letter.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeadLetter {
    /// `read`, `map` or `write`.
    pub stage: &'static str,
    /// The first error's code.
    pub code: String,
    /// The field the first error is about.
    pub field: Option<String>,
    /// Every error, `; `-separated.
    pub message: String,
    /// The source record as received.
    pub record: serde_json::Value,
}

fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

fn json_text(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}

/// Runs, cursors and dead letters of pipelines.
impl Dynex {
    /// Records the start of a run of `pipeline` and returns its id with the cursor it starts
    /// from (`None` with `full`, or when no run committed one yet).
    pub fn start_pipeline_run(
        &self,
        pipeline: &str,
        options: &serde_json::Value,
        full: bool,
    ) -> Result<(i64, Option<serde_json::Value>), CoreError> {
        use crate::schema::{dynex_pipeline_run as run, dynex_pipeline_state as state};
        let mut conn = self.inner.db.conn()?;
        let cursor: Option<String> = if full {
            None
        } else {
            state::table
                .filter(state::pipeline.eq(pipeline))
                .select(state::cursor_value)
                .first(&mut *conn)
                .optional()?
        };
        let now = clock::now_ms();
        let mut options = options.clone();
        if let Some(map) = options.as_object_mut() {
            map.insert("owner".into(), json!(Owner::this_process()));
        }
        let id = conn.transaction(|conn| -> Result<i64, CoreError> {
            // The pipeline's row is locked first (on SQLite, the database's writer lock), so
            // that of two runs started at once the second sees the first.
            diesel::update(dynex_pipeline::table.filter(dynex_pipeline::name.eq(pipeline)))
                .set(dynex_pipeline::updated_at_ms.eq(dynex_pipeline::updated_at_ms))
                .execute(conn)?;
            let running: Vec<(i64, String, i64)> = run::table
                .filter(run::pipeline.eq(pipeline))
                .filter(run::state.eq(RunState::Running.as_str()))
                .select((run::id, run::options, run::updated_ms))
                .load(conn)?;
            for (id, options, updated) in running {
                let owner = serde_json::from_str::<serde_json::Value>(&options)
                    .ok()
                    .and_then(|o| serde_json::from_value::<Owner>(o["owner"].clone()).ok());
                let silent = now.saturating_sub(updated);
                let why = match &owner {
                    Some(o) if o.is_gone() => {
                        format!("its process ({} on {}) is gone", o.pid, o.host)
                    }
                    _ if silent > i64::try_from(RUN_LEASE.as_millis()).unwrap_or(i64::MAX) => {
                        format!("no sign of life for {} s", silent / 1000)
                    }
                    _ => {
                        return Err(CoreError::AlreadyExists {
                            kind: "a run in progress of the pipeline",
                            name: pipeline.to_string(),
                        });
                    }
                };
                diesel::update(run::table.filter(run::id.eq(id)))
                    .set((
                        run::state.eq(RunState::Interrupted.as_str()),
                        run::error.eq(format!("interrupted: {why}")),
                        run::finished_ms.eq(now),
                    ))
                    .execute(conn)?;
            }
            diesel::insert_into(run::table)
                .values((
                    run::pipeline.eq(pipeline),
                    run::state.eq(RunState::Running.as_str()),
                    run::options.eq(options.to_string()),
                    run::summary.eq("{}"),
                    run::cursor_before.eq(cursor.as_deref()),
                    run::started_ms.eq(now),
                    run::updated_ms.eq(now),
                ))
                .execute(conn)?;
            // The newest run of this pipeline is the one just inserted: its row is locked.
            Ok(run::table
                .filter(run::pipeline.eq(pipeline))
                .select(diesel::dsl::max(run::id))
                .first::<Option<i64>>(conn)?
                .unwrap_or_default())
        })?;
        Ok((id, cursor.as_deref().map(json_text)))
    }

    /// The cursor the next run of `pipeline` starts from, if a run committed one.
    pub fn pipeline_cursor(&self, pipeline: &str) -> Result<Option<serde_json::Value>, CoreError> {
        use crate::schema::dynex_pipeline_state as state;
        let mut conn = self.inner.db.conn()?;
        let cursor: Option<String> = state::table
            .filter(state::pipeline.eq(pipeline))
            .select(state::cursor_value)
            .first(&mut *conn)
            .optional()?;
        Ok(cursor.as_deref().map(json_text))
    }

    /// Records a run's progress after a batch was committed, in one transaction: its counts,
    /// the cursor its committed records reached (kept for the next run unless `cursor` is
    /// `None`), and the records it could not deliver.
    pub fn pipeline_run_progress(
        &self,
        pipeline: &str,
        run_id: i64,
        summary: &serde_json::Value,
        cursor: Option<&serde_json::Value>,
        dead_letters: &[NewDeadLetter],
    ) -> Result<(), CoreError> {
        use crate::schema::{
            dynex_pipeline_dead_letter as dead, dynex_pipeline_run as run,
            dynex_pipeline_state as state,
        };
        let mut conn = self.inner.db.conn()?;
        let now = clock::now_ms();
        conn.transaction(|conn| -> Result<(), CoreError> {
            let cursor_text = cursor.map(serde_json::Value::to_string);
            diesel::update(run::table.filter(run::id.eq(run_id)))
                .set((
                    run::summary.eq(summary.to_string()),
                    run::updated_ms.eq(now),
                ))
                .execute(conn)?;
            if let Some(text) = &cursor_text {
                diesel::update(run::table.filter(run::id.eq(run_id)))
                    .set(run::cursor_after.eq(text))
                    .execute(conn)?;
                let changed = diesel::update(state::table.filter(state::pipeline.eq(pipeline)))
                    .set((
                        state::cursor_value.eq(text),
                        state::run_id.eq(run_id),
                        state::updated_ms.eq(now),
                    ))
                    .execute(conn)?;
                if changed == 0 {
                    diesel::insert_into(state::table)
                        .values((
                            state::pipeline.eq(pipeline),
                            state::cursor_value.eq(text),
                            state::run_id.eq(run_id),
                            state::updated_ms.eq(now),
                        ))
                        .execute(conn)?;
                }
            }
            for letter in dead_letters {
                diesel::insert_into(dead::table)
                    .values((
                        dead::pipeline.eq(pipeline),
                        dead::run_id.eq(run_id),
                        dead::stage.eq(letter.stage),
                        dead::code.eq(&letter.code),
                        dead::field.eq(letter.field.as_deref()),
                        dead::message.eq(&letter.message),
                        dead::record.eq(letter.record.to_string()),
                        dead::created_ms.eq(now),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    /// Shows that run `run_id` is alive, so that no other run takes its process for dead
    /// ([`RUN_LEASE`]).
    pub fn pipeline_run_alive(&self, run_id: i64) -> Result<(), CoreError> {
        use crate::schema::dynex_pipeline_run as run;
        let mut conn = self.inner.db.conn()?;
        diesel::update(
            run::table
                .filter(run::id.eq(run_id))
                .filter(run::state.eq(RunState::Running.as_str())),
        )
        .set(run::updated_ms.eq(clock::now_ms()))
        .execute(&mut *conn)?;
        Ok(())
    }

    /// Records the end of a run.
    pub fn finish_pipeline_run(
        &self,
        run_id: i64,
        state: RunState,
        summary: &serde_json::Value,
        error: Option<&str>,
    ) -> Result<(), CoreError> {
        use crate::schema::dynex_pipeline_run as run;
        let mut conn = self.inner.db.conn()?;
        let now = clock::now_ms();
        diesel::update(run::table.filter(run::id.eq(run_id)))
            .set((
                run::state.eq(state.as_str()),
                run::summary.eq(summary.to_string()),
                run::error.eq(error),
                run::updated_ms.eq(now),
                run::finished_ms.eq(now),
            ))
            .execute(&mut *conn)?;
        Ok(())
    }

    /// The runs of `pipeline`, newest first, at most `limit`.
    pub fn pipeline_runs(&self, pipeline: &str, limit: i64) -> Result<Vec<PipelineRun>, CoreError> {
        use crate::schema::dynex_pipeline_run as run;
        let mut conn = self.inner.db.conn()?;
        let rows: Vec<RunRow> = run::table
            .filter(run::pipeline.eq(pipeline))
            .order(run::id.desc())
            .limit(limit)
            .select(RunRow::as_select())
            .load(&mut *conn)?;
        Ok(rows
            .into_iter()
            .map(|r| PipelineRun {
                id: r.id,
                pipeline: r.pipeline,
                state: r.state,
                options: json_text(&r.options),
                summary: json_text(&r.summary),
                cursor_before: r.cursor_before.as_deref().map(json_text),
                cursor_after: r.cursor_after.as_deref().map(json_text),
                error: r.error,
                started_at: utc(r.started_ms),
                updated_at: utc(r.updated_ms),
                finished_at: r.finished_ms.map(utc),
            })
            .collect())
    }

    /// The dead letters of `pipeline`, oldest first, at most `limit`.
    pub fn dead_letters(&self, pipeline: &str, limit: i64) -> Result<Vec<DeadLetter>, CoreError> {
        use crate::schema::dynex_pipeline_dead_letter as dead;
        let mut conn = self.inner.db.conn()?;
        let rows: Vec<DeadLetterRow> = dead::table
            .filter(dead::pipeline.eq(pipeline))
            .order(dead::id.asc())
            .limit(limit)
            .select(DeadLetterRow::as_select())
            .load(&mut *conn)?;
        Ok(rows
            .into_iter()
            .map(|r| DeadLetter {
                id: r.id,
                run_id: r.run_id,
                stage: r.stage,
                code: r.code,
                field: r.field,
                message: r.message,
                record: json_text(&r.record),
                created_at: utc(r.created_ms),
            })
            .collect())
    }

    /// Removes dead letters of `pipeline` by id (those a retry delivered or kept again);
    /// returns how many were removed.
    pub fn remove_dead_letters(&self, pipeline: &str, ids: &[i64]) -> Result<usize, CoreError> {
        use crate::schema::dynex_pipeline_dead_letter as dead;
        let mut conn = self.inner.db.conn()?;
        let mut removed = 0;
        // Bounded statements whatever the number of ids.
        for chunk in ids.chunks(500) {
            removed += diesel::delete(
                dead::table
                    .filter(dead::pipeline.eq(pipeline))
                    .filter(dead::id.eq_any(chunk)),
            )
            .execute(&mut *conn)?;
        }
        Ok(removed)
    }
}

/// Writes the definition of `name`: created, replaced, or left as it is.
fn save(
    conn: &mut crate::db::AnyConnection,
    name: &str,
    definition: &str,
) -> Result<Saved, CoreError> {
    let now = clock::now_ms();
    let stored = dynex_pipeline::table
        .filter(dynex_pipeline::name.eq(name))
        .select(dynex_pipeline::definition)
        .first::<String>(conn)
        .optional()?;
    match stored {
        Some(text) if text == definition => Ok(Saved::Unchanged),
        Some(_) => {
            diesel::update(dynex_pipeline::table.filter(dynex_pipeline::name.eq(name)))
                .set((
                    dynex_pipeline::definition.eq(definition),
                    dynex_pipeline::updated_at_ms.eq(now),
                ))
                .execute(conn)?;
            Ok(Saved::Updated)
        }
        None => {
            diesel::insert_into(dynex_pipeline::table)
                .values((
                    dynex_pipeline::name.eq(name),
                    dynex_pipeline::definition.eq(definition),
                    dynex_pipeline::created_at_ms.eq(now),
                    dynex_pipeline::updated_at_ms.eq(now),
                ))
                .execute(conn)
                .map_err(|e| match e {
                    diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    ) => CoreError::AlreadyExists {
                        kind: "pipeline",
                        name: name.to_string(),
                    },
                    e => e.into(),
                })?;
            Ok(Saved::Created)
        }
    }
}
