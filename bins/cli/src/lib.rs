//! The `dynex` command line as a library: the clap [`Cli`], [`run`] and the exit-code mapping.
//!
//! `src/main.rs` only parses arguments and turns the result of [`run`] into an exit code with
//! [`report`], so tests and other tools drive exactly the commands users run.

mod audit;
mod client;
mod entity;
mod export;
mod hints;
mod import;
mod key;
mod openapi;
mod output;
mod pipeline;
mod user;
mod variable;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDateTime;
use clap::{Args, Parser, Subcommand};
use dynex_auth::{Role, Scope};
use dynex_core::{Actor, CoreError, Db, DbOptions, Dynex, Options, redact};
use serde_json::json;

const ABOUT: &str = "dynex command line: migrations, entity configuration, API keys, users, \
     integration clients, CSV import and export, pipelines";

const LONG_ABOUT: &str = "\
dynex command line: migrations, entity configuration, API keys, users, integration clients,
CSV import and export, pipelines.

Every command opens the database named by --database-url (or DYNEX_DATABASE_URL) and applies
pending migrations first. With --json, results are printed as one JSON document on stdout and
errors as {\"error\": {\"code\": \"…\", \"message\": \"…\"}} on stdout.

Exit codes:
  0  success
  1  runtime failure (database unreachable, migration or statement failed, I/O error)
  2  usage error or invalid input (bad arguments, malformed file, name already taken,
     weak password)
  3  configuration or pipeline definition invalid (each problem is printed on its own line)
  4  not found (entity, table, API key, user, client or row)
  5  an import rejected rows (see its summary and --rejects file)";

/// The `dynex` command line.
#[derive(Debug, Parser)]
#[command(name = "dynex", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// Database URL: sqlite://path.db, sqlite:///abs/path.db, postgres://user@host/db or mysql://user:pass@host/db.
    #[arg(
        long,
        env = "DYNEX_DATABASE_URL",
        default_value = "sqlite://dynex.db",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: String,
    /// Print results (and errors) as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations of dynex's own tables.
    Migrate,
    /// Manage entity configurations (the endpoints under /dynamic-entity).
    #[command(subcommand)]
    Entity(EntityCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage dynex users (Back Office and API users) and their passwords.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage integration clients (OAuth 2.0 client credentials grant).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Import a CSV file into an entity (or several with --manifest): validated like the API, bad rows reported, good rows kept.
    Import(ImportArgs),
    /// Export an entity's rows as CSV (or several entities with --manifest): chosen fields, sorted, optionally only rows changed since a time.
    Export(ExportArgs),
    /// Print the OpenAPI 3.1 description of the API over this database (what dynex-server serves at /openapi.json).
    Openapi(openapi::OpenapiArgs),
    /// Show the audit log, newest first: who changed the configuration, keys, users, clients, tokens, jobs (and data, when recorded), when and from where.
    Audit(AuditArgs),
    /// Manage pipelines: definitions that move records from a third-party system into an entity (see docs/pipelines.md).
    #[command(subcommand)]
    Pipeline(PipelineCommand),
    /// Manage the variables pipeline definitions read as ${NAME}; secrets are encrypted with DYNEX_SECRET_KEY and never shown.
    #[command(subcommand)]
    Variable(VariableCommand),
}

/// `dynex variable …`
#[derive(Debug, Subcommand)]
pub enum VariableCommand {
    /// Set a variable; its value is read from stdin (prompted for on a terminal, hidden for a secret).
    Set {
        /// The name: uppercase letters, digits and `_` (AKENEO_URL).
        name: String,
        /// Encrypt the value with the key in DYNEX_SECRET_KEY; it is never shown again.
        #[arg(long)]
        secret: bool,
    },
    /// List variables: plain values shown, secrets never.
    List,
    /// Remove a variable.
    Remove {
        /// The variable's name.
        name: String,
    },
    /// Print a new random key for DYNEX_SECRET_KEY (64 hexadecimal digits).
    NewKey,
}

/// `dynex pipeline …`
#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Check a definition (YAML) against this database's entities and save it, creating the pipeline or replacing its definition; a folder adds every definition in it (an app), each after the pipelines it runs `after`, and none unless all hold.
    Add {
        /// The definition file, `-` for stdin, or a folder of `*.yml` definitions.
        #[arg(value_name = "FILE.yml|FOLDER")]
        file: PathBuf,
    },
    /// Check a definition (YAML), or a folder of them, as `add` does, without saving.
    Check {
        /// The definition file, `-` for stdin, or a folder of `*.yml` definitions.
        #[arg(value_name = "FILE.yml|FOLDER")]
        file: PathBuf,
    },
    /// List pipelines: name, source, target and when each was last saved.
    List,
    /// Show a pipeline: its source, target, fields and when it was saved.
    Show {
        /// The pipeline's name.
        name: String,
    },
    /// Print a pipeline's definition as it was saved (comments included), to edit and add again.
    Export {
        /// The pipeline's name.
        name: String,
    },
    /// Remove a pipeline with its cursor and dead letters (its run history stays).
    Remove {
        /// The pipeline's name.
        name: String,
    },
    /// Run a pipeline now: read its source page by page, map each record, write the rows; exit code 5 when records went to its dead letters.
    Run {
        /// The pipeline's name.
        name: String,
        /// Map and check everything, write nothing, keep no cursor or dead letter.
        #[arg(long)]
        dry_run: bool,
        /// Ignore the stored cursor: read the source from its beginning.
        #[arg(long)]
        full: bool,
        /// First run the pipelines it runs `after`, each after its own, in order; the first that fails ends the chain.
        #[arg(long)]
        with_dependencies: bool,
    },
    /// Show what the mapping makes of the first records the next run would read, beside each record; writes nothing.
    Test {
        /// The pipeline's name.
        name: String,
        /// How many records to read (1 to 1000).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
        sample: u32,
        /// Read from the source's beginning, not from the stored cursor.
        #[arg(long)]
        full: bool,
    },
    /// Replay a pipeline's dead letters through its current mapping and target; delivered ones are removed, refused ones stay.
    Retry {
        /// The pipeline's name.
        name: String,
        /// At most this many dead letters, oldest first (1 to 1000000).
        #[arg(long, default_value_t = 10000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        limit: u32,
    },
    /// List a pipeline's runs, newest first: state, counts, cursor and error.
    Runs {
        /// The pipeline's name.
        name: String,
        /// How many runs to show (1 to 1000).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
    /// List the records a pipeline could not deliver, oldest first, with the code, field and message of each.
    DeadLetters {
        /// The pipeline's name.
        name: String,
        /// How many to show (1 to 10000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10000))]
        limit: u32,
    },
    /// List the requests of a pipeline's `http` target, newest first: status, tries, time and the record each carried.
    Deliveries {
        /// The pipeline's name.
        name: String,
        /// How many to show (1 to 10000).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10000))]
        limit: u32,
    },
    /// Ask a pipeline's running run to stop between two pages, wherever it runs (it stops within seconds, recorded as failed).
    Stop {
        /// The pipeline's name.
        name: String,
    },
}

/// `dynex audit …`
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// How many entries to show (1 to 1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Only entries older than this id (the last ID of the previous page).
    #[arg(long, value_name = "ID")]
    pub before: Option<i64>,
    /// Only this action (key.revoke), or every action of an area (key.).
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,
    /// Only entries by this actor (a key's, user's or client's name, or an OS user).
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
    /// Only entries about this target (an alias, a key's, user's or client's name).
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
}

