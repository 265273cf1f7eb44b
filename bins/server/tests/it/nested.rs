//! Nested writes: rows of configured relations inside their parent row, their keys taken from
//! the parent, chains of relations, error paths by child alias, and updates that only reach the
//! children of the row they are sent under.

use dynex_test_support::{
    TestDb, async_backend_tests, countries, country, country_with_rates, tax_rate, tax_rates,
};
use serde_json::{Value, json};

use crate::support::{TestApp, demo};

async_backend_tests!(
    post_children_get_the_parents_key,
    post_a_chain_of_relations,
    nested_error_paths_use_the_child_alias,
    nested_database_errors_keep_the_parent_out,
    patch_children_of_their_own_parent_only,
    put_replaces_and_creates_children,
);

/// `GET /{alias}/{id}?include=…` of a row, as an object.
async fn with_include(app: &TestApp, key: &str, alias: &str, id: &Value, include: &str) -> Value {
    app.api(&format!("{alias}/{id}?include={include}"), key)
        .await
        .data()
        .clone()
}

/// POST with nested rows: parents first, each child gets the parent's key (whatever the child
/// sent for it), the answer nests the saved children under the relation name, and only for
/// relations sent.
async fn post_children_get_the_parents_key(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [
                {"iso2_code": "XA", "name": "Xanadu", "countryTaxRates": [
                    {"name": "XA Standard", "rate": "17.00"},
                    {"name": "XA Reduced", "rate": "5.00", "fk_country": 5},
                ]},
                {"iso2_code": "XB", "name": "Xbox"},
                {"iso2_code": "XC", "name": "Xcountry", "countryTaxRates": []},
                {"iso2_code": "XD", "name": "Xdland", "countryTaxRates": [
                    {"name": "XD Standard", "rate": 12.5},
                ]},
            ]}),
        )
        .await;
    let new = |id: i64, iso2: &str, name: &str| {
        json!({"id_country": id, "iso2_code": iso2, "iso3_code": null, "name": name,
               "postal_code_mandatory": false, "postal_code_regex": null})
    };
    let rate = |id: i64, country: i64, name: &str, rate: &str| json!({"id_tax_rate": id, "fk_country": country, "name": name, "rate": rate});
    let mut xa = new(13, "XA", "Xanadu");
    xa["countryTaxRates"] = json!([
        rate(11, 13, "XA Standard", "17.00"),
        rate(12, 13, "XA Reduced", "5.00"),
    ]);
    let xb = new(14, "XB", "Xbox");
    let mut xc = new(15, "XC", "Xcountry");
    xc["countryTaxRates"] = json!([]);
    let mut xd = new(16, "XD", "Xdland");
    xd["countryTaxRates"] = json!([rate(13, 16, "XD Standard", "12.50")]);
    let rows = r.written_rows(201);
    assert_eq!(rows, &vec![xa.clone(), xb, xc, xd.clone()]);
    assert!(rows[1].get("countryTaxRates").is_none());
    assert_eq!(
        with_include(&app, &key, "countries", &json!(13), "countryTaxRates").await,
        xa
    );
    assert_eq!(
        with_include(&app, &key, "countries", &json!(16), "countryTaxRates").await,
        xd
    );
    // The demo's tax rates are untouched.
    let all = app.all("tax-rates", &key).await;
    assert_eq!(all.len(), 13);
    assert_eq!(all[..10], tax_rates()[..]);
}

