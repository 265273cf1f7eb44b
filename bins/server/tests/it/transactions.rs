//! Transactions: by default a request is all or nothing; with `X-Is-Transactional: false` each
//! root row (with its nested rows) stands alone and the answer lists what was saved and what
//! was refused.

use actix_web::http::Method;
use dynex_test_support::{TestDb, async_backend_tests, countries, country, tax_rates};
use serde_json::{Value, json};

use crate::support::{TestApp, demo, enc};

async_backend_tests!(
    transactional_by_default,
    doc_example_non_transactional,
    non_transactional_saves_the_good_rows,
    non_transactional_nested_failure_drops_its_root_only,
    non_transactional_with_nothing_saved,
    non_transactional_patch_and_put,
    transaction_header_values,
);

/// The countries with this ISO2 code (none or one).
async fn by_iso2(app: &TestApp, key: &str, iso2: &str) -> Vec<Value> {
    app.api(
        &format!("countries?filter[countries.iso2_code]={}", enc(iso2)),
        key,
    )
    .await
    .rows()
    .clone()
}

async fn assert_demo_countries_and_rates(app: &TestApp, key: &str) {
    assert_eq!(app.all("countries", key).await, countries());
    assert_eq!(app.all("tax-rates", key).await, tax_rates());
}

/// Without the header, one refused row (in validation or in the database, at any depth) means
/// nothing of the request is written, for every method.
async fn transactional_by_default(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let good = json!({"iso2_code": "XA", "name": "good", "countryTaxRates": [
        {"name": "good rate", "rate": "1.00"}]});
    // A database refusal after good rows with children.
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [good, {"iso2_code": "XB", "name": "good too"},
                             {"iso2_code": "AT", "name": "duplicate"}]}),
        )
        .await;
    r.assert_error(400, "1309");
    // A validation error.
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [good, {"iso2_code": "XB"}]}),
        )
        .await;
    r.assert_error(400, "1307");
    // A refused grandchild.
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "XC", "name": "x", "countryTaxRates": [
                {"name": "ok", "rate": "1.00"}, {"name": "too big", "rate": "1000000.00"}]}]}),
        )
        .await;
    r.assert_error(400, "1306");
    assert!(by_iso2(&app, &key, "XA").await.is_empty());
    // Updates: a missing row after a good one.
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [
                {"id_country": 2, "name": "changed", "countryTaxRates": [
                    {"id_tax_rate": 1, "rate": "99.00"}]},
                {"id_country": 999, "name": "x"},
            ]}),
        )
        .await;
    r.assert_error(404, "1303");
    // Upserts: a replacement and a creation, then a row that cannot be created.
    let r = app
        .put(
            "countries",
            &key,
            &json!({"data": [
                {"id_country": 3, "iso2_code": "BE", "name": "changed"},
                {"iso2_code": "XD", "name": "new"},
                {"id_country": 999, "iso2_code": "XE", "name": "x"},
            ]}),
        )
        .await;
    r.assert_error(400, "1308");
    // A deep chain with a refused price.
    let r = app
        .post(
            "product-abstracts",
            &key,
            &json!({"data": [
                {"sku": "100", "attributes": "{}"},
                {"sku": "101", "attributes": "{}", "productAbstractProducts": [
                    {"sku": "101_1", "attributes": "{}", "productStocks": [{"fk_stock": 1}],
                     "productPrices": [{"fk_price_type": 1, "fk_store": 99, "currency": "EUR"}]}]},
            ]}),
        )
        .await;
    r.assert_error(400, "1317");
    assert_demo_countries_and_rates(&app, &key).await;
    assert_eq!(app.all("product-abstracts", &key).await.len(), 8);
    assert_eq!(app.all("product-concretes", &key).await.len(), 19);
    assert_eq!(app.all("stock-products", &key).await.len(), 28);
    assert_eq!(app.all("price-products", &key).await.len(), 36);
}

