//! `dynex import ALIAS FILE.csv`: a CSV file into an entity, with a rejects report, a progress
//! bar on a terminal and a summary; `--manifest` runs several ([`manifest`]).

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use dynex_core::{CoreError, Dynex, ImportObserver, ImportOptions, ImportSummary, Reject};
use dynex_csv::{Mapping, RejectRow, RejectWriter};
use indicatif::{HumanDuration, ProgressBar, ProgressState, ProgressStyle};
use serde_json::json;

use crate::ImportArgs;
use crate::output::print_json;

mod manifest;

pub(crate) use manifest::AlreadyReported;

/// The import ended but refused rows (exit code 5); the summary says how many.
#[derive(Debug, thiserror::Error)]
#[error("{0} row(s) rejected")]
pub struct RowsRejected(pub u64);

/// How many rejected lines an import shows (on stderr, or as `first_rejects` with `--json`),
/// so that nobody has to run it again with `--rejects` to learn which lines and why; a rerun
/// would find the good rows in already.
pub(crate) const PREVIEW_REJECTS: usize = 10;

/// One rejected line as the preview shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct RejectPreview {
    /// Its line number in the file (the header is line 1).
    pub line: u64,
    /// The first error's code.
    pub code: String,
    /// The field the first error is about, if one.
    pub field: Option<String>,
    /// Every error of the line.
    pub message: String,
}

/// Writes rejects to the report file, keeps the first few, and moves the progress bar.
pub(crate) struct Observer {
    path: Option<PathBuf>,
    report: Option<RejectWriter<BufWriter<File>>>,
    bar: Option<ProgressBar>,
    /// The first [`PREVIEW_REJECTS`] rejected lines.
    pub(crate) preview: Vec<RejectPreview>,
}

impl ImportObserver for Observer {
    fn start(&mut self, header: &[String]) -> Result<(), CoreError> {
        if let Some(path) = &self.path {
            let file = File::create(path).map_err(|e| {
                CoreError::Invalid(format!("cannot create {}: {e}", path.display()))
            })?;
            self.report = Some(
                RejectWriter::new(header, BufWriter::new(file))
                    .map_err(|e| CoreError::Invalid(e.to_string()))?,
            );
        }
        // The first frame, before any row: it has no rate to tell a time left from.
        if let Some(bar) = &self.bar {
            bar.set_message("reading the first rows");
            bar.tick();
        }
        Ok(())
    }

    fn reject(&mut self, reject: &Reject) -> Result<(), CoreError> {
        if self.preview.len() < PREVIEW_REJECTS {
            self.preview.push(RejectPreview {
                line: reject.line,
                code: reject.code.clone(),
                field: reject.field.clone(),
                message: reject.message.clone(),
            });
        }
        if let Some(report) = &mut self.report {
            report
                .write(&RejectRow {
                    line: reject.line,
                    code: &reject.code,
                    field: reject.field.as_deref(),
                    message: &reject.message,
                    cells: &reject.cells,
                })
                .map_err(|e| CoreError::Invalid(format!("cannot write the rejects file: {e}")))?;
        }
        Ok(())
    }

    fn progress(&mut self, summary: &ImportSummary, bytes_read: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes_read);
            bar.set_message(format!(
                "{} rows, {} rows/s, {} rejected",
                summary.read, summary.rows_per_second, summary.rejected
            ));
        }
    }
}

pub(crate) fn run(
    dynex: &Dynex,
    args: &ImportArgs,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if let Some(manifest) = &args.manifest {
        return manifest::run(dynex, manifest, args, json, out);
    }
    // clap requires both without --manifest; refuse rather than panic if that ever changes.
    let (Some(alias), Some(path)) = (&args.alias, &args.file) else {
        return Err(
            CoreError::Invalid("ALIAS and FILE are required without --manifest".into()).into(),
        );
    };
    let (input, size, source): (Box<dyn Read + Send>, Option<u64>, Option<String>) =
        if path.as_os_str() == "-" {
            if args.resume {
                return Err(CoreError::Invalid(
                    "--resume needs a file (standard input cannot be resumed)".into(),
                )
                .into());
            }
            (Box::new(io::stdin()), None, None)
        } else {
            let source = fingerprint(path)?;
            let (file, size) = open(path)?;
            (Box::new(file), size, Some(source))
        };
    let mut observer = Observer::new(args.rejects.clone(), size, json);
    let mapping = args.mapping.as_deref().map(read_mapping).transpose()?;
    let options = ImportOptions {
        mode: args.mode.into(),
        key: args.key.clone(),
        dry_run: args.dry_run,
        atomic: args.atomic,
        max_errors: args.max_errors,
        batch_rows: args.batch_size,
        mapping,
        source,
        resume: args.resume,
        actor: None,
    };
    let summary = dynex.import(alias, input, &options, &mut observer)?;
    observer.finish()?;
    if json {
        let mut value = serde_json::to_value(&summary)?;
        if let Some(path) = &args.rejects {
            value["rejects_file"] = json!(path.display().to_string());
        }
        value["first_rejects"] = json!(observer.preview);
        print_json(out, &value)?;
    } else {
        print_summary(out, &summary, path, args.rejects.as_deref())?;
        if args.rejects.is_none() {
            print_preview(
                &mut io::stderr().lock(),
                summary.rejected,
                &observer.preview,
                "FILE",
            )?;
        }
    }
    if summary.rejected > 0 {
        return Err(RowsRejected(summary.rejected).into());
    }
    Ok(())
}