/// A chain of relations: product-abstracts → product-concretes → price-products and
/// stock-products, each level keyed by the level above.
async fn post_a_chain_of_relations(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .post(
            "product-abstracts",
            &key,
            &json!({"data": [
                {"sku": "100", "attributes": "{\"brand\":\"Dynex\"}", "fk_tax_set": 1,
                 "productAbstractProducts": [
                    {"sku": "100_1", "attributes": "{\"color\":\"red\"}", "is_active": true,
                     "productPrices": [
                        {"fk_price_type": 1, "fk_store": 1, "currency": "EUR", "net_price": 100,
                         "gross_price": 119},
                        {"fk_price_type": 2, "fk_store": 1, "currency": "EUR", "gross_price": 150},
                     ],
                     "productStocks": [
                        {"fk_stock": 1, "quantity": "3.5"},
                        {"fk_stock": 2, "quantity": 1, "is_never_out_of_stock": true},
                     ]},
                    {"sku": "100_2", "attributes": "{}", "is_active": false,
                     "productPrices": [
                        {"fk_price_type": 1, "fk_store": 3, "currency": "USD", "gross_price": 200},
                     ]},
                 ]},
                {"sku": "101", "attributes": "{}", "productAbstractProducts": [
                    {"sku": "101_1", "attributes": "{}", "productStocks": [{"fk_stock": 1}]},
                ]},
            ]}),
        )
        .await;
    let rows = r.written_rows(201).clone();
    assert_eq!(rows.len(), 2);
    let abstract_ids: Vec<Value> = rows
        .iter()
        .map(|r| r["id_product_abstract"].clone())
        .collect();
    assert_eq!(abstract_ids, vec![json!(9), json!(10)]);
    let first = &rows[0];
    assert_eq!(first["sku"], json!("100"));
    assert_eq!(first["fk_tax_set"], json!(1));
    assert_eq!(first["color_code"], Value::Null);
    let products = first["productAbstractProducts"].as_array().unwrap();
    assert_eq!(products.len(), 2);
    for p in products {
        assert_eq!(p["fk_product_abstract"], json!(9));
    }
    assert_eq!(products[0]["id_product"], json!(20));
    assert_eq!(products[1]["id_product"], json!(21));
    assert_eq!(products[1]["is_active"], json!(false));
    assert_eq!(
        products[0]["productPrices"],
        json!([
            {"id_price_product": 37, "fk_product": 20, "fk_price_type": 1, "fk_store": 1,
             "currency": "EUR", "net_price": 100, "gross_price": 119},
            {"id_price_product": 38, "fk_product": 20, "fk_price_type": 2, "fk_store": 1,
             "currency": "EUR", "net_price": null, "gross_price": 150},
        ])
    );
    assert_eq!(
        products[0]["productStocks"],
        json!([
            {"id_stock_product": 29, "fk_product": 20, "fk_stock": 1,
             "quantity": "3.5000000000", "is_never_out_of_stock": false},
            {"id_stock_product": 30, "fk_product": 20, "fk_stock": 2,
             "quantity": "1.0000000000", "is_never_out_of_stock": true},
        ])
    );
    assert_eq!(
        products[1]["productPrices"],
        json!([{"id_price_product": 39, "fk_product": 21, "fk_price_type": 1, "fk_store": 3,
                "currency": "USD", "net_price": null, "gross_price": 200}])
    );
    assert!(products[1].get("productStocks").is_none());
    let second = &rows[1]["productAbstractProducts"];
    assert_eq!(second[0]["id_product"], json!(22));
    assert_eq!(second[0]["fk_product_abstract"], json!(10));
    // Not sent, so the column default (TRUE) applies.
    assert_eq!(second[0]["is_active"], json!(true));
    assert_eq!(
        second[0]["productStocks"],
        json!([{"id_stock_product": 31, "fk_product": 22, "fk_stock": 1,
                "quantity": "0.0000000000", "is_never_out_of_stock": false}])
    );

    // The database holds what the answer says.
    let stored = with_include(
        &app,
        &key,
        "product-abstracts",
        &json!(9),
        "productAbstractProducts.productPrices,productAbstractProducts.productStocks",
    )
    .await;
    // Reads include an empty list for a parent without children.
    let mut expected = first.clone();
    expected["productAbstractProducts"][1]["productStocks"] = json!([]);
    assert_eq!(stored, expected);
    assert_eq!(app.all("product-concretes", &key).await.len(), 22);
    assert_eq!(app.all("price-products", &key).await.len(), 39);
    assert_eq!(app.all("stock-products", &key).await.len(), 31);
}

/// Errors in nested rows carry the chained path `alias[i].child-alias[j]` (the child entity's
/// alias, not the relation name), after the errors of the row itself; nothing is written.
async fn nested_error_paths_use_the_child_alias(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [
                {"iso2_code": "XA", "name": "fine", "countryTaxRates": [{"name": "ok", "rate": "1.00"}]},
                {"iso2_code": "XB", "bogus": 1, "countryTaxRates": [
                    {"name": "ok", "rate": "1.00"},
                    {"name": "no rate"},
                    {"rate": "abc", "bogus": true},
                ]},
            ]}),
        )
        .await;
    assert_eq!(
        r.errors(400),
        vec![
            (
                "1311".into(),
                "The provided `countries[1].bogus` is incorrect or invalid.".into()
            ),
            (
                "1307".into(),
                "The required field must not be empty. Field: `countries[1].name`".into()
            ),
            (
                "1307".into(),
                "The required field must not be empty. Field: `countries[1].tax-rates[1].rate`"
                    .into()
            ),
            (
                "1311".into(),
                "The provided `countries[1].tax-rates[2].bogus` is incorrect or invalid.".into()
            ),
            (
                "1307".into(),
                "The required field must not be empty. Field: `countries[1].tax-rates[2].name`"
                    .into()
            ),
            (
                "1305".into(),
                "Invalid data type `countries[1].tax-rates[2]` for field `rate`: expected a \
                 decimal number or a string such as \"12.50\"."
                    .into()
            ),
        ]
    );
    // Three levels down; the key taken from the parent is never required.
    let r = app
        .post(
            "product-abstracts",
            &key,
            &json!({"data": [{"sku": "100", "attributes": "{}", "productAbstractProducts": [
                {"sku": "100_1", "attributes": "{}"},
                {"sku": "100_2", "attributes": "{}", "productPrices": [
                    {"fk_price_type": 1, "fk_store": 1, "currency": "EUR"},
                    {"fk_price_type": 1, "fk_store": 3},
                ]},
            ]}]}),
        )
        .await;
    assert_eq!(
        r.assert_error(400, "1307"),
        "The required field must not be empty. Field: \
         `product-abstracts[0].product-concretes[1].price-products[1].currency`"
    );
    // Immutable child identifiers on create.
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "XA", "name": "X", "countryTaxRates": [
                {"id_tax_rate": 99, "name": "X", "rate": "1.00"}]}]}),
        )
        .await;
    assert_eq!(
        r.assert_error(400, "1304"),
        "Modification of immutable field `countries[0].tax-rates[0].id_tax_rate` is prohibited."
    );
    assert_eq!(app.all("countries", &key).await, countries());
    assert_eq!(app.all("tax-rates", &key).await.len(), 10);
    assert_eq!(app.all("product-abstracts", &key).await.len(), 8);
    assert_eq!(app.all("product-concretes", &key).await.len(), 19);
}

