//! The OAuth 2.0 token endpoint (RFC 6749) and token revocation (RFC 7009): the password,
//! client credentials and refresh token grants, scope narrowing, refresh-token rotation and
//! reuse detection, error answers, login rate limits, and bearer tokens on the API.
//!
//! These tests call the service directly (not through `TestApp`) because they check response
//! headers (`Cache-Control`, `Pragma`, `WWW-Authenticate`, `Retry-After`) and simulate client
//! addresses with `TestRequest::peer_addr`.

use std::net::SocketAddr;

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use base64::Engine;
use dynex_auth::{AccessClaims, PrincipalKind, Role, Scope, TokenSigner};
use dynex_core::Dynex;
use dynex_test_support::{TestDb, async_backend_tests, country};
use serde_json::{Value, json};

use crate::support::{PREFIX, TEST_PASSWORD, TEST_SECRET, TestApp, open_demo_with_secret};

async_backend_tests!(
    password_grant,
    password_grant_scope_narrowing,
    client_credentials_grant,
    client_authentication_failures,
    refresh_tokens_rotate,
    refresh_token_reuse_revokes_the_family,
    refresh_narrows_but_never_widens,
    user_changes_void_tokens,
    client_changes_void_tokens,
    revocation_is_exact_within_a_millisecond,
    recreated_users_do_not_inherit_tokens,
    recreated_clients_do_not_inherit_tokens,
    malformed_token_requests,
    wrong_and_unknown_users_look_the_same,
    token_routes_only_take_post,
    too_many_failed_logins_per_user,
    too_many_failed_logins_per_address,
    parallel_failed_logins_are_limited_too,
    forwarded_addresses_behind_a_trusted_proxy,
    too_many_failed_client_authentications,
    revoking_an_access_token,
    revoking_a_refresh_token,
    revocation_edge_cases,
    bearer_details,
);

/// An admin user's name.
const ADMIN: &str = "alice";
/// An integrator user's name.
const INTEGRATOR: &str = "ivan";
/// Another password that passes the strength rules.
const OTHER_PASSWORD: &str = "purple monkey dishwasher 42";
/// What an admin user is granted by default.
const ADMIN_SCOPES: &str = "admin dynamic-entity:read dynamic-entity:write dynamic-entity:delete";
/// What an integrator user is granted by default.
const INTEGRATOR_SCOPES: &str = "dynamic-entity:read dynamic-entity:write dynamic-entity:delete";
/// The access-token lifetime (Spryker's 8 hours).
const ACCESS_TTL: u64 = 8 * 3600;
const REVOKED: &str = "Invalid access token. The access token has been revoked.";

/// A response with its headers, read completely.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    raw: String,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header"))
    }

    /// Asserts the headers every token endpoint answer carries (RFC 6749 section 5.1).
    fn assert_no_store(&self) {
        assert_eq!(self.header("cache-control"), Some("no-store"), "{self:?}");
        assert_eq!(self.header("pragma"), Some("no-cache"), "{self:?}");
    }

    fn assert_json(&self) {
        let ct = self.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("application/json"), "not JSON: {self:?}");
        assert!(
            serde_json::from_str::<Value>(&self.raw).is_ok(),
            "the body is not JSON: {self:?}"
        );
    }

    /// A successful token answer (asserting 200, no-store and exactly the RFC members).
    fn grant(&self, with_refresh: bool) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "unexpected answer: {self:?}");
        self.assert_json();
        self.assert_no_store();
        let object = self.body.as_object().expect("a JSON object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        if with_refresh {
            assert_eq!(
                keys,
                [
                    "access_token",
                    "expires_in",
                    "refresh_token",
                    "scope",
                    "token_type"
                ],
                "{self:?}"
            );
            let refresh = self.body["refresh_token"].as_str().expect("a string");
            assert!(refresh.starts_with("dnxr_"), "{refresh}");
        } else {
            assert_eq!(
                keys,
                ["access_token", "expires_in", "scope", "token_type"],
                "{self:?}"
            );
        }
        assert_eq!(self.body["token_type"], json!("Bearer"), "{self:?}");
        assert_eq!(self.body["expires_in"], json!(ACCESS_TTL), "{self:?}");
        assert!(
            self.body["access_token"]
                .as_str()
                .is_some_and(|t| t.len() > 20)
        );
        &self.body
    }

    /// An RFC 6749 section 5.2 error answer with this status and `error` code; returns the
    /// `error_description`.
    fn oauth_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "unexpected answer: {self:?}");
        self.assert_json();
        self.assert_no_store();
        let object = self.body.as_object().expect("a JSON object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["error", "error_description"], "{self:?}");
        assert_eq!(self.body["error"], json!(code), "{self:?}");
        let description = self.body["error_description"]
            .as_str()
            .expect("a string description");
        assert!(!description.is_empty(), "{self:?}");
        description.to_string()
    }

    /// `invalid_client` (401) with the Basic challenge (RFC 6749 section 5.2).
    fn invalid_client(&self) {
        self.oauth_error(401, "invalid_client");
        assert_eq!(
            self.header("www-authenticate"),
            Some("Basic realm=\"dynex\""),
            "{self:?}"
        );
    }

    /// 429 `too_many_requests` with a positive integer `Retry-After`, at most the window.
    fn too_many(&self) -> u64 {
        self.oauth_error(429, "too_many_requests");
        let secs: u64 = self
            .header("retry-after")
            .unwrap_or_else(|| panic!("no Retry-After: {self:?}"))
            .parse()
            .expect("Retry-After in seconds");
        assert!((1..=15 * 60).contains(&secs), "Retry-After {secs}");
        secs
    }

    /// A Spryker-style single error from the API with this status and code; returns its
    /// message.
    fn api_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "unexpected answer: {self:?}");
        self.assert_json();
        let errors = self.body.as_array().expect("an error array");
        assert_eq!(errors.len(), 1, "{self:?}");
        assert_eq!(errors[0]["code"], json!(code), "{self:?}");
        assert_eq!(errors[0]["status"], json!(status), "{self:?}");
        errors[0]["message"].as_str().expect("message").to_string()
    }

    /// 401 / 001 for a refused bearer token, with the RFC 6750 challenge; returns the message.
    fn token_refused(&self) -> String {
        let message = self.api_error(401, "001");
        let challenge = self.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer realm=\"dynex\", error=\"invalid_token\""),
            "{self:?}"
        );
        message
    }
}

/// `create_app` as a test service that keeps response headers.
struct Server {
    app: TestApp,
}

/// A client address `10.0.0.{n}`.
fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, n], 40000))
}

/// `POST path` with the form-encoded `params`.
fn form(path: &str, params: &[(&str, &str)]) -> TestRequest {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    TestRequest::post()
        .uri(path)
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(body)
}

fn basic(id: &str, secret: &str) -> (header::HeaderName, String) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    (header::AUTHORIZATION, format!("Basic {encoded}"))
}

fn token_of(grant: &Value) -> String {
    grant["access_token"]
        .as_str()
        .expect("access token")
        .to_string()
}

