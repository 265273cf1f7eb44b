//! Reading entities: one query for the page, then one query per included relation per page.

use std::collections::HashMap;
use std::sync::Arc;

use dynex_query::{
    Condition, Dialect, Include, Keyset, ReadQuery, RowWriter, Select, Sort, StoredRow, Value,
    decode_fields, order_keys, select_ordered, select_values,
};
use dynex_schema::Entity;
use serde_json::{Map, Value as Json};

use crate::db::{AnyConnection, Conn, each_typed, load_count, load_json};
use crate::engine::values::json_to_value;
use crate::error::CoreError;

/// Parent key tuples per child query; keeps the bound parameters far below every backend's limit.
const KEYS_PER_QUERY: usize = 500;

/// A row as read: the wire object and the raw values of the extra key columns.
struct Loaded {
    object: Map<String, Json>,
    extras: Vec<Json>,
}

/// Columns the rows of `entity` must carry so that `include` can attach children to them.
fn parent_key_columns(entity: &Entity, include: &[Include]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for inc in include {
        if let Some(r) = entity.relation(&inc.relation) {
            for m in &r.relation_field_mappings {
                if !cols.contains(&m.parent_field_name) {
                    cols.push(m.parent_field_name.clone());
                }
            }
        }
    }
    cols
}

fn rows(
    conn: &mut AnyConnection,
    sql: &dynex_query::Sql,
    select_spec: &Select<'_>,
) -> Result<Vec<Loaded>, CoreError> {
    load_json(conn, sql)?
        .iter()
        .map(|text| {
            let (object, extras) = decode_fields(select_spec.entity, select_spec.fields, text)
                .map_err(CoreError::Corrupt)?;
            Ok(Loaded { object, extras })
        })
        .collect()
}

/// The statements of reads of one whole row by identifier, kept per entity: the hottest read
/// is rendered once, not per request (see [`read_by_id`]).
#[derive(Default)]
pub(crate) struct ByIdStatements(std::sync::Mutex<HashMap<usize, ByIdStatement>>);

/// The kept statement of one entity, for identifiers of one kind of value.
struct ByIdStatement {
    /// The entity it reads: a reloaded configuration makes new entities, and the statements of
    /// the old ones are dropped.
    entity: std::sync::Weak<Entity>,
    kind: std::mem::Discriminant<Value>,
    /// Quoted ([`dynex_query::Sql::quoted`]), with the identifier as its one bound value.
    sql: dynex_query::Sql,
    /// Writes the row's answer, with the fields' names escaped once.
    writer: Arc<RowWriter>,
}

/// Reads the whole row of `entity` whose identifier is `id`, as [`read`] does without filters,
/// fields or includes, written as JSON text ([`RowWriter`]); `None` when there is none.
pub(crate) fn read_by_id(
    conn: &mut Conn,
    dialect: Dialect,
    entity: &Arc<Entity>,
    id: Value,
    kept: &ByIdStatements,
) -> Result<Option<Vec<u8>>, CoreError> {
    let key = Arc::as_ptr(entity) as usize;
    let kind = std::mem::discriminant(&id);
    let (mut sql, writer) = {
        let mut statements = kept.0.lock().unwrap_or_else(|e| e.into_inner());
        let found = statements.get(&key).filter(|s| {
            s.kind == kind && s.entity.upgrade().is_some_and(|e| Arc::ptr_eq(&e, entity))
        });
        match found {
            Some(statement) => (statement.sql.clone(), statement.writer.clone()),
            None => {
                // Without a page, so without the subquery that cuts one: MariaDB makes a
                // temporary table of such a derived table at every execution, which took a
                // read by id from 104 to 237 µs (mariadb-slap, one connection).
                let select = Select {
                    entity,
                    fields: None,
                    conditions: &[Condition::Eq(entity.identifier_index(), id.clone())],
                    keys: None,
                    extra_columns: &[],
                    page: None,
                    lock: false,
                };
                let mut sql = if dialect == Dialect::Sqlite {
                    select_values(&select, &[], true)
                } else {
                    select_ordered(dialect, &select, &[])
                };
                sql.push_static(" LIMIT 1");
                let sql = sql.quoted(dialect);
                let writer = Arc::new(RowWriter::new(entity, None));
                statements.retain(|_, s| s.entity.strong_count() > 0);
                statements.insert(
                    key,
                    ByIdStatement {
                        entity: Arc::downgrade(entity),
                        kind,
                        sql: sql.clone(),
                        writer: writer.clone(),
                    },
                );
                (sql, writer)
            }
        }
    };
    if !sql.rebind([id]) {
        return Err(CoreError::Corrupt("a read by id binds one value".into()));
    }
    let mut out = Vec::new();
    let typed = each_typed(conn, &sql, &mut |row| {
        // A key matches one row; should it match more, the last is the answer, as before.
        out.clear();
        out.reserve(512);
        writer.write_typed(row, &mut out)
    })?;
    if typed {
        return Ok((!out.is_empty()).then_some(out));
    }
    let Some(text) = load_json(conn, &sql)?.pop() else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(text.len() * 2);
    writer.write(&text, &mut out).map_err(CoreError::Corrupt)?;
    Ok(Some(out))
}

