//! Streaming reads of a whole entity for CSV export: filtered, sorted, optionally only the rows
//! changed since a time, in keyset pages, never `OFFSET`.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use dynex_auth::{Action, Principal};
use dynex_query::{Condition, Keyset, Page, Select, Sort, order_keys, parse_sort, select_columns};
use dynex_schema::{ColumnKind, Entity, FieldType, Value, normalize_datetime};
use serde_json::Value as Json;

use crate::Dynex;
use crate::db::AnyConnection;
use crate::engine::access;
use crate::error::CoreError;

/// Rows per page unless an export says otherwise: each page is one query that starts after the
/// last row of the previous one.
pub const EXPORT_PAGE_ROWS: u64 = 5000;

/// What to export of an entity: which rows, which fields, in which order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    /// Filters as the API's query pairs (`filter[countries.iso2_code]` = `AT`); paging and
    /// `include` are refused.
    pub filters: Vec<(String, String)>,
    /// Visible names of the fields to write, in this order; empty writes every field.
    pub fields: Vec<String>,
    /// A sort such as `-price,sku` (see [`dynex_query::parse_sort`]); the identifier always
    /// breaks ties. `None` is identifier order.
    pub sort: Option<String>,
    /// Only rows whose updated-at field (`updatedAtField`) is at or after this time:
    /// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` or RFC 3339 (see [`parse_changed_since`]). Rows
    /// whose updated-at field is `NULL` are never in such a delta.
    pub changed_since: Option<String>,
    /// Rows per page (per query).
    pub page_rows: u64,
}

impl Default for ExportRequest {
    fn default() -> Self {
        ExportRequest {
            filters: Vec::new(),
            fields: Vec::new(),
            sort: None,
            changed_since: None,
            page_rows: EXPORT_PAGE_ROWS,
        }
    }
}

/// An export checked against its entity, ready to run with [`Dynex::export_cells`].
#[derive(Debug, Clone)]
pub struct ExportPlan {
    entity: Arc<Entity>,
    conditions: Vec<Condition>,
    order: Vec<Sort>,
    fields: Vec<usize>,
    page_rows: u64,
}

impl ExportPlan {
    /// The entity exported.
    pub fn entity(&self) -> &Arc<Entity> {
        &self.entity
    }

    /// Indexes (into the entity's fields) of the fields to write, in order.
    pub fn fields(&self) -> &[usize] {
        &self.fields
    }
}

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Rows handed over.
    pub rows: u64,
    /// The largest value of the updated-at field among the rows handed over
    /// (`YYYY-MM-DD HH:MM:SS[.ffffff]`, a date for a `date` field); `None` when the entity has
    /// no updated-at field or no row had a value. The next delta export starts there.
    pub max_changed_at: Option<String>,
}

/// Reads a `changed_since` time: `YYYY-MM-DD` (midnight), `YYYY-MM-DD HH:MM[:SS[.ffffff]]`
/// (with a space or a `T`) as UTC, or RFC 3339 with an offset, converted to UTC.
pub fn parse_changed_since(s: &str) -> Result<NaiveDateTime, InvalidChangedSince> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(t);
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.naive_utc());
    }
    Err(InvalidChangedSince(s.to_string()))
}

/// Why [`parse_changed_since`] refused a text (which it holds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a time (use YYYY-MM-DD, \"YYYY-MM-DD HH:MM:SS\" or RFC 3339 such as \
     2024-01-02T03:04:05Z)"
)]
pub struct InvalidChangedSince(pub String);

impl From<InvalidChangedSince> for CoreError {
    fn from(e: InvalidChangedSince) -> CoreError {
        CoreError::Invalid(e.to_string())
    }
}

