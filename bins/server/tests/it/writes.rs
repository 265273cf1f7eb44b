//! Writes: Spryker's documented POST, PATCH, PUT and DELETE examples, what each method does to
//! the rows (checked by reading them back), deletes and the scopes writes need.

use dynex_test_support::{
    COUNTRY_FIELDS, TestDb, async_backend_tests, config_field, countries, country, ids,
    reconfigure, tax_rates,
};
use serde_json::{Value, json};

use crate::support::{demo, enc, scoped_key};

async_backend_tests!(
    doc_example_post_countries,
    post_several_rows_in_payload_order,
    doc_example_patch_countries_collection,
    patch_by_id_answers_an_object,
    doc_example_put_country_by_id,
    put_collection_replaces_and_creates,
    put_missing_row_with_a_creatable_identifier_is_created,
    doc_example_delete_by_filter,
    delete_by_id,
    delete_refusals,
    delete_of_referenced_rows_is_1317_and_atomic,
    writes_need_the_write_scope_of_every_entity_written,
    deletes_need_the_delete_scope,
    large_payloads_span_several_statements,
    values_round_trip_or_are_refused_without_server_errors,
    visible_names_and_unconfigured_columns,
    editable_identifiers_can_change,
    put_by_id_with_a_required_identifier,
);

fn keys(row: &Value) -> Vec<&str> {
    row.as_object()
        .expect("a row object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// Spryker's POST example: `{"data":[{"iso2_code":"WA","iso3_code":"WWA","name":"FOO"}]}` → 201
/// with the generated `id_country` and every configured field (defaults applied).
async fn doc_example_post_countries(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "WA", "iso3_code": "WWA", "name": "FOO"}]}),
        )
        .await;
    let saved = json!({
        "id_country": 13,
        "iso2_code": "WA",
        "iso3_code": "WWA",
        "name": "FOO",
        // The column's default (FALSE) applies to a field not sent.
        "postal_code_mandatory": false,
        "postal_code_regex": null,
    });
    let rows = r.written_rows(201);
    assert_eq!(rows, &vec![saved.clone()]);
    assert_eq!(keys(&rows[0]), COUNTRY_FIELDS);
    assert_eq!(app.find("countries", &json!(13), &key).await, Some(saved));
    assert_eq!(app.all("countries", &key).await.len(), 13);
}

/// Several rows are created in payload order; `null` values are not written (the column
/// default applies), as in Spryker.
async fn post_several_rows_in_payload_order(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [
                {"iso2_code": "XA", "name": "Xanadu", "postal_code_mandatory": true,
                 "postal_code_regex": "X[0-9]{2}"},
                {"iso2_code": "XB", "name": "Xbox", "iso3_code": null,
                 "postal_code_mandatory": null, "id_country": null},
                {"name": "Xylophone", "iso2_code": "XC", "iso3_code": "XYC"},
            ]}),
        )
        .await;
    let expected = json!([
        {"id_country": 13, "iso2_code": "XA", "iso3_code": null, "name": "Xanadu",
         "postal_code_mandatory": true, "postal_code_regex": "X[0-9]{2}"},
        {"id_country": 14, "iso2_code": "XB", "iso3_code": null, "name": "Xbox",
         "postal_code_mandatory": false, "postal_code_regex": null},
        {"id_country": 15, "iso2_code": "XC", "iso3_code": "XYC", "name": "Xylophone",
         "postal_code_mandatory": false, "postal_code_regex": null},
    ]);
    assert_eq!(r.written(201), &expected);
    for row in expected.as_array().unwrap() {
        assert_eq!(
            app.find("countries", &row["id_country"], &key)
                .await
                .as_ref(),
            Some(row)
        );
    }
    // The demo rows are untouched.
    let all = app.all("countries", &key).await;
    assert_eq!(all.len(), 15);
    assert_eq!(all[..12], countries()[..]);
}

/// Spryker's collection PATCH: each row names its row by identifier (visible name or the key
/// `identifier`); only the fields sent change; the answer has every field of each row.
async fn doc_example_patch_countries_collection(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [
                {"id_country": 1, "iso2_code": "WB", "iso3_code": "WWB", "name": "FOO"},
                {"identifier": 3, "postal_code_regex": null},
                {"id_country": 8, "postal_code_mandatory": true},
            ]}),
        )
        .await;
    let mut one = country(1);
    one["iso2_code"] = json!("WB");
    one["iso3_code"] = json!("WWB");
    one["name"] = json!("FOO");
    let mut three = country(3);
    three["postal_code_regex"] = Value::Null;
    let mut eight = country(8);
    eight["postal_code_mandatory"] = json!(true);
    let expected = vec![one, three, eight];
    let rows = r.written_rows(200);
    assert_eq!(rows, &expected);
    assert_eq!(keys(&rows[1]), COUNTRY_FIELDS);
    let all = app.all("countries", &key).await;
    assert_eq!(all.len(), 12);
    for row in &expected {
        assert_eq!(
            app.find("countries", &row["id_country"], &key)
                .await
                .as_ref(),
            Some(row)
        );
    }
    assert_eq!(all[1], country(2));

    // The same row twice: applied in payload order, the last one wins.
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [
                {"id_country": 4, "name": "first", "iso3_code": "CH1"},
                {"id_country": 4, "name": "second"},
            ]}),
        )
        .await;
    let rows = r.written_rows(200);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["name"], json!("second"));
    let mut four = country(4);
    four["name"] = json!("second");
    four["iso3_code"] = json!("CH1");
    assert_eq!(rows[1], four);
    assert_eq!(app.find("countries", &json!(4), &key).await, Some(four));
}

