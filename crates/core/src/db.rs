//! The database: backend from the URL, the connection pool, per-connection setup, migrations and
//! the one bridge from rendered [`Sql`] to diesel.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::deserialize::{self, FromSql};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::row::{Field as _, NamedRow, Row};
use diesel::sql_types::{BigInt, Bool, Double, Nullable, Text, Untyped};
use diesel::{Connection, QueryResult, QueryableByName, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use dynex_query::{Dialect, Piece, Sql, Stored, StoredRow, Value};

use crate::cancel::{BackendId, Cancels};
use crate::error::CoreError;

pub use any::{AnyConnection, MultiBackend};

// The derive generates undocumented public items; they are documented here instead.
#[allow(missing_docs)]
mod any {
    /// A connection to any of the three backends, chosen at run time.
    #[derive(diesel::MultiConnection)]
    pub enum AnyConnection {
        /// Embedded SQLite.
        Sqlite(diesel::SqliteConnection),
        /// PostgreSQL.
        #[cfg(feature = "postgres")]
        Postgres(diesel::PgConnection),
        /// MySQL or MariaDB.
        #[cfg(feature = "mysql")]
        Mysql(diesel::MysqlConnection),
    }
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
#[cfg(feature = "postgres")]
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
#[cfg(feature = "mysql")]
const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/mysql");

/// Where a database lives, parsed from a `sqlite://`, `postgres://` or `mysql://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    dialect: Dialect,
    target: String,
    /// The file of a SQLite database; `None` for an in-memory one and the other backends.
    file: Option<PathBuf>,
}

impl DatabaseUrl {
    /// Parses a database URL; an unknown scheme is an error, never a new SQLite file.
    ///
    /// `sqlite://dynex.db` is relative to the working directory, `sqlite:///abs/path.db` absolute.
    pub fn parse(url: &str) -> Result<DatabaseUrl, CoreError> {
        let bad = |why: &str| CoreError::InvalidUrl(format!("`{}`: {why}", redact(url)));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected sqlite://path, postgres://… or mysql://…"))?;
        let dialect = match scheme {
            "sqlite" => Dialect::Sqlite,
            "postgres" | "postgresql" => Dialect::Postgres,
            "mysql" | "mariadb" => Dialect::Mysql,
            other => {
                return Err(bad(&format!(
                    "unknown scheme `{other}` (use sqlite, postgres or mysql)"
                )));
            }
        };
        let mut file = None;
        let target = match dialect {
            Dialect::Sqlite => {
                let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
                if path.is_empty() || path == ":memory:" {
                    return Err(bad(
                        "a file path is required (in-memory databases cannot be pooled)",
                    ));
                }
                file = sqlite_file(path, query);
                if let Some(file) = &file {
                    let parent = file.parent().map(PathBuf::from).unwrap_or_default();
                    if !parent.as_os_str().is_empty() && !parent.is_dir() {
                        return Err(bad(&format!(
                            "directory `{}` does not exist",
                            parent.display()
                        )));
                    }
                }
                // SQLite reads a `file:` name as a URI whose query holds its own parameters
                // (`mode=memory&cache=shared`); a plain path takes none, so its query is dropped.
                if path.starts_with("file:") {
                    rest.to_string()
                } else {
                    path.to_string()
                }
            }
            Dialect::Mysql => format!("mysql://{rest}"),
            Dialect::Postgres => format!("postgres://{rest}"),
        };
        let compiled = match dialect {
            Dialect::Sqlite => true,
            Dialect::Postgres => cfg!(feature = "postgres"),
            Dialect::Mysql => cfg!(feature = "mysql"),
        };
        if !compiled {
            return Err(bad(&format!(
                "this build has no {dialect:?} support (build with `--features {}`)",
                if dialect == Dialect::Mysql {
                    "mysql"
                } else {
                    "postgres"
                }
            )));
        }
        Ok(DatabaseUrl {
            dialect,
            target,
            file,
        })
    }

    /// The SQL dialect of the backend.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The file of a SQLite database, which SQLite creates when it is missing; `None` for an
    /// in-memory database (`sqlite://file::memory:`, `sqlite://file:x?mode=memory`) and the
    /// other backends.
    pub fn sqlite_file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

/// The file that the path of a `sqlite://` URL names: a plain path, or the path of a `file:`
/// URI (`file:x.db`, `file:///abs/x.db`); `None` when it is an in-memory database.
fn sqlite_file(path: &str, query: &str) -> Option<PathBuf> {
    let Some(uri) = path.strip_prefix("file:") else {
        return Some(PathBuf::from(path));
    };
    let memory = uri == ":memory:" || query.split('&').any(|p| p == "mode=memory");
    if memory {
        return None;
    }
    // `file://host/path`: SQLite accepts only an empty or `localhost` authority.
    let path = match uri.strip_prefix("//") {
        Some(rest) => rest.strip_prefix("localhost").unwrap_or(rest),
        None => uri,
    };
    Some(PathBuf::from(path))
}

/// The URL with any password replaced, safe for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// How a pool connects and what each of its connections is set to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbOptions {
    /// Connections in the pool (at least 2).
    pub pool_size: u32,
    /// How much of a SQLite database file each connection maps into memory (`PRAGMA
    /// mmap_size`; the connections of a process share one map of each file, see
    /// `dynex-sqlite-map`). The map serves reads without copying, but the pages it touches count
    /// in the process's resident memory; a job that reads a whole table once gains little from it.
    pub sqlite_mmap: u64,
    /// How long a SQLite writer waits for another process's write lock (`PRAGMA busy_timeout`)
    /// before the attempt counts as busy.
    pub sqlite_busy_timeout: Duration,
    /// How long a checkout waits for a connection before the request answers `1390`.
    pub connection_timeout: Duration,
    /// The longest a statement may run on PostgreSQL (`statement_timeout`) and MariaDB
    /// (`max_statement_time`) before the database cancels it; `None` sets no limit. SQLite
    /// runs in the process and has no such setting.
    pub statement_timeout: Option<Duration>,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            pool_size: 8,
            sqlite_mmap: SQLITE_MMAP_BYTES,
            sqlite_busy_timeout: Duration::from_secs(5),
            connection_timeout: CONNECTION_TIMEOUT,
            statement_timeout: None,
        }
    }
}

