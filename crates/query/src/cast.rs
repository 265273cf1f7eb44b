//! How each dialect spells a column or a bound value so that it is read, compared and assigned
//! in the right type: casts of assigned and compared values, text columns and sort keys.

use dynex_schema::{ColumnKind, Entity, FieldType, Value};

use crate::sql::{Dialect, Sql};

/// The cast a bound value needs to be assigned to `column` of `entity`'s table, if any.
///
/// Only PostgreSQL needs casts. Types come from a fixed list, never from the database's text,
/// and character types are never cast (a cast to `character` would truncate).
pub fn write_cast(dialect: Dialect, entity: &Entity, column: &str) -> Option<&'static str> {
    if dialect != Dialect::Postgres {
        return None;
    }
    let c = entity.column(column)?;
    let t = c.sql_type.to_ascii_lowercase();
    Some(match c.kind {
        ColumnKind::Integer => match t.as_str() {
            "smallint" => "SMALLINT",
            "integer" => "INTEGER",
            "bigint" => "BIGINT",
            _ => return None,
        },
        ColumnKind::Decimal => "NUMERIC",
        ColumnKind::Float if t == "real" => "REAL",
        ColumnKind::Float => "DOUBLE PRECISION",
        ColumnKind::Boolean => "BOOLEAN",
        ColumnKind::Date => "DATE",
        ColumnKind::DateTime if t.contains("with time zone") => "TIMESTAMPTZ",
        ColumnKind::DateTime => "TIMESTAMP",
        ColumnKind::Json if t == "jsonb" => "JSONB",
        ColumnKind::Json => "JSON",
        ColumnKind::String if t == "uuid" => "UUID",
        ColumnKind::String if t.starts_with("time") => "TIME",
        ColumnKind::String | ColumnKind::Other => return None,
    })
}

/// The cast a value compared with field `index` needs to compare in the column's own type.
fn compare_cast(dialect: Dialect, entity: &Entity, index: usize) -> Option<&'static str> {
    let field = &entity.fields()[index];
    let column = entity.column(&field.field_name);
    match dialect {
        Dialect::Sqlite => None,
        Dialect::Postgres => match column {
            Some(c) => write_cast(dialect, entity, &field.field_name).or_else(|| {
                // A text parameter would turn a blank-padded column into plain text, which
                // compares trailing spaces that the column's own order ignores.
                let t = c.sql_type.trim().to_ascii_lowercase();
                (t == "character" || t.starts_with("character(") || t.starts_with("bpchar"))
                    .then_some("BPCHAR")
            }),
            None => match field.ty {
                FieldType::Decimal => Some("NUMERIC"),
                FieldType::Float => Some("DOUBLE PRECISION"),
                FieldType::Boolean => Some("BOOLEAN"),
                FieldType::Date => Some("DATE"),
                FieldType::DateTime => Some("TIMESTAMP"),
                FieldType::Integer | FieldType::String | FieldType::Json => None,
            },
        },
        Dialect::Mysql => {
            let kind = column.map(|c| c.kind);
            match (kind, field.ty) {
                (Some(ColumnKind::Decimal), _) | (None, FieldType::Decimal) => {
                    Some("DECIMAL(65,30)")
                }
                (Some(ColumnKind::DateTime), _) | (None, FieldType::DateTime) => {
                    Some("DATETIME(6)")
                }
                (Some(ColumnKind::Date), _) | (None, FieldType::Date) => Some("DATE"),
                _ => None,
            }
        }
    }
}

/// A bound value compared with field `index`, cast to the column's type where needed.
pub(crate) fn compare_value(
    sql: &mut Sql,
    dialect: Dialect,
    entity: &Entity,
    index: usize,
    value: &Value,
) {
    bind_as(sql, value, compare_cast(dialect, entity, index));
}

