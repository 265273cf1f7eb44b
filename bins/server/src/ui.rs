//! The back office: a single page at `/` with its script and styles, embedded in the binary.
//!
//! The page is a small script over the admin API, `/token` and the Data Exchange API; nothing
//! is built at install time and nothing is fetched from elsewhere when it is viewed.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::AppConfig;
use crate::error::ApiError;

const PAGE: &str = include_str!("../assets/ui/index.html");
const SCRIPT: &[u8] = include_bytes!("../assets/ui/app.js");
const STYLES: &[u8] = include_bytes!("../assets/ui/app.css");

/// Only this server's own files; no inline script or style, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Registers `/` and the page's assets under `/ui/`.
pub fn routes(config: &AppConfig) -> impl FnOnce(&mut web::ServiceConfig) + use<> {
    let page = PAGE
        .replace("{{VERSION}}", env!("CARGO_PKG_VERSION"))
        .replace("{{PREFIX}}", &escape(config.route_prefix.trim_matches('/')));
    move |cfg| {
        cfg.service(
            web::resource("/")
                .route(web::get().to(move || {
                    let page = page.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("text/html; charset=utf-8")
                            .insert_header((header::CACHE_CONTROL, "no-cache"))
                            .insert_header((
                                header::CONTENT_SECURITY_POLICY,
                                CONTENT_SECURITY_POLICY,
                            ))
                            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                            .insert_header((header::REFERRER_POLICY, "no-referrer"))
                            .body(page)
                    }
                }))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed("GET"))
                })),
        )
        .route(
            "/ui/app.js",
            web::get().to(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/ui/app.css",
            web::get().to(|| async { asset(STYLES, "text/css; charset=utf-8") }),
        );
    }
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
    crate::docs::embedded(body, content_type, "public, max-age=86400")
}
