//! Rendering reads to SQL per dialect, and decoding the rows they return.
//!
//! Each row comes back as one JSON array text column built by the database (`json_array`,
//! `json_build_array`, `JSON_ARRAY`), so one row type serves every entity on every backend.

use dynex_schema::{Entity, FieldType, Value, format_decimal, normalize_datetime};
use serde_json::{Map, Value as Json};

use crate::parse::{Condition, Page};

/// The SQL dialect of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite 3.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
}

/// A piece of a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// SQL text written by dynex, never containing user input.
    Sql(String),
    /// An identifier from a validated configuration, quoted by the driver's dialect.
    Ident(String),
    /// A value, always sent as a bound parameter.
    Bind(Value),
}

/// A statement as pieces of text, identifiers and bound values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sql {
    /// The pieces in order.
    pub pieces: Vec<Piece>,
    /// Prepare the statement afresh each time instead of keeping it in the connection's cache.
    pub uncached: bool,
}

impl Sql {
    /// Appends SQL text.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        match self.pieces.last_mut() {
            Some(Piece::Sql(s)) => s.push_str(sql),
            _ => self.pieces.push(Piece::Sql(sql.to_string())),
        }
        self
    }

    /// Appends an identifier.
    pub fn ident(&mut self, name: &str) -> &mut Self {
        self.pieces.push(Piece::Ident(name.to_string()));
        self
    }

    /// Appends a bound value.
    pub fn bind(&mut self, value: Value) -> &mut Self {
        self.pieces.push(Piece::Bind(value));
        self
    }

    /// The statement with `"identifiers"` and `?` placeholders, for tests and logs.
    pub fn debug_text(&self) -> String {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Sql(s) => s.clone(),
                Piece::Ident(i) => format!("\"{i}\""),
                Piece::Bind(_) => "?".to_string(),
            })
            .collect()
    }

    /// The bound values in order.
    pub fn binds(&self) -> impl Iterator<Item = &Value> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Bind(v) => Some(v),
            _ => None,
        })
    }
}

/// What to read from one entity.
#[derive(Debug, Clone, Copy)]
pub struct Select<'a> {
    /// The entity to read.
    pub entity: &'a Entity,
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
    let mut sql = Sql::default();
    sql.push("SELECT ");
    row_json(&mut sql, dialect, s.entity, s.extra_columns);
    sql.push(" AS row_json FROM ");
    if s.page.is_some() {
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
        and(&mut sql);
        condition(&mut sql, dialect, s.entity, c);
    }
    if let Some((columns, tuples)) = s.keys {
        and(&mut sql);
        key_condition(&mut sql, columns, tuples);
    }
    sql.push(" ORDER BY ")
        .ident(&s.entity.identifier().field_name);
    if let Some(page) = s.page {
        sql.push(&format!(" LIMIT {}", clamp(page.limit)));
        if page.offset > 0 {
            sql.push(" OFFSET ").bind(Value::Int(clamp(page.offset)));
        }
        sql.push(") AS dynex_page ORDER BY ")
            .ident(&s.entity.identifier().field_name);
    }
    if s.lock && dialect != Dialect::Sqlite {
        sql.push(" FOR UPDATE");
    }
    // A cached MariaDB statement whose locking read lost a deadlock is left unusable: executing
    // it again waits forever. Locking reads are therefore prepared afresh there.
    sql.uncached = s.lock && dialect == Dialect::Mysql;
    sql
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Maximum values per JSON-building function call, under each backend's argument limit
/// (SQLite 127 arguments, PostgreSQL 100).
const CHUNK: usize = 60;