/// Opens connections of one backend and prepares each one.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
    options: DbOptions,
    /// The connection attempts in flight (see [`Db::settle`]).
    attempts: Arc<Attempts>,
    /// When the pool was built: the origin of `suspect_until`.
    born: Instant,
    /// Until when (milliseconds after `born`) a checkout pings its connection first, because a
    /// session was found lost: when a database restarts or fails over, every idle session of the
    /// pool is gone at once, and each would otherwise fail one request before being replaced.
    suspect_until: AtomicU64,
}

/// How long checkouts keep pinging after a lost session was noticed.
const SUSPECT_FOR: Duration = Duration::from_secs(30);

impl Manager {
    fn millis(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn suspect(&self) -> bool {
        self.millis() < self.suspect_until.load(Ordering::Relaxed)
    }
}

/// Counts the connection attempts in flight, so that a process can wait for them to end.
#[derive(Debug, Default)]
struct Attempts {
    running: Mutex<u32>,
    ended: Condvar,
}

/// One connection attempt, counted while it lasts (a failed or panicking one too).
struct Attempt<'a>(&'a Attempts);

impl<'a> Attempt<'a> {
    fn start(attempts: &'a Attempts) -> Self {
        *attempts
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        Attempt(attempts)
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut running = self
            .0
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *running -= 1;
        if *running == 0 {
            self.0.ended.notify_all();
        }
    }
}

/// A connection of the pool, with a [`dynex_sqlite_raw::Reader`] on a SQLite connection's
/// handle.
pub struct Pooled {
    /// Declared before the connection, so that it is dropped (its statements finalized) before
    /// the connection closes.
    reader: Option<dynex_sqlite_raw::Reader>,
    conn: AnyConnection,
}

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Pooled, r2d2::Error> {
        let _attempt = Attempt::start(&self.attempts);
        let target = &self.url.target;
        let mut reader = None;
        let conn = match self.url.dialect {
            Dialect::Sqlite => {
                let (mut c, raw) =
                    dynex_sqlite_raw::opened(|| diesel::SqliteConnection::establish(target))
                        .map_err(r2d2::Error::ConnectionError)?;
                reader = raw;
                // One PRAGMA per statement, as diesel's documentation advises; WAL lets readers
                // run beside the writer, the busy timeout makes writers wait instead of failing.
                let mmap = format!("PRAGMA mmap_size = {}", self.options.sqlite_mmap);
                let busy = format!(
                    "PRAGMA busy_timeout = {}",
                    self.options.sqlite_busy_timeout.as_millis()
                );
                for pragma in [
                    &busy,
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA synchronous = NORMAL",
                    "PRAGMA foreign_keys = ON",
                    // Reads through a shared memory map instead of copying pages into each
                    // connection's small private cache (see `Db::connect_with`).
                    &mmap,
                ] {
                    c.batch_execute(pragma).map_err(r2d2::Error::QueryError)?;
                }
                AnyConnection::Sqlite(c)
            }
            #[cfg(feature = "postgres")]
            Dialect::Postgres => {
                let mut c = diesel::PgConnection::establish(target)
                    .map_err(r2d2::Error::ConnectionError)?;
                if let Some(limit) = self.options.statement_timeout {
                    c.batch_execute(&format!("SET statement_timeout = {}", limit.as_millis()))
                        .map_err(r2d2::Error::QueryError)?;
                }
                AnyConnection::Postgres(c)
            }
            #[cfg(feature = "mysql")]
            Dialect::Mysql => {
                let mut c = diesel::MysqlConnection::establish(target)
                    .map_err(r2d2::Error::ConnectionError)?;
                if let Some(limit) = self.options.statement_timeout {
                    set_mysql_statement_timeout(&mut c, Some(limit))
                        .map_err(r2d2::Error::QueryError)?;
                }
                AnyConnection::Mysql(c)
            }
            #[allow(unreachable_patterns)]
            _ => unreachable!("DatabaseUrl::parse refuses backends this build lacks"),
        };
        Ok(Pooled { reader, conn })
    }

    /// Pings only while sessions are suspect (see `suspect_until`): a ping per checkout would
    /// add a round trip to every request.
    fn is_valid(&self, conn: &mut Pooled) -> Result<(), r2d2::Error> {
        if self.suspect() {
            conn.conn.ping().map_err(r2d2::Error::QueryError)
        } else {
            Ok(())
        }
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        // The connection is going back to the pool: no cancel may reach it from here on.
        crate::cancel::returned();
        let lost = crate::session::take_discard_mark();
        if lost {
            let until = self
                .millis()
                .saturating_add(u64::try_from(SUSPECT_FOR.as_millis()).unwrap_or(u64::MAX));
            self.suspect_until.fetch_max(until, Ordering::Relaxed);
        }
        lost || conn.conn.is_broken()
    }
}

/// Sends the cancels of one database, over a connection of its own outside the pool (a
/// full pool is what cancelling relieves).
pub(crate) struct Canceller {
    url: DatabaseUrl,
    conn: Mutex<Option<AnyConnection>>,
}

