//! Write validation: every error code of POST, PATCH and PUT with its status, message and path,
//! every error of every row collected, and nothing written when a row is refused.
//!
//! These tests prove the wiring over HTTP on each backend. The cases that depend on nothing but
//! the rules (every wrong type, length, precision, enumeration, URL and unknown member of a row)
//! are a table in `crates/validate/tests/cases.rs`; here one case per code and operation stays.

use actix_web::http::Method;
use dynex_test_support::{
    Backend, TestDb, assert_persist_message, async_backend_tests, config_field, countries, country,
    reconfigure, tax_rates,
};
use serde_json::{Value, json};

use crate::support::{NON_TRANSACTIONAL, TestApp, demo};

async_backend_tests!(
    malformed_bodies_are_1301,
    immutable_identifiers_are_1304,
    immutable_fields_are_1304,
    wrong_json_types_are_1305,
    rule_violations_are_1306,
    lengths_count_characters,
    configured_rules_min_max_enum_and_url,
    required_fields_are_1307,
    duplicates_are_1309,
    missing_identifiers_are_1310,
    unknown_fields_are_1311,
    unknown_relations_are_1313,
    relations_not_editable_are_1314,
    missing_references_are_1317,
    not_null_columns_are_1321,
    bodies_over_the_limit_are_1322,
    every_error_of_every_row_in_payload_order,
);

const INVALID_FORMAT: &str = "Invalid or missing data format. Please ensure that the data is \
    provided in the correct format. Example request body: {\"data\":[{...},{...},..]}";

/// The demo's countries are all still there, unchanged, and no other.
async fn assert_countries_untouched(app: &TestApp, key: &str) {
    assert_eq!(app.all("countries", key).await, countries());
}

/// A body that is not `{"data": [objects]}` (or `{"data": {object}}` by id) → 1301, whatever
/// the method and transaction mode.
async fn malformed_bodies_are_1301(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let collection = [
        "",
        "nope",
        "{",
        "null",
        "[]",
        "[{\"iso2_code\":\"XA\",\"name\":\"X\"}]",
        "{}",
        r#"{"Data":[{"iso2_code":"XA","name":"X"}]}"#,
        r#"{"data":null}"#,
        r#"{"data":"x"}"#,
        r#"{"data":[]}"#,
        r#"{"data":{}}"#,
        r#"{"data":{"iso2_code":"XA","name":"X"}}"#,
        r#"{"data":[1]}"#,
        r#"{"data":[[]]}"#,
        r#"{"data":[null]}"#,
        r#"{"data":[{"iso2_code":"XA","name":"X"},"x"]}"#,
    ];
    let by_id = [
        "",
        "{}",
        r#"{"data":null}"#,
        r#"{"data":[]}"#,
        r#"{"data":[{"name":"X"}]}"#,
        r#"{"data":1}"#,
        r#"{"data":"x"}"#,
    ];
    let expected = json!([{"code": "1301", "status": 400, "message": INVALID_FORMAT}]);
    for method in [Method::POST, Method::PATCH, Method::PUT] {
        for headers in [&[][..], &[NON_TRANSACTIONAL][..]] {
            for body in collection {
                let r = app
                    .request(method.clone(), "countries", &key, body, headers)
                    .await;
                assert_eq!(r.body, expected, "{method} {body} {headers:?}");
                r.assert_error(400, "1301");
            }
            if method == Method::POST {
                continue;
            }
            for body in by_id {
                let r = app
                    .request(method.clone(), "countries/2", &key, body, headers)
                    .await;
                assert_eq!(r.body, expected, "{method} /2 {body} {headers:?}");
            }
        }
    }
    assert_countries_untouched(&app, &key).await;
}

