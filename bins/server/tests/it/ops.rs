//! Operations: `/metrics` (parsed, and its counters moving after requests), who may read it,
//! request ids (taken, made, echoed, in 5xx bodies), and CSV exports whose formula-like cells
//! are neutralised for spreadsheets.

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::http::header::{ACCEPT, CONTENT_TYPE};
use actix_web::test::TestRequest;
use dynex_core::Dynex;
use dynex_server::{AppConfig, MetricsAccess};
use dynex_test_support::{TestDb, async_backend_tests};
use serde_json::json;

use crate::admin::call;
use crate::support::{Reply, TestApp, demo, enc, scoped_key};

async_backend_tests!(
    metrics_count_requests_by_route_template,
    metrics_count_imports_exports_and_database_errors,
    metrics_access_follows_the_flag,
    request_ids_are_taken_or_made_and_echoed,
    server_errors_carry_the_request_id,
    back_office_exports_neutralise_formulas_and_api_exports_keep_them,
);

/// A scrape, parsed: `name{labels}` to value.
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    /// Parses the Prometheus text format, checking that every line is a comment or a sample.
    fn parse(text: &str) -> Scrape {
        let mut samples = BTreeMap::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
                continue;
            }
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample: {line}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line}"));
            assert!(
                series
                    .split('{')
                    .next()
                    .is_some_and(|n| n.starts_with("dynex_")),
                "{line}"
            );
            samples.insert(series.to_string(), value);
        }
        Scrape(samples)
    }

    /// The value of `name` with exactly `labels` (in their order of output), 0 when absent.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let key = if labels.is_empty() {
            name.to_string()
        } else {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            format!("{name}{{{}}}", labels.join(","))
        };
        self.0.get(&key).copied().unwrap_or(0.0)
    }

    /// Every series of `name`.
    fn series(&self, name: &str) -> Vec<&str> {
        self.0
            .keys()
            .filter(|k| k.split('{').next() == Some(name))
            .map(String::as_str)
            .collect()
    }
}

