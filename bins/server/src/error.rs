//! The wire format of errors: every failure becomes Spryker's array of error objects.
//!
//! [`ApiError::parts`] is the one table that maps each error to its code, HTTP status and
//! message; `docs/errors.md` lists the same table.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use dynex_auth::TokenError;
use dynex_core::{CoreError, KeyRefusal};
use dynex_query::QueryError;
use dynex_validate::RowError;
use serde::Serialize;

/// A request failure, rendered as `[{"code", "status", "message"}]`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A failure from the core.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// No credentials were presented.
    #[error("missing credentials")]
    MissingCredentials,
    /// The API key is unknown, revoked or expired.
    #[error("invalid API key")]
    InvalidKey(KeyRefusal),
    /// A bearer token was presented but is not valid (malformed, expired or revoked).
    #[error("{0}")]
    InvalidToken(dynex_auth::TokenError),
    /// The credentials lack the scope for this request.
    #[error("missing scope {0}")]
    MissingScope(String),
    /// The method is not available on this route; the methods that are.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// DELETE on an entity that is not deletable; the methods the route does serve.
    #[error("Method not allowed for the entity `{0}`.")]
    NotDeletable(String, &'static str),
    /// The request body is larger than the configured limit (in bytes).
    #[error("body too large")]
    BodyTooLarge(usize),
    /// No route matches.
    #[error("not found")]
    RouteNotFound,
    /// The server failed in a way that is not the client's fault.
    #[error("internal: {0}")]
    Internal(String),
}

/// One error object of the wire format.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorObject {
    /// The error code, a string as in Spryker (`"1315"`, `"007"`).
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// A human-readable message.
    pub message: String,
}

impl ErrorObject {
    /// The wire object of a refused row.
    pub fn from_row(e: &RowError) -> ErrorObject {
        ErrorObject {
            code: e.code(),
            status: e.status(),
            message: e.to_string(),
        }
    }
}

impl ApiError {
    /// The code, HTTP status and message of this error.
    pub fn parts(&self) -> (&'static str, StatusCode, String) {
        use StatusCode as S;
        match self {
            ApiError::Core(e) => match e {
                CoreError::UnknownEntity(_) => ("007", S::NOT_FOUND, "Not found".into()),
                CoreError::RowNotFound(_) => ("1303", S::NOT_FOUND, e.to_string()),
                CoreError::Query(q) => match q {
                    QueryError::UnknownRelation(_) => ("1313", S::BAD_REQUEST, q.to_string()),
                    QueryError::UnknownFilterField { .. } => {
                        ("1315", S::BAD_REQUEST, q.to_string())
                    }
                    QueryError::InvalidFilterValue { .. } => {
                        ("1319", S::BAD_REQUEST, q.to_string())
                    }
                    QueryError::InvalidParameter { .. } => ("1320", S::BAD_REQUEST, q.to_string()),
                },
                CoreError::Rows(rows) => match rows.first() {
                    Some(first) => (
                        first.code(),
                        StatusCode::from_u16(first.status()).unwrap_or(S::BAD_REQUEST),
                        first.to_string(),
                    ),
                    None => ("1302", S::BAD_REQUEST, "Failed to persist the data.".into()),
                },
                CoreError::MissingScope(scope) => (
                    "002",
                    S::FORBIDDEN,
                    format!("Unauthorized request. The credentials lack the scope `{scope}`."),
                ),
                CoreError::MethodNotAllowed(_) => ("1318", S::METHOD_NOT_ALLOWED, e.to_string()),
                CoreError::FilterRequired(_) => ("1323", S::BAD_REQUEST, e.to_string()),
                CoreError::Busy => (
                    "1390",
                    S::SERVICE_UNAVAILABLE,
                    "The database is busy. Please try again later.".into(),
                ),
                CoreError::Invalid(_) | CoreError::Config(_) | CoreError::ConfigFormat(_) => {
                    ("1401", S::BAD_REQUEST, e.to_string())
                }
                CoreError::NotFound { .. } => ("1402", S::NOT_FOUND, e.to_string()),
                CoreError::AlreadyExists { .. } => ("1403", S::CONFLICT, e.to_string()),
                CoreError::Unavailable(_) => (
                    "1390",
                    S::SERVICE_UNAVAILABLE,
                    "The database is unavailable. Please try again later.".into(),
                ),
                _ => (
                    "1391",
                    S::INTERNAL_SERVER_ERROR,
                    "Internal server error.".into(),
                ),
            },
            ApiError::MissingCredentials | ApiError::InvalidKey(_) => {
                ("002", S::FORBIDDEN, "Unauthorized request.".into())
            }
            ApiError::InvalidToken(e) => (
                "001",
                S::UNAUTHORIZED,
                match e {
                    TokenError::Invalid => "Invalid access token.",
                    TokenError::Expired => "Invalid access token. The access token has expired.",
                    TokenError::Revoked => {
                        "Invalid access token. The access token has been revoked."
                    }
                }
                .into(),
            ),
            ApiError::MissingScope(scope) => (
                "002",
                S::FORBIDDEN,
                format!("Unauthorized request. The credentials lack the scope `{scope}`."),
            ),
            ApiError::MethodNotAllowed(_) => {
                ("1318", S::METHOD_NOT_ALLOWED, "Method not allowed.".into())
            }
            ApiError::NotDeletable(..) => ("1318", S::METHOD_NOT_ALLOWED, self.to_string()),
            ApiError::BodyTooLarge(limit) => (
                "1322",
                S::PAYLOAD_TOO_LARGE,
                format!("The request body is larger than the limit of {limit} bytes."),
            ),
            ApiError::RouteNotFound => ("007", S::NOT_FOUND, "Not found".into()),
            ApiError::Internal(_) => (
                "1391",
                S::INTERNAL_SERVER_ERROR,
                "Internal server error.".into(),
            ),
        }
    }