/// Generated identifiers may not be set on create, nor changed on update (in a `/{id}` body);
/// in a collection PATCH or PUT the identifier names the row and is allowed.
async fn immutable_identifiers_are_1304(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let immutable = |path: &str| {
        json!([{"code": "1304", "status": 400,
                "message": format!("Modification of immutable field `{path}` is prohibited.")}])
    };
    for id in ["id_country", "identifier"] {
        let r = app
            .post(
                "countries",
                &key,
                &json!({"data": [{"iso2_code": "XA", "name": "X"},
                                 {id: 50, "iso2_code": "XB", "name": "Y"}]}),
            )
            .await;
        assert_eq!(r.body, immutable("countries[1].id_country"), "{id}");
    }
    for method in [Method::PATCH, Method::PUT] {
        let r = app
            .request(
                method.clone(),
                "countries/2",
                &key,
                json!({"data": {"id_country": 2, "iso2_code": "AT", "name": "Austria"}})
                    .to_string(),
                &[],
            )
            .await;
        assert_eq!(r.body, immutable("countries[0].id_country"), "{method}");
    }
    assert_countries_untouched(&app, &key).await;

    // A null identifier on create writes nothing, so it is no modification.
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"id_country": null, "iso2_code": "XA", "name": "X"}]}),
        )
        .await;
    let row = r.written_rows(201)[0].clone();
    assert!(row["id_country"].is_i64(), "{row}");
    assert_eq!(
        app.find("countries", &row["id_country"], &key).await,
        Some(row)
    );
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"id_country": 2, "name": "Austria", "iso2_code": "AT"}]}),
        )
        .await;
    assert_eq!(r.written(200), &json!([country(2)]));
}

/// Fields configured `isCreatable: false` may not be sent on create, `isEditable: false` not on
/// update; PUT leaves a non-editable field it does not send as it is.
async fn immutable_fields_are_1304(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    reconfigure(&dx, "countries", |c| {
        let f = config_field(c, "iso3_code");
        f["isCreatable"] = json!(false);
        f["isEditable"] = json!(false);
    });
    let message = |path: &str| format!("Modification of immutable field `{path}` is prohibited.");
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "XA", "iso3_code": "XAA", "name": "X"}]}),
        )
        .await;
    assert_eq!(
        r.assert_error(400, "1304"),
        message("countries[0].iso3_code")
    );
    let r = app
        .patch("countries/2", &key, &json!({"data": {"iso3_code": "AUS"}}))
        .await;
    assert_eq!(
        r.assert_error(400, "1304"),
        message("countries[0].iso3_code")
    );
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"id_country": 1, "name": "A"}, {"id_country": 2, "iso3_code": null}]}),
        )
        .await;
    assert_eq!(
        r.assert_error(400, "1304"),
        message("countries[1].iso3_code")
    );
    // PUT: update of an existing row and creation of a new one.
    let r = app
        .put(
            "countries",
            &key,
            &json!({"data": [
                {"id_country": 2, "iso2_code": "AT", "iso3_code": "AUS", "name": "Austria"},
                {"iso2_code": "XA", "iso3_code": "XAA", "name": "X"},
            ]}),
        )
        .await;
    let errors = r.errors(400);
    assert_eq!(
        errors,
        vec![
            ("1304".to_string(), message("countries[0].iso3_code")),
            ("1304".to_string(), message("countries[1].iso3_code")),
        ]
    );
    assert_countries_untouched(&app, &key).await;

    // A PUT that does not send the field keeps it (only editable fields are reset).
    let r = app
        .put(
            "countries/2",
            &key,
            &json!({"data": {"iso2_code": "AT", "name": "Austria"}}),
        )
        .await;
    let mut two = country(2);
    two["postal_code_mandatory"] = Value::Null;
    two["postal_code_regex"] = Value::Null;
    assert_eq!(r.written(200), &two);
    assert_eq!(two["iso3_code"], json!("AUT"));
    assert_eq!(app.find("countries", &json!(2), &key).await, Some(two));
}

