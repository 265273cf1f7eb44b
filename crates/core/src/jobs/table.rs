//! Jobs started over HTTP (the back office and the admin API): CSV imports that run in the
//! background and CSV exports, recorded in `dynex_job` with their options, progress, summary and
//! rejected lines, so that every server instance lists them and shows their progress.
//!
//! A job is created by [`Dynex::create_job`]; an import job is then run by
//! [`Dynex::run_import_job`] (on a thread of the caller's choosing), which records progress
//! after every batch and the rejected lines as they come. An export job is recorded when it
//! starts and finished with [`Dynex::finish_job`]. A job whose server died stays `running` in
//! the table; it is shown `interrupted` once it has not moved for [`STALE_AFTER_MS`].

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Mutex;

use diesel::connection::SimpleConnection;
use dynex_query::{Dialect, Sql, Value};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::Dynex;
use crate::clock::now_ms;
use crate::config::store::as_text;
use crate::db::{AnyConnection, execute, load_cells};
use crate::error::CoreError;
use crate::jobs::import::{ImportObserver, ImportOptions, ImportSummary, Reject};

/// A running job that has not recorded progress for this long is shown `interrupted`: its
/// server stopped (progress is recorded after every batch, many times a second).
pub const STALE_AFTER_MS: i64 = 60_000;

/// Progress is written to the database at most this often (the live view on the instance
/// running the job is exact).
const PROGRESS_EVERY_MS: i64 = 250;

/// Rejected lines per insert statement (6 binds each: under every backend's bind limit).
const REJECTS_PER_STATEMENT: usize = 500;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// A CSV file imported into an entity.
    Import,
    /// An entity exported as CSV.
    Export,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::Import => "import",
            JobKind::Export => "export",
        }
    }
}

/// A job to record with [`Dynex::create_job`].
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Import or export.
    pub kind: JobKind,
    /// The entity's alias.
    pub entity: String,
    /// The file's name, as the user gave it (imports) or as it is offered (exports).
    pub file_name: String,
    /// The job's options as given (mode, key, dry run, sort, …), shown with the job.
    pub options: Json,
    /// Who started it (a user, client or API key name).
    pub created_by: String,
    /// The input's size in bytes, when known (imports).
    pub bytes_total: Option<u64>,
}

/// A job as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobInfo {
    /// Its id.
    pub id: String,
    /// `import` or `export`.
    pub kind: String,
    /// The entity's alias.
    pub entity: String,
    /// The file's name.
    pub file_name: String,
    /// The options it was started with.
    pub options: Json,
    /// `running`, `done`, `failed` or `interrupted`.
    pub state: String,
    /// Who started it.
    pub created_by: String,
    /// The input's size in bytes, when known.
    pub bytes_total: Option<u64>,
    /// Bytes of the input read so far (imports).
    pub bytes_read: u64,
    /// The counts so far, final once the job is done: an import's summary (read, inserted,
    /// updated, unchanged, rejected, …) or an export's (`rows`, `seconds`).
    pub summary: Option<Json>,
    /// Why the job failed: `{"code", "message"}`.
    pub error: Option<Json>,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// When it last recorded progress.
    pub updated_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
}

/// Progress of the jobs running in this process, fresher than what the table holds.
#[derive(Default)]
pub(crate) struct LiveJobs(Mutex<HashMap<String, (u64, Json, i64)>>);