impl std::fmt::Debug for Canceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Canceller")
            .field("dialect", &self.url.dialect())
            .finish()
    }
}

impl Canceller {
    pub(crate) fn new(url: DatabaseUrl) -> Canceller {
        Canceller {
            url,
            conn: Mutex::new(None),
        }
    }
}

impl Cancels for Canceller {
    /// Both databases ignore a cancel that finds the session idle.
    fn cancel(&self, id: BackendId) -> Result<(), CoreError> {
        let mut slot = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let conn = match &mut *slot {
            Some(conn) => conn,
            empty => empty.insert(connect_plain(&self.url)?),
        };
        let sent = send_cancel(conn, id);
        if sent.is_err() {
            // Perhaps the canceller's own session was lost: a fresh one next time.
            *slot = None;
        }
        sent
    }
}

/// A plain connection to the database of `url`, without the pool's session settings.
fn connect_plain(url: &DatabaseUrl) -> Result<AnyConnection, CoreError> {
    let unavailable = |e: diesel::ConnectionError| CoreError::Unavailable(e.to_string());
    Ok(match url.dialect() {
        #[cfg(feature = "postgres")]
        Dialect::Postgres => AnyConnection::Postgres(
            diesel::PgConnection::establish(&url.target).map_err(unavailable)?,
        ),
        #[cfg(feature = "mysql")]
        Dialect::Mysql => AnyConnection::Mysql(
            diesel::MysqlConnection::establish(&url.target).map_err(unavailable)?,
        ),
        _ => AnyConnection::Sqlite(
            diesel::SqliteConnection::establish(&url.target).map_err(unavailable)?,
        ),
    })
}

fn send_cancel(conn: &mut AnyConnection, id: BackendId) -> Result<(), CoreError> {
    match conn {
        #[cfg(feature = "postgres")]
        AnyConnection::Postgres(_) => {
            // Backend pids are `int4`; an id that is not one names no session to cancel.
            let Ok(pid) = i32::try_from(id.0) else {
                return Ok(());
            };
            diesel::sql_query("SELECT pg_cancel_backend($1)")
                .bind::<diesel::sql_types::Integer, _>(pid)
                .execute(conn)?;
        }
        // `KILL` takes no placeholder; the id is a number the database gave, not input.
        #[cfg(feature = "mysql")]
        AnyConnection::Mysql(_) => conn.batch_execute(&format!("KILL QUERY {}", id.0))?,
        // Never registered: SQLite sessions have no id to cancel.
        AnyConnection::Sqlite(_) => {
            let _ = id;
        }
    }
    Ok(())
}

/// The id of a connection's session, read once per connection; `None` on SQLite.
fn backend_id(conn: &mut AnyConnection) -> Result<Option<BackendId>, CoreError> {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let sql: Option<&str> = match conn {
        #[cfg(feature = "postgres")]
        AnyConnection::Postgres(_) => Some("SELECT CAST(pg_backend_pid() AS BIGINT) AS id"),
        #[cfg(feature = "mysql")]
        AnyConnection::Mysql(_) => Some("SELECT CAST(CONNECTION_ID() AS SIGNED) AS id"),
        AnyConnection::Sqlite(_) => None,
    };
    let Some(sql) = sql else {
        return Ok(None);
    };
    let id: Id = diesel::sql_query(sql).get_result(conn)?;
    Ok(u64::try_from(id.id).ok().map(BackendId))
}

/// Sets the statement timeout of a MariaDB (`max_statement_time`, seconds) or MySQL
/// (`max_execution_time`, milliseconds, reads only) session; `None` lifts it.
#[cfg(feature = "mysql")]
fn set_mysql_statement_timeout(
    c: &mut diesel::MysqlConnection,
    limit: Option<Duration>,
) -> QueryResult<()> {
    let limit = limit.unwrap_or_default();
    let mariadb = format!(
        "SET SESSION max_statement_time = {}.{:03}",
        limit.as_secs(),
        limit.subsec_millis()
    );
    c.batch_execute(&mariadb).or_else(|_| {
        c.batch_execute(&format!(
            "SET SESSION max_execution_time = {}",
            limit.as_millis()
        ))
    })
}

/// How long a checkout waits for a connection by default.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// The default `PRAGMA mmap_size` of SQLite connections: 256 MiB.
pub const SQLITE_MMAP_BYTES: u64 = 256 * 1024 * 1024;

/// A connection taken from the pool, which goes back when dropped; it dereferences to the
/// database connection (`&mut *conn` is a diesel connection).
pub struct Conn(PooledConnection<Manager>);

impl std::ops::Deref for Conn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.0.conn
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.0.conn
    }
}

impl Conn {
    /// The connection, and the reader on its handle when it is SQLite's.
    pub(crate) fn with_reader(
        &mut self,
    ) -> (&mut AnyConnection, Option<&mut dynex_sqlite_raw::Reader>) {
        let pooled = &mut *self.0;
        (&mut pooled.conn, pooled.reader.as_mut())
    }
}

/// A connection pool to one database.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    url: DatabaseUrl,
    dialect: Dialect,
    attempts: Arc<Attempts>,
    statement_timeout: Option<Duration>,
    /// Checkouts in progress: callers of [`Db::conn`] not yet handed a connection.
    waiting: Arc<AtomicUsize>,
    /// Cancels the statements of callers that went away (see [`crate::cancel`]).
    canceller: Arc<Canceller>,
}

/// The pool's connections at one moment, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open, in use or idle.
    pub connections: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// Callers waiting for a connection.
    pub waiting: usize,
    /// The most connections the pool opens.
    pub max: u32,
}