/// `dynex entity …`
#[derive(Debug, Subcommand)]
pub enum EntityCommand {
    /// List configured entities.
    List,
    /// Show one entity's configuration (Spryker installer format).
    Show {
        /// The entity's alias.
        alias: String,
    },
    /// Expose a database table: build its configuration from the live schema and store it.
    Add {
        /// The table to expose.
        #[arg(long, value_name = "TABLE")]
        table: String,
        /// The alias used in URLs (derived from the table name when omitted).
        #[arg(long, value_name = "ALIAS")]
        alias: Option<String>,
        /// Store the configuration without serving it yet.
        #[arg(long)]
        inactive: bool,
    },
    /// Import a Spryker installer configuration.json (all entries or none).
    Import {
        /// The file to read, or `-` for stdin.
        #[arg(value_name = "FILE.json")]
        file: String,
    },
    /// Export configurations in the Spryker installer format (always JSON).
    Export {
        /// Aliases to export (all entities when none are given).
        #[arg(value_name = "ALIAS")]
        aliases: Vec<String>,
        /// Write to this file instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Serve an entity (mark it active).
    Enable {
        /// The entity's alias.
        alias: String,
    },
    /// Stop serving an entity, keeping its configuration.
    Disable {
        /// The entity's alias.
        alias: String,
    },
    /// Remove an entity's configuration and its relations (the table is untouched).
    Remove {
        /// The entity's alias.
        alias: String,
    },
}

/// `dynex key …`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key and print it (the only time it is shown).
    Create {
        /// A unique name for the key.
        name: String,
        /// A granted scope: admin, dynamic-entity:<read|write|delete> or dynamic-entity:<alias>:<action> (repeatable or comma-separated; default: every entity, every action).
        // clap prints this text as the option's help, where `<alias>` reads as a placeholder.
        #[allow(rustdoc::invalid_html_tags)]
        #[arg(long = "scope", value_name = "SCOPE", value_delimiter = ',', value_parser = parse_scope)]
        scopes: Vec<Scope>,
        /// Expiry: YYYY-MM-DD (end of that day, UTC), "YYYY-MM-DD HH:MM:SS" (UTC) or RFC 3339.
        #[arg(long, value_name = "DATE", value_parser = parse_valid_to)]
        valid_to: Option<NaiveDateTime>,
    },
    /// List API keys (never their values).
    List,
    /// Revoke an API key by name.
    Revoke {
        /// The key's name.
        name: String,
    },
}

