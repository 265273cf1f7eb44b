//! The snapshot every request is served from, and how it follows configuration changes: a
//! reload from the store, and a watcher thread that polls the version other processes bump.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use dynex_schema::{Catalog, Entity};

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
        self.inner.snapshot.store(Arc::new(Snapshot {
            version,
            catalog: Catalog::new(entities),
            keys,
            tokens,
        }));
        Ok(())
    }

    /// Runs a configuration or key change, then reloads this handle's snapshot so the change
    /// applies to its next request (other processes notice it by the version).
    pub(crate) fn change<R>(
        &self,
        f: impl FnOnce(&mut db::AnyConnection) -> Result<R, CoreError>,
    ) -> Result<R, CoreError> {
        let result = f(&mut *self.inner.db.conn()?)?;
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

/// Starts the thread that refreshes the snapshot of `inner` every `every` until the last handle
/// on it is dropped.
pub(crate) fn spawn_watcher(inner: Weak<Inner>, every: Duration) {
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