/// Counts one caller of [`Db::conn`] as waiting until it is dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dialect", &self.dialect)
            .finish()
    }
}

impl Db {
    /// Connects a pool of `size` connections (at least 2) to the database at `url`.
    pub fn connect(url: &str, size: u32) -> Result<Db, CoreError> {
        Db::connect_with(url, size, SQLITE_MMAP_BYTES)
    }

    /// [`Db::connect`] with SQLite connections mapping at most `sqlite_mmap` bytes of the
    /// database file (see [`DbOptions::sqlite_mmap`]).
    pub fn connect_with(url: &str, size: u32, sqlite_mmap: u64) -> Result<Db, CoreError> {
        Db::connect_options(
            url,
            &DbOptions {
                pool_size: size,
                sqlite_mmap,
                ..DbOptions::default()
            },
        )
    }

    /// Connects a pool to the database at `url` as `options` say.
    pub fn connect_options(url: &str, options: &DbOptions) -> Result<Db, CoreError> {
        let url = DatabaseUrl::parse(url)?;
        let dialect = url.dialect;
        if dialect == Dialect::Sqlite && options.sqlite_mmap > 0 {
            // The pool's connections read the file through one map, not one each.
            dynex_sqlite_map::share(options.sqlite_mmap.max(SQLITE_MMAP_BYTES));
        }
        if dialect == Dialect::Sqlite {
            // Reads in a row take their WAL read lock without a system call.
            dynex_sqlite_map::keep_read_locks();
        }
        let attempts = Arc::new(Attempts::default());
        let pool = Pool::builder()
            .max_size(options.pool_size.max(2))
            // No background replenishing: a connection opened on r2d2's thread while the process
            // exits can crash inside libpq's exit handlers.
            .min_idle(Some(0))
            // `Manager::is_valid` pings only after a lost session was noticed.
            .test_on_check_out(true)
            .connection_timeout(options.connection_timeout)
            .build(Manager {
                url: url.clone(),
                options: options.clone(),
                attempts: attempts.clone(),
                born: Instant::now(),
                suspect_until: AtomicU64::new(0),
            })
            .map_err(|e| CoreError::Unavailable(e.to_string()))?;
        Ok(Db {
            pool,
            canceller: Arc::new(Canceller::new(url.clone())),
            url,
            dialect,
            attempts,
            statement_timeout: options.statement_timeout,
            waiting: Arc::default(),
        })
    }

    /// Waits (at most the pool's connection timeout) until no connection attempt is in flight.
    ///
    /// A checkout that finds no idle connection starts one on the pool's thread, and it goes on
    /// after another connection came back first. A process that exits while that thread is
    /// inside libpq or libmysqlclient can crash in their exit handlers: a command-line process
    /// calls this before it exits. It opens no connection itself.
    pub fn settle(&self) {
        let running = self
            .attempts
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = self
            .attempts
            .ended
            .wait_timeout_while(running, CONNECTION_TIMEOUT, |running| *running > 0);
    }

    /// The SQL dialect of the backend.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The pool's connections now: open, idle, the most it opens, and the callers waiting.
    pub fn status(&self) -> PoolStatus {
        let state = self.pool.state();
        PoolStatus {
            connections: state.connections,
            idle: state.idle_connections,
            waiting: self.waiting.load(Ordering::Relaxed),
            max: self.pool.max_size(),
        }
    }

    /// Takes a connection from the pool.
    pub fn conn(&self) -> Result<Conn, CoreError> {
        // A mark left by a failure whose connection went back first must not condemn this one.
        crate::session::take_discard_mark();
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let waiting = Waiting(&self.waiting);
        let mut conn = Conn(
            self.pool
                .get()
                .map_err(|e| CoreError::Unavailable(e.to_string()))?,
        );
        drop(waiting);
        if crate::cancel::active() {
            self.register(&mut conn)?;
        }
        Ok(conn)
    }

    /// Takes an idle connection from the pool, or `None` at once when none is idle.
    pub fn try_conn(&self) -> Option<Conn> {
        crate::session::take_discard_mark();
        self.pool.try_get().map(Conn)
    }

    /// Registers a connection just taken with the cancel scope of this thread; its session's
    /// id is asked once per connection and kept beside it.
    fn register(&self, conn: &mut Conn) -> Result<(), CoreError> {
        let id = match PooledConnection::extensions(&conn.0).get::<Option<BackendId>>() {
            Some(id) => *id,
            None => {
                let id = backend_id(conn)?;
                PooledConnection::extensions_mut(&mut conn.0).insert(id);
                id
            }
        };
        crate::cancel::checked_out(id.map(|id| crate::cancel::Session {
            id,
            canceller: self.canceller.clone(),
        }))
    }

    /// Takes a connection without the statement timeout, for a job whose statements may run
    /// long (a `COPY` export, an index build); the timeout is set again when it comes back.
    pub(crate) fn unbounded_conn(&self) -> Result<Unbounded, CoreError> {
        let mut conn = self.conn()?;
        let bounded = self.statement_timeout.is_some();
        if bounded {
            set_statement_timeout(&mut conn, None)?;
        }
        Ok(Unbounded {
            conn,
            restore: self.statement_timeout.filter(|_| bounded),
        })
    }

    /// A PostgreSQL session of its own (outside the pool) listening on `channel`; `None` on
    /// the other backends.
    pub(crate) fn listener(&self, channel: &str) -> Result<Option<Listener>, CoreError> {
        #[cfg(feature = "postgres")]
        if self.dialect == Dialect::Postgres {
            let mut c = diesel::PgConnection::establish(&self.url.target)
                .map_err(|e| CoreError::Unavailable(e.to_string()))?;
            c.batch_execute(&format!("LISTEN {channel}"))?;
            return Ok(Some(Listener(c)));
        }
        let _ = (channel, &self.url);
        Ok(None)
    }

