//! Access control on every route, table-driven: each entity and admin route is sent with no
//! credentials, wrong, expired and revoked API keys and bearer tokens, and credentials one
//! scope short, and must answer the documented error while changing nothing (the rows, users,
//! keys, clients and other principals' tokens are compared after every refused call). The
//! positive control sends the same requests with exactly the scope each needs, from an API key,
//! a password-grant token and a client-credentials token, and they must succeed.

use std::time::Duration;

use actix_web::http::Method;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::test::TestRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{TimeDelta, Utc};
use dynex_auth::{AccessClaims, PrincipalKind, Role, Scope, TokenSigner};
use dynex_core::Dynex;
use dynex_test_support::{TestDb, async_backend_tests, reconfigure};
use serde_json::{Value, json};

use crate::support::{
    PREFIX, Reply, TEST_PASSWORD, TEST_SECRET, TestApp, enc, open_demo_with_secret,
};

async_backend_tests!(
    refused_requests_answer_the_documented_error_and_change_nothing,
    exactly_the_needed_scope_is_enough,
    relation_filters_need_the_read_scope_of_the_entities_they_reach,
);

const UNAUTHORIZED: &str = "Unauthorized request.";
const INVALID: &str = "Invalid access token.";
const EXPIRED: &str = "Invalid access token. The access token has expired.";
const REVOKED: &str = "Invalid access token. The access token has been revoked.";

/// Every scope a principal of the demo could hold, for "everything but the one needed".
const UNIVERSE: &[&str] = &[
    "admin",
    "dynamic-entity:read",
    "dynamic-entity:write",
    "dynamic-entity:delete",
    "dynamic-entity:countries:read",
    "dynamic-entity:countries:write",
    "dynamic-entity:countries:delete",
    "dynamic-entity:price-products:read",
    "dynamic-entity:price-products:write",
    "dynamic-entity:price-products:delete",
    "dynamic-entity:tax-rates:read",
    "dynamic-entity:tax-rates:write",
    "dynamic-entity:tax-rates:delete",
];

/// What an admin user gets by default: every scope.
const FULL: &str = "admin dynamic-entity:read dynamic-entity:write dynamic-entity:delete";

/// How many times the positive control runs each route (API key, password and client token).
const ROUNDS: usize = 3;

// The routes.

/// One route: the request it makes in round `n` (0 for the refusals) and what it needs.
struct Route {
    method: Method,
    /// The URI in round `n`; each round targets other rows so that every round can succeed.
    uri: fn(usize) -> String,
    /// The JSON body in round `n`.
    body: fn(usize) -> Option<Value>,
    /// The scope the route needs.
    needs: &'static str,
    /// The status of success.
    success: u16,
    /// Whether a successful call changes the observed [`State`].
    changes: bool,
}

impl Route {
    fn name(&self) -> String {
        format!("{} {}", self.method, (self.uri)(0))
    }
}

fn no_body(_: usize) -> Option<Value> {
    None
}

fn entity(path: &str) -> String {
    format!("/{PREFIX}/{path}")
}

