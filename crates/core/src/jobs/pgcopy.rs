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
//!
//! Integer, boolean, date and timestamp columns are read in their binary form ([`Wire`]) and
//! spelled here exactly as `CAST(… AS TEXT)` spells them on a dynex connection (ISO dates, UTC):
//! the server's text conversion of such values costs it more than the rest of the read, and the
//! server is what an export waits for.

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

/// How a column of a binary `COPY` stream is sent, by the column's SQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Text (the column is read as `CAST(… AS TEXT)`): its bytes as they are.
    Text,
    /// `smallint`, `integer` or `bigint`: a big-endian integer of 2, 4 or 8 bytes.
    Integer,
    /// `boolean`: one byte.
    Boolean,
    /// `date`: days since 2000-01-01 as a 4-byte integer.
    Date,
    /// `timestamp without time zone`: microseconds since 2000-01-01 as an 8-byte integer.
    Timestamp,
    /// `timestamp with time zone`: the same, in UTC, which is the time zone of every dynex
    /// connection (diesel sets it).
    TimestampTz,
}

/// The SQL types read in binary, as information_schema's `data_type` names them, and how each is
/// sent. A column of another type (numeric, text, a domain…) is read as text.
const BINARY: [(&str, Wire); 7] = [
    ("smallint", Wire::Integer),
    ("integer", Wire::Integer),
    ("bigint", Wire::Integer),
    ("boolean", Wire::Boolean),
    ("date", Wire::Date),
    ("timestamp without time zone", Wire::Timestamp),
    ("timestamp with time zone", Wire::TimestampTz),
];

/// How a column of the SQL type `sql_type` is read in binary: the type to cast it to (itself,
/// which costs the server nothing) and how that type is sent; `None` to read it as text.
///
/// The cast makes the stream hold what the parser expects even when the column changed type
/// since it was introspected: the server converts the value, or fails, instead of sending bytes
/// that would be decoded as another type.
pub fn binary(sql_type: &str) -> Option<(&'static str, Wire)> {
    BINARY.iter().find(|(name, _)| *name == sql_type).copied()
}

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400_000_000;
/// 2000-01-01, PostgreSQL's epoch for dates and times, in days since 1970-01-01.
const EPOCH_DAYS: i64 = 10_957;

/// Spells a binary value as `CAST(… AS TEXT)` does; `None` when its length does not fit `wire`.
fn spell(wire: Wire, bytes: &[u8], out: &mut String) -> Option<()> {
    let mut digits = itoa::Buffer::new();
    match wire {
        Wire::Text => return None,
        Wire::Integer => out.push_str(match bytes.len() {
            2 => digits.format(i16::from_be_bytes(bytes.try_into().ok()?)),
            4 => digits.format(i32::from_be_bytes(bytes.try_into().ok()?)),
            8 => digits.format(i64::from_be_bytes(bytes.try_into().ok()?)),
            _ => return None,
        }),
        Wire::Boolean => out.push_str(match bytes {
            [0] => "false",
            [_] => "true",
            _ => return None,
        }),
        Wire::Date => match i32::from_be_bytes(bytes.try_into().ok()?) {
            i32::MAX => out.push_str("infinity"),
            i32::MIN => out.push_str("-infinity"),
            days => {
                let bc = push_date(out, i64::from(days));
                if bc {
                    out.push_str(" BC");
                }
            }
        },
        Wire::Timestamp | Wire::TimestampTz => match i64::from_be_bytes(bytes.try_into().ok()?) {
            i64::MAX => out.push_str("infinity"),
            i64::MIN => out.push_str("-infinity"),
            micros => {
                let bc = push_date(out, micros.div_euclid(DAY_MICROS));
                let time = micros.rem_euclid(DAY_MICROS);
                let seconds = time / 1_000_000;
                out.push(' ');
                push_two(out, seconds / 3600);
                out.push(':');
                push_two(out, seconds / 60 % 60);
                out.push(':');
                push_two(out, seconds % 60);
                let fraction = time % 1_000_000;
                if fraction > 0 {
                    // Six digits, without the zeros that end them.
                    let mut digits = fraction + 1_000_000;
                    let mut width = 6;
                    while digits % 10 == 0 {
                        digits /= 10;
                        width -= 1;
                    }
                    out.push('.');
                    out.push_str(&itoa::Buffer::new().format(digits)[1..=width]);
                }
                if wire == Wire::TimestampTz {
                    out.push_str("+00");
                }
                if bc {
                    out.push_str(" BC");
                }
            }
        },
    }
    Some(())
}

