//! Live-schema introspection on SQLite, PostgreSQL and MySQL/MariaDB.

use std::collections::BTreeMap;

use diesel::sql_types::{Nullable, Text};
use diesel::{QueryResult, QueryableByName, RunQueryDsl};
use dynex_query::{Dialect, Sql, Value};
use dynex_schema::{ColumnInfo, ForeignKey, TableInfo};

use crate::db::{AnyConnection, DynQuery};

#[derive(QueryableByName)]
struct Row1 {
    #[diesel(sql_type = Nullable<Text>)]
    c1: Option<String>,
}

#[derive(QueryableByName)]
struct Row4 {
    #[diesel(sql_type = Nullable<Text>)]
    c1: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c2: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c3: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c4: Option<String>,
}

#[derive(QueryableByName)]
struct Row8 {
    #[diesel(sql_type = Nullable<Text>)]
    c1: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c2: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c3: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c4: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c5: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c6: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c7: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c8: Option<String>,
}

fn q(text: &str, table: Option<&str>) -> Sql {
    let mut sql = Sql::default();
    match (table, text.split_once('?')) {
        (Some(t), Some((a, b))) => {
            sql.push(a).bind(Value::Text(t.to_string())).push(b);
        }
        _ => {
            sql.push(text);
        }
    }
    sql
}

/// Names of all tables in the current database or schema, sorted.
pub fn tables(conn: &mut AnyConnection, dialect: Dialect) -> QueryResult<Vec<String>> {
    let text = match dialect {
        Dialect::Sqlite => {
            "SELECT name AS c1 FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Dialect::Postgres => {
            "SELECT CAST(table_name AS TEXT) AS c1 FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
        Dialect::Mysql => {
            "SELECT TABLE_NAME AS c1 FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1"
        }
    };
    Ok(DynQuery(&q(text, None))
        .load::<Row1>(conn)?
        .into_iter()
        .filter_map(|r| r.c1)
        .collect())
}

/// Everything dynex needs to know about one table, or `None` when it does not exist.
pub fn table(
    conn: &mut AnyConnection,
    dialect: Dialect,
    name: &str,
) -> QueryResult<Option<TableInfo>> {
    let columns = columns(conn, dialect, name)?;
    if columns.is_empty() {
        return Ok(None);
    }
    let (primary_key, unique_keys) = keys(conn, dialect, name)?;
    let mut columns = columns;
    if dialect == Dialect::Sqlite && primary_key.len() == 1 {
        // An INTEGER PRIMARY KEY is an alias of the rowid, which SQLite generates.
        for c in &mut columns {
            if c.name == primary_key[0] && c.sql_type.eq_ignore_ascii_case("integer") {
                c.auto_increment = true;
            }
        }
    }
    let foreign_keys = foreign_keys(conn, dialect, name)?;
    Ok(Some(TableInfo {
        name: name.to_string(),
        columns,
        primary_key,
        unique_keys,
        foreign_keys,
    }))
}

fn columns(conn: &mut AnyConnection, dialect: Dialect, name: &str) -> QueryResult<Vec<ColumnInfo>> {
    let text = match dialect {
        Dialect::Sqlite => {
            "SELECT name AS c1, type AS c2, CASE WHEN \"notnull\" = 1 THEN 'NO' ELSE 'YES' END AS c3, \
             dflt_value AS c4, NULL AS c5, NULL AS c6, NULL AS c7, NULL AS c8 \
             FROM pragma_table_info(?) ORDER BY cid"
        }
        Dialect::Postgres => {
            "SELECT CAST(column_name AS TEXT) AS c1, CAST(data_type AS TEXT) AS c2, \
             CAST(is_nullable AS TEXT) AS c3, CAST(column_default AS TEXT) AS c4, \
             CAST(character_maximum_length AS TEXT) AS c5, CAST(numeric_precision AS TEXT) AS c6, \
             CAST(numeric_scale AS TEXT) AS c7, \
             CASE WHEN is_identity = 'YES' OR column_default LIKE 'nextval(%' THEN 'auto_increment' END AS c8 \
             FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? \
             ORDER BY ordinal_position"
        }
        Dialect::Mysql => {
            "SELECT COLUMN_NAME AS c1, COLUMN_TYPE AS c2, IS_NULLABLE AS c3, COLUMN_DEFAULT AS c4, \
             CAST(CHARACTER_MAXIMUM_LENGTH AS CHAR) AS c5, CAST(NUMERIC_PRECISION AS CHAR) AS c6, \
             CAST(NUMERIC_SCALE AS CHAR) AS c7, EXTRA AS c8 \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
             ORDER BY ORDINAL_POSITION"
        }
    };
    let rows = DynQuery(&q(text, Some(name))).load::<Row8>(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let sql_type = r.c2.unwrap_or_default();
            // MariaDB reports a NULL default as the text `NULL`.
            let default = r.c4.filter(|d| !d.eq_ignore_ascii_case("null"));
            let auto = r.c8.is_some_and(|e| e.contains("auto_increment"));
            let mut c = ColumnInfo::from_declared(
                &r.c1.unwrap_or_default(),
                &sql_type,
                r.c3.as_deref() != Some("NO"),
                default,
                auto,
            );
            let num = |s: Option<String>| s.and_then(|s| s.parse::<u32>().ok());
            if dialect == Dialect::Postgres {
                c.max_length = num(r.c5).or(c.max_length);
                if c.kind == dynex_schema::ColumnKind::Decimal {
                    c.precision = num(r.c6);
                    c.scale = num(r.c7);
                }
            }
            c
        })
        .collect())
}

