//! SQLite reads run on a connection's own handle, without diesel's value-by-value access.
//!
//! diesel reads a row through a chain of wrappers per value (the row behind a reference-counted
//! cell, a field, a value whose type it asks twice, a UTF-8 check twice per text), and finds its
//! prepared statement by rendering the statement's text again at every execution: a page of 20
//! rows of eight columns cost 26,000 instructions more through it (373,200 against 347,000 per
//! request, of which SQLite's own step is 126,000).
//!
//! [`opened`] runs diesel's `establish` and keeps the handle of the connection it opened (an
//! automatic extension, which SQLite calls with the handle of every connection the process
//! opens, hands it over on the same thread). A [`Reader`] on that handle prepares each
//! statement once, keeps it by its text, binds values, and hands each row to a callback as
//! SQLite stores its values ([`Column`]). It only reads: it runs what it is given on the
//! connection as it is, in the connection's transaction if one is open, and leaves no
//! statement running. It must be dropped before its connection is closed.

use std::cell::Cell;
use std::collections::HashMap;
use std::ptr::NonNull;

use libsqlite3_sys as ffi;

/// A value bound to a parameter of a statement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bind<'a> {
    /// SQL `NULL`.
    Null,
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Float(f64),
    /// Text.
    Text(&'a str),
}

/// A value of a row, as SQLite stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Column<'a> {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// A double, as the text SQLite writes of it (what `sqlite3_column_text` answers).
    Real(&'a str),
    /// Text; bytes that are not UTF-8 are replaced as `String::from_utf8_lossy` does (as diesel
    /// reads them).
    Text(std::borrow::Cow<'a, str>),
    /// A BLOB.
    Blob,
}

/// An error SQLite reported, with its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// SQLite's (extended) result code.
    pub code: i32,
    /// SQLite's message (`sqlite3_errmsg`), or the callback's.
    pub message: String,
}

impl Error {
    /// An error of the row callback's, carried out of [`Reader::read`].
    pub fn of_callback(message: impl Into<String>) -> Error {
        Error {
            code: ffi::SQLITE_ABORT,
            message: message.into(),
        }
    }
}

/// The statements a reader keeps prepared at most; past that it finalizes them all and starts
/// over.
const KEPT_STATEMENTS: usize = 64;

/// Reads on one SQLite connection's handle, with the statements it prepared kept by their text.
pub struct Reader {
    db: NonNull<ffi::sqlite3>,
    statements: HashMap<String, NonNull<ffi::sqlite3_stmt>>,
}

// SAFETY: SQLite is built thread-safe (multi-thread mode, `.cargo/config.toml`), so a connection
// and its statements may be used from any thread, one thread at a time; `&mut self` on every
// use makes it one at a time.
#[allow(unsafe_code)]
unsafe impl Send for Reader {}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("statements", &self.statements.len())
            .finish()
    }
}

thread_local! {
    /// The handle of the connection the automatic extension saw opened last on this thread.
    static OPENED: Cell<*mut ffi::sqlite3> = const { Cell::new(std::ptr::null_mut()) };
}

/// Runs `open`, which opens one SQLite connection on this thread, and answers what it answers
/// with a [`Reader`] on that connection when it succeeded (`None` when the handle could not be
/// learned).
///
/// The reader must be dropped before the connection `open` answered is closed.
pub fn opened<T, E>(open: impl FnOnce() -> Result<T, E>) -> Result<(T, Option<Reader>), E> {
    if !sys::watch_opens() {
        return open().map(|t| (t, None));
    }
    OPENED.with(|o| o.set(std::ptr::null_mut()));
    let t = open()?;
    let db = OPENED.with(|o| o.replace(std::ptr::null_mut()));
    Ok((
        t,
        NonNull::new(db).map(|db| Reader {
            db,
            statements: HashMap::new(),
        }),
    ))
}

/// One row of a read, whose values stay valid while the callback runs.
pub struct Row<'s> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    columns: usize,
    _running: std::marker::PhantomData<&'s mut Reader>,
}

impl Row<'_> {
    /// The number of columns.
    pub fn len(&self) -> usize {
        self.columns
    }

    /// Whether the row has no column.
    pub fn is_empty(&self) -> bool {
        self.columns == 0
    }

    /// The value of column `i` (from 0), `Null` past the last.
    pub fn get(&self, i: usize) -> Column<'_> {
        if i >= self.columns {
            return Column::Null;
        }
        sys::column(self.stmt, i)
    }
}

