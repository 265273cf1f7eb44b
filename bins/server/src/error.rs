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
                    QueryError::InvalidParameter { .. } | QueryError::UnknownSortField { .. } => {
                        ("1320", S::BAD_REQUEST, q.to_string())
                    }
                    QueryError::InvalidOperator { .. } => ("1325", S::BAD_REQUEST, q.to_string()),
                    QueryError::InvalidCursor(_) => ("1326", S::BAD_REQUEST, q.to_string()),
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
            // One error per problem, each as `dynex entity import` prints it, so a form can show
            // them all at once.
            ApiError::Core(CoreError::Config(problems)) if !problems.is_empty() => {
                let (code, status, _) = self.parts();
                let all: Vec<ErrorObject> = problems
                    .iter()
                    .map(|p| ErrorObject {
                        code,
                        status: status.as_u16(),
                        message: p.to_string(),
                    })
                    .collect();
                return response.json(all);
            }
            _ => {}
        }
        response.json([self.object()])
    }
}

/// One row of the error table: a code, the HTTP status it answers with, and when it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCodeInfo {
    /// The code, a string as Spryker sends it.
    pub code: &'static str,
    /// The HTTP status of an answer whose first error has this code.
    pub status: u16,
    /// When the code is sent.
    pub when: &'static str,
}

const fn code(code: &'static str, status: u16, when: &'static str) -> ErrorCodeInfo {
    ErrorCodeInfo { code, status, when }
}