/// Integers must be JSON integers, booleans JSON booleans, strings JSON strings; decimals may be
/// numbers or numeric strings (every type's cases: `crates/validate/tests/cases.rs`).
async fn wrong_json_types_are_1305(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let cases = [
        (
            "countries",
            json!({"iso2_code": 12, "name": "X"}),
            "iso2_code",
            "a JSON string",
        ),
        (
            "tax-rates",
            json!({"name": "X", "rate": "1.00", "fk_country": "5"}),
            "fk_country",
            "a JSON integer",
        ),
    ];
    for (alias, row, field, expected) in cases {
        let r = app.post(alias, &key, &json!({"data": [row]})).await;
        assert_eq!(
            r.body,
            json!([{"code": "1305", "status": 400, "message": format!(
                "Invalid data type `{alias}[0]` for field `{field}`: expected {expected}."
            )}]),
            "{row}"
        );
    }
    // The same on update, and for the identifier that names the row.
    let r = app
        .patch("tax-rates/1", &key, &json!({"data": {"fk_country": "2"}}))
        .await;
    r.assert_error(400, "1305");
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"id_country": "2", "name": "A"}]}),
        )
        .await;
    assert_eq!(
        r.assert_error(400, "1305"),
        "Invalid data type `countries[0]` for field `id_country`: expected a JSON integer."
    );
    // A PUT by an identifier that cannot be an integer.
    let r = app
        .put(
            "countries/abc",
            &key,
            &json!({"data": {"iso2_code": "XA", "name": "X"}}),
        )
        .await;
    r.assert_error(400, "1305");
    assert_countries_untouched(&app, &key).await;
    assert_eq!(app.all("tax-rates", &key).await, tax_rates());

    // Decimals as JSON numbers or strings.
    let r = app
        .post(
            "tax-rates",
            &key,
            &json!({"data": [{"name": "A", "rate": 7.5}, {"name": "B", "rate": "12"},
                             {"name": "C", "rate": 3, "fk_country": 2}]}),
        )
        .await;
    let rates: Vec<Value> = r
        .written_rows(201)
        .iter()
        .map(|r| r["rate"].clone())
        .collect();
    assert_eq!(rates, vec![json!("7.50"), json!("12.00"), json!("3.00")]);
}

/// Lengths, decimal precision and scale: 1306 with the field's rules in the message (every
/// rule's cases: `crates/validate/tests/cases.rs`).
async fn rule_violations_are_1306(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let iso2_rules = "is_required: true, min_length: 2, max_length: 2";
    let rate_rules = "is_required: true, precision: 8, scale: 2";
    let cases = [
        (
            "countries",
            json!({"iso2_code": "A", "name": "X"}),
            "iso2_code",
            iso2_rules,
        ),
        (
            "tax-rates",
            json!({"name": "X", "rate": "1234567.00"}),
            "rate",
            rate_rules,
        ),
    ];
    for (alias, row, field, rules) in cases {
        let r = app.post(alias, &key, &json!({"data": [row]})).await;
        assert_eq!(
            r.body,
            json!([{"code": "1306", "status": 400, "message": format!(
                "Invalid data value `{alias}[0]` for field: `{field}`. Field rules: {rules}"
            )}]),
            "{row}"
        );
    }
    let r = app
        .patch("countries/2", &key, &json!({"data": {"iso2_code": "A"}}))
        .await;
    assert_eq!(
        r.assert_error(400, "1306"),
        format!(
            "Invalid data value `countries[0]` for field: `iso2_code`. Field rules: {iso2_rules}"
        )
    );
    assert_countries_untouched(&app, &key).await;
    assert_eq!(app.all("tax-rates", &key).await.len(), 10);

    // At the limits.
    let r = app
        .post(
            "tax-rates",
            &key,
            &json!({"data": [{"name": "max", "rate": "999999.99"},
                             {"name": "zeros", "rate": "000123456.7800"},
                             {"name": "negative", "rate": "-999999.99"}]}),
        )
        .await;
    let rates: Vec<Value> = r
        .written_rows(201)
        .iter()
        .map(|r| r["rate"].clone())
        .collect();
    assert_eq!(
        rates,
        vec![json!("999999.99"), json!("123456.78"), json!("-999999.99")]
    );
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "XA", "iso3_code": "", "name": "X".repeat(255)}]}),
        )
        .await;
    assert_eq!(r.written_rows(201)[0]["name"], json!("X".repeat(255)));
}

/// Lengths count characters, not bytes.
async fn lengths_count_characters(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "ÄÖ", "iso3_code": "ÄÖÜ", "name": "Ümlautland"},
                             {"iso2_code": "日本", "iso3_code": "日本国", "name": "日本"}]}),
        )
        .await;
    let rows = r.written_rows(201).clone();
    assert_eq!(rows[0]["iso3_code"], json!("ÄÖÜ"));
    assert_eq!(rows[1]["iso3_code"], json!("日本国"));
    for row in &rows {
        assert_eq!(
            app.find("countries", &row["id_country"], &key)
                .await
                .as_ref(),
            Some(row)
        );
    }
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "ÄÖÜ", "name": "X"}]}),
        )
        .await;
    r.assert_error(400, "1306");
    assert_eq!(app.all("countries", &key).await.len(), 14);
}