/// One page of a read, as the API answers it.
///
/// The rows are wire objects ([`Dynex::read_collection`](crate::Dynex::read_collection)), or
/// the text of their JSON array (`Vec<u8>`,
/// [`Dynex::read_collection_text`](crate::Dynex::read_collection_text)).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadPage<Rows = Vec<Json>> {
    /// The rows.
    pub rows: Rows,
    /// Whether keyset paging was asked for (`page[size]`, `page[after]`): the answer then links
    /// the next page.
    pub cursor: bool,
    /// The `page[after]` cursor of the next page; `None` on the last page.
    pub next: Option<String>,
    /// The number of rows matching the filters, when `meta=count` asked for it.
    pub count: Option<u64>,
}

/// Reads one page of `entity` with its includes, as wire objects.
pub fn read(
    conn: &mut AnyConnection,
    dialect: Dialect,
    entity: &Arc<Entity>,
    query: &ReadQuery,
    extra_conditions: &[Condition],
) -> Result<Vec<Json>, CoreError> {
    Ok(read_page(conn, dialect, entity, query, extra_conditions)?.0)
}

/// Reads one page as [`read`] does; with keyset paging, also the position of the page's last
/// row when more rows follow it.
///
/// A keyset page reads one row more than it returns: that row tells whether there is a next
/// page, so the last page links nothing rather than an empty page.
pub fn read_page(
    conn: &mut AnyConnection,
    dialect: Dialect,
    entity: &Arc<Entity>,
    query: &ReadQuery,
    extra_conditions: &[Condition],
) -> Result<(Vec<Json>, Option<Keyset>), CoreError> {
    let plan = PagePlan::of(entity, query, extra_conditions);
    let select = plan.select(entity, query);
    let mut loaded = rows(conn, &plan.sql(dialect, &select), &select)?;
    let next = plan.cut(&mut loaded)?;
    attach(
        conn,
        dialect,
        entity,
        &plan.extra_columns,
        &mut loaded,
        &query.include,
    )?;
    Ok((
        loaded.into_iter().map(|l| Json::Object(l.object)).collect(),
        next,
    ))
}

/// [`read_page`] with the rows written as the text of one JSON array, byte for byte what
/// `serde_json` writes of [`read_page`]'s rows.
///
/// Without includes no row becomes a JSON value: each is written from the database's text
/// ([`RowWriter`]), which spares a page of 20 rows about half of what dynex
/// spends on it.
pub fn read_page_text(
    conn: &mut Conn,
    dialect: Dialect,
    entity: &Arc<Entity>,
    query: &ReadQuery,
    extra_conditions: &[Condition],
) -> Result<(Vec<u8>, Option<Keyset>), CoreError> {
    if !query.include.is_empty() {
        let (rows, next) = read_page(conn, dialect, entity, query, extra_conditions)?;
        let text = serde_json::to_vec(&rows).map_err(|e| CoreError::Corrupt(e.to_string()))?;
        return Ok((text, next));
    }
    let plan = PagePlan::of(entity, query, extra_conditions);
    let select = plan.select(entity, query);
    if dialect == Dialect::Sqlite {
        return page_typed(conn, &plan, &select);
    }
    let texts = load_json(conn, &plan.sql(dialect, &select))?;
    let writer = RowWriter::new(entity, select.fields);
    // Room for the fields' names too, which the rows' arrays do not hold.
    let room = texts.iter().map(|t| t.len() * 2).sum::<usize>();
    let (out, last) = plan.write_rows(&texts, room, |text, out| writer.write(text, out))?;
    let next = match last {
        Some((_, raws)) => {
            let extras = raws
                .iter()
                .map(|raw| serde_json::from_str(raw))
                .collect::<Result<Vec<Json>, _>>()
                .map_err(|e| CoreError::Corrupt(e.to_string()))?;
            Some(plan.keyset(&extras)?)
        }
        None => None,
    };
    Ok((out, next))
}

