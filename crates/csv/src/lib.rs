//! CSV mapped onto entities: the visible field names are the header.
//!
//! [`EntityWriter`] writes rows for `dynex export`; [`RecordReader`] streams the records of a
//! file for `dynex import`, turning lines that cannot be rows into [`Malformed`] values instead
//! of errors; [`parse_cell`] types a cell by its field; [`RejectWriter`] writes the rejects
//! report.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use dynex_schema::{Entity, Field, FieldType, Value as Typed};
use serde_json::{Map, Value};

mod encode;
pub use encode::encode_line;
mod mapping;
pub use mapping::{CellError, Lookup, Mapping, MappingError, MappingPlan, UnknownField, Unmapped};

/// Errors reading or writing CSV.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The underlying reader or writer failed.
    #[error(transparent)]
    Csv(#[from] csv::Error),
    /// The file has no header line, or it is not UTF-8.
    #[error("{0}")]
    Header(String),
}

/// One data record: its line number in the file (the header is line 1) and its cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where the record starts in the file, counting from 1.
    pub line: u64,
    /// The cells, as many as the header has columns.
    pub cells: Vec<String>,
}

/// A data line that cannot be a row: the wrong number of cells, or bytes that are not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// Where the record starts in the file, counting from 1.
    pub line: u64,
    /// The cells as read (invalid UTF-8 replaced by U+FFFD).
    pub cells: Vec<String>,
    /// Why it is not a row.
    pub reason: String,
    /// The line where a quote opened that the file never closes, when that is why: the rest
    /// of the file was read as one cell, so the file as a whole is broken, not this line alone.
    pub open_quote: Option<u64>,
}

/// Streams the records of a CSV file after its header, in constant memory.
pub struct RecordReader<R: Read> {
    inner: csv::Reader<LineCounter<R>>,
    lines: Arc<Mutex<Lines>>,
    header: Vec<String>,
    record: csv::ByteRecord,
}

/// Where the newlines are that the CSV parser has read but no record has been placed after
/// yet, and whether the bytes read so far end inside a quoted cell.
#[derive(Debug, Default)]
struct Lines {
    /// Bytes read from the input.
    read: u64,
    /// Newlines before the offsets asked for so far.
    counted: u64,
    /// Offsets of the newlines read but not yet counted.
    pending: VecDeque<u64>,
    /// Where the bytes read so far leave a cell.
    quoting: Quoting,
    /// The offset of the quote that opened the latest quoted cell.
    opened_at: u64,
    /// The byte between cells (`,` by default).
    delimiter: u8,
}

/// Where a byte falls with respect to quoting, by the `csv` parser's own rules (RFC 4180 with
/// `""` inside quoted cells; a quote inside an unquoted cell is text, and text after a closing
/// quote joins the cell). The parser ends a file inside a quoted cell without a word, so the
/// reader keeps track itself.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// At the start of a cell.
    #[default]
    CellStart,
    /// In a cell that did not start with a quote.
    Unquoted,
    /// In a quoted cell.
    Quoted,
    /// Just after a quote inside a quoted cell: the cell's end, or the first of `""`.
    QuoteInQuoted,
}

/// A UTF-8 byte-order mark, which the parser skips at the start of the input.
const BOM: &[u8] = b"\xef\xbb\xbf";

impl Lines {
    /// The line (from 1) of the last byte before `offset` that is not the newline ending it;
    /// offsets must not decrease between calls.
    fn last_line_before(&mut self, offset: u64) -> u64 {
        let mut last = None;
        while self.pending.front().is_some_and(|&n| n < offset) {
            last = self.pending.pop_front();
            self.counted += 1;
        }
        match last {
            // The record ended with its newline: it is on the line before.
            Some(n) if n + 1 == offset => self.counted,
            _ => self.counted + 1,
        }
    }
}

/// Passes bytes through and notes where the newlines are.
struct LineCounter<R> {
    inner: R,
    lines: Arc<Mutex<Lines>>,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = lines.read;
        let bytes = &buf[..n];
        for i in memchr::memchr_iter(b'\n', bytes) {
            lines.pending.push_back(start + i as u64);
        }
        lines.scan(start, bytes);
        lines.read += n as u64;
        Ok(n)
    }
}

