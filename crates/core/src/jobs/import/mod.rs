//! CSV import: a file streamed in batches through the same validation and set-based writers as
//! the API.
//!
//! Each batch is written as the API's non-transactional mode writes a request: the good rows of
//! a batch are saved together, and every refused row is reported with its line, code and
//! message, so a bad row never costs its good neighbours. A line that cannot be a row (the wrong
//! number of cells, bytes that are not UTF-8) is refused the same way. In `upsert` and `update`
//! modes the rows of a batch are first read by their key, rows identical to what is stored are
//! counted `unchanged` and not written, and the others become updates or creates.
//!
//! A mapping's lookups (natural keys) are resolved first, once per batch: one read of the
//! looked-up entity for all the distinct values of the batch, on the import's connection, so
//! that a batch sees the rows that earlier batches of the same import wrote.
//!
//! [`reader`] is the thread that reads and types the file, [`writer`] the one that writes the
//! batches, [`matching`] compares a batch with the stored rows, [`rejects`] builds the records of
//! refused lines and [`checkpoint`] keeps the progress `--resume` continues from.

mod checkpoint;
mod matching;
mod reader;
mod rejects;
mod rows;
mod writer;

// Keys come from the payload; foldhash is seeded per map and far cheaper than SipHash.
use foldhash::HashMap;
use std::io::Read;
use std::time::Instant;

use diesel::connection::SimpleConnection;

use dynex_csv::RecordReader;
use dynex_schema::{Entity, Field};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::db::AnyConnection;
use crate::engine::write::{self};
use crate::error::CoreError;
use crate::{Dynex, Snapshot};
use matching::Stored;
use reader::{LookupColumn, Parser};
pub use rejects::Reject;
pub use rows::{RecordRow, RowLookup, RowsSpec};

/// How imported rows meet the stored ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Create every row; a row whose key exists is refused (1309).
    Insert,
    /// Update rows whose key exists (the columns of the file only), create the others.
    Upsert,
    /// Update rows whose key exists; a row whose key does not exist is refused (1303).
    Update,
}

impl ImportMode {
    /// The mode's name, as the CLI spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::Insert => "insert",
            ImportMode::Upsert => "upsert",
            ImportMode::Update => "update",
        }
    }
}

impl std::str::FromStr for ImportMode {
    type Err = String;

    /// Reads a name of [`ImportMode::as_str`].
    fn from_str(s: &str) -> Result<ImportMode, String> {
        [ImportMode::Insert, ImportMode::Upsert, ImportMode::Update]
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("`mode` is insert, upsert or update, not `{s}`"))
    }
}

/// Rows per batch unless told otherwise: fewer round trips and commits than a page of 1,000,
/// with a batch still a few tens of MB in memory.
pub const IMPORT_BATCH_ROWS: usize = 2500;

/// What an import does besides reading the file.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Insert, upsert or update.
    pub mode: ImportMode,
    /// The field that matches rows in `upsert` and `update` modes (a unique field such as a
    /// SKU); the identifier when `None`.
    pub key: Option<String>,
    /// Validate and try everything in one transaction, then roll it back: the report of a real
    /// run, nothing written.
    pub dry_run: bool,
    /// All or nothing: the whole file in one transaction, committed only when no row was
    /// rejected.
    pub atomic: bool,
    /// Stop after the batch in which this many rows were rejected.
    pub max_errors: Option<u64>,
    /// Record progress under this fingerprint of the file (see [`ImportOptions::resume`]);
    /// `None` records nothing. Ignored by atomic imports and dry runs, which keep nothing
    /// half-done.
    pub source: Option<String>,
    /// Continue the latest unfinished import of the same file into the same entity after its
    /// last committed batch.
    pub resume: bool,
    /// Rows per batch: at most 10,000 for inserts, and at most the server's page limit for
    /// upserts and updates, as their batches are matched by one read.
    pub batch_rows: usize,
    /// How the file's columns become fields (`--mapping`); `None`: the header is visible
    /// field names.
    pub mapping: Option<dynex_csv::Mapping>,
    /// Who writes, as change events name it: `import` when `None`, `pipeline:NAME` for a
    /// pipeline's entity target.
    pub actor: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            mode: ImportMode::Insert,
            key: None,
            dry_run: false,
            atomic: false,
            max_errors: None,
            source: None,
            resume: false,
            batch_rows: IMPORT_BATCH_ROWS,
            mapping: None,
            actor: None,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportSummary {
    /// The entity's alias.
    pub entity: String,
    /// `insert`, `upsert` or `update`.
    pub mode: &'static str,
    /// Whether nothing was written on purpose.
    pub dry_run: bool,
    /// Whether the file was one transaction (`atomic`).
    pub atomic: bool,
    /// Whether what the counts say was kept: false for a dry run, and for an atomic import
    /// that rejected rows (then nothing was written).
    pub committed: bool,
    /// Data lines read (rows, including rejected and malformed ones).
    pub read: u64,
    /// Rows created (or that would have been, in a dry run).
    pub inserted: u64,
    /// Rows changed.
    pub updated: u64,
    /// Rows identical to what is stored, not written.
    pub unchanged: u64,
    /// Rows refused.
    pub rejected: u64,
    /// Whether `max_errors` stopped the import before the end of the file.
    pub stopped_early: bool,
    /// Lines skipped because an earlier, interrupted run committed them (`resume`).
    pub skipped: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Rows read per second.
    pub rows_per_second: f64,
}

