//! Who is calling: API keys from `X-Api-Key` or `?api_key=`, bearer tokens from `Authorization`.

use actix_web::HttpRequest;
use dynex_auth::{Action, Principal};
use dynex_core::Dynex;

use crate::error::ApiError;

/// Authenticates the request and checks that it may do `action` on `alias`.
///
/// The header wins over the query parameter, as in Spryker. Keys are checked against the
/// in-memory snapshot, so this costs no database round trip.
pub fn authorize(
    dynex: &Dynex,
    req: &HttpRequest,
    pairs: &[(String, String)],
    action: Action,
    alias: &str,
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
    let principal = match key {
        Some(key) => dynex
            .authenticate_api_key(&key)
            .map_err(ApiError::InvalidKey)?,
        None if req.headers().contains_key("authorization") => {
            // OAuth 2.0 bearer tokens are not issued yet, so no token can be valid.
            return Err(ApiError::InvalidToken);
        }
        None => return Err(ApiError::MissingCredentials),
    };
    if !principal.allows(action, alias) {
        return Err(ApiError::MissingScope(
            Principal::missing_scope(action, alias).to_string(),
        ));
    }
    // Including a relation reads the child entity, so its read scope is needed too.
    if let Some((_, include)) = pairs.iter().find(|(k, _)| k == "include") {
        for child in included_aliases(dynex, alias, include) {
            if !principal.allows(Action::Read, &child) {
                return Err(ApiError::MissingScope(
                    Principal::missing_scope(Action::Read, &child).to_string(),
                ));
            }
        }
    }
    Ok(principal)
}

/// Aliases of the entities an `include` list reaches from `alias`; names that do not resolve
/// are left to the query parser, which answers them with 1313.
fn included_aliases(dynex: &Dynex, alias: &str, include: &str) -> Vec<String> {
    let snapshot = dynex.snapshot();
    let mut out = Vec::new();
    for chain in include.split(',').map(str::trim) {
        let mut current = snapshot.catalog.entity(alias);
        for name in chain.split('.') {
            let Some(child) = current
                .and_then(|e| e.relation(name))
                .map(|r| r.child_alias().to_string())
            else {
                break;
            };
            current = snapshot.catalog.entity(&child);
            if !out.contains(&child) {
                out.push(child);
            }
        }
    }
    out
}