/// `dynex user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is asked for twice at a terminal (or read with --password-stdin).
    Add {
        /// A unique name: 1 to 64 letters, digits, `.`, `_`, `@` or `-`.
        name: String,
        /// The user's role: admin (configuration and every entity) or integrator (every entity).
        #[arg(long, value_name = "admin|integrator", value_parser = user::parse_role)]
        role: Role,
        /// Read the password from the first line of stdin instead of asking for it.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users (never their passwords or hashes).
    List,
    /// Remove a user by name.
    Remove {
        /// The user's name.
        name: String,
    },
    /// Set a user's password; asked for twice at a terminal (or read with --password-stdin).
    Passwd {
        /// The user's name.
        name: String,
        /// Read the password from the first line of stdin instead of asking for it.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Revoke every access and refresh token issued to a user until now (the user may log in again).
    RevokeTokens {
        /// The user's name.
        name: String,
    },
}

/// `dynex client …`
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Add an integration client and print its secret (the only time it is shown).
    Add {
        /// A unique client id: 1 to 64 letters, digits, `.`, `_`, `@` or `-`.
        id: String,
        /// A scope the client may be granted: admin, dynamic-entity:<read|write|delete> or dynamic-entity:<alias>:<action> (required; repeatable or comma-separated).
        // clap prints this text as the option's help, where `<alias>` reads as a placeholder.
        #[allow(rustdoc::invalid_html_tags)]
        #[arg(long = "scope", value_name = "SCOPE", value_delimiter = ',', value_parser = parse_scope, required = true)]
        scopes: Vec<Scope>,
    },
    /// List integration clients (never their secrets).
    List,
    /// Remove an integration client; its tokens are refused at once.
    Remove {
        /// The client id.
        id: String,
    },
    /// Revoke every token issued to a client until now (it may ask for new ones).
    RevokeTokens {
        /// The client id.
        id: String,
    },
}

