//! Rendering writes: multi-row `INSERT`, set-based `UPDATE` from a list of rows, and `DELETE`,
//! per dialect, with every value bound.
//!
//! PostgreSQL types bound parameters strictly (text is not assignable to `numeric`,
//! `timestamp` or `jsonb` columns), so there each value is cast to its column's type, as
//! introspection found it. SQLite and MariaDB convert on assignment.

use dynex_schema::{Entity, Value};

use crate::ast::Condition;
use crate::cast::array_literal;
pub use crate::cast::write_cast;
use crate::condition::{condition, key_condition};
use crate::select::row_json;
use crate::sql::{Dialect, Sql};

/// A column written by a statement and the cast its values need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The physical column (from the validated configuration).
    pub column: String,
    /// The cast, from [`write_cast`].
    pub cast: Option<&'static str>,
}

impl Target {
    /// The target for `column` of `entity` in `dialect`.
    pub fn new(dialect: Dialect, entity: &Entity, column: &str) -> Target {
        Target {
            column: column.to_string(),
            cast: write_cast(dialect, entity, column),
        }
    }
}

fn value(sql: &mut Sql, target: &Target, v: Value) {
    match target.cast {
        Some(cast) => {
            sql.push_static("CAST(")
                .bind(v)
                .push_static(" AS ")
                .push_static(cast)
                .push_static(")");
        }
        None => {
            sql.bind(v);
        }
    }
}

/// Binds the values of one column as a PostgreSQL array literal, cast to the column's type.
///
/// The literal is one text parameter (the backends share one set of bind types, and arrays are
/// PostgreSQL's alone); every element is quoted, so only `"` and `\` need escaping.
fn array_param<'v>(sql: &mut Sql, target: &Target, values: impl Iterator<Item = &'v Value>) {
    sql.push("CAST(")
        .bind(Value::Text(array_literal(values)))
        .push(" AS ")
        .push(target.cast.unwrap_or("TEXT"))
        .push("[])");
}

/// How many of `n` rows of `columns` values each go into each `INSERT` or `UPDATE` statement.
///
/// PostgreSQL statements carry one array parameter per column ([`insert_rows`], [`update_rows`]),
/// so one text serves every row count; elsewhere the rows are split into [`batch_sizes`].
pub fn write_chunks(dialect: Dialect, n: usize, columns: usize) -> Vec<usize> {
    if dialect == Dialect::Postgres {
        const PER_STATEMENT: usize = 10_000;
        return (0..n)
            .step_by(PER_STATEMENT)
            .map(|start| PER_STATEMENT.min(n - start))
            .collect();
    }
    batch_sizes(n, rows_per_statement(dialect, columns))
}

/// A bound value in MariaDB's derived table of rows to update.
///
/// The driver sends text as a fixed-length string, so a derived table would hold it in a
/// `CHAR` column, which drops trailing spaces; a cast to `CHAR` without a length is variable.
fn derived_value(sql: &mut Sql, v: &Value) {
    match v {
        Value::Text(_) | Value::Json(_) => {
            sql.push("CAST(").bind(v.clone()).push(" AS CHAR)");
        }
        _ => {
            sql.bind(v.clone());
        }
    }
}

/// The values of one row, separated by commas; the caller writes the parentheses around them.
fn tuple(sql: &mut Sql, targets: &[Target], values: Vec<Value>) {
    for (i, (t, v)) in targets.iter().zip(values).enumerate() {
        if i > 0 {
            sql.push_static(", ");
        }
        value(sql, t, v);
    }
}

fn returning(sql: &mut Sql, dialect: Dialect, entity: &Entity, extra_columns: &[String]) {
    sql.push(" RETURNING ");
    row_json(sql, dialect, entity, extra_columns);
    sql.push(" AS row_json");
}

/// Whether `INSERT` returns the inserted rows on this backend.
///
/// MariaDB has `INSERT … RETURNING`, but not through prepared statements (no result metadata),
/// and MySQL has none; there the writer learns generated identifiers from `LAST_INSERT_ID()`.
pub fn insert_returns(dialect: Dialect) -> bool {
    dialect != Dialect::Mysql
}

