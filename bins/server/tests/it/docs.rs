//! The examples of `docs/api.md`, `docs/writes.md` and `docs/auth.md` hold: each documented
//! request gets the documented answer.
//!
//! An example is a request followed by a `Response `NNN`` line and, unless that line ends with a
//! period instead of a colon, a ```json block with the body. A request is either
//!
//! * an ```http block whose only line is `GET /path?query` (`api.md`; query values are shown
//!   readable and percent-encoded here, as a client would), or
//! * a ```sh block starting with `curl` (`writes.md`, `auth.md`): it is parsed as the shell
//!   would, and its `-X`, `-H`, `-d` (repeatable, form-encoded as curl does), `-u`, `-G` and
//!   `--data-urlencode` options are sent as curl sends them. Variables in double quotes are
//!   expanded: `$KEY` (the test's API key), `$CLIENT_SECRET` (of the client `erp-connector`),
//!   `$ADMIN_TOKEN` (an access token of the admin user `ops`), and `$TOKEN` / `$REFRESH_TOKEN`
//!   (the last ones a documented answer returned). The user `alice` has the password
//!   `correct horse battery staple`.
//!
//! The body must equal the documented JSON, except that a documented string ending in `…`
//! matches any string starting with the text before the `…` (for messages whose end depends on
//! the backend). The examples of one document run in order against one fresh demo database.

use std::collections::HashMap;

use actix_web::http::Method;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use base64::Engine;
use dynex_test_support::{TestDb, async_backend_tests, open_demo};
use serde_json::Value;

const API_DOC: &str = include_str!("../../../../docs/api.md");
const WRITES_DOC: &str = include_str!("../../../../docs/writes.md");
const AUTH_DOC: &str = include_str!("../../../../docs/auth.md");

/// The variables documented commands may use inside double quotes.
const VARIABLES: &[&str] = &[
    "KEY",
    "CLIENT_SECRET",
    "ADMIN_TOKEN",
    "TOKEN",
    "REFRESH_TOKEN",
];

/// Where the curl examples send their requests; stripped to the path.
const BASE_URL: &str = "http://127.0.0.1:8080";

#[derive(Debug)]
struct Example {
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    /// `-u user:password`, sent as HTTP Basic.
    basic: Option<String>,
    status: u16,
    /// `None` when the documented response has no body.
    response: Option<Value>,
    /// The request as written, for failure messages.
    shown: String,
}

/// A fenced block: its info string, its content, and where it starts and ends in the document.
struct Block<'a> {
    info: &'a str,
    text: &'a str,
    start: usize,
    end: usize,
}

/// The fenced blocks of a document, in order.
fn blocks(doc: &str) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(open) = doc[at..].find("```").map(|i| at + i) {
        let info_end = open + doc[open..].find('\n').expect("a line after ```");
        let close = info_end + 1 + doc[info_end + 1..].find("```").expect("closed block");
        out.push(Block {
            info: doc[open + 3..info_end].trim(),
            text: &doc[info_end + 1..close],
            start: open,
            end: close + 3,
        });
        at = close + 3;
    }
    out
}

/// Finds the examples of a document: its ```http blocks, and its `curl` blocks when `curl` is
/// set (a document whose `curl` blocks only illustrate leaves it unset).
fn examples(doc: &str, curl: bool) -> Vec<Example> {
    let all = blocks(doc);
    let mut out = Vec::new();
    for (i, block) in all.iter().enumerate() {
        let mut example = match block.info {
            "http" => http_request(block.text),
            "sh" if curl && block.text.starts_with("curl ") => curl_request(block.text),
            _ => continue,
        };
        // The status line comes before the next block.
        let next = all.get(i + 1);
        let between = &doc[block.end..next.map_or(doc.len(), |b| b.start)];
        let at = between
            .find("Response `")
            .unwrap_or_else(|| panic!("no `Response `NNN`` line after {}", example.shown));
        let line = between[at..].lines().next().unwrap_or_default();
        example.status = line[10..13].parse().expect("a three-digit status");
        if line.trim_end().ends_with(':') {
            let json = next.expect("a JSON block after the status");
            assert_eq!(
                json.info, "json",
                "the block after {} is JSON",
                example.shown
            );
            example.response = Some(
                serde_json::from_str(json.text)
                    .unwrap_or_else(|e| panic!("documented JSON of {}: {e}", example.shown)),
            );
        }
        out.push(example);
    }
    out
}

