//! Writes: create (POST), update (PATCH), upsert (PUT) and delete, with nested rows,
//! set-based statements, transactions and hooks.
//!
//! A write runs in two passes. The first checks the whole payload without the database (shape,
//! fields, types, rules, required fields, what may be set); a transactional request with any
//! error stops there. The second runs inside a transaction, one level of the payload tree at a
//! time: it locks the rows named by identifier (in identifier order, so concurrent writers
//! cannot deadlock on them), decides per row between update, create, 1303 and 1308, and writes
//! each level with multi-row statements of fixed sizes, parents before children.
//!
//! Statements are attempted set-based first. When the database refuses one (a duplicate, a
//! missing reference), the attempt is rolled back and repeated row by row, each row in a
//! savepoint, to name every refused row with its path; PostgreSQL's aborted-transaction state
//! never leaks into the answer. Deadlocks and busy databases repeat the attempt.

// Keys come from the payload; foldhash is seeded per map and far cheaper than SipHash.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::borrow::Cow;

use dynex_auth::{Action, Principal};
use dynex_query::write::{self as w, Target};
use dynex_query::{Dialect, Select, Value, decode_row, select, select_cells};
use dynex_schema::{Catalog, Entity, Relation};
use dynex_validate::{
    Intent, RowCheck, RowError, SplitRow, check_immutable, check_row, check_value, split_row,
};
use serde_json::{Map, Value as Json};

use crate::db::{AnyConnection, execute, load_cells, load_json};
use crate::dberr::{DbFault, classify};
use crate::engine::hooks::{Batch, Operation, PendingRow, WriteHooks};
use crate::engine::tx::Tx;
use crate::error::CoreError;

/// The kind of write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// POST: create rows.
    Create,
    /// PATCH: change the fields sent of existing rows.
    Update,
    /// PUT: replace existing rows (resetting editable fields not sent), create missing ones.
    Upsert,
}

/// A write request as the API receives it.
#[derive(Debug, Clone, Copy)]
pub struct WriteRequest<'a> {
    /// The entity's alias.
    pub alias: &'a str,
    /// What to do.
    pub method: Method,
    /// The identifier from `/{alias}/{id}`; the body's `data` is then one object.
    pub id: Option<&'a str>,
    /// The request body, `{"data": [...]}` or `{"data": {...}}`.
    pub body: &'a [u8],
    /// `false` commits each root row (with its nested rows) on its own.
    pub transactional: bool,
    /// The caller; nested rows need the write scope of their entity too.
    pub principal: Option<&'a Principal>,
}

/// What a write saved, and (non-transactional mode only) the rows it refused.
#[derive(Debug, Default)]
pub struct WriteOutcome {
    /// The saved root rows as the API returns them, nested rows under their relation names.
    pub data: Vec<Json>,
    /// Errors of the refused rows, in payload order.
    pub errors: Vec<RowError>,
}

/// A row as saved or found: its wire object and the extra key columns read with it.
#[derive(Debug, Clone)]
struct Saved {
    object: Map<String, Json>,
    extras: Vec<Json>,
    /// The row as the database returned it, when decoding could wait until after the commit
    /// (`object` and `extras` are then empty).
    raw: Option<String>,
}

impl Saved {
    fn decoded(object: Map<String, Json>, extras: Vec<Json>) -> Saved {
        Saved {
            object,
            extras,
            raw: None,
        }
    }
}

/// What an attempt decided and did for one row; cleared before each attempt.
#[derive(Debug, Default)]
struct State<'a> {
    failed: bool,
    intent: Option<Intent>,
    parent: Vec<(String, Value)>,
    /// The columns to write: their names borrow the entity's (a hook may name others).
    columns: Vec<(Cow<'a, str>, Value)>,
    existing: Option<Saved>,
    saved: Option<Saved>,
    /// The identifier of a row created where `INSERT` returns nothing (MariaDB).
    created_id: Option<Value>,
}

/// One row of the payload tree.
struct Node<'a> {
    entity: &'a Entity,
    root: usize,
    path: String,
    split: SplitRow<'a>,
    values: Vec<(usize, Value)>,
    lookup: Option<Value>,
    by_id: bool,
    from_parent: Vec<usize>,
    branches: Vec<Branch<'a>>,
    state: State<'a>,
}

/// The nested rows of one relation of a row.
struct Branch<'a> {
    relation: &'a Relation,
    entity: &'a Entity,
    nodes: Vec<Node<'a>>,
}

impl Node<'_> {
    fn reset(&mut self) {
        self.state = State::default();
        for b in &mut self.branches {
            for n in &mut b.nodes {
                n.reset();
            }
        }
    }

    /// The row as the API returns it: saved fields, then the saved rows of each relation sent.
    fn into_response(self) -> Result<Json, CoreError> {
        let mut object = match self.state.saved {
            Some(Saved { raw: Some(raw), .. }) => {
                decode_row(self.entity, &raw).map_err(CoreError::Corrupt)?.0
            }
            Some(saved) => saved.object,
            None => Map::new(),
        };
        for b in self.branches {
            let rows = b
                .nodes
                .into_iter()
                .filter(|n| n.state.saved.is_some())
                .map(Node::into_response)
                .collect::<Result<_, _>>()?;
            object.insert(b.relation.name.clone(), Json::Array(rows));
        }
        Ok(Json::Object(object))
    }
}