/// Spryker's non-transactional example: the first country is saved with its tax rate, the
/// second is refused for its tax rate without `rate`; 201 with both `data` and `errors`.
async fn doc_example_non_transactional(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .non_transactional(
            Method::POST,
            "countries",
            &key,
            &json!({"data": [
                {"iso2_code": "WA", "iso3_code": "WWA", "name": "FOO",
                 "countryTaxRates": [{"name": "FOO VAT", "rate": "10.00"}]},
                {"iso2_code": "WB", "iso3_code": "WWB", "name": "BAR",
                 "countryTaxRates": [{"name": "BAR VAT"}]},
            ]}),
        )
        .await;
    let saved = json!({
        "id_country": 13, "iso2_code": "WA", "iso3_code": "WWA", "name": "FOO",
        "postal_code_mandatory": false, "postal_code_regex": null,
        "countryTaxRates": [{"id_tax_rate": 11, "fk_country": 13, "name": "FOO VAT", "rate": "10.00"}],
    });
    assert_eq!(
        r.body,
        json!({
            "data": [saved.clone()],
            "errors": [{"code": "1307", "status": 400, "message":
                "The required field must not be empty. Field: `countries[1].tax-rates[0].rate`"}],
        })
    );
    r.partial(201);
    let stored = app
        .api("countries/13?include=countryTaxRates", &key)
        .await
        .data()
        .clone();
    assert_eq!(stored, saved);
    assert!(by_iso2(&app, &key, "WB").await.is_empty());
    let rates = app.all("tax-rates", &key).await;
    assert_eq!(rates.len(), 11);
    assert!(rates.iter().all(|r| r["name"] != json!("BAR VAT")));
}

/// Non-transactional: rows refused in validation or by the database are reported (in payload
/// order) and leave nothing behind; the others are saved and answered.
async fn non_transactional_saves_the_good_rows(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .non_transactional(
            Method::POST,
            "countries",
            &key,
            &json!({"data": [
                {"iso2_code": "XA", "name": "A"},
                {"iso2_code": "AT", "name": "duplicate", "countryTaxRates": [
                    {"name": "orphan", "rate": "1.00"}]},
                {"iso2_code": "XC", "name": "C", "countryTaxRates": [
                    {"name": "C1", "rate": "1.00"}, {"name": "C2", "rate": "2.00"}]},
                {"iso2_code": "XD"},
                {"iso2_code": "XE", "name": "E", "iso3_code": "DEU"},
                {"iso2_code": "XF", "name": "F"},
            ]}),
        )
        .await;
    let (data, errors) = r.partial(201);
    let codes: Vec<&str> = errors.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes, ["1309", "1307", "1309"]);
    assert!(
        errors[0]
            .1
            .starts_with("Failed to persist the data for `countries[1]")
    );
    assert_eq!(
        errors[1].1,
        "The required field must not be empty. Field: `countries[3].name`"
    );
    assert!(
        errors[2]
            .1
            .starts_with("Failed to persist the data for `countries[4]")
    );
    let rows = data.as_array().unwrap();
    let names: Vec<&Value> = rows.iter().map(|r| &r["name"]).collect();
    assert_eq!(names, [&json!("A"), &json!("C"), &json!("F")]);
    // What was answered is what is stored.
    for row in rows {
        let stored = app
            .api(
                &format!("countries/{}?include=countryTaxRates", row["id_country"]),
                &key,
            )
            .await
            .data()
            .clone();
        let mut expected = row.clone();
        if expected.get("countryTaxRates").is_none() {
            expected["countryTaxRates"] = json!([]);
        }
        assert_eq!(stored, expected);
    }
    let c = &rows[1];
    let c_rates = c["countryTaxRates"].as_array().unwrap();
    assert_eq!(c_rates.len(), 2);
    assert!(c_rates.iter().all(|r| r["fk_country"] == c["id_country"]));
    let all = app.all("countries", &key).await;
    assert_eq!(all.len(), 15);
    for iso2 in ["XD", "XE"] {
        assert!(by_iso2(&app, &key, iso2).await.is_empty(), "{iso2}");
    }
    assert_eq!(by_iso2(&app, &key, "AT").await, vec![country(2)]);
    let rates = app.all("tax-rates", &key).await;
    assert_eq!(rates.len(), 12);
    assert!(rates.iter().all(|r| r["name"] != json!("orphan")));
}

