//! Matching a batch with the stored rows: lookups of natural keys, the stored rows of the
//! batch's keys, and the delta that decides per row between unchanged, update and create.

// Keys come from the payload; foldhash is seeded per map and far cheaper than SipHash.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use dynex_query::Dialect;
use dynex_schema::{Entity, Field, FieldType, normalize_datetime};
use dynex_validate::RowError;
use serde_json::{Value as Json, json};

use super::{ImportMode, Lost, Row, Run, Spent, key_text};
use crate::db::AnyConnection;
use crate::engine::write::Method;
use crate::error::CoreError;

/// Whether a value read from the database and one from the file are the same for `field`.
fn same(field: &Field, stored: Option<&Json>, new: &Json) -> bool {
    let stored = stored.unwrap_or(&Json::Null);
    match (field.ty, stored, new) {
        (_, Json::Null, Json::Null) => true,
        (_, Json::Null, _) | (_, _, Json::Null) => false,
        (FieldType::Decimal, a, b) => decimal_text(a) == decimal_text(b),
        (FieldType::Float, a, b) => a.as_f64() == b.as_f64(),
        (FieldType::DateTime, Json::String(a), Json::String(b)) => {
            normalize_datetime(a).map(|t| trim_fraction(&t))
                == normalize_datetime(b).map(|t| trim_fraction(&t))
        }
        (_, a, b) => a == b,
    }
}

/// A decimal without insignificant zeros: `20.50` and `20.5` compare equal.
fn decimal_text(v: &Json) -> Option<String> {
    let text = match v {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        _ => return None,
    };
    let text = dynex_schema::canonical_decimal(text.trim())?;
    Some(match text.split_once('.') {
        Some((int, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                int.to_string()
            } else {
                format!("{int}.{frac}")
            }
        }
        None => text,
    })
}

fn trim_fraction(t: &str) -> String {
    match t.split_once('.') {
        Some((base, frac)) if frac.chars().all(|c| c == '0') => base.to_string(),
        _ => t.to_string(),
    }
}

/// A stored row found by key (its wire values in the entity's field order), and how many
/// stored rows have that key.
pub(super) type Stored = (Vec<Json>, usize);

/// Found rows of a lookup by the text of the value looked up: the identifier of the first one
/// and how many matched.
type Found = HashMap<String, (Json, usize)>;

/// Adds the identifier of each row read by a lookup to `found`, under the text of its `by` value.
fn count_found(entity: &Entity, by: &Field, rows: Vec<Json>, found: &mut Found) {
    let id = &entity.identifier().field_visible_name;
    for row in rows {
        let (Some(v), Some(id)) = (row.get(&by.field_visible_name), row.get(id)) else {
            continue;
        };
        found
            .entry(key_text(v))
            .and_modify(|(_, n)| *n += 1)
            .or_insert((id.clone(), 1));
    }
}

/// A failed read of the stored rows: [`CoreError::Busy`] when a deadlock (or a lock wait) ended
/// it. On MariaDB rows matched again after a lost create are read with a lock, and two imports
/// that lost the same key inside their transactions hold shared locks on it (InnoDB's, from the
/// refused insert): one of them is chosen as deadlock victim, its whole transaction rolled back.
fn lost_to_deadlock(dialect: dynex_query::Dialect, e: diesel::result::Error) -> CoreError {
    match crate::dberr::classify(dialect, e) {
        crate::dberr::DbFault::Retry => CoreError::Busy,
        crate::dberr::DbFault::Other(e) => CoreError::Database(e),
        fault => CoreError::Corrupt(format!("a read of stored rows failed: {fault:?}")),
    }
}

/// The rows of a batch by what they need: created, created by identifier (a `PUT`), updated.
struct Sorted {
    creates: Vec<Row>,
    puts: Vec<Row>,
    updates: Vec<Row>,
}

/// How many times the rows of a batch whose creates lost to another writer are matched again.
const REMATCHES: usize = 2;

/// Whether the database holds at most one row per value of `field` (its column alone is the
/// primary key or a unique key).
fn is_unique(entity: &Entity, field: &Field) -> bool {
    let column = std::slice::from_ref(&field.field_name);
    entity
        .table_info()
        .is_some_and(|t| t.primary_key == column || t.unique_keys.iter().any(|k| k == column))
}

