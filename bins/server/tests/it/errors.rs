//! Errors: Spryker's codes, statuses and messages, always as a JSON array of error objects.

use actix_web::test::TestRequest;
use dynex_test_support::{TestDb, async_backend_tests};
use serde_json::json;

use crate::support::{demo, enc};

async_backend_tests!(
    unknown_alias_is_007,
    unknown_or_malformed_id_is_1303,
    unknown_filter_field_is_1315,
    filter_value_of_the_wrong_type_is_1319,
    unknown_relation_is_1313,
    malformed_parameter_names_are_1320,
    other_methods_are_405,
    unknown_routes_are_007,
);

/// Unknown alias → 404 `[{"code":"007","status":404,"message":"Not found"}]`.
async fn unknown_alias_is_007(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for path in [
        "nope",
        "nope/1",
        "nope?include=x&filter[nope.x]=1",
        // Aliases are case-sensitive and tables are not aliases.
        "Countries",
        "spy_country",
    ] {
        let r = app.api(path, &key).await;
        r.assert_error(404, "007");
        assert_eq!(
            r.body,
            json!([{"code": "007", "status": 404, "message": "Not found"}]),
            "{path}"
        );
    }
}

/// Unknown identifiers, and identifiers that cannot be integers, are 1303.
async fn unknown_or_malformed_id_is_1303(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for path in [
        "countries/99999",
        "countries/0",
        "countries/-1",
        "countries/abc",
        "countries/1.5",
        "countries/99999999999999999999999",
        "countries/%20",
    ] {
        let r = app.api(path, &key).await;
        assert_eq!(
            r.body,
            json!([{
                "code": "1303",
                "status": 404,
                "message": "The entity `countries` could not be found in the database."
            }]),
            "{path}"
        );
        r.assert_error(404, "1303");
    }
    let r = app.api("tax-rates/11?include=nope", &key).await;
    r.assert_error(400, "1313");
}

/// A filter on a field that is not configured.
async fn unknown_filter_field_is_1315(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for query in [
        "filter[countries.nope]=1",
        "filter[country.nope]=1",
        "filter[nope]=1",
    ] {
        let r = app.api(&format!("countries?{query}"), &key).await;
        assert_eq!(
            r.body,
            json!([{
                "code": "1315",
                "status": 400,
                "message": "Filter field `nope` for table alias `countries` not found."
            }]),
            "{query}"
        );
        r.assert_error(400, "1315");
    }
    // Field names are visible names, compared exactly; relations are not filterable.
    for field in ["ISO2_CODE", "countryTaxRates", "id_tax_rate"] {
        let r = app
            .api(&format!("countries?filter[countries.{field}]=1"), &key)
            .await;
        let message = r.assert_error(400, "1315");
        assert_eq!(
            message,
            format!("Filter field `{field}` for table alias `countries` not found.")
        );
    }
    // By id too, and on another entity.
    let r = app.api("countries/2?filter[countries.nope]=1", &key).await;
    r.assert_error(400, "1315");
    let r = app.api("tax-rates?filter[tax-rates.nope]=1", &key).await;
    assert_eq!(
        r.assert_error(400, "1315"),
        "Filter field `nope` for table alias `tax-rates` not found."
    );
}