/// Appends the date `days` after 2000-01-01 as `YYYY-MM-DD` (proleptic Gregorian, at least four
/// digits of year); returns whether it is before the year 1, whose years count back from 1 BC.
fn push_date(out: &mut String, days: i64) -> bool {
    // Howard Hinnant's `civil_from_days`, on days since 1970-01-01.
    let z = days + EPOCH_DAYS + 719_468;
    let era = z.div_euclid(146_097);
    let of_era = z.rem_euclid(146_097);
    let year_of_era = (of_era - of_era / 1460 + of_era / 36_524 - of_era / 146_096) / 365;
    let day_of_year = of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let mut digits = itoa::Buffer::new();
    let shown = digits.format(if year > 0 { year } else { 1 - year });
    for _ in shown.len()..4 {
        out.push('0');
    }
    out.push_str(shown);
    out.push('-');
    push_two(out, month);
    out.push('-');
    push_two(out, day);
    year <= 0
}

/// Appends `n` (below 100) as two digits.
fn push_two(out: &mut String, n: i64) {
    let n = u8::try_from(n).unwrap_or(0);
    out.push(char::from(b'0' + n / 10));
    out.push(char::from(b'0' + n % 10));
}

/// The signature that starts a binary `COPY` stream.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Reads the tuples of a binary `COPY` stream, chunk by chunk, as the text of their values.
#[derive(Debug, Default)]
pub struct CopyParser {
    /// Whether the header has been read.
    header: bool,
    /// Whether the trailer has been read: the stream is complete.
    done: bool,
    /// The start of a tuple that the last chunk cut off.
    carry: Vec<u8>,
    /// Where each value of the tuple being read is.
    spans: Vec<Span>,
    /// The text of each binary value of the tuple being read, by column.
    spelled: Vec<String>,
}

/// Where the text of one value of a tuple is.
#[derive(Debug, Clone, Copy)]
enum Span {
    Null,
    /// The bytes of the stream from `.0` to `.1`.
    Stream(usize, usize),
    /// The column's entry of [`CopyParser::spelled`].
    Spelled,
}

fn corrupt(why: &str) -> CoreError {
    CoreError::Corrupt(format!("the COPY stream from PostgreSQL: {why}"))
}

impl CopyParser {
    /// Hands each whole tuple of `chunk` (and of what the chunk before left) to `row`, as the
    /// text of its values (`None` for `NULL`), one per column; `wires` tells how each column
    /// is sent.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        wires: &[Wire],
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
        let used = self.tuples(data, wires, &mut row)?;
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
        wires: &[Wire],
        row: &mut impl FnMut(&[Option<&str>]) -> Result<(), CoreError>,
    ) -> Result<usize, CoreError> {
        let columns = wires.len();
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
        self.spelled.resize_with(columns, String::new);
        let mut kept: Vec<Option<&str>> = Vec::with_capacity(columns);
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
            // First where every value is (spelling the binary ones), then their text: the
            // spelled values are borrowed only once all are written.
            self.spans.clear();
            let mut p = at + 2;
            let mut whole = true;
            for (&wire, spelled) in wires.iter().zip(&mut self.spelled) {
                let Some(len) = int(data, p) else {
                    whole = false;
                    break;
                };
                p += 4;
                if len < 0 {
                    self.spans.push(Span::Null);
                    continue;
                }
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                let Some(bytes) = data.get(p..p.saturating_add(len)) else {
                    whole = false;
                    break;
                };
                if wire == Wire::Text {
                    self.spans.push(Span::Stream(p, p + len));
                } else {
                    spelled.clear();
                    spell(wire, bytes, spelled)
                        .ok_or_else(|| corrupt(&format!("a {wire:?} value of {len} bytes")))?;
                    self.spans.push(Span::Spelled);
                }
                p += len;
            }
            if !whole {
                break;
            }
            let mut cells = recycle(std::mem::take(&mut kept));
            for (span, spelled) in self.spans.iter().zip(&self.spelled) {
                cells.push(match *span {
                    Span::Null => None,
                    Span::Stream(from, to) => Some(
                        std::str::from_utf8(&data[from..to])
                            .map_err(|_| corrupt("a value is not UTF-8"))?,
                    ),
                    Span::Spelled => Some(spelled.as_str()),
                });
            }
            row(&cells)?;
            kept = recycle(cells);
            at = p;
        }
        Ok(at)
    }
}