async fn scrape(app: &TestApp) -> Scrape {
    let r = app.send(TestRequest::get().uri("/metrics")).await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    assert_eq!(
        r.content_type.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    Scrape::parse(&r.raw)
}

const COLLECTION: &str = "/dynamic-entity/{alias}";
const ONE: &str = "/dynamic-entity/{alias}/{id}";

/// Requests are counted by route template, method and status, and timed; the path asked for
/// never becomes a label. The pool and the configuration version are read when scraped.
async fn metrics_count_requests_by_route_template(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    let before = scrape(&app).await;
    let requests = "dynex_http_requests_total";
    let get = |route, status| [("route", route), ("method", "GET"), ("status", status)];
    app.api("countries", &key).await.rows();
    app.api("tax-rates?page[limit]=2", &key).await.rows();
    app.api("countries/1", &key).await.data();
    app.api("countries/99999", &key)
        .await
        .assert_error(404, "1303");
    app.get("/no/such/route", &key)
        .await
        .assert_error(404, "007");
    app.send(
        TestRequest::default()
            .method(Method::from_bytes(b"BREW").unwrap())
            .uri("/health/live"),
    )
    .await;
    let after = scrape(&app).await;
    let moved =
        |labels: &[(&str, &str)]| after.get(requests, labels) - before.get(requests, labels);
    assert_eq!(moved(&get(COLLECTION, "200")), 2.0);
    assert_eq!(moved(&get(ONE, "200")), 1.0);
    assert_eq!(moved(&get(ONE, "404")), 1.0);
    assert_eq!(moved(&get("(unmatched)", "404")), 1.0);
    assert_eq!(
        moved(&[
            ("route", "/health/live"),
            ("method", "OTHER"),
            ("status", "404")
        ]),
        1.0,
        "{:?}",
        after.series(requests)
    );
    for series in after.series(requests) {
        assert!(
            !series.contains("countries") && !series.contains("tax-rates"),
            "a path became a label: {series}"
        );
    }
    let latency = "dynex_http_request_duration_seconds";
    let timed = [("route", COLLECTION), ("method", "GET")];
    assert_eq!(after.get(&format!("{latency}_count"), &timed), 2.0);
    assert!(after.get(&format!("{latency}_sum"), &timed) > 0.0);
    let mut inf = timed.to_vec();
    inf.push(("le", "+Inf"));
    assert_eq!(after.get(&format!("{latency}_bucket"), &inf), 2.0);

    assert_eq!(after.get("dynex_db_connections_max", &[]), 8.0);
    assert_eq!(after.get("dynex_db_connections_waiting", &[]), 0.0);
    let open = after.get("dynex_db_connections", &[("state", "idle")])
        + after.get("dynex_db_connections", &[("state", "in_use")]);
    assert!((1.0..=8.0).contains(&open), "{open}");
    let version = dx.snapshot().version as f64;
    assert_eq!(after.get("dynex_config_version", &[]), version);
    assert_eq!(
        after.get(
            "dynex_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    // The in-flight gauge counts the scrape itself.
    assert_eq!(after.get("dynex_http_requests_in_flight", &[]), 1.0);
}

/// Imports and exports are counted with their rows; a failed statement is a database error of
/// kind `statement`, a refused row none.
async fn metrics_count_imports_exports_and_database_errors(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    let import = |body: &'static str| {
        TestRequest::post()
            .uri("/dynamic-entity/tax-sets")
            .insert_header(("X-Api-Key", key.as_str()))
            .insert_header((CONTENT_TYPE, "text/csv"))
            .set_payload(body)
    };
    let r = app.send(import("name\nOps A\nOps B\n")).await;
    assert_eq!(r.status.as_u16(), 201, "{r:?}");
    let r = app.send(import("name\nOps C\n\"\"\n")).await;
    assert_eq!(r.status.as_u16(), 400, "{r:?}");
    let r = app
        .send(
            TestRequest::get()
                .uri("/dynamic-entity/tax-sets")
                .insert_header(("X-Api-Key", key.as_str()))
                .insert_header((ACCEPT, "text/csv")),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    let exported = r.raw.lines().count() - 1;
    let m = scrape(&app).await;
    assert_eq!(m.get("dynex_imports_total", &[("outcome", "ok")]), 1.0);
    assert_eq!(
        m.get("dynex_imports_total", &[("outcome", "rejected")]),
        1.0
    );
    assert_eq!(
        m.get("dynex_import_rows_total", &[("result", "inserted")]),
        2.0
    );
    assert_eq!(
        m.get("dynex_import_rows_total", &[("result", "rejected")]),
        1.0
    );
    assert_eq!(m.get("dynex_exports_total", &[("outcome", "ok")]), 1.0);
    assert_eq!(m.get("dynex_export_rows_total", &[]), exported as f64);
    assert!(m.series("dynex_database_errors_total").is_empty());

    break_countries(&dx);
    let r = app.api("countries", &key).await;
    assert_eq!(
        (r.status.as_u16(), &r.body[0]["code"]),
        (500, &json!("1391"))
    );
    let m = scrape(&app).await;
    assert_eq!(
        m.get("dynex_database_errors_total", &[("kind", "statement")]),
        1.0
    );
    let status = [("route", COLLECTION), ("method", "GET"), ("status", "500")];
    assert_eq!(m.get("dynex_http_requests_total", &status), 1.0);
}

/// Renames a column that `countries` serves, so that reading it fails in the database (1391).
fn break_countries(dx: &Dynex) {
    let mut conn = dx.db().conn().expect("a connection");
    dynex_core::db::run_script(
        &mut conn,
        "ALTER TABLE spy_country RENAME COLUMN iso3_code TO iso3_gone",
    )
    .expect("rename a column");
}

/// `--metrics admin` needs the `admin` scope, `--metrics off` has no route; `public` (the
/// default) needs nothing.
async fn metrics_access_follows_the_flag(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    assert_eq!(
        app.send(TestRequest::get().uri("/metrics"))
            .await
            .status
            .as_u16(),
        200
    );
    let with = |access| {
        TestApp::with_config(
            dx.clone(),
            AppConfig {
                metrics_access: access,
                ..AppConfig::default()
            },
        )
    };
    let admin_only = with(MetricsAccess::Admin).await;
    admin_only
        .send(TestRequest::get().uri("/metrics"))
        .await
        .assert_error(403, "002");
    admin_only
        .get("/metrics", &key)
        .await
        .assert_error(403, "002");
    let admin = scoped_key(&dx, "scraper", "admin");
    let r = admin_only.get("/metrics", &admin).await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    assert!(r.raw.contains("dynex_http_requests_total"));
    let r = admin_only
        .send(TestRequest::get().uri(&format!("/metrics?api_key={}", enc(&admin))))
        .await;
    assert_eq!(
        r.status.as_u16(),
        200,
        "Prometheus can pass the key as a parameter"
    );
    with(MetricsAccess::Off)
        .await
        .get("/metrics", &admin)
        .await
        .assert_error(404, "007");
}

/// A sane `X-Request-Id` is echoed; a missing or unfit one is replaced by a new, unique one.
async fn request_ids_are_taken_or_made_and_echoed(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let with_id = |id: &str| {
        TestRequest::get()
            .uri("/dynamic-entity/countries/1")
            .insert_header(("X-Api-Key", key.as_str()))
            .insert_header(("X-Request-Id", id))
    };
    for id in ["client-7f3c:42", "3fa85f64-5717-4562-b3fc-2c963f66afa6"] {
        let r = app.send(with_id(id)).await;
        assert_eq!(r.header("x-request-id").as_deref(), Some(id));
    }
    let made = |r: &Reply| {
        let id = r.header("x-request-id").expect("an id is always answered");
        assert!(
            id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        id
    };
    let long = "x".repeat(129);
    for unfit in ["two words", "quote\"d", long.as_str()] {
        let r = app.send(with_id(unfit)).await;
        assert_ne!(made(&r), unfit);
    }
    let a = made(&app.api("countries/1", &key).await);
    let b = made(&app.api("countries/99999", &key).await);
    assert_ne!(a, b);
    assert_eq!(a[..16], b[..16], "one process, one prefix");
    // Answers that are no JSON carry it too, and a 4xx body does not.
    let r = app.send(TestRequest::get().uri("/health/live")).await;
    made(&r);
    let r = app.api("countries/99999", &key).await;
    assert!(r.body[0].get("requestId").is_none(), "{r:?}");
}

/// A 5xx answer names the request id in each error object, as in its header; the rest of the
/// object is Spryker's.
async fn server_errors_carry_the_request_id(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    break_countries(&dx);
    let r = app
        .send(
            TestRequest::get()
                .uri("/dynamic-entity/countries")
                .insert_header(("X-Api-Key", key.as_str()))
                .insert_header(("X-Request-Id", "trace-500")),
        )
        .await;
    assert_eq!(
        r.body,
        json!([{"code": "1391", "status": 500, "message": "Internal server error.",
                "requestId": "trace-500"}])
    );
    assert_eq!(r.header("x-request-id").as_deref(), Some("trace-500"));
    let r = app.api("countries/1", &key).await;
    assert_eq!(
        (r.status.as_u16(), &r.body[0]["code"]),
        (500, &json!("1391"))
    );
    assert_eq!(
        r.body[0]["requestId"].as_str(),
        r.header("x-request-id").as_deref()
    );
}

/// Text cells starting with `=`, `+`, `-` or `@` get a leading `'` in back office downloads
/// (export jobs) unless `formulas: keep`; API exports keep them unless `formulas=escape`;
/// numbers such as `-5.00` are never touched.
async fn back_office_exports_neutralise_formulas_and_api_exports_keep_them(db: TestDb) {
    let (dx, app, [token, _]) = crate::admin::setup(&db).await;
    let key = scoped_key(&dx, "rw", "dynamic-entity:read dynamic-entity:write");
    let formula = "=HYPERLINK(\"http://evil.example\",\"x\")";
    let r = app
        .post(
            "tax-rates",
            &key,
            &json!({"data": [
                {"fk_country": 2, "name": formula, "rate": -5},
                {"fk_country": 2, "name": "@SUM(A1)", "rate": 1},
                {"fk_country": 2, "name": "Plain", "rate": -0.5},
            ]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{r:?}");
    let quoted = |cell: &str| format!("\"{}\"", cell.replace('"', "\"\""));
    let escaped_line = format!("{},-5.00", quoted(&format!("'{formula}")));
    let raw_line = format!("{},-5.00", quoted(formula));

    let job = |formulas: Option<&str>| {
        let mut body = json!({"entity": "tax-rates", "fields": ["name", "rate"]});
        if let Some(f) = formulas {
            body["formulas"] = json!(f);
        }
        let (app, token) = (&app, &token);
        async move { call(app, Method::POST, "jobs/export", token, Some(&body)).await }
    };
    let r = job(None).await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    let lines: Vec<&str> = r.raw.lines().collect();
    assert!(lines.contains(&escaped_line.as_str()), "{}", r.raw);
    assert!(lines.contains(&"'@SUM(A1),1.00"), "{}", r.raw);
    assert!(lines.contains(&"Plain,-0.50"), "{}", r.raw);
    let r = job(Some("keep")).await;
    assert!(r.raw.lines().any(|l| l == raw_line), "{}", r.raw);
    let r = job(Some("sometimes")).await;
    r.assert_error(400, "1401");

    let export = |query: &str| {
        app.send(
            TestRequest::get()
                .uri(&format!(
                    "/dynamic-entity/tax-rates?fields[tax-rates]=name,rate{query}"
                ))
                .insert_header(("X-Api-Key", key.as_str()))
                .insert_header((ACCEPT, "text/csv")),
        )
    };
    let r = export("").await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    assert!(r.raw.lines().any(|l| l == raw_line), "{}", r.raw);
    assert!(r.raw.lines().any(|l| l == "@SUM(A1),1.00"), "{}", r.raw);
    let r = export("&formulas=escape").await;
    assert!(r.raw.lines().any(|l| l == escaped_line), "{}", r.raw);
    export("&formulas=maybe").await.assert_error(400, "1320");
}
