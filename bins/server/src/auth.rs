//! Who is calling: API keys from `X-Api-Key` or `?api_key=`, bearer tokens from `Authorization`.

use actix_web::HttpRequest;
use dynex_auth::{Action, Principal, Scope};
use dynex_core::{CoreError, Dynex};

use crate::error::ApiError;

/// Authenticates the request: an API key (the `X-Api-Key` header wins over `?api_key=`, as in
/// Spryker), else an `Authorization: Bearer` access token. Both are checked against the
/// in-memory snapshot, so this costs no database round trip.
pub fn authenticate(
    dynex: &Dynex,
    req: &HttpRequest,
    pairs: &[(String, String)],
) -> Result<Principal, ApiError> {
    let header_key = req
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    let key = match header_key {
        Some(k) => Some(k.to_string()),
        None => pairs
            .iter()
            .find(|(k, _)| k == "api_key")
            .map(|(_, v)| v.clone()),
    };
    if let Some(key) = key {
        return dynex
            .authenticate_api_key(&key)
            .map_err(ApiError::InvalidKey);
    }
    let Some(authorization) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Err(ApiError::MissingCredentials);
    };
    let token = authorization
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(ApiError::InvalidToken(dynex_auth::TokenError::Invalid))?;
    dynex
        .authenticate_token(token)
        .map_err(ApiError::InvalidToken)
}

/// Authenticates the request and checks that it holds the `admin` scope.
pub fn authorize_admin(
    dynex: &Dynex,
    req: &HttpRequest,
    pairs: &[(String, String)],
) -> Result<Principal, ApiError> {
    let principal = authenticate(dynex, req, pairs)?;
    if !principal.is_admin() {
        return Err(ApiError::Core(CoreError::MissingScope(
            Scope::Admin.to_string(),
        )));
    }
    Ok(principal)
}

/// Authenticates the request and checks that it may do `action` on `alias`, before the alias
/// is looked up or a body read; dynex-core checks the entities the request reaches from there
/// (includes, nested rows) and the alias again.
pub fn authorize(
    dynex: &Dynex,
    req: &HttpRequest,
    pairs: &[(String, String)],
    action: Action,
    alias: &str,
) -> Result<Principal, ApiError> {
    let principal = authenticate(dynex, req, pairs)?;
    if !principal.allows(action, alias) {
        return Err(ApiError::Core(CoreError::MissingScope(
            Principal::missing_scope(action, alias).to_string(),
        )));
    }
    Ok(principal)
}

/// The caller's address, for login rate limits and the audit log: the peer, or the first `X-Forwarded-For` hop when
/// the server runs behind a trusted proxy.
pub(crate) fn client_address(req: &HttpRequest, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(first) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return first.to_string();
    }
    req.peer_addr()
        .map_or_else(|| "unknown".to_string(), |a| a.ip().to_string())
}

/// The database as `principal` calling from its address: the author of the changes it records
/// in the audit log.
pub(crate) fn acting_as(
    state: &crate::config::AppState,
    principal: &Principal,
    req: &HttpRequest,
) -> Dynex {
    state.dynex.acting(dynex_core::Actor {
        name: principal.name.clone(),
        source: client_address(req, state.trust_forwarded_for),
    })
}