/// `INSERT` of `rows` (values in the order of `targets`); where [`insert_returns`], returning
/// each row's JSON (fields, then `extra_columns`) in the order of `rows`.
///
/// With no targets at all, only one row is inserted (`DEFAULT VALUES` takes no list).
pub fn insert(
    dialect: Dialect,
    entity: &Entity,
    targets: &[Target],
    rows: Vec<Vec<Value>>,
    extra_columns: &[String],
) -> Sql {
    insert_rows(dialect, entity, targets, rows, extra_columns, true)
}

/// [`insert`] without `RETURNING` when `returns` is false, for writers that need no answer.
pub fn insert_rows(
    dialect: Dialect,
    entity: &Entity,
    targets: &[Target],
    rows: Vec<Vec<Value>>,
    extra_columns: &[String],
    returns: bool,
) -> Sql {
    let mut sql = Sql::with_capacity(rows.len() * 2 * targets.len() + 16);
    sql.push("INSERT INTO ").ident(entity.table());
    if targets.is_empty() {
        sql.push(if dialect == Dialect::Mysql {
            " () VALUES ()"
        } else {
            " DEFAULT VALUES"
        });
    } else {
        sql.push(" (");
        for (i, t) in targets.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.ident(&t.column);
        }
        if dialect == Dialect::Postgres {
            // One array parameter per column: the statement text does not depend on the
            // number of rows, and the server parses each column in one go instead of
            // binding and casting every value on its own.
            sql.push(") SELECT * FROM UNNEST(");
            for (i, t) in targets.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                array_param(&mut sql, t, rows.iter().map(|r| &r[i]));
            }
            sql.push(")");
        } else {
            sql.push(") VALUES (");
            for (i, row) in rows.into_iter().enumerate() {
                if i > 0 {
                    sql.push_static("), (");
                }
                tuple(&mut sql, targets, row);
            }
            sql.push_static(")");
        }
    }
    if insert_returns(dialect) && returns {
        returning(&mut sql, dialect, entity, extra_columns);
    }
    sql
}

/// Whether `UPDATE` can return rows on this backend (MariaDB cannot).
pub fn update_returns(dialect: Dialect) -> bool {
    dialect != Dialect::Mysql
}

/// One set-based `UPDATE`: each row is a key (matched against `key`) and values for `targets`.
///
/// The rows arrive as a derived table joined on the key, so any number of rows with different
/// values is one statement. Where [`update_returns`], the updated rows' JSON is returned (in no
/// particular order).
pub fn update(
    dialect: Dialect,
    entity: &Entity,
    key: &Target,
    targets: &[Target],
    rows: &[(Value, Vec<Value>)],
    extra_columns: &[String],
) -> Sql {
    update_rows(dialect, entity, key, targets, rows, extra_columns, true)
}

/// [`update`] without `RETURNING` when `returns` is false, for writers that need no answer.
pub fn update_rows(
    dialect: Dialect,
    entity: &Entity,
    key: &Target,
    targets: &[Target],
    rows: &[(Value, Vec<Value>)],
    extra_columns: &[String],
    returns: bool,
) -> Sql {
    let mut sql = Sql::default();
    let table = entity.table();
    let alias = |i: usize| format!("dynex_{i}");
    match dialect {
        Dialect::Mysql => {
            sql.push("UPDATE ").ident(table).push(" JOIN (");
            for (r, (k, values)) in rows.iter().enumerate() {
                sql.push(if r == 0 {
                    "SELECT "
                } else {
                    " UNION ALL SELECT "
                });
                derived_value(&mut sql, k);
                if r == 0 {
                    sql.push(" AS ").ident("dynex_k");
                }
                for (i, v) in values.iter().enumerate() {
                    sql.push(", ");
                    derived_value(&mut sql, v);
                    if r == 0 {
                        sql.push(" AS ").ident(&alias(i));
                    }
                }
            }
            sql.push(") AS dynex_v ON ")
                .ident(table)
                .push(".")
                .ident(&key.column)
                .push(" = dynex_v.")
                .ident("dynex_k")
                .push(" SET ");
            for (i, t) in targets.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.ident(table)
                    .push(".")
                    .ident(&t.column)
                    .push(" = dynex_v.")
                    .ident(&alias(i));
            }
        }
        Dialect::Postgres | Dialect::Sqlite => {
            sql.push("UPDATE ").ident(table).push(" SET ");
            for (i, t) in targets.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.ident(&t.column).push(" = dynex_v.").ident(&alias(i));
            }
            sql.push(" FROM (");
            if dialect == Dialect::Postgres {
                sql.push("SELECT * FROM UNNEST(");
                array_param(&mut sql, key, rows.iter().map(|(k, _)| k));
                for (i, t) in targets.iter().enumerate() {
                    sql.push(", ");
                    array_param(&mut sql, t, rows.iter().map(|(_, v)| &v[i]));
                }
                sql.push(")");
            }
            if dialect == Dialect::Sqlite {
                // SQLite names VALUES columns column1, column2…; rename them so that no name
                // can clash with the table's own columns.
                sql.push("SELECT column1 AS ").ident("dynex_k");
                for i in 0..targets.len() {
                    sql.push(&format!(", column{} AS ", i + 2)).ident(&alias(i));
                }
                sql.push(" FROM (");
            }
            if dialect == Dialect::Sqlite {
                sql.push("VALUES ");
                for (r, (k, values)) in rows.iter().enumerate() {
                    if r > 0 {
                        sql.push(", ");
                    }
                    sql.push("(");
                    value(&mut sql, key, k.clone());
                    for (t, v) in targets.iter().zip(values) {
                        sql.push(", ");
                        value(&mut sql, t, v.clone());
                    }
                    sql.push(")");
                }
            }
            if dialect == Dialect::Sqlite {
                sql.push(")) AS dynex_v");
            } else {
                sql.push(") AS dynex_v (").ident("dynex_k");
                for i in 0..targets.len() {
                    sql.push(", ").ident(&alias(i));
                }
                sql.push(")");
            }
            sql.push(" WHERE ")
                .ident(table)
                .push(".")
                .ident(&key.column)
                .push(" = dynex_v.")
                .ident("dynex_k");
            if returns {
                returning(&mut sql, dialect, entity, extra_columns);
            }
        }
    }
    sql
}