fn refresh_of(grant: &Value) -> String {
    grant["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_string()
}

impl Server {
    async fn new(dynex: Dynex) -> Server {
        Server::with_config(dynex, dynex_server::AppConfig::default()).await
    }

    async fn with_config(dynex: Dynex, config: dynex_server::AppConfig) -> Server {
        Server {
            app: TestApp::with_config(dynex, config).await,
        }
    }

    async fn send(&self, req: TestRequest) -> Answer {
        let reply = self.app.send(req).await;
        Answer {
            status: reply.status,
            headers: reply.headers,
            raw: reply.raw,
            body: reply.body,
        }
    }

    /// `POST /token` with `params`, from no particular address.
    async fn token(&self, params: &[(&str, &str)]) -> Answer {
        self.send(form("/token", params)).await
    }

    /// `POST /token` with `params` from `from`.
    async fn token_from(&self, from: SocketAddr, params: &[(&str, &str)]) -> Answer {
        self.send(form("/token", params).peer_addr(from)).await
    }

    /// The password grant for `user` (answer not checked).
    async fn password(&self, user: &str, password: &str) -> Answer {
        self.token(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
        ])
        .await
    }

    /// The password grant for `user` from `from` (answer not checked).
    async fn password_from(&self, from: SocketAddr, user: &str, password: &str) -> Answer {
        self.token_from(
            from,
            &[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
            ],
        )
        .await
    }

    /// The password grant for `user` with [`TEST_PASSWORD`], narrowed to `scope`.
    async fn scoped(&self, user: &str, scope: &str) -> Answer {
        self.token(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", TEST_PASSWORD),
            ("scope", scope),
        ])
        .await
    }

    /// A successful password-grant answer for `user` with [`TEST_PASSWORD`].
    async fn login(&self, user: &str) -> Value {
        self.password(user, TEST_PASSWORD).await.grant(true).clone()
    }

    /// The refresh grant, optionally narrowed (answer not checked).
    async fn refresh(&self, refresh_token: &str, scope: Option<&str>) -> Answer {
        let mut params = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        if let Some(scope) = scope {
            params.push(("scope", scope));
        }
        self.token(&params).await
    }

    /// The client credentials grant with the secret in the body (answer not checked).
    async fn client(&self, id: &str, secret: &str) -> Answer {
        self.token(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .await
    }

    /// `POST /token/revoke` of `token`.
    async fn revoke(&self, token: &str) -> Answer {
        self.send(form("/token/revoke", &[("token", token)])).await
    }

    /// `method uri` with `Authorization: Bearer token` and an optional JSON body.
    async fn bearer(&self, method: Method, uri: &str, token: &str, body: Option<&Value>) -> Answer {
        let mut req = TestRequest::default()
            .method(method)
            .uri(uri)
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")));
        if let Some(body) = body {
            req = req
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .set_payload(body.to_string());
        }
        self.send(req).await
    }

    /// `GET /dynamic-entity/{path}` with the bearer `token`.
    async fn api(&self, path: &str, token: &str) -> Answer {
        self.bearer(Method::GET, &format!("/{PREFIX}/{path}"), token, None)
            .await
    }

    /// Asserts that `token` reads country 2.
    async fn assert_reads(&self, token: &str) {
        let r = self.api("countries/2", token).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body, json!({"data": country(2)}));
    }

    /// Asserts that `token` is refused as revoked.
    async fn assert_revoked(&self, token: &str) {
        let r = self.api("countries/2", token).await;
        assert_eq!(r.token_refused(), REVOKED);
    }
}

/// The demo with [`TEST_SECRET`], an admin user `alice` and an integrator `ivan` (both with
/// [`TEST_PASSWORD`]), and the server over it.
async fn setup(db: &TestDb) -> (Dynex, Server) {
    let dynex = open_demo_with_secret(db);
    dynex
        .add_user(ADMIN, TEST_PASSWORD, Role::Admin)
        .expect("add the admin");
    dynex
        .add_user(INTEGRATOR, TEST_PASSWORD, Role::Integrator)
        .expect("add the integrator");
    let server = Server::new(dynex.clone()).await;
    (dynex, server)
}

fn scopes(list: &str) -> Vec<Scope> {
    dynex_auth::parse_scopes(list).expect("valid scopes")
}

/// The password grant answers the RFC 6749 members with no-store headers; the scope is the
/// role's; the token reads the API; `/token/` (Spryker's spelling) works too.
async fn password_grant(db: TestDb) {
    let (_dx, server) = setup(&db).await;
    let r = server.password(ADMIN, TEST_PASSWORD).await;
    let grant = r.grant(true);
    assert_eq!(grant["scope"], json!(ADMIN_SCOPES));
    server.assert_reads(&token_of(grant)).await;

    let grant = server.login(INTEGRATOR).await;
    assert_eq!(grant["scope"], json!(INTEGRATOR_SCOPES));
    let token = token_of(&grant);
    server.assert_reads(&token).await;
    // The access token is a JWT, the refresh token is opaque; both are new at each login.
    assert_eq!(token.split('.').count(), 3, "{token}");
    let again = server.login(INTEGRATOR).await;
    assert_ne!(token_of(&again), token);
    assert_ne!(refresh_of(&again), refresh_of(&grant));

    // The trailing-slash path of Spryker's Glue API.
    let r = server
        .send(form(
            "/token/",
            &[
                ("grant_type", "password"),
                ("username", INTEGRATOR),
                ("password", TEST_PASSWORD),
            ],
        ))
        .await;
    server.assert_reads(&token_of(r.grant(true))).await;

    // A charset parameter on the content type is fine.
    let r = server
        .send(
            form(
                "/token",
                &[
                    ("grant_type", "password"),
                    ("username", ADMIN),
                    ("password", TEST_PASSWORD),
                ],
            )
            .insert_header((
                header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=UTF-8",
            )),
        )
        .await;
    r.grant(true);
}

