//! Reading entities: one query for the page, then one query per included relation per page.

use std::collections::HashMap;
use std::sync::Arc;

use dynex_query::{
    Condition, Dialect, Include, ReadQuery, Select, Sort, Value, decode_row, order_keys,
    select_ordered,
};
use dynex_schema::Entity;
use serde_json::{Map, Value as Json};

use crate::db::{AnyConnection, load_json};
use crate::error::CoreError;
use crate::write::json_to_value;

/// Parent key tuples per child query; keeps the bound parameters far below every backend's limit.
const KEYS_PER_QUERY: usize = 500;

/// A row as read: the wire object and the raw values of the extra key columns.
struct Loaded {
    object: Map<String, Json>,
    extras: Vec<Json>,
}

/// Columns the rows of `entity` must carry so that `include` can attach children to them.
fn parent_key_columns(entity: &Entity, include: &[Include]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for inc in include {
        if let Some(r) = entity.relation(&inc.relation) {
            for m in &r.relation_field_mappings {
                if !cols.contains(&m.parent_field_name) {
                    cols.push(m.parent_field_name.clone());
                }
            }
        }
    }
    cols
}

fn rows(
    conn: &mut AnyConnection,
    dialect: Dialect,
    select_spec: &Select<'_>,
    order: &[Sort],
) -> Result<Vec<Loaded>, CoreError> {
    let sql = select_ordered(dialect, select_spec, order);
    load_json(conn, &sql)?
        .iter()
        .map(|text| {
            let (object, extras) =
                decode_row(select_spec.entity, text).map_err(CoreError::Corrupt)?;
            Ok(Loaded { object, extras })
        })
        .collect()
}

/// Reads one page of `entity` with its includes, as wire objects.
pub fn read(
    conn: &mut AnyConnection,
    dialect: Dialect,
    entity: &Arc<Entity>,
    query: &ReadQuery,
    extra_conditions: &[Condition],
) -> Result<Vec<Json>, CoreError> {
    let extra_columns = parent_key_columns(entity, &query.include);
    let mut conditions = query.conditions.clone();
    if let Some(after) = &query.after {
        conditions.push(Condition::After(after.clone()));
    }
    conditions.extend_from_slice(extra_conditions);
    // Identifier order needs no key values on the rows; a sort carries them (after the extra
    // columns, which `attach` reads by position) for the position of the last row.
    let order = if query.sort.is_empty() {
        Vec::new()
    } else {
        order_keys(entity, &query.sort)
    };
    let mut loaded = rows(
        conn,
        dialect,
        &Select {
            entity,
            conditions: &conditions,
            keys: None,
            extra_columns: &extra_columns,
            page: Some(query.page),
            lock: false,
        },
        &order,
    )?;
    attach(
        conn,
        dialect,
        entity,
        &extra_columns,
        &mut loaded,
        &query.include,
    )?;
    Ok(loaded.into_iter().map(|l| Json::Object(l.object)).collect())
}

/// Loads the children of every included relation and puts them on their parents (`[]` when a
/// parent has none), recursively.
fn attach(
    conn: &mut AnyConnection,
    dialect: Dialect,
    entity: &Entity,
    parent_columns: &[String],
    parents: &mut [Loaded],
    include: &[Include],
) -> Result<(), CoreError> {
    for inc in include {
        let Some(relation) = entity.relation(&inc.relation) else {
            continue;
        };
        let positions: Vec<usize> = relation
            .relation_field_mappings
            .iter()
            .map(|m| {
                parent_columns
                    .iter()
                    .position(|c| *c == m.parent_field_name)
                    .unwrap_or(usize::MAX)
            })
            .collect();
        let key_of = |extras: &[Json], positions: &[usize]| -> Option<Vec<Json>> {
            positions
                .iter()
                .map(|p| extras.get(*p).filter(|v| !v.is_null()).cloned())
                .collect()
        };
        let mut tuples: Vec<Vec<Json>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for p in parents.iter() {
            if let Some(k) = key_of(&p.extras, &positions)
                && seen.insert(serde_json::to_string(&k).unwrap_or_default())
            {
                tuples.push(k);
            }
        }
        let child = &inc.child;
        let child_keys: Vec<String> = relation
            .relation_field_mappings
            .iter()
            .map(|m| m.child_field_name.clone())
            .collect();
        let mut child_columns = child_keys.clone();
        for c in parent_key_columns(child, &inc.children) {
            if !child_columns.contains(&c) {
                child_columns.push(c);
            }
        }
        let mut children: Vec<Loaded> = Vec::new();
        for chunk in tuples.chunks(KEYS_PER_QUERY) {
            let values: Vec<Vec<Value>> = chunk
                .iter()
                .map(|t| t.iter().map(json_to_value).collect())
                .collect();
            children.extend(rows(
                conn,
                dialect,
                &Select {
                    entity: child,
                    conditions: &[],
                    keys: Some((&child_keys, &values)),
                    extra_columns: &child_columns,
                    page: None,
                    lock: false,
                },
                &[],
            )?);
        }
        attach(
            conn,
            dialect,
            child,
            &child_columns,
            &mut children,
            &inc.children,
        )?;
        let own: Vec<usize> = (0..child_keys.len()).collect();
        let mut grouped: HashMap<String, Vec<Json>> = HashMap::new();
        for c in children {
            if let Some(k) = key_of(&c.extras, &own) {
                grouped
                    .entry(serde_json::to_string(&k).unwrap_or_default())
                    .or_default()
                    .push(Json::Object(c.object));
            }
        }
        for p in parents.iter_mut() {
            let list = key_of(&p.extras, &positions)
                .and_then(|k| {
                    let key = serde_json::to_string(&k).unwrap_or_default();
                    // Several parents may share a key (the same child under two parents).
                    grouped.get(&key).cloned()
                })
                .unwrap_or_default();
            p.object.insert(inc.relation.clone(), Json::Array(list));
        }
    }
    Ok(())
}
