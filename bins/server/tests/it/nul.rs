//! NUL characters (U+0000) are refused with a coded 400 wherever text comes in, before it
//! reaches the database, the same on every backend: PostgreSQL refused them with a server
//! error (`/token`, the admin API, text and `jsonb` values), SQLite cut names at them (an entity
//! of table `spy_country\0x` read table `spy_country`).

use actix_web::http::Method;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::test::TestRequest;
use dynex_test_support::{TestDb, async_backend_tests, config_field, countries, reconfigure};
use serde_json::{Value, json};

use crate::admin::{Cred, call, call_raw};
use crate::support::{NON_TRANSACTIONAL, PREFIX, TEST_PASSWORD, demo};

async_backend_tests!(
    data_writes_refuse_nul_in_text_and_json_values,
    the_token_endpoint_refuses_nul,
    the_admin_api_refuses_nul,
    configurations_refuse_nul_in_any_name,
);

/// The 1306 message of a value with a NUL character.
fn nul_value(path: &str, field: &str) -> String {
    format!(
        "Invalid data value `{path}` for field: `{field}`. Field rules: text without NUL \
         characters (U+0000)"
    )
}

async fn data_writes_refuse_nul_in_text_and_json_values(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "XN", "name": "Nul\u{0}land"}]}),
        )
        .await;
    assert_eq!(
        r.assert_error(400, "1306"),
        nul_value("countries[0]", "name")
    );
    // Non-transactional: the row alone is refused, the good one is kept.
    let r = app
        .non_transactional(
            Method::POST,
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "XN", "name": "\u{0}"},
                              {"iso2_code": "XO", "name": "Oland"}]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{r:?}");
    assert_eq!(r.body["errors"][0]["code"], "1306", "{r:?}");
    let r = app
        .patch(
            "countries/2",
            &key,
            &json!({"data": {"postal_code_regex": "[0-9]\u{0}"}}),
        )
        .await;
    assert_eq!(
        r.assert_error(400, "1306"),
        nul_value("countries[0]", "postal_code_regex")
    );
    // A JSON field: in any string or member name (PostgreSQL's `jsonb` refuses `\u0000`).
    reconfigure(&dx, "product-abstracts", |c| {
        config_field(c, "attributes")["type"] = json!("json");
    });
    let r = app
        .put(
            "product-abstracts/1",
            &key,
            &json!({"data": {"sku": "001", "attributes": {"colour\u{0}": "blue"}, "fk_tax_set": 1}}),
        )
        .await;
    assert_eq!(
        r.assert_error(400, "1306"),
        nul_value("product-abstracts[0]", "attributes")
    );
    // In the path: no row can have such an identifier.
    let r = app.api("countries/2%00", &key).await;
    r.assert_error(404, "1303");
    // A CSV cell: its line is refused.
    let r = app
        .send(
            TestRequest::post()
                .uri(&format!("/{PREFIX}/countries"))
                .insert_header(("X-Api-Key", key.as_str()))
                .insert_header((CONTENT_TYPE, "text/csv"))
                .insert_header(NON_TRANSACTIONAL)
                .set_payload("iso2_code,name\nXP,P\u{0}\nXQ,Qland\n"),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{r:?}");
    assert_eq!(
        r.body["errors"],
        json!([{"code": "1306", "status": 400, "line": 2, "field": "name",
                "message": nul_value("countries[2]", "name")}])
    );
    let mut expected: Vec<Value> = countries()
        .into_iter()
        .map(|mut c| {
            c.as_object_mut().unwrap().remove("id_country");
            c
        })
        .collect();
    for (code, name) in [("XO", "Oland"), ("XQ", "Qland")] {
        expected.push(json!({"iso2_code": code, "iso3_code": null, "name": name,
                             "postal_code_mandatory": false, "postal_code_regex": null}));
    }
    let stored: Vec<Value> = app
        .all("countries", &key)
        .await
        .into_iter()
        .map(|mut c| {
            c.as_object_mut().unwrap().remove("id_country");
            c
        })
        .collect();
    assert_eq!(stored, expected);
}