/// [`read_page_text`] on SQLite: the rows read as the values SQLite stores
/// ([`dynex_query::select_values`]), written without a JSON array per row.
fn page_typed(
    conn: &mut Conn,
    plan: &PagePlan,
    select: &Select<'_>,
) -> Result<(Vec<u8>, Option<Keyset>), CoreError> {
    let writer = RowWriter::new(select.entity, select.fields);
    if let Some(sql) = dynex_query::select_values_of_keys(select, &plan.order, plan.few) {
        let out = page_of_keys(&writer, select.page, |each| each_typed(conn, &sql, each))?;
        return Ok((out, None));
    }
    let sql = dynex_query::select_values(select, &plan.order, plan.few);
    let kept = plan.kept();
    // The values after the fields', as the JSON array's extras are.
    let fields = |row: &dyn StoredRow| {
        row.len()
            .saturating_sub(plan.extra_columns.len() + plan.order.len())
    };
    let mut out = Vec::with_capacity(4096);
    out.push(b'[');
    let mut read = 0usize;
    let mut last = None;
    let typed = each_typed(conn, &sql, &mut |row| {
        read += 1;
        if read > kept {
            // A keyset page's extra row: it only tells that a next page exists.
            return Ok(());
        }
        if read > 1 {
            out.push(b',');
        }
        writer.write_typed(row, &mut out)?;
        if plan.cursor && read == kept {
            last = Some(dynex_query::json_from(row, fields(row))?);
        }
        Ok(())
    })?;
    if !typed {
        return Err(CoreError::Corrupt("a typed read needs SQLite".into()));
    }
    out.push(b']');
    let next = match last {
        Some(extras) if read > kept => Some(plan.keyset(&extras)?),
        _ => None,
    };
    Ok((out, next))
}

/// The page of rows found by a list of keys ([`dynex_query::select_values_of_keys`]), which
/// `read` reads: a few, sorted by their identifier, each kept once and cut to `page` here.
///
/// Each row is written as it comes, into one buffer, and the page is put together from the
/// pieces of the rows it keeps, in order: a copy of the bytes, where keeping the rows' values
/// to write them later allocated twice per row.
fn page_of_keys(
    writer: &RowWriter,
    page: Option<dynex_query::Page>,
    read: impl FnOnce(&mut dyn FnMut(&dyn StoredRow) -> Result<(), String>) -> Result<bool, CoreError>,
) -> Result<Vec<u8>, CoreError> {
    let mut written = Vec::with_capacity(4096);
    // Each row's identifier and where its object lies in `written`.
    let mut rows = Vec::new();
    let typed = read(&mut |row| {
        let id = row.last_int().ok_or("a row without its identifier")?;
        let start = written.len();
        writer.write_typed(row, &mut written)?;
        rows.push((id, start..written.len()));
        Ok(())
    })?;
    if !typed {
        return Err(CoreError::Corrupt("a typed read needs SQLite".into()));
    }
    rows.sort_unstable_by_key(|(id, _)| *id);
    rows.dedup_by_key(|(id, _)| *id);
    let (offset, limit) = page.map_or((0, u64::MAX), |p| (p.offset, p.limit));
    let at = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(written.len() + rows.len() + 2);
    out.push(b'[');
    for (i, (_, range)) in rows
        .into_iter()
        .skip(at(offset))
        .take(at(limit))
        .enumerate()
    {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&written[range]);
    }
    out.push(b']');
    Ok(out)
}

