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
//! let countries = dynex.read_collection("countries", &[("page[limit]".into(), "5".into())])?;
//! println!("{}", serde_json::Value::Array(countries.rows));
//! # Ok::<(), dynex_core::CoreError>(())
//! ```

mod config;
pub mod db;
mod dberr;
mod engine;
mod error;
mod identity;
mod jobs;

pub use config::{introspect, store};
pub use engine::hooks;

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{NaiveDateTime, Utc};
use dynex_auth::{Principal, PrincipalKind, Role, Scope, TokenError, TokenSigner};
use dynex_query::{Condition, Dialect, PageLimits};
use dynex_schema::{Catalog, Entity, EntityConfig, TableInfo};

pub use db::{Db, redact};
pub use engine::hooks::{Batch, HookError, Operation, PendingRow, WriteHooks};
pub use engine::read::ReadPage;
pub use engine::write::{Method, WriteOutcome, WriteRequest};
pub use error::CoreError;
pub use identity::clients::{ClientInfo, NewClient};
pub use identity::keys::{ApiKeyInfo, NewApiKey, parse_valid_to};
pub use identity::tokens::{GrantError, LoginLimits, TokenGrant, TokenOptions, TokenRequest};
pub use identity::users::UserInfo;
pub use jobs::export::{
    EXPORT_PAGE_ROWS, ExportPlan, ExportRequest, ExportSummary, parse_changed_since,
};
pub use jobs::import::{
    IMPORT_BATCH_ROWS, ImportMode, ImportObserver, ImportOptions, ImportSummary, Reject,
};
pub use jobs::indexes::IndexWarning;
pub use jobs::table::{JobInfo, JobKind, NewJob, STALE_AFTER_MS};
pub use store::StoredEntity;

use identity::keys::KeyRecord;
use identity::{clients, keys, tokens, users};
use engine::{cursor, delete, read, write};
use config::demo;

/// How to open a database.
#[derive(Debug, Clone)]
pub struct Options {
    /// Connections in the pool.
    pub pool_size: u32,
    /// Apply pending migrations when opening.
    pub migrate: bool,
    /// Default and maximum page size of collection reads.
    pub page_limits: PageLimits,
    /// How often to look for configuration changes made elsewhere; `None` never looks.
    pub watch_interval: Option<Duration>,
    /// Token lifetimes, signing secret and failed-login limits.
    pub tokens: TokenOptions,
    /// How much of a SQLite database file each connection maps into memory (`PRAGMA
    /// mmap_size`; see [`Db::connect_with`]).
    pub sqlite_mmap: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pool_size: 8,
            migrate: true,
            page_limits: PageLimits::default(),
            watch_interval: Some(Duration::from_millis(250)),
            tokens: TokenOptions::default(),
            sqlite_mmap: db::SQLITE_MMAP_BYTES,
        }
    }
}

/// Why a presented API key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// No such key, or it was revoked.
    Unknown,
    /// The key's `valid_to` has passed.
    Expired,
}

/// What the server serves from: a consistent view of configuration and keys.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The configuration version this snapshot was loaded at.
    pub version: i64,
    /// Active entities.
    pub catalog: Catalog,
    keys: HashMap<String, KeyRecord>,
    tokens: tokens::TokenState,
}

struct Inner {
    db: Db,
    options: Options,
    snapshot: ArcSwap<Snapshot>,
    signer: TokenSigner,
    /// Signs and checks `page[after]` cursors.
    cursor_key: cursor::CursorKey,
    hooks: std::sync::RwLock<Option<Arc<dyn WriteHooks>>>,
    /// Serialises this process's SQLite writers. SQLite allows one writer at a time, and a
    /// writer waiting in SQLite's busy handler sleeps in steps of up to 100 ms; waiting here
    /// wakes it the moment the previous writer is done.
    sqlite_writer: std::sync::Mutex<()>,
    /// Progress of the jobs this process runs.
    jobs: jobs::table::LiveJobs,
}

