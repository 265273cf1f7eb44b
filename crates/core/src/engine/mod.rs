//! The entity engine: reads, writes and deletes of configured entities, with their
//! transactions and hooks.

pub(crate) mod access;
pub(crate) mod cursor;
pub(crate) mod delete;
pub mod hooks;
pub(crate) mod precondition;
pub(crate) mod read;
pub(crate) mod refusal;
pub(crate) mod tx;
pub(crate) mod values;
pub(crate) mod write;
pub(crate) mod writer;

use std::sync::Arc;

use dynex_auth::{Action, Principal};
use dynex_query::{Condition, Dialect, ReadQuery};
use dynex_schema::Entity;

use crate::audit::Audit;
use crate::error::CoreError;
use crate::{Dynex, Method, Precondition, ReadPage, WriteHooks, WriteOutcome, WriteRequest};

/// The most values of a unique column a short read may be filtered to.
///
/// A read so filtered looks up at most 32 rows by an index: on SQLite, tens of microseconds,
/// which the async worker can spend ([`Dynex::read_collection_text_now`]); and its page
/// needs no subquery to spare JSON work for rows it skips.
pub const SHORT_READ_KEYS: usize = 32;

/// What [`Dynex::read_collection_text_now`] did: read the page, or only parsed it.
#[derive(Debug)]
pub enum PageNow {
    /// The page, read on the calling thread.
    Read(ReadPage<Vec<u8>>),
    /// The read, for [`Dynex::read_pending_text`] (on a blocking thread).
    Later(PendingRead),
}

/// A read of a page, parsed and allowed for its caller, not yet run.
#[derive(Debug)]
pub struct PendingRead {
    entity: Arc<Entity>,
    query: ReadQuery,
}

/// A reader of one page: [`read::read_page`] or [`read::read_page_text`].
type PageReader<Rows> = fn(
    &mut crate::db::Conn,
    Dialect,
    &Arc<Entity>,
    &ReadQuery,
    &[Condition],
) -> Result<(Rows, Option<dynex_query::Keyset>), CoreError>;

/// The number of rows of an entity, counted up to a cap ([`Dynex::count_rows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RowCount {
    /// The rows counted: all of them, or the cap when there are more.
    pub rows: u64,
    /// Whether the table holds more rows than `rows`.
    pub capped: bool,
}

/// Reading, writing and deleting rows of entities, and the hooks and writer lock around them.
impl Dynex {
    /// Reads a page of an entity from query-string pairs (`filter[…]`, `sort`, `fields[…]`,
    /// `page[…]`, `include`, `meta`).
    ///
    /// With keyset paging (`page[size]`, `page[after]`) the answer carries the cursor of the
    /// next page; with `meta=count` the number of matching rows. A `principal` needs the read
    /// scope of the entity (checked before its alias is looked up) and of every entity the
    /// include tree or a relation filter reaches; `None` is a trusted caller.
    pub fn read_collection(
        &self,
        alias: &str,
        pairs: &[(String, String)],
        principal: Option<&Principal>,
    ) -> Result<ReadPage, CoreError> {
        self.collection(
            alias,
            pairs,
            principal,
            |conn, dialect, entity, query, extra| {
                read::read_page(conn, dialect, entity, query, extra)
            },
        )
    }

    /// [`Dynex::read_collection`] with the rows written as the text of their JSON array, byte
    /// for byte what `serde_json` writes of [`Dynex::read_collection`]'s rows, at a fraction of
    /// the cost: what the API answers.
    pub fn read_collection_text(
        &self,
        alias: &str,
        pairs: &[(String, String)],
        principal: Option<&Principal>,
    ) -> Result<ReadPage<Vec<u8>>, CoreError> {
        self.collection(alias, pairs, principal, read::read_page_text)
    }

