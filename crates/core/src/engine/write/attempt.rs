//! Pass two of a write: one attempt at writing a payload tree inside a transaction, level by
//! level: locking and reading the rows named, deciding per row between update and create, and
//! running the hooks.

// Keys come from the payload; foldhash is seeded per map and far cheaper than SipHash.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::borrow::Cow;

use dynex_query::write::{self as w};
use dynex_query::{Dialect, Select, Value, decode_row, select, select_cells};
use dynex_schema::{Entity, Relation};
use dynex_validate::{Intent, RowCheck, RowError, check_immutable};
use serde_json::{Map, Value as Json};

use super::payload::{Node, Saved};
use super::{Ctx, Method};
use crate::db::{load_cells, load_json};
use crate::engine::hooks::{Batch, Operation, PendingRow};
use crate::engine::refusal::{Abort, abort};
use crate::engine::tx::Tx;
use crate::engine::values::{json_key_text, json_to_value, key_text};
use crate::error::CoreError;

/// Pass two: one attempt at writing the active roots inside `tx`.
pub(super) struct Attempt<'t, 'c, 'a> {
    pub(super) tx: &'t mut Tx<'c>,
    pub(super) ctx: &'t Ctx<'a>,
    /// Row by row, each in a savepoint, naming every refused row.
    pub(super) granular: bool,
    pub(super) errors: Vec<(usize, RowError)>,
    /// Whether generated identifiers of a multi-row insert are consecutive (MariaDB), once known.
    pub(super) consecutive: Option<bool>,
    /// Saved rows for the after-write hooks.
    pub(super) log: Vec<Logged<'a>>,
    /// Change events of the saved rows of followed entities, inserted before the commit.
    pub(super) events: Vec<crate::changes::NewChange>,
}

/// A saved row kept for the after-write hooks.
pub(super) struct Logged<'a> {
    pub(super) entity: &'a Entity,
    pub(super) operation: Operation,
    pub(super) root: usize,
    pub(super) path: String,
    pub(super) row: Map<String, Json>,
}

impl<'a> Attempt<'_, '_, 'a> {
    pub(super) fn fail(&mut self, node: &mut Node<'a>, error: RowError) {
        node.state.failed = true;
        self.errors.push((node.root, error));
    }

    pub(super) fn dialect(&self) -> Dialect {
        self.ctx.dialect
    }

    /// Runs a statement that returns rows.
    pub(super) fn rows(
        &mut self,
        sql: &dynex_query::Sql,
    ) -> Result<Vec<String>, diesel::result::Error> {
        load_json(self.tx.conn(), sql)
    }

    /// Runs a statement for one row in a savepoint.
    pub(super) fn row_in_savepoint(
        &mut self,
        sql: &dynex_query::Sql,
    ) -> Result<Vec<String>, diesel::result::Error> {
        self.tx.savepoint(|c| load_json(c, sql))
    }

