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

// Keys come from the payload; foldhash is seeded per map and far cheaper than SipHash.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::io::Read;
use std::time::Instant;

use diesel::connection::SimpleConnection;

use dynex_csv::{Malformed, Record, RecordReader, cell_value};
use dynex_schema::{Entity, Field, FieldType, normalize_datetime};
use dynex_validate::RowError;
use serde::Serialize;
use serde_json::{Map, Value as Json, json};

use crate::db::AnyConnection;
use crate::engine::write::{self, Method, Mode};
use crate::error::CoreError;
use crate::{Dynex, Snapshot};

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

/// A refused line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Its line number (the header is line 1).
    pub line: u64,
    /// The first error's code (`1301` for a line that is no row).
    pub code: String,
    /// The HTTP status the API answers for that code.
    pub status: u16,
    /// The field the first error is about, if one.
    pub field: Option<String>,
    /// Every error of the row, `; `-separated.
    pub message: String,
    /// The line's cells as read.
    pub cells: Vec<String>,
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

/// The field an error is about, where it names one.
fn error_field(e: &RowError) -> Option<String> {
    match e {
        RowError::Immutable { field, .. }
        | RowError::InvalidType { field, .. }
        | RowError::InvalidValue { field, .. }
        | RowError::Required { field, .. }
        | RowError::UnknownField { field, .. }
        | RowError::InvalidUrl { field, .. } => Some(field.clone()),
        RowError::Duplicate { path }
        | RowError::MissingReference { path }
        | RowError::NotNull { path } => {
            // The database names the field after the row's path when it can.
            path.rsplit_once("].").map(|(_, f)| f.to_string())
        }
        _ => None,
    }
}

/// Whether a value read from the database and one from the file are the same for `field`.
fn same(field: &Field, stored: Option<&Json>, new: &Json) -> bool {
    let stored = stored.unwrap_or(&Json::Null);
    match (field.ty, stored, new) {
        (_, Json::Null, Json::Null) => true,
        (_, Json::Null, _) | (_, _, Json::Null) => false,
        (FieldType::Decimal, a, b) => decimal_text(a) == decimal_text(b),
        (FieldType::Float, a, b) => a.as_f64() == b.as_f64(),
        (FieldType::DateTime, Json::String(a), Json::String(b)) => {
            normalize_datetime(a).map(|t| trim_fraction(&t))
                == normalize_datetime(b).map(|t| trim_fraction(&t))
        }
        (_, a, b) => a == b,
    }
}

/// A decimal without insignificant zeros: `20.50` and `20.5` compare equal.
fn decimal_text(v: &Json) -> Option<String> {
    let text = match v {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        _ => return None,
    };
    let text = dynex_schema::canonical_decimal(text.trim())?;
    Some(match text.split_once('.') {
        Some((int, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                int.to_string()
            } else {
                format!("{int}.{frac}")
            }
        }
        None => text,
    })
}

fn trim_fraction(t: &str) -> String {
    match t.split_once('.') {
        Some((base, frac)) if frac.chars().all(|c| c == '0') => base.to_string(),
        _ => t.to_string(),
    }
}

/// The text form of a key value, for matching rows read back with rows of the file.
fn key_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A stored row found by key (its wire values in the entity's field order), and how many
/// stored rows have that key.
type Stored = (Vec<Json>, usize);

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

/// A mapped column whose cells name rows of another entity by one of its fields.
struct LookupColumn<'a> {
    /// Its position among the run's columns (the field that gets the identifier found).
    position: usize,
    /// The entity looked up.
    entity: &'a std::sync::Arc<Entity>,
    /// Its field that the cells are matched against.
    by: &'a Field,
}

/// Found rows of a lookup by the text of the value looked up: the identifier of the first one
/// and how many matched.
type Found = HashMap<String, (Json, usize)>;

/// Adds the identifier of each row read by a lookup to `found`, under the text of its `by` value.
fn count_found(entity: &Entity, by: &Field, rows: Vec<Json>, found: &mut Found) {
    let id = &entity.identifier().field_visible_name;
    for row in rows {
        let (Some(v), Some(id)) = (row.get(&by.field_visible_name), row.get(id)) else {
            continue;
        };
        found
            .entry(key_text(v))
            .and_modify(|(_, n)| *n += 1)
            .or_insert((id.clone(), 1));
    }
}