    /// The statistics of the pool: connections open and idle.
    pub fn pool_state(&self) -> r2d2::State {
        self.pool.state()
    }

    /// Applies pending migrations of dynex's own tables; returns how many ran.
    pub fn migrate(&self) -> Result<usize, CoreError> {
        let mut conn = self.conn()?;
        let run = |r: Result<Vec<_>, Box<dyn std::error::Error + Send + Sync>>| {
            r.map(|v| v.len())
                .map_err(|e| CoreError::Migration(e.to_string()))
        };
        match &mut *conn {
            AnyConnection::Sqlite(c) => run(c.run_pending_migrations(SQLITE_MIGRATIONS)),
            #[cfg(feature = "postgres")]
            AnyConnection::Postgres(c) => run(c.run_pending_migrations(POSTGRES_MIGRATIONS)),
            #[cfg(feature = "mysql")]
            AnyConnection::Mysql(c) => run(c.run_pending_migrations(MYSQL_MIGRATIONS)),
        }
    }
}

/// A PostgreSQL session that receives notifications (see [`Db::listener`]).
pub(crate) struct Listener(#[cfg(feature = "postgres")] diesel::PgConnection);

impl Listener {
    /// How many notifications arrived since the last call. It reads what the server already
    /// sent to the socket: no round trip.
    pub(crate) fn received(&mut self) -> Result<usize, CoreError> {
        #[cfg(feature = "postgres")]
        {
            let mut n = 0;
            for notification in self.0.notifications_iter() {
                notification?;
                n += 1;
            }
            Ok(n)
        }
        #[cfg(not(feature = "postgres"))]
        Ok(0)
    }
}

/// A connection whose statement timeout is lifted while it is held (see [`Db::unbounded_conn`]).
pub(crate) struct Unbounded {
    conn: Conn,
    restore: Option<Duration>,
}

impl std::ops::Deref for Unbounded {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Unbounded {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl Drop for Unbounded {
    fn drop(&mut self) {
        if let Some(limit) = self.restore
            && set_statement_timeout(&mut self.conn, Some(limit)).is_err()
        {
            // Without its limit the session must not serve requests again.
            crate::session::discard_on_return();
        }
    }
}

/// Sets (or with `None` lifts) the statement timeout of a PostgreSQL or MariaDB session.
fn set_statement_timeout(conn: &mut AnyConnection, limit: Option<Duration>) -> QueryResult<()> {
    match conn {
        // SQLite runs in the process and has no statement timeout.
        AnyConnection::Sqlite(_) => {
            let _ = limit;
            Ok(())
        }
        #[cfg(feature = "postgres")]
        AnyConnection::Postgres(c) => c.batch_execute(&format!(
            "SET statement_timeout = {}",
            limit.unwrap_or_default().as_millis()
        )),
        #[cfg(feature = "mysql")]
        AnyConnection::Mysql(c) => set_mysql_statement_timeout(c, limit),
    }
}

/// Runs a SQL script: statements separated by `;` at the end of a line.
pub fn run_script(conn: &mut AnyConnection, script: &str) -> Result<(), CoreError> {
    for statement in script.split(";\n") {
        let body: String = statement
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        let body = body.trim().trim_end_matches(';');
        if !body.is_empty() {
            conn.batch_execute(body)?;
        }
    }
    Ok(())
}

/// Rendered [`Sql`] as a diesel query: identifiers and binds go through the active backend.
///
/// Generic over the backend so that the multi-backend connection and a backend's own
/// connection (`on_backend!`, an export's `COPY` settings) run the same text.
pub struct DynQuery<'a>(pub &'a Sql);

impl<DB> QueryFragment<DB> for DynQuery<'_>
where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<Nullable<Text>>
        + diesel::sql_types::HasSqlType<BigInt>
        + diesel::sql_types::HasSqlType<Double>
        + diesel::sql_types::HasSqlType<Bool>
        + diesel::sql_types::HasSqlType<Text>,
    Option<String>: diesel::serialize::ToSql<Nullable<Text>, DB>,
    i64: diesel::serialize::ToSql<BigInt, DB>,
    f64: diesel::serialize::ToSql<Double, DB>,
    bool: diesel::serialize::ToSql<Bool, DB>,
    String: diesel::serialize::ToSql<Text, DB>,
{
    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(!self.0.uncached)
    }

    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        for piece in &self.0.pieces {
            match piece {
                Piece::Sql(s) => out.push_sql(s),
                Piece::Ident(i) => out.push_identifier(i)?,
                Piece::Bind(v) => match v {
                    // A typed NULL keeps the statement text, and so its prepared form, the same
                    // whether a value is present or not.
                    Value::Null => out.push_bind_param::<Nullable<Text>, Option<String>>(&None)?,
                    Value::Int(n) => out.push_bind_param::<BigInt, i64>(n)?,
                    Value::Float(f) => out.push_bind_param::<Double, f64>(f)?,
                    Value::Bool(b) => out.push_bind_param::<Bool, bool>(b)?,
                    Value::Text(s)
                    | Value::Decimal(s)
                    | Value::Date(s)
                    | Value::DateTime(s)
                    | Value::Json(s) => out.push_bind_param::<Text, String>(s)?,
                },
            }
        }
        Ok(())
    }
}

impl QueryId for DynQuery<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for DynQuery<'_> {
    type SqlType = Untyped;
}