/// `value` bound, inside `CAST(… AS to)` when there is a type `to` to cast to.
fn bind_as(sql: &mut Sql, value: &Value, to: Option<&str>) {
    match to {
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

/// The column side of a comparison on a configured field.
pub(crate) fn field_lhs(sql: &mut Sql, dialect: Dialect, ty: FieldType, col: &str) {
    if dialect == Dialect::Postgres && matches!(ty, FieldType::String | FieldType::Json) {
        // A `string` field may sit on a non-text column (Spryker maps BIGINT and TIMESTAMP to
        // string); comparing as text works for every column type.
        sql.push("CAST(").ident(col).push(" AS TEXT)");
    } else {
        sql.ident(col);
    }
}

/// Whether an equality on field `index` needs a byte-wise check besides the column's own
/// comparison: on MariaDB and MySQL, whose default collations (`utf8mb4_general_ci`…) ignore
/// case and trailing spaces, for text compared as text. SQLite and PostgreSQL compare text
/// exactly already.
///
/// The collation-aware comparison stays in front of the exact one, so that an index on the
/// column still finds the candidates.
pub(crate) fn exact_text(dialect: Dialect, entity: &Entity, index: usize) -> bool {
    let field = &entity.fields()[index];
    dialect == Dialect::Mysql
        && matches!(field.ty, FieldType::String | FieldType::Json)
        && entity.column(&field.field_name).is_none_or(|c| {
            matches!(
                c.kind,
                ColumnKind::String | ColumnKind::Json | ColumnKind::Other
            )
        })
}

/// A column as the bytes of its UTF-8 text (MariaDB, MySQL), for [`exact_text`] checks: binary
/// strings compare byte by byte, with case and trailing spaces.
pub(crate) fn exact_column(sql: &mut Sql, col: &str) {
    sql.push("CAST(CONVERT(")
        .ident(col)
        .push(" USING utf8mb4) AS BINARY)");
}

/// A bound text as the bytes of its UTF-8 text, compared with [`exact_column`].
pub(crate) fn exact_value(sql: &mut Sql, value: &Value) {
    sql.push("CAST(").bind(value.clone()).push(" AS BINARY)");
}

/// The PostgreSQL element type of an array of values like `value`, compared with a column as
/// [`field_rhs`] compares one value.
pub(crate) fn array_type(value: &Value) -> &'static str {
    match value {
        Value::Int(_) => "BIGINT",
        Value::Float(_) => "DOUBLE PRECISION",
        Value::Bool(_) => "BOOLEAN",
        Value::Decimal(_) => "NUMERIC",
        Value::Date(_) => "DATE",
        Value::DateTime(_) => "TIMESTAMP",
        Value::Null | Value::Text(_) | Value::Json(_) => "TEXT",
    }
}

/// A bound value, cast in SQL where the column type needs it.
pub(crate) fn field_rhs(sql: &mut Sql, dialect: Dialect, value: &Value) {
    let cast = match (value, dialect) {
        (Value::Decimal(_), Dialect::Mysql) => Some("DECIMAL(65,30)"),
        (Value::Decimal(_), _) => Some("NUMERIC"),
        (Value::Date(_), Dialect::Postgres | Dialect::Mysql) => Some("DATE"),
        (Value::DateTime(_), Dialect::Postgres) => Some("TIMESTAMP"),
        (Value::DateTime(_), Dialect::Mysql) => Some("DATETIME(6)"),
        _ => None,
    };
    bind_as(sql, value, cast);
}

/// A PostgreSQL array literal of `values`, every element quoted (`{"a","b\"c",NULL}`).
pub(crate) fn array_literal<'v>(values: impl Iterator<Item = &'v Value>) -> String {
    let mut literal = String::from("{");
    for (i, v) in values.enumerate() {
        if i > 0 {
            literal.push(',');
        }
        let text: std::borrow::Cow<'_, str> = match v {
            Value::Null => {
                literal.push_str("NULL");
                continue;
            }
            Value::Int(n) => n.to_string().into(),
            Value::Float(f) => f.to_string().into(),
            Value::Bool(b) => (if *b { "true" } else { "false" }).into(),
            Value::Text(s)
            | Value::Decimal(s)
            | Value::Date(s)
            | Value::DateTime(s)
            | Value::Json(s) => s.as_str().into(),
        };
        literal.push('"');
        for c in text.chars() {
            if c == '"' || c == '\\' {
                literal.push('\\');
            }
            literal.push(c);
        }
        literal.push('"');
    }
    literal.push('}');
    literal
}