/// Whether the database holds at most one row per value of `field` (its column alone is the
/// primary key or a unique key).
fn is_unique(entity: &Entity, field: &Field) -> bool {
    let column = std::slice::from_ref(&field.field_name);
    entity
        .table_info()
        .is_some_and(|t| t.primary_key == column || t.unique_keys.iter().any(|k| k == column))
}

/// The read of every row of `entity` that `query`'s conditions select by a unique field,
/// without a page: the values of one batch select at most one row each.
///
/// A page (`ORDER BY` identifier with `LIMIT`) would let PostgreSQL walk the primary key in
/// order and test every row against the list of keys, which grows with the table; without one
/// it looks the keys up in their unique index.
fn unpaged<'q>(entity: &'q Entity, query: &'q dynex_query::ReadQuery) -> dynex_query::Select<'q> {
    dynex_query::Select {
        entity,
        fields: None,
        conditions: &query.conditions,
        keys: None,
        extra_columns: &[],
        page: None,
        lock: false,
    }
}

/// The rows of [`unpaged`] as wire objects.
fn by_unique_field(
    conn: &mut AnyConnection,
    dialect: dynex_query::Dialect,
    entity: &Entity,
    query: &dynex_query::ReadQuery,
) -> Result<Vec<Json>, CoreError> {
    crate::db::load_json(conn, &dynex_query::select(dialect, &unpaged(entity, query)))?
        .iter()
        .map(|text| {
            dynex_query::decode_row(entity, text)
                .map(|(object, _)| Json::Object(object))
                .map_err(CoreError::Corrupt)
        })
        .collect()
}

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

/// A refused line: the first error decides the code, status and field.
fn reject_of(line: u64, cells: Vec<String>, errors: &[RowError]) -> Reject {
    let first = errors.first();
    Reject {
        line,
        code: first.map_or("1302", RowError::code).to_string(),
        status: first.map_or(400, RowError::status),
        field: first.and_then(error_field),
        message: errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        cells,
    }
}

/// A line that is not a row (wrong number of cells, not UTF-8, bad quoting).
fn malformed(m: Malformed) -> Reject {
    Reject {
        line: m.line,
        code: RowError::InvalidFormat.code().to_string(),
        status: RowError::InvalidFormat.status(),
        field: None,
        message: format!("Line {} is not a row: {}.", m.line, m.reason),
        cells: m.cells,
    }
}

/// The error path of a line of the file, `alias[line]`, in one allocation and without `format!`.
///
/// Every row checked carries one.
fn row_path(alias: &str, line: u64) -> String {
    use std::fmt::Write;
    let mut path = String::with_capacity(alias.len() + 22);
    path.push_str(alias);
    path.push('[');
    let _ = write!(path, "{line}");
    path.push(']');
    path
}

/// How the records of a file become rows of the entity: the file's columns, the mapping and
/// its lookups. It holds no state, so the thread reading the file and the one writing the
/// batches share it.
struct Parser<'a> {
    entity: &'a std::sync::Arc<Entity>,
    /// The field of each column of the file (of the mapped record, with a mapping).
    columns: Vec<&'a Field>,
    /// The mapping bound to the file's header.
    mapping: Option<dynex_csv::MappingPlan>,
    /// The mapping's lookups, resolved per batch before it is written.
    lookups: Vec<LookupColumn<'a>>,
    /// Rows are only created and need no lookup, so the reading thread checks them too and the
    /// writing thread only writes.
    precheck: bool,
}

