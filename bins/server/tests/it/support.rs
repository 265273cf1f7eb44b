//! The server's test helpers: the app under test over a demo database, requests and replies.
//!
//! What does not need actix (the demo catalog, its rows as JSON, wire error assertions) is in
//! `dynex-test-support`, shared with the CLI's tests.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use dynex_core::{Dynex, Options};
use dynex_test_support::{TestDb, error_list, open_demo, open_demo_with};
use serde_json::Value;

/// The route prefix every test serves the API under.
pub const PREFIX: &str = "dynamic-entity";

/// A demo database, the app over it and an API key with the default (all-entity) scopes.
pub async fn demo(db: &TestDb) -> (Dynex, TestApp, String) {
    let dynex = open_demo(db);
    let key = dynex
        .create_api_key("test", &[], None)
        .expect("create an API key")
        .key;
    let app = TestApp::new(dynex.clone()).await;
    (dynex, app, key)
}

/// A response, read completely.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body as text.
    pub raw: String,
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub body: Value,
    /// Every response header.
    pub headers: actix_web::http::header::HeaderMap,
}

impl Reply {
    /// The value of the response header `name`, if any.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header").to_string())
    }

    /// The `data` member of a successful response, asserting status 200 and JSON.
    pub fn data(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "unexpected reply: {self:?}");
        self.assert_json();
        self.body
            .get("data")
            .unwrap_or_else(|| panic!("no `data` member: {self:?}"))
    }

    /// The rows of a successful collection response.
    pub fn rows(&self) -> &Vec<Value> {
        self.data()
            .as_array()
            .unwrap_or_else(|| panic!("`data` is not an array: {self:?}"))
    }

    /// The values of `field` of the rows of a successful collection response.
    pub fn column(&self, field: &str) -> Vec<Value> {
        self.rows().iter().map(|r| r[field].clone()).collect()
    }

    /// Asserts that the content type is JSON.
    pub fn assert_json(&self) {
        let ct = self.content_type.as_deref().unwrap_or("");
        assert!(
            ct.starts_with("application/json"),
            "content type `{ct}` is not JSON: {self:?}"
        );
        assert!(
            serde_json::from_str::<Value>(&self.raw).is_ok(),
            "the body is not JSON: {}",
            self.raw
        );
    }

    /// Asserts a single-error response of the wire format with this status and code, and
    /// returns its message.
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "unexpected reply: {self:?}");
        self.assert_json();
        let code = dynex_test_support::code(code);
        assert_eq!(code.status(), status, "the status of {code}");
        dynex_test_support::assert_error(&self.body, code)
    }
}

type Call = dyn Fn(TestRequest) -> Pin<Box<dyn Future<Output = Reply>>>;

/// The application built by `create_app`, initialised as a test service.
pub struct TestApp {
    call: Box<Call>,
}

impl TestApp {
    /// Builds the app over `dynex` with the route prefix `dynamic-entity`.
    pub async fn new(dynex: Dynex) -> TestApp {
        TestApp::with_config(dynex, dynex_server::AppConfig::default()).await
    }

    /// Sends a request.
    pub async fn send(&self, req: TestRequest) -> Reply {
        (self.call)(req).await
    }

    /// `GET uri` with `X-Api-Key: key`.
    pub async fn get(&self, uri: &str, key: &str) -> Reply {
        self.send(
            TestRequest::get()
                .uri(uri)
                .insert_header(("X-Api-Key", key)),
        )
        .await
    }

    /// `GET /dynamic-entity/{path}` with `X-Api-Key: key`.
    pub async fn api(&self, path: &str, key: &str) -> Reply {
        self.get(&format!("/{PREFIX}/{path}"), key).await
    }
}