async fn the_token_endpoint_refuses_nul(db: TestDb) {
    let (dx, app, _key) = demo(&db).await;
    dx.add_user("alice", TEST_PASSWORD, dynex_auth::Role::Admin)
        .unwrap();
    let form = |body: &str| {
        TestRequest::post()
            .uri("/token")
            .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(body.to_string())
    };
    for body in [
        "grant_type=password&username=ali%00ce&password=x",
        "grant_type=password&username=alice&password=a%00",
        "grant_type=client_credentials&client_id=c%00&client_secret=s",
        "grant_type=refresh_token&refresh_token=dnxr_%00",
    ] {
        let r = app.send(form(body)).await;
        assert_eq!(r.status.as_u16(), 400, "{body}: {r:?}");
        assert_eq!(r.body["error"], "invalid_request", "{body}: {r:?}");
    }
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode("c%00:s");
    let r = app
        .send(
            form("grant_type=client_credentials")
                .insert_header(("Authorization", format!("Basic {basic}"))),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{r:?}");
    assert_eq!(r.body["error"], "invalid_request", "{r:?}");
    // Nothing of that counted against anyone.
    let r = app.password_token("alice", TEST_PASSWORD, None).await;
    assert!(r["access_token"].is_string(), "{r}");
}

async fn the_admin_api_refuses_nul(db: TestDb) {
    let (_dx, app, creds) = crate::admin::setup(&db).await;
    let cred: &Cred = &creds[1];
    for (method, path, body) in [
        (
            Method::POST,
            "users",
            json!({"name": "bob\u{0}", "password": TEST_PASSWORD, "role": "admin"}),
        ),
        (
            Method::POST,
            "clients",
            json!({"client_id": "c\u{0}", "scopes": ["dynamic-entity:read"]}),
        ),
        (Method::POST, "keys", json!({"name": "k\u{0}"})),
        (
            Method::POST,
            "entities",
            json!({"table": "spy_country\u{0}x", "alias": "nul"}),
        ),
        (
            Method::POST,
            "jobs/export",
            json!({"entity": "countries", "fields": ["name\u{0}"]}),
        ),
    ] {
        let r = call(&app, method, path, cred, Some(&body)).await;
        let message = r.assert_error(400, "1401");
        assert!(message.contains("NUL character"), "{path}: {message}");
    }
    for path in [
        "tables/spy_country%00x",
        "entities/countries%00",
        "jobs/x%00",
    ] {
        let r = call(&app, Method::GET, path, cred, None).await;
        let message = r.assert_error(400, "1401");
        assert!(message.contains("the path"), "{path}: {message}");
    }
    let r = call(&app, Method::DELETE, "users/bob%00", cred, None).await;
    r.assert_error(400, "1401");
    let r = call_raw(
        &app,
        Method::POST,
        "jobs/import?entity=countries&fileName=a%00.csv",
        cred,
        "iso2_code,name\nXA,A\n",
    )
    .await;
    let message = r.assert_error(400, "1401");
    assert!(message.contains("`fileName`"), "{message}");
    // Still answers: nothing broke the connections.
    let r = call(&app, Method::GET, "users", cred, None).await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
}

async fn configurations_refuse_nul_in_any_name(db: TestDb) {
    let (dx, app, creds) = crate::admin::setup(&db).await;
    let mut config = dx.stored_entity("countries").unwrap().config;
    config.table_alias = "nul-countries".into();
    config.table_name = "spy_country\u{0}x".into();
    let Err(dynex_core::CoreError::Config(errors)) =
        dx.save_entities(std::slice::from_ref(&config))
    else {
        panic!("an entity of a table whose name holds a NUL is refused");
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "tableName", "{errors:?}");
    let mut config = dx.stored_entity("countries").unwrap().config;
    config.definition.fields[1].field_name = "iso2_code\u{0}".into();
    let body = serde_json::to_value(&config).unwrap();
    let r = call(
        &app,
        Method::PUT,
        "entities/countries",
        &creds[1],
        Some(&body),
    )
    .await;
    let message = r.assert_error(400, "1401");
    assert!(
        message.contains("definition.fields[1].fieldName") && message.contains("NUL"),
        "{message}"
    );
    let r = call_raw(
        &app,
        Method::POST,
        "configuration",
        &creds[1],
        &format!("[{}]", serde_json::to_string(&config).unwrap()),
    )
    .await;
    r.assert_error(400, "1401");
    assert!(dx.stored_entity("nul-countries").is_err());
    assert_eq!(
        dx.stored_entity("countries")
            .unwrap()
            .config
            .definition
            .fields[1]
            .field_name,
        "iso2_code"
    );
}