/// What every step of a write needs.
pub(crate) struct Ctx<'a> {
    pub catalog: &'a Catalog,
    pub dialect: Dialect,
    pub method: Method,
    pub principal: Option<&'a Principal>,
    pub hooks: Option<&'a dyn WriteHooks>,
    /// The in-process writer lock, held around each transaction (SQLite only).
    pub writer: Option<&'a std::sync::Mutex<()>>,
    /// The caller holds a transaction on the connection: attempts are savepoints in it.
    pub nested: bool,
    /// The caller wants the saved rows back (the API answers them; an import does not).
    pub respond: bool,
}

/// Why an attempt stopped early.
enum Abort {
    /// A deadlock or busy database: try again.
    Retry,
    /// The database refused a set-based statement: repeat row by row to name the rows.
    Refused,
    /// Not the client's fault.
    Fatal(CoreError),
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Abort {
        Abort::Fatal(CoreError::Database(e))
    }
}

impl From<CoreError> for Abort {
    fn from(e: CoreError) -> Abort {
        Abort::Fatal(e)
    }
}

/// A value as text, for matching keys read back from the database with keys sent.
fn key_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Int(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Text(s)
        | Value::Decimal(s)
        | Value::Date(s)
        | Value::DateTime(s)
        | Value::Json(s) => s.clone(),
    }
}

fn json_key_text(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value read back from the database, to bind again (a parent's key for its children).
pub(crate) fn json_to_value(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or_default())),
        Json::String(s) => Value::Text(s.clone()),
        other => Value::Text(other.to_string()),
    }
}

/// The visible name of `column` in `entity`, or the column itself when it is not exposed.
fn visible(entity: &Entity, column: &str) -> String {
    entity
        .fields()
        .iter()
        .find(|f| f.field_name == column)
        .map_or_else(|| column.to_string(), |f| f.field_visible_name.clone())
}

/// The row error for a statement the database refused for one row.
fn refusal(entity: &Entity, path: &str, fault: DbFault) -> Result<RowError, Abort> {
    // MariaDB names the unique key, not its columns; a key name is not a field.
    let with = |col: Option<&String>| match col {
        Some(c) if entity.column(c).is_some() => format!("{path}.{}", visible(entity, c)),
        _ => path.to_string(),
    };
    Ok(match fault {
        DbFault::Unique(cols) => RowError::Duplicate {
            path: with(cols.first()),
        },
        DbFault::ForeignKey { columns, .. } => RowError::MissingReference {
            path: with(columns.first()),
        },
        DbFault::NotNull(col) => RowError::NotNull {
            path: with(col.as_ref()),
        },
        DbFault::Data(reason) => RowError::Persistence {
            path: path.to_string(),
            reason: Some(reason),
        },
        DbFault::Retry => return Err(Abort::Retry),
        DbFault::Other(e) => return Err(Abort::Fatal(CoreError::Database(e))),
    })
}

/// How a set-based statement failed, for the attempt.
fn abort(dialect: Dialect, e: diesel::result::Error) -> Abort {
    match classify(dialect, e) {
        DbFault::Retry => Abort::Retry,
        DbFault::Other(e) => Abort::Fatal(CoreError::Database(e)),
        _ => Abort::Refused,
    }
}

/// Where a row sits in the payload.
struct Place {
    /// Index of its root row.
    root: usize,
    /// Its error path.
    path: String,
    /// The identifier from the URL (`/{alias}/{id}` routes).
    url_id: Option<Value>,
    /// Fields filled in from the parent row.
    from_parent: Vec<usize>,
}

/// What pass one checks in a row written with `method`: `by_id` when the URL names it
/// (`given` then counts as sent), `from_parent` the fields its parent row fills in.
fn row_check<'c>(
    method: Method,
    by_id: bool,
    from_parent: &'c [usize],
    given: &'c [usize],
) -> RowCheck<'c> {
    RowCheck {
        intent: match method {
            Method::Create => Some(Intent::Create),
            Method::Update => Some(Intent::Update),
            Method::Upsert => None,
        },
        require: method != Method::Update,
        identifier_is_key: !by_id,
        from_parent,
        given: if by_id { given } else { &[] },
    }
}

