//! The reading thread: records of the file typed into rows (with the mapping and its
//! lookups), checked ahead where they are only created, and handed over in chunks.

// Keys come from the payload; foldhash is seeded per map and far cheaper than SipHash.
use foldhash::{HashSet, HashSetExt};
use std::io::Read;

use dynex_csv::{Record, RecordReader, parse_cell};
use dynex_schema::{Entity, Field};
use dynex_validate::RowError;
use serde_json::{Map, Value as Json};

use super::rejects::{malformed, reject_of};
use super::{Chunk, Reject, Row, Spent, key_text};
use crate::engine::write::{self};
use crate::error::CoreError;

/// A mapped column whose cells name rows of another entity by one of its fields.
pub(super) struct LookupColumn<'a> {
    /// Its position among the run's columns (the field that gets the identifier found).
    pub(super) position: usize,
    /// The entity looked up.
    pub(super) entity: &'a std::sync::Arc<Entity>,
    /// Its field that the cells are matched against.
    pub(super) by: &'a Field,
}

/// The error path of a line of the file, `alias[line]`, in one allocation and without `format!`.
///
/// Every row checked carries one.
pub(super) fn row_path(alias: &str, line: u64) -> String {
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
pub(super) struct Parser<'a> {
    pub(super) entity: &'a std::sync::Arc<Entity>,
    /// The field of each column of the file (of the mapped record, with a mapping).
    pub(super) columns: Vec<&'a Field>,
    /// The mapping bound to the file's header.
    pub(super) mapping: Option<dynex_csv::MappingPlan>,
    /// The mapping's lookups, resolved per batch before it is written.
    pub(super) lookups: Vec<LookupColumn<'a>>,
    /// Rows are only created and need no lookup, so the reading thread checks them too and the
    /// writing thread only writes.
    pub(super) precheck: bool,
    /// The database's dialect, which decides what a decimal must fit (see `check_create`).
    pub(super) dialect: dynex_query::Dialect,
}

impl Parser<'_> {
    /// Types the cells of a record; a cell that does not parse refuses the row, with the type
    /// it should have in CSV terms (`dynex_csv::expected`): the API's words are JSON's.
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
                    expected: ty.map_or("a value", dynex_csv::expected),
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
                match parse_cell(by, text) {
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
                        expected: dynex_csv::expected(by.ty),
                    }),
                }
                continue;
            }
            match parse_cell(field, text) {
                // An empty identifier is left out, so that the database assigns one.
                Ok(Json::Null) if field.field_name == *identifier => {}
                Ok(v) => {
                    object.insert(field.field_visible_name.clone(), v);
                }
                Err(_) => errors.push(RowError::InvalidType {
                    path: path(),
                    field: field.field_visible_name.clone(),
                    expected: dynex_csv::expected(field.ty),
                }),
            }
        }
        if !errors.is_empty() {
            return Err(reject_of(record.line, record.cells, &errors));
        }
        let checked = if self.precheck {
            write::check_create(
                self.dialect,
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

/// The largest batch of an insert: one PostgreSQL statement (see [`write::write_chunks`]).
pub(super) const MAX_INSERT_BATCH: usize = 10_000;

/// Finished chunks waiting to be written: none, so at most two chunks are alive (one being
/// written, one being filled and then handed over), yet reading, typing and checking the file
/// overlaps with the database's work.
pub(super) const CHUNKS_IN_FLIGHT: usize = 0;

/// Reads the file into chunks of at most `batch_rows` rows and rejects, typed by `parser`,
/// and sends them in file order. A chunk ends early before a key seen already in it (upsert,
/// update), so that the second row updates what the first one wrote. Stops when the file ends
/// or the writer hangs up.
pub(super) fn produce<R: Read>(
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
