//! The `csv` source: the CSV files of a folder, each read once and then moved aside.
//!
//! A run lists the files of `folder` whose names match `pattern` (not those of its subfolders,
//! not hidden ones), sorted by name, and reads them one after the other with dynex's CSV reader
//! ([`dynex_csv::RecordReader`], the dialect of `dynex import`). Every data line becomes a JSON
//! object: header → cell text, an empty cell `null`. A page holds up to `page_size` lines of one
//! file; it never spans two files.
//!
//! - **Done.** Once the page that ends a file is committed ([`Source::committed`]), the file is
//!   moved to `done/` in the folder. A run that stops before leaves it in place: the next run
//!   reads it again, and its rows already written are found unchanged. A dry run moves nothing.
//! - **Failed.** A file that cannot be read as CSV at all (bytes that are not UTF-8, a header
//!   that is missing or has an empty or repeated column, a quote never closed) is checked before
//!   any of its lines is handed out. It becomes one dead letter of the stage `read` (code
//!   `unreadable_file`, the reason as message) and, when that is committed, is moved to
//!   `failed/` with `NAME.error.txt` beside it saying why. The run goes on with the next file.
//! - **Malformed lines.** A line with the wrong number of cells, in an otherwise good file, is a
//!   dead letter of the stage `read` (code `1301`, as `dynex import` rejects it) whose record is
//!   `{file, line, cells}`; its neighbours are delivered.
//! - A name taken in `done/` or `failed/` gets a number before its extension (`a.1.csv`): no
//!   file is overwritten.
//!
//! Each file is read twice: once to check it as a whole, once to hand out its lines; memory
//! holds one page.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use dynex_csv::{CsvError, Malformed, Record as CsvRecord, RecordReader};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::Record;
use crate::problem::Checker;
use crate::source::{Page, Rejected, Source, SourceError, Start};

/// The definition of a `csv` source: a folder of CSV files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvFolderSpec {
    /// The folder the files are in.
    pub folder: String,
    /// The names of the files to read: `*` stands for any characters, `?` for one; `*.csv` by
    /// default.
    #[serde(default = "default_pattern")]
    pub pattern: String,
    /// The character between cells, `,` by default (`;`, a tab).
    #[serde(default = "default_delimiter")]
    pub delimiter: String,
    /// Lines per page, 1000 by default.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
}

fn default_pattern() -> String {
    "*.csv".into()
}

fn default_delimiter() -> String {
    ",".into()
}

fn default_page_size() -> usize {
    1000
}

/// Where a file goes once it is read, and the folder of its kind.
const DONE: &str = "done";
const FAILED: &str = "failed";

impl CsvFolderSpec {
    /// Checks the folder (it must exist), the pattern, the delimiter and the page size.
    pub fn check(&self, at: &str, checker: &mut Checker) {
        if !Path::new(&self.folder).is_dir() {
            checker.add(
                format!("{at}.folder"),
                format!("`{}` is not a folder", self.folder),
            );
        }
        if self.pattern.is_empty() || self.pattern.contains(['/', '\\']) {
            checker.add(
                format!("{at}.pattern"),
                "a pattern of file names, such as `*.csv`, without folders",
            );
        }
        if self.delimiter_byte().is_none() {
            checker.add(
                format!("{at}.delimiter"),
                format!(
                    "`{}` cannot separate cells: use one ASCII character other than a quote or \
                     a line break",
                    self.delimiter
                ),
            );
        }
        if self.page_size == 0 {
            checker.add(format!("{at}.page_size"), "a page holds at least one line");
        }
    }

    /// The delimiter as the reader takes it, when it is one.
    fn delimiter_byte(&self) -> Option<u8> {
        match self.delimiter.as_bytes() {
            [b] if b.is_ascii() && !matches!(b, b'"' | b'\r' | b'\n') => Some(*b),
            _ => None,
        }
    }

    /// Lists the files to read; the cursor of `start` is not used (a file read is moved away).
    pub fn open(&self, start: &Start) -> Result<CsvFolderSource, SourceError> {
        let _ = start;
        let delimiter = self
            .delimiter_byte()
            .ok_or_else(|| SourceError::Other(format!("`{}` is no delimiter", self.delimiter)))?;
        let folder = PathBuf::from(&self.folder);
        let entries = std::fs::read_dir(&folder)
            .map_err(|e| SourceError::Other(format!("cannot list {}: {e}", folder.display())))?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| {
                SourceError::Other(format!("cannot list {}: {e}", folder.display()))
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !matches(&self.pattern, &name) {
                continue;
            }
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                files.push(entry.path());
            }
        }
        files.sort();
        Ok(CsvFolderSource {
            folder,
            delimiter,
            page_size: self.page_size.max(1),
            files: files.into(),
            current: None,
            last: None,
        })
    }
}

/// Whether `name` matches `pattern`: `*` any characters (also none), `?` one.
fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut i, mut j) = (0, 0);
    // Where the last `*` was, and where in the name it was tried up to.
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// The file being read.
struct Current {
    path: PathBuf,
    name: String,
    reader: RecordReader<BufReader<File>>,
    /// The line read ahead to know whether the file goes on.
    ahead: Option<Result<CsvRecord, Malformed>>,
}