/// The time `since` in the storage form of field `index`, bound in a `>=` comparison: a date for
/// a date field or column, otherwise `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC.
fn since_value(dynex: &Dynex, entity: &Entity, index: usize, since: NaiveDateTime) -> Value {
    let field = &entity.fields()[index];
    let column = entity.column(&field.field_name).map(|c| c.kind);
    // A date column holds whole days: a time within a day keeps that day, so the delta never
    // misses a row changed later that day.
    if field.ty == FieldType::Date || column == Some(ColumnKind::Date) {
        let day = since.date().format("%Y-%m-%d").to_string();
        return if field.ty == FieldType::Date {
            Value::Date(day)
        } else {
            Value::Text(day)
        };
    }
    // Microseconds are the finest any backend stores; cutting (not rounding) keeps the bound
    // inclusive.
    let since = since
        .with_nanosecond(since.nanosecond() / 1000 * 1000)
        .unwrap_or(since);
    let text = since.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    let mut text = normalize_datetime(&text).unwrap_or(text);
    // A PostgreSQL `timestamptz` would read a bare time in the session's time zone.
    if dynex_query::write::write_cast(dynex.dialect(), entity, &field.field_name)
        == Some("TIMESTAMPTZ")
    {
        text.push_str("+00:00");
    }
    if field.ty == FieldType::DateTime {
        Value::DateTime(text)
    } else {
        Value::Text(text)
    }
}

/// The updated-at value of an exported row in a form that sorts as text.
fn changed_at(ty: FieldType, value: Option<&Json>) -> Option<String> {
    let text = match value? {
        Json::String(s) => s.clone(),
        Json::Null => return None,
        other => other.to_string(),
    };
    Some(if ty == FieldType::Date {
        text.get(..10).unwrap_or(&text).to_string()
    } else {
        normalize_datetime(&text).unwrap_or(text)
    })
}

/// The rows of one page of an export as text columns, the last one the key values.
type CellPage = Vec<Vec<Option<String>>>;

/// The position after the last row of a full page (from its key values, the last column); an
/// error when it is where the page started, which would read the same page forever (a key the
/// database does not compare as it sorts).
fn next_page(
    plan: &ExportPlan,
    conditions: &[Condition],
    rows: &CellPage,
) -> Result<Option<Keyset>, CoreError> {
    let Some(Some(keys)) = rows.last().and_then(|r| r.last()) else {
        return Ok(None);
    };
    // A JSON array of the key values, or an integer identifier alone (see `select_cells`).
    let parsed = if keys.starts_with('[') {
        serde_json::from_str(keys)
    } else {
        serde_json::from_str(keys).map(|key: Json| vec![key])
    };
    let keys: Vec<Json> =
        parsed.map_err(|e| CoreError::Corrupt(format!("key values of a row: {e}")))?;
    let alias = plan.entity.alias();
    let after = Keyset::from_row(&plan.order, &keys)
        .map_err(|e| CoreError::Corrupt(format!("`{alias}`: {e}")))?;
    if conditions.get(plan.conditions.len()) == Some(&Condition::After(after.clone())) {
        return Err(CoreError::Corrupt(format!(
            "the export of `{alias}` does not advance past the key values {:?}",
            after.values
        )));
    }
    Ok(Some(after))
}

/// The read of an export's `columns` under `conditions`, in the plan's order: one keyset page,
/// or every row at once without `page`. A column with a type in `casts` is read as that type,
/// not as text ([`dynex_query::select_columns`]).
fn cells_sql(
    dialect: dynex_query::Dialect,
    plan: &ExportPlan,
    columns: &[usize],
    casts: &[Option<&str>],
    conditions: &[Condition],
    page: Option<Page>,
) -> dynex_query::Sql {
    let select = Select {
        entity: &plan.entity,
        fields: None,
        conditions,
        keys: None,
        extra_columns: &[],
        page,
        lock: false,
    };
    select_columns(dialect, &select, columns, casts, &plan.order)
}

/// What the reading thread of an export hands to the writing one.
enum Batch {
    /// A page of rows as text columns.
    Cells(CellPage),
    /// A chunk of PostgreSQL's binary `COPY` stream (the `pgcopy` module).
    #[cfg(feature = "postgres")]
    Copy(Vec<u8>),
}

/// Frees the batches the writing thread has sent back (see [`Dynex::export_cells`]); returns
/// the buffer of a `COPY` chunk, emptied, to be filled again.
fn free_spent(to_free: &std::sync::mpsc::Receiver<Batch>) -> Option<Vec<u8>> {
    to_free.try_iter().fold(None, |reuse, batch| match batch {
        #[cfg(feature = "postgres")]
        Batch::Copy(mut buffer) => {
            buffer.clear();
            Some(buffer)
        }
        Batch::Cells(_) => reuse,
    })
}