/// Percent-encodes a query-string value (JSON filters, spaces).
pub fn enc(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

// Writes: requests with bodies, write answers, counts and configuration changes.

/// `X-Is-Transactional: false`, the header of the non-transactional mode.
pub const NON_TRANSACTIONAL: (&str, &str) = ("X-Is-Transactional", "false");

impl TestApp {
    /// Builds the app over `dynex` with `config` (another body limit or route prefix).
    pub async fn with_config(dynex: Dynex, config: dynex_server::AppConfig) -> TestApp {
        let service = Rc::new(init_service(dynex_server::create_app(dynex, config)).await);
        TestApp {
            call: Box::new(move |req: TestRequest| {
                let service = service.clone();
                Box::pin(async move {
                    let res = call_service(&*service, req.to_request()).await;
                    let status = res.status();
                    let headers = res.headers().clone();
                    let content_type = headers
                        .get(CONTENT_TYPE)
                        .map(|v| v.to_str().expect("ASCII content type").to_string());
                    let bytes = read_body(res).await;
                    let raw = String::from_utf8(bytes.to_vec()).expect("UTF-8 body");
                    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
                    Reply {
                        status,
                        content_type,
                        raw,
                        body,
                        headers,
                    }
                })
            }),
        }
    }

    /// `method /dynamic-entity/{path}` with `X-Api-Key: key`, the raw `body` as JSON and the
    /// extra `headers`.
    pub async fn request(
        &self,
        method: actix_web::http::Method,
        path: &str,
        key: &str,
        body: impl Into<actix_web::web::Bytes>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = TestRequest::default()
            .method(method)
            .uri(&format!("/{PREFIX}/{path}"))
            .insert_header(("X-Api-Key", key))
            .insert_header((CONTENT_TYPE, "application/json"))
            .set_payload(body.into());
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        self.send(req).await
    }

    /// `POST /dynamic-entity/{path}` with the JSON `body`.
    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.request(
            actix_web::http::Method::POST,
            path,
            key,
            body.to_string(),
            &[],
        )
        .await
    }

    /// `PATCH /dynamic-entity/{path}` with the JSON `body`.
    pub async fn patch(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.request(
            actix_web::http::Method::PATCH,
            path,
            key,
            body.to_string(),
            &[],
        )
        .await
    }

    /// `PUT /dynamic-entity/{path}` with the JSON `body`.
    pub async fn put(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.request(
            actix_web::http::Method::PUT,
            path,
            key,
            body.to_string(),
            &[],
        )
        .await
    }

    /// `method /dynamic-entity/{path}` with the JSON `body` and `X-Is-Transactional: false`.
    pub async fn non_transactional(
        &self,
        method: actix_web::http::Method,
        path: &str,
        key: &str,
        body: &Value,
    ) -> Reply {
        self.request(method, path, key, body.to_string(), &[NON_TRANSACTIONAL])
            .await
    }

    /// `DELETE /dynamic-entity/{path}` with `X-Api-Key: key`.
    pub async fn delete(&self, path: &str, key: &str) -> Reply {
        self.send(
            TestRequest::delete()
                .uri(&format!("/{PREFIX}/{path}"))
                .insert_header(("X-Api-Key", key)),
        )
        .await
    }

    /// Every row of `alias` (up to 1000), by `GET`.
    pub async fn all(&self, alias: &str, key: &str) -> Vec<Value> {
        self.api(&format!("{alias}?page[limit]=1000"), key)
            .await
            .rows()
            .clone()
    }

    /// `GET /dynamic-entity/{alias}/{id}`: the row, or `None` when it is not found (1303).
    pub async fn find(&self, alias: &str, id: &Value, key: &str) -> Option<Value> {
        let r = self.api(&format!("{alias}/{id}"), key).await;
        if r.status == StatusCode::NOT_FOUND {
            r.assert_error(404, "1303");
            return None;
        }
        Some(r.data().clone())
    }
}

impl Reply {
    /// The `data` of a successful write answer, asserting this status, JSON and no `errors`.
    pub fn written(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "unexpected reply: {self:?}");
        self.assert_json();
        let object = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("not a JSON object: {self:?}"));
        assert!(
            !object.contains_key("errors"),
            "unexpected errors: {self:?}"
        );
        self.body
            .get("data")
            .unwrap_or_else(|| panic!("no `data` member: {self:?}"))
    }

    /// The rows of a successful collection write answer with this status.
    pub fn written_rows(&self, status: u16) -> &Vec<Value> {
        self.written(status)
            .as_array()
            .unwrap_or_else(|| panic!("`data` is not an array: {self:?}"))
    }

    /// The `(code, message)` of each error of an error array body, asserting the wire format,
    /// this HTTP status and that it is the first error's status.
    pub fn errors(&self, status: u16) -> Vec<(String, String)> {
        assert_eq!(self.status.as_u16(), status, "unexpected reply: {self:?}");
        self.assert_json();
        error_list(&self.body)
    }

    /// The codes of an error array body with this HTTP status.
    pub fn codes(&self, status: u16) -> Vec<String> {
        self.errors(status).into_iter().map(|(c, _)| c).collect()
    }

    /// A non-transactional answer `{"data", "errors"}` with this status: the saved rows and the
    /// `(code, message)` of each error.
    pub fn partial(&self, status: u16) -> (Value, Vec<(String, String)>) {
        assert_eq!(self.status.as_u16(), status, "unexpected reply: {self:?}");
        self.assert_json();
        let object = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("not a JSON object: {self:?}"));
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["data", "errors"], "{self:?}");
        let errors = object["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("`errors` is not an array: {self:?}"));
        assert!(!errors.is_empty(), "empty `errors`: {self:?}");
        (object["data"].clone(), error_list(&object["errors"]))
    }
}