/// Rules from a configuration: `min`/`max` and `enumValues` (1306), the `url` constraint (1316).
async fn configured_rules_min_max_enum_and_url(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    reconfigure(&dx, "price-products", |c| {
        config_field(c, "net_price")["validation"] =
            json!({"isRequired": false, "min": 0, "max": 1000000});
        config_field(c, "currency")["enumValues"] = json!(["EUR", "USD", "CHF"]);
    });
    reconfigure(&dx, "categories", |c| {
        config_field(c, "category_key")["validation"]["constraints"] = json!([{"name": "url"}]);
    });
    let price = |currency: &str, net: Value| {
        json!({"fk_product": 1, "fk_price_type": 2, "fk_store": 2, "currency": currency,
               "net_price": net})
    };
    let r = app
        .post(
            "price-products",
            &key,
            &json!({"data": [price("GBP", json!(-1)), price("EUR", json!(1000001))]}),
        )
        .await;
    assert_eq!(
        r.body,
        json!([
            {"code": "1306", "status": 400, "message":
                "Invalid data value `price-products[0]` for field: `currency`. Field rules: \
                 is_required: true, max_length: 3, enum_values: [\"EUR\", \"USD\", \"CHF\"]"},
            {"code": "1306", "status": 400, "message":
                "Invalid data value `price-products[0]` for field: `net_price`. Field rules: \
                 min: 0, max: 1000000"},
            {"code": "1306", "status": 400, "message":
                "Invalid data value `price-products[1]` for field: `net_price`. Field rules: \
                 min: 0, max: 1000000"},
        ])
    );
    assert_eq!(app.all("price-products", &key).await.len(), 36);
    let r = app
        .post(
            "price-products",
            &key,
            &json!({"data": [price("CHF", json!(0)), price("USD", json!(1000000))]}),
        )
        .await;
    let rows = r.written_rows(201);
    assert_eq!(rows[0]["currency"], json!("CHF"));
    assert_eq!(rows[1]["net_price"], json!(1000000));
    let r = app
        .patch(
            "price-products/1",
            &key,
            &json!({"data": {"currency": "eur"}}),
        )
        .await;
    r.assert_error(400, "1306");

    let r = app
        .post(
            "categories",
            &key,
            &json!({"data": [{"category_key": "https://example.com/x"}]}),
        )
        .await;
    assert_eq!(
        r.body,
        json!([{"code": "1316", "status": 400, "message":
            "The URL is invalid. `categories[0]` field `category_key` must have a URL data format."}])
    );
    let r = app
        .post(
            "categories",
            &key,
            &json!({"data": [{"category_key": "/en/new"}, {"category_key": "/"}]}),
        )
        .await;
    assert_eq!(r.written_rows(201).len(), 2);
    let r = app
        .patch(
            "categories/1",
            &key,
            &json!({"data": {"category_key": "demoshop"}}),
        )
        .await;
    r.assert_error(400, "1316");
    assert_eq!(app.all("categories", &key).await.len(), 7);
}