/// Turns an export's rows into CSV cells for the caller, and keeps its summary.
struct RowWriter<'a> {
    /// The allocation of the cells of a row, kept empty between rows (see [`recycle`]).
    cells: Vec<Cow<'static, str>>,
    /// The field of each column read.
    fields: Vec<&'a dynex_schema::Field>,
    /// How many of the columns are written (the updated-at field may follow them).
    written: usize,
    /// The type and column of the updated-at field.
    changed: Option<(FieldType, usize)>,
    /// The last updated-at value seen.
    last_changed: String,
    summary: ExportSummary,
}

/// Empties `cells` and hands back its allocation for cells of another lifetime: collecting
/// an emptied vector into one of a type of the same size reuses its buffer.
fn recycle<'b>(mut cells: Vec<Cow<'_, str>>) -> Vec<Cow<'b, str>> {
    cells.clear();
    cells.into_iter().map(|_| Cow::Borrowed("")).collect()
}

impl RowWriter<'_> {
    /// Hands one row, as the text of its columns, to `each`; most cells borrow the text read.
    fn row<'r>(
        &mut self,
        raw: impl Iterator<Item = Option<&'r str>>,
        each: &mut impl FnMut(&[Cow<'_, str>]) -> Result<(), CoreError>,
    ) -> Result<(), CoreError> {
        self.summary.rows += 1;
        let mut cells = recycle(std::mem::take(&mut self.cells));
        cells.extend(
            self.fields
                .iter()
                .zip(raw)
                .map(|(field, raw)| dynex_query::cell_text(field, raw)),
        );
        if let Some((ty, position)) = self.changed
            && !cells[position].is_empty()
            // Most rows repeat the last time seen: read only a new one.
            && *cells[position] != *self.last_changed
        {
            self.last_changed.clear();
            self.last_changed.push_str(&cells[position]);
            if let Some(at) = changed_at(ty, Some(&Json::String(self.last_changed.clone())))
                && self
                    .summary
                    .max_changed_at
                    .as_ref()
                    .is_none_or(|max| at > *max)
            {
                self.summary.max_changed_at = Some(at);
            }
        }
        let result = each(&cells[..self.written]);
        self.cells = recycle(cells);
        result
    }
}

impl Dynex {
    /// Checks an export of `alias` against its entity: filters, fields, sort and the
    /// `changed_since` time, every problem a coded error before anything is read.
    ///
    /// A `principal` (an export over the API, an export job) needs the read scope of the
    /// entity and of every entity a relation filter looks into, as a read does; `None` is a
    /// trusted caller (the CLI).
    pub fn plan_export(
        &self,
        alias: &str,
        request: &ExportRequest,
        principal: Option<&Principal>,
    ) -> Result<ExportPlan, CoreError> {
        access::require(principal, Action::Read, alias)?;
        let snapshot = self.snapshot();
        let entity = self.entity(&snapshot, alias)?;
        let resolve = |a: &str| snapshot.catalog.entity(a).cloned();
        let query = dynex_query::parse(&entity, &resolve, &request.filters, &self.page_limits())?;
        access::require_filtered(principal, &query.conditions)?;
        if request.filters.iter().any(|(k, _)| k.starts_with("page")) || !query.include.is_empty() {
            return Err(CoreError::Invalid(
                "an export reads every matching row: no page[…] or include".into(),
            ));
        }
        let mut fields = Vec::with_capacity(request.fields.len());
        for name in &request.fields {
            let name = name.trim();
            if name.is_empty() {
                return Err(CoreError::Invalid(
                    "an empty name in the fields to export".into(),
                ));
            }
            let index = entity.field_index(name).ok_or_else(|| {
                let known: Vec<&str> = entity
                    .fields()
                    .iter()
                    .map(|f| f.field_visible_name.as_str())
                    .collect();
                CoreError::Invalid(format!(
                    "unknown field `{name}` to export: `{alias}` has {}",
                    known.join(", ")
                ))
            })?;
            if fields.contains(&index) {
                return Err(CoreError::Invalid(format!(
                    "field `{name}` is listed twice in the fields to export"
                )));
            }
            fields.push(index);
        }
        if fields.is_empty() {
            fields = (0..entity.fields().len()).collect();
        }
        let sort = match &request.sort {
            Some(text) => parse_sort(&entity, text)?,
            None => Vec::new(),
        };
        let mut conditions = query.conditions;
        if let Some(since) = &request.changed_since {
            let index = entity.updated_at_index().ok_or_else(|| {
                CoreError::Invalid(format!(
                    "entity `{alias}` has no updated-at field, so rows changed since a time \
                     cannot be told: set `updatedAtField` in its definition to the field that \
                     holds when a row last changed"
                ))
            })?;
            let since = parse_changed_since(since)?;
            conditions.push(Condition::AtLeast(
                index,
                since_value(self, &entity, index, since),
            ));
        }
        if request.page_rows == 0 {
            return Err(CoreError::Invalid(
                "an export page holds at least 1 row".into(),
            ));
        }
        Ok(ExportPlan {
            order: order_keys(&entity, &sort),
            entity,
            conditions,
            fields,
            page_rows: request.page_rows,
        })
    }

