//! Configuration at runtime: inactive and removed entities, changed definitions, and changes
//! made through another handle reaching a running app through its watcher.

use std::time::{Duration, Instant};

use dynex_core::Dynex;
use dynex_test_support::{TestDb, async_backend_tests, country, country_with_rates};
use serde_json::json;

use crate::support::{Reply, TestApp, demo};

async_backend_tests!(
    inactive_entity_is_007,
    inactive_child_makes_its_relation_unknown,
    removed_entity_is_007,
    changed_definition_applies_to_the_next_request,
    relation_key_columns_need_not_be_exposed,
    another_handle_sees_changes_within_a_second,
);

const NOT_FOUND: &str = r#"[{"code":"007","status":404,"message":"Not found"}]"#;

/// `set_entity_active("countries", false)` → 404 / 007 on the next request; back on → 200.
async fn inactive_entity_is_007(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    let r = app.api("countries/2", &key).await;
    assert_eq!(r.body, json!({"data": country(2)}));
    dx.set_entity_active("countries", false)
        .expect("deactivate");
    for path in [
        "countries",
        "countries/2",
        "countries?include=countryTaxRates",
    ] {
        let r = app.api(path, &key).await;
        r.assert_error(404, "007");
        assert_eq!(r.body.to_string(), NOT_FOUND, "{path}");
    }
    // Other entities are served as before.
    let r = app.api("tax-rates?page[limit]=1", &key).await;
    assert_eq!(r.rows().len(), 1);
    dx.set_entity_active("countries", true).expect("activate");
    let r = app.api("countries/2", &key).await;
    assert_eq!(r.body, json!({"data": country(2)}));
}

/// A relation whose child entity is inactive cannot be included (1313).
async fn inactive_child_makes_its_relation_unknown(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    dx.set_entity_active("tax-rates", false)
        .expect("deactivate");
    let r = app.api("tax-rates", &key).await;
    r.assert_error(404, "007");
    let r = app.api("countries?include=countryTaxRates", &key).await;
    assert_eq!(
        r.assert_error(400, "1313"),
        "Relation `countryTaxRates` not found. Please check the requested relation name and try again."
    );
    let r = app.api("countries/2", &key).await;
    assert_eq!(r.body, json!({"data": country(2)}));
    dx.set_entity_active("tax-rates", true).expect("activate");
    let r = app.api("countries/2?include=countryTaxRates", &key).await;
    assert_eq!(r.body, json!({"data": country_with_rates(2, &[1, 2])}));
}

/// A removed entity is 404 / 007, and relations to it are gone.
async fn removed_entity_is_007(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    dx.remove_entity("stock-products").expect("remove");
    let r = app.api("stock-products/1", &key).await;
    r.assert_error(404, "007");
    let r = app
        .api("product-concretes?include=productStocks", &key)
        .await;
    r.assert_error(400, "1313");
    let r = app
        .api("product-concretes/1?include=productPrices", &key)
        .await;
    assert_eq!(r.data()["productPrices"].as_array().unwrap().len(), 2);
}