/// `DELETE` of the rows matching `conditions` and (when given) whose `key` is one of `keys`.
pub fn delete(
    dialect: Dialect,
    entity: &Entity,
    conditions: &[Condition],
    keys: Option<(&str, &[Value])>,
) -> Sql {
    let mut sql = Sql::default();
    sql.push("DELETE FROM ").ident(entity.table());
    let mut first = true;
    for c in conditions {
        sql.push(if first { " WHERE " } else { " AND " });
        first = false;
        condition(&mut sql, dialect, entity, c);
    }
    if let Some((column, values)) = keys {
        sql.push(if first { " WHERE " } else { " AND " });
        let tuples: Vec<Vec<Value>> = values.iter().map(|v| vec![v.clone()]).collect();
        key_condition(&mut sql, dialect, &[column.to_string()], &tuples);
    }
    sql
}

/// Splits `n` rows into statement sizes that are powers of two up to `max` (itself rounded down
/// to a power of two), so a statement's text, and its prepared form, is reused across requests.
pub fn batch_sizes(n: usize, max: usize) -> Vec<usize> {
    let max = if max <= 1 {
        1
    } else {
        1 << (usize::BITS - 1 - max.leading_zeros())
    };
    let mut out = Vec::new();
    let mut left = n;
    while left >= max {
        out.push(max);
        left -= max;
    }
    let mut size = max >> 1;
    while left > 0 && size > 0 {
        if left >= size {
            out.push(size);
            left -= size;
        }
        size >>= 1;
    }
    out
}

