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

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use diesel::QueryableByName;
use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Nullable, Text};
use dynex_auth::{
    AccessClaims, PrincipalKind, REFRESH_TOKEN_PREFIX, Role, Scope, constant_time_eq,
    generate_secret, hash_secret, parse_scopes, scopes_text,
};
use dynex_query::{Dialect, Sql, Value};
use serde::Serialize;

use crate::clock::now_ms;
use crate::config::store::bump_version;
use crate::db::{AnyConnection, DynQuery, execute};
use crate::error::CoreError;

/// How many failed logins are tolerated before further attempts are refused for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures per user name or client id within [`LoginLimits::window`].
    pub per_principal: usize,
    /// Failures per client address within [`LoginLimits::window`], whatever names it tried.
    pub per_address: usize,
    /// The sliding window failures are counted in.
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_principal: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

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

#[derive(QueryableByName)]
struct PrincipalRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    extra: String,
    #[diesel(sql_type = BigInt)]
    valid_after: i64,
}

#[derive(QueryableByName)]
struct FamilyRow {
    #[diesel(sql_type = Text)]
    family: String,
}

/// The issue time of a token for a principal revoked at `valid_after`: now, once now is past it
/// (waiting at most 50 ms, for clocks of other instances that run ahead).
fn issue_time(valid_after: i64) -> i64 {
    let now = now_ms();
    if now > valid_after {
        return now;
    }
    let wait = u64::try_from((valid_after - now + 1).min(50)).unwrap_or(1);
    std::thread::sleep(Duration::from_millis(wait));
    now_ms().max(valid_after.saturating_add(1))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn sql(text: &str) -> Sql {
    let mut q = Sql::default();
    q.push(text);
    q
}

/// Loads what the snapshot needs to check tokens.
pub(crate) fn load_state(conn: &mut AnyConnection) -> Result<TokenState, CoreError> {
    let users = DynQuery(&sql(
        "SELECT name, role AS extra, tokens_valid_after AS valid_after FROM dynex_user",
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
    let clients = DynQuery(&sql(
        "SELECT client_id AS name, scopes AS extra, tokens_valid_after AS valid_after \
         FROM dynex_client",
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
    let mut q = sql("SELECT family FROM dynex_token_revocation WHERE expires_at > ");
    q.bind(Value::Int(now_ms()));
    let revoked_families = DynQuery(&q)
        .load::<FamilyRow>(conn)?
        .into_iter()
        .map(|r| r.family)
        .collect();
    Ok(TokenState {
        users,
        clients,
        revoked_families,
    })
}

#[derive(QueryableByName)]
struct SettingRow {
    #[diesel(sql_type = Text)]
    value: String,
}

/// The signing secret kept in the database, generated by whichever instance starts first.
pub(crate) fn stored_secret(conn: &mut AnyConnection) -> Result<String, CoreError> {
    let read = |conn: &mut AnyConnection| -> Result<Option<String>, CoreError> {
        Ok(DynQuery(&sql(
            "SELECT value FROM dynex_setting WHERE name = 'token_secret'",
        ))
        .load::<SettingRow>(conn)?
        .into_iter()
        .next()
        .map(|r| r.value))
    };
    if let Some(secret) = read(conn)? {
        return Ok(secret);
    }
    let secret = format!("{}{}", generate_secret(""), generate_secret(""));
    let mut q = sql("INSERT INTO dynex_setting (name, value) VALUES ('token_secret', ");
    q.bind(Value::Text(secret)).push(")");
    // Another instance may have won the race; its secret is the one to use.
    if let Err(e) = execute(conn, &q) {
        log::debug!("token secret insert lost a race: {e}");
    }
    read(conn)?.ok_or_else(|| CoreError::Corrupt("no token signing secret stored".into()))
}

/// The scopes to grant: `requested` when each is covered by `allowed`, else all of `allowed`.
fn narrow(requested: Option<&str>, allowed: &[Scope]) -> Result<Vec<Scope>, GrantError> {
    let Some(requested) = requested.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(allowed.to_vec());
    };
    let mut granted: Vec<Scope> = Vec::new();
    for scope in parse_scopes(requested).map_err(GrantError::InvalidScope)? {
        if !allowed.iter().any(|a| a.covers(&scope)) {
            return Err(GrantError::InvalidScope(format!(
                "The scope `{scope}` is not granted to these credentials."
            )));
        }
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    Ok(granted)
}

#[derive(QueryableByName)]
struct FailureRow {
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = BigInt)]
    failed_at: i64,
}

/// Rate-limit subjects of one login attempt: the principal and the address.
struct Subjects {
    principal: String,
    address: String,
}

impl Subjects {
    fn new(kind: &str, name: &str, address: &str) -> Subjects {
        Subjects {
            principal: format!("{kind}:{}", name.to_ascii_lowercase()),
            address: format!("addr:{address}"),
        }
    }

    /// Refuses the attempt when either subject used up its failures within the window.
    fn check(&self, conn: &mut AnyConnection, limits: &LoginLimits) -> Result<(), GrantError> {
        let now = now_ms();
        let window = millis(limits.window);
        let mut q = sql("SELECT subject, failed_at FROM dynex_login_failure WHERE subject IN (");
        q.bind(Value::Text(self.principal.clone()))
            .push(", ")
            .bind(Value::Text(self.address.clone()))
            .push(") AND failed_at > ")
            .bind(Value::Int(now - window))
            .push(" ORDER BY failed_at");
        let rows = DynQuery(&q).load::<FailureRow>(conn)?;
        let mut wait = 0i64;
        for (subject, max) in [
            (&self.principal, limits.per_principal),
            (&self.address, limits.per_address),
        ] {
            let times: Vec<i64> = rows
                .iter()
                .filter(|r| &r.subject == subject)
                .map(|r| r.failed_at)
                .collect();
            if max > 0 && times.len() >= max {
                // Allowed again once enough of the oldest failures leave the window.
                let oldest_that_counts = times[times.len() - max];
                wait = wait.max(oldest_that_counts + window - now);
            }
        }
        if wait > 0 {
            let secs = u64::try_from((wait + 999) / 1000).unwrap_or(1).max(1);
            return Err(GrantError::TooManyAttempts(secs));
        }
        Ok(())
    }

    /// Records a failure for both subjects and forgets failures older than the window.
    fn fail(&self, conn: &mut AnyConnection, limits: &LoginLimits) -> Result<(), CoreError> {
        let now = now_ms();
        let mut q = sql("INSERT INTO dynex_login_failure (subject, failed_at) VALUES (");
        q.bind(Value::Text(self.principal.clone()))
            .push(", ")
            .bind(Value::Int(now))
            .push("), (")
            .bind(Value::Text(self.address.clone()))
            .push(", ")
            .bind(Value::Int(now))
            .push(")");
        execute(conn, &q)?;
        let mut prune = sql("DELETE FROM dynex_login_failure WHERE failed_at <= ");
        prune.bind(Value::Int(now - millis(limits.window)));
        execute(conn, &prune)?;
        Ok(())
    }

    /// Forgets the principal's failures after a successful login (the address keeps its own).
    fn succeed(&self, conn: &mut AnyConnection) -> Result<(), CoreError> {
        let mut q = sql("DELETE FROM dynex_login_failure WHERE subject = ");
        q.bind(Value::Text(self.principal.clone()));
        execute(conn, &q)?;
        Ok(())
    }
}

#[derive(QueryableByName)]
struct ClientRow {
    #[diesel(sql_type = Text)]
    secret_hash: String,
    #[diesel(sql_type = Text)]
    scopes: String,
    #[diesel(sql_type = BigInt)]
    tokens_valid_after: i64,
}

/// A user's role and revocation mark, read from the database (the snapshot may lag behind a
/// change made by another process).
fn user_auth(conn: &mut AnyConnection, name: &str) -> Result<Option<UserAuth>, CoreError> {
    let mut q = sql(
        "SELECT name, role AS extra, tokens_valid_after AS valid_after FROM dynex_user \
         WHERE LOWER(name) = ",
    );
    q.bind(Value::Text(name.to_ascii_lowercase()));
    Ok(DynQuery(&q)
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

/// What issuing tokens needs besides the connection.
pub(crate) struct Issuer<'a> {
    pub signer: &'a dynex_auth::TokenSigner,
    pub options: &'a TokenOptions,
    pub state: &'a TokenState,
    pub dialect: Dialect,
}

fn required<'r>(value: &'r Option<String>, name: &str) -> Result<&'r str, GrantError> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| GrantError::InvalidRequest(format!("The parameter `{name}` is missing.")))
}

impl Issuer<'_> {
    /// Signs an access token. `valid_after` is the principal's revocation mark; a token must be
    /// issued in a later millisecond to be valid. In the millisecond of a revocation this waits
    /// for the clock to pass it rather than stamping a time from the future, which a revocation
    /// in that same future millisecond would then fail to void.
    fn access(
        &self,
        sub: &str,
        kind: PrincipalKind,
        scopes: &[Scope],
        family: Option<String>,
        valid_after: i64,
    ) -> (String, AccessClaims) {
        let claims = AccessClaims::new(
            sub,
            kind,
            scopes_text(scopes),
            issue_time(valid_after),
            self.options.access_ttl.as_secs(),
            family,
        );
        (self.signer.sign(&claims), claims)
    }

    /// Stores a new refresh token of `family` for the user `subject`; returns the token.
    fn refresh_token(
        &self,
        conn: &mut AnyConnection,
        subject: &str,
        scopes: &str,
        claims: &AccessClaims,
    ) -> Result<String, CoreError> {
        let token = generate_secret(REFRESH_TOKEN_PREFIX);
        let now = claims.iat_ms;
        let access_expires = i64::try_from(claims.exp).unwrap_or(i64::MAX / 2) * 1000;
        let mut q = sql(
            "INSERT INTO dynex_refresh_token (token_hash, family, subject, scopes, issued_at, \
             expires_at, access_expires_at) VALUES (",
        );
        q.bind(Value::Text(hash_secret(&token)))
            .push(", ")
            .bind(Value::Text(claims.fam.clone()))
            .push(", ")
            .bind(Value::Text(subject.to_string()))
            .push(", ")
            .bind(Value::Text(scopes.to_string()))
            .push(", ")
            .bind(Value::Int(now))
            .push(", ")
            .bind(Value::Int(now + millis(self.options.refresh_ttl)))
            .push(", ")
            .bind(Value::Int(access_expires))
            .push(")");
        execute(conn, &q)?;
        let mut prune = sql("DELETE FROM dynex_refresh_token WHERE expires_at <= ");
        prune.bind(Value::Int(now));
        execute(conn, &prune)?;
        Ok(token)
    }

    fn grant(&self, token: String, claims: &AccessClaims, refresh: Option<String>) -> TokenGrant {
        TokenGrant {
            access_token: token,
            token_type: "Bearer",
            expires_in: self.options.access_ttl.as_secs(),
            refresh_token: refresh,
            scope: claims.scope.clone(),
        }
    }

    /// The password grant: a dynex user's name and password.
    pub(crate) fn password(
        &self,
        conn: &mut AnyConnection,
        request: &TokenRequest,
    ) -> Result<TokenGrant, GrantError> {
        let username = required(&request.username, "username")?;
        let password = required(&request.password, "password")?;
        let limits = &self.options.login_limits;
        let subjects = Subjects::new("user", username, &request.address);
        subjects.check(conn, limits)?;
        let user =
            match crate::identity::users::authenticate(conn, self.dialect, username, password) {
                Ok(user) => user,
                Err(CoreError::BadCredentials) => {
                    subjects.fail(conn, limits)?;
                    return Err(GrantError::InvalidGrant(
                        "The user name or password is incorrect.".into(),
                    ));
                }
                Err(e) => return Err(e.into()),
            };
        subjects.succeed(conn)?;
        let scopes = narrow(request.scope.as_deref(), &user.role.default_scopes())?;
        let valid_after = user_auth(conn, &user.name)?.map_or(0, |u| u.valid_after);
        let (token, claims) =
            self.access(&user.name, PrincipalKind::User, &scopes, None, valid_after);
        let refresh = self.refresh_token(conn, &user.name, &claims.scope, &claims)?;
        Ok(self.grant(token, &claims, Some(refresh)))
    }

    /// The client credentials grant: an integration client's id and secret. No refresh token
    /// (RFC 6749 section 4.4.3): the client can always ask again.
    pub(crate) fn client_credentials(
        &self,
        conn: &mut AnyConnection,
        request: &TokenRequest,
    ) -> Result<TokenGrant, GrantError> {
        let (Some(id), Some(secret)) = (
            request.client_id.as_deref().filter(|s| !s.is_empty()),
            request.client_secret.as_deref().filter(|s| !s.is_empty()),
        ) else {
            return Err(GrantError::InvalidClient);
        };
        let limits = &self.options.login_limits;
        let subjects = Subjects::new("client", id, &request.address);
        subjects.check(conn, limits)?;
        let mut q = sql(
            "SELECT secret_hash, scopes, tokens_valid_after FROM dynex_client WHERE client_id = ",
        );
        q.bind(Value::Text(id.to_string()));
        let client = DynQuery(&q).load::<ClientRow>(conn)?.into_iter().next();
        let presented = hash_secret(secret);
        // An unknown id costs the same comparison as a wrong secret.
        let stored = client
            .as_ref()
            .map_or_else(|| hash_secret(""), |c| c.secret_hash.clone());
        let matches = constant_time_eq(&presented, &stored);
        let Some(client) = client.filter(|_| matches) else {
            subjects.fail(conn, limits)?;
            return Err(GrantError::InvalidClient);
        };
        subjects.succeed(conn)?;
        let allowed = parse_scopes(&client.scopes)
            .map_err(|e| CoreError::Corrupt(format!("scopes of client `{id}`: {e}")))?;
        let scopes = narrow(request.scope.as_deref(), &allowed)?;
        let (token, claims) = self.access(
            id,
            PrincipalKind::Client,
            &scopes,
            None,
            client.tokens_valid_after,
        );
        Ok(self.grant(token, &claims, None))
    }

    /// The refresh grant: claims the presented refresh token and issues a new pair in its
    /// family. Returns `Ok(Err(family))` when the token was already used, so the caller revokes
    /// the family outside the failed attempt.
    pub(crate) fn refresh(
        &self,
        conn: &mut AnyConnection,
        request: &TokenRequest,
    ) -> Result<Result<TokenGrant, String>, GrantError> {
        let presented = required(&request.refresh_token, "refresh_token")?;
        let invalid =
            || GrantError::InvalidGrant("The refresh token is invalid, expired or revoked.".into());
        let mut q = sql(
            "SELECT id, family, subject, scopes, issued_at, expires_at, used_at \
             FROM dynex_refresh_token WHERE token_hash = ",
        );
        q.bind(Value::Text(hash_secret(presented)));
        let Some(row) = DynQuery(&q).load::<RefreshRow>(conn)?.into_iter().next() else {
            return Err(invalid());
        };
        if row.used_at.is_some() {
            return Ok(Err(row.family));
        }
        let now = now_ms();
        if row.expires_at <= now || self.state.revoked_families.contains(&row.family) {
            return Err(invalid());
        }
        let Some(user) = user_auth(conn, &row.subject)? else {
            return Err(invalid());
        };
        if row.issued_at <= user.valid_after {
            return Err(invalid());
        }
        let original = parse_scopes(&row.scopes)
            .map_err(|e| CoreError::Corrupt(format!("scopes of a refresh token: {e}")))?;
        // The user's role bounds the scopes too, should it ever shrink.
        let original: Vec<Scope> = original
            .into_iter()
            .filter(|s| user.role.default_scopes().iter().any(|a| a.covers(s)))
            .collect();
        let scopes = narrow(request.scope.as_deref(), &original)?;
        let mut claim = sql("UPDATE dynex_refresh_token SET used_at = ");
        claim
            .bind(Value::Int(now))
            .push(" WHERE used_at IS NULL AND id = ")
            .bind(Value::Int(i64::from(row.id)));
        if execute(conn, &claim)? == 0 {
            // Used concurrently by someone else: the same as a reuse.
            return Ok(Err(row.family));
        }
        let (token, claims) = self.access(
            &row.subject,
            PrincipalKind::User,
            &scopes,
            Some(row.family.clone()),
            user.valid_after,
        );
        // The new refresh token keeps the original scopes (RFC 6749 section 6).
        let refresh = self.refresh_token(conn, &row.subject, &scopes_text(&original), &claims)?;
        Ok(Ok(self.grant(token, &claims, Some(refresh))))
    }
}

#[derive(QueryableByName)]
struct RefreshRow {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    id: i32,
    #[diesel(sql_type = Text)]
    family: String,
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = Text)]
    scopes: String,
    #[diesel(sql_type = BigInt)]
    issued_at: i64,
    #[diesel(sql_type = BigInt)]
    expires_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    used_at: Option<i64>,
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_narrow_within_what_is_allowed() {
        let allowed = Role::Integrator.default_scopes();
        assert_eq!(narrow(None, &allowed).unwrap(), allowed);
        assert_eq!(narrow(Some("  "), &allowed).unwrap(), allowed);
        let one = narrow(
            Some("dynamic-entity:countries:read dynamic-entity:countries:read"),
            &allowed,
        )
        .unwrap();
        assert_eq!(scopes_text(&one), "dynamic-entity:countries:read");
        assert!(matches!(
            narrow(Some("admin"), &allowed),
            Err(GrantError::InvalidScope(m)) if m.contains("`admin`")
        ));
        assert!(matches!(
            narrow(Some("dynamic-entity:drop"), &allowed),
            Err(GrantError::InvalidScope(_))
        ));
    }
}
