//! Deletes: one row or the rows matching a filter, atomically, with the same error codes and
//! hooks as the other writes.

use dynex_query::write as w;
use dynex_query::{Condition, Dialect, Select, Value, decode_row, select};
use dynex_schema::{Catalog, Entity};
use dynex_validate::RowError;
use serde_json::{Map, Value as Json};

use crate::db::{AnyConnection, execute, load_json};
use crate::dberr::{DbFault, classify};
use crate::engine::hooks::{Batch, Operation, PendingRow, WriteHooks};
use crate::engine::precondition::{self, Precondition};
use crate::engine::refusal::{Abort, abort};
use crate::engine::tx::Tx;
use crate::engine::values::json_to_value;
use crate::error::CoreError;

/// Deletes the rows of `entity` matching `conditions` in one transaction, once the row named
/// by a `precondition` passed its check; see [`crate::Dynex::delete_if`].
pub(crate) fn delete(
    conn: &mut AnyConnection,
    dialect: Dialect,
    catalog: &Catalog,
    entity: &Entity,
    conditions: &[Condition],
    around: Around<'_>,
    precondition: Option<(&Precondition, &Value)>,
) -> Result<usize, CoreError> {
    let Around { hooks, changes } = around;
    let changes = changes.filter(|c| c.follows(entity.alias()));
    crate::retry::on_busy(|| {
        let mut tx = Tx::begin(conn, dialect)?;
        let checked = match precondition {
            Some((pre, id)) => precondition::check(&mut tx, dialect, entity, id, pre),
            None => Ok(()),
        };
        match checked.and_then(|()| once(&mut tx, dialect, entity, conditions, hooks, changes)) {
            Ok(0) => {
                tx.rollback()?;
                Err(CoreError::RowNotFound(entity.alias().to_string()))
            }
            Ok(n) => {
                tx.commit()?;
                Ok(Some(n))
            }
            Err(Abort::Retry) => {
                tx.rollback()?;
                Ok(None)
            }
            Err(Abort::Refused) => {
                tx.rollback()?;
                let mut tx = Tx::begin(conn, dialect)?;
                let found = diagnose(&mut tx, dialect, catalog, entity, conditions);
                tx.rollback()?;
                match found {
                    Ok(errors) if !errors.is_empty() => Err(CoreError::Rows(errors)),
                    // The refusal did not repeat: try again.
                    Ok(_) | Err(Abort::Retry) | Err(Abort::Refused) => Ok(None),
                    Err(Abort::Fatal(e)) => Err(e),
                }
            }
            Err(Abort::Fatal(e)) => Err(e),
        }
    })
}

/// What runs around a delete: the hooks, and the recording of change events.
pub(crate) struct Around<'a> {
    pub hooks: Option<&'a dyn WriteHooks>,
    pub changes: Option<crate::changes::Changes<'a>>,
}

/// Rows found for deletion: identifier and wire object.
type Found = Vec<(Value, Map<String, Json>)>;

/// The matching rows (locked) with their identifiers.
fn matching(
    tx: &mut Tx<'_>,
    dialect: Dialect,
    entity: &Entity,
    conditions: &[Condition],
) -> Result<Found, Abort> {
    let sql = select(
        dialect,
        &Select {
            entity,
            fields: None,
            conditions,
            keys: None,
            extra_columns: &[],
            page: None,
            lock: true,
        },
    );
    let id = &entity.identifier().field_visible_name;
    let mut rows = Vec::new();
    for text in load_json(tx.conn(), &sql).map_err(|e| abort(dialect, e))? {
        let (object, _) = decode_row(entity, &text).map_err(CoreError::Corrupt)?;
        let key = object.get(id).map_or(Value::Null, json_to_value);
        rows.push((key, object));
    }
    Ok(rows)
}

