//! The same request gets the same rows on every backend: text compares exactly (MariaDB's
//! default collations ignore case and trailing spaces), decimals keep every digit, and lists
//! of values are bounded.

use dynex_test_support::{Backend, TestDb, async_backend_tests, reconfigure, run_sql};
use serde_json::{Value, json};

use crate::support::{TestApp, demo, enc};

async_backend_tests!(
    text_comparisons_are_exact_for_reads_and_deletes,
    in_and_nin_lists_are_capped,
);

/// The identifiers of the rows of a successful answer.
fn ids(r: &crate::support::Reply) -> Vec<i64> {
    r.column("id")
        .iter()
        .map(|v| v.as_i64().expect("an integer id"))
        .collect()
}

/// `GET /dynamic-entity/{alias}?{query}` with each value percent-encoded.
async fn get(
    app: &TestApp,
    key: &str,
    alias: &str,
    pairs: &[(&str, &str)],
) -> crate::support::Reply {
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    app.api(&format!("{alias}?{}", query.join("&")), key).await
}

/// `keep-me`, `KEEP-ME` and `keep-me ` are three values everywhere: equality, `in`, `neq`,
/// `nin`, `or` groups, counts and DELETE pick the same rows on SQLite, PostgreSQL and MariaDB
/// (whose default collation once made `DELETE ?filter[x.code]=keep-me` remove all three).
async fn text_comparisons_are_exact_for_reads_and_deletes(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    let id = db.id_column();
    // MariaDB's default collation of utf8mb4 (the demo's tables use it too); the test
    // database's own default is a binary one.
    let charset = match db.backend {
        Backend::Mysql => " DEFAULT CHARSET=utf8mb4",
        Backend::Sqlite | Backend::Postgres => "",
    };
    run_sql(
        &dx,
        &format!(
            "CREATE TABLE codes ({id}, code VARCHAR(40) NOT NULL){charset};\n\
             CREATE INDEX codes_code ON codes (code);\n\
             INSERT INTO codes (id, code) VALUES (1, 'keep-me'), (2, 'KEEP-ME'), \
             (3, 'keep-me '), (4, 'other');\n"
        ),
    );
    dx.add_entity("codes", Some("codes"), true).unwrap();
    reconfigure(&dx, "codes", |c| {
        c["definition"]["isDeletable"] = json!(true);
    });
    dx.refresh().unwrap();
    let cases: &[(&str, &str, &[i64])] = &[
        ("filter[codes.code]", "keep-me", &[1]),
        ("filter[x.code]", "keep-me", &[1]),
        ("filter[code]", "KEEP-ME", &[2]),
        ("filter[code]", "keep-me ", &[3]),
        ("filter[code]", r#"{"eq": "keep-me"}"#, &[1]),
        ("filter[code]", r#"{"eq": "keep-me "}"#, &[3]),
        ("filter[code]", r#"{"in": ["keep-me"]}"#, &[1]),
        (
            "filter[code]",
            r#"{"in": ["KEEP-ME", "keep-me ", "x"]}"#,
            &[2, 3],
        ),
        ("filter[code]", r#"{"in": ["keep-me", null]}"#, &[1]),
        ("filter[code]", r#"{"neq": "keep-me"}"#, &[2, 3, 4]),
        ("filter[code]", r#"{"neq": "keep-me "}"#, &[1, 2, 4]),
        ("filter[code]", r#"{"nin": ["keep-me"]}"#, &[2, 3, 4]),
        (
            "filter[code]",
            r#"{"nin": ["keep-me", "OTHER"]}"#,
            &[2, 3, 4],
        ),
        (
            "filter[or]",
            r#"[{"code": "KEEP-ME"}, {"code": {"in": ["other"]}}]"#,
            &[2, 4],
        ),
        ("filter[code]", r#"{"like": "keep-me"}"#, &[1]),
        ("filter[code]", r#"{"like": "keep-me%"}"#, &[1, 3]),
    ];
    for (name, value, expected) in cases {
        let r = get(&app, &key, "codes", &[(name, value), ("meta", "count")]).await;
        assert_eq!(ids(&r), *expected, "{name}={value}: {r:?}");
        assert_eq!(
            r.body["meta"]["count"],
            json!(expected.len()),
            "{name}={value}"
        );
    }
    let r = app.api("codes/1", &key).await;
    assert_eq!(r.data()["code"], json!("keep-me"));

    let r = app
        .delete(&format!("codes?filter[x.code]={}", enc("keep-me")), &key)
        .await;
    assert_eq!(r.status.as_u16(), 204, "{r:?}");
    let left = |r: crate::support::Reply| -> Vec<Value> { r.column("code") };
    assert_eq!(
        left(app.api("codes", &key).await),
        [json!("KEEP-ME"), json!("keep-me "), json!("other")]
    );
    let r = app
        .delete(
            &format!("codes?filter[code]={}", enc(r#"{"in": ["KEEP-ME"]}"#)),
            &key,
        )
        .await;
    assert_eq!(r.status.as_u16(), 204, "{r:?}");
    let r = app
        .delete(
            &format!(
                "codes?filter[code]={}",
                enc(r#"{"nin": ["keep-me ", "OTHER"]}"#)
            ),
            &key,
        )
        .await;
    assert_eq!(r.status.as_u16(), 204, "{r:?}");
    assert_eq!(left(app.api("codes", &key).await), [json!("keep-me ")]);
    // Nothing left matches exactly: 404, nothing deleted.
    let r = app
        .delete(&format!("codes?filter[code]={}", enc("KEEP-ME ")), &key)
        .await;
    r.assert_error(404, "1303");
    assert_eq!(left(app.api("codes", &key).await), [json!("keep-me ")]);
}

/// A request's `in` and `nin` lists hold at most 1000 values together (each is a bound value
/// and a lookup); one more is 400 `1320` for reads, counts and deletes alike, and deletes
/// nothing. 1000 values work on every backend.
async fn in_and_nin_lists_are_capped(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    reconfigure(&dx, "countries", |c| {
        c["definition"]["isDeletable"] = json!(true);
    });
    dx.refresh().unwrap();
    let list = |op: &str, n: i64| {
        let values: Vec<i64> = (1..=n).collect();
        enc(&json!({ op: values }).to_string())
    };
    let r = app
        .api(
            &format!(
                "countries?filter[id_country]={}&meta=count",
                list("in", 1000)
            ),
            &key,
        )
        .await;
    assert_eq!(r.body["meta"]["count"], json!(12), "{r:?}");
    let r = app
        .api(
            &format!(
                "countries?filter[id_country]={}&meta=count",
                list("nin", 1000)
            ),
            &key,
        )
        .await;
    assert_eq!(r.body["meta"]["count"], json!(0), "{r:?}");
    let message = "Invalid query parameter `filter[countries.id_country]`: the `in` and `nin` \
                   lists of a request may hold at most 1000 values in all.";
    for op in ["in", "nin"] {
        let r = app
            .api(
                &format!("countries?filter[countries.id_country]={}", list(op, 1001)),
                &key,
            )
            .await;
        assert_eq!(r.assert_error(400, "1320"), message, "{op}");
    }
    // Several lists count together; `or` groups name their parameter.
    let half = || {
        let values: Vec<i64> = (1..=500).collect();
        json!({ "nin": values })
    };
    let or = enc(&json!([{ "id_country": half() }, { "iso2_code": "AT" }]).to_string());
    let r = app
        .api(
            &format!(
                "countries?filter[id_country]={}&filter[or]={or}",
                enc(&half().to_string())
            ),
            &key,
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    let r = app
        .api(
            &format!(
                "countries?filter[id_country]={}&filter[iso2_code]={}&filter[or]={or}",
                enc(&half().to_string()),
                enc(r#"{"in": ["AT"]}"#)
            ),
            &key,
        )
        .await;
    assert_eq!(
        r.assert_error(400, "1320"),
        "Invalid query parameter `filter[or]`: the `in` and `nin` lists of a request may hold \
         at most 1000 values in all."
    );
    let before = app.all("countries", &key).await;
    let r = app
        .delete(
            &format!(
                "countries?filter[countries.id_country]={}",
                list("in", 1001)
            ),
            &key,
        )
        .await;
    assert_eq!(r.assert_error(400, "1320"), message);
    assert_eq!(app.all("countries", &key).await, before);
}