/// A child the database refuses (duplicate, missing reference) refuses the whole request: the
/// parent is not written either.
async fn nested_database_errors_keep_the_parent_out(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .post(
            "tax-sets",
            &key,
            &json!({"data": [{"name": "New set", "taxSetTaxes": [
                {"fk_tax_rate": 1}, {"fk_tax_rate": 1}]}]}),
        )
        .await;
    let message = r.assert_error(400, "1309");
    assert!(
        message.starts_with("Failed to persist the data for `tax-sets[0].tax-set-taxes[1]"),
        "{message}"
    );
    let r = app
        .post(
            "tax-sets",
            &key,
            &json!({"data": [
                {"name": "Fine set", "taxSetTaxes": [{"fk_tax_rate": 1}]},
                {"name": "Other set", "taxSetTaxes": [{"fk_tax_rate": 2}, {"fk_tax_rate": 9999}]},
            ]}),
        )
        .await;
    let message = r.assert_error(400, "1317");
    assert!(
        message.starts_with("Failed to persist the data for `tax-sets[1].tax-set-taxes[1]"),
        "{message}"
    );
    // Deeper: a price of an unknown store under a new product under a new abstract product.
    let r = app
        .post(
            "product-abstracts",
            &key,
            &json!({"data": [{"sku": "100", "attributes": "{}", "productAbstractProducts": [
                {"sku": "100_1", "attributes": "{}", "productPrices": [
                    {"fk_price_type": 1, "fk_store": 99, "currency": "EUR"}]}]}]}),
        )
        .await;
    let message = r.assert_error(400, "1317");
    assert!(
        message.starts_with(
            "Failed to persist the data for `product-abstracts[0].product-concretes[0].price-products[0]"
        ),
        "{message}"
    );
    assert_eq!(app.all("tax-sets", &key).await.len(), 2);
    assert_eq!(app.all("tax-set-taxes", &key).await.len(), 11);
    assert_eq!(app.all("product-abstracts", &key).await.len(), 8);
    assert_eq!(app.all("product-concretes", &key).await.len(), 19);
    assert_eq!(app.all("price-products", &key).await.len(), 36);
}