/// The read of every row of `entity` that `query`'s conditions select by a unique field,
/// without a page: the values of one batch select at most one row each.
///
/// A page (`ORDER BY` identifier with `LIMIT`) would let PostgreSQL walk the primary key in
/// order and test every row against the list of keys, which grows with the table; without one
/// it looks the keys up in their unique index.
fn unpaged<'q>(entity: &'q Entity, query: &'q dynex_query::ReadQuery) -> dynex_query::Select<'q> {
    dynex_query::Select {
        entity,
        fields: None,
        conditions: &query.conditions,
        keys: None,
        extra_columns: &[],
        page: None,
        lock: false,
    }
}

/// The rows of [`unpaged`] as wire objects.
fn by_unique_field(
    conn: &mut AnyConnection,
    dialect: dynex_query::Dialect,
    entity: &Entity,
    query: &dynex_query::ReadQuery,
) -> Result<Vec<Json>, CoreError> {
    crate::db::load_json(conn, &dynex_query::select(dialect, &unpaged(entity, query)))?
        .iter()
        .map(|text| {
            dynex_query::decode_row(entity, text)
                .map(|(object, _)| Json::Object(object))
                .map_err(CoreError::Corrupt)
        })
        .collect()
}

impl Run<'_> {
    /// Reads the rows of lookup `k` whose matched field has one of `values`, in chunks that fit
    /// a page; a chunk that fills a page may have been cut short and is read again in halves.
    fn find(&mut self, k: usize, values: &[Json], found: &mut Found) -> Result<(), CoreError> {
        let limit = usize::try_from(self.dynex.page_limits().max_limit)
            .unwrap_or(1000)
            .max(1);
        // One less than a page: a full page then means that some value matches several rows.
        for chunk in values.chunks(limit.saturating_sub(1).max(1)) {
            let (entity, by) = (self.parser.lookups[k].entity, self.parser.lookups[k].by);
            let pairs = vec![
                (
                    format!("filter[{}.{}]", entity.alias(), by.field_visible_name),
                    json!({ "in": chunk }).to_string(),
                ),
                ("page[limit]".to_string(), limit.to_string()),
            ];
            let resolve = |a: &str| self.snapshot.catalog.entity(a).cloned();
            let query = dynex_query::parse(entity, &resolve, &pairs, &self.dynex.page_limits())?;
            if is_unique(entity, by) {
                let rows = by_unique_field(self.conn, self.dynex.dialect(), entity, &query)?;
                count_found(entity, by, rows, found);
                continue;
            }
            let rows =
                crate::engine::read::read(self.conn, self.dynex.dialect(), entity, &query, &[])?;
            if rows.len() >= limit && chunk.len() > 1 {
                let (a, b) = chunk.split_at(chunk.len() / 2);
                self.find(k, a, found)?;
                self.find(k, b, found)?;
                continue;
            }
            count_found(entity, by, rows, found);
        }
        Ok(())
    }

    /// Replaces the values looked up by the identifiers of the rows they name; a row whose
    /// value names no row (1317) or several rows (1302) is refused.
    fn resolve(&mut self, rows: Vec<Row>) -> Result<Vec<Row>, CoreError> {
        if self.parser.lookups.is_empty() || rows.is_empty() {
            return Ok(rows);
        }
        let mut found: Vec<Found> = Vec::with_capacity(self.parser.lookups.len());
        for k in 0..self.parser.lookups.len() {
            let mut seen = HashSet::new();
            let values: Vec<Json> = rows
                .iter()
                .filter_map(|r| r.refs[k].as_ref())
                .filter(|v| seen.insert(key_text(v)))
                .cloned()
                .collect();
            let mut by_value = Found::new();
            if !values.is_empty() {
                self.find(k, &values, &mut by_value)?;
            }
            found.push(by_value);
        }
        let alias = self.entity.alias();
        // A value that fills a page alone may match more rows than were read.
        let limit = usize::try_from(self.dynex.page_limits().max_limit).unwrap_or(1000);
        let mut kept = Vec::with_capacity(rows.len());
        for mut row in rows {
            let mut errors = Vec::new();
            for (k, lookup) in self.parser.lookups.iter().enumerate() {
                let Some(v) = row.refs[k].take() else {
                    continue;
                };
                let field = &self.parser.columns[lookup.position].field_visible_name;
                let path = format!("{alias}[{}]", row.line);
                match found[k].get(&key_text(&v)) {
                    Some((id, 1)) => {
                        row.object.insert(field.clone(), id.clone());
                    }
                    Some((_, n)) => errors.push(RowError::Persistence {
                        path,
                        reason: Some(format!(
                            "`{}` = `{}` matches {n}{} rows of `{}`; look rows up by a unique \
                             field",
                            lookup.by.field_visible_name,
                            key_text(&v),
                            if *n >= limit { " or more" } else { "" },
                            lookup.entity.alias()
                        )),
                    }),
                    None => errors.push(RowError::MissingReference {
                        path: format!("{path}.{field}"),
                    }),
                }
            }
            if errors.is_empty() {
                kept.push(row);
            } else {
                self.reject(row.line, row.cells, &errors)?;
            }
        }
        Ok(kept)
    }

    /// Reads the stored rows of the batch's keys, by key text, with how many rows share each
    /// key (more than one when the key field is not unique). With `lock` (a unique key only),
    /// the read locks the rows and sees what other transactions committed since this one's
    /// snapshot (MariaDB's repeatable reads would not).
    fn stored<'r>(
        &mut self,
        rows: impl Iterator<Item = &'r Row>,
        lock: bool,
    ) -> Result<HashMap<String, Stored>, CoreError> {
        let keys: Vec<&Json> = rows
            .filter_map(|r| r.object.get(&self.key.field_visible_name))
            .filter(|v| !v.is_null())
            .collect();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let alias = self.entity.alias();
        let pairs = vec![
            (
                format!("filter[{alias}.{}]", self.key.field_visible_name),
                json!({ "in": keys }).to_string(),
            ),
            // Room for more rows than keys, to notice a key that matches several.
            (
                "page[limit]".to_string(),
                self.dynex.page_limits().max_limit.to_string(),
            ),
        ];
        let resolve = |a: &str| self.snapshot.catalog.entity(a).cloned();
        let query = dynex_query::parse(self.entity, &resolve, &pairs, &self.dynex.page_limits())?;
        let fields = self.entity.fields();
        let found: Vec<Vec<Json>> = if is_unique(self.entity, self.key) {
            // Text columns, as an export reads them: a JSON document per row cost the database
            // more to build than the client to parse.
            let all: Vec<usize> = (0..fields.len()).collect();
            let select = dynex_query::Select {
                lock,
                ..unpaged(self.entity, &query)
            };
            let sql = dynex_query::select_cells(self.dynex.dialect(), &select, &all, &[]);
            crate::db::load_cells(self.conn, &sql)
                .map_err(|e| lost_to_deadlock(self.dynex.dialect(), e))?
                .into_iter()
                .map(|row| {
                    fields
                        .iter()
                        .zip(row)
                        .map(|(f, raw)| dynex_query::decode_cell(f, raw))
                        .collect()
                })
                .collect()
        } else {
            crate::engine::read::read(self.conn, self.dynex.dialect(), self.entity, &query, &[])?
                .into_iter()
                .filter_map(|row| match row {
                    Json::Object(mut o) => Some(
                        fields
                            .iter()
                            .map(|f| o.remove(&f.field_visible_name).unwrap_or(Json::Null))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect()
        };
        let key = fields
            .iter()
            .position(|f| f.field_name == self.key.field_name)
            .unwrap_or_default();
        Ok(found
            .into_iter()
            .fold(HashMap::new(), |mut by_key, values| {
                let k = values.get(key).map(key_text).unwrap_or_default();
                by_key
                    .entry(k)
                    .and_modify(|(_, n): &mut Stored| *n += 1)
                    .or_insert((values, 1));
                by_key
            }))
    }

    /// Writes one batch.
    ///
    /// In `upsert` mode a key matched as new may be created by another writer before this
    /// batch creates it: the create is then refused as a duplicate. Such rows are matched
    /// again (a locking read, which sees the other writer's row) and updated, as if they had
    /// been found the first time; a row whose key is still not found keeps its refusal (the
    /// duplicate is another unique field's).
    pub(super) fn batch(&mut self, rows: Vec<Row>) -> Result<(), CoreError> {
        let rows = self.resolve(rows)?;
        if self.options.mode == ImportMode::Insert {
            self.summary.inserted += self.write(rows, Method::Create)?;
            return Ok(());
        }
        let rematch = self.options.mode == ImportMode::Upsert && is_unique(self.entity, self.key);
        let mut rows: Vec<Lost> = rows.into_iter().map(|r| (r, Vec::new())).collect();
        for round in 0..=REMATCHES {
            // Only MariaDB's repeatable reads need a lock to see the other writer's row inside
            // a transaction.
            let lock = round > 0 && self.outer && self.dynex.dialect() == Dialect::Mysql;
            let Sorted {
                creates,
                puts,
                updates,
            } = self.sort(rows, lock)?;
            self.summary.updated += self.write(updates, Method::Update)?;
            self.summary.inserted += self.write(puts, Method::Upsert)?;
            let (saved, lost) = self.write_keeping_duplicates(
                creates,
                Method::Create,
                rematch && round < REMATCHES,
            )?;
            self.summary.inserted += saved;
            if lost.is_empty() {
                break;
            }
            rows = lost;
        }
        Ok(())
    }

    /// Matches rows with the stored ones: rows identical to what is stored are counted
    /// unchanged, the others become creates, creates by identifier (`puts`) and updates; rows
    /// that cannot be matched are refused. A row that carries the errors of a refused create
    /// (matched again, with `lock`) and is still not found is refused with them.
    fn sort(&mut self, rows: Vec<Lost>, lock: bool) -> Result<Sorted, CoreError> {
        let stored = self.stored(rows.iter().map(|(r, _)| r), lock)?;
        let key = self.key.field_visible_name.clone();
        let identifier = self.entity.identifier().field_visible_name.clone();
        let (mut creates, mut puts, mut updates) = (Vec::new(), Vec::new(), Vec::new());
        let mut unchanged = Vec::new();
        for (mut row, refused) in rows {
            let found = row
                .object
                .get(&key)
                .filter(|v| !v.is_null())
                .and_then(|k| stored.get(&key_text(k)));
            match found {
                None if !refused.is_empty() => {
                    self.reject(row.line, row.cells, &refused)?;
                }
                Some((_, n)) if *n > 1 => {
                    let path = format!("{}[{}]", self.entity.alias(), row.line);
                    let k = row.object.get(&key).map(key_text).unwrap_or_default();
                    let reason = format!(
                        "the key `{key}` = `{k}` matches {n} stored rows; match rows by a \
                         unique field"
                    );
                    self.reject(
                        row.line,
                        row.cells,
                        &[RowError::Persistence {
                            path,
                            reason: Some(reason),
                        }],
                    )?;
                }
                Some((existing, _)) => {
                    let is_same = |name: &String, v: &Json| {
                        self.entity
                            .field_index(name)
                            .is_some_and(|i| same(&self.entity.fields()[i], existing.get(i), v))
                    };
                    if row.object.iter().all(|(name, v)| is_same(name, v)) {
                        self.summary.unchanged += 1;
                        unchanged.push(row);
                        continue;
                    }
                    // Only what changed is written: an unchanged cell of a field that is not
                    // editable is no attempt to change it, and fewer columns write faster.
                    row.object
                        .retain(|name, v| *name == key || *name == identifier || !is_same(name, v));
                    // Matched by another key: update the stored row by its identifier.
                    if let Some(id) = existing.get(self.entity.identifier_index()) {
                        row.object.insert(identifier.clone(), id.clone());
                    }
                    updates.push(row);
                }
                // A new row that names its identifier is created with it, or refused when the
                // identifier is not creatable (1308), as a PUT would.
                None if self.options.mode == ImportMode::Upsert
                    && row.object.get(&identifier).is_some_and(|v| !v.is_null()) =>
                {
                    puts.push(row);
                }
                None if self.options.mode == ImportMode::Upsert => creates.push(row),
                None => {
                    let path = format!("{}[{}]", self.entity.alias(), row.line);
                    self.reject(row.line, row.cells, &[RowError::NotFound { path }])?;
                }
            }
        }
        self.free(Spent::Matched(unchanged, stored));
        Ok(Sorted {
            creates,
            puts,
            updates,
        })
    }
}
