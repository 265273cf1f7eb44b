//! The OAuth 2.0 endpoints of the real `dynex-server` binary, driven by a real OAuth 2.0 client
//! (the `oauth2` crate over `ureq`): the password, client credentials and refresh grants,
//! refresh-token rotation and reuse detection, scopes, errors, tokens shared by instances on one
//! database and surviving restarts, revocation seen by another instance, logs free of secrets,
//! and the refusal of a weak signing secret.

use std::net::TcpListener;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use dynex_auth::{Role, Scope};
use dynex_core::Options;
use dynex_test_support::{TestDb, backend_tests, open_demo_with};
use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse, BasicTokenType};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpClientError, HttpRequest,
    HttpResponse, RefreshToken, RequestTokenError, ResourceOwnerPassword, ResourceOwnerUsername,
    TokenResponse, TokenUrl,
};
use serde_json::Value;

backend_tests!(
    password_grant_refresh_rotation_and_reuse,
    client_credentials_with_both_auth_styles_and_scopes,
    wrong_credentials_are_oauth_errors,
    tokens_survive_restarts_and_are_shared_by_instances,
    logs_never_contain_secrets,
    weak_signing_secret_is_refused_outside_the_demo,
);

/// The integrator user every test creates.
const USER: &str = "alice";
/// The integration client every test creates.
const CLIENT: &str = "etl-job";
/// Access-token lifetime the servers run with, to check `expires_in`.
const ACCESS_TTL: u64 = 900;

// ---------------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------------

