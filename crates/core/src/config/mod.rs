//! The entity configuration: its store, the live schema it is checked against, the demo
//! catalog, and the in-memory snapshot every request is served from.

pub(crate) mod demo;
pub mod introspect;
pub(crate) mod snapshot;
pub mod store;

use std::collections::HashMap;

use dynex_schema::{EntityConfig, TableInfo};

use crate::audit::Audit;
use crate::error::CoreError;
use crate::{Dynex, StoredEntity};

/// Managing entity configurations, the tables they map and the demo catalog.
impl Dynex {
    /// Names of the tables in the database.
    pub fn tables(&self) -> Result<Vec<String>, CoreError> {
        let mut conn = self.inner.db.conn()?;
        Ok(introspect::tables(&mut conn, self.dialect())?)
    }

    /// What introspection finds about a table.
    pub fn table(&self, name: &str) -> Result<TableInfo, CoreError> {
        if name.contains('\0') {
            // No table has one; PostgreSQL would refuse the lookup, SQLite cut the name.
            return Err(CoreError::NotFound {
                kind: "table",
                name: name.replace('\0', "\\u0000"),
            });
        }
        let mut conn = self.inner.db.conn()?;
        introspect::table(&mut conn, self.dialect(), name)?.ok_or_else(|| CoreError::NotFound {
            kind: "table",
            name: name.to_string(),
        })
    }

    /// Every stored entity, active or not.
    pub fn entities(&self) -> Result<Vec<StoredEntity>, CoreError> {
        let mut conn = self.inner.db.conn()?;
        store::load_all(&mut conn)
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
        let errors = dynex_schema::nul_errors(configs);
        if !errors.is_empty() {
            return Err(CoreError::Config(errors));
        }
        let mut conn = self.inner.db.conn()?;
        let dialect = self.dialect();
        let stored = store::load_all(&mut conn)?;
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
        for c in configs {
            let audit = Audit::new("entity.save", &c.table_alias).with(serde_json::json!({
                "table": c.table_name,
                "active": c.is_active,
                "fields": c.definition.fields.len(),
            }));
            self.audit(&mut conn, &audit);
        }
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
        let action = if active {
            "entity.enable"
        } else {
            "entity.disable"
        };
        self.change(Audit::new(action, alias), |conn| {
            store::set_active(conn, alias, active)
        })?
        .then_some(())
        .ok_or_else(|| CoreError::NotFound {
            kind: "entity",
            name: alias.to_string(),
        })
    }

    /// Removes an entity and its relations (the table itself is untouched).
    pub fn remove_entity(&self, alias: &str) -> Result<(), CoreError> {
        self.change(Audit::new("entity.remove", alias), |conn| {
            store::remove(conn, alias)
        })?
        .then_some(())
        .ok_or_else(|| CoreError::NotFound {
            kind: "entity",
            name: alias.to_string(),
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
