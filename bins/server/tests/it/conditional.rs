//! Conditional requests: the `ETag` of one row, `304` on a matching `If-None-Match`, and
//! `If-Match` / `If-None-Match` on PATCH, PUT and DELETE, checked inside the write's
//! transaction: a stale tag is 412 (1327) and changes nothing, concurrent writers with the same
//! tag cannot both win.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use dynex_test_support::{TestDb, async_backend_tests};
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, demo};

async_backend_tests!(
    reads_of_one_row_have_an_etag_and_answer_304,
    stale_if_match_is_412_and_changes_nothing,
    matching_if_match_writes_and_changes_the_etag,
    if_match_guards_deletes_and_absent_rows,
    collection_writes_accept_only_if_match_any,
    concurrent_writers_with_one_etag_cannot_both_win,
);

/// `GET /dynamic-entity/{path}` with extra headers.
async fn get(app: &TestApp, path: &str, key: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = TestRequest::get()
        .uri(&format!("/dynamic-entity/{path}"))
        .insert_header(("X-Api-Key", key));
    for h in headers {
        req = req.insert_header(*h);
    }
    app.send(req).await
}

/// The `ETag` of a row, asserting its form: a quoted strong tag of 32 hex digits.
async fn etag(app: &TestApp, path: &str, key: &str) -> String {
    let r = get(app, path, key, &[]).await;
    r.data();
    let tag = r.header("etag").unwrap_or_else(|| panic!("no ETag: {r:?}"));
    assert!(
        tag.len() == 34 && tag.starts_with('"') && tag.ends_with('"'),
        "{tag}"
    );
    tag
}

