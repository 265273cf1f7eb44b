//! The `http` target against a scripted server: templated requests per record and per batch,
//! what each kind of answer does to the row and to the run, and secrets kept out of what a run
//! records.

use std::time::Duration;

use dynex_core::{Dynex, Variable};
use dynex_pipeline::definition::Definition;
use dynex_pipeline::run::{RunError, RunOptions, RunSummary, run};
use dynex_pipeline::variables::{Redactor, resolve};
use dynex_test_support::{TestDb, backend_tests, open_demo};
use serde_json::{Value, json};

use crate::docs_example;
use crate::http_server::{Reply, Request, TestServer};

backend_tests!(
    rows_go_one_request_each_with_the_templated_url_and_body,
    batches_carry_arrays_of_rows_or_their_template,
    a_failing_server_fails_the_run_after_the_pages_before_are_committed,
);

const TOKEN: &str = "s3cr3tT0ken";

/// `yaml` with `${NAME}` resolved to secret variables, and the options of a run that keeps
/// their values out of what it records.
fn with_secrets(yaml: &str, secrets: &[(&str, &str)]) -> (Definition, RunOptions) {
    let vars: Vec<Variable> = secrets
        .iter()
        .map(|(name, value)| Variable {
            name: (*name).into(),
            value: (*value).into(),
            secret: true,
        })
        .collect();
    let definition = resolve(yaml, &vars).unwrap();
    let options = RunOptions {
        redactor: Redactor::new(&vars),
        ..RunOptions::default()
    };
    (definition, options)
}

/// The summary of a run that ended, failed or not.
fn ended(result: Result<RunSummary, RunError>) -> RunSummary {
    match result {
        Ok(summary) => summary,
        Err(RunError::Failed(summary)) => *summary,
        Err(other) => panic!("the run did not start: {other}"),
    }
}

fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// The SKU at the end of a request's path.
fn sku(request: &Request) -> String {
    request.path().rsplit('/').next().unwrap().to_owned()
}

/// The per-record example of docs/pipelines.md, as printed, against `server`.
fn record_example(server: &TestServer) -> (Definition, RunOptions) {
    let yaml = docs_example("http-record");
    let yaml = yaml.replace("https://erp.example.com", &server.url(""));
    assert!(yaml.contains(&server.url("/api/items/")), "{yaml}");
    with_secrets(&yaml, &[("ERP_TOKEN", TOKEN)])
}