fn path(entity: &Entity, key: &Value) -> String {
    let shown = match key {
        Value::Int(n) => n.to_string(),
        Value::Text(s) => s.clone(),
        other => format!("{other:?}"),
    };
    format!(
        "{}.{} = {shown}",
        entity.alias(),
        entity.identifier().field_visible_name
    )
}

fn delete_keys(
    tx: &mut Tx<'_>,
    dialect: Dialect,
    entity: &Entity,
    keys: &[Value],
) -> Result<usize, Abort> {
    let mut deleted = 0;
    let mut start = 0;
    for size in w::batch_sizes(keys.len(), w::rows_per_statement(dialect, 1)) {
        let sql = w::delete(
            dialect,
            entity,
            &[],
            Some((&entity.identifier().field_name, &keys[start..start + size])),
        );
        start += size;
        deleted += execute(tx.conn(), &sql).map_err(|e| abort(dialect, e))?;
    }
    Ok(deleted)
}

fn once(
    tx: &mut Tx<'_>,
    dialect: Dialect,
    entity: &Entity,
    conditions: &[Condition],
    hooks: Option<&dyn WriteHooks>,
    changes: Option<crate::changes::Changes<'_>>,
) -> Result<usize, Abort> {
    if hooks.is_none() && changes.is_none() {
        let sql = w::delete(dialect, entity, conditions, None);
        return execute(tx.conn(), &sql).map_err(|e| abort(dialect, e));
    }
    // With hooks or events, the rows are read first: the hooks see them, and may refuse some;
    // the events name them.
    let rows = matching(tx, dialect, entity, conditions)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let Some(hooks) = hooks else {
        let keys: Vec<Value> = rows.iter().map(|(k, _)| k.clone()).collect();
        let deleted = delete_keys(tx, dialect, entity, &keys)?;
        record_deletes(tx, dialect, entity, &rows, changes)?;
        return Ok(deleted);
    };
    let id_column = entity.identifier().field_name.clone();
    let mut pending: Vec<PendingRow> = rows
        .iter()
        .map(|(k, _)| PendingRow {
            columns: vec![(id_column.clone(), k.clone())],
            key: Some(k.clone()),
        })
        .collect();
    let refused = hooks.before_write(Batch {
        alias: entity.alias(),
        table: entity.table(),
        operation: Operation::Delete,
        rows: &mut pending,
    });
    if !refused.is_empty() {
        return Err(Abort::Fatal(CoreError::Rows(rejections(
            entity, &rows, &refused,
        ))));
    }
    let keys: Vec<Value> = rows.iter().map(|(k, _)| k.clone()).collect();
    let deleted = delete_keys(tx, dialect, entity, &keys)?;
    let mut saved: Vec<Map<String, Json>> = rows
        .iter()
        .map(|(_, object)| {
            entity
                .fields()
                .iter()
                .filter_map(|f| {
                    object
                        .get(&f.field_visible_name)
                        .map(|v| (f.field_name.clone(), v.clone()))
                })
                .collect()
        })
        .collect();
    if let Err(e) = hooks.after_write(
        tx.conn(),
        Batch {
            alias: entity.alias(),
            table: entity.table(),
            operation: Operation::Delete,
            rows: &mut saved,
        },
    ) {
        return Err(Abort::Fatal(CoreError::Rows(rejections(
            entity,
            &rows,
            std::slice::from_ref(&e),
        ))));
    }
    record_deletes(tx, dialect, entity, &rows, changes)?;
    Ok(deleted)
}

/// Records the change events of deleted rows, in the delete's transaction.
fn record_deletes(
    tx: &mut Tx<'_>,
    dialect: Dialect,
    entity: &Entity,
    rows: &[(Value, Map<String, Json>)],
    changes: Option<crate::changes::Changes<'_>>,
) -> Result<(), Abort> {
    let Some(changes) = changes else {
        return Ok(());
    };
    let id = &entity.identifier().field_visible_name;
    let events: Vec<crate::changes::NewChange> = rows
        .iter()
        .map(|(_, object)| crate::changes::NewChange {
            entity: entity.alias().to_string(),
            identifier: object.get(id).cloned().unwrap_or(Json::Null),
            operation: crate::changes::ChangeOperation::Delete,
            fields: Vec::new(),
        })
        .collect();
    crate::changes::insert(tx.conn(), dialect, &events, changes.principal)
        .map_err(|e| abort(dialect, e))
}

