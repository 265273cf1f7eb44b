//! Credentials: the security schemes and scopes, what each operation needs, and the OAuth 2.0
//! token endpoint (`POST /token`, RFC 6749) with token revocation (`POST /token/revoke`,
//! RFC 7009).

use serde_json::{Map, Value, json};

use crate::{Doc, schema_ref};

/// Component name of the token endpoint's error answer.
const OAUTH_ERROR: &str = "dynex.OAuthError";

/// The OAuth 2.0 error codes `/token` and `/token/revoke` answer with (RFC 6749 section 5.2,
/// plus `too_many_requests` for rate-limited logins).
const OAUTH_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unsupported_grant_type",
    "invalid_scope",
    "too_many_requests",
    "temporarily_unavailable",
    "server_error",
];

/// Adds the security schemes and the token endpoints.
pub(crate) fn add(doc: &mut Doc<'_>) {
    let token_url = format!(
        "{}/token",
        doc.options
            .server_url
            .as_deref()
            .unwrap_or_default()
            .trim_end_matches('/')
    );
    let scopes = scopes(doc);
    doc.security_scheme(
        "apiKey",
        json!({
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "description": "An API key (`dnx_…`) from `dynex key create` or the admin API. Its \
                            scopes decide what it may do.",
        }),
    );
    doc.security_scheme(
        "apiKeyQuery",
        json!({
            "type": "apiKey",
            "in": "query",
            "name": "api_key",
            "description": "The API key as a query parameter; the header wins when both are \
                            sent. Proxies may log URLs: prefer the header.",
        }),
    );
    doc.security_scheme(
        "bearer",
        json!({
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from `POST /token`.",
        }),
    );
    doc.security_scheme(
        "oauth2",
        json!({
            "type": "oauth2",
            "description": "OAuth 2.0: users log in with the password grant, integration \
                            clients with the client credentials grant. Access tokens are sent as \
                            `Authorization: Bearer`.",
            "flows": {
                "password": {
                    "tokenUrl": token_url,
                    "refreshUrl": token_url,
                    "scopes": scopes,
                },
                "clientCredentials": {
                    "tokenUrl": token_url,
                    "scopes": scopes,
                },
            },
        }),
    );
    doc.security_scheme(
        "clientBasic",
        json!({
            "type": "http",
            "scheme": "basic",
            "description": "Client authentication for the client credentials grant: the \
                            client id and secret (RFC 6749 section 2.3.1).",
        }),
    );
    doc.tag(
        "auth",
        "OAuth 2.0 access tokens (password, client credentials and refresh token grants) and \
         their revocation.",
    );
    token(doc);
    revoke(doc);
}

/// Every scope, with what it grants: the global ones, one per entity and action, and `admin`.
fn scopes(doc: &Doc<'_>) -> Map<String, Value> {
    let mut out = Map::new();
    let verbs = [
        ("read", "GET"),
        ("write", "POST, PATCH and PUT"),
        ("delete", "DELETE"),
    ];
    for (action, methods) in verbs {
        out.insert(
            format!("dynamic-entity:{action}"),
            json!(format!("{methods} on every entity")),
        );
    }
    for entity in doc.catalog.entities() {
        for (action, methods) in verbs {
            out.insert(
                format!("dynamic-entity:{}:{action}", entity.alias()),
                json!(format!("{methods} on `{}`", entity.alias())),
            );
        }
    }
    out.insert(
        "admin".into(),
        json!("The admin API (users, clients, API keys); no Data Exchange access"),
    );
    out
}

/// The security of an operation: any of the credentials, with the scope that covers `action`
/// on `alias` (the global scope or the entity's own), or `admin` without an alias.
pub(crate) fn requirement(alias: Option<&str>, action: &str) -> Value {
    let scopes: Vec<String> = match alias {
        Some(alias) => vec![
            format!("dynamic-entity:{action}"),
            format!("dynamic-entity:{alias}:{action}"),
        ],
        None => vec!["admin".to_string()],
    };
    let mut out = vec![
        json!({ "apiKey": [] }),
        json!({ "apiKeyQuery": [] }),
        json!({ "bearer": [] }),
    ];
    // Requirement objects are alternatives; the scopes inside one are all needed.
    out.extend(scopes.into_iter().map(|s| json!({ "oauth2": [s] })));
    Value::Array(out)
}

fn oauth_error(doc: &mut Doc<'_>) -> Value {
    if !doc.has_schema(OAUTH_ERROR) {
        doc.schema(
            OAUTH_ERROR,
            json!({
                "type": "object",
                "description": "An OAuth 2.0 error (RFC 6749 section 5.2).",
                "required": ["error", "error_description"],
                "properties": {
                    "error": { "type": "string", "enum": OAUTH_ERRORS },
                    "error_description": { "type": "string" },
                },
                "additionalProperties": false,
            }),
        );
    }
    schema_ref(OAUTH_ERROR)
}

/// A failure of the token endpoints with this `description`, and the one header (name,
/// description, type) it may carry.
fn oauth_failure(
    doc: &mut Doc<'_>,
    description: &str,
    header: Option<(&str, &str, &str)>,
) -> Value {
    let schema = oauth_error(doc);
    let mut response = json!({
        "description": description,
        "content": { "application/json": { "schema": schema } },
    });
    if let Some((name, description, kind)) = header {
        response["headers"] = json!({
            name: { "description": description, "schema": { "type": kind } },
        });
    }
    response
}

