//! How the server is configured: the command line of `dynex-server`, the settings of an
//! application built by [`crate::create_app`], and the state every handler shares.

use std::net::SocketAddr;
use std::time::Duration;

use dynex_core::Dynex;

use crate::metrics::Metrics;

/// Command-line and environment settings of `dynex-server`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "dynex-server",
    version,
    about = "Serve the Data Exchange API over configured tables"
)]
pub struct ServerArgs {
    /// Database URL: sqlite://path, postgres://user@host/db or mysql://user:pass@host/db
    /// [default: sqlite://dynex.db, or sqlite://dynex-demo.db with --demo]
    #[arg(long, env = "DYNEX_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "DYNEX_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Load the demo catalog (if absent) and print a ready-to-use API key.
    #[arg(long)]
    pub demo: bool,
    /// URL prefix of the Data Exchange API.
    #[arg(long, env = "DYNEX_ROUTE_PREFIX", default_value = "dynamic-entity")]
    pub route_prefix: String,
    /// Rows per page when a request gives no page[limit].
    // clap prints this text as the option's help, where `page[limit]` is the parameter's name.
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(long, env = "DYNEX_PAGE_LIMIT_DEFAULT", default_value_t = 20)]
    pub page_limit_default: u64,
    /// Largest page[limit] accepted.
    // clap prints this text as the option's help, where `page[limit]` is the parameter's name.
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(long, env = "DYNEX_PAGE_LIMIT_MAX", default_value_t = 1000)]
    pub page_limit_max: u64,
    /// Database connections in the pool.
    #[arg(long, env = "DYNEX_POOL_SIZE", default_value_t = 8)]
    pub pool_size: u32,
    /// MiB of a SQLite database file the pooled connections read through a memory map, one
    /// shared by them all (`PRAGMA mmap_size`); 0 reads through each connection's own page cache.
    #[arg(long, env = "DYNEX_SQLITE_MMAP", default_value_t = dynex_core::db::SQLITE_MMAP_BYTES >> 20)]
    pub sqlite_mmap: u64,
    /// Milliseconds between two looks for configuration changes made elsewhere (a key created
    /// by the CLI, an entity added by another server); at least 1.
    #[arg(long, env = "DYNEX_WATCH_INTERVAL", default_value_t = dynex_core::DEFAULT_WATCH_INTERVAL.as_millis() as u64)]
    pub watch_interval: u64,
    /// Seconds a request waits for a database connection before it is answered 503 (code 1390).
    #[arg(long, env = "DYNEX_POOL_TIMEOUT", default_value_t = 10)]
    pub pool_timeout: u64,
    /// Seconds a statement may run on PostgreSQL or MariaDB before the database cancels it and
    /// the request is answered 503 (code 1392); 0 sets no limit. Import and export jobs are
    /// not limited.
    #[arg(long, env = "DYNEX_STATEMENT_TIMEOUT", default_value_t = 30)]
    pub statement_timeout: u64,
    /// Record every data write (API and import jobs) in the audit log with its rows'
    /// identifiers, besides changes of configuration, keys, users, clients, tokens and jobs.
    #[arg(long, env = "DYNEX_AUDIT_DATA_WRITES")]
    pub audit_data_writes: bool,
    /// Days audit entries are kept; older ones are deleted once an hour. 0 keeps them forever.
    #[arg(long, env = "DYNEX_AUDIT_RETENTION_DAYS", default_value_t = 90)]
    pub audit_retention_days: u64,
    /// HTTP worker threads (default: one per CPU).
    #[arg(long, env = "DYNEX_WORKERS")]
    pub workers: Option<usize>,
    /// Largest request body accepted, in bytes; a larger one is refused with 413 (code 1322).
    #[arg(long, env = "DYNEX_MAX_BODY_BYTES", default_value_t = AppConfig::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Largest CSV file accepted by an import job (`POST /admin/api/jobs/import`, the back
    /// office), in bytes; it is stored in a temporary file, not held in memory.
    #[arg(long, env = "DYNEX_MAX_UPLOAD_BYTES", default_value_t = AppConfig::DEFAULT_MAX_UPLOAD_BYTES)]
    pub max_upload_bytes: usize,
    /// Secret that signs access tokens (at least 32 random bytes; every instance needs the
    /// same). Without it, a secret generated at first start and kept in the database is used.
    #[arg(long, env = "DYNEX_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
    /// Access-token lifetime in seconds.
    #[arg(long, env = "DYNEX_ACCESS_TOKEN_TTL", default_value_t = 8 * 3600)]
    pub access_token_ttl: u64,
    /// Refresh-token lifetime in seconds.
    #[arg(long, env = "DYNEX_REFRESH_TOKEN_TTL", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl: u64,
    /// Rate-limit failed logins by the first `X-Forwarded-For` address instead of the peer's;
    /// only behind a proxy that sets that header itself.
    #[arg(long, env = "DYNEX_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// Log lines as `text` or as `json`, one object per line.
    #[arg(long, env = "DYNEX_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Who may read `/metrics`: anyone (`public`, like `/health`), credentials with the
    /// `admin` scope (`admin`), or nobody (`off`: no route).
    #[arg(long, env = "DYNEX_METRICS", value_enum, default_value_t = MetricsAccess::Public)]
    pub metrics: MetricsAccess,
    /// Whether this server runs pipelines on their schedules (`on`), or only serves (`off`:
    /// API-only instances beside one that schedules). Several servers may schedule: each tick
    /// runs once.
    #[arg(long, env = "DYNEX_SCHEDULER", value_enum, default_value_t = Switch::On)]
    pub scheduler: Switch,
    /// Seconds a client has to send a request's body after its head, one more per MiB
    /// received; a later body is answered 408 (code 1328) and the connection closed. 0: no limit.
    #[arg(long, env = "DYNEX_BODY_TIMEOUT", default_value_t = AppConfig::DEFAULT_BODY_TIMEOUT.as_secs())]
    pub body_timeout: u64,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// `env_logger`'s lines: time, level, target, message.
    #[default]
    Text,
    /// One JSON object per line: `time`, `level`, `target`, `message` and the line's fields.
    Json,
}

