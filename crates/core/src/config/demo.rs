//! The demo catalog from `fixtures/demo`, compiled into the binary.

use dynex_query::Dialect;

use crate::config::introspect;
use crate::db::{AnyConnection, run_script};
use crate::error::CoreError;

/// The demo's entity configuration (Spryker installer format).
pub(crate) const CONFIGURATION: &str = include_str!("../../../../fixtures/demo/configuration.json");
const DATA: &str = include_str!("../../../../fixtures/demo/data.sql");
const POSTGRES_AFTER: &str = include_str!("../../../../fixtures/demo/data.postgres.after.sql");

fn schema(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => include_str!("../../../../fixtures/demo/schema.sqlite.sql"),
        Dialect::Postgres => include_str!("../../../../fixtures/demo/schema.postgres.sql"),
        Dialect::Mysql => include_str!("../../../../fixtures/demo/schema.mysql.sql"),
    }
}

/// Creates and fills the demo tables unless `spy_country` exists; returns whether it did.
pub(crate) fn load(conn: &mut AnyConnection, dialect: Dialect) -> Result<bool, CoreError> {
    if introspect::tables(conn, dialect)?
        .iter()
        .any(|t| t == "spy_country")
    {
        return Ok(false);
    }
    run_script(conn, schema(dialect))?;
    run_script(conn, DATA)?;
    if dialect == Dialect::Postgres {
        run_script(conn, POSTGRES_AFTER)?;
    }
    Ok(true)
}