    /// Reads every row of a planned export in its order and hands each to `each` as the CSV
    /// cells of the plan's fields (the text of their wire values, empty for null).
    ///
    /// Each page starts after the last row of the previous one (keyset paging on the order's
    /// keys and the identifier), so a page deep in a large table costs what the first one does.
    /// The database returns only the fields asked for, as text columns rather than a JSON
    /// document per row. PostgreSQL instead streams the whole read, one snapshot, through
    /// `COPY … TO STDOUT` (the `pgcopy` module), which costs the client far less per row than
    /// a result set.
    pub fn export_cells(
        &self,
        plan: &ExportPlan,
        mut each: impl FnMut(&[Cow<'_, str>]) -> Result<(), CoreError>,
    ) -> Result<ExportSummary, CoreError> {
        let entity = &plan.entity;
        let mut columns = plan.fields.clone();
        // The updated-at field is read even when not written, for `max_changed_at`.
        let changed = entity.updated_at_index().map(|i| {
            let position = columns.iter().position(|&c| c == i).unwrap_or_else(|| {
                columns.push(i);
                columns.len() - 1
            });
            (entity.fields()[i].ty, position)
        });
        let fields: Vec<&dynex_schema::Field> =
            columns.iter().map(|&i| &entity.fields()[i]).collect();
        let written = plan.fields.len();
        // Which columns PostgreSQL's binary `COPY` sends as stored (integers, dates, times):
        // the type each is cast to, and how the parser spells it.
        #[cfg(feature = "postgres")]
        let binary: Vec<Option<(&str, crate::jobs::pgcopy::Wire)>> = fields
            .iter()
            .map(|f| {
                let column = entity.column(&f.field_name)?;
                crate::jobs::pgcopy::binary(&column.sql_type)
            })
            .collect();
        let mut conn = self.inner.db.unbounded_conn()?;
        let mut out = RowWriter {
            cells: Vec::with_capacity(columns.len()),
            fields,
            written,
            changed,
            last_changed: String::new(),
            summary: ExportSummary::default(),
        };
        // One thread reads the pages while this one writes them out, so that the database
        // works on the next page while the last one is written.
        std::thread::scope(|scope| {
            let (pages, received) = std::sync::mpsc::sync_channel::<Result<Batch, CoreError>>(2);
            // Written pages go back to be freed where they were allocated: freeing a million
            // small strings on another thread cost more than writing them.
            let (spent, to_free) = std::sync::mpsc::channel::<Batch>();
            let columns = &columns;
            #[cfg(feature = "postgres")]
            let binary = &binary;
            scope.spawn(move || {
                #[cfg(feature = "postgres")]
                if let AnyConnection::Postgres(pg) = &mut *conn {
                    let casts: Vec<Option<&str>> =
                        binary.iter().map(|b| b.map(|(ty, _)| ty)).collect();
                    let sql = cells_sql(
                        self.dialect(),
                        plan,
                        columns,
                        &casts,
                        &plan.conditions,
                        None,
                    );
                    let copied = crate::jobs::pgcopy::copy_out(pg, &sql, |chunk| {
                        pages.send(Ok(Batch::Copy(chunk))).ok()?;
                        Some(free_spent(&to_free).unwrap_or_default())
                    });
                    if let Err(e) = copied {
                        let _ = pages.send(Err(e));
                    }
                    return;
                }
                let mut conditions = plan.conditions.clone();
                loop {
                    free_spent(&to_free);
                    let page = self.cell_page(&mut conn, plan, columns, &conditions);
                    let next = match &page {
                        Ok(rows) if rows.len() as u64 >= plan.page_rows => {
                            next_page(plan, &conditions, rows)
                        }
                        _ => Ok(None),
                    };
                    let (next, failed) = match next {
                        Ok(next) => (next, None),
                        Err(e) => (None, Some(e)),
                    };
                    if pages.send(page.map(Batch::Cells)).is_err() {
                        return;
                    }
                    if let Some(e) = failed {
                        let _ = pages.send(Err(e));
                        return;
                    }
                    let Some(after) = next else { return };
                    conditions.truncate(plan.conditions.len());
                    conditions.push(Condition::After(after));
                }
            });
            // A `COPY` stream always has a header and a trailer: one that ends without them
            // (or never starts) is an error, not an empty export.
            #[cfg(feature = "postgres")]
            let mut copy = crate::jobs::pgcopy::CopyParser::default();
            #[cfg(feature = "postgres")]
            let wires: Vec<crate::jobs::pgcopy::Wire> = binary
                .iter()
                .map(|b| b.map_or(crate::jobs::pgcopy::Wire::Text, |(_, wire)| wire))
                .collect();
            for batch in received {
                let batch = batch?;
                match &batch {
                    Batch::Cells(rows) => {
                        for row in rows {
                            out.row(row.iter().map(Option::as_deref), &mut each)?;
                        }
                    }
                    #[cfg(feature = "postgres")]
                    Batch::Copy(chunk) => {
                        copy.feed(chunk, &wires, |row| out.row(row.iter().copied(), &mut each))?
                    }
                }
                // The reading thread may have ended: then the page is freed here.
                let _ = spent.send(batch);
            }
            #[cfg(feature = "postgres")]
            if self.dialect() == dynex_query::Dialect::Postgres {
                copy.finish()?;
            }
            Ok(out.summary)
        })
    }

    /// One page of an export as text columns ([`select_cells`]): the columns, then the key
    /// values of the order as a JSON array.
    fn cell_page(
        &self,
        conn: &mut AnyConnection,
        plan: &ExportPlan,
        columns: &[usize],
        conditions: &[Condition],
    ) -> Result<CellPage, CoreError> {
        let page = Page {
            offset: 0,
            limit: plan.page_rows,
        };
        let sql = cells_sql(self.dialect(), plan, columns, &[], conditions, Some(page));
        Ok(crate::db::load_cells(conn, &sql)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_since_takes_dates_times_and_rfc3339() {
        let t = |s| {
            parse_changed_since(s)
                .unwrap()
                .format("%Y-%m-%d %H:%M:%S%.f")
                .to_string()
        };
        assert_eq!(t("2024-01-02"), "2024-01-02 00:00:00");
        assert_eq!(t("2024-01-02 03:04:05"), "2024-01-02 03:04:05");
        assert_eq!(t("2024-01-02T03:04:05.25"), "2024-01-02 03:04:05.250");
        assert_eq!(t("2024-01-02T03:04:05Z"), "2024-01-02 03:04:05");
        assert_eq!(t("2024-01-02T03:04:05+02:00"), "2024-01-02 01:04:05");
        assert_eq!(t(" 2024-01-02 03:04 "), "2024-01-02 03:04:00");
        for bad in [
            "2024-02-30",
            "yesterday",
            "02.01.2024",
            "",
            "2024-01-02T25:00:00Z",
        ] {
            let e = parse_changed_since(bad).unwrap_err().to_string();
            assert!(e.contains("RFC 3339"), "{bad}: {e}");
        }
    }

    #[test]
    fn changed_at_values_sort_as_text() {
        let s = |v: Json| changed_at(FieldType::String, Some(&v));
        assert_eq!(
            s(Json::from("2024-02-01 09:00:00.000000")),
            Some("2024-02-01 09:00:00".into())
        );
        assert_eq!(
            s(Json::from("2024-02-01T09:00:00.5")),
            Some("2024-02-01 09:00:00.5".into())
        );
        assert_eq!(s(Json::Null), None);
        assert_eq!(
            changed_at(FieldType::Date, Some(&Json::from("2024-02-01"))),
            Some("2024-02-01".into())
        );
        assert_eq!(changed_at(FieldType::DateTime, None), None);
    }
}