fn http_request(text: &str) -> Example {
    let line = text.lines().next().unwrap_or_default();
    let uri = line
        .strip_prefix("GET ")
        .expect("http examples are GET requests");
    Example {
        method: Method::GET,
        uri: encode(uri),
        headers: Vec::new(),
        body: None,
        basic: None,
        status: 0,
        response: None,
        shown: line.to_string(),
    }
}

/// Splits a command line as a POSIX shell does for the quoting used in the docs: `'…'` literal,
/// `"…"` with the [`VARIABLES`] turned into `{NAME}` placeholders, backslash-newline joining
/// lines.
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'\n') => {
                chars.next();
            }
            '\\' => word
                .get_or_insert_default()
                .push(chars.next().expect("an escaped character")),
            '\'' => {
                let w = word.get_or_insert_default();
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    w.push(c);
                }
            }
            '"' => {
                let w = word.get_or_insert_default();
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    inner.push(c);
                }
                // Longest names first: `$TOKEN` is a suffix of `$ADMIN_TOKEN`.
                let mut names = VARIABLES.to_vec();
                names.sort_by_key(|n| std::cmp::Reverse(n.len()));
                for name in names {
                    inner = inner.replace(&format!("${name}"), &format!("{{{name}}}"));
                }
                assert!(!inner.contains('$'), "unknown variable in {inner}");
                w.push_str(&inner);
            }
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            c => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    words
}

fn curl_request(text: &str) -> Example {
    let words = shell_words(text);
    assert_eq!(words[0], "curl");
    let mut method = None;
    let mut headers = Vec::new();
    let mut data: Vec<String> = Vec::new();
    let mut basic = None;
    let mut get = false;
    let mut url_encoded = Vec::new();
    let mut url = None;
    let mut args = words[1..].iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("an option value").clone();
        match arg.as_str() {
            "-X" | "--request" => method = Some(value()),
            "-H" | "--header" => {
                let h = value();
                let (name, v) = h.split_once(':').expect("Name: value");
                headers.push((name.trim().to_string(), v.trim().to_string()));
            }
            "-d" | "--data" | "--data-raw" => data.push(value()),
            "-u" | "--user" => basic = Some(value()),
            "--data-urlencode" => url_encoded.push(value()),
            "-G" | "--get" => get = true,
            "-g" | "--globoff" | "-s" | "--silent" | "-i" | "--include" => {}
            a if a.starts_with("http://") => url = Some(a.to_string()),
            other => panic!("unsupported curl argument `{other}` in {text}"),
        }
    }
    let url = url.expect("a URL");
    // curl joins repeated -d with `&` and sends them form-encoded unless told otherwise.
    let body = (!data.is_empty()).then(|| data.join("&"));
    if body.is_some()
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push((
            "Content-Type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        ));
    }
    let mut uri = url
        .strip_prefix(BASE_URL)
        .unwrap_or_else(|| panic!("examples call {BASE_URL}: {url}"))
        .to_string();
    if get {
        for pair in &url_encoded {
            let (name, content) = pair.split_once('=').expect("name=content");
            let encoded: String = form_urlencoded::byte_serialize(content.as_bytes()).collect();
            uri.push(if uri.contains('?') { '&' } else { '?' });
            uri.push_str(&format!("{name}={encoded}"));
        }
    } else {
        assert!(url_encoded.is_empty(), "--data-urlencode needs -G here");
    }
    let method = match (method, &body) {
        (Some(m), _) => m,
        (None, Some(_)) if !get => "POST".to_string(),
        _ => "GET".to_string(),
    };
    Example {
        method: Method::from_bytes(method.as_bytes()).expect("a method"),
        uri,
        headers,
        body,
        basic,
        status: 0,
        response: None,
        shown: text.lines().next().unwrap_or_default().to_string(),
    }
}

