//! Whole reads out of PostgreSQL with `COPY (SELECT …) TO STDOUT (FORMAT binary)`, for exports.
//!
//! A `SELECT` result costs libpq a result object per row in row-by-row mode, and the client
//! about as much CPU as the server spends on the read; `COPY` hands over the same rows as a byte
//! stream, which is what `psql`'s `\copy` reads.
//!
//! Two things in the way, and how they are met:
//!
//! - `COPY` takes no bound parameters. Each value of the read is bound instead in a
//!   `set_config('dynex.pN', $1, true)` call in the same transaction, and the statement reads it
//!   back with `current_setting('dynex.pN')`, cast to the type it was bound as. No value is ever
//!   spelled into SQL text.
//! - Diesel's `COPY TO` (2.3) reads the stream but not the command's final result, which leaves
//!   the connection unusable ("another command is already in progress") and would hide an error
//!   that ends the stream. The binary format ends with a trailer, so an early end is noticed
//!   ([`CopyParser::finish`]); the connection is left in its transaction, which makes the pool
//!   close it (`has_broken`) instead of handing it out again.

use std::cell::RefCell;
use std::io::BufRead;

use diesel::PgConnection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::pg::{CopyFormat, CopyTarget, Pg};
use diesel::query_builder::AstPass;
use diesel::{QueryResult, RunQueryDsl};
use dynex_query::{Piece, Sql, Value};

use crate::db::DynQuery;
use crate::error::CoreError;

/// Bytes of stream collected before they are handed on: few enough to keep memory flat, many
/// enough that handing on costs nothing per row.
const CHUNK_BYTES: usize = 256 * 1024;

// A table type only because diesel's `CopyTarget` names one; nothing reads it.
diesel::table! {
    dynex_copy_target (id) {
        id -> Integer,
    }
}

thread_local! {
    /// The query of the `COPY` being prepared on this thread (see [`Query`]).
    static QUERY: RefCell<Option<Sql>> = const { RefCell::new(None) };
}

/// The `(SELECT …)` of a `COPY`: diesel asks a [`CopyTarget`] for its SQL through a function
/// without `self` (its targets are tables known at compile time), so the query is handed over
/// in a thread-local set around the call, on the calling thread.
struct Query;

impl CopyTarget for Query {
    type Table = dynex_copy_target::table;
    type SqlType = diesel::sql_types::Integer;

    fn walk_target(mut pass: AstPass<'_, '_, Pg>) -> QueryResult<()> {
        QUERY.with_borrow(|query| {
            let query = query.as_ref().ok_or_else(|| {
                diesel::result::Error::QueryBuilderError("no COPY query was set".into())
            })?;
            pass.push_sql("(");
            for piece in &query.pieces {
                match piece {
                    Piece::Sql(s) => pass.push_sql(s),
                    Piece::Ident(i) => pass.push_identifier(i)?,
                    Piece::Bind(_) => {
                        return Err(diesel::result::Error::QueryBuilderError(
                            "a COPY query takes no bound values".into(),
                        ));
                    }
                }
            }
            pass.push_sql(")");
            Ok(())
        })
    }
}

/// `sql` with every bound value replaced by a read of the setting it is bound to, and the
/// statement that binds them (`None` without values).
fn unbind(sql: &Sql) -> (Sql, Option<Sql>) {
    let mut query = Sql::with_capacity(sql.pieces.len());
    let mut set = Sql::default();
    let mut n = 0;
    for piece in &sql.pieces {
        let value = match piece {
            Piece::Sql(s) => {
                query.push(s);
                continue;
            }
            Piece::Ident(i) => {
                query.ident(i);
                continue;
            }
            Piece::Bind(v) => v,
        };
        // The type each value has as a bound parameter (see `DynQuery`), so that the query
        // compares and converts exactly as with `$n`.
        let (text, cast) = match value {
            Value::Null => {
                query.push("NULL::text");
                continue;
            }
            Value::Int(i) => (i.to_string(), "::int8"),
            Value::Float(f) => (f.to_string(), "::float8"),
            Value::Bool(b) => (b.to_string(), "::bool"),
            Value::Text(s)
            | Value::Decimal(s)
            | Value::Date(s)
            | Value::DateTime(s)
            | Value::Json(s) => (s.clone(), ""),
        };
        n += 1;
        let name = format!("'dynex.p{n}'");
        query.push(&format!("(current_setting({name}){cast})"));
        set.push(if n == 1 { "SELECT " } else { ", " });
        set.push(&format!("set_config({name}, "))
            .bind(Value::Text(text))
            .push(", true)");
    }
    (query, (n > 0).then_some(set))
}

