//! The `http` source: records read from any JSON API, a page at a time.
//!
//! One [`HttpSpec`] describes the request (URL, method, query, headers, body), where the records
//! are in each answer (a JSONPath, RFC 9535), how to reach the next page, how to log in, and how
//! hard to try. [`HttpSpec::open`] gives an [`HttpSource`] that makes one request per page (plus
//! retries and token calls) and holds one page in memory.
//!
//! Choices worth knowing:
//!
//! - **Records.** Every node `records` selects must be an element of an array (`$.items[*]`, not
//!   `$.items`); anything else is [`SourceError::Malformed`]. A path that selects nothing on a
//!   page gives an empty page, which ends `page` pagination and lets the others decide by their
//!   own signal (a next link, a cursor).
//! - **Next links** (`next_link`, `link_header`) are resolved against the URL of the page they
//!   came with and must stay on the same origin (scheme, host, port) as `url`: the credentials of
//!   the source are never sent to another server. A next link to a page already fetched fails
//!   the run instead of looping; so does a cursor that repeats.
//! - **Redirects are not followed** (the answer's status is reported): a redirect could carry an
//!   API key header to another host, and token calls must not follow redirects (SSRF).
//! - **`max_pages`** ends the run quietly after that many pages (a warning is logged when the
//!   API had more), so a run can take a bounded bite of a large backlog.
//! - **Incremental runs.** With `incremental: {cursor_param}`, the cursor the last run left
//!   (`Start::cursor`) is sent as that query parameter on every request the source builds
//!   (`url` + `query` + paging parameters); next links from the API are taken as they are, the
//!   API carries its filters in them. To resume a `cursor`-paginated API where the last run
//!   stopped, give `incremental.cursor_param` the name of `paginate.cursor.param`: the stored
//!   token ([`Page::token`](super::Page::token)) is then the first page's cursor. A date-time
//!   cursor can be rewritten first ([`CursorDateTime`]): Akeneo's `search` filter wants
//!   `2026-01-02 03:04:05` where its records say `2026-01-02T03:04:05+01:00`.
//! - **Retries** cover network errors (also an answer cut off mid-body), 429 and 5xx; a
//!   `Retry-After` (seconds or an HTTP date) is honoured up to five minutes. Token calls are
//!   not retried; an OAuth2 token is fetched again once when the API answers 401.
//! - **Secrets** (passwords, tokens, client secrets, API keys) never appear in errors or logs:
//!   URLs in errors lose their userinfo and the API key's query value, and every message is
//!   scrubbed of the secrets the spec holds, the values of credential headers among them
//!   (`Authorization`, a name with `key`, `token`, `secret`, `auth`, …). [`Secret`] also hides
//!   them from `Debug`.

mod link;
mod source;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json_path::JsonPath;
use url::Url;

use crate::problem::Checker;
use crate::source::{SourceError, Start};

pub(crate) use source::Call;
pub use source::HttpSource;

/// A secret string of a definition (a password, token, key): itself in (de)serialization,
/// `***` in `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The secret value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_owned())
    }
}

/// The definition of an `http` source: one JSON API read page by page.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    /// The URL of the first page (`http` or `https`).
    pub url: String,
    /// The HTTP method, `GET` unless `POST` is given.
    #[serde(default)]
    pub method: Method,
    /// Query parameters added to `url` (strings, numbers or booleans).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, serde_json::Value>,
    /// Headers sent with every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The JSON body of a `POST`, sent with every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// A JSONPath (RFC 9535) selecting the records in each answer; `$[*]` by default.
    #[serde(default = "default_records")]
    pub records: String,
    /// How to reach the next page; no paging by default.
    // A one-key map (`next_link: {path: …}`) in YAML too, as in JSON, rather than a YAML tag.
    #[serde(default, with = "serde_norway::with::singleton_map")]
    pub paginate: Paginate,
    /// At most this many pages per run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<u32>,
    /// How to log in; nothing by default.
    // A one-key map (`next_link: {path: …}`) in YAML too, as in JSON, rather than a YAML tag.
    #[serde(default, with = "serde_norway::with::singleton_map")]
    pub auth: HttpAuth,
    /// How often and how patiently a failed request is tried again.
    #[serde(default)]
    pub retry: Retry,
    /// At most this many requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<f64>,
    /// Seconds a request may take, 30 by default.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// How the cursor of the last run reaches the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<Incremental>,
}

fn default_records() -> String {
    "$[*]".to_owned()
}

/// Seconds a request may take when a definition does not say: the `timeout` of every source
/// and target that speaks HTTP.
pub(crate) fn default_timeout() -> u64 {
    30
}

