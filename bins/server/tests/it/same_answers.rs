//! The same request gets the same rows on every backend: text compares exactly (MariaDB's
//! default collations ignore case and trailing spaces), decimals keep every digit, and lists
//! of values are bounded.

use dynex_test_support::{Backend, TestDb, async_backend_tests, reconfigure, run_sql};
use serde_json::{Value, json};

use crate::support::{TestApp, demo, enc};

async_backend_tests!(text_comparisons_are_exact_for_reads_and_deletes,);

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