/// Streams the rows of a rendered read in PostgreSQL's binary `COPY` format, in chunks of
/// whole messages, to `each`, which returns an empty buffer for the next chunk (`None` stops).
/// Parse the chunks with a [`CopyParser`].
///
/// The connection is left in a transaction: give it back to the pool only to be closed.
pub fn copy_out(
    conn: &mut PgConnection,
    sql: &Sql,
    mut each: impl FnMut(Vec<u8>) -> Option<Vec<u8>>,
) -> Result<(), CoreError> {
    let (query, set) = unbind(sql);
    AnsiTransactionManager::begin_transaction(conn)?;
    if let Some(set) = &set {
        DynQuery(set).execute(conn)?;
    }
    QUERY.with_borrow_mut(|q| *q = Some(query));
    let started = diesel::copy_to(Query)
        .with_format(CopyFormat::Binary)
        .load_raw(conn);
    QUERY.with_borrow_mut(|q| *q = None);
    let mut stream = started?;
    let mut chunk = Vec::with_capacity(CHUNK_BYTES);
    loop {
        let data = stream
            .fill_buf()
            .map_err(|e| CoreError::Unavailable(format!("reading the export: {e}")))?;
        if data.is_empty() {
            break;
        }
        chunk.extend_from_slice(data);
        let n = data.len();
        stream.consume(n);
        if chunk.len() >= CHUNK_BYTES {
            let Some(next) = each(chunk) else {
                return Ok(());
            };
            chunk = next;
            chunk.reserve(CHUNK_BYTES);
        }
    }
    if !chunk.is_empty() {
        each(chunk);
    }
    Ok(())
}

/// The signature that starts a binary `COPY` stream.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Reads the tuples of a binary `COPY` stream whose columns are all text, chunk by chunk.
#[derive(Debug, Default)]
pub struct CopyParser {
    /// Whether the header has been read.
    header: bool,
    /// Whether the trailer has been read: the stream is complete.
    done: bool,
    /// The start of a tuple that the last chunk cut off.
    carry: Vec<u8>,
}

fn corrupt(why: &str) -> CoreError {
    CoreError::Corrupt(format!("the COPY stream from PostgreSQL: {why}"))
}

impl CopyParser {
    /// Hands each whole tuple of `chunk` (and of what the chunk before left) to `row`, as its
    /// `columns` text values (`None` for `NULL`).
    pub fn feed(
        &mut self,
        chunk: &[u8],
        columns: usize,
        mut row: impl FnMut(&[Option<&str>]) -> Result<(), CoreError>,
    ) -> Result<(), CoreError> {
        let carried;
        let data = if self.carry.is_empty() {
            chunk
        } else {
            self.carry.extend_from_slice(chunk);
            carried = std::mem::take(&mut self.carry);
            &carried[..]
        };
        let used = self.tuples(data, columns, &mut row)?;
        self.carry = data[used..].to_vec();
        Ok(())
    }

    /// Fails unless the stream ended with its trailer: a stream cut short (a lost connection, a
    /// server that stopped the statement) is an unavailable database, not a shorter export.
    pub fn finish(&self) -> Result<(), CoreError> {
        if self.done && self.carry.is_empty() {
            Ok(())
        } else {
            Err(CoreError::Unavailable(
                "the COPY stream from PostgreSQL ended before its trailer: the connection was \
                 lost or the server stopped the export"
                    .into(),
            ))
        }
    }

    /// Reads the whole tuples at the start of `data`; returns the bytes read.
    fn tuples(
        &mut self,
        data: &[u8],
        columns: usize,
        row: &mut impl FnMut(&[Option<&str>]) -> Result<(), CoreError>,
    ) -> Result<usize, CoreError> {
        let mut at = 0;
        if !self.header {
            // Signature, flags, then the length of a header extension and the extension.
            let Some(extension) = int(data, SIGNATURE.len() + 4) else {
                return Ok(0);
            };
            if !data.starts_with(SIGNATURE) {
                return Err(corrupt("no binary COPY signature"));
            }
            let end = SIGNATURE.len() + 8 + usize::try_from(extension).unwrap_or(usize::MAX);
            if data.len() < end {
                return Ok(0);
            }
            self.header = true;
            at = end;
        }
        let mut cells: Vec<Option<&str>> = Vec::with_capacity(columns);
        while let Some(count) = short(data, at) {
            if self.done {
                return Err(corrupt("data after the trailer"));
            }
            if count == -1 {
                self.done = true;
                at += 2;
                continue;
            }
            if usize::try_from(count).ok() != Some(columns) {
                return Err(corrupt(&format!(
                    "a row of {count} columns where {columns} were read"
                )));
            }
            cells.clear();
            let mut p = at + 2;
            let mut whole = true;
            for _ in 0..columns {
                let Some(len) = int(data, p) else {
                    whole = false;
                    break;
                };
                p += 4;
                if len < 0 {
                    cells.push(None);
                    continue;
                }
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                let Some(bytes) = data.get(p..p.saturating_add(len)) else {
                    whole = false;
                    break;
                };
                let text =
                    std::str::from_utf8(bytes).map_err(|_| corrupt("a value is not UTF-8"))?;
                cells.push(Some(text));
                p += len;
            }
            if !whole {
                break;
            }
            row(&cells)?;
            at = p;
        }
        Ok(at)
    }
}