/// `scope` narrows what the password grant grants; more than the role allows, or a malformed
/// scope, is `invalid_scope`.
async fn password_grant_scope_narrowing(db: TestDb) {
    let (_dx, server) = setup(&db).await;

    let r = server
        .scoped(INTEGRATOR, "dynamic-entity:countries:read")
        .await;
    let grant = r.grant(true);
    assert_eq!(grant["scope"], json!("dynamic-entity:countries:read"));
    let token = token_of(grant);
    server.assert_reads(&token).await;
    let r = server.api("tax-rates", &token).await;
    assert_eq!(
        r.api_error(403, "002"),
        "Unauthorized request. The credentials lack the scope `dynamic-entity:tax-rates:read`."
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some(
            "Bearer realm=\"dynex\", error=\"insufficient_scope\", scope=\"dynamic-entity:tax-rates:read\""
        )
    );
    let body = json!({"data": [{"iso2_code": "XA", "iso3_code": "XAA", "name": "Xa"}]});
    for method in [Method::POST, Method::PATCH, Method::PUT] {
        let r = server
            .bearer(
                method.clone(),
                &format!("/{PREFIX}/countries"),
                &token,
                Some(&body),
            )
            .await;
        let message = r.api_error(403, "002");
        assert!(
            message.contains("dynamic-entity:countries:write"),
            "{method}: {message}"
        );
    }
    let r = server
        .bearer(
            Method::DELETE,
            &format!("/{PREFIX}/countries/1"),
            &token,
            None,
        )
        .await;
    r.api_error(403, "002");

    // Several scopes, space- or comma-separated; duplicates collapse.
    let r = server.scoped(
        INTEGRATOR,
        "dynamic-entity:countries:read dynamic-entity:tax-rates:read dynamic-entity:countries:read",
    )
    .await;
    assert_eq!(
        r.grant(true)["scope"],
        json!("dynamic-entity:countries:read dynamic-entity:tax-rates:read")
    );

    // An admin may narrow to `admin` alone, which then does not read entities.
    let r = server.scoped(ADMIN, "admin").await;
    let grant = r.grant(true);
    assert_eq!(grant["scope"], json!("admin"));
    let r = server.api("countries", &token_of(grant)).await;
    r.api_error(403, "002");
    // An admin narrowed to entity reads has no admin API.
    let r = server.scoped(ADMIN, "dynamic-entity:read").await;
    let token = token_of(r.grant(true));
    let r = server
        .bearer(Method::GET, "/admin/api/users", &token, None)
        .await;
    assert_eq!(
        r.api_error(403, "002"),
        "Unauthorized request. The credentials lack the scope `admin`."
    );

    // More than the role allows.
    for scope in ["admin", "admin dynamic-entity:read"] {
        let r = server.scoped(INTEGRATOR, scope).await;
        let description = r.oauth_error(400, "invalid_scope");
        assert!(description.contains("admin"), "{description}");
    }
    // Malformed scopes.
    for scope in [
        "dynamic-entity:countries:drop",
        "dynamic-entity:drop",
        "everything",
        "dynamic-entity:coun/tries:read",
        "Admin",
    ] {
        let r = server.scoped(ADMIN, scope).await;
        r.oauth_error(400, "invalid_scope");
    }
}

/// The client credentials grant: the secret in the body or by HTTP Basic; no refresh token;
/// the client's scopes, optionally narrowed.
async fn client_credentials_grant(db: TestDb) {
    let (dx, server) = setup(&db).await;
    let secret = dx
        .add_client(
            "etl",
            &scopes("dynamic-entity:countries:read dynamic-entity:tax-rates:read"),
        )
        .expect("add a client")
        .client_secret;
    assert!(secret.starts_with("dnxs_"), "{secret}");

    let r = server.client("etl", &secret).await;
    let grant = r.grant(false);
    assert_eq!(
        grant["scope"],
        json!("dynamic-entity:countries:read dynamic-entity:tax-rates:read")
    );
    let token = token_of(grant);
    server.assert_reads(&token).await;
    let r = server.api("tax-rates/1", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = server.api("stock-products", &token).await;
    r.api_error(403, "002");
    let r = server
        .bearer(
            Method::POST,
            &format!("/{PREFIX}/countries"),
            &token,
            Some(&json!({"data": [{"iso2_code": "XA"}]})),
        )
        .await;
    r.api_error(403, "002");

    // HTTP Basic (RFC 6749 section 2.3.1).
    let r = server
        .send(
            form("/token", &[("grant_type", "client_credentials")])
                .insert_header(basic("etl", &secret)),
        )
        .await;
    server.assert_reads(&token_of(r.grant(false))).await;
    // Basic with the same client_id in the body is fine.
    let r = server
        .send(
            form(
                "/token",
                &[("grant_type", "client_credentials"), ("client_id", "etl")],
            )
            .insert_header(basic("etl", &secret)),
        )
        .await;
    r.grant(false);

    // Narrowed.
    let r = server
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "etl"),
            ("client_secret", secret.as_str()),
            ("scope", "dynamic-entity:tax-rates:read"),
        ])
        .await;
    let token = token_of(r.grant(false));
    let r = server.api("countries", &token).await;
    r.api_error(403, "002");
    // Never widened.
    for scope in [
        "dynamic-entity:read",
        "dynamic-entity:countries:write",
        "admin",
    ] {
        let r = server
            .token(&[
                ("grant_type", "client_credentials"),
                ("client_id", "etl"),
                ("client_secret", secret.as_str()),
                ("scope", scope),
            ])
            .await;
        r.oauth_error(400, "invalid_scope");
    }

    // A client with the admin scope uses the admin API.
    let admin_secret = dx
        .add_client("ops", &scopes("admin"))
        .expect("add a client")
        .client_secret;
    let r = server.client("ops", &admin_secret).await;
    let token = token_of(r.grant(false));
    let r = server
        .bearer(Method::GET, "/admin/api/clients", &token, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

/// Wrong, unknown or missing client credentials are `invalid_client` with a Basic challenge;
/// two authentication methods at once are `invalid_request`.
async fn client_authentication_failures(db: TestDb) {
    let (dx, server) = setup(&db).await;
    let secret = dx
        .add_client("etl", &scopes("dynamic-entity:read"))
        .expect("add a client")
        .client_secret;

    // Both HTTP Basic and client_secret.
    let r = server
        .send(
            form(
                "/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_secret", secret.as_str()),
                ],
            )
            .insert_header(basic("etl", &secret)),
        )
        .await;
    r.oauth_error(400, "invalid_request");
    // A body client_id that differs from the Basic one.
    let r = server
        .send(
            form(
                "/token",
                &[("grant_type", "client_credentials"), ("client_id", "other")],
            )
            .insert_header(basic("etl", &secret)),
        )
        .await;
    r.oauth_error(400, "invalid_request");

    // Wrong secret by Basic and in the body (two failures of `etl`).
    let r = server
        .send(
            form("/token", &[("grant_type", "client_credentials")])
                .insert_header(basic("etl", "dnxs_wrong")),
        )
        .await;
    r.invalid_client();
    let wrong = format!("{secret}x");
    server.client("etl", &wrong).await.invalid_client();
    // Unknown client, with a real secret of another client.
    server.client("nobody", &secret).await.invalid_client();
    // Missing secret, missing id, nothing at all.
    let r = server
        .token(&[("grant_type", "client_credentials"), ("client_id", "etl")])
        .await;
    r.invalid_client();
    let r = server
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_secret", secret.as_str()),
        ])
        .await;
    r.invalid_client();
    let r = server.token(&[("grant_type", "client_credentials")]).await;
    r.invalid_client();
    // Not Basic, or not decodable.
    for value in ["Basic !!!", "Basic", "Bearer abc", "Basic Zm9v"] {
        let r = server
            .send(
                form("/token", &[("grant_type", "client_credentials")])
                    .insert_header((header::AUTHORIZATION, value)),
            )
            .await;
        r.invalid_client();
    }
    // A client secret is not a user password, nor the reverse.
    let r = server.password("etl", &secret).await;
    r.oauth_error(400, "invalid_grant");
    server
        .client(INTEGRATOR, TEST_PASSWORD)
        .await
        .invalid_client();

    // The right secret still works (fewer than 5 failures).
    server.client("etl", &secret).await.grant(false);
}

