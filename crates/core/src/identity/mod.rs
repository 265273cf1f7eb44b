//! Who may call: API keys, users, integration clients and the OAuth tokens issued to them.

pub(crate) mod clients;
pub(crate) mod keys;
pub(crate) mod tokens;
pub(crate) mod users;

use chrono::NaiveDateTime;
use dynex_auth::{Principal, PrincipalKind, Role, Scope, TokenError};

use serde_json::json;

use crate::audit::Audit;
use crate::clock;
use crate::config::store;
use crate::error::CoreError;
use crate::{ApiKeyInfo, ClientInfo, Dynex, GrantError, KeyRefusal, NewApiKey, NewClient};
use crate::{TokenGrant, TokenRequest, UserInfo};

/// API keys.
impl Dynex {
    /// Creates an API key; its value is returned once and only its hash is stored.
    pub fn create_api_key(
        &self,
        name: &str,
        scopes: &[Scope],
        valid_to: Option<NaiveDateTime>,
    ) -> Result<NewApiKey, CoreError> {
        let scopes = if scopes.is_empty() {
            dynex_auth::default_key_scopes()
        } else {
            scopes.to_vec()
        };
        let dialect = self.dialect();
        let audit = Audit::new("key.create", name).with(json!({
            "scopes": scopes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "validTo": valid_to.map(|t| t.to_string()),
        }));
        self.change(audit, |conn| {
            keys::create(conn, dialect, name, &scopes, valid_to)
        })
    }

    /// Lists API keys (never their values).
    pub fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>, CoreError> {
        let mut conn = self.inner.db.conn()?;
        keys::list(&mut conn)
    }

    /// Revokes an API key by name.
    pub fn revoke_api_key(&self, name: &str) -> Result<(), CoreError> {
        self.change(Audit::new("key.revoke", name), |conn| {
            keys::revoke(conn, name)
        })?
        .then_some(())
        .ok_or_else(|| CoreError::NotFound {
            kind: "active API key",
            name: name.to_string(),
        })
    }

    /// Deletes an API key, active or revoked, freeing its name: how `dynex-server --demo`
    /// replaces the demo key of an earlier start. True if it existed.
    pub fn delete_api_key(&self, name: &str) -> Result<bool, CoreError> {
        self.change(Audit::new("key.delete", name), |conn| {
            keys::delete(conn, name)
        })
    }

    /// Checks a presented API key against the snapshot; no database round trip.
    pub fn authenticate_api_key(&self, key: &str) -> Result<Principal, KeyRefusal> {
        let snapshot = self.inner.snapshot.load();
        let record = snapshot
            .keys
            .get(&dynex_auth::hash_secret(key))
            .ok_or(KeyRefusal::Unknown)?;
        if record.valid_to.is_some_and(|t| t <= clock::now_utc()) {
            return Err(KeyRefusal::Expired);
        }
        Ok(Principal {
            name: record.name.clone(),
            scopes: record.scopes.clone(),
        })
    }
}

/// Users.
impl Dynex {
    /// Adds a dynex user with an Argon2id hash of `password`, which must pass
    /// [`dynex_auth::check_password_strength`] ([`CoreError::Invalid`] says why not).
    pub fn add_user(&self, name: &str, password: &str, role: Role) -> Result<UserInfo, CoreError> {
        let audit = Audit::new("user.add", name).with(json!({"role": role.as_str()}));
        self.change(audit, |conn| {
            let user = users::add(conn, name, password, role)?;
            store::bump_version(conn)?;
            Ok(user)
        })
    }

    /// Lists users (never their password hashes).
    pub fn list_users(&self) -> Result<Vec<UserInfo>, CoreError> {
        let mut conn = self.inner.db.conn()?;
        users::list(&mut conn)
    }