/// Empties `cells` and hands back its allocation for cells of another lifetime: collecting an
/// emptied vector into one of a type of the same size reuses its buffer.
fn recycle<'b>(mut cells: Vec<Option<&str>>) -> Vec<Option<&'b str>> {
    cells.clear();
    cells.into_iter().map(|_| None).collect()
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

    /// A binary COPY stream of `rows` of text values.
    fn stream(rows: &[&[Option<&str>]]) -> Vec<u8> {
        let rows: Vec<Vec<Option<Vec<u8>>>> = rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|c| c.map(|s| s.as_bytes().to_vec()))
                    .collect()
            })
            .collect();
        binary_stream(&rows)
    }

    /// A binary COPY stream of `rows` of values as sent.
    fn binary_stream(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend(0i32.to_be_bytes());
        out.extend(3i32.to_be_bytes());
        out.extend(b"ext");
        for row in rows {
            out.extend((row.len() as i16).to_be_bytes());
            for cell in row {
                match cell {
                    None => out.extend((-1i32).to_be_bytes()),
                    Some(bytes) => {
                        out.extend((bytes.len() as i32).to_be_bytes());
                        out.extend(bytes);
                    }
                }
            }
        }
        out.extend((-1i16).to_be_bytes());
        out
    }

    fn read_typed(
        data: &[u8],
        size: usize,
        wires: &[Wire],
    ) -> Result<Vec<Vec<Option<String>>>, CoreError> {
        let mut parser = CopyParser::default();
        let mut rows = Vec::new();
        for chunk in data.chunks(size) {
            parser.feed(chunk, wires, |cells| {
                rows.push(cells.iter().map(|c| c.map(str::to_string)).collect());
                Ok(())
            })?;
        }
        parser.finish()?;
        Ok(rows)
    }

    fn read_in_pieces(data: &[u8], size: usize) -> Result<Vec<Vec<Option<String>>>, CoreError> {
        read_typed(data, size, &[Wire::Text, Wire::Text])
    }

    /// `value` as [`spell`] spells it.
    fn spelled(wire: Wire, bytes: &[u8]) -> Option<String> {
        let mut out = String::new();
        spell(wire, bytes, &mut out).map(|()| out)
    }

    #[test]
    fn binary_values_are_spelled_as_postgresql_casts_them_to_text() {
        let int = |b: &[u8]| spelled(Wire::Integer, b).unwrap();
        assert_eq!(int(&(-7i16).to_be_bytes()), "-7");
        assert_eq!(int(&i32::MAX.to_be_bytes()), "2147483647");
        assert_eq!(int(&i64::MIN.to_be_bytes()), "-9223372036854775808");
        assert_eq!(spelled(Wire::Integer, &[1, 2, 3]), None);
        assert_eq!(spelled(Wire::Boolean, &[1]).unwrap(), "true");
        assert_eq!(spelled(Wire::Boolean, &[0]).unwrap(), "false");
        let date = |days: i32| spelled(Wire::Date, &days.to_be_bytes()).unwrap();
        assert_eq!(date(0), "2000-01-01");
        assert_eq!(date(9497), "2026-01-01");
        assert_eq!(date(-1), "1999-12-31");
        assert_eq!(date(-730_119), "0001-01-01");
        assert_eq!(date(-730_120), "0001-12-31 BC");
        assert_eq!(date(i32::MAX), "infinity");
        assert_eq!(date(i32::MIN), "-infinity");
        let micros = |days: i64, seconds: i64, fraction: i64| {
            (days * DAY_MICROS + seconds * 1_000_000 + fraction).to_be_bytes()
        };
        let ts = |b: [u8; 8]| spelled(Wire::Timestamp, &b).unwrap();
        assert_eq!(
            ts(micros(9497 + 1, 3 * 3600 + 4 * 60 + 5, 0)),
            "2026-01-02 03:04:05"
        );
        assert_eq!(ts(micros(0, 86_399, 120_000)), "2000-01-01 23:59:59.12");
        assert_eq!(ts(micros(-1, 0, 1)), "1999-12-31 00:00:00.000001");
        assert_eq!(ts(micros(-730_120, 0, 0)), "0001-12-31 00:00:00 BC");
        assert_eq!(ts(micros(2_921_940, 0, 0)), "10000-01-01 00:00:00");
        assert_eq!(ts(i64::MAX.to_be_bytes()), "infinity");
        let tz = |b: [u8; 8]| spelled(Wire::TimestampTz, &b).unwrap();
        assert_eq!(tz(micros(0, 1, 500_000)), "2000-01-01 00:00:01.5+00");
        assert_eq!(tz(micros(-730_120, 0, 0)), "0001-12-31 00:00:00+00 BC");
        assert_eq!(tz(i64::MIN.to_be_bytes()), "-infinity");
        assert_eq!(spelled(Wire::Timestamp, &[0; 4]), None);
    }

    #[test]
    fn binary_columns_are_read_beside_text_ones() {
        let rows = vec![
            vec![
                Some(42i32.to_be_bytes().to_vec()),
                Some(b"a".to_vec()),
                None,
            ],
            vec![
                Some((-1i32).to_be_bytes().to_vec()),
                None,
                Some(0i64.to_be_bytes().to_vec()),
            ],
        ];
        let data = binary_stream(&rows);
        let wires = [Wire::Integer, Wire::Text, Wire::Timestamp];
        let expected = vec![
            vec![Some("42".to_string()), Some("a".to_string()), None],
            vec![
                Some("-1".to_string()),
                None,
                Some("2000-01-01 00:00:00".to_string()),
            ],
        ];
        for size in [1, 5, 64] {
            assert_eq!(read_typed(&data, size, &wires).unwrap(), expected);
        }
        // A value whose length does not fit its type is a corrupt stream.
        let bad = binary_stream(&[vec![Some(vec![1, 2, 3]), None, None]]);
        let e = read_typed(&bad, 64, &wires).unwrap_err();
        assert!(e.to_string().contains("Integer value of 3 bytes"), "{e}");
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