/// Each refresh issues a new pair in the family; the used refresh token is refused afterwards.
async fn refresh_tokens_rotate(db: TestDb) {
    let (_dx, server) = setup(&db).await;
    let first = server.login(INTEGRATOR).await;
    let r = server.refresh(&refresh_of(&first), None).await;
    let second = r.grant(true).clone();
    assert_eq!(second["scope"], json!(INTEGRATOR_SCOPES));
    assert_ne!(refresh_of(&second), refresh_of(&first));
    assert_ne!(token_of(&second), token_of(&first));
    server.assert_reads(&token_of(&second)).await;
    // The first access token is still valid until it expires (no reuse happened).
    server.assert_reads(&token_of(&first)).await;

    let third = server
        .refresh(&refresh_of(&second), None)
        .await
        .grant(true)
        .clone();
    assert_ne!(refresh_of(&third), refresh_of(&second));
    server.assert_reads(&token_of(&third)).await;

    // An unknown or garbled refresh token.
    for bad in ["dnxr_unknown", "garbage", &refresh_of(&third)[..20]] {
        let r = server.refresh(bad, None).await;
        r.oauth_error(400, "invalid_grant");
    }
    // An access token is not a refresh token.
    let r = server.refresh(&token_of(&third), None).await;
    r.oauth_error(400, "invalid_grant");
    // Those did not disturb the family.
    server.refresh(&refresh_of(&third), None).await.grant(true);
}

/// Presenting a used refresh token again means it was copied: it is refused and the whole
/// family is revoked, including the access token of the last refresh. Other logins go on.
async fn refresh_token_reuse_revokes_the_family(db: TestDb) {
    let (_dx, server) = setup(&db).await;
    let other = server.login(INTEGRATOR).await;
    let first = server.login(INTEGRATOR).await;
    let second = server
        .refresh(&refresh_of(&first), None)
        .await
        .grant(true)
        .clone();
    let third = server
        .refresh(&refresh_of(&second), None)
        .await
        .grant(true)
        .clone();
    server.assert_reads(&token_of(&third)).await;

    // The first refresh token again.
    let r = server.refresh(&refresh_of(&first), None).await;
    r.oauth_error(400, "invalid_grant");
    // The family is gone: every access token and the current refresh token.
    for token in [&first, &second, &third] {
        server.assert_revoked(&token_of(token)).await;
    }
    let r = server.refresh(&refresh_of(&third), None).await;
    r.oauth_error(400, "invalid_grant");
    let r = server.refresh(&refresh_of(&second), None).await;
    r.oauth_error(400, "invalid_grant");

    // Another login of the same user is another family.
    server.assert_reads(&token_of(&other)).await;
    let next = server
        .refresh(&refresh_of(&other), None)
        .await
        .grant(true)
        .clone();
    server.assert_reads(&token_of(&next)).await;
}

/// A refresh may narrow the scope but never widen it beyond the original grant; the new
/// refresh token keeps the original scopes (RFC 6749 section 6).
async fn refresh_narrows_but_never_widens(db: TestDb) {
    let (_dx, server) = setup(&db).await;
    let full = server.login(INTEGRATOR).await;
    let r = server
        .refresh(&refresh_of(&full), Some("dynamic-entity:countries:read"))
        .await;
    let narrowed = r.grant(true).clone();
    assert_eq!(narrowed["scope"], json!("dynamic-entity:countries:read"));
    let r = server.api("tax-rates", &token_of(&narrowed)).await;
    r.api_error(403, "002");
    server.assert_reads(&token_of(&narrowed)).await;

    // Asking more than the role has: refused, and the refresh token is not used up by it.
    let r = server.refresh(&refresh_of(&narrowed), Some("admin")).await;
    r.oauth_error(400, "invalid_scope");
    let r = server
        .refresh(&refresh_of(&narrowed), Some("dynamic-entity:nope"))
        .await;
    r.oauth_error(400, "invalid_scope");
    // The new refresh token still carries the original (full) grant.
    let r = server.refresh(&refresh_of(&narrowed), None).await;
    let again = r.grant(true).clone();
    assert_eq!(again["scope"], json!(INTEGRATOR_SCOPES));

    // A login narrowed at the start cannot be widened by refreshing.
    let r = server
        .token(&[
            ("grant_type", "password"),
            ("username", INTEGRATOR),
            ("password", TEST_PASSWORD),
            ("scope", "dynamic-entity:countries:read"),
        ])
        .await;
    let small = r.grant(true).clone();
    for scope in [
        "dynamic-entity:read",
        "dynamic-entity:tax-rates:read",
        "dynamic-entity:countries:write",
    ] {
        let r = server.refresh(&refresh_of(&small), Some(scope)).await;
        r.oauth_error(400, "invalid_scope");
    }
    let r = server.refresh(&refresh_of(&small), None).await;
    assert_eq!(
        r.grant(true)["scope"],
        json!("dynamic-entity:countries:read")
    );

    // An admin may refresh down to `admin` only.
    let admin = server.login(ADMIN).await;
    let r = server.refresh(&refresh_of(&admin), Some("admin")).await;
    assert_eq!(r.grant(true)["scope"], json!("admin"));
}

/// Revoking a user's tokens, changing the password or removing the user voids the user's
/// access and refresh tokens at once; other users are untouched.
async fn user_changes_void_tokens(db: TestDb) {
    let (dx, server) = setup(&db).await;
    let bystander = server.login(ADMIN).await;

    // Revoked tokens.
    let before = server.login(INTEGRATOR).await;
    server.assert_reads(&token_of(&before)).await;
    dx.revoke_user_tokens(INTEGRATOR)
        .expect("revoke the tokens");
    server.assert_revoked(&token_of(&before)).await;
    let r = server.refresh(&refresh_of(&before), None).await;
    r.oauth_error(400, "invalid_grant");
    // Logging in again works.
    let after = server.login(INTEGRATOR).await;
    server.assert_reads(&token_of(&after)).await;
    let after = server
        .refresh(&refresh_of(&after), None)
        .await
        .grant(true)
        .clone();
    server.assert_reads(&token_of(&after)).await;

    // A new password.
    dx.set_user_password(INTEGRATOR, OTHER_PASSWORD)
        .expect("set the password");
    server.assert_revoked(&token_of(&after)).await;
    let r = server.refresh(&refresh_of(&after), None).await;
    r.oauth_error(400, "invalid_grant");
    let r = server.password(INTEGRATOR, TEST_PASSWORD).await;
    r.oauth_error(400, "invalid_grant");
    let r = server.password(INTEGRATOR, OTHER_PASSWORD).await;
    let fresh = r.grant(true).clone();
    server.assert_reads(&token_of(&fresh)).await;

    // Removed.
    dx.remove_user(INTEGRATOR).expect("remove the user");
    server.assert_revoked(&token_of(&fresh)).await;
    let r = server.refresh(&refresh_of(&fresh), None).await;
    r.oauth_error(400, "invalid_grant");
    let r = server.password(INTEGRATOR, OTHER_PASSWORD).await;
    r.oauth_error(400, "invalid_grant");

    // The admin's login was never affected.
    server.assert_reads(&token_of(&bystander)).await;
    server
        .refresh(&refresh_of(&bystander), None)
        .await
        .grant(true);
}