impl Lines {
    /// Follows the quoting through `bytes`, read at offset `start`; only the bytes that can
    /// change it are looked at one by one.
    fn scan(&mut self, start: u64, bytes: &[u8]) {
        let mut i = if start == 0 && bytes.starts_with(BOM) {
            BOM.len()
        } else {
            0
        };
        while i < bytes.len() {
            match self.quoting {
                Quoting::CellStart | Quoting::QuoteInQuoted => {
                    self.quoting = match (self.quoting, bytes[i]) {
                        (Quoting::CellStart, b'"') => {
                            self.opened_at = start + i as u64;
                            Quoting::Quoted
                        }
                        (Quoting::QuoteInQuoted, b'"') => Quoting::Quoted,
                        (_, b'\r' | b'\n') => Quoting::CellStart,
                        (_, b) if b == self.delimiter => Quoting::CellStart,
                        _ => Quoting::Unquoted,
                    };
                    i += 1;
                }
                Quoting::Unquoted => {
                    match memchr::memchr3(self.delimiter, b'\r', b'\n', &bytes[i..]) {
                        Some(j) => {
                            i += j + 1;
                            self.quoting = Quoting::CellStart;
                        }
                        None => i = bytes.len(),
                    }
                }
                Quoting::Quoted => match memchr::memchr(b'"', &bytes[i..]) {
                    Some(j) => {
                        i += j + 1;
                        self.quoting = Quoting::QuoteInQuoted;
                    }
                    None => i = bytes.len(),
                },
            }
        }
    }

    /// The line (from 1) of the byte at `offset`, which must not be before the offsets asked
    /// for with [`Lines::last_line_before`].
    fn line_of(&self, offset: u64) -> u64 {
        let before = self.pending.iter().take_while(|&&n| n < offset).count() as u64;
        self.counted + before + 1
    }

    /// Whether the parser's last record, ending at `end`, ended with the file inside a quoted
    /// cell; then the line where that cell's quote opened.
    fn open_quote(&self, end: u64) -> Option<u64> {
        // Only the end of the file ends a record inside a quoted cell, so every byte read is in
        // it.
        (self.quoting == Quoting::Quoted && self.read == end).then(|| self.line_of(self.opened_at))
    }
}

impl<R: Read> RecordReader<R> {
    /// Reads the header line (a UTF-8 byte-order mark is dropped).
    pub fn new(input: R) -> Result<Self, CsvError> {
        Self::with_delimiter(input, b',')
    }

    /// Reads the header line of a file whose cells are separated by `delimiter` (`;`, a tab)
    /// instead of a comma; quoting is the same.
    pub fn with_delimiter(input: R, delimiter: u8) -> Result<Self, CsvError> {
        let lines = Arc::new(Mutex::new(Lines {
            delimiter,
            ..Lines::default()
        }));
        let mut inner = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(LineCounter {
                inner: input,
                lines: lines.clone(),
            });
        let mut record = csv::ByteRecord::new();
        if !inner.read_byte_record(&mut record)? {
            return Err(CsvError::Header(
                "the file is empty: it needs a header line".into(),
            ));
        }
        let open_quote = lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .open_quote(inner.position().byte());
        if let Some(opened) = open_quote {
            return Err(CsvError::Header(format!(
                "the quote opened on line {opened} of the header is never closed (the file \
                 ends inside the quoted cell)"
            )));
        }
        let mut header = Vec::with_capacity(record.len());
        for cell in &record {
            let text = std::str::from_utf8(cell)
                .map_err(|_| CsvError::Header("the header line is not UTF-8".into()))?;
            header.push(text.trim_start_matches('\u{feff}').trim().to_string());
        }
        Ok(RecordReader {
            inner,
            lines,
            header,
            record,
        })
    }

    /// The column names of the header line.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Bytes read so far, for progress reports.
    pub fn bytes_read(&self) -> u64 {
        self.inner.position().byte()
    }