/// A column as selected: decimals as text (keeping their scale), PostgreSQL strings and dates as
/// text (so timestamps render as `2024-01-15 10:00:00` like elsewhere).
pub(crate) fn column_expr(sql: &mut Sql, dialect: Dialect, ty: Option<FieldType>, col: &str) {
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

/// A column of `entity` read as text: `CAST(col AS TEXT)` in the dialect's spelling.
///
/// SQLite reads the bare column: its driver asks for every column as text, which converts a
/// number exactly as `CAST` does, and `CAST` would copy every text value first. MariaDB reads a
/// character column bare too: it is sent as text in the connection's character set either
/// way, and `CAST(… AS CHAR)` made the server copy every value (40% of an export's time).
pub(crate) fn text_column(sql: &mut Sql, dialect: Dialect, entity: &Entity, col: &str) {
    match dialect {
        Dialect::Sqlite => sql.ident(col),
        Dialect::Postgres => sql.push("CAST(").ident(col).push(" AS TEXT)"),
        Dialect::Mysql if entity.column(col).is_some_and(is_character_column) => sql.ident(col),
        Dialect::Mysql => sql.push("CAST(").ident(col).push(" AS CHAR)"),
    };
}

/// Whether a MariaDB/MySQL column holds character text (`CHAR`, `VARCHAR`, the `TEXT` types),
/// by its `COLUMN_TYPE`; binary strings, enumerations and everything else are cast.
fn is_character_column(column: &dynex_schema::ColumnInfo) -> bool {
    let ty = column.sql_type.trim().to_ascii_lowercase();
    // `varchar(255)`, `char(2) character set latin1`: the name before any length or option.
    let name = ty.split(['(', ' ']).next().unwrap_or_default();
    column.kind == ColumnKind::String
        && matches!(
            name,
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext"
        )
}

/// The expression a field is sorted and compared by: its column, except where the column's
/// own order and its comparison with a bound value could disagree. Those are taken as text: a
/// MariaDB `ENUM` or `SET` (sorted by the position of its values, compared with text as text)
/// and a PostgreSQL column of a type dynex does not know (an enum, `citext`: a text parameter
/// may not compare with it at all).
pub(crate) fn sort_expr(sql: &mut Sql, dialect: Dialect, entity: &Entity, index: usize) {
    let col = &entity.fields()[index].field_name;
    let column = entity.column(col);
    let as_text = match dialect {
        Dialect::Mysql => column.is_some_and(|c| {
            let t = c.sql_type.trim().to_ascii_lowercase();
            t.starts_with("enum") || t.starts_with("set(")
        }),
        Dialect::Postgres => column.is_some_and(|c| c.kind == ColumnKind::Other),
        Dialect::Sqlite => false,
    };
    match (as_text, dialect) {
        (true, Dialect::Mysql) => {
            sql.push("CAST(").ident(col).push(" AS CHAR)");
        }
        (true, _) => {
            sql.push("CAST(").ident(col).push(" AS TEXT)");
        }
        (false, _) => {
            sql.ident(col);
        }
    }
}

/// A key's value as a row carries it: the stored value, in a form that JSON keeps exactly.
pub(crate) fn key_expr(sql: &mut Sql, dialect: Dialect, entity: &Entity, index: usize) {
    let field = &entity.fields()[index];
    let col = field.field_name.as_str();
    let decimal = field.ty == FieldType::Decimal
        || entity
            .column(col)
            .is_some_and(|c| c.kind == ColumnKind::Decimal);
    match dialect {
        Dialect::Sqlite => {
            // SQLite's JSON writes a REAL with 15 significant digits, which may not name the
            // stored double; 17 always do.
            sql.push("CASE typeof(")
                .ident(col)
                .push(") WHEN 'real' THEN json(printf('%!.17g', ")
                .ident(col)
                .push(")) ELSE ")
                .ident(col)
                .push(" END");
        }
        // A decimal would become a JSON number, and a double on the way back.
        Dialect::Postgres if decimal => {
            sql.push("CAST(").ident(col).push(" AS TEXT)");
        }
        Dialect::Mysql if decimal => {
            sql.push("CAST(").ident(col).push(" AS CHAR)");
        }
        _ => sort_expr(sql, dialect, entity, index),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Condition;
    use crate::condition::condition;
    use crate::sort::Sort;
    use crate::testing::{after, products};

    #[test]
    fn live_column_types_decide_casts_and_nulls() {
        let columns: &[(&str, &str, bool)] = &[
            ("id", "integer", false),
            ("sku", "character", false),
            ("price", "numeric", true),
            ("updated_at", "timestamp without time zone", true),
        ];
        let e = products(Some(columns));
        let keys = crate::order_keys(&e, &[Sort::desc(1)]);
        assert_eq!(
            after(
                Dialect::Postgres,
                &e,
                &keys,
                vec![Value::Text("AT ".into()), Value::Int(7)]
            ),
            "(\"sku\" <= CAST(? AS BPCHAR) AND (\"sku\" < CAST(? AS BPCHAR) OR (\"sku\" = CAST(? AS BPCHAR) \
             AND \"id\" > CAST(? AS INTEGER))))"
        );
        let since = Condition::AtLeast(3, Value::Text("2024-01-02 03:04:05".into()));
        let render = |d| {
            let mut sql = Sql::default();
            condition(&mut sql, d, &e, &since);
            sql.debug_text()
        };
        assert_eq!(
            render(Dialect::Postgres),
            "(\"updated_at\" >= CAST(? AS TIMESTAMP))"
        );
        assert_eq!(
            render(Dialect::Mysql),
            "(\"updated_at\" >= CAST(? AS DATETIME(6)))"
        );
        assert_eq!(render(Dialect::Sqlite), "(\"updated_at\" >= ?)");

        let mysql_enum = products(Some(&[
            ("id", "int(11)", false),
            ("sku", "enum('b','a')", true),
        ]));
        let keys = crate::order_keys(&mysql_enum, &[Sort::asc(1)]);
        assert_eq!(
            after(
                Dialect::Mysql,
                &mysql_enum,
                &keys,
                vec![Value::Text("a".into()), Value::Int(1)]
            ),
            "(CAST(\"sku\" AS CHAR) >= ? AND (CAST(\"sku\" AS CHAR) > ? OR (CAST(\"sku\" AS CHAR) = ? \
             AND \"id\" > ?)))"
        );
    }
}
