//! CSV over HTTP: `GET /{alias}` with `Accept: text/csv` streams every matching row in keyset
//! pages; `POST`, `PATCH` and `PUT /{alias}` with `Content-Type: text/csv` insert, update and
//! upsert through the import engine, all or nothing by default and line by line with
//! `X-Is-Transactional: false`. Every write is checked by reading the rows back.

use actix_web::http::Method;
use actix_web::http::header::{ACCEPT, CONTENT_TYPE};
use actix_web::test::TestRequest;
use dynex_test_support::{
    TestDb, async_backend_tests, config_field, country, csv_line, reconfigure, tax_rates,
};
use serde_json::{Value, json};

use crate::support::{NON_TRANSACTIONAL, PREFIX, Reply, TestApp, demo, enc, scoped_key};

async_backend_tests!(
    export_streams_more_than_a_page_and_round_trips,
    export_follows_the_accept_header,
    export_refusals_are_json_errors,
    export_needs_the_read_scope,
    post_inserts_all_or_nothing,
    post_non_transactional_keeps_the_good_lines,
    patch_updates_by_identifier_or_key,
    put_upserts_by_identifier_or_key,
    header_problems_are_1401,
    imports_need_the_write_scope,
    bodies_over_the_limit_are_1322,
    row_routes_are_not_csv,
    countries_round_trip_with_quoting,
    round_trip_with_a_non_editable_field,
    a_key_that_is_not_unique_is_not_guessed,
    an_unterminated_quote_is_a_refused_line,
);

/// The header of the `countries` CSV: the visible field names in configured order.
const COUNTRY_HEADER: &str =
    "id_country,iso2_code,iso3_code,name,postal_code_mandatory,postal_code_regex\n";

/// The header of the `tax-rates` CSV.
const TAX_RATE_HEADER: &str = "id_tax_rate,fk_country,name,rate\n";

/// The content type of a CSV answer.
const TEXT_CSV: &str = "text/csv; charset=utf-8";

/// `GET /dynamic-entity/{path}` with `Accept: text/csv`.
async fn get_csv(app: &TestApp, path: &str, key: &str) -> Reply {
    get_accepting(app, path, key, "text/csv").await
}

/// `GET /dynamic-entity/{path}` with this `Accept` header.
async fn get_accepting(app: &TestApp, path: &str, key: &str, accept: &str) -> Reply {
    app.send(
        TestRequest::get()
            .uri(&format!("/{PREFIX}/{path}"))
            .insert_header(("X-Api-Key", key))
            .insert_header((ACCEPT, accept)),
    )
    .await
}

/// A successful CSV answer's text, asserting 200 and `text/csv; charset=utf-8`.
fn csv_body(r: &Reply) -> &str {
    assert_eq!(r.status.as_u16(), 200, "unexpected reply: {r:?}");
    assert_eq!(r.content_type.as_deref(), Some(TEXT_CSV), "{r:?}");
    &r.raw
}

/// `method /dynamic-entity/{path}` with the CSV `body`, `Content-Type: text/csv` and the extra
/// `headers`.
async fn send_csv(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = TestRequest::default()
        .method(method)
        .uri(&format!("/{PREFIX}/{path}"))
        .insert_header(("X-Api-Key", key))
        .insert_header((CONTENT_TYPE, "text/csv"))
        .set_payload(body.to_string());
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    app.send(req).await
}

/// The import summary without its timings (checked to be non-negative numbers).
fn summary(data: &Value) -> Value {
    let mut value = data.clone();
    let object = value
        .as_object_mut()
        .unwrap_or_else(|| panic!("the summary is not an object: {data}"));
    for timing in ["seconds", "rows_per_second"] {
        let t = object
            .remove(timing)
            .unwrap_or_else(|| panic!("no `{timing}` in {data}"));
        assert!(t.as_f64().is_some_and(|n| n >= 0.0), "{timing}: {t}");
    }
    // Nothing is skipped unless a run is resumed (tests/it/resume.rs checks that).
    if object.get("skipped") == Some(&serde_json::json!(0)) {
        object.remove("skipped");
    }
    value
}

/// The summary an import should answer (timings left out):
/// `[read, inserted, updated, unchanged, rejected]`.
fn expected(
    entity: &str,
    mode: &str,
    atomic: bool,
    [read, inserted, updated, unchanged, rejected]: [u64; 5],
) -> Value {
    json!({"entity": entity, "mode": mode, "dry_run": false, "atomic": atomic,
           "committed": true, "read": read, "inserted": inserted, "updated": updated,
           "unchanged": unchanged, "rejected": rejected, "stopped_early": false})
}

/// The summary of a successful import answer `{"data": summary}` with this status.
fn imported(r: &Reply, status: u16) -> Value {
    assert_eq!(r.status.as_u16(), status, "unexpected reply: {r:?}");
    r.assert_json();
    let object = r
        .body
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {r:?}"));
    assert_eq!(object.keys().collect::<Vec<_>>(), ["data"], "{r:?}");
    summary(&object["data"])
}

/// A rejected line as the answer lists it: `(line, code, status, field)`.
type LineError = (u64, String, u16, Option<String>);

/// A rejected line, for comparisons.
fn le(line: u64, code: &str, status: u16, field: Option<&str>) -> LineError {
    (line, code.to_string(), status, field.map(str::to_string))
}

/// The `(line, code, status, field)` of each error object, checking each one's shape.
fn line_errors(errors: &Value, r: &Reply) -> Vec<LineError> {
    let errors = errors
        .as_array()
        .unwrap_or_else(|| panic!("errors are not an array: {r:?}"));
    assert!(!errors.is_empty(), "no errors: {r:?}");
    errors
        .iter()
        .map(|e| {
            let o = e
                .as_object()
                .unwrap_or_else(|| panic!("error is not an object: {r:?}"));
            let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
            keys.sort_unstable();
            let mut wanted = vec!["code", "line", "message", "status"];
            if o.contains_key("field") {
                wanted.insert(1, "field");
            }
            assert_eq!(keys, wanted, "{r:?}");
            assert!(
                o["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{r:?}"
            );
            (
                o["line"].as_u64().expect("a line number"),
                o["code"].as_str().expect("a string code").to_string(),
                u16::try_from(o["status"].as_u64().expect("a numeric status")).unwrap(),
                o.get("field")
                    .map(|f| f.as_str().expect("a string field").to_string()),
            )
        })
        .collect()
}

/// The rejected lines of a transactional import answer: a bare error array with this status.
fn rejected(r: &Reply, status: u16) -> Vec<LineError> {
    assert_eq!(r.status.as_u16(), status, "unexpected reply: {r:?}");
    r.assert_json();
    assert!(r.body.is_array(), "not an error array: {r:?}");
    line_errors(&r.body, r)
}

/// A non-transactional answer with rejected lines: `{"data": summary, "errors": [...]}` with
/// this status.
fn partial(r: &Reply, status: u16) -> (Value, Vec<LineError>) {
    assert_eq!(r.status.as_u16(), status, "unexpected reply: {r:?}");
    r.assert_json();
    let object = r
        .body
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {r:?}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["data", "errors"], "{r:?}");
    (summary(&object["data"]), line_errors(&object["errors"], r))
}