type Keys = (Vec<String>, Vec<Vec<String>>);

fn keys(conn: &mut AnyConnection, dialect: Dialect, name: &str) -> QueryResult<Keys> {
    let text = match dialect {
        Dialect::Sqlite => {
            "SELECT il.name AS c1, CASE WHEN il.origin = 'pk' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END AS c2, \
             ii.name AS c3, NULL AS c4 FROM pragma_index_list(?) AS il \
             JOIN pragma_index_info(il.name) AS ii WHERE il.\"unique\" = 1 ORDER BY il.name, ii.seqno"
        }
        Dialect::Postgres => {
            "SELECT CAST(tc.constraint_name AS TEXT) AS c1, CAST(tc.constraint_type AS TEXT) AS c2, \
             CAST(kcu.column_name AS TEXT) AS c3, NULL AS c4 \
             FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu \
             ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema \
             AND kcu.table_name = tc.table_name \
             WHERE tc.table_schema = current_schema() AND tc.table_name = ? \
             AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE') \
             ORDER BY tc.constraint_name, kcu.ordinal_position"
        }
        Dialect::Mysql => {
            "SELECT INDEX_NAME AS c1, CASE WHEN INDEX_NAME = 'PRIMARY' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END AS c2, \
             COLUMN_NAME AS c3, NULL AS c4 FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0 \
             ORDER BY INDEX_NAME, SEQ_IN_INDEX"
        }
    };
    let rows = DynQuery(&q(text, Some(name))).load::<Row4>(conn)?;
    let mut groups: BTreeMap<(bool, String), Vec<String>> = BTreeMap::new();
    for r in rows {
        let primary = r.c2.as_deref() == Some("PRIMARY KEY");
        groups
            .entry((!primary, r.c1.unwrap_or_default()))
            .or_default()
            .extend(r.c3);
    }
    let mut primary = Vec::new();
    let mut unique = Vec::new();
    for ((not_primary, _), cols) in groups {
        if not_primary {
            unique.push(cols);
        } else {
            primary = cols;
        }
    }
    if primary.is_empty() && dialect == Dialect::Sqlite {
        // SQLite lists a rowid-alias primary key in table_info, not as an index.
        let text = "SELECT name AS c1 FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk";
        primary = DynQuery(&q(text, Some(name)))
            .load::<Row1>(conn)?
            .into_iter()
            .filter_map(|r| r.c1)
            .collect();
    }
    Ok((primary, unique))
}