/// Whether a definition logs in at all (its `auth` is left out when written back).
pub(crate) fn is_no_auth(auth: &HttpAuth) -> bool {
    *auth == HttpAuth::None
}

/// The HTTP method of an `http` source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum Method {
    /// `GET`, without a body.
    #[default]
    #[serde(rename = "GET", alias = "get")]
    Get,
    /// `POST`, with the JSON `body`.
    #[serde(rename = "POST", alias = "post")]
    Post,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// How an `http` source reaches the next page.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Paginate {
    /// One request, one page.
    #[default]
    None,
    /// The next page's URL is in the body; relative URLs are resolved against the page's URL.
    NextLink {
        /// A JSONPath to the URL (`$._links.next.href`); absent, null or empty ends the run.
        path: String,
    },
    /// The next page's URL is the `Link` header's `rel="next"` (RFC 8288).
    LinkHeader {},
    /// Pages are numbered: a query parameter counts up from `start`.
    Page {
        /// The query parameter of the page number.
        param: String,
        /// The first page's number, 1 by default.
        #[serde(default = "default_page_start")]
        start: u64,
        /// The query parameter of the page size, sent with `size`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size_param: Option<String>,
        /// The page size: a page with fewer records is the last one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
    /// Records are counted: a query parameter skips the records already read.
    Offset {
        /// The query parameter of the offset (0 first).
        param: String,
        /// The query parameter of the page size.
        limit_param: String,
        /// The page size: an answer with fewer records is the last one.
        limit: u64,
    },
    /// The API hands out a token for the next page, sent back as a query parameter.
    Cursor {
        /// The query parameter the token goes back in.
        param: String,
        /// A JSONPath to the token in the body; absent or null ends the run.
        path: String,
    },
}

fn default_page_start() -> u64 {
    1
}

/// How an `http` source logs in.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum HttpAuth {
    /// No credentials.
    #[default]
    None,
    /// HTTP Basic.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// A fixed bearer token.
    Bearer {
        /// The token.
        token: Secret,
    },
    /// An API key in a header or a query parameter (exactly one of them).
    ApiKey {
        /// The header carrying the key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<String>,
        /// The query parameter carrying the key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<String>,
        /// The key.
        value: Secret,
    },
    /// An OAuth2 access token, fetched, cached and renewed by the source.
    Oauth2(OAuth2),
    /// A token from an API's own login request (PocketBase, Directus, many shop APIs): a JSON
    /// body posted to `url`, the token read from the answer, sent with every request and
    /// fetched again once when the API answers 401.
    Login(Login),
}

/// A login request that gives a token.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// Where the login is posted.
    pub url: String,
    /// The JSON body posted; every string in it is treated as a secret in errors and logs.
    pub body: serde_json::Value,
    /// A JSONPath to the token in the answer, `$.token` by default.
    #[serde(default = "default_login_token")]
    pub token: String,
    /// The header that carries the token, `Authorization` by default.
    #[serde(default = "default_login_header")]
    pub header: String,
    /// What comes before the token in that header, `Bearer ` by default (empty: the token
    /// alone).
    #[serde(default = "default_login_prefix")]
    pub prefix: String,
}

fn default_login_token() -> String {
    "$.token".to_owned()
}

fn default_login_header() -> String {
    "Authorization".to_owned()
}

fn default_login_prefix() -> String {
    "Bearer ".to_owned()
}

/// OAuth2 login of an `http` source (RFC 6749).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    /// The grant: `client_credentials` or `password`.
    pub grant: Grant,
    /// The token endpoint.
    pub token_url: String,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
    /// The resource owner's name (`password` grant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The resource owner's password (`password` grant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// The scopes asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// How the client authenticates at the token endpoint, HTTP Basic by default.
    #[serde(default)]
    pub client_auth: ClientAuth,
}

/// An OAuth2 grant type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// The client's own credentials (RFC 6749 §4.4).
    ClientCredentials,
    /// A resource owner's name and password (RFC 6749 §4.3), as Akeneo uses it.
    Password,
}

/// Where the OAuth2 client id and secret go in a token request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic (RFC 6749 §2.3.1).
    #[default]
    Basic,
    /// Form fields `client_id` and `client_secret` of the body.
    Body,
}

/// Retries of an `http` source's requests.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// How many times a request is tried in all, 5 by default.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// The first wait in milliseconds (500 by default), doubled each time up to 30 s.
    #[serde(default = "default_backoff")]
    pub backoff: u64,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            attempts: default_attempts(),
            backoff: default_backoff(),
        }
    }
}

fn default_attempts() -> u32 {
    5
}

fn default_backoff() -> u64 {
    500
}