impl Reader {
    /// Runs `sql` with `binds` for its parameters in order, and calls `row` with each row.
    ///
    /// The statement is prepared once and kept by its text when `keep` (as diesel's cache
    /// keeps one); otherwise it is prepared for this read only. An error of `row` stops the
    /// read and is answered as is.
    pub fn read(
        &mut self,
        sql: &str,
        keep: bool,
        binds: &[Bind<'_>],
        row: &mut dyn FnMut(&Row<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let stmt = match self.statements.get(sql) {
            Some(stmt) => *stmt,
            None => {
                let stmt = sys::prepare(self.db, sql, keep)?;
                if keep {
                    if self.statements.len() >= KEPT_STATEMENTS {
                        self.forget_statements();
                    }
                    self.statements.insert(sql.to_owned(), stmt);
                }
                stmt
            }
        };
        // Reset (and finalized when not kept) however the read ends, so that no statement
        // holds the read transaction open.
        let running = sys::Running { stmt, keep };
        sys::bind(self.db, stmt, binds)?;
        let columns = sys::column_count(stmt);
        while sys::step(self.db, stmt)? {
            row(&Row {
                stmt,
                columns,
                _running: std::marker::PhantomData,
            })?;
        }
        drop(running);
        Ok(())
    }

    /// The number of statements kept prepared.
    pub fn kept_statements(&self) -> usize {
        self.statements.len()
    }

    fn forget_statements(&mut self) {
        for (_, stmt) in self.statements.drain() {
            sys::finalize(stmt);
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.forget_statements();
    }
}

#[allow(unsafe_code)]
mod sys {
    use super::{Bind, Column, Error, OPENED, ffi};
    use std::ffi::{CStr, c_char, c_int};
    use std::ptr::NonNull;
    use std::sync::OnceLock;

    /// Registers the automatic extension that hands over each opened handle, once per process.
    pub(super) fn watch_opens() -> bool {
        static REGISTERED: OnceLock<bool> = OnceLock::new();
        // SAFETY: `seen` has the signature SQLite calls an extension's entry point with.
        *REGISTERED.get_or_init(|| unsafe { ffi::sqlite3_auto_extension(Some(seen)) } == 0)
    }

    /// Called by SQLite on the opening thread for each connection it opens.
    unsafe extern "C" fn seen(
        db: *mut ffi::sqlite3,
        _error: *mut *mut c_char,
        _api: *const ffi::sqlite3_api_routines,
    ) -> c_int {
        OPENED.with(|o| o.set(db));
        ffi::SQLITE_OK
    }

    fn error(db: NonNull<ffi::sqlite3>, code: c_int) -> Error {
        // SAFETY: a live connection; its message is valid until the next call on it, and is
        // copied at once.
        let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db.as_ptr())) }
            .to_string_lossy()
            .into_owned();
        Error { code, message }
    }