    /// [`Dynex::read_collection_text`] at once when the read is short and a pooled connection
    /// is idle; otherwise the read parsed and allowed, to be run by
    /// [`Dynex::read_pending_text`] without being parsed again.
    ///
    /// Short, as [`Dynex::read_one_if_idle`] has it: on SQLite, without includes or a count,
    /// and filtered to at most [`SHORT_READ_KEYS`] values of the identifier or of a unique
    /// column, so that the database looks up that many rows by an index at most, whatever the
    /// rest of the query. The server then reads on its async worker instead of a blocking
    /// thread.
    pub fn read_collection_text_now(
        &self,
        alias: &str,
        pairs: &[(String, String)],
        principal: Option<&Principal>,
    ) -> Result<PageNow, CoreError> {
        let (entity, query) = self.parse_read(alias, pairs, principal)?;
        let short = self.dialect() == Dialect::Sqlite
            && query.include.is_empty()
            && !query.count
            && read::by_few_keys(&entity, &query.conditions);
        if short && let Some(mut conn) = self.inner.db.try_conn() {
            if let Some(rows) = read::page_by_keys(&mut conn, &entity, &query, &self.inner.by_keys)?
            {
                return Ok(PageNow::Read(ReadPage {
                    rows,
                    cursor: false,
                    next: None,
                    count: None,
                }));
            }
            return self
                .page_of(&mut conn, &entity, query, read::read_page_text)
                .map(PageNow::Read);
        }
        Ok(PageNow::Later(PendingRead { entity, query }))
    }

    /// Runs a read that [`Dynex::read_collection_text_now`] left for later.
    pub fn read_pending_text(&self, read: PendingRead) -> Result<ReadPage<Vec<u8>>, CoreError> {
        let mut conn = self.inner.db.conn()?;
        self.page_of(&mut conn, &read.entity, read.query, read::read_page_text)
    }

    /// A read of a page whose rows `page` reads.
    fn collection<Rows>(
        &self,
        alias: &str,
        pairs: &[(String, String)],
        principal: Option<&Principal>,
        page: PageReader<Rows>,
    ) -> Result<ReadPage<Rows>, CoreError> {
        let (entity, query) = self.parse_read(alias, pairs, principal)?;
        let mut conn = self.inner.db.conn()?;
        self.page_of(&mut conn, &entity, query, page)
    }

    /// Reads the page of a parsed `query` with `page`, and its count when asked for.
    fn page_of<Rows>(
        &self,
        conn: &mut crate::db::Conn,
        entity: &Arc<Entity>,
        mut query: ReadQuery,
        page: PageReader<Rows>,
    ) -> Result<ReadPage<Rows>, CoreError> {
        let order = dynex_query::order_keys(entity, &query.sort);
        if let Some(after) = query.cursor.as_ref().and_then(|c| c.after.as_deref()) {
            query.after = Some(self.inner.cursor_key.decode(entity, &order, after)?);
        }
        let dialect = self.dialect();
        let (rows, next) = page(conn, dialect, entity, &query, &[])?;
        let count = if query.count {
            Some(read::count(conn, dialect, entity, &query.conditions)?)
        } else {
            None
        };
        Ok(ReadPage {
            rows,
            cursor: query.cursor.is_some(),
            next: next.map(|k| self.inner.cursor_key.encode(entity, &k)),
            count,
        })
    }

    /// Counts the rows of the served entity `alias`, reading at most `cap + 1` of them: a
    /// table larger than `cap` costs what one of `cap` rows does, and is reported as capped.
    ///
    /// No scope is checked: the caller decides who may learn the count.
    pub fn count_rows(&self, alias: &str, cap: u64) -> Result<RowCount, CoreError> {
        let entity = self.entity(&self.snapshot(), alias)?;
        let mut conn = self.inner.db.conn()?;
        let n = crate::db::load_count(&mut conn, &dynex_query::count_capped(&entity, cap))?;
        Ok(RowCount {
            rows: n.min(cap),
            capped: n > cap,
        })
    }

    /// The entity and the parsed query of a read, once the caller may read everything it
    /// reaches: the entity before its alias is looked up, the filters and the include tree
    /// once parsed.
    fn parse_read(
        &self,
        alias: &str,
        pairs: &[(String, String)],
        principal: Option<&Principal>,
    ) -> Result<(Arc<Entity>, ReadQuery), CoreError> {
        access::require(principal, Action::Read, alias)?;
        let snapshot = self.snapshot();
        let entity = self.entity(&snapshot, alias)?;
        let resolve = |a: &str| snapshot.catalog.entity(a).cloned();
        let query = dynex_query::parse(&entity, &resolve, pairs, &self.page_limits())?;
        access::require_query(principal, &query)?;
        Ok((entity, query))
    }