/// How the cursor of the last run reaches an `http` source's requests.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Incremental {
    /// The query parameter given the stored cursor, when there is one.
    pub cursor_param: String,
    /// The parameter's value, `{cursor}` standing for the cursor (`updated >= '{cursor}'`
    /// for an API that takes a filter expression); the cursor alone by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The stored cursor is a date-time (RFC 3339) that the API wants written otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datetime: Option<CursorDateTime>,
}

/// How a date-time cursor is written into a request.
///
/// For APIs whose filters take another form than the one their records carry: Akeneo answers
/// `2026-01-02T03:04:05+01:00` and filters on `2026-01-02 03:04:05`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CursorDateTime {
    /// A strftime format (`%Y-%m-%d %H:%M:%S`), applied in the cursor's own UTC offset: the
    /// API's answer gives times in its own time zone, and reads filters in that zone.
    pub format: String,
    /// Seconds taken off the cursor before it is written, 0 by default: with `1`, an API that
    /// compares with `>` and whole seconds reads the records of the cursor's second again,
    /// as `>=` would, so a record changed in that second after the last run is not missed.
    #[serde(default)]
    pub earlier: u32,
}

impl CursorDateTime {
    /// `cursor` written in this format, or why it cannot be.
    pub(crate) fn write(&self, cursor: &str) -> Result<String, String> {
        let time = chrono::DateTime::parse_from_rfc3339(cursor).map_err(|_| {
            format!(
                "the stored cursor `{cursor}` is not an RFC 3339 date-time (incremental.datetime)"
            )
        })?;
        let time = time - chrono::TimeDelta::seconds(i64::from(self.earlier));
        Ok(time.format(&self.format).to_string())
    }
}

/// Records a problem when `format` is not a strftime format chrono can write.
fn check_strftime(format: &str, path: &str, checker: &mut Checker) {
    use chrono::format::{Item, StrftimeItems};
    if format.is_empty() {
        checker.add(path, "the format is empty");
    } else if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        checker.add(path, "not a strftime format (`%Y-%m-%d %H:%M:%S`)");
    }
}

impl HttpSpec {
    /// Records every problem of this spec in `checker`, under the dotted `path` of the spec.
    pub fn check(&self, path: &str, checker: &mut Checker) {
        let at = |field: &str| {
            if path.is_empty() {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            }
        };
        check_url(&self.url, &at("url"), checker);
        if self.method == Method::Get && self.body.is_some() {
            checker.add(at("body"), "a body needs `method: POST`");
        }
        for (name, value) in &self.query {
            if name.is_empty() {
                checker.add(at("query"), "a query parameter needs a name");
            }
            if value.is_array() || value.is_object() || value.is_null() {
                checker.add(
                    at(&format!("query.{name}")),
                    "a query parameter is a string, a number or a boolean",
                );
            }
        }
        for (name, value) in &self.headers {
            check_header(name, value, &at(&format!("headers.{name}")), checker);
        }
        check_path(&self.records, &at("records"), checker);
        match &self.paginate {
            Paginate::None | Paginate::LinkHeader {} => {}
            Paginate::NextLink { path } => {
                check_path(path, &at("paginate.next_link.path"), checker);
            }
            Paginate::Page {
                param,
                size_param,
                size,
                ..
            } => {
                check_param(param, &at("paginate.page.param"), checker);
                if let Some(size_param) = size_param {
                    check_param(size_param, &at("paginate.page.size_param"), checker);
                    if size.is_none() {
                        checker.add(at("paginate.page.size"), "`size_param` needs a `size`");
                    }
                }
                if *size == Some(0) {
                    checker.add(at("paginate.page.size"), "the page size must be at least 1");
                }
            }
            Paginate::Offset {
                param,
                limit_param,
                limit,
            } => {
                check_param(param, &at("paginate.offset.param"), checker);
                check_param(limit_param, &at("paginate.offset.limit_param"), checker);
                if *limit == 0 {
                    checker.add(at("paginate.offset.limit"), "the limit must be at least 1");
                }
            }
            Paginate::Cursor { param, path } => {
                check_param(param, &at("paginate.cursor.param"), checker);
                check_path(path, &at("paginate.cursor.path"), checker);
            }
        }
        if self.max_pages == Some(0) {
            checker.add(at("max_pages"), "at least one page must be allowed");
        }
        self.check_auth(&at("auth"), checker);
        if self.retry.attempts == 0 {
            checker.add(at("retry.attempts"), "a request is tried at least once");
        }
        if let Some(rate) = self.rate_limit
            && !(rate.is_finite() && rate > 0.0)
        {
            checker.add(at("rate_limit"), "requests per second must be above 0");
        }
        if self.timeout == 0 {
            checker.add(at("timeout"), "a request needs at least one second");
        }
        if let Some(incremental) = &self.incremental {
            check_param(
                &incremental.cursor_param,
                &at("incremental.cursor_param"),
                checker,
            );
            if let Some(format) = &incremental.format
                && !format.contains("{cursor}")
            {
                checker.add(
                    at("incremental.format"),
                    "the format does not contain `{cursor}`, where the cursor goes",
                );
            }
            if let Some(datetime) = &incremental.datetime {
                check_strftime(
                    &datetime.format,
                    &at("incremental.datetime.format"),
                    checker,
                );
            }
        }
    }