/// Pass one: the payload tree, checked without the database.
fn build<'a>(
    ctx: &Ctx<'a>,
    entity: &'a Entity,
    row: &'a Map<String, Json>,
    place: Place,
    errors: &mut Vec<RowError>,
) -> Result<Node<'a>, CoreError> {
    let Place {
        root,
        path,
        url_id,
        from_parent,
    } = place;
    let split = split_row(entity, row, &path, errors);
    let id_index = entity.identifier_index();
    let by_id = url_id.is_some();
    let given_id = [id_index];
    let lookup = match (ctx.method, url_id) {
        (Method::Create, _) => None,
        (_, Some(id)) => Some(id),
        (method, None) => match split.get(id_index).filter(|v| !v.is_null()) {
            // A mistyped identifier is reported by the type check below.
            Some(v) => check_value(entity.identifier(), v).ok(),
            None => {
                if method == Method::Update {
                    errors.push(RowError::MissingIdentifier { path: path.clone() });
                }
                None
            }
        },
    };
    let check = row_check(ctx.method, by_id, &from_parent, &given_id);
    let values = check_row(entity, &split, &path, &check, errors);
    let mut branches = Vec::new();
    for &(relation, items) in &split.relations {
        let Some(child) = ctx.catalog.entity(relation.child_alias()) else {
            errors.push(RowError::UnknownRelation {
                relation: relation.name.clone(),
            });
            continue;
        };
        if let Some(p) = ctx.principal
            && !p.allows(Action::Write, child.alias())
        {
            return Err(CoreError::MissingScope(
                Principal::missing_scope(Action::Write, child.alias()).to_string(),
            ));
        }
        let child_from_parent: Vec<usize> = child
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                relation
                    .relation_field_mappings
                    .iter()
                    .any(|m| m.child_field_name == f.field_name)
            })
            .map(|(i, _)| i)
            .collect();
        let mut nodes = Vec::with_capacity(items.len());
        for (j, item) in items.iter().enumerate() {
            let Some(object) = item.as_object() else {
                continue;
            };
            let place = Place {
                root,
                path: format!("{path}.{}[{j}]", child.alias()),
                url_id: None,
                from_parent: child_from_parent.clone(),
            };
            nodes.push(build(ctx, child, object, place, errors)?);
        }
        branches.push(Branch {
            relation,
            entity: child,
            nodes,
        });
    }
    Ok(Node {
        entity,
        root,
        path,
        split,
        values,
        lookup,
        by_id,
        from_parent,
        branches,
        state: State::default(),
    })
}

/// Pass two: one attempt at writing the active roots inside `tx`.
struct Attempt<'t, 'c, 'a> {
    tx: &'t mut Tx<'c>,
    ctx: &'t Ctx<'a>,
    /// Row by row, each in a savepoint, naming every refused row.
    granular: bool,
    errors: Vec<(usize, RowError)>,
    /// Whether generated identifiers of a multi-row insert are consecutive (MariaDB), once known.
    consecutive: Option<bool>,
    /// Saved rows for the after-write hooks.
    log: Vec<Logged<'a>>,
}

/// A saved row kept for the after-write hooks.
struct Logged<'a> {
    entity: &'a Entity,
    operation: Operation,
    root: usize,
    path: String,
    row: Map<String, Json>,
}

impl<'a> Attempt<'_, '_, 'a> {
    fn fail(&mut self, node: &mut Node<'a>, error: RowError) {
        node.state.failed = true;
        self.errors.push((node.root, error));
    }

    fn dialect(&self) -> Dialect {
        self.ctx.dialect
    }

    /// Runs a statement that returns rows.
    fn rows(&mut self, sql: &dynex_query::Sql) -> Result<Vec<String>, diesel::result::Error> {
        load_json(self.tx.conn(), sql)
    }

    /// Runs a statement for one row in a savepoint.
    fn row_in_savepoint(
        &mut self,
        sql: &dynex_query::Sql,
    ) -> Result<Vec<String>, diesel::result::Error> {
        self.tx.savepoint(|c| load_json(c, sql))
    }

