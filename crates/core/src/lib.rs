//! The dynex core: what the server, the CLI and embedding services call.
//!
//! [`Dynex::open`] connects to a `sqlite://`, `postgres://` or `mysql://` URL, applies dynex's
//! migrations and loads the entity configuration into an in-memory snapshot. Reads go through
//! [`Dynex::read_collection`] and [`Dynex::read_one`]; configuration, API keys and users are managed
//! with the other methods. A background watcher notices configuration changes made by other processes
//! (a CLI, another server) by a version number and swaps the snapshot, so no request ever queries
//! the configuration.
//!
//! ```no_run
//! let dynex = dynex_core::Dynex::open("sqlite://dynex.db")?;
//! let countries = dynex.read_collection("countries", &[("page[limit]".into(), "5".into())], None)?;
//! println!("{}", serde_json::Value::Array(countries.rows));
//! # Ok::<(), dynex_core::CoreError>(())
//! ```

mod audit;
pub mod cancel;
pub mod changes;
pub mod clock;
mod config;
pub mod db;
mod dberr;
mod engine;
mod error;
mod identity;
mod jobs;
mod pipelines;
mod retry;
mod schema;
mod session;
mod ticks;
mod variables;

pub use config::{introspect, store};
pub use engine::hooks;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use dynex_auth::TokenSigner;
use dynex_query::{Dialect, PageLimits};

pub use audit::{Actor, AuditEntry, AuditFilter};
pub use cancel::Cancel;
pub use config::snapshot::Snapshot;
pub use db::{Db, DbOptions, redact};
pub use engine::hooks::{Batch, HookError, Operation, PendingRow, WriteHooks};
pub use engine::precondition::{EntityTags, Precondition, etag_of_text, row_etag};
pub use engine::read::ReadPage;
pub use engine::write::{Method, WriteOutcome, WriteRequest};
pub use engine::{PageNow, PendingRead, RowCount, SHORT_READ_KEYS};
pub use error::CoreError;
pub use identity::clients::{ClientInfo, NewClient};
pub use identity::keys::{ApiKeyInfo, InvalidValidTo, KeyRefusal, NewApiKey, parse_valid_to};
pub use identity::tokens::{GrantError, LoginLimits, TokenGrant, TokenOptions, TokenRequest};
pub use identity::users::UserInfo;
pub use jobs::export::{
    EXPORT_PAGE_ROWS, ExportPlan, ExportRequest, ExportSummary, InvalidChangedSince,
    parse_changed_since,
};
pub use jobs::import::{
    IMPORT_BATCH_ROWS, ImportMode, ImportObserver, ImportOptions, ImportSummary, RecordRow, Reject,
    RowLookup, RowsSpec,
};
pub use jobs::indexes::IndexWarning;
pub use jobs::table::{
    FILE_NAME_MAX_CHARS, JobInfo, JobKind, JobResume, NewJob, STALE_AFTER_MS, check_file_name,
};
pub use pipelines::{
    DeadLetter, NewDeadLetter, PIPELINE_NAME_MAX, PipelineRun, RUN_HEARTBEAT, RUN_LEASE, RunState,
    Saved, StoredPipeline, check_pipeline_name, process_name,
};
pub use store::StoredEntity;
pub use ticks::PipelineStatus;
pub use variables::{SecretKey, Variable, VariableInfo, check_variable_name};

/// The largest request body `dynex-server` accepts by default: 16 MiB, room for about 20,000
/// typical rows per request (`dynex openapi` describes the same limit).
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How often a server looks for configuration changes made elsewhere by default: a key created
/// or revoked by the CLI or another server counts from this long after it committed.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_millis(5);