impl<C: Connection> RunQueryDsl<C> for DynQuery<'_> {}

#[derive(QueryableByName)]
struct JsonRow {
    #[diesel(sql_type = Text)]
    row_json: String,
}

/// Runs `$body` with `$c` bound to the backend's own connection inside `$conn`.
///
/// Through the multi-backend connection every bound value is collected twice and every value
/// read is wrapped once more, which costs a bulk insert or an export about a tenth.
macro_rules! on_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Sqlite($c) => $body,
            #[cfg(feature = "postgres")]
            $crate::db::AnyConnection::Postgres($c) => $body,
            #[cfg(feature = "mysql")]
            $crate::db::AnyConnection::Mysql($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Runs a rendered read and returns each row's `row_json`.
pub fn load_json(conn: &mut AnyConnection, sql: &Sql) -> QueryResult<Vec<String>> {
    Ok(on_backend!(conn, c => DynQuery(sql).load::<JsonRow>(c))?
        .into_iter()
        .map(|r| r.row_json)
        .collect())
}

/// The row a statement of a [`dynex_sqlite_raw::Reader`] stands on, its values read from the
/// statement as they are written out, without a copy.
struct RawRow<'r, 's>(&'r dynex_sqlite_raw::Row<'s>);

impl StoredRow for RawRow<'_, '_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn value(&self, index: usize) -> Stored<'_> {
        use dynex_sqlite_raw::Column;
        match self.0.get(index) {
            Column::Null => Stored::Null,
            Column::Int(n) => Stored::Int(n),
            Column::Real(text) => Stored::Real(text),
            Column::Text(text) => Stored::Text(text),
            Column::Blob => Stored::Blob,
        }
    }
}

/// A row of a SQLite read, each value as SQLite stores it ([`dynex_query::TypedRow`]).
struct SqliteTypedRow(dynex_query::TypedRow);

impl QueryableByName<diesel::sqlite::Sqlite> for SqliteTypedRow {
    fn build<'a>(row: &impl NamedRow<'a, diesel::sqlite::Sqlite>) -> deserialize::Result<Self> {
        use diesel::sqlite::SqliteType;
        let n = row.field_count();
        let mut typed = dynex_query::TypedRow::with_capacity(n);
        for i in 0..n {
            let field = Row::get(row, i).ok_or("a column is missing")?;
            let Some(mut value) = field.value() else {
                typed.push_null();
                continue;
            };
            match value.value_type() {
                None => typed.push_null(),
                Some(SqliteType::Long) => typed.push_int(value.read_long()),
                Some(SqliteType::Double) => typed.push_real(value.read_text()),
                Some(SqliteType::Binary) => {
                    // As SQLite's own `json_array` refuses them.
                    return Err("JSON cannot hold BLOB values".into());
                }
                Some(_) => typed.push_text(value.read_text()),
            }
        }
        Ok(SqliteTypedRow(typed))
    }
}

/// Runs a rendered SQLite read ([`dynex_query::select_values`]), calling `each` per row.
///
/// `each` gets each row's values as SQLite stores them, in order. The other backends, whose
/// drivers are read as JSON, answer `Ok(false)` without calling it.
///
/// A pooled SQLite connection reads through its [`dynex_sqlite_raw::Reader`], each row handed
/// over as the statement stands on it (nothing is copied or collected); diesel otherwise, a
/// [`dynex_query::TypedRow`] per row. An error of `each` stops the read and is answered as
/// [`CoreError::Corrupt`].
pub fn each_typed(
    conn: &mut Conn,
    sql: &Sql,
    each: &mut dyn FnMut(&dyn StoredRow) -> Result<(), String>,
) -> Result<bool, CoreError> {
    let (conn, reader) = conn.with_reader();
    if let Some(reader) = reader {
        let binds = sqlite_binds(sql.binds());
        read_raw(reader, &sqlite_text(sql), !sql.uncached, &binds, each)?;
        return Ok(true);
    }
    match conn {
        AnyConnection::Sqlite(c) => {
            for row in DynQuery(sql).load::<SqliteTypedRow>(c)? {
                each(&row.0).map_err(CoreError::Corrupt)?;
            }
            Ok(true)
        }
        #[allow(unreachable_patterns)]
        _ => Ok(false),
    }
}

/// The text SQLite runs for `sql`, as diesel renders it for SQLite: its identifiers quoted and
/// a `?` for each bound value.
pub fn sqlite_text(sql: &Sql) -> String {
    let mut text = String::with_capacity(1024);
    for piece in &sql.pieces {
        match piece {
            Piece::Sql(s) => text.push_str(s),
            Piece::Ident(i) => dynex_query::quote_ident(Dialect::Sqlite, i, &mut text),
            Piece::Bind(_) => text.push('?'),
        }
    }
    text
}

/// `values` bound as diesel binds them on SQLite.
fn sqlite_binds<'v>(values: impl Iterator<Item = &'v Value>) -> Vec<dynex_sqlite_raw::Bind<'v>> {
    use dynex_sqlite_raw::Bind;
    values
        .map(|v| match v {
            Value::Null => Bind::Null,
            Value::Int(n) => Bind::Int(*n),
            Value::Float(f) => Bind::Float(*f),
            Value::Bool(b) => Bind::Int(i64::from(*b)),
            Value::Text(s)
            | Value::Decimal(s)
            | Value::Date(s)
            | Value::DateTime(s)
            | Value::Json(s) => Bind::Text(s),
        })
        .collect()
}