    /// Removes a user by name; the user's tokens are refused at once.
    pub fn remove_user(&self, name: &str) -> Result<(), CoreError> {
        self.change(Audit::new("user.remove", name), |conn| {
            let removed = users::remove(conn, name)?;
            if removed {
                tokens::forget_refresh_tokens(conn, name)?;
                store::bump_version(conn)?;
            }
            Ok(removed)
        })?
        .then_some(())
        .ok_or_else(|| CoreError::NotFound {
            kind: "user",
            name: name.to_string(),
        })
    }

    /// Sets a user's password (checked for strength like [`Dynex::add_user`]) and revokes the
    /// tokens issued with the old one.
    pub fn set_user_password(&self, name: &str, password: &str) -> Result<(), CoreError> {
        self.change(Audit::new("user.password", name), |conn| {
            let found = users::set_password(conn, name, password)?;
            if found {
                tokens::revoke_user(conn, name)?;
            }
            Ok(found)
        })?
        .then_some(())
        .ok_or_else(|| CoreError::NotFound {
            kind: "user",
            name: name.to_string(),
        })
    }

    /// Checks a user's password; [`CoreError::BadCredentials`] for a wrong password and for an
    /// unknown user alike, which take the same time.
    pub fn authenticate_user(&self, name: &str, password: &str) -> Result<UserInfo, CoreError> {
        let mut conn = self.inner.db.conn()?;
        users::authenticate(&mut conn, name, password)
    }

    /// Revokes every token issued to a user until now (access and refresh tokens).
    pub fn revoke_user_tokens(&self, name: &str) -> Result<(), CoreError> {
        self.change(Audit::new("user.revoke-tokens", name), |conn| {
            tokens::revoke_user(conn, name)
        })?
        .then_some(())
        .ok_or_else(|| CoreError::NotFound {
            kind: "user",
            name: name.to_string(),
        })
    }
}