/// Receives rejects and progress while an import runs.
pub trait ImportObserver {
    /// The file's header was read and accepted (before any row).
    fn start(&mut self, header: &[String]) -> Result<(), CoreError> {
        let _ = header;
        Ok(())
    }
    /// A line was refused.
    fn reject(&mut self, reject: &Reject) -> Result<(), CoreError>;
    /// A batch is done; `bytes_read` of the input are consumed.
    fn progress(&mut self, summary: &ImportSummary, bytes_read: u64) {
        let _ = (summary, bytes_read);
    }
}

/// One row of a batch: where it came from and what it says.
struct Row {
    line: u64,
    cells: Vec<String>,
    /// The row as the API would receive it; empty when `checked` holds it already.
    object: Map<String, Json>,
    /// The row checked for its create by the reading thread ([`Parser::precheck`]).
    checked: Option<write::Checked>,
    /// The value to look up for each of the run's lookups (`None`: an empty cell).
    refs: Vec<Option<Json>>,
}

/// A row whose create was refused only as a duplicate, with its errors: it is matched again
/// (see [`Run::batch`]).
type Lost = (Row, Vec<dynex_validate::RowError>);

/// The running import.
struct Run<'a> {
    dynex: &'a Dynex,
    /// The import's connection: batches and the reads that match them use it, so that inside
    /// one transaction (atomic, dry run) each batch sees the ones before it.
    conn: &'a mut AnyConnection,
    /// A transaction spans the import; batches are savepoints in it.
    outer: bool,
    /// The job whose progress each committed batch records, and the line it had reached.
    job: Option<(i32, u64)>,
    /// The last line read.
    last_line: u64,
    snapshot: &'a Snapshot,
    entity: &'a std::sync::Arc<Entity>,
    options: &'a ImportOptions,
    /// How records become rows: shared with the thread that reads the file.
    parser: &'a Parser<'a>,
    /// The matching field (upsert, update).
    key: &'a Field,
    summary: ImportSummary,
    /// The batch's rejects, reported in line order once the batch is written.
    rejects: Vec<Reject>,
    observer: &'a mut dyn ImportObserver,
    /// Where written rows go to be freed: the reading thread allocated them and frees them
    /// faster, while this one writes the next batch.
    spent: Option<std::sync::mpsc::Sender<Spent>>,
}

/// What the writer is done with, handed back to the reading thread to be freed there.
///
/// The writer is the slower thread: freeing the unchanged rows and stored rows of an upsert's
/// batches cost it about 4% of its instructions.
#[expect(
    dead_code,
    reason = "the values are only held to be dropped where they are received"
)]
enum Spent {
    /// The lines and objects of rows written.
    Written(Vec<(u64, Vec<String>)>, Vec<Map<String, Json>>),
    /// Rows identical to the stored ones, and the stored rows of a batch.
    Matched(Vec<Row>, HashMap<String, Stored>),
}