    /// The next record: `None` at the end, `Some(Err(_))` for a line that cannot be a row.
    pub fn next_record(&mut self) -> Result<Option<Result<Record, Malformed>>, CsvError> {
        if !self.inner.read_byte_record(&mut self.record)? {
            return Ok(None);
        }
        // The parser's own line numbers skip blank lines, and its record offsets include
        // them; so count back from the record's end: its last line, less the newlines inside
        // its quoted cells.
        let end = self.inner.position().byte();
        let inner_newlines: u64 = self
            .record
            .iter()
            .map(|cell| cell.iter().filter(|b| **b == b'\n').count() as u64)
            .sum();
        let (line, open_quote) = {
            let mut lines = self
                .lines
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let open_quote = lines.open_quote(end);
            let last = lines.last_line_before(end);
            let line = match open_quote {
                // The file's last newline is inside the open cell, not the record's end.
                Some(_) => (lines.counted + 1).saturating_sub(inner_newlines),
                None => last.saturating_sub(inner_newlines),
            };
            (line, open_quote)
        };
        let mut cells = Vec::with_capacity(self.record.len());
        let mut bad_utf8 = None;
        for (i, cell) in self.record.iter().enumerate() {
            match std::str::from_utf8(cell) {
                Ok(text) => cells.push(text.to_string()),
                Err(_) => {
                    bad_utf8.get_or_insert(i);
                    cells.push(String::from_utf8_lossy(cell).into_owned());
                }
            }
        }
        if let Some(opened) = open_quote {
            // The rest of the file is one cell: the report keeps its first line.
            if let Some(last) = cells.last_mut()
                && let Some(cut) = last.find('\n')
            {
                last.truncate(cut);
            }
            return Ok(Some(Err(Malformed {
                line,
                cells,
                reason: format!(
                    "the quote opened on line {opened} is never closed (the file ends inside \
                     the quoted cell)"
                ),
                open_quote: Some(opened),
            })));
        }
        // A blank line is no record at all.
        if cells.len() == 1 && cells[0].is_empty() && self.header.len() > 1 {
            return self.next_record();
        }
        let reason = if let Some(i) = bad_utf8 {
            let column = self.header.get(i).map_or("?", String::as_str);
            Some(format!("the cell of column `{column}` is not valid UTF-8"))
        } else if cells.len() != self.header.len() {
            Some(format!(
                "the line has {} cells; the header has {} columns",
                cells.len(),
                self.header.len()
            ))
        } else {
            None
        };
        Ok(Some(match reason {
            Some(reason) => Err(Malformed {
                line,
                cells,
                reason,
                open_quote: None,
            }),
            None => Ok(Record { line, cells }),
        }))
    }
}

/// Why a CSV cell is no value of its field's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseCellError {
    /// The field is a boolean and the cell none of the texts that name one.
    #[error("`{0}` is not a boolean (true or false (or 1 or 0))")]
    Boolean(String),
    /// The cell is not text of the field's type (the schema's own message).
    #[error(transparent)]
    Type(#[from] dynex_schema::ValueError),
}

/// Parses a CSV cell into the typed value of its field.
///
/// An empty cell is `null`; numbers, booleans (`true`, `false`, `1`, `0`, any case), decimals,
/// dates and times are parsed; a `json` field takes JSON text (or, when the text is not JSON,
/// the text as a JSON string); strings are taken as they are.
pub fn parse_cell(field: &Field, text: &str) -> Result<Value, ParseCellError> {
    if text.is_empty() {
        return Ok(Value::Null);
    }
    let typed = match field.ty {
        FieldType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Typed::Bool(true),
            "false" | "0" => Typed::Bool(false),
            _ => return Err(ParseCellError::Boolean(text.to_string())),
        },
        ty => ty.parse_text(text).map_err(ParseCellError::Type)?,
    };
    Ok(match typed {
        Typed::Null => Value::Null,
        Typed::Int(n) => Value::from(n),
        Typed::Float(f) => Value::from(f),
        Typed::Bool(b) => Value::Bool(b),
        Typed::Text(s) | Typed::Decimal(s) | Typed::Date(s) | Typed::DateTime(s) => {
            Value::String(s)
        }
        Typed::Json(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
    })
}