impl Parser<'_> {
    /// Types the cells of a record; a cell that does not parse refuses the row.
    fn row(&self, record: Record) -> Result<Row, Reject> {
        let mut object = Map::with_capacity(record.cells.len());
        let mut errors = Vec::new();
        // Only a refused row needs its error path.
        let path = || row_path(self.entity.alias(), record.line);
        let mapped;
        let cells = match self.mapping.as_ref().map(|m| m.apply(&record.cells)) {
            None => &record.cells,
            Some(Ok(cells)) => {
                mapped = cells;
                &mapped
            }
            // A cell the mapping refuses is a 1305 that names the column and says why.
            Some(Err(e)) => {
                let ty = self
                    .entity
                    .field_index(&e.field)
                    .map(|i| self.entity.fields()[i].ty);
                let error = RowError::InvalidType {
                    path: path(),
                    field: e.field.clone(),
                    expected: ty.map_or("a value", dynex_validate::expected),
                };
                let mut reject = reject_of(record.line, record.cells, &[error]);
                reject.message = format!(
                    "Invalid data type `{}` for field `{}` (column `{}`): {}.",
                    path(),
                    e.field,
                    e.column,
                    e.reason
                );
                return Err(reject);
            }
        };
        let mut refs = vec![None; self.lookups.len()];
        let identifier = &self.entity.identifier().field_name;
        for (i, (field, text)) in self.columns.iter().zip(cells).enumerate() {
            // The cell of a lookup is a value of the field it is matched against.
            if let Some(k) = self.lookups.iter().position(|l| l.position == i) {
                let by = self.lookups[k].by;
                match cell_value(by, text) {
                    // An empty cell looks up nothing: the field is null.
                    Ok(Json::Null) => {
                        if field.field_name != *identifier {
                            object.insert(field.field_visible_name.clone(), Json::Null);
                        }
                    }
                    Ok(v) => refs[k] = Some(v),
                    Err(_) => errors.push(RowError::InvalidType {
                        path: path(),
                        field: field.field_visible_name.clone(),
                        expected: dynex_validate::expected(by.ty),
                    }),
                }
                continue;
            }
            match cell_value(field, text) {
                // An empty identifier is left out, so that the database assigns one.
                Ok(Json::Null) if field.field_name == *identifier => {}
                Ok(v) => {
                    object.insert(field.field_visible_name.clone(), v);
                }
                Err(_) => errors.push(RowError::InvalidType {
                    path: path(),
                    field: field.field_visible_name.clone(),
                    expected: dynex_validate::expected(field.ty),
                }),
            }
        }
        if !errors.is_empty() {
            return Err(reject_of(record.line, record.cells, &errors));
        }
        let checked = if self.precheck {
            write::check_create(
                self.entity,
                &object,
                row_path(self.entity.alias(), record.line),
            )
        } else {
            None
        };
        Ok(Row {
            line: record.line,
            cells: record.cells,
            object: if checked.is_some() {
                Map::new()
            } else {
                object
            },
            checked,
            refs,
        })
    }
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

/// The largest batch of an insert: one PostgreSQL statement (see [`write::write_chunks`]).
const MAX_INSERT_BATCH: usize = 10_000;

/// Finished chunks waiting to be written: none, so at most two chunks are alive (one being
/// written, one being filled and then handed over), yet reading, typing and checking the file
/// overlaps with the database's work.
const CHUNKS_IN_FLIGHT: usize = 0;

/// Reads the file into chunks of at most `batch_rows` rows and rejects, typed by `parser`,
/// and sends them in file order. A chunk ends early before a key seen already in it (upsert,
/// update), so that the second row updates what the first one wrote. Stops when the file ends
/// or the writer hangs up.
fn produce<R: Read>(
    parser: &Parser<'_>,
    reader: &mut RecordReader<R>,
    match_key: Option<&str>,
    committed_before: Option<u64>,
    batch_rows: usize,
    chunks: &std::sync::mpsc::SyncSender<Result<Chunk, CoreError>>,
    spent: &std::sync::mpsc::Receiver<Spent>,
) {
    let new_chunk = || Chunk {
        rows: Vec::with_capacity(batch_rows),
        rejects: Vec::new(),
        read: 0,
        skipped: 0,
        last_line: 0,
        bytes_read: 0,
        end: false,
    };
    let mut chunk = new_chunk();
    let mut keys: HashSet<String> = HashSet::new();
    loop {
        let record = match reader.next_record() {
            Ok(record) => record,
            Err(e) => {
                let _ = chunks.send(Err(CoreError::Invalid(format!(
                    "cannot read the file: {e}"
                ))));
                return;
            }
        };
        let line = match &record {
            None => None,
            Some(Ok(r)) => Some(r.line),
            Some(Err(m)) => Some(m.line),
        };
        let end = record.is_none();
        if let Some(line) = line
            && committed_before.is_some_and(|after| line <= after)
        {
            chunk.skipped += 1;
            continue;
        }
        match record {
            None => {}
            Some(Err(m)) => {
                chunk.read += 1;
                chunk.last_line = m.line;
                chunk.rejects.push(malformed(m));
            }
            Some(Ok(record)) => {
                let before = chunk.last_line;
                chunk.read += 1;
                chunk.last_line = record.line;
                match parser.row(record) {
                    Err(reject) => chunk.rejects.push(reject),
                    Ok(row) => {
                        let k = match_key
                            .and_then(|name| row.object.get(name))
                            .map(key_text);
                        if let Some(k) = &k
                            && keys.contains(k)
                        {
                            // Written before this row is matched: the chunk ends here.
                            let mut full = std::mem::replace(&mut chunk, new_chunk());
                            full.read -= 1;
                            full.last_line = before;
                            full.bytes_read = reader.bytes_read();
                            chunk.read = 1;
                            chunk.last_line = row.line;
                            if chunks.send(Ok(full)).is_err() {
                                return;
                            }
                            keys.clear();
                        }
                        keys.extend(k);
                        chunk.rows.push(row);
                    }
                }
            }
        }
        if end || chunk.rows.len() + chunk.rejects.len() >= batch_rows {
            // Frees what the writer is done with, before the next chunk allocates.
            while spent.try_recv().is_ok() {}
            let mut full = std::mem::replace(&mut chunk, new_chunk());
            full.bytes_read = reader.bytes_read();
            full.end = end;
            keys.clear();
            if chunks.send(Ok(full)).is_err() || end {
                return;
            }
        }
    }
}

