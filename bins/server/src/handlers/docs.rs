//! The live API description and its interactive documentation: `GET /openapi.json`, built from
//! the configuration in force at each request, and `GET /docs`, Swagger UI served from the
//! binary (nothing is fetched from elsewhere, at build time or when the page is viewed).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use dynex_query::PageLimits;
use dynex_schema::Catalog;

use crate::config::{AppConfig, AppState};
use crate::respond::{embedded, html_page};

/// The version of the vendored Swagger UI (`assets/swagger-ui`).
const SWAGGER_UI_VERSION: &str = "5.35.0";
const PAGE: &str = include_str!("../../assets/docs.html");
const INITIALIZER: &[u8] = include_bytes!("../../assets/swagger-initializer.js");
const BUNDLE: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");

/// The page only loads this server's own files; the inline styles are Swagger UI's.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The OpenAPI 3.1 description of a server that serves `catalog` with `config` and `limits`.
///
/// `server_url` is the base URL to name in the document; `None` leaves it relative to where
/// the document is fetched from. `dynex openapi` prints the same document.
pub fn openapi_document(
    catalog: &Catalog,
    config: &AppConfig,
    limits: PageLimits,
    server_url: Option<&str>,
) -> serde_json::Value {
    let options = dynex_openapi::Options::served(
        &config.route_prefix,
        limits.default_limit,
        limits.max_limit,
        config.max_body_bytes,
        server_url,
    );
    dynex_openapi::describe(catalog, &options)
}

/// `GET /openapi.json`: described from the snapshot this request sees, so a configuration
/// change shows at the next request after the snapshot swaps.
pub(crate) async fn openapi(
    state: web::Data<AppState>,
    config: web::Data<AppConfig>,
) -> HttpResponse {
    let snapshot = state.dynex.snapshot();
    let document = openapi_document(&snapshot.catalog, &config, state.dynex.page_limits(), None);
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(document)
}

/// `GET /docs`: the Swagger UI page.
pub(crate) async fn page() -> HttpResponse {
    // Asset URLs carry the versions, so that they can be cached for good.
    let version = format!("{SWAGGER_UI_VERSION}-{}", env!("CARGO_PKG_VERSION"));
    html_page(
        CONTENT_SECURITY_POLICY,
        PAGE.replace("{{VERSION}}", &version),
    )
}

/// `/docs/` → `/docs`: the page's links are relative to `/docs`, so that it works behind a
/// proxy that serves dynex under a path.
pub(crate) async fn to_page() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "../docs"))
        .finish()
}

/// `GET /docs/swagger-initializer.js`.
pub(crate) async fn initializer() -> HttpResponse {
    asset(INITIALIZER, "text/javascript; charset=utf-8")
}

/// `GET /docs/swagger-ui-bundle.js`.
pub(crate) async fn bundle() -> HttpResponse {
    asset(BUNDLE, "text/javascript; charset=utf-8")
}

/// `GET /docs/swagger-ui.css`.
pub(crate) async fn css() -> HttpResponse {
    asset(CSS, "text/css; charset=utf-8")
}

fn asset(body: &'static [u8], content_type: &'static str) -> HttpResponse {
    embedded(body, content_type, "public, max-age=31536000, immutable")
}