impl LiveJobs {
    fn set(&self, id: &str, bytes_read: u64, summary: Json, at: i64) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.to_string(), (bytes_read, summary, at));
    }

    fn get(&self, id: &str) -> Option<(u64, Json, i64)> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    fn remove(&self, id: &str) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn int(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The columns a job is shown from, in the order [`info`] reads them.
const COLUMNS: [&str; 14] = [
    "id",
    "kind",
    "entity",
    "file_name",
    "options",
    "state",
    "created_by",
    "bytes_total",
    "bytes_read",
    "summary",
    "error",
    "started_ms",
    "updated_ms",
    "finished_ms",
];

/// `SELECT` of [`COLUMNS`], and then of the file's `header` (only the rejects report needs it)
/// when `with_header`.
fn select(dialect: Dialect, with_header: bool) -> String {
    let header = with_header.then_some("header");
    let columns: Vec<String> = COLUMNS
        .iter()
        .chain(&header)
        .map(|c| format!("{} AS {c}", as_text(dialect, c)))
        .collect();
    format!("SELECT {} FROM dynex_job", columns.join(", "))
}

fn parse_json(cell: Option<&String>) -> Option<Json> {
    cell.and_then(|s| serde_json::from_str(s).ok())
}

fn number(cell: Option<&String>) -> Option<i64> {
    cell.and_then(|s| s.parse().ok())
}

/// A row of [`select`] as a [`JobInfo`]; `now` decides whether a running job is stale.
fn info(cells: &[Option<String>], now: i64) -> JobInfo {
    let cell = |i: usize| cells.get(i).and_then(Option::as_ref);
    let owned = |i: usize| cell(i).cloned().unwrap_or_default();
    let updated = number(cell(12)).unwrap_or(0);
    let mut state = owned(5);
    if state == "running" && now - updated > STALE_AFTER_MS {
        state = "interrupted".into();
    }
    JobInfo {
        id: owned(0),
        kind: owned(1),
        entity: owned(2),
        file_name: owned(3),
        options: parse_json(cell(4)).unwrap_or(Json::Null),
        state,
        created_by: owned(6),
        bytes_total: number(cell(7)).and_then(|n| u64::try_from(n).ok()),
        bytes_read: number(cell(8))
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0),
        summary: parse_json(cell(9)),
        error: parse_json(cell(10)),
        started_at: rfc3339(number(cell(11)).unwrap_or(0)),
        updated_at: rfc3339(updated),
        finished_at: number(cell(13)).map(rfc3339),
    }
}

impl Dynex {
    /// Records a new job, `running` from now, and returns it.
    pub fn create_job(&self, job: NewJob) -> Result<JobInfo, CoreError> {
        // 20 characters of 62: ids cannot be guessed or enumerated.
        let id: String = dynex_auth::generate_secret("").chars().take(20).collect();
        let now = now_ms();
        let mut q = Sql::default();
        q.push(
            "INSERT INTO dynex_job (id, kind, entity, file_name, options, state, created_by, \
             bytes_total, bytes_read, started_ms, updated_ms) VALUES (",
        )
        .bind(text(&id))
        .push(", ")
        .bind(text(job.kind.as_str()))
        .push(", ")
        .bind(text(&job.entity))
        .push(", ")
        .bind(text(&job.file_name))
        .push(", ")
        .bind(text(&job.options.to_string()))
        .push(", 'running', ")
        .bind(text(&job.created_by))
        .push(", ");
        // A typed NULL: PostgreSQL takes an untyped bound NULL as text.
        match job.bytes_total {
            Some(n) => q.bind(int(n)),
            None => q.push("NULL"),
        };
        q.push(", 0, ")
            .bind(Value::Int(now))
            .push(", ")
            .bind(Value::Int(now))
            .push(")");
        {
            let _writer = self.sqlite_writer();
            execute(&mut *self.inner.db.conn()?, &q)?;
        }
        self.job(&id)
    }

    /// The latest `limit` jobs, newest first.
    pub fn jobs(&self, limit: u64) -> Result<Vec<JobInfo>, CoreError> {
        let mut q = Sql::default();
        q.push(&select(self.dialect(), false))
            .push(" ORDER BY started_ms DESC, id LIMIT ")
            .bind(int(limit));
        let rows = load_cells(&mut *self.inner.db.conn()?, &q)?;
        let now = now_ms();
        Ok(rows.iter().map(|r| self.with_live(info(r, now))).collect())
    }

    /// One job; [`CoreError::NotFound`] when there is none with this id.
    pub fn job(&self, id: &str) -> Result<JobInfo, CoreError> {
        let row = self.job_row(&mut *self.inner.db.conn()?, id, false)?;
        Ok(self.with_live(info(&row, now_ms())))
    }

    /// The stored row of job `id` ([`select`]).
    fn job_row(
        &self,
        conn: &mut AnyConnection,
        id: &str,
        with_header: bool,
    ) -> Result<Vec<Option<String>>, CoreError> {
        let mut q = Sql::default();
        q.push(&select(self.dialect(), with_header))
            .push(" WHERE id = ")
            .bind(text(id));
        load_cells(conn, &q)?
            .into_iter()
            .next()
            .ok_or_else(|| CoreError::NotFound {
                kind: "job",
                name: id.to_string(),
            })
    }