impl Run<'_> {
    fn reject(
        &mut self,
        line: u64,
        cells: Vec<String>,
        errors: &[RowError],
    ) -> Result<(), CoreError> {
        self.summary.rejected += 1;
        self.rejects.push(reject_of(line, cells, errors));
        Ok(())
    }

    /// Hands the batch's rejects to the observer, in line order.
    fn flush_rejects(&mut self) -> Result<(), CoreError> {
        self.rejects.sort_by_key(|r| r.line);
        for reject in std::mem::take(&mut self.rejects) {
            self.observer.reject(&reject)?;
        }
        Ok(())
    }

    /// Reads the rows of lookup `k` whose matched field has one of `values`, in chunks that fit
    /// a page; a chunk that fills a page may have been cut short and is read again in halves.
    fn find(&mut self, k: usize, values: &[Json], found: &mut Found) -> Result<(), CoreError> {
        let limit = usize::try_from(self.dynex.page_limits().max_limit)
            .unwrap_or(1000)
            .max(1);
        // One less than a page: a full page then means that some value matches several rows.
        for chunk in values.chunks(limit.saturating_sub(1).max(1)) {
            let (entity, by) = (self.parser.lookups[k].entity, self.parser.lookups[k].by);
            let pairs = vec![
                (
                    format!("filter[{}.{}]", entity.alias(), by.field_visible_name),
                    json!({ "in": chunk }).to_string(),
                ),
                ("page[limit]".to_string(), limit.to_string()),
            ];
            let resolve = |a: &str| self.snapshot.catalog.entity(a).cloned();
            let query = dynex_query::parse(entity, &resolve, &pairs, &self.dynex.page_limits())?;
            if is_unique(entity, by) {
                let rows = by_unique_field(self.conn, self.dynex.dialect(), entity, &query)?;
                count_found(entity, by, rows, found);
                continue;
            }
            let rows =
                crate::engine::read::read(self.conn, self.dynex.dialect(), entity, &query, &[])?;
            if rows.len() >= limit && chunk.len() > 1 {
                let (a, b) = chunk.split_at(chunk.len() / 2);
                self.find(k, a, found)?;
                self.find(k, b, found)?;
                continue;
            }
            count_found(entity, by, rows, found);
        }
        Ok(())
    }

    /// Replaces the values looked up by the identifiers of the rows they name; a row whose
    /// value names no row (1317) or several rows (1302) is refused.
    fn resolve(&mut self, rows: Vec<Row>) -> Result<Vec<Row>, CoreError> {
        if self.parser.lookups.is_empty() || rows.is_empty() {
            return Ok(rows);
        }
        let mut found: Vec<Found> = Vec::with_capacity(self.parser.lookups.len());
        for k in 0..self.parser.lookups.len() {
            let mut seen = HashSet::new();
            let values: Vec<Json> = rows
                .iter()
                .filter_map(|r| r.refs[k].as_ref())
                .filter(|v| seen.insert(key_text(v)))
                .cloned()
                .collect();
            let mut by_value = Found::new();
            if !values.is_empty() {
                self.find(k, &values, &mut by_value)?;
            }
            found.push(by_value);
        }
        let alias = self.entity.alias();
        // A value that fills a page alone may match more rows than were read.
        let limit = usize::try_from(self.dynex.page_limits().max_limit).unwrap_or(1000);
        let mut kept = Vec::with_capacity(rows.len());
        for mut row in rows {
            let mut errors = Vec::new();
            for (k, lookup) in self.parser.lookups.iter().enumerate() {
                let Some(v) = row.refs[k].take() else {
                    continue;
                };
                let field = &self.parser.columns[lookup.position].field_visible_name;
                let path = format!("{alias}[{}]", row.line);
                match found[k].get(&key_text(&v)) {
                    Some((id, 1)) => {
                        row.object.insert(field.clone(), id.clone());
                    }
                    Some((_, n)) => errors.push(RowError::Persistence {
                        path,
                        reason: Some(format!(
                            "`{}` = `{}` matches {n}{} rows of `{}`; look rows up by a unique \
                             field",
                            lookup.by.field_visible_name,
                            key_text(&v),
                            if *n >= limit { " or more" } else { "" },
                            lookup.entity.alias()
                        )),
                    }),
                    None => errors.push(RowError::MissingReference {
                        path: format!("{path}.{field}"),
                    }),
                }
            }
            if errors.is_empty() {
                kept.push(row);
            } else {
                self.reject(row.line, row.cells, &errors)?;
            }
        }
        Ok(kept)
    }

    /// Reads the stored rows of the batch's keys, by key text, with how many rows share each
    /// key (more than one when the key field is not unique).
    fn stored(&mut self, rows: &[Row]) -> Result<HashMap<String, Stored>, CoreError> {
        let keys: Vec<&Json> = rows
            .iter()
            .filter_map(|r| r.object.get(&self.key.field_visible_name))
            .filter(|v| !v.is_null())
            .collect();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let alias = self.entity.alias();
        let pairs = vec![
            (
                format!("filter[{alias}.{}]", self.key.field_visible_name),
                json!({ "in": keys }).to_string(),
            ),
            // Room for more rows than keys, to notice a key that matches several.
            (
                "page[limit]".to_string(),
                self.dynex.page_limits().max_limit.to_string(),
            ),
        ];
        let resolve = |a: &str| self.snapshot.catalog.entity(a).cloned();
        let query = dynex_query::parse(self.entity, &resolve, &pairs, &self.dynex.page_limits())?;
        let fields = self.entity.fields();
        let found: Vec<Vec<Json>> = if is_unique(self.entity, self.key) {
            // Text columns, as an export reads them: a JSON document per row cost the database
            // more to build than the client to parse.
            let all: Vec<usize> = (0..fields.len()).collect();
            let select = unpaged(self.entity, &query);
            let sql = dynex_query::select_cells(self.dynex.dialect(), &select, &all, &[]);
            crate::db::load_cells(self.conn, &sql)?
                .into_iter()
                .map(|row| {
                    fields
                        .iter()
                        .zip(row)
                        .map(|(f, raw)| dynex_query::cell_value(f, raw))
                        .collect()
                })
                .collect()
        } else {
            crate::engine::read::read(self.conn, self.dynex.dialect(), self.entity, &query, &[])?
                .into_iter()
                .filter_map(|row| match row {
                    Json::Object(mut o) => Some(
                        fields
                            .iter()
                            .map(|f| o.remove(&f.field_visible_name).unwrap_or(Json::Null))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect()
        };
        let key = fields
            .iter()
            .position(|f| f.field_name == self.key.field_name)
            .unwrap_or_default();
        Ok(found
            .into_iter()
            .fold(HashMap::new(), |mut by_key, values| {
                let k = values.get(key).map(key_text).unwrap_or_default();
                by_key
                    .entry(k)
                    .and_modify(|(_, n): &mut Stored| *n += 1)
                    .or_insert((values, 1));
                by_key
            }))
    }

    /// Writes rows with `method`; returns how many were saved and reports the others.
    fn write(&mut self, rows: Vec<Row>, method: Method) -> Result<u64, CoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let mut sources: Vec<(u64, Vec<String>)> = Vec::with_capacity(rows.len());
        let mut objects: Vec<Map<String, Json>> = Vec::with_capacity(rows.len());
        // Rows are checked ahead all or none ([`Parser::precheck`]), and only to be created.
        let checked = method == Method::Create && rows.iter().all(|r| r.checked.is_some());
        debug_assert!(checked || rows.iter().all(|r| r.checked.is_none()));
        let mut checks = Vec::with_capacity(if checked { rows.len() } else { 0 });
        for r in rows {
            sources.push((r.line, r.cells));
            match r.checked {
                Some(c) if checked => checks.push(c),
                _ => objects.push(r.object),
            }
        }
        let hooks = self.dynex.hooks();
        let ctx = write::Ctx {
            catalog: &self.snapshot.catalog,
            dialect: self.dynex.dialect(),
            method,
            principal: None,
            hooks: hooks.as_deref(),
            // The outer transaction holds the writer lock already.
            writer: if self.outer {
                None
            } else {
                self.dynex.writer_lock()
            },
            nested: self.outer,
            respond: false,
        };
        let alias = self.entity.alias();
        let path = |i: usize| row_path(alias, sources[i].0);
        let mode = Mode {
            transactional: false,
            // Inside the outer transaction a dry run keeps each batch until the end.
            dry: self.options.dry_run && !self.outer,
        };
        let written = if checked {
            write::write_checked(self.conn, &ctx, self.entity, checks, mode)?
        } else {
            write::write_objects(self.conn, &ctx, self.entity, &objects, &path, None, mode)?
        };
        let (saved, errors) = written.outcome();
        let saved = saved.iter().filter(|s| **s).count() as u64;
        let mut by_row: Vec<Vec<RowError>> = vec![Vec::new(); sources.len()];
        for (i, e) in errors {
            by_row[i].push(e);
        }
        for (i, errors) in by_row.into_iter().enumerate() {
            if !errors.is_empty() {
                let (line, cells) = std::mem::take(&mut sources[i]);
                self.reject(line, cells, &errors)?;
            }
        }
        self.free(Spent::Written(sources, objects));
        Ok(saved)
    }

    /// Hands what the writer is done with to the reading thread, to be freed there.
    fn free(&self, spent: Spent) {
        if let Some(to) = &self.spent {
            let _ = to.send(spent);
        }
    }

    /// Writes one batch.
    fn batch(&mut self, rows: Vec<Row>) -> Result<(), CoreError> {
        let rows = self.resolve(rows)?;
        if self.options.mode == ImportMode::Insert {
            self.summary.inserted += self.write(rows, Method::Create)?;
            return Ok(());
        }
        let stored = self.stored(&rows)?;
        let key = self.key.field_visible_name.clone();
        let identifier = self.entity.identifier().field_visible_name.clone();
        let (mut creates, mut puts, mut updates) = (Vec::new(), Vec::new(), Vec::new());
        let mut unchanged = Vec::new();
        for mut row in rows {
            let found = row
                .object
                .get(&key)
                .filter(|v| !v.is_null())
                .and_then(|k| stored.get(&key_text(k)));
            match found {
                Some((_, n)) if *n > 1 => {
                    let path = format!("{}[{}]", self.entity.alias(), row.line);
                    let k = row.object.get(&key).map(key_text).unwrap_or_default();
                    let reason = format!(
                        "the key `{key}` = `{k}` matches {n} stored rows; match rows by a \
                         unique field"
                    );
                    self.reject(
                        row.line,
                        row.cells,
                        &[RowError::Persistence {
                            path,
                            reason: Some(reason),
                        }],
                    )?;
                }
                Some((existing, _)) => {
                    let is_same = |name: &String, v: &Json| {
                        self.entity
                            .field_index(name)
                            .is_some_and(|i| same(&self.entity.fields()[i], existing.get(i), v))
                    };
                    if row.object.iter().all(|(name, v)| is_same(name, v)) {
                        self.summary.unchanged += 1;
                        unchanged.push(row);
                        continue;
                    }
                    // Only what changed is written: an unchanged cell of a field that is not
                    // editable is no attempt to change it, and fewer columns write faster.
                    row.object
                        .retain(|name, v| *name == key || *name == identifier || !is_same(name, v));
                    // Matched by another key: update the stored row by its identifier.
                    if let Some(id) = existing.get(self.entity.identifier_index()) {
                        row.object.insert(identifier.clone(), id.clone());
                    }
                    updates.push(row);
                }
                // A new row that names its identifier is created with it, or refused when the
                // identifier is not creatable (1308), as a PUT would.
                None if self.options.mode == ImportMode::Upsert
                    && row.object.get(&identifier).is_some_and(|v| !v.is_null()) =>
                {
                    puts.push(row);
                }
                None if self.options.mode == ImportMode::Upsert => creates.push(row),
                None => {
                    let path = format!("{}[{}]", self.entity.alias(), row.line);
                    self.reject(row.line, row.cells, &[RowError::NotFound { path }])?;
                }
            }
        }
        self.free(Spent::Matched(unchanged, stored));
        self.summary.updated += self.write(updates, Method::Update)?;
        self.summary.inserted += self.write(puts, Method::Upsert)?;
        self.summary.inserted += self.write(creates, Method::Create)?;
        Ok(())
    }
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
            .map_err(CoreError::Invalid)?;
        let columns = header_fields(
            &entity,
            mapping.as_ref().map_or(reader.header(), |m| m.header()),
        )?;
        let key = match &options.key {
            None => entity.identifier(),
            Some(name) => entity
                .field_index(name)
                .map(|i| &entity.fields()[i])
                .ok_or_else(|| {
                    CoreError::Invalid(format!("the key `{name}` is not a field of `{alias}`"))
                })?,
        };
        if options.mode != ImportMode::Insert
            && !columns
                .iter()
                .any(|f| f.field_visible_name == key.field_visible_name)
        {
            return Err(CoreError::Invalid(format!(
                "{} needs the column `{}` to match rows",
                options.mode.as_str(),
                key.field_visible_name
            )));
        }
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
        let mut conn = self.inner.db.conn()?;
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
            crate::db::refresh_statistics(&mut conn);
        }
        let elapsed = started.elapsed().as_secs_f64();
        summary.seconds = elapsed;
        summary.rows_per_second = rate(summary.read, elapsed);
        Ok(summary)
    }
}

