//! The back office: a single page at `/` with its script and styles, embedded in the binary.
//!
//! The page is a small script over the admin API, `/token` and the Data Exchange API; nothing
//! is built at install time and nothing is fetched from elsewhere when it is viewed.

use actix_web::{HttpResponse, web};

use crate::config::AppConfig;
use crate::respond::{embedded, html_page};

const PAGE: &str = include_str!("../../assets/ui/index.html");
const SCRIPT: &[u8] = include_bytes!("../../assets/ui/app.js");
const STYLES: &[u8] = include_bytes!("../../assets/ui/app.css");
/// The icon as a vector, which the page links.
const ICON_SVG: &[u8] = include_bytes!("../../assets/ui/favicon.svg");
/// The same icon as a 32×32 ICO (one PNG inside), for what asks `/favicon.ico` by habit.
const ICON_ICO: &[u8] = include_bytes!("../../assets/ui/favicon.ico");

/// Only this server's own files; no inline script or style, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The page of an application, built once from its configuration when the routes are made.
pub(crate) struct Page(String);

impl Page {
    /// The page for an application served with `config`.
    pub(crate) fn new(config: &AppConfig) -> web::Data<Page> {
        web::Data::new(Page(
            PAGE.replace("{{VERSION}}", env!("CARGO_PKG_VERSION"))
                .replace("{{PREFIX}}", &escape(config.route_prefix.trim_matches('/'))),
        ))
    }
}

/// `GET /`: the back office page.
pub(crate) async fn page(page: web::Data<Page>) -> HttpResponse {
    html_page(CONTENT_SECURITY_POLICY, page.0.clone())
}

/// `GET /ui/app.js`.
pub(crate) async fn script() -> HttpResponse {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /ui/app.css`.
pub(crate) async fn styles() -> HttpResponse {
    asset(STYLES, "text/css; charset=utf-8")
}

/// `GET /favicon.ico`: browsers ask for it on every page, linked or not.
pub(crate) async fn favicon_ico() -> HttpResponse {
    // Not versioned in its URL: cached for a day only.
    embedded(ICON_ICO, "image/x-icon", "public, max-age=86400")
}

/// `GET /ui/favicon.svg`, the icon the page links.
pub(crate) async fn favicon_svg() -> HttpResponse {
    asset(ICON_SVG, "image/svg+xml")
}

/// The route prefix as HTML attribute text (it is validated configuration, but a page is no
/// place to trust that).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn asset(body: &'static [u8], content_type: &'static str) -> HttpResponse {
    // The page asks for `?v=<version>`, so a new release is fetched anew.
    embedded(body, content_type, "public, max-age=86400")
}