/// The big-endian 16-bit integer at `at`, if the data holds it.
fn short(data: &[u8], at: usize) -> Option<i16> {
    let bytes = data.get(at..at + 2)?;
    Some(i16::from_be_bytes([bytes[0], bytes[1]]))
}

/// The big-endian 32-bit integer at `at`, if the data holds it.
fn int(data: &[u8], at: usize) -> Option<i32> {
    let bytes = data.get(at..at + 4)?;
    Some(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary COPY stream of `rows`.
    fn stream(rows: &[&[Option<&str>]]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend(0i32.to_be_bytes());
        out.extend(3i32.to_be_bytes());
        out.extend(b"ext");
        for row in rows {
            out.extend((row.len() as i16).to_be_bytes());
            for cell in *row {
                match cell {
                    None => out.extend((-1i32).to_be_bytes()),
                    Some(s) => {
                        out.extend((s.len() as i32).to_be_bytes());
                        out.extend(s.as_bytes());
                    }
                }
            }
        }
        out.extend((-1i16).to_be_bytes());
        out
    }

    fn read_in_pieces(data: &[u8], size: usize) -> Result<Vec<Vec<Option<String>>>, CoreError> {
        let mut parser = CopyParser::default();
        let mut rows = Vec::new();
        for chunk in data.chunks(size) {
            parser.feed(chunk, 2, |cells| {
                rows.push(cells.iter().map(|c| c.map(str::to_string)).collect());
                Ok(())
            })?;
        }
        parser.finish()?;
        Ok(rows)
    }

    #[test]
    fn tuples_are_read_whatever_the_chunks() {
        let data = stream(&[
            &[Some("1"), Some("a\tb\n\"c\"")],
            &[Some("2"), None],
            &[Some(""), Some("ü")],
        ]);
        let expected = vec![
            vec![Some("1".to_string()), Some("a\tb\n\"c\"".to_string())],
            vec![Some("2".to_string()), None],
            vec![Some(String::new()), Some("ü".to_string())],
        ];
        for size in [1, 2, 3, 7, 19, 20, 64, data.len()] {
            assert_eq!(read_in_pieces(&data, size).unwrap(), expected, "{size}");
        }
    }

    #[test]
    fn a_stream_cut_short_or_malformed_is_an_error() {
        let data = stream(&[&[Some("1"), Some("a")], &[Some("2"), Some("b")]]);
        // Without the trailer, and cut inside the last tuple.
        for cut in [data.len() - 2, data.len() - 3] {
            let e = read_in_pieces(&data[..cut], 5).unwrap_err();
            assert!(e.to_string().contains("trailer"), "{e}");
        }
        let mut wrong = data.clone();
        wrong[0] = b'X';
        assert!(read_in_pieces(&wrong, 64).is_err());
        let three = stream(&[&[Some("1"), Some("a"), Some("x")]]);
        let e = read_in_pieces(&three, 64).unwrap_err();
        assert!(e.to_string().contains("3 columns"), "{e}");
        let mut bad_utf8 = stream(&[&[Some("1"), Some("é")]]);
        let at = bad_utf8.len() - 3;
        bad_utf8[at] = 0xff;
        assert!(read_in_pieces(&bad_utf8, 64).is_err());
        let mut after = data;
        after.extend([0, 2]);
        assert!(read_in_pieces(&after, 64).is_err());
    }

    #[test]
    fn values_are_bound_to_settings() {
        let mut sql = Sql::default();
        sql.push("SELECT 1 FROM ")
            .ident("t")
            .push(" WHERE a = ")
            .bind(Value::Int(7))
            .push(" AND b = ")
            .bind(Value::Text("x'y".into()))
            .push(" AND c IS ")
            .bind(Value::Null);
        let (query, set) = unbind(&sql);
        assert!(query.pieces.iter().all(|p| !matches!(p, Piece::Bind(_))));
        let text: String = query
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Sql(s) => s.to_string(),
                Piece::Ident(i) => format!("\"{i}\""),
                Piece::Bind(_) => unreachable!(),
            })
            .collect();
        assert_eq!(
            text,
            "SELECT 1 FROM \"t\" WHERE a = (current_setting('dynex.p1')::int8) AND b = \
             (current_setting('dynex.p2')) AND c IS NULL::text"
        );
        let set = set.unwrap();
        let binds: Vec<&Value> = set
            .pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Bind(v) => Some(v),
                _ => None,
            })
            .collect();
        assert_eq!(
            binds,
            [&Value::Text("7".into()), &Value::Text("x'y".into())]
        );
        assert_eq!(unbind(&Sql::default()).1, None);
    }
}