/// How imported rows meet the stored ones (`--mode`, and `mode:` in a manifest).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportModeArg {
    /// Create every row; a row whose key exists is rejected.
    #[default]
    Insert,
    /// Update rows whose key exists (the file's columns only), create the others.
    Upsert,
    /// Update rows whose key exists; a row whose key does not exist is rejected.
    Update,
}

impl From<ImportModeArg> for dynex_core::ImportMode {
    fn from(m: ImportModeArg) -> Self {
        match m {
            ImportModeArg::Insert => dynex_core::ImportMode::Insert,
            ImportModeArg::Upsert => dynex_core::ImportMode::Upsert,
            ImportModeArg::Update => dynex_core::ImportMode::Update,
        }
    }
}

/// `dynex import ALIAS FILE …` or `dynex import --manifest FILE.yml …`
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The entity's alias.
    #[arg(required_unless_present = "manifest")]
    pub alias: Option<String>,
    /// The CSV file: a header line of visible field names, then one row per line (`-` reads stdin).
    #[arg(required_unless_present = "manifest")]
    pub file: Option<PathBuf>,
    /// Import several files listed in a YAML manifest (or Spryker's data_import.yml), parents before children; mode, key and mapping are set per file there, and --rejects names a directory.
    #[arg(long, value_name = "FILE.yml", conflicts_with_all = ["alias", "file", "mode", "key", "mapping"])]
    pub manifest: Option<PathBuf>,
    /// insert, upsert or update.
    #[arg(long, value_enum, default_value = "insert")]
    pub mode: ImportModeArg,
    /// The field that matches rows in upsert and update modes, such as a unique SKU (default: the identifier).
    #[arg(long, value_name = "FIELD")]
    pub key: Option<String>,
    /// Validate and try every row in one transaction, then roll it back: the report of a real run, nothing written.
    #[arg(long)]
    pub dry_run: bool,
    /// All or nothing: one transaction for the whole file, committed only if no row is rejected.
    #[arg(long)]
    pub atomic: bool,
    /// Continue an interrupted import of the same file after its last committed batch (not with --atomic or --dry-run, nor stdin).
    #[arg(long)]
    pub resume: bool,
    /// Write each rejected line to this CSV file, with its line number, code, field and message (with --manifest: a directory, one ENTITY.rejects.csv per file).
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Stop after the batch in which this many rows were rejected.
    #[arg(long, value_name = "N")]
    pub max_errors: Option<u64>,
    /// Rows written per batch; upserts and updates take at most the page limit (1000) per
    /// batch, as each batch is matched with one read.
    #[arg(long, value_name = "N", default_value_t = dynex_core::IMPORT_BATCH_ROWS)]
    pub batch_size: usize,
    /// A YAML mapping for files of another system: renamed and ignored columns, constants, trims, value maps, date formats, decimal commas (see docs/import-export.md).
    #[arg(long, value_name = "FILE.yml")]
    pub mapping: Option<PathBuf>,
}