fn foreign_keys(
    conn: &mut AnyConnection,
    dialect: Dialect,
    name: &str,
) -> QueryResult<Vec<ForeignKey>> {
    let text = match dialect {
        Dialect::Sqlite => {
            "SELECT CAST(id AS TEXT) AS c1, \"table\" AS c2, \"from\" AS c3, \"to\" AS c4 \
             FROM pragma_foreign_key_list(?) ORDER BY id, seq"
        }
        Dialect::Postgres => {
            "SELECT CAST(c.conname AS TEXT) AS c1, CAST(rt.relname AS TEXT) AS c2, \
             CAST(a.attname AS TEXT) AS c3, CAST(ra.attname AS TEXT) AS c4 \
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_class rt ON rt.oid = c.confrelid \
             CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(col, rcol, ord) \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col \
             JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.rcol \
             WHERE c.contype = 'f' AND n.nspname = current_schema() AND t.relname = ? \
             ORDER BY c.conname, k.ord"
        }
        Dialect::Mysql => {
            "SELECT CONSTRAINT_NAME AS c1, REFERENCED_TABLE_NAME AS c2, COLUMN_NAME AS c3, \
             REFERENCED_COLUMN_NAME AS c4 FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND REFERENCED_TABLE_NAME IS NOT NULL \
             ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION"
        }
    };
    let rows = DynQuery(&q(text, Some(name))).load::<Row4>(conn)?;
    let mut out: Vec<(String, ForeignKey)> = Vec::new();
    for r in rows {
        let id = r.c1.unwrap_or_default();
        let column = r.c3.unwrap_or_default();
        let referenced = r.c4.unwrap_or_default();
        match out.last_mut() {
            Some((last, fk)) if *last == id => {
                fk.columns.push(column);
                fk.referenced_columns.push(referenced);
            }
            _ => out.push((
                id,
                ForeignKey {
                    columns: vec![column],
                    referenced_table: r.c2.unwrap_or_default(),
                    referenced_columns: vec![referenced],
                },
            )),
        }
    }
    Ok(out.into_iter().map(|(_, fk)| fk).collect())
}

/// Every index of a table that can serve a lookup — its primary key, unique constraints and
/// plain indexes — as its ordered key columns; empty when the table does not exist.
///
/// Partial indexes (a `WHERE` clause) are left out, as are full-text and spatial ones on MySQL;
/// an index on an expression keeps only the columns before its first expression. On SQLite a
/// rowid-alias `INTEGER PRIMARY KEY` has no entry in the index list: the primary key columns
/// from the table info count as an index too.
pub fn indexes(
    conn: &mut AnyConnection,
    dialect: Dialect,
    table: &str,
) -> QueryResult<Vec<Vec<String>>> {
    let text = match dialect {
        Dialect::Sqlite => {
            "SELECT il.name AS c1, ii.name AS c2, NULL AS c3, NULL AS c4 \
             FROM pragma_index_list(?) AS il JOIN pragma_index_info(il.name) AS ii \
             WHERE il.\"partial\" = 0 ORDER BY il.name, ii.seqno"
        }
        Dialect::Postgres => {
            "SELECT CAST(i.relname AS TEXT) AS c1, CAST(a.attname AS TEXT) AS c2, \
             NULL AS c3, NULL AS c4 \
             FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_class i ON i.oid = x.indexrelid \
             CROSS JOIN LATERAL unnest(CAST(x.indkey AS int2[])) WITH ORDINALITY AS k(col, ord) \
             LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.col AND k.col > 0 \
             WHERE n.nspname = current_schema() AND t.relname = ? AND x.indpred IS NULL \
             AND k.ord <= x.indnkeyatts \
             ORDER BY i.relname, k.ord"
        }
        Dialect::Mysql => {
            "SELECT INDEX_NAME AS c1, COLUMN_NAME AS c2, NULL AS c3, NULL AS c4 \
             FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
             AND INDEX_TYPE NOT IN ('FULLTEXT', 'SPATIAL') \
             ORDER BY INDEX_NAME, SEQ_IN_INDEX"
        }
    };
    let rows = DynQuery(&q(text, Some(table))).load::<Row4>(conn)?;
    // (index name, columns so far, whether an expression ended the usable prefix)
    let mut groups: Vec<(String, Vec<String>, bool)> = Vec::new();
    for r in rows {
        let name = r.c1.unwrap_or_default();
        if groups.last().is_none_or(|(last, _, _)| *last != name) {
            groups.push((name, Vec::new(), false));
        }
        if let Some((_, columns, ended)) = groups.last_mut() {
            match r.c2 {
                Some(column) if !*ended => columns.push(column),
                _ => *ended = true,
            }
        }
    }
    let mut out: Vec<Vec<String>> = groups
        .into_iter()
        .map(|(_, columns, _)| columns)
        .filter(|columns| !columns.is_empty())
        .collect();
    if dialect == Dialect::Sqlite {
        let text = "SELECT name AS c1 FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk";
        let primary: Vec<String> = DynQuery(&q(text, Some(table)))
            .load::<Row1>(conn)?
            .into_iter()
            .filter_map(|r| r.c1)
            .collect();
        if !primary.is_empty() && !out.contains(&primary) {
            out.insert(0, primary);
        }
    }
    Ok(out)
}
