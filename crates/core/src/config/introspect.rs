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
struct Row2 {
    #[diesel(sql_type = Nullable<Text>)]
    c1: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c2: Option<String>,
}

/// Four text columns and the table each row is about.
#[derive(QueryableByName)]
struct Named4 {
    #[diesel(sql_type = Nullable<Text>)]
    c1: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c2: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c3: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c4: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    t: Option<String>,
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
    #[diesel(sql_type = Nullable<Text>)]
    t: Option<String>,
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
    Ok(tables_info(conn, dialect, &[name])?.remove(name))
}

/// [`table`] of several tables at once, by the names asked for; a table that does not exist
/// is left out.
///
/// PostgreSQL and MariaDB answer three queries for all the tables: planning a query of their
/// catalog views costs milliseconds, which per table made opening a catalog of ten entities
/// take a tenth of a second.
pub fn tables_info(
    conn: &mut AnyConnection,
    dialect: Dialect,
    names: &[&str],
) -> QueryResult<BTreeMap<String, TableInfo>> {
    let mut columns = columns(conn, dialect, names)?;
    let mut keys = keys(conn, dialect, names)?;
    let mut foreign_keys = foreign_keys(conn, dialect, names)?;
    let mut out = BTreeMap::new();
    for &name in names {
        let Some(mut columns) = columns.remove(name).filter(|c| !c.is_empty()) else {
            continue;
        };
        let (mut primary_key, unique_keys) = keys.remove(name).unwrap_or_default();
        if primary_key.is_empty() && dialect == Dialect::Sqlite {
            // SQLite lists a rowid-alias primary key in table_info, not as an index.
            let text = "SELECT name AS c1 FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk";
            primary_key = DynQuery(&q(text, Some(name)))
                .load::<Row1>(conn)?
                .into_iter()
                .filter_map(|r| r.c1)
                .collect();
        }
        if dialect == Dialect::Sqlite && primary_key.len() == 1 {
            // An INTEGER PRIMARY KEY is an alias of the rowid, which SQLite generates.
            for c in &mut columns {
                if c.name == primary_key[0] && c.sql_type.eq_ignore_ascii_case("integer") {
                    c.auto_increment = true;
                }
            }
        }
        out.insert(
            name.to_string(),
            TableInfo {
                name: name.to_string(),
                columns,
                primary_key,
                unique_keys,
                foreign_keys: foreign_keys.remove(name).unwrap_or_default(),
            },
        );
    }
    Ok(out)
}

/// A catalog query's text on each backend.
struct Texts {
    sqlite: &'static str,
    postgres: &'static str,
    mysql: &'static str,
}

impl Texts {
    fn for_dialect(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
            Dialect::Mysql => self.mysql,
        }
    }
}

/// The columns of each table, as [`Row8`]: name, type, nullability, default, length, precision,
/// scale and extra.
const COLUMNS: Texts = Texts {
    sqlite: "SELECT name AS c1, type AS c2, CASE WHEN \"notnull\" = 1 THEN 'NO' ELSE 'YES' END AS c3, \
         dflt_value AS c4, NULL AS c5, NULL AS c6, NULL AS c7, NULL AS c8, NULL AS t \
         FROM pragma_table_info(?) ORDER BY cid",
    postgres: "SELECT CAST(column_name AS TEXT) AS c1, CAST(data_type AS TEXT) AS c2, \
         CAST(is_nullable AS TEXT) AS c3, CAST(column_default AS TEXT) AS c4, \
         CAST(character_maximum_length AS TEXT) AS c5, CAST(numeric_precision AS TEXT) AS c6, \
         CAST(numeric_scale AS TEXT) AS c7, \
         CASE WHEN is_identity = 'YES' OR column_default LIKE 'nextval(%' THEN 'auto_increment' END AS c8, \
         CAST(table_name AS TEXT) AS t \
         FROM information_schema.columns WHERE table_schema = current_schema() AND table_name IN (?) \
         ORDER BY table_name, ordinal_position",
    mysql: "SELECT COLUMN_NAME AS c1, COLUMN_TYPE AS c2, IS_NULLABLE AS c3, COLUMN_DEFAULT AS c4, \
         CAST(CHARACTER_MAXIMUM_LENGTH AS CHAR) AS c5, CAST(NUMERIC_PRECISION AS CHAR) AS c6, \
         CAST(NUMERIC_SCALE AS CHAR) AS c7, EXTRA AS c8, TABLE_NAME AS t \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?) \
         ORDER BY TABLE_NAME, ORDINAL_POSITION",
};