/// A feature on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Switch {
    /// On.
    #[default]
    On,
    /// Off.
    Off,
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MetricsAccess {
    /// Anyone who reaches the server, as for `/health`.
    #[default]
    Public,
    /// Callers with the `admin` scope (an API key, or a bearer token).
    Admin,
    /// Nobody: the route does not exist.
    Off,
}

/// How the application is served, besides the database.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// URL prefix of the Data Exchange API, `dynamic-entity` by default.
    pub route_prefix: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest file accepted by an import job, in bytes.
    pub max_upload_bytes: usize,
    /// Take the client address for login rate limits from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// Who may read `/metrics`.
    pub metrics_access: MetricsAccess,
    /// The time a request body may take after the head (plus a second per MiB); `None` waits
    /// as long as the client keeps the connection open.
    pub body_timeout: Option<Duration>,
    /// The request metrics; every application built with clones of one config shares them
    /// (`dynex-server` builds one per worker thread).
    pub metrics: Metrics,
}

impl AppConfig {
    /// The default body timeout: 30 seconds.
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default body limit: 16 MiB, room for about 20,000 typical rows per request.
    pub const DEFAULT_MAX_BODY_BYTES: usize = dynex_core::DEFAULT_MAX_BODY_BYTES;
    /// The default upload limit of import jobs: 4 GiB.
    pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 4 * 1024 * 1024 * 1024;
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            route_prefix: "dynamic-entity".to_string(),
            max_body_bytes: AppConfig::DEFAULT_MAX_BODY_BYTES,
            max_upload_bytes: AppConfig::DEFAULT_MAX_UPLOAD_BYTES,
            trust_forwarded_for: false,
            metrics_access: MetricsAccess::default(),
            body_timeout: Some(AppConfig::DEFAULT_BODY_TIMEOUT),
            metrics: Metrics::default(),
        }
    }
}

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The opened database.
    pub dynex: Dynex,
    /// The body limit, for the 413 message.
    pub max_body_bytes: usize,
    /// The upload limit of import jobs.
    pub max_upload_bytes: usize,
    /// Take the client address from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// The request, import and export metrics.
    pub metrics: Metrics,
    /// Who may read `/metrics`.
    pub metrics_access: MetricsAccess,
    /// The body timeout (see [`AppConfig::body_timeout`]).
    pub body_timeout: Option<Duration>,
}
