//! The back office is served from the binary: the page at `/` with a strict content security
//! policy and the route prefix it calls, and its script and styles. What it does in a browser
//! is tested by `scripts/browser-test` in headless Chromium.

use actix_web::test::TestRequest;
use dynex_test_support::{TestDb, async_backend_tests, open_demo};

use crate::support::TestApp;

async_backend_tests!(the_page_and_its_assets_are_served);

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
