//! The grant state machine (RFC 6749): the password, client credentials and refresh token
//! grants, issuing access tokens and rotating single-use refresh tokens.

use std::time::Duration;

use diesel::prelude::*;
use dynex_auth::{
    AccessClaims, PrincipalKind, REFRESH_TOKEN_PREFIX, Scope, constant_time_eq, generate_secret,
    hash_secret, parse_scopes, scopes_text,
};

use super::limits::Subjects;
use super::{GrantError, TokenGrant, TokenOptions, TokenRequest, TokenState, millis, user_auth};
use crate::clock::now_ms;
use crate::db::AnyConnection;
use crate::error::CoreError;
use crate::schema::{dynex_client, dynex_refresh_token};

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

#[derive(Queryable, Selectable)]
#[diesel(table_name = dynex_client, check_for_backend(crate::db::MultiBackend))]
struct ClientRow {
    secret_hash: String,
    scopes: String,
    tokens_valid_after: i64,
}

/// What issuing tokens needs besides the connection.
pub(crate) struct Issuer<'a> {
    pub signer: &'a dynex_auth::TokenSigner,
    pub options: &'a TokenOptions,
    pub state: &'a TokenState,
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
        diesel::insert_into(dynex_refresh_token::table)
            .values((
                dynex_refresh_token::token_hash.eq(hash_secret(&token)),
                dynex_refresh_token::family.eq(&claims.fam),
                dynex_refresh_token::subject.eq(subject),
                dynex_refresh_token::scopes.eq(scopes),
                dynex_refresh_token::issued_at.eq(now),
                dynex_refresh_token::expires_at.eq(now + millis(self.options.refresh_ttl)),
                dynex_refresh_token::access_expires_at.eq(access_expires),
            ))
            .execute(conn)?;
        diesel::delete(dynex_refresh_token::table.filter(dynex_refresh_token::expires_at.le(now)))
            .execute(conn)?;
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
        let claim = subjects.claim(conn, limits)?;
        let user = match crate::identity::users::authenticate(conn, username, password) {
            Ok(user) => user,
            Err(CoreError::BadCredentials) => {
                claim.fail(conn, limits)?;
                return Err(GrantError::InvalidGrant(
                    "The user name or password is incorrect.".into(),
                ));
            }
            Err(e) => {
                if let Err(r) = claim.release(conn) {
                    log::warn!("cannot take back a login attempt: {r}");
                }
                return Err(e.into());
            }
        };
        claim.succeed(conn)?;
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
        let claim = subjects.claim(conn, limits)?;
        let client = dynex_client::table
            .filter(dynex_client::client_id.eq(id))
            .select(ClientRow::as_select())
            .load(conn)?
            .into_iter()
            .next();
        let presented = hash_secret(secret);
        // An unknown id costs the same comparison as a wrong secret.
        let stored = client
            .as_ref()
            .map_or_else(|| hash_secret(""), |c| c.secret_hash.clone());
        let matches = constant_time_eq(&presented, &stored);
        let Some(client) = client.filter(|_| matches) else {
            claim.fail(conn, limits)?;
            return Err(GrantError::InvalidClient);
        };
        claim.succeed(conn)?;
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
        let Some(row) = dynex_refresh_token::table
            .filter(dynex_refresh_token::token_hash.eq(hash_secret(presented)))
            .select(RefreshRow::as_select())
            .load(conn)?
            .into_iter()
            .next()
        else {
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
        let claimed = diesel::update(
            dynex_refresh_token::table
                .filter(dynex_refresh_token::used_at.is_null())
                .filter(dynex_refresh_token::id.eq(row.id)),
        )
        .set(dynex_refresh_token::used_at.eq(now))
        .execute(conn)?;
        if claimed == 0 {
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

#[derive(Queryable, Selectable)]
#[diesel(table_name = dynex_refresh_token, check_for_backend(crate::db::MultiBackend))]
struct RefreshRow {
    id: i32,
    family: String,
    subject: String,
    scopes: String,
    issued_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use dynex_auth::Role;

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