/// [`each_typed`] of a statement kept with its text ([`sqlite_text`] of `sql`), run with
/// `values` bound in place of `sql`'s values, in order.
///
/// The text is prepared (or found prepared) as it is, without walking the statement's pieces;
/// a connection without a reader runs `sql` with the values put in.
pub fn each_typed_kept(
    conn: &mut Conn,
    text: &str,
    sql: &Sql,
    values: &[Value],
    each: &mut dyn FnMut(&dyn StoredRow) -> Result<(), String>,
) -> Result<bool, CoreError> {
    if let (_, Some(reader)) = conn.with_reader() {
        read_raw(reader, text, true, &sqlite_binds(values.iter()), each)?;
        return Ok(true);
    }
    let mut sql = sql.clone();
    if !sql.rebind(values.iter().cloned()) {
        return Err(CoreError::Corrupt(
            "a kept statement binds another number of values".into(),
        ));
    }
    each_typed(conn, &sql, each)
}

/// [`each_typed`] through a SQLite connection's own handle: the statement's `text` as diesel
/// renders it for SQLite, its values bound as diesel binds them.
fn read_raw(
    reader: &mut dynex_sqlite_raw::Reader,
    text: &str,
    keep: bool,
    binds: &[dynex_sqlite_raw::Bind<'_>],
    each: &mut dyn FnMut(&dyn StoredRow) -> Result<(), String>,
) -> Result<(), CoreError> {
    use dynex_sqlite_raw::Error;
    // The row's own error, told apart from SQLite's when the read stops.
    let mut refused = None;
    let read = reader.read(text, keep, binds, &mut |row| {
        each(&RawRow(row)).map_err(|e| {
            refused = Some(e);
            Error::of_callback("the row was refused")
        })
    });
    match (read, refused) {
        (_, Some(e)) => Err(CoreError::Corrupt(e)),
        (Ok(()), None) => Ok(()),
        (Err(e), None) => Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::Unknown,
            Box::new(e.message),
        )
        .into()),
    }
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs a rendered `SELECT COUNT(*) AS n …` and returns the count.
pub fn load_count(conn: &mut AnyConnection, sql: &Sql) -> QueryResult<u64> {
    let rows = on_backend!(conn, c => DynQuery(sql).load::<CountRow>(c))?;
    Ok(rows.first().map_or(0, |r| u64::try_from(r.n).unwrap_or(0)))
}

/// A row of any number of columns, each read as text.
struct TextRow(Vec<Option<String>>);

impl<DB> QueryableByName<DB> for TextRow
where
    DB: diesel::backend::Backend,
    Option<String>: FromSql<Nullable<Text>, DB>,
{
    fn build<'a>(row: &impl NamedRow<'a, DB>) -> deserialize::Result<Self> {
        (0..row.field_count())
            .map(|i| {
                let field = Row::get(row, i).ok_or("a column is missing")?;
                <Option<String> as FromSql<Nullable<Text>, DB>>::from_nullable_sql(field.value())
            })
            .collect::<deserialize::Result<Vec<_>>>()
            .map(TextRow)
    }
}

/// Runs a rendered read whose columns are all text and returns each row's columns.
pub fn load_cells(conn: &mut AnyConnection, sql: &Sql) -> QueryResult<Vec<Vec<Option<String>>>> {
    Ok(on_backend!(conn, c => DynQuery(sql).load::<TextRow>(c))?
        .into_iter()
        .map(|r| r.0)
        .collect())
}

/// Runs a rendered statement and returns the number of affected rows.
pub fn execute(conn: &mut AnyConnection, sql: &Sql) -> QueryResult<usize> {
    on_backend!(conn, c => DynQuery(sql).execute(c))
}

