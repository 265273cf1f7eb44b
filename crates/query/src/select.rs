//! Rendering reads to SQL per dialect: the rows of one entity in a total order, whole or a page
//! at a time, as a JSON array per row or as text columns for an export, and their count.
//!
//! Each row comes back as one JSON array text column built by the database (`json_array`,
//! `json_build_array`, `JSON_ARRAY`), so one row type serves every entity on every backend.

use dynex_schema::{ColumnKind, Entity, Field, FieldType, Value};

use crate::ast::{Condition, Page};
use crate::cast::{column_expr, key_expr, sort_expr, text_column};
use crate::condition::{condition, key_condition};
use crate::sort::{Sort, nullable};
use crate::sql::{Dialect, Sql};

/// What to read from one entity.
#[derive(Debug, Clone, Copy)]
pub struct Select<'a> {
    /// The entity to read.
    pub entity: &'a Entity,
    /// The fields to read (indexes, in the entity's order); `None` reads every field.
    pub fields: Option<&'a [usize]>,
    /// Conditions on configured fields, ANDed.
    pub conditions: &'a [Condition],
    /// Only rows whose columns (first) hold one of the value tuples (second): loading children.
    pub keys: Option<(&'a [String], &'a [Vec<Value>])>,
    /// Raw columns appended after the fields, used to attach children to parents.
    pub extra_columns: &'a [String],
    /// The page; `None` reads every matching row.
    pub page: Option<Page>,
    /// Lock the rows for update (`FOR UPDATE`; SQLite's write transactions lock the database).
    pub lock: bool,
}

/// Renders a read: fields (and extra columns) as one JSON array per row, ordered by identifier.
///
/// A page is cut in a subquery before any JSON is built, so rows skipped by `OFFSET` cost no
/// JSON work. The limit is written as a literal (it is a validated number, and SQLite re-plans a
/// statement whenever a bound `LIMIT` changes, which would defeat statement reuse); the offset is
/// left out when it is zero and bound otherwise.
pub fn select(dialect: Dialect, s: &Select<'_>) -> Sql {
    select_ordered(dialect, s, &[])
}

/// Renders a read as [`select`] does, in the order `order` (from [`crate::order_keys`]), each
/// row carrying its values of the order's keys after its extra columns.
///
/// [`crate::Keyset::from_row`] turns those values into the position of the row, and
/// [`Condition::After`] with it reads the next page. `NULL` sorts first in ascending order and
/// last in descending order on every backend. An empty `order` is exactly [`select`].
pub fn select_ordered(dialect: Dialect, s: &Select<'_>, order: &[Sort]) -> Sql {
    select_json(dialect, s, order, true)
}

/// [`select_ordered`] of a read whose conditions match few rows (a handful of keys of a unique
/// column): the page is cut by the statement itself, not in a subquery.
///
/// The subquery spares JSON work for rows that `OFFSET` skips or a sort discards, which few rows
/// do not need; MariaDB makes a temporary table of it at every execution, and SQLite sorts the
/// page twice.
pub fn select_ordered_few(dialect: Dialect, s: &Select<'_>, order: &[Sort]) -> Sql {
    select_json(dialect, s, order, false)
}

/// [`select_ordered`], with the page cut in a subquery or not.
fn select_json(dialect: Dialect, s: &Select<'_>, order: &[Sort], subquery: bool) -> Sql {
    let mut sql = Sql::default();
    sql.push("SELECT ");
    row_json_with_keys(
        &mut sql,
        dialect,
        s.entity,
        s.fields,
        s.extra_columns,
        order,
    );
    sql.push(" AS row_json");
    from_where_order(&mut sql, dialect, s, order, subquery);
    sql
}

/// Renders a read of some fields as text columns, for writing them out as they are (an export).
///
/// The columns are `fields` (indexes into the entity's fields) as `dynex_c0`, `dynex_c1`…, then,
/// for a page (`s.page`), the values of `order`'s keys as one text column `dynex_keys`: the next
/// page starts after the last row's keys. A read without a page (streamed whole) has no key
/// column.
///
/// Text columns cost the database far less than building a JSON document per row; the order's
/// keys stay JSON, exact as [`select_ordered`] writes them, for [`crate::Keyset::from_row`].
/// [`cell_text`] turns each column into the text of the field's wire value.
///
/// [`cell_text`]: crate::cell_text
pub fn select_cells(dialect: Dialect, s: &Select<'_>, fields: &[usize], order: &[Sort]) -> Sql {
    select_columns(dialect, s, fields, &[], order)
}