/// The expression that builds one row's JSON array: the entity's fields, then `extra_columns`.
pub(crate) fn row_json(sql: &mut Sql, dialect: Dialect, entity: &Entity, extra_columns: &[String]) {
    let mut columns: Vec<(Option<FieldType>, &str)> = entity
        .fields()
        .iter()
        .map(|f| (Some(f.ty), f.field_name.as_str()))
        .collect();
    columns.extend(extra_columns.iter().map(|c| (None, c.as_str())));
    let chunks: Vec<_> = columns.chunks(CHUNK).collect();
    let list = |sql: &mut Sql, chunk: &[(Option<FieldType>, &str)], sep: &str| {
        for (i, (ty, col)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(sep);
            }
            column_expr(sql, dialect, *ty, col);
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

/// A column as selected: decimals as text (keeping their scale), PostgreSQL strings and dates as
/// text (so timestamps render as `2024-01-15 10:00:00` like elsewhere).
fn column_expr(sql: &mut Sql, dialect: Dialect, ty: Option<FieldType>, col: &str) {
    let cast = match (ty, dialect) {
        (Some(FieldType::Decimal), Dialect::Mysql) => Some("CHAR"),
        (Some(FieldType::Decimal), _) => Some("TEXT"),
        (Some(FieldType::String | FieldType::Date | FieldType::DateTime), Dialect::Postgres) => {
            Some("TEXT")
        }
        _ => None,
    };
    match cast {
        Some(to) => {
            sql.push("CAST(").ident(col).push(" AS ").push(to).push(")");
        }
        None => {
            sql.ident(col);
        }
    }
}

/// The column side of a comparison on a configured field.
fn field_lhs(sql: &mut Sql, dialect: Dialect, ty: FieldType, col: &str) {
    if dialect == Dialect::Postgres && matches!(ty, FieldType::String | FieldType::Json) {
        // A `string` field may sit on a non-text column (Spryker maps BIGINT and TIMESTAMP to
        // string); comparing as text works for every column type.
        sql.push("CAST(").ident(col).push(" AS TEXT)");
    } else {
        sql.ident(col);
    }
}

/// A bound value, cast in SQL where the column type needs it.
fn field_rhs(sql: &mut Sql, dialect: Dialect, value: &Value) {
    let cast = match (value, dialect) {
        (Value::Decimal(_), Dialect::Mysql) => Some("DECIMAL(65,30)"),
        (Value::Decimal(_), _) => Some("NUMERIC"),
        (Value::Date(_), Dialect::Postgres | Dialect::Mysql) => Some("DATE"),
        (Value::DateTime(_), Dialect::Postgres) => Some("TIMESTAMP"),
        (Value::DateTime(_), Dialect::Mysql) => Some("DATETIME(6)"),
        _ => None,
    };
    match cast {
        Some(to) => {
            sql.push("CAST(")
                .bind(value.clone())
                .push(" AS ")
                .push(to)
                .push(")");
        }
        None => {
            sql.bind(value.clone());
        }
    }
}

pub(crate) fn condition(sql: &mut Sql, dialect: Dialect, entity: &Entity, c: &Condition) {
    let (index, values, single) = match c {
        Condition::Eq(i, v) => (*i, std::slice::from_ref(v), true),
        Condition::In(i, vs) => (*i, vs.as_slice(), false),
        Condition::After(i, v) => {
            let field = &entity.fields()[*i];
            sql.push("(");
            field_lhs(sql, dialect, field.ty, &field.field_name);
            sql.push(" > ");
            field_rhs(sql, dialect, v);
            sql.push(")");
            return;
        }
    };
    let field = &entity.fields()[index];
    let non_null: Vec<&Value> = values.iter().filter(|v| **v != Value::Null).collect();
    let has_null = non_null.len() < values.len();
    sql.push("(");
    if non_null.is_empty() && !has_null {
        sql.push("1 = 0");
    }
    if !non_null.is_empty() {
        field_lhs(sql, dialect, field.ty, &field.field_name);
        if single {
            sql.push(" = ");
            field_rhs(sql, dialect, non_null[0]);
        } else {
            sql.push(" IN (");
            for (i, v) in non_null.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                field_rhs(sql, dialect, v);
            }
            sql.push(")");
        }
    }
    if has_null {
        if !non_null.is_empty() {
            sql.push(" OR ");
        }
        sql.ident(&field.field_name).push(" IS NULL");
    }
    sql.push(")");
}

pub(crate) fn key_condition(sql: &mut Sql, columns: &[String], tuples: &[Vec<Value>]) {
    if tuples.is_empty() {
        sql.push("1 = 0");
        return;
    }
    if columns.len() == 1 {
        sql.ident(&columns[0]).push(" IN (");
        for (i, t) in tuples.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(t[0].clone());
        }
        sql.push(")");
    } else {
        sql.push("(");
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.ident(c);
        }
        sql.push(") IN (");
        for (i, t) in tuples.iter().enumerate() {
            sql.push(if i > 0 { ", (" } else { "(" });
            for (j, v) in t.iter().enumerate() {
                if j > 0 {
                    sql.push(", ");
                }
                sql.bind(v.clone());
            }
            sql.push(")");
        }
        sql.push(")");
    }
}

/// Decodes one `row_json` into the wire object (visible names, Spryker's output types) and the
/// values of the extra columns.
pub fn decode_row(
    entity: &Entity,
    row_json: &str,
) -> Result<(Map<String, Json>, Vec<Json>), String> {
    let values: Vec<Json> =
        serde_json::from_str(row_json).map_err(|e| format!("row is not a JSON array: {e}"))?;
    let fields = entity.fields();
    if values.len() < fields.len() {
        return Err(format!(
            "row has {} values, the entity {} fields",
            values.len(),
            fields.len()
        ));
    }
    let mut values = values.into_iter();
    let mut object = Map::with_capacity(fields.len());
    for (field, v) in fields.iter().zip(values.by_ref()) {
        object.insert(
            field.field_visible_name.clone(),
            output(field.ty, field.validation.scale, v),
        );
    }
    Ok((object, values.collect()))
}