/// Required fields missing or null on POST and PUT (also of an existing row) → 1307; PATCH does
/// not check them.
async fn required_fields_are_1307(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let required = |path: &str| format!("The required field must not be empty. Field: `{path}`");
    let r = app
        .post("countries", &key, &json!({"data": [{"iso2_code": "XA"}]}))
        .await;
    assert_eq!(
        r.body,
        json!([{"code": "1307", "status": 400, "message": required("countries[0].name")}])
    );
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "XA", "name": "A"}, {"iso2_code": "XB", "name": null}, {}]}),
        )
        .await;
    assert_eq!(
        r.errors(400),
        vec![
            ("1307".to_string(), required("countries[1].name")),
            ("1307".to_string(), required("countries[2].iso2_code")),
            ("1307".to_string(), required("countries[2].name")),
        ]
    );
    let r = app
        .put("countries/2", &key, &json!({"data": {"name": "Austria"}}))
        .await;
    assert_eq!(
        r.assert_error(400, "1307"),
        required("countries[0].iso2_code")
    );
    let r = app
        .put(
            "countries",
            &key,
            &json!({"data": [{"id_country": 2, "iso2_code": "AT"}]}),
        )
        .await;
    assert_eq!(r.assert_error(400, "1307"), required("countries[0].name"));
    let r = app
        .put("countries", &key, &json!({"data": [{"iso2_code": "XA"}]}))
        .await;
    assert_eq!(r.assert_error(400, "1307"), required("countries[0].name"));
    assert_countries_untouched(&app, &key).await;
    // PATCH sends only what changes.
    let r = app
        .patch("countries/2", &key, &json!({"data": {"iso3_code": "AUS"}}))
        .await;
    assert_eq!(r.written(200)["iso3_code"], json!("AUS"));
}

/// A unique key already holding the value → 1309, with the column in the path where the
/// backend names it (SQLite, PostgreSQL); also duplicates inside one payload and on update.
async fn duplicates_are_1309(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let names_column = db.backend != Backend::Mysql;
    let check = |r: &crate::support::Reply, path: &str, column: &str| {
        let message = r.assert_error(400, "1309");
        assert_persist_message(&message, path, "Entry is duplicated.");
        if names_column {
            assert_eq!(
                message,
                format!(
                    "Failed to persist the data for `{path}.{column}`. Please verify the provided \
                     data and try again. Entry is duplicated."
                )
            );
        }
    };
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "XA", "name": "A"}, {"iso2_code": "AT", "name": "Again"}]}),
        )
        .await;
    check(&r, "countries[1]", "iso2_code");
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "XA", "name": "A"}, {"iso2_code": "XA", "name": "B"}]}),
        )
        .await;
    check(&r, "countries[1]", "iso2_code");
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "XA", "iso3_code": "DEU", "name": "A"}]}),
        )
        .await;
    check(&r, "countries[0]", "iso3_code");
    let r = app
        .patch("countries/2", &key, &json!({"data": {"iso2_code": "DE"}}))
        .await;
    check(&r, "countries[0]", "iso2_code");
    let r = app
        .put(
            "countries",
            &key,
            &json!({"data": [{"id_country": 3, "iso2_code": "BE", "name": "B"},
                             {"id_country": 2, "iso2_code": "BE", "name": "A"}]}),
        )
        .await;
    check(&r, "countries[1]", "iso2_code");
    assert_countries_untouched(&app, &key).await;
    // A unique key of several columns.
    let r = app
        .post(
            "price-products",
            &key,
            &json!({"data": [{"fk_product": 1, "fk_price_type": 1, "fk_store": 1, "currency": "EUR"}]}),
        )
        .await;
    let message = r.assert_error(400, "1309");
    assert!(
        message.starts_with("Failed to persist the data for `price-products[0]"),
        "{message}"
    );
    assert_eq!(app.all("price-products", &key).await.len(), 36);
}