/// PATCH with nested rows updates children found by identifier under the row they are sent
/// under; a child of another parent is 1303, a child without identifier 1310.
async fn patch_children_of_their_own_parent_only(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"id_country": 2, "name": "Österreich", "countryTaxRates": [
                {"id_tax_rate": 1, "rate": "21.00"},
                {"identifier": 2, "name": "Austria Reduced (new)"},
            ]}]}),
        )
        .await;
    let mut expected = country_with_rates(2, &[1, 2]);
    expected["name"] = json!("Österreich");
    expected["countryTaxRates"][0]["rate"] = json!("21.00");
    expected["countryTaxRates"][1]["name"] = json!("Austria Reduced (new)");
    assert_eq!(r.written(200), &json!([expected.clone()]));
    assert_eq!(
        with_include(&app, &key, "countries", &json!(2), "countryTaxRates").await,
        expected
    );

    // By id, with children only.
    let r = app
        .patch(
            "countries/5",
            &key,
            &json!({"data": {"countryTaxRates": [{"id_tax_rate": 4, "rate": "7.70"}]}}),
        )
        .await;
    let mut five = country_with_rates(5, &[4]);
    five["countryTaxRates"][0]["rate"] = json!("7.70");
    assert_eq!(r.written(200), &five);

    // Tax rate 1 belongs to Austria, not Germany.
    let r = app
        .patch(
            "countries/5",
            &key,
            &json!({"data": {"name": "Deutschland", "countryTaxRates": [
                {"id_tax_rate": 3, "rate": "19.50"},
                {"id_tax_rate": 1, "rate": "1.00"},
            ]}}),
        )
        .await;
    assert_eq!(
        r.body,
        json!([{"code": "1303", "status": 404, "message":
            "The entity `countries[0].tax-rates[1]` could not be found in the database."}])
    );
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"id_country": 5, "countryTaxRates": [{"name": "no id", "rate": "1.00"}]}]}),
        )
        .await;
    assert_eq!(
        r.body,
        json!([{"code": "1310", "status": 400, "message":
            "Incomplete Request - missing identifier for `countries[0].tax-rates[0]`"}])
    );
    let r = app
        .patch(
            "countries",
            &key,
            &json!({"data": [{"id_country": 5, "countryTaxRates": [{"id_tax_rate": 999, "rate": "1.00"}]}]}),
        )
        .await;
    r.assert_error(404, "1303");
    // Germany and its rates, Austria's rates are as before.
    assert_eq!(
        app.find("countries", &json!(5), &key).await,
        Some(country(5))
    );
    assert_eq!(
        app.find("tax-rates", &json!(3), &key).await,
        Some(tax_rate(3))
    );
    assert_eq!(
        app.find("tax-rates", &json!(1), &key).await.unwrap()["rate"],
        json!("21.00")
    );
    assert_eq!(app.all("tax-rates", &key).await.len(), 10);
}

/// PUT with nested rows replaces the children it names (under their parent) and creates those
/// without identifier; children of another parent are not found and cannot be created (1308).
async fn put_replaces_and_creates_children(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .put(
            "countries",
            &key,
            &json!({"data": [
                {"id_country": 10, "iso2_code": "NL", "iso3_code": "NLD", "name": "Nederland",
                 "countryTaxRates": [
                    {"id_tax_rate": 7, "name": "NL Standard", "rate": "21.00"},
                    {"name": "NL Zero", "rate": "0.00"},
                 ]},
                {"iso2_code": "XA", "name": "Xanadu", "countryTaxRates": [
                    {"name": "XA Standard", "rate": "15.00"},
                ]},
            ]}),
        )
        .await;
    let rows = r.written_rows(200).clone();
    let mut nl = json!({"id_country": 10, "iso2_code": "NL", "iso3_code": "NLD",
        "name": "Nederland", "postal_code_mandatory": null, "postal_code_regex": null});
    nl["countryTaxRates"] = json!([
        {"id_tax_rate": 7, "fk_country": 10, "name": "NL Standard", "rate": "21.00"},
        {"id_tax_rate": 11, "fk_country": 10, "name": "NL Zero", "rate": "0.00"},
    ]);
    assert_eq!(rows[0], nl);
    let xa_id = rows[1]["id_country"].clone();
    assert_eq!(xa_id, json!(13));
    assert_eq!(
        rows[1]["countryTaxRates"],
        json!([{"id_tax_rate": 12, "fk_country": 13, "name": "XA Standard", "rate": "15.00"}])
    );
    // Netherlands Reduced (8) was not sent and stays.
    let mut stored = nl.clone();
    stored["countryTaxRates"] = json!([
        nl["countryTaxRates"][0].clone(),
        tax_rate(8),
        nl["countryTaxRates"][1].clone(),
    ]);
    assert_eq!(
        with_include(&app, &key, "countries", &json!(10), "countryTaxRates").await,
        stored
    );

    // A child of another country cannot be created under this one with its identifier.
    let r = app
        .put(
            "countries/10",
            &key,
            &json!({"data": {"iso2_code": "NL", "name": "Nederland", "countryTaxRates": [
                {"id_tax_rate": 3, "name": "moved", "rate": "1.00"}]}}),
        )
        .await;
    assert_eq!(
        r.body,
        json!([{"code": "1308", "status": 400, "message":
            "Entity `countries[0].tax-rates[0].id_tax_rate: 3` not found by identifier, and new \
             identifier can not be persisted. Please update the request."}])
    );
    assert_eq!(
        app.find("tax-rates", &json!(3), &key).await,
        Some(tax_rate(3))
    );
    // A replaced child must have its required fields.
    let r = app
        .put(
            "countries/10",
            &key,
            &json!({"data": {"iso2_code": "NL", "name": "Nederland", "countryTaxRates": [
                {"id_tax_rate": 8, "name": "no rate"}]}}),
        )
        .await;
    assert_eq!(
        r.assert_error(400, "1307"),
        "The required field must not be empty. Field: `countries[0].tax-rates[0].rate`"
    );
    assert_eq!(
        app.find("tax-rates", &json!(8), &key).await,
        Some(tax_rate(8))
    );
    assert_eq!(app.all("tax-rates", &key).await.len(), 12);
}