    /// The wire object of this error.
    pub fn object(&self) -> ErrorObject {
        let (code, status, message) = self.parts();
        ErrorObject {
            code,
            status: status.as_u16(),
            message,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().1
    }

    fn error_response(&self) -> HttpResponse {
        let (_, status, _) = self.parts();
        if status.is_server_error() {
            // Logged once, here, where it is answered; details never reach the client.
            log::error!("{self}");
        }
        let mut response = HttpResponse::build(status);
        match self {
            ApiError::MethodNotAllowed(allow) => {
                response.insert_header((actix_web::http::header::ALLOW, *allow));
            }
            ApiError::NotDeletable(_, allow) => {
                response.insert_header((actix_web::http::header::ALLOW, *allow));
            }
            // RFC 6750 section 3: tell bearer clients why, so they know to refresh.
            ApiError::InvalidToken(e) => {
                let description = match e {
                    TokenError::Invalid => "The access token is malformed or not signed by dynex",
                    TokenError::Expired => "The access token expired",
                    TokenError::Revoked => "The access token was revoked",
                };
                response.insert_header((
                    actix_web::http::header::WWW_AUTHENTICATE,
                    format!(
                        "Bearer realm=\"dynex\", error=\"invalid_token\", error_description=\"{description}\""
                    ),
                ));
            }
            ApiError::MissingScope(scope) | ApiError::Core(CoreError::MissingScope(scope)) => {
                response.insert_header((
                    actix_web::http::header::WWW_AUTHENTICATE,
                    format!(
                        "Bearer realm=\"dynex\", error=\"insufficient_scope\", scope=\"{scope}\""
                    ),
                ));
            }
            ApiError::Core(CoreError::Rows(rows)) if !rows.is_empty() => {
                let all: Vec<ErrorObject> = rows.iter().map(ErrorObject::from_row).collect();
                return response.json(all);
            }
            _ => {}
        }
        response.json([self.object()])
    }
}