/// `PATCH /countries/{id}` with `{"data": {...}}` answers the row as an object; `null` clears a
/// field; an empty object changes nothing; an unknown row is 404 / 1303.
async fn patch_by_id_answers_an_object(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .patch(
            "countries/2",
            &key,
            &json!({"data": {"name": "Österreich", "iso3_code": null, "postal_code_mandatory": false}}),
        )
        .await;
    let mut two = country(2);
    two["name"] = json!("Österreich");
    two["iso3_code"] = Value::Null;
    two["postal_code_mandatory"] = json!(false);
    assert_eq!(r.written(200), &two);
    assert_eq!(keys(r.written(200)), COUNTRY_FIELDS);
    assert_eq!(
        app.find("countries", &json!(2), &key).await,
        Some(two.clone())
    );

    let r = app.patch("countries/2", &key, &json!({"data": {}})).await;
    assert_eq!(r.written(200), &two);

    for id in ["999", "0"] {
        let r = app
            .patch(
                &format!("countries/{id}"),
                &key,
                &json!({"data": {"name": "x"}}),
            )
            .await;
        assert_eq!(
            r.body,
            json!([{"code": "1303", "status": 404,
                    "message": "The entity `countries[0]` could not be found in the database."}]),
            "{id}"
        );
    }
    // An identifier that cannot be an integer names no row either.
    let r = app
        .patch("countries/abc", &key, &json!({"data": {"name": "x"}}))
        .await;
    r.assert_error(404, "1303");
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"id_country": 999, "name": "x"}]}),
        )
        .await;
    assert_eq!(
        r.body,
        json!([{"code": "1303", "status": 404,
                "message": "The entity `countries[0]` could not be found in the database."}])
    );
    assert_eq!(app.all("countries", &key).await.len(), 12);
}

/// Spryker's PUT by id: the row is replaced, editable fields not sent become `null`.
async fn doc_example_put_country_by_id(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .put(
            "countries/3",
            &key,
            &json!({"data": {"iso2_code": "BE", "iso3_code": "BEL", "name": "Belgique"}}),
        )
        .await;
    let expected = json!({
        "id_country": 3,
        "iso2_code": "BE",
        "iso3_code": "BEL",
        "name": "Belgique",
        "postal_code_mandatory": null,
        "postal_code_regex": null,
    });
    assert_eq!(r.written(200), &expected);
    assert_eq!(app.find("countries", &json!(3), &key).await, Some(expected));
    assert_eq!(
        app.find("countries", &json!(2), &key).await,
        Some(country(2))
    );
}

/// Collection PUT: rows found by identifier are replaced, rows without one are created, and a
/// missing row whose identifier may not be created is 1308 (nothing written).
async fn put_collection_replaces_and_creates(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .put(
            "countries",
            &key,
            &json!({"data": [
                {"id_country": 2, "iso2_code": "AT", "name": "Austria"},
                {"iso2_code": "XA", "name": "Xanadu", "postal_code_mandatory": true},
                {"identifier": 5, "iso2_code": "DE", "name": "Deutschland", "iso3_code": "DEU"},
            ]}),
        )
        .await;
    let expected = json!([
        {"id_country": 2, "iso2_code": "AT", "iso3_code": null, "name": "Austria",
         "postal_code_mandatory": null, "postal_code_regex": null},
        {"id_country": 13, "iso2_code": "XA", "iso3_code": null, "name": "Xanadu",
         "postal_code_mandatory": true, "postal_code_regex": null},
        {"id_country": 5, "iso2_code": "DE", "iso3_code": "DEU", "name": "Deutschland",
         "postal_code_mandatory": null, "postal_code_regex": null},
    ]);
    assert_eq!(r.written(200), &expected);
    for row in expected.as_array().unwrap() {
        assert_eq!(
            app.find("countries", &row["id_country"], &key)
                .await
                .as_ref(),
            Some(row)
        );
    }

    // `id_country` is not creatable: a PUT naming a missing row cannot create it.
    let r = app
        .put(
            "countries",
            &key,
            &json!({"data": [
                {"id_country": 3, "iso2_code": "BE", "name": "changed"},
                {"id_country": 999, "iso2_code": "XX", "name": "Nowhere"},
            ]}),
        )
        .await;
    assert_eq!(
        r.body,
        json!([{"code": "1308", "status": 400, "message":
            "Entity `countries[1].id_country: 999` not found by identifier, and new identifier \
             can not be persisted. Please update the request."}])
    );
    let r = app
        .put(
            "countries/999",
            &key,
            &json!({"data": {"iso2_code": "XX", "name": "Nowhere"}}),
        )
        .await;
    let message = r.assert_error(400, "1308");
    assert_eq!(
        message,
        "Entity `countries[0].id_country: 999` not found by identifier, and new identifier can \
         not be persisted. Please update the request."
    );
    assert_eq!(
        app.find("countries", &json!(3), &key).await,
        Some(country(3))
    );
    assert_eq!(app.all("countries", &key).await.len(), 13);
}

