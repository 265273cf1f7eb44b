//! The admin API under `/admin/api`: users, integration clients and API keys, with an admin
//! user's token and with an API key holding the `admin` scope; invalid input (1401), unknown
//! names (1402) and duplicates (1403); and the refusal of credentials without `admin`.

use actix_web::http::Method;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::test::TestRequest;
use dynex_auth::Role;
use dynex_core::Dynex;
use dynex_test_support::{TestDb, async_backend_tests, country};
use serde_json::{Value, json};

use crate::support::{PREFIX, Reply, TEST_PASSWORD, TestApp, open_demo_with_secret, scoped_key};

async_backend_tests!(
    users,
    clients,
    keys,
    invalid_bodies,
    credentials_without_admin_are_refused,
    missing_and_invalid_credentials,
);

/// The admin user every test starts with.
pub(crate) const ROOT: &str = "root";
/// Another password that passes the strength rules.
const OTHER_PASSWORD: &str = "purple monkey dishwasher 42";
const NO_ADMIN: &str = "Unauthorized request. The credentials lack the scope `admin`.";

/// How a request authenticates.
#[derive(Debug, Clone)]
pub(crate) enum Cred {
    Bearer(String),
    Key(String),
}

impl Cred {
    pub(crate) fn apply(&self, req: TestRequest) -> TestRequest {
        match self {
            Cred::Bearer(token) => req.insert_header(("Authorization", format!("Bearer {token}"))),
            Cred::Key(key) => req.insert_header(("X-Api-Key", key.as_str())),
        }
    }

    /// A suffix for names created with these credentials, so both passes can share a database.
    fn suffix(&self) -> &'static str {
        match self {
            Cred::Bearer(_) => "-t",
            Cred::Key(_) => "-k",
        }
    }
}

/// `method /admin/api/{path}` with `cred` and, when given, a JSON body.
pub(crate) async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    cred: &Cred,
    body: Option<&Value>,
) -> Reply {
    let mut req = cred.apply(
        TestRequest::default()
            .method(method)
            .uri(&format!("/admin/api/{path}")),
    );
    if let Some(body) = body {
        req = req
            .insert_header((CONTENT_TYPE, "application/json"))
            .set_payload(body.to_string());
    }
    app.send(req).await
}

/// Like [`call`] with a raw body.
pub(crate) async fn call_raw(
    app: &TestApp,
    method: Method,
    path: &str,
    cred: &Cred,
    body: &str,
) -> Reply {
    let req = cred.apply(
        TestRequest::default()
            .method(method)
            .uri(&format!("/admin/api/{path}"))
            .insert_header((CONTENT_TYPE, "application/json"))
            .set_payload(body.to_string()),
    );
    app.send(req).await
}

/// The `data` of a 201 answer.
pub(crate) fn created(r: &Reply) -> &Value {
    assert_eq!(r.status.as_u16(), 201, "unexpected reply: {r:?}");
    r.assert_json();
    r.body
        .get("data")
        .unwrap_or_else(|| panic!("no data: {r:?}"))
}

/// Asserts an empty 204 answer.
pub(crate) fn no_content(r: &Reply) {
    assert_eq!(r.status.as_u16(), 204, "unexpected reply: {r:?}");
    assert_eq!(r.raw, "", "{r:?}");
}

fn keys_of(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    keys.sort_unstable();
    keys
}

/// The demo with a known signing secret, an admin user `root`, the app, and the two admin
/// credentials: `root`'s password-grant token and an API key with the `admin` scope.
pub(crate) async fn setup(db: &TestDb) -> (Dynex, TestApp, [Cred; 2]) {
    let dynex = open_demo_with_secret(db);
    dynex
        .add_user(ROOT, TEST_PASSWORD, Role::Admin)
        .expect("add the admin");
    let app = TestApp::new(dynex.clone()).await;
    let token = app.password_token(ROOT, TEST_PASSWORD, None).await["access_token"]
        .as_str()
        .expect("a token")
        .to_string();
    let key = scoped_key(&dynex, "ops", "admin");
    (dynex, app, [Cred::Bearer(token), Cred::Key(key)])
}

/// The password-grant answer for `user`, or the error reply.
async fn login(app: &TestApp, user: &str, password: &str) -> Reply {
    app.form(
        "/token",
        &[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
        ],
        &[],
    )
    .await
}

