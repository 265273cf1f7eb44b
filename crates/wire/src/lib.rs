//! Every error code dynex answers with, once: its HTTP status, message, when it is sent, and where
//! `docs/errors.md` explains it.
//!
//! The codes are Spryker's (`1301`–`1330`, `001`, `002`, `007`) plus dynex's own (`1390`–`1392`,
//! `14xx`). Each error type of the workspace implements [`WireError`] with an exhaustive `match`
//! onto [`Code`], so a new variant without a code does not compile, and everything that lists codes
//! (the server's answers, the OpenAPI document, the documentation's test) reads [`Code::ALL`].
//!
//! OAuth 2.0's token endpoint is the one exception: RFC 6749 fixes its error format
//! (`{"error": "invalid_grant", …}`), so those errors are not codes of this table.

use std::fmt;

use serde::Serialize;

/// Declares [`Code`] and its table from one list, so the enum and [`Code::ALL`] cannot disagree.
macro_rules! codes {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident = $code:literal, $status:literal, $message:literal, $when:literal;
    )*) => {
        /// An error code of the wire format, one variant per code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $( $(#[doc = $doc])* $name, )*
        }

        impl Code {
            /// Every code, in the order of `docs/errors.md`.
            pub const ALL: &'static [Code] = &[$(Code::$name),*];

            /// The code as sent: a string, as Spryker sends it (`"1315"`, `"007"`).
            pub const fn as_str(self) -> &'static str {
                match self { $(Code::$name => $code,)* }
            }

            /// The HTTP status of an answer whose first error has this code.
            pub const fn status(self) -> u16 {
                match self { $(Code::$name => $status,)* }
            }

            /// The message, with `<placeholders>` where the error fills in details.
            ///
            /// Codes without placeholders are sent with exactly this message; server-side
            /// failures always are, so no detail of theirs reaches a client.
            pub const fn message(self) -> &'static str {
                match self { $(Code::$name => $message,)* }
            }

            /// When the code is sent, in a sentence (the OpenAPI document lists it).
            pub const fn when(self) -> &'static str {
                match self { $(Code::$name => $when,)* }
            }
        }
    };
}