/// With a creatable identifier, PUT creates a missing row under the identifier it names (in
/// the body or the URL), and POST may set it.
async fn put_missing_row_with_a_creatable_identifier_is_created(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    reconfigure(&dx, "price-types", |c| {
        config_field(c, "id_price_type")["isCreatable"] = json!(true);
    });
    let r = app
        .put(
            "price-types",
            &key,
            &json!({"data": [
                {"id_price_type": 50, "name": "SALE"},
                {"id_price_type": 1, "name": "DEFAULT-2"},
            ]}),
        )
        .await;
    assert_eq!(
        r.written(200),
        &json!([{"id_price_type": 50, "name": "SALE"}, {"id_price_type": 1, "name": "DEFAULT-2"}])
    );
    let r = app
        .put("price-types/60", &key, &json!({"data": {"name": "NET"}}))
        .await;
    assert_eq!(r.written(200), &json!({"id_price_type": 60, "name": "NET"}));
    let r = app
        .post(
            "price-types",
            &key,
            &json!({"data": [{"id_price_type": 70, "name": "GROSS"}, {"name": "GENERATED"}]}),
        )
        .await;
    let rows = r.written_rows(201);
    assert_eq!(rows[0], json!({"id_price_type": 70, "name": "GROSS"}));
    let generated = rows[1]["id_price_type"].as_i64().expect("a generated id");
    assert!(![1, 2, 50, 60, 70].contains(&generated), "{generated}");
    let all = app.all("price-types", &key).await;
    let mut names: Vec<(i64, String)> = all
        .iter()
        .map(|r| {
            (
                r["id_price_type"].as_i64().unwrap(),
                r["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    names.sort();
    let mut expected = vec![
        (1, "DEFAULT-2".to_string()),
        (2, "ORIGINAL".to_string()),
        (50, "SALE".to_string()),
        (60, "NET".to_string()),
        (70, "GROSS".to_string()),
        (generated, "GENERATED".to_string()),
    ];
    expected.sort();
    assert_eq!(names, expected);
}

/// Spryker's DELETE by filter, with `{"in": [...]}` and a plain value: 204, no body, the rows
/// are gone and the others stay.
async fn doc_example_delete_by_filter(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let filter = enc(r#"{"in": [1, 2, 3]}"#);
    let r = app
        .delete(
            &format!("price-products?filter[price-products.id_price_product]={filter}"),
            &key,
        )
        .await;
    assert_eq!(r.status.as_u16(), 204, "{r:?}");
    assert_eq!(r.raw, "");
    for id in 1..=3 {
        assert_eq!(app.find("price-products", &json!(id), &key).await, None);
    }
    let all = app.all("price-products", &key).await;
    assert_eq!(all.len(), 33);
    assert_eq!(all[0]["id_price_product"], json!(4));

    // Every USD price (10 are left) by a plain value, with the `price-product.` prefix.
    let r = app
        .delete("price-products?filter[price-product.currency]=USD", &key)
        .await;
    assert_eq!(r.status.as_u16(), 204, "{r:?}");
    let r = app
        .api("price-products?filter[price-products.currency]=USD", &key)
        .await;
    assert_eq!(r.rows().len(), 0);
    assert_eq!(app.all("price-products", &key).await.len(), 23);
    // Nothing matches any more.
    let r = app
        .delete("price-products?filter[price-products.currency]=USD", &key)
        .await;
    assert_eq!(
        r.body,
        json!([{"code": "1303", "status": 404,
                "message": "The entity `price-products` could not be found in the database."}])
    );
}

/// `DELETE /{alias}/{id}` → 204; again → 404 / 1303; on stock-products too.
async fn delete_by_id(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app.delete("price-products/5", &key).await;
    assert_eq!(r.status.as_u16(), 204, "{r:?}");
    assert_eq!(r.raw, "");
    assert_eq!(app.find("price-products", &json!(5), &key).await, None);
    let r = app.delete("price-products/5", &key).await;
    assert_eq!(
        r.assert_error(404, "1303"),
        "The entity `price-products` could not be found in the database."
    );
    let left = app.all("price-products", &key).await;
    assert_eq!(left.len(), 35);
    assert!(left.iter().all(|r| r["id_price_product"] != json!(5)));

    let r = app.delete("stock-products/28", &key).await;
    assert_eq!(r.status.as_u16(), 204, "{r:?}");
    let left = app.all("stock-products", &key).await;
    assert_eq!(
        left.iter()
            .map(|r| r["id_stock_product"].clone())
            .collect::<Vec<_>>(),
        ids(1..=27)
    );
}

/// DELETE refusals: not deletable (405 / 1318), no filter (1323), page or include parameters
/// (1320), unknown filter field (1315), nothing matching (1303); nothing is deleted.
async fn delete_refusals(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for path in [
        "countries/1",
        "countries?filter[countries.id_country]=1",
        "tax-rates/10",
    ] {
        let r = app.delete(path, &key).await;
        let alias = path.split(['/', '?']).next().unwrap();
        assert_eq!(
            r.body,
            json!([{"code": "1318", "status": 405,
                    "message": format!("Method not allowed for the entity `{alias}`.")}]),
            "{path}"
        );
        r.assert_error(405, "1318");
    }
    for path in [
        "price-products",
        "price-products?api_key=",
        "price-products?x=1",
    ] {
        let r = app.delete(path, &key).await;
        r.assert_error(400, "1323");
    }
    let r = app.delete("price-products?page[limit]=1", &key).await;
    r.assert_error(400, "1320");
    let r = app
        .delete(
            "price-products?filter[price-products.id_price_product]=1&include=x",
            &key,
        )
        .await;
    r.assert_error(400, "1320");
    let r = app
        .delete("price-products?filter[price-products.nope]=1", &key)
        .await;
    r.assert_error(400, "1315");
    for path in [
        "price-products/999",
        "price-products/abc",
        "price-products?filter[price-products.id_price_product]=999",
        "price-products?filter[price-products.currency]=GBP",
    ] {
        let r = app.delete(path, &key).await;
        assert_eq!(
            r.assert_error(404, "1303"),
            "The entity `price-products` could not be found in the database.",
            "{path}"
        );
    }
    let r = app.delete("nope/1", &key).await;
    r.assert_error(404, "007");
    assert_eq!(app.all("price-products", &key).await.len(), 36);
    assert_eq!(app.all("countries", &key).await.len(), 12);
    assert_eq!(app.all("tax-rates", &key).await.len(), 10);
}

/// A row still referenced by another table is refused with 1317 naming the child entity, and
/// the delete is atomic: rows of the same request that could go stay too.
async fn delete_of_referenced_rows_is_1317_and_atomic(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    reconfigure(&dx, "countries", |c| {
        c["definition"]["isDeletable"] = json!(true);
    });
    let message = |id: i64| {
        format!(
            "Failed to delete the data for `countries.id_country = {id}`. The entity has a child \
             entity and can not be deleted. Child entity: `tax-rates`."
        )
    };
    // Andorra (1) and Belgium (3) have no tax rates, Austria (2) has.
    let filter = enc(r#"{"in": [1, 2, 3]}"#);
    let r = app
        .delete(
            &format!("countries?filter[countries.id_country]={filter}"),
            &key,
        )
        .await;
    assert_eq!(
        r.body,
        json!([{"code": "1317", "status": 400, "message": message(2)}])
    );
    let r = app.delete("countries/5", &key).await;
    assert_eq!(r.assert_error(400, "1317"), message(5));
    // Every refused row is named.
    let filter = enc(r#"{"in": [7, 2, 6]}"#);
    let r = app
        .delete(
            &format!("countries?filter[countries.id_country]={filter}"),
            &key,
        )
        .await;
    let errors = r.errors(400);
    let mut messages: Vec<String> = errors
        .iter()
        .map(|(code, m)| {
            assert_eq!(code, "1317");
            m.clone()
        })
        .collect();
    messages.sort();
    assert_eq!(messages, vec![message(2), message(7)]);
    assert_eq!(app.all("countries", &key).await, countries());

    // Without children the rows go.
    let filter = enc(r#"{"in": [1, 3]}"#);
    let r = app
        .delete(
            &format!("countries?filter[countries.id_country]={filter}"),
            &key,
        )
        .await;
    assert_eq!(r.status.as_u16(), 204, "{r:?}");
    assert_eq!(app.all("countries", &key).await.len(), 10);
    assert_eq!(app.find("countries", &json!(1), &key).await, None);
}

/// A key with only `dynamic-entity:countries:write` writes countries, but nested tax rates need
/// `dynamic-entity:tax-rates:write` too (403 / 002, nothing written); reads and deletes need
/// their own scopes.
async fn writes_need_the_write_scope_of_every_entity_written(db: TestDb) {
    let (dx, app, app_key) = demo(&db).await;
    let writer = scoped_key(&dx, "countries-writer", "dynamic-entity:countries:write");
    let lacks = |scope: &str| {
        json!([{"code": "002", "status": 403,
                "message": format!("Unauthorized request. The credentials lack the scope `{scope}`.")}])
    };
    let r = app
        .post(
            "countries",
            &writer,
            &json!({"data": [{"iso2_code": "XA", "name": "X"}]}),
        )
        .await;
    assert_eq!(r.written_rows(201)[0]["iso2_code"], json!("XA"));
    let r = app
        .patch(
            "countries/2",
            &writer,
            &json!({"data": {"name": "Österreich"}}),
        )
        .await;
    assert_eq!(r.written(200)["name"], json!("Österreich"));

    let nested = json!({"data": [{"iso2_code": "XB", "name": "Y",
        "countryTaxRates": [{"name": "Y Standard", "rate": "10.00"}]}]});
    let r = app.post("countries", &writer, &nested).await;
    assert_eq!(r.body, lacks("dynamic-entity:tax-rates:write"));
    r.assert_error(403, "002");
    let r = app
        .patch(
            "countries/2",
            &writer,
            &json!({"data": {"countryTaxRates": [{"id_tax_rate": 1, "rate": "1.00"}]}}),
        )
        .await;
    assert_eq!(r.body, lacks("dynamic-entity:tax-rates:write"));
    let r = app
        .post(
            "tax-rates",
            &writer,
            &json!({"data": [{"name": "Z", "rate": "1.00"}]}),
        )
        .await;
    assert_eq!(r.body, lacks("dynamic-entity:tax-rates:write"));
    let r = app.api("countries/2", &writer).await;
    assert_eq!(r.body, lacks("dynamic-entity:countries:read"));
    let r = app.delete("price-products/1", &writer).await;
    assert_eq!(r.body, lacks("dynamic-entity:price-products:delete"));

    let countries = app.all("countries", &app_key).await;
    assert_eq!(countries.len(), 13);
    assert!(countries.iter().all(|c| c["iso2_code"] != json!("XB")));
    assert_eq!(app.all("tax-rates", &app_key).await, tax_rates());
    assert!(
        app.find("price-products", &json!(1), &app_key)
            .await
            .is_some()
    );

    // With both write scopes the nested write goes through.
    let both = scoped_key(
        &dx,
        "both-writer",
        "dynamic-entity:countries:write dynamic-entity:tax-rates:write",
    );
    let r = app.post("countries", &both, &nested).await;
    let rows = r.written_rows(201);
    assert_eq!(rows[0]["countryTaxRates"][0]["name"], json!("Y Standard"));
    assert_eq!(
        rows[0]["countryTaxRates"][0]["fk_country"],
        rows[0]["id_country"]
    );

    // A read-only key writes nothing.
    let reader = scoped_key(&dx, "reader", "dynamic-entity:read");
    let r = app
        .put(
            "countries/2",
            &reader,
            &json!({"data": {"iso2_code": "AT", "name": "A"}}),
        )
        .await;
    assert_eq!(r.body, lacks("dynamic-entity:countries:write"));
    let r = app
        .send(
            actix_web::test::TestRequest::post()
                .uri("/dynamic-entity/countries")
                .set_payload(r#"{"data":[{"iso2_code":"XC","name":"Z"}]}"#),
        )
        .await;
    r.assert_error(403, "002");
    assert_eq!(app.all("countries", &app_key).await.len(), 14);
}

/// DELETE needs `dynamic-entity:<alias>:delete` (or `dynamic-entity:delete`); the write scope
/// does not do.
async fn deletes_need_the_delete_scope(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    let deleter = scoped_key(&dx, "price-deleter", "dynamic-entity:price-products:delete");
    let r = app.delete("price-products/1", &deleter).await;
    assert_eq!(r.status.as_u16(), 204, "{r:?}");
    let r = app.delete("stock-products/1", &deleter).await;
    assert_eq!(
        r.assert_error(403, "002"),
        "Unauthorized request. The credentials lack the scope `dynamic-entity:stock-products:delete`."
    );
    let r = app
        .post(
            "price-products",
            &deleter,
            &json!({"data": [{"fk_product": 1, "fk_price_type": 2, "fk_store": 1, "currency": "EUR"}]}),
        )
        .await;
    r.assert_error(403, "002");
    let writer = scoped_key(&dx, "writer", "dynamic-entity:write dynamic-entity:read");
    let r = app.delete("stock-products/1", &writer).await;
    assert_eq!(
        r.assert_error(403, "002"),
        "Unauthorized request. The credentials lack the scope `dynamic-entity:stock-products:delete`."
    );
    let any = scoped_key(&dx, "any-deleter", "dynamic-entity:delete");
    let r = app.delete("stock-products/1", &any).await;
    assert_eq!(r.status.as_u16(), 204, "{r:?}");
    assert_eq!(app.all("price-products", &key).await.len(), 35);
    assert_eq!(app.all("stock-products", &key).await.len(), 27);
}

/// Distinct two-character codes with a digit, which no demo country uses (in any collation).
fn codes() -> Vec<String> {
    let chars = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..36 * 36)
        .map(|i| format!("{}{}", char::from(chars[i / 36]), char::from(chars[i % 36])))
        .filter(|c| c.chars().any(|ch| ch.is_ascii_digit()))
        .collect()
}

/// Payloads of hundreds of rows (written in several statements per level, rows of different
/// shapes in different statements) keep every row with its own nested rows, on POST, PATCH and
/// PUT.
async fn large_payloads_span_several_statements(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    const N: usize = 600;
    let codes = codes();
    let rows: Vec<Value> = (0..N)
        .map(|i| {
            let mut row = json!({"iso2_code": codes[i], "name": format!("n{i}"), "countryTaxRates": [
                {"name": format!("n{i}a"), "rate": "1.00"},
                {"name": format!("n{i}b"), "rate": format!("{}.{:02}", i % 100, i % 97)},
            ]});
            // Other shapes: an optional field sent, a child key sent (and overridden).
            if i % 3 == 0 {
                row["iso3_code"] = json!(format!("{}X", codes[i]));
            }
            if i % 5 == 0 {
                row["countryTaxRates"][1]["fk_country"] = json!(2);
            }
            row
        })
        .collect();
    let r = app.post("countries", &key, &json!({"data": rows})).await;
    let created = r.written_rows(201).clone();
    assert_eq!(created.len(), N);
    let check = |rows: &[Value], prefix: &str, rates: usize| {
        for (i, c) in rows.iter().enumerate() {
            assert_eq!(c["name"], json!(format!("{prefix}{i}")), "{c}");
            assert_eq!(c["iso2_code"], json!(codes[i]), "{c}");
            let children = c["countryTaxRates"].as_array().expect("nested rows");
            assert_eq!(children.len(), rates, "{c}");
            for child in children {
                assert_eq!(child["fk_country"], c["id_country"], "{c}");
                assert!(
                    child["name"]
                        .as_str()
                        .unwrap()
                        .starts_with(&format!("{prefix}{i}")),
                    "{c}"
                );
            }
        }
    };
    check(&created, "n", 2);
    // Rows of one shape share statements, so identifiers need not follow the payload order,
    // but each row has its own.
    let mut ids: Vec<i64> = created
        .iter()
        .map(|c| c["id_country"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (13..13 + N as i64).collect::<Vec<_>>());
    // What is stored (read through the core: pages of the API stop at 1000 rows).
    let read = |offset: usize| {
        let pairs = [
            ("page[offset]".to_string(), offset.to_string()),
            ("page[limit]".to_string(), "1000".to_string()),
            ("include".to_string(), "countryTaxRates".to_string()),
        ];
        dx.read_collection("countries", &pairs, None)
            .expect("read countries")
            .rows
    };
    let mut by_id = created.clone();
    by_id.sort_by_key(|c| c["id_country"].as_i64());
    assert_eq!(read(12), by_id);

    // PATCH every row and its second tax rate.
    let rows: Vec<Value> = created
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({"id_country": c["id_country"], "name": format!("p{i}"), "countryTaxRates": [
                {"id_tax_rate": c["countryTaxRates"][1]["id_tax_rate"], "name": format!("p{i}b")}]})
        })
        .collect();
    let r = app.patch("countries", &key, &json!({"data": rows})).await;
    let patched = r.written_rows(200).clone();
    check(&patched, "p", 1);
    for (i, c) in patched.iter().enumerate() {
        assert_eq!(c["iso3_code"], created[i]["iso3_code"]);
        assert_eq!(
            c["countryTaxRates"][0]["rate"],
            created[i]["countryTaxRates"][1]["rate"]
        );
    }
    // PUT every row (resetting iso3_code) with a new tax rate each.
    let rows: Vec<Value> = created
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({"id_country": c["id_country"], "iso2_code": c["iso2_code"],
                   "name": format!("u{i}"),
                   "countryTaxRates": [{"name": format!("u{i}c"), "rate": "3.00"}]})
        })
        .collect();
    let r = app.put("countries", &key, &json!({"data": rows})).await;
    let put = r.written_rows(200).clone();
    check(&put, "u", 1);
    assert!(put.iter().all(|c| c["iso3_code"].is_null()));
    let stored = read(12);
    assert_eq!(stored.len(), N);
    for c in &stored {
        let i: usize = c["name"].as_str().unwrap()[1..].parse().unwrap();
        let names: Vec<&str> = c["countryTaxRates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [format!("n{i}a"), format!("p{i}b"), format!("u{i}c")],
            "{c}"
        );
    }
}

/// Strings with quotes, backslashes, wildcards, emoji and control characters round-trip;
/// timestamps given as strings are stored; values the column cannot hold are refused with 1302
/// (SQLite, which stores them, answers 200): never a server error.
async fn values_round_trip_or_are_refused_without_server_errors(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    let name = "O'Brien \\ \"quoted\" %_ 😀 Ünïcödé\n\ttab; DROP TABLE spy_country; --";
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "XA", "name": name}]}),
        )
        .await;
    let row = r.written_rows(201)[0].clone();
    assert_eq!(row["name"], json!(name));
    assert_eq!(
        app.find("countries", &row["id_country"], &key).await,
        Some(row)
    );
    let r = app
        .api(
            &format!("countries?filter[countries.name]={}", enc(name)),
            &key,
        )
        .await;
    assert_eq!(r.rows().len(), 1);

    // Several rows per statement (on PostgreSQL one array literal per column): text that
    // looks like array syntax or NULL stays text, and a real null stays null.
    let tricky = ["NULL", "{a,b}", "\\\"", " , ", "}{\"\\\\"];
    let rows: Vec<Value> = tricky
        .iter()
        .enumerate()
        .map(|(i, name)| json!({"iso2_code": format!("Y{i}"), "name": name, "iso3_code": null}))
        .collect();
    let r = app.post("countries", &key, &json!({ "data": rows })).await;
    let created = r.written_rows(201);
    for (row, name) in created.iter().zip(tricky) {
        assert_eq!(row["name"], json!(name));
        assert_eq!(row["iso3_code"], Value::Null);
    }
    let renamed: Vec<Value> = created
        .iter()
        .zip(tricky.iter().rev())
        .enumerate()
        .map(|(i, (row, name))| {
            json!({"id_country": row["id_country"], "name": name, "iso3_code": format!("N,{i}")})
        })
        .collect();
    let r = app
        .patch("countries", &key, &json!({ "data": renamed }))
        .await;
    r.written_rows(200);
    for (i, (row, name)) in created.iter().zip(tricky.iter().rev()).enumerate() {
        let stored = app
            .find("countries", &row["id_country"], &key)
            .await
            .unwrap();
        assert_eq!(stored["name"], json!(name));
        assert_eq!(stored["iso3_code"], json!(format!("N,{i}")));
    }

    // Timestamps (`string` fields on TIMESTAMP columns), several rows per statement.
    let r = app
        .patch(
            "product-abstracts",
            &key,
            &json!({"data": [
                {"id_product_abstract": 1, "created_at": "2024-05-01 10:00:00"},
                {"id_product_abstract": 2, "created_at": "2024-05-02 11:30:00", "updated_at": null},
            ]}),
        )
        .await;
    let rows = r.written_rows(200);
    assert_eq!(rows[0]["created_at"], json!("2024-05-01 10:00:00"));
    assert_eq!(rows[1]["created_at"], json!("2024-05-02 11:30:00"));
    assert_eq!(rows[1]["updated_at"], Value::Null);

    // Values the database may refuse: an integer beyond INT, text beyond VARCHAR(255) (with the
    // configured maxLength removed), a timestamp that is none.
    reconfigure(&dx, "countries", |c| {
        config_field(c, "name")["validation"] = json!({"isRequired": true});
    });
    let cases = [
        ("price-products/1", json!({"net_price": 3_000_000_000_i64})),
        ("countries/2", json!({"name": "x".repeat(300)})),
        ("product-abstracts/3", json!({"created_at": "not a time"})),
    ];
    for (path, data) in cases {
        let alias = path.split('/').next().unwrap();
        let before = app.api(path, &key).await.data().clone();
        let r = app.patch(path, &key, &json!({"data": data})).await;
        if r.status.as_u16() == 200 {
            assert_eq!(db.backend, dynex_test_support::Backend::Sqlite, "{r:?}");
            continue;
        }
        let message = r.assert_error(400, "1302");
        assert!(
            message.starts_with(&format!(
                "Failed to persist the data for `{alias}[0]`. Please verify the provided data and \
                 try again."
            )),
            "{message}"
        );
        assert_eq!(app.api(path, &key).await.data(), &before);
    }
}