    /// Writes one level of the tree: `nodes` are rows of `entity`, their parent columns set.
    pub(super) fn level(
        &mut self,
        entity: &'a Entity,
        mut nodes: Vec<&mut Node<'a>>,
    ) -> Result<(), Abort> {
        nodes.retain(|n| !n.state.failed);
        if nodes.is_empty() {
            return Ok(());
        }
        // Key columns read back with each row: the parent side of relations sent below it, and
        // the child side of the relation it was sent under (to match existing rows).
        let mut extras: Vec<String> = Vec::new();
        for n in &nodes {
            let wanted = n
                .branches
                .iter()
                .flat_map(|b| &b.relation.relation_field_mappings)
                .map(|m| &m.parent_field_name)
                .chain(n.state.parent.iter().map(|(c, _)| c));
            for c in wanted {
                if !extras.contains(c) {
                    extras.push(c.clone());
                }
            }
        }
        if self.ctx.method != Method::Create {
            self.find_existing(entity, &mut nodes, &extras)?;
        }
        self.decide(entity, &mut nodes);
        self.before_hooks(entity, &mut nodes)?;
        self.creates(entity, &mut nodes, &extras)?;
        self.updates(entity, &mut nodes, &extras)?;
        let follows = self.follows(entity);
        for n in &nodes {
            if follows
                && let (Some(saved), Some(intent)) = (&n.state.saved, n.state.intent)
                && !n.state.failed
            {
                let event = change_of(entity, n, saved, intent)?;
                self.events.push(event);
            }
            if let (Some(saved), Some(intent)) = (&n.state.saved, n.state.intent)
                && !n.state.failed
                && self.ctx.hooks.is_some()
            {
                let op = match intent {
                    Intent::Create => Operation::Create,
                    Intent::Update => Operation::Update,
                };
                self.log.push(Logged {
                    entity,
                    operation: op,
                    root: n.root,
                    path: n.path.clone(),
                    row: physical(entity, saved),
                });
            }
        }
        // Children, one level per relation across all rows of this level.
        let mut groups: Vec<(&'a Relation, &'a Entity, Vec<&mut Node<'a>>)> = Vec::new();
        for n in nodes {
            let Node {
                state, branches, ..
            } = n;
            if state.failed {
                continue;
            }
            let Some(saved) = &state.saved else { continue };
            for b in branches.iter_mut() {
                let parent: Vec<(String, Value)> = b
                    .relation
                    .relation_field_mappings
                    .iter()
                    .map(|m| {
                        let v = extras
                            .iter()
                            .position(|c| *c == m.parent_field_name)
                            .and_then(|p| saved.extras.get(p))
                            .map_or(Value::Null, json_to_value);
                        (m.child_field_name.clone(), v)
                    })
                    .collect();
                let slot = match groups
                    .iter()
                    .position(|(r, _, _)| r.name == b.relation.name)
                {
                    Some(i) => i,
                    None => {
                        groups.push((b.relation, b.entity, Vec::new()));
                        groups.len() - 1
                    }
                };
                for child in b.nodes.iter_mut() {
                    child.state.parent = parent.clone();
                    groups[slot].2.push(child);
                }
            }
        }
        for (_, child_entity, children) in groups {
            self.level(child_entity, children)?;
        }
        Ok(())
    }

    /// Whether nobody reads `node`'s row back once written: no response, no hook, no nested
    /// rows that need its keys (an import). Such rows are written without `RETURNING` and
    /// only need to exist to be updated.
    pub(super) fn unread(&self, node: &Node<'_>) -> bool {
        !self.ctx.respond && !self.watched(node.entity) && node.branches.is_empty()
    }

    /// Whether writes of `entity` record change events.
    pub(super) fn follows(&self, entity: &Entity) -> bool {
        self.ctx
            .changes
            .as_ref()
            .is_some_and(|c| c.follows(entity.alias()))
    }

    /// Whether something reads the saved rows of `entity` before the commit: a hook, or its
    /// change events.
    pub(super) fn watched(&self, entity: &Entity) -> bool {
        self.ctx.hooks.is_some() || self.follows(entity)
    }

    /// Locks and reads the rows named by the nodes' identifiers.
    fn find_existing(
        &mut self,
        entity: &'a Entity,
        nodes: &mut [&mut Node<'a>],
        extras: &[String],
    ) -> Result<(), Abort> {
        let mut keys: Vec<Value> = Vec::new();
        let mut seen = HashSet::new();
        for n in nodes.iter() {
            if let Some(k) = &n.lookup
                && seen.insert(key_text(k))
            {
                keys.push(k.clone());
            }
        }
        // Locking in identifier order keeps concurrent writers of overlapping rows from
        // deadlocking on each other.
        keys.sort_by(|a, b| match (a, b) {
            (Value::Int(x), Value::Int(y)) => x.cmp(y),
            _ => key_text(a).cmp(&key_text(b)),
        });
        let id_column = vec![entity.identifier().field_name.clone()];
        let id_name = entity.identifier().field_visible_name.clone();
        // Rows that nobody reads back (see `updates`) only need to exist: their identifiers are
        // read, locked all the same, instead of a JSON document of every field.
        let only_ids = extras.is_empty() && nodes.iter().all(|n| self.unread(n));
        let mut found: HashMap<String, Saved> = HashMap::new();
        let mut start = 0;
        for size in w::batch_sizes(keys.len(), w::rows_per_statement(self.dialect(), 1)) {
            let tuples: Vec<Vec<Value>> = keys[start..start + size]
                .iter()
                .map(|k| vec![k.clone()])
                .collect();
            start += size;
            let read = Select {
                entity,
                fields: None,
                conditions: &[],
                keys: Some((&id_column, &tuples)),
                extra_columns: extras,
                page: None,
                lock: true,
            };
            if only_ids {
                let id_index = entity.identifier_index();
                let sql = select_cells(self.dialect(), &read, &[id_index], &[]);
                let rows =
                    load_cells(self.tx.conn(), &sql).map_err(|e| abort(self.dialect(), e))?;
                for row in rows {
                    let id = dynex_query::decode_cell(
                        entity.identifier(),
                        row.into_iter().next().flatten(),
                    );
                    found.insert(json_key_text(&id), Saved::decoded(Map::new(), Vec::new()));
                }
                continue;
            }
            let sql = select(self.dialect(), &read);
            for text in self.rows(&sql).map_err(|e| abort(self.dialect(), e))? {
                let (object, extras) = decode_row(entity, &text).map_err(CoreError::Corrupt)?;
                let key = object.get(&id_name).map(json_key_text).unwrap_or_default();
                found.insert(key, Saved::decoded(object, extras));
            }
        }
        for n in nodes.iter_mut() {
            let Some(k) = &n.lookup else { continue };
            let Some(row) = found.get(&key_text(k)) else {
                continue;
            };
            // A nested row only counts as existing under the parent it was sent under.
            let under_parent = n.state.parent.iter().all(|(col, v)| {
                extras
                    .iter()
                    .position(|c| c == col)
                    .and_then(|p| row.extras.get(p))
                    .is_some_and(|have| json_key_text(have) == key_text(v))
            });
            if under_parent {
                n.state.existing = Some(row.clone());
            }
        }
        Ok(())
    }

    /// Decides per row between create and update (or 1303 / 1308), and the columns to write.
    fn decide(&mut self, entity: &'a Entity, nodes: &mut [&mut Node<'a>]) {
        let id = entity.identifier();
        let id_index = entity.identifier_index();
        for n in nodes.iter_mut() {
            let intent = match (self.ctx.method, &n.lookup, &n.state.existing) {
                (Method::Create, _, _) | (Method::Upsert, None, _) => Intent::Create,
                (_, Some(_), Some(_)) => Intent::Update,
                (Method::Update, _, _) => {
                    let path = n.path.clone();
                    self.fail(n, RowError::NotFound { path });
                    continue;
                }
                (Method::Upsert, Some(k), None) => {
                    if id.is_creatable {
                        Intent::Create
                    } else {
                        let error = RowError::IdentifierNotCreatable {
                            path: n.path.clone(),
                            identifier: format!("{}: {}", id.field_visible_name, key_text(k)),
                        };
                        self.fail(n, error);
                        continue;
                    }
                }
            };
            if self.ctx.method == Method::Upsert {
                let mut errors = Vec::new();
                let check = RowCheck {
                    intent: Some(intent),
                    require: true,
                    identifier_is_key: !n.by_id,
                    from_parent: &n.from_parent,
                    given: &[],
                    decimals_as_doubles: self.ctx.dialect == Dialect::Sqlite,
                };
                check_immutable(entity, &n.split, &n.path, intent, &check, &mut errors);
                if !errors.is_empty() {
                    n.state.failed = true;
                    self.errors.extend(errors.into_iter().map(|e| (n.root, e)));
                    continue;
                }
            }
            n.state.intent = Some(intent);
            let fields = entity.fields();
            let mut columns: Vec<(Cow<'a, str>, Value)> = Vec::with_capacity(fields.len());
            match intent {
                Intent::Create => {
                    for (i, v) in &n.values {
                        // Nulls are not written on create, so the column's default applies.
                        if *v != Value::Null && !n.from_parent.contains(i) {
                            columns.push((fields[*i].field_name.as_str().into(), v.clone()));
                        }
                    }
                    if let Some(k) = &n.lookup
                        && !n.values.iter().any(|(i, _)| *i == id_index)
                    {
                        columns.push((id.field_name.as_str().into(), k.clone()));
                    }
                    for (c, v) in &n.state.parent {
                        match columns.iter_mut().find(|(have, _)| have == c) {
                            Some(slot) => slot.1 = v.clone(),
                            None => columns.push((c.clone().into(), v.clone())),
                        }
                    }
                }
                Intent::Update => {
                    // Only a `/{id}` body that sends the identifier changes it; a collection
                    // body's identifier names the row, and an identifier not sent is kept.
                    let id_sent = n.values.iter().any(|(j, _)| *j == id_index);
                    let changes_id = |i: usize| i == id_index && n.by_id && id_sent;
                    if self.ctx.method == Method::Upsert {
                        // Replacement: every editable field not sent is reset.
                        for (i, f) in fields.iter().enumerate() {
                            if (i == id_index && !changes_id(i))
                                || n.from_parent.contains(&i)
                                || !f.is_editable
                            {
                                continue;
                            }
                            let v = n
                                .values
                                .iter()
                                .find(|(j, _)| *j == i)
                                .map_or(Value::Null, |(_, v)| v.clone());
                            columns.push((f.field_name.as_str().into(), v));
                        }
                    } else {
                        for (i, v) in &n.values {
                            if (*i != id_index || changes_id(*i)) && !n.from_parent.contains(i) {
                                columns.push((fields[*i].field_name.as_str().into(), v.clone()));
                            }
                        }
                    }
                }
            }
            n.state.columns = columns;
        }
    }

    /// Lets the before-write hook adjust or refuse the rows about to be written.
    fn before_hooks(
        &mut self,
        entity: &'a Entity,
        nodes: &mut [&mut Node<'a>],
    ) -> Result<(), Abort> {
        let Some(hooks) = self.ctx.hooks else {
            return Ok(());
        };
        for (intent, op) in [
            (Intent::Create, Operation::Create),
            (Intent::Update, Operation::Update),
        ] {
            let members: Vec<usize> = (0..nodes.len())
                .filter(|&i| !nodes[i].state.failed && nodes[i].state.intent == Some(intent))
                .collect();
            if members.is_empty() {
                continue;
            }
            let mut rows: Vec<PendingRow> = members
                .iter()
                .map(|&i| PendingRow {
                    columns: std::mem::take(&mut nodes[i].state.columns)
                        .into_iter()
                        .map(|(c, v)| (c.into_owned(), v))
                        .collect(),
                    key: nodes[i].lookup.clone(),
                })
                .collect();
            let refused = hooks.before_write(Batch {
                alias: entity.alias(),
                table: entity.table(),
                operation: op,
                rows: &mut rows,
            });
            for (row, &i) in rows.into_iter().zip(&members) {
                if let Some((c, _)) = row.columns.iter().find(|(c, _)| {
                    entity.column(c).is_none()
                        && !entity.fields().iter().any(|f| f.field_name == *c)
                }) {
                    return Err(Abort::Fatal(CoreError::Invalid(format!(
                        "a before-write hook set column `{c}`, which table `{}` does not have",
                        entity.table()
                    ))));
                }
                nodes[i].state.columns = row
                    .columns
                    .into_iter()
                    .map(|(c, v)| (c.into(), v))
                    .collect();
            }
            for e in refused {
                let targets: Vec<usize> = match e.row {
                    Some(r) => members.get(r).copied().into_iter().collect(),
                    None => members.clone(),
                };
                for i in targets {
                    let path = nodes[i].path.clone();
                    self.fail(
                        nodes[i],
                        RowError::Rejected {
                            path,
                            message: e.message.clone(),
                        },
                    );
                }
            }
        }
        Ok(())
    }
}

/// The change event of a saved row: its identifier, and the fields created or changed (those
/// whose saved value differs from the one found, when the row was found whole).
fn change_of(
    entity: &Entity,
    n: &Node<'_>,
    saved: &Saved,
    intent: Intent,
) -> Result<crate::changes::NewChange, Abort> {
    let decoded;
    let object = match &saved.raw {
        Some(text) => {
            decoded = decode_row(entity, text).map_err(CoreError::Corrupt)?.0;
            &decoded
        }
        None => &saved.object,
    };
    let id = &entity.identifier().field_visible_name;
    let identifier = object.get(id).cloned().unwrap_or_else(|| match &n.lookup {
        Some(Value::Int(i)) => Json::from(*i),
        Some(other) => Json::String(key_text(other)),
        None => Json::Null,
    });
    let visible = |column: &str| {
        entity
            .fields()
            .iter()
            .find(|f| f.field_name == column)
            .map(|f| f.field_visible_name.clone())
    };
    let written = n.state.columns.iter().filter_map(|(c, _)| visible(c));
    let (operation, fields) = match intent {
        Intent::Create => (crate::changes::ChangeOperation::Insert, written.collect()),
        Intent::Update => {
            let before = n.state.existing.as_ref().map(|e| &e.object);
            let fields = written
                .filter(|f| match before {
                    Some(b) if !b.is_empty() => b.get(f) != object.get(f),
                    _ => true,
                })
                .collect();
            (crate::changes::ChangeOperation::Update, fields)
        }
    };
    Ok(crate::changes::NewChange {
        entity: entity.alias().to_string(),
        identifier,
        operation,
        fields,
    })
}

/// A saved row keyed by physical column names, for hooks.
fn physical(entity: &Entity, saved: &Saved) -> Map<String, Json> {
    entity
        .fields()
        .iter()
        .filter_map(|f| {
            saved
                .object
                .get(&f.field_visible_name)
                .map(|v| (f.field_name.clone(), v.clone()))
        })
        .collect()
}

impl<'a> Attempt<'_, '_, 'a> {
    /// Runs the after-write hooks, once per table and operation, on the rows saved.
    pub(super) fn after_hooks(&mut self) -> Result<(), Abort> {
        let Some(hooks) = self.ctx.hooks else {
            return Ok(());
        };
        let log = std::mem::take(&mut self.log);
        let mut groups: Vec<(&'a Entity, Operation, Vec<usize>)> = Vec::new();
        for (i, l) in log.iter().enumerate() {
            match groups
                .iter_mut()
                .find(|(e, o, _)| e.table() == l.entity.table() && *o == l.operation)
            {
                Some(g) => g.2.push(i),
                None => groups.push((l.entity, l.operation, vec![i])),
            }
        }
        for (entity, op, members) in groups {
            let mut rows: Vec<Map<String, Json>> =
                members.iter().map(|&i| log[i].row.clone()).collect();
            let result = hooks.after_write(
                self.tx.conn(),
                Batch {
                    alias: entity.alias(),
                    table: entity.table(),
                    operation: op,
                    rows: &mut rows,
                },
            );
            if let Err(e) = result {
                let refused: Vec<usize> = match e.row {
                    Some(r) => members.get(r).copied().into_iter().collect(),
                    None => members,
                };
                for i in refused {
                    self.errors.push((
                        log[i].root,
                        RowError::Rejected {
                            path: log[i].path.clone(),
                            message: e.message.clone(),
                        },
                    ));
                }
            }
        }
        Ok(())
    }
}
