//! Integration clients: machine principals that get tokens with the client credentials grant.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use dynex_auth::{CLIENT_SECRET_PREFIX, Scope, generate_secret, hash_secret, scopes_text};
use serde::Serialize;

use crate::config::store::bump_version;
use crate::db::AnyConnection;
use crate::error::CoreError;
use crate::schema::dynex_client;

/// A client just created; the only time its secret is available.
#[derive(Debug, Clone, Serialize)]
pub struct NewClient {
    /// The client id.
    pub client_id: String,
    /// The client secret; store it now, it is never shown again.
    pub client_secret: String,
    /// The scopes the client may be granted.
    pub scopes: Vec<String>,
}

/// What `dynex client list` shows about a client (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientInfo {
    /// The client id.
    pub client_id: String,
    /// The scopes the client may be granted.
    pub scopes: Vec<String>,
    /// Creation time (UTC).
    pub created_at: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = dynex_client, check_for_backend(crate::db::MultiBackend))]
struct ClientRow {
    client_id: String,
    scopes: String,
    created_at: NaiveDateTime,
}

/// Adds a client with a new random secret; fails when the id is invalid or taken, or no scope
/// is given.
pub(crate) fn add(
    conn: &mut AnyConnection,
    id: &str,
    scopes: &[Scope],
) -> Result<NewClient, CoreError> {
    crate::identity::users::check_name("client id", id)?;
    if scopes.is_empty() {
        return Err(CoreError::Invalid(
            "a client needs at least one scope (--scope)".into(),
        ));
    }
    let secret = generate_secret(CLIENT_SECRET_PREFIX);
    let exists = dynex_client::table
        .filter(dynex_client::client_id.eq(id))
        .select(dynex_client::id)
        .load::<i32>(conn)?;
    if !exists.is_empty() {
        return Err(CoreError::AlreadyExists {
            kind: "client",
            name: id.to_string(),
        });
    }
    diesel::insert_into(dynex_client::table)
        .values((
            dynex_client::client_id.eq(id),
            dynex_client::secret_hash.eq(hash_secret(&secret)),
            dynex_client::scopes.eq(scopes_text(scopes)),
            // Tokens of an earlier client of the same id must not come back to life.
            dynex_client::tokens_valid_after.eq(crate::clock::now_ms()),
        ))
        .execute(conn)
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => CoreError::AlreadyExists {
                kind: "client",
                name: id.to_string(),
            },
            e => e.into(),
        })?;
    bump_version(conn)?;
    Ok(NewClient {
        client_id: id.to_string(),
        client_secret: secret,
        scopes: scopes.iter().map(ToString::to_string).collect(),
    })
}

/// Lists every client by id.
pub(crate) fn list(conn: &mut AnyConnection) -> Result<Vec<ClientInfo>, CoreError> {
    Ok(dynex_client::table
        .select(ClientRow::as_select())
        .order(dynex_client::client_id)
        .load(conn)?
        .into_iter()
        .map(|c| ClientInfo {
            client_id: c.client_id,
            scopes: c.scopes.split_whitespace().map(str::to_string).collect(),
            // Whole seconds: PostgreSQL keeps microseconds.
            created_at: c.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        })
        .collect())
}

/// Removes a client, which voids its tokens at once; returns whether it existed.
pub(crate) fn remove(conn: &mut AnyConnection, id: &str) -> Result<bool, CoreError> {
    let found = diesel::delete(dynex_client::table.filter(dynex_client::client_id.eq(id)))
        .execute(conn)?
        > 0;
    bump_version(conn)?;
    Ok(found)
}

/// Voids every token the client holds now (it may ask for new ones); returns whether it exists.
pub(crate) fn revoke_tokens(conn: &mut AnyConnection, id: &str) -> Result<bool, CoreError> {
    let found = diesel::update(dynex_client::table.filter(dynex_client::client_id.eq(id)))
        .set(dynex_client::tokens_valid_after.eq(crate::clock::now_ms()))
        .execute(conn)?
        > 0;
    bump_version(conn)?;
    Ok(found)
}