/// The failure of the token endpoints when the database is unreachable.
fn unavailable(doc: &mut Doc<'_>) -> Value {
    oauth_failure(
        doc,
        "`temporarily_unavailable`: the database is unreachable.",
        None,
    )
}

fn no_store() -> Value {
    json!({
        "Cache-Control": {
            "description": "`no-store`: tokens are never cached.",
            "schema": { "type": "string" },
        },
        "Pragma": { "description": "`no-cache`.", "schema": { "type": "string" } },
    })
}

fn token(doc: &mut Doc<'_>) {
    let grant = |name: &str, required: &[&str], description: &str, extra: Value| {
        let mut properties = json!({
            "grant_type": { "const": name },
            "scope": {
                "type": "string",
                "description": "Space-separated scopes to narrow the token to; each must be \
                                covered by the principal's scopes (default: all of them).",
            },
        });
        if let (Some(p), Value::Object(extra)) = (properties.as_object_mut(), extra) {
            p.extend(extra);
        }
        let mut required: Vec<&str> = required.to_vec();
        required.insert(0, "grant_type");
        json!({
            "type": "object",
            "title": name,
            "description": description,
            "required": required,
            "properties": properties,
        })
    };
    let password = grant(
        "password",
        &["username", "password"],
        "A user logs in; the answer has a refresh token.",
        json!({
            "username": { "type": "string", "minLength": 1 },
            "password": { "type": "string", "minLength": 1, "format": "password" },
        }),
    );
    let client = grant(
        "client_credentials",
        &[],
        "An integration client logs in with HTTP Basic (preferred) or `client_id` and \
         `client_secret` in the body, not both; no refresh token.",
        json!({
            "client_id": { "type": "string", "minLength": 1 },
            "client_secret": { "type": "string", "minLength": 1, "format": "password" },
        }),
    );
    let refresh = grant(
        "refresh_token",
        &["refresh_token"],
        "Trades a refresh token (single use) for a new access token and refresh token.",
        json!({ "refresh_token": { "type": "string", "minLength": 1 } }),
    );
    let request = doc.schema(
        "dynex.TokenRequest",
        json!({ "oneOf": [password, client, refresh] }),
    );
    let grant_answer = doc.schema(
        "dynex.TokenResponse",
        json!({
            "type": "object",
            "description": "An access token (RFC 6749 section 5.1).",
            "required": ["access_token", "token_type", "expires_in", "scope"],
            "properties": {
                "access_token": { "type": "string", "description": "A JWT signed with HS256." },
                "token_type": { "const": "Bearer" },
                "expires_in": { "type": "integer", "minimum": 1 },
                "refresh_token": {
                    "type": "string",
                    "description": "Password and refresh token grants only.",
                },
                "scope": { "type": "string", "description": "The granted scopes, space-separated." },
            },
            "additionalProperties": false,
        }),
    );
    let bad = oauth_failure(
        doc,
        "`invalid_request`, `invalid_grant`, `unsupported_grant_type` or `invalid_scope`.",
        None,
    );
    let client_failure = oauth_failure(
        doc,
        "`invalid_client`: unknown client, wrong secret or malformed Basic header.",
        Some(("WWW-Authenticate", "`Basic realm=\"dynex\"`.", "string")),
    );
    let limited = oauth_failure(
        doc,
        "`too_many_requests`: too many failed logins for this name or address.",
        Some((
            "Retry-After",
            "Seconds until a login is accepted again.",
            "integer",
        )),
    );
    let unavailable = unavailable(doc);
    let operation = json!({
        "tags": ["auth"],
        "operationId": "token",
        "summary": "Get an access token",
        "description": "OAuth 2.0 token endpoint (also at `/token/`). Form-encoded; each \
                        parameter at most once, an empty value counts as absent.",
        "security": [{}, { "clientBasic": [] }],
        "requestBody": {
            "required": true,
            "content": {
                "application/x-www-form-urlencoded": { "schema": request },
            },
        },
        "responses": {
            "200": {
                "description": "The token.",
                "headers": no_store(),
                "content": { "application/json": { "schema": grant_answer } },
            },
            "400": bad,
            "401": client_failure,
            "429": limited,
            "503": unavailable,
        },
    });
    doc.operation("/token", "post", operation);
}

fn revoke(doc: &mut Doc<'_>) {
    let bad = oauth_failure(doc, "`invalid_request`: no `token`.", None);
    let unavailable = unavailable(doc);
    let operation = json!({
        "tags": ["auth"],
        "operationId": "revoke-token",
        "summary": "Revoke a token and its family",
        "description": "RFC 7009: revokes an access or refresh token and every token of the \
                        same login. Holding the token is the authority to revoke it; the answer \
                        is 200 whether or not the token was known.",
        "security": [{}],
        "requestBody": {
            "required": true,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["token"],
                        "properties": {
                            "token": { "type": "string", "minLength": 1 },
                            "token_type_hint": {
                                "type": "string",
                                "enum": ["access_token", "refresh_token"],
                                "description": "Accepted and not needed.",
                            },
                        },
                    },
                },
            },
        },
        "responses": {
            "200": { "description": "Revoked (or unknown).", "headers": no_store() },
            "400": bad,
            "503": unavailable,
        },
    });
    doc.operation("/token/revoke", "post", operation);
}