/// A password-grant access token for `user`.
async fn token(app: &TestApp, user: &str, password: &str) -> String {
    app.password_token(user, password, None).await["access_token"]
        .as_str()
        .expect("a token")
        .to_string()
}

/// `GET /dynamic-entity/countries/2` with the bearer `token`.
async fn read_with_token(app: &TestApp, token: &str) -> Reply {
    app.bearer(Method::GET, &format!("/{PREFIX}/countries/2"), token, None)
        .await
}

/// The names of the users, as the admin API lists them.
async fn user_names(app: &TestApp, cred: &Cred) -> Vec<String> {
    call(app, Method::GET, "users", cred, None)
        .await
        .rows()
        .iter()
        .map(|u| u["name"].as_str().expect("name").to_string())
        .collect()
}

/// Users: list, create (weak password 1401, duplicate 1403, unknown role 1401), set a password,
/// revoke tokens and remove (unknown 1402), with a token and with a key.
async fn users(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    for cred in &creds {
        let bob = format!("bob{}", cred.suffix());
        let carol = format!("carol{}", cred.suffix());

        let r = call(&app, Method::GET, "users", cred, None).await;
        let root = r
            .rows()
            .iter()
            .find(|u| u["name"] == json!(ROOT))
            .unwrap_or_else(|| panic!("root is listed: {r:?}"));
        assert_eq!(
            keys_of(root),
            ["created_at", "name", "password_changed_at", "role"]
        );
        assert_eq!(root["role"], json!("admin"));
        assert!(!r.raw.contains("argon2"), "{}", r.raw);

        // Create, with a role and with the default role.
        let body = json!({"name": bob, "password": TEST_PASSWORD, "role": "integrator"});
        let r = call(&app, Method::POST, "users", cred, Some(&body)).await;
        let data = created(&r);
        assert_eq!(
            keys_of(data),
            ["created_at", "name", "password_changed_at", "role"]
        );
        assert_eq!(data["name"], json!(bob));
        assert_eq!(data["role"], json!("integrator"));
        assert!(!r.raw.contains(TEST_PASSWORD), "{}", r.raw);
        let body = json!({"name": carol, "password": TEST_PASSWORD});
        let r = call(&app, Method::POST, "users", cred, Some(&body)).await;
        assert_eq!(created(&r)["role"], json!("integrator"));
        let body = json!({"name": format!("admin{}", cred.suffix()), "password": TEST_PASSWORD, "role": "admin"});
        let r = call(&app, Method::POST, "users", cred, Some(&body)).await;
        assert_eq!(created(&r)["role"], json!("admin"));
        let names = user_names(&app, cred).await;
        assert!(names.contains(&bob) && names.contains(&carol), "{names:?}");

        // Refused creations change nothing.
        let before = user_names(&app, cred).await;
        for (body, status, code) in [
            (json!({"name": "weak", "password": "short"}), 400, "1401"),
            (
                json!({"name": "weak", "password": "aaaaaaaaaaaaaaaa"}),
                400,
                "1401",
            ),
            (
                json!({"name": "weak", "password": "weakweakweak"}),
                400,
                "1401",
            ),
            (json!({"name": bob, "password": TEST_PASSWORD}), 409, "1403"),
            (
                json!({"name": bob.to_uppercase(), "password": TEST_PASSWORD}),
                409,
                "1403",
            ),
            (
                json!({"name": "x", "password": TEST_PASSWORD, "role": "superuser"}),
                400,
                "1401",
            ),
            (
                json!({"name": "two words", "password": TEST_PASSWORD}),
                400,
                "1401",
            ),
            (json!({"name": "", "password": TEST_PASSWORD}), 400, "1401"),
        ] {
            let r = call(&app, Method::POST, "users", cred, Some(&body)).await;
            r.assert_error(status, code);
        }
        let r = call(
            &app,
            Method::POST,
            "users",
            cred,
            Some(&json!({"name": "weak", "password": "short"})),
        )
        .await;
        let message = r.assert_error(400, "1401");
        assert!(message.contains("password"), "{message}");
        assert_eq!(user_names(&app, cred).await, before);

        // The new user logs in.
        let bob_token = token(&app, &bob, TEST_PASSWORD).await;
        let r = read_with_token(&app, &bob_token).await;
        assert_eq!(r.body, json!({"data": country(2)}), "{r:?}");

        // A new password: the old token and password stop working.
        let path = format!("users/{bob}/password");
        let r = call(
            &app,
            Method::PUT,
            &path,
            cred,
            Some(&json!({"password": OTHER_PASSWORD})),
        )
        .await;
        no_content(&r);
        read_with_token(&app, &bob_token)
            .await
            .assert_error(401, "001");
        let r = login(&app, &bob, TEST_PASSWORD).await;
        assert_eq!(r.status.as_u16(), 400, "{r:?}");
        assert_eq!(r.body["error"], json!("invalid_grant"));
        let bob_token = token(&app, &bob, OTHER_PASSWORD).await;
        let r = read_with_token(&app, &bob_token).await;
        assert_eq!(r.status.as_u16(), 200, "{r:?}");
        // Weak passwords and unknown users.
        let r = call(
            &app,
            Method::PUT,
            &path,
            cred,
            Some(&json!({"password": "short"})),
        )
        .await;
        r.assert_error(400, "1401");
        let r = call(
            &app,
            Method::PUT,
            "users/nobody/password",
            cred,
            Some(&json!({"password": OTHER_PASSWORD})),
        )
        .await;
        r.assert_error(404, "1402");
        // The refused change did not touch bob.
        let r = read_with_token(&app, &bob_token).await;
        assert_eq!(r.status.as_u16(), 200, "{r:?}");

        // Revoking the user's tokens.
        let carol_token = token(&app, &carol, TEST_PASSWORD).await;
        let r = call(
            &app,
            Method::POST,
            &format!("users/{bob}/revoke-tokens"),
            cred,
            None,
        )
        .await;
        no_content(&r);
        read_with_token(&app, &bob_token)
            .await
            .assert_error(401, "001");
        // Only bob's.
        let r = read_with_token(&app, &carol_token).await;
        assert_eq!(r.status.as_u16(), 200, "{r:?}");
        // Bob may log in again.
        let bob_token = token(&app, &bob, OTHER_PASSWORD).await;
        let r = read_with_token(&app, &bob_token).await;
        assert_eq!(r.status.as_u16(), 200, "{r:?}");
        let r = call(&app, Method::POST, "users/nobody/revoke-tokens", cred, None).await;
        r.assert_error(404, "1402");

        // Removing.
        let r = call(&app, Method::DELETE, &format!("users/{bob}"), cred, None).await;
        no_content(&r);
        read_with_token(&app, &bob_token)
            .await
            .assert_error(401, "001");
        let r = login(&app, &bob, OTHER_PASSWORD).await;
        assert_eq!(r.body["error"], json!("invalid_grant"), "{r:?}");
        assert!(!user_names(&app, cred).await.contains(&bob));
        let r = call(&app, Method::DELETE, &format!("users/{bob}"), cred, None).await;
        r.assert_error(404, "1402");
        let r = call(&app, Method::DELETE, "users/nobody", cred, None).await;
        r.assert_error(404, "1402");
    }
    // The core sees the same users.
    let names: Vec<String> = dx
        .list_users()
        .expect("users")
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(
        names,
        ["admin-k", "admin-t", "carol-k", "carol-t", ROOT],
        "{names:?}"
    );
}