/// Opens a CSV file and reads its size; a file that cannot be opened is bad input (exit 2), like
/// a bad argument.
pub(crate) fn open(path: &Path) -> Result<(File, Option<u64>), CoreError> {
    let file = File::open(path)
        .map_err(|e| CoreError::Invalid(format!("cannot open {}: {e}", path.display())))?;
    let size = file.metadata().ok().map(|m| m.len());
    Ok((file, size))
}

/// What identifies a file for `--resume`: a hash of its absolute path, its size and its first
/// 64 KiB, so a file that was replaced or edited is not resumed.
pub(crate) fn fingerprint(path: &Path) -> Result<String, CoreError> {
    let unreadable =
        |e: io::Error| CoreError::Invalid(format!("cannot open {}: {e}", path.display()));
    let absolute = std::fs::canonicalize(path).map_err(unreadable)?;
    let file = File::open(path).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    let mut head = Vec::with_capacity(64 * 1024);
    file.take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(unreadable)?;
    let text = format!(
        "{}\n{size}\n{}",
        absolute.display(),
        String::from_utf8_lossy(&head)
    );
    Ok(dynex_auth::hash_secret(&text))
}

/// Reads a `--mapping` file; one that cannot be read or is wrong is bad input (exit 2), refused
/// before any row.
pub(crate) fn read_mapping(path: &Path) -> Result<Mapping, CoreError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CoreError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    Mapping::from_yaml(&text).map_err(|e| CoreError::Invalid(format!("{}: {e}", path.display())))
}

impl Observer {
    /// An observer writing rejects to `path` (when given), with a progress bar over `size`
    /// bytes on a terminal unless the output is JSON.
    pub(crate) fn new(path: Option<PathBuf>, size: Option<u64>, json: bool) -> Observer {
        let bar = (!json && io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(size.unwrap_or(0));
            let template = if size.is_some() {
                "{bar:20} {percent:>3}% {msg} (ETA {eta})"
            } else {
                "{spinner} {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.with_key("eta", eta));
            }
            bar
        });
        Observer {
            path,
            report: None,
            bar,
            preview: Vec::new(),
        }
    }

    /// Clears the progress bar and flushes the rejects file.
    pub(crate) fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Some(report) = &mut self.report {
            report.flush().context("cannot write the rejects file")?;
        }
        Ok(())
    }
}

/// The time left, once some of the file was read: before that there is no rate to tell it
/// from, and indicatif would show `0s`.
fn eta(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = if state.pos() == 0 {
        w.write_str("–")
    } else {
        write!(w, "{:#}", HumanDuration(state.eta()))
    };
}

/// Prints the first rejected lines of an import run without `--rejects` (`option` names what
/// that option takes: FILE, or DIR for a manifest), and how to get them all.
pub(crate) fn print_preview(
    err: &mut dyn Write,
    rejected: u64,
    preview: &[RejectPreview],
    option: &str,
) -> io::Result<()> {
    if rejected == 0 {
        return Ok(());
    }
    for r in preview {
        let field = r
            .field
            .as_deref()
            .map(|f| format!(" {f}"))
            .unwrap_or_default();
        writeln!(
            err,
            "rejected line {}: {}{field}: {}",
            r.line, r.code, r.message
        )?;
    }
    let more = rejected.saturating_sub(preview.len() as u64);
    if more > 0 {
        writeln!(err, "… and {more} more; use --rejects {option} for all")
    } else {
        writeln!(
            err,
            "use --rejects {option} for a report with each line's cells, to fix and import again"
        )
    }
}

fn print_summary(
    out: &mut dyn Write,
    s: &ImportSummary,
    file: &Path,
    rejects: Option<&Path>,
) -> io::Result<()> {
    let verb = if s.dry_run {
        "checked (dry run, nothing written)"
    } else if !s.committed {
        "rolled back (--atomic and rows were rejected: nothing written)"
    } else {
        "imported"
    };
    writeln!(
        out,
        "{} into `{}` ({}): {verb}",
        file.display(),
        s.entity,
        s.mode
    )?;
    writeln!(out, "  read       {}", s.read)?;
    writeln!(out, "  inserted   {}", s.inserted)?;
    writeln!(out, "  updated    {}", s.updated)?;
    writeln!(out, "  unchanged  {}", s.unchanged)?;
    writeln!(out, "  rejected   {}", s.rejected)?;
    writeln!(out, "  seconds    {:.2}", s.seconds)?;
    writeln!(out, "  rows/s     {}", s.rows_per_second)?;
    if s.stopped_early {
        writeln!(out, "stopped early: --max-errors reached")?;
    }
    if s.rejected > 0
        && let Some(path) = rejects
    {
        writeln!(out, "rejected lines: {}", path.display())?;
    }
    Ok(())
}
