//! Write hooks: code an embedding application runs before and after rows are written.
//!
//! Spryker offers post-create and post-update plugins only; dynex adds a before-write hook that
//! may adjust or reject rows. Register an implementation with [`crate::Dynex::set_hooks`].
//!
//! * [`WriteHooks::before_write`] sees the rows of one table about to be created, updated or
//!   deleted, keyed by physical column names. It may change values (also of columns the API
//!   does not expose) or reject single rows; a rejected row fails with code 1324.
//! * [`WriteHooks::after_write`] is called once per table and operation with the rows as saved,
//!   inside the request's transaction and on its connection, so it can write derived data, and
//!   an error rolls the request back (in non-transactional mode: the rows it names, or all rows
//!   of that call).
//!
//! A request may be attempted more than once (after a deadlock, or to find which row the
//! database refused), so hooks can be called again for the same rows; anything a hook writes
//! through the connection is rolled back with the attempt. Side effects outside the database
//! belong after the response.

use dynex_schema::Value;
use serde_json::{Map, Value as Json};

use crate::db::AnyConnection;

/// What happens to the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// New rows (POST, and PUT of rows that did not exist).
    Create,
    /// Changed rows (PATCH, and PUT of rows that existed).
    Update,
    /// Removed rows (DELETE).
    Delete,
}

/// One row about to be written: physical column names and the values to write.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingRow {
    /// The columns to write (for updates: the columns that change; for deletes: the row's
    /// identifier). Changing or adding entries changes what is written.
    pub columns: Vec<(String, Value)>,
    /// The identifier of the row being updated or deleted.
    pub key: Option<Value>,
}

impl PendingRow {
    /// The value that will be written to `column`, if any.
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.columns
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| v)
    }

    /// Sets the value written to `column` (a column of the entity's table).
    pub fn set(&mut self, column: &str, value: Value) {
        match self.columns.iter_mut().find(|(c, _)| c == column) {
            Some(slot) => slot.1 = value,
            None => self.columns.push((column.to_string(), value)),
        }
    }
}

/// A hook's refusal: of one row (by its index in the call) or of the whole call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookError {
    /// The index of the refused row in the rows passed, or `None` for all of them.
    pub row: Option<usize>,
    /// The explanation given to the client.
    pub message: String,
}

impl HookError {
    /// Refuses the row at `index`.
    pub fn row(index: usize, message: impl Into<String>) -> HookError {
        HookError {
            row: Some(index),
            message: message.into(),
        }
    }

    /// Refuses every row of the call.
    pub fn all(message: impl Into<String>) -> HookError {
        HookError {
            row: None,
            message: message.into(),
        }
    }
}

/// The rows of one table passed to a hook.
#[derive(Debug)]
pub struct Batch<'a, R> {
    /// The entity's alias.
    pub alias: &'a str,
    /// The physical table.
    pub table: &'a str,
    /// What happens to the rows.
    pub operation: Operation,
    /// The rows.
    pub rows: &'a mut [R],
}

/// Code run around writes; every method has a default that does nothing.
pub trait WriteHooks: Send + Sync + 'static {
    /// Called before rows of one table are written, with the values about to be written.
    /// Return errors for the rows to refuse; the others are written as (possibly) changed.
    fn before_write(&self, batch: Batch<'_, PendingRow>) -> Vec<HookError> {
        let _ = batch;
        Vec::new()
    }

    /// Called after rows of one table were written, inside the transaction, with the rows as
    /// saved (every configured field, by physical column name; for deletes, the rows as they
    /// were). An error rolls back the rows it names (or all rows of the call).
    fn after_write(
        &self,
        conn: &mut AnyConnection,
        batch: Batch<'_, Map<String, Json>>,
    ) -> Result<(), HookError> {
        let _ = (conn, batch);
        Ok(())
    }
}
