//! The examples of `docs/api.md`, `docs/writes.md` and `docs/auth.md` hold: each documented
//! request gets the documented answer. Every other curl command of the README and the docs is
//! pasted as printed too, and must succeed
//! ([`every_other_curl_of_the_docs_works_as_printed`]).
//!
//! An example is a request followed by a `Response `NNN`` line and, unless that line ends with a
//! period instead of a colon, a ```json block with the body. A request is either
//!
//! * an ```http block whose only line is `GET /path?query` (`api.md`; query values are shown
//!   readable and percent-encoded here, as a client would), or
//! * a ```sh block starting with `curl` (`writes.md`, `auth.md`): it is pasted into `bash` as
//!   printed and run by the real `curl` against a server listening on a free port. The
//!   documented address, `127.0.0.1:8080`, reaches it through curl's `connect-to` option in a
//!   `.curlrc` of the test's own (`CURL_HOME`), which also has curl print the status after the
//!   body; the command's text is not changed. The environment holds the variables a reader
//!   sets: `$KEY` (the test's API key), `$CLIENT_SECRET` (of the client `erp-connector`),
//!   `$ADMIN_TOKEN` (an access token of the admin user `ops`), and `$TOKEN` / `$REFRESH_TOKEN`
//!   (the last ones a documented answer returned). The user `alice` has the password
//!   `correct horse battery staple`.
//!
//! The body must equal the documented JSON, except that a documented string ending in `…`
//! matches any string starting with the text before the `…` (for messages whose end depends on
//! the backend). The examples of one document run in order against one fresh demo database.

use std::collections::HashMap;

use actix_web::test::{TestRequest, call_service, init_service, read_body};
use dynex_test_support::{TestDb, async_backend_tests, open_demo};
use serde_json::Value;

const API_DOC: &str = include_str!("../../../../docs/api.md");
const WRITES_DOC: &str = include_str!("../../../../docs/writes.md");
const AUTH_DOC: &str = include_str!("../../../../docs/auth.md");

/// Where the curl examples send their requests.
const DOCUMENTED_ADDRESS: &str = "127.0.0.1:8080";

#[derive(Debug)]
struct Example {
    /// The shell command of a curl example, as printed.
    command: Option<String>,
    /// The path and query of an ```http example (`GET`), percent-encoded.
    uri: String,
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
            "sh" if curl && block.text.starts_with("curl ") => curl_command(block.text),
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
        command: None,
        uri: encode(uri),
        status: 0,
        response: None,
        shown: line.to_string(),
    }
}

fn curl_command(text: &str) -> Example {
    Example {
        command: Some(text.to_string()),
        uri: String::new(),
        status: 0,
        response: None,
        shown: text.lines().next().unwrap_or_default().to_string(),
    }
}

/// Where pasted commands run: a `.curlrc` that sends the documented address to `port`, with
/// the curl options in `more` (one per line).
fn curl_home(port: u16, more: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        home.path().join(".curlrc"),
        format!(
            "connect-to = \"{DOCUMENTED_ADDRESS}:127.0.0.1:{port}\"\nsilent\nshow-error\n{more}"
        ),
    )
    .expect("write .curlrc");
    home
}

/// The `.curlrc` option that has curl print the status on a last line of its own.
const STATUS_LINE: &str = "write-out = \"\\n%{http_code}\"\n";

/// An access token of `user` (password grant).
fn password_token(dynex: &dynex_core::Dynex, user: &str, password: &str) -> String {
    dynex
        .token(&dynex_core::TokenRequest {
            grant_type: "password".into(),
            username: Some(user.into()),
            password: Some(password.into()),
            address: "docs".into(),
            ..dynex_core::TokenRequest::default()
        })
        .unwrap()
        .access_token
}