/// A running `dynex-server`, killed when dropped; stdout and stderr go to one file.
pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
    pub(crate) base: String,
    log: tempfile::NamedTempFile,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the server on `url` with extra arguments and environment, on a free port, and
    /// waits until `/health/ready` answers.
    pub(crate) fn start(url: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
        // A port picked by binding to port 0 can be taken before the server binds it; retry.
        for _ in 0..3 {
            let mut server = Server::spawn(url, args, env);
            match server.wait_ready() {
                Ok(()) => return server,
                Err(output) if output.contains("in use") => continue,
                Err(output) => panic!("dynex-server did not become ready:\n{output}"),
            }
        }
        panic!("no free port found for dynex-server");
    }

    /// Starts the server without waiting for it.
    fn spawn(url: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let out = log.reopen().expect("the log file");
        let err = out.try_clone().expect("the log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_dynex-server"));
        command
            .args([
                "--database-url",
                url,
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--workers", "2", "--pool-size", "4"])
            .args(["--access-token-ttl", &ACCESS_TTL.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .env("RUST_LOG", "info");
        // Nothing from the test environment may configure the server behind the test's back.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("DYNEX_") {
                command.env_remove(name);
            }
        }
        command.envs(env.iter().copied());
        let child = command.spawn().expect("start dynex-server");
        Server {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// Waits until this process listens and `/health/ready` answers 200; the output so far if
    /// the process exits first.
    fn wait_ready(&mut self) -> Result<(), String> {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(2))
            .build();
        // actix logs this (at info) once it has bound the port, so the readiness answer cannot
        // come from another test's server that took the port first.
        let bound = format!("listening on: 127.0.0.1:{}", self.port);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("poll dynex-server") {
                return Err(format!("exited with {status}:\n{}", self.output()));
            }
            if !self.output().contains(&bound) {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            let ready = agent.get(&format!("{}/health/ready", self.base)).call();
            if ready.is_ok_and(|r| r.status() == 200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("not ready after 60 s:\n{}", self.output()))
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub(crate) fn output(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The process's id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the process and returns everything it wrote, the access lines of its last
    /// requests included (they are written within [`dynex_server::LOG_FLUSH_EVERY`]).
    pub(crate) fn stop(&mut self) -> String {
        std::thread::sleep(dynex_server::LOG_FLUSH_EVERY * 3);
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.output()
    }

    fn token_url(&self) -> TokenUrl {
        TokenUrl::new(format!("{}/token", self.base)).expect("token URL")
    }

    /// An OAuth client for the password and refresh grants (a public client: no secret).
    fn user_client(&self) -> OAuthClient {
        BasicClient::new(ClientId::new("dynex-it".into())).set_token_uri(self.token_url())
    }

    /// An OAuth client for the client credentials grant.
    fn machine_client(&self, id: &str, secret: &str, auth: AuthType) -> OAuthClient {
        BasicClient::new(ClientId::new(id.into()))
            .set_client_secret(ClientSecret::new(secret.into()))
            .set_auth_type(auth)
            .set_token_uri(self.token_url())
    }

    fn password(&self, user: &str, password: &str) -> Result<BasicTokenResponse, OAuthError> {
        self.user_client()
            .exchange_password(
                &ResourceOwnerUsername::new(user.into()),
                &ResourceOwnerPassword::new(password.into()),
            )
            .request(&http_client())
    }

    fn refresh(&self, token: &str) -> Result<BasicTokenResponse, OAuthError> {
        self.user_client()
            .exchange_refresh_token(&RefreshToken::new(token.into()))
            .request(&http_client())
    }

    fn client_credentials(
        &self,
        secret: &str,
        auth: AuthType,
        scope: Option<&str>,
    ) -> Result<BasicTokenResponse, OAuthError> {
        let client = self.machine_client(CLIENT, secret, auth);
        let mut request = client.exchange_client_credentials();
        if let Some(scope) = scope {
            request = request.add_scope(oauth2::Scope::new(scope.into()));
        }
        request.request(&http_client())
    }

    /// `GET /dynamic-entity/{alias}` with a bearer token.
    fn api_bearer(&self, alias: &str, token: &str) -> Reply {
        let request = agent()
            .get(&format!("{}/dynamic-entity/{alias}", self.base))
            .set("Authorization", &format!("Bearer {token}"));
        Reply::of(request.call())
    }

    /// `POST /token/revoke` (RFC 7009). oauth2's own revocation request insists on https, so
    /// this one is plain.
    fn revoke(&self, token: &str) -> Reply {
        let request = agent().post(&format!("{}/token/revoke", self.base));
        Reply::of(request.send_form(&[("token", token)]))
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------------

type OAuthClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

type OAuthError = RequestTokenError<
    HttpClientError<ureq::Error>,
    oauth2::StandardErrorResponse<BasicErrorResponseType>,
>;

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .redirects(0)
        .build()
}

/// The HTTP client the oauth2 crate sends its requests with: a `ureq::Agent`, as its `ureq`
/// feature provides, except that error answers reach oauth2 as answers. ureq 2 reports a 4xx or
/// 5xx status as an `Err`, and oauth2's own `impl SyncHttpClient for ureq::Agent` passes that on
/// as a transport error (`RequestTokenError::Request`), hiding the RFC 6749 error body; with this
/// wrapper oauth2 parses the body into `RequestTokenError::ServerResponse`, as it does with its
/// other HTTP clients.
fn http_client() -> impl Fn(HttpRequest) -> Result<HttpResponse, HttpClientError<ureq::Error>> {
    let agent = agent();
    move |request: HttpRequest| {
        let mut call = agent.request(request.method().as_str(), &request.uri().to_string());
        for (name, value) in request.headers() {
            let value = value
                .to_str()
                .map_err(|_| HttpClientError::Other(format!("non-ASCII `{name}` header")))?;
            call = call.set(name.as_str(), value);
        }
        let response = match call.send_bytes(request.body()) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(HttpClientError::Reqwest(Box::new(e))),
        };
        let mut builder = oauth2::http::Response::builder().status(response.status());
        if let Some(content_type) = response.header("content-type") {
            builder = builder.header("content-type", content_type);
        }
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut response.into_reader(), &mut body)?;
        builder.body(body).map_err(HttpClientError::Http)
    }
}

/// An API answer, read completely.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
    www_authenticate: Option<String>,
}

impl Reply {
    fn of(result: Result<ureq::Response, ureq::Error>) -> Reply {
        let response = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        let status = response.status();
        let www_authenticate = response.header("www-authenticate").map(str::to_string);
        let text = response.into_string().expect("a response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            www_authenticate,
        }
    }

    /// Asserts a 200 with a non-empty `data` array.
    fn assert_rows(&self) {
        assert_eq!(self.status, 200, "unexpected reply: {self:?}");
        let rows = self.body["data"].as_array();
        assert!(
            rows.is_some_and(|r| !r.is_empty()),
            "expected rows: {self:?}"
        );
    }

    /// Asserts an API error with this status and code.
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "unexpected reply: {self:?}");
        assert_eq!(self.body[0]["code"], code, "unexpected reply: {self:?}");
    }
}

