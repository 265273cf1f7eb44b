//! The configuration store: entities and relations in dynex's own tables, and the version that
//! tells servers to reload.

use std::collections::HashMap;

use diesel::sql_types::{BigInt, Bool, Integer, Text};
use diesel::{Connection, QueryResult, QueryableByName, RunQueryDsl};
use dynex_query::{Dialect, Sql, Value};
use dynex_schema::{Definition, EntityConfig, FieldMapping, Relation, RelationTarget};

use crate::db::{AnyConnection, DynQuery, execute};
use crate::error::CoreError;

/// A stored entity with its bookkeeping.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredEntity {
    /// The configuration in Spryker's installer shape (relations included).
    #[serde(flatten)]
    pub config: EntityConfig,
    /// When it was last changed, as the database reports it.
    pub updated_at: String,
}

#[derive(QueryableByName)]
struct EntityRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Text)]
    table_alias: String,
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Bool)]
    is_active: bool,
    #[diesel(sql_type = Text)]
    definition: String,
    #[diesel(sql_type = Text)]
    updated: String,
}

#[derive(QueryableByName)]
struct RelationRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Integer)]
    fk_parent_entity: i32,
    #[diesel(sql_type = Text)]
    child_alias: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    is_editable: bool,
}

#[derive(QueryableByName)]
struct MappingRow {
    #[diesel(sql_type = Integer)]
    fk_relation: i32,
    #[diesel(sql_type = Text)]
    child_field_name: String,
    #[diesel(sql_type = Text)]
    parent_field_name: String,
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = BigInt)]
    version: i64,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Integer)]
    id: i32,
}

/// `CAST(col AS TEXT)` in the dialect's spelling.
pub(crate) fn as_text(dialect: Dialect, col: &str) -> String {
    match dialect {
        Dialect::Mysql => format!("CAST({col} AS CHAR)"),
        _ => format!("CAST({col} AS TEXT)"),
    }
}

fn sql(text: &str) -> Sql {
    let mut s = Sql::default();
    s.push(text);
    s
}

/// The configuration version; every change increments it.
pub fn version(conn: &mut AnyConnection) -> QueryResult<i64> {
    let rows = DynQuery(&sql(
        "SELECT version FROM dynex_state WHERE name = 'config'",
    ))
    .load::<VersionRow>(conn)?;
    Ok(rows.first().map_or(0, |r| r.version))
}

/// Increments the configuration version so that every server reloads.
pub fn bump_version(conn: &mut AnyConnection) -> QueryResult<()> {
    execute(
        conn,
        &sql("UPDATE dynex_state SET version = version + 1 WHERE name = 'config'"),
    )?;
    Ok(())
}

/// Loads every stored entity, active or not, sorted by alias.
pub fn load_all(
    conn: &mut AnyConnection,
    dialect: Dialect,
) -> Result<Vec<StoredEntity>, CoreError> {
    let entities = DynQuery(&sql(&format!(
        "SELECT id, table_alias, table_name, is_active, definition, {} AS updated \
         FROM dynex_entity ORDER BY table_alias",
        as_text(dialect, "updated_at")
    )))
    .load::<EntityRow>(conn)?;
    let relations = DynQuery(&sql(
        "SELECT r.id, r.fk_parent_entity, c.table_alias AS child_alias, r.name, r.is_editable \
         FROM dynex_entity_relation r JOIN dynex_entity c ON c.id = r.fk_child_entity ORDER BY r.id",
    ))
    .load::<RelationRow>(conn)?;
    let mappings = DynQuery(&sql(
        "SELECT fk_relation, child_field_name, parent_field_name FROM dynex_entity_relation_field \
         ORDER BY fk_relation, position",
    ))
    .load::<MappingRow>(conn)?;
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
                updated_at: e.updated,
            })
        })
        .collect()
}

fn entity_id(conn: &mut AnyConnection, alias: &str) -> QueryResult<Option<i32>> {
    let mut q = Sql::default();
    q.push("SELECT id FROM dynex_entity WHERE table_alias = ")
        .bind(Value::Text(alias.to_string()));
    Ok(DynQuery(&q).load::<IdRow>(conn)?.first().map(|r| r.id))
}