/// Integration clients.
impl Dynex {
    /// Adds an integration client allowed `scopes`; its secret is returned once and only its
    /// hash is stored.
    pub fn add_client(&self, id: &str, scopes: &[Scope]) -> Result<NewClient, CoreError> {
        let audit = Audit::new("client.add", id).with(json!({
            "scopes": scopes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
        self.change(audit, |conn| clients::add(conn, id, scopes))
    }

    /// Lists integration clients (never their secrets).
    pub fn list_clients(&self) -> Result<Vec<ClientInfo>, CoreError> {
        let mut conn = self.inner.db.conn()?;
        clients::list(&mut conn)
    }

    /// Removes an integration client; its tokens are refused at once.
    pub fn remove_client(&self, id: &str) -> Result<(), CoreError> {
        self.change(Audit::new("client.remove", id), |conn| {
            clients::remove(conn, id)
        })?
        .then_some(())
        .ok_or_else(|| CoreError::NotFound {
            kind: "client",
            name: id.to_string(),
        })
    }

    /// Revokes every token issued to an integration client until now.
    pub fn revoke_client_tokens(&self, id: &str) -> Result<(), CoreError> {
        self.change(Audit::new("client.revoke-tokens", id), |conn| {
            clients::revoke_tokens(conn, id)
        })?
        .then_some(())
        .ok_or_else(|| CoreError::NotFound {
            kind: "client",
            name: id.to_string(),
        })
    }
}

/// OAuth tokens: grants, bearer checks and revocation.
impl Dynex {
    /// Answers a token request (RFC 6749): the password, client credentials and refresh token
    /// grants.
    pub fn token(&self, request: &TokenRequest) -> Result<TokenGrant, GrantError> {
        let texts = [
            &request.username,
            &request.password,
            &request.client_id,
            &request.client_secret,
            &request.refresh_token,
            &request.scope,
        ];
        // No name, secret or token holds one, and PostgreSQL would refuse the lookup.
        if texts
            .iter()
            .any(|t| t.as_deref().is_some_and(|t| t.contains('\0')))
        {
            return Err(GrantError::InvalidRequest(
                "A parameter holds a NUL character.".into(),
            ));
        }
        let snapshot = self.snapshot();
        let issuer = tokens::Issuer {
            signer: &self.inner.signer,
            options: &self.inner.options.tokens,
            state: &snapshot.tokens,
        };
        let mut conn = self.inner.db.conn()?;
        let (grant, principal) = match request.grant_type.as_str() {
            "password" => (
                issuer.password(&mut conn, request)?,
                (PrincipalKind::User, request.username.clone()),
            ),
            "client_credentials" => (
                issuer.client_credentials(&mut conn, request)?,
                (PrincipalKind::Client, request.client_id.clone()),
            ),
            "refresh_token" => match issuer.refresh(&mut conn, request)? {
                Ok(grant) => return Ok(grant),
                Err(reused_family) => {
                    log::warn!("a used refresh token was presented again; its family is revoked");
                    drop(conn);
                    let audit = Audit::new("token.revoke", "refresh token family")
                        .with(json!({"reason": "a used refresh token was presented again"}));
                    self.change(audit, |conn| tokens::revoke_family(conn, &reused_family, 0))?;
                    return Err(GrantError::InvalidGrant(
                        "The refresh token is invalid, expired or revoked.".into(),
                    ));
                }
            },
            "" => {
                return Err(GrantError::InvalidRequest(
                    "The parameter `grant_type` is missing.".into(),
                ));
            }
            other => return Err(GrantError::UnsupportedGrantType(other.to_string())),
        };
        drop(conn);
        // A principal created a moment ago by another process may not be in this snapshot
        // yet; load it now so that the token works here at once.
        let name = principal.1.unwrap_or_default();
        let known = match principal.0 {
            PrincipalKind::User => snapshot
                .tokens
                .users
                .contains_key(&name.to_ascii_lowercase()),
            PrincipalKind::Client => snapshot.tokens.clients.contains_key(&name),
        };
        if !known {
            self.refresh()?;
        }
        Ok(grant)
    }

    /// Checks a bearer access token against its signature, expiry and the snapshot's
    /// revocations; no database round trip.
    pub fn authenticate_token(&self, token: &str) -> Result<Principal, TokenError> {
        let claims = self.inner.signer.verify_at(token, clock::now_ms())?;
        let snapshot = self.inner.snapshot.load();
        let state = &snapshot.tokens;
        let valid_after = match claims.knd {
            PrincipalKind::User => state
                .users
                .get(&claims.sub.to_ascii_lowercase())
                .map(|u| u.valid_after),
            PrincipalKind::Client => state.clients.get(&claims.sub).map(|c| c.valid_after),
        };
        match valid_after {
            // Strictly after: a token from the very millisecond of a revocation may predate it.
            Some(after) if claims.iat_ms > after => {}
            _ => return Err(TokenError::Revoked),
        }
        if state.revoked_families.contains(&claims.fam) {
            return Err(TokenError::Revoked);
        }
        let scopes = dynex_auth::parse_scopes(&claims.scope).map_err(|_| TokenError::Invalid)?;
        Ok(Principal {
            name: claims.sub,
            scopes,
        })
    }

    /// Revokes one access or refresh token and every token of its family (RFC 7009). An unknown
    /// or malformed token is not an error: there is nothing left to revoke.
    pub fn revoke_token(&self, token: &str) -> Result<(), CoreError> {
        let target = if token.starts_with(dynex_auth::REFRESH_TOKEN_PREFIX) {
            let mut conn = self.inner.db.conn()?;
            tokens::refresh_family(&mut conn, token)?.map(|f| (f, 0, "refresh token family".into()))
        } else {
            self.inner
                .signer
                .verify_ignoring_expiry(token)
                .ok()
                .map(|c| {
                    (
                        c.fam,
                        i64::try_from(c.exp).unwrap_or(0).saturating_mul(1000),
                        c.sub,
                    )
                })
        };
        if let Some((family, expires, subject)) = target {
            let audit = Audit::new("token.revoke", subject);
            self.change(audit, |conn| tokens::revoke_family(conn, &family, expires))?;
        }
        Ok(())
    }
}