/// [`select_cells`] with some columns read as a type of their own instead of as text.
///
/// A column of `fields` with a type in `casts` (a SQL type name from dynex's own code, never
/// from input) is read as `CAST(col AS type)`, for a reader that decodes the database's binary
/// values (PostgreSQL's binary `COPY`): a column cast to its own type costs the server nothing,
/// where a conversion to text costs it more than the rest of the read. Missing entries are text.
pub fn select_columns(
    dialect: Dialect,
    s: &Select<'_>,
    fields: &[usize],
    casts: &[Option<&str>],
    order: &[Sort],
) -> Sql {
    let mut sql = Sql::default();
    sql.push("SELECT ");
    for (i, &index) in fields.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        let name = &s.entity.fields()[index].field_name;
        if let Some(ty) = casts.get(i).copied().flatten() {
            sql.push("CAST(")
                .ident(name)
                .push(" AS ")
                .push(ty)
                .push(")");
        } else {
            text_column(&mut sql, dialect, s.entity, name);
        }
        sql.push(&format!(" AS dynex_c{i}"));
    }
    if s.page.is_some() {
        sql.push(", ");
        keys_column(&mut sql, dialect, s.entity, order);
        sql.push(" AS dynex_keys");
    }
    from_where_order(&mut sql, dialect, s, order, true);
    sql
}

/// The key values of `order` as one JSON text: an array, or for an integer identifier alone
/// the identifier's own text, which is JSON already and spares the database an array per row.
fn keys_column(sql: &mut Sql, dialect: Dialect, entity: &Entity, order: &[Sort]) {
    let id = entity.identifier();
    if let [key] = order
        && key.field == entity.identifier_index()
        && id.ty == FieldType::Integer
        && entity
            .column(&id.field_name)
            .is_some_and(|c| c.kind == ColumnKind::Integer)
    {
        text_column(sql, dialect, entity, &id.field_name);
        return;
    }
    sql.push(match dialect {
        Dialect::Sqlite => "json_array(",
        Dialect::Postgres => "(json_build_array(",
        Dialect::Mysql => "CAST(JSON_ARRAY(",
    });
    for (i, key) in order.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        key_expr(sql, dialect, entity, key.field);
    }
    sql.push(match dialect {
        Dialect::Sqlite => ")",
        Dialect::Postgres => "))::text",
        Dialect::Mysql => ") AS CHAR)",
    });
}

/// The `FROM` clause of a read with its conditions, order and page; the page cut in a
/// subquery when `subquery`.
fn from_where_order(
    sql: &mut Sql,
    dialect: Dialect,
    s: &Select<'_>,
    order: &[Sort],
    subquery: bool,
) {
    sql.push(" FROM ");
    if s.page.is_some() && subquery {
        sql.push("(SELECT * FROM ").ident(s.entity.table());
    } else {
        sql.ident(s.entity.table());
    }
    let mut first = true;
    let mut and = |sql: &mut Sql| {
        sql.push(if first { " WHERE " } else { " AND " });
        first = false;
    };
    for c in s.conditions {
        and(sql);
        condition(sql, dialect, s.entity, c);
    }
    if let Some((columns, tuples)) = s.keys {
        and(sql);
        key_condition(sql, dialect, columns, tuples);
    }
    sql.push(" ORDER BY ");
    order_by(sql, dialect, s.entity, order);
    if let Some(page) = s.page {
        sql.push(&format!(" LIMIT {}", clamp(page.limit)));
        if page.offset > 0 {
            sql.push(" OFFSET ").bind(Value::Int(clamp(page.offset)));
        }
        if subquery {
            sql.push(") AS dynex_page ORDER BY ");
            order_by(sql, dialect, s.entity, order);
        }
    }
    if s.lock && dialect != Dialect::Sqlite {
        sql.push(" FOR UPDATE");
    }
    // A cached MariaDB statement whose locking read lost a deadlock is left unusable: executing
    // it again waits forever. Locking reads are therefore prepared afresh there.
    sql.uncached = s.lock && dialect == Dialect::Mysql;
}