codes! {
    /// `007`: an unknown or inactive alias, or a path that is not a route.
    UnknownEntity = "007", 404, "Not found",
        "The alias is unknown or its entity is inactive; any path that is not a route.";
    /// `001`: a bearer token that is not valid.
    InvalidToken = "001", 401, "Invalid access token.",
        "A bearer token that is malformed, not signed by this installation, expired or revoked, \
         or an `Authorization` header that is not `Bearer`.";
    /// `002`: no credentials, a refused API key, or a missing scope.
    Unauthorized = "002", 403, "Unauthorized request.",
        "No credentials; an unknown, revoked or expired API key; or credentials that lack the \
         scope for this method and entity.";
    /// `1301`: the body is not Spryker's `{"data": …}` shape.
    InvalidFormat = "1301", 400,
        "Invalid or missing data format. Please ensure that the data is provided in the correct \
         format. Example request body: {\"data\":[{...},{...},..]}",
        "Write: the body is not `{\"data\": [...]}` (collection routes) or `{\"data\": {...}}` \
         (`/{id}` routes).";
    /// `1302`: the database refused a row for another reason.
    Persistence = "1302", 400,
        "Failed to persist the data for `<path>`. Please verify the provided data and try again. \
         The database reports: <reason>",
        "Write: the database refused a row (a value too long for its column, a check constraint).";
    /// `1303`: no row has this identifier.
    RowNotFound = "1303", 404, "The entity `<path>` could not be found in the database.",
        "No row has this identifier (GET by id, PATCH, DELETE), or nothing matched a DELETE.";
    /// `1304`: a field the operation may not set.
    Immutable = "1304", 400, "Modification of immutable field `<path>.<field>` is prohibited.",
        "Write: a field that is not creatable (rows created) or not editable (rows updated).";
    /// `1305`: a value of the wrong JSON type.
    InvalidType = "1305", 400,
        "Invalid data type `<path>` for field `<field>`: expected <type>.",
        "Write: a value of the wrong JSON type.";
    /// `1306`: a value that breaks the field's rules.
    InvalidValue = "1306", 400,
        "Invalid data value `<path>` for field: `<field>`. Field rules: <rules>",
        "Write: a value breaks `min`/`max`, `minLength`/`maxLength`, `precision`/`scale` or \
         `enumValues`.";
    /// `1307`: a required field is missing or null.
    Required = "1307", 400, "The required field must not be empty. Field: `<path>.<field>`",
        "POST, PUT: a required field is missing or null.";
    /// `1308`: PUT of an unknown identifier that may not be created.
    IdentifierNotCreatable = "1308", 400,
        "Entity `<path>.<identifier>: <value>` not found by identifier, and new identifier can \
         not be persisted. Please update the request.",
        "PUT: the identifier matches no row and the identifier field is not creatable.";
    /// `1309`: a unique key holds the value already.
    Duplicate = "1309", 400,
        "Failed to persist the data for `<path>.<field>`. Please verify the provided data and try \
         again. Entry is duplicated.",
        "Write: a unique key holds the value already.";
    /// `1310`: an update row without identifier.
    MissingIdentifier = "1310", 400, "Incomplete Request - missing identifier for `<path>`",
        "PATCH: a row (or nested row) without identifier.";
    /// `1311`: a scalar member that is not a configured field.
    UnknownField = "1311", 400, "The provided `<path>.<field>` is incorrect or invalid.",
        "Write: a scalar member that is not a configured field.";
    /// `1313`: an unknown relation in `include` or in a nested write.
    UnknownRelation = "1313", 400,
        "Relation `<name>` not found. Please check the requested relation name and try again.",
        "`include` names an unknown relation, or a write nests rows under one.";
    /// `1314`: nested rows under a relation that is not editable.
    RelationNotEditable = "1314", 422,
        "The relationship `<name>` is not editable by configuration.",
        "Write: nested rows under a relation that is not editable.";
    /// `1315`: a filter on a field that is not configured.
    UnknownFilterField = "1315", 400,
        "Filter field `<field>` for table alias `<alias>` not found.",
        "GET, DELETE: a filter names a field that is not configured.";
    /// `1316`: a value that breaks the `url` constraint.
    InvalidUrl = "1316", 400,
        "The URL is invalid. `<path>` field `<field>` must have a URL data format.",
        "Write: a value breaks the `url` constraint.";
    /// `1317`: a reference between rows is broken (on delete or on write).
    Reference = "1317", 400,
        "Failed to delete the data for `<alias>.<identifier> = <value>`. The entity has a child \
         entity and can not be deleted. Child entity: `<child>`.",
        "DELETE: other rows still reference the row; write: a referenced row does not exist.";
    /// `1318`: a method the route or the entity does not serve.
    MethodNotAllowed = "1318", 405, "Method not allowed.",
        "A method the route does not serve, or DELETE on an entity that is not deletable.";
    /// `1319`: a filter value that does not fit the field or operator.
    InvalidFilterValue = "1319", 400, "Invalid filter value for field `<field>`: <reason>.",
        "A filter value is not of the field's type, holds a NUL character, or does not suit its \
         operator.";
    /// `1320`: a malformed query parameter.
    InvalidParameter = "1320", 400, "Invalid query parameter `<name>`: <reason>.",
        "A malformed query parameter (`page[...]`, `sort`, `fields[...]`, `meta`, `filter[or]`, \
         a `filter`/`page` name without brackets, offset and cursor paging mixed, `page` or \
         `include` on DELETE).";
    /// `1321`: a `NOT NULL` column would be NULL.
    NotNull = "1321", 400,
        "Failed to persist the data for `<path>.<field>`. Please verify the provided data and try \
         again. Field must not be null.",
        "Write: a `NOT NULL` column would be NULL.";
    /// `1322`: the body is larger than the limit.
    BodyTooLarge = "1322", 413, "The request body is larger than the limit of <n> bytes.",
        "The request body exceeds the limit.";
    /// `1323`: a collection DELETE without a filter.
    FilterRequired = "1323", 400,
        "Deleting from `<alias>` needs at least one filter; a DELETE without a filter would \
         remove every row.",
        "DELETE on the collection without a filter.";
    /// `1324`: a write hook refused the row.
    Rejected = "1324", 400, "The entity `<path>` was rejected: <message>",
        "A write hook refused the row.";
    /// `1325`: an unknown or unfitting filter operator.
    InvalidOperator = "1325", 400, "Invalid filter operator `<op>` for field `<field>`: <reason>.",
        "A filter operator that does not exist or does not apply to the field's type.";
    /// `1326`: a keyset cursor that is not this server's for this query.
    InvalidCursor = "1326", 400, "Invalid cursor in `page[after]`: <reason>.",
        "A `page[after]` cursor that was altered, or was issued for another entity or sort.";
    /// `1327`: a conditional request whose `If-Match` or `If-None-Match` does not hold.
    PreconditionFailed = "1327", 412,
        "The entity `<path>` does not match the request's precondition (`<header>`); nothing \
         was written.",
        "PATCH, PUT or DELETE with `If-Match` naming no current ETag of the row (it changed, or \
         does not exist), or `If-None-Match` naming its current one; nothing was written.";
    /// `1328`: the request body did not arrive in time.
    BodyTimeout = "1328", 408, "The request body did not arrive within the body timeout (<n> s).",
        "The client sent the request's head but not its whole body within the body timeout; \
         the connection is closed.";
    /// `1329`: an object of the body names a member twice.
    DuplicateMember = "1329", 400,
        "The member `<name>` appears twice in one object of the request body.",
        "Write: an object of the JSON body names a member twice.";
    /// `1330`: a row sends `identifier` and the identifier's field with different values.
    IdentifierConflict = "1330", 400,
        "The row `<path>` names its identifier twice, as `identifier` and as `<field>`, with \
         different values.",
        "Write: a row sends both `identifier` and the identifier's visible name, with different \
         values.";
    /// `1401`: invalid input to the admin API or a CSV header that cannot be read.
    InvalidInput = "1401", 400, "<reason>",
        "Invalid input: an admin API request, or a CSV body whose header cannot be read.";
    /// `1402`: no such named object (admin API).
    NotFound = "1402", 404, "<kind> `<name>` not found",
        "Admin API: no such user, client, active API key, table, entity or job.";
    /// `1403`: the name is taken (admin API).
    AlreadyExists = "1403", 409, "<kind> `<name>` already exists",
        "Admin API: the name is taken, or the table is exposed already.";
    /// `1404`: an incoming webhook without the secret or signature its pipeline asks for.
    HookRefused = "1404", 401,
        "The webhook's secret or signature is missing or wrong.",
        "`POST /hooks/{pipeline}`: the shared secret or HMAC-SHA256 signature that the \
         pipeline's `hook` asks for is missing or wrong; no run was started.";
    /// `1390`: the database is unavailable or stayed busy; retry.
    Unavailable = "1390", 503, "The database is unavailable. Please try again later.",
        "The database is unavailable, or busy on every attempt of a write. Retry.";
    /// `1392`: the database cancelled a statement that ran past the statement timeout.
    StatementTimeout = "1392", 503, "The request took longer than the server allows. Narrow it or try again later.",
        "A statement ran past the server's statement timeout and was cancelled.";
    /// `1391`: any other server-side failure.
    Internal = "1391", 500, "Internal server error.",
        "Any other server-side failure; details are only logged.";
}

