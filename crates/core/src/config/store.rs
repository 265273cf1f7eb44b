//! The configuration store: entities and relations in dynex's own tables, and the version that
//! tells servers to reload.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use dynex_schema::{Definition, EntityConfig, FieldMapping, Relation, RelationTarget};

use crate::db::AnyConnection;
use crate::error::CoreError;
use crate::schema::{
    dynex_entity, dynex_entity_relation, dynex_entity_relation_field, dynex_state, timestamp_text,
};

/// A stored entity with its bookkeeping.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredEntity {
    /// The configuration in Spryker's installer shape (relations included).
    #[serde(flatten)]
    pub config: EntityConfig,
    /// When it was last changed, as the database reports it.
    pub updated_at: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = dynex_entity, check_for_backend(crate::db::MultiBackend))]
struct EntityRow {
    id: i32,
    table_alias: String,
    table_name: String,
    is_active: bool,
    definition: String,
    updated_at: NaiveDateTime,
}

/// A relation with its child's alias, in the order `load_all` selects them.
#[derive(Queryable)]
struct RelationRow {
    id: i32,
    fk_parent_entity: i32,
    child_alias: String,
    name: String,
    is_editable: bool,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = dynex_entity_relation_field, check_for_backend(crate::db::MultiBackend))]
struct MappingRow {
    fk_relation: i32,
    child_field_name: String,
    parent_field_name: String,
}

/// The configuration version; every change increments it.
pub fn version(conn: &mut AnyConnection) -> QueryResult<i64> {
    let rows = dynex_state::table
        .filter(dynex_state::name.eq("config"))
        .select(dynex_state::version)
        .load::<i64>(conn)?;
    Ok(rows.first().copied().unwrap_or(0))
}

/// The PostgreSQL channel on which a configuration change is announced.
pub(crate) const CHANGE_CHANNEL: &str = "dynex_config";

/// Increments the configuration version so that every server reloads.
///
/// On PostgreSQL it also notifies `dynex_config`: the notification is delivered when the
/// change commits (never for one rolled back), so servers listening reload at once instead of at
/// their next version check.
pub fn bump_version(conn: &mut AnyConnection) -> QueryResult<()> {
    diesel::update(dynex_state::table.filter(dynex_state::name.eq("config")))
        .set(dynex_state::version.eq(dynex_state::version + 1))
        .execute(conn)?;
    #[cfg(feature = "postgres")]
    if let AnyConnection::Postgres(c) = conn {
        diesel::sql_query(format!("NOTIFY {CHANGE_CHANNEL}")).execute(c)?;
    }
    Ok(())
}

/// Loads every stored entity, active or not, sorted by alias.
pub fn load_all(conn: &mut AnyConnection) -> Result<Vec<StoredEntity>, CoreError> {
    let entities = dynex_entity::table
        .select(EntityRow::as_select())
        .order(dynex_entity::table_alias)
        .load(conn)?;
    let relations = dynex_entity_relation::table
        .inner_join(
            dynex_entity::table.on(dynex_entity::id.eq(dynex_entity_relation::fk_child_entity)),
        )
        .select((
            dynex_entity_relation::id,
            dynex_entity_relation::fk_parent_entity,
            dynex_entity::table_alias,
            dynex_entity_relation::name,
            dynex_entity_relation::is_editable,
        ))
        .order(dynex_entity_relation::id)
        .load::<RelationRow>(conn)?;
    let mappings = dynex_entity_relation_field::table
        .select(MappingRow::as_select())
        .order((
            dynex_entity_relation_field::fk_relation,
            dynex_entity_relation_field::position,
        ))
        .load(conn)?;
    let mut by_relation: HashMap<i32, Vec<FieldMapping>> = HashMap::new();
    for m in mappings {
        by_relation
            .entry(m.fk_relation)
            .or_default()
            .push(FieldMapping {
                child_field_name: m.child_field_name,
                parent_field_name: m.parent_field_name,
            });
    }
    let mut by_parent: HashMap<i32, Vec<Relation>> = HashMap::new();
    for r in relations {
        by_parent
            .entry(r.fk_parent_entity)
            .or_default()
            .push(Relation {
                name: r.name,
                is_editable: r.is_editable,
                child_dynamic_entity_configuration: RelationTarget {
                    table_alias: r.child_alias,
                },
                relation_field_mappings: by_relation.remove(&r.id).unwrap_or_default(),
            });
    }
    entities
        .into_iter()
        .map(|e| {
            let definition: Definition = serde_json::from_str(&e.definition).map_err(|err| {
                CoreError::Corrupt(format!("definition of `{}`: {err}", e.table_alias))
            })?;
            Ok(StoredEntity {
                config: EntityConfig {
                    table_name: e.table_name,
                    table_alias: e.table_alias,
                    is_active: e.is_active,
                    definition,
                    child_relations: by_parent.remove(&e.id).unwrap_or_default(),
                },
                updated_at: timestamp_text(&e.updated_at),
            })
        })
        .collect()
}

fn entity_id(conn: &mut AnyConnection, alias: &str) -> QueryResult<Option<i32>> {
    dynex_entity::table
        .filter(dynex_entity::table_alias.eq(alias))
        .select(dynex_entity::id)
        .first(conn)
        .optional()
}