/// The `ORDER BY` list of `order`; the identifier alone when it is empty.
fn order_by(sql: &mut Sql, dialect: Dialect, entity: &Entity, order: &[Sort]) {
    if order.is_empty() {
        sql.ident(&entity.identifier().field_name);
        return;
    }
    for (i, key) in order.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sort_expr(sql, dialect, entity, key.field);
        if key.descending {
            sql.push(" DESC");
        }
        // SQLite and MariaDB put NULL first in ascending order and last in descending order;
        // PostgreSQL does the opposite unless told. A NOT NULL column needs no clause, which
        // keeps an index on it usable for the order.
        if dialect == Dialect::Postgres && nullable(entity, key.field) {
            sql.push(if key.descending {
                " NULLS LAST"
            } else {
                " NULLS FIRST"
            });
        }
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Maximum values per JSON-building function call, under each backend's argument limit
/// (SQLite 127 arguments, PostgreSQL 100).
const CHUNK: usize = 60;

/// The expression that builds one row's JSON array: the entity's fields, then `extra_columns`.
pub(crate) fn row_json(sql: &mut Sql, dialect: Dialect, entity: &Entity, extra_columns: &[String]) {
    row_json_with_keys(sql, dialect, entity, None, extra_columns, &[]);
}

/// One element of a row's JSON array.
#[derive(Debug, Clone, Copy)]
enum Column<'a> {
    /// A configured field's column, as the wire needs it.
    Field(FieldType, &'a str),
    /// A raw column (a relation key).
    Raw(&'a str),
    /// The value of a sort key (a field index), as [`key_expr`] keeps it.
    Key(usize),
}

impl Column<'_> {
    /// Renders the column: a key as the JSON array keeps it ([`key_expr`]) when `in_json`, the
    /// bare column otherwise.
    fn push(self, sql: &mut Sql, dialect: Dialect, entity: &Entity, in_json: bool) {
        match self {
            Column::Field(ty, col) => column_expr(sql, dialect, Some(ty), col),
            Column::Raw(col) => column_expr(sql, dialect, None, col),
            Column::Key(index) if in_json => key_expr(sql, dialect, entity, index),
            Column::Key(index) => sort_expr(sql, dialect, entity, index),
        }
    }
}

/// The elements of a row as [`row_json_with_keys`] reads them: `fields` (all when `None`),
/// `extra_columns`, then the keys of `order`.
fn row_columns<'e>(
    entity: &'e Entity,
    fields: Option<&[usize]>,
    extra_columns: &'e [String],
    order: &[Sort],
) -> Vec<Column<'e>> {
    let all = entity.fields();
    let chosen: Vec<&Field> = match fields {
        Some(indexes) => indexes.iter().filter_map(|&i| all.get(i)).collect(),
        None => all.iter().collect(),
    };
    let mut columns: Vec<Column<'_>> = chosen
        .into_iter()
        .map(|f| Column::Field(f.ty, f.field_name.as_str()))
        .collect();
    columns.extend(extra_columns.iter().map(|c| Column::Raw(c.as_str())));
    columns.extend(order.iter().map(|k| Column::Key(k.field)));
    columns
}

/// Renders a SQLite read with the elements of each row's JSON array as columns of their own.
///
/// It reads what [`select_ordered`] (or, when `few`, [`select_ordered_few`]) reads, for
/// [`RowWriter::write_typed`](crate::RowWriter::write_typed), which writes the answer from the
/// values as SQLite stores them.
///
/// The fields are the same expressions as in the array. The keys of `order` are the bare
/// columns: the array carries a floating-point key as `printf('%!.17g')`, which is the text
/// SQLite gives a floating-point column anyway ([`TypedRow::push_real`](crate::TypedRow::push_real)).
pub fn select_values(s: &Select<'_>, order: &[Sort], few: bool) -> Sql {
    let dialect = Dialect::Sqlite;
    let mut sql = Sql::default();
    sql.push("SELECT ");
    value_columns(&mut sql, s, order);
    from_where_order(&mut sql, dialect, s, order, !few);
    sql
}