/// The statements of pages found by a list of keys alone ([`page_by_keys`]), kept per entity,
/// fields, key field and number of keys.
#[derive(Default)]
pub(crate) struct KeysStatements(std::sync::Mutex<HashMap<KeysShape, KeysStatement>>);

/// What the text of a [`KeysStatement`] depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct KeysShape {
    /// The entity's address, valid while `KeysStatement::entity` holds it.
    entity: usize,
    fields: Option<Vec<usize>>,
    /// The field the keys are values of.
    field: usize,
    keys: usize,
}

/// The kept statement of one [`KeysShape`].
struct KeysStatement {
    /// The entity it reads: a reloaded configuration makes new entities, and the statements of
    /// the old ones are dropped.
    entity: std::sync::Weak<Entity>,
    /// The statement with the keys of the read that rendered it (for a connection without a
    /// reader), and its text.
    sql: Arc<(dynex_query::Sql, String)>,
    /// Writes the rows, with the fields' names escaped once.
    writer: Arc<RowWriter>,
}

/// The most shapes kept: the fields a request selects come from the request, so their number
/// is not bounded by the configuration.
const KEPT_KEYS_SHAPES: usize = 256;

/// Reads the page of a SQLite read filtered by one list of keys and nothing else (no sort, no
/// cursor, includes or count), as [`read_page_text`] does, with the statement rendered once per
/// [`KeysShape`]; `None` when the read is not one of those.
///
/// Rendering the statement, its text and the rows' writer, and copying the conditions into a
/// plan, cost a page of 20 found by 20 keys 29,000 of its 293,400 instructions.
pub(crate) fn page_by_keys(
    conn: &mut Conn,
    entity: &Arc<Entity>,
    query: &ReadQuery,
    kept: &KeysStatements,
) -> Result<Option<Vec<u8>>, CoreError> {
    let [Condition::In(field, values)] = query.conditions.as_slice() else {
        return Ok(None);
    };
    let alone = query.sort.is_empty()
        && query.cursor.is_none()
        && query.after.is_none()
        && query.include.is_empty()
        && !query.count;
    // Keys that are `NULL` or decimals are read otherwise (`select_values_of_keys`).
    let plain = values
        .iter()
        .all(|v| !matches!(v, Value::Null | Value::Decimal(_)));
    if !alone || !plain {
        return Ok(None);
    }
    let shape = KeysShape {
        entity: Arc::as_ptr(entity) as usize,
        fields: query.fields.clone(),
        field: *field,
        keys: values.len(),
    };
    let (sql, writer) = {
        let mut statements = kept.0.lock().unwrap_or_else(|e| e.into_inner());
        let found = statements
            .get(&shape)
            .filter(|s| s.entity.upgrade().is_some_and(|e| Arc::ptr_eq(&e, entity)));
        match found {
            Some(statement) => (statement.sql.clone(), statement.writer.clone()),
            None => {
                let select = Select {
                    entity,
                    fields: query.fields.as_deref(),
                    conditions: &query.conditions,
                    keys: None,
                    extra_columns: &[],
                    page: Some(query.page),
                    lock: false,
                };
                let Some(sql) = dynex_query::select_values_of_keys(&select, &[], true) else {
                    return Ok(None);
                };
                let sql = sql.quoted(Dialect::Sqlite);
                let text = crate::db::sqlite_text(&sql);
                let sql = Arc::new((sql, text));
                let writer = Arc::new(RowWriter::new(entity, query.fields.as_deref()));
                statements.retain(|_, s| s.entity.strong_count() > 0);
                if statements.len() >= KEPT_KEYS_SHAPES {
                    statements.clear();
                }
                statements.insert(
                    shape,
                    KeysStatement {
                        entity: Arc::downgrade(entity),
                        sql: sql.clone(),
                        writer: writer.clone(),
                    },
                );
                (sql, writer)
            }
        }
    };
    let (statement, text) = &*sql;
    let out = page_of_keys(&writer, Some(query.page), |each| {
        crate::db::each_typed_kept(conn, text, statement, values, each)
    })?;
    Ok(Some(out))
}