    /// `job` with the progress this process holds for it, when fresher.
    fn with_live(&self, mut job: JobInfo) -> JobInfo {
        if let Some((bytes_read, summary, at)) = self.inner.jobs.get(&job.id)
            && job.finished_at.is_none()
        {
            job.bytes_read = bytes_read;
            job.summary = Some(summary);
            job.updated_at = rfc3339(at);
            job.state = "running".into();
        }
        job
    }

    /// Ends a job: `done` with its final summary, or `failed` with `{"code", "message"}`.
    pub fn finish_job(&self, id: &str, outcome: Result<Json, Json>) -> Result<(), CoreError> {
        let now = now_ms();
        let (state, summary, error) = match outcome {
            Ok(summary) => ("done", Some(summary), None),
            Err(error) => ("failed", None, Some(error)),
        };
        let mut q = Sql::default();
        q.push("UPDATE dynex_job SET state = ")
            .bind(text(state))
            .push(", updated_ms = ")
            .bind(Value::Int(now))
            .push(", finished_ms = ")
            .bind(Value::Int(now));
        if let Some(summary) = summary {
            q.push(", summary = ").bind(text(&summary.to_string()));
        }
        if let Some(error) = error {
            q.push(", error = ").bind(text(&error.to_string()));
        }
        q.push(" WHERE id = ").bind(text(id));
        let result = {
            let _writer = self.sqlite_writer();
            execute(&mut *self.inner.db.conn()?, &q)
        };
        self.inner.jobs.remove(id);
        result?;
        Ok(())
    }

    /// Runs the import job `id` (made by [`Dynex::create_job`]) over `input`: the import of
    /// [`Dynex::import`] with its progress and rejected lines recorded for the job, then the job
    /// ended as `done` with the summary. An error is returned for the caller to record with
    /// [`Dynex::finish_job`], so that it carries the caller's error code.
    pub fn run_import_job<R: Read + Send>(
        &self,
        id: &str,
        input: R,
        options: &ImportOptions,
    ) -> Result<ImportSummary, CoreError> {
        let alias = self.job(id)?.entity;
        // SQLite has one writer: while an atomic import or a dry run holds it for the whole
        // file, what the job records waits for the end (the live view shows the progress).
        let defer = self.dialect() == Dialect::Sqlite && (options.atomic || options.dry_run);
        let mut observer = JobObserver {
            dynex: self,
            id,
            defer,
            rejects: Vec::new(),
            header: None,
            last_write: 0,
            progress: None,
        };
        let result = self.import(&alias, input, options, &mut observer);
        observer.defer = false;
        observer.flush(true)?;
        let summary = result?;
        self.finish_job(id, Ok(json!(summary)))?;
        Ok(summary)
    }

    /// Writes the rejected lines of job `id` as CSV: the columns of `dynex import --rejects`
    /// (`line,code,field,message`, then the file's own columns); returns the job.
    pub fn job_rejects(&self, id: &str, out: &mut dyn Write) -> Result<JobInfo, CoreError> {
        let mut conn = self.inner.db.conn()?;
        let row = self.job_row(&mut conn, id, true)?;
        let job = self.with_live(info(&row, now_ms()));
        let header: Vec<String> = parse_json(row.get(COLUMNS.len()).and_then(Option::as_ref))
            .and_then(|h| serde_json::from_value(h).ok())
            .unwrap_or_default();
        let invalid = |e: dynex_csv::CsvError| CoreError::Invalid(e.to_string());
        let mut writer = dynex_csv::RejectWriter::new(&header, out).map_err(invalid)?;
        let mut q = Sql::default();
        let dialect = self.dialect();
        q.push(&format!(
            "SELECT {}, code, field, message, cells FROM dynex_job_reject WHERE job_id = ",
            as_text(dialect, "line")
        ))
        .bind(text(&job.id))
        .push(" ORDER BY line");
        for row in load_cells(&mut conn, &q)? {
            let cell = |i: usize| row.get(i).and_then(Option::as_deref).unwrap_or("");
            let cells: Vec<String> = serde_json::from_str(cell(4)).unwrap_or_default();
            writer
                .write(&dynex_csv::RejectRow {
                    line: cell(0).parse().unwrap_or(0),
                    code: cell(1),
                    field: row.get(2).and_then(Option::as_deref),
                    message: cell(3),
                    cells: &cells,
                })
                .map_err(invalid)?;
        }
        writer.flush().map_err(invalid)?;
        Ok(job)
    }
}

