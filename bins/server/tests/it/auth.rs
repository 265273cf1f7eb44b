//! Authentication and authorization: API keys in the header or the query, expiry, revocation,
//! scopes, bearer tokens, and the unauthenticated health routes.

use actix_web::test::TestRequest;
use chrono::{TimeDelta, Utc};
use dynex_auth::Scope;
use dynex_test_support::{TestDb, async_backend_tests, country, country_with_rates};
use serde_json::json;

use crate::support::{PREFIX, demo};

async_backend_tests!(
    missing_or_wrong_key_is_403,
    key_in_the_query_string,
    header_wins_over_the_query,
    expired_keys_are_refused,
    revoked_keys_are_refused_at_once,
    keys_created_later_work_at_once,
    scoped_keys,
    bearer_tokens_are_401,
    health_needs_no_credentials,
    include_needs_the_child_scope,
);

const UNAUTHORIZED: &str = "Unauthorized request.";

fn uri(path: &str) -> String {
    format!("/{PREFIX}/{path}")
}

/// No key, an empty key or a wrong key → 403 / 002 "Unauthorized request.".
async fn missing_or_wrong_key_is_403(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for path in ["countries", "countries/1", "nope"] {
        let r = app.send(TestRequest::get().uri(&uri(path))).await;
        assert_eq!(
            r.body,
            json!([{"code": "002", "status": 403, "message": UNAUTHORIZED}]),
            "{path}"
        );
        r.assert_error(403, "002");
    }
    let wrong = format!("{key}x");
    for bad in ["wrong", wrong.as_str(), &key[..key.len() - 1], ""] {
        let r = app.api("countries", bad).await;
        assert_eq!(r.assert_error(403, "002"), UNAUTHORIZED, "key `{bad}`");
    }
    // Header names are case-insensitive, values are not.
    let r = app
        .send(
            TestRequest::get()
                .uri(&uri("countries/2"))
                .insert_header(("x-api-key", key.as_str())),
        )
        .await;
    assert_eq!(r.body, json!({"data": country(2)}));
    let r = app.api("countries", &key.to_uppercase()).await;
    r.assert_error(403, "002");
}

/// `?api_key=` authenticates and does not disturb the other parameters.
async fn key_in_the_query_string(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .send(TestRequest::get().uri(&uri(&format!("countries/2?api_key={key}"))))
        .await;
    assert_eq!(r.body, json!({"data": country(2)}));
    let r = app
        .send(TestRequest::get().uri(&uri(&format!(
            "countries?page[offset]=1&api_key={key}&page[limit]=1"
        ))))
        .await;
    assert_eq!(r.body, json!({"data": [country(2)]}));
    let r = app
        .send(TestRequest::get().uri(&uri("countries?api_key=wrong")))
        .await;
    r.assert_error(403, "002");
    let r = app
        .send(TestRequest::get().uri(&uri("countries?api_key=")))
        .await;
    r.assert_error(403, "002");
}

/// The `X-Api-Key` header wins over `?api_key=`, in both directions.
async fn header_wins_over_the_query(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app.api("countries/2?api_key=wrong", &key).await;
    assert_eq!(r.body, json!({"data": country(2)}));
    let r = app
        .api(&format!("countries/2?api_key={key}"), "wrong")
        .await;
    r.assert_error(403, "002");
}

/// A key whose `valid_to` has passed is refused; one valid until later works.
async fn expired_keys_are_refused(db: TestDb) {
    let (dx, app, _key) = demo(&db).await;
    let now = Utc::now().naive_utc();
    let old = dx
        .create_api_key("old", &[], Some(now - TimeDelta::hours(1)))
        .expect("create an expired key")
        .key;
    let r = app.api("countries", &old).await;
    assert_eq!(r.assert_error(403, "002"), UNAUTHORIZED);
    let r = app
        .send(TestRequest::get().uri(&uri(&format!("countries?api_key={old}"))))
        .await;
    r.assert_error(403, "002");
    let later = dx
        .create_api_key("later", &[], Some(now + TimeDelta::hours(1)))
        .expect("create a key valid for an hour")
        .key;
    let r = app.api("countries/2", &later).await;
    assert_eq!(r.body, json!({"data": country(2)}));
}

/// Revoking a key through the app's own handle takes effect on the next request.
async fn revoked_keys_are_refused_at_once(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    let other = dx.create_api_key("other", &[], None).expect("key").key;
    let r = app.api("countries/2", &key).await;
    assert_eq!(r.body, json!({"data": country(2)}));
    dx.revoke_api_key("test").expect("revoke");
    let r = app.api("countries/2", &key).await;
    assert_eq!(r.assert_error(403, "002"), UNAUTHORIZED);
    // Other keys are untouched.
    let r = app.api("countries/2", &other).await;
    assert_eq!(r.body, json!({"data": country(2)}));
}

/// A key created after the app was built works on the next request.
async fn keys_created_later_work_at_once(db: TestDb) {
    let (dx, app, _key) = demo(&db).await;
    let fresh = dx.create_api_key("fresh", &[], None).expect("key").key;
    let r = app.api("countries/2", &fresh).await;
    assert_eq!(r.body, json!({"data": country(2)}));
}