/// What a cell of a field of type `ty` must hold, in CSV terms for reject messages.
///
/// An import rejects `x` for an integer field with "expected an integer", where the API, which
/// reads JSON, says "expected a JSON integer" (`dynex_validate::expected`).
pub fn expected(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Integer => "an integer",
        FieldType::Float => "a number",
        FieldType::Decimal => "a decimal number such as 12.50",
        FieldType::Boolean => "true or false (or 1 or 0)",
        FieldType::Date => "a date YYYY-MM-DD",
        FieldType::DateTime => "a date and time YYYY-MM-DD HH:MM:SS",
        FieldType::String => "text",
        FieldType::Json => "JSON text",
    }
}

/// One refused line of an import, as the rejects report lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectRow<'a> {
    /// The line number in the imported file.
    pub line: u64,
    /// The error code (`1305`, or `malformed` for a line that is no row).
    pub code: &'a str,
    /// The field the error is about, if one.
    pub field: Option<&'a str>,
    /// The error message.
    pub message: &'a str,
    /// The line's cells as read.
    pub cells: &'a [String],
}

/// Writes the rejects report: `line,code,field,message` and then the imported file's own columns,
/// so that fixed rows can be imported again after dropping the first four columns.
pub struct RejectWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> RejectWriter<W> {
    /// Starts the report with its header: the four report columns and the file's `header`.
    pub fn new(header: &[String], out: W) -> Result<Self, CsvError> {
        let mut inner = csv::WriterBuilder::new().flexible(true).from_writer(out);
        let mut first = vec!["line", "code", "field", "message"];
        first.extend(header.iter().map(String::as_str));
        inner.write_record(&first)?;
        Ok(RejectWriter { inner })
    }

    /// Writes one refused line.
    pub fn write(&mut self, row: &RejectRow<'_>) -> Result<(), CsvError> {
        let line = row.line.to_string();
        let mut record = vec![
            line.as_str(),
            row.code,
            row.field.unwrap_or(""),
            row.message,
        ];
        record.extend(row.cells.iter().map(String::as_str));
        self.inner.write_record(&record)?;
        Ok(())
    }

    /// Flushes the report.
    pub fn flush(&mut self) -> Result<(), CsvError> {
        self.inner.flush().map_err(|e| CsvError::Csv(e.into()))
    }
}

/// How many bytes of encoded lines an [`EntityWriter`] gathers before it writes them out.
const WRITE_BYTES: usize = 64 * 1024;

/// Writes wire objects of one entity as CSV, header first, spelled as the `csv` crate's
/// default writer spells them.
///
/// Lines are gathered in a buffer: call [`EntityWriter::finish`] to write out the last ones.
pub struct EntityWriter<W: Write> {
    out: W,
    buffer: Vec<u8>,
    columns: Vec<String>,
    /// Per column, whether it holds text (a `string` field), whose formula-like cells
    /// [`EntityWriter::escape_formulas`] neutralises.
    text: Vec<bool>,
    /// Neutralise formula-like text cells.
    escape: bool,
}

