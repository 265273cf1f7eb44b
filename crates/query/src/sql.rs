//! The statement builder: SQL text, identifiers and bound values as pieces, which each
//! backend's driver quotes and binds in its own dialect.
//!
//! dynex-core builds its own statements (users, tokens, jobs…) with it too.

use std::borrow::Cow;

use dynex_schema::Value;

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

    /// The same statement with its identifiers quoted into the text as the driver of `dialect`
    /// quotes them ([`quote_ident`]): one text piece between two bound values.
    ///
    /// A statement kept to be run again is cloned this way without being rendered again, and
    /// the driver, which renders a statement to find its prepared form, walks a few pieces.
    pub fn quoted(&self, dialect: Dialect) -> Sql {
        let mut out = Sql::with_capacity(3);
        out.uncached = self.uncached;
        let mut quoted = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Sql(s) => {
                    out.push(s);
                }
                Piece::Ident(name) => {
                    quoted.clear();
                    quote_ident(dialect, name, &mut quoted);
                    out.push(&quoted);
                }
                Piece::Bind(v) => {
                    out.bind(v.clone());
                }
            }
        }
        out
    }

    /// The bound values in order.
    pub fn binds(&self) -> impl Iterator<Item = &Value> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Bind(v) => Some(v),
            _ => None,
        })
    }

    /// Puts `values` in place of the statement's bound values, in order, for a kept statement
    /// run again with other values; `false` (the statement partly rebound) unless it binds
    /// exactly as many.
    pub fn rebind(&mut self, values: impl IntoIterator<Item = Value>) -> bool {
        let mut values = values.into_iter();
        for piece in &mut self.pieces {
            if let Piece::Bind(bound) = piece {
                match values.next() {
                    Some(v) => *bound = v,
                    None => return false,
                }
            }
        }
        values.next().is_none()
    }
}

/// Appends `name` quoted as the driver of `dialect` quotes an identifier (diesel's
/// `push_identifier`): in backticks on SQLite and MariaDB, in double quotes on PostgreSQL, a
/// quote inside doubled.
pub fn quote_ident(dialect: Dialect, name: &str, out: &mut String) {
    let quote = if dialect == Dialect::Postgres {
        '"'
    } else {
        '`'
    };
    out.reserve(name.len() + 2);
    out.push(quote);
    for c in name.chars() {
        if c == quote {
            out.push(quote);
        }
        out.push(c);
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_is_rebound_only_with_as_many_values_as_it_binds() {
        let mut sql = Sql::default();
        sql.push("SELECT ")
            .bind(Value::Int(1))
            .push(", ")
            .bind(Value::Int(2));
        assert!(sql.rebind([Value::Int(3), Value::Text("x".into())]));
        assert_eq!(
            sql.binds().cloned().collect::<Vec<_>>(),
            [Value::Int(3), Value::Text("x".into())]
        );
        assert_eq!(sql.debug_text(), "SELECT ?, ?");
        assert!(!sql.rebind([Value::Int(4)]));
        assert!(!sql.rebind([Value::Int(5), Value::Int(6), Value::Int(7)]));
    }
}