/// Fields are written and answered by their visible names (also the identifier and in error
/// paths); columns of the table that are not configured are never written, not even reset by
/// PUT.
async fn visible_names_and_unconfigured_columns(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    reconfigure(&dx, "countries", |c| {
        config_field(c, "id_country")["fieldVisibleName"] = json!("id");
        config_field(c, "iso2_code")["fieldVisibleName"] = json!("iso2");
        let fields = c["definition"]["fields"].as_array_mut().unwrap();
        fields.retain(|f| f["fieldName"] != json!("postal_code_regex"));
    });
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2": "XA", "name": "X", "countryTaxRates": [
                {"name": "XA Standard", "rate": "10.00"}]}]}),
        )
        .await;
    let rows = r.written_rows(201);
    assert_eq!(
        rows[0],
        json!({"id": 13, "iso2": "XA", "iso3_code": null, "name": "X",
               "postal_code_mandatory": false,
               "countryTaxRates": [{"id_tax_rate": 11, "fk_country": 13, "name": "XA Standard",
                                    "rate": "10.00"}]})
    );
    // The column names are unknown fields now.
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2": "XB", "name": "Y", "iso2_code": "XB", "postal_code_regex": "x"}]}),
        )
        .await;
    let errors = r.errors(400);
    assert_eq!(
        errors,
        vec![
            (
                "1311".to_string(),
                "The provided `countries[0].iso2_code` is incorrect or invalid.".to_string()
            ),
            (
                "1311".to_string(),
                "The provided `countries[0].postal_code_regex` is incorrect or invalid."
                    .to_string()
            ),
        ]
    );
    let r = app
        .post("countries", &key, &json!({"data": [{"name": "Y"}]}))
        .await;
    assert_eq!(
        r.assert_error(400, "1307"),
        "The required field must not be empty. Field: `countries[0].iso2`"
    );
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"id": 2, "iso2": "DE"}]}),
        )
        .await;
    let message = r.assert_error(400, "1309");
    if db.backend != dynex_test_support::Backend::Mysql {
        assert!(message.contains("`countries[0].iso2`"), "{message}");
    }
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"id": 2, "name": "Österreich"}, {"identifier": 3, "iso2": "BX"}]}),
        )
        .await;
    let rows = r.written_rows(200);
    assert_eq!(rows[0]["id"], json!(2));
    assert_eq!(rows[1]["iso2"], json!("BX"));
    let r = app
        .put(
            "countries/5",
            &key,
            &json!({"data": {"iso2": "DE", "name": "Deutschland"}}),
        )
        .await;
    assert_eq!(
        r.written(200),
        &json!({"id": 5, "iso2": "DE", "iso3_code": null, "name": "Deutschland",
                "postal_code_mandatory": null})
    );
    // Back to the demo configuration: the unconfigured column kept its values.
    reconfigure(&dx, "countries", |c| {
        config_field(c, "id")["fieldVisibleName"] = json!("id_country");
        config_field(c, "iso2")["fieldVisibleName"] = json!("iso2_code");
        c["definition"]["fields"]
            .as_array_mut()
            .unwrap()
            .push(json!({
            "fieldName": "postal_code_regex", "fieldVisibleName": "postal_code_regex",
            "type": "string", "isCreatable": true, "isEditable": true,
            "validation": {"isRequired": false, "maxLength": 500}}));
    });
    let five = app.find("countries", &json!(5), &key).await.unwrap();
    assert_eq!(five["postal_code_regex"], country(5)["postal_code_regex"]);
    assert_eq!(five["iso3_code"], Value::Null);
    let two = app.find("countries", &json!(2), &key).await.unwrap();
    assert_eq!(two["name"], json!("Österreich"));
    assert_eq!(two["postal_code_regex"], country(2)["postal_code_regex"]);
}