/// Clients: create (the secret once), list (never the secret), token, revoke tokens, remove;
/// duplicates 1403, bad ids and scopes 1401, unknown 1402.
async fn clients(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    for cred in &creds {
        let etl = format!("etl{}", cred.suffix());
        let body = json!({"client_id": etl, "scopes": ["dynamic-entity:countries:read"]});
        let r = call(&app, Method::POST, "clients", cred, Some(&body)).await;
        let data = created(&r);
        assert_eq!(keys_of(data), ["client_id", "client_secret", "scopes"]);
        assert_eq!(data["client_id"], json!(etl));
        assert_eq!(data["scopes"], json!(["dynamic-entity:countries:read"]));
        let secret = data["client_secret"].as_str().expect("secret").to_string();
        assert!(secret.starts_with("dnxs_"), "{secret}");

        let r = call(&app, Method::GET, "clients", cred, None).await;
        let listed = r
            .rows()
            .iter()
            .find(|c| c["client_id"] == json!(etl))
            .unwrap_or_else(|| panic!("{etl} is listed: {r:?}"))
            .clone();
        assert_eq!(keys_of(&listed), ["client_id", "created_at", "scopes"]);
        assert_eq!(listed["scopes"], json!(["dynamic-entity:countries:read"]));
        assert!(!r.raw.contains(&secret), "the secret is never listed");
        assert!(!r.raw.contains("dnxs_"), "{}", r.raw);

        // The client gets a token with its scopes.
        let grant = app
            .form(
                "/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", etl.as_str()),
                    ("client_secret", secret.as_str()),
                ],
                &[],
            )
            .await;
        assert_eq!(grant.status.as_u16(), 200, "{grant:?}");
        let client_token = grant.body["access_token"]
            .as_str()
            .expect("token")
            .to_string();
        let r = read_with_token(&app, &client_token).await;
        assert_eq!(r.body, json!({"data": country(2)}), "{r:?}");
        let r = app
            .bearer(
                Method::GET,
                &format!("/{PREFIX}/tax-rates"),
                &client_token,
                None,
            )
            .await;
        r.assert_error(403, "002");

        // Refused creations change nothing.
        let before = dx.list_clients().expect("clients");
        for (body, status, code) in [
            (
                json!({"client_id": etl, "scopes": ["dynamic-entity:read"]}),
                409,
                "1403",
            ),
            (json!({"client_id": "empty", "scopes": []}), 400, "1401"),
            (
                json!({"client_id": "bad-scope", "scopes": ["dynamic-entity:drop"]}),
                400,
                "1401",
            ),
            (
                json!({"client_id": "bad-scope", "scopes": ["root"]}),
                400,
                "1401",
            ),
            (
                json!({"client_id": "bad-scope", "scopes": ["dynamic-entity:countries:read dynamic-entity:nope"]}),
                400,
                "1401",
            ),
            (
                json!({"client_id": "two words", "scopes": ["dynamic-entity:read"]}),
                400,
                "1401",
            ),
            (
                json!({"client_id": "a:b", "scopes": ["dynamic-entity:read"]}),
                400,
                "1401",
            ),
            (
                json!({"client_id": "", "scopes": ["dynamic-entity:read"]}),
                400,
                "1401",
            ),
            (json!({"client_id": "no-scopes"}), 400, "1401"),
        ] {
            let r = call(&app, Method::POST, "clients", cred, Some(&body)).await;
            r.assert_error(status, code);
        }
        assert_eq!(dx.list_clients().expect("clients"), before);

        // Revoking its tokens.
        let r = call(
            &app,
            Method::POST,
            &format!("clients/{etl}/revoke-tokens"),
            cred,
            None,
        )
        .await;
        no_content(&r);
        read_with_token(&app, &client_token)
            .await
            .assert_error(401, "001");
        let r = call(
            &app,
            Method::POST,
            "clients/nobody/revoke-tokens",
            cred,
            None,
        )
        .await;
        r.assert_error(404, "1402");

        // Removing.
        let r = call(&app, Method::DELETE, &format!("clients/{etl}"), cred, None).await;
        no_content(&r);
        let r = app
            .form(
                "/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", etl.as_str()),
                    ("client_secret", secret.as_str()),
                ],
                &[],
            )
            .await;
        assert_eq!(r.status.as_u16(), 401, "{r:?}");
        assert_eq!(r.body["error"], json!("invalid_client"));
        let r = call(&app, Method::GET, "clients", cred, None).await;
        assert!(!r.column("client_id").contains(&json!(etl)), "{r:?}");
        let r = call(&app, Method::DELETE, &format!("clients/{etl}"), cred, None).await;
        r.assert_error(404, "1402");
    }
}