impl Code {
    /// The anchor of the code's row in `docs/errors.md` (`code-1315`).
    pub fn anchor(self) -> String {
        format!("code-{}", self.as_str())
    }

    /// Whether the failure is the server's, not the client's: its details are only logged.
    pub const fn is_server_error(self) -> bool {
        self.status() >= 500
    }

    /// The code of an error the HTTP framework raised itself, by its status.
    pub const fn for_status(status: u16) -> Code {
        match status {
            404 => Code::UnknownEntity,
            405 => Code::MethodNotAllowed,
            413 => Code::BodyTooLarge,
            500.. => Code::Internal,
            _ => Code::InvalidParameter,
        }
    }
}

/// Lets tests and callers compare a code with its spelling: `error.code() == "1309"`.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that has a place on the wire: a code, and the message a client is shown.
pub trait WireError: fmt::Display {
    /// The code this error is answered with.
    fn code(&self) -> Code;

    /// The message a client sees.
    ///
    /// By default the error's own text, or the code's fixed message for server-side failures,
    /// whose details only reach the log.
    fn message(&self) -> String {
        let code = self.code();
        if code.is_server_error() {
            code.message().to_string()
        } else {
            self.to_string()
        }
    }

    /// The error as one wire object.
    fn object(&self) -> ErrorObject {
        ErrorObject::new(self.code(), self.message())
    }
}