/// Inserts or replaces configurations (matched by alias, then by table) and their relations, in
/// one transaction. Spryker's installer skips existing entries; dynex updates them.
pub fn save(conn: &mut AnyConnection, configs: &[EntityConfig]) -> Result<(), CoreError> {
    conn.transaction::<_, CoreError, _>(|conn| {
        for c in configs {
            let definition = serde_json::to_string(&c.definition)
                .map_err(|e| CoreError::Invalid(e.to_string()))?;
            // A table configured under another alias is re-aliased rather than duplicated.
            let existing: Vec<i32> = dynex_entity::table
                .filter(
                    dynex_entity::table_alias
                        .eq(&c.table_alias)
                        .or(dynex_entity::table_name.eq(&c.table_name)),
                )
                .select(dynex_entity::id)
                .order(dynex_entity::id)
                .load(conn)?;
            if existing.len() > 1 {
                return Err(CoreError::AlreadyExists {
                    kind: "entity for table",
                    name: format!("{} (alias {})", c.table_name, c.table_alias),
                });
            }
            let values = (
                dynex_entity::table_alias.eq(&c.table_alias),
                dynex_entity::table_name.eq(&c.table_name),
                dynex_entity::is_active.eq(c.is_active),
                dynex_entity::definition.eq(definition),
            );
            if let Some(id) = existing.first() {
                diesel::update(dynex_entity::table.filter(dynex_entity::id.eq(id)))
                    .set((values, dynex_entity::updated_at.eq(diesel::dsl::now)))
                    .execute(conn)?;
            } else {
                diesel::insert_into(dynex_entity::table)
                    .values(values)
                    .execute(conn)?;
            }
        }
        for c in configs {
            let parent = entity_id(conn, &c.table_alias)?.ok_or_else(|| {
                CoreError::Corrupt(format!("entity `{}` vanished", c.table_alias))
            })?;
            diesel::delete(
                dynex_entity_relation::table
                    .filter(dynex_entity_relation::fk_parent_entity.eq(parent)),
            )
            .execute(conn)?;
            for r in &c.child_relations {
                let child =
                    entity_id(conn, r.child_alias())?.ok_or_else(|| CoreError::NotFound {
                        kind: "child entity",
                        name: r.child_alias().to_string(),
                    })?;
                diesel::insert_into(dynex_entity_relation::table)
                    .values((
                        dynex_entity_relation::fk_parent_entity.eq(parent),
                        dynex_entity_relation::fk_child_entity.eq(child),
                        dynex_entity_relation::name.eq(&r.name),
                        dynex_entity_relation::is_editable.eq(r.is_editable),
                    ))
                    .execute(conn)?;
                // No `RETURNING` on every backend: the id is read back by the unique key.
                let rel: i32 = dynex_entity_relation::table
                    .filter(dynex_entity_relation::fk_parent_entity.eq(parent))
                    .filter(dynex_entity_relation::name.eq(&r.name))
                    .select(dynex_entity_relation::id)
                    .load(conn)?[0];
                for (pos, m) in r.relation_field_mappings.iter().enumerate() {
                    diesel::insert_into(dynex_entity_relation_field::table)
                        .values((
                            dynex_entity_relation_field::fk_relation.eq(rel),
                            dynex_entity_relation_field::position
                                .eq(i32::try_from(pos).unwrap_or(i32::MAX)),
                            dynex_entity_relation_field::child_field_name.eq(&m.child_field_name),
                            dynex_entity_relation_field::parent_field_name.eq(&m.parent_field_name),
                        ))
                        .execute(conn)?;
                }
            }
        }
        bump_version(conn)?;
        Ok(())
    })
}

/// Turns an entity on or off; returns whether it exists.
pub fn set_active(conn: &mut AnyConnection, alias: &str, active: bool) -> Result<bool, CoreError> {
    conn.transaction::<_, CoreError, _>(|conn| {
        diesel::update(dynex_entity::table.filter(dynex_entity::table_alias.eq(alias)))
            .set((
                dynex_entity::is_active.eq(active),
                dynex_entity::updated_at.eq(diesel::dsl::now),
            ))
            // MySQL counts only changed rows, so existence is checked separately.
            .execute(conn)?;
        let exists = entity_id(conn, alias)?.is_some();
        bump_version(conn)?;
        Ok(exists)
    })
}

/// Removes an entity and every relation from or to it; returns whether it existed.
pub fn remove(conn: &mut AnyConnection, alias: &str) -> Result<bool, CoreError> {
    conn.transaction::<_, CoreError, _>(|conn| {
        let Some(id) = entity_id(conn, alias)? else {
            return Ok(false);
        };
        let touching = dynex_entity_relation::fk_parent_entity
            .eq(id)
            .or(dynex_entity_relation::fk_child_entity.eq(id));
        diesel::delete(
            dynex_entity_relation_field::table.filter(
                dynex_entity_relation_field::fk_relation.eq_any(
                    dynex_entity_relation::table
                        .filter(touching)
                        .select(dynex_entity_relation::id),
                ),
            ),
        )
        .execute(conn)?;
        diesel::delete(dynex_entity_relation::table.filter(touching)).execute(conn)?;
        diesel::delete(dynex_entity::table.filter(dynex_entity::id.eq(id))).execute(conn)?;
        bump_version(conn)?;
        Ok(true)
    })
}