fn rejections(
    entity: &Entity,
    rows: &[(Value, Map<String, Json>)],
    refused: &[crate::engine::hooks::HookError],
) -> Vec<RowError> {
    let mut out = Vec::new();
    for e in refused {
        let targets: Vec<&Value> = match e.row {
            Some(i) => rows.get(i).map(|(k, _)| k).into_iter().collect(),
            None => rows.iter().map(|(k, _)| k).collect(),
        };
        for k in targets {
            out.push(RowError::Rejected {
                path: path(entity, k),
                message: e.message.clone(),
            });
        }
    }
    out
}

/// Deletes the matching rows one by one, each in a savepoint, to name every row that is still
/// referenced and by what.
fn diagnose(
    tx: &mut Tx<'_>,
    dialect: Dialect,
    catalog: &Catalog,
    entity: &Entity,
    conditions: &[Condition],
) -> Result<Vec<RowError>, Abort> {
    let rows = matching(tx, dialect, entity, conditions)?;
    let mut errors = Vec::new();
    for (key, _) in rows {
        let sql = w::delete(
            dialect,
            entity,
            &[],
            Some((&entity.identifier().field_name, std::slice::from_ref(&key))),
        );
        let Err(e) = tx.savepoint(|c| execute(c, &sql)) else {
            continue;
        };
        let error = match classify(dialect, e) {
            DbFault::ForeignKey { table, .. } => {
                let child = match table {
                    Some(t) => catalog
                        .entities()
                        .into_iter()
                        .find(|e| e.table() == t)
                        .map_or(t, |e| e.alias().to_string()),
                    None => referencing(tx, dialect, catalog, entity, &key)
                        .unwrap_or_else(|| "a table that references it".to_string()),
                };
                RowError::HasChildren {
                    path: path(entity, &key),
                    child,
                }
            }
            DbFault::Retry => return Err(Abort::Retry),
            DbFault::Other(e) => return Err(Abort::Fatal(CoreError::from(e))),
            DbFault::Data(reason) => RowError::Persistence {
                path: path(entity, &key),
                reason: Some(reason),
            },
            DbFault::Unique(_) | DbFault::NotNull(_) => RowError::Persistence {
                path: path(entity, &key),
                reason: None,
            },
        };
        errors.push(error);
    }
    Ok(errors)
}

/// The configured entity whose rows reference the row `key` of `entity` (SQLite does not say
/// which foreign key failed).
fn referencing(
    tx: &mut Tx<'_>,
    dialect: Dialect,
    catalog: &Catalog,
    entity: &Entity,
    key: &Value,
) -> Option<String> {
    let id = &entity.identifier().field_name;
    for child in catalog.entities() {
        let Some(info) = child.table_info() else {
            continue;
        };
        for fk in &info.foreign_keys {
            if fk.referenced_table != entity.table()
                || fk.referenced_columns.len() != 1
                || &fk.referenced_columns[0] != id
            {
                continue;
            }
            let tuples = [vec![key.clone()]];
            let sql = select(
                dialect,
                &Select {
                    entity: child,
                    fields: None,
                    conditions: &[],
                    keys: Some((&fk.columns, &tuples)),
                    extra_columns: &[],
                    page: Some(dynex_query::Page {
                        offset: 0,
                        limit: 1,
                    }),
                    lock: false,
                },
            );
            if load_json(tx.conn(), &sql).is_ok_and(|rows| !rows.is_empty()) {
                return Some(child.alias().to_string());
            }
        }
    }
    None
}