    pub(super) fn prepare(
        db: NonNull<ffi::sqlite3>,
        sql: &str,
        keep: bool,
    ) -> Result<NonNull<ffi::sqlite3_stmt>, Error> {
        let Ok(len) = c_int::try_from(sql.len()) else {
            return Err(Error {
                code: ffi::SQLITE_TOOBIG,
                message: "statement too long".into(),
            });
        };
        let flags = if keep {
            ffi::SQLITE_PREPARE_PERSISTENT
        } else {
            0
        };
        let mut stmt = std::ptr::null_mut();
        // SAFETY: a live connection, the statement's text with its length (not NUL-ended),
        // and a pointer this function owns for the statement.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                db.as_ptr(),
                sql.as_ptr().cast::<c_char>(),
                len,
                flags,
                &mut stmt,
                std::ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(db, rc));
        }
        NonNull::new(stmt).ok_or_else(|| Error {
            code: ffi::SQLITE_MISUSE,
            message: "no statement in the text".into(),
        })
    }

    pub(super) fn bind(
        db: NonNull<ffi::sqlite3>,
        stmt: NonNull<ffi::sqlite3_stmt>,
        binds: &[Bind<'_>],
    ) -> Result<(), Error> {
        let stmt = stmt.as_ptr();
        for (i, value) in binds.iter().enumerate() {
            let Ok(at) = c_int::try_from(i + 1) else {
                return Err(error(db, ffi::SQLITE_RANGE));
            };
            // SAFETY: a statement of this connection; text is bound as SQLITE_STATIC, which
            // the statement may read until it is reset and its bindings cleared (`Running`),
            // before `binds` goes out of the caller's scope.
            let rc = unsafe {
                match *value {
                    Bind::Null => ffi::sqlite3_bind_null(stmt, at),
                    Bind::Int(n) => ffi::sqlite3_bind_int64(stmt, at, n),
                    Bind::Float(f) => ffi::sqlite3_bind_double(stmt, at, f),
                    Bind::Text(s) => match c_int::try_from(s.len()) {
                        Ok(len) => ffi::sqlite3_bind_text(
                            stmt,
                            at,
                            s.as_ptr().cast::<c_char>(),
                            len,
                            ffi::SQLITE_STATIC(),
                        ),
                        Err(_) => ffi::SQLITE_TOOBIG,
                    },
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(error(db, rc));
            }
        }
        Ok(())
    }

    pub(super) fn column_count(stmt: NonNull<ffi::sqlite3_stmt>) -> usize {
        // SAFETY: a prepared statement.
        usize::try_from(unsafe { ffi::sqlite3_column_count(stmt.as_ptr()) }).unwrap_or(0)
    }

    /// Steps `stmt`: `true` with a row, `false` when done.
    pub(super) fn step(
        db: NonNull<ffi::sqlite3>,
        stmt: NonNull<ffi::sqlite3_stmt>,
    ) -> Result<bool, Error> {
        // SAFETY: a prepared statement with its parameters bound.
        match unsafe { ffi::sqlite3_step(stmt.as_ptr()) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            rc => Err(error(db, rc)),
        }
    }

    /// The value of column `i` of the row `stmt` stands on.
    ///
    /// The value is taken once (`sqlite3_column_value`) and read through it: each
    /// `sqlite3_column_*` call finds the value again (and in SQLite's default serialized mode
    /// takes the connection's mutex around it), three times per text. The value is unprotected,
    /// which SQLite documents as safe only while no other thread uses the connection; a
    /// reader's `&mut self` makes sure of that, and diesel reads its values the same way.
    pub(super) fn column<'r>(stmt: NonNull<ffi::sqlite3_stmt>, i: usize) -> Column<'r> {
        let Ok(i) = c_int::try_from(i) else {
            return Column::Null;
        };
        // SAFETY: a statement standing on a row, `i` below its column count. The value, and a
        // text pointer taken from it, stay valid until the statement steps, is reset or
        // finalized, or the value is read as another type; the row's callback (`'r`) ends
        // before any of that.
        unsafe {
            let value = ffi::sqlite3_column_value(stmt.as_ptr(), i);
            if value.is_null() {
                return Column::Null;
            }
            match ffi::sqlite3_value_type(value) {
                ffi::SQLITE_INTEGER => Column::Int(ffi::sqlite3_value_int64(value)),
                ffi::SQLITE_FLOAT => {
                    let text = text_of(value);
                    // SQLite writes a double in ASCII.
                    Column::Real(std::str::from_utf8(text).unwrap_or_default())
                }
                ffi::SQLITE_TEXT => {
                    let text = text_of(value);
                    // `from_utf8` checks a word at a time; `from_utf8_lossy` a chunk at a time,
                    // at twice the cost, which only text that is not UTF-8 needs.
                    match std::str::from_utf8(text) {
                        Ok(text) => Column::Text(std::borrow::Cow::Borrowed(text)),
                        Err(_) => Column::Text(String::from_utf8_lossy(text)),
                    }
                }
                ffi::SQLITE_BLOB => Column::Blob,
                _ => Column::Null,
            }
        }
    }

    /// The text of a column's value (converted by SQLite when it is a number).
    ///
    /// # Safety
    ///
    /// As [`column`]: the bytes live until the statement moves on.
    unsafe fn text_of<'r>(value: *mut ffi::sqlite3_value) -> &'r [u8] {
        // SAFETY: the caller's; `sqlite3_value_bytes` after `sqlite3_value_text`, as SQLite
        // asks, measures the text just made.
        unsafe {
            let text = ffi::sqlite3_value_text(value);
            let len = usize::try_from(ffi::sqlite3_value_bytes(value)).unwrap_or(0);
            if text.is_null() || len == 0 {
                return &[];
            }
            std::slice::from_raw_parts(text, len)
        }
    }

    pub(super) fn finalize(stmt: NonNull<ffi::sqlite3_stmt>) {
        // SAFETY: a statement of this reader's, finalized once: it is forgotten after.
        unsafe { ffi::sqlite3_finalize(stmt.as_ptr()) };
    }

    /// A statement being run: reset, its bindings cleared, and finalized unless kept, when
    /// dropped.
    pub(super) struct Running {
        pub(super) stmt: NonNull<ffi::sqlite3_stmt>,
        pub(super) keep: bool,
    }

    impl Drop for Running {
        fn drop(&mut self) {
            if self.keep {
                // SAFETY: a kept statement of this reader's; resetting ends its read
                // transaction, clearing lets go of the caller's bound text.
                unsafe {
                    ffi::sqlite3_reset(self.stmt.as_ptr());
                    ffi::sqlite3_clear_bindings(self.stmt.as_ptr());
                }
            } else {
                finalize(self.stmt);
            }
        }
    }
}