/// What the reading thread hands to the writing one: a batch of typed rows and the lines
/// refused on the way, with how far the file was read.
struct Chunk {
    rows: Vec<Row>,
    rejects: Vec<Reject>,
    /// Data lines read for this chunk (rows, refused and malformed lines).
    read: u64,
    /// Lines skipped because an interrupted run committed them (`resume`).
    skipped: u64,
    /// The last line read.
    last_line: u64,
    /// Bytes of the input consumed.
    bytes_read: u64,
    /// Whether the file ends with this chunk.
    end: bool,
}

/// The text form of a key value, for matching rows read back with rows of the file.
fn key_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The last line that the latest unfinished import of `source` into `alias` committed (the
/// header's, 1, when it committed no batch); `None` when there is none.
pub(crate) fn committed_line(
    conn: &mut AnyConnection,
    alias: &str,
    source: &str,
) -> Result<Option<u64>, CoreError> {
    checkpoint::committed(conn, alias, source)
}

impl Dynex {
    /// Whether an import of the file with this fingerprint ([`ImportOptions::source`]) into
    /// `alias` was ever started, so that [`ImportOptions::resume`] has something to continue.
    pub fn import_started(&self, alias: &str, source: &str) -> Result<bool, CoreError> {
        let mut conn = self.inner.db.conn()?;
        checkpoint::exists(&mut conn, alias, source)
    }

    /// Imports a CSV file (header first, visible field names as columns) into the entity
    /// `alias`; refused lines go to `observer`. Fails before writing anything when the header
    /// names unknown or repeated columns, or lacks the key column in `upsert`/`update` mode.
    pub fn import<R: Read + Send>(
        &self,
        alias: &str,
        input: R,
        options: &ImportOptions,
        observer: &mut dyn ImportObserver,
    ) -> Result<ImportSummary, CoreError> {
        let started = Instant::now();
        let snapshot = self.snapshot();
        let entity = self.entity(&snapshot, alias)?;
        let mut reader = RecordReader::new(input).map_err(|e| CoreError::Invalid(e.to_string()))?;
        let mapping = options
            .mapping
            .as_ref()
            .map(|m| m.plan_in(&snapshot.catalog, &entity, reader.header()))
            .transpose()
            .map_err(|e| CoreError::Invalid(e.to_string()))?;
        let columns = header_fields(
            &entity,
            mapping.as_ref().map_or(reader.header(), |m| m.header()),
        )?;
        let key = match_key(&entity, options, &columns, "column")?;
        let lookups = match &mapping {
            None => Vec::new(),
            Some(plan) => plan
                .lookups()
                .iter()
                .filter_map(|l| {
                    let other = snapshot.catalog.entity(&l.entity)?;
                    let by = &other.fields()[other.field_index(&l.by)?];
                    Some(LookupColumn {
                        position: l.position,
                        entity: other,
                        by,
                    })
                })
                .collect(),
        };
        observer.start(reader.header())?;
        let outer = options.atomic || options.dry_run;
        // One transaction around everything holds SQLite's writer lock throughout.
        let _writer = if outer { self.sqlite_writer() } else { None };
        let mut conn = self.inner.db.unbounded_conn()?;
        if outer {
            conn.batch_execute(crate::engine::tx::begin_statement(self.dialect()))?;
        }
        let job = match (&options.source, outer) {
            (Some(source), false) => {
                Some(checkpoint::open(&mut conn, alias, source, options.resume)?)
            }
            (None, _) if options.resume => {
                return Err(CoreError::Invalid(
                    "--resume needs a file (standard input cannot be resumed)".into(),
                ));
            }
            (Some(_), true) if options.resume => {
                return Err(CoreError::Invalid(
                    "--resume does not apply to --atomic imports or dry runs: they keep nothing \
                     of an interrupted run"
                        .into(),
                ));
            }
            _ => None,
        };
        let precheck = options.mode == ImportMode::Insert && lookups.is_empty();
        let parser = Parser {
            entity: &entity,
            columns,
            mapping,
            lookups,
            precheck,
            dialect: self.dialect(),
        };
        let mut run = Run {
            dynex: self,
            conn: &mut conn,
            outer,
            job,
            last_line: 0,
            snapshot: &snapshot,
            entity: &entity,
            options,
            parser: &parser,
            key,
            rejects: Vec::new(),
            spent: None,
            summary: ImportSummary {
                entity: alias.to_string(),
                mode: options.mode.as_str(),
                dry_run: options.dry_run,
                atomic: options.atomic,
                ..ImportSummary::default()
            },
            observer,
        };
        // Each batch commits with the job's progress. On PostgreSQL those commits need not wait
        // for the disk: a batch lost in a server crash is lost with its progress, so `--resume`
        // writes it again, and the job's last, synchronous commit makes everything durable.
        let quick_commits = run.job.is_some() && self.dialect() == dynex_query::Dialect::Postgres;
        if quick_commits {
            run.conn.batch_execute("SET synchronous_commit = off")?;
        }
        let result = run.all(&mut reader, started);
        if quick_commits {
            run.conn.batch_execute("RESET synchronous_commit")?;
        }
        let mut summary = run.summary;
        let job = run.job;
        if outer {
            let keep = result.is_ok() && !options.dry_run && summary.rejected == 0;
            conn.batch_execute(if keep { "COMMIT" } else { "ROLLBACK" })?;
            summary.committed = keep;
        } else {
            summary.committed = !options.dry_run;
        }
        result?;
        if let Some((id, _)) = job {
            checkpoint::finish(&mut conn, id)?;
        }
        if summary.committed && self.dialect() == dynex_query::Dialect::Sqlite {
            // A large import changes what the planner should know about the table.
            crate::db::refresh_statistics(&mut conn, self.inner.options.db.sqlite_mmap);
        }
        let elapsed = started.elapsed().as_secs_f64();
        summary.seconds = elapsed;
        summary.rows_per_second = rate(summary.read, elapsed);
        if summary.committed {
            let audit = crate::audit::Audit::new("data.import", alias).with(serde_json::json!({
                "mode": summary.mode,
                "inserted": summary.inserted,
                "updated": summary.updated,
                "rejected": summary.rejected,
            }));
            self.audit(&mut conn, &audit);
        }
        Ok(summary)
    }
}

fn rate(rows: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        (rows as f64 / seconds).round()
    } else {
        0.0
    }
}

