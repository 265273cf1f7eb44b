//! Revocation: token families voided until their last access token expires, and every token
//! of a user voided at once.

use diesel::prelude::*;
use dynex_auth::hash_secret;

use crate::clock::now_ms;
use crate::config::store::bump_version;
use crate::db::AnyConnection;
use crate::error::CoreError;
use crate::schema::{dynex_refresh_token, dynex_token_revocation, dynex_user, lower};

/// Revokes a token family: its refresh tokens go, and its access tokens are refused until the
/// last of them would have expired anyway. `access_expires_ms` covers a token whose family has
/// no refresh token (client credentials).
pub(crate) fn revoke_family(
    conn: &mut AnyConnection,
    family: &str,
    access_expires_ms: i64,
) -> Result<(), CoreError> {
    let latest = dynex_refresh_token::table
        .filter(dynex_refresh_token::family.eq(family))
        .select(diesel::dsl::max(dynex_refresh_token::access_expires_at))
        .load::<Option<i64>>(conn)?
        .into_iter()
        .next()
        .flatten()
        .unwrap_or(0)
        .max(access_expires_ms);
    diesel::delete(dynex_refresh_token::table.filter(dynex_refresh_token::family.eq(family)))
        .execute(conn)?;
    // Delete, then insert: an upsert is spelled differently by each backend.
    diesel::delete(dynex_token_revocation::table.filter(dynex_token_revocation::family.eq(family)))
        .execute(conn)?;
    diesel::insert_into(dynex_token_revocation::table)
        .values((
            dynex_token_revocation::family.eq(family),
            dynex_token_revocation::expires_at.eq(latest),
        ))
        .execute(conn)?;
    diesel::delete(
        dynex_token_revocation::table.filter(dynex_token_revocation::expires_at.le(now_ms())),
    )
    .execute(conn)?;
    bump_version(conn)?;
    Ok(())
}

/// The family a refresh token belongs to, if it is stored.
pub(crate) fn refresh_family(
    conn: &mut AnyConnection,
    token: &str,
) -> Result<Option<String>, CoreError> {
    Ok(dynex_refresh_token::table
        .filter(dynex_refresh_token::token_hash.eq(hash_secret(token)))
        .select(dynex_refresh_token::family)
        .load::<String>(conn)?
        .into_iter()
        .next())
}

/// Voids every token of a user issued until now, and its refresh tokens; returns whether the
/// user exists.
pub(crate) fn revoke_user(conn: &mut AnyConnection, name: &str) -> Result<bool, CoreError> {
    let found = diesel::update(
        dynex_user::table.filter(lower(dynex_user::name).eq(name.to_ascii_lowercase())),
    )
    .set(dynex_user::tokens_valid_after.eq(now_ms()))
    .execute(conn)?
        > 0;
    forget_refresh_tokens(conn, name)?;
    bump_version(conn)?;
    Ok(found)
}

/// Deletes a user's refresh tokens.
pub(crate) fn forget_refresh_tokens(conn: &mut AnyConnection, name: &str) -> Result<(), CoreError> {
    diesel::delete(
        dynex_refresh_token::table
            .filter(lower(dynex_refresh_token::subject).eq(name.to_ascii_lowercase())),
    )
    .execute(conn)?;
    Ok(())
}