/// How to open a database.
#[derive(Debug, Clone)]
pub struct Options {
    /// The connection pool: its size and timeouts, and what each connection is set to.
    pub db: DbOptions,
    /// Apply pending migrations when opening.
    pub migrate: bool,
    /// Default and maximum page size of collection reads.
    pub page_limits: PageLimits,
    /// How often to look for configuration changes made elsewhere; `None` never looks.
    pub watch_interval: Option<Duration>,
    /// Token lifetimes, signing secret and failed-login limits.
    pub tokens: TokenOptions,
    /// Record every data write (API, import) in the audit log with its rows' identifiers, not
    /// only changes of configuration, keys, users, clients, tokens and jobs.
    pub audit_data_writes: bool,
    /// How long audit entries are kept; the watcher deletes older ones once an hour. `None`
    /// keeps them forever.
    pub audit_retention: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            db: DbOptions::default(),
            migrate: true,
            page_limits: PageLimits::default(),
            watch_interval: Some(DEFAULT_WATCH_INTERVAL),
            tokens: TokenOptions::default(),
            audit_data_writes: false,
            audit_retention: None,
        }
    }
}

struct Inner {
    db: Db,
    options: Options,
    snapshot: ArcSwap<Snapshot>,
    signer: TokenSigner,
    /// Signs and checks `page[after]` cursors.
    cursor_key: engine::cursor::CursorKey,
    hooks: std::sync::RwLock<Option<Arc<dyn WriteHooks>>>,
    /// Serialises this process's SQLite writers, and commits the API's writes in groups.
    sqlite_writer: engine::writer::Writer,
    /// Progress of the jobs this process runs.
    jobs: jobs::table::LiveJobs,
    /// The statements of reads by identifier, rendered once per entity.
    by_id: engine::read::ByIdStatements,
    /// The statements of pages found by a list of keys, rendered once per shape.
    by_keys: engine::read::KeysStatements,
}

/// A handle on one dynex database; cheap to clone and shareable across threads.
#[derive(Clone)]
pub struct Dynex {
    inner: Arc<Inner>,
    /// Who this handle's changes are recorded for in the audit log ([`Dynex::acting`]).
    actor: Option<Arc<audit::Actor>>,
}

impl std::fmt::Debug for Dynex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dynex").field("db", &self.inner.db).finish()
    }
}

impl Dynex {
    /// Opens the database at `url` with default [`Options`].
    pub fn open(url: &str) -> Result<Dynex, CoreError> {
        Dynex::open_with(url, Options::default())
    }

    /// Opens the database at `url`: connects, migrates (if asked), loads the configuration and
    /// starts watching for changes.
    pub fn open_with(url: &str, options: Options) -> Result<Dynex, CoreError> {
        let db = Db::connect_options(url, &options.db)?;
        if options.migrate {
            db.migrate()?;
        }
        if db.dialect() == Dialect::Sqlite {
            db::refresh_statistics(&mut *db.conn()?, options.db.sqlite_mmap);
        }
        let interval = options.watch_interval;
        let secret = match &options.tokens.secret {
            Some(secret) => secret.clone(),
            None => identity::tokens::stored_secret(&mut *db.conn()?)?,
        };
        let dynex = Dynex {
            inner: Arc::new(Inner {
                db,
                options,
                snapshot: ArcSwap::from_pointee(Snapshot::default()),
                signer: TokenSigner::new(secret.as_bytes()),
                cursor_key: engine::cursor::CursorKey::new(secret.as_bytes()),
                hooks: std::sync::RwLock::new(None),
                sqlite_writer: engine::writer::Writer::default(),
                jobs: jobs::table::LiveJobs::default(),
                by_id: engine::read::ByIdStatements::default(),
                by_keys: engine::read::KeysStatements::default(),
            }),
            actor: None,
        };
        dynex.reload()?;
        if let Some(every) = interval {
            config::snapshot::spawn_watcher(Arc::downgrade(&dynex.inner), every);
        }
        Ok(dynex)
    }

    /// The connection pool.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The SQL dialect of the database.
    pub fn dialect(&self) -> Dialect {
        self.inner.db.dialect()
    }

    /// The page limits in force.
    pub fn page_limits(&self) -> PageLimits {
        self.inner.options.page_limits
    }

    /// The current snapshot of configuration and keys.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshot.load_full()
    }

    /// The token lifetimes and login limits this handle was opened with.
    pub fn token_options(&self) -> &TokenOptions {
        &self.inner.options.tokens
    }
}