/// Each product is one `PUT` to its own URL with the templated body; the one the ERP refuses
/// with `422` is a dead letter with the answer's words, and its neighbours are delivered.
fn rows_go_one_request_each_with_the_templated_url_and_body(db: TestDb) {
    let dx = open_demo(&db);
    let server = TestServer::start(|request| {
        if sku(request) == "007" {
            // The answer repeats the credentials it got, as some APIs' debug answers do.
            let echo = request.header("authorization").unwrap_or_default();
            return Reply::Answer {
                status: 422,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: json!({"errors": [{"field": "taxSet", "message": "taxSet is required"}],
                    "got": echo})
                .to_string()
                .into_bytes(),
            };
        }
        Reply::json(json!({"ok": true}))
    });
    let (definition, options) = record_example(&server);
    definition.check(&dx.snapshot().catalog).unwrap();
    let summary = run(&dx, &definition, &options, &mut ()).unwrap();
    assert_eq!(
        (
            summary.read,
            summary.updated,
            summary.inserted,
            summary.dead_letters
        ),
        (8, 7, 0, 1),
        "{summary:?}"
    );
    assert_eq!(summary.cursor_after, Some(json!("2024-02-01 09:35:00")));

    let requests = server.requests();
    let paths: Vec<&str> = requests.iter().map(Request::path).collect();
    assert_eq!(
        paths,
        [
            "/api/items/003",
            "/api/items/007",
            "/api/items/001",
            "/api/items/002",
            "/api/items/004",
            "/api/items/005",
            "/api/items/006",
            "/api/items/008",
        ],
        "in the order of the source, nulls first"
    );
    let expected = |sku: &str, color: Value, tax_set: Value| json!({"number": sku, "color": color, "taxSet": tax_set, "source": "dynex"});
    for (request, expected) in requests.iter().zip([
        expected("003", json!("#000000"), json!(1)),
        expected("007", Value::Null, Value::Null),
        expected("001", json!("#DC2E09"), json!(1)),
        expected("002", Value::Null, json!(1)),
        expected("004", json!("#1C1C1E"), json!(1)),
        expected("005", Value::Null, json!(1)),
        expected("006", json!("#000000"), json!(1)),
        expected("008", json!("#C0C0C0"), json!(2)),
    ]) {
        assert_eq!(request.method, "PUT");
        assert_eq!(body(request), expected);
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(request.header("x-source"), Some("dynex"));
        assert_eq!(request.header("content-type"), Some("application/json"));
    }

    let letters = dx.dead_letters("items-to-erp", 10).unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(
        (letter.stage.as_str(), letter.code.as_str()),
        ("write", "422")
    );
    assert_eq!(letter.record["sku"], "007", "the source record is kept");
    assert!(
        letter.message.contains(r#""message":"taxSet is required""#),
        "{}",
        letter.message
    );
    assert!(
        !letter.message.contains(TOKEN) && letter.message.contains("Bearer ***"),
        "{}",
        letter.message
    );
}

/// The batch example of docs/pipelines.md, as printed, in batches of 5: arrays of 5, 5 and 2
/// rows; then a body template over `rows`, and `vars` in the URL.
fn batches_carry_arrays_of_rows_or_their_template(db: TestDb) {
    let dx = open_demo(&db);
    let server = TestServer::start(|_| {
        Reply::json(json!({"taskUid": 1, "status": "enqueued"})).with_status(202)
    });
    let yaml = docs_example("http-batch")
        .replace("https://search.example.com", &server.url(""))
        .replace("batch: 100", "batch: 5");
    assert!(yaml.contains("batch: 5"), "{yaml}");
    let (definition, options) = with_secrets(&yaml, &[("MEILI_KEY", "meili-key")]);
    definition.check(&dx.snapshot().catalog).unwrap();
    let summary = run(&dx, &definition, &options, &mut ()).unwrap();
    assert_eq!(
        (summary.read, summary.inserted, summary.dead_letters),
        (12, 12, 0),
        "{summary:?}"
    );
    let requests = server.requests();
    let sizes: Vec<usize> = requests
        .iter()
        .map(|r| body(r).as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [5, 5, 2]);
    assert!(requests.iter().all(|r| r.method == "POST"
        && r.path() == "/indexes/countries/documents"
        && r.header("authorization") == Some("Bearer meili-key")));
    assert_eq!(
        body(&requests[0])[0],
        json!({"id": 1, "code": "AD", "name": "Andorra"})
    );
    let codes: Vec<String> = requests
        .iter()
        .flat_map(|r| body(r).as_array().unwrap().clone())
        .map(|row| row["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        codes.join(" "),
        "AD AT BE CH DE ES FR GB IT NL PL US",
        "every row once, in order"
    );

    // A template of the batch, and the run's variables in the URL (percent-encoded).
    let templated = yaml
        .replace("name: countries-to-search", "name: countries-templated")
        .replace(
            "/indexes/countries/documents",
            "/bulk?from={{ vars.from }}",
        )
        .replace(
            "    per: batch\n",
            "    per: batch\n    method: PATCH\n    body: '{\"items\": {{ rows }}, \"first\": {{ rows[0].code }}, \"count\": {{ rows | length }}}'\n",
        );
    let (definition, mut options) = with_secrets(&templated, &[("MEILI_KEY", "meili-key")]);
    options.vars.insert("from".into(), json!("dynex & co"));
    let summary = run(&dx, &definition, &options, &mut ()).unwrap();
    assert_eq!((summary.updated, summary.inserted), (12, 0), "{summary:?}");
    let requests = &server.requests()[3..];
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].method, "PATCH");
    assert_eq!(requests[0].target, "/bulk?from=dynex%20%26%20co");
    let last = body(&requests[2]);
    assert_eq!(
        last,
        json!({"items": [{"id": 11, "code": "PL", "name": "Poland"},
            {"id": 12, "code": "US", "name": "United States"}], "first": "PL", "count": 2})
    );
}