/// A handle on one dynex database; cheap to clone and shareable across threads.
#[derive(Clone)]
pub struct Dynex {
    inner: Arc<Inner>,
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
        let db = Db::connect_with(url, options.pool_size, options.sqlite_mmap)?;
        if options.migrate {
            db.migrate()?;
        }
        if db.dialect() == Dialect::Sqlite {
            refresh_statistics(&mut *db.conn()?);
        }
        let interval = options.watch_interval;
        let secret = match &options.tokens.secret {
            Some(secret) => secret.clone(),
            None => tokens::stored_secret(&mut *db.conn()?)?,
        };
        let dynex = Dynex {
            inner: Arc::new(Inner {
                db,
                options,
                snapshot: ArcSwap::from_pointee(Snapshot::default()),
                signer: TokenSigner::new(secret.as_bytes()),
                cursor_key: cursor::CursorKey::new(secret.as_bytes()),
                hooks: std::sync::RwLock::new(None),
                sqlite_writer: std::sync::Mutex::new(()),
                jobs: jobs::table::LiveJobs::default(),
            }),
        };
        dynex.reload()?;
        if let Some(every) = interval {
            spawn_watcher(Arc::downgrade(&dynex.inner), every);
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

    /// Reloads the snapshot if the stored configuration version changed; returns whether it did.
    pub fn refresh(&self) -> Result<bool, CoreError> {
        let mut conn = self.inner.db.conn()?;
        let version = store::version(&mut conn)?;
        if version == self.inner.snapshot.load().version {
            return Ok(false);
        }
        drop(conn);
        self.reload()?;
        Ok(true)
    }

    fn reload(&self) -> Result<(), CoreError> {
        let dialect = self.dialect();
        let mut conn = self.inner.db.conn()?;
        // Read the version first: a change racing with this load bumps it again and is picked
        // up by the next refresh.
        let version = store::version(&mut conn)?;
        let previous = self.inner.snapshot.load_full();
        let mut valid = Vec::new();
        for stored in store::load_all(&mut conn, dialect)? {
            if !stored.config.is_active {
                continue;
            }
            let alias = stored.config.table_alias.clone();
            match Entity::new(stored.config) {
                // The live column types tell writes how to bind values (PostgreSQL casts). An
                // entity whose configuration did not change keeps what was found last time, so
                // a key change does not introspect every table again.
                Ok(e) => {
                    let known = previous
                        .catalog
                        .entity(&alias)
                        .filter(|p| p.config == e.config)
                        .and_then(|p| p.table_info().cloned());
                    valid.push((e, known));
                }
                Err(e) => log::warn!("entity `{alias}` is not served: {e}"),
            }
        }
        let unknown: Vec<&str> = valid
            .iter()
            .filter(|(_, known)| known.is_none())
            .map(|(e, _)| e.table())
            .collect();
        let found = introspect::tables_info(&mut conn, dialect, &unknown)?;
        let mut entities = Vec::new();
        for (e, known) in valid {
            let table = e.table().to_string();
            match known.or_else(|| found.get(&table).cloned()) {
                Some(info) => entities.push(e.with_table(info)),
                None => log::warn!(
                    "entity `{}` is not served: table `{table}` is gone",
                    e.alias()
                ),
            }
        }
        let keys = keys::load_active(&mut conn, dialect)?.into_iter().collect();
        let tokens = tokens::load_state(&mut conn)?;
        self.inner.snapshot.store(Arc::new(Snapshot {
            version,
            catalog: Catalog::new(entities),
            keys,
            tokens,
        }));
        Ok(())
    }

    fn entity(&self, snapshot: &Snapshot, alias: &str) -> Result<Arc<Entity>, CoreError> {
        snapshot
            .catalog
            .entity(alias)
            .cloned()
            .ok_or_else(|| CoreError::UnknownEntity(alias.to_string()))
    }

    /// Reads a page of an entity from query-string pairs (`filter[…]`, `sort`, `fields[…]`,
    /// `page[…]`, `include`, `meta`).
    ///
    /// With keyset paging (`page[size]`, `page[after]`) the answer carries the cursor of the
    /// next page; with `meta=count` the number of matching rows.
    pub fn read_collection(
        &self,
        alias: &str,
        pairs: &[(String, String)],
    ) -> Result<ReadPage, CoreError> {
        let snapshot = self.snapshot();
        let entity = self.entity(&snapshot, alias)?;
        let resolve = |a: &str| snapshot.catalog.entity(a).cloned();
        let mut query = dynex_query::parse(&entity, &resolve, pairs, &self.page_limits())?;
        let order = dynex_query::order_keys(&entity, &query.sort);
        if let Some(after) = query.cursor.as_ref().and_then(|c| c.after.as_deref()) {
            query.after = Some(self.inner.cursor_key.decode(&entity, &order, after)?);
        }
        let mut conn = self.inner.db.conn()?;
        let dialect = self.dialect();
        let (rows, next) = read::read_page(&mut conn, dialect, &entity, &query, &[])?;
        let count = if query.count {
            Some(read::count(&mut conn, dialect, &entity, &query.conditions)?)
        } else {
            None
        };
        Ok(ReadPage {
            rows,
            cursor: query.cursor.is_some(),
            next: next.map(|k| self.inner.cursor_key.encode(&entity, &k)),
            count,
        })
    }

    /// Reads one row by identifier (filters and includes apply too); 1303 when it does not exist.
    pub fn read_one(
        &self,
        alias: &str,
        id: &str,
        pairs: &[(String, String)],
    ) -> Result<serde_json::Value, CoreError> {
        let snapshot = self.snapshot();
        let entity = self.entity(&snapshot, alias)?;
        let resolve = |a: &str| snapshot.catalog.entity(a).cloned();
        let mut query = dynex_query::parse(&entity, &resolve, pairs, &self.page_limits())?;
        query.page = dynex_query::Page {
            offset: 0,
            limit: 1,
        };
        let Ok(id) = dynex_validate::parse_text(entity.identifier(), id) else {
            // An id that cannot be of the identifier's type names no row.
            return Err(CoreError::RowNotFound(alias.to_string()));
        };
        let by_id = [Condition::Eq(entity.identifier_index(), id)];
        let mut conn = self.inner.db.conn()?;
        read::read(&mut conn, self.dialect(), &entity, &query, &by_id)?
            .pop()
            .ok_or_else(|| CoreError::RowNotFound(alias.to_string()))
    }

    /// Registers the hooks run around every write of this handle (and its clones), replacing
    /// any registered before.
    pub fn set_hooks(&self, hooks: Arc<dyn WriteHooks>) {
        *self
            .inner
            .hooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(hooks);
    }

    /// The in-process writer lock that write transactions hold (SQLite only).
    fn writer_lock(&self) -> Option<&std::sync::Mutex<()>> {
        (self.dialect() == Dialect::Sqlite).then_some(&self.inner.sqlite_writer)
    }

    /// Holds the in-process writer lock on SQLite (nothing on other backends).
    fn sqlite_writer(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        (self.dialect() == Dialect::Sqlite).then(|| {
            self.inner
                .sqlite_writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        })
    }

    fn hooks(&self) -> Option<Arc<dyn WriteHooks>> {
        self.inner
            .hooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Creates, updates or upserts rows (POST, PATCH, PUT) with their nested rows.
    ///
    /// Transactional requests that refuse any row fail with [`CoreError::Rows`], listing every
    /// refused row; nothing is written. Non-transactional requests save what they can and list
    /// the refused rows in [`WriteOutcome::errors`].
    pub fn write(&self, request: &WriteRequest<'_>) -> Result<WriteOutcome, CoreError> {
        let snapshot = self.snapshot();
        let entity = self.entity(&snapshot, request.alias)?;
        if let Some(p) = request.principal
            && !p.allows(dynex_auth::Action::Write, request.alias)
        {
            return Err(CoreError::MissingScope(
                Principal::missing_scope(dynex_auth::Action::Write, request.alias).to_string(),
            ));
        }
        let hooks = self.hooks();
        let ctx = write::Ctx {
            catalog: &snapshot.catalog,
            dialect: self.dialect(),
            method: request.method,
            principal: request.principal,
            hooks: hooks.as_deref(),
            writer: self.writer_lock(),
            nested: false,
            respond: true,
        };
        let mut conn = self.inner.db.conn()?;
        write::write(&mut conn, &ctx, &entity, request)
    }

    /// Deletes one row by identifier, or the rows matching the filters of `pairs`; atomic.
    ///
    /// The entity must be deletable (1318); a collection delete needs a filter (1323); nothing
    /// matching is 1303; rows still referenced are refused with 1317 and nothing is deleted.
    /// Returns how many rows were deleted.
    pub fn delete(
        &self,
        alias: &str,
        id: Option<&str>,
        pairs: &[(String, String)],
    ) -> Result<usize, CoreError> {
        let snapshot = self.snapshot();
        let entity = self.entity(&snapshot, alias)?;
        if !entity.config.definition.is_deletable {
            return Err(CoreError::MethodNotAllowed(alias.to_string()));
        }
        let conditions = match id {
            Some(id) => {
                let Ok(id) = dynex_validate::parse_text(entity.identifier(), id) else {
                    return Err(CoreError::RowNotFound(alias.to_string()));
                };
                vec![Condition::Eq(entity.identifier_index(), id)]
            }
            None => {
                if let Some((name, _)) = pairs
                    .iter()
                    .find(|(k, _)| k.starts_with("page[") || k == "include")
                {
                    return Err(CoreError::Query(
                        dynex_query::QueryError::InvalidParameter {
                            name: name.clone(),
                            reason: "not supported on DELETE".into(),
                        },
                    ));
                }
                let resolve = |a: &str| snapshot.catalog.entity(a).cloned();
                let query = dynex_query::parse(&entity, &resolve, pairs, &self.page_limits())?;
                if query.conditions.is_empty() {
                    return Err(CoreError::FilterRequired(alias.to_string()));
                }
                query.conditions
            }
        };
        let hooks = self.hooks();
        let _writer = self.sqlite_writer();
        let mut conn = self.inner.db.conn()?;
        delete::delete(
            &mut conn,
            self.dialect(),
            &snapshot.catalog,
            &entity,
            &conditions,
            hooks.as_deref(),
        )
    }

    /// Names of the tables in the database.
    pub fn tables(&self) -> Result<Vec<String>, CoreError> {
        let mut conn = self.inner.db.conn()?;
        Ok(introspect::tables(&mut conn, self.dialect())?)
    }

    /// What introspection finds about a table.
    pub fn table(&self, name: &str) -> Result<TableInfo, CoreError> {
        let mut conn = self.inner.db.conn()?;
        introspect::table(&mut conn, self.dialect(), name)?.ok_or_else(|| CoreError::NotFound {
            kind: "table",
            name: name.to_string(),
        })
    }

    /// Every stored entity, active or not.
    pub fn entities(&self) -> Result<Vec<StoredEntity>, CoreError> {
        let mut conn = self.inner.db.conn()?;
        store::load_all(&mut conn, self.dialect())
    }

    /// One stored entity by alias.
    pub fn stored_entity(&self, alias: &str) -> Result<StoredEntity, CoreError> {
        self.entities()?
            .into_iter()
            .find(|e| e.config.table_alias == alias)
            .ok_or_else(|| CoreError::NotFound {
                kind: "entity",
                name: alias.to_string(),
            })
    }

    /// Validates configurations against the live schema and stores them (creating or replacing
    /// by alias); all or nothing. Takes effect on every server at its next refresh.
    pub fn save_entities(&self, configs: &[EntityConfig]) -> Result<(), CoreError> {
        let mut conn = self.inner.db.conn()?;
        let dialect = self.dialect();
        let stored = store::load_all(&mut conn, dialect)?;
        let mut known: HashMap<String, String> = stored
            .iter()
            .map(|s| (s.config.table_alias.clone(), s.config.table_name.clone()))
            .collect();
        for c in configs {
            known.remove(&c.table_alias);
        }
        let mut tables = HashMap::new();
        let mut names: Vec<&str> = configs.iter().map(|c| c.table_name.as_str()).collect();
        names.extend(known.values().map(String::as_str));
        for name in names {
            if !tables.contains_key(name)
                && !dynex_schema::is_reserved_table(name)
                && let Some(t) = introspect::table(&mut conn, dialect, name)?
            {
                tables.insert(name.to_string(), t);
            }
        }
        let errors = dynex_schema::check(configs, &tables, &known);
        if !errors.is_empty() {
            return Err(CoreError::Config(errors));
        }
        store::save(&mut conn, configs)?;
        drop(conn);
        self.refresh()?;
        Ok(())
    }

    /// Imports a Spryker installer `configuration.json` (or a single entry); returns the aliases.
    pub fn import_configuration(&self, json: &str) -> Result<Vec<String>, CoreError> {
        let configs =
            EntityConfig::parse_many(json).map_err(|e| CoreError::ConfigFormat(e.to_string()))?;
        self.save_entities(&configs)?;
        Ok(configs.into_iter().map(|c| c.table_alias).collect())
    }

    /// Builds a configuration for a live table as Spryker's back office does, and stores it.
    pub fn add_entity(
        &self,
        table: &str,
        alias: Option<&str>,
        active: bool,
    ) -> Result<EntityConfig, CoreError> {
        let info = self.table(table)?;
        let mut config = dynex_schema::suggest_config(&info, alias);
        config.is_active = active;
        // A table already configured under another alias is not silently re-aliased.
        if let Some(e) = self.entities()?.into_iter().find(|e| {
            e.config.table_alias == config.table_alias || e.config.table_name == config.table_name
        }) {
            return Err(CoreError::AlreadyExists {
                kind: "entity",
                name: format!("{} (table {})", e.config.table_alias, e.config.table_name),
            });
        }
        self.save_entities(std::slice::from_ref(&config))?;
        Ok(config)
    }

    /// Exports configurations in the installer format (all when `aliases` is empty).
    pub fn export_configuration(&self, aliases: &[String]) -> Result<Vec<EntityConfig>, CoreError> {
        let all = self.entities()?;
        for a in aliases {
            if !all.iter().any(|e| &e.config.table_alias == a) {
                return Err(CoreError::NotFound {
                    kind: "entity",
                    name: a.clone(),
                });
            }
        }
        Ok(all
            .into_iter()
            .filter(|e| aliases.is_empty() || aliases.contains(&e.config.table_alias))
            .map(|e| e.config)
            .collect())
    }

    /// Turns an entity on or off.
    pub fn set_entity_active(&self, alias: &str, active: bool) -> Result<(), CoreError> {
        self.change(|conn| store::set_active(conn, alias, active))?
            .then_some(())
            .ok_or_else(|| CoreError::NotFound {
                kind: "entity",
                name: alias.to_string(),
            })
    }

    /// Removes an entity and its relations (the table itself is untouched).
    pub fn remove_entity(&self, alias: &str) -> Result<(), CoreError> {
        self.change(|conn| store::remove(conn, alias))?
            .then_some(())
            .ok_or_else(|| CoreError::NotFound {
                kind: "entity",
                name: alias.to_string(),
            })
    }

    /// Creates an API key; its value is returned once and only its hash is stored.
    pub fn create_api_key(
        &self,
        name: &str,
        scopes: &[Scope],
        valid_to: Option<NaiveDateTime>,
    ) -> Result<NewApiKey, CoreError> {
        let scopes = if scopes.is_empty() {
            dynex_auth::default_key_scopes()
        } else {
            scopes.to_vec()
        };
        let dialect = self.dialect();
        self.change(|conn| keys::create(conn, dialect, name, &scopes, valid_to))
    }

    /// Lists API keys (never their values).
    pub fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>, CoreError> {
        let mut conn = self.inner.db.conn()?;
        keys::list(&mut conn, self.dialect())
    }

    /// Revokes an API key by name.
    pub fn revoke_api_key(&self, name: &str) -> Result<(), CoreError> {
        self.change(|conn| keys::revoke(conn, name))?
            .then_some(())
            .ok_or_else(|| CoreError::NotFound {
                kind: "active API key",
                name: name.to_string(),
            })
    }

    /// Adds a dynex user with an Argon2id hash of `password`, which must pass
    /// [`dynex_auth::check_password_strength`] ([`CoreError::Invalid`] says why not).
    pub fn add_user(&self, name: &str, password: &str, role: Role) -> Result<UserInfo, CoreError> {
        let dialect = self.dialect();
        self.change(|conn| {
            let user = users::add(conn, dialect, name, password, role)?;
            store::bump_version(conn)?;
            Ok(user)
        })
    }

    /// Lists users (never their password hashes).
    pub fn list_users(&self) -> Result<Vec<UserInfo>, CoreError> {
        let mut conn = self.inner.db.conn()?;
        users::list(&mut conn, self.dialect())
    }

    /// Removes a user by name; the user's tokens are refused at once.
    pub fn remove_user(&self, name: &str) -> Result<(), CoreError> {
        let dialect = self.dialect();
        self.change(|conn| {
            let removed = users::remove(conn, dialect, name)?;
            if removed {
                tokens::forget_refresh_tokens(conn, name)?;
                store::bump_version(conn)?;
            }
            Ok(removed)
        })?
        .then_some(())
        .ok_or_else(|| CoreError::NotFound {
            kind: "user",
            name: name.to_string(),
        })
    }

    /// Sets a user's password (checked for strength like [`Dynex::add_user`]) and revokes the
    /// tokens issued with the old one.
    pub fn set_user_password(&self, name: &str, password: &str) -> Result<(), CoreError> {
        let dialect = self.dialect();
        self.change(|conn| {
            let found = users::set_password(conn, dialect, name, password)?;
            if found {
                tokens::revoke_user(conn, name)?;
            }
            Ok(found)
        })?
        .then_some(())
        .ok_or_else(|| CoreError::NotFound {
            kind: "user",
            name: name.to_string(),
        })
    }

    /// Checks a user's password; [`CoreError::BadCredentials`] for a wrong password and for an
    /// unknown user alike, which take the same time.
    pub fn authenticate_user(&self, name: &str, password: &str) -> Result<UserInfo, CoreError> {
        let mut conn = self.inner.db.conn()?;
        users::authenticate(&mut conn, self.dialect(), name, password)
    }

    /// Revokes every token issued to a user until now (access and refresh tokens).
    pub fn revoke_user_tokens(&self, name: &str) -> Result<(), CoreError> {
        self.change(|conn| tokens::revoke_user(conn, name))?
            .then_some(())
            .ok_or_else(|| CoreError::NotFound {
                kind: "user",
                name: name.to_string(),
            })
    }

    /// Adds an integration client allowed `scopes`; its secret is returned once and only its
    /// hash is stored.
    pub fn add_client(&self, id: &str, scopes: &[Scope]) -> Result<NewClient, CoreError> {
        self.change(|conn| clients::add(conn, id, scopes))
    }

    /// Lists integration clients (never their secrets).
    pub fn list_clients(&self) -> Result<Vec<ClientInfo>, CoreError> {
        let mut conn = self.inner.db.conn()?;
        clients::list(&mut conn, self.dialect())
    }

    /// Removes an integration client; its tokens are refused at once.
    pub fn remove_client(&self, id: &str) -> Result<(), CoreError> {
        self.change(|conn| clients::remove(conn, id))?
            .then_some(())
            .ok_or_else(|| CoreError::NotFound {
                kind: "client",
                name: id.to_string(),
            })
    }

    /// Revokes every token issued to an integration client until now.
    pub fn revoke_client_tokens(&self, id: &str) -> Result<(), CoreError> {
        self.change(|conn| clients::revoke_tokens(conn, id))?
            .then_some(())
            .ok_or_else(|| CoreError::NotFound {
                kind: "client",
                name: id.to_string(),
            })
    }

    /// The token lifetimes and login limits this handle was opened with.
    pub fn token_options(&self) -> &TokenOptions {
        &self.inner.options.tokens
    }

    /// Answers a token request (RFC 6749): the password, client credentials and refresh token
    /// grants.
    pub fn token(&self, request: &TokenRequest) -> Result<TokenGrant, GrantError> {
        let snapshot = self.snapshot();
        let issuer = tokens::Issuer {
            signer: &self.inner.signer,
            options: &self.inner.options.tokens,
            state: &snapshot.tokens,
            dialect: self.dialect(),
        };
        let mut conn = self.inner.db.conn()?;
        let (grant, principal) = match request.grant_type.as_str() {
            "password" => (
                issuer.password(&mut conn, request)?,
                (PrincipalKind::User, request.username.clone()),
            ),
            "client_credentials" => (
                issuer.client_credentials(&mut conn, request)?,
                (PrincipalKind::Client, request.client_id.clone()),
            ),
            "refresh_token" => match issuer.refresh(&mut conn, request)? {
                Ok(grant) => return Ok(grant),
                Err(reused_family) => {
                    log::warn!("a used refresh token was presented again; its family is revoked");
                    drop(conn);
                    self.change(|conn| tokens::revoke_family(conn, &reused_family, 0))?;
                    return Err(GrantError::InvalidGrant(
                        "The refresh token is invalid, expired or revoked.".into(),
                    ));
                }
            },
            "" => {
                return Err(GrantError::InvalidRequest(
                    "The parameter `grant_type` is missing.".into(),
                ));
            }
            other => return Err(GrantError::UnsupportedGrantType(other.to_string())),
        };
        drop(conn);
        // A principal created a moment ago by another process may not be in this snapshot
        // yet; load it now so that the token works here at once.
        let name = principal.1.unwrap_or_default();
        let known = match principal.0 {
            PrincipalKind::User => snapshot
                .tokens
                .users
                .contains_key(&name.to_ascii_lowercase()),
            PrincipalKind::Client => snapshot.tokens.clients.contains_key(&name),
        };
        if !known {
            self.refresh()?;
        }
        Ok(grant)
    }

    /// Checks a bearer access token against its signature, expiry and the snapshot's
    /// revocations; no database round trip.
    pub fn authenticate_token(&self, token: &str) -> Result<Principal, TokenError> {
        let claims = self.inner.signer.verify(token)?;
        let snapshot = self.inner.snapshot.load();
        let state = &snapshot.tokens;
        let valid_after = match claims.knd {
            PrincipalKind::User => state
                .users
                .get(&claims.sub.to_ascii_lowercase())
                .map(|u| u.valid_after),
            PrincipalKind::Client => state.clients.get(&claims.sub).map(|c| c.valid_after),
        };
        match valid_after {
            // Strictly after: a token from the very millisecond of a revocation may predate it.
            Some(after) if claims.iat_ms > after => {}
            _ => return Err(TokenError::Revoked),
        }
        if state.revoked_families.contains(&claims.fam) {
            return Err(TokenError::Revoked);
        }
        let scopes = dynex_auth::parse_scopes(&claims.scope).map_err(|_| TokenError::Invalid)?;
        Ok(Principal {
            name: claims.sub,
            scopes,
        })
    }

    /// Revokes one access or refresh token and every token of its family (RFC 7009). An unknown
    /// or malformed token is not an error: there is nothing left to revoke.
    pub fn revoke_token(&self, token: &str) -> Result<(), CoreError> {
        let target = if token.starts_with(dynex_auth::REFRESH_TOKEN_PREFIX) {
            let mut conn = self.inner.db.conn()?;
            tokens::refresh_family(&mut conn, token)?.map(|f| (f, 0))
        } else {
            self.inner
                .signer
                .verify_ignoring_expiry(token)
                .ok()
                .map(|c| {
                    (
                        c.fam,
                        i64::try_from(c.exp).unwrap_or(0).saturating_mul(1000),
                    )
                })
        };
        if let Some((family, expires)) = target {
            self.change(|conn| tokens::revoke_family(conn, &family, expires))?;
        }
        Ok(())
    }

    /// Runs a configuration or key change, then reloads this handle's snapshot so the change
    /// applies to its next request (other processes notice it by the version).
    fn change<R>(
        &self,
        f: impl FnOnce(&mut db::AnyConnection) -> Result<R, CoreError>,
    ) -> Result<R, CoreError> {
        let result = f(&mut *self.inner.db.conn()?)?;
        self.refresh()?;
        Ok(result)
    }

    /// Checks a presented API key against the snapshot; no database round trip.
    pub fn authenticate_api_key(&self, key: &str) -> Result<Principal, KeyRefusal> {
        let snapshot = self.inner.snapshot.load();
        let record = snapshot
            .keys
            .get(&dynex_auth::hash_secret(key))
            .ok_or(KeyRefusal::Unknown)?;
        if record.valid_to.is_some_and(|t| t <= Utc::now().naive_utc()) {
            return Err(KeyRefusal::Expired);
        }
        Ok(Principal {
            name: record.name.clone(),
            scopes: record.scopes.clone(),
        })
    }

    /// Creates and fills the demo catalog's tables and configuration unless they exist; returns
    /// whether it loaded them.
    pub fn load_demo(&self) -> Result<bool, CoreError> {
        let loaded = {
            let mut conn = self.inner.db.conn()?;
            demo::load(&mut conn, self.dialect())?
        };
        if loaded {
            self.import_configuration(demo::CONFIGURATION)?;
        }
        Ok(loaded)
    }
}

fn spawn_watcher(inner: Weak<Inner>, every: Duration) {
    let spawned = std::thread::Builder::new()
        .name("dynex-config-watch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                let Some(inner) = inner.upgrade() else {
                    return;
                };
                if let Err(e) = (Dynex { inner }).refresh() {
                    log::warn!("configuration refresh failed: {e}");
                }
            }
        });
    if let Err(e) = spawned {
        log::error!("cannot start the configuration watcher: {e}");
    }
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
pub(crate) fn refresh_statistics(conn: &mut db::AnyConnection) {
    use diesel::connection::SimpleConnection;
    if let Err(e) = conn.batch_execute("PRAGMA optimize=0x10002") {
        log::debug!("PRAGMA optimize failed: {e}");
    }
}