/// An identifier configured editable may be changed through `/{id}` (the row answers under
/// its new identifier); a row still referenced by its old identifier cannot (1317).
async fn editable_identifiers_can_change(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    reconfigure(&dx, "countries", |c| {
        config_field(c, "id_country")["isEditable"] = json!(true);
    });
    let r = app
        .patch(
            "countries/1",
            &key,
            &json!({"data": {"id_country": 100, "name": "Andorra!"}}),
        )
        .await;
    let mut moved = country(1);
    moved["id_country"] = json!(100);
    moved["name"] = json!("Andorra!");
    assert_eq!(r.written(200), &moved);
    assert_eq!(app.find("countries", &json!(1), &key).await, None);
    assert_eq!(app.find("countries", &json!(100), &key).await, Some(moved));
    // Austria's tax rates reference id 2.
    let r = app
        .patch("countries/2", &key, &json!({"data": {"id_country": 200}}))
        .await;
    r.assert_error(400, "1317");
    assert_eq!(
        app.find("countries", &json!(2), &key).await,
        Some(country(2))
    );
    // In a collection PATCH the identifier still names the row.
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"id_country": 3, "name": "Belgien"}]}),
        )
        .await;
    assert_eq!(r.written_rows(200)[0]["id_country"], json!(3));
}

/// With a creatable and required identifier, PUT by id names the row in the URL: an existing
/// row is replaced and a missing one created, with or without the identifier in the body
/// where it may be sent.
#[allow(dead_code)]
async fn put_by_id_with_a_required_identifier(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    reconfigure(&dx, "price-types", |c| {
        let id = config_field(c, "id_price_type");
        id["isCreatable"] = json!(true);
        id["validation"]["isRequired"] = json!(true);
    });
    // Today: 1307 `price-types[0].id_price_type` for both.
    let r = app
        .put(
            "price-types/1",
            &key,
            &json!({"data": {"name": "DEFAULT-2"}}),
        )
        .await;
    assert_eq!(
        r.written(200),
        &json!({"id_price_type": 1, "name": "DEFAULT-2"})
    );
    let r = app
        .put("price-types/70", &key, &json!({"data": {"name": "SALE"}}))
        .await;
    assert_eq!(
        r.written(200),
        &json!({"id_price_type": 70, "name": "SALE"})
    );
}
