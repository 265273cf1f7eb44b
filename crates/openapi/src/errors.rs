//! The error object, the list of codes (`dynex_wire`'s table), and the error responses
//! operations share.

use dynex_wire::Code;
use serde_json::{Value, json};

use crate::{Doc, schema_ref};

/// Component name of the error object.
pub(crate) const ERROR: &str = "dynex.Error";
/// Component name of an error array.
pub(crate) const ERRORS: &str = "dynex.Errors";
/// Component name of the code list.
const CODE: &str = "dynex.ErrorCode";

/// Adds the error schemas; returns a reference to the error array.
pub(crate) fn errors_ref(doc: &mut Doc<'_>) -> Value {
    if !doc.has_schema(ERRORS) {
        let codes = Code::ALL;
        let list: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
        let code = json!({
            "type": "string",
            "description": code_table(codes),
            "enum": list,
            "x-dynex-codes": codes
                .iter()
                .map(|c| json!({"code": c.as_str(), "status": c.status(), "description": c.when()}))
                .collect::<Vec<_>>(),
        });
        doc.schema(CODE, code);
        doc.schema(
            ERROR,
            json!({
                "type": "object",
                "description": "An error, as Spryker sends it. The CSV import adds the line (and \
                                the field) a refused row came from.",
                "required": ["code", "status", "message"],
                "properties": {
                    "code": schema_ref(CODE),
                    "status": {
                        "type": "integer",
                        "minimum": 400,
                        "maximum": 599,
                        "description": "The HTTP status this error stands for.",
                    },
                    "message": {
                        "type": "string",
                        "description": "A human-readable message; do not parse it.",
                    },
                    "line": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "CSV imports: the line of the refused row (the header is \
                                        line 1).",
                    },
                    "field": {
                        "type": "string",
                        "description": "CSV imports: the field at fault, when one is.",
                    },
                    "requestId": {
                        "type": "string",
                        "description": "5xx answers: the request's id, as in the \
                                        `X-Request-Id` header, under which the server logged \
                                        the cause.",
                    },
                },
                "additionalProperties": false,
            }),
        );
        doc.schema(
            ERRORS,
            json!({
                "type": "array",
                "description": "Every failed request is answered with this array. Reads fail on \
                                the first error; a refused write lists every error it found. The \
                                HTTP status is the first error's.",
                "minItems": 1,
                "items": schema_ref(ERROR),
            }),
        );
    }
    schema_ref(ERRORS)
}

/// A markdown table of the codes, for the code schema's description.
fn code_table(codes: &[Code]) -> String {
    let mut out = String::from(
        "The error code, a string as in Spryker. `1301`–`1330` are Spryker's codes and \
         dynex's additions; `14xx` belong to the admin API; `1390` to `1392` are server-side \
         failures.",
    );
    out.push_str("\n\n| Code | HTTP | When |\n| --- | --- | --- |\n");
    for c in codes {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.as_str(),
            c.status(),
            c.when().replace('|', "\\|")
        ));
    }
    out
}

/// What a status means, for response descriptions.
fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad request",
        401 => "Invalid access token",
        403 => "Missing or refused credentials, or a missing scope",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "Conflict",
        412 => "Precondition failed: the row changed since it was read",
        413 => "Request body too large",
        422 => "Unprocessable relation",
        503 => "Database unavailable or busy",
        _ => "Error",
    }
}

/// Which routes an error response belongs to, which decides the codes it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Routes {
    /// The Data Exchange API, the token and service routes: every code but the admin API's.
    Data,
    /// The admin API: its own `14xx` codes, credentials, the body limit and server failures.
    Admin,
}

impl Routes {
    fn answers(self, code: Code) -> bool {
        let admin = matches!(
            code,
            Code::InvalidInput | Code::NotFound | Code::AlreadyExists
        );
        match self {
            Routes::Data => !admin,
            Routes::Admin => {
                admin
                    || matches!(
                        code,
                        Code::UnknownEntity
                            | Code::InvalidToken
                            | Code::Unauthorized
                            | Code::BodyTooLarge
                            | Code::Unavailable
                            | Code::Internal
                    )
            }
        }
    }
}

/// The description of an error response with this status: its meaning and the codes it may
/// carry on these routes.
pub(crate) fn describe_status(status: u16, routes: Routes) -> String {
    let list: Vec<String> = Code::ALL
        .iter()
        .filter(|c| c.status() == status && routes.answers(**c))
        .map(|c| format!("`{c}`"))
        .collect();
    if list.is_empty() {
        format!("{}.", reason(status))
    } else {
        format!("{}. Codes: {}.", reason(status), list.join(", "))
    }
}

/// A reference to the shared error response for `status` on these routes (an error array).
pub(crate) fn response(doc: &mut Doc<'_>, status: u16, routes: Routes) -> Value {
    let base = match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        412 => "PreconditionFailed",
        413 => "PayloadTooLarge",
        422 => "UnprocessableEntity",
        503 => "ServiceUnavailable",
        _ => "Error",
    };
    let name = match routes {
        Routes::Data => base.to_string(),
        Routes::Admin => format!("Admin{base}"),
    };
    doc.response(&name, |doc| {
        let errors = errors_ref(doc);
        let mut response = json!({
            "description": describe_status(status, routes),
            "content": { "application/json": { "schema": errors } },
        });
        if status == 401 || status == 403 {
            // RFC 6750 section 3: bearer clients learn whether to refresh or to ask for scope.
            response["headers"] = json!({
                "WWW-Authenticate": {
                    "description": "For bearer tokens: `error=\"invalid_token\"` (401) or \
                                    `error=\"insufficient_scope\"` with the scope needed (403).",
                    "schema": { "type": "string" },
                }
            });
        }
        response
    })
}

/// The responses every authenticated route can answer besides its own: 401, 403 and 503.
pub(crate) fn common(doc: &mut Doc<'_>, routes: Routes) -> Vec<(u16, Value)> {
    vec![
        (401, response(doc, 401, routes)),
        (403, response(doc, 403, routes)),
        (503, response(doc, 503, routes)),
    ]
}