/// Rows as the export writes them: `header` (which ends in a newline), then each row's values
/// under the header's columns (null empty, strings as they are, the rest as JSON text).
fn csv_doc(header: &str, rows: &[Value]) -> String {
    let columns: Vec<&str> = header.trim_end().split(',').collect();
    let mut text = header.to_string();
    for row in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match &row[*c] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        text.push_str(&csv_line(&cells));
    }
    text
}

/// `text` with its one line `from` (a whole line, newline included) replaced by `to`.
fn edit(text: &str, from: &str, to: &str) -> String {
    let anchored = format!("\n{from}");
    assert_eq!(
        text.matches(&anchored).count(),
        1,
        "the line {from:?} is not in the CSV once"
    );
    text.replacen(&anchored, &format!("\n{to}"), 1)
}

/// Every row of `alias` by the JSON API, page by page, in identifier order.
async fn json_rows(app: &TestApp, alias: &str, key: &str) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let page = app
            .api(
                &format!("{alias}?page[limit]=1000&page[offset]={}", all.len()),
                key,
            )
            .await
            .rows()
            .clone();
        let last = page.len() < 1000;
        all.extend(page);
        if last {
            return all;
        }
    }
}

/// `row` without its member `field`.
fn without(row: &Value, field: &str) -> Value {
    let mut row = row.clone();
    row.as_object_mut().expect("a row object").remove(field);
    row
}

/// The CSV line of one row under `header`.
fn row_line(header: &str, row: &Value) -> String {
    csv_doc(header, std::slice::from_ref(row))[header.len()..].to_string()
}

/// Every country, without the identifiers of those after the demo's twelve (the database
/// assigns them, and on PostgreSQL and MariaDB a refused insert uses some up).
async fn countries(app: &TestApp, key: &str) -> Vec<Value> {
    app.all("countries", key)
        .await
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if i < 12 {
                r.clone()
            } else {
                without(r, "id_country")
            }
        })
        .collect()
}

/// The `fk_country` (null, 5 or 7), name and rate of the `i`-th bulk tax rate.
fn bulk_rate(i: usize) -> (Value, String, String) {
    let fk = match i {
        _ if i.is_multiple_of(10) => Value::Null,
        _ if i % 2 == 1 => json!(5),
        _ => json!(7),
    };
    (
        fk,
        format!("Bulk rate {i}"),
        format!("{}.{:02}", i % 50, (i * 7) % 100),
    )
}

/// Bulk tax rates `0..n` as a CSV file with the columns in another order than configured.
fn bulk_csv(n: usize) -> String {
    let mut text = "name,rate,fk_country\n".to_string();
    for i in 0..n {
        let (fk, name, rate) = bulk_rate(i);
        let fk = if fk.is_null() {
            String::new()
        } else {
            fk.to_string()
        };
        text.push_str(&csv_line(&[name, rate, fk]));
    }
    text
}

/// The bulk tax rate `i` as the API reads it, without its identifier.
fn bulk_row(i: usize) -> Value {
    let (fk, name, rate) = bulk_rate(i);
    json!({"fk_country": fk, "name": name, "rate": rate})
}