/// Whether a spreadsheet would take a cell that starts so as a formula (or, after a tab or a
/// carriage return, may skip to one): the characters OWASP's "CSV Injection" lists.
fn looks_like_formula(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// `cell` as a spreadsheet shows it but never evaluates: a leading `'` when it looks like a
/// formula.
pub fn escape_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    if looks_like_formula(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

impl<W: Write> EntityWriter<W> {
    /// Starts a CSV document with the entity's visible field names as header.
    pub fn new(entity: &Entity, out: W) -> Result<Self, CsvError> {
        let all: Vec<usize> = (0..entity.fields().len()).collect();
        Self::with_fields(entity, &all, out)
    }

    /// Starts a CSV document of some of the entity's fields (indexes into its fields), in the
    /// order given, with their visible names as header.
    pub fn with_fields(entity: &Entity, fields: &[usize], out: W) -> Result<Self, CsvError> {
        let chosen: Vec<&Field> = fields
            .iter()
            .filter_map(|&i| entity.fields().get(i))
            .collect();
        let mut writer = EntityWriter {
            out,
            buffer: Vec::with_capacity(WRITE_BYTES + 4096),
            columns: chosen
                .iter()
                .map(|f| f.field_visible_name.clone())
                .collect(),
            text: chosen.iter().map(|f| f.ty == FieldType::String).collect(),
            escape: false,
        };
        encode::encode_line(
            &mut writer.buffer,
            writer.columns.iter().map(|c| c.as_bytes()),
        );
        Ok(writer)
    }

    /// Neutralises text cells that a spreadsheet would evaluate as formulas (`=`, `+`, `-`,
    /// `@`, tab or carriage return first) with a leading `'`, as OWASP advises for files meant
    /// for spreadsheets. Only `string` fields: numbers such as `-5` stay as they are. The file
    /// then no longer imports back unchanged.
    pub fn escape_formulas(mut self, on: bool) -> Self {
        self.escape = on;
        self
    }

    /// Writes one row; nulls are empty cells, strings as they are, other values as JSON text.
    pub fn write(&mut self, row: &Map<String, Value>) -> Result<(), CsvError> {
        let cells: Vec<std::borrow::Cow<'_, str>> = self
            .columns
            .iter()
            .map(|c| match row.get(c) {
                None | Some(Value::Null) => "".into(),
                Some(Value::String(s)) => s.as_str().into(),
                Some(other) => other.to_string().into(),
            })
            .collect();
        self.write_cells(&cells)
    }

    /// Writes one row of cells already in the writer's column order.
    pub fn write_cells<T: AsRef<str>>(&mut self, cells: &[T]) -> Result<(), CsvError> {
        debug_assert_eq!(cells.len(), self.columns.len(), "one cell per column");
        if self.escape
            && cells
                .iter()
                .zip(&self.text)
                .any(|(c, text)| *text && looks_like_formula(c.as_ref()))
        {
            let escaped: Vec<std::borrow::Cow<'_, str>> = cells
                .iter()
                .zip(&self.text)
                .map(|(c, text)| {
                    if *text {
                        escape_formula(c.as_ref())
                    } else {
                        c.as_ref().into()
                    }
                })
                .collect();
            encode::encode_line(&mut self.buffer, escaped.iter().map(|c| c.as_bytes()));
            return self.spill();
        }
        encode::encode_line(
            &mut self.buffer,
            cells.iter().map(|c| c.as_ref().as_bytes()),
        );
        self.spill()
    }

    /// Writes the gathered lines out once they fill the buffer.
    fn spill(&mut self) -> Result<(), CsvError> {
        if self.buffer.len() >= WRITE_BYTES {
            self.out.write_all(&self.buffer).map_err(csv::Error::from)?;
            self.buffer.clear();
        }
        Ok(())
    }

    /// Writes out the last lines, flushes and returns the writer.
    pub fn finish(mut self) -> Result<W, CsvError> {
        self.out.write_all(&self.buffer).map_err(csv::Error::from)?;
        self.out.flush().map_err(csv::Error::from)?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynex_schema::EntityConfig;

    #[test]
    fn expected_types_are_named_in_csv_terms() {
        for ty in [
            FieldType::Integer,
            FieldType::Float,
            FieldType::Decimal,
            FieldType::Boolean,
            FieldType::Date,
            FieldType::DateTime,
            FieldType::String,
            FieldType::Json,
        ] {
            assert!(
                !expected(ty).contains("JSON ") || ty == FieldType::Json,
                "{ty}"
            );
        }
        assert_eq!(expected(FieldType::Integer), "an integer");
        assert_eq!(expected(FieldType::Boolean), "true or false (or 1 or 0)");
    }

    #[test]
    fn records_stream_and_malformed_lines_are_values() {
        let text = b"\xef\xbb\xbfid,name\n1,a\n2\n\n3,\"b\nc\"\n4,\xff\n5,x,y\n6,z\n";
        let mut r = RecordReader::new(&text[..]).unwrap();
        assert_eq!(r.header(), ["id", "name"]);
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            out.push(rec);
        }
        assert_eq!(
            out[0],
            Ok(Record {
                line: 2,
                cells: vec!["1".into(), "a".into()]
            })
        );
        let bad = out[1].clone().unwrap_err();
        assert_eq!((bad.line, bad.reason.contains("1 cells")), (3, true));
        assert_eq!(
            out[2],
            Ok(Record {
                line: 5,
                cells: vec!["3".into(), "b\nc".into()]
            })
        );
        assert!(out[3].clone().unwrap_err().reason.contains("UTF-8"));
        assert!(out[4].clone().unwrap_err().reason.contains("3 cells"));
        assert_eq!(out[3].clone().unwrap_err().line, 7);
        assert_eq!(
            out[5],
            Ok(Record {
                line: 9,
                cells: vec!["6".into(), "z".into()]
            })
        );
        assert_eq!(out.len(), 6);
        assert!(RecordReader::new(&b""[..]).is_err());
    }

    /// Reads every record of `text`.
    fn all(text: &[u8]) -> Vec<Result<Record, Malformed>> {
        let mut r = RecordReader::new(text).unwrap();
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            out.push(rec);
        }
        out
    }

    #[test]
    fn a_quote_never_closed_is_a_malformed_line_naming_where_it_opened() {
        // On the first data line: the rest of the file was one cell, read as line 1.
        let out = all(b"a,b\n\"x,y\nz,w\n");
        assert_eq!(out.len(), 1);
        let bad = out[0].clone().unwrap_err();
        assert_eq!(bad.line, 2);
        assert!(
            bad.reason
                .contains("quote opened on line 2 is never closed"),
            "{}",
            bad.reason
        );
        assert_eq!(bad.cells, ["x,y"], "the open cell up to its line's end");

        // Later, with the right number of cells and no newline at the end: the lines before
        // are rows.
        let out = all(b"a,b\n1,2\n3,\"4\n5,6\n7,8");
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0],
            Ok(Record {
                line: 2,
                cells: vec!["1".into(), "2".into()]
            })
        );
        let bad = out[1].clone().unwrap_err();
        assert_eq!(
            (bad.line, &bad.cells[..]),
            (3, &["3".to_string(), "4".into()][..])
        );
        assert!(
            bad.reason.contains("line 3 is never closed"),
            "{}",
            bad.reason
        );

        // A record that starts on line 2 with a closed multi-line cell, its open quote on 3.
        let out = all(b"a,b,c\n\"p\nq\",\"r\ns,t\n\n");
        let bad = out[0].clone().unwrap_err();
        assert_eq!(bad.line, 2);
        assert!(
            bad.reason.contains("line 3 is never closed"),
            "{}",
            bad.reason
        );

        // Closed quotes, doubled quotes, a quote inside an unquoted cell, a quote closing at the
        // very end, a byte-order mark and CRLF: all rows.
        let out = all(b"\xef\xbb\xbf\"a\",b\r\n\"x\"\"y\",z\"w\r\n\"\",\"q\"\"\"");
        assert_eq!(
            out,
            [
                Ok(Record {
                    line: 2,
                    cells: vec!["x\"y".into(), "z\"w".into()]
                }),
                Ok(Record {
                    line: 3,
                    cells: vec!["".into(), "q\"".into()]
                })
            ]
        );
        // A lone quote as the last byte opens a cell that never closes.
        let bad = all(b"a,b\n1,\"").remove(0).unwrap_err();
        assert_eq!(bad.line, 2);
        assert!(bad.reason.contains("line 2"), "{}", bad.reason);
        // In the header.
        let Err(CsvError::Header(e)) = RecordReader::new(&b"a,\"b\n1,2\n"[..]) else {
            panic!("an open quote in the header is an error");
        };
        assert!(e.contains("line 1 of the header"), "{e}");
    }

    /// Another delimiter separates cells; a comma is then text, and quoting works as with
    /// commas (an open quote is still found).
    #[test]
    fn another_delimiter_separates_cells() {
        let text = b"a;b\n1,5;\"x;y\"\n2;3;4\n5;\"open\n";
        let mut r = RecordReader::with_delimiter(&text[..], b';').unwrap();
        assert_eq!(r.header(), ["a", "b"]);
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            out.push(rec);
        }
        assert_eq!(
            out[0],
            Ok(Record {
                line: 2,
                cells: vec!["1,5".into(), "x;y".into()]
            })
        );
        assert!(out[1].clone().unwrap_err().reason.contains("3 cells"));
        assert_eq!(out[1].clone().unwrap_err().open_quote, None);
        assert_eq!(out[2].clone().unwrap_err().open_quote, Some(4));
    }

    #[test]
    fn cells_are_typed_by_their_field() {
        let field = |ty: &str| {
            let c = EntityConfig::parse_many(&format!(
                r#"{{"tableName":"t","tableAlias":"ts","definition":{{"identifier":"f","fields":[
                  {{"fieldName":"f","fieldVisibleName":"f","type":"{ty}"}}]}}}}"#
            ))
            .unwrap()
            .remove(0);
            Entity::new(c).unwrap().fields()[0].clone()
        };
        assert_eq!(parse_cell(&field("integer"), "42").unwrap(), 42);
        assert!(parse_cell(&field("integer"), "4.2").is_err());
        assert_eq!(parse_cell(&field("integer"), "").unwrap(), Value::Null);
        assert_eq!(parse_cell(&field("boolean"), "TRUE").unwrap(), true);
        assert_eq!(parse_cell(&field("boolean"), "0").unwrap(), false);
        assert!(parse_cell(&field("boolean"), "yes").is_err());
        assert_eq!(parse_cell(&field("decimal"), "12.50").unwrap(), "12.50");
        assert!(parse_cell(&field("decimal"), "12,50").is_err());
        assert_eq!(parse_cell(&field("string"), " a ").unwrap(), " a ");
        assert_eq!(
            parse_cell(&field("json"), r#"{"a":1}"#).unwrap(),
            serde_json::json!({"a": 1})
        );
        assert_eq!(parse_cell(&field("json"), "plain").unwrap(), "plain");
    }

    #[test]
    fn rows_are_written_under_visible_names() {
        let c = EntityConfig::parse_many(
            r#"{"tableName":"t","tableAlias":"ts","definition":{"identifier":"id","fields":[
              {"fieldName":"id","fieldVisibleName":"id","type":"integer"},
              {"fieldName":"n","fieldVisibleName":"name","type":"string"}]}}"#,
        )
        .unwrap()
        .remove(0);
        let e = Entity::new(c).unwrap();
        let mut w = EntityWriter::new(&e, Vec::new()).unwrap();
        let row = serde_json::json!({"id": 1, "name": "a, \"b\""});
        w.write(row.as_object().unwrap()).unwrap();
        w.write(
            serde_json::json!({"id": 2, "name": null})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(text, "id,name\n1,\"a, \"\"b\"\"\"\n2,\n");

        let mut w = EntityWriter::with_fields(&e, &[1], Vec::new()).unwrap();
        w.write(row.as_object().unwrap()).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(
            text, "name\n\"a, \"\"b\"\"\"\n",
            "some fields, in the order given"
        );
    }

    /// Text cells that a spreadsheet would evaluate get a leading `'` when asked, numbers and
    /// ordinary text never; without the option every cell is written as stored.
    #[test]
    fn formula_like_text_cells_are_neutralised_only_when_asked() {
        let c = EntityConfig::parse_many(
            r#"{"tableName":"t","tableAlias":"ts","definition":{"identifier":"id","fields":[
              {"fieldName":"id","fieldVisibleName":"id","type":"integer"},
              {"fieldName":"n","fieldVisibleName":"name","type":"string"},
              {"fieldName":"p","fieldVisibleName":"price","type":"decimal"}]}}"#,
        )
        .unwrap()
        .remove(0);
        let e = Entity::new(c).unwrap();
        let rows = [
            ["-1", "=HYPERLINK(\"http://x\")", "-5.00"],
            ["2", "+49 30", "1.00"],
            ["3", "@SUM(A1)", "0"],
            ["4", "-minus", "0"],
            ["5", "\tTAB", "0"],
            ["6", "\rCR", "0"],
            ["7", "plain = text", "-0.50"],
        ];
        let write = |escape: bool| {
            let mut w = EntityWriter::new(&e, Vec::new())
                .unwrap()
                .escape_formulas(escape);
            for row in &rows {
                w.write_cells(row).unwrap();
            }
            String::from_utf8(w.finish().unwrap()).unwrap()
        };
        assert_eq!(
            write(true),
            "id,name,price\n-1,\"'=HYPERLINK(\"\"http://x\"\")\",-5.00\n2,'+49 30,1.00\n\
             3,'@SUM(A1),0\n4,'-minus,0\n5,'\tTAB,0\n6,\"'\rCR\",0\n7,plain = text,-0.50\n"
        );
        let plain = write(false);
        assert!(
            plain.contains("\n2,+49 30,1.00\n") && !plain.contains('\''),
            "{plain}"
        );
    }
}
