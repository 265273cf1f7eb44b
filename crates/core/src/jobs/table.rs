//! Jobs started over HTTP (the back office and the admin API): CSV imports that run in the
//! background and CSV exports, recorded in `dynex_job` with their options, progress, summary and
//! rejected lines, so that every server instance lists them and shows their progress.
//!
//! A job is created by [`Dynex::create_job`]; an import job is then run by
//! [`Dynex::run_import_job`] (on a thread of the caller's choosing), which records progress
//! after every batch and the rejected lines as they come. An export job is recorded when it
//! starts and finished with [`Dynex::finish_job`]. A job whose server died stays `running` in
//! the table; once it has not moved for [`STALE_AFTER_MS`] it is marked `interrupted` (a
//! running import beats a heartbeat meanwhile, whatever its batches take). An interrupted import
//! that recorded its progress can be resumed ([`Dynex::resume_job`]).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Mutex;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use dynex_query::Dialect;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::Dynex;
use crate::audit::Audit;
use crate::clock::now_ms;
use crate::db::{AnyConnection, on_backend};
use crate::error::CoreError;
use crate::jobs::import::{ImportObserver, ImportOptions, ImportSummary, Reject};
use crate::schema::{dynex_job, dynex_job_reject};

/// A running job that has not recorded progress for this long is shown `interrupted`: its
/// server stopped (progress is recorded after every batch, many times a second).
pub const STALE_AFTER_MS: i64 = 60_000;

/// How often a running import job records that it is alive, whatever its batches take: well
/// within [`STALE_AFTER_MS`].
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(10);

/// Progress is written to the database at most this often (the live view on the instance
/// running the job is exact).
const PROGRESS_EVERY_MS: i64 = 250;

/// The longest file name a job keeps, in characters (its column is `VARCHAR(255)`).
pub const FILE_NAME_MAX_CHARS: usize = 255;

/// Refuses a job's file name that its column cannot hold: longer than
/// [`FILE_NAME_MAX_CHARS`], or empty.
pub fn check_file_name(name: &str) -> Result<(), CoreError> {
    let chars = name.chars().count();
    if chars == 0 || chars > FILE_NAME_MAX_CHARS {
        return Err(CoreError::Invalid(format!(
            "`fileName` has {chars} characters; a job's file name has 1 to \
             {FILE_NAME_MAX_CHARS}"
        )));
    }
    Ok(())
}

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
    /// What resuming the import needs, when it can be resumed (not all or nothing, not a dry
    /// run, and its upload kept).
    pub resume: Option<JobResume>,
}

/// What resuming an interrupted import job needs, kept with the job: its options and the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobResume {
    /// `insert`, `upsert` or `update`.
    pub mode: String,
    /// The field rows are matched by.
    pub key: Option<String>,
    /// Stop after this many rejected rows.
    pub max_errors: Option<u64>,
    /// The mapping profile as YAML text.
    pub mapping: Option<String>,
    /// Where the upload is kept until the job ends.
    pub upload: String,
}

impl JobResume {
    /// The import options of job `id` from these, recording (or, with `resume`, continuing)
    /// its progress under the job's own source.
    pub fn options(&self, id: &str, resume: bool) -> Result<ImportOptions, CoreError> {
        Ok(ImportOptions {
            mode: self.mode.parse().map_err(CoreError::Invalid)?,
            key: self.key.clone(),
            max_errors: self.max_errors,
            mapping: self
                .mapping
                .as_deref()
                .map(dynex_csv::Mapping::from_yaml)
                .transpose()
                .map_err(|e| CoreError::Invalid(format!("mapping: {e}")))?,
            source: Some(job_source(id)),
            resume,
            ..ImportOptions::default()
        })
    }
}

