//! Rendering reads to SQL per dialect, and decoding the rows they return.
//!
//! Each row comes back as one JSON array text column built by the database (`json_array`,
//! `json_build_array`, `JSON_ARRAY`), so one row type serves every entity on every backend.

use std::borrow::Cow;

use dynex_schema::{
    ColumnKind, Entity, Field, FieldType, Value, format_decimal, normalize_datetime,
};
use serde_json::{Map, Value as Json};

use crate::parse::{Condition, Page, PatternPart};
use crate::sort::{Keyset, Sort, nullable};
use crate::write::write_cast;

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
    /// SQL text written by dynex, never containing user input; the separators of a statement
    /// with many rows are borrowed, so that rendering costs no allocation per row.
    Sql(Cow<'static, str>),
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
            Some(Piece::Sql(s)) => s.to_mut().push_str(sql),
            _ => self.pieces.push(Piece::Sql(Cow::Owned(sql.to_string()))),
        }
        self
    }

    /// Appends constant SQL text; after a value it is kept without a copy.
    pub fn push_static(&mut self, sql: &'static str) -> &mut Self {
        match self.pieces.last_mut() {
            Some(Piece::Sql(s)) => s.to_mut().push_str(sql),
            _ => self.pieces.push(Piece::Sql(Cow::Borrowed(sql))),
        }
        self
    }

    /// An empty statement with room for `pieces` pieces.
    pub fn with_capacity(pieces: usize) -> Sql {
        Sql {
            pieces: Vec::with_capacity(pieces),
            uncached: false,
        }
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
                Piece::Sql(s) => s.to_string(),
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
    from_where_order(&mut sql, dialect, s, order);
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
    from_where_order(&mut sql, dialect, s, order);
    sql
}

/// A column of `entity` read as text: `CAST(col AS TEXT)` in the dialect's spelling.
///
/// SQLite reads the bare column: its driver asks for every column as text, which converts a
/// number exactly as `CAST` does, and `CAST` would copy every text value first. MariaDB reads a
/// character column bare too: it is sent as text in the connection's character set either
/// way, and `CAST(… AS CHAR)` made the server copy every value (40% of an export's time).
fn text_column(sql: &mut Sql, dialect: Dialect, entity: &Entity, col: &str) {
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

/// The text of a field's wire value, from the text of its column ([`select_cells`]): what
/// [`decode_row`] makes of the column, written as a CSV cell (`None`, SQL `NULL`, is empty).
pub fn cell_text<'r>(field: &Field, raw: Option<&'r str>) -> Cow<'r, str> {
    let Some(raw) = raw else {
        return Cow::Borrowed("");
    };
    match field.ty {
        FieldType::Boolean => {
            let on = match raw.parse::<f64>() {
                Ok(n) => n != 0.0,
                Err(_) => matches!(raw, "t" | "true" | "TRUE"),
            };
            Cow::Borrowed(if on { "true" } else { "false" })
        }
        FieldType::Decimal => match field.validation.scale {
            Some(scale) => Cow::Owned(format_decimal(raw, scale)),
            None => Cow::Borrowed(raw),
        },
        FieldType::DateTime => normalize_datetime(raw).map_or(Cow::Borrowed(raw), Cow::Owned),
        FieldType::Date => Cow::Borrowed(raw.get(..10).unwrap_or(raw)),
        // As JSON values: numbers in their shortest form, JSON documents compact.
        FieldType::Float => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Cow::Borrowed(raw), |n| Cow::Owned(n.to_string())),
        FieldType::Json => serde_json::from_str::<Json>(raw)
            .map(|v| match v {
                Json::String(s) => Cow::Owned(s),
                other => Cow::Owned(other.to_string()),
            })
            .unwrap_or(Cow::Borrowed(raw)),
        FieldType::Integer | FieldType::String => Cow::Borrowed(raw),
    }
}