/// Revoking a client's tokens or removing the client voids its access tokens at once.
async fn client_changes_void_tokens(db: TestDb) {
    let (dx, server) = setup(&db).await;
    let secret = dx
        .add_client("etl", &scopes("dynamic-entity:read"))
        .expect("add a client")
        .client_secret;
    let other_secret = dx
        .add_client("other", &scopes("dynamic-entity:read"))
        .expect("add a client")
        .client_secret;
    let other = token_of(server.client("other", &other_secret).await.grant(false));

    let token = token_of(server.client("etl", &secret).await.grant(false));
    server.assert_reads(&token).await;
    dx.revoke_client_tokens("etl").expect("revoke the tokens");
    server.assert_revoked(&token).await;
    // It may ask for a new one.
    let token = token_of(server.client("etl", &secret).await.grant(false));
    server.assert_reads(&token).await;

    dx.remove_client("etl").expect("remove the client");
    server.assert_revoked(&token).await;
    server.client("etl", &secret).await.invalid_client();

    server.assert_reads(&other).await;
}

/// Revocation is exact even within one millisecond: every token issued before a revocation is
/// void, and a token issued after it works, however fast the two follow each other (a client
/// whose tokens were revoked "may ask for a new one" at once).
async fn revocation_is_exact_within_a_millisecond(db: TestDb) {
    let (dx, server) = setup(&db).await;
    let secret = dx
        .add_client("etl", &scopes("dynamic-entity:read"))
        .expect("add a client")
        .client_secret;
    let mut survived = Vec::new();
    let mut refused = Vec::new();
    for round in 0..40 {
        let token = token_of(server.client("etl", &secret).await.grant(false));
        let issued = chrono::Utc::now().timestamp_millis();
        let r = server.api("countries/2", &token).await;
        if r.status != StatusCode::OK {
            refused.push((round, iat_ms(&token), issued));
        }
        dx.revoke_client_tokens("etl").expect("revoke the tokens");
        let r = server.api("countries/2", &token).await;
        if r.status != StatusCode::UNAUTHORIZED {
            survived.push((round, iat_ms(&token)));
        }
    }
    assert!(
        survived.is_empty() && refused.is_empty(),
        "tokens issued before a revocation that still work (round, iat_ms): {survived:?}; \
         fresh tokens issued after a revocation that are refused (round, iat_ms, now): {refused:?}"
    );
}

/// The `iat_ms` claim of a dynex access token.
fn iat_ms(token: &str) -> i64 {
    let payload = token.split('.').nth(1).expect("a JWT");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice::<Value>(&json).expect("claims")["iat_ms"]
        .as_i64()
        .expect("iat_ms")
}

/// A user removed and created again under the same name is a new principal: the old one's
/// tokens stay void (an old admin token must not come back with a new integrator's name).
async fn recreated_users_do_not_inherit_tokens(db: TestDb) {
    let (dx, server) = setup(&db).await;
    let old = server.login(ADMIN).await;
    server.assert_reads(&token_of(&old)).await;
    dx.remove_user(ADMIN).expect("remove the admin");
    server.assert_revoked(&token_of(&old)).await;
    dx.add_user(ADMIN, OTHER_PASSWORD, Role::Integrator)
        .expect("add a user of the same name");
    let r = server
        .bearer(Method::GET, "/admin/api/users", &token_of(&old), None)
        .await;
    assert_eq!(r.token_refused(), REVOKED);
    server.assert_revoked(&token_of(&old)).await;
    let r = server.refresh(&refresh_of(&old), None).await;
    r.oauth_error(400, "invalid_grant");
    // The new user's own login works, with the new role.
    let r = server.password(ADMIN, OTHER_PASSWORD).await;
    assert_eq!(r.grant(true)["scope"], json!(INTEGRATOR_SCOPES));
}

/// A client removed and created again under the same id does not inherit the old tokens.
async fn recreated_clients_do_not_inherit_tokens(db: TestDb) {
    let (dx, server) = setup(&db).await;
    let secret = dx
        .add_client("etl", &scopes("dynamic-entity:read"))
        .expect("add a client")
        .client_secret;
    let token = token_of(server.client("etl", &secret).await.grant(false));
    dx.remove_client("etl").expect("remove the client");
    server.assert_revoked(&token).await;
    let secret = dx
        .add_client("etl", &scopes("dynamic-entity:countries:read"))
        .expect("add a client of the same id")
        .client_secret;
    server.assert_revoked(&token).await;
    let fresh = token_of(server.client("etl", &secret).await.grant(false));
    server.assert_reads(&fresh).await;
}

/// Malformed token requests are `invalid_request` (or `unsupported_grant_type`), answered with
/// the RFC error shape and no-store headers.
async fn malformed_token_requests(db: TestDb) {
    let (_dx, server) = setup(&db).await;
    let login = [("username", INTEGRATOR), ("password", TEST_PASSWORD)];

    // Missing or empty grant type.
    let r = server.token(&login).await;
    let description = r.oauth_error(400, "invalid_request");
    assert!(description.contains("grant_type"), "{description}");
    let r = server
        .token(&[("grant_type", ""), login[0], login[1]])
        .await;
    r.oauth_error(400, "invalid_request");
    // Unknown grant types (values are case-sensitive).
    for grant in [
        "authorization_code",
        "implicit",
        "PASSWORD",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ] {
        let r = server
            .token(&[("grant_type", grant), login[0], login[1]])
            .await;
        let description = r.oauth_error(400, "unsupported_grant_type");
        assert!(description.contains(grant), "{description}");
    }

    // A repeated parameter, even with the same value (RFC 6749 section 3.2).
    for repeated in ["grant_type", "username", "password"] {
        let mut params = vec![
            ("grant_type", "password"),
            ("username", INTEGRATOR),
            ("password", TEST_PASSWORD),
        ];
        let value = params
            .iter()
            .find(|(k, _)| *k == repeated)
            .expect("param")
            .1;
        params.push((repeated, value));
        let r = server.token(&params).await;
        let description = r.oauth_error(400, "invalid_request");
        assert!(description.contains(repeated), "{description}");
    }

    // Not form-encoded.
    let json_body = json!({
        "grant_type": "password",
        "username": INTEGRATOR,
        "password": TEST_PASSWORD,
    })
    .to_string();
    let form_body =
        format!("grant_type=password&username={INTEGRATOR}&password=correct+horse+battery+staple");
    for (content_type, body) in [
        (Some("application/json"), json_body.clone()),
        (Some("application/x-www-form-urlencoded"), json_body),
        (Some("text/plain"), form_body.clone()),
        (Some("multipart/form-data; boundary=x"), form_body.clone()),
        (None, form_body.clone()),
    ] {
        let mut req = TestRequest::post().uri("/token").set_payload(body);
        if let Some(ct) = content_type {
            req = req.insert_header((header::CONTENT_TYPE, ct));
        }
        let r = server.send(req).await;
        if content_type == Some("application/x-www-form-urlencoded") {
            // A JSON text parsed as a form has no grant_type.
            r.oauth_error(400, "invalid_request");
        } else {
            let description = r.oauth_error(400, "invalid_request");
            assert!(
                description.contains("form-encoded"),
                "{content_type:?}: {description}"
            );
        }
    }
    // The same form body with the right content type works.
    let r = server
        .send(
            TestRequest::post()
                .uri("/token")
                .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
                .set_payload(form_body),
        )
        .await;
    r.grant(true);
    // An oversized body.
    let huge = "x".repeat(64 * 1024);
    let r = server
        .token(&[
            ("grant_type", "password"),
            ("username", huge.as_str()),
            ("password", "y"),
        ])
        .await;
    r.oauth_error(400, "invalid_request");

    // Missing or empty credentials of the password grant.
    for params in [
        vec![("grant_type", "password"), ("password", TEST_PASSWORD)],
        vec![("grant_type", "password"), ("username", INTEGRATOR)],
        vec![("grant_type", "password")],
        vec![
            ("grant_type", "password"),
            ("username", ""),
            ("password", TEST_PASSWORD),
        ],
        vec![
            ("grant_type", "password"),
            ("username", INTEGRATOR),
            ("password", ""),
        ],
    ] {
        let r = server.token(&params).await;
        let description = r.oauth_error(400, "invalid_request");
        assert!(
            description.contains("username") || description.contains("password"),
            "{description}"
        );
    }
    // The refresh grant without a refresh token.
    let r = server.token(&[("grant_type", "refresh_token")]).await;
    let description = r.oauth_error(400, "invalid_request");
    assert!(description.contains("refresh_token"), "{description}");

    // A wrong password.
    let r = server.password(INTEGRATOR, OTHER_PASSWORD).await;
    r.oauth_error(400, "invalid_grant");
    // None of that counted against the user: one failure, far from the limit.
    server.login(INTEGRATOR).await;
}

