//! `GET /admin/api/overview`, the back office's landing page in one answer: the served entities
//! with their row counts (only those the credentials may read), the latest jobs, this instance's
//! requests minute by minute, and the database's health; refused without the `admin` scope.

use actix_web::http::Method;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::test::TestRequest;
use dynex_auth::Role;
use dynex_test_support::{Backend, TestDb, async_backend_tests};
use serde_json::{Value, json};

use crate::admin::{Cred, call, setup};
use crate::support::{Reply, TEST_PASSWORD, TestApp, scoped_key};

async_backend_tests!(
    the_overview_counts_rows_lists_jobs_and_requests,
    rows_are_counted_only_where_the_credentials_may_read,
    the_overview_needs_the_admin_scope,
);

/// The overview's `data`, asserting a 200 JSON answer that fits the OpenAPI description.
async fn overview(app: &TestApp, cred: &Cred) -> Value {
    let r = call(app, Method::GET, "overview", cred, None).await;
    let doc = app.send(TestRequest::get().uri("/openapi.json")).await.body;
    crate::openapi::conforms(&doc, "/admin/api/overview", "get", &r);
    r.data().clone()
}

/// The row count of `alias` in an overview.
fn rows(data: &Value, alias: &str) -> Value {
    let entity = data["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["alias"] == alias)
        .unwrap_or_else(|| panic!("{alias} is not listed: {data}"));
    entity["rows"].clone()
}

/// The number of rows of `alias`, as the Data Exchange API counts them.
async fn api_count(app: &TestApp, key: &str, alias: &str) -> u64 {
    let r = app
        .api(&format!("{alias}?meta=count&page[limit]=1"), key)
        .await;
    r.body["meta"]["count"].as_u64().unwrap()
}

async fn the_overview_counts_rows_lists_jobs_and_requests(db: TestDb) {
    let (dx, app, [token, _]) = setup(&db).await;
    let key = dx.create_api_key("writer", &[], None).unwrap().key;
    let data = overview(&app, &token).await;
    let mut members: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(
        members,
        [
            "entities",
            "health",
            "jobs",
            "requests",
            "requestsCounted",
            "rowCountCap"
        ]
    );
    assert_eq!(data["rowCountCap"], 100_000);
    assert_eq!(data["requestsCounted"], true);

    // Every served entity, by alias, counted as the API counts it.
    let served: Vec<String> = dx
        .snapshot()
        .catalog
        .entities()
        .iter()
        .map(|e| e.alias().to_string())
        .collect();
    let listed: Vec<&str> = data["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["alias"].as_str().unwrap())
        .collect();
    assert_eq!(listed, served);
    for alias in &served {
        assert_eq!(
            rows(&data, alias),
            json!(api_count(&app, &key, alias).await),
            "{alias}"
        );
    }
    let countries = rows(&data, "countries").as_u64().unwrap();
    let entity = &data["entities"][0];
    assert_eq!(entity["rowsCapped"], false, "{entity}");
    assert!(entity["table"].is_string(), "{entity}");

    // Rows just written are counted at once.
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [
                {"iso2_code": "XA", "iso3_code": "XAA", "name": "Xa"},
                {"iso2_code": "XB", "iso3_code": "XBB", "name": "Xb"},
                {"iso2_code": "XC", "iso3_code": "XCC", "name": "Xc"},
            ]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{r:?}");
    let data = overview(&app, &token).await;
    assert_eq!(rows(&data, "countries"), json!(countries + 3));

    // The latest jobs, newest first: here an export.
    assert_eq!(data["jobs"], json!([]));
    let export = scoped_key(&dx, "exporter", "admin dynamic-entity:read");
    let r = app
        .send(
            TestRequest::post()
                .uri("/admin/api/jobs/export")
                .insert_header(("X-Api-Key", export.as_str()))
                .insert_header((CONTENT_TYPE, "application/json"))
                .set_payload(r#"{"entity": "countries"}"#),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    let data = overview(&app, &token).await;
    let jobs = data["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["kind"], "export");
    assert_eq!(jobs[0]["state"], "done");
    assert_eq!(jobs[0]["summary"]["rows"], json!(countries + 3));

    // Sixty minutes, oldest first, the last one this minute, with this test's requests in it.
    let missing: Reply = app.api("nope", &key).await;
    assert_eq!(missing.status.as_u16(), 404);
    let data = overview(&app, &token).await;
    let minutes = data["requests"].as_array().unwrap();
    assert_eq!(minutes.len(), 60);
    let starts: Vec<u64> = minutes
        .iter()
        .map(|m| m["start"].as_u64().unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[1] == w[0] + 60), "{starts:?}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now - starts[59] < 60 + 1, "{now} {}", starts[59]);
    let sum = |member: &str| -> u64 { minutes.iter().map(|m| m[member].as_u64().unwrap()).sum() };
    // Made before this answer: 3 overviews, each with its `/openapi.json`, the counts, the
    // POST, the export, the 404 (a minute boundary may split them, never lose them).
    assert!(
        sum("requests") >= 3 * 2 + served.len() as u64 + 3,
        "{minutes:?}"
    );
    assert!(sum("clientErrors") >= 1, "{minutes:?}");
    assert_eq!(sum("serverErrors"), 0, "{minutes:?}");

    // Health: the database answers, on this backend, at the configuration in force.
    let health = &data["health"];
    assert_eq!(health["database"], "ready");
    assert_eq!(health["error"], Value::Null);
    let backend = match db.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
        Backend::Mysql => "mysql",
    };
    assert_eq!(health["backend"], backend);
    assert_eq!(health["configVersion"], json!(dx.snapshot().version));
    let pool = &health["pool"];
    assert!(pool["max"].as_u64().unwrap() >= 1, "{pool}");
    assert!(
        pool["idle"].as_u64().unwrap() <= pool["connections"].as_u64().unwrap(),
        "{pool}"
    );
}

async fn rows_are_counted_only_where_the_credentials_may_read(db: TestDb) {
    let (dx, app, [_, admin_only]) = setup(&db).await;
    // The `admin` scope alone reads no rows: every entity is listed, none counted.
    let data = overview(&app, &admin_only).await;
    let entities = data["entities"].as_array().unwrap();
    assert!(entities.len() > 2);
    assert!(
        entities
            .iter()
            .all(|e| e["rows"].is_null() && e["rowsCapped"] == false),
        "{entities:?}"
    );
    // With one entity's read scope, that entity only.
    let one = Cred::Key(scoped_key(
        &dx,
        "countries-admin",
        "admin dynamic-entity:countries:read",
    ));
    let data = overview(&app, &one).await;
    for e in data["entities"].as_array().unwrap() {
        assert_eq!(e["rows"].is_u64(), e["alias"] == "countries", "{e}");
    }
}

async fn the_overview_needs_the_admin_scope(db: TestDb) {
    let (dx, app, _) = setup(&db).await;
    dx.add_user("ivan", TEST_PASSWORD, Role::Integrator)
        .unwrap();
    let integrator = app.password_token("ivan", TEST_PASSWORD, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let reader = dx.create_api_key("reader", &[], None).unwrap().key;
    for cred in [Cred::Bearer(integrator), Cred::Key(reader)] {
        let r = call(&app, Method::GET, "overview", &cred, None).await;
        let message = r.assert_error(403, "002");
        assert!(message.contains("`admin`"), "{message}");
    }
    let r = app
        .send(TestRequest::get().uri("/admin/api/overview"))
        .await;
    r.assert_error(403, "002");
    // Read only.
    let r = app
        .send(TestRequest::post().uri("/admin/api/overview"))
        .await;
    assert!([404, 405].contains(&r.status.as_u16()), "{r:?}");
    r.assert_json();
}