/// A PATCH row without its identifier → 1310; `identifier` names the row as well.
async fn missing_identifiers_are_1310(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let missing = |path: &str| {
        json!([{"code": "1310", "status": 400,
                "message": format!("Incomplete Request - missing identifier for `{path}`")}])
    };
    let r = app
        .patch("countries", &key, &json!({"data": [{"name": "X"}]}))
        .await;
    assert_eq!(r.body, missing("countries[0]"));
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"id_country": null, "name": "X"}]}),
        )
        .await;
    assert_eq!(r.body, missing("countries[0]"));
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"id_country": 2, "name": "A"}, {"name": "B"}]}),
        )
        .await;
    assert_eq!(r.body, missing("countries[1]"));
    assert_countries_untouched(&app, &key).await;

    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"identifier": 2, "name": "Österreich"}]}),
        )
        .await;
    let mut two = country(2);
    two["name"] = json!("Österreich");
    assert_eq!(r.written(200), &json!([two]));
    // `identifier` and the visible name with different values: which row is meant is not
    // guessed (the visible name silently won and changed row 4). With and without a
    // transaction, in either order.
    for (row, headers) in [
        (
            json!({"identifier": 3, "id_country": 4, "name": "Schweiz"}),
            &[][..],
        ),
        (
            json!({"id_country": 4, "identifier": 3, "name": "Schweiz"}),
            &[("X-Is-Transactional", "false")][..],
        ),
    ] {
        let body = json!({"data": [row]}).to_string();
        let r = app
            .request(Method::PATCH, "countries", &key, body, headers)
            .await;
        assert_eq!(r.status.as_u16(), 400, "{r:?}");
        // Without a transaction: `{"data": [], "errors": [...]}`.
        let errors = r.body.get("errors").unwrap_or(&r.body);
        assert_eq!(
            errors,
            &json!([{"code": "1330", "status": 400, "message":
                "The row `countries[0]` names its identifier twice, as `identifier` and as \
                 `id_country`, with different values."}])
        );
    }
    assert_eq!(
        app.find("countries", &json!(3), &key).await,
        Some(country(3))
    );
    assert_eq!(
        app.find("countries", &json!(4), &key).await,
        Some(country(4))
    );
    // The same value twice names one row.
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"identifier": 4, "id_country": 4, "name": "Schweiz"}]}),
        )
        .await;
    assert_eq!(r.written_rows(200)[0]["name"], json!("Schweiz"));
}

/// Scalar members that are no configured field → 1311 (names are exact visible names: the
/// cases are in `crates/validate/tests/cases.rs`).
async fn unknown_fields_are_1311(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let invalid = |path: &str| {
        json!([{"code": "1311", "status": 400,
                "message": format!("The provided `{path}` is incorrect or invalid.")}])
    };
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "XA", "name": "X", "bogus": 1}]}),
        )
        .await;
    assert_eq!(r.body, invalid("countries[0].bogus"));
    let r = app
        .patch("countries/2", &key, &json!({"data": {"bogus": null}}))
        .await;
    assert_eq!(r.body, invalid("countries[0].bogus"));
    let r = app
        .put(
            "countries",
            &key,
            &json!({"data": [{"id_country": 2, "iso2_code": "AT", "name": "A", "x": true}]}),
        )
        .await;
    assert_eq!(r.body, invalid("countries[0].x"));
    assert_countries_untouched(&app, &key).await;
}

/// Nested members (arrays, objects) that are no configured relation → 1313, at any depth; a
/// relation whose value is not an array of objects → 1305 (the cases of one row are in
/// `crates/validate/tests/cases.rs`).
async fn unknown_relations_are_1313(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let not_found = |name: &str| {
        json!([{"code": "1313", "status": 400, "message": format!(
            "Relation `{name}` not found. Please check the requested relation name and try again."
        )}])
    };
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "XA", "name": "X", "nope": [{}]}]}),
        )
        .await;
    assert_eq!(r.body, not_found("nope"));
    let r = app
        .post(
            "product-abstracts",
            &key,
            &json!({"data": [{"sku": "N1", "attributes": "{}", "productAbstractProducts": [
                {"sku": "N1-1", "attributes": "{}", "productPrices": [], "nope": [{"x": 1}]}
            ]}]}),
        )
        .await;
    assert_eq!(r.body, not_found("nope"));
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "XA", "name": "X",
                              "countryTaxRates": {"name": "X", "rate": "1.00"}}]}),
        )
        .await;
    let message = r.assert_error(400, "1305");
    assert!(message.contains("countryTaxRates"), "{message}");
    assert_countries_untouched(&app, &key).await;
    assert_eq!(app.all("product-abstracts", &key).await.len(), 8);
}

