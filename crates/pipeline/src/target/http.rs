//! The `http` target: rows sent to any JSON API, one request per row or per batch of rows.
//!
//! ```yaml
//! target:
//!   http:
//!     url: "https://erp.example.com/api/items/{{ row.sku }}"
//!     method: PUT
//!     body: |
//!       {"item": {"sku": {{ row.sku }}, "name": {{ row.name }}}}
//! ```
//!
//! `url` and `body` are [minijinja](https://docs.rs/minijinja) templates. Per record they see
//! the row as `row` (its mapped fields) and the run's variables as `vars`; per batch the body
//! sees the rows as `rows`, and the URL `vars` only. Two escapings keep a value from changing
//! the request's structure:
//!
//! - in `url`, every `{{ … }}` is percent-encoded (`A/B` becomes `A%2FB`), and null refuses the
//!   row; `| safe` inserts a value as it is;
//! - in `body`, every `{{ … }}` is written as JSON (minijinja's JSON auto-escaping): a string
//!   with its quotes, a number, `null`, an object. `tojson` does the same. Text is joined with
//!   `~` inside the braces (`{{ row.first ~ " " ~ row.last }}`).
//!
//! Without `body`, a row is sent as a JSON object of its fields, a batch as an array of them.
//! The rendered body must be JSON.
//!
//! Requests go through an [`HttpSource`] opened on the URL's origin, so auth, retries of
//! network errors, `429` and `5xx` (with `Retry-After`), the rate limit and the redaction of
//! secrets are the http source's, and every request of a run goes over its one kept-alive
//! agent, one after the other. The scheme and host of `url` are written out (templates fill its
//! path and query only), and a rendered URL must stay on that origin: credentials never go to a
//! host a row names.
//!
//! **Answers.** Per record, a `2xx` answer delivers the row: `inserted` for `POST` (and for any
//! `201 Created`), `updated` for `PUT` and `PATCH`. A `4xx` answer refuses that row alone (a
//! dead letter whose code is the status and whose message is the answer's body), except `401`,
//! `403`, `405` and `408`, which would refuse every row alike and end the run. Per batch, a
//! `2xx` answer delivers every row of the batch (counted by the method) and any `4xx` ends the
//! run, as the answer does not say which rows it refuses.
//!
//! A run that fails within a page has sent some of that page's rows already; the page is not
//! committed, so the next run sends them again (at least once, never lost).

use std::collections::{BTreeMap, BTreeSet};

use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value as Jinja};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::problem::Checker;
use crate::source::Start;
use crate::source::dx::http_base;
use crate::source::http::{
    Call, HttpAuth, HttpSource, HttpSpec, Retry, check_header, check_url, default_timeout,
    is_no_auth,
};
use crate::target::{Delivered, RecordRow, Refusal, Target, TargetError};

/// The method of an `http` target's requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteMethod {
    /// `POST`: rows are created; counted `inserted`.
    #[default]
    #[serde(rename = "POST", alias = "post")]
    Post,
    /// `PUT`: rows are replaced (or created); counted `updated`.
    #[serde(rename = "PUT", alias = "put")]
    Put,
    /// `PATCH`: rows are changed; counted `updated`.
    #[serde(rename = "PATCH", alias = "patch")]
    Patch,
}

impl WriteMethod {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteMethod::Post => "POST",
            WriteMethod::Put => "PUT",
            WriteMethod::Patch => "PATCH",
        }
    }
}

/// How many rows one request of an `http` target carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    /// One request per row.
    #[default]
    Record,
    /// One request per `batch` rows.
    Batch,
}

/// The definition of an `http` target: a JSON API that takes rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTarget {
    /// The URL, a template whose scheme and host are written out (`https://x.test/items/{{
    /// row.sku }}`).
    pub url: String,
    /// `POST` (default), `PUT` or `PATCH`.
    #[serde(default)]
    pub method: WriteMethod,
    /// `record` (default): a request per row; `batch`: a request per `batch` rows.
    #[serde(default)]
    pub per: Per,
    /// Rows per request with `per: batch`, 100 by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    /// A template of the JSON body; the row (or the array of rows) by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Headers sent with every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// How to log in, as for the `http` source; nothing by default.
    #[serde(
        default,
        with = "serde_norway::with::singleton_map",
        skip_serializing_if = "is_no_auth"
    )]
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
    /// What a request that still fails after its retries (`5xx`, `429`, a network error)
    /// does: `fail` (default) ends the run; `dead_letter` makes its row a dead letter and goes
    /// on (per record only).
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Signs each request's body with a shared secret, so the receiver knows it comes from
    /// this dynex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<Sign>,
}

