//! Paging: defaults, either parameter alone, limits and a stable order.

use dynex_core::{Dynex, Options};
use dynex_query::PageLimits;
use dynex_test_support::{TestDb, async_backend_tests, ids};
use serde_json::Value;

use crate::support::{TestApp, demo};

async_backend_tests!(
    default_page_size_is_20,
    either_parameter_alone,
    largest_page_is_1000,
    malformed_page_parameters,
    pages_are_stable_and_ordered_by_identifier,
    configured_page_limits,
);

/// Without `page[limit]` a collection returns 20 rows.
async fn default_page_size_is_20(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app.api("price-products", &key).await;
    assert_eq!(r.column("id_price_product"), ids(1..=20));
    let r = app.api("product-concretes", &key).await;
    assert_eq!(r.column("id_product"), ids(1..=19));
    let r = app.api("countries", &key).await;
    assert_eq!(r.column("id_country"), ids(1..=12));
}

/// `page[offset]` alone keeps the default limit; `page[limit]` alone starts at 0.
async fn either_parameter_alone(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app.api("price-products?page[offset]=10", &key).await;
    assert_eq!(r.column("id_price_product"), ids(11..=30));
    let r = app.api("price-products?page[offset]=30", &key).await;
    assert_eq!(r.column("id_price_product"), ids(31..=36));
    let r = app.api("price-products?page[limit]=5", &key).await;
    assert_eq!(r.column("id_price_product"), ids(1..=5));
    let r = app.api("price-products?page[offset]=36", &key).await;
    assert_eq!(r.rows().len(), 0);
    let r = app
        .api("price-products?page[offset]=1000000000&page[limit]=1", &key)
        .await;
    assert_eq!(r.rows().len(), 0);
    let r = app
        .api(&format!("price-products?page[offset]={}", u64::MAX), &key)
        .await;
    assert_eq!(r.rows().len(), 0);
    // Parameters in either order, and `page[offset]=0`.
    let r = app
        .api("price-products?page[limit]=2&page[offset]=0", &key)
        .await;
    assert_eq!(r.column("id_price_product"), ids(1..=2));
}

/// `page[limit]` up to 1000 is accepted; 1001 is 1320.
async fn largest_page_is_1000(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = app.api("price-products?page[limit]=1000", &key).await;
    assert_eq!(r.column("id_price_product"), ids(1..=36));
    let r = app.api("price-products?page[limit]=1001", &key).await;
    let message = r.assert_error(400, "1320");
    assert!(message.contains("page[limit]"), "{message}");
    assert!(message.contains("1000"), "{message}");
}

/// Page parameters that are not non-negative integers are 1320.
async fn malformed_page_parameters(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for query in [
        "page[limit]=abc",
        "page[limit]=",
        "page[limit]=-1",
        "page[limit]=0",
        "page[limit]=2.5",
        "page[limit]=99999999999999999999999",
        "page[offset]=abc",
        "page[offset]=-1",
        "page[from]=2",
        "page=2",
    ] {
        let r = app.api(&format!("countries?{query}"), &key).await;
        r.assert_error(400, "1320");
    }
}

/// Consecutive pages partition the collection in identifier order.
async fn pages_are_stable_and_ordered_by_identifier(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let all = app.api("price-products?page[limit]=1000", &key).await;
    let all = all.rows().clone();
    let mut paged: Vec<Value> = Vec::new();
    for offset in (0..40).step_by(7) {
        let r = app
            .api(
                &format!("price-products?page[offset]={offset}&page[limit]=7"),
                &key,
            )
            .await;
        assert!(r.rows().len() <= 7);
        paged.extend(r.rows().iter().cloned());
    }
    assert_eq!(paged, all);
    let id_list: Vec<i64> = all
        .iter()
        .map(|r| r["id_price_product"].as_i64().unwrap())
        .collect();
    assert!(id_list.windows(2).all(|w| w[0] < w[1]), "{id_list:?}");
    // The same page twice is the same.
    let a = app
        .api("price-products?page[offset]=13&page[limit]=9", &key)
        .await;
    let b = app
        .api("price-products?page[offset]=13&page[limit]=9", &key)
        .await;
    assert_eq!(a.body, b.body);
    assert_eq!(a.rows()[..], all[13..22]);
}

/// The default and maximum come from the options the database was opened with.
async fn configured_page_limits(db: TestDb) {
    let (_dx, _app, key) = demo(&db).await;
    let dynex = Dynex::open_with(
        &db.url,
        Options {
            watch_interval: None,
            page_limits: PageLimits {
                default_limit: 5,
                max_limit: 10,
            },
            ..Options::default()
        },
    )
    .expect("open");
    let app = TestApp::new(dynex).await;
    let r = app.api("price-products", &key).await;
    assert_eq!(r.column("id_price_product"), ids(1..=5));
    let r = app.api("price-products?page[limit]=10", &key).await;
    assert_eq!(r.column("id_price_product"), ids(1..=10));
    let r = app.api("price-products?page[limit]=11", &key).await;
    let message = r.assert_error(400, "1320");
    assert!(message.contains("10"), "{message}");
}