/// Non-transactional: a nested row the database refuses takes its root (and the root's other
/// children) down with it, and nothing else.
async fn non_transactional_nested_failure_drops_its_root_only(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .non_transactional(
            Method::POST,
            "tax-sets",
            &key,
            &json!({"data": [
                {"name": "S1", "taxSetTaxes": [{"fk_tax_rate": 1}]},
                {"name": "S2", "taxSetTaxes": [{"fk_tax_rate": 2}, {"fk_tax_rate": 9999}]},
                {"name": "S3"},
                {"name": "S4", "taxSetTaxes": [{"fk_tax_rate": 3}, {"fk_tax_rate": 3}]},
            ]}),
        )
        .await;
    let (data, errors) = r.partial(201);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].0, "1317");
    assert!(
        errors[0]
            .1
            .starts_with("Failed to persist the data for `tax-sets[1].tax-set-taxes[1]"),
        "{}",
        errors[0].1
    );
    assert_eq!(errors[1].0, "1309");
    assert!(
        errors[1]
            .1
            .starts_with("Failed to persist the data for `tax-sets[3].tax-set-taxes[1]"),
        "{}",
        errors[1].1
    );
    let rows = data.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["name"], json!("S1"));
    assert_eq!(
        rows[0]["taxSetTaxes"][0]["fk_tax_set"],
        rows[0]["id_tax_set"]
    );
    assert_eq!(rows[0]["taxSetTaxes"][0]["fk_tax_rate"], json!(1));
    assert_eq!(rows[1]["name"], json!("S3"));
    let sets = app.all("tax-sets", &key).await;
    let names: Vec<&Value> = sets.iter().map(|s| &s["name"]).collect();
    assert_eq!(
        names,
        [
            &json!("Standard Taxes"),
            &json!("Reduced Taxes"),
            &json!("S1"),
            &json!("S3")
        ]
    );
    // The refused roots' good children are gone with them.
    let links = app.all("tax-set-taxes", &key).await;
    assert_eq!(links.len(), 12);
    assert_eq!(links[11]["fk_tax_set"], rows[0]["id_tax_set"]);
}

/// Non-transactional with nothing saved: the status is the first error's; a malformed body is
/// still a plain error array.
async fn non_transactional_with_nothing_saved(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .non_transactional(
            Method::PATCH,
            "countries",
            &key,
            &json!({"data": [{"id_country": 999, "name": "x"}, {"id_country": 2, "name": 5}]}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"data": [], "errors": [
            {"code": "1303", "status": 404,
             "message": "The entity `countries[0]` could not be found in the database."},
            {"code": "1305", "status": 400,
             "message": "Invalid data type `countries[1]` for field `name`: expected a JSON string."},
        ]})
    );
    r.partial(404);
    let r = app
        .non_transactional(
            Method::POST,
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "AT", "name": "x"}, {"iso2_code": "XA"}]}),
        )
        .await;
    let (data, errors) = r.partial(400);
    assert_eq!(data, json!([]));
    let codes: Vec<&str> = errors.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes, ["1309", "1307"]);
    let r = app
        .non_transactional(
            Method::POST,
            "product-abstracts",
            &key,
            &json!({"data": [{"sku": "N", "attributes": "{}", "productAbstractCategories": []}]}),
        )
        .await;
    let (data, errors) = r.partial(422);
    assert_eq!(data, json!([]));
    assert_eq!(errors[0].0, "1314");
    // By id: nothing saved, nothing answered.
    let r = app
        .non_transactional(
            Method::PATCH,
            "countries/999",
            &key,
            &json!({"data": {"name": "x"}}),
        )
        .await;
    let (data, errors) = r.partial(404);
    assert_eq!(data, Value::Null);
    assert_eq!(errors[0].0, "1303");
    let r = app
        .request(
            Method::POST,
            "countries",
            &key,
            "{\"data\":[]}",
            &[crate::support::NON_TRANSACTIONAL],
        )
        .await;
    r.assert_error(400, "1301");
    assert_demo_countries_and_rates(&app, &key).await;
    // A by-id write that succeeds answers as usual.
    let r = app
        .non_transactional(
            Method::PATCH,
            "countries/2",
            &key,
            &json!({"data": {"name": "A"}}),
        )
        .await;
    let mut two = country(2);
    two["name"] = json!("A");
    assert_eq!(r.written(200), &two);
}