/// A server failing with `500` on a row of the second page: retried, then the run fails; the
/// first page stays committed with its cursor, and the next run continues from there.
fn a_failing_server_fails_the_run_after_the_pages_before_are_committed(db: TestDb) {
    let dx = open_demo(&db);
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let fails = std::sync::Arc::clone(&failing);
    let server = TestServer::start(move |request| {
        if sku(request) == "005" && fails.load(std::sync::atomic::Ordering::SeqCst) {
            Reply::status(500, "database is down")
        } else {
            Reply::status(204, "")
        }
    });
    let yaml = docs_example("http-record")
        .replace("https://erp.example.com", &server.url(""))
        .replace(
            "incremental: { field: updated_at }",
            "incremental: { field: updated_at }\n    page_size: 4",
        )
        .replace(
            "      bearer: { token: '${ERP_TOKEN}' }",
            "      bearer: { token: '${ERP_TOKEN}' }\n    retry: { attempts: 2, backoff: 1 }",
        );
    assert!(
        yaml.contains("page_size: 4") && yaml.contains("attempts: 2"),
        "{yaml}"
    );
    let (definition, options) = with_secrets(&yaml, &[("ERP_TOKEN", TOKEN)]);
    let failed = ended(run(&dx, &definition, &options, &mut ()));
    assert_eq!(failed.state, "failed");
    let error = failed.error.clone().unwrap();
    assert!(
        error.contains("500")
            && error.contains("database is down")
            && error.contains("tried 2 times"),
        "{error}"
    );
    assert_eq!(
        (failed.pages, failed.updated),
        (2, 4),
        "the first page is delivered: {failed:?}"
    );
    let sent: Vec<String> = server.requests().iter().map(sku).collect();
    assert_eq!(
        sent,
        ["003", "007", "001", "002", "004", "005", "005"],
        "the row is tried twice, the rows after it never"
    );
    assert_eq!(
        dx.pipeline_cursor("items-to-erp").unwrap(),
        Some(json!("2024-02-01 09:05:00")),
        "the cursor of the committed page, not beyond"
    );
    let runs = dx.pipeline_runs("items-to-erp", 5).unwrap();
    assert_eq!(runs[0].state, "failed");
    assert_eq!(runs[0].error.as_deref(), Some(error.as_str()));

    // The server back: the next run starts at the stored cursor and sends the rest (the row at
    // the cursor again, and the ones the failed page had sent: at least once).
    failing.store(false, std::sync::atomic::Ordering::SeqCst);
    let again = run(&dx, &definition, &options, &mut ()).unwrap();
    assert_eq!(again.updated, 5, "{again:?}");
    let sent: Vec<String> = server.requests()[7..].iter().map(sku).collect();
    assert_eq!(sent, ["002", "004", "005", "006", "008"]);
    assert_eq!(again.cursor_after, Some(json!("2024-02-01 09:35:00")));
}

/// The countries, one `POST` each with the default body, to `url`.
fn countries_per_record(url: &str, extra: &str) -> String {
    format!(
        "\
name: countries-out
source:
  entity: {{ entity: countries }}
map:
  fields:
    code: $.iso2_code
    name: $.name
    mandatory: $.postal_code_mandatory
target:
  http:
    url: \"{url}\"
    retry: {{ attempts: 3, backoff: 1 }}
{extra}"
    )
}