/// An unknown user gets exactly the answer of a wrong password.
async fn wrong_and_unknown_users_look_the_same(db: TestDb) {
    let (_dx, server) = setup(&db).await;
    let wrong = server.password(ADMIN, OTHER_PASSWORD).await;
    let unknown = server.password("nobody", OTHER_PASSWORD).await;
    let unknown_right = server.password("nobody", TEST_PASSWORD).await;
    let description = wrong.oauth_error(400, "invalid_grant");
    assert!(!description.contains(ADMIN), "{description}");
    for other in [&unknown, &unknown_right] {
        assert_eq!(other.status, wrong.status);
        assert_eq!(other.raw, wrong.raw, "byte-identical bodies");
        let mut names: Vec<&str> = other.headers.keys().map(|h| h.as_str()).collect();
        let mut expected: Vec<&str> = wrong.headers.keys().map(|h| h.as_str()).collect();
        names.sort_unstable();
        expected.sort_unstable();
        assert_eq!(names, expected);
        assert_eq!(other.header("content-type"), wrong.header("content-type"));
    }
    // A user name in other letter case is not the user.
    let r = server.password("ALICE", TEST_PASSWORD).await;
    assert_eq!(r.raw, wrong.raw);
}

/// Other methods on the token routes are 405 with a JSON error and `Allow: POST`.
async fn token_routes_only_take_post(db: TestDb) {
    let (_dx, server) = setup(&db).await;
    for (method, uri) in [
        (Method::GET, "/token"),
        (Method::GET, "/token/"),
        (Method::PUT, "/token"),
        (Method::DELETE, "/token"),
        (Method::GET, "/token/revoke"),
        (Method::DELETE, "/token/revoke"),
    ] {
        let r = server
            .send(TestRequest::default().method(method.clone()).uri(uri))
            .await;
        r.api_error(405, "1318");
        assert_eq!(r.header("allow"), Some("POST"), "{method} {uri}");
    }
}

/// Five failed logins for a user (whatever the address or letter case) refuse even the right
/// password with 429 and `Retry-After`; other users and the same user's success reset.
async fn too_many_failed_logins_per_user(db: TestDb) {
    let (_dx, server) = setup(&db).await;
    // A success forgets earlier failures.
    for _ in 0..4 {
        let r = server.password_from(addr(1), ADMIN, OTHER_PASSWORD).await;
        r.oauth_error(400, "invalid_grant");
    }
    let before = token_of(
        server
            .password_from(addr(1), ADMIN, TEST_PASSWORD)
            .await
            .grant(true),
    );
    for (i, name) in ["alice", "Alice", "ALICE", "aLiCe", "alice"]
        .iter()
        .enumerate()
    {
        let n = u8::try_from(i).expect("small") + 10;
        let r = server.password_from(addr(n), name, OTHER_PASSWORD).await;
        r.oauth_error(400, "invalid_grant");
    }
    // Even the right password, from anywhere.
    for n in [1, 10, 99] {
        let r = server.password_from(addr(n), ADMIN, TEST_PASSWORD).await;
        r.too_many();
    }
    // The same holds for an unknown user: no difference tells names apart.
    for _ in 0..5 {
        let r = server
            .password_from(addr(2), "nobody", OTHER_PASSWORD)
            .await;
        r.oauth_error(400, "invalid_grant");
    }
    let r = server
        .password_from(addr(2), "nobody", OTHER_PASSWORD)
        .await;
    r.too_many();
    let locked = server.password_from(addr(2), ADMIN, OTHER_PASSWORD).await;
    locked.too_many();

    // Another user from the same addresses logs in.
    server
        .password_from(addr(1), INTEGRATOR, TEST_PASSWORD)
        .await
        .grant(true);
    server
        .password_from(addr(10), INTEGRATOR, TEST_PASSWORD)
        .await
        .grant(true);
    // The lock is on logins, not on tokens issued before.
    server.assert_reads(&before).await;
}

/// Twenty failures from one address, spread over names none of which reaches five, refuse the
/// next login from that address even for another user with the right password; another address
/// is not affected.
async fn too_many_failed_logins_per_address(db: TestDb) {
    let (_dx, server) = setup(&db).await;
    let (x, y) = (addr(1), addr(2));
    let names = ["ghost-0", "ghost-1", "ghost-2", "ghost-3", ADMIN];
    for i in 0..20 {
        let r = server
            .password_from(x, names[i % names.len()], OTHER_PASSWORD)
            .await;
        r.oauth_error(400, "invalid_grant");
    }
    // Each name has four failures: under the per-user limit.
    let r = server.password_from(x, INTEGRATOR, TEST_PASSWORD).await;
    r.too_many();
    let r = server.password_from(x, ADMIN, TEST_PASSWORD).await;
    r.too_many();
    // Another address logs in, also as a user with four failures.
    server
        .password_from(y, INTEGRATOR, TEST_PASSWORD)
        .await
        .grant(true);
    server
        .password_from(y, ADMIN, TEST_PASSWORD)
        .await
        .grant(true);
    // `X-Forwarded-For` is not trusted by default: it does not change the address.
    let r = server
        .send(
            form(
                "/token",
                &[
                    ("grant_type", "password"),
                    ("username", INTEGRATOR),
                    ("password", TEST_PASSWORD),
                ],
            )
            .peer_addr(x)
            .insert_header(("X-Forwarded-For", "192.0.2.7")),
        )
        .await;
    r.too_many();
    // The address limit covers the client credentials grant too.
    let r = server
        .token_from(
            x,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "nobody"),
                ("client_secret", "dnxs_x"),
            ],
        )
        .await;
    r.too_many();
}

