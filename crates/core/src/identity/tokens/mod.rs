//! OAuth 2.0 grants, refresh-token rotation, token revocation and login rate limiting.
//!
//! Access tokens are signed JWTs ([`dynex_auth::TokenSigner`]) checked from the in-memory
//! snapshot, so a request with a token costs no database round trip. What can invalidate a token
//! before it expires lives in the database and is loaded into the snapshot ([`TokenState`]): a
//! user or client that is gone, a per-principal "tokens issued before this instant are void"
//! mark, and revoked token families. Every such change bumps the configuration version, so every
//! instance sees it within its watch interval, and the instance that made it at once.
//!
//! Refresh tokens are opaque, stored as SHA-256 hashes, and single-use: each refresh claims the
//! presented token and issues a new one in the same family. Presenting a token that was already
//! used means it was copied; the whole family is revoked, including its access tokens.
//!
//! The grants are in [`grant`], failed-login limits in [`limits`], revocation in [`revocation`].

mod grant;
mod limits;
mod revocation;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use diesel::prelude::*;
use dynex_auth::{Role, generate_secret};
use serde::Serialize;

use crate::clock::now_ms;
use crate::db::AnyConnection;
use crate::error::CoreError;
use crate::schema::{dynex_client, dynex_setting, dynex_token_revocation, dynex_user, lower};

pub(crate) use grant::Issuer;
pub use limits::LoginLimits;
pub(crate) use revocation::{forget_refresh_tokens, refresh_family, revoke_family, revoke_user};

/// Token lifetimes, the signing secret and login limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOptions {
    /// The HS256 signing secret; `None` uses one generated at first start and kept in the
    /// database, so that every instance on that database shares it.
    pub secret: Option<String>,
    /// Access-token lifetime (Spryker: 8 hours).
    pub access_ttl: Duration,
    /// Refresh-token lifetime (Spryker: about a month).
    pub refresh_ttl: Duration,
    /// Failed-login limits.
    pub login_limits: LoginLimits,
}

impl Default for TokenOptions {
    fn default() -> Self {
        TokenOptions {
            secret: None,
            access_ttl: Duration::from_secs(8 * 3600),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            login_limits: LoginLimits::default(),
        }
    }
}

/// A token request (RFC 6749 section 4.3, 4.4 and 6), as parsed by the server.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// `grant_type`.
    pub grant_type: String,
    /// `username` (password grant).
    pub username: Option<String>,
    /// `password` (password grant).
    pub password: Option<String>,
    /// The client id, from the body or HTTP Basic (client credentials grant).
    pub client_id: Option<String>,
    /// The client secret, from the body or HTTP Basic.
    pub client_secret: Option<String>,
    /// `refresh_token` (refresh grant).
    pub refresh_token: Option<String>,
    /// `scope`: narrows what is granted.
    pub scope: Option<String>,
    /// The caller's address, for rate limiting.
    pub address: String,
}

/// A successful token answer (RFC 6749 section 5.1).
#[derive(Debug, Clone, Serialize)]
pub struct TokenGrant {
    /// The signed access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// A single-use refresh token (password and refresh grants only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scopes, space-separated.
    pub scope: String,
}

/// Why a token request was refused, by RFC 6749 section 5.2 error code.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// `invalid_request`: a parameter is missing, repeated or malformed.
    #[error("{0}")]
    InvalidRequest(String),
    /// `invalid_client`: the client id or secret is wrong.
    #[error("Client authentication failed.")]
    InvalidClient,
    /// `invalid_grant`: wrong user name or password, or a bad refresh token.
    #[error("{0}")]
    InvalidGrant(String),
    /// `invalid_scope`: unknown scope, or more than the principal may have.
    #[error("{0}")]
    InvalidScope(String),
    /// `unsupported_grant_type`.
    #[error(
        "The grant type `{0}` is not supported; use password, client_credentials or refresh_token."
    )]
    UnsupportedGrantType(String),
    /// Too many failed logins for this name or address; retry after the given seconds.
    #[error("Too many failed logins; retry in {0} seconds.")]
    TooManyAttempts(u64),
    /// The database failed.
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<diesel::result::Error> for GrantError {
    fn from(e: diesel::result::Error) -> Self {
        GrantError::Core(e.into())
    }
}