/// Non-transactional PATCH and PUT: 200 with the saved rows and the refused ones' errors.
async fn non_transactional_patch_and_put(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .non_transactional(
            Method::PATCH,
            "countries",
            &key,
            &json!({"data": [
                {"id_country": 2, "name": "Österreich"},
                {"id_country": 999, "name": "nowhere"},
                {"id_country": 5, "iso2_code": "AT"},
                {"id_country": 7, "name": "Frankreich", "countryTaxRates": [
                    {"id_tax_rate": 5, "rate": "21.00"}, {"id_tax_rate": 1, "rate": "1.00"}]},
                {"id_country": 9, "name": "Italien"},
            ]}),
        )
        .await;
    let (data, errors) = r.partial(200);
    let codes: Vec<&str> = errors.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes, ["1303", "1309", "1303"]);
    assert_eq!(
        errors[0].1,
        "The entity `countries[1]` could not be found in the database."
    );
    assert_eq!(
        errors[2].1,
        "The entity `countries[3].tax-rates[1]` could not be found in the database."
    );
    let mut two = country(2);
    two["name"] = json!("Österreich");
    let mut nine = country(9);
    nine["name"] = json!("Italien");
    assert_eq!(data, json!([two.clone(), nine.clone()]));
    let mut expected: Vec<Value> = countries();
    expected[1] = two;
    expected[8] = nine;
    assert_eq!(app.all("countries", &key).await, expected);
    // France's tax rate 5 was not changed: its root was refused.
    assert_eq!(app.all("tax-rates", &key).await, tax_rates());

    let r = app
        .non_transactional(
            Method::PUT,
            "countries",
            &key,
            &json!({"data": [
                {"id_country": 3, "iso2_code": "BE", "name": "Belgique"},
                {"id_country": 999, "iso2_code": "XX", "name": "x"},
                {"iso2_code": "XA", "name": "new"},
            ]}),
        )
        .await;
    let (data, errors) = r.partial(200);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "1308");
    let rows = data.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0],
        json!({"id_country": 3, "iso2_code": "BE", "iso3_code": null, "name": "Belgique",
               "postal_code_mandatory": null, "postal_code_regex": null})
    );
    assert_eq!(rows[1]["iso2_code"], json!("XA"));
    assert_eq!(
        app.find("countries", &json!(3), &key).await.as_ref(),
        Some(&rows[0])
    );
    assert_eq!(by_iso2(&app, &key, "XA").await, vec![rows[1].clone()]);
    assert!(by_iso2(&app, &key, "XX").await.is_empty());
}

/// `X-Is-Transactional: false` or `0` (any case, around spaces) turns transactions off; any
/// other value, or none, keeps them on.
async fn transaction_header_values(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let cases = [
        ("false", false),
        ("0", false),
        ("FALSE", false),
        (" False ", false),
        ("true", true),
        ("1", true),
        ("no", true),
        ("", true),
        ("off", true),
    ];
    for (i, (value, transactional)) in cases.into_iter().enumerate() {
        let iso2 = format!("Y{}", (b'A' + i as u8) as char);
        let body = json!({"data": [{"iso2_code": iso2, "name": "good"},
                                   {"iso2_code": "AT", "name": "duplicate"}]});
        let r = app
            .request(
                Method::POST,
                "countries",
                &key,
                body.to_string(),
                &[("X-Is-Transactional", value)],
            )
            .await;
        if transactional {
            r.assert_error(400, "1309");
            assert!(by_iso2(&app, &key, &iso2).await.is_empty(), "`{value}`");
        } else {
            let (data, errors) = r.partial(201);
            assert_eq!(data[0]["iso2_code"], json!(iso2), "`{value}`");
            assert_eq!(errors.len(), 1);
            assert_eq!(by_iso2(&app, &key, &iso2).await.len(), 1, "`{value}`");
        }
    }
}