/// The wire value of a field from the text of its column ([`select_cells`]).
///
/// It is what [`decode_row`] makes of the column's JSON: what [`cell_text`] writes, typed (a
/// number, a boolean, a JSON document) where the field's type is not text. Rows to compare are
/// read this way without a JSON document per row; the text is moved into the value where it is
/// kept as it is.
pub fn cell_value(field: &Field, raw: Option<String>) -> Json {
    let Some(raw) = raw else {
        return Json::Null;
    };
    match field.ty {
        FieldType::Integer => raw.parse::<i64>().map_or(Json::String(raw), Json::from),
        FieldType::Float => match raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            Some(n) => Json::Number(n),
            None => Json::String(raw),
        },
        FieldType::Boolean => Json::Bool(cell_text(field, Some(&raw)) == "true"),
        FieldType::Json => serde_json::from_str(&raw).unwrap_or(Json::String(raw)),
        FieldType::String => Json::String(raw),
        FieldType::Decimal | FieldType::DateTime | FieldType::Date => {
            let text = cell_text(field, Some(&raw));
            if matches!(text, Cow::Borrowed(t) if t.len() == raw.len()) {
                Json::String(raw)
            } else {
                Json::String(text.into_owned())
            }
        }
    }
}

/// The `FROM` clause of a read with its conditions, order and page.
fn from_where_order(sql: &mut Sql, dialect: Dialect, s: &Select<'_>, order: &[Sort]) {
    sql.push(" FROM ");
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
        sql.push(") AS dynex_page ORDER BY ");
        order_by(sql, dialect, s.entity, order);
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

/// The expression a field is sorted and compared by: its column, except where the column's
/// own order and its comparison with a bound value could disagree. Those are taken as text: a
/// MariaDB `ENUM` or `SET` (sorted by the position of its values, compared with text as text)
/// and a PostgreSQL column of a type dynex does not know (an enum, `citext`: a text parameter
/// may not compare with it at all).
fn sort_expr(sql: &mut Sql, dialect: Dialect, entity: &Entity, index: usize) {
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
fn key_expr(sql: &mut Sql, dialect: Dialect, entity: &Entity, index: usize) {
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
fn compare_value(sql: &mut Sql, dialect: Dialect, entity: &Entity, index: usize, value: &Value) {
    match compare_cast(dialect, entity, index) {
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

/// `key = value`, or `key IS NULL`.
fn key_equals(sql: &mut Sql, dialect: Dialect, entity: &Entity, index: usize, value: &Value) {
    sort_expr(sql, dialect, entity, index);
    if *value == Value::Null {
        sql.push(" IS NULL");
    } else {
        sql.push(" = ");
        compare_value(sql, dialect, entity, index, value);
    }
}

/// The rows strictly after `value` on one key, `NULL` being the smallest value.
fn key_after(sql: &mut Sql, dialect: Dialect, entity: &Entity, key: Sort, value: &Value) {
    match (*value == Value::Null, key.descending) {
        (true, false) => {
            sort_expr(sql, dialect, entity, key.field);
            sql.push(" IS NOT NULL");
        }
        (false, false) => {
            sort_expr(sql, dialect, entity, key.field);
            sql.push(" > ");
            compare_value(sql, dialect, entity, key.field, value);
        }
        (false, true) if nullable(entity, key.field) => {
            sql.push("(");
            sort_expr(sql, dialect, entity, key.field);
            sql.push(" < ");
            compare_value(sql, dialect, entity, key.field, value);
            sql.push(" OR ");
            sort_expr(sql, dialect, entity, key.field);
            sql.push(" IS NULL)");
        }
        (false, true) => {
            sort_expr(sql, dialect, entity, key.field);
            sql.push(" < ");
            compare_value(sql, dialect, entity, key.field, value);
        }
        // Nothing comes after NULL in descending order; the caller leaves the term out.
        (true, true) => {
            sql.push("1 = 0");
        }
    }
}

/// The rows after a position: `(k1 after v1) OR (k1 = v1 AND k2 after v2) OR …`, behind a
/// bound on the first key (`k1 >= v1 AND (…)`).
///
/// Row-value comparisons (`(a, b) > (?, ?)`) would be shorter, but they cannot mix directions
/// and treat `NULL` as unknown; the chain handles both the same way on every backend. No
/// backend turns the chain's `OR` into a range of an index, so without the bound, which says
/// the same as the chain's first key, the database reads the index from its start up to the
/// position: a deep page cost as much as an `OFFSET`.
fn keyset_after(sql: &mut Sql, dialect: Dialect, entity: &Entity, keyset: &Keyset) {
    let n = keyset.keys.len().min(keyset.values.len());
    let bounded = n > 1 && keyset.values[0] != Value::Null;
    if bounded {
        let key = keyset.keys[0];
        let value = &keyset.values[0];
        sql.push("(");
        let nulls_after = key.descending && nullable(entity, key.field);
        if nulls_after {
            sql.push("(");
        }
        sort_expr(sql, dialect, entity, key.field);
        sql.push(if key.descending { " <= " } else { " >= " });
        compare_value(sql, dialect, entity, key.field, value);
        if nulls_after {
            sql.push(" OR ");
            sort_expr(sql, dialect, entity, key.field);
            sql.push(" IS NULL)");
        }
        sql.push(" AND ");
    }
    keyset_chain(sql, dialect, entity, keyset, n);
    if bounded {
        sql.push(")");
    }
}

/// The chain of [`keyset_after`] over the first `n` keys.
fn keyset_chain(sql: &mut Sql, dialect: Dialect, entity: &Entity, keyset: &Keyset, n: usize) {
    let mut terms = 0;
    sql.push("(");
    for i in 0..n {
        let key = keyset.keys[i];
        let value = &keyset.values[i];
        if *value == Value::Null && key.descending {
            continue;
        }
        if terms > 0 {
            sql.push(" OR ");
        }
        terms += 1;
        if i > 0 {
            sql.push("(");
        }
        for j in 0..i {
            key_equals(
                sql,
                dialect,
                entity,
                keyset.keys[j].field,
                &keyset.values[j],
            );
            sql.push(" AND ");
        }
        key_after(sql, dialect, entity, key, value);
        if i > 0 {
            sql.push(")");
        }
    }
    if terms == 0 {
        sql.push("1 = 0");
    }
    sql.push(")");
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

/// [`row_json`] of `fields` (all when `None`), followed by the values of the keys of `order`.
fn row_json_with_keys(
    sql: &mut Sql,
    dialect: Dialect,
    entity: &Entity,
    fields: Option<&[usize]>,
    extra_columns: &[String],
    order: &[Sort],
) {
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
    let chunks: Vec<_> = columns.chunks(CHUNK).collect();
    let list = |sql: &mut Sql, chunk: &[Column<'_>], sep: &str| {
        for (i, c) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(sep);
            }
            match *c {
                Column::Field(ty, col) => column_expr(sql, dialect, Some(ty), col),
                Column::Raw(col) => column_expr(sql, dialect, None, col),
                Column::Key(index) => key_expr(sql, dialect, entity, index),
            }
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

/// The PostgreSQL element type of an array of values like `value`, compared with a column as
/// [`field_rhs`] compares one value.
fn array_type(value: &Value) -> &'static str {
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
    condition_at(sql, dialect, entity, c, 0);
}

/// The name the table of the entity at `depth` goes by: the table itself at the top, an alias
/// in the subqueries of relation filters (`dynex_r1`, `dynex_r2`…).
fn scope(sql: &mut Sql, entity: &Entity, depth: usize) {
    if depth == 0 {
        sql.ident(entity.table());
    } else {
        sql.ident(&format!("dynex_r{depth}"));
    }
}

/// A condition on `entity`, whose table is in scope as [`scope`] names it at `depth`.
fn condition_at(sql: &mut Sql, dialect: Dialect, entity: &Entity, c: &Condition, depth: usize) {
    let (index, values, single) = match c {
        Condition::Eq(i, v) => (*i, std::slice::from_ref(v), true),
        Condition::In(i, vs) => (*i, vs.as_slice(), false),
        Condition::After(keyset) => {
            keyset_after(sql, dialect, entity, keyset);
            return;
        }
        Condition::AtLeast(i, v) => {
            sql.push("(");
            sort_expr(sql, dialect, entity, *i);
            sql.push(" >= ");
            compare_value(sql, dialect, entity, *i, v);
            sql.push(")");
            return;
        }
        Condition::NotIn(i, vs) => {
            not_in(sql, dialect, entity, *i, vs);
            return;
        }
        Condition::Compare(i, op, v) => {
            let field = &entity.fields()[*i];
            sql.push("(");
            field_lhs(sql, dialect, field.ty, &field.field_name);
            sql.push(" ").push(op.sql()).push(" ");
            field_rhs(sql, dialect, v);
            sql.push(")");
            return;
        }
        Condition::Like {
            field,
            pattern,
            case_insensitive,
        } => {
            like(sql, dialect, entity, *field, pattern, *case_insensitive);
            return;
        }
        Condition::IsNull(i, null) => {
            sql.push("(")
                .ident(&entity.fields()[*i].field_name)
                .push(if *null { " IS NULL)" } else { " IS NOT NULL)" });
            return;
        }
        Condition::Any(groups) => {
            sql.push("(");
            for (g, group) in groups.iter().enumerate() {
                if g > 0 {
                    sql.push(" OR ");
                }
                sql.push("(");
                for (i, c) in group.iter().enumerate() {
                    if i > 0 {
                        sql.push(" AND ");
                    }
                    condition_at(sql, dialect, entity, c, depth);
                }
                if group.is_empty() {
                    sql.push("1 = 1");
                }
                sql.push(")");
            }
            if groups.is_empty() {
                sql.push("1 = 0");
            }
            sql.push(")");
            return;
        }
        Condition::Related(related) => {
            related_exists(sql, dialect, entity, related, depth);
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
        } else if dialect == Dialect::Postgres {
            // One array parameter instead of a list: PostgreSQL plans a long `IN` list as a
            // scan of the whole table, and `= ANY` of an array as lookups in an index.
            sql.push(" = ANY(CAST(")
                .bind(Value::Text(crate::write::array_literal(
                    non_null.iter().copied(),
                )))
                .push(" AS ")
                .push(array_type(non_null[0]))
                .push("[]))");
        } else {
            let (start, separator, end) = in_list(dialect);
            sql.push(start);
            for (i, v) in non_null.iter().enumerate() {
                if i > 0 {
                    sql.push(separator);
                }
                field_rhs(sql, dialect, v);
            }
            sql.push(end);
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

/// `EXISTS` a child row of the relation, joined on its key columns, matching the conditions.
///
/// The child table is aliased (`dynex_r1`…) so that a relation of an entity to its own table
/// still tells the child's columns from the parent's; the child's conditions name its columns
/// unqualified, which SQL resolves to the innermost table.
fn related_exists(
    sql: &mut Sql,
    dialect: Dialect,
    entity: &Entity,
    related: &crate::parse::Related,
    depth: usize,
) {
    let Some(relation) = entity.relation(&related.relation) else {
        sql.push("(1 = 0)");
        return;
    };
    let inner = depth + 1;
    let alias = format!("dynex_r{inner}");
    sql.push("EXISTS (SELECT 1 FROM ")
        .ident(related.child.table())
        .push(" AS ")
        .ident(&alias)
        .push(" WHERE ");
    for (i, m) in relation.relation_field_mappings.iter().enumerate() {
        if i > 0 {
            sql.push(" AND ");
        }
        sql.ident(&alias)
            .push(".")
            .ident(&m.child_field_name)
            .push(" = ");
        scope(sql, entity, depth);
        sql.push(".").ident(&m.parent_field_name);
    }
    for c in &related.conditions {
        sql.push(" AND ");
        condition_at(sql, dialect, &related.child, c, inner);
    }
    sql.push(")");
}

/// `field NOT IN (values)`: `NULL` never matches (a `NULL` among the values changes nothing).
fn not_in(sql: &mut Sql, dialect: Dialect, entity: &Entity, index: usize, values: &[Value]) {
    let field = &entity.fields()[index];
    let non_null: Vec<&Value> = values.iter().filter(|v| **v != Value::Null).collect();
    sql.push("(");
    if non_null.is_empty() {
        if values.is_empty() {
            sql.push("1 = 1");
        } else {
            sql.ident(&field.field_name).push(" IS NOT NULL");
        }
    } else if dialect == Dialect::Postgres {
        field_lhs(sql, dialect, field.ty, &field.field_name);
        sql.push(" <> ALL(CAST(")
            .bind(Value::Text(crate::write::array_literal(
                non_null.iter().copied(),
            )))
            .push(" AS ")
            .push(array_type(non_null[0]))
            .push("[]))");
    } else {
        field_lhs(sql, dialect, field.ty, &field.field_name);
        sql.push(" NOT IN (");
        for (i, v) in non_null.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            field_rhs(sql, dialect, v);
        }
        sql.push(")");
    }
    sql.push(")");
}

/// `like` and `ilike`: case-sensitive `LIKE` on every backend (SQLite's `LIKE` ignores the
/// case of ASCII letters, so a `GLOB` there; MariaDB compares in a binary collation), and
/// `ilike` ignoring case (SQLite folds ASCII letters only).
///
/// The pattern is rewritten with `!` as the escape character: backslashes mean different
/// things in the string literals of each backend, `!` in none.
fn like(
    sql: &mut Sql,
    dialect: Dialect,
    entity: &Entity,
    index: usize,
    pattern: &[PatternPart],
    case_insensitive: bool,
) {
    let col = &entity.fields()[index].field_name;
    sql.push("(");
    match (dialect, case_insensitive) {
        (Dialect::Sqlite, false) => {
            sql.ident(col)
                .push(" GLOB ")
                .bind(Value::Text(glob(pattern)));
        }
        (Dialect::Sqlite, true) => {
            sql.ident(col).push(" LIKE ");
            sql.bind(Value::Text(escaped_like(pattern)))
                .push(" ESCAPE '!'");
        }
        (Dialect::Postgres, ci) => {
            sql.push("CAST(").ident(col).push(if ci {
                " AS TEXT) ILIKE "
            } else {
                " AS TEXT) LIKE "
            });
            sql.bind(Value::Text(escaped_like(pattern)))
                .push(" ESCAPE '!'");
        }
        (Dialect::Mysql, ci) => {
            sql.push("CONVERT(").ident(col).push(if ci {
                " USING utf8mb4) COLLATE utf8mb4_unicode_ci LIKE "
            } else {
                " USING utf8mb4) COLLATE utf8mb4_bin LIKE "
            });
            sql.bind(Value::Text(escaped_like(pattern)))
                .push(" ESCAPE '!'");
        }
    }
    sql.push(")");
}

/// A pattern as `LIKE … ESCAPE '!'` text.
fn escaped_like(pattern: &[PatternPart]) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    for p in pattern {
        match *p {
            PatternPart::AnyRun => out.push('%'),
            PatternPart::AnyOne => out.push('_'),
            PatternPart::Literal(c @ ('%' | '_' | '!')) => {
                out.push('!');
                out.push(c);
            }
            PatternPart::Literal(c) => out.push(c),
        }
    }
    out
}

/// A pattern as SQLite `GLOB` text: `*` and `?` for the wildcards, brackets around literal
/// `*`, `?` and `[`.
fn glob(pattern: &[PatternPart]) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    for p in pattern {
        match *p {
            PatternPart::AnyRun => out.push('*'),
            PatternPart::AnyOne => out.push('?'),
            PatternPart::Literal(c @ ('*' | '?' | '[')) => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            PatternPart::Literal(c) => out.push(c),
        }
    }
    out
}

/// The start, separator and end of `column IN (values)`. SQLite gets the values as a `VALUES`
/// list: an `IN` list of parameters on an indexed column makes SQLite (with STAT4 statistics)
/// prepare the statement again for every new set of values, which costs more than the lookup
/// itself; the two forms compare with the same affinity.
fn in_list(dialect: Dialect) -> (&'static str, &'static str, &'static str) {
    if dialect == Dialect::Sqlite {
        (" IN (VALUES (", "), (", "))")
    } else {
        (" IN (", ", ", ")")
    }
}

/// `column IN (…)` (or `(a, b) IN ((…), …)`) of the key tuples; on PostgreSQL a single column
/// takes one array parameter, so the statement text is the same for any number of keys.
pub(crate) fn key_condition(
    sql: &mut Sql,
    dialect: Dialect,
    columns: &[String],
    tuples: &[Vec<Value>],
) {
    if tuples.is_empty() {
        sql.push("1 = 0");
        return;
    }
    if columns.len() == 1 && dialect == Dialect::Postgres {
        let values = || tuples.iter().map(|t| &t[0]);
        let element = values()
            .find(|v| **v != Value::Null)
            .map_or("TEXT", array_type);
        sql.ident(&columns[0])
            .push(" = ANY(CAST(")
            .bind(Value::Text(crate::write::array_literal(values())))
            .push(" AS ")
            .push(element)
            .push("[]))");
        return;
    }
    if columns.len() == 1 {
        let (start, separator, end) = in_list(dialect);
        sql.ident(&columns[0]).push(start);
        for (i, t) in tuples.iter().enumerate() {
            if i > 0 {
                sql.push(separator);
            }
            sql.bind(t[0].clone());
        }
        sql.push(end);
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
    decode_fields(entity, None, row_json)
}

/// [`decode_row`] of a row read with [`Select::fields`] `fields`.
pub fn decode_fields(
    entity: &Entity,
    fields: Option<&[usize]>,
    row_json: &str,
) -> Result<(Map<String, Json>, Vec<Json>), String> {
    let (values, extras) = decode_values(entity, fields, row_json)?;
    let object = selected(entity, fields)
        .into_iter()
        .zip(values)
        .map(|(field, v)| (field.field_visible_name.clone(), v))
        .collect();
    Ok((object, extras))
}

/// [`decode_fields`] without the names: the wire values by position, then the extra columns.
///
/// The values are those of the fields read: every field in the entity's order, or `fields`.
/// Matching many rows by position costs no object per row.
pub fn decode_values(
    entity: &Entity,
    fields: Option<&[usize]>,
    row_json: &str,
) -> Result<(Vec<Json>, Vec<Json>), String> {
    let values: Vec<Json> =
        serde_json::from_str(row_json).map_err(|e| format!("row is not a JSON array: {e}"))?;
    let fields = selected(entity, fields);
    if values.len() < fields.len() {
        return Err(format!(
            "row has {} values, the entity {} fields",
            values.len(),
            fields.len()
        ));
    }
    let mut values = values.into_iter();
    let converted = fields
        .iter()
        .zip(values.by_ref())
        .map(|(field, v)| output(field.ty, field.validation.scale, v))
        .collect();
    Ok((converted, values.collect()))
}

/// The fields a read returns: `fields`, or every field of the entity.
fn selected<'e>(entity: &'e Entity, fields: Option<&[usize]>) -> Vec<&'e Field> {
    let all = entity.fields();
    match fields {
        Some(indexes) => indexes.iter().filter_map(|&i| all.get(i)).collect(),
        None => all.iter().collect(),
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
             FROM (SELECT * FROM \"t\" WHERE (\"rate\" = CAST(? AS NUMERIC)) AND (\"id\" = ANY(CAST(? AS BIGINT[])) OR \"id\" IS NULL) \
             ORDER BY \"id\" LIMIT 10 OFFSET ?) AS dynex_page ORDER BY \"id\""
        );
        assert_eq!(sql.binds().nth(1), Some(&Value::Text("{\"1\"}".into())));
        assert_eq!(sql.binds().count(), 3);
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

    /// A field `c` of type `ty` with a decimal `scale`.
    fn field(ty: &str, scale: Option<u32>) -> Field {
        let mut f: Field = serde_json::from_value(serde_json::json!({
            "fieldName": "c", "fieldVisibleName": "c", "type": ty
        }))
        .unwrap();
        f.validation.scale = scale;
        f
    }

    #[test]
    fn cells_are_the_text_of_wire_values() {
        let cell =
            |ty: &str, scale, raw: Option<&str>| cell_text(&field(ty, scale), raw).into_owned();
        // Booleans as each backend writes them: PostgreSQL `true`, SQLite and MariaDB `1`.
        assert_eq!(cell("boolean", None, Some("true")), "true");
        assert_eq!(cell("boolean", None, Some("1")), "true");
        assert_eq!(cell("boolean", None, Some("0")), "false");
        assert_eq!(cell("boolean", None, Some("f")), "false");
        assert_eq!(cell("decimal", Some(2), Some("20")), "20.00");
        assert_eq!(cell("decimal", None, Some("20.5")), "20.5");
        // Floats as serde_json writes the number the JSON path decodes.
        let big = serde_json::Number::from_f64(1e20).unwrap().to_string();
        assert_eq!(cell("float", None, Some("100000000000000000000")), big);
        assert_eq!(cell("float", None, Some("0.10000000000000001")), "0.1");
        assert_eq!(cell("json", None, Some("{\"a\": [1, 2]}")), "{\"a\":[1,2]}");
        assert_eq!(cell("json", None, Some("\"text\"")), "text");
        assert_eq!(
            cell("date", None, Some("2024-01-02 00:00:00")),
            "2024-01-02"
        );
        assert_eq!(
            cell("datetime", None, Some("2024-01-02T03:04:05")),
            "2024-01-02 03:04:05"
        );
        assert_eq!(cell("string", None, Some(" a, b ")), " a, b ");
        assert_eq!(cell("integer", None, None), "");
        // Exactly what a row read as JSON becomes.
        let e = entity(3);
        let (object, _) = decode_row(&e, r#"[7, "20", 1]"#).unwrap();
        for (i, raw) in ["7", "20", "1"].iter().enumerate() {
            let f = &e.fields()[i];
            let wire = match &object[&f.field_visible_name] {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(cell_text(f, Some(raw)), wire, "{}", f.field_name);
        }
    }

    #[test]
    fn cell_values_are_the_wire_values_of_the_json_read() {
        // (type, scale, the column as text, the column as the JSON read has it)
        let cases: [(&str, Option<u32>, &str, Json); 15] = [
            ("integer", None, "42", Json::from(42)),
            ("integer", None, "-7", Json::from("-7")),
            ("float", None, "1.5", Json::from(1.5)),
            ("float", None, "100000000000000000000", Json::from(1e20)),
            ("boolean", None, "1", Json::from(1)),
            ("boolean", None, "0", Json::from(0)),
            ("boolean", None, "true", Json::from("true")),
            ("boolean", None, "f", Json::from("f")),
            ("decimal", Some(2), "20.5", Json::from("20.5")),
            ("decimal", None, "20.50", Json::from("20.50")),
            (
                "datetime",
                None,
                "2024-01-02T03:04:05",
                Json::from("2024-01-02T03:04:05"),
            ),
            (
                "date",
                None,
                "2024-01-02 00:00:00",
                Json::from("2024-01-02 00:00:00"),
            ),
            (
                "json",
                None,
                "{\"a\": [1, 2]}",
                Json::from("{\"a\": [1, 2]}"),
            ),
            ("json", None, "not json", Json::from("not json")),
            ("string", None, " a, b ", Json::from(" a, b ")),
        ];
        for (ty, scale, text, stored) in cases {
            let f = field(ty, scale);
            assert_eq!(
                cell_value(&f, Some(text.to_string())),
                output(f.ty, scale, stored),
                "{ty} {text}"
            );
        }
        assert_eq!(cell_value(&field("integer", None), None), Json::Null);
        assert_eq!(cell_value(&field("string", None), None), Json::Null);
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

    /// A read of every row and field of `e`, unlocked.
    fn every_row(e: &Entity) -> Select<'_> {
        Select {
            entity: e,
            fields: None,
            conditions: &[],
            keys: None,
            extra_columns: &[],
            page: None,
            lock: false,
        }
    }

    /// Products with a nullable decimal price, a nullable SKU and a NOT NULL timestamp, with
    /// the live table attached when `table` says so.
    fn products(table: Option<&[(&str, &str, bool)]>) -> Entity {
        let json = r#"{"tableName":"p","tableAlias":"products","definition":{"identifier":"id","fields":[
            {"fieldName":"id","fieldVisibleName":"id","type":"integer"},
            {"fieldName":"sku","fieldVisibleName":"sku","type":"string"},
            {"fieldName":"price","fieldVisibleName":"price","type":"decimal"},
            {"fieldName":"updated_at","fieldVisibleName":"updated_at","type":"string"}]}}"#;
        let e = Entity::new(EntityConfig::parse_many(json).unwrap().remove(0)).unwrap();
        match table {
            None => e,
            Some(columns) => e.with_table(dynex_schema::TableInfo {
                name: "p".into(),
                columns: columns
                    .iter()
                    .map(|(n, t, null)| {
                        dynex_schema::ColumnInfo::from_declared(n, t, *null, None, false)
                    })
                    .collect(),
                primary_key: vec!["id".into()],
                unique_keys: vec![],
                foreign_keys: vec![],
            }),
        }
    }

    fn after(dialect: Dialect, e: &Entity, keys: &[Sort], values: Vec<Value>) -> String {
        let mut sql = Sql::default();
        let keyset = Keyset {
            keys: keys.to_vec(),
            values,
        };
        condition(&mut sql, dialect, e, &Condition::After(keyset));
        sql.debug_text()
    }

    #[test]
    fn identifier_order_pages_after_the_last_identifier() {
        let e = products(None);
        let keys = crate::order_keys(&e, &[]);
        for d in [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql] {
            assert_eq!(after(d, &e, &keys, vec![Value::Int(7)]), "(\"id\" > ?)");
        }
    }

    #[test]
    fn keysets_chain_equal_prefixes_per_dialect() {
        let e = products(None);
        let keys = crate::order_keys(&e, &[Sort::desc(2), Sort::asc(1)]);
        let values = || {
            vec![
                Value::Text("20.00".into()),
                Value::Text("a".into()),
                Value::Int(7),
            ]
        };
        // The chain behind a bound on the first key that an index range can serve.
        let chain = |v: &str| {
            format!(
                "((\"price\" <= {v} OR \"price\" IS NULL) AND \
                 ((\"price\" < {v} OR \"price\" IS NULL) OR (\"price\" = {v} AND \"sku\" > ?) \
                 OR (\"price\" = {v} AND \"sku\" = ? AND \"id\" > ?)))"
            )
        };
        assert_eq!(after(Dialect::Sqlite, &e, &keys, values()), chain("?"));
        assert_eq!(
            after(Dialect::Postgres, &e, &keys, values()),
            chain("CAST(? AS NUMERIC)")
        );
        assert_eq!(
            after(Dialect::Mysql, &e, &keys, values()),
            chain("CAST(? AS DECIMAL(65,30))")
        );
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
             AND \"id\" > ?))"
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
