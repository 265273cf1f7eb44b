//! Reads: Spryker's documented examples, filters, includes and reads by id.

use dynex_test_support::{
    COUNTRY_FIELDS, TestDb, async_backend_tests, country, country_with_rates, ids, tax_rate,
};
use serde_json::{Value, json};

use crate::support::{demo, enc};

async_backend_tests!(
    doc_example_page_of_countries,
    doc_example_filter_with_either_prefix,
    doc_example_in_filter,
    in_filter_variants,
    filters_are_anded,
    filters_on_every_field_type,
    doc_example_include_country_tax_rates,
    get_by_id_returns_an_object,
    nested_includes_on_a_collection,
    nested_includes_full_shape,
);

/// `GET /dynamic-entity/countries?page[offset]=1&page[limit]=2`: the 2nd and 3rd by id.
async fn doc_example_page_of_countries(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .api("countries?page[offset]=1&page[limit]=2", &key)
        .await;
    assert_eq!(r.body, json!({"data": [country(2), country(3)]}));
    // Keys come in the configured field order, as Spryker's column order.
    let keys: Vec<&str> = r.rows()[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, COUNTRY_FIELDS);
}

/// `filter[countries.iso2_code]=AT` and the documented `filter[country.iso2_code]` prefix.
async fn doc_example_filter_with_either_prefix(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for filter in [
        "filter[countries.iso2_code]=AT",
        "filter[country.iso2_code]=AT",
        "filter[anything.iso2_code]=AT",
        // Without a dot the key names the field directly.
        "filter[iso2_code]=AT",
        // Brackets may be percent-encoded, as HTTP clients often do.
        "filter%5Bcountries.iso2_code%5D=AT",
    ] {
        let r = app.api(&format!("countries?{filter}"), &key).await;
        assert_eq!(r.body, json!({"data": [country(2)]}), "{filter}");
    }
    let r = app
        .api("countries?filter[countries.iso2_code]=XX", &key)
        .await;
    assert_eq!(r.body, json!({"data": []}));
}

