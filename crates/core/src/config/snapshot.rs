//! The snapshot every request is served from, and how it follows configuration changes: a
//! reload from the store, and a watcher thread that polls the version other processes bump.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use dynex_query::Dialect;
use dynex_schema::{Catalog, Entity};

use crate::audit::{Audit, Changed};
use crate::config::{introspect, store};
use crate::db;
use crate::error::CoreError;
use crate::identity::keys::{self, KeyRecord};
use crate::identity::tokens::{self, TokenState};
use crate::{Dynex, Inner};

/// What the server serves from: a consistent view of configuration and keys.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The configuration version this snapshot was loaded at.
    pub version: i64,
    /// Active entities.
    pub catalog: Catalog,
    pub(crate) keys: HashMap<String, KeyRecord>,
    pub(crate) tokens: TokenState,
    /// The entities that `changes` sources of stored pipelines follow: their writes record
    /// change events ([`crate::changes`]).
    pub(crate) followed: std::collections::HashSet<String>,
}

/// Loading and refreshing the snapshot.
impl Dynex {
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

    pub(crate) fn reload(&self) -> Result<(), CoreError> {
        let dialect = self.dialect();
        let mut conn = self.inner.db.conn()?;
        // Read the version first: a change racing with this load bumps it again and is picked
        // up by the next refresh.
        let version = store::version(&mut conn)?;
        let previous = self.inner.snapshot.load_full();
        let mut valid = Vec::new();
        for stored in store::load_all(&mut conn)? {
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
        let keys = keys::load_active(&mut conn)?.into_iter().collect();
        let tokens = tokens::load_state(&mut conn)?;
        let definitions: Vec<String> = {
            use crate::schema::dynex_pipeline;
            use diesel::prelude::*;
            dynex_pipeline::table
                .select(dynex_pipeline::definition)
                .load(&mut *conn)?
        };
        let followed = crate::changes::followed(definitions.iter().map(String::as_str));
        let fresh = Arc::new(Snapshot {
            version,
            catalog: Catalog::new(entities),
            keys,
            tokens,
            followed,
        });
        // Two reloads can race (the watcher, a request that met an unknown key); the one that
        // read an older version must not replace what the other stored.
        self.inner.snapshot.rcu(|current| {
            if current.version > fresh.version {
                Arc::clone(current)
            } else {
                Arc::clone(&fresh)
            }
        });
        Ok(())
    }

    /// Runs a configuration or key change, records it in the audit log when it changed
    /// something, then reloads this handle's snapshot so the change applies to its next request
    /// (other processes notice it by the version).
    pub(crate) fn change<R: Changed>(
        &self,
        audit: Audit,
        f: impl FnOnce(&mut db::AnyConnection) -> Result<R, CoreError>,
    ) -> Result<R, CoreError> {
        let mut conn = self.inner.db.conn()?;
        let result = f(&mut conn)?;
        if result.changed() {
            self.audit(&mut conn, &audit);
        }
        drop(conn);
        self.refresh()?;
        Ok(result)
    }

    pub(crate) fn entity(
        &self,
        snapshot: &Snapshot,
        alias: &str,
    ) -> Result<Arc<Entity>, CoreError> {
        snapshot
            .catalog
            .entity(alias)
            .cloned()
            .ok_or_else(|| CoreError::UnknownEntity(alias.to_string()))
    }
}

/// How often the watcher asks PostgreSQL for the version although no notification came: a
/// listening session that was lost misses the notifications sent meanwhile.
const LISTENER_FALLBACK: Duration = Duration::from_secs(1);

/// How often audit entries past their retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How often a refresh that keeps failing is logged.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Starts the thread that looks for configuration changes of other processes every `every`
/// until the last handle on `inner` is dropped.
///
/// On PostgreSQL it looks at the notifications a session of its own received (no round trip;
/// see [`store::bump_version`]) and asks for the version only when one came, or once a second;
/// on SQLite and MariaDB it asks for the version, one primary-key read, every time.
pub(crate) fn spawn_watcher(inner: Weak<Inner>, every: Duration) {
    let spawned = std::thread::Builder::new()
        .name("dynex-config-watch".into())
        .spawn(move || {
            let mut listener = None;
            let mut asked = Instant::now();
            let mut warned: Option<Instant> = None;
            let mut pruned: Option<Instant> = None;
            loop {
                std::thread::sleep(every);
                let Some(inner) = inner.upgrade() else {
                    return;
                };
                let dynex = Dynex { inner, actor: None };
                if let Some(keep) = dynex.inner.options.audit_retention
                    && pruned.is_none_or(|p| p.elapsed() >= PRUNE_EVERY)
                {
                    pruned = Some(Instant::now());
                    match dynex.prune_audit(keep) {
                        Ok(0) => {}
                        Ok(n) => log::info!("deleted {n} audit entries past their retention"),
                        Err(e) => log::warn!("pruning the audit log failed: {e}"),
                    }
                }
                let due = match dynex.dialect() {
                    Dialect::Postgres => {
                        changed_or_lost(&dynex, &mut listener)
                            || asked.elapsed() >= LISTENER_FALLBACK
                    }
                    Dialect::Sqlite | Dialect::Mysql => true,
                };
                if !due {
                    continue;
                }
                asked = Instant::now();
                match dynex.refresh() {
                    Ok(_) => warned = None,
                    Err(e) => {
                        if warned.is_none_or(|w| w.elapsed() >= WARN_EVERY) {
                            log::warn!("configuration refresh failed: {e}");
                            warned = Some(Instant::now());
                        }
                    }
                }
            }
        });
    if let Err(e) = spawned {
        log::error!("cannot start the configuration watcher: {e}");
    }
}

/// Whether the listening session received a change notification, or had to be (re)opened and
/// so may have missed one.
fn changed_or_lost(dynex: &Dynex, listener: &mut Option<db::Listener>) -> bool {
    match listener {
        Some(l) => match l.received() {
            Ok(n) => n > 0,
            Err(e) => {
                log::debug!("the configuration listener was lost: {e}");
                *listener = None;
                true
            }
        },
        None => {
            *listener = dynex
                .inner
                .db
                .listener(store::CHANGE_CHANNEL)
                .unwrap_or_else(|e| {
                    log::debug!("cannot listen for configuration changes: {e}");
                    None
                });
            true
        }
    }
}