/// What a request that still fails after its retries does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// The run fails; the next run sends the page again.
    #[default]
    Fail,
    /// The row becomes a dead letter (code `retries`); its neighbours are sent.
    DeadLetter,
}

/// How an `http` target signs its requests: HMAC-SHA256 of `TIMESTAMP.BODY` with a shared
/// secret, as `sha256=HEX` in `header`, the Unix time in seconds in `timestamp_header`.
///
/// The timestamp is part of the signed text, so a receiver that refuses old timestamps (say,
/// older than five minutes) cannot be fed a recorded request again. Each try of a request is
/// signed afresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sign {
    /// The shared secret (usually a secret variable, `${WEBHOOK_SECRET}`).
    pub secret: crate::source::http::Secret,
    /// The header of the signature, `X-Dynex-Signature` by default.
    #[serde(default = "default_signature_header")]
    pub header: String,
    /// The header of the timestamp, `X-Dynex-Timestamp` by default.
    #[serde(default = "default_timestamp_header")]
    pub timestamp_header: String,
}

fn default_signature_header() -> String {
    "X-Dynex-Signature".into()
}

fn default_timestamp_header() -> String {
    "X-Dynex-Timestamp".into()
}

impl Sign {
    /// The signature header's value for a body sent at `timestamp`: `sha256=` and the
    /// hexadecimal HMAC-SHA256 of `TIMESTAMP.BODY`.
    pub fn signature(&self, timestamp: &str, body: &[u8]) -> String {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.secret.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(7 + 64);
        out.push_str("sha256=");
        for b in digest {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

/// Rows per request of `per: batch` when `batch` is not given.
const DEFAULT_BATCH: usize = 100;
/// The largest batch.
const MAX_BATCH: usize = 10_000;
/// How much of an answer a dead letter or an error quotes.
const QUOTED: usize = 500;

/// The templates' names in their environment; the auto-escaping goes by them.
const URL: &str = "url";
const BODY: &str = "body";
/// The custom auto-escaping of the URL template: percent-encoding.
const URL_ESCAPE: AutoEscape = AutoEscape::Custom("url");

impl HttpTarget {
    /// Rows per request: 1 per record, `batch` (100 by default) per batch.
    pub fn rows_per_request(&self) -> usize {
        match self.per {
            Per::Record => 1,
            Per::Batch => self.batch.unwrap_or(DEFAULT_BATCH),
        }
    }

    /// Records every problem of this spec in `checker`, under the dotted `path` of the spec;
    /// `fields` are the mapping's fields, which templates see as `row.FIELD`.
    pub fn check(&self, path: &str, fields: &[&str], checker: &mut Checker) {
        let _ = self.compile(path, fields, checker);
    }

    /// Checks the spec and compiles its templates: the templates' environment and the URL's
    /// origin, or `None` when there is a problem.
    fn compile(
        &self,
        path: &str,
        fields: &[&str],
        checker: &mut Checker,
    ) -> Option<(Environment<'static>, String)> {
        let at = |field: &str| format!("{path}.{field}");
        let mut mine = Checker::default();
        let base = match base_of(&self.url) {
            Ok(base) => {
                // Only the origin is known before rendering; its problems are the URL's.
                check_url(&base, &at("url"), &mut mine);
                base
            }
            Err(message) => {
                mine.add(at("url"), message);
                String::new()
            }
        };
        if self.per == Per::Record && self.batch.is_some() {
            mine.add(at("batch"), "`batch` is for `per: batch`");
        }
        if self.batch.is_some_and(|b| b == 0 || b > MAX_BATCH) {
            mine.add(at("batch"), format!("a batch holds 1 to {MAX_BATCH} rows"));
        }
        for (name, value) in &self.headers {
            check_header(name, value, &at(&format!("headers.{name}")), &mut mine);
        }
        let client = self.client_spec(base);
        client.check_auth(&at("auth"), &mut mine);
        if self.retry.attempts == 0 {
            mine.add(at("retry.attempts"), "a request is tried at least once");
        }
        if let Some(rate) = self.rate_limit
            && !(rate.is_finite() && rate > 0.0)
        {
            mine.add(at("rate_limit"), "requests per second must be above 0");
        }
        if self.timeout == 0 {
            mine.add(at("timeout"), "a request needs at least one second");
        }
        if self.on_failure == OnFailure::DeadLetter && self.per == Per::Batch {
            mine.add(
                at("on_failure"),
                "`dead_letter` is for `per: record`: a failed batch ends the run",
            );
        }
        if let Some(sign) = &self.sign {
            if sign.secret.expose().is_empty() {
                mine.add(at("sign.secret"), "the secret is empty");
            }
            check_header(&sign.header, "x", &at("sign.header"), &mut mine);
            check_header(
                &sign.timestamp_header,
                "x",
                &at("sign.timestamp_header"),
                &mut mine,
            );
        }
        let mut env = environment();
        let (url_sees, body_sees): (&[&str], &[&str]) = match self.per {
            Per::Record => (&["row", "vars"], &["row", "vars"]),
            Per::Batch => (&["vars"], &["rows", "vars"]),
        };
        add_template(
            &mut env,
            URL,
            &self.url,
            url_sees,
            fields,
            &at("url"),
            &mut mine,
        );
        if let Some(body) = &self.body {
            add_template(
                &mut env,
                BODY,
                body,
                body_sees,
                fields,
                &at("body"),
                &mut mine,
            );
            check_quoted(body, &at("body"), &mut mine);
        }
        match mine.finish() {
            Ok(()) => Some((env, client.url)),
            Err(problems) => {
                for problem in problems.0 {
                    checker.add(problem.path, problem.message);
                }
                None
            }
        }
    }

    /// The `http` spec of the client requests go through: the URL's origin, with the target's
    /// headers, auth, retries, rate limit and timeout.
    fn client_spec(&self, base: String) -> HttpSpec {
        HttpSpec {
            headers: self.headers.clone(),
            auth: self.auth.clone(),
            retry: self.retry.clone(),
            rate_limit: self.rate_limit,
            timeout: self.timeout,
            ..http_base(base)
        }
    }

    /// Opens the target for a run whose mapping fills `fields`, whose templates see `vars`, and
    /// whose secret variables `redactor` hides: nothing is sent until the first rows are
    /// delivered.
    pub fn open(
        &self,
        fields: &[&str],
        vars: &Map<String, Value>,
        redactor: &crate::redact::Redactor,
    ) -> Result<HttpWriter, TargetError> {
        let mut checker = Checker::default();
        let compiled = self.compile("target.http", fields, &mut checker);
        let (env, base) = match (checker.finish(), compiled) {
            (Ok(()), Some(compiled)) => compiled,
            (Err(problems), _) => {
                return Err(TargetError(format!(
                    "the http target is not valid: {problems}"
                )));
            }
            (Ok(()), None) => return Err(TargetError("the http target is not valid".into())),
        };
        let origin = Url::parse(&base)
            .map_err(|_| TargetError("the http target's URL is not valid".into()))?;
        let mut client = self
            .client_spec(base)
            .open(&Start::default())
            .map_err(|e| TargetError(e.to_string()))?;
        // The run hides them too, but only after a quoted answer is shortened, which may cut one.
        for secret in redactor.secrets() {
            client.add_secret(secret);
        }
        if let Some(sign) = &self.sign {
            client.add_secret(sign.secret.expose());
        }
        Ok(HttpWriter {
            spec: self.clone(),
            env,
            vars: Jinja::from_serialize(vars),
            origin,
            client,
        })
    }
}

/// The templates' environment: minijinja as the mapping uses it, with the escapings of a URL
/// and of a JSON body, and undefined values refused where they would be written.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name == URL {
            URL_ESCAPE
        } else {
            AutoEscape::Json
        }
    });
    // A misspelt member must not become an empty path segment or a silent gap in a body; a
    // test such as `{% if vars.channel %}` may still ask for one.
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_formatter(|out, state, value| {
        if state.auto_escape() != URL_ESCAPE {
            return minijinja::escape_formatter(out, state, value);
        }
        if value.is_none() || value.is_undefined() {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                "a null value cannot go into the URL",
            ));
        }
        // As JSON writes them, not as minijinja prints them (`True`).
        let text = match value.kind() {
            ValueKind::Bool => (if value.is_true() { "true" } else { "false" }).to_owned(),
            _ => value.to_string(),
        };
        if value.is_safe() {
            out.write_str(&text)?;
        } else {
            let encoded = percent_encoding::utf8_percent_encode(&text, COMPONENT);
            out.write_str(&encoded.to_string())?;
        }
        Ok(())
    });
    env
}