/// Records an import job's header, rejects and progress.
struct JobObserver<'a> {
    dynex: &'a Dynex,
    id: &'a str,
    /// Keep everything in memory until the end (see [`Dynex::run_import_job`]).
    defer: bool,
    rejects: Vec<Reject>,
    header: Option<Vec<String>>,
    last_write: i64,
    /// The latest progress not yet written: bytes read and the summary.
    progress: Option<(u64, Json)>,
}

impl JobObserver<'_> {
    /// Writes what is pending; unless `force`, progress at most every [`PROGRESS_EVERY_MS`].
    fn flush(&mut self, force: bool) -> Result<(), CoreError> {
        if self.defer {
            return Ok(());
        }
        let now = now_ms();
        let progress_due = force || now - self.last_write >= PROGRESS_EVERY_MS;
        if self.header.is_none() && self.rejects.is_empty() && !progress_due {
            return Ok(());
        }
        let dynex = self.dynex;
        let _writer = dynex.sqlite_writer();
        let mut conn = dynex.inner.db.conn()?;
        let mut statements: Vec<Sql> = Vec::new();
        if let Some(header) = &self.header {
            let mut q = Sql::default();
            q.push("UPDATE dynex_job SET header = ")
                .bind(text(&json!(header).to_string()))
                .push(" WHERE id = ")
                .bind(text(self.id));
            statements.push(q);
        }
        for chunk in self.rejects.chunks(REJECTS_PER_STATEMENT) {
            let mut q = Sql::default();
            q.push(
                "INSERT INTO dynex_job_reject (job_id, line, code, field, message, cells) VALUES ",
            );
            for (i, r) in chunk.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" })
                    .bind(text(self.id))
                    .push(", ")
                    .bind(int(r.line))
                    .push(", ")
                    .bind(text(&r.code))
                    .push(", ")
                    .bind(r.field.as_deref().map_or(Value::Null, text))
                    .push(", ")
                    .bind(text(&r.message))
                    .push(", ")
                    .bind(text(&json!(r.cells).to_string()))
                    .push(")");
            }
            statements.push(q);
        }
        let progress = if progress_due {
            self.progress.as_ref()
        } else {
            None
        };
        if let Some((bytes_read, summary)) = progress {
            let mut q = Sql::default();
            q.push("UPDATE dynex_job SET bytes_read = ")
                .bind(int(*bytes_read))
                .push(", summary = ")
                .bind(text(&summary.to_string()))
                .push(", updated_ms = ")
                .bind(Value::Int(now))
                .push(" WHERE id = ")
                .bind(text(self.id));
            statements.push(q);
        }
        conn.batch_execute(crate::engine::tx::begin_statement(dynex.dialect()))?;
        let result = statements
            .iter()
            .try_for_each(|q| execute(&mut conn, q).map(drop));
        conn.batch_execute(if result.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
        result?;
        // Only once written: what failed is tried again with the next batch.
        self.rejects.clear();
        self.header = None;
        if progress.is_some() {
            self.progress = None;
            self.last_write = now;
        }
        Ok(())
    }
}

impl ImportObserver for JobObserver<'_> {
    fn start(&mut self, header: &[String]) -> Result<(), CoreError> {
        self.header = Some(header.to_vec());
        Ok(())
    }

    fn reject(&mut self, reject: &Reject) -> Result<(), CoreError> {
        self.rejects.push(reject.clone());
        Ok(())
    }

    fn progress(&mut self, summary: &ImportSummary, bytes_read: u64) {
        let summary = json!(summary);
        self.dynex
            .inner
            .jobs
            .set(self.id, bytes_read, summary.clone(), now_ms());
        self.progress = Some((bytes_read, summary));
        if let Err(e) = self.flush(false) {
            // The import goes on; what was not recorded is written at the end.
            log::warn!("cannot record the progress of job {}: {e}", self.id);
        }
    }
}