/// Thirty wrong passwords at once: at most five are checked, the others are refused as too
/// many (counting first and recording after the slow password check let eleven through). The
/// same for thirty names from one address against its limit of twenty. A refused attempt is
/// no failure of its own: once the burst is over, the address limit still counts only the
/// checked ones.
async fn parallel_failed_logins_are_limited_too(db: TestDb) {
    let (_dx, server) = setup(&db).await;
    let burst = (0..30u8).map(|n| server.password_from(addr(n + 1), ADMIN, OTHER_PASSWORD));
    let answers = futures_util::future::join_all(burst).await;
    let mut checked = 0;
    for a in &answers {
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            a.too_many();
        } else {
            a.oauth_error(400, "invalid_grant");
            checked += 1;
        }
    }
    assert!(
        checked <= 5,
        "{checked} of 30 parallel wrong passwords were checked"
    );
    // Locked now, whatever number of the burst were checked, unless fewer than five were.
    let r = server.password_from(addr(99), ADMIN, TEST_PASSWORD).await;
    if checked == 5 {
        r.too_many();
    }

    let x = addr(200);
    let names: Vec<String> = (0..30).map(|i| format!("ghost-{i}")).collect();
    let burst = names
        .iter()
        .map(|name| server.password_from(x, name, OTHER_PASSWORD));
    let answers = futures_util::future::join_all(burst).await;
    let checked = answers
        .iter()
        .filter(|a| a.status != StatusCode::TOO_MANY_REQUESTS)
        .inspect(|a| {
            a.oauth_error(400, "invalid_grant");
        })
        .count();
    assert!(
        checked <= 20,
        "{checked} of 30 parallel logins from one address were checked"
    );
    for n in 0..(20 - checked) {
        let r = server
            .password_from(x, &format!("late-{n}"), OTHER_PASSWORD)
            .await;
        r.oauth_error(400, "invalid_grant");
    }
    server
        .password_from(x, INTEGRATOR, TEST_PASSWORD)
        .await
        .too_many();
}

/// Behind a trusted proxy (`trust_forwarded_for`), the first `X-Forwarded-For` hop is the
/// address the limit counts, not the proxy's.
async fn forwarded_addresses_behind_a_trusted_proxy(db: TestDb) {
    let (dx, _server) = setup(&db).await;
    let server = Server::with_config(
        dx,
        dynex_server::AppConfig {
            trust_forwarded_for: true,
            ..dynex_server::AppConfig::default()
        },
    )
    .await;
    let proxy = addr(1);
    let via = |client: &'static str, user: &'static str, password: &'static str| {
        form(
            "/token",
            &[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
            ],
        )
        .peer_addr(proxy)
        .insert_header(("X-Forwarded-For", client))
    };
    let names = ["ghost-0", "ghost-1", "ghost-2", "ghost-3", "ghost-4"];
    for i in 0..20 {
        let r = server
            .send(via(
                "192.0.2.7, 10.0.0.1",
                names[i % names.len()],
                OTHER_PASSWORD,
            ))
            .await;
        r.oauth_error(400, "invalid_grant");
    }
    server
        .send(via("192.0.2.7", INTEGRATOR, TEST_PASSWORD))
        .await
        .too_many();
    // Another client behind the same proxy is not affected.
    server
        .send(via("198.51.100.9", INTEGRATOR, TEST_PASSWORD))
        .await
        .grant(true);
}

/// The per-principal limit applies to client ids: five wrong secrets lock the client out, even
/// with the right one; other clients, and a user of the same name, are not affected.
async fn too_many_failed_client_authentications(db: TestDb) {
    let (dx, server) = setup(&db).await;
    let secret = dx
        .add_client("etl", &scopes("dynamic-entity:read"))
        .expect("add a client")
        .client_secret;
    let other = dx
        .add_client("other", &scopes("dynamic-entity:read"))
        .expect("add a client")
        .client_secret;
    dx.add_user("etl", TEST_PASSWORD, Role::Integrator)
        .expect("add a user named like the client");
    for n in 0..5 {
        let r = server
            .send(
                form("/token", &[("grant_type", "client_credentials")])
                    .insert_header(basic("etl", "dnxs_wrong"))
                    .peer_addr(addr(n + 1)),
            )
            .await;
        r.invalid_client();
    }
    for n in [1, 50] {
        let params = [
            ("grant_type", "client_credentials"),
            ("client_id", "etl"),
            ("client_secret", secret.as_str()),
        ];
        let r = server.token_from(addr(n), &params).await;
        r.too_many();
    }
    let r = server
        .send(
            form("/token", &[("grant_type", "client_credentials")])
                .insert_header(basic("etl", &secret))
                .peer_addr(addr(1)),
        )
        .await;
    r.too_many();
    let params = [
        ("grant_type", "client_credentials"),
        ("client_id", "other"),
        ("client_secret", other.as_str()),
    ];
    server.token_from(addr(1), &params).await.grant(false);
    server
        .password_from(addr(1), "etl", TEST_PASSWORD)
        .await
        .grant(true);
}