/// Nested rows under a relation configured `isEditable: false` → 422 / 1314, even an empty list;
/// the status is the first error's.
async fn relations_not_editable_are_1314(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let expected = json!([{"code": "1314", "status": 422, "message":
        "The relationship `productAbstractCategories` is not editable by configuration."}]);
    let r = app
        .post(
            "product-abstracts",
            &key,
            &json!({"data": [{"sku": "N1", "attributes": "{}",
                              "productAbstractCategories": [{"fk_category": 1}]}]}),
        )
        .await;
    assert_eq!(r.body, expected);
    r.assert_error(422, "1314");
    let r = app
        .patch(
            "product-abstracts/1",
            &key,
            &json!({"data": {"productAbstractCategories": []}}),
        )
        .await;
    assert_eq!(r.body, expected);
    // After a 400 error of an earlier row the answer is 400.
    let r = app
        .post(
            "product-abstracts",
            &key,
            &json!({"data": [{"sku": "N1"},
                             {"sku": "N2", "attributes": "{}", "productAbstractCategories": []}]}),
        )
        .await;
    assert_eq!(r.codes(400), vec!["1307", "1314"]);
    // And the other way round.
    let r = app
        .post(
            "product-abstracts",
            &key,
            &json!({"data": [{"sku": "N2", "attributes": "{}", "productAbstractCategories": []},
                             {"sku": "N1"}]}),
        )
        .await;
    assert_eq!(r.codes(422), vec!["1314", "1307"]);
    assert_eq!(app.all("product-abstracts", &key).await.len(), 8);
    assert_eq!(app.all("product-categories", &key).await.len(), 11);
}

/// A reference to a row that does not exist → 1317, on create and update; nothing written.
async fn missing_references_are_1317(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let check = |r: &crate::support::Reply, path: &str| {
        let message = r.assert_error(400, "1317");
        assert_persist_message(&message, path, "A referenced entity does not exist.");
    };
    let r = app
        .post(
            "tax-rates",
            &key,
            &json!({"data": [{"fk_country": 9999, "name": "X", "rate": "1.00"}]}),
        )
        .await;
    check(&r, "tax-rates[0]");
    let r = app
        .post(
            "tax-rates",
            &key,
            &json!({"data": [{"fk_country": 5, "name": "ok", "rate": "1.00"},
                             {"fk_country": 9999, "name": "X", "rate": "1.00"}]}),
        )
        .await;
    check(&r, "tax-rates[1]");
    let r = app
        .patch("tax-rates/1", &key, &json!({"data": {"fk_country": 9999}}))
        .await;
    check(&r, "tax-rates[0]");
    let r = app
        .post(
            "price-products",
            &key,
            &json!({"data": [{"fk_product": 1, "fk_price_type": 2, "fk_store": 99, "currency": "EUR"}]}),
        )
        .await;
    check(&r, "price-products[0]");
    assert_eq!(app.all("tax-rates", &key).await, tax_rates());
    assert_eq!(app.all("price-products", &key).await.len(), 36);
}

/// A column that is NOT NULL in the table but not required by the configuration: null on
/// create writes nothing (the default applies), null on update → 1321, also when PUT resets it.
async fn not_null_columns_are_1321(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let check = |r: &crate::support::Reply, path: &str| {
        let message = r.assert_error(400, "1321");
        assert_persist_message(&message, path, "Field must not be null.");
    };
    let before = app.find("stock-products", &json!(1), &key).await.unwrap();
    let r = app
        .patch(
            "stock-products/1",
            &key,
            &json!({"data": {"quantity": null}}),
        )
        .await;
    check(&r, "stock-products[0]");
    let r = app
        .patch(
            "stock-products",
            &key,
            &json!({"data": [{"id_stock_product": 2, "quantity": 1},
                             {"id_stock_product": 1, "is_never_out_of_stock": null}]}),
        )
        .await;
    check(&r, "stock-products[1]");
    // PUT resets `quantity` and `is_never_out_of_stock`, which the table does not allow.
    let r = app
        .put(
            "stock-products/1",
            &key,
            &json!({"data": {"fk_product": 1, "fk_stock": 1}}),
        )
        .await;
    check(&r, "stock-products[0]");
    // A required field is not checked on PATCH: the table refuses the null.
    let r = app
        .patch("countries/2", &key, &json!({"data": {"name": null}}))
        .await;
    check(&r, "countries[0]");
    assert_eq!(
        app.find("stock-products", &json!(1), &key).await,
        Some(before)
    );
    assert_eq!(
        app.find("stock-products", &json!(2), &key).await.unwrap()["quantity"],
        json!("0.0000000000")
    );
    assert_countries_untouched(&app, &key).await;

    let r = app
        .post(
            "stock-products",
            &key,
            &json!({"data": [{"fk_product": 19, "fk_stock": 2, "quantity": null,
                              "is_never_out_of_stock": null}]}),
        )
        .await;
    let row = &r.written_rows(201)[0];
    assert_eq!(row["quantity"], json!("0.0000000000"));
    assert_eq!(row["is_never_out_of_stock"], json!(false));
    let r = app
        .put(
            "stock-products/1",
            &key,
            &json!({"data": {"fk_product": 1, "fk_stock": 1, "quantity": "7.5",
                             "is_never_out_of_stock": true}}),
        )
        .await;
    assert_eq!(
        r.written(200),
        &json!({"id_stock_product": 1, "fk_product": 1, "fk_stock": 1,
                "quantity": "7.5000000000", "is_never_out_of_stock": true})
    );
}

