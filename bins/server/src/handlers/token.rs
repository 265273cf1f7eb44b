//! The OAuth 2.0 token endpoint (RFC 6749) and token revocation (RFC 7009).
//!
//! Requests are form-encoded; answers are JSON with `Cache-Control: no-store`. Errors use the
//! RFC's own shape (`{"error", "error_description"}`), not Spryker's error array, because OAuth
//! clients parse that shape.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use dynex_core::{CoreError, GrantError, TokenRequest};
use serde_json::json;

use crate::config::AppState;
use crate::extract::read_body;

/// Token requests are small; anything larger is not one.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// An RFC 6749 section 5.2 error answer.
struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
    basic_challenge: bool,
    retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            code,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn response(self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        no_store(&mut response);
        if self.basic_challenge {
            response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"dynex\""));
        }
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        response.json(json!({ "error": self.code, "error_description": self.description }))
    }
}

impl From<GrantError> for OAuthError {
    fn from(e: GrantError) -> Self {
        use StatusCode as S;
        let description = e.to_string();
        match e {
            GrantError::InvalidRequest(_) => OAuthError::invalid_request(description),
            GrantError::InvalidClient => OAuthError {
                basic_challenge: true,
                ..OAuthError::new(S::UNAUTHORIZED, "invalid_client", description)
            },
            GrantError::InvalidGrant(_) => {
                OAuthError::new(S::BAD_REQUEST, "invalid_grant", description)
            }
            GrantError::InvalidScope(_) => {
                OAuthError::new(S::BAD_REQUEST, "invalid_scope", description)
            }
            GrantError::UnsupportedGrantType(_) => {
                OAuthError::new(S::BAD_REQUEST, "unsupported_grant_type", description)
            }
            GrantError::TooManyAttempts(secs) => OAuthError {
                retry_after: Some(secs),
                ..OAuthError::new(S::TOO_MANY_REQUESTS, "too_many_requests", description)
            },
            GrantError::Core(e) => core_error(&e),
        }
    }
}

fn core_error(e: &CoreError) -> OAuthError {
    log::error!("token endpoint: {e}");
    match e {
        CoreError::Unavailable(_) | CoreError::Busy => OAuthError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The database is unavailable. Please try again later.",
        ),
        _ => OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Internal server error.",
        ),
    }
}

fn no_store(response: &mut actix_web::HttpResponseBuilder) {
    response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    response.insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
}

/// Parses a form body: `application/x-www-form-urlencoded`, each parameter at most once
/// (RFC 6749 section 3.2), empty values treated as absent.
fn form(req: &HttpRequest, body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "The request must be form-encoded (Content-Type: application/x-www-form-urlencoded).",
        ));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(body) {
        // PostgreSQL refuses text with a NUL character; no name, secret or token has one.
        if k.contains('\0') || v.contains('\0') {
            return Err(OAuthError::invalid_request(format!(
                "The parameter `{}` holds a NUL character.",
                k.replace('\0', "\\u0000")
            )));
        }
        if pairs.iter().any(|(seen, _)| *seen == k) {
            return Err(OAuthError::invalid_request(format!(
                "The parameter `{k}` is repeated."
            )));
        }
        if !v.is_empty() {
            pairs.push((k.into_owned(), v.into_owned()));
        }
    }
    Ok(pairs)
}

/// Client credentials from `Authorization: Basic` (RFC 6749 section 2.3.1: both parts are
/// form-encoded before base64).
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let invalid = || OAuthError {
        basic_challenge: true,
        ..OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The Authorization header is not valid HTTP Basic client authentication.",
        )
    };
    let (scheme, encoded) = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .ok_or_else(invalid)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(invalid)?;
    // Decoded as one form value; `&` would otherwise split it.
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("x={}", s.replace('&', "%26")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (id, secret) = (unescape(id), unescape(secret));
    if id.contains('\0') || secret.contains('\0') {
        return Err(OAuthError::invalid_request(
            "The client credentials hold a NUL character.",
        ));
    }
    Ok(Some((id, secret)))
}

async fn read_form(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Vec<(String, String)>, OAuthError> {
    let body = read_body(req, payload, MAX_FORM_BYTES)
        .await
        .map_err(|_| OAuthError::invalid_request("The request body is too large or unreadable."))?;
    form(req, &body)
}

/// `POST /token`: the password, client credentials and refresh token grants.
pub(crate) async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    match issue(state, req, payload).await {
        Ok(response) => response,
        Err(e) => e.response(),
    }
}

async fn issue(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let params = read_form(&req, payload).await?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut request = TokenRequest {
        grant_type: get("grant_type").unwrap_or_default(),
        username: get("username"),
        password: get("password"),
        client_id: get("client_id"),
        client_secret: get("client_secret"),
        refresh_token: get("refresh_token"),
        scope: get("scope"),
        address: crate::auth::client_address(&req, state.trust_forwarded_for),
    };
    if let Some((id, secret)) = basic_credentials(&req)? {
        if request.client_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "Use one client authentication method: HTTP Basic or client_secret, not both.",
            ));
        }
        if request
            .client_id
            .as_ref()
            .is_some_and(|body_id| *body_id != id)
        {
            return Err(OAuthError::invalid_request(
                "The client_id differs from the one in the Authorization header.",
            ));
        }
        request.client_id = Some(id);
        request.client_secret = Some(secret);
    }
    // A reused refresh token revokes its family: the audit log names the endpoint and address.
    let dynex = state.dynex.acting(dynex_core::Actor {
        name: "token endpoint".into(),
        source: request.address.clone(),
    });
    let grant = web::block(move || dynex.token(&request))
        .await
        .map_err(|e| core_error(&CoreError::Invalid(e.to_string())))??;
    let mut response = HttpResponse::Ok();
    no_store(&mut response);
    Ok(response.json(grant))
}

/// `POST /token/revoke` (RFC 7009): revokes an access or refresh token and its family. Holding
/// the token is the authority to revoke it; the answer is 200 even for an unknown token.
pub(crate) async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let params = match read_form(&req, payload).await {
        Ok(p) => p,
        Err(e) => return e.response(),
    };
    let Some(token) = params
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
    else {
        return OAuthError::invalid_request("The parameter `token` is missing.").response();
    };
    let dynex = state.dynex.acting(dynex_core::Actor {
        name: "token endpoint".into(),
        source: crate::auth::client_address(&req, state.trust_forwarded_for),
    });
    match web::block(move || dynex.revoke_token(&token)).await {
        Ok(Ok(())) => {
            let mut response = HttpResponse::Ok();
            no_store(&mut response);
            response.finish()
        }
        Ok(Err(e)) => core_error(&e).response(),
        Err(e) => core_error(&CoreError::Invalid(e.to_string())).response(),
    }
}