/// Rows per statement for statements of `columns` bound values per row on `dialect`, within the
/// backend's bind-parameter limit (SQLite 32766, PostgreSQL and MariaDB 65535) and at most 1024.
pub fn rows_per_statement(dialect: Dialect, columns: usize) -> usize {
    let limit = match dialect {
        Dialect::Sqlite => 32_000,
        Dialect::Postgres | Dialect::Mysql => 65_000,
    };
    (limit / columns.max(1)).clamp(1, 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::entity_of;
    use dynex_schema::{ColumnInfo, TableInfo};

    fn entity() -> Entity {
        let table = TableInfo {
            name: "t".into(),
            columns: vec![
                ColumnInfo::from_declared("id", "integer", false, None, true),
                ColumnInfo::from_declared("rate", "numeric", false, None, false),
                ColumnInfo::from_declared("name", "character varying", true, None, false),
            ],
            primary_key: vec!["id".into()],
            unique_keys: vec![],
            foreign_keys: vec![],
        };
        let fields = [
            ("id", "id", "integer"),
            ("rate", "rate", "decimal"),
            ("name", "name", "string"),
        ];
        entity_of("t", "ts", &fields).with_table(table)
    }

    #[test]
    fn inserts_bind_every_value_and_cast_on_postgres() {
        let e = entity();
        let targets: Vec<Target> = ["rate", "name"]
            .iter()
            .map(|c| Target::new(Dialect::Postgres, &e, c))
            .collect();
        let rows = vec![
            vec![Value::Decimal("1.5".into()), Value::Text("a".into())],
            vec![Value::Decimal("2".into()), Value::Null],
        ];
        let sql = insert(Dialect::Postgres, &e, &targets, rows.clone(), &[]);
        assert_eq!(
            sql.debug_text(),
            "INSERT INTO \"t\" (\"rate\", \"name\") SELECT * FROM UNNEST(CAST(? AS NUMERIC[]), \
             CAST(? AS TEXT[])) RETURNING (json_build_array(\"id\", CAST(\"rate\" AS TEXT), \
             CAST(\"name\" AS TEXT)))::text AS row_json"
        );
        let binds: Vec<&Value> = sql.binds().collect();
        assert_eq!(
            binds,
            [
                &Value::Text(r#"{"1.5","2"}"#.into()),
                &Value::Text(r#"{"a",NULL}"#.into())
            ]
        );
        // Quotes and backslashes are escaped inside the array literal; NULL text stays text.
        let tricky = vec![
            vec![
                Value::Decimal("1".into()),
                Value::Text(r#"a"b\c,{NULL}"#.into()),
            ],
            vec![Value::Decimal("2".into()), Value::Text("NULL".into())],
        ];
        let sql = insert(Dialect::Postgres, &e, &targets, tricky, &[]);
        let binds: Vec<&Value> = sql.binds().collect();
        assert_eq!(
            binds[1],
            &Value::Text(r#"{"a\"b\\c,{NULL}","NULL"}"#.into())
        );
        let sqlite = insert(Dialect::Sqlite, &e, &targets, rows, &[]);
        assert_eq!(sqlite.binds().count(), 4);
        assert_eq!(
            write_chunks(Dialect::Postgres, 25_001, 3),
            [10_000, 10_000, 5_001]
        );
        assert_eq!(
            write_chunks(Dialect::Sqlite, 1000, 3),
            [512, 256, 128, 64, 32, 8]
        );
    }

    #[test]
    fn updates_join_a_derived_table() {
        let e = entity();
        let key = Target::new(Dialect::Sqlite, &e, "id");
        let targets = [Target::new(Dialect::Sqlite, &e, "name")];
        let rows = vec![
            (Value::Int(1), vec![Value::Text("a".into())]),
            (Value::Int(2), vec![Value::Text("b".into())]),
        ];
        let text = update(Dialect::Sqlite, &e, &key, &targets, &rows, &[]).debug_text();
        assert!(
            text.starts_with(
                "UPDATE \"t\" SET \"name\" = dynex_v.\"dynex_0\" FROM (SELECT column1 AS \
                 \"dynex_k\", column2 AS \"dynex_0\" FROM (VALUES (?, ?), (?, ?))) AS dynex_v \
                 WHERE \"t\".\"id\" = dynex_v.\"dynex_k\" RETURNING"
            ),
            "{text}"
        );
        let text = update(Dialect::Mysql, &e, &key, &targets, &rows, &[]).debug_text();
        assert_eq!(
            text,
            "UPDATE \"t\" JOIN (SELECT ? AS \"dynex_k\", CAST(? AS CHAR) AS \"dynex_0\" UNION ALL \
             SELECT ?, CAST(? AS CHAR)) AS dynex_v ON \"t\".\"id\" = dynex_v.\"dynex_k\" SET \"t\".\"name\" = dynex_v.\"dynex_0\""
        );
    }

    #[test]
    fn batches_are_powers_of_two() {
        assert_eq!(batch_sizes(1000, 1024), vec![512, 256, 128, 64, 32, 8]);
        assert_eq!(batch_sizes(2100, 1024), vec![1024, 1024, 32, 16, 4]);
        assert_eq!(batch_sizes(3, 1000), vec![2, 1]);
        assert_eq!(batch_sizes(5, 1), vec![1, 1, 1, 1, 1]);
        assert_eq!(batch_sizes(0, 64), Vec::<usize>::new());
        assert_eq!(rows_per_statement(Dialect::Sqlite, 7), 1024);
        assert_eq!(rows_per_statement(Dialect::Sqlite, 100), 320);
    }
}