/// What a value in a URL is encoded from: everything but the unreserved characters of RFC
/// 3986, so that it stays one path segment or one query value.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Adds template `name` to `env`, checking that it parses and uses no variable but `sees` (and
/// minijinja's own functions), and no member of `row` the mapping does not fill.
fn add_template(
    env: &mut Environment<'static>,
    name: &'static str,
    source: &str,
    sees: &[&str],
    fields: &[&str],
    at: &str,
    checker: &mut Checker,
) {
    if let Err(e) = env.add_template_owned(name, source.to_owned()) {
        checker.add(at, format!("the template does not parse: {e}"));
        return;
    }
    let Ok(template) = env.get_template(name) else {
        return;
    };
    let globals: BTreeSet<&str> = env.globals().map(|(name, _)| name).collect();
    let mut used: Vec<String> = template.undeclared_variables(true).into_iter().collect();
    used.sort();
    let seen = sees
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(" and ");
    for var in used {
        let mut parts = var.splitn(3, '.');
        let top = parts.next().unwrap_or_default();
        if globals.contains(top) {
            continue;
        }
        if !sees.contains(&top) {
            let why = match top {
                "row" => "; per batch, the rows are `rows`",
                "rows" if sees.contains(&"row") => "; per record, the row is `row`",
                "rows" => "; the URL of a batch sees `vars` only",
                "record" | "item" => "; the target sees the mapped row, not the source record",
                _ => "",
            };
            checker.add(
                at,
                format!("`{top}` is unknown: the template sees {seen}{why}"),
            );
        } else if top == "row"
            && let Some(field) = parts.next()
            && !fields.contains(&field)
        {
            checker.add(
                at,
                format!("`row.{field}`: the mapping fills no field `{field}`"),
            );
        }
    }
}