#[test]
fn a_429_is_waited_for_as_retry_after_says_and_the_row_sent_once() {
    let db = TestDb::sqlite();
    let dx = open_demo(&db);
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let server = TestServer::start(move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Reply::status(429, "slow down").with_header("Retry-After", "1")
        } else {
            Reply::status(201, "")
        }
    });
    let definition = Definition::parse(&countries_per_record(&server.url("/c"), "")).unwrap();
    let summary = run(&dx, &definition, &RunOptions::default(), &mut ()).unwrap();
    assert_eq!(
        (summary.inserted, summary.dead_letters),
        (12, 0),
        "{summary:?}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 13, "one more, for the retried row");
    assert_eq!(body(&requests[0]), body(&requests[1]));
    assert_eq!(
        body(&requests[0]),
        json!({"code": "AD", "name": "Andorra", "mandatory": true}),
        "the row as a JSON object"
    );
    assert!(
        requests[1].at - requests[0].at >= Duration::from_millis(900),
        "Retry-After was honoured"
    );
    assert_eq!(body(&requests[2])["code"], "AT", "each row once");
}

#[test]
fn an_unauthorized_or_forbidden_answer_ends_the_run_at_once() {
    for status in [401, 403] {
        let db = TestDb::sqlite();
        let dx = open_demo(&db);
        let server = TestServer::start(move |_| Reply::status(status, "{\"error\": \"no\"}"));
        let definition = Definition::parse(&countries_per_record(&server.url("/c"), "")).unwrap();
        let failed = ended(run(&dx, &definition, &RunOptions::default(), &mut ()));
        assert_eq!(failed.state, "failed");
        let error = failed.error.unwrap();
        assert!(
            error.contains(&format!("POST {} answered {status}", server.url("/c")))
                && error.contains(r#"{"error":"no"}"#),
            "{error}"
        );
        assert_eq!(server.requests().len(), 1, "no other row is sent");
        assert_eq!(failed.dead_letters, 0);
        assert!(dx.dead_letters("countries-out", 10).unwrap().is_empty());
    }
}

#[test]
fn rows_whose_templates_fail_are_dead_letters_and_the_others_go() {
    let db = TestDb::sqlite();
    let dx = open_demo(&db);
    let server = TestServer::start(|_| Reply::json(json!({"saved": true})));
    let yaml = countries_per_record(
        &server.url("/c/{{ row.code }}/{{ row.mandatory }}"),
        "    method: PATCH\n    body: '{% if row.code == \"DE\" %}oops{% else %}{\"name\": {{ row.name }}}{% endif %}'\n",
    );
    let definition = Definition::parse(&yaml).unwrap();
    definition.check(&dx.snapshot().catalog).unwrap();
    let summary = run(&dx, &definition, &RunOptions::default(), &mut ()).unwrap();
    assert_eq!(
        (summary.updated, summary.dead_letters),
        (9, 3),
        "{summary:?}"
    );
    let letters = dx.dead_letters("countries-out", 10).unwrap();
    let found: Vec<(&str, &str)> = letters
        .iter()
        .map(|l| (l.record["iso2_code"].as_str().unwrap(), l.code.as_str()))
        .collect();
    assert_eq!(
        found,
        [("DE", "template"), ("GB", "template"), ("PL", "template")]
    );
    assert!(
        letters[0].message.contains("the body template")
            && letters[0].message.contains("not JSON")
            && letters[0].message.contains("oops"),
        "{}",
        letters[0].message
    );
    assert!(
        letters[1].message.contains("the url template") && letters[1].message.contains("null"),
        "{}",
        letters[1].message
    );
    let targets = server.targets();
    assert_eq!(targets.len(), 9);
    assert_eq!(targets[0], "/c/AD/true");
    assert!(targets.contains(&"/c/BE/false".to_owned()), "{targets:?}");
}

#[test]
fn a_batch_refused_or_not_rendered_fails_the_run() {
    let db = TestDb::sqlite();
    let dx = open_demo(&db);
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let server = TestServer::start(move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            Reply::status(400, "row 3: name too long")
        } else {
            Reply::json(json!({}))
        }
    });
    let definition = Definition::parse(&countries_per_record(
        &server.url("/batch"),
        "    per: batch\n    batch: 5\n",
    ))
    .unwrap();
    let failed = ended(run(&dx, &definition, &RunOptions::default(), &mut ()));
    assert_eq!(failed.state, "failed");
    let error = failed.error.unwrap();
    assert!(
        error.contains("answered 400: row 3: name too long"),
        "{error}"
    );
    assert_eq!(server.requests().len(), 2, "the batches after are not sent");
    assert_eq!(
        (failed.inserted, failed.dead_letters),
        (0, 0),
        "the page is not committed; no row is a dead letter"
    );

    let broken = Definition::parse(&countries_per_record(
        &server.url("/batch"),
        "    per: batch\n    body: '{{ rows[0].missing }}'\n",
    ))
    .unwrap();
    broken.check(&dx.snapshot().catalog).unwrap();
    let failed = ended(run(&dx, &broken, &RunOptions::default(), &mut ()));
    let error = failed.error.unwrap();
    assert!(
        error.contains("the body template failed for a batch of 12 rows"),
        "{error}"
    );
    assert_eq!(server.requests().len(), 2, "nothing sent");
}

