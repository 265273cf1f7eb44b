//! Integration clients: machine principals that get tokens with the client credentials grant.

use diesel::QueryableByName;
use diesel::RunQueryDsl;
use diesel::sql_types::Text;
use dynex_auth::{CLIENT_SECRET_PREFIX, Scope, generate_secret, hash_secret, scopes_text};
use dynex_query::{Dialect, Sql, Value};
use serde::Serialize;

use crate::config::store::{as_text, bump_version};
use crate::db::{AnyConnection, DynQuery, execute};
use crate::error::CoreError;

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

#[derive(QueryableByName)]
struct ClientRow {
    #[diesel(sql_type = Text)]
    client_id: String,
    #[diesel(sql_type = Text)]
    scopes: String,
    #[diesel(sql_type = Text)]
    created: String,
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
    let mut exists = Sql::default();
    exists
        .push("SELECT client_id, scopes, client_id AS created FROM dynex_client WHERE client_id = ")
        .bind(Value::Text(id.to_string()));
    if !DynQuery(&exists).load::<ClientRow>(conn)?.is_empty() {
        return Err(CoreError::AlreadyExists {
            kind: "client",
            name: id.to_string(),
        });
    }
    let mut q = Sql::default();
    // Tokens of an earlier client of the same id must not come back to life.
    q.push(
        "INSERT INTO dynex_client (client_id, secret_hash, scopes, tokens_valid_after) VALUES (",
    )
    .bind(Value::Text(id.to_string()))
    .push(", ")
    .bind(Value::Text(hash_secret(&secret)))
    .push(", ")
    .bind(Value::Text(scopes_text(scopes)))
    .push(", ")
    .bind(Value::Int(crate::clock::now_ms()))
    .push(")");
    execute(conn, &q).map_err(|e| match e {
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
pub(crate) fn list(
    conn: &mut AnyConnection,
    dialect: Dialect,
) -> Result<Vec<ClientInfo>, CoreError> {
    let mut q = Sql::default();
    q.push(&format!(
        "SELECT client_id, scopes, {} AS created FROM dynex_client ORDER BY client_id",
        as_text(dialect, "created_at")
    ));
    Ok(DynQuery(&q)
        .load::<ClientRow>(conn)?
        .into_iter()
        .map(|c| ClientInfo {
            client_id: c.client_id,
            scopes: c.scopes.split_whitespace().map(str::to_string).collect(),
            created_at: dynex_schema::normalize_datetime(&c.created)
                .and_then(|t| t.split('.').next().map(str::to_string))
                .unwrap_or(c.created),
        })
        .collect())
}

/// Removes a client, which voids its tokens at once; returns whether it existed.
pub(crate) fn remove(conn: &mut AnyConnection, id: &str) -> Result<bool, CoreError> {
    let mut q = Sql::default();
    q.push("DELETE FROM dynex_client WHERE client_id = ")
        .bind(Value::Text(id.to_string()));
    let found = execute(conn, &q)? > 0;
    bump_version(conn)?;
    Ok(found)
}

/// Voids every token the client holds now (it may ask for new ones); returns whether it exists.
pub(crate) fn revoke_tokens(conn: &mut AnyConnection, id: &str) -> Result<bool, CoreError> {
    let mut q = Sql::default();
    q.push("UPDATE dynex_client SET tokens_valid_after = ")
        .bind(Value::Int(crate::clock::now_ms()))
        .push(" WHERE client_id = ")
        .bind(Value::Text(id.to_string()));
    let found = execute(conn, &q)? > 0;
    bump_version(conn)?;
    Ok(found)
}