async fn write(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> Reply {
    app.request(method, path, key, body.to_string(), headers)
        .await
}

/// The tag is the row's: the same on every read, another for another row; `If-None-Match`
/// with it (weak or in a list) is `304` without a body; `include` and `fields` answers carry
/// none.
async fn reads_of_one_row_have_an_etag_and_answer_304(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for path in ["countries/1", "tax-rates/1", "price-products/2"] {
        let tag = etag(&app, path, &key).await;
        assert_eq!(tag, etag(&app, path, &key).await, "{path}");
        let weak = format!("W/{tag}");
        for header in [tag.as_str(), &format!("\"other\", {weak}"), "*"] {
            let r = get(&app, path, &key, &[("If-None-Match", header)]).await;
            assert_eq!(r.status.as_u16(), 304, "{path} {header}: {r:?}");
            assert_eq!(r.raw, "");
            assert_eq!(r.header("etag").as_deref(), Some(tag.as_str()));
        }
        let r = get(&app, path, &key, &[("If-None-Match", "\"other\"")]).await;
        assert_eq!(r.status.as_u16(), 200);
    }
    assert_ne!(
        etag(&app, "countries/1", &key).await,
        etag(&app, "countries/2", &key).await
    );
    for path in [
        "countries/1?include=countryTaxRates",
        "countries/1?fields[countries]=name",
    ] {
        let r = get(&app, path, &key, &[]).await;
        r.data();
        assert_eq!(r.header("etag"), None, "{path}");
    }
    // A collection has none.
    assert_eq!(get(&app, "countries", &key, &[]).await.header("etag"), None);
}

/// A stale or foreign `If-Match` (also a weak tag, which never matches) is 412 with code 1327
/// on PATCH and PUT, and the row stays as it was, tag included.
async fn stale_if_match_is_412_and_changes_nothing(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for path in ["tax-sets/1", "tax-rates/1"] {
        let before = get(&app, path, &key, &[]).await;
        let tag = before.header("etag").expect("an ETag");
        let weak = format!("W/{tag}");
        let body = if path.starts_with("tax-sets") {
            json!({"data": {"name": "Changed"}})
        } else {
            json!({"data": {"name": "Changed", "rate": 1}})
        };
        for (method, stale) in [
            (Method::PATCH, "\"0123456789abcdef0123456789abcdef\""),
            (Method::PUT, "\"0123456789abcdef0123456789abcdef\""),
            (Method::PATCH, weak.as_str()),
        ] {
            let r = write(
                &app,
                method.clone(),
                path,
                &key,
                &body,
                &[("If-Match", stale)],
            )
            .await;
            let field = path.split('/').next().unwrap();
            let id = if field == "tax-sets" {
                "id_tax_set"
            } else {
                "id_tax_rate"
            };
            assert_eq!(
                r.body,
                json!([{
                    "code": "1327",
                    "status": 412,
                    "message": format!(
                        "The entity `{field}.{id} = 1` does not match the request's precondition \
                         (`If-Match`); nothing was written."
                    ),
                }]),
                "{method} {path} {stale}"
            );
            let after = get(&app, path, &key, &[]).await;
            assert_eq!(after.body, before.body, "{method} {path} changed the row");
            assert_eq!(after.header("etag").as_deref(), Some(tag.as_str()));
        }
    }
}

/// The current tag lets PATCH and PUT through; the row's tag then changes, and the old one is
/// stale. A list naming the current tag, and `*`, match too.
async fn matching_if_match_writes_and_changes_the_etag(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for path in ["tax-sets/2", "tax-rates/2", "countries/2"] {
        let first = etag(&app, path, &key).await;
        let r = write(
            &app,
            Method::PATCH,
            path,
            &key,
            &json!({"data": {"name": "Renamed once"}}),
            &[("If-Match", &first)],
        )
        .await;
        assert_eq!(r.status.as_u16(), 200, "{path}: {r:?}");
        let second = etag(&app, path, &key).await;
        assert_ne!(first, second);
        let r = write(
            &app,
            Method::PATCH,
            path,
            &key,
            &json!({"data": {"name": "Renamed twice"}}),
            &[("If-Match", &first)],
        )
        .await;
        r.assert_error(412, "1327");
        let list = format!("\"00\", {second}");
        let r = write(
            &app,
            Method::PATCH,
            path,
            &key,
            &json!({"data": {"name": "Renamed twice"}}),
            &[("If-Match", &list)],
        )
        .await;
        assert_eq!(r.status.as_u16(), 200, "{path}: {r:?}");
        let r = write(
            &app,
            Method::PATCH,
            path,
            &key,
            &json!({"data": {"name": "Renamed thrice"}}),
            &[("If-Match", "*")],
        )
        .await;
        assert_eq!(r.status.as_u16(), 200, "{path}: {r:?}");
        let read = get(&app, path, &key, &[]).await;
        assert_eq!(read.data()["name"], "Renamed thrice");
    }
    // PUT replaces the row under its current tag.
    let tag = etag(&app, "tax-sets/1", &key).await;
    let r = write(
        &app,
        Method::PUT,
        "tax-sets/1",
        &key,
        &json!({"data": {"name": "Put"}}),
        &[("If-Match", &tag)],
    )
    .await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    assert_eq!(
        get(&app, "tax-sets/1", &key, &[]).await.data()["name"],
        "Put"
    );
}

/// DELETE with a stale tag is 412 and deletes nothing; with the current one it deletes. A row
/// that does not exist matches no `If-Match`, not even `*`: a PUT does not create it. An
/// `If-None-Match: *` PUT of an existing row is 412 (create only).
async fn if_match_guards_deletes_and_absent_rows(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let stale = "\"0123456789abcdef0123456789abcdef\"";
    let delete = |path: &'static str, tag: String| {
        let key = key.clone();
        let app = &app;
        async move {
            app.send(
                TestRequest::delete()
                    .uri(&format!("/dynamic-entity/{path}"))
                    .insert_header(("X-Api-Key", key))
                    .insert_header(("If-Match", tag)),
            )
            .await
        }
    };
    delete("price-products/1", stale.to_string())
        .await
        .assert_error(412, "1327");
    get(&app, "price-products/1", &key, &[]).await.data();
    let tag = etag(&app, "price-products/1", &key).await;
    let r = delete("price-products/1", tag).await;
    assert_eq!(r.status.as_u16(), 204, "{r:?}");
    get(&app, "price-products/1", &key, &[])
        .await
        .assert_error(404, "1303");
    delete("price-products/1", "*".to_string())
        .await
        .assert_error(412, "1327");

    let before = app.all("tax-sets", &key).await.len();
    for header in ["*", stale] {
        let r = write(
            &app,
            Method::PUT,
            "tax-sets/9999",
            &key,
            &json!({"data": {"name": "Absent"}}),
            &[("If-Match", header)],
        )
        .await;
        r.assert_error(412, "1327");
    }
    let r = write(
        &app,
        Method::PUT,
        "tax-sets/1",
        &key,
        &json!({"data": {"name": "Create only"}}),
        &[("If-None-Match", "*")],
    )
    .await;
    let message = r.assert_error(412, "1327");
    assert!(message.contains("`If-None-Match`"), "{message}");
    assert_eq!(app.all("tax-sets", &key).await.len(), before);
    assert_ne!(
        get(&app, "tax-sets/1", &key, &[]).await.data()["name"],
        "Create only"
    );
}