/// Refuses a `{{ … }}` inside a JSON string of a body: a value is written as JSON, with its
/// own quotes, so `"{{ row.name }}"` would be a string in a string.
fn check_quoted(body: &str, at: &str, checker: &mut Checker) -> bool {
    let bytes = body.as_bytes();
    let (mut in_string, mut escaped) = (false, false);
    let mut i = 0;
    while i < bytes.len() {
        let close = match bytes[i..] {
            [b'{', b'{', ..] => Some("}}"),
            [b'{', b'%', ..] => Some("%}"),
            [b'{', b'#', ..] => Some("#}"),
            _ => None,
        };
        if let Some(close) = close {
            let end = body[i + 2..]
                .find(close)
                .map_or(body.len(), |end| i + 2 + end + 2);
            let tag = &body[i..end];
            // `| safe` writes text as it is, which may sit inside a string.
            if in_string && tag.starts_with("{{") && !tag.contains("safe") {
                checker.add(
                    at,
                    format!(
                        "`{tag}` is inside a JSON string, but it writes a JSON value, quotes \
                         included: put it outside the quotes, and join text with `~` \
                         (`{{{{ \"SKU-\" ~ row.sku }}}}`)"
                    ),
                );
                return false;
            }
            i = end;
            continue;
        }
        match bytes[i] {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            _ => {}
        }
        i += 1;
    }
    true
}