/// The columns of [`select_values`].
fn value_columns(sql: &mut Sql, s: &Select<'_>, order: &[Sort]) {
    let columns = row_columns(s.entity, s.fields, s.extra_columns, order);
    if columns.is_empty() {
        // A row of no fields is still a row: `{}`.
        sql.push("NULL");
    }
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        c.push(sql, Dialect::Sqlite, s.entity, false);
    }
}

/// Renders a SQLite read of few rows found by a list of keys as the join of the list with the
/// table, left for the reader to order and cut; `None` when the read is not such a read.
///
/// The read is one of [`select_values`] (`few`) in identifier order, from a table whose
/// identifier is its `INTEGER PRIMARY KEY` (SQLite's row id), with one `IN` list of three
/// values or more among its conditions, none `NULL` (which `IN` matches by `IS NULL`) or a
/// decimal (bound with a cast, whose affinity the comparison would take on), and no column
/// named `dynex_key`. It reads
/// `SELECT … , t.id FROM (SELECT column1 AS dynex_key FROM (VALUES (?), …)) AS dynex_keys
/// CROSS JOIN t WHERE t.col = dynex_keys.dynex_key AND …`: the list is the outer loop (SQLite
/// does not reorder a `CROSS JOIN`), each value is looked up in the column's index, and each
/// row comes with its identifier after the columns of [`select_values`].
///
/// The rows come in the list's order, a row once per value that matches it (a repeated key,
/// `'A'` and `'a'` on a `NOCASE` column); the reader sorts them by the identifier, keeps each
/// once and cuts the page `s.page`, which the statement leaves out. SQLite would otherwise
/// build a temporary b-tree for the list or the ids at every execution (its own pager, a page
/// zeroed and an insert per value), or sort whole rows: the same statements under Python's
/// `sqlite3` cost 44,000 instructions more for a page of 20 found by 20 keys.
pub fn select_values_of_keys(s: &Select<'_>, order: &[Sort], few: bool) -> Option<Sql> {
    if !few || !order.is_empty() || s.keys.is_some() || !s.extra_columns.is_empty() || s.lock {
        return None;
    }
    let entity = s.entity;
    let id = &entity.identifier().field_name;
    let table = entity.table_info()?;
    let row_id = table.primary_key == [id.as_str()]
        && table
            .column(id)
            .is_some_and(|c| c.sql_type.trim().eq_ignore_ascii_case("integer"));
    // The name of the list's column, which would make the table's own ambiguous.
    let clash = table
        .columns
        .iter()
        .any(|c| c.name.eq_ignore_ascii_case("dynex_key"));
    let mut lists = s
        .conditions
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c, Condition::In(..)));
    let (at, Condition::In(index, values)) = lists.next()? else {
        return None;
    };
    let plain = values.len() >= 3
        && values
            .iter()
            .all(|v| !matches!(v, Value::Null | Value::Decimal(_)));
    if !row_id || clash || !plain || lists.next().is_some() {
        return None;
    }
    let mut sql = Sql::default();
    sql.push("SELECT ");
    value_columns(&mut sql, s, order);
    sql.push(", ").ident(entity.table()).push(".").ident(id);
    sql.push(" FROM (SELECT column1 AS dynex_key FROM (VALUES (");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push_static("), (");
        }
        crate::cast::field_rhs(&mut sql, Dialect::Sqlite, v);
    }
    sql.push_static("))) AS dynex_keys CROSS JOIN ");
    sql.ident(entity.table())
        .push(" WHERE ")
        .ident(entity.table())
        .push(".")
        .ident(&entity.fields()[*index].field_name)
        .push(" = dynex_keys.dynex_key");
    for (i, c) in s.conditions.iter().enumerate() {
        if i != at {
            sql.push(" AND ");
            condition(&mut sql, Dialect::Sqlite, entity, c);
        }
    }
    Some(sql)
}