/// `filter[country.iso2_code]={"in": ["AT","DE","FR"]}` returns exactly those.
async fn doc_example_in_filter(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let value = enc(r#"{"in": ["AT","DE","FR"]}"#);
    for prefix in ["countries", "country"] {
        let r = app
            .api(
                &format!("countries?filter[{prefix}.iso2_code]={value}"),
                &key,
            )
            .await;
        assert_eq!(
            r.body,
            json!({"data": [country(2), country(5), country(7)]}),
            "{prefix}"
        );
    }
}

/// `IN` with upper-case key, integers, an empty list, null and unknown values.
async fn in_filter_variants(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let cases: [(&str, &str, Vec<Value>); 6] = [
        ("iso2_code", r#"{"IN": ["FR","AT"]}"#, ids([2, 7])),
        ("id_country", r#"{"in": [12, 1, 99]}"#, ids([1, 12])),
        // Numbers as strings are accepted for integer fields.
        ("id_country", r#"{"in": ["3"]}"#, ids([3])),
        ("id_country", r#"{"in": []}"#, ids([])),
        ("postal_code_mandatory", r#"{"in": [null]}"#, ids([8, 11])),
        (
            "postal_code_mandatory",
            r#"{"in": [false, null]}"#,
            ids([3, 6, 8, 9, 11]),
        ),
    ];
    for (field, value, expected) in cases {
        let r = app
            .api(
                &format!("countries?filter[countries.{field}]={}", enc(value)),
                &key,
            )
            .await;
        assert_eq!(r.column("id_country"), expected, "{field} {value}");
    }
}

/// Several filters are ANDed.
async fn filters_are_anded(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let base = "product-concretes?filter[product-concretes.fk_product_abstract]=5";
    let r = app
        .api(
            &format!("{base}&filter[product-concretes.is_active]=true"),
            &key,
        )
        .await;
    assert_eq!(r.column("id_product"), ids([11]));
    let r = app
        .api(
            &format!("{base}&filter[product-concretes.is_active]=false"),
            &key,
        )
        .await;
    assert_eq!(r.column("id_product"), ids([12]));
    let r = app.api(base, &key).await;
    assert_eq!(r.column("id_product"), ids([11, 12]));

    let in_list = enc(r#"{"in": ["AT","BE","GB","PL"]}"#);
    let r = app
        .api(
            &format!(
                "countries?filter[countries.iso2_code]={in_list}\
                 &filter[countries.postal_code_mandatory]=false"
            ),
            &key,
        )
        .await;
    assert_eq!(r.body, json!({"data": [country(3)]}));
    // Contradicting filters on one field match nothing.
    let r = app
        .api(
            "countries?filter[countries.iso2_code]=AT&filter[countries.iso2_code]=DE",
            &key,
        )
        .await;
    assert_eq!(r.body, json!({"data": []}));
}

/// Equality on strings with spaces, decimals, booleans and timestamps exposed as strings.
async fn filters_on_every_field_type(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let cases: [(&str, String, &str, Vec<Value>); 14] = [
        (
            "countries",
            "filter[countries.identifier]=3".into(),
            "id_country",
            ids([3]),
        ),
        (
            "countries",
            format!("filter[countries.identifier]={}", enc(r#"{"in":[4,2]}"#)),
            "id_country",
            ids([2, 4]),
        ),
        (
            "countries",
            "filter[countries.name]=United+Kingdom".into(),
            "id_country",
            ids([8]),
        ),
        (
            "product-abstracts",
            "filter[product-abstracts.sku]=002".into(),
            "id_product_abstract",
            ids([2]),
        ),
        (
            "product-abstracts",
            "filter[product-abstracts.sku]=2".into(),
            "id_product_abstract",
            ids([]),
        ),
        // Values are bound, never spliced into SQL.
        (
            "countries",
            format!("filter[countries.name]={}", enc("O'Brien\\' OR 1=1 --")),
            "id_country",
            ids([]),
        ),
        (
            "countries",
            format!("filter[countries.name]={}", enc("United Kingdom")),
            "id_country",
            ids([8]),
        ),
        (
            "countries",
            "filter[countries.postal_code_mandatory]=0".into(),
            "id_country",
            ids([3, 6, 9]),
        ),
        (
            "tax-rates",
            "filter[tax-rates.rate]=20".into(),
            "id_tax_rate",
            ids([1, 5]),
        ),
        (
            "tax-rates",
            "filter[tax-rates.rate]=20.00".into(),
            "id_tax_rate",
            ids([1, 5]),
        ),
        (
            "tax-rates",
            "filter[tax-rates.rate]=5.5".into(),
            "id_tax_rate",
            ids([6]),
        ),
        (
            "stock-products",
            "filter[stock-products.quantity]=2.25".into(),
            "id_stock_product",
            ids([3, 7, 17, 24, 28]),
        ),
        (
            "product-abstracts",
            format!(
                "filter[product-abstracts.created_at]={}",
                enc("2024-01-15 10:00:00")
            ),
            "id_product_abstract",
            ids([1]),
        ),
        (
            "product-abstracts",
            format!("filter[product-abstracts.color_code]={}", enc("#000000")),
            "id_product_abstract",
            ids([3, 6]),
        ),
    ];
    for (alias, query, id, expected) in cases {
        let r = app.api(&format!("{alias}?{query}"), &key).await;
        assert_eq!(r.column(id), expected, "{alias}?{query}");
    }
}

/// `include=countryTaxRates`: every country gets an array, rates keep two decimals.
async fn doc_example_include_country_tax_rates(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app.api("countries?include=countryTaxRates", &key).await;
    let rates_of = |id: i64| -> &[i64] {
        match id {
            2 => &[1, 2],
            4 => &[9],
            5 => &[3, 4],
            7 => &[5, 6],
            10 => &[7, 8],
            _ => &[],
        }
    };
    let expected: Vec<Value> = (1..=12)
        .map(|id| country_with_rates(id, rates_of(id)))
        .collect();
    assert_eq!(r.body, json!({ "data": expected }));
    for c in r.rows() {
        for rate in c["countryTaxRates"].as_array().unwrap() {
            assert_eq!(rate["fk_country"], c["id_country"]);
            let text = rate["rate"].as_str().expect("decimals are strings");
            let (_, frac) = text.split_once('.').expect("a decimal point");
            assert_eq!(frac.len(), 2, "{text}");
        }
    }
    // Includes combine with filters and paging, which apply to the root entity only.
    let r = app
        .api(
            "countries?include=countryTaxRates&filter[country.iso2_code]=FR",
            &key,
        )
        .await;
    assert_eq!(r.body, json!({"data": [country_with_rates(7, &[5, 6])]}));
    let r = app
        .api(
            "countries?include=countryTaxRates&page[offset]=3&page[limit]=2",
            &key,
        )
        .await;
    assert_eq!(
        r.body,
        json!({"data": [country_with_rates(4, &[9]), country_with_rates(5, &[3, 4])]})
    );
}

/// `GET /dynamic-entity/countries/{id}` returns an object, with includes and filters applied.
async fn get_by_id_returns_an_object(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app.api("countries/2", &key).await;
    assert_eq!(r.body, json!({"data": country(2)}));
    assert!(r.data().is_object());
    let r = app.api("countries/8", &key).await;
    assert_eq!(r.body, json!({"data": country(8)}));
    let r = app.api("countries/2?include=countryTaxRates", &key).await;
    assert_eq!(r.body, json!({"data": country_with_rates(2, &[1, 2])}));
    let r = app.api("countries/1?include=countryTaxRates", &key).await;
    assert_eq!(r.body, json!({"data": country_with_rates(1, &[])}));
    let r = app.api("tax-rates/10", &key).await;
    assert_eq!(r.body, json!({"data": tax_rate(10)}));
    // A matching filter keeps the row, another hides it.
    let r = app
        .api("countries/2?filter[countries.iso2_code]=AT", &key)
        .await;
    assert_eq!(r.body, json!({"data": country(2)}));
    let r = app
        .api("countries/2?filter[countries.iso2_code]=DE", &key)
        .await;
    r.assert_error(404, "1303");
    // Paging parameters do not hide the row.
    let r = app.api("countries/2?page[offset]=5", &key).await;
    assert_eq!(r.body, json!({"data": country(2)}));
}

/// `include=productAbstractProducts.productPrices,productAbstractProducts.productStocks`.
async fn nested_includes_on_a_collection(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .api(
            "product-abstracts?include=productAbstractProducts.productPrices,\
             productAbstractProducts.productStocks",
            &key,
        )
        .await;
    let abstracts = r.rows();
    assert_eq!(r.column("id_product_abstract"), ids(1..=8));
    let (mut concretes, mut prices, mut stocks) = (0, 0, 0);
    for a in abstracts {
        assert!(a.get("productAbstractCategories").is_none(), "not included");
        for c in a["productAbstractProducts"].as_array().unwrap() {
            concretes += 1;
            assert_eq!(c["fk_product_abstract"], a["id_product_abstract"]);
            for p in c["productPrices"].as_array().unwrap() {
                prices += 1;
                assert_eq!(p["fk_product"], c["id_product"]);
            }
            for s in c["productStocks"].as_array().unwrap() {
                stocks += 1;
                assert_eq!(s["fk_product"], c["id_product"]);
                assert!(s["quantity"].is_string());
            }
        }
    }
    assert_eq!((concretes, prices, stocks), (19, 36, 28));

    // A chain and its prefix together, and sibling relations.
    let r = app
        .api(
            "product-abstracts?page[limit]=1&include=productAbstractProducts,\
             productAbstractProducts.productPrices,productAbstractCategories",
            &key,
        )
        .await;
    let a = &r.rows()[0];
    let concretes = a["productAbstractProducts"].as_array().unwrap();
    assert_eq!(concretes.len(), 3);
    assert!(concretes.iter().all(|c| c["productPrices"].is_array()));
    assert!(concretes.iter().all(|c| c.get("productStocks").is_none()));
    let categories: Vec<&Value> = a["productAbstractCategories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["fk_category"])
        .collect();
    assert_eq!(categories, [&json!(2), &json!(1)]);
}

/// The nested include of one abstract product, in full.
async fn nested_includes_full_shape(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app
        .api(
            "product-abstracts/2?include=productAbstractProducts.productPrices,\
             productAbstractProducts.productStocks",
            &key,
        )
        .await;
    let expected = json!({"data": {
        "id_product_abstract": 2,
        "sku": "002",
        "fk_tax_set": 1,
        "attributes": r#"{"brand":"Canon","megapixel":"20.2 MP","optical_zoom":"12 x","note":"Editor's choice"}"#,
        "color_code": null,
        "created_at": "2024-01-15 10:01:00",
        "updated_at": "2024-02-01 09:05:00",
        "productAbstractProducts": [
            {
                "id_product": 4,
                "fk_product_abstract": 2,
                "sku": "002_30691822",
                "is_active": true,
                "attributes": r#"{"color":"black"}"#,
                "created_at": "2024-01-15 11:04:00",
                "updated_at": null,
                "productPrices": [
                    {"id_price_product": 8, "fk_product": 4, "fk_price_type": 1, "fk_store": 1,
                     "currency": "EUR", "net_price": 14285, "gross_price": 16999}
                ],
                "productStocks": [
                    {"id_stock_product": 5, "fk_product": 4, "fk_stock": 1,
                     "quantity": "100.0000000000", "is_never_out_of_stock": false},
                    {"id_stock_product": 6, "fk_product": 4, "fk_stock": 2,
                     "quantity": "10.0000000000", "is_never_out_of_stock": false}
                ]
            },
            {
                "id_product": 5,
                "fk_product_abstract": 2,
                "sku": "002_30691823",
                "is_active": true,
                "attributes": r#"{"color":"white"}"#,
                "created_at": "2024-01-15 11:05:00",
                "updated_at": "2024-02-01 12:05:00",
                "productPrices": [
                    {"id_price_product": 9, "fk_product": 5, "fk_price_type": 1, "fk_store": 1,
                     "currency": "EUR", "net_price": 15125, "gross_price": 17999}
                ],
                "productStocks": [
                    {"id_stock_product": 7, "fk_product": 5, "fk_stock": 1,
                     "quantity": "2.2500000000", "is_never_out_of_stock": false}
                ]
            }
        ]
    }});
    assert_eq!(r.body, expected);
}
