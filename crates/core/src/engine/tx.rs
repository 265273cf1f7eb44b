//! Write transactions with savepoints, driven by plain SQL.
//!
//! diesel's transaction manager cannot open SQLite's `BEGIN IMMEDIATE` through a
//! `MultiConnection`, and a write transaction that starts as a reader can fail to upgrade its
//! lock under concurrent writers. So write transactions are opened here: `BEGIN IMMEDIATE` on
//! SQLite (writers queue on the busy timeout instead of failing), `BEGIN` elsewhere.

use diesel::QueryResult;
use diesel::connection::SimpleConnection;
use dynex_query::Dialect;

use crate::db::AnyConnection;

/// An open write transaction; rolled back when dropped without [`Tx::commit`].
pub(crate) struct Tx<'c> {
    conn: &'c mut AnyConnection,
    open: bool,
    /// A savepoint inside a transaction the caller holds, instead of a transaction.
    nested: bool,
}

/// The statement that begins a write transaction in `dialect`.
pub(crate) fn begin_statement(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "BEGIN IMMEDIATE",
        Dialect::Postgres => "BEGIN",
        Dialect::Mysql => "START TRANSACTION",
    }
}

/// Runs a statement that opens or ends a transaction or a savepoint.
///
/// On MariaDB, diesel's `batch_execute` switches the session's multi-statement mode on before
/// the statement and off after it: three round trips. As a prepared statement, kept in the
/// connection's cache, it is one: a PATCH made 11 round trips to MariaDB, now 7.
pub(crate) fn control(conn: &mut AnyConnection, sql: &'static str) -> QueryResult<()> {
    #[cfg(feature = "mysql")]
    if let AnyConnection::Mysql(_) = conn {
        let mut statement = dynex_query::Sql::default();
        statement.push_static(sql);
        return crate::db::execute(conn, &statement).map(|_| ());
    }
    conn.batch_execute(sql)
}

impl<'c> Tx<'c> {
    /// Begins a write transaction.
    pub(crate) fn begin(conn: &'c mut AnyConnection, dialect: Dialect) -> QueryResult<Tx<'c>> {
        control(conn, begin_statement(dialect))?;
        Ok(Tx {
            conn,
            open: true,
            nested: false,
        })
    }

    /// Begins a savepoint inside the transaction already open on `conn` (an import that is
    /// all-or-nothing, or a dry run): committing it keeps its work for the outer transaction.
    pub(crate) fn nested(conn: &'c mut AnyConnection) -> QueryResult<Tx<'c>> {
        control(conn, "SAVEPOINT dynex_batch")?;
        Ok(Tx {
            conn,
            open: true,
            nested: true,
        })
    }

    /// Ends this transaction by committing or rolling back (one statement at a time: not every
    /// driver runs several in one call).
    fn end(&mut self, commit: bool) -> QueryResult<()> {
        let statements: &[&str] = match (self.nested, commit) {
            (false, true) => &["COMMIT"],
            (false, false) => &["ROLLBACK"],
            (true, true) => &["RELEASE SAVEPOINT dynex_batch"],
            (true, false) => &[
                "ROLLBACK TO SAVEPOINT dynex_batch",
                "RELEASE SAVEPOINT dynex_batch",
            ],
        };
        for sql in statements {
            if let Err(e) = control(self.conn, sql) {
                // The transaction's state is unknown: the connection must not serve another
                // request, which could find it still open.
                crate::session::discard_on_return();
                return Err(e);
            }
        }
        Ok(())
    }

    /// The connection, inside the transaction.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        self.conn
    }

    /// Runs `f` in a savepoint: its changes are kept when it succeeds and undone when it fails,
    /// and the transaction stays usable either way (PostgreSQL would otherwise refuse every
    /// later statement).
    pub(crate) fn savepoint<R>(
        &mut self,
        f: impl FnOnce(&mut AnyConnection) -> QueryResult<R>,
    ) -> QueryResult<R> {
        control(self.conn, "SAVEPOINT dynex_row")?;
        match f(self.conn) {
            Ok(r) => {
                control(self.conn, "RELEASE SAVEPOINT dynex_row")?;
                Ok(r)
            }
            Err(e) => {
                control(self.conn, "ROLLBACK TO SAVEPOINT dynex_row")?;
                control(self.conn, "RELEASE SAVEPOINT dynex_row")?;
                Err(e)
            }
        }
    }

    /// Commits.
    pub(crate) fn commit(mut self) -> QueryResult<()> {
        self.open = false;
        self.end(true)
    }

    /// Rolls back.
    pub(crate) fn rollback(mut self) -> QueryResult<()> {
        self.open = false;
        self.end(false)
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            // The connection returns to the pool; it must not carry an open transaction.
            if let Err(e) = self.end(false) {
                log::warn!("rollback of an abandoned transaction failed: {e}");
            }
        }
    }
}