/// A new definition (fewer fields, a renamed visible name) is served on the next request.
async fn changed_definition_applies_to_the_next_request(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    let config = r#"{
        "tableName": "spy_country",
        "tableAlias": "countries",
        "isActive": true,
        "definition": {
            "identifier": "id_country",
            "isDeletable": false,
            "fields": [
                {"fieldName": "id_country", "fieldVisibleName": "id_country", "type": "integer",
                 "isCreatable": false, "isEditable": false, "validation": {"isRequired": false}},
                {"fieldName": "iso2_code", "fieldVisibleName": "code", "type": "string",
                 "isCreatable": true, "isEditable": true,
                 "validation": {"isRequired": true, "minLength": 2, "maxLength": 2}},
                {"fieldName": "name", "fieldVisibleName": "name", "type": "string",
                 "isCreatable": true, "isEditable": true,
                 "validation": {"isRequired": true, "maxLength": 255}}
            ]
        },
        "childRelations": [
            {"name": "countryTaxRates", "isEditable": true,
             "childDynamicEntityConfiguration": {"tableAlias": "tax-rates"},
             "relationFieldMappings": [{"childFieldName": "fk_country", "parentFieldName": "id_country"}]}
        ]
    }"#;
    let aliases = dx.import_configuration(config).expect("import");
    assert_eq!(aliases, ["countries"]);
    let r = app.api("countries/2", &key).await;
    assert_eq!(
        r.body,
        json!({"data": {"id_country": 2, "code": "AT", "name": "Austria"}})
    );
    let r = app.api("countries?filter[countries.code]=DE", &key).await;
    assert_eq!(
        r.body,
        json!({"data": [{"id_country": 5, "code": "DE", "name": "Germany"}]})
    );
    let r = app
        .api("countries?filter[countries.iso2_code]=DE", &key)
        .await;
    assert_eq!(
        r.assert_error(400, "1315"),
        "Filter field `iso2_code` for table alias `countries` not found."
    );
    let r = app.api("countries/7?include=countryTaxRates", &key).await;
    assert_eq!(
        r.data()["countryTaxRates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id_tax_rate"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [5, 6]
    );
}

/// A child whose definition leaves out the relation's key column is still matched by it.
async fn relation_key_columns_need_not_be_exposed(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    let config = r#"{
        "tableName": "spy_tax_rate",
        "tableAlias": "tax-rates",
        "isActive": true,
        "definition": {
            "identifier": "id_tax_rate",
            "fields": [
                {"fieldName": "id_tax_rate", "fieldVisibleName": "id", "type": "integer"},
                {"fieldName": "rate", "fieldVisibleName": "percent", "type": "decimal",
                 "validation": {"isRequired": true, "precision": 8, "scale": 2}}
            ]
        }
    }"#;
    dx.import_configuration(config).expect("import");
    let r = app.api("countries/7?include=countryTaxRates", &key).await;
    let mut expected = country(7);
    expected["countryTaxRates"] = json!([
        {"id": 5, "percent": "20.00"},
        {"id": 6, "percent": "5.50"}
    ]);
    assert_eq!(r.body, json!({ "data": expected }));
}

/// Polls `path` on `app` until `done` holds, failing after one second.
async fn within_a_second(
    app: &TestApp,
    path: &str,
    key: &str,
    what: &str,
    done: impl Fn(&Reply) -> bool,
) {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(1);
    loop {
        let r = app.api(path, key).await;
        if done(&r) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen after {:?}; last reply {r:?}",
            start.elapsed()
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An app over a second handle (default watch interval) sees changes made through the first.
async fn another_handle_sees_changes_within_a_second(db: TestDb) {
    let (first, _first_app, key) = demo(&db).await;
    let second = Dynex::open(&db.url).expect("open a second handle");
    let app = TestApp::new(second).await;
    let r = app.api("countries/2", &key).await;
    assert_eq!(r.body, json!({"data": country(2)}));

    first
        .set_entity_active("countries", false)
        .expect("deactivate");
    within_a_second(&app, "countries/2", &key, "deactivation", |r| {
        r.status.as_u16() == 404
    })
    .await;
    app.api("countries/2", &key).await.assert_error(404, "007");

    first
        .set_entity_active("countries", true)
        .expect("activate");
    within_a_second(&app, "countries/2", &key, "activation", |r| {
        r.status.is_success()
    })
    .await;

    let late = first.create_api_key("late", &[], None).expect("key").key;
    within_a_second(&app, "countries/2", &late, "a new key", |r| {
        r.status.is_success()
    })
    .await;

    first.revoke_api_key("test").expect("revoke");
    within_a_second(&app, "countries/2", &key, "a revoked key", |r| {
        r.status.as_u16() == 403
    })
    .await;
    let r = app.api("countries/2", &late).await;
    assert_eq!(r.body, json!({"data": country(2)}));
}