    /// Reads one row by identifier (filters and includes apply too); 1303 when it does not exist.
    ///
    /// `principal` needs the same scopes as for [`Dynex::read_collection`].
    pub fn read_one(
        &self,
        alias: &str,
        id: &str,
        pairs: &[(String, String)],
        principal: Option<&Principal>,
    ) -> Result<serde_json::Value, CoreError> {
        let text = self.read_one_text(alias, id, pairs, principal)?;
        serde_json::from_slice(&text).map_err(|e| CoreError::Corrupt(e.to_string()))
    }

    /// [`Dynex::read_one`] written as JSON text, byte for byte what `serde_json` writes of
    /// [`Dynex::read_one`]'s row: what the API answers, and, for a whole row, what its entity
    /// tag hashes ([`row_etag`](crate::row_etag)).
    pub fn read_one_text(
        &self,
        alias: &str,
        id: &str,
        pairs: &[(String, String)],
        principal: Option<&Principal>,
    ) -> Result<Vec<u8>, CoreError> {
        let read = self.one_row(alias, id, pairs, principal)?;
        let mut conn = self.inner.db.conn()?;
        self.fetch_one(&mut conn, alias, read)
    }

    /// [`Dynex::read_one_text`] when a pooled connection is idle and the read is short, `None`
    /// at once otherwise, having read nothing.
    ///
    /// A SQLite read of one row by its identifier takes microseconds in this process: the
    /// server runs it on its async worker rather than paying two thread switches to run it on a
    /// blocking thread, which cost more than the read. Reads that include relations, and reads
    /// on other backends (a network round trip), are not short.
    pub fn read_one_if_idle(
        &self,
        alias: &str,
        id: &str,
        pairs: &[(String, String)],
        principal: Option<&Principal>,
    ) -> Option<Result<Vec<u8>, CoreError>> {
        if self.dialect() != Dialect::Sqlite || pairs.iter().any(|(k, _)| k == "include") {
            return None;
        }
        let read = match self.one_row(alias, id, pairs, principal) {
            Ok(read) => read,
            Err(e) => return Some(Err(e)),
        };
        let mut conn = self.inner.db.try_conn()?;
        Some(self.fetch_one(&mut conn, alias, read))
    }

    /// The entity, query and condition of a read of one row by `id`.
    fn one_row(
        &self,
        alias: &str,
        id: &str,
        pairs: &[(String, String)],
        principal: Option<&Principal>,
    ) -> Result<(Arc<Entity>, ReadQuery, Condition), CoreError> {
        let (entity, mut query) = self.parse_read(alias, pairs, principal)?;
        query.page = dynex_query::Page {
            offset: 0,
            limit: 1,
        };
        let Ok(id) = dynex_validate::parse_text(entity.identifier(), id) else {
            // An id that cannot be of the identifier's type names no row.
            return Err(CoreError::RowNotFound(alias.to_string()));
        };
        let by_id = Condition::Eq(entity.identifier_index(), id);
        Ok((entity, query, by_id))
    }

    /// Runs a read of [`Dynex::one_row`]; 1303 when there is no such row.
    fn fetch_one(
        &self,
        conn: &mut crate::db::Conn,
        alias: &str,
        (entity, query, by_id): (Arc<Entity>, ReadQuery, Condition),
    ) -> Result<Vec<u8>, CoreError> {
        let whole_row = query.conditions.is_empty()
            && query.sort.is_empty()
            && query.after.is_none()
            && query.cursor.is_none()
            && query.fields.is_none()
            && query.include.is_empty();
        let row = match by_id {
            Condition::Eq(_, id) if whole_row && id != dynex_query::Value::Null => {
                let kept = &self.inner.by_id;
                read::read_by_id(conn, self.dialect(), &entity, id, kept)?
            }
            by_id => read::read(conn, self.dialect(), &entity, &query, &[by_id])?
                .pop()
                .map(|row| serde_json::to_vec(&row))
                .transpose()
                .map_err(|e| CoreError::Corrupt(e.to_string()))?,
        };
        row.ok_or_else(|| CoreError::RowNotFound(alias.to_string()))
    }