/// The source an import job records its progress under (the CLI's is the file's fingerprint).
pub(crate) fn job_source(id: &str) -> String {
    format!("job:{id}")
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
    /// Whether `POST /admin/api/jobs/{id}/resume` can continue it: an interrupted import that
    /// was neither all or nothing nor a dry run, whose upload this instance still keeps.
    pub resumable: bool,
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

    fn contains(&self, id: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(id)
    }

    fn remove(&self, id: &str) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
    }
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The columns a job is shown from (the file's `header` is read only for the rejects report).
#[derive(Queryable, Selectable)]
#[diesel(table_name = dynex_job, check_for_backend(crate::db::MultiBackend))]
struct JobRow {
    id: String,
    kind: String,
    entity: String,
    file_name: String,
    options: String,
    state: String,
    created_by: String,
    bytes_total: Option<i64>,
    bytes_read: i64,
    summary: Option<String>,
    error: Option<String>,
    started_ms: i64,
    updated_ms: i64,
    finished_ms: Option<i64>,
    resume: Option<String>,
}

fn parse_json(cell: Option<&str>) -> Option<Json> {
    cell.and_then(|s| serde_json::from_str(s).ok())
}

/// A stored job as a [`JobInfo`]; `now` decides whether a running job is stale.
fn info(row: JobRow, now: i64) -> JobInfo {
    let mut state = row.state;
    if state == "running" && now - row.updated_ms > STALE_AFTER_MS {
        state = "interrupted".into();
    }
    let resumable = state == "interrupted"
        && row
            .resume
            .as_deref()
            .and_then(|r| serde_json::from_str::<JobResume>(r).ok())
            .is_some_and(|r| std::path::Path::new(&r.upload).is_file());
    JobInfo {
        id: row.id,
        kind: row.kind,
        entity: row.entity,
        file_name: row.file_name,
        options: parse_json(Some(&row.options)).unwrap_or(Json::Null),
        state,
        created_by: row.created_by,
        bytes_total: row.bytes_total.and_then(|n| u64::try_from(n).ok()),
        bytes_read: u64::try_from(row.bytes_read).unwrap_or(0),
        summary: parse_json(row.summary.as_deref()),
        error: parse_json(row.error.as_deref()),
        started_at: rfc3339(row.started_ms),
        updated_at: rfc3339(row.updated_ms),
        finished_at: row.finished_ms.map(rfc3339),
        resumable,
    }
}

impl Dynex {
    /// Records a new job, `running` from now, and returns it.
    pub fn create_job(&self, job: NewJob) -> Result<JobInfo, CoreError> {
        // Checked here too, so that no caller meets the column's limit as a database error.
        check_file_name(&job.file_name)?;
        // 20 characters of 62: ids cannot be guessed or enumerated.
        let id: String = dynex_auth::generate_secret("").chars().take(20).collect();
        let now = now_ms();
        let insert = diesel::insert_into(dynex_job::table).values((
            dynex_job::id.eq(&id),
            dynex_job::kind.eq(job.kind.as_str()),
            dynex_job::entity.eq(&job.entity),
            dynex_job::file_name.eq(&job.file_name),
            dynex_job::options.eq(job.options.to_string()),
            dynex_job::state.eq("running"),
            dynex_job::created_by.eq(&job.created_by),
            dynex_job::bytes_total.eq(job.bytes_total.map(int)),
            dynex_job::bytes_read.eq(0),
            dynex_job::started_ms.eq(now),
            dynex_job::updated_ms.eq(now),
            dynex_job::resume.eq(job.resume.map(|r| json!(r).to_string())),
        ));
        {
            let _writer = self.sqlite_writer();
            let mut conn = self.inner.db.conn()?;
            insert.execute(&mut *conn)?;
            let action = match job.kind {
                JobKind::Import => "job.import",
                JobKind::Export => "job.export",
            };
            let audit = Audit::new(action, &job.entity)
                .with(serde_json::json!({"job": id, "fileName": job.file_name}));
            self.audit(&mut conn, &audit);
        }
        self.job(&id)
    }

    /// The latest `limit` jobs, newest first.
    pub fn jobs(&self, limit: u64) -> Result<Vec<JobInfo>, CoreError> {
        let rows = dynex_job::table
            .select(JobRow::as_select())
            .order((dynex_job::started_ms.desc(), dynex_job::id))
            .limit(int(limit))
            .load(&mut *self.inner.db.conn()?)?;
        let now = now_ms();
        let jobs: Vec<JobInfo> = rows
            .into_iter()
            .map(|r| self.with_live(info(r, now)))
            .collect();
        self.mark_interrupted(&jobs, now)?;
        Ok(jobs)
    }

    /// Records as `interrupted` the jobs of `shown` that are running in the table but have not
    /// moved for [`STALE_AFTER_MS`] (their server stopped), so that they stay so and can be
    /// resumed; a job running in this process is never one of them.
    fn mark_interrupted(&self, shown: &[JobInfo], now: i64) -> Result<(), CoreError> {
        let stale: Vec<&str> = shown
            .iter()
            .filter(|j| j.state == "interrupted" && j.finished_at.is_none())
            .filter(|j| !self.inner.jobs.contains(&j.id))
            .map(|j| j.id.as_str())
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        let update = diesel::update(
            dynex_job::table
                .filter(dynex_job::id.eq_any(stale))
                .filter(dynex_job::state.eq("running"))
                .filter(dynex_job::updated_ms.lt(now - STALE_AFTER_MS)),
        )
        .set(dynex_job::state.eq("interrupted"));
        let _writer = self.sqlite_writer();
        update.execute(&mut *self.inner.db.conn()?)?;
        Ok(())
    }

    /// Records that job `id` is alive (see [`HEARTBEAT`]).
    fn beat(&self, id: &str) -> Result<(), CoreError> {
        let update = diesel::update(
            dynex_job::table
                .filter(dynex_job::id.eq(id))
                .filter(dynex_job::state.eq("running")),
        )
        .set(dynex_job::updated_ms.eq(now_ms()));
        let _writer = self.sqlite_writer();
        update.execute(&mut *self.inner.db.conn()?)?;
        Ok(())
    }

    /// What resuming job `id` needs, when it can be resumed.
    pub(crate) fn job_resume(&self, id: &str) -> Result<Option<JobResume>, CoreError> {
        let text: Option<String> = dynex_job::table
            .filter(dynex_job::id.eq(id))
            .select(dynex_job::resume)
            .first::<Option<String>>(&mut *self.inner.db.conn()?)
            .optional()?
            .flatten();
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| CoreError::Corrupt(format!("the resume of job {id}: {e}")))
        })
        .transpose()
    }

    /// One job; [`CoreError::NotFound`] when there is none with this id.
    pub fn job(&self, id: &str) -> Result<JobInfo, CoreError> {
        let (row, _) = self.job_row(&mut *self.inner.db.conn()?, id, false)?;
        let now = now_ms();
        let job = self.with_live(info(row, now));
        self.mark_interrupted(std::slice::from_ref(&job), now)?;
        Ok(job)
    }

    /// The stored row of job `id`, and its file's `header` when `with_header`.
    fn job_row(
        &self,
        conn: &mut AnyConnection,
        id: &str,
        with_header: bool,
    ) -> Result<(JobRow, Option<String>), CoreError> {
        let job = dynex_job::table.filter(dynex_job::id.eq(id));
        let row = if with_header {
            job.select((JobRow::as_select(), dynex_job::header))
                .first(conn)
                .optional()?
        } else {
            job.select(JobRow::as_select())
                .first(conn)
                .optional()?
                .map(|row| (row, None))
        };
        row.ok_or_else(|| CoreError::NotFound {
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
            job.resumable = false;
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
        let update = diesel::update(dynex_job::table.filter(dynex_job::id.eq(id))).set((
            dynex_job::state.eq(state),
            dynex_job::updated_ms.eq(now),
            dynex_job::finished_ms.eq(now),
            // Absent: the column keeps what it holds.
            summary.map(|s| dynex_job::summary.eq(s.to_string())),
            error.map(|e| dynex_job::error.eq(e.to_string())),
        ));
        let result = {
            let _writer = self.sqlite_writer();
            update.execute(&mut *self.inner.db.conn()?)
        };
        self.inner.jobs.remove(id);
        result?;
        Ok(())
    }

    /// Runs the import job `id` (made by [`Dynex::create_job`]) over `input`: the import of
    /// [`Dynex::import`] with its progress and rejected lines recorded for the job, then the job
    /// ended as `done` with the summary. An error is returned for the caller to record with
    /// [`Dynex::finish_job`], so that it carries the caller's error code.
    ///
    /// A job that can be resumed records its progress per batch under its own source (pass the
    /// options of [`JobResume::options`]), and while it runs it beats a heartbeat, so that a job
    /// whose server stopped is told from a slow one.
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
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let result = std::thread::scope(|scope| {
            // SQLite's writer is held for the whole of a deferred job: no beat could be written.
            if !defer {
                scope.spawn(move || {
                    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                        stopped.recv_timeout(HEARTBEAT)
                    {
                        if let Err(e) = self.beat(id) {
                            log::warn!("job {id}: cannot record that it is alive: {e}");
                        }
                    }
                });
            }
            let result = self.import(&alias, input, options, &mut observer);
            drop(stop);
            result
        });
        observer.defer = false;
        observer.flush(true)?;
        let summary = result?;
        self.finish_job(id, Ok(json!(summary)))?;
        Ok(summary)
    }

    /// Writes the rejected lines of job `id` as CSV: the columns of `dynex import --rejects`
    /// (`line,code,field,message`, then the file's own columns), the first `limit` of them in
    /// line order when given; returns the job.
    pub fn job_rejects(
        &self,
        id: &str,
        limit: Option<u64>,
        out: &mut dyn Write,
    ) -> Result<JobInfo, CoreError> {
        let mut conn = self.inner.db.conn()?;
        let (row, header) = self.job_row(&mut conn, id, true)?;
        let job = self.with_live(info(row, now_ms()));
        let header: Vec<String> = parse_json(header.as_deref())
            .and_then(|h| serde_json::from_value(h).ok())
            .unwrap_or_default();
        let invalid = |e: dynex_csv::CsvError| CoreError::Invalid(e.to_string());
        let mut writer = dynex_csv::RejectWriter::new(&header, out).map_err(invalid)?;
        let query = dynex_job_reject::table
            .filter(dynex_job_reject::job_id.eq(&job.id))
            .select((
                dynex_job_reject::line,
                dynex_job_reject::code,
                dynex_job_reject::field,
                dynex_job_reject::message,
                dynex_job_reject::cells,
            ))
            .order(dynex_job_reject::line)
            .limit(int(limit.unwrap_or(u64::MAX)));
        let rejects: Vec<(i64, String, Option<String>, String, String)> = query.load(&mut *conn)?;
        for (line, code, field, message, cells) in &rejects {
            let cells: Vec<String> = serde_json::from_str(cells).unwrap_or_default();
            writer
                .write(&dynex_csv::RejectRow {
                    line: u64::try_from(*line).unwrap_or(0),
                    code,
                    field: field.as_deref(),
                    message,
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
        let progress = if progress_due {
            self.progress.as_ref()
        } else {
            None
        };
        let job = || dynex_job::table.filter(dynex_job::id.eq(self.id));
        let write = |conn: &mut AnyConnection| -> QueryResult<()> {
            if let Some(header) = &self.header {
                diesel::update(job())
                    .set(dynex_job::header.eq(json!(header).to_string()))
                    .execute(conn)?;
            }
            for chunk in self.rejects.chunks(REJECTS_PER_STATEMENT) {
                let rows: Vec<_> = chunk
                    .iter()
                    .map(|r| {
                        (
                            dynex_job_reject::job_id.eq(self.id),
                            dynex_job_reject::line.eq(int(r.line)),
                            dynex_job_reject::code.eq(&r.code),
                            dynex_job_reject::field.eq(r.field.as_deref()),
                            dynex_job_reject::message.eq(&r.message),
                            dynex_job_reject::cells.eq(json!(r.cells).to_string()),
                        )
                    })
                    .collect();
                let insert = diesel::insert_into(dynex_job_reject::table).values(rows);
                // On the backend's own connection: diesel's multi-backend connection has no
                // multi-row `INSERT`, and one statement per line would cost a round trip each.
                on_backend!(conn, c => insert.execute(c))?;
            }
            if let Some((bytes_read, summary)) = progress {
                diesel::update(job())
                    .set((
                        dynex_job::bytes_read.eq(int(*bytes_read)),
                        dynex_job::summary.eq(summary.to_string()),
                        dynex_job::updated_ms.eq(now),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        };
        // Begun by hand, not with `Connection::transaction`: diesel cannot open SQLite's
        // `BEGIN IMMEDIATE` through the multi-backend connection (see `crate::engine::tx`).
        conn.batch_execute(crate::engine::tx::begin_statement(dynex.dialect()))?;
        let result = write(&mut conn);
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