    /// Writes one level of the tree: `nodes` are rows of `entity`, their parent columns set.
    fn level(&mut self, entity: &'a Entity, mut nodes: Vec<&mut Node<'a>>) -> Result<(), Abort> {
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
        for n in &nodes {
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
    fn unread(&self, node: &Node<'_>) -> bool {
        !self.ctx.respond && self.ctx.hooks.is_none() && node.branches.is_empty()
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
                    let id = dynex_query::cell_value(
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

    /// Inserts the rows to create, grouped by the columns they set.
    fn creates(
        &mut self,
        entity: &'a Entity,
        nodes: &mut [&mut Node<'a>],
        extras: &[String],
    ) -> Result<(), Abort> {
        let dialect = self.dialect();
        for (shape, members) in shapes(nodes, Intent::Create) {
            let targets: Vec<Target> = shape
                .iter()
                .map(|c| Target::new(dialect, entity, c))
                .collect();
            let id = &entity.identifier().field_name;
            if !w::insert_returns(dialect) && !shape.contains(id) {
                let generated = entity.column(id).is_some_and(|c| c.auto_increment);
                if !generated {
                    return Err(Abort::Fatal(CoreError::Invalid(format!(
                        "rows of `{}` must carry their identifier `{}`: it is not generated by \
                         the database",
                        entity.alias(),
                        entity.identifier().field_visible_name
                    ))));
                }
            }
            // Rows nobody reads back (an import, no hooks, no nested rows) are inserted without
            // RETURNING and without reading generated identifiers.
            let quiet = members.iter().all(|&i| self.unread(nodes[i]));
            let one_by_one = self.granular
                || (!quiet
                    && !w::insert_returns(dialect)
                    && !shape.contains(id)
                    && !self.consecutive_ids()?);
            // `DEFAULT VALUES` (no columns) inserts one row.
            let sizes = if one_by_one || shape.is_empty() {
                vec![1; members.len()]
            } else {
                w::write_chunks(dialect, members.len(), shape.len())
            };
            let mut start = 0;
            for size in sizes {
                let chunk = &members[start..start + size];
                start += size;
                // Values nothing reads after the insert move into the statement; an attempt
                // that is repeated decides its columns afresh from the checked values.
                let rows: Vec<Vec<Value>> = chunk
                    .iter()
                    .map(|&i| {
                        let columns = &mut nodes[i].state.columns;
                        if quiet {
                            columns.iter_mut().map(|(_, v)| std::mem::take(v)).collect()
                        } else {
                            columns.iter().map(|(_, v)| v.clone()).collect()
                        }
                    })
                    .collect();
                let sql = w::insert_rows(dialect, entity, &targets, rows, extras, !quiet);
                if quiet {
                    self.insert_quietly(entity, nodes, chunk, &sql)?;
                    continue;
                }
                if !w::insert_returns(dialect) {
                    self.insert_without_returning(entity, nodes, chunk, &shape, &sql)?;
                    continue;
                }
                let result = if self.granular {
                    self.row_in_savepoint(&sql)
                } else {
                    self.rows(&sql)
                };
                let texts = match result {
                    Ok(t) => t,
                    Err(e) if self.granular => {
                        let i = chunk[0];
                        let error = refusal(entity, &nodes[i].path, classify(dialect, e))?;
                        self.fail(nodes[i], error);
                        continue;
                    }
                    Err(e) => return Err(abort(dialect, e)),
                };
                if texts.len() != chunk.len() {
                    return Err(Abort::Fatal(CoreError::Corrupt(format!(
                        "an insert of {} rows returned {}",
                        chunk.len(),
                        texts.len()
                    ))));
                }
                // RETURNING yields the rows in the order of the VALUES list. Rows nothing else
                // reads before the commit are decoded after it, outside the write lock.
                let lazy = self.ctx.hooks.is_none();
                for (&i, text) in chunk.iter().zip(texts) {
                    nodes[i].state.saved = Some(if lazy && nodes[i].branches.is_empty() {
                        Saved {
                            object: Map::new(),
                            extras: Vec::new(),
                            raw: Some(text),
                        }
                    } else {
                        let (object, extras) =
                            decode_row(entity, &text).map_err(CoreError::Corrupt)?;
                        Saved::decoded(object, extras)
                    });
                }
            }
        }
        let created: Vec<usize> = (0..nodes.len())
            .filter(|&i| nodes[i].state.created_id.is_some() && !nodes[i].state.failed)
            .collect();
        if !created.is_empty() {
            self.reread(entity, nodes, &created, extras)?;
        }
        Ok(())
    }

    /// Whether a multi-row `INSERT` gets consecutive generated identifiers (MariaDB/MySQL:
    /// `innodb_autoinc_lock_mode` 0 or 1; mode 2 interleaves concurrent inserts).
    fn consecutive_ids(&mut self) -> Result<bool, Abort> {
        if let Some(known) = self.consecutive {
            return Ok(known);
        }
        let sql = {
            let mut sql = dynex_query::Sql::default();
            sql.push("SELECT CAST(@@innodb_autoinc_lock_mode AS CHAR) AS row_json");
            sql
        };
        let known = self
            .rows(&sql)
            .map(|rows| rows.first().is_some_and(|m| m != "2"))
            .unwrap_or(false);
        self.consecutive = Some(known);
        Ok(known)
    }

    /// Inserts rows nobody reads back: each is marked saved with an empty answer.
    fn insert_quietly(
        &mut self,
        entity: &'a Entity,
        nodes: &mut [&mut Node<'a>],
        chunk: &[usize],
        sql: &dynex_query::Sql,
    ) -> Result<(), Abort> {
        let dialect = self.dialect();
        let result = if self.granular {
            self.tx.savepoint(|c| execute(c, sql))
        } else {
            execute(self.tx.conn(), sql)
        };
        match result {
            Ok(_) => {
                for &i in chunk {
                    nodes[i].state.saved = Some(Saved::decoded(Map::new(), Vec::new()));
                }
                Ok(())
            }
            Err(e) if self.granular => {
                let i = chunk[0];
                let error = refusal(entity, &nodes[i].path, classify(dialect, e))?;
                self.fail(nodes[i], error);
                Ok(())
            }
            Err(e) => Err(abort(dialect, e)),
        }
    }

    /// Inserts where `INSERT` returns no rows (MariaDB): the identifiers are the ones sent, or
    /// the generated ones from `LAST_INSERT_ID()` (the first row's) and the increment; the rows
    /// are read back afterwards.
    fn insert_without_returning(
        &mut self,
        entity: &'a Entity,
        nodes: &mut [&mut Node<'a>],
        chunk: &[usize],
        shape: &[String],
        sql: &dynex_query::Sql,
    ) -> Result<(), Abort> {
        let dialect = self.dialect();
        let id = &entity.identifier().field_name;
        let sent = shape.iter().position(|c| c == id);
        let result = if self.granular {
            self.tx.savepoint(|c| execute(c, sql))
        } else {
            execute(self.tx.conn(), sql)
        };
        if let Err(e) = result {
            if !self.granular {
                return Err(abort(dialect, e));
            }
            let i = chunk[0];
            let error = refusal(entity, &nodes[i].path, classify(dialect, e))?;
            self.fail(nodes[i], error);
            return Ok(());
        }
        if let Some(p) = sent {
            for &i in chunk {
                nodes[i].state.created_id = Some(nodes[i].state.columns[p].1.clone());
            }
            return Ok(());
        }
        let mut sql = dynex_query::Sql::default();
        sql.push("SELECT CONCAT(LAST_INSERT_ID(), ',', @@auto_increment_increment) AS row_json");
        let text = self.rows(&sql)?.pop().unwrap_or_default();
        let (first, step) = text.split_once(',').unwrap_or(("", ""));
        let (Ok(first), Ok(step)) = (first.parse::<i64>(), step.parse::<i64>()) else {
            return Err(Abort::Fatal(CoreError::Corrupt(format!(
                "unexpected LAST_INSERT_ID answer `{text}`"
            ))));
        };
        for (k, &i) in chunk.iter().enumerate() {
            nodes[i].state.created_id = Some(Value::Int(first + step * k as i64));
        }
        Ok(())
    }

    /// Updates the existing rows, grouped by the columns they set, one statement per batch.
    fn updates(
        &mut self,
        entity: &'a Entity,
        nodes: &mut [&mut Node<'a>],
        extras: &[String],
    ) -> Result<(), Abort> {
        let dialect = self.dialect();
        let id = entity.identifier();
        let key_target = Target::new(dialect, entity, &id.field_name);
        let mut reread: Vec<usize> = Vec::new();
        for (shape, members) in shapes(nodes, Intent::Update) {
            if shape.is_empty() {
                // Nothing to change: the row is what was found.
                for i in members {
                    nodes[i].state.saved = nodes[i].state.existing.clone();
                }
                continue;
            }
            let targets: Vec<Target> = shape
                .iter()
                .map(|c| Target::new(dialect, entity, c))
                .collect();
            // Rows naming the same identifier go into separate statements, in payload order,
            // so the last one wins as if they were written one after another.
            let mut rounds: Vec<(Vec<usize>, HashSet<String>)> = Vec::new();
            for i in members {
                let k = nodes[i].lookup.as_ref().map(key_text).unwrap_or_default();
                match rounds.iter_mut().find(|(_, keys)| !keys.contains(&k)) {
                    Some((round, keys)) => {
                        round.push(i);
                        keys.insert(k);
                    }
                    None => rounds.push((vec![i], [k].into_iter().collect())),
                }
            }
            for (round, _) in rounds {
                let sizes = if self.granular {
                    vec![1; round.len()]
                } else {
                    w::write_chunks(dialect, round.len(), shape.len() + 1)
                };
                let mut start = 0;
                for size in sizes {
                    let chunk = &round[start..start + size];
                    start += size;
                    let rows: Vec<(Value, Vec<Value>)> = chunk
                        .iter()
                        .map(|&i| {
                            (
                                nodes[i].lookup.clone().unwrap_or(Value::Null),
                                nodes[i]
                                    .state
                                    .columns
                                    .iter()
                                    .map(|(_, v)| v.clone())
                                    .collect(),
                            )
                        })
                        .collect();
                    // Rows nobody reads back (an import without hooks) need no RETURNING.
                    let quiet = chunk.iter().all(|&i| self.unread(nodes[i]));
                    let returns = w::update_returns(dialect) && !quiet;
                    let sql = w::update_rows(
                        dialect,
                        entity,
                        &key_target,
                        &targets,
                        &rows,
                        extras,
                        returns,
                    );
                    let result = match (self.granular, returns) {
                        (true, true) => self.row_in_savepoint(&sql),
                        (false, true) => self.rows(&sql),
                        (true, false) => {
                            self.tx.savepoint(|c| execute(c, &sql)).map(|_| Vec::new())
                        }
                        (false, false) => execute(self.tx.conn(), &sql).map(|_| Vec::new()),
                    };
                    let texts = match result {
                        Ok(t) => t,
                        Err(e) if self.granular => {
                            let i = chunk[0];
                            let error = refusal(entity, &nodes[i].path, classify(dialect, e))?;
                            self.fail(nodes[i], error);
                            continue;
                        }
                        Err(e) => return Err(abort(dialect, e)),
                    };
                    if quiet {
                        for &i in chunk {
                            nodes[i].state.saved = Some(Saved::decoded(Map::new(), Vec::new()));
                        }
                    } else if returns {
                        let mut by_key = HashMap::new();
                        for text in texts {
                            let (object, extras) =
                                decode_row(entity, &text).map_err(CoreError::Corrupt)?;
                            let k = object
                                .get(&id.field_visible_name)
                                .map(json_key_text)
                                .unwrap_or_default();
                            by_key.insert(k, Saved::decoded(object, extras));
                        }
                        for &i in chunk {
                            let k = final_key(entity, nodes[i]);
                            nodes[i].state.saved = by_key.get(&k).cloned();
                        }
                    } else {
                        reread.extend_from_slice(chunk);
                    }
                }
            }
        }
        if !reread.is_empty() {
            self.reread(entity, nodes, &reread, extras)?;
        }
        for n in nodes.iter_mut() {
            if n.state.intent == Some(Intent::Update) && !n.state.failed && n.state.saved.is_none()
            {
                let path = n.path.clone();
                self.fail(n, RowError::NotFound { path });
            }
        }
        Ok(())
    }

    /// Reads updated rows back where `UPDATE` cannot return them (MariaDB).
    fn reread(
        &mut self,
        entity: &'a Entity,
        nodes: &mut [&mut Node<'a>],
        members: &[usize],
        extras: &[String],
    ) -> Result<(), Abort> {
        let id = entity.identifier();
        let id_column = vec![id.field_name.clone()];
        let mut keys: Vec<String> = Vec::new();
        let mut tuples: Vec<Vec<Value>> = Vec::new();
        for &i in members {
            let k = final_key(entity, nodes[i]);
            if !keys.contains(&k) {
                keys.push(k);
                tuples.push(vec![final_value(entity, nodes[i])]);
            }
        }
        let mut by_key = HashMap::new();
        let mut start = 0;
        for size in w::batch_sizes(tuples.len(), w::rows_per_statement(self.dialect(), 1)) {
            let sql = select(
                self.dialect(),
                &Select {
                    entity,
                    fields: None,
                    conditions: &[],
                    keys: Some((&id_column, &tuples[start..start + size])),
                    extra_columns: extras,
                    page: None,
                    lock: false,
                },
            );
            start += size;
            for text in self.rows(&sql).map_err(|e| abort(self.dialect(), e))? {
                let (object, extras) = decode_row(entity, &text).map_err(CoreError::Corrupt)?;
                let k = object
                    .get(&id.field_visible_name)
                    .map(json_key_text)
                    .unwrap_or_default();
                by_key.insert(k, Saved::decoded(object, extras));
            }
        }
        for &i in members {
            let k = final_key(entity, nodes[i]);
            nodes[i].state.saved = by_key.get(&k).cloned();
        }
        Ok(())
    }

    /// Runs the after-write hooks, once per table and operation, on the rows saved.
    fn after_hooks(&mut self) -> Result<(), Abort> {
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

/// The identifier a row has after its update, as text.
fn final_key(entity: &Entity, node: &Node<'_>) -> String {
    key_text(&final_value(entity, node))
}

fn final_value(entity: &Entity, node: &Node<'_>) -> Value {
    let id = &entity.identifier().field_name;
    node.state
        .created_id
        .clone()
        .or_else(|| {
            node.state
                .columns
                .iter()
                .find(|(c, _)| c == id)
                .map(|(_, v)| v.clone())
        })
        .or_else(|| node.lookup.clone())
        .unwrap_or(Value::Null)
}

/// Rows of one intent grouped by the columns they write, in payload order.
fn shapes(nodes: &[&mut Node<'_>], intent: Intent) -> Vec<(Vec<String>, Vec<usize>)> {
    let mut out: Vec<(Vec<String>, Vec<usize>)> = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        if n.state.failed || n.state.intent != Some(intent) {
            continue;
        }
        let columns = &n.state.columns;
        let same = |shape: &Vec<String>| {
            shape.len() == columns.len() && shape.iter().zip(columns).all(|(a, (b, _))| a == b)
        };
        // The rows of a batch mostly share one shape, so the newest group is tried first and
        // a shape is only copied when it is new.
        match out.iter_mut().rev().find(|(shape, _)| same(shape)) {
            Some((_, members)) => members.push(i),
            None => out.push((
                columns.iter().map(|(c, _)| c.to_string()).collect(),
                vec![i],
            )),
        }
    }
    out
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

/// Parses the body into root objects: `{"data": [objects]}`, or `{"data": {object}}` by id.
fn roots(body: &[u8], by_id: bool) -> Result<Vec<Map<String, Json>>, CoreError> {
    let invalid = || CoreError::Rows(vec![RowError::InvalidFormat]);
    let mut body: Json = serde_json::from_slice(body).map_err(|_| invalid())?;
    let data = body
        .as_object_mut()
        .and_then(|o| o.remove("data"))
        .ok_or_else(invalid)?;
    match (data, by_id) {
        (Json::Object(o), true) => Ok(vec![o]),
        (Json::Array(items), false) if !items.is_empty() => items
            .into_iter()
            .map(|i| match i {
                Json::Object(o) => Ok(o),
                _ => Err(invalid()),
            })
            .collect(),
        _ => Err(invalid()),
    }
}

/// Runs a write; see the module documentation.
pub(crate) fn write<'a>(
    conn: &mut AnyConnection,
    ctx: &Ctx<'a>,
    entity: &'a Entity,
    req: &WriteRequest<'_>,
) -> Result<WriteOutcome, CoreError> {
    let objects = roots(req.body, req.id.is_some())?;
    let url_id = match req.id {
        None => None,
        Some(text) => match dynex_validate::parse_text(entity.identifier(), text) {
            Ok(v) => Some(v),
            Err(_) if ctx.method == Method::Update => {
                // An id that cannot be of the identifier's type names no row.
                return Err(CoreError::Rows(vec![RowError::NotFound {
                    path: format!("{}[0]", entity.alias()),
                }]));
            }
            Err(_) => {
                return Err(CoreError::Rows(vec![RowError::InvalidType {
                    path: format!("{}[0]", entity.alias()),
                    field: entity.identifier().field_visible_name.clone(),
                    expected: dynex_validate::expected(entity.identifier().ty),
                }]));
            }
        },
    };
    let path = |i: usize| format!("{}[{i}]", entity.alias());
    let written = write_objects(
        conn,
        ctx,
        entity,
        &objects,
        &path,
        url_id.as_ref(),
        Mode {
            transactional: req.transactional,
            dry: false,
        },
    )?;
    if req.transactional && !written.errors.is_empty() {
        return Err(CoreError::Rows(
            written.errors.into_iter().map(|(_, e)| e).collect(),
        ));
    }
    Ok(WriteOutcome {
        data: written
            .nodes
            .into_iter()
            .zip(written.saved)
            .filter(|(_, saved)| *saved)
            .map(|(n, _)| n.into_response())
            .collect::<Result<_, _>>()?,
        errors: written.errors.into_iter().map(|(_, e)| e).collect(),
    })
}

/// How [`write_objects`] commits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mode {
    /// All rows or none; otherwise each root row stands alone.
    pub transactional: bool,
    /// Roll back what would have been saved (a dry run reports the same errors).
    pub dry: bool,
}

/// What [`write_objects`] did: the payload tree, which roots were saved, and the errors of the
/// refused roots by root index, in root order.
pub(crate) struct Written<'a> {
    nodes: Vec<Node<'a>>,
    /// Per root: saved (or, in a dry run, would have been).
    pub saved: Vec<bool>,
    /// Errors by root index.
    pub errors: Vec<(usize, RowError)>,
}

impl Written<'_> {
    /// Which roots were saved and the errors by root, without the written tree, which ends the
    /// borrow of the objects.
    pub(crate) fn outcome(self) -> (Vec<bool>, Vec<(usize, RowError)>) {
        (self.saved, self.errors)
    }
}

/// Writes root objects of `entity` (the API's `data` rows, or rows of a CSV batch); `path`
/// names root `i` in error messages.
pub(crate) fn write_objects<'a>(
    conn: &mut AnyConnection,
    ctx: &Ctx<'a>,
    entity: &'a Entity,
    objects: &'a [Map<String, Json>],
    path: &dyn Fn(usize) -> String,
    url_id: Option<&Value>,
    mode: Mode,
) -> Result<Written<'a>, CoreError> {
    let mut errors: Vec<(usize, RowError)> = Vec::new();
    let mut nodes = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        let mut own = Vec::new();
        let place = Place {
            root: i,
            path: path(i),
            url_id: url_id.cloned(),
            from_parent: Vec::new(),
        };
        nodes.push(build(ctx, entity, object, place, &mut own)?);
        errors.extend(own.into_iter().map(|e| (i, e)));
    }
    write_nodes(conn, ctx, entity, nodes, errors, mode)
}

/// A root row to create, checked ahead of its write by [`check_create`].
pub(crate) struct Checked {
    path: String,
    values: Vec<(usize, Value)>,
    errors: Vec<RowError>,
}

/// Pass one of [`write_objects`] for a root row to create that has no nested rows, with the
/// same checks and errors, but without a connection: an import's reading thread checks the
/// next batch while the current one is written. `None` for a row with nested rows, which only
/// [`write_objects`] writes.
pub(crate) fn check_create(
    entity: &Entity,
    row: &Map<String, Json>,
    path: String,
) -> Option<Checked> {
    let mut errors = Vec::new();
    let split = split_row(entity, row, &path, &mut errors);
    if !split.relations.is_empty() {
        return None;
    }
    let check = row_check(Method::Create, false, &[], &[]);
    let values = check_row(entity, &split, &path, &check, &mut errors);
    Some(Checked {
        path,
        values,
        errors,
    })
}

/// Creates rows of `entity` checked by [`check_create`], as [`write_objects`] would with
/// [`Method::Create`].
pub(crate) fn write_checked<'a>(
    conn: &mut AnyConnection,
    ctx: &Ctx<'a>,
    entity: &'a Entity,
    rows: Vec<Checked>,
    mode: Mode,
) -> Result<Written<'a>, CoreError> {
    debug_assert!(ctx.method == Method::Create, "checked rows are created");
    let mut errors: Vec<(usize, RowError)> = Vec::new();
    let nodes = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            errors.extend(row.errors.into_iter().map(|e| (i, e)));
            Node {
                entity,
                root: i,
                path: row.path,
                // A create reads the row as sent only in pass one.
                split: SplitRow {
                    fields: Vec::new(),
                    relations: Vec::new(),
                },
                values: row.values,
                lookup: None,
                by_id: false,
                from_parent: Vec::new(),
                branches: Vec::new(),
                state: State::default(),
            }
        })
        .collect();
    write_nodes(conn, ctx, entity, nodes, errors, mode)
}

/// Pass two of [`write_objects`]: writes the rows built, whose pass-one errors are `errors`.
fn write_nodes<'a>(
    conn: &mut AnyConnection,
    ctx: &Ctx<'a>,
    entity: &'a Entity,
    mut nodes: Vec<Node<'a>>,
    mut errors: Vec<(usize, RowError)>,
    mode: Mode,
) -> Result<Written<'a>, CoreError> {
    let mut active: Vec<bool> = (0..nodes.len())
        .map(|i| !errors.iter().any(|(r, _)| *r == i))
        .collect();
    if mode.transactional {
        // With refused rows already, the others are still tried (to report their errors too)
        // and then rolled back.
        let dry = mode.dry || !errors.is_empty();
        if active.iter().any(|a| *a) {
            let found = match run(conn, ctx, entity, &mut nodes, &active, false, dry)? {
                Ok(()) => Vec::new(),
                Err(found) if !found.is_empty() => found,
                // Refused set-based: repeat row by row to name every refused row.
                Err(_) => match run(conn, ctx, entity, &mut nodes, &active, true, dry)? {
                    // The refusal did not repeat (a concurrent writer went away): all saved.
                    Ok(()) => Vec::new(),
                    Err(found) => nonempty(found)?,
                },
            };
            errors.extend(found);
        }
        errors.sort_by_key(|(r, _)| *r);
        let saved = if errors.is_empty() {
            active
        } else {
            vec![false; nodes.len()]
        };
        return Ok(Written {
            nodes,
            saved,
            errors,
        });
    }
    // Non-transactional: each root row stands alone. Try them together; when some fail, find
    // which row by row, and write the others together again.
    while active.iter().any(|a| *a) {
        if run(conn, ctx, entity, &mut nodes, &active, false, mode.dry)?.is_ok() {
            break;
        }
        match run(conn, ctx, entity, &mut nodes, &active, true, mode.dry)? {
            Ok(()) => break,
            Err(found) => {
                for (root, e) in nonempty(found)? {
                    active[root] = false;
                    errors.push((root, e));
                }
            }
        }
    }
    errors.sort_by_key(|(r, _)| *r);
    Ok(Written {
        nodes,
        saved: active,
        errors,
    })
}