/// The OAuth error code of a refused token request.
fn oauth_error(result: Result<BasicTokenResponse, OAuthError>) -> BasicErrorResponseType {
    match result {
        Err(RequestTokenError::ServerResponse(e)) => e.error().clone(),
        Err(other) => panic!("expected an OAuth error answer, got {other:?}"),
        Ok(token) => panic!("expected an OAuth error answer, got a token: {token:?}"),
    }
}

fn ok(result: Result<BasicTokenResponse, OAuthError>) -> BasicTokenResponse {
    result.unwrap_or_else(|e| match e {
        RequestTokenError::ServerResponse(r) => panic!("token request refused: {r:?}"),
        other => panic!("token request failed: {other:?}"),
    })
}

fn scopes(token: &BasicTokenResponse) -> Vec<String> {
    token
        .scopes()
        .map(|s| s.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

/// The credentials a test database is prepared with.
struct Fixture {
    password: String,
    client_secret: String,
    api_key: String,
}

/// Loads the demo catalog and creates the integrator `alice`, the client `etl-job` (read and
/// write on every entity) and an API key, before any server starts.
fn prepare(db: &TestDb) -> Fixture {
    let dynex = open_demo_with(
        db,
        Options {
            db: dynex_core::DbOptions {
                pool_size: 2,
                ..Default::default()
            },
            ..Options::default()
        },
    );
    let password = dynex_auth::generate_secret("pw-");
    dynex
        .add_user(USER, &password, Role::Integrator)
        .expect("add a user");
    let scopes: Vec<Scope> = ["dynamic-entity:read", "dynamic-entity:write"]
        .iter()
        .map(|s| s.parse().expect("a scope"))
        .collect();
    let client_secret = dynex
        .add_client(CLIENT, &scopes)
        .expect("add a client")
        .client_secret;
    let api_key = dynex
        .create_api_key("oauth-it", &[], None)
        .expect("create an API key")
        .key;
    Fixture {
        password,
        client_secret,
        api_key,
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// Password grant → API call → refresh → API call with the new token; the old refresh token is
/// then refused, and its reuse revokes the family, so the newest access token is refused too.
fn password_grant_refresh_rotation_and_reuse(db: TestDb) {
    let fx = prepare(&db);
    let server = Server::start(&db.url, &[], &[]);

    let first = ok(server.password(USER, &fx.password));
    assert_eq!(first.token_type(), &BasicTokenType::Bearer);
    assert_eq!(first.expires_in(), Some(Duration::from_secs(ACCESS_TTL)));
    assert_eq!(
        scopes(&first),
        [
            "dynamic-entity:read",
            "dynamic-entity:write",
            "dynamic-entity:delete"
        ]
    );
    let access1 = first.access_token().secret().clone();
    let refresh1 = first
        .refresh_token()
        .expect("the password grant gives a refresh token")
        .secret()
        .clone();
    server.api_bearer("countries", &access1).assert_rows();

    let second = ok(server.refresh(&refresh1));
    let access2 = second.access_token().secret().clone();
    let refresh2 = second
        .refresh_token()
        .expect("the refresh grant rotates the refresh token")
        .secret()
        .clone();
    assert_ne!(access2, access1);
    assert_ne!(refresh2, refresh1);
    assert_eq!(scopes(&second), scopes(&first));
    server.api_bearer("countries", &access2).assert_rows();

    // The old refresh token was used: presenting it again is refused...
    assert_eq!(
        oauth_error(server.refresh(&refresh1)),
        BasicErrorResponseType::InvalidGrant
    );
    // ... and revokes its whole family: both access tokens and the newest refresh token.
    for (which, token) in [("newest", &access2), ("first", &access1)] {
        let r = server.api_bearer("countries", token);
        r.assert_error(401, "001");
        assert!(
            r.www_authenticate
                .as_deref()
                .is_some_and(|h| h.contains("invalid_token")),
            "{which} access token: {r:?}"
        );
    }
    assert_eq!(
        oauth_error(server.refresh(&refresh2)),
        BasicErrorResponseType::InvalidGrant
    );

    // A fresh login starts a new family that works.
    let fresh = ok(server.password(USER, &fx.password));
    server
        .api_bearer("countries", fresh.access_token().secret())
        .assert_rows();
}

/// The client credentials grant with HTTP Basic and with the secret in the body, with all the
/// client's scopes and with a narrowed scope that is refused (403, 002) outside itself.
fn client_credentials_with_both_auth_styles_and_scopes(db: TestDb) {
    let fx = prepare(&db);
    let server = Server::start(&db.url, &[], &[]);

    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        let token = ok(server.client_credentials(&fx.client_secret, auth.clone(), None));
        assert_eq!(token.token_type(), &BasicTokenType::Bearer, "{auth:?}");
        assert!(
            token.refresh_token().is_none(),
            "{auth:?}: no refresh token"
        );
        assert_eq!(
            scopes(&token),
            ["dynamic-entity:read", "dynamic-entity:write"],
            "{auth:?}"
        );
        let access = token.access_token().secret();
        server.api_bearer("countries", access).assert_rows();
        server.api_bearer("tax-rates", access).assert_rows();

        let narrowed = ok(server.client_credentials(
            &fx.client_secret,
            auth.clone(),
            Some("dynamic-entity:countries:read"),
        ));
        assert_eq!(
            scopes(&narrowed),
            ["dynamic-entity:countries:read"],
            "{auth:?}"
        );
        let access = narrowed.access_token().secret();
        server.api_bearer("countries", access).assert_rows();
        let r = server.api_bearer("tax-rates", access);
        r.assert_error(403, "002");
        assert!(
            r.www_authenticate
                .as_deref()
                .is_some_and(|h| h.contains("insufficient_scope")),
            "{auth:?}: {r:?}"
        );

        // More than the client may have is refused.
        assert_eq!(
            oauth_error(server.client_credentials(
                &fx.client_secret,
                auth.clone(),
                Some("dynamic-entity:delete"),
            )),
            BasicErrorResponseType::InvalidScope,
            "{auth:?}"
        );
    }
}

/// A wrong password or user is `invalid_grant`; a wrong client secret or id is
/// `invalid_client`, whichever way the client authenticates.
fn wrong_credentials_are_oauth_errors(db: TestDb) {
    let fx = prepare(&db);
    let server = Server::start(&db.url, &[], &[]);

    let wrong_password = format!("{}x", fx.password);
    assert_eq!(
        oauth_error(server.password(USER, &wrong_password)),
        BasicErrorResponseType::InvalidGrant
    );
    assert_eq!(
        oauth_error(server.password("nobody", &fx.password)),
        BasicErrorResponseType::InvalidGrant
    );
    let wrong_secret = format!("{}x", fx.client_secret);
    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        assert_eq!(
            oauth_error(server.client_credentials(&wrong_secret, auth.clone(), None)),
            BasicErrorResponseType::InvalidClient,
            "{auth:?}"
        );
        let unknown = server
            .machine_client("no-such-client", &fx.client_secret, auth.clone())
            .exchange_client_credentials()
            .request(&http_client());
        assert_eq!(
            oauth_error(unknown),
            BasicErrorResponseType::InvalidClient,
            "{auth:?}"
        );
    }
    // A few failures do not lock out the right credentials.
    ok(server.password(USER, &fx.password));
    ok(server.client_credentials(&fx.client_secret, AuthType::BasicAuth, None));
}

/// Refuses `token` on `server` within 2 seconds (another instance polls the configuration
/// version every 250 ms).
fn assert_refused_soon(server: &Server, token: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let r = server.api_bearer("countries", token);
        if r.status == 401 {
            r.assert_error(401, "001");
            return;
        }
        r.assert_rows();
        assert!(
            Instant::now() < deadline,
            "the revoked token is still accepted after 2 s: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Tokens are signed with a secret kept in the database, so a restarted server and a second
/// instance on the same database accept them; a revocation on one instance reaches the other.
fn tokens_survive_restarts_and_are_shared_by_instances(db: TestDb) {
    let fx = prepare(&db);
    let a = Server::start(&db.url, &[], &[]);
    let user = ok(a.password(USER, &fx.password));
    let machine = ok(a.client_credentials(&fx.client_secret, AuthType::BasicAuth, None));
    let user_access = user.access_token().secret().clone();
    let machine_access = machine.access_token().secret().clone();
    let refresh = user
        .refresh_token()
        .expect("refresh token")
        .secret()
        .clone();
    a.api_bearer("countries", &user_access).assert_rows();

    // Restart: stop the process, start a new one on the same database.
    drop(a);
    let a = Server::start(&db.url, &[], &[]);
    a.api_bearer("countries", &user_access).assert_rows();
    a.api_bearer("countries", &machine_access).assert_rows();

    // A second instance at the same time (behind a load balancer).
    let b = Server::start(&db.url, &[], &[]);
    b.api_bearer("countries", &user_access).assert_rows();
    b.api_bearer("countries", &machine_access).assert_rows();
    // Refreshed on B, used on A.
    let rotated = ok(b.refresh(&refresh));
    let rotated_access = rotated.access_token().secret().clone();
    let rotated_refresh = rotated
        .refresh_token()
        .expect("refresh token")
        .secret()
        .clone();
    a.api_bearer("countries", &rotated_access).assert_rows();
    let from_b = ok(b.client_credentials(&fx.client_secret, AuthType::RequestBody, None));
    a.api_bearer("countries", from_b.access_token().secret())
        .assert_rows();

    // Revoked on A: refused on A at once and on B within a second or so.
    let r = a.revoke(&rotated_access);
    assert_eq!(r.status, 200, "{r:?}");
    a.api_bearer("countries", &rotated_access)
        .assert_error(401, "001");
    assert_refused_soon(&b, &rotated_access);
    // The family's refresh token went with it; the older access token of that family too.
    assert_eq!(
        oauth_error(b.refresh(&rotated_refresh)),
        BasicErrorResponseType::InvalidGrant
    );
    assert_refused_soon(&b, &user_access);

    // A client credentials token revoked on B is refused on A; other tokens are untouched.
    let r = b.revoke(&machine_access);
    assert_eq!(r.status, 200, "{r:?}");
    assert_refused_soon(&a, &machine_access);
    a.api_bearer("countries", from_b.access_token().secret())
        .assert_rows();
    // Revoking an unknown token is not an error (RFC 7009 section 2.2).
    assert_eq!(a.revoke("not-a-token").status, 200);
}

/// Everything a token request or API call carries that is secret, logged at debug level with
/// failing and succeeding requests alike, appears nowhere in the server's output.
fn logs_never_contain_secrets(db: TestDb) {
    let fx = prepare(&db);
    let signing_secret = dynex_auth::generate_secret("");
    let mut server = Server::start(
        &db.url,
        &[],
        &[
            ("RUST_LOG", "debug"),
            ("DYNEX_TOKEN_SECRET", signing_secret.as_str()),
        ],
    );
    let mut secrets: Vec<String> = vec![
        fx.password.clone(),
        fx.client_secret.clone(),
        fx.api_key.clone(),
        signing_secret.clone(),
    ];
    let mut keep = |token: &BasicTokenResponse| {
        secrets.push(token.access_token().secret().clone());
        if let Some(r) = token.refresh_token() {
            secrets.push(r.secret().clone());
        }
    };

    // Grants that succeed.
    let user = ok(server.password(USER, &fx.password));
    keep(&user);
    let refresh = user
        .refresh_token()
        .expect("refresh token")
        .secret()
        .clone();
    let rotated = ok(server.refresh(&refresh));
    keep(&rotated);
    let basic = ok(server.client_credentials(&fx.client_secret, AuthType::BasicAuth, None));
    keep(&basic);
    let body = ok(server.client_credentials(
        &fx.client_secret,
        AuthType::RequestBody,
        Some("dynamic-entity:countries:read"),
    ));
    keep(&body);

    // Grants that fail.
    let wrong_password = format!("{}-wrong", fx.password);
    let wrong_secret = format!("{}-wrong", fx.client_secret);
    oauth_error(server.password(USER, &wrong_password));
    oauth_error(server.client_credentials(&wrong_secret, AuthType::BasicAuth, None));
    oauth_error(server.client_credentials(&wrong_secret, AuthType::RequestBody, None));
    // Reuse of a used refresh token (revokes the family, logged as a warning).
    oauth_error(server.refresh(&refresh));
    let bogus_refresh = dynex_auth::generate_secret(dynex_auth::REFRESH_TOKEN_PREFIX);
    oauth_error(server.refresh(&bogus_refresh));
    // Not form-encoded, and an unsupported grant type, each with a secret in it.
    let r = Reply::of(
        agent()
            .post(&format!("{}/token", server.base))
            .set("Content-Type", "application/json")
            .send_string(&format!(
                r#"{{"grant_type":"password","username":"{USER}","password":"{}"}}"#,
                fx.password
            )),
    );
    assert_eq!(r.status, 400, "{r:?}");
    let r = Reply::of(
        agent()
            .post(&format!("{}/token", server.base))
            .send_form(&[("grant_type", "magic"), ("password", &fx.password)]),
    );
    assert_eq!(r.body["error"], "unsupported_grant_type", "{r:?}");
    secrets.extend([wrong_password, wrong_secret, bogus_refresh]);

    // API calls: the key in the header and in the query, tokens, and wrong credentials.
    let countries = format!("{}/dynamic-entity/countries", server.base);
    Reply::of(agent().get(&countries).set("X-Api-Key", &fx.api_key).call()).assert_rows();
    Reply::of(agent().get(&countries).query("api_key", &fx.api_key).call()).assert_rows();
    let wrong_key = format!("{}x", fx.api_key);
    Reply::of(agent().get(&countries).query("api_key", &wrong_key).call()).assert_error(403, "002");
    Reply::of(agent().get(&countries).set("X-Api-Key", &wrong_key).call()).assert_error(403, "002");
    secrets.push(wrong_key);
    server
        .api_bearer("countries", basic.access_token().secret())
        .assert_rows();
    server
        .api_bearer("tax-rates", body.access_token().secret())
        .assert_error(403, "002");
    // Refused since the reuse above revoked the family.
    server
        .api_bearer("countries", rotated.access_token().secret())
        .assert_error(401, "001");
    let forged = format!("{}x", basic.access_token().secret());
    server
        .api_bearer("countries", &forged)
        .assert_error(401, "001");
    secrets.push(forged);
    // A refresh token presented as an access token.
    server
        .api_bearer("countries", user.refresh_token().expect("refresh").secret())
        .assert_error(401, "001");
    // The key in the query of a bad query and of an unknown route.
    let r = Reply::of(
        agent()
            .get(&countries)
            .query("api_key", &fx.api_key)
            .query("page[limit]", "many")
            .call(),
    );
    assert_eq!(r.status, 400, "{r:?}");
    let r = Reply::of(
        agent()
            .get(&format!("{}/no-such-route", server.base))
            .query("api_key", &fx.api_key)
            .call(),
    );
    assert_eq!(r.status, 404, "{r:?}");
    // A malformed Basic header carrying the raw client secret.
    let r = Reply::of(
        agent()
            .post(&format!("{}/token", server.base))
            .set("Authorization", &format!("Basic {}", fx.client_secret))
            .send_form(&[("grant_type", "client_credentials")]),
    );
    assert_eq!(r.body["error"], "invalid_client", "{r:?}");

    // Revocation.
    assert_eq!(server.revoke(basic.access_token().secret()).status, 200);
    server
        .api_bearer("countries", basic.access_token().secret())
        .assert_error(401, "001");

    let output = server.stop();
    // The log must be the one asked for: access log lines and debug records.
    assert!(output.contains("POST /token"), "no access log:\n{output}");
    assert!(output.contains("DEBUG"), "no debug records:\n{output}");
    for secret in &secrets {
        for needle in needles(secret) {
            assert!(
                !output.contains(needle),
                "the server output contains a secret (`{needle}` of `{secret}`):\n{output}"
            );
        }
    }
}

/// The parts of a secret that must not be logged: the whole, and for a JWT each part but the
/// header (the header is the same for every token), so a logged signature alone is caught too.
fn needles(secret: &str) -> Vec<&str> {
    let mut out = vec![secret];
    let parts: Vec<&str> = secret.split('.').collect();
    if parts.len() == 3 {
        out.extend(&parts[1..]);
    }
    out
}

/// Runs the server to completion (it is expected to exit on its own) and returns its status and
/// output.
fn run_to_exit(url: &str, args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut server = Server::spawn(url, args, env);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.child.try_wait().expect("poll dynex-server") {
            return (status, server.output());
        }
        if Instant::now() > deadline {
            panic!(
                "dynex-server kept running with {args:?} / {env:?}:\n{}",
                server.output()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_refused(url: &str, secret: &str, args: &[&str], env: &[(&str, &str)]) {
    let (status, output) = run_to_exit(url, args, env);
    assert!(!status.success(), "started with a weak secret:\n{output}");
    assert!(
        output.contains("refusing to start") && output.contains("token signing secret"),
        "no reason given:\n{output}"
    );
    assert!(
        !output.contains(secret),
        "the rejected secret is printed:\n{output}"
    );
    assert!(
        !output.contains("listening on"),
        "it listened anyway:\n{output}"
    );
}

/// A weak `DYNEX_TOKEN_SECRET` (or `--token-secret`) stops the server before it serves anything,
/// saying why without printing the secret; a strong one works; `--demo` only warns.
fn weak_signing_secret_is_refused_outside_the_demo(db: TestDb) {
    let fx = prepare(&db);
    assert_refused(
        &db.url,
        "changeme",
        &[],
        &[("DYNEX_TOKEN_SECRET", "changeme")],
    );
    // Long enough, but a well-known placeholder; given as a flag this time.
    let placeholder = "changeme-please-0123456789abcdefghij";
    assert_refused(&db.url, placeholder, &["--token-secret", placeholder], &[]);
    // Long but simple.
    let simple = "abababababababababababababababababab";
    assert_refused(&db.url, simple, &[], &[("DYNEX_TOKEN_SECRET", simple)]);

    // A strong secret starts, and signs tokens that work.
    let strong = dynex_auth::generate_secret("");
    let mut server = Server::start(&db.url, &[], &[("DYNEX_TOKEN_SECRET", strong.as_str())]);
    let token = ok(server.password(USER, &fx.password));
    server
        .api_bearer("countries", token.access_token().secret())
        .assert_rows();
    let output = server.stop();
    assert!(
        !output.contains(&strong),
        "the secret is printed:\n{output}"
    );
    drop(server);

    // The demo accepts a weak secret with a warning, and its printed admin password works.
    let mut demo = Server::start(&db.url, &["--demo"], &[("DYNEX_TOKEN_SECRET", "changeme")]);
    let output = demo.output();
    assert!(
        output.contains("accepted only because this is the demo"),
        "no warning:\n{output}"
    );
    assert!(
        !output.contains("changeme"),
        "the secret is printed:\n{output}"
    );
    let admin_password = output
        .lines()
        .find_map(|l| l.strip_prefix("Admin user (password shown once): admin / "))
        .unwrap_or_else(|| panic!("no admin password printed:\n{output}"))
        .trim()
        .to_string();
    let admin = ok(demo.password("admin", &admin_password));
    assert!(
        scopes(&admin).iter().any(|s| s == "admin"),
        "{:?}",
        scopes(&admin)
    );
    demo.api_bearer("countries", admin.access_token().secret())
        .assert_rows();
    demo.stop();
}