/// What a user's tokens are checked against.
#[derive(Debug, Clone)]
pub(crate) struct UserAuth {
    pub role: Role,
    pub valid_after: i64,
}

/// What a client's tokens are checked against.
#[derive(Debug, Clone)]
pub(crate) struct ClientAuth {
    pub valid_after: i64,
}

/// Everything that can void a token before it expires; part of the snapshot.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenState {
    /// Users by lowercase name.
    pub users: HashMap<String, UserAuth>,
    /// Clients by id.
    pub clients: HashMap<String, ClientAuth>,
    /// Revoked token families whose access tokens may not have expired yet.
    pub revoked_families: HashSet<String>,
}

/// A user's name, role and revocation mark, or a client's id, scopes and revocation mark.
#[derive(Queryable)]
struct PrincipalRow {
    name: String,
    extra: String,
    valid_after: i64,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Loads what the snapshot needs to check tokens.
pub(crate) fn load_state(conn: &mut AnyConnection) -> Result<TokenState, CoreError> {
    let users = dynex_user::table
        .select((
            dynex_user::name,
            dynex_user::role,
            dynex_user::tokens_valid_after,
        ))
        .load::<PrincipalRow>(conn)?
        .into_iter()
        .filter_map(|u| {
            let role = u.extra.parse().ok()?;
            Some((
                u.name.to_ascii_lowercase(),
                UserAuth {
                    role,
                    valid_after: u.valid_after,
                },
            ))
        })
        .collect();
    let clients = dynex_client::table
        .select((
            dynex_client::client_id,
            dynex_client::scopes,
            dynex_client::tokens_valid_after,
        ))
        .load::<PrincipalRow>(conn)?
        .into_iter()
        .map(|c| {
            (
                c.name,
                ClientAuth {
                    valid_after: c.valid_after,
                },
            )
        })
        .collect();
    let revoked_families = dynex_token_revocation::table
        .filter(dynex_token_revocation::expires_at.gt(now_ms()))
        .select(dynex_token_revocation::family)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    Ok(TokenState {
        users,
        clients,
        revoked_families,
    })
}

/// The signing secret kept in the database, generated by whichever instance starts first.
pub(crate) fn stored_secret(conn: &mut AnyConnection) -> Result<String, CoreError> {
    let read = |conn: &mut AnyConnection| -> Result<Option<String>, CoreError> {
        Ok(dynex_setting::table
            .filter(dynex_setting::name.eq("token_secret"))
            .select(dynex_setting::value)
            .load::<String>(conn)?
            .into_iter()
            .next())
    };
    if let Some(secret) = read(conn)? {
        return Ok(secret);
    }
    let secret = format!("{}{}", generate_secret(""), generate_secret(""));
    let insert = diesel::insert_into(dynex_setting::table)
        .values((
            dynex_setting::name.eq("token_secret"),
            dynex_setting::value.eq(secret),
        ))
        .execute(conn);
    // Another instance may have won the race; its secret is the one to use.
    if let Err(e) = insert {
        log::debug!("token secret insert lost a race: {e}");
    }
    read(conn)?.ok_or_else(|| CoreError::Corrupt("no token signing secret stored".into()))
}

/// A user's role and revocation mark, read from the database (the snapshot may lag behind a
/// change made by another process).
fn user_auth(conn: &mut AnyConnection, name: &str) -> Result<Option<UserAuth>, CoreError> {
    Ok(dynex_user::table
        .filter(lower(dynex_user::name).eq(name.to_ascii_lowercase()))
        .select((
            dynex_user::name,
            dynex_user::role,
            dynex_user::tokens_valid_after,
        ))
        .load::<PrincipalRow>(conn)?
        .into_iter()
        .find(|u| u.name.eq_ignore_ascii_case(name))
        .and_then(|u| {
            Some(UserAuth {
                role: u.extra.parse().ok()?,
                valid_after: u.valid_after,
            })
        }))
}