/// Percent-encodes query values as a client would (the doc shows them readable).
fn encode(uri: &str) -> String {
    let Some((path, query)) = uri.split_once('?') else {
        return uri.to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => format!(
                "{k}={}",
                form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            ),
            None => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// Whether `actual` is what `documented` shows (see the module documentation for `…`).
fn matches(documented: &Value, actual: &Value) -> bool {
    match (documented, actual) {
        (Value::String(d), Value::String(a)) => match d.strip_suffix('…') {
            Some(prefix) => a.starts_with(prefix),
            None => a == d,
        },
        (Value::Array(d), Value::Array(a)) => {
            d.len() == a.len() && d.iter().zip(a).all(|(d, a)| matches(d, a))
        }
        (Value::Object(d), Value::Object(a)) => {
            d.len() == a.len()
                && d.iter()
                    .zip(a)
                    .all(|((dk, dv), (ak, av))| dk == ak && matches(dv, av))
        }
        (d, a) => d == a,
    }
}

/// Replaces `{NAME}` placeholders by the variables' values.
fn expand(text: &str, vars: &HashMap<&'static str, String>) -> String {
    let mut out = text.to_string();
    for (name, value) in vars {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// Runs the examples of `doc`, in order, against a fresh demo database on `db`.
async fn run_examples(db: &TestDb, doc: &str, curl: bool, at_least: usize) {
    let dynex = open_demo(db);
    let key = dynex.create_api_key("docs", &[], None).unwrap().key;
    let password = "correct horse battery staple";
    dynex
        .add_user("alice", password, dynex_auth::Role::Integrator)
        .unwrap();
    dynex
        .add_user("ops", password, dynex_auth::Role::Admin)
        .unwrap();
    let client_scopes = dynex_auth::parse_scopes("dynamic-entity:read").unwrap();
    let client_secret = dynex
        .add_client("erp-connector", &client_scopes)
        .unwrap()
        .client_secret;
    let app = init_service(dynex_server::create_app(
        dynex.clone(),
        dynex_server::AppConfig::default(),
    ))
    .await;
    let admin_token = dynex
        .token(&dynex_core::TokenRequest {
            grant_type: "password".into(),
            username: Some("ops".into()),
            password: Some(password.into()),
            address: "docs".into(),
            ..dynex_core::TokenRequest::default()
        })
        .unwrap()
        .access_token;
    let mut vars: HashMap<&'static str, String> = HashMap::from([
        ("KEY", key.clone()),
        ("CLIENT_SECRET", client_secret),
        ("ADMIN_TOKEN", admin_token),
    ]);
    let examples = examples(doc, curl);
    assert!(
        examples.len() >= at_least,
        "found {} examples",
        examples.len()
    );
    for ex in examples {
        let mut req = TestRequest::default()
            .method(ex.method.clone())
            .uri(&ex.uri);
        // Examples with their own credentials (or for the token endpoint) get no API key.
        let mut keyed = ex.basic.is_some() || ex.uri.starts_with("/token");
        for (name, value) in &ex.headers {
            keyed |= value.contains("{KEY}") || name.eq_ignore_ascii_case("authorization");
            req = req.insert_header((name.as_str(), expand(value, &vars)));
        }
        if let Some(user) = &ex.basic {
            let encoded = base64::engine::general_purpose::STANDARD.encode(expand(user, &vars));
            req = req.insert_header(("Authorization", format!("Basic {encoded}")));
        }
        if !keyed {
            req = req.insert_header(("X-Api-Key", key.as_str()));
        }
        if let Some(body) = &ex.body {
            req = req.set_payload(expand(body, &vars));
        }
        let resp = call_service(&app, req.to_request()).await;
        let status = resp.status().as_u16();
        let raw = read_body(resp).await;
        let shown = format!("{} {}", ex.method, ex.uri);
        assert_eq!(
            status,
            ex.status,
            "{shown}: {}",
            String::from_utf8_lossy(&raw)
        );
        match &ex.response {
            None => assert!(raw.is_empty(), "{shown}: a body was not documented"),
            Some(documented) => {
                let actual: Value = serde_json::from_slice(&raw).unwrap();
                for (name, member) in [
                    ("TOKEN", "access_token"),
                    ("REFRESH_TOKEN", "refresh_token"),
                ] {
                    if let Some(value) = actual.get(member).and_then(Value::as_str) {
                        vars.insert(name, value.to_string());
                    }
                }
                assert!(
                    matches(documented, &actual),
                    "{shown}\ndocumented: {}\nactual:     {}",
                    serde_json::to_string_pretty(documented).unwrap(),
                    serde_json::to_string_pretty(&actual).unwrap()
                );
            }
        }
    }
}

async_backend_tests!(
    api_doc_examples_hold,
    writes_doc_examples_hold,
    auth_doc_examples_hold
);

async fn api_doc_examples_hold(db: TestDb) {
    run_examples(&db, API_DOC, false, 9).await;
}

async fn writes_doc_examples_hold(db: TestDb) {
    run_examples(&db, WRITES_DOC, true, 30).await;
}

async fn auth_doc_examples_hold(db: TestDb) {
    run_examples(&db, AUTH_DOC, true, 10).await;
}

#[test]
fn curl_commands_are_read_as_the_shell_reads_them() {
    let ex = curl_request(
        "curl -g -X PATCH -H \"X-Api-Key: $KEY\" -H 'X-Is-Transactional: false' \\\n  \
         'http://127.0.0.1:8080/dynamic-entity/countries/2' \\\n  -d '{\"data\": {\"name\": \"A b\"}}'\n",
    );
    assert_eq!(ex.method, Method::PATCH);
    assert_eq!(ex.uri, "/dynamic-entity/countries/2");
    assert_eq!(ex.headers[0], ("X-Api-Key".into(), "{KEY}".into()));
    assert_eq!(ex.headers[1].1, "false");
    assert_eq!(ex.body.as_deref(), Some("{\"data\": {\"name\": \"A b\"}}"));
    let ex = curl_request(
        "curl -G -X DELETE -H \"X-Api-Key: $KEY\" 'http://127.0.0.1:8080/dynamic-entity/t' \\\n  \
         --data-urlencode 'filter[t.id]={\"in\": [1, 2]}'\n",
    );
    assert_eq!(ex.method, Method::DELETE);
    assert_eq!(
        ex.uri,
        "/dynamic-entity/t?filter[t.id]=%7B%22in%22%3A+%5B1%2C+2%5D%7D"
    );
    let ex = curl_request(
        "curl -u \"erp:$CLIENT_SECRET\" -d grant_type=client_credentials -d 'scope=a b' \\\n  \
         http://127.0.0.1:8080/token\n",
    );
    assert_eq!(ex.method, Method::POST);
    assert_eq!(ex.basic.as_deref(), Some("erp:{CLIENT_SECRET}"));
    assert_eq!(
        ex.body.as_deref(),
        Some("grant_type=client_credentials&scope=a b")
    );
    assert_eq!(
        ex.headers,
        [(
            "Content-Type".to_string(),
            "application/x-www-form-urlencoded".to_string()
        )]
    );
    let ex =
        curl_request("curl -H \"Authorization: Bearer $ADMIN_TOKEN\" http://127.0.0.1:8080/x\n");
    assert_eq!(ex.headers[0].1, "Bearer {ADMIN_TOKEN}");
    assert!(matches(
        &serde_json::json!({"m": "Failed for `x[0]…"}),
        &serde_json::json!({"m": "Failed for `x[0].fk`."})
    ));
    assert!(!matches(
        &serde_json::json!({"m": "Failed"}),
        &serde_json::json!({"m": "Failed."})
    ));
}