/// The field rows are matched by (`options.key`, else the identifier); `upsert` and `update`
/// need it among `columns` (each a `what`: a file's column, a row's field).
fn match_key<'e>(
    entity: &'e Entity,
    options: &ImportOptions,
    columns: &[&Field],
    what: &str,
) -> Result<&'e Field, CoreError> {
    let key = match &options.key {
        None => entity.identifier(),
        Some(name) => entity
            .field_index(name)
            .map(|i| &entity.fields()[i])
            .ok_or_else(|| {
                CoreError::Invalid(format!(
                    "the key `{name}` is not a field of `{}`",
                    entity.alias()
                ))
            })?,
    };
    if options.mode != ImportMode::Insert
        && !columns
            .iter()
            .any(|f| f.field_visible_name == key.field_visible_name)
    {
        return Err(CoreError::Invalid(format!(
            "{} needs the {what} `{}` to match rows",
            options.mode.as_str(),
            key.field_visible_name
        )));
    }
    Ok(key)
}

/// The field of each column of the header; unknown and repeated columns are refused.
fn header_fields<'e>(entity: &'e Entity, header: &[String]) -> Result<Vec<&'e Field>, CoreError> {
    let mut fields: Vec<&Field> = Vec::with_capacity(header.len());
    let mut unknown = Vec::new();
    for name in header {
        match entity.field_index(name) {
            Some(_) if fields.iter().any(|f| f.field_visible_name == *name) => {
                return Err(CoreError::Invalid(format!(
                    "the column `{name}` appears twice in the header"
                )));
            }
            Some(i) => fields.push(&entity.fields()[i]),
            None => unknown.push(format!("`{name}`")),
        }
    }
    if !unknown.is_empty() {
        let known: Vec<&str> = entity
            .fields()
            .iter()
            .map(|f| f.field_visible_name.as_str())
            .collect();
        return Err(CoreError::Invalid(format!(
            "unknown column{} {} (the fields of `{}` are: {})",
            if unknown.len() > 1 { "s" } else { "" },
            unknown.join(", "),
            entity.alias(),
            known.join(", ")
        )));
    }
    Ok(fields)
}