/// `dynex export ALIAS …` or `dynex export --manifest FILE.yml`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The entity's alias.
    #[arg(required_unless_present = "manifest")]
    pub alias: Option<String>,
    /// A filter: field=value or filter[alias.field]=value; the value may be JSON such as {"in": ["AT", "DE"]} (repeatable).
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Only these fields, as CSV columns in this order (visible names, comma-separated or repeated; default: every field).
    #[arg(long, value_name = "FIELD,…", value_delimiter = ',')]
    pub fields: Vec<String>,
    /// Sort by these fields (visible names, comma-separated), `-` for descending: -price,sku. NULL comes first ascending and last descending; the identifier breaks ties (default: identifier order).
    #[arg(long, value_name = "[-]FIELD,…", allow_hyphen_values = true)]
    pub sort: Option<String>,
    /// Only rows changed at or after this time, by the entity's updatedAtField: YYYY-MM-DD, "YYYY-MM-DD HH:MM:SS" (UTC) or RFC 3339. Rows without a value are left out.
    #[arg(long, value_name = "TIME")]
    pub changed_since: Option<String>,
    /// Write to this file instead of stdout (replaced only when the export succeeds).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Export several entities listed in a YAML manifest, each to its own file (entity, file, filter, fields, sort, changed_since per export); everything is checked before any file is written.
    #[arg(
        long,
        value_name = "FILE.yml",
        conflicts_with_all = ["alias", "filters", "fields", "sort", "changed_since", "output"]
    )]
    pub manifest: Option<PathBuf>,
    /// Text cells that start with =, +, -, @, a tab or a carriage return: `keep` them as stored, or `escape` them with a leading ' so that a spreadsheet shows them instead of running them as formulas (numbers are never changed; an escaped file no longer imports back unchanged).
    #[arg(long, value_enum, default_value_t = Formulas::Keep)]
    pub formulas: Formulas,
    /// Rows per query (keyset page); for tests and tuning.
    #[arg(long, value_name = "N", default_value_t = dynex_core::EXPORT_PAGE_ROWS, hide = true)]
    pub page_rows: u64,
}

/// What an export does with text cells that a spreadsheet would run as formulas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Formulas {
    /// Write them as stored.
    #[default]
    Keep,
    /// Prefix them with `'`.
    Escape,
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    s.trim().parse()
}

pub use dynex_core::parse_valid_to;

/// What a failed run exits with (documented in `dynex --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: the database is unreachable, a statement or migration failed, I/O failed.
    Failure = 1,
    /// 2: bad arguments or invalid input.
    Usage = 2,
    /// 3: a configuration does not pass validation.
    Config = 3,
    /// 4: the named entity, table, key, user, client or row does not exist.
    NotFound = 4,
    /// 5: an import finished but rejected rows (the summary and the rejects file say which).
    Rejected = 5,
}

/// The exit code and the stable JSON error `code` of an error.
pub fn classify(err: &anyhow::Error) -> (Exit, &'static str) {
    if let Some(explained) = err.downcast_ref::<hints::Explained>() {
        return classify(&explained.error);
    }
    if err.downcast_ref::<hints::MissingDatabase>().is_some() {
        return (Exit::Usage, "database_not_found");
    }
    if err.downcast_ref::<import::RowsRejected>().is_some() {
        return (Exit::Rejected, "rows_rejected");
    }
    if err.downcast_ref::<pipeline::DeadLettered>().is_some() {
        return (Exit::Rejected, "records_dead_lettered");
    }
    if err
        .chain()
        .any(|c| c.downcast_ref::<dynex_pipeline::Problems>().is_some())
    {
        return (Exit::Config, "invalid_pipeline");
    }
    let core = err.chain().find_map(|c| c.downcast_ref::<CoreError>());
    match core {
        Some(e) => match e {
            CoreError::InvalidUrl(_) => (Exit::Usage, "invalid_url"),
            CoreError::Unavailable(_) => (Exit::Failure, "unavailable"),
            CoreError::Migration(_) => (Exit::Failure, "migration"),
            CoreError::UnknownEntity(_) => (Exit::NotFound, "unknown_entity"),
            CoreError::RowNotFound(_) => (Exit::NotFound, "row_not_found"),
            CoreError::Query(_) => (Exit::Usage, "invalid_query"),
            CoreError::Config(_) => (Exit::Config, "invalid_configuration"),
            CoreError::ConfigFormat(_) => (Exit::Usage, "invalid_configuration_file"),
            CoreError::NotFound { .. } => (Exit::NotFound, "not_found"),
            CoreError::AlreadyExists { .. } => (Exit::Usage, "already_exists"),
            CoreError::Invalid(_) => (Exit::Usage, "invalid"),
            CoreError::Database(_) => (Exit::Failure, "database"),
            CoreError::StatementTimeout(_) => (Exit::Failure, "statement_timeout"),
            CoreError::Corrupt(_) => (Exit::Failure, "corrupt"),
            CoreError::BadCredentials => (Exit::Usage, "bad_credentials"),
            // Refusals of API requests that no command makes; listed so that a new variant
            // needs a decision here (no catch-all), as it needs a wire code.
            CoreError::Rows(_)
            | CoreError::MissingScope(_)
            | CoreError::MethodNotAllowed(_)
            | CoreError::FilterRequired(_)
            | CoreError::PreconditionFailed { .. }
            | CoreError::Busy => (Exit::Failure, "failed"),
        },
        None => (Exit::Failure, "failed"),
    }
}

