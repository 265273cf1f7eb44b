//! The writing thread: batches written through the entity engine, each with its checkpoint,
//! rejects reported in line order and progress after each batch.

use std::io::Read;
use std::time::Instant;

use diesel::connection::SimpleConnection;

use dynex_csv::RecordReader;
use dynex_validate::RowError;
use serde_json::{Map, Value as Json};

use super::checkpoint;
use super::reader::{CHUNKS_IN_FLIGHT, MAX_INSERT_BATCH, produce, row_path};
use super::rejects::reject_of;
use super::{Chunk, ImportMode, Lost, Row, Run, Spent, rate};
use crate::engine::write::{self, Method, Mode};
use crate::error::CoreError;

impl Run<'_> {
    pub(super) fn reject(
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
    pub(super) fn flush_rejects(&mut self) -> Result<(), CoreError> {
        self.rejects.sort_by_key(|r| r.line);
        for reject in std::mem::take(&mut self.rejects) {
            self.observer.reject(&reject)?;
        }
        Ok(())
    }

    /// Writes rows with `method`; returns how many were saved and reports the others.
    pub(super) fn write(&mut self, rows: Vec<Row>, method: Method) -> Result<u64, CoreError> {
        Ok(self.write_keeping_duplicates(rows, method, false)?.0)
    }

    /// [`Run::write`], but with `keep` the rows refused only as duplicates are handed back with
    /// their errors instead of reported, to be matched again.
    pub(super) fn write_keeping_duplicates(
        &mut self,
        rows: Vec<Row>,
        method: Method,
        keep: bool,
    ) -> Result<(u64, Vec<Lost>), CoreError> {
        if rows.is_empty() {
            return Ok((0, Vec::new()));
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
            changes: crate::changes::Changes::of(
                &self.snapshot.followed,
                self.options.actor.as_deref().unwrap_or("import"),
            ),
            // The outer transaction holds the writer lock already.
            writer: if self.outer {
                None
            } else {
                self.dynex.writer_lock()
            },
            nested: self.outer,
            respond: false,
            precondition: None,
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
        let mut kept = Vec::new();
        for (i, errors) in by_row.into_iter().enumerate() {
            if errors.is_empty() {
                continue;
            }
            let (line, cells) = std::mem::take(&mut sources[i]);
            let duplicate = |e: &RowError| matches!(e, RowError::Duplicate { .. });
            if keep && !checked && errors.iter().all(duplicate) {
                let row = Row {
                    line,
                    cells,
                    object: std::mem::take(&mut objects[i]),
                    checked: None,
                    refs: Vec::new(),
                };
                kept.push((row, errors));
                continue;
            }
            self.reject(line, cells, &errors)?;
        }
        self.free(Spent::Written(sources, objects));
        Ok((saved, kept))
    }

    /// Hands what the writer is done with to the reading thread, to be freed there.
    pub(super) fn free(&self, spent: Spent) {
        if let Some(to) = &self.spent {
            let _ = to.send(spent);
        }
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
    pub(super) fn all<R: Read + Send>(
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