/// A body over the configured limit → 413 / 1322; nothing written.
async fn bodies_over_the_limit_are_1322(db: TestDb) {
    let (dx, _app, key) = demo(&db).await;
    let app = TestApp::with_config(
        dx,
        dynex_server::AppConfig {
            max_body_bytes: 1024,
            ..Default::default()
        },
    )
    .await;
    let rows: Vec<Value> = (0..20)
        .map(|i| json!({"iso2_code": format!("Q{}", (b'A' + i) as char), "name": "x".repeat(40)}))
        .collect();
    let body = json!({"data": rows}).to_string();
    assert!(body.len() > 1024);
    for method in [Method::POST, Method::PATCH, Method::PUT] {
        let r = app
            .request(method.clone(), "countries", &key, body.clone(), &[])
            .await;
        assert_eq!(
            r.body,
            json!([{"code": "1322", "status": 413,
                    "message": "The request body is larger than the limit of 1024 bytes."}]),
            "{method}"
        );
    }
    assert_countries_untouched(&app, &key).await;
    let small = json!({"data": rows[..5]}).to_string();
    assert!(small.len() < 1024);
    let r = app
        .request(Method::POST, "countries", &key, small, &[])
        .await;
    assert_eq!(r.written_rows(201).len(), 5);
}

/// Every error of every row is reported, sorted by root row in payload order (validation and
/// database errors alike); the HTTP status is the first error's; nothing is written.
async fn every_error_of_every_row_in_payload_order(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [
                {"iso2_code": "XA", "name": "fine"},
                {"iso2_code": "A", "name": 5, "bogus": 1},
                {},
                {"iso2_code": "AT", "name": "duplicate"},
                {"iso2_code": "XB", "name": "fine too", "id_country": 7},
            ]}),
        )
        .await;
    let errors = r.errors(400);
    let codes: Vec<&str> = errors.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        codes,
        ["1311", "1306", "1305", "1307", "1307", "1309", "1304"]
    );
    let messages: Vec<&str> = errors.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        messages[0],
        "The provided `countries[1].bogus` is incorrect or invalid."
    );
    assert_eq!(
        messages[2],
        "Invalid data type `countries[1]` for field `name`: expected a JSON string."
    );
    assert_eq!(
        messages[4],
        "The required field must not be empty. Field: `countries[2].name`"
    );
    assert!(
        messages[5].starts_with("Failed to persist the data for `countries[3]"),
        "{}",
        messages[5]
    );
    assert_eq!(
        messages[6],
        "Modification of immutable field `countries[4].id_country` is prohibited."
    );
    assert_countries_untouched(&app, &key).await;

    // A row not found (404) before a type error (400): the status is 404.
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"id_country": 2, "name": "fine"},
                             {"id_country": 999, "name": "x"},
                             {"id_country": 3, "name": 5}]}),
        )
        .await;
    assert_eq!(
        r.errors(404),
        vec![
            (
                "1303".to_string(),
                "The entity `countries[1]` could not be found in the database.".to_string()
            ),
            (
                "1305".to_string(),
                "Invalid data type `countries[2]` for field `name`: expected a JSON string."
                    .to_string()
            ),
        ]
    );
    // And after it: 400.
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"id_country": 3, "name": 5}, {"id_country": 999, "name": "x"}]}),
        )
        .await;
    assert_eq!(r.codes(400), vec!["1305", "1303"]);
    assert_countries_untouched(&app, &key).await;
}