/// Creates 1200 tax rates by a CSV POST (after a refused attempt that writes nothing, with bad
/// lines in both batches of 1000), exports them in keyset pages (whole and filtered), edits
/// three cells in the export and PUTs it back: exactly those rows change.
async fn export_streams_more_than_a_page_and_round_trips(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    const N: usize = 1200;
    let good = bulk_csv(N);

    // A bad line in the first batch and one in the second: nothing is written, not even the
    // first batch's good rows; both lines are reported with their numbers (header = line 1).
    let bad = edit(&good, "Bulk rate 3,3.21,5\n", "\"\",3.21,5\n");
    let bad = edit(&bad, "Bulk rate 1149,49.43,5\n", "Bulk rate 1149,abc,5\n");
    let r = send_csv(&app, Method::POST, "tax-rates", &key, &bad, &[]).await;
    assert_eq!(
        rejected(&r, 400),
        [
            le(5, "1307", 400, Some("name")),
            le(1151, "1305", 400, Some("rate")),
        ]
    );
    assert_eq!(app.all("tax-rates", &key).await, tax_rates());

    let r = send_csv(&app, Method::POST, "tax-rates", &key, &good, &[]).await;
    assert_eq!(
        imported(&r, 201),
        expected("tax-rates", "insert", true, [1200, 1200, 0, 0, 0])
    );

    // The whole table as the JSON API reads it: the demo's ten rows and the new ones (whose
    // identifiers the database assigns), in identifier order.
    let all = json_rows(&app, "tax-rates", &key).await;
    assert_eq!(all.len(), 10 + N);
    assert_eq!(all[..10], tax_rates()[..]);
    let by_name = |rows: &mut Vec<Value>| {
        rows.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    };
    let mut created: Vec<Value> = all[10..]
        .iter()
        .map(|r| without(r, "id_tax_rate"))
        .collect();
    let mut wanted: Vec<Value> = (0..N).map(bulk_row).collect();
    by_name(&mut created);
    by_name(&mut wanted);
    assert_eq!(created, wanted);

    // The export is every row, in identifier order, over more than one keyset page.
    let export = get_csv(&app, "tax-rates", &key).await;
    let text = csv_body(&export).to_string();
    assert_eq!(text.lines().count(), 1 + 10 + N);
    assert_eq!(text, csv_doc(TAX_RATE_HEADER, &all));

    // Filtered: more matching rows than a keyset page holds, still every one, in order.
    let in_list = enc(r#"{"in":[5,7]}"#);
    let r = get_csv(
        &app,
        &format!("tax-rates?filter[tax-rates.fk_country]={in_list}"),
        &key,
    )
    .await;
    let matching: Vec<Value> = all
        .iter()
        .filter(|r| r["fk_country"] == json!(5) || r["fk_country"] == json!(7))
        .cloned()
        .collect();
    assert_eq!(matching.len(), 4 + 1080);
    assert_eq!(csv_body(&r), csv_doc(TAX_RATE_HEADER, &matching));
    // Two filters AND together; a filter matching nothing leaves the header alone.
    let rates = enc(r#"{"in":["2.14","20.00"]}"#);
    let r = get_csv(
        &app,
        &format!("tax-rates?filter[tax-rates.fk_country]=7&filter[tax-rates.rate]={rates}"),
        &key,
    )
    .await;
    let both: Vec<Value> = all
        .iter()
        .filter(|r| {
            r["fk_country"] == json!(7)
                && (r["rate"] == json!("2.14") || r["rate"] == json!("20.00"))
        })
        .cloned()
        .collect();
    // France Standard and the twelve bulk rates `i` ≡ 2 (mod 100).
    assert_eq!(both.len(), 13, "{both:?}");
    assert_eq!(csv_body(&r), csv_doc(TAX_RATE_HEADER, &both));
    let r = get_csv(&app, "tax-rates?filter[tax-rates.name]=nobody", &key).await;
    assert_eq!(csv_body(&r), TAX_RATE_HEADER);

    // Round trip: three cells changed (a demo rate, a bulk name, a bulk country cleared);
    // the PUT changes exactly those rows and counts the others unchanged.
    let at = |name: &str| {
        all.iter()
            .position(|r| r["name"] == json!(name))
            .unwrap_or_else(|| panic!("no tax rate {name}"))
    };
    let (france, renamed, cleared) = (4, at("Bulk rate 1089"), at("Bulk rate 1194"));
    let mut changed = all.clone();
    changed[france]["rate"] = json!("19.60");
    changed[renamed]["name"] = json!("Renamed rate");
    assert_eq!(changed[cleared]["fk_country"], json!(7));
    changed[cleared]["fk_country"] = Value::Null;
    let mut edited = text.clone();
    for i in [france, renamed, cleared] {
        edited = edit(
            &edited,
            &row_line(TAX_RATE_HEADER, &all[i]),
            &row_line(TAX_RATE_HEADER, &changed[i]),
        );
    }
    assert_eq!(edited, csv_doc(TAX_RATE_HEADER, &changed));
    let r = send_csv(&app, Method::PUT, "tax-rates", &key, &edited, &[]).await;
    assert_eq!(
        imported(&r, 200),
        expected("tax-rates", "upsert", true, [1210, 0, 3, 1207, 0])
    );
    for i in [france, renamed, cleared] {
        let id = &changed[i]["id_tax_rate"];
        assert_eq!(
            app.find("tax-rates", id, &key).await.as_ref(),
            Some(&changed[i])
        );
    }
    assert_eq!(json_rows(&app, "tax-rates", &key).await, changed);
    let again = get_csv(&app, "tax-rates", &key).await;
    assert_eq!(csv_body(&again), edited);

    // The same file again changes nothing.
    let r = send_csv(&app, Method::PUT, "tax-rates", &key, &edited, &[]).await;
    assert_eq!(
        imported(&r, 200),
        expected("tax-rates", "upsert", true, [1210, 0, 0, 1210, 0])
    );
}

/// CSV is answered when `text/csv` comes before `application/json` in `Accept`; otherwise the
/// answer is the usual JSON page. `?api_key=` is not taken for a filter.
async fn export_follows_the_accept_header(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let csv = csv_doc(COUNTRY_HEADER, &dynex_test_support::countries());
    for accept in [
        "text/csv",
        "text/csv, application/json",
        "text/csv;q=0.9, application/json;q=0.5",
        "application/xml, text/csv",
    ] {
        let r = get_accepting(&app, "countries", &key, accept).await;
        assert_eq!(csv_body(&r), csv, "{accept}");
    }
    for accept in [
        "application/json",
        "application/json, text/csv",
        "*/*",
        "text/plain",
    ] {
        let r = get_accepting(&app, "countries", &key, accept).await;
        // The JSON answer is a page of the default size, not every row.
        assert_eq!(r.column("id_country").len(), 12, "{accept}");
        assert_eq!(r.rows()[0], country(1), "{accept}");
    }
    let r = app
        .send(
            TestRequest::get()
                .uri(&format!(
                    "/{PREFIX}/countries?api_key={key}&filter[countries.iso2_code]=AT"
                ))
                .insert_header((ACCEPT, "text/csv")),
        )
        .await;
    assert_eq!(csv_body(&r), csv_doc(COUNTRY_HEADER, &[country(2)]));
}

/// `page[…]` and `include` are refused with 1320 (a CSV answer is every matching row, without
/// relations); bad filters and unknown entities answer the same JSON errors as a JSON read.
async fn export_refusals_are_json_errors(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for (query, name) in [
        ("page[limit]=5", "page[limit]"),
        ("page[offset]=0", "page[offset]"),
        ("page[limit]=5&page[offset]=5", "page[limit]"),
        ("include=countryTaxRates", "include"),
    ] {
        let r = get_csv(&app, &format!("countries?{query}"), &key).await;
        assert_eq!(
            r.assert_error(400, "1320"),
            format!(
                "Invalid query parameter `{name}`: a CSV answer holds every matching row, \
                 without relations."
            ),
            "{query}"
        );
    }
    for (query, code) in [
        ("filter[countries.nope]=1", "1315"),
        ("filter[nope]=1", "1315"),
        ("filter[countries.id_country]=abc", "1319"),
        ("filter[countries.postal_code_mandatory]=yes", "1319"),
        ("filter[countries.name]=a%00", "1319"),
    ] {
        let path = format!("countries?{query}");
        let r = get_csv(&app, &path, &key).await;
        let json = app.api(&path, &key).await;
        assert_eq!(r.assert_error(400, code), json.assert_error(400, code));
        assert_eq!(r.body, json.body, "{query}");
    }
    let r = get_csv(&app, "nope", &key).await;
    r.assert_error(404, "007");
}

/// No credentials, or a key without the entity's read scope: 403 / 002 as for JSON.
async fn export_needs_the_read_scope(db: TestDb) {
    let (dx, app, _key) = demo(&db).await;
    let r = app
        .send(
            TestRequest::get()
                .uri(&format!("/{PREFIX}/countries"))
                .insert_header((ACCEPT, "text/csv")),
        )
        .await;
    assert_eq!(r.assert_error(403, "002"), "Unauthorized request.");
    let r = get_csv(&app, "countries", "not-a-key").await;
    r.assert_error(403, "002");
    let writer = scoped_key(&dx, "writer", "dynamic-entity:countries:write");
    let r = get_csv(&app, "countries", &writer).await;
    assert_eq!(
        r.assert_error(403, "002"),
        "Unauthorized request. The credentials lack the scope `dynamic-entity:countries:read`."
    );
    let reader = scoped_key(&dx, "reader", "dynamic-entity:countries:read");
    let r = get_csv(&app, "countries", &reader).await;
    assert_eq!(
        csv_body(&r),
        csv_doc(COUNTRY_HEADER, &dynex_test_support::countries())
    );
    let r = get_csv(&app, "tax-rates", &reader).await;
    assert_eq!(
        r.assert_error(403, "002"),
        "Unauthorized request. The credentials lack the scope `dynamic-entity:tax-rates:read`."
    );
}

/// Good lines, with and without the optional columns, and a file as spreadsheets write it
/// (byte-order mark, CRLF, quoted cells).
const GOOD_COUNTRIES: &str = "\u{feff}iso2_code,name,postal_code_mandatory,postal_code_regex\r\n\
    XA,\"Xanadu, Upper\",true,X[0-9]{2}\r\n\
    XB,\"The \"\"B\"\" land\",,\r\n";

/// A file with one good line and a refused line for each kind of problem.
const BAD_COUNTRIES: &str = "iso2_code,name,postal_code_mandatory\n\
    XC,Xcountry,true\n\
    AT,Duplicate,false\n\
    XD,,false\n\
    XE,Xe,maybe\n\
    XF,Xf\n\
    XGG,Toolong,true\n";

/// The rejected lines of [`BAD_COUNTRIES`].
fn bad_countries_errors() -> Vec<LineError> {
    vec![
        le(3, "1309", 400, Some("iso2_code")),
        le(4, "1307", 400, Some("name")),
        le(5, "1305", 400, Some("postal_code_mandatory")),
        le(6, "1301", 400, None),
        le(7, "1306", 400, Some("iso2_code")),
    ]
}

/// A CSV POST inserts every line (201 with the summary) or, when any line is refused, nothing
/// (the error objects of every refused line, in line order, with the first one's status).
async fn post_inserts_all_or_nothing(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = send_csv(&app, Method::POST, "countries", &key, GOOD_COUNTRIES, &[]).await;
    assert_eq!(
        imported(&r, 201),
        expected("countries", "insert", true, [2, 2, 0, 0, 0])
    );
    let xa = json!({"id_country": 13, "iso2_code": "XA", "iso3_code": null,
                    "name": "Xanadu, Upper", "postal_code_mandatory": true,
                    "postal_code_regex": "X[0-9]{2}"});
    // An empty cell is null, which a create leaves to the column default, as JSON's null.
    let xb = json!({"id_country": 14, "iso2_code": "XB", "iso3_code": null,
                    "name": "The \"B\" land", "postal_code_mandatory": false,
                    "postal_code_regex": null});
    let mut all = dynex_test_support::countries();
    all.extend([xa, xb]);
    assert_eq!(app.all("countries", &key).await, all);

    let r = send_csv(&app, Method::POST, "countries", &key, BAD_COUNTRIES, &[]).await;
    assert_eq!(rejected(&r, 400), bad_countries_errors());
    let messages: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(messages[1].contains("name"), "{messages:?}");
    assert!(messages[3].contains("Line 6"), "{messages:?}");
    assert_eq!(app.all("countries", &key).await, all);

    // Line numbers count the lines of the file: CRLF endings, and a quoted cell spanning two
    // lines.
    let body = "iso2_code,name\r\nYA,\"multi\r\nline\"\r\nYB,\r\n";
    let r = send_csv(&app, Method::POST, "countries", &key, body, &[]).await;
    assert_eq!(rejected(&r, 400), [le(4, "1307", 400, Some("name"))]);
    assert_eq!(
        r.body[0]["message"],
        json!("The required field must not be empty. Field: `countries[4].name`")
    );
    // The same key twice in one file: the second is refused as a duplicate; nothing written.
    let twice = "iso2_code,name\nXC,One\nXC,Two\n";
    let r = send_csv(&app, Method::POST, "countries", &key, twice, &[]).await;
    assert_eq!(rejected(&r, 400), [le(3, "1309", 400, Some("iso2_code"))]);
    // An identifier that is not creatable: refused as in JSON (1304, immutable).
    let with_id = "id_country,iso2_code,name\n77,XC,One\n";
    let r = send_csv(&app, Method::POST, "countries", &key, with_id, &[]).await;
    assert_eq!(rejected(&r, 400), [le(2, "1304", 400, Some("id_country"))]);
    assert_eq!(
        r.body[0]["message"],
        json!("Modification of immutable field `countries[2].id_country` is prohibited.")
    );
    assert_eq!(app.all("countries", &key).await, all);

    // A header alone inserts nothing and succeeds.
    let r = send_csv(
        &app,
        Method::POST,
        "countries",
        &key,
        "iso2_code,name\n",
        &[],
    )
    .await;
    assert_eq!(
        imported(&r, 201),
        expected("countries", "insert", true, [0, 0, 0, 0, 0])
    );
    // The content type may carry parameters and any case.
    let r = send_csv(
        &app,
        Method::POST,
        "countries",
        &key,
        "iso2_code,name\nXC,Xc\n",
        &[(CONTENT_TYPE.as_str(), "Text/CSV; charset=utf-8")],
    )
    .await;
    assert_eq!(
        imported(&r, 201),
        expected("countries", "insert", true, [1, 1, 0, 0, 0])
    );
    let added = json!({"iso2_code": "XC", "iso3_code": null, "name": "Xc",
                       "postal_code_mandatory": false, "postal_code_regex": null});
    let now = countries(&app, &key).await;
    assert_eq!(now.len(), 15);
    assert_eq!(now[14], added);
    assert_eq!(now[..12], all[..12]);
}

/// `X-Is-Transactional: false`: the good lines are kept and the answer is
/// `{"data": summary, "errors": [...]}`, with the success status when anything was saved and
/// the first error's status otherwise.
async fn post_non_transactional_keeps_the_good_lines(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = send_csv(
        &app,
        Method::POST,
        "countries",
        &key,
        BAD_COUNTRIES,
        &[NON_TRANSACTIONAL],
    )
    .await;
    let (summary, errors) = partial(&r, 201);
    assert_eq!(
        summary,
        expected("countries", "insert", false, [6, 1, 0, 0, 5])
    );
    assert_eq!(errors, bad_countries_errors());
    let mut all = dynex_test_support::countries();
    all.push(
        json!({"iso2_code": "XC", "iso3_code": null, "name": "Xcountry",
                    "postal_code_mandatory": true, "postal_code_regex": null}),
    );
    assert_eq!(countries(&app, &key).await, all);

    // Nothing saved: the first error's status, still with the summary.
    let only_bad = "iso2_code,name\nAT,Again\nXH,\n";
    let r = send_csv(
        &app,
        Method::POST,
        "countries",
        &key,
        only_bad,
        &[("X-Is-Transactional", "0")],
    )
    .await;
    let (summary, errors) = partial(&r, 400);
    assert_eq!(
        summary,
        expected("countries", "insert", false, [2, 0, 0, 0, 2])
    );
    assert_eq!(
        errors,
        [
            le(2, "1309", 400, Some("iso2_code")),
            le(3, "1307", 400, Some("name")),
        ]
    );
    // All good: the plain answer.
    let r = send_csv(
        &app,
        Method::POST,
        "countries",
        &key,
        "iso2_code,name\nXI,Xi\n",
        &[NON_TRANSACTIONAL],
    )
    .await;
    assert_eq!(
        imported(&r, 201),
        expected("countries", "insert", false, [1, 1, 0, 0, 0])
    );
    all.push(json!({"iso2_code": "XI", "iso3_code": null, "name": "Xi",
                    "postal_code_mandatory": false, "postal_code_regex": null}));
    assert_eq!(countries(&app, &key).await, all);
}

/// A CSV PATCH updates the rows named by identifier, or by a unique field with `?key=`; only
/// the file's columns change; identical rows count `unchanged`; a row that does not exist is
/// 1303 / 404.
async fn patch_updates_by_identifier_or_key(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let body = "id_country,name,iso3_code\n2,Österreich,\n3,Belgium,BEL\n";
    let r = send_csv(&app, Method::PATCH, "countries", &key, body, &[]).await;
    assert_eq!(
        imported(&r, 200),
        expected("countries", "update", true, [2, 0, 1, 1, 0])
    );
    let mut all = dynex_test_support::countries();
    all[1]["name"] = json!("Österreich");
    all[1]["iso3_code"] = Value::Null;
    assert_eq!(app.all("countries", &key).await, all);

    // By the unique iso2_code: the identifiers stay.
    let body = "iso2_code,name\nDE,Deutschland\nFR,France\n";
    let r = send_csv(
        &app,
        Method::PATCH,
        "countries?key=iso2_code",
        &key,
        body,
        &[],
    )
    .await;
    assert_eq!(
        imported(&r, 200),
        expected("countries", "update", true, [2, 0, 1, 1, 0])
    );
    all[4]["name"] = json!("Deutschland");
    assert_eq!(app.all("countries", &key).await, all);

    // The same row twice: both applied in file order, the last one wins.
    let body = "id_country,name\n9,Italia\n9,Italien\n";
    let r = send_csv(&app, Method::PATCH, "countries", &key, body, &[]).await;
    assert_eq!(
        imported(&r, 200),
        expected("countries", "update", true, [2, 0, 2, 0, 0])
    );
    all[8]["name"] = json!("Italien");
    assert_eq!(app.all("countries", &key).await, all);

    // A row that does not exist: 404 first, nothing written.
    let body = "id_country,name\n4,Schweiz\n999,Nowhere\n6,España\n";
    let r = send_csv(&app, Method::PATCH, "countries", &key, body, &[]).await;
    assert_eq!(rejected(&r, 404), [le(3, "1303", 404, None)]);
    assert_eq!(app.all("countries", &key).await, all);
    // Errors in line order; the status is the first one's.
    let body = "id_country,postal_code_mandatory\n4,maybe\n999,true\n";
    let r = send_csv(&app, Method::PATCH, "countries", &key, body, &[]).await;
    assert_eq!(
        rejected(&r, 400),
        [
            le(2, "1305", 400, Some("postal_code_mandatory")),
            le(3, "1303", 404, None),
        ]
    );
    let body = "iso2_code,name\nQQ,Nowhere\nCH,Schweiz\n";
    let r = send_csv(
        &app,
        Method::PATCH,
        "countries?key=iso2_code",
        &key,
        body,
        &[],
    )
    .await;
    assert_eq!(rejected(&r, 404), [le(2, "1303", 404, None)]);
    assert_eq!(app.all("countries", &key).await, all);

    // Non-transactional: the good rows are kept, 200 as something was saved…
    let body = "id_country,name\n4,Schweiz\n999,Nowhere\n6,España\n";
    let r = send_csv(
        &app,
        Method::PATCH,
        "countries",
        &key,
        body,
        &[NON_TRANSACTIONAL],
    )
    .await;
    let (summary, errors) = partial(&r, 200);
    assert_eq!(
        summary,
        expected("countries", "update", false, [3, 0, 2, 0, 1])
    );
    assert_eq!(errors, [le(3, "1303", 404, None)]);
    all[3]["name"] = json!("Schweiz");
    all[5]["name"] = json!("España");
    assert_eq!(app.all("countries", &key).await, all);
    // …and 404 when nothing was.
    let r = send_csv(
        &app,
        Method::PATCH,
        "countries",
        &key,
        "id_country,name\n999,Nowhere\n",
        &[NON_TRANSACTIONAL],
    )
    .await;
    let (summary, errors) = partial(&r, 404);
    assert_eq!(
        summary,
        expected("countries", "update", false, [1, 0, 0, 0, 1])
    );
    assert_eq!(errors, [le(2, "1303", 404, None)]);
    assert_eq!(app.all("countries", &key).await, all);
}

/// A CSV PUT updates the rows that exist and creates the others (an empty identifier cell lets
/// the database assign one; a new identifier that is not creatable is 1308); `?key=` matches by
/// a unique field.
async fn put_upserts_by_identifier_or_key(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let body = "id_country,iso2_code,name\n2,AT,Austria\n4,CH,Schweiz\n,XA,Xanadu\n";
    let r = send_csv(&app, Method::PUT, "countries", &key, body, &[]).await;
    assert_eq!(
        imported(&r, 200),
        expected("countries", "upsert", true, [3, 1, 1, 1, 0])
    );
    let mut all = dynex_test_support::countries();
    all[3]["name"] = json!("Schweiz");
    all.push(
        json!({"id_country": 13, "iso2_code": "XA", "iso3_code": null,
                    "name": "Xanadu", "postal_code_mandatory": false,
                    "postal_code_regex": null}),
    );
    assert_eq!(app.all("countries", &key).await, all);

    let body = "id_country,iso2_code,name\n2,AT,Austria 2\n500,XB,Xb\n";
    let r = send_csv(&app, Method::PUT, "countries", &key, body, &[]).await;
    assert_eq!(rejected(&r, 400), [le(3, "1308", 400, None)]);
    assert_eq!(
        r.body[0]["message"],
        json!(
            "Entity `countries[3].id_country: 500` not found by identifier, and new identifier \
             can not be persisted. Please update the request."
        )
    );
    assert_eq!(app.all("countries", &key).await, all);

    let body = "iso2_code,name,iso3_code\nXA,Xanadu Two,XAA\nXC,Xc,\nAT,Austria,AUT\n";
    let r = send_csv(
        &app,
        Method::PUT,
        "countries?key=iso2_code",
        &key,
        body,
        &[],
    )
    .await;
    assert_eq!(
        imported(&r, 200),
        expected("countries", "upsert", true, [3, 1, 1, 1, 0])
    );
    all[12]["name"] = json!("Xanadu Two");
    all[12]["iso3_code"] = json!("XAA");
    all.push(
        json!({"id_country": 14, "iso2_code": "XC", "iso3_code": null,
                    "name": "Xc", "postal_code_mandatory": false,
                    "postal_code_regex": null}),
    );
    assert_eq!(app.all("countries", &key).await, all);

    // A new key twice: the first line creates the row, the second updates it.
    let body = "iso2_code,name\nXE,Xe One\nXE,Xe Two\n";
    let r = send_csv(
        &app,
        Method::PUT,
        "countries?key=iso2_code",
        &key,
        body,
        &[],
    )
    .await;
    assert_eq!(
        imported(&r, 200),
        expected("countries", "upsert", true, [2, 1, 1, 0, 0])
    );
    all.push(
        json!({"id_country": 15, "iso2_code": "XE", "iso3_code": null,
                    "name": "Xe Two", "postal_code_mandatory": false,
                    "postal_code_regex": null}),
    );
    assert_eq!(app.all("countries", &key).await, all);

    // Non-transactional: the good rows are kept.
    let body = "iso2_code,name\nXC,Xc Two\nXD,\n";
    let r = send_csv(
        &app,
        Method::PUT,
        "countries?key=iso2_code",
        &key,
        body,
        &[NON_TRANSACTIONAL],
    )
    .await;
    let (summary, errors) = partial(&r, 200);
    assert_eq!(
        summary,
        expected("countries", "upsert", false, [2, 0, 1, 0, 1])
    );
    assert_eq!(errors, [le(3, "1307", 400, Some("name"))]);
    all[13]["name"] = json!("Xc Two");
    assert_eq!(app.all("countries", &key).await, all);
}

/// Problems with the file as a whole are 400 / 1401 and write nothing: unknown or repeated
/// columns, no header, a missing key column, a key that is no field.
async fn header_problems_are_1401(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    for method in [Method::POST, Method::PATCH, Method::PUT] {
        let r = send_csv(
            &app,
            method.clone(),
            "countries",
            &key,
            "id_country,iso2_code,nope,name\n1,AD,x,Andorra\n",
            &[],
        )
        .await;
        let message = r.assert_error(400, "1401");
        assert!(message.contains("`nope`"), "{method}: {message}");
        for body in ["id_country,name,name\n1,a,b\n", ""] {
            let r = send_csv(&app, method.clone(), "countries", &key, body, &[]).await;
            r.assert_error(400, "1401");
        }
        let r = send_csv(
            &app,
            method.clone(),
            "countries?key=nope",
            &key,
            "id_country,name\n1,Andorra\n",
            &[],
        )
        .await;
        let message = r.assert_error(400, "1401");
        assert!(message.contains("`nope`"), "{method}: {message}");
    }
    for method in [Method::PATCH, Method::PUT] {
        let r = send_csv(
            &app,
            method.clone(),
            "countries",
            &key,
            "iso2_code,name\nAD,Andorra 2\n",
            &[],
        )
        .await;
        let message = r.assert_error(400, "1401");
        assert!(message.contains("`id_country`"), "{method}: {message}");
        let r = send_csv(
            &app,
            method.clone(),
            "countries?key=iso3_code",
            &key,
            "iso2_code,name\nAD,Andorra 2\n",
            &[],
        )
        .await;
        let message = r.assert_error(400, "1401");
        assert!(message.contains("`iso3_code`"), "{method}: {message}");
    }
    // An unknown entity is 404 / 007.
    let r = send_csv(&app, Method::POST, "nope", &key, "a\n1\n", &[]).await;
    r.assert_error(404, "007");
    assert_eq!(
        app.all("countries", &key).await,
        dynex_test_support::countries()
    );
}

/// CSV writes need the write scope of the entity: 403 / 002 otherwise, nothing written.
async fn imports_need_the_write_scope(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    let reader = scoped_key(&dx, "reader", "dynamic-entity:read");
    let lacks = "Unauthorized request. The credentials lack the scope \
                 `dynamic-entity:countries:write`.";
    let bodies = [
        (Method::POST, "iso2_code,name\nXA,Xa\n"),
        (Method::PATCH, "id_country,name\n2,Changed\n"),
        (Method::PUT, "id_country,name\n2,Changed\n"),
    ];
    for (method, body) in &bodies {
        let r = send_csv(&app, method.clone(), "countries", &reader, body, &[]).await;
        assert_eq!(r.assert_error(403, "002"), lacks, "{method}");
        let r = app
            .send(
                TestRequest::default()
                    .method(method.clone())
                    .uri(&format!("/{PREFIX}/countries"))
                    .insert_header((CONTENT_TYPE, "text/csv"))
                    .set_payload(body.to_string()),
            )
            .await;
        assert_eq!(r.assert_error(403, "002"), "Unauthorized request.");
    }
    assert_eq!(
        app.all("countries", &key).await,
        dynex_test_support::countries()
    );

    let writer = scoped_key(&dx, "writer", "dynamic-entity:countries:write");
    let r = send_csv(
        &app,
        Method::POST,
        "tax-rates",
        &writer,
        "name,rate\nX,1.00\n",
        &[],
    )
    .await;
    assert_eq!(
        r.assert_error(403, "002"),
        "Unauthorized request. The credentials lack the scope `dynamic-entity:tax-rates:write`."
    );
    for (method, body) in bodies {
        let r = send_csv(&app, method.clone(), "countries", &writer, body, &[]).await;
        let status = if method == Method::POST { 201 } else { 200 };
        assert_eq!(r.status.as_u16(), status, "{method}: {r:?}");
    }
    let mut all = dynex_test_support::countries();
    all[1]["name"] = json!("Changed");
    all.push(
        json!({"id_country": 13, "iso2_code": "XA", "iso3_code": null, "name": "Xa",
                    "postal_code_mandatory": false, "postal_code_regex": null}),
    );
    assert_eq!(app.all("countries", &key).await, all);
    assert_eq!(app.all("tax-rates", &key).await, tax_rates());
}

/// A CSV body over `--max-body-bytes` is 413 / 1322 and writes nothing.
async fn bodies_over_the_limit_are_1322(db: TestDb) {
    let (dx, _app, key) = demo(&db).await;
    let app = TestApp::with_config(
        dx,
        dynex_server::AppConfig {
            max_body_bytes: 1024,
            ..Default::default()
        },
    )
    .await;
    let mut big = "iso2_code,name\n".to_string();
    for i in 0..30u8 {
        big.push_str(&format!(
            "Q{},{}\n",
            char::from(b'A' + i % 26),
            "x".repeat(40)
        ));
    }
    assert!(big.len() > 1024);
    for method in [Method::POST, Method::PATCH, Method::PUT] {
        let r = send_csv(&app, method.clone(), "countries", &key, &big, &[]).await;
        assert_eq!(
            r.body,
            json!([{"code": "1322", "status": 413,
                    "message": "The request body is larger than the limit of 1024 bytes."}]),
            "{method}"
        );
    }
    assert_eq!(
        app.all("countries", &key).await,
        dynex_test_support::countries()
    );
    let small = "iso2_code,name\nQA,Qa\n";
    let r = send_csv(&app, Method::POST, "countries", &key, small, &[]).await;
    assert_eq!(
        imported(&r, 201),
        expected("countries", "insert", true, [1, 1, 0, 0, 0])
    );
}

/// `/{alias}/{id}` has no CSV handling: POST is not a method of the route (405 / 1318), and a
/// CSV body to PATCH or PUT is read as JSON and refused (1301); a CSV `Accept` on a row read
/// is answered with JSON.
async fn row_routes_are_not_csv(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let body = "id_country,name\n2,Changed\n";
    let r = send_csv(&app, Method::POST, "countries/2", &key, body, &[]).await;
    r.assert_error(405, "1318");
    assert_eq!(
        r.header("allow").as_deref(),
        Some("GET, PATCH, PUT, DELETE")
    );
    for method in [Method::PATCH, Method::PUT] {
        let r = send_csv(&app, method.clone(), "countries/2", &key, body, &[]).await;
        r.assert_error(400, "1301");
    }
    let r = get_csv(&app, "countries/2", &key).await;
    assert_eq!(r.data(), &country(2));
    assert_eq!(
        app.all("countries", &key).await,
        dynex_test_support::countries()
    );
}

/// Round trip of the whole `countries` table: cells changed in the export (a quoted name with a
/// comma, quotes and a newline, a cleared cell, a filled-in boolean) are exactly what a PATCH
/// changes, and the next export is the edited file; a file without the identifier column
/// round-trips by `?key=iso2_code`.
async fn countries_round_trip_with_quoting(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let r = get_csv(&app, "countries", &key).await;
    let text = csv_body(&r).to_string();
    assert_eq!(
        text,
        csv_doc(COUNTRY_HEADER, &dynex_test_support::countries())
    );
    // Spot-check the rendering: booleans as JSON text, nulls as empty cells.
    assert!(text.contains("\n8,GB,GBR,United Kingdom,,\n"), "{text}");
    assert!(
        text.contains("\n3,BE,BEL,Belgium,false,[0-9]{4}\n"),
        "{text}"
    );

    // The same file back: nothing to do.
    let r = send_csv(&app, Method::PUT, "countries", &key, &text, &[]).await;
    assert_eq!(
        imported(&r, 200),
        expected("countries", "upsert", true, [12, 0, 0, 12, 0])
    );

    let edited = edit(
        &text,
        "5,DE,DEU,Germany,true,[0-9]{5}\n",
        "5,DE,DEU,\"Germany, \"\"Federal\"\"\nRepublic\",true,[0-9]{5}\n",
    );
    let edited = edit(
        &edited,
        "3,BE,BEL,Belgium,false,[0-9]{4}\n",
        "3,BE,BEL,Belgium,false,\n",
    );
    let edited = edit(
        &edited,
        "8,GB,GBR,United Kingdom,,\n",
        "8,GB,GBR,United Kingdom,true,\n",
    );
    let r = send_csv(&app, Method::PATCH, "countries", &key, &edited, &[]).await;
    assert_eq!(
        imported(&r, 200),
        expected("countries", "update", true, [12, 0, 3, 9, 0])
    );
    let mut all = dynex_test_support::countries();
    all[4]["name"] = json!("Germany, \"Federal\"\nRepublic");
    all[2]["postal_code_regex"] = Value::Null;
    all[7]["postal_code_mandatory"] = json!(true);
    assert_eq!(app.all("countries", &key).await, all);
    let r = get_csv(&app, "countries", &key).await;
    assert_eq!(csv_body(&r), edited);
    assert_eq!(edited, csv_doc(COUNTRY_HEADER, &all));

    // Matched by iso2_code, a file without the identifier column round-trips too.
    let header = "iso2_code,iso3_code,name,postal_code_mandatory,postal_code_regex\n";
    let without_ids = csv_doc(header, &all);
    let r = send_csv(
        &app,
        Method::PUT,
        "countries?key=iso2_code",
        &key,
        &without_ids,
        &[],
    )
    .await;
    assert_eq!(
        imported(&r, 200),
        expected("countries", "upsert", true, [12, 0, 0, 12, 0])
    );
    all[6]["iso3_code"] = Value::Null;
    let r = send_csv(
        &app,
        Method::PUT,
        "countries?key=iso2_code",
        &key,
        &csv_doc(header, &all),
        &[],
    )
    .await;
    assert_eq!(
        imported(&r, 200),
        expected("countries", "upsert", true, [12, 0, 1, 11, 0])
    );
    assert_eq!(app.all("countries", &key).await, all);
}

/// An export of an entity with a field that is not editable PUTs back: the unchanged cells of
/// that column modify nothing, so only a changed cell of it is refused (1304).
///
/// BUG (reported): the import sends every cell of a changed row, so the unchanged `iso3_code`
/// is refused with 1304 and the round trip fails for any entity with a non-editable field.
async fn round_trip_with_a_non_editable_field(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    reconfigure(&dx, "countries", |c| {
        config_field(c, "iso3_code")["isEditable"] = json!(false);
    });
    let text = csv_body(&get_csv(&app, "countries", &key).await).to_string();
    let mut all = dynex_test_support::countries();
    let edited = edit(
        &text,
        "2,AT,AUT,Austria,true,[0-9]{4}\n",
        "2,AT,AUT,Österreich,true,[0-9]{4}\n",
    );
    let r = send_csv(&app, Method::PUT, "countries", &key, &edited, &[]).await;
    assert_eq!(
        imported(&r, 200),
        expected("countries", "upsert", true, [12, 0, 1, 11, 0]),
        "{r:?}"
    );
    all[1]["name"] = json!("Österreich");
    assert_eq!(app.all("countries", &key).await, all);

    // A changed cell of the non-editable column is refused.
    let edited = edit(
        &edited,
        "3,BE,BEL,Belgium,false,[0-9]{4}\n",
        "3,BE,BLX,Belgium,false,[0-9]{4}\n",
    );
    let r = send_csv(&app, Method::PATCH, "countries", &key, &edited, &[]).await;
    assert_eq!(rejected(&r, 400), [le(4, "1304", 400, Some("iso3_code"))]);
    assert_eq!(app.all("countries", &key).await, all);
}

/// `?key=` names a field to match rows by; when it matches several stored rows, the import
/// cannot tell which one a line means and must not pick one.
///
/// BUG (reported): the key is not checked to be unique (by configuration or by the match), and
/// the line silently updates one of the two rows named `Dup`.
async fn a_key_that_is_not_unique_is_not_guessed(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let body = "name,rate\nDup,1.00\nDup,2.00\n";
    let r = send_csv(&app, Method::POST, "tax-rates", &key, body, &[]).await;
    assert_eq!(
        imported(&r, 201),
        expected("tax-rates", "insert", true, [2, 2, 0, 0, 0])
    );
    let before = app.all("tax-rates", &key).await;
    for method in [Method::PATCH, Method::PUT] {
        let r = send_csv(
            &app,
            method.clone(),
            "tax-rates?key=name",
            &key,
            "name,rate\nDup,5.00\n",
            &[],
        )
        .await;
        assert!(r.status.is_client_error(), "{method}: {r:?}");
        assert_eq!(app.all("tax-rates", &key).await, before, "{method}");
    }
}

/// A quote that is never closed made the rest of the body one cell, accepted with 200. It is a
/// 1301 line naming where the quote opened: all or nothing refuses the body; without a
/// transaction the lines before it are kept and the answer lists it.
async fn an_unterminated_quote_is_a_refused_line(db: TestDb) {
    let (_dx, app, key) = demo(&db).await;
    let before = countries(&app, &key).await;
    // The cells line up (five of them), so only the quote tells.
    let body = "iso2_code,iso3_code,name,postal_code_mandatory,postal_code_regex\n\
                XA,XAA,Xa,true,\n\
                XB,XBB,\"Xb,true,\n\
                XC,XCC,Xc,true,\n";
    let r = send_csv(&app, Method::POST, "countries", &key, body, &[]).await;
    assert_eq!(rejected(&r, 400), [le(3, "1301", 400, None)]);
    let message = r.body[0]["message"].as_str().unwrap();
    assert!(
        message.contains("the quote opened on line 3 is never closed"),
        "{message}"
    );
    assert_eq!(countries(&app, &key).await, before);

    let r = send_csv(
        &app,
        Method::POST,
        "countries",
        &key,
        body,
        &[NON_TRANSACTIONAL],
    )
    .await;
    let (summary, errors) = partial(&r, 201);
    assert_eq!(
        summary,
        expected("countries", "insert", false, [2, 1, 0, 0, 1])
    );
    assert_eq!(errors, [le(3, "1301", 400, None)]);
    let now = countries(&app, &key).await;
    assert_eq!(now.len(), before.len() + 1);
    assert_eq!(now.last().unwrap()["iso2_code"], "XA");

    // On the first data line: nothing was imported and the answer was a success.
    let r = send_csv(
        &app,
        Method::POST,
        "countries",
        &key,
        "iso2_code,name\n\"XD,Xd\nXE,Xe\n",
        &[NON_TRANSACTIONAL],
    )
    .await;
    let (_, errors) = partial(&r, 400);
    assert_eq!(errors, [le(2, "1301", 400, None)]);
    // In the header: the header cannot be read.
    let r = send_csv(
        &app,
        Method::POST,
        "countries",
        &key,
        "iso2_code,\"name\nXD,Xd\n",
        &[],
    )
    .await;
    r.assert_error(400, "1401");
    assert_eq!(countries(&app, &key).await, now);
}