/// Whether `conditions` (all of which hold) keep at most
/// [`SHORT_READ_KEYS`](super::SHORT_READ_KEYS) rows: one of them lists that many values or
/// fewer of the identifier or of a column unique on its own.
pub(crate) fn by_few_keys(entity: &Entity, conditions: &[Condition]) -> bool {
    conditions.iter().any(|c| {
        let (index, n) = match c {
            Condition::Eq(i, _) => (*i, 1),
            Condition::In(i, values) => (*i, values.len()),
            _ => return false,
        };
        let unique = index == entity.identifier_index()
            || entity.table_info().is_some_and(|t| {
                let name = &entity.fields()[index].field_name;
                t.primary_key == [name.as_str()]
                    || t.unique_keys
                        .iter()
                        .any(|k| k == std::slice::from_ref(name))
            });
        unique && n <= super::SHORT_READ_KEYS
    })
}

/// A page's last row and what writing it returned, when a next page follows it.
type LastRow<'r, R, T> = Option<(&'r R, T)>;

/// What a page's read asks of the database: its conditions, order, page and extra columns.
struct PagePlan {
    extra_columns: Vec<String>,
    conditions: Vec<Condition>,
    order: Vec<Sort>,
    page: dynex_query::Page,
    cursor: bool,
    limit: u64,
    /// Whether the conditions match few rows ([`by_few_keys`]), so that the page needs no
    /// subquery ([`dynex_query::select_ordered_few`]).
    few: bool,
}

impl PagePlan {
    fn of(entity: &Entity, query: &ReadQuery, extra_conditions: &[Condition]) -> Self {
        let mut conditions = query.conditions.clone();
        if let Some(after) = &query.after {
            conditions.push(Condition::After(after.clone()));
        }
        conditions.extend_from_slice(extra_conditions);
        // Identifier order needs no key values on the rows; a sort or a keyset page carries
        // them (after the extra columns, which `attach` reads by position) for the position of
        // the last row.
        let order = if query.sort.is_empty() && query.cursor.is_none() {
            Vec::new()
        } else {
            order_keys(entity, &query.sort)
        };
        let mut page = query.page;
        if query.cursor.is_some() {
            page.offset = 0;
            page.limit = page.limit.saturating_add(1);
        }
        PagePlan {
            extra_columns: parent_key_columns(entity, &query.include),
            conditions,
            order,
            page,
            cursor: query.cursor.is_some(),
            limit: query.page.limit,
            few: by_few_keys(entity, &query.conditions),
        }
    }

    /// The statement of the page's read.
    fn sql(&self, dialect: Dialect, select: &Select<'_>) -> dynex_query::Sql {
        if self.few {
            dynex_query::select_ordered_few(dialect, select, &self.order)
        } else {
            select_ordered(dialect, select, &self.order)
        }
    }

    fn select<'a>(&'a self, entity: &'a Entity, query: &'a ReadQuery) -> Select<'a> {
        Select {
            entity,
            fields: query.fields.as_deref(),
            conditions: &self.conditions,
            keys: None,
            extra_columns: &self.extra_columns,
            page: Some(self.page),
            lock: false,
        }
    }

    /// Writes the page's `rows` as one JSON array with `write` (`room`: the bytes they are
    /// expected to take). When a keyset page has more rows after it (the row read past the page
    /// only tells that a next page follows), also returns its last row and what writing it
    /// returned: the next page starts after that row.
    fn write_rows<'r, R, T>(
        &self,
        rows: &'r [R],
        room: usize,
        mut write: impl FnMut(&'r R, &mut Vec<u8>) -> Result<T, String>,
    ) -> Result<(Vec<u8>, LastRow<'r, R, T>), CoreError> {
        let kept = rows.len().min(self.kept());
        let mut out = Vec::with_capacity(room + 2);
        out.push(b'[');
        let mut last = None;
        for (i, row) in rows[..kept].iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            last = Some((row, write(row, &mut out).map_err(CoreError::Corrupt)?));
        }
        out.push(b']');
        Ok((out, last.filter(|_| rows.len() > kept)))
    }

    /// How many of the rows read the page keeps: a keyset page reads one more than its limit,
    /// to tell whether a next page exists; other reads keep every row.
    fn kept(&self) -> usize {
        if self.cursor {
            usize::try_from(self.limit).unwrap_or(usize::MAX)
        } else {
            usize::MAX
        }
    }

    /// Drops a keyset page's extra row, and returns the position of the last row kept when
    /// there was one: the next page starts after it.
    fn cut(&self, rows: &mut Vec<Loaded>) -> Result<Option<Keyset>, CoreError> {
        if !self.cursor || rows.len() as u64 <= self.limit {
            return Ok(None);
        }
        rows.truncate(usize::try_from(self.limit).unwrap_or(usize::MAX));
        rows.last()
            .map(|last| self.keyset(&last.extras))
            .transpose()
    }

    /// The position of a row from its extra columns.
    fn keyset(&self, extras: &[Json]) -> Result<Keyset, CoreError> {
        Keyset::from_row(&self.order, extras).map_err(|e| CoreError::Corrupt(e.to_string()))
    }
}