/// The primary and unique key columns of each table, as [`Named4`]: constraint, kind, column.
const KEYS: Texts = Texts {
    sqlite: "SELECT il.name AS c1, CASE WHEN il.origin = 'pk' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END AS c2, \
         ii.name AS c3, NULL AS c4, NULL AS t FROM pragma_index_list(?) AS il \
         JOIN pragma_index_info(il.name) AS ii WHERE il.\"unique\" = 1 ORDER BY il.name, ii.seqno",
    postgres: "SELECT CAST(tc.constraint_name AS TEXT) AS c1, CAST(tc.constraint_type AS TEXT) AS c2, \
         CAST(kcu.column_name AS TEXT) AS c3, NULL AS c4, CAST(tc.table_name AS TEXT) AS t \
         FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu \
         ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema \
         AND kcu.table_name = tc.table_name \
         WHERE tc.table_schema = current_schema() \
         AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE') AND tc.table_name IN (?) \
         ORDER BY tc.table_name, tc.constraint_name, kcu.ordinal_position",
    mysql: "SELECT INDEX_NAME AS c1, CASE WHEN INDEX_NAME = 'PRIMARY' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END AS c2, \
         COLUMN_NAME AS c3, NULL AS c4, TABLE_NAME AS t FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0 AND TABLE_NAME IN (?) \
         ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
};

/// The foreign key columns of each table, as [`Named4`]: constraint, referenced table, column,
/// referenced column.
const FOREIGN_KEYS: Texts = Texts {
    sqlite: "SELECT CAST(id AS TEXT) AS c1, \"table\" AS c2, \"from\" AS c3, \"to\" AS c4, NULL AS t \
         FROM pragma_foreign_key_list(?) ORDER BY id, seq",
    postgres: "SELECT CAST(c.conname AS TEXT) AS c1, CAST(rt.relname AS TEXT) AS c2, \
         CAST(a.attname AS TEXT) AS c3, CAST(ra.attname AS TEXT) AS c4, CAST(t.relname AS TEXT) AS t \
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_class rt ON rt.oid = c.confrelid \
         CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(col, rcol, ord) \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col \
         JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.rcol \
         WHERE c.contype = 'f' AND n.nspname = current_schema() AND t.relname IN (?) \
         ORDER BY t.relname, c.conname, k.ord",
    mysql: "SELECT CONSTRAINT_NAME AS c1, REFERENCED_TABLE_NAME AS c2, COLUMN_NAME AS c3, \
         REFERENCED_COLUMN_NAME AS c4, TABLE_NAME AS t FROM information_schema.KEY_COLUMN_USAGE \
         WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL AND TABLE_NAME IN (?) \
         ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
};