/// [`row_json`] of `fields` (all when `None`), followed by the values of the keys of `order`.
fn row_json_with_keys(
    sql: &mut Sql,
    dialect: Dialect,
    entity: &Entity,
    fields: Option<&[usize]>,
    extra_columns: &[String],
    order: &[Sort],
) {
    let columns = row_columns(entity, fields, extra_columns, order);
    let chunks: Vec<_> = columns.chunks(CHUNK).collect();
    let list = |sql: &mut Sql, chunk: &[Column<'_>], sep: &str| {
        for (i, c) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(sep);
            }
            c.push(sql, dialect, entity, true);
        }
    };
    match dialect {
        Dialect::Sqlite => {
            // json_insert(json_array(first chunk), '$[#]', v, ...) appends the later chunks.
            for _ in 1..chunks.len() {
                sql.push("json_insert(");
            }
            sql.push("json_array(");
            list(sql, chunks[0], ", ");
            sql.push(")");
            for chunk in &chunks[1..] {
                sql.push(", '$[#]', ");
                list(sql, chunk, ", '$[#]', ");
                sql.push(")");
            }
        }
        Dialect::Postgres => {
            sql.push("(");
            for (i, chunk) in chunks.iter().enumerate() {
                if i > 0 {
                    sql.push(" || ");
                }
                sql.push("json_build_array(");
                list(sql, chunk, ", ");
                sql.push(if chunks.len() > 1 { ")::jsonb" } else { ")" });
            }
            sql.push(")::text");
        }
        Dialect::Mysql => {
            sql.push("CAST(JSON_ARRAY(");
            list(sql, &columns, ", ");
            sql.push(") AS CHAR)");
        }
    }
}

/// Renders `SELECT COUNT(*)` of the rows of `entity` matching `conditions`.
pub fn count(dialect: Dialect, entity: &Entity, conditions: &[Condition]) -> Sql {
    let mut sql = Sql::default();
    sql.push("SELECT COUNT(*) AS n FROM ").ident(entity.table());
    for (i, c) in conditions.iter().enumerate() {
        sql.push(if i == 0 { " WHERE " } else { " AND " });
        condition(&mut sql, dialect, entity, c);
    }
    sql
}