    /// Creates, updates or upserts rows (POST, PATCH, PUT) with their nested rows.
    ///
    /// Transactional requests that refuse any row fail with [`CoreError::Rows`], listing every
    /// refused row; nothing is written. Non-transactional requests save what they can and list
    /// the refused rows in [`WriteOutcome::errors`].
    pub fn write(&self, request: &WriteRequest<'_>) -> Result<WriteOutcome, CoreError> {
        self.write_if(request, None)
    }

    /// [`Dynex::write`] under a `precondition` (`If-Match`, `If-None-Match`): on a write of one
    /// row, checked against the row's [`row_etag`](crate::row_etag) inside the write's
    /// transaction, on the locked row; when it does not hold, nothing is written
    /// ([`CoreError::PreconditionFailed`]). On a collection only `If-Match: *` holds.
    pub fn write_if(
        &self,
        request: &WriteRequest<'_>,
        precondition: Option<&Precondition>,
    ) -> Result<WriteOutcome, CoreError> {
        let snapshot = self.snapshot();
        let entity = self.entity(&snapshot, request.alias)?;
        access::require(request.principal, Action::Write, request.alias)?;
        let hooks = self.hooks();
        let who = request.principal.map_or("dynex", |p| p.name.as_str());
        // On SQLite the write joins the group transaction (see `writer`), in a savepoint.
        let group = self.writer_lock();
        let ctx = write::Ctx {
            catalog: &snapshot.catalog,
            dialect: self.dialect(),
            method: request.method,
            principal: request.principal,
            hooks: hooks.as_deref(),
            changes: crate::changes::Changes::of(&snapshot.followed, who),
            writer: None,
            nested: group.is_some(),
            respond: true,
            precondition: precondition.filter(|p| !p.is_empty()),
        };
        // Pass one, outside the writer lock; again only if the write is repeated.
        let payload = write::Payload::read(&ctx, &entity, request)?;
        let mut built = Some(payload.build(&ctx, &entity)?);
        let mut write = |conn: &mut crate::db::AnyConnection| {
            let built = match built.take() {
                Some(built) => built,
                None => payload.build(&ctx, &entity)?,
            };
            let outcome = write::finish(conn, &ctx, &entity, request.transactional, built)?;
            self.audit_write(conn, &entity, request, &outcome);
            Ok(outcome)
        };
        match group {
            Some(group) => group.join(&self.inner.db, write),
            None => write(&mut *self.inner.db.conn()?),
        }
    }

    /// Records a write's saved rows in the audit log, when data writes are audited.
    fn audit_write(
        &self,
        conn: &mut crate::db::AnyConnection,
        entity: &Entity,
        request: &WriteRequest<'_>,
        outcome: &WriteOutcome,
    ) {
        if !self.inner.options.audit_data_writes || outcome.data.is_empty() {
            return;
        }
        let key = &entity.identifier().field_visible_name;
        let identifiers: Vec<&serde_json::Value> =
            outcome.data.iter().filter_map(|row| row.get(key)).collect();
        let action = match request.method {
            Method::Create => "data.create",
            Method::Update => "data.update",
            Method::Upsert => "data.upsert",
        };
        let audit = Audit::new(action, request.alias)
            .with(serde_json::json!({ "identifiers": identifiers }));
        self.audit(conn, &audit);
    }

    /// Deletes one row by identifier, or the rows matching the filters of `pairs`; atomic.
    ///
    /// The entity must be deletable (1318); a collection delete needs a filter (1323); nothing
    /// matching is 1303; rows still referenced are refused with 1317 and nothing is deleted.
    /// Returns how many rows were deleted. A `principal` needs the entity's delete scope, and
    /// the read scope of every entity a relation filter looks into.
    pub fn delete(
        &self,
        alias: &str,
        id: Option<&str>,
        pairs: &[(String, String)],
        principal: Option<&Principal>,
    ) -> Result<usize, CoreError> {
        self.delete_if(alias, id, pairs, principal, None)
    }