/// One error object of the wire format: `{"code": "1315", "status": 400, "message": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorObject {
    /// The error code, a string as in Spryker (`"1315"`, `"007"`).
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// A human-readable message.
    pub message: String,
}

impl ErrorObject {
    /// The object for `code` with `message`.
    pub fn new(code: Code, message: impl Into<String>) -> ErrorObject {
        ErrorObject {
            code: code.as_str(),
            status: code.status(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_is_listed_once_with_an_error_status() {
        let mut codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Code::ALL.len(), "each code once");
        for code in Code::ALL {
            assert!((400..600).contains(&code.status()), "{code}");
            assert!(
                !code.message().is_empty() && !code.when().is_empty(),
                "{code}"
            );
        }
    }

    #[test]
    fn framework_errors_get_the_codes_of_their_status() {
        assert_eq!(Code::for_status(404), Code::UnknownEntity);
        assert_eq!(Code::for_status(405), Code::MethodNotAllowed);
        assert_eq!(Code::for_status(413), Code::BodyTooLarge);
        assert_eq!(Code::for_status(502), Code::Internal);
        assert_eq!(Code::for_status(400), Code::InvalidParameter);
        assert_eq!(Code::for_status(411), Code::InvalidParameter);
    }

    #[test]
    fn server_errors_show_only_their_fixed_message() {
        struct Leaky;
        impl fmt::Display for Leaky {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("password authentication failed for user root")
            }
        }
        impl WireError for Leaky {
            fn code(&self) -> Code {
                Code::Internal
            }
        }
        let object = Leaky.object();
        assert_eq!(
            serde_json::to_value(&object).unwrap(),
            serde_json::json!({"code": "1391", "status": 500, "message": "Internal server error."})
        );
    }

    /// The rows of the `## Codes` table of `docs/errors.md`: code, status, message cell and the
    /// anchors the code cell holds.
    fn documented() -> Vec<(String, u16, String, String)> {
        let doc = include_str!("../../../docs/errors.md");
        let section = &doc[doc.find("## Codes").expect("a Codes section")..];
        let section = &section[..section.find("\n### ").unwrap_or(section.len())];
        section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split(" | ").collect();
                let code_cell = cells[0].trim_start_matches("| ");
                let code = code_cell.split('`').nth(1).expect("a code").to_string();
                let status = cells[1].trim().parse().expect("a status");
                (code, status, cells[2].to_string(), code_cell.to_string())
            })
            .collect()
    }

    /// `docs/errors.md` lists exactly these codes, each with its status, its message (among the
    /// rows of the code) and an anchor on its first row.
    #[test]
    fn the_documentation_lists_every_code() {
        let rows = documented();
        for code in Code::ALL {
            let own: Vec<_> = rows.iter().filter(|r| r.0 == code.as_str()).collect();
            assert!(!own.is_empty(), "docs/errors.md lacks {code}");
            for row in &own {
                assert_eq!(row.1, code.status(), "status of {code} in docs/errors.md");
            }
            assert!(
                own.iter().any(|row| row.2.contains(code.message())),
                "no row of {code} in docs/errors.md has the message {:?}",
                code.message()
            );
            let anchor = format!("<a id=\"{}\"></a>", code.anchor());
            assert!(
                own[0].3.contains(&anchor),
                "the first row of {code} in docs/errors.md lacks {anchor}"
            );
        }
        for row in &rows {
            assert!(
                Code::ALL.iter().any(|c| c.as_str() == row.0),
                "docs/errors.md lists {}, which is not a code",
                row.0
            );
        }
    }
}