/// Inserts or replaces configurations (matched by alias, then by table) and their relations, in
/// one transaction. Spryker's installer skips existing entries; dynex updates them.
pub fn save(conn: &mut AnyConnection, configs: &[EntityConfig]) -> Result<(), CoreError> {
    conn.transaction::<_, CoreError, _>(|conn| {
        for c in configs {
            let definition = serde_json::to_string(&c.definition)
                .map_err(|e| CoreError::Invalid(e.to_string()))?;
            // A table configured under another alias is re-aliased rather than duplicated.
            let mut q = Sql::default();
            q.push("SELECT id FROM dynex_entity WHERE table_alias = ")
                .bind(Value::Text(c.table_alias.clone()))
                .push(" OR table_name = ")
                .bind(Value::Text(c.table_name.clone()))
                .push(" ORDER BY id");
            let existing = DynQuery(&q).load::<IdRow>(conn)?;
            if existing.len() > 1 {
                return Err(CoreError::AlreadyExists {
                    kind: "entity for table",
                    name: format!("{} (alias {})", c.table_name, c.table_alias),
                });
            }
            let mut q = Sql::default();
            if let Some(row) = existing.first() {
                q.push("UPDATE dynex_entity SET table_alias = ")
                    .bind(Value::Text(c.table_alias.clone()))
                    .push(", table_name = ")
                    .bind(Value::Text(c.table_name.clone()))
                    .push(", is_active = ")
                    .bind(Value::Bool(c.is_active))
                    .push(", definition = ")
                    .bind(Value::Text(definition))
                    .push(", updated_at = CURRENT_TIMESTAMP WHERE id = ")
                    .bind(Value::Int(i64::from(row.id)));
            } else {
                q.push("INSERT INTO dynex_entity (table_alias, table_name, is_active, definition) VALUES (")
                    .bind(Value::Text(c.table_alias.clone()))
                    .push(", ")
                    .bind(Value::Text(c.table_name.clone()))
                    .push(", ")
                    .bind(Value::Bool(c.is_active))
                    .push(", ")
                    .bind(Value::Text(definition))
                    .push(")");
            }
            execute(conn, &q)?;
        }
        for c in configs {
            let parent = entity_id(conn, &c.table_alias)?
                .ok_or_else(|| CoreError::Corrupt(format!("entity `{}` vanished", c.table_alias)))?;
            let mut q = Sql::default();
            q.push("DELETE FROM dynex_entity_relation WHERE fk_parent_entity = ")
                .bind(Value::Int(i64::from(parent)));
            execute(conn, &q)?;
            for r in &c.child_relations {
                let child = entity_id(conn, r.child_alias())?.ok_or_else(|| CoreError::NotFound {
                    kind: "child entity",
                    name: r.child_alias().to_string(),
                })?;
                let mut q = Sql::default();
                q.push("INSERT INTO dynex_entity_relation (fk_parent_entity, fk_child_entity, name, is_editable) VALUES (")
                    .bind(Value::Int(i64::from(parent)))
                    .push(", ")
                    .bind(Value::Int(i64::from(child)))
                    .push(", ")
                    .bind(Value::Text(r.name.clone()))
                    .push(", ")
                    .bind(Value::Bool(r.is_editable))
                    .push(")");
                execute(conn, &q)?;
                let mut q = Sql::default();
                q.push("SELECT id FROM dynex_entity_relation WHERE fk_parent_entity = ")
                    .bind(Value::Int(i64::from(parent)))
                    .push(" AND name = ")
                    .bind(Value::Text(r.name.clone()));
                let rel = DynQuery(&q).load::<IdRow>(conn)?[0].id;
                for (pos, m) in r.relation_field_mappings.iter().enumerate() {
                    let mut q = Sql::default();
                    q.push("INSERT INTO dynex_entity_relation_field (fk_relation, position, child_field_name, parent_field_name) VALUES (")
                        .bind(Value::Int(i64::from(rel)))
                        .push(", ")
                        .bind(Value::Int(pos as i64))
                        .push(", ")
                        .bind(Value::Text(m.child_field_name.clone()))
                        .push(", ")
                        .bind(Value::Text(m.parent_field_name.clone()))
                        .push(")");
                    execute(conn, &q)?;
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
        let mut q = Sql::default();
        q.push("UPDATE dynex_entity SET is_active = ")
            .bind(Value::Bool(active))
            .push(", updated_at = CURRENT_TIMESTAMP WHERE table_alias = ")
            .bind(Value::Text(alias.to_string()));
        // MySQL counts only changed rows, so existence is checked separately.
        execute(conn, &q)?;
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
        let id = Value::Int(i64::from(id));
        let mut q = Sql::default();
        q.push("DELETE FROM dynex_entity_relation_field WHERE fk_relation IN (SELECT id FROM dynex_entity_relation WHERE fk_parent_entity = ")
            .bind(id.clone())
            .push(" OR fk_child_entity = ")
            .bind(id.clone())
            .push(")");
        execute(conn, &q)?;
        let mut q = Sql::default();
        q.push("DELETE FROM dynex_entity_relation WHERE fk_parent_entity = ")
            .bind(id.clone())
            .push(" OR fk_child_entity = ")
            .bind(id.clone());
        execute(conn, &q)?;
        let mut q = Sql::default();
        q.push("DELETE FROM dynex_entity WHERE id = ").bind(id);
        execute(conn, &q)?;
        bump_version(conn)?;
        Ok(true)
    })
}
