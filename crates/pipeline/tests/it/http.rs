//! The `http` source against a scripted server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use dynex_pipeline::problem::Checker;
use dynex_pipeline::source::http::HttpSpec;
use dynex_pipeline::source::{Page, Source, SourceError, Start};
use serde_json::{Value, json};

use crate::http_server::{Reply, TestServer};

fn spec(value: Value) -> HttpSpec {
    serde_json::from_value(value).unwrap()
}

/// Every page of a run, or the error that ended it.
fn read_all(spec: &HttpSpec, start: &Start) -> Result<Vec<Page>, SourceError> {
    let mut source = spec.open(start)?;
    let mut pages = Vec::new();
    while let Some(page) = source.next_page()? {
        pages.push(page);
        assert!(pages.len() < 100, "the source does not stop");
    }
    Ok(pages)
}

fn ids(pages: &[Page]) -> Vec<i64> {
    pages
        .iter()
        .flat_map(|page| page.records.iter())
        .map(|record| record["id"].as_i64().unwrap())
        .collect()
}

fn items(range: std::ops::Range<i64>) -> Value {
    Value::Array(range.map(|id| json!({"id": id})).collect())
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[test]
fn next_links_are_followed_to_the_end_and_relative_ones_resolved() {
    let server = TestServer::start(|request| match request.query("page").as_deref() {
        None => Reply::json(json!({"_embedded": {"items": items(1..3)},
            "_links": {"next": {"href": "/api/items?page=2"}}})),
        Some("2") => Reply::json(json!({"_embedded": {"items": items(3..5)},
            "_links": {"next": {"href": "items?page=3"}}})),
        _ => Reply::json(json!({"_embedded": {"items": items(5..6)}, "_links": {}})),
    });
    let spec = spec(json!({
        "url": server.url("/api/items"),
        "records": "$._embedded.items[*]",
        "paginate": {"next_link": {"path": "$._links.next.href"}},
    }));
    let pages = read_all(&spec, &Start::default()).unwrap();
    assert_eq!(ids(&pages), vec![1, 2, 3, 4, 5]);
    assert!(pages.iter().all(|page| page.token.is_none()));
    assert_eq!(
        server.targets(),
        vec!["/api/items", "/api/items?page=2", "/api/items?page=3"]
    );
}

#[test]
fn link_headers_lead_to_the_next_page() {
    let server = Arc::new(std::sync::OnceLock::<String>::new());
    let base = Arc::clone(&server);
    let test_server = TestServer::start(move |request| match request.query("p").as_deref() {
        None => Reply::json(items(1..3)).with_header(
            "Link",
            &format!(
                "<{}/list?p=1>; rel=\"first\", <{}/list?p=2>; rel=\"next\"",
                base.get().unwrap(),
                base.get().unwrap()
            ),
        ),
        Some("2") => Reply::json(items(3..4)).with_header("Link", "</list?p=3>; rel=next"),
        _ => Reply::json(items(4..5)).with_header("Link", "</list?p=1>; rel=\"first\""),
    });
    server.set(test_server.url("")).unwrap();
    let spec = spec(json!({"url": test_server.url("/list"), "paginate": {"link_header": {}}}));
    let pages = read_all(&spec, &Start::default()).unwrap();
    assert_eq!(ids(&pages), vec![1, 2, 3, 4]);
    assert_eq!(
        test_server.targets(),
        vec!["/list", "/list?p=2", "/list?p=3"]
    );
}

#[test]
fn a_next_link_to_a_page_already_fetched_fails_instead_of_looping() {
    let server = TestServer::start(|request| match request.query("page").as_deref() {
        Some("2") => Reply::json(json!({"items": items(3..5), "next": "/x?page=1"})),
        _ => Reply::json(json!({"items": items(1..3), "next": "/x?page=2"})),
    });
    let spec = spec(json!({
        "url": server.url("/x?page=1"),
        "records": "$.items[*]",
        "paginate": {"next_link": {"path": "$.next"}},
    }));
    let mut source = spec.open(&Start::default()).unwrap();
    assert_eq!(ids(&[source.next_page().unwrap().unwrap()]), vec![1, 2]);
    assert_eq!(ids(&[source.next_page().unwrap().unwrap()]), vec![3, 4]);
    let error = source.next_page().unwrap_err();
    assert!(
        matches!(&error, SourceError::Malformed { message, .. } if message.contains("already fetched")),
        "{error}"
    );
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn max_pages_ends_the_run_quietly() {
    let server = TestServer::start(|request| {
        let page: i64 = request.query("page").unwrap().parse().unwrap();
        Reply::json(
            json!({"items": items(page..page + 1), "next": format!("/x?page={}", page + 1)}),
        )
    });
    let spec = spec(json!({
        "url": server.url("/x?page=1"),
        "records": "$.items[*]",
        "paginate": {"next_link": {"path": "$.next"}},
        "max_pages": 3,
    }));
    let pages = read_all(&spec, &Start::default()).unwrap();
    assert_eq!(ids(&pages), vec![1, 2, 3]);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_next_link_to_another_origin_is_refused() {
    let server = TestServer::start(|_| {
        Reply::json(json!({"items": [], "next": "http://elsewhere.test/steal"}))
    });
    let spec = spec(json!({
        "url": server.url("/x"),
        "records": "$.items[*]",
        "paginate": {"next_link": {"path": "$.next"}},
    }));
    let error = read_all(&spec, &Start::default()).unwrap_err();
    assert!(error.to_string().contains("elsewhere.test"), "{error}");
    assert!(matches!(error, SourceError::Malformed { .. }));
}

#[test]
fn page_numbers_count_up_until_a_short_page() {
    let server = TestServer::start(|request| {
        let page: i64 = request.query("page").unwrap().parse().unwrap();
        assert_eq!(request.query("per_page").as_deref(), Some("2"));
        let start = (page - 1) * 2;
        Reply::json(items(start..(start + 2).min(5)))
    });
    let spec = spec(json!({
        "url": server.url("/p"),
        "paginate": {"page": {"param": "page", "size_param": "per_page", "size": 2}},
    }));
    let pages = read_all(&spec, &Start::default()).unwrap();
    assert_eq!(ids(&pages), vec![0, 1, 2, 3, 4]);
    assert_eq!(
        server.targets(),
        vec![
            "/p?page=1&per_page=2",
            "/p?page=2&per_page=2",
            "/p?page=3&per_page=2"
        ]
    );
}

#[test]
fn page_numbers_without_a_size_stop_at_an_empty_page() {
    let server = TestServer::start(|request| match request.query("n").as_deref() {
        Some("0") => Reply::json(items(1..3)),
        Some("1") => Reply::json(items(3..4)),
        _ => Reply::json(json!([])),
    });
    let spec =
        spec(json!({"url": server.url("/p"), "paginate": {"page": {"param": "n", "start": 0}}}));
    let pages = read_all(&spec, &Start::default()).unwrap();
    assert_eq!(pages.len(), 2, "the empty last page is no page");
    assert_eq!(ids(&pages), vec![1, 2, 3]);
    assert_eq!(server.targets(), vec!["/p?n=0", "/p?n=1", "/p?n=2"]);
}

#[test]
fn offsets_advance_by_the_records_received_until_a_short_answer() {
    let server = TestServer::start(|request| {
        let offset: i64 = request.query("offset").unwrap().parse().unwrap();
        let limit: i64 = request.query("limit").unwrap().parse().unwrap();
        Reply::json(json!({"data": items(offset..(offset + limit).min(7))}))
    });
    let spec = spec(json!({
        "url": server.url("/o"),
        "query": {"sort": "id", "active": true},
        "records": "$.data[*]",
        "paginate": {"offset": {"param": "offset", "limit_param": "limit", "limit": 3}},
    }));
    let pages = read_all(&spec, &Start::default()).unwrap();
    assert_eq!(ids(&pages), (0..7).collect::<Vec<_>>());
    assert_eq!(
        server.targets(),
        vec![
            "/o?active=true&sort=id&offset=0&limit=3",
            "/o?active=true&sort=id&offset=3&limit=3",
            "/o?active=true&sort=id&offset=6&limit=3"
        ]
    );
}

fn cursor_server() -> TestServer {
    TestServer::start(|request| match request.query("after").as_deref() {
        None => Reply::json(json!({"items": items(1..3), "meta": {"next": "c2"}})),
        Some("c2") => Reply::json(json!({"items": items(3..5), "meta": {"next": "c3"}})),
        Some("c3") => Reply::json(json!({"items": items(5..6), "meta": {"next": null}})),
        Some(other) => Reply::status(400, &format!("unknown cursor {other}")),
    })
}

#[test]
fn cursor_tokens_go_back_and_are_the_pages_positions() {
    let server = cursor_server();
    let spec = spec(json!({
        "url": server.url("/c"),
        "records": "$.items[*]",
        "paginate": {"cursor": {"param": "after", "path": "$.meta.next"}},
    }));
    let pages = read_all(&spec, &Start::default()).unwrap();
    assert_eq!(ids(&pages), vec![1, 2, 3, 4, 5]);
    let tokens: Vec<_> = pages.iter().map(|page| page.token.as_deref()).collect();
    // The last page has no next cursor: its position is the cursor it was fetched with.
    assert_eq!(tokens, vec![Some("c2"), Some("c3"), Some("c3")]);
    assert_eq!(server.targets(), vec!["/c", "/c?after=c2", "/c?after=c3"]);
}

#[test]
fn a_stored_cursor_resumes_a_cursor_paged_api() {
    let server = cursor_server();
    let spec = spec(json!({
        "url": server.url("/c"),
        "records": "$.items[*]",
        "paginate": {"cursor": {"param": "after", "path": "$.meta.next"}},
        "incremental": {"cursor_param": "after"},
    }));
    let start = Start {
        cursor: Some(json!("c3")),
    };
    let pages = read_all(&spec, &start).unwrap();
    assert_eq!(ids(&pages), vec![5]);
    assert_eq!(server.targets(), vec!["/c?after=c3"]);
}

#[test]
fn a_stored_cursor_filters_every_request() {
    let server = TestServer::start(|request| {
        assert_eq!(
            request.query("since").as_deref(),
            Some("2024-05-01T00:00:00Z")
        );
        match request.query("page").as_deref() {
            Some("1") => Reply::json(items(1..3)),
            _ => Reply::json(json!([])),
        }
    });
    let spec = spec(json!({
        "url": server.url("/u"),
        "paginate": {"page": {"param": "page"}},
        "incremental": {"cursor_param": "since"},
    }));
    let start = Start {
        cursor: Some(json!("2024-05-01T00:00:00Z")),
    };
    assert_eq!(ids(&read_all(&spec, &start).unwrap()), vec![1, 2]);
    assert_eq!(server.requests().len(), 2);
    // Without a stored cursor, no filter.
    let server = TestServer::start(|_| Reply::json(items(1..2)));
    let spec = spec_with_url(&spec, &server.url("/u"));
    let spec = HttpSpec {
        paginate: Default::default(),
        ..spec
    };
    read_all(&spec, &Start::default()).unwrap();
    assert_eq!(server.targets(), vec!["/u"]);
}

/// A date-time cursor written as Akeneo's `search` filter wants it: in the answer's own offset,
/// `YYYY-MM-DD hh:mm:ss`, one second early so that `>` reads the cursor's second again.
#[test]
fn a_datetime_cursor_is_rewritten_into_a_json_filter() {
    let server = TestServer::start(|_| Reply::json(json!({"_embedded": {"items": []}})));
    let spec = spec(json!({
        "url": server.url("/api/rest/v1/products-uuid"),
        "records": "$._embedded.items[*]",
        "incremental": {
            "cursor_param": "search",
            "format": r#"{"updated":[{"operator":">","value":"{cursor}"}]}"#,
            "datetime": {"format": "%Y-%m-%d %H:%M:%S", "earlier": 1},
        },
    }));
    let start = Start {
        cursor: Some(json!("2026-03-01T00:00:00+02:00")),
    };
    read_all(&spec, &start).unwrap();
    assert_eq!(
        server.requests()[0].query("search").as_deref(),
        Some(r#"{"updated":[{"operator":">","value":"2026-02-28 23:59:59"}]}"#),
        "the offset kept, a second taken off across a month's end"
    );

    // Without `earlier`, the time as it is; a cursor that is no date-time fails the run.
    let mut plain = spec_with_url(&spec, &server.url("/p"));
    plain
        .incremental
        .as_mut()
        .unwrap()
        .datetime
        .as_mut()
        .unwrap()
        .earlier = 0;
    read_all(&plain, &start).unwrap();
    assert_eq!(
        server.requests()[1].query("search").as_deref(),
        Some(r#"{"updated":[{"operator":">","value":"2026-03-01 00:00:00"}]}"#)
    );
    let wrong = Start {
        cursor: Some(json!("yesterday")),
    };
    let Err(SourceError::Other(message)) = read_all(&plain, &wrong) else {
        panic!("a cursor that is no date-time must fail");
    };
    assert!(message.contains("not an RFC 3339 date-time"), "{message}");
    assert_eq!(server.requests().len(), 2, "nothing sent with it");

    // A format chrono cannot write is refused with its place.
    let mut broken = plain.clone();
    broken
        .incremental
        .as_mut()
        .unwrap()
        .datetime
        .as_mut()
        .unwrap()
        .format = "%Q".into();
    let mut checker = Checker::default();
    broken.check("source.http", &mut checker);
    let problems = checker.finish().unwrap_err().0;
    assert_eq!(problems[0].path, "source.http.incremental.datetime.format");
}

fn spec_with_url(spec: &HttpSpec, url: &str) -> HttpSpec {
    HttpSpec {
        url: url.to_owned(),
        ..spec.clone()
    }
}

#[test]
fn a_post_sends_its_json_body_and_headers() {
    let server = TestServer::start(|_| Reply::json(json!({"hits": items(1..2)})));
    let spec = spec(json!({
        "url": server.url("/search"),
        "method": "POST",
        "body": {"filter": {"updated": ">2024"}},
        "headers": {"X-Tenant": "acme", "Accept": "application/hal+json"},
        "records": "$.hits[*]",
    }));
    assert_eq!(ids(&read_all(&spec, &Start::default()).unwrap()), vec![1]);
    let request = &server.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("x-tenant"), Some("acme"));
    assert_eq!(request.header("accept"), Some("application/hal+json"));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body, json!({"filter": {"updated": ">2024"}}));
}

#[test]
fn credentials_arrive_as_configured() {
    let server = TestServer::start(|_| Reply::json(json!([])));
    let base = json!({"url": server.url("/a?x=1")});
    let with_auth = |auth: Value| {
        let mut value = base.clone();
        value["auth"] = auth;
        spec(value)
    };
    read_all(
        &with_auth(json!({"basic": {"username": "ann", "password": "pa:ss"}})),
        &Start::default(),
    )
    .unwrap();
    read_all(
        &with_auth(json!({"bearer": {"token": "tok-123"}})),
        &Start::default(),
    )
    .unwrap();
    read_all(
        &with_auth(json!({"api_key": {"header": "X-Api-Key", "value": "k-1"}})),
        &Start::default(),
    )
    .unwrap();
    read_all(
        &with_auth(json!({"api_key": {"query": "key", "value": "k 2&"}})),
        &Start::default(),
    )
    .unwrap();
    let requests = server.requests();
    assert_eq!(
        requests[0].header("authorization"),
        Some(basic("ann", "pa:ss").as_str())
    );
    assert_eq!(requests[1].header("authorization"), Some("Bearer tok-123"));
    assert_eq!(requests[2].header("x-api-key"), Some("k-1"));
    assert_eq!(requests[2].header("authorization"), None);
    assert_eq!(requests[3].query("key").as_deref(), Some("k 2&"));
    assert_eq!(requests[3].query("x").as_deref(), Some("1"));
}

/// A server with an OAuth2 token endpoint at `/token` that hands out `tok1`, `tok2`, … and an
/// API at `/api` that accepts only the newest token and refuses the first use of `tok1` when
/// `refuse_first` is set.
fn oauth_server(refuse_first: bool) -> (TestServer, Arc<AtomicUsize>) {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&issued);
    let mut refused = false;
    let server = TestServer::start(move |request| {
        if request.path() == "/token" {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            return Reply::json(json!({
                "access_token": format!("tok{n}"),
                "token_type": "bearer",
                "expires_in": 3600,
            }));
        }
        let newest = format!("Bearer tok{}", counter.load(Ordering::SeqCst));
        if request.header("authorization") != Some(newest.as_str()) {
            return Reply::status(401, "");
        }
        if refuse_first && !refused {
            refused = true;
            return Reply::status(401, "{\"error\": \"expired\"}");
        }
        let page: i64 = request.query("page").unwrap().parse().unwrap();
        Reply::json(items(if page < 3 { page..page + 1 } else { 0..0 }))
    });
    (server, issued)
}

fn oauth_spec(server: &TestServer, oauth: Value) -> HttpSpec {
    let mut oauth = oauth;
    oauth["token_url"] = json!(server.url("/token"));
    spec(json!({
        "url": server.url("/api"),
        "paginate": {"page": {"param": "page"}},
        "auth": {"oauth2": oauth},
    }))
}

#[test]
fn oauth2_client_credentials_token_is_fetched_once_and_reused() {
    let (server, issued) = oauth_server(false);
    let spec = oauth_spec(
        &server,
        json!({"grant": "client_credentials", "client_id": "my-client",
               "client_secret": "s3cret-value", "scopes": ["read", "write"]}),
    );
    let pages = read_all(&spec, &Start::default()).unwrap();
    assert_eq!(ids(&pages), vec![1, 2]);
    assert_eq!(issued.load(Ordering::SeqCst), 1);
    let requests = server.requests();
    let token = &requests[0];
    assert_eq!(token.path(), "/token");
    assert_eq!(token.method, "POST");
    assert_eq!(
        token.form("grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(token.form("scope").as_deref(), Some("read write"));
    assert_eq!(token.form("client_secret"), None);
    assert_eq!(
        token.header("authorization"),
        Some(basic("my-client", "s3cret-value").as_str())
    );
    let api: Vec<_> = requests[1..]
        .iter()
        .map(|r| r.header("authorization"))
        .collect();
    assert_eq!(api, vec![Some("Bearer tok1"); 3]);
}

#[test]
fn oauth2_password_grant_with_the_client_in_the_body() {
    let (server, _) = oauth_server(false);
    let spec = oauth_spec(
        &server,
        json!({"grant": "password", "client_id": "akeneo", "client_secret": "cs",
               "username": "api-user", "password": "p@ss word", "client_auth": "body"}),
    );
    assert_eq!(
        ids(&read_all(&spec, &Start::default()).unwrap()),
        vec![1, 2]
    );
    let token = &server.requests()[0];
    assert_eq!(token.form("grant_type").as_deref(), Some("password"));
    assert_eq!(token.form("username").as_deref(), Some("api-user"));
    assert_eq!(token.form("password").as_deref(), Some("p@ss word"));
    assert_eq!(token.form("client_id").as_deref(), Some("akeneo"));
    assert_eq!(token.form("client_secret").as_deref(), Some("cs"));
    assert_eq!(token.header("authorization"), None);
}

#[test]
fn oauth2_token_is_fetched_again_after_a_401() {
    let (server, issued) = oauth_server(true);
    let spec = oauth_spec(
        &server,
        json!({"grant": "client_credentials", "client_id": "c", "client_secret": "s"}),
    );
    assert_eq!(
        ids(&read_all(&spec, &Start::default()).unwrap()),
        vec![1, 2]
    );
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let seen: Vec<_> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.target, r.header("authorization").unwrap_or("")))
        .collect();
    assert_eq!(seen[0], "/token Basic Yzpz");
    assert_eq!(seen[1], "/api?page=1 Bearer tok1");
    assert_eq!(seen[2], "/token Basic Yzpz");
    assert_eq!(seen[3], "/api?page=1 Bearer tok2");
    assert_eq!(seen[4], "/api?page=2 Bearer tok2");
}

#[test]
fn a_401_after_a_fresh_token_fails() {
    let server = TestServer::start(|request| {
        if request.path() == "/token" {
            Reply::json(json!({"access_token": "t", "token_type": "bearer"}))
        } else {
            Reply::status(401, "")
        }
    });
    let spec = oauth_spec(
        &server,
        json!({"grant": "client_credentials", "client_id": "c", "client_secret": "s"}),
    );
    let error = read_all(&spec, &Start::default()).unwrap_err();
    assert!(
        matches!(
            error,
            SourceError::Request {
                status: Some(401),
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(server.requests().len(), 4, "token, refused, token, refused");
}

#[test]
fn a_429_waits_as_retry_after_says() {
    let calls = AtomicUsize::new(0);
    let server = TestServer::start(move |_| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::status(429, "slow down").with_header("Retry-After", "1")
        } else {
            Reply::json(items(1..2))
        }
    });
    // The backoff alone would retry at once: only Retry-After can make the wait.
    let spec = spec(json!({"url": server.url("/r"), "retry": {"backoff": 1}}));
    assert_eq!(ids(&read_all(&spec, &Start::default()).unwrap()), vec![1]);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].at.duration_since(requests[0].at) >= Duration::from_millis(950));
}

#[test]
fn server_errors_are_retried_until_the_attempts_run_out() {
    let server = TestServer::start(|_| Reply::status(500, "boom"));
    let spec = spec(json!({"url": server.url("/e"), "retry": {"attempts": 3, "backoff": 1}}));
    let error = read_all(&spec, &Start::default()).unwrap_err();
    match &error {
        SourceError::Request {
            status, message, ..
        } => {
            assert_eq!(*status, Some(500));
            assert!(
                message.contains("boom") && message.contains("3 times"),
                "{message}"
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_client_error_is_not_retried() {
    let server = TestServer::start(|_| Reply::status(404, "no such list"));
    let spec = spec(json!({"url": server.url("/e"), "retry": {"backoff": 1}}));
    let error = read_all(&spec, &Start::default()).unwrap_err();
    assert!(
        matches!(
            error,
            SourceError::Request {
                status: Some(404),
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn an_answer_broken_off_is_retried() {
    let calls = AtomicUsize::new(0);
    let server = TestServer::start(move |_| {
        let body = json!({"items": items(1..40)});
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::BreakOff {
                body: body.to_string().into_bytes(),
            }
        } else {
            Reply::json(body)
        }
    });
    let spec =
        spec(json!({"url": server.url("/b"), "records": "$.items[*]", "retry": {"backoff": 1}}));
    let pages = read_all(&spec, &Start::default()).unwrap();
    assert_eq!(ids(&pages), (1..40).collect::<Vec<_>>());
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_refused_connection_is_a_request_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/gone", listener.local_addr().unwrap());
    drop(listener);
    let spec = spec(json!({"url": url, "retry": {"attempts": 2, "backoff": 1}}));
    let error = read_all(&spec, &Start::default()).unwrap_err();
    assert!(
        matches!(error, SourceError::Request { status: None, .. }),
        "{error}"
    );
}

#[test]
fn an_answer_that_is_not_json_is_malformed() {
    let server = TestServer::start(|_| Reply::status(200, "<html>maintenance</html>"));
    let spec = spec(json!({"url": server.url("/m")}));
    let error = read_all(&spec, &Start::default()).unwrap_err();
    assert!(
        matches!(&error, SourceError::Malformed { message, .. } if message.contains("not JSON")),
        "{error}"
    );
}

#[test]
fn records_must_be_array_elements_and_nothing_found_is_an_empty_page() {
    let server = TestServer::start(|_| Reply::json(json!({"items": items(1..3)})));
    let error = read_all(
        &spec(json!({"url": server.url("/r"), "records": "$.items"})),
        &Start::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&error, SourceError::Malformed { message, .. } if message.contains("/items")),
        "{error}"
    );
    let pages = read_all(
        &spec(json!({"url": server.url("/r"), "records": "$.data[*]"})),
        &Start::default(),
    )
    .unwrap();
    assert!(pages.is_empty());
}

#[test]
fn a_redirect_is_reported_not_followed() {
    let server = TestServer::start(|request| match request.path() {
        "/old" => Reply::status(301, "").with_header("Location", "/new"),
        _ => Reply::json(items(1..2)),
    });
    let error = read_all(&spec(json!({"url": server.url("/old")})), &Start::default()).unwrap_err();
    assert!(
        matches!(
            error,
            SourceError::Request {
                status: Some(301),
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("/new"), "{error}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn no_secret_appears_in_errors() {
    let secrets = [
        "pw-SECRET-1",
        "key-SECRET-2",
        "tok-SECRET-3",
        "cs-SECRET-4",
        "rop-SECRET-5",
    ];
    // Servers that echo what they got, to tempt the source into quoting it.
    let echo = TestServer::start(|request| {
        Reply::status(
            403,
            &format!("denied {} {:?}", request.target, request.headers),
        )
    });
    let broken = TestServer::start(|request| {
        Reply::status(
            500,
            &format!("oops {} {:?}", request.target, request.headers),
        )
    });
    let token_refused = TestServer::start(|request| {
        let got = format!(
            "{} {:?}",
            String::from_utf8_lossy(&request.body),
            request.headers
        );
        Reply::status(
            400,
            &format!("{{\"error\":\"invalid_client\",\"got\":{got:?}}}"),
        )
    });
    let host = |server: &TestServer| server.url("").trim_start_matches("http://").to_owned();
    let cases = vec![
        json!({"url": format!("http://user:{}@{}/a", secrets[0], host(&echo))}),
        json!({"url": echo.url("/a"), "auth": {"basic": {"username": "u", "password": secrets[0]}}}),
        json!({"url": echo.url("/a"), "auth": {"api_key": {"query": "key", "value": secrets[1]}}}),
        json!({"url": broken.url("/a"), "retry": {"attempts": 1},
               "auth": {"api_key": {"query": "key", "value": secrets[1]}}}),
        json!({"url": echo.url("/a"), "auth": {"api_key": {"header": "X-Key", "value": secrets[1]}}}),
        json!({"url": echo.url("/a"), "auth": {"bearer": {"token": secrets[2]}}}),
        json!({"url": echo.url("/a"), "auth": {"basic": {"username": "user", "password": secrets[0]}}}),
        json!({"url": echo.url("/a"), "auth": {"oauth2": {"grant": "password",
               "token_url": token_refused.url("/token"), "client_id": "c",
               "client_secret": secrets[3], "username": "u", "password": secrets[4]}}}),
        json!({"url": echo.url("/a"), "auth": {"oauth2": {"grant": "client_credentials",
               "token_url": token_refused.url("/token"), "client_id": "c",
               "client_secret": secrets[3], "client_auth": "body"}}}),
        json!({"url": "http://127.0.0.1:1/a?key=x", "retry": {"attempts": 1},
               "auth": {"api_key": {"query": "key", "value": secrets[1]}}}),
    ];
    for case in cases {
        let spec = spec(case.clone());
        let error = read_all(&spec, &Start::default()).unwrap_err();
        let shown = format!("{error} {error:?}");
        // Also as HTTP Basic sends them: base64 is no disguise.
        let encoded = [
            basic("u", secrets[0]),
            basic("user", secrets[0]),
            basic("c", secrets[3]),
        ];
        for secret in secrets
            .iter()
            .copied()
            .chain(encoded.iter().map(|b| &b[6..]))
        {
            assert!(!shown.contains(secret), "{case}: {shown}");
        }
        if !spec.url.contains('@') {
            assert!(!format!("{spec:?}").contains("SECRET"), "{spec:?}");
        }
    }
    // The servers did get the secrets: the errors hid them.
    assert!(
        echo.requests()
            .iter()
            .any(|r| r.target.contains(secrets[1]))
    );
    assert!(
        token_refused
            .requests()
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains(secrets[3]))
    );
}

#[test]
fn check_reports_every_problem_with_its_path() {
    let spec = spec(json!({
        "url": "ftp://x",
        "body": {"a": 1},
        "query": {"q": [1]},
        "headers": {"Bad Header": "v"},
        "records": "$.items[",
        "paginate": {"next_link": {"path": "items"}},
        "max_pages": 0,
        "auth": {"oauth2": {"grant": "password", "token_url": "not a url",
                            "client_id": "c", "client_secret": "s"}},
        "retry": {"attempts": 0},
        "rate_limit": 0.0,
        "timeout": 0,
        "incremental": {"cursor_param": ""},
    }));
    let mut checker = Checker::default();
    spec.check("source.http", &mut checker);
    let problems = checker.finish().unwrap_err().0;
    let paths: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "source.http.url",
            "source.http.body",
            "source.http.query.q",
            "source.http.headers.Bad Header",
            "source.http.records",
            "source.http.paginate.next_link.path",
            "source.http.max_pages",
            "source.http.auth.oauth2.token_url",
            "source.http.auth.oauth2.username",
            "source.http.auth.oauth2.password",
            "source.http.retry.attempts",
            "source.http.rate_limit",
            "source.http.timeout",
            "source.http.incremental.cursor_param",
        ]
    );
    let records = &problems[4].message;
    assert!(
        records.starts_with("not a JSONPath: ") && records.len() > 20,
        "{records}"
    );
    // open refuses what check refuses.
    assert!(matches!(
        spec.open(&Start::default()),
        Err(SourceError::Other(_))
    ));
}

#[test]
fn a_valid_spec_has_no_problems_and_defaults_apply() {
    let spec: HttpSpec = serde_norway::from_str(
        "url: https://pim.example/api/rest/v1/products\n\
         records: $._embedded.items[*]\n\
         paginate: {next_link: {path: $._links.next.href}}\n\
         auth: {api_key: {header: X-Key, value: k}}\n",
    )
    .unwrap();
    let mut checker = Checker::default();
    spec.check("source.http", &mut checker);
    assert!(checker.is_empty());
    assert_eq!(spec.retry.attempts, 5);
    assert_eq!(spec.retry.backoff, 500);
    assert_eq!(spec.timeout, 30);
    let round: HttpSpec = serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
    assert_eq!(round, spec);
    let none: HttpSpec = serde_norway::from_str("url: http://x\npaginate: none\n").unwrap();
    assert_eq!(none.records, "$[*]");
}

#[test]
fn unknown_fields_are_refused_everywhere() {
    for value in [
        json!({"url": "http://x", "pages": 3}),
        json!({"url": "http://x", "paginate": {"page": {"param": "p", "count": 1}}}),
        json!({"url": "http://x", "paginate": {"link_header": {"rel": "next"}}}),
        json!({"url": "http://x", "auth": {"bearer": {"token": "t", "scheme": "x"}}}),
        json!({"url": "http://x", "auth": {"oauth2": {"grant": "password", "token_url": "http://t",
               "client_id": "c", "client_secret": "s", "audience": "a"}}}),
        json!({"url": "http://x", "retry": {"tries": 3}}),
        json!({"url": "http://x", "paginate": {"page": {"param": "p"}, "offset": {"param": "o", "limit_param": "l", "limit": 1}}}),
    ] {
        assert!(
            serde_json::from_value::<HttpSpec>(value.clone()).is_err(),
            "{value}"
        );
    }
}

#[test]
fn an_expired_token_is_renewed_before_the_next_request() {
    let issued = AtomicUsize::new(0);
    let server = TestServer::start(move |request| {
        if request.path() == "/token" {
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            // A lifetime of 0 s: expired as soon as it came.
            return Reply::json(
                json!({"access_token": format!("tok{n}"), "token_type": "bearer",
                                      "expires_in": 0}),
            );
        }
        let page: i64 = request.query("page").unwrap().parse().unwrap();
        Reply::json(items(if page < 3 { page..page + 1 } else { 0..0 }))
    });
    let spec = oauth_spec(
        &server,
        json!({"grant": "client_credentials", "client_id": "c", "client_secret": "s"}),
    );
    assert_eq!(
        ids(&read_all(&spec, &Start::default()).unwrap()),
        vec![1, 2]
    );
    let seen: Vec<_> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.path(), r.header("authorization").unwrap_or("")))
        .collect();
    assert_eq!(
        seen,
        vec![
            "/token Basic Yzpz",
            "/api Bearer tok1",
            "/token Basic Yzpz",
            "/api Bearer tok2",
            "/token Basic Yzpz",
            "/api Bearer tok3",
        ]
    );
}

#[test]
fn the_rate_limit_spaces_requests() {
    let server = TestServer::start(|request| match request.query("page").as_deref() {
        Some("1") | Some("2") => Reply::json(items(1..2)),
        _ => Reply::json(json!([])),
    });
    let spec = spec(json!({
        "url": server.url("/r"),
        "paginate": {"page": {"param": "page"}},
        "rate_limit": 10.0,
    }));
    read_all(&spec, &Start::default()).unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for pair in requests.windows(2) {
        assert!(pair[1].at.duration_since(pair[0].at) >= Duration::from_millis(95));
    }
}
