//! What introspection of the live database found about a table.

use serde::Serialize;

/// The broad kind of a column's SQL type, the same on every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// Any integer type.
    Integer,
    /// Character and text types.
    String,
    /// `DECIMAL` / `NUMERIC`.
    Decimal,
    /// `REAL`, `FLOAT`, `DOUBLE`.
    Float,
    /// `BOOLEAN` (and MySQL's `TINYINT(1)`).
    Boolean,
    /// `DATE`.
    Date,
    /// `TIMESTAMP` / `DATETIME`.
    DateTime,
    /// `JSON` / `JSONB`.
    Json,
    /// Anything else (binary, geometry…).
    Other,
}

impl ColumnKind {
    /// Classifies a SQL type name as reported by the database (`varchar(255)`, `tinyint(1)`…).
    pub fn from_sql_type(sql_type: &str) -> ColumnKind {
        let t = sql_type.trim().to_ascii_lowercase();
        if t == "tinyint(1)" || t.starts_with("bool") {
            ColumnKind::Boolean
        } else if t.contains("interval") || t.contains("point") {
            ColumnKind::Other
        } else if t.contains("int") || t == "serial" || t == "bigserial" {
            ColumnKind::Integer
        } else if t.starts_with("decimal") || t.starts_with("numeric") || t.starts_with("number") {
            ColumnKind::Decimal
        } else if t.contains("char")
            || t.contains("text")
            || t.contains("clob")
            || t.starts_with("enum")
            || t == "uuid"
            || t.starts_with("set(")
            || t.starts_with("time without")
            || t == "time"
        {
            ColumnKind::String
        } else if t.starts_with("real") || t.starts_with("double") || t.starts_with("float") {
            ColumnKind::Float
        } else if t.starts_with("timestamp") || t.starts_with("datetime") {
            ColumnKind::DateTime
        } else if t == "date" {
            ColumnKind::Date
        } else if t.starts_with("json") {
            ColumnKind::Json
        } else {
            ColumnKind::Other
        }
    }
}

/// One column of a live table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// The SQL type as the database reports it.
    pub sql_type: String,
    /// The classified kind of [`Self::sql_type`].
    pub kind: ColumnKind,
    /// Whether the column accepts `NULL`.
    pub nullable: bool,
    /// The default expression, if any.
    pub default: Option<String>,
    /// Whether the database generates the value (auto increment, identity, SQLite rowid alias).
    pub auto_increment: bool,
    /// Maximum length of character columns.
    pub max_length: Option<u32>,
    /// Precision of decimal columns.
    pub precision: Option<u32>,
    /// Scale of decimal columns.
    pub scale: Option<u32>,
}

/// A foreign key of a live table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    /// Columns in this table.
    pub columns: Vec<String>,
    /// The referenced table.
    pub referenced_table: String,
    /// The referenced columns, in the order of [`Self::columns`].
    pub referenced_columns: Vec<String>,
}

/// A live table: columns, keys and foreign keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableInfo {
    /// Table name.
    pub name: String,
    /// Columns in table order.
    pub columns: Vec<ColumnInfo>,
    /// Primary key columns.
    pub primary_key: Vec<String>,
    /// Unique keys (each a list of columns), the primary key excluded.
    pub unique_keys: Vec<Vec<String>>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
}

impl TableInfo {
    /// The column called `name`, if the table has one.
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Parses `(a)` or `(a,b)` arguments of a declared type such as `VARCHAR(255)` or `DECIMAL(8,2)`.
pub(crate) fn type_args(sql_type: &str) -> (Option<u32>, Option<u32>) {
    let Some(open) = sql_type.find('(') else {
        return (None, None);
    };
    let Some(close) = sql_type[open..].find(')') else {
        return (None, None);
    };
    let mut parts = sql_type[open + 1..open + close]
        .split(',')
        .map(|p| p.trim().parse::<u32>().ok());
    (parts.next().flatten(), parts.next().flatten())
}

impl ColumnInfo {
    /// Builds a column from a declared type, deriving kind, length, precision and scale from it.
    pub fn from_declared(
        name: &str,
        sql_type: &str,
        nullable: bool,
        default: Option<String>,
        auto_increment: bool,
    ) -> ColumnInfo {
        let kind = ColumnKind::from_sql_type(sql_type);
        let (a, b) = type_args(sql_type);
        let (max_length, precision, scale) = match kind {
            ColumnKind::String => (a, None, None),
            ColumnKind::Decimal => (None, a, b.or(a.map(|_| 0))),
            _ => (None, None, None),
        };
        ColumnInfo {
            name: name.to_string(),
            sql_type: sql_type.to_string(),
            kind,
            nullable,
            default,
            auto_increment,
            max_length,
            precision,
            scale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_classified_on_every_backend() {
        for (t, k) in [
            ("INTEGER", ColumnKind::Integer),
            ("bigint", ColumnKind::Integer),
            ("tinyint(1)", ColumnKind::Boolean),
            ("tinyint(4)", ColumnKind::Integer),
            ("BOOLEAN", ColumnKind::Boolean),
            ("character varying", ColumnKind::String),
            ("VARCHAR(255)", ColumnKind::String),
            ("DECIMAL(8,2)", ColumnKind::Decimal),
            ("numeric", ColumnKind::Decimal),
            ("double precision", ColumnKind::Float),
            ("timestamp without time zone", ColumnKind::DateTime),
            ("datetime(6)", ColumnKind::DateTime),
            ("date", ColumnKind::Date),
            ("jsonb", ColumnKind::Json),
            ("bytea", ColumnKind::Other),
        ] {
            assert_eq!(ColumnKind::from_sql_type(t), k, "{t}");
        }
    }

    #[test]
    fn declared_sizes_are_read() {
        let c = ColumnInfo::from_declared("rate", "DECIMAL(8,2)", false, None, false);
        assert_eq!((c.precision, c.scale), (Some(8), Some(2)));
        let c = ColumnInfo::from_declared("name", "VARCHAR(255)", false, None, false);
        assert_eq!(c.max_length, Some(255));
    }
}