/// Counts the rows of `entity` matching `conditions`.
pub fn count(
    conn: &mut AnyConnection,
    dialect: Dialect,
    entity: &Entity,
    conditions: &[Condition],
) -> Result<u64, CoreError> {
    let sql = dynex_query::count(dialect, entity, conditions);
    Ok(load_count(conn, &sql)?)
}

/// Loads the children of every included relation and puts them on their parents (`[]` when a
/// parent has none), recursively.
fn attach(
    conn: &mut AnyConnection,
    dialect: Dialect,
    entity: &Entity,
    parent_columns: &[String],
    parents: &mut [Loaded],
    include: &[Include],
) -> Result<(), CoreError> {
    for inc in include {
        let Some(relation) = entity.relation(&inc.relation) else {
            continue;
        };
        let positions: Vec<usize> = relation
            .relation_field_mappings
            .iter()
            .map(|m| {
                parent_columns
                    .iter()
                    .position(|c| *c == m.parent_field_name)
                    .unwrap_or(usize::MAX)
            })
            .collect();
        let key_of = |extras: &[Json], positions: &[usize]| -> Option<Vec<Json>> {
            positions
                .iter()
                .map(|p| extras.get(*p).filter(|v| !v.is_null()).cloned())
                .collect()
        };
        let mut tuples: Vec<Vec<Json>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for p in parents.iter() {
            if let Some(k) = key_of(&p.extras, &positions)
                && seen.insert(serde_json::to_string(&k).unwrap_or_default())
            {
                tuples.push(k);
            }
        }
        let child = &inc.child;
        let child_keys: Vec<String> = relation
            .relation_field_mappings
            .iter()
            .map(|m| m.child_field_name.clone())
            .collect();
        let mut child_columns = child_keys.clone();
        for c in parent_key_columns(child, &inc.children) {
            if !child_columns.contains(&c) {
                child_columns.push(c);
            }
        }
        let mut children: Vec<Loaded> = Vec::new();
        for chunk in tuples.chunks(KEYS_PER_QUERY) {
            let values: Vec<Vec<Value>> = chunk
                .iter()
                .map(|t| t.iter().map(json_to_value).collect())
                .collect();
            let select = Select {
                entity: child,
                fields: inc.fields.as_deref(),
                conditions: &[],
                keys: Some((&child_keys, &values)),
                extra_columns: &child_columns,
                page: None,
                lock: false,
            };
            children.extend(rows(conn, &select_ordered(dialect, &select, &[]), &select)?);
        }
        attach(
            conn,
            dialect,
            child,
            &child_columns,
            &mut children,
            &inc.children,
        )?;
        let own: Vec<usize> = (0..child_keys.len()).collect();
        let mut grouped: HashMap<String, Vec<Json>> = HashMap::new();
        for c in children {
            if let Some(k) = key_of(&c.extras, &own) {
                grouped
                    .entry(serde_json::to_string(&k).unwrap_or_default())
                    .or_default()
                    .push(Json::Object(c.object));
            }
        }
        for p in parents.iter_mut() {
            let list = key_of(&p.extras, &positions)
                .and_then(|k| {
                    let key = serde_json::to_string(&k).unwrap_or_default();
                    // Several parents may share a key (the same child under two parents).
                    grouped.get(&key).cloned()
                })
                .unwrap_or_default();
            p.object.insert(inc.relation.clone(), Json::Array(list));
        }
    }
    Ok(())
}