/// Runs a catalog query for `names` and returns its rows by the table they are about.
///
/// SQLite's pragmas take one table: the text's one `?` is each name in turn. Elsewhere the text
/// selects the table's name as `t` and ends its condition with `IN (?)`, which becomes the list
/// of names; the rows are matched back to the names asked for exactly, or else ignoring case
/// (MariaDB compares its catalog's names without case).
fn by_table<R>(
    conn: &mut AnyConnection,
    dialect: Dialect,
    texts: &Texts,
    names: &[&str],
    table_of: impl Fn(&R) -> Option<&str>,
) -> QueryResult<BTreeMap<String, Vec<R>>>
where
    R: QueryableByName<crate::db::MultiBackend> + 'static,
{
    let text = texts.for_dialect(dialect);
    let mut out: BTreeMap<String, Vec<R>> = BTreeMap::new();
    if dialect == Dialect::Sqlite {
        for &name in names {
            let rows = DynQuery(&q(text, Some(name))).load::<R>(conn)?;
            out.entry(name.to_string()).or_default().extend(rows);
        }
        return Ok(out);
    }
    if names.is_empty() {
        return Ok(out);
    }
    let (before, after) = text.split_once("IN (?)").unwrap_or((text, ""));
    let mut sql = Sql::default();
    sql.push(before).push("IN (");
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(Value::Text(name.to_string()));
    }
    sql.push(")").push(after);
    for row in DynQuery(&sql).load::<R>(conn)? {
        let Some(t) = table_of(&row) else { continue };
        let owner = names
            .iter()
            .find(|n| **n == t)
            .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(t)));
        if let Some(name) = owner {
            out.entry(name.to_string()).or_default().push(row);
        }
    }
    Ok(out)
}

fn columns(
    conn: &mut AnyConnection,
    dialect: Dialect,
    names: &[&str],
) -> QueryResult<BTreeMap<String, Vec<ColumnInfo>>> {
    Ok(
        by_table::<Row8>(conn, dialect, &COLUMNS, names, |r| r.t.as_deref())?
            .into_iter()
            .map(|(table, rows)| {
                (
                    table,
                    rows.into_iter().map(|r| column(dialect, r)).collect(),
                )
            })
            .collect(),
    )
}

/// A column from a row of [`columns`]' query.
fn column(dialect: Dialect, r: Row8) -> ColumnInfo {
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
}

type Keys = (Vec<String>, Vec<Vec<String>>);

/// The primary key and unique keys of each table (SQLite's rowid alias is added by the caller).
fn keys(
    conn: &mut AnyConnection,
    dialect: Dialect,
    names: &[&str],
) -> QueryResult<BTreeMap<String, Keys>> {
    let tables = by_table::<Named4>(conn, dialect, &KEYS, names, |r| r.t.as_deref())?;
    let mut out = BTreeMap::new();
    for (table, rows) in tables {
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
        out.insert(table, (primary, unique));
    }
    Ok(out)
}

/// The foreign keys of each table.
fn foreign_keys(
    conn: &mut AnyConnection,
    dialect: Dialect,
    names: &[&str],
) -> QueryResult<BTreeMap<String, Vec<ForeignKey>>> {
    let tables = by_table::<Named4>(conn, dialect, &FOREIGN_KEYS, names, |r| r.t.as_deref())?;
    let mut all = BTreeMap::new();
    for (table, rows) in tables {
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
        all.insert(table, out.into_iter().map(|(_, fk)| fk).collect());
    }
    Ok(all)
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
            "SELECT il.name AS c1, ii.name AS c2 \
             FROM pragma_index_list(?) AS il JOIN pragma_index_info(il.name) AS ii \
             WHERE il.\"partial\" = 0 ORDER BY il.name, ii.seqno"
        }
        Dialect::Postgres => {
            "SELECT CAST(i.relname AS TEXT) AS c1, CAST(a.attname AS TEXT) AS c2 \
             FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_class i ON i.oid = x.indexrelid \
             CROSS JOIN LATERAL unnest(CAST(x.indkey AS int2[])) WITH ORDINALITY AS k(col, ord) \
             LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.col AND k.col > 0 \
             WHERE n.nspname = current_schema() AND t.relname = ? AND x.indpred IS NULL \
             AND k.ord <= x.indnkeyatts \
             ORDER BY i.relname, k.ord"
        }
        Dialect::Mysql => {
            "SELECT INDEX_NAME AS c1, COLUMN_NAME AS c2 \
             FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
             AND INDEX_TYPE NOT IN ('FULLTEXT', 'SPATIAL') \
             ORDER BY INDEX_NAME, SEQ_IN_INDEX"
        }
    };
    let rows = DynQuery(&q(text, Some(table))).load::<Row2>(conn)?;
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