/// Prints an error (`error: …` on stderr, or a JSON error object on stdout) and returns the exit
/// code.
pub fn report(err: &anyhow::Error, json: bool) -> ExitCode {
    let (exit, code) = classify(err);
    if exit == Exit::Rejected || err.downcast_ref::<import::AlreadyReported>().is_some() {
        // The summary (or the manifest's report of its failed step) is printed already, as
        // the one JSON document with --json.
        return ExitCode::from(exit as u8);
    }
    let broken_pipe = err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        // The reader went away (`dynex export … | head`): nobody is left to tell.
        return ExitCode::from(exit as u8);
    }
    let config = err
        .chain()
        .find_map(|c| match c.downcast_ref::<CoreError>() {
            Some(CoreError::Config(problems)) => Some(problems),
            _ => None,
        });
    let pipeline = err
        .chain()
        .find_map(|c| c.downcast_ref::<dynex_pipeline::Problems>());
    if json {
        let mut body = json!({ "code": code, "message": format!("{err:#}") });
        if let Some(problems) = pipeline {
            body["message"] = json!(problems.headline());
            body["details"] = json!(problems.0);
        }
        if let Some(problems) = config {
            body["message"] = json!(format!(
                "invalid configuration: {} problem{}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            ));
            body["details"] = json!(problems);
        }
        let _ = output::print_json(&mut std::io::stdout().lock(), &json!({ "error": body }));
    } else {
        eprintln!("error: {err:#}");
    }
    ExitCode::from(exit as u8)
}

/// Handles arguments clap refused: help and version print as usual; with `--json` anywhere on
/// the command line an error is printed as a JSON error object. Returns the exit code.
pub fn report_usage(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    let informational = matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if informational || !json {
        let _ = err.print();
    } else {
        let rendered = err.to_string();
        let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
        let mut message = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_string();
        // "the following required arguments were not provided:" names them on the next lines.
        if message.ends_with(':') {
            let named: Vec<&str> = lines.take_while(|l| !l.starts_with("Usage:")).collect();
            if !named.is_empty() {
                message = format!("{message} {}", named.join(", "));
            }
        }
        let body = json!({ "error": { "code": "usage", "message": message } });
        let _ = output::print_json(&mut std::io::stdout().lock(), &body);
    }
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
}

/// Runs a parsed command line, writing results to stdout.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    execute(&cli, &mut out)?;
    out.flush()?;
    Ok(())
}