/// The next file of the folder.
enum Next {
    /// A file to read.
    Read(Box<Current>),
    /// A file that is not CSV, and why.
    Unreadable(PathBuf, String),
}

/// What becomes of a file once the page that ended it is committed.
#[derive(Debug)]
enum Ending {
    Done(PathBuf),
    Failed(PathBuf, String),
}

/// A `csv` source being read ([`CsvFolderSpec::open`]).
pub struct CsvFolderSource {
    folder: PathBuf,
    delimiter: u8,
    page_size: usize,
    files: VecDeque<PathBuf>,
    current: Option<Current>,
    /// The file the last page handed out ended.
    last: Option<Ending>,
}

impl std::fmt::Debug for CsvFolderSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvFolderSource")
            .field("folder", &self.folder)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

fn read_error(path: &Path, e: impl std::fmt::Display) -> SourceError {
    SourceError::Other(format!("cannot read {}: {e}", path.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl CsvFolderSource {
    /// Opens the next file that is there: checked as a whole, then positioned after its
    /// header, or found not to be CSV.
    fn open_next(&mut self) -> Result<Option<Next>, SourceError> {
        while let Some(path) = self.files.pop_front() {
            let file = match File::open(&path) {
                Ok(file) => file,
                // Taken away since the folder was listed: nothing to read.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(read_error(&path, e)),
            };
            if let Err(why) = check_file(file, self.delimiter).map_err(|e| read_error(&path, e))? {
                return Ok(Some(Next::Unreadable(path, why)));
            }
            let file = File::open(&path).map_err(|e| read_error(&path, e))?;
            let reader = RecordReader::with_delimiter(BufReader::new(file), self.delimiter)
                .map_err(|e| read_error(&path, e))?;
            return Ok(Some(Next::Read(Box::new(Current {
                name: file_name(&path),
                path,
                reader,
                ahead: None,
            }))));
        }
        Ok(None)
    }
}

impl Source for CsvFolderSource {
    fn next_page(&mut self) -> Result<Option<Page>, SourceError> {
        self.last = None;
        let current = match self.current.take() {
            Some(current) => current,
            None => match self.open_next()? {
                None => return Ok(None),
                Some(Next::Read(current)) => *current,
                Some(Next::Unreadable(path, why)) => {
                    let name = file_name(&path);
                    log::warn!("{} is not read: {why}", path.display());
                    self.last = Some(Ending::Failed(path, why.clone()));
                    return Ok(Some(Page {
                        rejected: vec![Rejected {
                            record: json!({ "file": name }),
                            code: "unreadable_file".into(),
                            message: format!("{name}: {why}"),
                        }],
                        ..Page::default()
                    }));
                }
            },
        };
        let mut current = current;
        let mut page = Page::default();
        let header = current.reader.header().to_vec();
        let mut ended = false;
        while page.records.len() + page.rejected.len() < self.page_size {
            let next = match current.ahead.take() {
                Some(line) => Some(line),
                None => current
                    .reader
                    .next_record()
                    .map_err(|e| read_error(&current.path, e))?,
            };
            match next {
                None => {
                    ended = true;
                    break;
                }
                Some(Ok(line)) => page.records.push(record(&header, line.cells)),
                Some(Err(m)) => page.rejected.push(Rejected {
                    message: format!("{}, line {}: {}", current.name, m.line, m.reason),
                    record: json!({ "file": current.name, "line": m.line, "cells": m.cells }),
                    code: "1301".into(),
                }),
            }
        }
        if !ended {
            current.ahead = current
                .reader
                .next_record()
                .map_err(|e| read_error(&current.path, e))?;
            ended = current.ahead.is_none();
        }
        if ended {
            self.last = Some(Ending::Done(current.path));
        } else {
            self.current = Some(current);
        }
        Ok(Some(page))
    }

    fn committed(&mut self) -> Result<(), SourceError> {
        match self.last.take() {
            None => Ok(()),
            Some(Ending::Done(path)) => {
                let to = move_into(&self.folder, DONE, &path).map_err(|e| {
                    SourceError::Other(format!("cannot move {} to {DONE}/: {e}", path.display()))
                })?;
                log::info!("{} is read, moved to {}", path.display(), to.display());
                Ok(())
            }
            Some(Ending::Failed(path, why)) => {
                let to = move_into(&self.folder, FAILED, &path)
                    .and_then(|to| {
                        let mut note = to.clone().into_os_string();
                        note.push(".error.txt");
                        std::fs::write(note, format!("{why}\n")).map(|()| to)
                    })
                    .map_err(|e| {
                        SourceError::Other(format!(
                            "cannot move {} to {FAILED}/: {e}",
                            path.display()
                        ))
                    })?;
                log::warn!("{} moved to {}", path.display(), to.display());
                Ok(())
            }
        }
    }
}

/// A data line as a record: header → cell, an empty cell `null`.
fn record(header: &[String], cells: Vec<String>) -> Record {
    let mut object = Map::with_capacity(header.len());
    for (column, cell) in header.iter().zip(cells) {
        let value = if cell.is_empty() {
            Value::Null
        } else {
            Value::String(cell)
        };
        object.insert(column.clone(), value);
    }
    Value::Object(object)
}

/// Moves `path` into `sub` of `folder` (created when missing) under a name not taken yet.
fn move_into(folder: &Path, sub: &str, path: &Path) -> std::io::Result<PathBuf> {
    let dir = folder.join(sub);
    std::fs::create_dir_all(&dir)?;
    let name = file_name(path);
    let (stem, extension) = match name.rfind('.') {
        Some(dot) if dot > 0 => (&name[..dot], &name[dot..]),
        _ => (name.as_str(), ""),
    };
    let mut to = dir.join(&name);
    let mut n = 1;
    while to.exists() || note_exists(&to) {
        to = dir.join(format!("{stem}.{n}{extension}"));
        n += 1;
    }
    std::fs::rename(path, &to)?;
    Ok(to)
}

/// Whether a failed file's note of that name is there (its file may have been removed).
fn note_exists(path: &Path) -> bool {
    let mut note = path.to_path_buf().into_os_string();
    note.push(".error.txt");
    Path::new(&note).exists()
}

/// Reads a file through to check it is CSV as a whole: `Ok(Err(why))` when it is not.
fn check_file(file: File, delimiter: u8) -> std::io::Result<Result<(), String>> {
    let mut input = Utf8Check {
        inner: BufReader::new(file),
        carry: Vec::new(),
        newlines: 0,
        bad_line: None,
    };
    let verdict = check_csv(&mut input, delimiter)?;
    if let Some(line) = input.bad_line {
        return Ok(Err(format!(
            "the file is not UTF-8 (line {line} has bytes that are no UTF-8 character): save \
             it as UTF-8"
        )));
    }
    Ok(verdict)
}

fn check_csv<R: Read>(input: &mut R, delimiter: u8) -> std::io::Result<Result<(), String>> {
    let mut reader = match RecordReader::with_delimiter(input, delimiter) {
        Ok(reader) => reader,
        Err(CsvError::Header(why)) => return Ok(Err(why)),
        Err(CsvError::Csv(e)) => return Err(e.into()),
    };
    let header = reader.header().to_vec();
    for (i, column) in header.iter().enumerate() {
        if column.is_empty() {
            return Ok(Err(format!("column {} of the header has no name", i + 1)));
        }
        if header[..i].contains(column) {
            return Ok(Err(format!("the header names the column `{column}` twice")));
        }
    }
    loop {
        match reader.next_record() {
            Ok(None) => return Ok(Ok(())),
            Ok(Some(Err(m))) if m.open_quote.is_some() => return Ok(Err(m.reason)),
            Ok(Some(_)) => {}
            Err(CsvError::Header(why)) => return Ok(Err(why)),
            Err(CsvError::Csv(e)) => return Err(e.into()),
        }
    }
}

/// Passes bytes through and notes the line of the first that is not UTF-8.
struct Utf8Check<R> {
    inner: R,
    /// The start of a character cut by the end of the last read.
    carry: Vec<u8>,
    /// Newlines before the bytes checked so far.
    newlines: u64,
    bad_line: Option<u64>,
}

impl<R: Read> Read for Utf8Check<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.bad_line.is_some() {
            return Ok(n);
        }
        if n == 0 {
            if !self.carry.is_empty() {
                self.bad_line = Some(self.newlines + 1);
            }
            return Ok(0);
        }
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(&buf[..n]);
        let lines = |bytes: &[u8]| bytes.iter().filter(|b| **b == b'\n').count() as u64;
        match std::str::from_utf8(&data) {
            Ok(_) => self.newlines += lines(&data),
            Err(e) => {
                let valid = e.valid_up_to();
                self.newlines += lines(&data[..valid]);
                match e.error_len() {
                    Some(_) => self.bad_line = Some(self.newlines + 1),
                    None => self.carry = data[valid..].to_vec(),
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_globs() {
        assert!(matches("*.csv", "a.csv"));
        assert!(matches("*.csv", ".csv"));
        assert!(!matches("*.csv", "a.csv.bak"));
        assert!(matches("orders-??.csv", "orders-01.csv"));
        assert!(!matches("orders-??.csv", "orders-1.csv"));
        assert!(matches("*", "anything"));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn utf8_is_checked_across_reads() {
        // "é" cut between two reads of one byte each is fine; a lone continuation byte is not.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let check = |bytes: &[u8]| {
            let mut c = Utf8Check {
                inner: OneByte(bytes),
                carry: Vec::new(),
                newlines: 0,
                bad_line: None,
            };
            std::io::copy(&mut c, &mut std::io::sink()).unwrap();
            c.bad_line
        };
        assert_eq!(check("a\né\n".as_bytes()), None);
        assert_eq!(check(b"a\nb\n\x80\n"), Some(3));
        assert_eq!(check(b"a\n\xc3"), Some(2), "cut at the end");
    }
}