/// Row-by-row attempts always name the rows they refuse; an empty list would loop forever.
fn nonempty(found: Vec<(usize, RowError)>) -> Result<Vec<(usize, RowError)>, CoreError> {
    if found.is_empty() {
        Err(CoreError::Corrupt(
            "the database refused a statement that no single row fails".into(),
        ))
    } else {
        Ok(found)
    }
}

/// One transaction over the active roots: committed when every row was saved (and not `dry`),
/// rolled back with the errors otherwise. A set-based attempt the database refused answers with no errors
/// (`Err(vec![])`) so that the caller repeats it row by row.
fn run<'a>(
    conn: &mut AnyConnection,
    ctx: &Ctx<'a>,
    entity: &'a Entity,
    nodes: &mut [Node<'a>],
    active: &[bool],
    granular: bool,
    dry: bool,
) -> Result<Result<(), Vec<(usize, RowError)>>, CoreError> {
    crate::retry::on_busy(|| {
        for n in nodes.iter_mut() {
            n.reset();
        }
        let _writer = ctx
            .writer
            .map(|m| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let mut tx = if ctx.nested {
            Tx::nested(conn)?
        } else {
            Tx::begin(conn, ctx.dialect)?
        };
        let mut a = Attempt {
            tx: &mut tx,
            ctx,
            granular,
            errors: Vec::new(),
            consecutive: None,
            log: Vec::new(),
        };
        let roots: Vec<&mut Node<'a>> = nodes
            .iter_mut()
            .zip(active)
            .filter(|(_, a)| **a)
            .map(|(n, _)| n)
            .collect();
        let result = a.level(entity, roots).and_then(|()| a.after_hooks());
        let errors = std::mem::take(&mut a.errors);
        match result {
            Ok(()) if errors.is_empty() => {
                if dry {
                    tx.rollback()?;
                } else {
                    tx.commit()?;
                }
                Ok(Some(Ok(())))
            }
            Ok(()) => {
                tx.rollback()?;
                Ok(Some(Err(errors)))
            }
            Err(Abort::Refused) => {
                tx.rollback()?;
                Ok(Some(Err(Vec::new())))
            }
            Err(Abort::Retry) => {
                tx.rollback()?;
                Ok(None)
            }
            Err(Abort::Fatal(e)) => Err(e),
        }
    })
}