/// Secret variables and credential headers never reach a dead letter, a run's error or its
/// record, even when the API repeats them.
#[test]
fn secrets_stay_out_of_dead_letters_and_errors() {
    let db = TestDb::sqlite();
    let dx = open_demo(&db);
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let server = TestServer::start(move |request| {
        let echo = format!(
            "{} authorization={} x-api-token={}",
            request.target,
            request.header("authorization").unwrap_or_default(),
            request.header("x-api-token").unwrap_or_default()
        );
        match calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => Reply::status(422, &format!("refused; you sent {echo}")),
            _ => Reply::status(503, &format!("down; you sent {echo}")),
        }
    });
    let yaml = countries_per_record(
        &server.url("/c?sig=${SIGNATURE}"),
        "    headers:\n      X-Api-Token: '${TOKEN}'\n      Authorization: Token literal-k3y\n",
    )
    .replace("attempts: 3", "attempts: 1")
    // A page per row: the refused row's page is committed before the run fails.
    .replace(
        "{ entity: countries }",
        "{ entity: countries, page_size: 1 }",
    );
    let (definition, options) =
        with_secrets(&yaml, &[("TOKEN", TOKEN), ("SIGNATURE", "s1gnature")]);
    let failed = ended(run(&dx, &definition, &options, &mut ()));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("x-api-token"), Some(TOKEN));
    assert_eq!(
        requests[0].header("authorization"),
        Some("Token literal-k3y")
    );
    assert_eq!(requests[0].query("sig").as_deref(), Some("s1gnature"));

    let letters = dx.dead_letters("countries-out", 10).unwrap();
    let runs = dx.pipeline_runs("countries-out", 5).unwrap();
    let recorded = [
        letters[0].message.clone(),
        failed.error.clone().unwrap(),
        runs[0].error.clone().unwrap(),
    ];
    for text in &recorded {
        for secret in [TOKEN, "literal-k3y", "s1gnature"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("authorization=*** x-api-token=***"), "{text}");
    }
    assert!(
        recorded[0].contains("refused; you sent /c?sig=***"),
        "{}",
        recorded[0]
    );
}