impl Run<'_> {
    /// Writes a batch; with a job, in one transaction with the job's new progress, so that a
    /// resumed run neither repeats nor misses a committed line.
    fn checkpointed(&mut self, batch: Vec<Row>) -> Result<(), CoreError> {
        let Some((id, _)) = self.job else {
            return self.batch(batch);
        };
        let _writer = self.dynex.sqlite_writer();
        self.conn
            .batch_execute(crate::engine::tx::begin_statement(self.dynex.dialect()))?;
        self.outer = true;
        let result = self
            .batch(batch)
            .and_then(|()| checkpoint::progress(self.conn, id, self.last_line));
        self.outer = false;
        match result {
            Ok(()) => {
                self.conn.batch_execute("COMMIT")?;
                self.job = Some((id, self.last_line));
                Ok(())
            }
            Err(e) => {
                if let Err(r) = self.conn.batch_execute("ROLLBACK") {
                    log::warn!("rollback of an import batch failed: {r}");
                }
                Err(e)
            }
        }
    }

    /// Reads and writes the whole file, batch by batch: a second thread reads and types the
    /// file while this one writes, so the database's work overlaps with the parsing.
    fn all<R: Read + Send>(
        &mut self,
        reader: &mut RecordReader<R>,
        started: Instant,
    ) -> Result<(), CoreError> {
        let options = self.options;
        // Upserts and updates match a batch with one read of a page; inserts read nothing back.
        let most = match options.mode {
            ImportMode::Insert => MAX_INSERT_BATCH,
            _ => usize::try_from(self.dynex.page_limits().max_limit).unwrap_or(1000),
        };
        let batch_rows = options.batch_rows.clamp(1, most);
        let match_key =
            (options.mode != ImportMode::Insert).then(|| self.key.field_visible_name.clone());
        let committed_before = self.job.map(|(_, after)| after);
        let parser = self.parser;
        let (spent, freed) = std::sync::mpsc::channel();
        self.spent = Some(spent);
        let result = std::thread::scope(|scope| {
            let (sender, chunks) = std::sync::mpsc::sync_channel(CHUNKS_IN_FLIGHT);
            scope.spawn(move || {
                produce(
                    parser,
                    reader,
                    match_key.as_deref(),
                    committed_before,
                    batch_rows,
                    &sender,
                    &freed,
                );
            });
            // Returning drops the receiver, which stops the reading thread.
            self.consume(&chunks, started)
        });
        self.spent = None;
        result
    }

    /// Writes the chunks of [`produce`] in order, reporting rejects and progress after each.
    fn consume(
        &mut self,
        chunks: &std::sync::mpsc::Receiver<Result<Chunk, CoreError>>,
        started: Instant,
    ) -> Result<(), CoreError> {
        while let Ok(chunk) = chunks.recv() {
            let chunk = chunk?;
            self.summary.read += chunk.read;
            self.summary.skipped += chunk.skipped;
            self.summary.rejected += chunk.rejects.len() as u64;
            self.rejects.extend(chunk.rejects);
            if chunk.read > 0 {
                self.last_line = chunk.last_line;
            }
            if chunk.rows.is_empty() && self.rejects.is_empty() {
                continue;
            }
            self.checkpointed(chunk.rows)?;
            self.flush_rejects()?;
            let elapsed = started.elapsed().as_secs_f64();
            self.summary.seconds = elapsed;
            self.summary.rows_per_second = rate(self.summary.read, elapsed);
            self.observer.progress(&self.summary, chunk.bytes_read);
            if let Some(max) = self.options.max_errors
                && self.summary.rejected >= max
                && !chunk.end
            {
                // Early only if something is left unread.
                self.summary.stopped_early = match chunks.recv() {
                    Ok(Ok(next)) => !next.end || next.read > 0 || next.skipped > 0,
                    Ok(Err(e)) => return Err(e),
                    Err(_) => false,
                };
                break;
            }
        }
        Ok(())
    }
}

