//! The back office is served from the binary: the page at `/` with a strict content security
//! policy and the route prefix it calls, and its script and styles. What it does in a browser
//! is tested by `scripts/browser-test` in headless Chromium.

use actix_web::test::{TestRequest, call_service, init_service, read_body};
use dynex_test_support::{TestDb, async_backend_tests, open_demo};

use crate::support::TestApp;

async_backend_tests!(the_page_and_its_assets_are_served, the_icon_is_served);

async fn the_page_and_its_assets_are_served(db: TestDb) {
    let dynex = open_demo(&db);
    let app = TestApp::with_config(
        dynex,
        dynex_server::AppConfig {
            route_prefix: "api/v1".into(),
            ..dynex_server::AppConfig::default()
        },
    )
    .await;
    let r = app.send(TestRequest::get().uri("/")).await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    assert_eq!(r.content_type.as_deref(), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(
        r.raw
            .contains(r#"<meta name="dynex-prefix" content="api/v1">"#),
        "{}",
        r.raw
    );
    let version = env!("CARGO_PKG_VERSION");
    for (path, content_type, marker) in [
        (
            "ui/app.js",
            "text/javascript; charset=utf-8",
            "function route()",
        ),
        ("ui/app.css", "text/css; charset=utf-8", ":root"),
    ] {
        assert!(
            r.raw.contains(&format!("{path}?v={version}")),
            "{path}: {}",
            r.raw
        );
        let asset = app.send(TestRequest::get().uri(&format!("/{path}"))).await;
        assert_eq!(asset.status.as_u16(), 200, "{path}");
        assert_eq!(asset.content_type.as_deref(), Some(content_type));
        assert!(asset.raw.contains(marker), "{path}");
    }
    // No other method, and no other file, is served there.
    let r = app.send(TestRequest::post().uri("/")).await;
    assert_eq!(r.status.as_u16(), 405, "{r:?}");
    r.assert_json();
    let r = app.send(TestRequest::get().uri("/ui/other.js")).await;
    r.assert_error(404, "007");
}

/// `/favicon.ico`, which browsers ask for on every page, is an icon (not a 404), and the page
/// links the same icon as SVG.
async fn the_icon_is_served(db: TestDb) {
    let app = init_service(dynex_server::create_app(
        open_demo(&db),
        dynex_server::AppConfig::default(),
    ))
    .await;
    let res = call_service(&app, TestRequest::get().uri("/favicon.ico").to_request()).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers().get("content-type").unwrap(), "image/x-icon");
    let body = read_body(res).await;
    // An ICO header with one image, a PNG.
    assert_eq!(body[..6], [0, 0, 1, 0, 1, 0]);
    assert_eq!(body[22..30], *b"\x89PNG\r\n\x1a\n");
    let res = call_service(&app, TestRequest::get().uri("/").to_request()).await;
    let page = String::from_utf8(read_body(res).await.to_vec()).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        page.contains(&format!(
            r#"<link rel="icon" type="image/svg+xml" href="ui/favicon.svg?v={version}">"#
        )),
        "{page}"
    );
    let res = call_service(&app, TestRequest::get().uri("/ui/favicon.svg").to_request()).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers().get("content-type").unwrap(), "image/svg+xml");
    let svg = String::from_utf8(read_body(res).await.to_vec()).unwrap();
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
}