/// Collections have no tag: `If-Match: *` lets a collection write through, a list of tags is
/// 412 and writes nothing (JSON and CSV bodies), as is a filtered DELETE with one.
async fn collection_writes_accept_only_if_match_any(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let tag = etag(&app, "tax-sets/1", &key).await;
    let prices = app.all("price-products", &key).await.len();
    let body = json!({"data": [{"id_tax_set": 1, "name": "Collection"}]});
    let r = write(
        &app,
        Method::PATCH,
        "tax-sets",
        &key,
        &body,
        &[("If-Match", &tag)],
    )
    .await;
    let message = r.assert_error(412, "1327");
    assert!(message.contains("`tax-sets`"), "{message}");
    let r = app
        .request(
            Method::POST,
            "tax-sets",
            &key,
            "name\nFrom CSV\n",
            &[("Content-Type", "text/csv"), ("If-Match", &tag)],
        )
        .await;
    r.assert_error(412, "1327");
    let r = app
        .send(
            TestRequest::delete()
                .uri("/dynamic-entity/price-products?filter[price-products.currency]=USD")
                .insert_header(("X-Api-Key", key.as_str()))
                .insert_header(("If-Match", tag.as_str())),
        )
        .await;
    r.assert_error(412, "1327");
    assert_eq!(app.all("price-products", &key).await.len(), prices);
    let names: Vec<Value> = app
        .all("tax-sets", &key)
        .await
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert!(!names.contains(&json!("Collection")) && !names.contains(&json!("From CSV")));
    let r = write(
        &app,
        Method::PATCH,
        "tax-sets",
        &key,
        &body,
        &[("If-Match", "*")],
    )
    .await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
}

/// Eight PATCHes of one row under the same tag, at once: the check runs on the locked row
/// inside each write's transaction, so exactly one wins and the others are 412.
async fn concurrent_writers_with_one_etag_cannot_both_win(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let tag = etag(&app, "tax-sets/1", &key).await;
    let tries = (0..8).map(|n| {
        let body = json!({"data": {"name": format!("Writer {n}")}});
        let (app, key, tag) = (&app, key.clone(), tag.clone());
        async move {
            write(
                app,
                Method::PATCH,
                "tax-sets/1",
                &key,
                &body,
                &[("If-Match", &tag)],
            )
            .await
        }
    });
    let replies = futures_util::future::join_all(tries).await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 412, 412, 412, 412, 412, 412, 412],
        "{replies:?}"
    );
    let winner = replies.iter().find(|r| r.status.as_u16() == 200).unwrap();
    let stored = get(&app, "tax-sets/1", &key, &[]).await;
    assert_eq!(stored.data()["name"], winner.written(200)["name"]);
}
