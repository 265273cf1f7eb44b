//! The server's own errors and how any error is answered: Spryker's array of error objects.
//!
//! Codes, statuses and messages come from `dynex_wire`'s one table; [`ApiError::code`] maps each
//! variant there without a catch-all, so a new variant without a code does not compile.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use dynex_auth::TokenError;
use dynex_core::{CoreError, KeyRefusal};
use dynex_wire::{Code, ErrorObject, WireError};

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
    /// The method is not available on this route; the methods that are.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// DELETE on an entity that is not deletable; the methods the route does serve.
    #[error("Method not allowed for the entity `{0}`.")]
    NotDeletable(String, &'static str),
    /// The request body is larger than the configured limit (in bytes).
    #[error("body too large")]
    BodyTooLarge(usize),
    /// The request body did not arrive within the body timeout (in seconds).
    #[error("The request body did not arrive within the body timeout ({0} s).")]
    BodyTimeout(u64),
    /// No route matches.
    #[error("not found")]
    RouteNotFound,
    /// An incoming webhook without the secret or signature its pipeline asks for.
    #[error("webhook refused")]
    HookRefused,
    /// The server failed in a way that is not the client's fault.
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    /// The wire code of this error; every variant has one.
    pub fn code(&self) -> Code {
        match self {
            ApiError::Core(e) => e.code(),
            ApiError::MissingCredentials | ApiError::InvalidKey(_) => Code::Unauthorized,
            ApiError::InvalidToken(_) => Code::InvalidToken,
            ApiError::MethodNotAllowed(_) | ApiError::NotDeletable(..) => Code::MethodNotAllowed,
            ApiError::BodyTooLarge(_) => Code::BodyTooLarge,
            ApiError::BodyTimeout(_) => Code::BodyTimeout,
            ApiError::RouteNotFound => Code::UnknownEntity,
            ApiError::HookRefused => Code::HookRefused,
            ApiError::Internal(_) => Code::Internal,
        }
    }

    /// The message a client sees; the underlying error stays for the log.
    pub fn message(&self) -> String {
        match self {
            ApiError::Core(e) => e.message(),
            ApiError::InvalidToken(e) => match e {
                TokenError::Invalid => "Invalid access token.",
                TokenError::Expired => "Invalid access token. The access token has expired.",
                TokenError::Revoked => "Invalid access token. The access token has been revoked.",
            }
            .to_string(),
            ApiError::NotDeletable(..) | ApiError::BodyTimeout(_) => self.to_string(),
            ApiError::BodyTooLarge(limit) => body_too_large(*limit),
            ApiError::MissingCredentials
            | ApiError::InvalidKey(_)
            | ApiError::MethodNotAllowed(_)
            | ApiError::RouteNotFound
            | ApiError::HookRefused
            | ApiError::Internal(_) => self.code().message().to_string(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        status_of(self.code())
    }

    /// The wire object of this error.
    pub fn object(&self) -> ErrorObject {
        ErrorObject::new(self.code(), self.message())
    }
}

impl WireError for ApiError {
    fn code(&self) -> Code {
        ApiError::code(self)
    }

    fn message(&self) -> String {
        ApiError::message(self)
    }
}

/// The message of code `1322` for a body limit of `limit` bytes.
pub(crate) fn body_too_large(limit: usize) -> String {
    format!("The request body is larger than the limit of {limit} bytes.")
}

/// The HTTP status of a code (all of the table's are valid statuses).
pub(crate) fn status_of(code: Code) -> StatusCode {
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        // A server-side failure is logged by `observe`, with the request's id; its details
        // never reach the client.
        let status = self.status();
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
            ApiError::Core(CoreError::MissingScope(scope)) => {
                response.insert_header((
                    actix_web::http::header::WWW_AUTHENTICATE,
                    format!(
                        "Bearer realm=\"dynex\", error=\"insufficient_scope\", scope=\"{scope}\""
                    ),
                ));
            }
            ApiError::Core(CoreError::Rows(rows)) if !rows.is_empty() => {
                let all: Vec<ErrorObject> = rows.iter().map(WireError::object).collect();
                return response.json(all);
            }
            // One error per problem, each as `dynex entity import` prints it, so a form can show
            // them all at once.
            ApiError::Core(CoreError::Config(problems)) if !problems.is_empty() => {
                let code = self.code();
                let all: Vec<ErrorObject> = problems
                    .iter()
                    .map(|p| ErrorObject::new(code, p.to_string()))
                    .collect();
                return response.json(all);
            }
            _ => {}
        }
        response.json([self.object()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each server-side error answers with its code's status, and a client never sees its
    /// details.
    #[test]
    fn server_errors_keep_their_details_for_the_log() {
        for error in [
            ApiError::Internal("disk full at /var/lib".into()),
            ApiError::Core(CoreError::Corrupt("row 7 of dynex_entity".into())),
            ApiError::Core(CoreError::Unavailable("connection refused".into())),
        ] {
            let object = error.object();
            assert!(!object.message.contains("disk") && !object.message.contains("row 7"));
            assert!(!object.message.contains("refused"));
            assert_eq!(error.status().as_u16(), object.status);
            assert!(error.status().is_server_error());
        }
    }
}