/// Every problem of an `http` target is named with its place when the definition is checked.
#[test]
fn problems_of_an_http_target_are_named_with_their_place() {
    let db = TestDb::sqlite();
    let dx = open_demo(&db);
    let problems = |target: &str| -> Vec<String> {
        let yaml = format!(
            "\
name: out
source: {{ entity: {{ entity: countries }} }}
map:
  fields:
    code: $.iso2_code
    name: $.name
target:
  http:
{target}"
        );
        match Definition::parse(&yaml) {
            Err(problems) => problems.0.iter().map(ToString::to_string).collect(),
            Ok(definition) => match definition.check(&dx.snapshot().catalog) {
                Ok(()) => Vec::new(),
                Err(problems) => problems.0.iter().map(ToString::to_string).collect(),
            },
        }
    };
    let expect = |found: Vec<String>, expected: &[&str]| {
        for expected in expected {
            assert!(
                found.iter().any(|p| p.starts_with(expected)),
                "missing {expected:?} in {found:#?}"
            );
        }
    };
    expect(
        problems("    url: 'http://x.test/{{ row.code }'\n    body: '{\"a\": {{ row.name }'\n"),
        &[
            "target.http.url: the template does not parse: syntax error",
            "target.http.body: the template does not parse: syntax error",
        ],
    );
    expect(
        problems(
            "    url: 'ftp://x.test/{{ record.code }}'\n    body: '{\"a\": \"{{ row.name }}\", \"b\": {{ row.nope }}, \"c\": {{ rows }}}'\n    batch: 0\n    timeout: 0\n    headers: { 'Bad Header': x }\n    auth: { api_key: { value: k } }\n",
        ),
        &[
            "target.http.url: the URL must be http or https",
            "target.http.url: `record` is unknown: the template sees `row` and `vars`; the target sees the mapped row",
            "target.http.body: `row.nope`: the mapping fills no field `nope`",
            "target.http.body: `rows` is unknown: the template sees `row` and `vars`; per record, the row is `row`",
            "target.http.body: `{{ row.name }}` is inside a JSON string",
            "target.http.batch: `batch` is for `per: batch`",
            "target.http.batch: a batch holds 1 to 10000 rows",
            "target.http.timeout:",
            "target.http.headers.Bad Header: not a valid header name",
            "target.http.auth.api_key: give exactly one of `header` and `query`",
        ],
    );
    expect(
        problems("    url: 'https://{{ row.code }}.example.com/'\n"),
        &["target.http.url: write the scheme and host out"],
    );
    expect(
        problems(
            "    url: 'https://x.test/{{ row.code }}'\n    per: batch\n    batch: 10001\n    body: '{{ row }}'\n",
        ),
        &[
            "target.http.url: `row` is unknown: the template sees `vars`; per batch, the rows are `rows`",
            "target.http.body: `row` is unknown: the template sees `rows` and `vars`",
            "target.http.batch: a batch holds 1 to 10000 rows",
        ],
    );
    let found = problems("    url: https://x.test/\n    method: DELETE\n");
    assert!(
        found.len() == 1 && found[0].contains("unknown variant `DELETE`"),
        "{found:?}"
    );
    // Lookups are an entity target's alone; a clean target is fine.
    let lookups = "    url: 'https://x.test/{{ row.code | lower }}/{{ vars.shop }}'\n    method: put\n    body: |\n      {\"name\": {{ row.name | upper }}, \"all\": {{ row }}, \"n\": {{ range(3) | list }}}\n";
    assert_eq!(problems(lookups), Vec::<String>::new());
    let yaml = format!(
        "name: out\nsource: {{ entity: {{ entity: countries }} }}\nmap:\n  fields:\n    code: $.iso2_code\n    name: $.name\n  lookups:\n    fk: {{ entity: countries, by: iso2_code, path: $.x }}\ntarget:\n  http:\n{lookups}"
    );
    let found = Definition::parse(&yaml)
        .unwrap()
        .check(&dx.snapshot().catalog)
        .unwrap_err();
    assert!(
        found
            .to_string()
            .contains("map.lookups: lookups are resolved by an entity target only"),
        "{found}"
    );
}

/// A dry run maps and counts, and sends nothing.
#[test]
fn a_dry_run_sends_nothing() {
    let db = TestDb::sqlite();
    let dx: Dynex = open_demo(&db);
    let server = TestServer::start(|_| Reply::json(json!({})));
    let definition = Definition::parse(&countries_per_record(&server.url("/c"), "")).unwrap();
    let options = RunOptions {
        dry_run: true,
        ..RunOptions::default()
    };
    let summary = run(&dx, &definition, &options, &mut ()).unwrap();
    assert_eq!(summary.read, 12);
    assert!(server.requests().is_empty());
}
