use dynex_core::{CoreError, Dynex};
use dynex_test_support::{Backend, TestDb, backend_tests};
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
    pages_by_keys_follow_a_changed_configuration,
    reads_by_id_now_only_on_sqlite_with_an_idle_connection,
    reads_as_text_are_the_reads_serialized,
    reads_as_text_keep_every_type,
    pages_by_few_keys_read_now_only_on_sqlite,
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

/// The PostgreSQL URLs of docs/operations.md ("PostgreSQL on the same machine") reach the
/// database: its Unix socket as the host, and TCP with `sslmode=disable`, whose session is not
/// encrypted.
#[test]
fn postgres_is_reached_through_its_socket_and_without_tls() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        return;
    };
    drop(demo(&db));
    let text = |url: &str, query: &str| -> String {
        let dx = Dynex::open(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        let mut sql = dynex_query::Sql::default();
        sql.push(query);
        let rows = dynex_core::db::load_cells(&mut dx.db().conn().unwrap(), &sql).unwrap();
        rows[0][0].clone().unwrap_or_default()
    };
    // `postgres://USER@HOST:PORT/NAME`: the same database by another road.
    let (user, rest) = db.url.split_once('@').expect("a user");
    let (host, name) = rest.split_once('/').expect("a database");
    let port = host.split_once(':').map_or("5432", |(_, p)| p);
    let directory = text(&db.url, "SHOW unix_socket_directories");
    let directory = directory.split(',').next().unwrap_or_default().trim();
    assert!(!directory.is_empty(), "PostgreSQL listens on no socket");
    let socket = format!("{user}@{}:{port}/{name}", directory.replace('/', "%2F"));
    // A session over a Unix socket has no server address.
    assert_eq!(
        text(&socket, "SELECT CAST(inet_server_addr() IS NULL AS TEXT)"),
        "true"
    );
    let plain = format!("{}?sslmode=disable", db.url);
    assert_eq!(
        text(
            &plain,
            "SELECT CAST(ssl AS TEXT) FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ),
        "false"
    );
    let dx = Dynex::open(&socket).unwrap();
    let rows = dx.read_collection("tax-sets", &[], None).unwrap().rows;
    assert!(!rows.is_empty());
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

/// A page found by a list of keys alone, whose statement and writer are kept per shape of
/// the read (on SQLite), answers in the configuration of the moment, as a read by id does.
fn pages_by_keys_follow_a_changed_configuration(db: TestDb) {
    let dx = demo(&db);
    let query = pairs(&[(
        "filter[product-abstracts.id_product_abstract]",
        "{\"in\": [3, 1, 2]}",
    )]);
    let read = |dx: &Dynex| -> Vec<serde_json::Value> {
        let page = match dx
            .read_collection_text_now("product-abstracts", &query, None)
            .unwrap()
        {
            dynex_core::PageNow::Read(page) => page,
            dynex_core::PageNow::Later(read) => dx.read_pending_text(read).unwrap(),
        };
        serde_json::from_slice(&page.rows).unwrap()
    };
    let before = read(&dx);
    assert_eq!(before.len(), 3);
    assert!(before[0]["sku"].is_string(), "{before:?}");
    let mut config = serde_json::to_value(
        dx.export_configuration(&["product-abstracts".into()])
            .unwrap(),
    )
    .unwrap();
    let fields = config[0]["definition"]["fields"].as_array_mut().unwrap();
    let field = fields.iter_mut().find(|f| f["fieldName"] == "sku").unwrap();
    field["fieldVisibleName"] = json!("skuCode");
    dx.import_configuration(&config.to_string()).unwrap();
    let after = read(&dx);
    assert_eq!(after.len(), 3);
    for (a, b) in after.iter().zip(&before) {
        assert_eq!(a["skuCode"], b["sku"], "{after:?}");
        assert!(a.get("sku").is_none(), "{after:?}");
    }
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
    let expected = dx.read_one_text("countries", "1", &[], None).unwrap();
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

/// What the API answers, written from the database's text, is byte for byte the rows read as
/// JSON values and serialized: pages with fields, sorts, cursors, counts and includes, and rows
/// by id, on every backend's own JSON.
fn reads_as_text_are_the_reads_serialized(db: TestDb) {
    let dx = demo(&db);
    let reads: [(&str, &[(&str, &str)]); 7] = [
        ("product-abstracts", &[]),
        (
            "product-abstracts",
            &[("fields[product-abstracts]", "sku,attributes")],
        ),
        (
            "product-abstracts",
            &[("sort", "-sku"), ("page[size]", "2")],
        ),
        (
            "countries",
            &[("include", "countryTaxRates"), ("meta", "count")],
        ),
        ("tax-rates", &[("sort", "rate,-name")]),
        (
            "countries",
            &[("filter[countries.iso2_code]", "{\"in\": [\"AT\", \"DE\"]}")],
        ),
        ("countries", &[("filter[countries.iso2_code]", "none")]),
    ];
    for (alias, query) in reads {
        let query = pairs(query);
        let values = same_answer(&dx, alias, &query);
        if query.is_empty() {
            rows_by_id_are_the_rows_serialized(&dx, alias, &values.rows);
        }
    }
}

/// Reads `query` of `alias` as JSON values and as text, checks that the text is the values
/// serialized with the same paging, and returns the values.
fn same_answer(
    dx: &Dynex,
    alias: &str,
    query: &[(String, String)],
) -> dynex_core::ReadPage<Vec<serde_json::Value>> {
    let values = dx.read_collection(alias, query, None).unwrap();
    let text = dx.read_collection_text(alias, query, None).unwrap();
    // A short read answered at once (a page found by keys alone, by its kept statement) is
    // the same page.
    if let dynex_core::PageNow::Read(now) = dx.read_collection_text_now(alias, query, None).unwrap()
    {
        assert_eq!(now, text, "{alias} {query:?}");
    }
    assert_eq!(
        String::from_utf8(text.rows).unwrap(),
        serde_json::to_string(&values.rows).unwrap(),
        "{alias} {query:?}"
    );
    assert_eq!(
        (text.cursor, &text.next, text.count),
        (values.cursor, &values.next, values.count),
        "{alias} {query:?}"
    );
    values
}

/// Each of `rows` (whole rows of `alias`, the identifier first) read by id as text is the row
/// serialized, and has the row's entity tag.
fn rows_by_id_are_the_rows_serialized(dx: &Dynex, alias: &str, rows: &[serde_json::Value]) {
    assert!(!rows.is_empty(), "{alias}");
    for row in rows {
        let id = row
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .to_string();
        let one = dx.read_one_text(alias, &id, &[], None).unwrap();
        assert_eq!(
            String::from_utf8(one.clone()).unwrap(),
            serde_json::to_string(row).unwrap()
        );
        assert_eq!(
            dynex_core::etag_of_text(&one),
            dynex_core::row_etag(row.as_object().unwrap())
        );
        assert_eq!(&dx.read_one(alias, &id, &[], None).unwrap(), row);
    }
}

/// The same on a table with a column of each type and values at their edges: floats at the
/// limits of their precision, JSON documents, escapes, dates and times, as each backend's own
/// JSON functions write them.
fn reads_as_text_keep_every_type(db: TestDb) {
    let dx = demo(&db);
    let (float, json, datetime) = match db.backend {
        Backend::Sqlite => ("REAL", "TEXT", "DATETIME"),
        Backend::Postgres => ("double precision", "jsonb", "timestamp"),
        Backend::Mysql => ("DOUBLE", "JSON", "DATETIME(6)"),
    };
    let mut conn = dx.db().conn().unwrap();
    dynex_core::db::run_script(
        &mut conn,
        &format!(
            "CREATE TABLE typed_read (id INTEGER PRIMARY KEY, f {float}, j {json}, da DATE, \
               dt {datetime}, d DECIMAL(12,3), b BOOLEAN, s TEXT, n BIGINT);
             INSERT INTO typed_read VALUES
               (1, 0.1, '{{\"b\": [1, 2.50, \"x\"], \"a\": {{\"z\": null}}}}', '2024-01-02',
                '2024-01-02 03:04:05.25', 1.5, TRUE, 'line
break \"q\" / é 😀 \t', -7),
               (2, 1e20, '[]', '1999-12-31', '1999-12-31 23:59:59', -12345.678, FALSE,
                '{{\"k\": \"v\"}}', 0),
               (3, -2.5e-7, '\"text\"', NULL, NULL, 0, NULL, '', 9007199254740993),
               (4, 3.141592653589793, '{{\"n\": 1e3, \"u\": \"\\u00e9\"}}', NULL, NULL, NULL,
                TRUE, NULL, NULL),
               (5, NULL, NULL, NULL, NULL, NULL, NULL, 'tab\there', -1)"
        ),
    )
    .unwrap();
    drop(conn);
    let mut config = dx.add_entity("typed_read", None, true).unwrap();
    for field in &mut config.definition.fields {
        use dynex_schema::FieldType;
        field.ty = match field.field_name.as_str() {
            "f" => FieldType::Float,
            "j" => FieldType::Json,
            "da" => FieldType::Date,
            "dt" => FieldType::DateTime,
            "d" => FieldType::Decimal,
            "b" => FieldType::Boolean,
            "s" => FieldType::String,
            _ => FieldType::Integer,
        };
    }
    let alias = config.table_alias.clone();
    dx.save_entities(&[config]).unwrap();
    for query in [
        vec![],
        pairs(&[("sort", "-f")]),
        pairs(&[("sort", "s"), ("page[size]", "2")]),
    ] {
        let values = same_answer(&dx, &alias, &query);
        if query.is_empty() {
            assert_eq!(values.rows.len(), 5);
            assert_eq!(values.rows[0]["j"]["b"], json!([1, 2.5, "x"]));
            rows_by_id_are_the_rows_serialized(&dx, &alias, &values.rows);
        }
    }
}

/// On SQLite the answer is written from the values as stored, not from a JSON array the
/// database builds: it is still byte for byte the JSON reads' answer, whatever type a value
/// was stored with (SQLite keeps text in an integer column, an integer in a text one), through
/// every page of cursors over floating-point and mixed keys, and read by id.
#[test]
fn sqlite_reads_from_stored_values_are_the_json_reads() {
    let db = TestDb::sqlite();
    let dx = demo(&db);
    let mut conn = dx.db().conn().unwrap();
    // Most of these types have SQLite's numeric affinity, which keeps text that is no number
    // as text, and numbers as numbers (an integer in a string field).
    dynex_core::db::run_script(
        &mut conn,
        r#"CREATE TABLE stored_read (id INTEGER PRIMARY KEY, i INTEGER, s UUID, b BOOLEAN,
           d DECIMAL(12,2), da DATE, dt TIMESTAMP, j JSON, f REAL, g DOUBLE,
           code TEXT COLLATE NOCASE UNIQUE);
         INSERT INTO stored_read VALUES
           (1, '12', 5, 't', 3, 20240101, 1.5, 5, 3, '1.5', 'a'),
           (2, 'abc', 1.5, 'yes', '1.50', '2024-01-02 10:00:00', '2024-01-02T03:04:05Z', 2.5,
            0.1 + 0.2, 'x', 'b'),
           (3, 2.5, 'a' || char(1) || 'b"c\d', 0, 2.25, 1.5, 5, '{"a": [1, 2.50]}', 1e300,
            7, 'C'),
           (4, 7, 'é 😀' || char(9) || char(127), 2, -0.5, NULL, NULL, 'not json', -0.0, 2.5,
            NULL),
           (5, 9223372036854775807, -0.0, 'TRUE', 123456789012345678, 'x', 'y', '"s"',
            123456789012345680, -9223372036854775808, 'd'),
           (6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
           (7, -3, '', 0.0, 0, '', '', '[]', 2.5e-8, 1e20, 'e');"#,
    )
    .unwrap();
    drop(conn);
    let mut config = dx.add_entity("stored_read", None, true).unwrap();
    for field in &mut config.definition.fields {
        use dynex_schema::FieldType;
        field.ty = match field.field_name.as_str() {
            "s" | "code" => FieldType::String,
            "b" => FieldType::Boolean,
            "d" => FieldType::Decimal,
            "da" => FieldType::Date,
            "dt" => FieldType::DateTime,
            "j" => FieldType::Json,
            "f" | "g" => FieldType::Float,
            _ => FieldType::Integer,
        };
        if field.field_name == "d" {
            field.validation.scale = Some(2);
        }
    }
    let visible = |name: &str| {
        let fields = &config.definition.fields;
        let field = fields.iter().find(|f| f.field_name == name).unwrap();
        field.field_visible_name.clone()
    };
    let (j, s, f, g, i, code) = (
        visible("j"),
        visible("s"),
        visible("f"),
        visible("g"),
        visible("i"),
        visible("code"),
    );
    let alias = config.table_alias.clone();
    dx.save_entities(&[config]).unwrap();
    let mut pages = 0;
    for query in [
        vec![],
        pairs(&[(&format!("fields[{alias}]"), &format!("{j},{s}"))]),
        pairs(&[("sort", &format!("-{f}")), ("page[size]", "2")]),
        pairs(&[("sort", &i), ("page[size]", "2")]),
        pairs(&[("sort", &format!("{g},-{s}")), ("page[size]", "3")]),
        pairs(&[(&format!("filter[{alias}.id]"), "{\"in\": [2, 3, 5]}")]),
        // Rows found by a list of keys come once each, however many values match them.
        pairs(&[(
            &format!("filter[{alias}.id]"),
            "{\"in\": [5, 2, 3, 5, 3, 99]}",
        )]),
        pairs(&[
            (
                &format!("filter[{alias}.{code}]"),
                "{\"in\": [\"A\", \"a\", \"b\", \"c\", \"zz\"]}",
            ),
            ("page[offset]", "1"),
        ]),
        // Found by keys, then cut by offset and limit, with another condition beside them.
        pairs(&[
            (
                &format!("filter[{alias}.id]"),
                "{\"in\": [7, 5, 1, 3, 5, 2]}",
            ),
            (&format!("filter[{alias}.{i}]"), "{\"neq\": 12}"),
            ("page[offset]", "1"),
            ("page[limit]", "2"),
        ]),
    ] {
        let mut query = query;
        loop {
            let values = same_answer(&dx, &alias, &query);
            pages += 1;
            if query.is_empty() {
                assert_eq!(values.rows.len(), 7);
                rows_by_id_are_the_rows_serialized(&dx, &alias, &values.rows);
            }
            let Some(next) = values.next else { break };
            query.retain(|(k, _)| k != "page[after]");
            query.push(("page[after]".into(), next));
        }
    }
    // Every page of the three cursor reads was compared, not only the first.
    assert!(pages >= 14, "{pages}");
    let found = |query: &[(String, String)]| -> Vec<serde_json::Value> {
        let text = dx.read_collection_text(&alias, query, None).unwrap();
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&text.rows).unwrap();
        rows.iter().map(|r| r["id"].clone()).collect()
    };
    let by_id = pairs(&[(
        &format!("filter[{alias}.id]"),
        "{\"in\": [5, 2, 3, 5, 3, 99]}",
    )]);
    assert_eq!(found(&by_id), [json!(2), json!(3), json!(5)]);
    let by_code = pairs(&[(
        &format!("filter[{alias}.{code}]"),
        "{\"in\": [\"A\", \"a\", \"b\", \"c\", \"zz\"]}",
    )]);
    assert_eq!(found(&by_code), [json!(1), json!(2), json!(3)]);
    let cut = pairs(&[
        (
            &format!("filter[{alias}.id]"),
            "{\"in\": [7, 5, 1, 3, 5, 2]}",
        ),
        (&format!("filter[{alias}.{i}]"), "{\"neq\": 12}"),
        ("page[offset]", "1"),
        ("page[limit]", "2"),
    ]);
    assert_eq!(found(&cut), [json!(3), json!(5)]);
}

/// `read_collection_text_now` reads at once, as `read_collection_text` does, on SQLite and only
/// for reads filtered to a few values of the identifier or of a unique column; otherwise it
/// reads nothing and leaves the parsed read to `read_pending_text`, which answers the same.
fn pages_by_few_keys_read_now_only_on_sqlite(db: TestDb) {
    let dx = demo(&db);
    // The page when it was read at once; `None` when it was left for later, which is then run
    // and checked against the read of the same request from the start.
    let now = |query: &[(String, String)]| match dx.read_collection_text_now(
        "product-abstracts",
        query,
        None,
    ) {
        Ok(dynex_core::PageNow::Read(page)) => Some(Ok(page)),
        Ok(dynex_core::PageNow::Later(read)) => {
            assert_eq!(
                dx.read_pending_text(read).unwrap(),
                dx.read_collection_text("product-abstracts", query, None)
                    .unwrap(),
                "{query:?}"
            );
            None
        }
        Err(e) => Some(Err(e)),
    };
    let few: Vec<String> = (0..dynex_core::SHORT_READ_KEYS)
        .map(|i| format!("\"B{i:06}\""))
        .collect();
    let many = format!("{{\"in\": [{}, \"B999999\"]}}", few.join(", "));
    // Two of the demo's skus among them: exactly as many values as a short read may list.
    let few = format!("{{\"in\": [{}, \"001\", \"002\"]}}", few[2..].join(", "));
    let short: [&[(&str, &str)]; 7] = [
        &[("filter[product-abstracts.sku]", &few), ("sort", "-sku")],
        &[
            ("filter[product-abstracts.id_product_abstract]", "2"),
            ("page[size]", "1"),
        ],
        &[
            ("filter[product-abstracts.sku]", &few),
            ("filter[product-abstracts.fk_tax_set]", "1"),
        ],
        &[("filter[product-abstracts.sku]", "{\"in\": []}")],
        // Found by the keys alone, by a statement kept for the shape of the read.
        &[("filter[product-abstracts.sku]", &few)],
        &[
            ("filter[product-abstracts.sku]", &few),
            ("page[offset]", "1"),
            ("page[limit]", "1"),
        ],
        &[
            ("filter[product-abstracts.sku]", &few),
            ("fields[product-abstracts]", "sku"),
        ],
    ];
    let long: [&[(&str, &str)]; 5] = [
        &[],
        &[("filter[product-abstracts.sku]", &many)],
        &[("filter[product-abstracts.fk_tax_set]", "1")],
        &[("filter[product-abstracts.sku]", &few), ("meta", "count")],
        &[
            ("filter[product-abstracts.sku]", &few),
            ("include", "productAbstractProducts"),
        ],
    ];
    // Few rows are cut in the statement itself, without the page subquery: the same rows on
    // every backend, in order, offset and limited.
    let skus = |query: &[(&str, &str)]| -> Vec<serde_json::Value> {
        dx.read_collection("product-abstracts", &pairs(query), None)
            .unwrap()
            .rows
            .iter()
            .map(|r| r["sku"].clone())
            .collect()
    };
    let three = "{\"in\": [\"001\", \"003\", \"002\", \"B999999\"]}";
    assert_eq!(
        skus(&[
            ("filter[product-abstracts.sku]", three),
            ("sort", "-sku"),
            ("page[offset]", "1"),
            ("page[limit]", "2"),
        ]),
        [json!("002"), json!("001")]
    );
    assert_eq!(
        skus(&[
            ("filter[product-abstracts.sku]", three),
            ("page[limit]", "2")
        ]),
        [json!("001"), json!("002")]
    );
    let first = dx
        .read_collection_text("product-abstracts", &pairs(short[0]), None)
        .unwrap();
    let first = String::from_utf8(first.rows).unwrap();
    assert!(
        first.starts_with(r#"[{"id_product_abstract":2,"sku":"002","#),
        "{first}"
    );
    for query in short {
        let query = pairs(query);
        let read = now(&query);
        if dx.dialect() != dynex_query::Dialect::Sqlite {
            assert!(read.is_none(), "{query:?}");
            continue;
        }
        let expected = dx
            .read_collection_text("product-abstracts", &query, None)
            .unwrap();
        assert_eq!(read.expect("short").unwrap(), expected, "{query:?}");
        let held: Vec<_> = std::iter::from_fn(|| dx.db().try_conn()).collect();
        let waiting = dx
            .read_collection_text_now("product-abstracts", &query, None)
            .unwrap();
        assert!(matches!(waiting, dynex_core::PageNow::Later(_)));
        drop(held);
    }
    for query in long {
        let query = pairs(query);
        assert!(now(&query).is_none(), "{query:?}");
    }
    // A refused read is answered at once, with the error the other path gives.
    let bad = pairs(&[("filter[product-abstracts.nope]", "1")]);
    let refused = now(&bad);
    assert_eq!(
        refused.expect("answered").unwrap_err().to_string(),
        dx.read_collection_text("product-abstracts", &bad, None)
            .unwrap_err()
            .to_string()
    );
}