/// API keys: create (the key once), list (never the key), use, revoke (then 403 / 002);
/// duplicates 1403, bad scopes and dates 1401, unknown 1402.
async fn keys(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    for cred in &creds {
        let feed = format!("feed{}", cred.suffix());
        let body = json!({"name": feed, "scopes": ["dynamic-entity:countries:read"]});
        let r = call(&app, Method::POST, "keys", cred, Some(&body)).await;
        let data = created(&r);
        assert_eq!(keys_of(data), ["key", "name", "scopes", "valid_to"]);
        assert_eq!(data["name"], json!(feed));
        assert_eq!(data["scopes"], json!(["dynamic-entity:countries:read"]));
        assert_eq!(data["valid_to"], Value::Null);
        let key = data["key"].as_str().expect("key").to_string();
        assert!(key.starts_with("dnx_"), "{key}");

        // The key works within its scope.
        let r = app.api("countries/2", &key).await;
        assert_eq!(r.body, json!({"data": country(2)}), "{r:?}");
        app.api("tax-rates", &key).await.assert_error(403, "002");
        // It is not an admin key.
        let r = call(&app, Method::GET, "keys", &Cred::Key(key.clone()), None).await;
        assert_eq!(r.assert_error(403, "002"), NO_ADMIN);

        let r = call(&app, Method::GET, "keys", cred, None).await;
        let listed = r
            .rows()
            .iter()
            .find(|k| k["name"] == json!(feed))
            .unwrap_or_else(|| panic!("{feed} is listed: {r:?}"))
            .clone();
        assert_eq!(
            keys_of(&listed),
            [
                "created_at",
                "name",
                "prefix",
                "revoked_at",
                "scopes",
                "valid_to"
            ]
        );
        assert_eq!(listed["prefix"], json!(&key[..8]));
        assert_eq!(listed["revoked_at"], Value::Null);
        assert!(!r.raw.contains(&key), "the key is never listed");

        // Default scopes, and an expiry.
        let later = format!("later{}", cred.suffix());
        let body = json!({"name": later, "valid_to": "2999-01-01"});
        let r = call(&app, Method::POST, "keys", cred, Some(&body)).await;
        let data = created(&r);
        assert_eq!(
            data["scopes"],
            json!([
                "dynamic-entity:read",
                "dynamic-entity:write",
                "dynamic-entity:delete"
            ])
        );
        assert_eq!(data["valid_to"], json!("2999-01-01 23:59:59"));
        let later_key = data["key"].as_str().expect("key").to_string();
        let r = app.api("tax-rates/1", &later_key).await;
        assert_eq!(r.status.as_u16(), 200, "{r:?}");
        // An admin key made through the API is an admin key.
        let body = json!({"name": format!("admin{}", cred.suffix()), "scopes": ["admin"]});
        let r = call(&app, Method::POST, "keys", cred, Some(&body)).await;
        let admin_key = created(&r)["key"].as_str().expect("key").to_string();
        let r = call(&app, Method::GET, "users", &Cred::Key(admin_key), None).await;
        assert_eq!(r.status.as_u16(), 200, "{r:?}");

        // Refused creations change nothing.
        let before = dx.list_api_keys().expect("keys");
        for (body, status, code) in [
            (json!({"name": feed}), 409, "1403"),
            (
                json!({"name": "bad", "scopes": ["dynamic-entity:drop"]}),
                400,
                "1401",
            ),
            (
                json!({"name": "bad", "scopes": ["dynamic-entity:countries"]}),
                400,
                "1401",
            ),
            (json!({"name": "bad", "valid_to": "tomorrow"}), 400, "1401"),
            (
                json!({"name": "bad", "valid_to": "2999-13-01"}),
                400,
                "1401",
            ),
            (json!({"name": ""}), 400, "1401"),
            (json!({"name": "   "}), 400, "1401"),
        ] {
            let r = call(&app, Method::POST, "keys", cred, Some(&body)).await;
            r.assert_error(status, code);
        }
        assert_eq!(dx.list_api_keys().expect("keys").len(), before.len());

        // Revoking.
        let r = call(&app, Method::DELETE, &format!("keys/{feed}"), cred, None).await;
        no_content(&r);
        let r = app.api("countries/2", &key).await;
        assert_eq!(r.assert_error(403, "002"), "Unauthorized request.");
        let r = call(&app, Method::GET, "keys", cred, None).await;
        let listed = r
            .rows()
            .iter()
            .find(|k| k["name"] == json!(feed))
            .unwrap_or_else(|| panic!("a revoked key is still listed: {r:?}"))
            .clone();
        assert!(listed["revoked_at"].is_string(), "{listed}");
        let r = call(&app, Method::DELETE, &format!("keys/{feed}"), cred, None).await;
        r.assert_error(404, "1402");
        let r = call(&app, Method::DELETE, "keys/nobody", cred, None).await;
        r.assert_error(404, "1402");
        // The other keys still work.
        let r = app.api("countries/2", &later_key).await;
        assert_eq!(r.status.as_u16(), 200, "{r:?}");
    }

    // An admin key may revoke itself; it is refused from the next request on.
    let ops = creds[1].clone();
    let r = call(&app, Method::DELETE, "keys/ops", &ops, None).await;
    no_content(&r);
    let r = call(&app, Method::GET, "keys", &ops, None).await;
    assert_eq!(r.assert_error(403, "002"), "Unauthorized request.");
}