/// Creates an API key with these scopes (`dynamic-entity:countries:write` …).
pub fn scoped_key(dynex: &Dynex, name: &str, scopes: &str) -> String {
    let scopes = dynex_auth::parse_scopes(scopes).expect("valid scopes");
    dynex
        .create_api_key(name, &scopes, None)
        .expect("create an API key")
        .key
}

// Tokens: a known signing secret, form posts to the token endpoint, bearer requests.

/// The signing secret of [`open_demo_with_secret`], so tests can mint tokens (expired ones).
pub const TEST_SECRET: &str = "test-signing-secret-0123456789-abcdefghijklmnop";

/// A password that passes the strength rules, for test users.
pub const TEST_PASSWORD: &str = "correct horse battery staple";

/// Like [`open_demo`], with [`TEST_SECRET`] as the token signing secret.
pub fn open_demo_with_secret(db: &TestDb) -> Dynex {
    open_demo_with(
        db,
        Options {
            tokens: dynex_core::TokenOptions {
                secret: Some(TEST_SECRET.to_string()),
                ..dynex_core::TokenOptions::default()
            },
            ..Options::default()
        },
    )
}

impl TestApp {
    /// `POST path` with a form-encoded body built from `params` and the extra `headers`.
    pub async fn form(
        &self,
        path: &str,
        params: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let mut req = TestRequest::post()
            .uri(path)
            .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(body);
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        self.send(req).await
    }

    /// A password-grant token answer for `user` (asserting 200), optionally narrowed to `scope`.
    pub async fn password_token(&self, user: &str, password: &str, scope: Option<&str>) -> Value {
        let mut params = vec![
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
        ];
        if let Some(scope) = scope {
            params.push(("scope", scope));
        }
        let r = self.form("/token", &params, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
        r.body
    }

    /// `method uri` with `Authorization: Bearer token` and, when given, a JSON body.
    pub async fn bearer(
        &self,
        method: actix_web::http::Method,
        uri: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = TestRequest::default()
            .method(method)
            .uri(uri)
            .insert_header(("Authorization", format!("Bearer {token}")));
        if let Some(body) = body {
            req = req
                .insert_header((CONTENT_TYPE, "application/json"))
                .set_payload(body.to_string());
        }
        self.send(req).await
    }
}

/// A dynex server on a random port of 127.0.0.1, served as `dynex-server` serves it
/// (`on_connect` included), on a thread of its own; stopped when dropped.
pub struct LiveServer {
    port: u16,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl LiveServer {
    /// Starts one worker serving `dynex` with the default configuration.
    pub fn start(dynex: &Dynex) -> LiveServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = listener.local_addr().expect("its address").port();
        let served = dynex.clone();
        let (handle_to, handle) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let server = dynex_server::serve(
                    listener,
                    Some(1),
                    move || {
                        dynex_server::create_app(served.clone(), dynex_server::AppConfig::default())
                    },
                    dynex_server::on_connect,
                )
                .expect("listen");
                let _ = handle_to.send(server.handle());
                server.await
            })
        });
        LiveServer {
            port,
            handle: handle.recv().expect("the server's handle"),
            thread: Some(thread),
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        // From a thread of its own: the test may be inside a runtime already.
        let handle = self.handle.clone();
        let _ =
            std::thread::spawn(move || actix_rt::System::new().block_on(handle.stop(false))).join();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs `command` in bash as a reader who pasted it does, in `dir` (the test's own folder when
/// `None`) with `env` set, and returns what it printed; the test fails when the command does.
pub fn paste(command: &str, dir: Option<&std::path::Path>, env: &[(&str, &str)]) -> Vec<u8> {
    let mut bash = std::process::Command::new("bash");
    bash.args(["-c", command]).envs(env.iter().copied());
    if let Some(dir) = dir {
        bash.current_dir(dir);
    }
    let out = bash.output().expect("bash runs");
    assert!(
        out.status.success(),
        "`{command}` failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out.stdout
}
