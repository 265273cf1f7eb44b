//! The same request gets the same rows on every backend: text compares exactly (MariaDB's
//! default collations ignore case and trailing spaces), decimals keep every digit, and lists
//! of values are bounded.

use dynex_test_support::{Backend, TestDb, async_backend_tests, reconfigure, run_sql};
use serde_json::{Value, json};

use crate::support::{TestApp, demo, enc};

async_backend_tests!(
    text_comparisons_are_exact_for_reads_and_deletes,
    in_and_nin_lists_are_capped,
    decimals_are_stored_exactly_or_refused,
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

/// How a decimal written fares on a backend: stored and read back as this text (at the
/// column's scale), or refused with 1306.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    Stored(&'static str),
    Refused,
}

/// A decimal within the declared precision and scale is stored and read back exactly, on SQLite
/// too, or refused with 1306, never rounded: as a JSON number and as a string, by POST, PATCH
/// and CSV import, read back as JSON and as CSV. SQLite keeps 15 significant digits of a
/// decimal with a fraction (it stores a binary double) and whole numbers within 64 bits.
async fn decimals_are_stored_exactly_or_refused(db: TestDb) {
    use Fate::{Refused, Stored};
    let (dx, app, key) = demo(&db).await;
    let id = db.id_column();
    run_sql(
        &dx,
        &format!("CREATE TABLE amounts ({id}, amount DECIMAL(30,10), small DECIMAL(8,2));\n"),
    );
    dx.add_entity("amounts", Some("amounts"), true).unwrap();
    dx.refresh().unwrap();
    let sqlite = db.backend == Backend::Sqlite;
    let exact_or_sqlite = |exact: &'static str| if sqlite { Refused } else { Stored(exact) };
    // (the value as JSON text, its fate)
    let cases: Vec<(&str, Fate)> = vec![
        ("12345678901234.5", Stored("12345678901234.5000000000")),
        (
            "12345678901234.56",
            exact_or_sqlite("12345678901234.5600000000"),
        ),
        ("1.005", Stored("1.0050000000")),
        ("-0.0000000001", Stored("-0.0000000001")),
        ("9007199254740993", Stored("9007199254740993.0000000000")),
        ("9007199254740993.0", Stored("9007199254740993.0000000000")),
        (
            "9007199254740993.5",
            exact_or_sqlite("9007199254740993.5000000000"),
        ),
        ("0.30000000000000004", exact_or_sqlite("0.3000000000")),
        ("0.3000000000", Stored("0.3000000000")),
        (
            "99999999999999999999.9999999999",
            exact_or_sqlite("99999999999999999999.9999999999"),
        ),
        ("1.5e3", Stored("1500.0000000000")),
        ("100000000000000000000", Refused),
        ("0.00000000001", Refused),
    ];
    // 0.30000000000000004 has 17 digits, beyond the scale of 10: refused everywhere.
    let cases: Vec<(&str, Fate)> = cases
        .into_iter()
        .map(|(v, f)| {
            if v == "0.30000000000000004" {
                (v, Refused)
            } else {
                (v, f)
            }
        })
        .collect();
    let last = || async {
        let r = app.api("amounts?sort=-id&page[limit]=1", &key).await;
        r.rows().first().cloned()
    };
    let refused = |r: &crate::support::Reply, what: &str| {
        let message = r.assert_error(400, "1306");
        assert!(
            message.starts_with("Invalid data value `amounts[0]` for field: `amount`."),
            "{what}: {message}"
        );
    };
    let mut patched = 0;
    for (value, fate) in &cases {
        let number: Value = serde_json::from_str(value).unwrap();
        let string = json!(value.to_string());
        for (how, sent) in [("number", &number), ("string", &string)] {
            if how == "string" && value.contains('e') {
                // A string takes plain digits only (1305).
                continue;
            }
            let what = format!("POST {value} as a {how}");
            // The raw JSON text, so that the number reaches the server as written.
            let body = format!(
                r#"{{"data": [{{"amount": {}}}]}}"#,
                if how == "number" {
                    value.to_string()
                } else {
                    string.to_string()
                }
            );
            let before = last().await;
            let r = app
                .request(actix_web::http::Method::POST, "amounts", &key, body, &[])
                .await;
            match fate {
                Stored(text) => {
                    let row = r.written_rows(201)[0].clone();
                    assert_eq!(row["amount"], json!(text), "{what}");
                    let id = row["id"].clone();
                    let read = app.find("amounts", &id, &key).await.unwrap();
                    assert_eq!(read["amount"], json!(text), "{what}: read back");
                    // PATCH the row to another value and back, as sent.
                    let other = r#"{"data": {"amount": "7"}}"#;
                    let r = app
                        .request(
                            actix_web::http::Method::PATCH,
                            &format!("amounts/{id}"),
                            &key,
                            other,
                            &[],
                        )
                        .await;
                    assert_eq!(r.written(200)["amount"], json!("7.0000000000"), "{what}");
                    let back = format!(
                        r#"{{"data": {{"amount": {}}}}}"#,
                        if how == "number" {
                            value.to_string()
                        } else {
                            string.to_string()
                        }
                    );
                    let r = app
                        .request(
                            actix_web::http::Method::PATCH,
                            &format!("amounts/{id}"),
                            &key,
                            back,
                            &[],
                        )
                        .await;
                    assert_eq!(r.written(200)["amount"], json!(text), "PATCH {what}");
                    patched += 1;
                }
                Refused => {
                    refused(&r, &what);
                    assert_eq!(last().await, before, "{what} wrote something");
                }
            }
            let _ = sent;
        }
    }
    assert!(patched > 10, "{patched}");

    // CSV import over the API: the cell's digits as written.
    for (value, fate) in &cases {
        if value.contains('e') {
            continue;
        }
        let before = last().await;
        let r = app
            .send(
                actix_web::test::TestRequest::post()
                    .uri(&format!("/{}/amounts", crate::support::PREFIX))
                    .insert_header(("X-Api-Key", key.as_str()))
                    .insert_header(("Content-Type", "text/csv"))
                    .set_payload(format!("amount\n{value}\n")),
            )
            .await;
        match fate {
            Stored(text) => {
                assert_eq!(r.status.as_u16(), 201, "CSV {value}: {r:?}");
                let row = last().await.unwrap();
                assert_ne!(Some(&row), before.as_ref(), "CSV {value}");
                assert_eq!(row["amount"], json!(text), "CSV {value}");
                // And out again as CSV.
                let r = app
                    .send(
                        actix_web::test::TestRequest::get()
                            .uri(&format!(
                                "/{}/amounts?filter[id]={}",
                                crate::support::PREFIX,
                                row["id"]
                            ))
                            .insert_header(("X-Api-Key", key.as_str()))
                            .insert_header(("Accept", "text/csv")),
                    )
                    .await;
                assert!(
                    r.raw.contains(&format!(",{text},")),
                    "CSV export of {value}: {}",
                    r.raw
                );
            }
            Refused => {
                assert_eq!(r.status.as_u16(), 400, "CSV {value}: {r:?}");
                assert_eq!(r.body[0]["code"], json!("1306"), "CSV {value}: {r:?}");
                assert_eq!(last().await, before, "CSV {value} wrote something");
            }
        }
    }

    // A field that declares no scale gets the column's: DECIMAL(8,2) rounds 1.005.
    reconfigure(&dx, "amounts", |c| {
        dynex_test_support::config_field(c, "small")["validation"] = json!({});
    });
    dx.refresh().unwrap();
    let r = app
        .post("amounts", &key, &json!({"data": [{"small": 1.005}]}))
        .await;
    assert_eq!(
        r.assert_error(400, "1306"),
        "Invalid data value `amounts[0]` for field: `small`. Field rules: precision: 8, scale: 2 \
         (of the column `small`)"
    );
    let r = app
        .post("amounts", &key, &json!({"data": [{"small": 123456.78}]}))
        .await;
    assert_eq!(r.written_rows(201)[0]["small"], json!("123456.78"));
}