/// Converts a stored value to Spryker's output type for the field.
fn output(ty: FieldType, scale: Option<u32>, v: Json) -> Json {
    match (ty, v) {
        (_, Json::Null) => Json::Null,
        (FieldType::Boolean, Json::Number(n)) => Json::Bool(n.as_f64().is_some_and(|f| f != 0.0)),
        (FieldType::Boolean, Json::String(s)) => {
            Json::Bool(matches!(s.as_str(), "1" | "t" | "true" | "TRUE"))
        }
        (FieldType::Integer, Json::String(s)) => {
            s.parse::<i64>().map(Json::from).unwrap_or(Json::String(s))
        }
        (FieldType::Integer, Json::Bool(b)) => Json::from(i64::from(b)),
        (FieldType::Decimal, Json::String(s)) => {
            Json::String(scale.map_or_else(|| s.clone(), |sc| format_decimal(&s, sc)))
        }
        (FieldType::Decimal, Json::Number(n)) => {
            let s = n.to_string();
            Json::String(scale.map_or_else(|| s.clone(), |sc| format_decimal(&s, sc)))
        }
        (FieldType::String, Json::Number(n)) => Json::String(n.to_string()),
        (FieldType::String, Json::Bool(b)) => Json::String(b.to_string()),
        (FieldType::String, Json::String(s)) => Json::String(s),
        (FieldType::DateTime, Json::String(s)) => Json::String(normalize_datetime(&s).unwrap_or(s)),
        (FieldType::Date, Json::String(s)) => Json::String(s.get(..10).unwrap_or(&s).to_string()),
        (FieldType::Json, Json::String(s)) => serde_json::from_str(&s).unwrap_or(Json::String(s)),
        (_, v) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynex_schema::EntityConfig;

    fn entity(n: usize) -> Entity {
        let mut fields = vec![
            r#"{"fieldName":"id","fieldVisibleName":"id","type":"integer"}"#.to_string(),
            r#"{"fieldName":"rate","fieldVisibleName":"taxRate","type":"decimal","validation":{"scale":2}}"#.to_string(),
            r#"{"fieldName":"active","fieldVisibleName":"active","type":"boolean"}"#.to_string(),
        ];
        for i in 3..n {
            fields.push(format!(
                r#"{{"fieldName":"c{i}","fieldVisibleName":"c{i}","type":"string"}}"#
            ));
        }
        let json = format!(
            r#"{{"tableName":"t","tableAlias":"ts","definition":{{"identifier":"id","fields":[{}]}}}}"#,
            fields.join(",")
        );
        Entity::new(EntityConfig::parse_many(&json).unwrap().remove(0)).unwrap()
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
             FROM (SELECT * FROM \"t\" WHERE (\"rate\" = CAST(? AS NUMERIC)) AND (\"id\" IN (?) OR \"id\" IS NULL) \
             ORDER BY \"id\" LIMIT 10 OFFSET ?) AS dynex_page ORDER BY \"id\""
        );
        assert_eq!(sql.binds().count(), 3);
        let sql = select(Dialect::Mysql, &s);
        assert!(sql.debug_text().starts_with(
            "SELECT CAST(JSON_ARRAY(\"id\", CAST(\"rate\" AS CHAR), \"active\") AS CHAR)"
        ));
    }

    #[test]
    fn wide_entities_are_chunked() {
        let e = entity(130);
        let s = Select {
            entity: &e,
            conditions: &[],
            keys: None,
            extra_columns: &["fk".to_string()],
            page: None,
            lock: false,
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
            entity: &e,
            conditions: &[],
            keys: Some((&cols, &tuples)),
            extra_columns: &[],
            page: None,
            lock: false,
        };
        assert!(
            select(Dialect::Sqlite, &s)
                .debug_text()
                .contains("WHERE (\"a\", \"b\") IN ((?, ?), (?, ?)) ORDER BY")
        );
    }

    #[test]
    fn rows_decode_to_spryker_types() {
        let e = entity(4);
        let (obj, extra) = decode_row(&e, r#"[7, "20", 1, 5, 14]"#).unwrap();
        assert_eq!(
            serde_json::Value::Object(obj),
            serde_json::json!({"id": 7, "taxRate": "20.00", "active": true, "c3": "5"})
        );
        assert_eq!(extra, vec![serde_json::json!(14)]);
    }
}