/// A value that is not of the field's type, or not of its operator's form.
async fn filter_value_of_the_wrong_type_is_1319(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let cases = [
        ("countries", "id_country", "abc".to_string()),
        ("countries", "id_country", "1.5".to_string()),
        ("countries", "id_country", enc(r#"{"gt":"x"}"#)),
        ("countries", "id_country", enc(r#"{"lt":null}"#)),
        ("countries", "id_country", enc(r#"{"eq":[1]}"#)),
        ("countries", "name", enc(r#"{"isNull":"yes"}"#)),
        ("countries", "name", enc(r#"{"like":1}"#)),
        ("countries", "name", enc(r#"{"like":"ab\\"}"#)),
        ("countries", "name", enc(r#"{"nin":"AT"}"#)),
        ("countries", "id_country", enc(r#"{"in":["x"]}"#)),
        ("countries", "id_country", enc(r#"{"in":1}"#)),
        ("countries", "iso2_code", enc(r#"{"in":"AT"}"#)),
        ("countries", "postal_code_mandatory", "yes".to_string()),
        ("tax-rates", "rate", "abc".to_string()),
        ("tax-rates", "rate", "1e3".to_string()),
        // PostgreSQL refuses a NUL in any text: never a server error, never a retry.
        ("countries", "name", "a%00b".to_string()),
        ("countries", "iso2_code", enc(r#"{"in":["A\u0000"]}"#)),
    ];
    for (alias, field, value) in cases {
        let r = app
            .api(&format!("{alias}?filter[{alias}.{field}]={value}"), &key)
            .await;
        let message = r.assert_error(400, "1319");
        assert!(message.contains(field), "{message}");
    }
    // A value that merely starts with `{` but is no JSON object is a plain string.
    let r = app
        .api(
            &format!("countries?filter[countries.name]={}", enc("{Atlantis")),
            &key,
        )
        .await;
    assert_eq!(r.body, json!({"data": []}));
}

/// Unknown relations in `include`, also deeper in a chain.
async fn unknown_relation_is_1313(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let cases = [
        ("countries", "nope", "nope"),
        ("countries", "countryTaxRates.nope", "nope"),
        ("countries", "countryTaxRates,nope", "nope"),
        ("countries", "countrytaxrates", "countrytaxrates"),
        // A relation of another entity is unknown here.
        ("countries", "productPrices", "productPrices"),
        ("product-abstracts", "productAbstractProducts.nope", "nope"),
        (
            "product-abstracts",
            "productAbstractProducts.productPrices.nope",
            "nope",
        ),
        (
            "product-abstracts",
            "productAbstractProducts.productAbstractProducts",
            "productAbstractProducts",
        ),
    ];
    for (alias, include, name) in cases {
        let r = app.api(&format!("{alias}?include={include}"), &key).await;
        assert_eq!(
            r.body,
            json!([{
                "code": "1313",
                "status": 400,
                "message": format!(
                    "Relation `{name}` not found. Please check the requested relation name and try again."
                )
            }]),
            "{alias}?include={include}"
        );
        r.assert_error(400, "1313");
    }
    let r = app.api("countries/2?include=nope", &key).await;
    r.assert_error(400, "1313");
}

/// `filter` and `page` parameters not of the form `filter[…]`, `page[offset|limit]`.
async fn malformed_parameter_names_are_1320(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for query in [
        "filter=AT",
        "filter[countries.iso2_code=AT",
        "page=1",
        "page[]=1",
        "fields=iso2_code",
        "fields[countries=iso2_code",
    ] {
        let r = app.api(&format!("countries?{query}"), &key).await;
        r.assert_error(400, "1320");
    }
    // Other unknown parameters are ignored, as in Spryker.
    let r = app.api("countries/2?sorting=name&unknown[x]=y", &key).await;
    assert_eq!(r.body, json!({"data": dynex_test_support::country(2)}));
    // A path segment that is not UTF-8 names nothing.
    let r = app.api("countries/%FF", &key).await;
    assert_eq!(r.status.as_u16(), 404, "{r:?}");
    r.assert_json();
}

/// Methods a route does not serve, and DELETE on entities that are not deletable: 405 / 1318.
async fn other_methods_are_405(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let send = |req: TestRequest, uri: &str| {
        req.uri(uri)
            .insert_header(("X-Api-Key", key.as_str()))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(r#"{"data":[{"iso2_code":"XX","name":"X"}]}"#)
    };
    // POST names no single row.
    let r = app
        .send(send(TestRequest::post(), "/dynamic-entity/countries/1"))
        .await;
    r.assert_error(405, "1318");
    // DELETE needs `isDeletable`.
    for uri in [
        "/dynamic-entity/countries/1",
        "/dynamic-entity/countries?filter[countries.iso2_code]=AT",
    ] {
        let r = app.send(send(TestRequest::delete(), uri)).await;
        let message = r.assert_error(405, "1318");
        assert_eq!(message, "Method not allowed for the entity `countries`.");
    }
    let r = app
        .send(send(
            TestRequest::default().method(actix_web::http::Method::OPTIONS),
            "/dynamic-entity/countries",
        ))
        .await;
    r.assert_error(405, "1318");
    // Nothing was written or deleted.
    let r = app
        .api("countries?filter[countries.iso2_code]=XX", &key)
        .await;
    assert_eq!(r.body, json!({"data": []}));
    assert_eq!(app.api("countries/1", &key).await.data()["iso2_code"], "AD");
}

/// Routes outside the API (and the back office at `/`) are 404 / 007 as JSON.
async fn unknown_routes_are_007(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for uri in [
        "/nothing",
        "/dynamic-entity",
        "/dynamic-entity/",
        "/dynamic-entity/countries/1/extra",
        "/other-prefix/countries",
        "/health",
    ] {
        let r = app.get(uri, &key).await;
        assert_eq!(
            r.body,
            json!([{"code": "007", "status": 404, "message": "Not found"}]),
            "{uri}: {r:?}"
        );
        r.assert_error(404, "007");
    }
    let r = app
        .send(TestRequest::post().uri("/nothing").set_payload("x"))
        .await;
    r.assert_error(404, "007");
}
