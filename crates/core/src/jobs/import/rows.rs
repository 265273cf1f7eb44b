//! Rows that come as JSON objects instead of lines of a CSV file (a pipeline's mapped records),
//! written with everything an import does: matching by key, unchanged rows skipped, lookups by
//! natural key, validation, and every refused row reported with its codes.

use std::time::Instant;

use diesel::connection::SimpleConnection;
use serde_json::{Map, Value as Json};

use super::reader::{LookupColumn, Parser};
use super::{
    ImportMode, ImportObserver, ImportOptions, ImportSummary, Row, Run, header_fields, match_key,
    rate,
};
use crate::Dynex;
use crate::error::CoreError;

/// One row to write: its number in the run (what its reject names as `line`), and its values by
/// field visible name.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRow {
    /// The row's number in the run; rejects carry it back.
    pub number: u64,
    /// Values by field visible name; only the fields listed in [`RowsSpec::fields`].
    pub fields: Map<String, Json>,
    /// The value to look up for each of [`RowsSpec::lookups`], in order (`None`: nothing to
    /// look up; the field is then left out).
    pub lookups: Vec<Option<Json>>,
}

/// A field whose value is the identifier of another entity's row, found by one of that row's
/// fields (a natural key such as a SKU), as an import mapping's lookups do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowLookup {
    /// The field that gets the identifier (a visible name of the written entity).
    pub field: String,
    /// The entity looked up (its alias).
    pub entity: String,
    /// Its field the value is matched against (a visible name).
    pub by: String,
}

/// What rows of a run may carry, and how they meet the stored ones.
#[derive(Debug, Clone)]
pub struct RowsSpec<'a> {
    /// The entity's alias.
    pub alias: &'a str,
    /// Every field a row may carry (visible names), lookup fields included.
    pub fields: &'a [String],
    /// Fields whose value is looked up by a natural key.
    pub lookups: &'a [RowLookup],
    /// Mode, key, dry run and all-or-nothing, as for a CSV import; `source`, `resume` and
    /// `mapping` do not apply.
    pub options: &'a ImportOptions,
}

/// Writing rows given as JSON objects.
impl Dynex {
    /// Writes the rows of `batches`, one batch after the other, as a CSV import writes the lines
    /// of its file: the good rows of a batch are committed together, each refused row is handed
    /// to `observer` with its number and codes, and `observer.progress` follows every batch
    /// (once its rows are committed, unless the run is a dry run or all-or-nothing).
    ///
    /// A batch larger than an import's batch (a page of the server, for upserts and updates,
    /// which match a batch with one read) is written in parts.
    pub fn write_rows(
        &self,
        spec: &RowsSpec<'_>,
        batches: &mut dyn Iterator<Item = Result<Vec<RecordRow>, CoreError>>,
        observer: &mut dyn ImportObserver,
    ) -> Result<ImportSummary, CoreError> {
        let started = Instant::now();
        let options = spec.options;
        let snapshot = self.snapshot();
        let entity = self.entity(&snapshot, spec.alias)?;
        let columns = header_fields(&entity, spec.fields)?;
        let key = match_key(&entity, options, &columns, "field")?;
        let mut lookups = Vec::with_capacity(spec.lookups.len());
        for l in spec.lookups {
            let position = columns
                .iter()
                .position(|f| f.field_visible_name == l.field)
                .ok_or_else(|| {
                    CoreError::Invalid(format!("the lookup field `{}` is not listed", l.field))
                })?;
            let other = snapshot
                .catalog
                .entity(&l.entity)
                .ok_or_else(|| CoreError::UnknownEntity(l.entity.clone()))?;
            let by = other
                .field_index(&l.by)
                .map(|i| &other.fields()[i])
                .ok_or_else(|| {
                    CoreError::Invalid(format!("`{}` is not a field of `{}`", l.by, l.entity))
                })?;
            lookups.push(LookupColumn {
                position,
                entity: other,
                by,
            });
        }
        let outer = options.atomic || options.dry_run;
        let _writer = if outer { self.sqlite_writer() } else { None };
        let mut conn = self.inner.db.unbounded_conn()?;
        if outer {
            conn.batch_execute(crate::engine::tx::begin_statement(self.dialect()))?;
        }
        let parser = Parser {
            entity: &entity,
            columns,
            mapping: None,
            lookups,
            precheck: false,
            dialect: self.dialect(),
        };
        let most = match options.mode {
            ImportMode::Insert => super::reader::MAX_INSERT_BATCH,
            _ => usize::try_from(self.page_limits().max_limit).unwrap_or(1000),
        };
        let part = options.batch_rows.clamp(1, most);
        let mut run = Run {
            dynex: self,
            conn: &mut conn,
            outer,
            job: None,
            last_line: 0,
            snapshot: &snapshot,
            entity: &entity,
            options,
            parser: &parser,
            key,
            rejects: Vec::new(),
            spent: None,
            summary: ImportSummary {
                entity: spec.alias.to_string(),
                mode: options.mode.as_str(),
                dry_run: options.dry_run,
                atomic: options.atomic,
                ..ImportSummary::default()
            },
            observer,
        };
        let lookup_count = spec.lookups.len();
        let result = (|| -> Result<(), CoreError> {
            for batch in batches {
                let mut rows: Vec<Row> = batch?
                    .into_iter()
                    .map(|r| {
                        let mut refs = r.lookups;
                        refs.resize(lookup_count, None);
                        Row {
                            line: r.number,
                            cells: Vec::new(),
                            object: r.fields,
                            checked: None,
                            refs,
                        }
                    })
                    .collect();
                run.summary.read += rows.len() as u64;
                while !rows.is_empty() {
                    let rest = rows.split_off(part.min(rows.len()));
                    run.batch(rows)?;
                    rows = rest;
                }
                run.flush_rejects()?;
                let elapsed = started.elapsed().as_secs_f64();
                run.summary.seconds = elapsed;
                run.summary.rows_per_second = rate(run.summary.read, elapsed);
                run.observer.progress(&run.summary, 0);
            }
            Ok(())
        })();
        let mut summary = run.summary;
        if outer {
            let keep = result.is_ok() && !options.dry_run && summary.rejected == 0;
            conn.batch_execute(if keep { "COMMIT" } else { "ROLLBACK" })?;
            summary.committed = keep;
        } else {
            summary.committed = !options.dry_run;
        }
        result?;
        let elapsed = started.elapsed().as_secs_f64();
        summary.seconds = elapsed;
        summary.rows_per_second = rate(summary.read, elapsed);
        Ok(summary)
    }
}