    /// Records the problems of the spec's `auth` under `path`.
    pub(crate) fn check_auth(&self, path: &str, checker: &mut Checker) {
        match &self.auth {
            HttpAuth::None | HttpAuth::Bearer { .. } => {}
            HttpAuth::Basic { username, .. } => {
                if username.contains(':') {
                    checker.add(
                        format!("{path}.basic.username"),
                        "a Basic user name cannot contain `:`",
                    );
                }
            }
            HttpAuth::ApiKey { header, query, .. } => match (header, query) {
                (Some(header), None) => {
                    check_header(header, "", &format!("{path}.api_key.header"), checker);
                }
                (None, Some(query)) => {
                    check_param(query, &format!("{path}.api_key.query"), checker);
                }
                _ => checker.add(
                    format!("{path}.api_key"),
                    "give exactly one of `header` and `query`",
                ),
            },
            HttpAuth::Oauth2(oauth) => {
                let at = |field: &str| format!("{path}.oauth2.{field}");
                check_url(&oauth.token_url, &at("token_url"), checker);
                if oauth.client_id.is_empty() {
                    checker.add(at("client_id"), "the client id is empty");
                }
                match oauth.grant {
                    Grant::Password => {
                        if oauth.username.is_none() {
                            checker.add(at("username"), "the password grant needs a username");
                        }
                        if oauth.password.is_none() {
                            checker.add(at("password"), "the password grant needs a password");
                        }
                    }
                    Grant::ClientCredentials => {
                        for (field, given) in [
                            ("username", oauth.username.is_some()),
                            ("password", oauth.password.is_some()),
                        ] {
                            if given {
                                checker.add(
                                    at(field),
                                    format!("`{field}` is only for the password grant"),
                                );
                            }
                        }
                    }
                }
                for (index, scope) in oauth.scopes.iter().enumerate() {
                    if scope.is_empty() || scope.contains(' ') {
                        checker.add(
                            at(&format!("scopes.{index}")),
                            "a scope is one word without spaces",
                        );
                    }
                }
            }
            HttpAuth::Login(login) => {
                let at = |field: &str| format!("{path}.login.{field}");
                check_url(&login.url, &at("url"), checker);
                check_path(&login.token, &at("token"), checker);
                check_header(&login.header, "", &at("header"), checker);
            }
        }
    }

    /// Opens the source for a run that continues from `start`.
    pub fn open(&self, start: &Start) -> Result<HttpSource, SourceError> {
        let mut checker = Checker::default();
        self.check("", &mut checker);
        if let Err(problems) = checker.finish() {
            return Err(SourceError::Other(format!(
                "the http source is not valid: {problems}"
            )));
        }
        HttpSource::new(self.clone(), start)
    }
}

/// Records a problem when `url` is not an `http` or `https` URL with a host.
pub(crate) fn check_url(url: &str, path: &str, checker: &mut Checker) {
    match Url::parse(url) {
        Ok(parsed) => {
            if !matches!(parsed.scheme(), "http" | "https") {
                checker.add(path, "the URL must be http or https");
            } else if parsed.host_str().is_none_or(str::is_empty) {
                checker.add(path, "the URL has no host");
            }
        }
        // The parser's message names the kind of mistake; the URL itself may hold credentials.
        Err(error) => checker.add(path, format!("not a URL: {error}")),
    }
}

fn check_path(path_text: &str, path: &str, checker: &mut Checker) {
    if let Err(error) = JsonPath::parse(path_text) {
        checker.add(path, format!("not a JSONPath: {error}"));
    }
}

fn check_param(name: &str, path: &str, checker: &mut Checker) {
    if name.is_empty() {
        checker.add(path, "the parameter name is empty");
    }
}

/// Records a problem when `name` is not a header name or `value` holds a line break.
pub(crate) fn check_header(name: &str, value: &str, path: &str, checker: &mut Checker) {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        checker.add(path, "not a valid header name");
    }
    if value.contains(['\r', '\n']) {
        checker.add(path, "a header value cannot contain a line break");
    }
}