fn rate(rows: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        (rows as f64 / seconds).round()
    } else {
        0.0
    }
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

/// Progress records of imports, for `--resume`.
mod checkpoint {
    use diesel::QueryableByName;
    use diesel::RunQueryDsl;
    use diesel::sql_types::{BigInt, Integer};
    use dynex_query::{Sql, Value};

    use crate::db::{AnyConnection, DynQuery, execute};
    use crate::error::CoreError;

    #[derive(QueryableByName)]
    struct JobRow {
        #[diesel(sql_type = Integer)]
        id: i32,
        #[diesel(sql_type = BigInt)]
        committed_line: i64,
    }

    fn latest(
        conn: &mut AnyConnection,
        entity: &str,
        source: &str,
        running: bool,
    ) -> Result<Option<JobRow>, CoreError> {
        let mut q = Sql::default();
        q.push("SELECT id, committed_line FROM dynex_import_job WHERE entity = ")
            .bind(Value::Text(entity.to_string()))
            .push(" AND source = ")
            .bind(Value::Text(source.to_string()));
        if running {
            q.push(" AND state = 'running'");
        }
        q.push(" ORDER BY id DESC");
        Ok(DynQuery(&q).load::<JobRow>(conn)?.into_iter().next())
    }

    /// Starts a job, or with `resume` finds the latest unfinished one of this file; returns its
    /// id and the last committed line (1, the header, for a new job).
    pub(super) fn open(
        conn: &mut AnyConnection,
        entity: &str,
        source: &str,
        resume: bool,
    ) -> Result<(i32, u64), CoreError> {
        if resume {
            if let Some(job) = latest(conn, entity, source, true)? {
                return Ok((job.id, u64::try_from(job.committed_line).unwrap_or(1)));
            }
            // A finished import of this file: every line is committed, so all are skipped.
            let job = latest(conn, entity, source, false)?.ok_or_else(|| {
                CoreError::Invalid(format!(
                    "nothing to resume: no import of this file into `{entity}` was started \
                     (or the file changed since)"
                ))
            })?;
            return Ok((job.id, u64::MAX));
        }
        let mut q = Sql::default();
        q.push("INSERT INTO dynex_import_job (entity, source, committed_line, state) VALUES (")
            .bind(Value::Text(entity.to_string()))
            .push(", ")
            .bind(Value::Text(source.to_string()))
            .push(", 1, 'running')");
        execute(conn, &q)?;
        let job = latest(conn, entity, source, false)?
            .ok_or_else(|| CoreError::Corrupt("an import job vanished".into()))?;
        Ok((job.id, 1))
    }

    /// Whether an import of this file into `entity` was ever started.
    pub(super) fn exists(
        conn: &mut AnyConnection,
        entity: &str,
        source: &str,
    ) -> Result<bool, CoreError> {
        Ok(latest(conn, entity, source, false)?.is_some())
    }

    /// Records that every line up to `line` is committed.
    pub(super) fn progress(conn: &mut AnyConnection, id: i32, line: u64) -> Result<(), CoreError> {
        let mut q = Sql::default();
        q.push("UPDATE dynex_import_job SET committed_line = ")
            .bind(Value::Int(i64::try_from(line).unwrap_or(i64::MAX)))
            .push(" WHERE id = ")
            .bind(Value::Int(i64::from(id)));
        execute(conn, &q)?;
        Ok(())
    }

    /// Marks a job done: there is nothing left to resume.
    pub(super) fn finish(conn: &mut AnyConnection, id: i32) -> Result<(), CoreError> {
        let mut q = Sql::default();
        q.push("UPDATE dynex_import_job SET state = 'done' WHERE id = ")
            .bind(Value::Int(i64::from(id)));
        execute(conn, &q)?;
        Ok(())
    }
}