/// Renders a `COUNT(*)` of the rows of `entity` that stops counting past `cap`.
///
/// It reads at most `cap + 1` rows, so a huge table costs what a table of `cap` rows does. A
/// result of `cap + 1` means "more than `cap`".
pub fn count_capped(entity: &Entity, cap: u64) -> Sql {
    let mut sql = Sql::default();
    sql.push("SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM ")
        .ident(entity.table())
        .push(&format!(
            " LIMIT {}) AS dynex_capped",
            cap.saturating_add(1)
        ));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::Sort;
    use crate::testing::{after, entity, every_row, products};

    #[test]
    fn few_keys_of_a_row_id_table_are_joined_not_tested() {
        let columns: &[(&str, &str, bool)] = &[
            ("id", "INTEGER", false),
            ("sku", "varchar(255)", false),
            ("price", "decimal(12,2)", true),
            ("updated_at", "TEXT", true),
        ];
        let e = products(Some(columns));
        let text = |s: &str| Value::Text(s.into());
        let keys = Condition::In(1, vec![text("a"), text("b"), text("c")]);
        let conds = [Condition::IsNull(3, false), keys.clone()];
        let mut s = Select {
            entity: &e,
            fields: Some(&[1]),
            conditions: &conds,
            keys: None,
            extra_columns: &[],
            page: Some(Page {
                offset: 0,
                limit: 20,
            }),
            lock: false,
        };
        assert_eq!(
            select_values_of_keys(&s, &[], true).unwrap().debug_text(),
            "SELECT \"sku\", \"p\".\"id\" FROM (SELECT column1 AS dynex_key FROM \
             (VALUES (?), (?), (?))) AS dynex_keys CROSS JOIN \"p\" WHERE \"p\".\"sku\" = \
             dynex_keys.dynex_key AND (\"updated_at\" IS NOT NULL)"
        );
        // Otherwise the list is tested: two values, a NULL, a sort, many rows, no row id.
        let two = [Condition::In(1, vec![text("a"), text("b")])];
        let null = [Condition::In(1, vec![text("a"), text("b"), Value::Null])];
        for conds in [&two[..], &null[..]] {
            s.conditions = conds;
            assert!(select_values_of_keys(&s, &[], true).is_none());
        }
        s.conditions = std::slice::from_ref(&keys);
        assert!(select_values_of_keys(&s, &[Sort::desc(1)], true).is_none());
        assert!(select_values_of_keys(&s, &[], false).is_none());
        assert!(
            select_values(&s, &[], true)
                .debug_text()
                .contains("IN (VALUES")
        );
        let text_id = products(Some(&[("id", "TEXT", false), ("sku", "TEXT", false)]));
        s.entity = &text_id;
        assert!(select_values_of_keys(&s, &[], true).is_none());
        // A column named as the list's would be ambiguous.
        let clash = products(Some(&[
            ("id", "INTEGER", false),
            ("sku", "TEXT", false),
            ("Dynex_Key", "TEXT", true),
        ]));
        s.entity = &clash;
        assert!(select_values_of_keys(&s, &[], true).is_none());
    }

    #[test]
    fn capped_counts_read_one_row_past_the_cap() {
        let e = entity(3);
        assert_eq!(
            count_capped(&e, 100).debug_text(),
            "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM \"t\" LIMIT 101) AS dynex_capped"
        );
    }

    #[test]
    fn values_are_bound_and_identifiers_quoted() {
        let e = entity(3);
        let conds = [
            Condition::Eq(1, Value::Decimal("20.00".into())),
            Condition::In(0, vec![Value::Int(1), Value::Null]),
        ];
        let s = Select {
            entity: &e,
            fields: None,
            conditions: &conds,
            keys: None,
            extra_columns: &[],
            page: Some(Page {
                offset: 2,
                limit: 10,
            }),
            lock: false,
        };
        let sql = select(Dialect::Postgres, &s);
        assert_eq!(
            sql.debug_text(),
            "SELECT (json_build_array(\"id\", CAST(\"rate\" AS TEXT), \"active\"))::text AS row_json \
             FROM (SELECT * FROM \"t\" WHERE (\"rate\" = CAST(? AS NUMERIC)) AND (\"id\" IN (SELECT unnest(CAST(? AS BIGINT[]))) OR \"id\" IS NULL) \
             ORDER BY \"id\" LIMIT 10 OFFSET ?) AS dynex_page ORDER BY \"id\""
        );
        assert_eq!(sql.binds().nth(1), Some(&Value::Text("{\"1\"}".into())));
        assert_eq!(sql.binds().count(), 3);
        // Few rows: the page cut by the statement itself.
        let few = crate::select_ordered_few(Dialect::Postgres, &s, &[]);
        assert_eq!(
            few.debug_text(),
            "SELECT (json_build_array(\"id\", CAST(\"rate\" AS TEXT), \"active\"))::text AS row_json \
             FROM \"t\" WHERE (\"rate\" = CAST(? AS NUMERIC)) AND (\"id\" IN (SELECT unnest(CAST(? AS BIGINT[]))) OR \"id\" IS NULL) \
             ORDER BY \"id\" LIMIT 10 OFFSET ?"
        );
        assert_eq!(few.binds().count(), 3);
        assert!(
            select(Dialect::Sqlite, &s)
                .debug_text()
                .contains("(\"id\" IN (VALUES (?)) OR \"id\" IS NULL)")
        );
        let sql = select(Dialect::Mysql, &s);
        assert!(sql.debug_text().starts_with(
            "SELECT CAST(JSON_ARRAY(\"id\", CAST(\"rate\" AS CHAR), \"active\") AS CHAR)"
        ));
    }

    #[test]
    fn wide_entities_are_chunked() {
        let e = entity(130);
        let extra = ["fk".to_string()];
        let s = Select {
            extra_columns: &extra,
            ..every_row(&e)
        };
        let text = select(Dialect::Sqlite, &s).debug_text();
        assert_eq!(text.matches("json_insert(").count(), 2, "{text}");
        let text = select(Dialect::Postgres, &s).debug_text();
        assert_eq!(text.matches("json_build_array(").count(), 3, "{text}");
    }

    #[test]
    fn composite_keys_use_row_values() {
        let e = entity(3);
        let cols = ["a".to_string(), "b".to_string()];
        let tuples = [
            vec![Value::Int(1), Value::Int(2)],
            vec![Value::Int(3), Value::Int(4)],
        ];
        let s = Select {
            keys: Some((&cols, &tuples)),
            ..every_row(&e)
        };
        assert!(
            select(Dialect::Sqlite, &s)
                .debug_text()
                .contains("WHERE (\"a\", \"b\") IN ((?, ?), (?, ?)) ORDER BY")
        );
    }

    /// MariaDB sends character columns as text anyway: they are read bare, every other
    /// column through `CAST(… AS CHAR)` (binary strings, numbers, times).
    #[test]
    fn mariadb_reads_character_columns_bare() {
        let select_all = |columns: &[(&str, &str, bool)]| {
            let e = products(Some(columns));
            let select = every_row(&e);
            select_cells(Dialect::Mysql, &select, &[0, 1, 2, 3], &[]).debug_text()
        };
        let text = select_all(&[
            ("id", "int(11)", false),
            ("sku", "varchar(255)", true),
            ("price", "decimal(10,2)", true),
            ("updated_at", "longtext", true),
        ]);
        assert!(
            text.starts_with(
                r#"SELECT CAST("id" AS CHAR) AS dynex_c0, "sku" AS dynex_c1, CAST("price" AS CHAR) AS dynex_c2, "updated_at" AS dynex_c3 FROM"#
            ),
            "{text}"
        );
        for other in ["varbinary(16)", "enum('a','b')", "time", "datetime", "blob"] {
            let text = select_all(&[
                ("id", "int(11)", false),
                ("sku", other, true),
                ("price", "decimal(10,2)", true),
                ("updated_at", "char(19) character set latin1", true),
            ]);
            assert!(
                text.contains(r#"CAST("sku" AS CHAR) AS dynex_c1"#),
                "{other}: {text}"
            );
            assert!(text.contains(r#", "updated_at" AS dynex_c3"#), "{text}");
        }
    }

    #[test]
    fn null_keys_sort_first_ascending_and_last_descending() {
        let e = products(None);
        let keys = crate::order_keys(&e, &[Sort::desc(2), Sort::asc(1)]);
        // After a NULL price (the last prices in descending order) only rows with a NULL
        // price remain; after a NULL SKU, every SKU.
        assert_eq!(
            after(
                Dialect::Sqlite,
                &e,
                &keys,
                vec![Value::Null, Value::Null, Value::Int(7)]
            ),
            "((\"price\" IS NULL AND \"sku\" IS NOT NULL) OR (\"price\" IS NULL AND \"sku\" IS NULL \
             AND \"id\" > (SELECT ?)))"
        );
        let only_desc = [Sort::desc(2)];
        assert_eq!(
            after(Dialect::Mysql, &e, &only_desc, vec![Value::Null]),
            "(1 = 0)"
        );

        let order = |d| {
            let s = Select {
                page: Some(Page {
                    offset: 0,
                    limit: 100,
                }),
                ..every_row(&e)
            };
            let text = select_ordered(d, &s, &keys).debug_text();
            let (_, tail) = text.rsplit_once("ORDER BY ").unwrap();
            tail.to_string()
        };
        assert_eq!(
            order(Dialect::Postgres),
            "\"price\" DESC NULLS LAST, \"sku\" NULLS FIRST, \"id\""
        );
        assert_eq!(order(Dialect::Sqlite), "\"price\" DESC, \"sku\", \"id\"");
        assert_eq!(order(Dialect::Mysql), "\"price\" DESC, \"sku\", \"id\"");
    }

    #[test]
    fn rows_carry_their_key_values_exactly() {
        let e = products(None);
        let keys = crate::order_keys(&e, &[Sort::desc(2)]);
        let s = every_row(&e);
        let text = select_ordered(Dialect::Postgres, &s, &keys).debug_text();
        assert!(
            text.starts_with(
                "SELECT (json_build_array(\"id\", CAST(\"sku\" AS TEXT), CAST(\"price\" AS TEXT), \
                 CAST(\"updated_at\" AS TEXT), CAST(\"price\" AS TEXT), \"id\"))::text"
            ),
            "{text}"
        );
        let text = select_ordered(Dialect::Mysql, &s, &keys).debug_text();
        assert!(
            text.contains(", CAST(\"price\" AS CHAR), \"id\") AS CHAR)"),
            "{text}"
        );
        let text = select_ordered(Dialect::Sqlite, &s, &keys).debug_text();
        assert!(
            text.contains(
                "CASE typeof(\"price\") WHEN 'real' THEN json(printf('%!.17g', \"price\")) \
                 ELSE \"price\" END"
            ),
            "{text}"
        );
        // No order: the statement of plain reads, nothing appended.
        assert_eq!(
            select_ordered(Dialect::Sqlite, &s, &[]),
            select(Dialect::Sqlite, &s)
        );
    }
}