/// Bodies that are not JSON, lack members, have unknown members or the wrong types are 400 /
/// 1401, and change nothing.
async fn invalid_bodies(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    dx.add_user("bob", TEST_PASSWORD, Role::Integrator)
        .expect("add a user");
    let users = dx.list_users().expect("users");
    let clients = dx.list_clients().expect("clients");
    let keys = dx.list_api_keys().expect("keys");
    for cred in &creds {
        for (method, path) in [
            (Method::POST, "users"),
            (Method::POST, "clients"),
            (Method::POST, "keys"),
            (Method::PUT, "users/bob/password"),
        ] {
            for body in [
                "",
                "not json",
                "{",
                "[]",
                "null",
                "42",
                r#"{"unknown": 1}"#,
                r#"{"name": 1, "password": 2, "client_id": 3, "scopes": 4}"#,
                r#"{"name": "n", "password": "purple monkey dishwasher 42", "client_id": "c", "scopes": ["admin"], "extra": true}"#,
            ] {
                let r = call_raw(&app, method.clone(), path, cred, body).await;
                let message = r.assert_error(400, "1401");
                assert!(!message.is_empty(), "{method} {path} {body:?}");
            }
        }
        // Members of the wrong type.
        for (path, body) in [
            (
                "users",
                json!({"name": "x", "password": TEST_PASSWORD, "role": 1}),
            ),
            (
                "clients",
                json!({"client_id": "x", "scopes": "dynamic-entity:read"}),
            ),
            (
                "keys",
                json!({"name": "x", "scopes": "dynamic-entity:read"}),
            ),
            ("keys", json!({"name": "x", "valid_to": 20990101})),
        ] {
            let r = call(&app, Method::POST, path, cred, Some(&body)).await;
            r.assert_error(400, "1401");
        }
    }
    assert_eq!(dx.list_users().expect("users"), users);
    assert_eq!(dx.list_clients().expect("clients"), clients);
    assert!(dx.stored_entity("countries").is_ok());
    assert!(dx.stored_entity("evil").is_err());
    assert_eq!(dx.list_api_keys().expect("keys").len(), keys.len());
    // Bob's password is unchanged.
    token(&app, "bob", TEST_PASSWORD).await;
}

