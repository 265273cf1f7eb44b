use dynex_core::{CoreError, Dynex};
use dynex_test_support::{TestDb, backend_tests};
use serde_json::json;

use crate::demo;

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

backend_tests!(
    reads_with_filters_includes_and_types,
    unknown_aliases_and_rows,
    reads_need_the_scope_of_every_entity_they_reach,
    row_counts_stop_at_their_cap,
    reads_by_id_follow_a_changed_configuration,
    reads_by_id_now_only_on_sqlite_with_an_idle_connection,
);

fn reads_with_filters_includes_and_types(db: TestDb) {
    let dx = demo(&db);
    let rows = dx
        .read_collection(
            "countries",
            &pairs(&[
                ("filter[countries.iso2_code]", "AT"),
                ("include", "countryTaxRates"),
            ]),
            None,
        )
        .unwrap()
        .rows;
    assert_eq!(rows.len(), 1);
    let at = &rows[0];
    assert_eq!(at["iso2_code"], json!("AT"));
    assert!(at["id_country"].is_i64());
    let rates = at["countryTaxRates"].as_array().unwrap();
    assert!(!rates.is_empty());
    for r in rates {
        let rate = r["rate"].as_str().expect("decimals are strings");
        assert_eq!(rate.split('.').nth(1).map(str::len), Some(2), "{rate}");
        assert_eq!(r["fk_country"], at["id_country"]);
    }
    let one = dx
        .read_one("countries", &at["id_country"].to_string(), &[], None)
        .unwrap();
    assert_eq!(one["iso2_code"], json!("AT"));
    assert!(one.get("countryTaxRates").is_none());
    let page = dx
        .read_collection(
            "countries",
            &pairs(&[("page[offset]", "1"), ("page[limit]", "2")]),
            None,
        )
        .unwrap()
        .rows;
    let all = dx.read_collection("countries", &[], None).unwrap().rows;
    assert_eq!(page.len(), 2);
    assert_eq!(page[0], all[1]);
    let ids: Vec<i64> = all
        .iter()
        .map(|r| r["id_country"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ordered by identifier");
    let chain = dx
        .read_collection(
            "product-abstracts",
            &pairs(&[(
                "include",
                "productAbstractProducts.productPrices,productAbstractProducts.productStocks",
            )]),
            None,
        )
        .unwrap()
        .rows;
    let concrete = &chain[0]["productAbstractProducts"][0];
    assert!(concrete["productPrices"].is_array());
    assert!(concrete["productStocks"][0]["is_never_out_of_stock"].is_boolean());
}

fn unknown_aliases_and_rows(db: TestDb) {
    let dx = demo(&db);
    assert!(matches!(
        dx.read_collection("nope", &[], None),
        Err(CoreError::UnknownEntity(_))
    ));
    assert!(matches!(
        dx.read_one("countries", "99999", &[], None),
        Err(CoreError::RowNotFound(_))
    ));
    assert!(matches!(
        dx.read_one("countries", "abc", &[], None),
        Err(CoreError::RowNotFound(_))
    ));
}

/// The scope a read or delete was refused for.
fn missing<T>(result: Result<T, CoreError>) -> String {
    match result {
        Err(CoreError::MissingScope(scope)) => scope,
        other => panic!("expected a missing scope, got {:?}", other.map(|_| ())),
    }
}

/// A caller needs the read scope of the entity, checked before its alias is looked up, and of
/// every entity its include tree reaches, however deep; a trusted caller (`None`) needs none.
fn reads_need_the_scope_of_every_entity_they_reach(db: TestDb) {
    let dx = demo(&db);
    let caller = |scopes: &[&str]| dynex_auth::Principal {
        name: "reader".into(),
        scopes: scopes.iter().map(|s| s.parse().unwrap()).collect(),
    };
    let countries_only = caller(&["dynamic-entity:countries:read"]);
    let include = pairs(&[("include", "countryTaxRates")]);
    assert_eq!(
        missing(dx.read_collection("countries", &include, Some(&countries_only))),
        "dynamic-entity:tax-rates:read"
    );
    assert_eq!(
        missing(dx.read_one("countries", "2", &include, Some(&countries_only))),
        "dynamic-entity:tax-rates:read"
    );
    assert_eq!(
        missing(dx.read_collection("nope", &[], Some(&countries_only))),
        "dynamic-entity:nope:read",
        "the scope before the alias"
    );
    assert_eq!(
        missing(dx.delete("countries", Some("2"), &[], Some(&countries_only))),
        "dynamic-entity:countries:delete"
    );
    // The second level of an include tree needs its scope too.
    let deep = pairs(&[("include", "productAbstractProducts.productPrices")]);
    let two_levels = caller(&[
        "dynamic-entity:product-abstracts:read",
        "dynamic-entity:product-concretes:read",
    ]);
    assert_eq!(
        missing(dx.read_collection("product-abstracts", &deep, Some(&two_levels))),
        "dynamic-entity:price-products:read"
    );
    let all_three = caller(&[
        "dynamic-entity:product-abstracts:read",
        "dynamic-entity:product-concretes:read",
        "dynamic-entity:price-products:read",
    ]);
    let with_scopes = dx
        .read_collection("product-abstracts", &deep, Some(&all_three))
        .unwrap();
    let trusted = dx
        .read_collection("product-abstracts", &deep, None)
        .unwrap();
    assert_eq!(with_scopes.rows, trusted.rows);
    assert!(!trusted.rows.is_empty());
}

/// Opening a SQLite database gathers the planner's statistics for tables that lack them, so a
/// filter matching most rows does not pick an index over the sort's (see benches/README.md).
#[test]
fn sqlite_statistics_are_gathered_at_open() {
    let db = TestDb::sqlite();
    drop(demo(&db));
    let dx = Dynex::open(&db.url).unwrap();
    let mut sql = dynex_query::Sql::default();
    sql.push("SELECT tbl AS c FROM sqlite_stat1 WHERE tbl = 'spy_product_abstract'");
    let rows = dynex_core::db::load_cells(&mut dx.db().conn().unwrap(), &sql).unwrap();
    assert!(!rows.is_empty(), "no statistics for spy_product_abstract");
}

/// `count_rows` counts every row up to the cap, and past it says the table holds more.
fn row_counts_stop_at_their_cap(db: TestDb) {
    let dx = demo(&db);
    let all = dx
        .read_collection("countries", &pairs(&[("meta", "count")]), None)
        .unwrap()
        .count
        .unwrap();
    assert!(all > 3, "{all}");
    let exact = dx.count_rows("countries", all).unwrap();
    assert_eq!((exact.rows, exact.capped), (all, false));
    let capped = dx.count_rows("countries", 3).unwrap();
    assert_eq!((capped.rows, capped.capped), (3, true));
    let just_under = dx.count_rows("countries", all - 1).unwrap();
    assert_eq!((just_under.rows, just_under.capped), (all - 1, true));
    assert!(matches!(
        dx.count_rows("nope", 10),
        Err(CoreError::UnknownEntity(_))
    ));
}

/// A read by id, whose statement is kept per entity, answers in the configuration of the
/// moment: a field renamed since the last read comes under its new name.
fn reads_by_id_follow_a_changed_configuration(db: TestDb) {
    let dx = demo(&db);
    let before = dx.read_one("countries", "1", &[], None).unwrap();
    assert!(before["iso2_code"].is_string(), "{before}");
    let mut config =
        serde_json::to_value(dx.export_configuration(&["countries".into()]).unwrap()).unwrap();
    let fields = config[0]["definition"]["fields"].as_array_mut().unwrap();
    let field = fields
        .iter_mut()
        .find(|f| f["fieldName"] == "iso2_code")
        .unwrap();
    field["fieldVisibleName"] = json!("iso2");
    dx.import_configuration(&config.to_string()).unwrap();
    let after = dx.read_one("countries", "1", &[], None).unwrap();
    assert_eq!(after["iso2"], before["iso2_code"], "{after}");
    assert!(after.get("iso2_code").is_none(), "{after}");
}

/// `read_one_if_idle` reads at once on SQLite while a pooled connection is idle, as
/// `read_one` does; it reads nothing when none is idle, for includes, and on the other backends
/// (whose reads are round trips), and the caller then reads on a blocking thread.
fn reads_by_id_now_only_on_sqlite_with_an_idle_connection(db: TestDb) {
    let dx = demo(&db);
    let now = dx.read_one_if_idle("countries", "1", &[], None);
    if dx.dialect() != dynex_query::Dialect::Sqlite {
        assert!(now.is_none());
        return;
    }
    let expected = dx.read_one("countries", "1", &[], None).unwrap();
    assert_eq!(now.expect("a connection is idle").unwrap(), expected);
    let include = pairs(&[("include", "countryTaxRates")]);
    assert!(
        dx.read_one_if_idle("countries", "1", &include, None)
            .is_none()
    );
    let held: Vec<_> = std::iter::from_fn(|| dx.db().try_conn()).collect();
    assert!(!held.is_empty());
    assert!(dx.read_one_if_idle("countries", "1", &[], None).is_none());
    drop(held);
    let now = dx.read_one_if_idle("countries", "1", &[], None);
    assert_eq!(now.expect("idle again").unwrap(), expected);
}
