//! Output types: integers and booleans as JSON, decimals as strings with their scale, nulls.

use dynex_test_support::{TestDb, async_backend_tests, countries, tax_rates};
use serde_json::{Value, json};

use crate::support::demo;

async_backend_tests!(
    integers_booleans_and_nulls,
    decimals_keep_their_scale,
    strings_timestamps_and_json_text,
);

/// Integers are numbers, booleans are booleans (never 0/1 or "t"), NULL is null.
async fn integers_booleans_and_nulls(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app.api("countries", &key).await;
    let expected: Vec<Value> = countries();
    assert_eq!(r.body, json!({ "data": expected }));
    for c in r.rows() {
        assert!(c["id_country"].is_i64(), "{c}");
        let mandatory = &c["postal_code_mandatory"];
        assert!(mandatory.is_boolean() || mandatory.is_null(), "{c}");
    }
    // The United Kingdom has NULL postal code fields; Poland only a NULL flag.
    let r = app.api("countries/8", &key).await;
    assert_eq!(r.data()["postal_code_mandatory"], Value::Null);
    assert_eq!(r.data()["postal_code_regex"], Value::Null);
    let r = app.api("countries/11", &key).await;
    assert_eq!(r.data()["postal_code_mandatory"], Value::Null);

    let r = app.api("product-concretes/12", &key).await;
    assert_eq!(r.data()["is_active"], json!(false));
    let r = app.api("product-concretes/11", &key).await;
    assert_eq!(r.data()["is_active"], json!(true));

    let r = app.api("categories", &key).await;
    assert_eq!(
        r.body,
        json!({"data": [
            {"id_category": 1, "category_key": "demoshop", "is_active": true, "is_in_menu": true},
            {"id_category": 2, "category_key": "cameras-and-camcorders", "is_active": true, "is_in_menu": true},
            {"id_category": 3, "category_key": "computer", "is_active": true, "is_in_menu": true},
            {"id_category": 4, "category_key": "smartphones", "is_active": true, "is_in_menu": true},
            {"id_category": 5, "category_key": "tablets", "is_active": true, "is_in_menu": false},
        ]})
    );

    let r = app.api("price-products?page[limit]=3", &key).await;
    assert_eq!(
        r.body,
        json!({"data": [
            {"id_price_product": 1, "fk_product": 1, "fk_price_type": 1, "fk_store": 1,
             "currency": "EUR", "net_price": 9243, "gross_price": 10999},
            {"id_price_product": 2, "fk_product": 1, "fk_price_type": 1, "fk_store": 3,
             "currency": "USD", "net_price": 11499, "gross_price": null},
            {"id_price_product": 3, "fk_product": 2, "fk_price_type": 1, "fk_store": 1,
             "currency": "EUR", "net_price": 10083, "gross_price": 11999},
        ]})
    );
    let r = app.api("price-products/6", &key).await;
    assert_eq!(r.data()["net_price"], Value::Null);
    assert_eq!(r.data()["gross_price"], json!(11999));
}

/// `rate DECIMAL(8,2)` renders as "20.00"; `quantity DECIMAL(20,10)` as "10.0000000000".
async fn decimals_keep_their_scale(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app.api("tax-rates", &key).await;
    let expected: Vec<Value> = tax_rates();
    assert_eq!(r.body, json!({ "data": expected }));

    let r = app.api("stock-products?page[limit]=6", &key).await;
    assert_eq!(
        r.body,
        json!({"data": [
            {"id_stock_product": 1, "fk_product": 1, "fk_stock": 1,
             "quantity": "5.0000000000", "is_never_out_of_stock": false},
            {"id_stock_product": 2, "fk_product": 2, "fk_stock": 1,
             "quantity": "0.0000000000", "is_never_out_of_stock": false},
            {"id_stock_product": 3, "fk_product": 2, "fk_stock": 2,
             "quantity": "2.2500000000", "is_never_out_of_stock": false},
            {"id_stock_product": 4, "fk_product": 3, "fk_stock": 1,
             "quantity": "25.5000000000", "is_never_out_of_stock": true},
            {"id_stock_product": 5, "fk_product": 4, "fk_stock": 1,
             "quantity": "100.0000000000", "is_never_out_of_stock": false},
            {"id_stock_product": 6, "fk_product": 4, "fk_stock": 2,
             "quantity": "10.0000000000", "is_never_out_of_stock": false},
        ]})
    );
    let r = app.api("stock-products?page[limit]=1000", &key).await;
    for s in r.rows() {
        let q = s["quantity"].as_str().expect("decimals are strings");
        let (int, frac) = q.split_once('.').expect("a decimal point");
        assert!(
            !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()),
            "{q}"
        );
        assert_eq!(frac.len(), 10, "{q}");
    }
}

/// Strings stay strings: JSON held in a text column is not parsed, timestamps exposed as
/// `string` render as `YYYY-MM-DD HH:MM:SS` on every backend.
async fn strings_timestamps_and_json_text(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app.api("product-abstracts/7", &key).await;
    assert_eq!(
        r.body,
        json!({"data": {
            "id_product_abstract": 7,
            "sku": "007",
            "fk_tax_set": null,
            "attributes": r#"{"brand":"HP","processor":"Intel Core i7","ram":"32 GB"}"#,
            "color_code": null,
            "created_at": "2024-01-15 10:06:00",
            "updated_at": null,
        }})
    );
    let r = app.api("product-abstracts/1", &key).await;
    assert_eq!(
        r.body,
        json!({"data": {
            "id_product_abstract": 1,
            "sku": "001",
            "fk_tax_set": 1,
            "attributes": r#"{"brand":"Canon","megapixel":"20 MP","optical_zoom":"8 x"}"#,
            "color_code": "#DC2E09",
            "created_at": "2024-01-15 10:00:00",
            "updated_at": "2024-02-01 09:00:00",
        }})
    );
    // SKUs of digits stay strings.
    let r = app.api("product-abstracts?page[limit]=2", &key).await;
    assert_eq!(r.column("sku"), [json!("001"), json!("002")]);
}