/// Every admin route refuses an integrator token, a key without `admin` and an admin token
/// narrowed away from `admin` with 403 / 002 naming `admin`, and changes nothing.
async fn credentials_without_admin_are_refused(db: TestDb) {
    let (dx, app, _creds) = setup(&db).await;
    dx.add_user("ivan", TEST_PASSWORD, Role::Integrator)
        .expect("add an integrator");
    dx.add_client(
        "etl",
        &dynex_auth::parse_scopes("dynamic-entity:read").expect("scopes"),
    )
    .expect("add a client");
    let integrator = token(&app, "ivan", TEST_PASSWORD).await;
    let narrowed = app
        .password_token(
            ROOT,
            TEST_PASSWORD,
            Some("dynamic-entity:read dynamic-entity:write"),
        )
        .await["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let full_key = dx.create_api_key("full", &[], None).expect("key").key;
    let entity_key = scoped_key(&dx, "countries", "dynamic-entity:countries:read");
    let refused = [
        Cred::Bearer(integrator.clone()),
        Cred::Bearer(narrowed),
        Cred::Key(full_key),
        Cred::Key(entity_key),
    ];

    let users = dx.list_users().expect("users");
    let clients = dx.list_clients().expect("clients");
    let keys = dx.list_api_keys().expect("keys");
    let password = json!({"password": "purple monkey dishwasher 42"});
    let requests: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "users", None),
        (
            Method::POST,
            "users",
            Some(json!({"name": "mallory", "password": TEST_PASSWORD, "role": "admin"})),
        ),
        (Method::DELETE, "users/root", None),
        (Method::PUT, "users/root/password", Some(password.clone())),
        (Method::PUT, "users/ivan/password", Some(password)),
        (Method::POST, "users/root/revoke-tokens", None),
        (Method::GET, "clients", None),
        (
            Method::POST,
            "clients",
            Some(json!({"client_id": "evil", "scopes": ["admin"]})),
        ),
        (Method::DELETE, "clients/etl", None),
        (Method::POST, "clients/etl/revoke-tokens", None),
        (Method::GET, "keys", None),
        (
            Method::POST,
            "keys",
            Some(json!({"name": "evil", "scopes": ["admin"]})),
        ),
        (Method::DELETE, "keys/ops", None),
        (Method::GET, "tables", None),
        (Method::GET, "tables/spy_country", None),
        (Method::GET, "entities", None),
        (Method::GET, "entities/countries", None),
        (
            Method::POST,
            "entities",
            Some(json!({"table": "spy_store", "alias": "evil"})),
        ),
        (Method::PUT, "entities/countries", Some(json!({}))),
        (Method::DELETE, "entities/countries", None),
        (Method::GET, "configuration", None),
        (Method::POST, "configuration", Some(json!([]))),
        // Invalid bodies are refused for the scope first, not parsed.
        (Method::POST, "users", Some(json!("not an object"))),
    ];
    for cred in &refused {
        for (method, path, body) in &requests {
            let r = call(&app, method.clone(), path, cred, body.as_ref()).await;
            assert_eq!(
                r.assert_error(403, "002"),
                NO_ADMIN,
                "{method} {path} with {cred:?}"
            );
        }
    }
    assert_eq!(dx.list_users().expect("users"), users);
    assert_eq!(dx.list_clients().expect("clients"), clients);
    assert!(dx.stored_entity("countries").is_ok());
    assert!(dx.stored_entity("evil").is_err());
    let after = dx.list_api_keys().expect("keys");
    assert_eq!(
        after
            .iter()
            .map(|k| (&k.name, &k.revoked_at))
            .collect::<Vec<_>>(),
        keys.iter()
            .map(|k| (&k.name, &k.revoked_at))
            .collect::<Vec<_>>()
    );
    // The tokens that were refused still work where they are allowed, and root's password is
    // unchanged.
    let r = read_with_token(&app, &integrator).await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    token(&app, ROOT, TEST_PASSWORD).await;
    token(&app, "ivan", TEST_PASSWORD).await;
}