/// Gathers the SQLite query planner's statistics where tables lack them or changed size tenfold.
///
/// Without statistics SQLite takes any index on a filtered column for a selective one: a
/// filter matching most rows of a large table, with a sort, then sorts the whole table for each
/// page instead of reading the sort's index in order. PostgreSQL and MariaDB keep their
/// statistics themselves. `0x10002` checks every table, as SQLite advises for a connection's
/// start, and analyses in full: a sampled analysis (`analysis_limit`) reads the first rows of an
/// index only, which misjudged a value held by every row but the first thousand as rare. A
/// failure (a read-only file, a busy database) only costs plan quality, so it is logged and
/// ignored.
///
/// The analysis reads whole tables: through the connection's memory map they would all stay
/// resident in the server's memory (15 MB at start for 100,000 rows), so it reads them with the
/// map turned off, through SQLite's small page cache, and turns the map back on to `mmap` bytes.
pub(crate) fn refresh_statistics(conn: &mut AnyConnection, mmap: u64) {
    use diesel::connection::SimpleConnection;
    let analysed = conn
        .batch_execute("PRAGMA mmap_size = 0")
        .and_then(|()| conn.batch_execute("PRAGMA optimize=0x10002"));
    if let Err(e) = analysed {
        log::debug!("PRAGMA optimize failed: {e}");
    }
    if let Err(e) = conn.batch_execute(&format!("PRAGMA mmap_size = {mmap}")) {
        log::debug!("PRAGMA mmap_size failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement whose identifiers were quoted into its text renders, binds included, exactly
    /// as the driver renders the statement it came from, on every backend.
    #[test]
    fn quoted_statements_render_as_the_driver_renders_them() {
        use diesel::debug_query;
        let mut sql = Sql::default();
        sql.push("SELECT ")
            .ident("a`b\"c")
            .push(" FROM ")
            .ident("t")
            .push(" WHERE x = ")
            .bind(Value::Int(1))
            .push(" AND y = ")
            .bind(Value::Text("z".into()));
        let sqlite = |s: &Sql| debug_query::<diesel::sqlite::Sqlite, _>(&DynQuery(s)).to_string();
        assert_eq!(sqlite(&sql.quoted(Dialect::Sqlite)), sqlite(&sql));
        assert!(sqlite(&sql).contains("`a``b\"c`"), "{}", sqlite(&sql));
        #[cfg(feature = "postgres")]
        {
            let pg = |s: &Sql| debug_query::<diesel::pg::Pg, _>(&DynQuery(s)).to_string();
            assert_eq!(pg(&sql.quoted(Dialect::Postgres)), pg(&sql));
        }
        #[cfg(feature = "mysql")]
        {
            let my = |s: &Sql| debug_query::<diesel::mysql::Mysql, _>(&DynQuery(s)).to_string();
            assert_eq!(my(&sql.quoted(Dialect::Mysql)), my(&sql));
        }
    }

    /// Settling waits for an attempt that a checkout started and no longer waits for, and
    /// opens no connection of its own (it once took every connection of the pool, which after
    /// a PostgreSQL export meant two new connections at every exit).
    #[test]
    fn settling_waits_for_attempts_in_flight_and_opens_none() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("settle.db").display());
        let db = Db::connect(&url, 2).unwrap();
        let first = db.conn().unwrap();
        std::thread::scope(|s| {
            // No idle connection: the checkout starts an attempt, then takes `first`, which
            // comes back while the attempt may still run.
            let waiting = s.spawn(|| db.conn().map(drop));
            // Wait for the attempt itself, not a fixed time: on a loaded machine the checkout
            // may not have begun after a few milliseconds.
            let started = std::time::Instant::now();
            while *db.attempts.running.lock().unwrap() == 0 && db.pool.state().connections < 2 {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "no attempt began"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(first);
            waiting.join().unwrap().unwrap();
        });
        db.settle();
        assert_eq!(*db.attempts.running.lock().unwrap(), 0);
        // r2d2 counts the connection a moment after the attempt returned it.
        let ended = std::time::Instant::now();
        while db.pool.state().connections < 2 && ended.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(db.pool.state().connections, 2);
        let db = Db::connect(&url, 2).unwrap();
        drop(db.conn().unwrap());
        db.settle();
        assert_eq!(
            db.pool.state().connections,
            1,
            "settling opened a connection"
        );
    }

    /// The status counts connections in use, idle, and the callers waiting for one.
    #[test]
    fn status_counts_callers_waiting_for_a_connection() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("status.db").display());
        let db = Db::connect(&url, 2).unwrap();
        let (a, b) = (db.conn().unwrap(), db.conn().unwrap());
        let status = db.status();
        assert_eq!((status.connections, status.idle, status.waiting), (2, 0, 0));
        assert_eq!(status.max, 2);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| db.conn().map(drop));
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while db.status().waiting == 0 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            assert_eq!(db.status().waiting, 1);
            drop(a);
            waiter.join().unwrap().unwrap();
        });
        drop(b);
        db.settle();
        let status = db.status();
        assert_eq!((status.idle, status.waiting), (status.connections, 0));
    }

    /// `.cargo/config.toml` builds the bundled SQLite without the locks every call took.
    #[test]
    fn bundled_sqlite_is_built_without_per_call_locks() {
        #[derive(QueryableByName)]
        struct CompileOption {
            #[diesel(sql_type = Text)]
            compile_options: String,
        }
        let mut c = diesel::SqliteConnection::establish(":memory:").unwrap();
        let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<CompileOption>(&mut c)
            .unwrap()
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        for wanted in ["THREADSAFE=2", "DEFAULT_MEMSTATUS=0"] {
            assert!(
                options.iter().any(|o| o == wanted),
                "{wanted} in {options:?}"
            );
        }
    }

    #[test]
    fn urls_choose_the_backend_and_mistypes_fail() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://x.db").unwrap().dialect(),
            Dialect::Sqlite
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db").unwrap().target,
            "/tmp/x.db"
        );
        for bad in [
            "x.db",
            "sqlit://x.db",
            "sqlite://",
            "sqlite://no/such/dir/x.db",
            "sqlite://:memory:",
        ] {
            assert!(
                matches!(DatabaseUrl::parse(bad), Err(CoreError::InvalidUrl(_))),
                "{bad}"
            );
        }
        let file = |url: &str| {
            DatabaseUrl::parse(url)
                .unwrap()
                .sqlite_file()
                .map(|p| p.display().to_string())
        };
        assert_eq!(file("sqlite://x.db").as_deref(), Some("x.db"));
        assert_eq!(
            file("sqlite:///tmp/x.db?foo=1").as_deref(),
            Some("/tmp/x.db")
        );
        assert_eq!(file("sqlite://file:x.db").as_deref(), Some("x.db"));
        assert_eq!(
            file("sqlite://file:///tmp/x.db").as_deref(),
            Some("/tmp/x.db")
        );
        assert_eq!(file("sqlite://file::memory:"), None);
        assert_eq!(file("sqlite://file:m?mode=memory&cache=shared"), None);
        assert_eq!(file("postgres://u@h/db"), None);
        // A `file:` URI keeps its parameters, which SQLite reads; a plain path has none.
        assert_eq!(
            DatabaseUrl::parse("sqlite://file:m?mode=memory&cache=shared")
                .unwrap()
                .target,
            "file:m?mode=memory&cache=shared"
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://x.db?a=b").unwrap().target,
            "x.db"
        );
        assert_eq!(redact("mysql://root:secret@h/db"), "mysql://root:***@h/db");
        if let Err(CoreError::InvalidUrl(m)) = DatabaseUrl::parse("foo://root:secret@h/db") {
            assert!(!m.contains("secret"));
        }
    }
}