/// Every code the server answers with and its status, as `/openapi.json` lists them.
///
/// The order is that of `docs/errors.md`. The tests below check that every error
/// [`ApiError::parts`] and [`RowError`] produce is here with its status, that every code here
/// is produced, and that `docs/errors.md` lists the same codes.
pub const ERROR_CODES: &[ErrorCodeInfo] = &[
    code(
        "007",
        404,
        "The alias is unknown or its entity is inactive; any path that is not a route.",
    ),
    code(
        "001",
        401,
        "A bearer token that is malformed, not signed by this installation, expired or \
         revoked, or an `Authorization` header that is not `Bearer`.",
    ),
    code(
        "002",
        403,
        "No credentials; an unknown, revoked or expired API key; or credentials that lack the \
         scope for this method and entity.",
    ),
    code(
        "1301",
        400,
        "Write: the body is not `{\"data\": [...]}` (collection routes) or `{\"data\": {...}}` \
         (`/{id}` routes).",
    ),
    code(
        "1302",
        400,
        "Write: the database refused a row (a value too long for its column, a check \
         constraint).",
    ),
    code(
        "1303",
        404,
        "No row has this identifier (GET by id, PATCH, DELETE), or nothing matched a DELETE.",
    ),
    code(
        "1304",
        400,
        "Write: a field that is not creatable (rows created) or not editable (rows updated).",
    ),
    code("1305", 400, "Write: a value of the wrong JSON type."),
    code(
        "1306",
        400,
        "Write: a value breaks `min`/`max`, `minLength`/`maxLength`, `precision`/`scale` or \
         `enumValues`.",
    ),
    code(
        "1307",
        400,
        "POST, PUT: a required field is missing or null.",
    ),
    code(
        "1308",
        400,
        "PUT: the identifier matches no row and the identifier field is not creatable.",
    ),
    code("1309", 400, "Write: a unique key holds the value already."),
    code(
        "1310",
        400,
        "PATCH: a row (or nested row) without identifier.",
    ),
    code(
        "1311",
        400,
        "Write: a scalar member that is not a configured field.",
    ),
    code(
        "1313",
        400,
        "`include` names an unknown relation, or a write nests rows under one.",
    ),
    code(
        "1314",
        422,
        "Write: nested rows under a relation that is not editable.",
    ),
    code(
        "1315",
        400,
        "GET, DELETE: a filter names a field that is not configured.",
    ),
    code("1316", 400, "Write: a value breaks the `url` constraint."),
    code(
        "1317",
        400,
        "DELETE: other rows still reference the row; write: a referenced row does not exist.",
    ),
    code(
        "1318",
        405,
        "A method the route does not serve, or DELETE on an entity that is not deletable.",
    ),
    code(
        "1319",
        400,
        "A filter value is not of the field's type, holds a NUL character, or does not suit its \
         operator.",
    ),
    code(
        "1320",
        400,
        "A malformed query parameter (`page[...]`, `sort`, `fields[...]`, `meta`, `filter[or]`, \
         a `filter`/`page` name without brackets, offset and cursor paging mixed, `page` or \
         `include` on DELETE).",
    ),
    code("1321", 400, "Write: a `NOT NULL` column would be NULL."),
    code("1322", 413, "The request body exceeds the limit."),
    code("1323", 400, "DELETE on the collection without a filter."),
    code("1324", 400, "A write hook refused the row."),
    code(
        "1325",
        400,
        "A filter operator that does not exist or does not apply to the field's type.",
    ),
    code(
        "1326",
        400,
        "A `page[after]` cursor that was altered, or was issued for another entity or sort.",
    ),
    code(
        "1401",
        400,
        "Invalid input: an admin API request, or a CSV body whose header cannot be read.",
    ),
    code(
        "1402",
        404,
        "Admin API: no such user, client, active API key, table, entity or job.",
    ),
    code(
        "1403",
        409,
        "Admin API: the name is taken, or the table is exposed already.",
    ),
    code(
        "1390",
        503,
        "The database is unavailable, or busy on every attempt of a write. Retry.",
    ),
    code(
        "1391",
        500,
        "Any other server-side failure; details are only logged.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// One of every error the server answers with (and some twice, where the code depends on
    /// the inner error).
    fn samples() -> Vec<(String, u16)> {
        let s = || "x".to_string();
        let rows = vec![
            RowError::InvalidFormat,
            RowError::NotFound { path: s() },
            RowError::Immutable {
                path: s(),
                field: s(),
            },
            RowError::InvalidType {
                path: s(),
                field: s(),
                expected: "",
            },
            RowError::InvalidValue {
                path: s(),
                field: s(),
                rules: s(),
            },
            RowError::Required {
                path: s(),
                field: s(),
            },
            RowError::IdentifierNotCreatable {
                path: s(),
                identifier: s(),
            },
            RowError::Duplicate { path: s() },
            RowError::MissingIdentifier { path: s() },
            RowError::UnknownField {
                path: s(),
                field: s(),
            },
            RowError::UnknownRelation { relation: s() },
            RowError::RelationNotEditable { relation: s() },
            RowError::InvalidUrl {
                path: s(),
                field: s(),
            },
            RowError::MissingReference { path: s() },
            RowError::HasChildren {
                path: s(),
                child: s(),
            },
            RowError::NotNull { path: s() },
            RowError::Persistence {
                path: s(),
                reason: None,
            },
            RowError::Rejected {
                path: s(),
                message: s(),
            },
        ];
        let mut out: Vec<(String, u16)> = rows
            .iter()
            .map(|r| (r.code().to_string(), r.status()))
            .collect();
        let query = [
            QueryError::UnknownRelation(s()),
            QueryError::UnknownFilterField {
                field: s(),
                alias: s(),
            },
            QueryError::InvalidFilterValue {
                field: s(),
                reason: s(),
            },
            QueryError::InvalidParameter {
                name: s(),
                reason: s(),
            },
            QueryError::InvalidOperator {
                field: s(),
                operator: s(),
                reason: s(),
            },
            QueryError::InvalidCursor(s()),
        ];
        let mut errors: Vec<ApiError> = query
            .into_iter()
            .map(|q| ApiError::Core(CoreError::Query(q)))
            .collect();
        errors.extend([
            ApiError::Core(CoreError::UnknownEntity(s())),
            ApiError::Core(CoreError::RowNotFound(s())),
            ApiError::Core(CoreError::Rows(vec![RowError::InvalidFormat])),
            ApiError::Core(CoreError::MissingScope(s())),
            ApiError::Core(CoreError::MethodNotAllowed(s())),
            ApiError::Core(CoreError::FilterRequired(s())),
            ApiError::Core(CoreError::Busy),
            ApiError::Core(CoreError::Invalid(s())),
            ApiError::Core(CoreError::NotFound {
                kind: "user",
                name: s(),
            }),
            ApiError::Core(CoreError::AlreadyExists {
                kind: "user",
                name: s(),
            }),
            ApiError::Core(CoreError::Unavailable(s())),
            ApiError::Core(CoreError::Corrupt(s())),
            ApiError::MissingCredentials,
            ApiError::InvalidKey(KeyRefusal::Unknown),
            ApiError::InvalidToken(TokenError::Expired),
            ApiError::MissingScope(s()),
            ApiError::MethodNotAllowed("GET"),
            ApiError::NotDeletable(s(), "GET"),
            ApiError::BodyTooLarge(1),
            ApiError::RouteNotFound,
            ApiError::Internal(s()),
        ]);
        out.extend(errors.iter().map(|e| {
            let (code, status, _) = e.parts();
            (code.to_string(), status.as_u16())
        }));
        out
    }

    #[test]
    fn every_error_is_in_the_table_with_its_status() {
        for (code, status) in samples() {
            let entry = ERROR_CODES
                .iter()
                .find(|c| c.code == code)
                .unwrap_or_else(|| panic!("code {code} is not in ERROR_CODES"));
            assert_eq!(entry.status, status, "status of {code}");
        }
    }

    #[test]
    fn every_code_in_the_table_is_sent() {
        let sent = samples();
        for c in ERROR_CODES {
            assert!(
                sent.iter().any(|(code, _)| code == c.code),
                "{} is listed but never sent",
                c.code
            );
        }
        let mut codes: Vec<&str> = ERROR_CODES.iter().map(|c| c.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ERROR_CODES.len(), "each code once");
    }

    /// The codes of `docs/errors.md` are those of the table.
    #[test]
    fn the_documentation_lists_the_same_codes() {
        let doc = include_str!("../../../docs/errors.md");
        let section = &doc[doc.find("## Codes").expect("a Codes section")..];
        let section = &section[..section.find("\n### ").unwrap_or(section.len())];
        let mut documented: Vec<&str> = section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        documented.sort_unstable();
        documented.dedup();
        let mut listed: Vec<&str> = ERROR_CODES.iter().map(|c| c.code).collect();
        listed.sort_unstable();
        assert_eq!(documented, listed);
    }
}
