//! Revocation: token families voided until their last access token expires, and every token
//! of a user voided at once.

use diesel::QueryableByName;
use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Nullable};
use dynex_auth::hash_secret;
use dynex_query::Value;

use super::{FamilyRow, sql};
use crate::clock::now_ms;
use crate::config::store::bump_version;
use crate::db::{AnyConnection, DynQuery, execute};
use crate::error::CoreError;

#[derive(QueryableByName)]
struct ExpiryRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    latest: Option<i64>,
}

/// Revokes a token family: its refresh tokens go, and its access tokens are refused until the
/// last of them would have expired anyway. `access_expires_ms` covers a token whose family has
/// no refresh token (client credentials).
pub(crate) fn revoke_family(
    conn: &mut AnyConnection,
    family: &str,
    access_expires_ms: i64,
) -> Result<(), CoreError> {
    let mut q =
        sql("SELECT MAX(access_expires_at) AS latest FROM dynex_refresh_token WHERE family = ");
    q.bind(Value::Text(family.to_string()));
    let latest = DynQuery(&q)
        .load::<ExpiryRow>(conn)?
        .into_iter()
        .next()
        .and_then(|r| r.latest)
        .unwrap_or(0)
        .max(access_expires_ms);
    let mut delete = sql("DELETE FROM dynex_refresh_token WHERE family = ");
    delete.bind(Value::Text(family.to_string()));
    execute(conn, &delete)?;
    let mut forget = sql("DELETE FROM dynex_token_revocation WHERE family = ");
    forget.bind(Value::Text(family.to_string()));
    execute(conn, &forget)?;
    let mut insert = sql("INSERT INTO dynex_token_revocation (family, expires_at) VALUES (");
    insert
        .bind(Value::Text(family.to_string()))
        .push(", ")
        .bind(Value::Int(latest))
        .push(")");
    execute(conn, &insert)?;
    let mut prune = sql("DELETE FROM dynex_token_revocation WHERE expires_at <= ");
    prune.bind(Value::Int(now_ms()));
    execute(conn, &prune)?;
    bump_version(conn)?;
    Ok(())
}

/// The family a refresh token belongs to, if it is stored.
pub(crate) fn refresh_family(
    conn: &mut AnyConnection,
    token: &str,
) -> Result<Option<String>, CoreError> {
    let mut q = sql("SELECT family FROM dynex_refresh_token WHERE token_hash = ");
    q.bind(Value::Text(hash_secret(token)));
    Ok(DynQuery(&q)
        .load::<FamilyRow>(conn)?
        .into_iter()
        .next()
        .map(|r| r.family))
}

/// Voids every token of a user issued until now, and its refresh tokens; returns whether the
/// user exists.
pub(crate) fn revoke_user(conn: &mut AnyConnection, name: &str) -> Result<bool, CoreError> {
    let mut q = sql("UPDATE dynex_user SET tokens_valid_after = ");
    q.bind(Value::Int(now_ms()))
        .push(" WHERE LOWER(name) = ")
        .bind(Value::Text(name.to_ascii_lowercase()));
    let found = execute(conn, &q)? > 0;
    forget_refresh_tokens(conn, name)?;
    bump_version(conn)?;
    Ok(found)
}

/// Deletes a user's refresh tokens.
pub(crate) fn forget_refresh_tokens(conn: &mut AnyConnection, name: &str) -> Result<(), CoreError> {
    let mut q = sql("DELETE FROM dynex_refresh_token WHERE LOWER(subject) = ");
    q.bind(Value::Text(name.to_ascii_lowercase()));
    execute(conn, &q)?;
    Ok(())
}