    /// [`Dynex::delete`] under a `precondition`, checked as [`Dynex::write_if`] checks it: on
    /// the locked row inside the delete's transaction.
    pub fn delete_if(
        &self,
        alias: &str,
        id: Option<&str>,
        pairs: &[(String, String)],
        principal: Option<&Principal>,
        precondition: Option<&Precondition>,
    ) -> Result<usize, CoreError> {
        let precondition = precondition.filter(|p| !p.is_empty());
        access::require(principal, Action::Delete, alias)?;
        let snapshot = self.snapshot();
        let entity = self.entity(&snapshot, alias)?;
        if !entity.config.definition.is_deletable {
            return Err(CoreError::MethodNotAllowed(alias.to_string()));
        }
        let mut condition = None;
        let conditions = match id {
            Some(id) => {
                let Ok(id) = dynex_validate::parse_text(entity.identifier(), id) else {
                    return Err(CoreError::RowNotFound(alias.to_string()));
                };
                condition = precondition.map(|p| (p, id.clone()));
                vec![Condition::Eq(entity.identifier_index(), id)]
            }
            None => {
                if let Some((name, _)) = pairs
                    .iter()
                    .find(|(k, _)| k.starts_with("page[") || k == "include")
                {
                    return Err(CoreError::Query(
                        dynex_query::QueryError::InvalidParameter {
                            name: name.clone(),
                            reason: "not supported on DELETE".into(),
                        },
                    ));
                }
                let resolve = |a: &str| snapshot.catalog.entity(a).cloned();
                let query = dynex_query::parse(&entity, &resolve, pairs, &self.page_limits())?;
                if query.conditions.is_empty() {
                    return Err(CoreError::FilterRequired(alias.to_string()));
                }
                access::require_filtered(principal, &query.conditions)?;
                if let Some(header) = precondition.and_then(Precondition::failing_on_collection) {
                    return Err(CoreError::PreconditionFailed {
                        path: alias.to_string(),
                        header,
                    });
                }
                query.conditions
            }
        };
        let hooks = self.hooks();
        let _writer = self.sqlite_writer();
        let mut conn = self.inner.db.conn()?;
        let deleted = delete::delete(
            &mut conn,
            self.dialect(),
            &snapshot.catalog,
            &entity,
            &conditions,
            delete::Around {
                hooks: hooks.as_deref(),
                changes: crate::changes::Changes::of(
                    &snapshot.followed,
                    principal.map_or("dynex", |p| p.name.as_str()),
                ),
            },
            condition.as_ref().map(|(p, id)| (*p, id)),
        )?;
        if self.inner.options.audit_data_writes {
            let detail = match id {
                Some(id) => serde_json::json!({ "identifiers": [id], "rows": deleted }),
                None => {
                    let filters: serde_json::Map<String, serde_json::Value> = pairs
                        .iter()
                        .filter(|(k, _)| k.starts_with("filter["))
                        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                        .collect();
                    serde_json::json!({ "filters": filters, "rows": deleted })
                }
            };
            self.audit(&mut conn, &Audit::new("data.delete", alias).with(detail));
        }
        Ok(deleted)
    }

    /// Registers the hooks run around every write of this handle (and its clones), replacing
    /// any registered before.
    pub fn set_hooks(&self, hooks: Arc<dyn WriteHooks>) {
        *self
            .inner
            .hooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(hooks);
    }

    /// The in-process writer lock that write transactions hold (SQLite only).
    pub(crate) fn writer_lock(&self) -> Option<&writer::Writer> {
        (self.dialect() == Dialect::Sqlite).then_some(&self.inner.sqlite_writer)
    }

    /// Holds the in-process writer lock on SQLite (nothing on other backends).
    pub(crate) fn sqlite_writer(&self) -> Option<writer::WriterGuard<'_>> {
        self.writer_lock().map(writer::Writer::lock)
    }

    pub(crate) fn hooks(&self) -> Option<Arc<dyn WriteHooks>> {
        self.inner
            .hooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