/// A key scoped to reading countries reads countries and nothing else.
async fn scoped_keys(db: TestDb) {
    let (dx, app, _key) = demo(&db).await;
    let scope: Scope = "dynamic-entity:countries:read".parse().expect("scope");
    let countries_only = dx
        .create_api_key("countries-reader", &[scope], None)
        .expect("key")
        .key;
    let r = app.api("countries/2", &countries_only).await;
    assert_eq!(r.body, json!({"data": country(2)}));
    let r = app.api("countries?page[limit]=1", &countries_only).await;
    assert_eq!(r.rows().len(), 1);
    for path in ["tax-rates", "tax-rates/1"] {
        let r = app.api(path, &countries_only).await;
        let message = r.assert_error(403, "002");
        assert!(
            message.contains("dynamic-entity:tax-rates:read"),
            "{path}: {message}"
        );
        assert_eq!(
            message,
            "Unauthorized request. The credentials lack the scope `dynamic-entity:tax-rates:read`."
        );
    }

    // A write-only key cannot read.
    let write: Scope = "dynamic-entity:write".parse().expect("scope");
    let writer = dx
        .create_api_key("writer", &[write], None)
        .expect("key")
        .key;
    let r = app.api("countries", &writer).await;
    let message = r.assert_error(403, "002");
    assert!(
        message.contains("dynamic-entity:countries:read"),
        "{message}"
    );

    // An all-entity read scope reads everything.
    let read: Scope = "dynamic-entity:read".parse().expect("scope");
    let reader = dx.create_api_key("reader", &[read], None).expect("key").key;
    for path in ["countries/2", "tax-rates/1", "stock-products/1"] {
        let r = app.api(path, &reader).await;
        assert!(r.data().is_object(), "{path}");
    }
}

/// Including a relation reads the child entity, so it needs the child's read scope too.
async fn include_needs_the_child_scope(db: TestDb) {
    let (dx, app, _key) = demo(&db).await;
    let scope: Scope = "dynamic-entity:countries:read".parse().expect("scope");
    let countries_only = dx
        .create_api_key("countries-reader", &[scope], None)
        .expect("key")
        .key;
    for path in [
        "countries?include=countryTaxRates",
        "countries/2?include=countryTaxRates",
    ] {
        let r = app.api(path, &countries_only).await;
        let message = r.assert_error(403, "002");
        assert!(
            message.contains("dynamic-entity:tax-rates:read"),
            "{path}: {message}"
        );
    }
    // With both scopes the include works.
    let scopes: Vec<Scope> = [
        "dynamic-entity:countries:read",
        "dynamic-entity:tax-rates:read",
    ]
    .iter()
    .map(|s| s.parse().expect("scope"))
    .collect();
    let both = dx.create_api_key("both", &scopes, None).expect("key").key;
    let r = app.api("countries/2?include=countryTaxRates", &both).await;
    assert_eq!(r.body, json!({"data": country_with_rates(2, &[1, 2])}));
}

/// `Authorization: Bearer …` without an API key → 401 / 001 (no token is valid yet); with a
/// valid API key the key decides.
async fn bearer_tokens_are_401(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for value in ["Bearer x", "Bearer", "Basic dXNlcjpwYXNz"] {
        let r = app
            .send(
                TestRequest::get()
                    .uri(&uri("countries"))
                    .insert_header(("Authorization", value)),
            )
            .await;
        assert_eq!(
            r.body,
            json!([{"code": "001", "status": 401, "message": "Invalid access token."}]),
            "{value}"
        );
        r.assert_error(401, "001");
    }
    let r = app
        .send(
            TestRequest::get()
                .uri(&uri("countries/2"))
                .insert_header(("Authorization", "Bearer x"))
                .insert_header(("X-Api-Key", key.as_str())),
        )
        .await;
    assert_eq!(r.body, json!({"data": country(2)}));
    let r = app
        .send(
            TestRequest::get()
                .uri(&uri("countries/2"))
                .insert_header(("Authorization", "Bearer x"))
                .insert_header(("X-Api-Key", "wrong")),
        )
        .await;
    r.assert_error(403, "002");
}

/// `/health/live` and `/health/ready` answer 200 without credentials.
async fn health_needs_no_credentials(db: TestDb) {
    let (dx, app, _key) = demo(&db).await;
    let r = app.send(TestRequest::get().uri("/health/live")).await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    r.assert_json();
    assert_eq!(r.body, json!({"status": "ok"}));
    let r = app.send(TestRequest::get().uri("/health/ready")).await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    r.assert_json();
    assert_eq!(r.body["status"], json!("ok"));
    assert_eq!(r.body["configVersion"], json!(dx.snapshot().version));
    assert!(r.body["configVersion"].as_i64().unwrap() > 0);
    // Credentials, even wrong ones, do not matter there.
    let r = app
        .send(
            TestRequest::get()
                .uri("/health/ready")
                .insert_header(("Authorization", "Bearer x")),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
}