/// Every route of the Data Exchange API (on `countries`, made deletable, and on the demo's own
/// deletable `price-products`) and of the admin API.
fn routes() -> Vec<Route> {
    // Countries no tax rate references, so that they can be deleted, one per round.
    const DELETE_ONE: [i64; ROUNDS] = [6, 8, 9];
    const DELETE_FILTERED: [i64; ROUNDS] = [11, 12, 3];
    let read = "dynamic-entity:countries:read";
    let write = "dynamic-entity:countries:write";
    vec![
        Route {
            method: Method::GET,
            uri: |_| entity("countries"),
            body: no_body,
            needs: read,
            success: 200,
            changes: false,
        },
        Route {
            method: Method::GET,
            uri: |_| entity("countries/1"),
            body: no_body,
            needs: read,
            success: 200,
            changes: false,
        },
        Route {
            method: Method::POST,
            uri: |_| entity("countries"),
            body: |n| {
                Some(json!({"data": [
                    {"iso2_code": format!("Q{n}"), "iso3_code": format!("QQ{n}"),
                     "name": format!("Quux {n}")}
                ]}))
            },
            needs: write,
            success: 201,
            changes: true,
        },
        Route {
            method: Method::PATCH,
            uri: |_| entity("countries"),
            body: |n| Some(json!({"data": [{"id_country": 2, "name": format!("Austria {n}")}]})),
            needs: write,
            success: 200,
            changes: true,
        },
        Route {
            method: Method::PATCH,
            uri: |_| entity("countries/1"),
            body: |n| Some(json!({"data": {"name": format!("Andorra {n}")}})),
            needs: write,
            success: 200,
            changes: true,
        },
        Route {
            method: Method::PUT,
            uri: |_| entity("countries"),
            body: |n| {
                Some(json!({"data": [
                    {"id_country": 5, "iso2_code": "DE", "iso3_code": "DEU",
                     "name": format!("Germany {n}")}
                ]}))
            },
            needs: write,
            success: 200,
            changes: true,
        },
        Route {
            method: Method::PUT,
            uri: |_| entity("countries/1"),
            body: |n| {
                Some(json!({"data":
                    {"iso2_code": "AD", "iso3_code": "AND", "name": format!("Andorre {n}")}
                }))
            },
            needs: write,
            success: 200,
            changes: true,
        },
        Route {
            method: Method::DELETE,
            uri: |n| entity(&format!("countries/{}", DELETE_ONE[n])),
            body: no_body,
            needs: "dynamic-entity:countries:delete",
            success: 204,
            changes: true,
        },
        Route {
            method: Method::DELETE,
            uri: |n| {
                entity(&format!(
                    "countries?filter[countries.id_country]={}",
                    DELETE_FILTERED[n]
                ))
            },
            body: no_body,
            needs: "dynamic-entity:countries:delete",
            success: 204,
            changes: true,
        },
        Route {
            method: Method::DELETE,
            uri: |n| entity(&format!("price-products/{}", n + 1)),
            body: no_body,
            needs: "dynamic-entity:price-products:delete",
            success: 204,
            changes: true,
        },
        Route {
            method: Method::DELETE,
            uri: |n| {
                let filter = enc(&format!(r#"{{"in": [{}]}}"#, n + 4));
                entity(&format!(
                    "price-products?filter[price-products.id_price_product]={filter}"
                ))
            },
            body: no_body,
            needs: "dynamic-entity:price-products:delete",
            success: 204,
            changes: true,
        },
        Route {
            method: Method::GET,
            uri: |_| "/admin/api/users".into(),
            body: no_body,
            needs: "admin",
            success: 200,
            changes: false,
        },
        Route {
            method: Method::POST,
            uri: |_| "/admin/api/users".into(),
            body: |n| {
                Some(
                    json!({"name": format!("new-user-{n}"), "password": TEST_PASSWORD,
                            "role": "admin"}),
                )
            },
            needs: "admin",
            success: 201,
            changes: true,
        },
        Route {
            method: Method::DELETE,
            uri: |n| format!("/admin/api/users/gone-{n}"),
            body: no_body,
            needs: "admin",
            success: 204,
            changes: true,
        },
        Route {
            method: Method::PUT,
            uri: |n| format!("/admin/api/users/pw-{n}/password"),
            body: |_| Some(json!({"password": "another correct horse battery staple"})),
            needs: "admin",
            success: 204,
            changes: true,
        },
        Route {
            method: Method::POST,
            uri: |n| format!("/admin/api/users/rv-{n}/revoke-tokens"),
            body: no_body,
            needs: "admin",
            success: 204,
            changes: true,
        },
        Route {
            method: Method::GET,
            uri: |_| "/admin/api/keys".into(),
            body: no_body,
            needs: "admin",
            success: 200,
            changes: false,
        },
        Route {
            method: Method::POST,
            uri: |_| "/admin/api/keys".into(),
            body: |n| Some(json!({"name": format!("new-key-{n}"), "scopes": ["admin"]})),
            needs: "admin",
            success: 201,
            changes: true,
        },
        Route {
            method: Method::DELETE,
            uri: |n| format!("/admin/api/keys/victim-key-{n}"),
            body: no_body,
            needs: "admin",
            success: 204,
            changes: true,
        },
        Route {
            method: Method::GET,
            uri: |_| "/admin/api/clients".into(),
            body: no_body,
            needs: "admin",
            success: 200,
            changes: false,
        },
        Route {
            method: Method::POST,
            uri: |_| "/admin/api/clients".into(),
            body: |n| {
                Some(json!({"client_id": format!("new-client-{n}"),
                            "scopes": ["admin", "dynamic-entity:write"]}))
            },
            needs: "admin",
            success: 201,
            changes: true,
        },
        Route {
            method: Method::DELETE,
            uri: |n| format!("/admin/api/clients/gone-client-{n}"),
            body: no_body,
            needs: "admin",
            success: 204,
            changes: true,
        },
        Route {
            method: Method::POST,
            uri: |n| format!("/admin/api/clients/rv-client-{n}/revoke-tokens"),
            body: no_body,
            needs: "admin",
            success: 204,
            changes: true,
        },
    ]
}

/// The distinct scopes the routes need, in route order.
fn needed_scopes(routes: &[Route]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in routes {
        if !out.contains(&r.needs) {
            out.push(r.needs);
        }
    }
    out
}

/// Every scope of [`UNIVERSE`] that does not grant `needed`: same action on other entities,
/// other actions on this one, `admin` (or, for `admin`, every entity scope).
fn all_but(needed: &str) -> Vec<&'static str> {
    let needed: Scope = needed.parse().expect("scope");
    UNIVERSE
        .iter()
        .copied()
        .filter(|s| !s.parse::<Scope>().expect("scope").covers(&needed))
        .collect()
}

// Calling the app, headers included.

/// The credentials a request presents.
#[derive(Debug, Clone)]
enum Cred {
    Nothing,
    /// `X-Api-Key`.
    Header(String),
    /// `?api_key=`.
    Query(String),
    /// `Authorization: Bearer`.
    Bearer(String),
}

/// A response and its `WWW-Authenticate` header.
#[derive(Debug)]
struct Answer {
    reply: Reply,
    challenge: Option<String>,
}

/// The app of `create_app`; answers keep `WWW-Authenticate` at hand.
struct Caller {
    app: TestApp,
}

impl Caller {
    async fn new(dynex: Dynex) -> Caller {
        Caller {
            app: TestApp::new(dynex).await,
        }
    }

    async fn send(&self, req: TestRequest) -> Answer {
        let reply = self.app.send(req).await;
        let challenge = reply.header("www-authenticate");
        Answer { reply, challenge }
    }

    /// `route` in round `n` with `cred`.
    async fn route(&self, route: &Route, n: usize, cred: &Cred) -> Answer {
        let mut uri = (route.uri)(n);
        if let Cred::Query(key) = cred {
            uri.push(if uri.contains('?') { '&' } else { '?' });
            uri.push_str("api_key=");
            uri.push_str(&enc(key));
        }
        let mut req = TestRequest::default()
            .method(route.method.clone())
            .uri(&uri);
        match cred {
            Cred::Nothing | Cred::Query(_) => {}
            Cred::Header(key) => req = req.insert_header(("X-Api-Key", key.as_str())),
            Cred::Bearer(token) => {
                req = req.insert_header(("Authorization", format!("Bearer {token}")));
            }
        }
        if let Some(body) = (route.body)(n) {
            req = req
                .insert_header((CONTENT_TYPE, "application/json"))
                .set_payload(body.to_string());
        }
        self.send(req).await
    }

    /// `POST path` with a form body.
    async fn form(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        self.send(
            TestRequest::post()
                .uri(path)
                .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
                .set_payload(body),
        )
        .await
    }

    /// A token answer (asserting 200) whose granted scopes are exactly `scope`, when given.
    async fn grant(&self, params: &[(&str, &str)], scope: Option<&str>) -> Value {
        let mut params = params.to_vec();
        if let Some(scope) = scope {
            params.push(("scope", scope));
        }
        let a = self.form("/token", &params).await;
        assert_eq!(a.reply.status.as_u16(), 200, "{params:?}: {:?}", a.reply);
        if let Some(scope) = scope {
            let mut granted: Vec<&str> = a.reply.body["scope"]
                .as_str()
                .expect("scope")
                .split(' ')
                .collect();
            let mut asked: Vec<&str> = scope.split(' ').collect();
            granted.sort_unstable();
            asked.sort_unstable();
            assert_eq!(granted, asked, "granted scopes");
        }
        a.reply.body
    }

    /// A password-grant token answer for `user`.
    async fn password(&self, user: &str, scope: Option<&str>) -> Value {
        self.grant(
            &[
                ("grant_type", "password"),
                ("username", user),
                ("password", TEST_PASSWORD),
            ],
            scope,
        )
        .await
    }

    /// A client-credentials token answer.
    async fn client(&self, id: &str, secret: &str, scope: Option<&str>) -> Value {
        self.grant(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ],
            scope,
        )
        .await
    }

    /// `POST /token/revoke` with `token`, asserting 200.
    async fn revoke(&self, token: &str) {
        let a = self.form("/token/revoke", &[("token", token)]).await;
        assert_eq!(a.reply.status.as_u16(), 200, "{:?}", a.reply);
    }

    /// Asserts that `cred` works on every GET route (entity and admin).
    async fn assert_works(&self, routes: &[Route], cred: &Cred, what: &str) {
        for route in routes.iter().filter(|r| r.method == Method::GET) {
            let a = self.route(route, 0, cred).await;
            assert_eq!(a.reply.status.as_u16(), 200, "{what}: {:?}", a.reply);
        }
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A token signed with `secret`, issued at `issued_ms` for `lifetime` seconds.
fn mint(
    secret: &str,
    sub: &str,
    kind: PrincipalKind,
    scope: &str,
    issued_ms: i64,
    lifetime: u64,
) -> String {
    TokenSigner::new(secret.as_bytes()).sign(&AccessClaims::new(
        sub,
        kind,
        scope.to_string(),
        issued_ms,
        lifetime,
        None,
    ))
}

fn parse(scopes: &[&str]) -> Vec<Scope> {
    scopes.iter().map(|s| s.parse().expect("scope")).collect()
}

fn access_token(grant: &Value) -> String {
    grant["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

// The fixture and what must not change.

/// The demo with `countries` deletable, the victims of the admin routes for each round, and
/// tokens of other principals whose validity the admin routes would change.
struct Fixture {
    dx: Dynex,
    app: Caller,
    /// Tokens of the victims, by label; revoking or removing a victim voids its token.
    watched: Vec<(String, String)>,
}

async fn fixture(db: &TestDb) -> Fixture {
    let dx = open_demo_with_secret(db);
    reconfigure(&dx, "countries", |c| {
        c["definition"]["isDeletable"] = json!(true);
    });
    let read = parse(&["dynamic-entity:read"]);
    let mut principals = Vec::new();
    for n in 0..ROUNDS {
        for user in [format!("gone-{n}"), format!("pw-{n}"), format!("rv-{n}")] {
            dx.add_user(&user, TEST_PASSWORD, Role::Integrator)
                .expect("add a user");
            principals.push((user, PrincipalKind::User));
        }
        dx.create_api_key(&format!("victim-key-{n}"), &[], None)
            .expect("create a key");
        for client in [format!("gone-client-{n}"), format!("rv-client-{n}")] {
            dx.add_client(&client, &read).expect("add a client");
            principals.push((client, PrincipalKind::Client));
        }
    }
    // Issued after every principal exists (tokens from before a principal was created are
    // void) and well before any revocation, so that revoking "until now" certainly voids them.
    std::thread::sleep(Duration::from_millis(5));
    let issued = now_ms();
    std::thread::sleep(Duration::from_millis(5));
    let mut watched = Vec::new();
    for (name, kind) in principals {
        let label = match kind {
            PrincipalKind::User => format!("user {name}"),
            PrincipalKind::Client => format!("client {name}"),
        };
        let token = mint(
            TEST_SECRET,
            &name,
            kind,
            "dynamic-entity:read",
            issued,
            3600,
        );
        watched.push((label, token));
    }
    let app = Caller::new(dx.clone()).await;
    let f = Fixture { dx, app, watched };
    let state = f.state();
    assert_eq!(state.countries.len(), 12);
    assert_eq!(state.price_products.len(), 36);
    assert!(state.tokens.iter().all(|(_, valid)| *valid), "{state:?}");
    f
}

/// Everything a refused request could have changed.
#[derive(Debug, PartialEq)]
struct State {
    countries: Vec<Value>,
    price_products: Vec<Value>,
    users: Value,
    keys: Value,
    clients: Value,
    /// Whether each watched token is still accepted.
    tokens: Vec<(String, bool)>,
}

impl Fixture {
    fn state(&self) -> State {
        let all = [("page[limit]".to_string(), "1000".to_string())];
        State {
            countries: self
                .dx
                .read_collection("countries", &all, None)
                .expect("read countries")
                .rows,
            price_products: self
                .dx
                .read_collection("price-products", &all, None)
                .expect("read price products")
                .rows,
            users: serde_json::to_value(self.dx.list_users().expect("users")).expect("JSON"),
            keys: serde_json::to_value(self.dx.list_api_keys().expect("keys")).expect("JSON"),
            clients: serde_json::to_value(self.dx.list_clients().expect("clients")).expect("JSON"),
            tokens: self
                .watched
                .iter()
                .map(|(label, token)| (label.clone(), self.dx.authenticate_token(token).is_ok()))
                .collect(),
        }
    }
}

// The refusals.

/// A way of being refused: the credentials and the documented answer.
struct Refusal {
    what: String,
    cred: Cred,
    status: u16,
    code: &'static str,
    message: String,
    /// For bearer failures, what `WWW-Authenticate` must contain.
    challenge: Vec<String>,
}

impl Refusal {
    fn forbidden(what: &str, cred: Cred) -> Refusal {
        Refusal {
            what: what.into(),
            cred,
            status: 403,
            code: "002",
            message: UNAUTHORIZED.into(),
            challenge: Vec::new(),
        }
    }

    fn bad_token(what: &str, token: String, message: &str) -> Refusal {
        Refusal {
            what: what.into(),
            cred: Cred::Bearer(token),
            status: 401,
            code: "001",
            message: message.into(),
            challenge: vec![r#"error="invalid_token""#.into()],
        }
    }
}

/// Unknown, revoked and expired API keys, and bad, expired and revoked bearer tokens, each of
/// which would hold every scope were it valid (checked before it is spoiled).
async fn bad_credentials(f: &Fixture, routes: &[Route]) -> Vec<Refusal> {
    let (dx, app) = (&f.dx, &f.app);
    let full = parse(&UNIVERSE[..4]);
    for user in ["holder", "revoked-user"] {
        dx.add_user(user, TEST_PASSWORD, Role::Admin)
            .expect("add a user");
    }
    let mut out = vec![
        Refusal::forbidden("(a) no credentials", Cred::Nothing),
        Refusal::forbidden("(b) wrong key in the header", Cred::Header("wrong".into())),
        Refusal::forbidden(
            "(b) unknown well-formed key in the header",
            Cred::Header(dynex_auth::generate_api_key()),
        ),
        Refusal::forbidden("(b) wrong key in the query", Cred::Query("wrong".into())),
    ];

    // (c) Garbage, signed with another secret, tampered with, unsigned.
    let now = now_ms();
    out.push(Refusal::bad_token(
        "(c) garbage bearer token",
        "garbage".into(),
        INVALID,
    ));
    out.push(Refusal::bad_token(
        "(c) token signed with another secret",
        mint(
            "another-signing-secret-0123456789-abcdefghijklmnop",
            "holder",
            PrincipalKind::User,
            FULL,
            now,
            3600,
        ),
        INVALID,
    ));
    let narrow = mint(
        TEST_SECRET,
        "holder",
        PrincipalKind::User,
        "dynamic-entity:tax-rates:read",
        now,
        3600,
    );
    assert!(dx.authenticate_token(&narrow).is_ok(), "a valid token");
    let parts: Vec<&str> = narrow.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("base64")).expect("JSON");
    claims["scope"] = json!(FULL);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    out.push(Refusal::bad_token(
        "(c) token whose scopes were widened after signing",
        format!("{}.{payload}.{}", parts[0], parts[2]),
        INVALID,
    ));
    let unsigned = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    out.push(Refusal::bad_token(
        "(c) unsigned token (alg none)",
        format!("{unsigned}.{payload}."),
        INVALID,
    ));

    // (d) Expired, of a user and of a client.
    out.push(Refusal::bad_token(
        "(d) expired user token",
        mint(
            TEST_SECRET,
            "holder",
            PrincipalKind::User,
            FULL,
            now - 10_000,
            1,
        ),
        EXPIRED,
    ));
    let client = dx.add_client("full-client", &full).expect("add a client");
    out.push(Refusal::bad_token(
        "(d) expired client token",
        mint(
            TEST_SECRET,
            "full-client",
            PrincipalKind::Client,
            FULL,
            now - 10_000,
            1,
        ),
        EXPIRED,
    ));

    // (e) Revoked: all of a user's tokens, one access token, a refresh token (its family), a
    // client's token by /token/revoke and by revoking the client's tokens; a token of nobody.
    let revoked_user = access_token(&app.password("revoked-user", None).await);
    let a = access_token(&app.password("holder", None).await);
    let b = app.password("holder", None).await;
    let b_access = access_token(&b);
    let c = access_token(&app.client("full-client", &client.client_secret, None).await);
    let other = dx
        .add_client("revoked-client", &full)
        .expect("add a client");
    let d = access_token(
        &app.client("revoked-client", &other.client_secret, None)
            .await,
    );
    let tokens = [
        (
            "(e) token of a user whose tokens were revoked",
            &revoked_user,
        ),
        ("(e) access token revoked by /token/revoke", &a),
        (
            "(e) access token whose refresh token was revoked",
            &b_access,
        ),
        ("(e) client token revoked by /token/revoke", &c),
        ("(e) token of a client whose tokens were revoked", &d),
    ];
    for (what, token) in tokens {
        app.assert_works(routes, &Cred::Bearer(token.clone()), what)
            .await;
    }
    // Revocation voids tokens issued before its millisecond.
    std::thread::sleep(Duration::from_millis(5));
    dx.revoke_user_tokens("revoked-user").expect("revoke");
    dx.revoke_client_tokens("revoked-client").expect("revoke");
    app.revoke(&a).await;
    app.revoke(b["refresh_token"].as_str().expect("refresh_token"))
        .await;
    app.revoke(&c).await;
    for (what, token) in tokens {
        out.push(Refusal::bad_token(what, token.clone(), REVOKED));
    }
    out.push(Refusal::bad_token(
        "(e) token of an unknown user",
        mint(TEST_SECRET, "nobody", PrincipalKind::User, FULL, now, 3600),
        REVOKED,
    ));

    // (f) Revoked and expired keys.
    let revoked = dx
        .create_api_key("revoked-key", &parse(UNIVERSE), None)
        .expect("create a key")
        .key;
    app.assert_works(routes, &Cred::Header(revoked.clone()), "revoked-key")
        .await;
    dx.revoke_api_key("revoked-key").expect("revoke");
    out.push(Refusal::forbidden(
        "(f) revoked key in the header",
        Cred::Header(revoked.clone()),
    ));
    out.push(Refusal::forbidden(
        "(f) revoked key in the query",
        Cred::Query(revoked),
    ));
    let expired = dx
        .create_api_key(
            "expired-key",
            &parse(UNIVERSE),
            Some(Utc::now().naive_utc() - TimeDelta::hours(1)),
        )
        .expect("create a key")
        .key;
    out.push(Refusal::forbidden("(f) expired key", Cred::Header(expired)));
    out
}

/// For each needed scope, credentials with every other scope: an API key, a password-grant
/// token and a client-credentials token.
async fn one_scope_short(
    f: &Fixture,
    needed: &[&'static str],
) -> Vec<(&'static str, Vec<Refusal>)> {
    f.dx.add_user("short", TEST_PASSWORD, Role::Admin)
        .expect("add a user");
    let mut out = Vec::new();
    for (i, scope) in needed.iter().enumerate() {
        let others = all_but(scope);
        assert!(others.len() >= 9, "{scope}: {others:?}");
        let text = others.join(" ");
        let key =
            f.dx.create_api_key(&format!("short-{i}"), &parse(&others), None)
                .expect("create a key")
                .key;
        let password = access_token(&f.app.password("short", Some(&text)).await);
        let client =
            f.dx.add_client(&format!("short-{i}"), &parse(&others))
                .expect("add a client");
        let client = access_token(
            &f.app
                .client(&client.client_id, &client.client_secret, Some(&text))
                .await,
        );
        let message = format!("Unauthorized request. The credentials lack the scope `{scope}`.");
        let short = |what: &str, cred: Cred, bearer: bool| Refusal {
            what: format!("(g) {what} with every scope but {scope}"),
            cred,
            status: 403,
            code: "002",
            message: message.clone(),
            challenge: if bearer {
                vec![
                    r#"error="insufficient_scope""#.into(),
                    format!(r#"scope="{scope}""#),
                ]
            } else {
                Vec::new()
            },
        };
        out.push((
            *scope,
            vec![
                short("API key", Cred::Header(key), false),
                short("password-grant token", Cred::Bearer(password), true),
                short("client-credentials token", Cred::Bearer(client), true),
            ],
        ));
    }
    out
}

/// Every route refuses every bad credential and every credential one scope short with the
/// documented status, code, message and challenge, and nothing changes.
async fn refused_requests_answer_the_documented_error_and_change_nothing(db: TestDb) {
    let f = fixture(&db).await;
    let routes = routes();
    let bad = bad_credentials(&f, &routes).await;
    let short = one_scope_short(&f, &needed_scopes(&routes)).await;
    let before = f.state();
    let mut refused = 0;
    for route in &routes {
        let (_, shorts) = short
            .iter()
            .find(|(scope, _)| *scope == route.needs)
            .expect("credentials one scope short");
        for case in bad.iter().chain(shorts) {
            let context = format!("{} with {}", route.name(), case.what);
            let a = f.app.route(route, 0, &case.cred).await;
            assert_eq!(
                a.reply.status.as_u16(),
                case.status,
                "{context}: {:?}",
                a.reply
            );
            let message = a.reply.assert_error(case.status, case.code);
            assert_eq!(message, case.message, "{context}");
            if !case.challenge.is_empty() {
                let challenge = a
                    .challenge
                    .as_deref()
                    .unwrap_or_else(|| panic!("{context}: no WWW-Authenticate: {:?}", a.reply));
                assert!(challenge.starts_with("Bearer "), "{context}: {challenge}");
                for part in &case.challenge {
                    assert!(challenge.contains(part.as_str()), "{context}: {challenge}");
                }
            }
            assert_unchanged(&f, &before, &context);
            refused += 1;
        }
    }
    assert_eq!(refused, routes.len() * (bad.len() + 3));
}

/// Asserts that nothing changed since `before`.
fn assert_unchanged(f: &Fixture, before: &State, context: &str) {
    let now = f.state();
    assert!(now == *before, "{context} changed something: {now:?}");
}

// The positive control.

/// The same requests with exactly the scope each needs succeed (and change what they should),
/// with an API key, a password-grant token and a client-credentials token.
async fn exactly_the_needed_scope_is_enough(db: TestDb) {
    let f = fixture(&db).await;
    let routes = routes();
    f.dx.add_user("exact", TEST_PASSWORD, Role::Admin)
        .expect("add a user");
    // Per needed scope: [API key, password token, client token].
    let mut creds: Vec<(&str, [Cred; ROUNDS])> = Vec::new();
    for (i, scope) in needed_scopes(&routes).into_iter().enumerate() {
        let only = parse(&[scope]);
        let key =
            f.dx.create_api_key(&format!("exact-{i}"), &only, None)
                .expect("create a key")
                .key;
        let password = access_token(&f.app.password("exact", Some(scope)).await);
        let client =
            f.dx.add_client(&format!("exact-{i}"), &only)
                .expect("add a client");
        let client = access_token(
            &f.app
                .client(&client.client_id, &client.client_secret, Some(scope))
                .await,
        );
        creds.push((
            scope,
            [
                Cred::Header(key),
                Cred::Bearer(password),
                Cred::Bearer(client),
            ],
        ));
    }
    let kinds = [
        "API key",
        "password-grant token",
        "client-credentials token",
    ];
    for (n, kind) in kinds.iter().enumerate() {
        for route in &routes {
            let (_, cred) = creds
                .iter()
                .find(|(scope, _)| *scope == route.needs)
                .expect("credentials");
            let context = format!(
                "{} (round {n}) with a {kind} of {}",
                route.name(),
                route.needs
            );
            let before = f.state();
            let a = f.app.route(route, n, &cred[n]).await;
            assert_eq!(
                a.reply.status.as_u16(),
                route.success,
                "{context}: {:?}",
                a.reply
            );
            if route.success == 204 {
                assert_eq!(a.reply.raw, "", "{context}");
            } else {
                a.reply.assert_json();
                assert!(
                    a.reply.body.get("data").is_some(),
                    "{context}: {:?}",
                    a.reply
                );
            }
            let after = f.state();
            if route.changes {
                assert!(after != before, "{context} changed nothing");
            } else {
                assert!(after == before, "{context} changed something");
            }
        }
    }
    // What the rounds did, in sum.
    let state = f.state();
    assert_eq!(state.countries.len(), 12 + ROUNDS - 2 * ROUNDS);
    assert_eq!(state.price_products.len(), 36 - 2 * ROUNDS);
    assert!(state.tokens.iter().all(|(_, valid)| !*valid), "{state:?}");
}

// Relation filters.

/// A request that filters on a relation, by which route and how it answers when allowed.
struct Probe {
    what: &'static str,
    method: Method,
    uri: String,
    accept_csv: bool,
    body: Option<Value>,
    /// The status with the read scope of `tax-rates` too.
    allowed: u16,
}

/// A filter on a relation reads the related rows: `filter[countryTaxRates.rate]={"gt":19}`
/// told a key that may read only countries which tax rates exceed 19, one request per bit.
/// Every way of filtering on a relation (plain, inside `or` groups, with `meta=count`, on one
/// row, as CSV, in an export job, in a filtered DELETE) needs the read scope of the related
/// entity: 403 naming it, and nothing deleted. With that scope the same requests work.
async fn relation_filters_need_the_read_scope_of_the_entities_they_reach(db: TestDb) {
    let dx = open_demo_with_secret(&db);
    reconfigure(&dx, "countries", |c| {
        c["definition"]["isDeletable"] = json!(true);
    });
    let app = TestApp::new(dx.clone()).await;
    let narrow = parse(&[
        "admin",
        "dynamic-entity:countries:read",
        "dynamic-entity:countries:delete",
    ]);
    let mut wide = narrow.clone();
    wide.extend(parse(&["dynamic-entity:tax-rates:read"]));
    let narrow = dx.create_api_key("narrow", &narrow, None).unwrap().key;
    let wide = dx.create_api_key("wide", &wide, None).unwrap().key;
    let rate = enc(r#"{"gt": 19}"#);
    let or = enc(r#"[{"iso2_code": "XX"}, {"countryTaxRates.rate": {"gt": 19}}]"#);
    let deep_or =
        enc(r#"[{"iso2_code": "XX"}, {"or": [{"countryTaxRates.name": {"like": "A%"}}]}]"#);
    // Matches country 6, which no tax rate references, so that the allowed delete succeeds.
    let delete_or = enc(r#"[{"id_country": 6}, {"countryTaxRates.rate": {"gt": 1000}}]"#);
    let get = |what, uri: String, allowed| Probe {
        what,
        method: Method::GET,
        uri,
        accept_csv: false,
        body: None,
        allowed,
    };
    let probes = vec![
        get(
            "plain",
            entity(&format!("countries?filter[countryTaxRates.rate]={rate}")),
            200,
        ),
        get(
            "with the alias",
            entity(&format!(
                "countries?filter[countries.countryTaxRates.rate]={rate}"
            )),
            200,
        ),
        get(
            "inside filter[or]",
            entity(&format!("countries?filter[or]={or}")),
            200,
        ),
        get(
            "inside a nested filter[or]",
            entity(&format!("countries?filter[or]={deep_or}")),
            200,
        ),
        get(
            "with meta=count",
            entity(&format!(
                "countries?meta=count&page[limit]=1&filter[countryTaxRates.rate]={rate}"
            )),
            200,
        ),
        get(
            "on one row",
            entity(&format!("countries/2?filter[countryTaxRates.rate]={rate}")),
            200,
        ),
        Probe {
            accept_csv: true,
            ..get(
                "as CSV",
                entity(&format!("countries?filter[countryTaxRates.rate]={rate}")),
                200,
            )
        },
        Probe {
            what: "in an export job",
            method: Method::POST,
            uri: "/admin/api/jobs/export".into(),
            accept_csv: false,
            body: Some(json!({"entity": "countries",
                              "filters": {"filter[countryTaxRates.rate]": {"gt": 19}}})),
            allowed: 200,
        },
        Probe {
            what: "in a DELETE",
            method: Method::DELETE,
            uri: entity(&format!(
                "countries?filter[countryTaxRates.rate]={}",
                enc(r#"{"gt": 1000}"#)
            )),
            accept_csv: false,
            body: None,
            // Nothing matches: the filter was evaluated.
            allowed: 404,
        },
        Probe {
            what: "inside filter[or] of a DELETE",
            method: Method::DELETE,
            uri: entity(&format!("countries?filter[or]={delete_or}")),
            accept_csv: false,
            body: None,
            allowed: 204,
        },
    ];
    let send = |probe: &Probe, key: &str| {
        let mut req = TestRequest::default()
            .method(probe.method.clone())
            .uri(&probe.uri)
            .insert_header(("X-Api-Key", key.to_string()));
        if probe.accept_csv {
            req = req.insert_header(("Accept", "text/csv"));
        }
        if let Some(body) = &probe.body {
            req = req
                .insert_header((CONTENT_TYPE, "application/json"))
                .set_payload(body.to_string());
        }
        app.send(req)
    };
    let rows = |alias: &str| {
        let all = [("page[limit]".to_string(), "1000".to_string())];
        dx.read_collection(alias, &all, None).unwrap().rows
    };
    let (countries, rates) = (rows("countries"), rows("tax-rates"));
    for probe in &probes {
        let r = send(probe, &narrow).await;
        assert_eq!(
            r.assert_error(403, "002"),
            "Unauthorized request. The credentials lack the scope \
             `dynamic-entity:tax-rates:read`.",
            "{}: {r:?}",
            probe.what
        );
        assert_eq!(
            rows("countries"),
            countries,
            "{} deleted something",
            probe.what
        );
        assert_eq!(rows("tax-rates"), rates, "{}", probe.what);
    }
    let jobs = dx.jobs(100).unwrap();
    assert!(jobs.is_empty(), "a refused export is no job: {jobs:?}");
    for probe in &probes {
        let r = send(probe, &wide).await;
        assert_eq!(r.status.as_u16(), probe.allowed, "{}: {r:?}", probe.what);
    }
    // What the allowed requests found: the countries whose tax rates exceed 19.
    let r = app.get(&probes[0].uri, &wide).await;
    assert_eq!(
        r.column("iso2_code"),
        [json!("AT"), json!("FR"), json!("NL")]
    );
    let r = app.get(&probes[4].uri, &wide).await;
    assert_eq!(r.body["meta"], json!({"count": 3}), "{r:?}");
    assert_eq!(rows("countries").len(), countries.len() - 1);
}
