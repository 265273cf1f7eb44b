//! Writes: create (POST), update (PATCH) and upsert (PUT), with nested rows, set-based
//! statements, transactions and hooks (deletes are in [`crate::engine::delete`]).
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
//!
//! This module holds the entry points and the commit loop; [`payload`] is pass one,
//! [`attempt`] and [`statements`] pass two; [`crate::engine::refusal`] maps database failures.

mod attempt;
mod numbers;
mod payload;
mod statements;

use dynex_auth::Principal;
use dynex_query::{Dialect, Value};
use dynex_schema::{Catalog, Entity};
use dynex_validate::{RowError, SplitRow, check_row, split_row};
use serde_json::{Map, Value as Json};

use crate::db::AnyConnection;
use crate::engine::hooks::WriteHooks;
use crate::engine::precondition::{self, Precondition};
use crate::engine::refusal::Abort;
use crate::engine::tx::Tx;
use crate::error::CoreError;
use attempt::Attempt;
use payload::{Node, Place, State, build, roots, row_check};

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

/// What every step of a write needs.
pub(crate) struct Ctx<'a> {
    pub catalog: &'a Catalog,
    pub dialect: Dialect,
    pub method: Method,
    pub principal: Option<&'a Principal>,
    pub hooks: Option<&'a dyn WriteHooks>,
    /// The entities whose writes record change events, and who writes; `None` when none is
    /// followed.
    pub changes: Option<crate::changes::Changes<'a>>,
    /// The in-process writer lock, held around each transaction (SQLite only).
    pub writer: Option<&'a crate::engine::writer::Writer>,
    /// The caller holds a transaction on the connection: attempts are savepoints in it.
    pub nested: bool,
    /// The caller wants the saved rows back (the API answers them; an import does not).
    pub respond: bool,
    /// `If-Match` / `If-None-Match` of a write of one row, checked on the locked row in each
    /// attempt's transaction.
    pub precondition: Option<&'a Precondition>,
}

/// A write request's rows as read from its body, and the identifier of its URL.
pub(crate) struct Payload {
    objects: Vec<Map<String, Json>>,
    url_id: Option<Value>,
}

/// Pass one's rows of a [`Payload`], checked without the database, and their errors.
pub(crate) struct Built<'a> {
    nodes: Vec<Node<'a>>,
    errors: Vec<(usize, RowError)>,
}

impl Payload {
    /// Reads the request's body and the identifier of its URL.
    pub(crate) fn read(
        ctx: &Ctx<'_>,
        entity: &Entity,
        req: &WriteRequest<'_>,
    ) -> Result<Payload, CoreError> {
        if req.id.is_none()
            && let Some(header) = ctx
                .precondition
                .and_then(Precondition::failing_on_collection)
        {
            return Err(CoreError::PreconditionFailed {
                path: entity.alias().to_string(),
                header,
            });
        }
        let mut objects = roots(req.body, req.id.is_some())?;
        numbers::keep_digits(
            ctx.catalog,
            entity,
            req.body,
            req.id.is_some(),
            &mut objects,
        );
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
        Ok(Payload { objects, url_id })
    }

    /// Pass one: builds and checks the rows, without the database.
    pub(crate) fn build<'a>(
        &'a self,
        ctx: &Ctx<'a>,
        entity: &'a Entity,
    ) -> Result<Built<'a>, CoreError> {
        let path = |i: usize| format!("{}[{i}]", entity.alias());
        build_all(ctx, entity, &self.objects, &path, self.url_id.as_ref())
    }
}

/// Pass two of a write request: writes the rows built and answers them as saved (with
/// `transactional`, all or none).
pub(crate) fn finish<'a>(
    conn: &mut AnyConnection,
    ctx: &Ctx<'a>,
    entity: &'a Entity,
    transactional: bool,
    built: Built<'a>,
) -> Result<WriteOutcome, CoreError> {
    let written = write_nodes(
        conn,
        ctx,
        entity,
        built.nodes,
        built.errors,
        Mode {
            transactional,
            dry: false,
        },
    )?;
    if transactional && !written.errors.is_empty() {
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
    let built = build_all(ctx, entity, objects, path, url_id)?;
    write_nodes(conn, ctx, entity, built.nodes, built.errors, mode)
}

/// Pass one of [`write_objects`]: the rows built from `objects`, and their errors by root.
fn build_all<'a>(
    ctx: &Ctx<'a>,
    entity: &'a Entity,
    objects: &'a [Map<String, Json>],
    path: &dyn Fn(usize) -> String,
    url_id: Option<&Value>,
) -> Result<Built<'a>, CoreError> {
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
    Ok(Built { nodes, errors })
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
    dialect: Dialect,
    entity: &Entity,
    row: &Map<String, Json>,
    path: String,
) -> Option<Checked> {
    let mut errors = Vec::new();
    let split = split_row(entity, row, &path, &mut errors);
    if !split.relations.is_empty() {
        return None;
    }
    let check = row_check(dialect, Method::Create, false, &[], &[]);
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
        let _writer = ctx.writer.map(crate::engine::writer::Writer::lock);
        let mut tx = if ctx.nested {
            Tx::nested(conn)?
        } else {
            Tx::begin(conn, ctx.dialect)?
        };
        // The row a conditional write names, checked (and locked) before anything is written.
        let condition = ctx.precondition.zip(
            nodes
                .iter()
                .find(|n| n.by_id)
                .and_then(|n| n.lookup.clone()),
        );
        let checked = match &condition {
            Some((pre, id)) => precondition::check(&mut tx, ctx.dialect, entity, id, pre),
            None => Ok(()),
        };
        let mut a = Attempt {
            tx: &mut tx,
            ctx,
            granular,
            errors: Vec::new(),
            consecutive: None,
            log: Vec::new(),
            events: Vec::new(),
        };
        let roots: Vec<&mut Node<'a>> = nodes
            .iter_mut()
            .zip(active)
            .filter(|(_, a)| **a)
            .map(|(n, _)| n)
            .collect();
        let result = checked
            .and_then(|()| a.level(entity, roots))
            .and_then(|()| a.after_hooks());
        let errors = std::mem::take(&mut a.errors);
        let events = std::mem::take(&mut a.events);
        match result {
            Ok(()) if errors.is_empty() => {
                if dry {
                    tx.rollback()?;
                } else {
                    // The events commit with the rows, or neither does.
                    if let Some(changes) = &ctx.changes
                        && !events.is_empty()
                        && let Err(e) = crate::changes::insert(
                            tx.conn(),
                            ctx.dialect,
                            &events,
                            changes.principal,
                        )
                    {
                        tx.rollback()?;
                        return Err(e.into());
                    }
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
            // InnoDB ends a deadlock by rolling back the victim's whole transaction, the
            // caller's too: only the caller can repeat it.
            Err(Abort::Retry) if ctx.nested && ctx.dialect == Dialect::Mysql => {
                if let Err(e) = tx.rollback() {
                    log::debug!("the savepoint went with its transaction: {e}");
                }
                Err(CoreError::Busy)
            }
            Err(Abort::Retry) => {
                tx.rollback()?;
                Ok(None)
            }
            Err(Abort::Fatal(e)) => Err(e),
        }
    })
}
