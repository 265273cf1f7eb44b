//! Output helpers: JSON documents, plain tables and files replaced atomically.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;

/// Prints a value as pretty JSON followed by a newline.
pub(crate) fn print_json(out: &mut dyn Write, value: &serde_json::Value) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// Prints rows under a header, columns padded to their widest cell.
pub(crate) fn print_table(
    out: &mut dyn Write,
    header: &[&str],
    rows: &[Vec<String>],
) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        let mut text = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            text.extend(std::iter::repeat_n(
                ' ',
                w.saturating_sub(cell.chars().count()),
            ));
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, &mut header.iter().copied())?;
    for row in rows {
        line(out, &mut row.iter().map(String::as_str))?;
    }
    Ok(())
}

/// Writes a file through a temporary file in the same directory, so a failure never leaves a
/// half-written file behind.
pub(crate) fn write_file(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    // A device, a pipe or a symbolic link (`-o /dev/null`, `-o /dev/stdout`, a FIFO) is written
    // through: renaming a file over it would replace it.
    if std::fs::symlink_metadata(path).is_ok_and(|m| !m.file_type().is_file()) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut buffered = io::BufWriter::new(file);
        write(&mut buffered)?;
        return buffered
            .flush()
            .with_context(|| format!("cannot write {}", path.display()));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write to {}", dir.display()))?;
    {
        let mut buffered = io::BufWriter::new(tmp.as_file_mut());
        write(&mut buffered)?;
        buffered
            .flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    // Give the file the permissions a plain create would (a temporary file is private).
    let cannot = || format!("cannot write {}", path.display());
    let permissions = match std::fs::metadata(path) {
        Ok(m) => m.permissions(),
        Err(_) => std::fs::File::create(path)
            .and_then(|f| f.metadata())
            .with_context(cannot)?
            .permissions(),
    };
    tmp.as_file()
        .set_permissions(permissions)
        .with_context(cannot)?;
    tmp.persist(path).with_context(cannot)?;
    Ok(())
}

/// Reads a whole input file, `-` meaning stdin; an unreadable file is invalid input.
pub(crate) fn read_input(file: &str) -> anyhow::Result<String> {
    let read = if file == "-" {
        io::read_to_string(io::stdin())
    } else {
        std::fs::read_to_string(file)
    };
    read.map_err(|e| {
        let name = if file == "-" { "stdin" } else { file };
        dynex_core::CoreError::Invalid(format!("cannot read {name}: {e}")).into()
    })
}

/// `1 entity` or `n entities`.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}