/// No credentials are 403 / 002; a bad bearer token is 401 / 001; `?api_key=` works as on the
/// entity API; unknown admin routes are 404.
async fn missing_and_invalid_credentials(db: TestDb) {
    let (_dx, app, creds) = setup(&db).await;
    let r = app.send(TestRequest::get().uri("/admin/api/users")).await;
    assert_eq!(r.assert_error(403, "002"), "Unauthorized request.");
    let r = app
        .send(
            TestRequest::post()
                .uri("/admin/api/users")
                .insert_header((CONTENT_TYPE, "application/json"))
                .set_payload(json!({"name": "x", "password": TEST_PASSWORD}).to_string()),
        )
        .await;
    r.assert_error(403, "002");
    let r = call(
        &app,
        Method::GET,
        "users",
        &Cred::Key("dnx_wrong".into()),
        None,
    )
    .await;
    r.assert_error(403, "002");
    let r = call(
        &app,
        Method::GET,
        "users",
        &Cred::Bearer("garbage".into()),
        None,
    )
    .await;
    r.assert_error(401, "001");
    let r = app
        .send(
            TestRequest::get()
                .uri("/admin/api/users")
                .insert_header(("Authorization", "Basic cm9vdDpwYXNz")),
        )
        .await;
    r.assert_error(401, "001");

    let Cred::Key(key) = &creds[1] else {
        panic!("the second credential is a key")
    };
    let r = app
        .send(TestRequest::get().uri(&format!("/admin/api/users?api_key={key}")))
        .await;
    assert!(r.rows().iter().any(|u| u["name"] == json!(ROOT)), "{r:?}");

    let r = call(&app, Method::GET, "nope", &creds[0], None).await;
    r.assert_error(404, "007");
}
