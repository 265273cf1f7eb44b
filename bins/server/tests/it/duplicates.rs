//! A JSON body whose object names a member twice is refused, naming the member: JSON parsers
//! keep one of the two (serde_json the last), so `{"name": "a", "name": "b"}` was saved as `b`
//! with 201. Data API writes answer `1329`, the admin API `1401`.

use actix_web::http::Method;
use dynex_test_support::{TestDb, async_backend_tests};
use serde_json::json;

use crate::admin::call_raw;
use crate::support::demo;

async_backend_tests!(
    data_writes_refuse_a_member_named_twice,
    admin_bodies_refuse_a_member_named_twice,
);

async fn data_writes_refuse_a_member_named_twice(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let before = app.all("countries", &key).await;
    for (method, path, body, member) in [
        (
            Method::POST,
            "countries",
            r#"{"data": [{"iso2_code": "XA", "name": "a", "name": "b"}]}"#,
            "name",
        ),
        (
            Method::PATCH,
            "countries/2",
            r#"{"data": {"name": "a"}, "data": {"name": "b"}}"#,
            "data",
        ),
        (
            Method::PUT,
            "countries",
            r#"{"data": [{"id_country": 2, "iso2_code": "AT", "name": "Austria",
                "countryTaxRates": [{"id_tax_rate": 1, "rate": "1.00", "rate": "2.00"}]}]}"#,
            "rate",
        ),
    ] {
        for headers in [&[][..], &[("X-Is-Transactional", "false")][..]] {
            let r = app.request(method.clone(), path, &key, body, headers).await;
            let message = r.assert_error(400, "1329");
            assert_eq!(
                message,
                format!("The member `{member}` appears twice in one object of the request body.")
            );
        }
    }
    // The same name spelled with an escape is the same member.
    let r = app
        .request(
            Method::POST,
            "countries",
            &key,
            r#"{"data": [{"iso2_code": "XA", "name": "a", "n\u0061me": "b"}]}"#,
            &[],
        )
        .await;
    r.assert_error(400, "1329");
    assert_eq!(app.all("countries", &key).await, before);
    // Distinct members in distinct objects are fine.
    let r = app
        .request(
            Method::POST,
            "countries",
            &key,
            r#"{"data": [{"iso2_code": "XA", "name": "a"}, {"iso2_code": "XB", "name": "b"}]}"#,
            &[],
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{r:?}");
}

async fn admin_bodies_refuse_a_member_named_twice(db: TestDb) {
    let (dx, app, creds) = crate::admin::setup(&db).await;
    let cred = &creds[1];
    // A map member of a body: the filters of an export job.
    let r = call_raw(
        &app,
        Method::POST,
        "jobs/export",
        cred,
        r#"{"entity": "countries", "filters": {"filter[countries.iso2_code]": "AT",
            "filter[countries.iso2_code]": "DE"}}"#,
    )
    .await;
    let message = r.assert_error(400, "1401");
    assert!(
        message.contains("the member `filter[countries.iso2_code]` appears twice"),
        "{message}"
    );
    // An entity's configuration, as a body and as an imported configuration.
    let mut config = serde_json::to_value(dx.stored_entity("countries").unwrap().config).unwrap();
    config["isActive"] = json!(false);
    let text = config.to_string();
    let twice = text.replacen(
        "\"isActive\":false",
        "\"isActive\":false,\"isActive\":true",
        1,
    );
    assert_ne!(text, twice);
    let r = call_raw(&app, Method::PUT, "entities/countries", cred, &twice).await;
    let message = r.assert_error(400, "1401");
    assert!(message.contains("`isActive` appears twice"), "{message}");
    let r = call_raw(
        &app,
        Method::POST,
        "configuration",
        cred,
        &format!("[{twice}]"),
    )
    .await;
    let message = r.assert_error(400, "1401");
    assert!(message.contains("`isActive` appears twice"), "{message}");
    assert!(dx.stored_entity("countries").unwrap().config.is_active);
    // A struct body: a user's name twice.
    let r = call_raw(
        &app,
        Method::POST,
        "users",
        cred,
        r#"{"name": "bob", "name": "eve", "password": "correct horse battery staple"}"#,
    )
    .await;
    let message = r.assert_error(400, "1401");
    assert!(message.contains("`name` appears twice"), "{message}");
}