fn execute(cli: &Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    let url = cli.database_url.as_str();
    let json = cli.json;
    match &cli.command {
        Command::Migrate => return migrate(url, json, out),
        Command::Variable(VariableCommand::NewKey) => return variable::new_key(json, out),
        _ => {}
    }
    // Opening a SQLite file that is not there would create an empty database, and the
    // command would go on to report "no entities" about it: only `migrate` creates one.
    hints::require_database(url)?;
    let dynex = open(url)?;
    let result = match &cli.command {
        Command::Migrate => unreachable!("handled above"),
        Command::Entity(command) => entity::run(&dynex, command, &redact(url), json, out),
        Command::Key(command) => key::run(&dynex, command, json, out),
        Command::User(command) => user::run(&dynex, command, json, out),
        Command::Client(command) => client::run(&dynex, command, json, out),
        Command::Import(args) => import::run(&dynex, args, json, out),
        Command::Export(args) => export::run(&dynex, args, json, out),
        Command::Openapi(args) => openapi::run(&dynex, args, json, out),
        Command::Audit(args) => audit::run(&dynex, args, json, out),
        Command::Pipeline(command) => pipeline::run(&dynex, command, json, out),
        Command::Variable(command) => variable::run(&dynex, command, json, out),
    };
    let result = result.map_err(|e| hints::explain(&dynex, url, e));
    dynex.db().settle();
    result
}

/// Connections in the CLI's pool.
const POOL_SIZE: u32 = 2;

/// Explains which database failed to open, without its password.
fn opening(e: CoreError, url: &str) -> anyhow::Error {
    match e {
        CoreError::InvalidUrl(_) => e.into(),
        other => anyhow::Error::new(other).context(format!("cannot open {}", redact(url))),
    }
}

fn open(url: &str) -> anyhow::Result<Dynex> {
    let options = Options {
        db: DbOptions {
            pool_size: POOL_SIZE,
            // Jobs read tables once, front to back: a memory map would only add the pages read
            // to the resident set (hundreds of MB for a large table), so memory stays one batch.
            sqlite_mmap: 0,
            ..DbOptions::default()
        },
        watch_interval: None,
        ..Options::default()
    };
    Dynex::open_with(url, options)
        .map(|d| d.acting(Actor::cli()))
        .map_err(|e| opening(e, url))
}

fn migrate(url: &str, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    // `Dynex::open_with(.., migrate: false)` would read the configuration, which an empty
    // database does not have yet; the pool alone is enough to migrate.
    let db = Db::connect(url, POOL_SIZE).map_err(|e| opening(e, url))?;
    let applied = db.migrate();
    db.settle();
    let applied = applied?;
    if json {
        output::print_json(out, &json!({ "applied": applied }))?;
    } else if applied == 0 {
        writeln!(out, "{} is up to date (no pending migrations)", redact(url))?;
    } else {
        let s = if applied == 1 { "" } else { "s" };
        writeln!(out, "applied {applied} migration{s} to {}", redact(url))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn valid_to_accepts_dates_times_and_rfc3339() {
        let t = |s| {
            parse_valid_to(s)
                .unwrap()
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        };
        assert_eq!(t("2030-01-31"), "2030-01-31 23:59:59");
        assert_eq!(t("2030-01-31 12:30:00"), "2030-01-31 12:30:00");
        assert_eq!(t("2030-01-31T12:30:00"), "2030-01-31 12:30:00");
        assert_eq!(t("2030-01-31T12:30:00+02:00"), "2030-01-31 10:30:00");
        for bad in ["2030-02-30", "tomorrow", "31.01.2030", ""] {
            assert!(parse_valid_to(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_map_to_exit_codes() {
        let code = |e: CoreError| classify(&anyhow::Error::new(e)).0;
        assert_eq!(code(CoreError::Config(vec![])), Exit::Config);
        assert_eq!(code(CoreError::UnknownEntity("x".into())), Exit::NotFound);
        assert_eq!(code(CoreError::InvalidUrl("x".into())), Exit::Usage);
        assert_eq!(code(CoreError::Unavailable("x".into())), Exit::Failure);
        let wrapped = opening(
            CoreError::Unavailable("down".into()),
            "mysql://u:secret@h/db",
        );
        assert_eq!(classify(&wrapped).0, Exit::Failure);
        let text = format!("{wrapped:#}");
        assert!(
            text.contains("mysql://u:***@h/db") && !text.contains("secret"),
            "{text}"
        );
    }
}