/// The scheme and authority of `url`, written before any template tag: where requests go.
fn base_of(url: &str) -> Result<String, String> {
    let tag = ["{{", "{%", "{#"]
        .iter()
        .filter_map(|tag| url.find(tag))
        .min();
    let literal = &url[..tag.unwrap_or(url.len())];
    let Some(scheme_end) = literal.find("://") else {
        return Err(if tag.is_some() {
            "write the scheme and host out: templates fill the path and query only".to_owned()
        } else {
            "not a URL: write `http://` or `https://` and a host".to_owned()
        });
    };
    let authority = &literal[scheme_end + 3..];
    let end = match authority.find(['/', '?', '#']) {
        Some(end) => end,
        None if tag.is_some() => {
            return Err(
                "write the scheme and host out: templates fill the path and query only".to_owned(),
            );
        }
        None => authority.len(),
    };
    Ok(format!("{}/", &literal[..scheme_end + 3 + end]))
}

/// An open `http` target.
pub struct HttpWriter {
    spec: HttpTarget,
    env: Environment<'static>,
    vars: Jinja,
    /// Where every request must go.
    origin: Url,
    client: HttpSource,
}

/// Why a row or batch could not be made into a request: the template's message.
struct Unrendered {
    part: &'static str,
    message: String,
}

impl Target for HttpWriter {
    fn deliver(&mut self, rows: Vec<RecordRow>) -> Result<Delivered, TargetError> {
        let mut delivered = Delivered::default();
        match self.spec.per {
            Per::Record => {
                for row in &rows {
                    self.send_row(row, &mut delivered)?;
                }
            }
            Per::Batch => {
                for batch in rows.chunks(self.spec.rows_per_request()) {
                    self.send_batch(batch, &mut delivered)?;
                }
            }
        }
        Ok(delivered)
    }
}

impl HttpWriter {
    /// Sends one row; a refusal of the row is added to `delivered`, an error ends the run.
    fn send_row(&mut self, row: &RecordRow, delivered: &mut Delivered) -> Result<(), TargetError> {
        let context = minijinja::context! {
            row => Jinja::from_serialize(&row.fields),
            vars => self.vars.clone(),
        };
        let request = self.url(&context).and_then(|url| {
            let body = match &self.spec.body {
                Some(_) => self.body(&context)?,
                None => Value::Object(row.fields.clone()),
            };
            Ok((url, body))
        });
        let (url, body) = match request {
            Ok(request) => request,
            Err(unrendered) => {
                delivered.refused.push(Refusal {
                    number: row.number,
                    code: "template".into(),
                    field: None,
                    message: self.client.redact(&format!(
                        "the {} template: {}",
                        unrendered.part, unrendered.message
                    )),
                });
                return Ok(());
            }
        };
        let (status, answer) = match self.send(&url, &body) {
            Ok(answer) => answer,
            Err(e) => {
                self.delivered(&[row.number], &url, None, Some(&e.0), delivered);
                if self.spec.on_failure == OnFailure::DeadLetter {
                    delivered.refused.push(Refusal {
                        number: row.number,
                        code: "retries".into(),
                        field: None,
                        message: e.0,
                    });
                    return Ok(());
                }
                return Err(e);
            }
        };
        let failed = (!(200..300).contains(&status)).then(|| {
            let text = self.quote(&answer);
            if text.is_empty() {
                format!("the server answered {status} without a body")
            } else {
                text
            }
        });
        self.delivered(
            &[row.number],
            &url,
            Some(status),
            failed.as_deref(),
            delivered,
        );
        match status {
            200..=299 => {
                if status == 201 || self.spec.method == WriteMethod::Post {
                    delivered.inserted += 1;
                } else {
                    delivered.updated += 1;
                }
            }
            401 | 403 | 405 | 408 => return Err(self.refused_all(&url, status, &answer)),
            _ => {
                let text = self.quote(&answer);
                delivered.refused.push(Refusal {
                    number: row.number,
                    code: status.to_string(),
                    field: None,
                    message: if text.is_empty() {
                        format!("the server answered {status} without a body")
                    } else {
                        text
                    },
                });
            }
        }
        Ok(())
    }

