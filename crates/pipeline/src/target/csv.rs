//! The `csv` target: one CSV file per run, in dynex's CSV dialect (that of `dynex export`).
//!
//! The header is the mapping's target fields in their order. Rows are written to a hidden
//! temporary file in the file's own folder, which [`Target::finish`] renames to the file's name
//! once the run has delivered every page: a run that fails leaves no half file, and a reader
//! never sees one (a rename within a folder is atomic). A file of that name is replaced.
//!
//! Cells: strings as they are, numbers and booleans as JSON text, `null` (or a field the row
//! lacks) as an empty cell, objects and arrays as JSON text. With `formulas: escape`, strings
//! that a spreadsheet would run as formulas get a leading `'` ([`dynex_csv::escape_formula`]),
//! as `dynex export --formulas escape` does; numbers never change.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::problem::Checker;
use crate::target::{Delivered, RecordRow, Target, TargetError};

/// The definition of a `csv` target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvTargetSpec {
    /// The file to write; `{pipeline}` stands for the pipeline's name and `{timestamp}` for the
    /// run's start in UTC (`20261206T183000Z`).
    pub file: String,
    /// What becomes of strings that a spreadsheet would run as formulas.
    #[serde(default)]
    pub formulas: Formulas,
}

/// What a `csv` target does with strings that start like a formula (`=`, `+`, `-`, `@`, a tab
/// or a carriage return).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Formulas {
    /// Write them as they are, as `dynex export` does by default.
    #[default]
    Keep,
    /// Prefix them with `'`, so that a spreadsheet shows them instead of running them.
    Escape,
}

/// The placeholders a file name may hold.
const PLACEHOLDERS: [&str; 2] = ["pipeline", "timestamp"];

impl CsvTargetSpec {
    /// Checks the file name: known placeholders only, a file name at its end, and a folder
    /// that exists.
    pub fn check(&self, at: &str, checker: &mut Checker) {
        let path = format!("{at}.file");
        let mut rest = self.file.as_str();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                checker.add(&path, "a `{` is never closed");
                return;
            };
            let name = &after[..close];
            if !PLACEHOLDERS.contains(&name) {
                checker.add(
                    &path,
                    format!("`{{{name}}}` is no placeholder: use {{pipeline}} or {{timestamp}}"),
                );
                return;
            }
            rest = &after[close + 1..];
        }
        let sample = self.path("p", DateTime::<Utc>::UNIX_EPOCH);
        if self.file.trim().is_empty() || self.file.ends_with(['/', '\\']) {
            checker.add(&path, "name a file");
            return;
        }
        let folder = folder_of(&sample);
        if !folder.is_dir() {
            checker.add(
                &path,
                format!("the folder `{}` does not exist", folder.display()),
            );
        }
    }

    /// The file a run of `pipeline` started at `now` writes.
    pub fn path(&self, pipeline: &str, now: DateTime<Utc>) -> PathBuf {
        PathBuf::from(
            self.file
                .replace("{pipeline}", pipeline)
                .replace("{timestamp}", &now.format("%Y%m%dT%H%M%SZ").to_string()),
        )
    }

    /// A target that writes the rows of one run of `pipeline`, started at `now`, with
    /// `columns` as header; nothing is created before the first page or [`Target::finish`].
    pub fn open(&self, pipeline: &str, columns: Vec<String>, now: DateTime<Utc>) -> CsvTarget {
        CsvTarget {
            path: self.path(pipeline, now),
            columns,
            escape: self.formulas == Formulas::Escape,
            temp: None,
        }
    }
}

/// The folder of `path`: `.` for a bare file name.
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A `csv` target of one run ([`CsvTargetSpec::open`]).
#[derive(Debug)]
pub struct CsvTarget {
    path: PathBuf,
    columns: Vec<String>,
    escape: bool,
    /// The temporary file being written, once the first page came.
    temp: Option<(PathBuf, BufWriter<File>)>,
}

impl CsvTarget {
    /// The file this target writes (once the run succeeds).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary file, created with the header on first use.
    fn file(&mut self) -> Result<&mut BufWriter<File>, TargetError> {
        if self.temp.is_none() {
            let folder = folder_of(&self.path);
            let name = self
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut attempt = 0u32;
            let (temp, file) = loop {
                let temp = folder.join(format!(".{name}.{}-{attempt}.partial", std::process::id()));
                match OpenOptions::new().write(true).create_new(true).open(&temp) {
                    Ok(file) => break (temp, file),
                    // A stale file of a killed run of the same process id.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                        attempt += 1;
                    }
                    Err(e) => {
                        return Err(TargetError(format!(
                            "cannot create {}: {e}",
                            temp.display()
                        )));
                    }
                }
            };
            let mut out = BufWriter::new(file);
            let mut line = Vec::new();
            dynex_csv::encode_line(&mut line, self.columns.iter().map(String::as_bytes));
            out.write_all(&line).map_err(|e| write_error(&temp, &e))?;
            self.temp = Some((temp, out));
        }
        match &mut self.temp {
            Some((_, out)) => Ok(out),
            None => Err(TargetError("no file to write".into())),
        }
    }
}

fn write_error(path: &Path, e: &std::io::Error) -> TargetError {
    TargetError(format!("cannot write {}: {e}", path.display()))
}

/// A value as a cell: see the module's documentation.
fn cell(value: Option<&Value>, escape: bool) -> std::borrow::Cow<'_, str> {
    match value {
        None | Some(Value::Null) => "".into(),
        Some(Value::String(s)) if escape => dynex_csv::escape_formula(s),
        Some(Value::String(s)) => s.as_str().into(),
        Some(other) => other.to_string().into(),
    }
}

impl Target for CsvTarget {
    fn deliver(&mut self, rows: Vec<RecordRow>) -> Result<Delivered, TargetError> {
        let escape = self.escape;
        let columns = self.columns.clone();
        let out = self.file()?;
        let mut line = Vec::with_capacity(256);
        for row in &rows {
            line.clear();
            let cells: Vec<_> = columns
                .iter()
                .map(|c| cell(row.fields.get(c), escape))
                .collect();
            dynex_csv::encode_line(&mut line, cells.iter().map(|c| c.as_bytes()));
            out.write_all(&line)
                .map_err(|e| TargetError(format!("cannot write the CSV file: {e}")))?;
        }
        Ok(Delivered {
            inserted: rows.len() as u64,
            ..Delivered::default()
        })
    }

    fn finish(&mut self) -> Result<(), TargetError> {
        self.file()?;
        let Some((temp, out)) = self.temp.take() else {
            return Ok(());
        };
        let done = out
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|file| file.sync_all())
            .and_then(|()| std::fs::rename(&temp, &self.path));
        if let Err(e) = done {
            let _ = std::fs::remove_file(&temp);
            return Err(TargetError(format!(
                "cannot complete {}: {e}",
                self.path.display()
            )));
        }
        Ok(())
    }
}

impl Drop for CsvTarget {
    /// A run that did not finish leaves no half file.
    fn drop(&mut self) {
        if let Some((temp, out)) = self.temp.take() {
            drop(out);
            if let Err(e) = std::fs::remove_file(&temp) {
                log::warn!("cannot remove {}: {e}", temp.display());
            }
        }
    }
}