/// Revoking an access token (RFC 7009) refuses it and its family's refresh token at once;
/// other logins are untouched.
async fn revoking_an_access_token(db: TestDb) {
    let (_dx, server) = setup(&db).await;
    let other = server.login(INTEGRATOR).await;
    let grant = server.login(INTEGRATOR).await;
    server.assert_reads(&token_of(&grant)).await;
    let r = server.revoke(&token_of(&grant)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.assert_no_store();
    assert_eq!(r.raw, "");
    server.assert_revoked(&token_of(&grant)).await;
    let r = server.refresh(&refresh_of(&grant), None).await;
    r.oauth_error(400, "invalid_grant");
    // Revoking again is fine.
    let r = server.revoke(&token_of(&grant)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    server.assert_reads(&token_of(&other)).await;
    server.refresh(&refresh_of(&other), None).await.grant(true);

    // A token after a refresh: the whole family goes, the first access token too.
    let first = server.login(ADMIN).await;
    let second = server
        .refresh(&refresh_of(&first), None)
        .await
        .grant(true)
        .clone();
    let r = server.revoke(&token_of(&second)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    server.assert_revoked(&token_of(&first)).await;
    server.assert_revoked(&token_of(&second)).await;
    let r = server.refresh(&refresh_of(&second), None).await;
    r.oauth_error(400, "invalid_grant");
}

/// Revoking a refresh token also revokes the access tokens issued with it.
async fn revoking_a_refresh_token(db: TestDb) {
    let (_dx, server) = setup(&db).await;
    let first = server.login(INTEGRATOR).await;
    let r = server.revoke(&refresh_of(&first)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.assert_no_store();
    server.assert_revoked(&token_of(&first)).await;
    let r = server.refresh(&refresh_of(&first), None).await;
    r.oauth_error(400, "invalid_grant");

    // After a rotation: revoking the current refresh token takes the access tokens of the
    // family with it.
    let first = server.login(INTEGRATOR).await;
    let second = server
        .refresh(&refresh_of(&first), None)
        .await
        .grant(true)
        .clone();
    let r = server.revoke(&refresh_of(&second)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    server.assert_revoked(&token_of(&second)).await;
    server.assert_revoked(&token_of(&first)).await;
    // A used refresh token of the family names it too.
    let first = server.login(ADMIN).await;
    let second = server
        .refresh(&refresh_of(&first), None)
        .await
        .grant(true)
        .clone();
    let r = server.revoke(&refresh_of(&first)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    server.assert_revoked(&token_of(&second)).await;
    let r = server.refresh(&refresh_of(&second), None).await;
    r.oauth_error(400, "invalid_grant");
}

/// Unknown and malformed tokens are 200 (nothing to revoke); a missing `token` or a body that is
/// not a form is `invalid_request`; `token_type_hint` is accepted; client tokens revoke too.
async fn revocation_edge_cases(db: TestDb) {
    let (dx, server) = setup(&db).await;
    let expired = mint(TEST_SECRET, INTEGRATOR, INTEGRATOR_SCOPES, -2 * 3600);
    for token in ["dnxr_unknown", "garbage", "a.b.c", expired.as_str()] {
        let r = server.revoke(token).await;
        assert_eq!(r.status, StatusCode::OK, "{token}: {r:?}");
        r.assert_no_store();
    }
    let r = server.send(form("/token/revoke", &[])).await;
    let description = r.oauth_error(400, "invalid_request");
    assert!(description.contains("token"), "{description}");
    let r = server.send(form("/token/revoke", &[("token", "")])).await;
    r.oauth_error(400, "invalid_request");
    let r = server
        .send(form("/token/revoke", &[("token", "a"), ("token", "b")]))
        .await;
    r.oauth_error(400, "invalid_request");
    let r = server
        .send(
            TestRequest::post()
                .uri("/token/revoke")
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .set_payload(json!({"token": "garbage"}).to_string()),
        )
        .await;
    r.oauth_error(400, "invalid_request");

    // A wrong hint does not matter (RFC 7009 section 2.1).
    let grant = server.login(INTEGRATOR).await;
    let r = server
        .send(form(
            "/token/revoke",
            &[
                ("token", token_of(&grant).as_str()),
                ("token_type_hint", "refresh_token"),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    server.assert_revoked(&token_of(&grant)).await;

    // A client credentials token.
    let secret = dx
        .add_client("etl", &scopes("dynamic-entity:read"))
        .expect("add a client")
        .client_secret;
    let token = token_of(server.client("etl", &secret).await.grant(false));
    let second = token_of(server.client("etl", &secret).await.grant(false));
    let r = server.revoke(&token).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    server.assert_revoked(&token).await;
    // Each client token is its own family.
    server.assert_reads(&second).await;

    // A token signed with another secret names no family of ours: 200, nothing happens.
    let foreign = mint(
        "another-secret-0123456789-abcdefghijklmnopqrs",
        INTEGRATOR,
        INTEGRATOR_SCOPES,
        0,
    );
    let r = server.revoke(&foreign).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

/// An access token for `sub` signed with `secret`, issued `offset_secs` from now, valid for an
/// hour.
fn mint(secret: &str, sub: &str, scope: &str, offset_secs: i64) -> String {
    let now_ms = chrono::Utc::now().timestamp_millis() + offset_secs * 1000;
    let claims = AccessClaims::new(
        sub,
        PrincipalKind::User,
        scope.to_string(),
        now_ms,
        3600,
        None,
    );
    TokenSigner::new(secret.as_bytes()).sign(&claims)
}

/// Bearer tokens on the API: other schemes and malformed, foreign or expired tokens are 401 /
/// 001 with the RFC 6750 challenge; an API key wins over a bearer token.
async fn bearer_details(db: TestDb) {
    let (dx, server) = setup(&db).await;
    let grant = server.login(INTEGRATOR).await;
    let token = token_of(&grant);
    let uri = format!("/{PREFIX}/countries/2");

    // Another scheme, or no token.
    for value in [
        "Basic dXNlcjpwYXNz".to_string(),
        format!("Token {token}"),
        token.clone(),
        "Bearer".to_string(),
        "Bearer ".to_string(),
        "Bearer not-a-jwt".to_string(),
        format!("Bearer {token}x"),
        format!("Bearer {}", &token[..token.len() - 2]),
        format!("Bearer {}", refresh_of(&grant)),
    ] {
        let r = server
            .send(
                TestRequest::get()
                    .uri(&uri)
                    .insert_header((header::AUTHORIZATION, value.clone())),
            )
            .await;
        assert_eq!(r.token_refused(), "Invalid access token.", "{value}");
    }
    // The scheme is case-insensitive.
    let r = server
        .send(
            TestRequest::get()
                .uri(&uri)
                .insert_header((header::AUTHORIZATION, format!("bearer {token}"))),
        )
        .await;
    assert_eq!(r.body, json!({"data": country(2)}), "{r:?}");

    // Signed with another secret.
    let foreign = mint(
        "another-secret-0123456789-abcdefghijklmnopqrs",
        INTEGRATOR,
        INTEGRATOR_SCOPES,
        0,
    );
    let r = server.api("countries/2", &foreign).await;
    assert_eq!(r.token_refused(), "Invalid access token.");
    // Expired.
    let expired = mint(TEST_SECRET, INTEGRATOR, INTEGRATOR_SCOPES, -2 * 3600);
    let r = server.api("countries/2", &expired).await;
    assert_eq!(
        r.token_refused(),
        "Invalid access token. The access token has expired."
    );
    // Minted with our secret for a user that exists: accepted; for one that does not: revoked.
    let minted = mint(TEST_SECRET, INTEGRATOR, "dynamic-entity:countries:read", 0);
    server.assert_reads(&minted).await;
    let ghost = mint(TEST_SECRET, "ghost", INTEGRATOR_SCOPES, 0);
    server.assert_revoked(&ghost).await;

    // An API key wins over a bearer token, in the header or the query.
    let key = dx.create_api_key("k", &[], None).expect("a key").key;
    let narrow = token_of(
        server
            .token(&[
                ("grant_type", "password"),
                ("username", INTEGRATOR),
                ("password", TEST_PASSWORD),
                ("scope", "dynamic-entity:countries:read"),
            ])
            .await
            .grant(true),
    );
    let r = server
        .send(
            TestRequest::get()
                .uri(&format!("/{PREFIX}/tax-rates/1"))
                .insert_header((header::AUTHORIZATION, format!("Bearer {narrow}")))
                .insert_header(("X-Api-Key", key.as_str())),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "the key decides: {r:?}");
    for req in [
        TestRequest::get()
            .uri(&uri)
            .insert_header(("X-Api-Key", "wrong")),
        TestRequest::get().uri(&format!("{uri}?api_key=wrong")),
    ] {
        let r = server
            .send(req.insert_header((header::AUTHORIZATION, format!("Bearer {token}"))))
            .await;
        assert_eq!(r.api_error(403, "002"), "Unauthorized request.");
    }
    // A garbage bearer token next to a good key: the key decides.
    let r = server
        .send(
            TestRequest::get()
                .uri(&uri)
                .insert_header((header::AUTHORIZATION, "Bearer x"))
                .insert_header(("X-Api-Key", key.as_str())),
        )
        .await;
    assert_eq!(r.body, json!({"data": country(2)}), "{r:?}");
}