    /// Sends one batch; anything but a `2xx` answer ends the run.
    fn send_batch(
        &mut self,
        batch: &[RecordRow],
        delivered: &mut Delivered,
    ) -> Result<(), TargetError> {
        let fields: Vec<&Map<String, Value>> = batch.iter().map(|row| &row.fields).collect();
        let context = minijinja::context! {
            rows => Jinja::from_serialize(&fields),
            vars => self.vars.clone(),
        };
        let request = self.url(&context).and_then(|url| {
            let body = match &self.spec.body {
                Some(_) => self.body(&context)?,
                None => Value::Array(fields.iter().map(|f| Value::Object((*f).clone())).collect()),
            };
            Ok((url, body))
        });
        let (url, body) = request.map_err(|unrendered| {
            TargetError(self.client.redact(&format!(
                "the {} template failed for a batch of {} rows: {}",
                unrendered.part,
                batch.len(),
                unrendered.message
            )))
        })?;
        let numbers: Vec<u64> = batch.iter().map(|r| r.number).collect();
        let (status, answer) = match self.send(&url, &body) {
            Ok(answer) => answer,
            Err(e) => {
                self.delivered(&numbers, &url, None, Some(&e.0), delivered);
                return Err(e);
            }
        };
        if !(200..300).contains(&status) {
            let error = self.refused_all(&url, status, &answer);
            self.delivered(&numbers, &url, Some(status), Some(&error.0), delivered);
            return Err(error);
        }
        self.delivered(&numbers, &url, Some(status), None, delivered);
        let sent = batch.len() as u64;
        match self.spec.method {
            WriteMethod::Post => delivered.inserted += sent,
            WriteMethod::Put | WriteMethod::Patch => delivered.updated += sent,
        }
        Ok(())
    }

    /// Sends `body` to `url`; the answer's status and body (as text when it is not JSON).
    fn send(&mut self, url: &Url, body: &Value) -> Result<(u16, Value), TargetError> {
        let call = Call {
            method: self.spec.method.as_str(),
            body: Some(body),
            headers: &[],
            any_answer: true,
            sign: self.spec.sign.as_ref(),
        };
        self.client
            .send(url, &call, true)
            .map_err(|e| TargetError(e.to_string()))
    }

    /// Lists a request among the deliveries of the page.
    fn delivered(
        &self,
        numbers: &[u64],
        url: &Url,
        status: Option<u16>,
        error: Option<&str>,
        delivered: &mut Delivered,
    ) {
        delivered.deliveries.push((
            numbers.to_vec(),
            dynex_core::changes::NewDelivery {
                url: self.client.shown(url),
                status,
                attempts: self.client.tries(),
                ok: error.is_none(),
                error: error.map(|e| self.client.redact(e)),
                record: Value::Null,
            },
        ));
    }

    /// The error of an answer that refuses every row alike.
    fn refused_all(&self, url: &Url, status: u16, answer: &Value) -> TargetError {
        let text = self.quote(answer);
        let text = if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        };
        TargetError(self.client.redact(&format!(
            "{} {} answered {status}{text}",
            self.spec.method.as_str(),
            self.client.shown(url)
        )))
    }

    /// An answer's body as text for a message: JSON as compact JSON, text trimmed, without
    /// secrets, shortened.
    fn quote(&self, answer: &Value) -> String {
        let text = match answer {
            Value::Null => return String::new(),
            Value::String(text) => self.client.redact(text.trim()),
            other => self.client.redact(&other.to_string()),
        };
        shorten(&text, QUOTED)
    }

    /// The rendered URL of a request.
    fn url(&self, context: &Jinja) -> Result<Url, Unrendered> {
        let failed = |message: String| Unrendered { part: URL, message };
        let text = self
            .env
            .get_template(URL)
            .and_then(|t| t.render(context))
            .map_err(|e| failed(e.to_string()))?;
        let url =
            Url::parse(text.trim()).map_err(|e| failed(format!("`{text}` is not a URL: {e}")))?;
        let same_origin = url.scheme() == self.origin.scheme()
            && url.host_str() == self.origin.host_str()
            && url.port_or_known_default() == self.origin.port_or_known_default();
        if !same_origin {
            return Err(failed(format!(
                "`{}` leaves {}, the URL's origin; credentials stay with it",
                self.client.shown(&url),
                self.client.shown(&self.origin)
            )));
        }
        Ok(url)
    }

    /// The rendered body of a request, which must be JSON.
    fn body(&self, context: &Jinja) -> Result<Value, Unrendered> {
        let failed = |message: String| Unrendered {
            part: BODY,
            message,
        };
        let text = self
            .env
            .get_template(BODY)
            .and_then(|t| t.render(context))
            .map_err(|e| failed(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| {
            failed(format!(
                "the body is not JSON ({e}): {}",
                shorten(&self.client.redact(text.trim()), QUOTED)
            ))
        })
    }
}