/// Pastes `command` into bash with `vars` set, as a reader would; its status and body.
fn paste(
    command: &str,
    home: &std::path::Path,
    vars: &HashMap<&'static str, String>,
) -> (u16, Vec<u8>) {
    let home = home.to_str().expect("a UTF-8 path");
    let mut env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("CURL_HOME", home));
    let text = crate::support::paste(command, None, &env);
    let at = text
        .iter()
        .rposition(|&b| b == b'\n')
        .expect("the status line");
    let status = std::str::from_utf8(&text[at + 1..])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no status from `{command}`"));
    (status, text[..at].to_vec())
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
    let live = crate::support::LiveServer::start(&dynex);
    let home = curl_home(live.port(), STATUS_LINE);
    let admin_token = password_token(&dynex, "ops", password);
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
        let (status, raw, shown) = match &ex.command {
            Some(command) => {
                let (status, raw) = paste(command, home.path(), &vars);
                (status, raw, ex.shown.clone())
            }
            None => {
                let req = TestRequest::get()
                    .uri(&ex.uri)
                    .insert_header(("X-Api-Key", key.as_str()))
                    .to_request();
                let resp = call_service(&app, req).await;
                let status = resp.status().as_u16();
                (
                    status,
                    read_body(resp).await.to_vec(),
                    format!("GET {}", ex.uri),
                )
            }
        };
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

dynex_test_support::backend_tests!(every_other_curl_of_the_docs_works_as_printed);

/// The documents whose curl commands [`every_other_curl_of_the_docs_works_as_printed`] runs:
/// every one but those whose answers the examples above check in full.
const OTHER_DOCS: [(&str, &str); 7] = [
    ("README.md", include_str!("../../../../README.md")),
    ("docs/README.md", include_str!("../../../../docs/README.md")),
    ("docs/api.md", API_DOC),
    (
        "docs/back-office.md",
        include_str!("../../../../docs/back-office.md"),
    ),
    ("docs/errors.md", include_str!("../../../../docs/errors.md")),
    (
        "docs/import-export.md",
        include_str!("../../../../docs/import-export.md"),
    ),
    (
        "docs/operations.md",
        include_str!("../../../../docs/operations.md"),
    ),
];

/// Every ```sh block of the other documents that runs curl is pasted into bash as printed and
/// must succeed: curl reaches the server, and no answer is an HTTP error (`fail` in the
/// `.curlrc`). What a reader fills in is filled in: the key printed as `dnx_…`, the admin's
/// `<printed password>`, and the variables `$KEY` and `$ADMIN_TOKEN`; the files they upload
/// are in the working directory, and the walkthrough's `product-labels` endpoint exists.
fn every_other_curl_of_the_docs_works_as_printed(db: TestDb) {
    let dynex = open_demo(&db);
    let key = dynex.create_api_key("docs", &[], None).unwrap().key;
    let password = "correct horse battery staple";
    dynex
        .add_user("admin", password, dynex_auth::Role::Admin)
        .unwrap();
    dynex
        .add_entity("spy_product_label", Some("product-labels"), true)
        .unwrap();
    let admin_token = password_token(&dynex, "admin", password);
    let live = crate::support::LiveServer::start(&dynex);
    // `fail`: an HTTP error answer fails the command.
    let home = curl_home(live.port(), "fail\n");
    let curl_home = home.path().to_str().expect("a UTF-8 path");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("countries.csv"),
        "iso2_code,iso3_code,name\nAT,AUT,Austria\n",
    )
    .unwrap();
    std::fs::write(work.path().join("tax-sets.csv"), "name\nDocs Taxes\n").unwrap();
    let mut ran = 0;
    for (doc, text) in OTHER_DOCS {
        for block in blocks(text) {
            if block.info != "sh" || !block.text.contains("curl ") {
                continue;
            }
            // A numbered step's block is indented with its step.
            let command = block
                .text
                .lines()
                .map(str::trim_start)
                .collect::<Vec<_>>()
                .join("\n")
                .replace("dnx_…", &key)
                .replace("<printed password>", password);
            let printed = crate::support::paste(
                &command,
                Some(work.path()),
                &[
                    ("CURL_HOME", curl_home),
                    ("KEY", &key),
                    ("ADMIN_TOKEN", &admin_token),
                ],
            );
            assert!(!printed.is_empty(), "{doc}: `{command}` printed nothing");
            ran += 1;
        }
    }
    assert!(ran >= 11, "ran {ran} commands");
}

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
fn an_ellipsis_matches_any_end() {
    assert!(matches(
        &serde_json::json!({"m": "Failed for `x[0]…"}),
        &serde_json::json!({"m": "Failed for `x[0].fk`."})
    ));
    assert!(!matches(
        &serde_json::json!({"m": "Failed"}),
        &serde_json::json!({"m": "Failed."})
    ));
}