/// `text` cut to at most `max` bytes on a character boundary, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_written_before_any_template() {
        assert_eq!(
            base_of("https://x.test:8443/a/{{ row.sku }}").unwrap(),
            "https://x.test:8443/"
        );
        assert_eq!(base_of("http://x.test").unwrap(), "http://x.test/");
        assert_eq!(
            base_of("http://x.test?{{ vars.q }}").unwrap(),
            "http://x.test/"
        );
        assert!(base_of("https://{{ row.host }}/a").is_err());
        assert!(base_of("{{ vars.base }}/a").is_err());
        assert!(base_of("https://x.test{{ row.port }}/a").is_err());
    }

    #[test]
    fn url_values_are_percent_encoded_and_bodies_json() {
        let mut env = environment();
        env.add_template(
            URL,
            "http://x.test/i/{{ row.sku }}?n={{ row.n }}&raw={{ row.raw | safe }}&y={{ row.yes }}",
        )
        .unwrap();
        env.add_template(
            BODY,
            "{\"sku\": {{ row.sku }}, \"n\": {{ row.n | tojson }}, \"none\": {{ row.none }}}",
        )
        .unwrap();
        let row = minijinja::context! {
            row => Jinja::from_serialize(serde_json::json!(
                {"sku": "A/B c\"", "n": 2.5, "raw": "a/b", "none": null, "yes": true}
            )),
        };
        let url = env.get_template(URL).unwrap().render(&row).unwrap();
        assert_eq!(url, "http://x.test/i/A%2FB%20c%22?n=2.5&raw=a/b&y=true");
        let body = env.get_template(BODY).unwrap().render(&row).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            serde_json::json!({"sku": "A/B c\"", "n": 2.5, "none": null})
        );
        env.add_template("url", "http://x.test/{{ row.none }}")
            .unwrap();
        let error = env.get_template(URL).unwrap().render(&row).unwrap_err();
        assert!(error.to_string().contains("null value"), "{error}");
        env.add_template("url", "http://x.test/{{ row.missing }}")
            .unwrap();
        assert!(env.get_template(URL).unwrap().render(&row).is_err());
    }

    #[test]
    fn loops_and_functions_are_no_unknown_names() {
        let mut env = environment();
        let mut checker = Checker::default();
        add_template(
            &mut env,
            BODY,
            "[{% for r in rows %}{% set n = r.code | lower %}{{ n }}{% if not loop.last %},\
             {% endif %}{% endfor %}] {{ range(2) | list }} {{ namespace() }}",
            &["rows", "vars"],
            &["code"],
            "b",
            &mut checker,
        );
        assert!(checker.is_empty(), "{:?}", checker.finish());
        add_template(
            &mut env,
            URL,
            "http://x/{{ nope }}",
            &["vars"],
            &[],
            "u",
            &mut checker,
        );
        assert!(!checker.is_empty());
    }

    #[test]
    fn quoted_values_in_a_body_are_refused() {
        let mut checker = Checker::default();
        for fine in [
            r#"{"a": {{ row.a }}, "b": {{ "x-" ~ row.b }}, "c": "}}"}"#,
            r#"{"a": "x-{{ row.a | safe }}", "b": "\"{% if row.b %}y{% endif %}"}"#,
            r#"{"ä": {{ row.a }}, "é": [{% for r in rows %}{{ r.a }}{% endfor %}]}"#,
        ] {
            assert!(check_quoted(fine, "b", &mut checker), "{fine}");
        }
        assert!(checker.is_empty());
        assert!(!check_quoted(r#"{"a": "{{ row.a }}"}"#, "b", &mut checker));
        assert!(!check_quoted(
            r#"{"a\"": "x {{ row.a }}"}"#,
            "b",
            &mut checker
        ));
        let problems = checker.finish().unwrap_err().0;
        assert_eq!(problems.len(), 2);
        assert!(
            problems[0].message.contains("inside a JSON string"),
            "{problems:?}"
        );
    }
}
