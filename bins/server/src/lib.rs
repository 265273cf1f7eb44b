//! The dynex API server: the Data Exchange API over the configured tables.
//!
//! [`create_app`] builds the actix-web application from an opened [`Dynex`], so tests and
//! embedding programs reuse exactly what `dynex-server` serves; [`run`] is the whole binary.

mod admin;
mod auth;
mod csv;
mod docs;
mod error;
mod jobs;
mod token;
mod ui;

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, Logger};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use dynex_auth::Action;
use dynex_core::{Dynex, Method, Options, TokenOptions, WriteRequest};
use dynex_query::PageLimits;
use serde_json::json;

pub use docs::openapi_document;
pub use dynex_wire::{Code, ErrorObject};
pub use error::ApiError;

/// Command-line and environment settings of `dynex-server`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "dynex-server",
    version,
    about = "Serve the Data Exchange API over configured tables"
)]
pub struct ServerArgs {
    /// Database URL: sqlite://path, postgres://user@host/db or mysql://user:pass@host/db
    /// [default: sqlite://dynex.db, or sqlite://dynex-demo.db with --demo]
    #[arg(long, env = "DYNEX_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "DYNEX_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Load the demo catalog (if absent) and print a ready-to-use API key.
    #[arg(long)]
    pub demo: bool,
    /// URL prefix of the Data Exchange API.
    #[arg(long, env = "DYNEX_ROUTE_PREFIX", default_value = "dynamic-entity")]
    pub route_prefix: String,
    /// Rows per page when a request gives no page[limit].
    #[arg(long, env = "DYNEX_PAGE_LIMIT_DEFAULT", default_value_t = 20)]
    pub page_limit_default: u64,
    /// Largest page[limit] accepted.
    #[arg(long, env = "DYNEX_PAGE_LIMIT_MAX", default_value_t = 1000)]
    pub page_limit_max: u64,
    /// Database connections in the pool.
    #[arg(long, env = "DYNEX_POOL_SIZE", default_value_t = 8)]
    pub pool_size: u32,
    /// HTTP worker threads (default: one per CPU).
    #[arg(long, env = "DYNEX_WORKERS")]
    pub workers: Option<usize>,
    /// Largest request body accepted, in bytes; a larger one is refused with 413 (code 1322).
    #[arg(long, env = "DYNEX_MAX_BODY_BYTES", default_value_t = AppConfig::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Largest CSV file accepted by an import job (`POST /admin/api/jobs/import`, the back
    /// office), in bytes; it is stored in a temporary file, not held in memory.
    #[arg(long, env = "DYNEX_MAX_UPLOAD_BYTES", default_value_t = AppConfig::DEFAULT_MAX_UPLOAD_BYTES)]
    pub max_upload_bytes: usize,
    /// Secret that signs access tokens (at least 32 random bytes; every instance needs the
    /// same). Without it, a secret generated at first start and kept in the database is used.
    #[arg(long, env = "DYNEX_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
    /// Access-token lifetime in seconds.
    #[arg(long, env = "DYNEX_ACCESS_TOKEN_TTL", default_value_t = 8 * 3600)]
    pub access_token_ttl: u64,
    /// Refresh-token lifetime in seconds.
    #[arg(long, env = "DYNEX_REFRESH_TOKEN_TTL", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl: u64,
    /// Rate-limit failed logins by the first `X-Forwarded-For` address instead of the peer's;
    /// only behind a proxy that sets that header itself.
    #[arg(long, env = "DYNEX_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
}

/// How the application is served, besides the database.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// URL prefix of the Data Exchange API, `dynamic-entity` by default.
    pub route_prefix: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest file accepted by an import job, in bytes.
    pub max_upload_bytes: usize,
    /// Take the client address for login rate limits from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
}

impl AppConfig {
    /// The default body limit: 16 MiB, room for about 20,000 typical rows per request.
    pub const DEFAULT_MAX_BODY_BYTES: usize = dynex_core::DEFAULT_MAX_BODY_BYTES;
    /// The default upload limit of import jobs: 4 GiB.
    pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 4 * 1024 * 1024 * 1024;
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            route_prefix: "dynamic-entity".to_string(),
            max_body_bytes: AppConfig::DEFAULT_MAX_BODY_BYTES,
            max_upload_bytes: AppConfig::DEFAULT_MAX_UPLOAD_BYTES,
            trust_forwarded_for: false,
        }
    }
}

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The opened database.
    pub dynex: Dynex,
    /// The body limit, for the 413 message.
    pub max_body_bytes: usize,
    /// The upload limit of import jobs.
    pub max_upload_bytes: usize,
    /// Take the client address from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
}

/// Builds the application: routes, JSON errors everywhere, and request logging without secrets.
pub fn create_app(
    dynex: Dynex,
    config: AppConfig,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let prefix = format!("/{}", config.route_prefix.trim_matches('/'));
    App::new()
        .app_data(web::Data::new(AppState {
            dynex,
            max_body_bytes: config.max_body_bytes,
            max_upload_bytes: config.max_upload_bytes,
            trust_forwarded_for: config.trust_forwarded_for,
        }))
        .app_data(web::PayloadConfig::new(config.max_body_bytes))
        .wrap(ErrorHandlers::new().default_handler(json_errors))
        // The query string may carry `api_key`, so only the path is logged.
        .wrap(
            Logger::new("%a \"%{method}xi %{path}xi\" %s %b %T")
                .custom_request_replace("method", |r| r.method().to_string())
                .custom_request_replace("path", |r| r.path().to_string()),
        )
        .service(
            web::scope(&prefix)
                .service(
                    web::resource("/{alias}")
                        .route(web::get().to(get_collection))
                        .route(web::post().to(write_collection))
                        .route(web::patch().to(write_collection))
                        .route(web::put().to(write_collection))
                        .route(web::delete().to(delete_collection))
                        .default_service(web::to(|| async {
                            Err::<HttpResponse, _>(ApiError::MethodNotAllowed(COLLECTION_METHODS))
                        })),
                )
                .service(
                    web::resource("/{alias}/{id}")
                        .route(web::get().to(get_one))
                        .route(web::patch().to(write_one))
                        .route(web::put().to(write_one))
                        .route(web::delete().to(delete_one))
                        .default_service(web::to(|| async {
                            Err::<HttpResponse, _>(ApiError::MethodNotAllowed(ONE_METHODS))
                        })),
                ),
        )
        .service(
            web::resource(["/token", "/token/"])
                .route(web::post().to(token::token))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed("POST"))
                })),
        )
        .service(
            web::resource("/token/revoke")
                .route(web::post().to(token::revoke))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::MethodNotAllowed("POST"))
                })),
        )
        .configure(admin::routes)
        .configure(docs::routes(&config))
        .configure(ui::routes(&config))
        .route("/health/live", web::get().to(live))
        .route("/health/ready", web::get().to(ready))
        .default_service(web::to(not_found))
}

/// Replaces any error response that is not JSON (actix's own plain-text errors) with a coded one.
fn json_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let limit = res
        .request()
        .app_data::<web::Data<AppState>>()
        .map_or(0, |s| s.max_body_bytes);
    let code = dynex_wire::Code::for_status(status.as_u16());
    let message = match code {
        dynex_wire::Code::BodyTooLarge => error::body_too_large(limit),
        dynex_wire::Code::InvalidParameter => status
            .canonical_reason()
            .unwrap_or("Bad request")
            .to_string(),
        other => other.message().to_string(),
    };
    let mut object = ErrorObject::new(code, message);
    // The status stays the framework's own (a 5xx other than 500 too).
    object.status = status.as_u16();
    let body = serde_json::to_string(&[object]).unwrap_or_default();
    let (req, mut res) = res.into_parts();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let res = res.set_body(body);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, res)
            .map_into_boxed_body()
            .map_into_right_body(),
    ))
}

pub(crate) fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Runs blocking database work off the async workers.
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, dynex_core::CoreError> + Send + 'static,
) -> Result<R, ApiError> {
    web::block(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::from)
}

async fn get_collection(
    state: web::Data<AppState>,
    alias: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let alias = alias.into_inner();
    let pairs = query_pairs(&req);
    auth::authorize(&state.dynex, &req, &pairs, Action::Read, &alias)?;
    if csv::wants_csv(&req) {
        return csv::export(state, alias, pairs).await;
    }
    let dynex = state.dynex.clone();
    let read_pairs = pairs.clone();
    let page = blocking(move || dynex.read_collection(&alias, &read_pairs)).await?;
    let mut body = serde_json::Map::new();
    body.insert("data".into(), serde_json::Value::Array(page.rows));
    if page.cursor {
        let next = page
            .next
            .map(|cursor| next_link(req.path(), &pairs, &cursor));
        body.insert("links".into(), json!({ "next": next }));
    }
    if let Some(count) = page.count {
        body.insert("meta".into(), json!({ "count": count }));
    }
    Ok(HttpResponse::Ok().json(body))
}

/// The link to the next keyset page: this request's path and parameters with `page[after]` set
/// to `cursor`. An `api_key` parameter is left out: a link is no place for a secret.
fn next_link(path: &str, pairs: &[(String, String)], cursor: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if k != "page[after]" && k != "api_key" {
            query.append_pair(k, v);
        }
    }
    query.append_pair("page[after]", cursor);
    format!("{path}?{}", query.finish())
}

async fn get_one(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (alias, id) = path.into_inner();
    let pairs = query_pairs(&req);
    auth::authorize(&state.dynex, &req, &pairs, Action::Read, &alias)?;
    let dynex = state.dynex.clone();
    let row = blocking(move || dynex.read_one(&alias, &id, &pairs)).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": row })))
}

/// Reads a request body of at most `limit` bytes into one buffer sized from `Content-Length`
/// (growing a buffer chunk by chunk costs more than parsing the JSON).
pub(crate) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    use futures_util::StreamExt;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::BodyTooLarge(limit));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(8192));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::Core(dynex_core::CoreError::Rows(vec![
                dynex_validate::RowError::InvalidFormat,
            ]))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::BodyTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Methods of `/{alias}`, for `Allow` headers.
const COLLECTION_METHODS: &str = "GET, POST, PATCH, PUT, DELETE";
/// Methods of `/{alias}/{id}`, for `Allow` headers.
const ONE_METHODS: &str = "GET, PATCH, PUT, DELETE";

/// `X-Is-Transactional: false` (or `0`) commits each root row on its own; anything else, or no
/// header, is one transaction.
fn transactional(req: &HttpRequest) -> bool {
    !req.headers()
        .get("x-is-transactional")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "false" | "0"))
}

/// Runs a write and answers it: the saved rows with 201 (POST) or 200; in non-transactional
/// mode with refused rows, `{"data", "errors"}` with the success status when anything was saved
/// and the first error's status otherwise.
async fn write(
    state: web::Data<AppState>,
    req: HttpRequest,
    alias: String,
    id: Option<String>,
    payload: web::Payload,
    method: Method,
) -> Result<HttpResponse, ApiError> {
    let pairs = query_pairs(&req);
    let principal = auth::authorize(&state.dynex, &req, &pairs, Action::Write, &alias)?;
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    let transactional = transactional(&req);
    if id.is_none() && csv::sends_csv(&req) {
        let mode = match method {
            Method::Create => dynex_core::ImportMode::Insert,
            Method::Update => dynex_core::ImportMode::Update,
            Method::Upsert => dynex_core::ImportMode::Upsert,
        };
        return csv::import(state, alias, pairs, body, mode, transactional).await;
    }
    let dynex = state.dynex.clone();
    let by_id = id.is_some();
    let outcome = blocking(move || {
        dynex.write(&WriteRequest {
            alias: &alias,
            method,
            id: id.as_deref(),
            body: &body,
            transactional,
            principal: Some(&principal),
        })
    })
    .await?;
    let success = if method == Method::Create {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let data = if by_id {
        outcome
            .data
            .into_iter()
            .next()
            .unwrap_or(serde_json::Value::Null)
    } else {
        serde_json::Value::Array(outcome.data)
    };
    let Some(first) = outcome.errors.first() else {
        return Ok(HttpResponse::build(success).json(json!({ "data": data })));
    };
    let saved_any = match &data {
        serde_json::Value::Array(rows) => !rows.is_empty(),
        other => !other.is_null(),
    };
    let status = if saved_any {
        success
    } else {
        StatusCode::from_u16(first.status()).unwrap_or(StatusCode::BAD_REQUEST)
    };
    let errors: Vec<ErrorObject> = outcome
        .errors
        .iter()
        .map(dynex_wire::WireError::object)
        .collect();
    Ok(HttpResponse::build(status).json(json!({ "data": data, "errors": errors })))
}

/// The write a method asks for; routes only send POST, PATCH and PUT here.
fn write_method(method: &actix_web::http::Method) -> Method {
    match *method {
        actix_web::http::Method::POST => Method::Create,
        actix_web::http::Method::PATCH => Method::Update,
        _ => Method::Upsert,
    }
}

async fn write_collection(
    state: web::Data<AppState>,
    alias: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let method = write_method(req.method());
    write(state, req, alias.into_inner(), None, payload, method).await
}

async fn write_one(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (alias, id) = path.into_inner();
    let method = write_method(req.method());
    write(state, req, alias, Some(id), payload, method).await
}

async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    alias: String,
    id: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let pairs = query_pairs(&req);
    auth::authorize(&state.dynex, &req, &pairs, Action::Delete, &alias)?;
    let dynex = state.dynex.clone();
    let allow = if id.is_some() {
        "GET, PATCH, PUT"
    } else {
        "GET, POST, PATCH, PUT"
    };
    match blocking(move || dynex.delete(&alias, id.as_deref(), &pairs)).await {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(ApiError::Core(dynex_core::CoreError::MethodNotAllowed(alias))) => {
            Err(ApiError::NotDeletable(alias, allow))
        }
        Err(e) => Err(e),
    }
}

async fn delete_collection(
    state: web::Data<AppState>,
    alias: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    delete(state, req, alias.into_inner(), None).await
}

async fn delete_one(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (alias, id) = path.into_inner();
    delete(state, req, alias, Some(id)).await
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let dynex = state.dynex.clone();
    let version = blocking(move || {
        dynex.refresh()?;
        Ok(dynex.snapshot().version)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({"status": "ok", "configVersion": version})))
}

/// Opens the database (loading the demo if asked), prints how to call it, and serves until
/// interrupted.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let url = args.database_url.clone().unwrap_or_else(|| {
        if args.demo {
            "sqlite://dynex-demo.db"
        } else {
            "sqlite://dynex.db"
        }
        .to_string()
    });
    let options = Options {
        pool_size: args.pool_size,
        migrate: true,
        page_limits: PageLimits {
            default_limit: args.page_limit_default.max(1),
            max_limit: args.page_limit_max.max(args.page_limit_default).max(1),
        },
        watch_interval: Some(Duration::from_millis(250)),
        tokens: TokenOptions {
            secret: args.token_secret.clone(),
            access_ttl: Duration::from_secs(args.access_token_ttl.max(1)),
            refresh_ttl: Duration::from_secs(args.refresh_token_ttl.max(1)),
            ..TokenOptions::default()
        },
        ..Options::default()
    };
    if let Some(secret) = &args.token_secret
        && let Err(why) = dynex_auth::check_signing_secret(secret)
    {
        if !args.demo {
            anyhow::bail!("refusing to start: {why}");
        }
        log::warn!("{why}; accepted only because this is the demo");
    }
    let open_url = url.clone();
    let dynex = web::block(move || Dynex::open_with(&open_url, options)).await??;
    let base = format!(
        "http://{}/{}",
        args.bind,
        args.route_prefix.trim_matches('/')
    );
    if args.demo {
        let d = dynex.clone();
        let (key, password) = web::block(move || {
            d.load_demo()?;
            let name = format!("demo-{}", chrono_like_now());
            let key = d.create_api_key(&name, &[], None)?;
            // A fresh admin password at every demo start, so the printed one always works.
            let password = dynex_auth::generate_secret("");
            match d.set_user_password(DEMO_ADMIN, &password) {
                Err(dynex_core::CoreError::NotFound { .. }) => {
                    d.add_user(DEMO_ADMIN, &password, dynex_auth::Role::Admin)?;
                }
                other => other?,
            }
            Ok::<_, dynex_core::CoreError>((key, password))
        })
        .await??;
        println!(
            "dynex demo catalog loaded into {}",
            dynex_core::redact(&url)
        );
        println!("API key (shown once): {}", key.key);
        println!(
            "Try:\n  curl -H 'X-Api-Key: {}' '{base}/countries?include=countryTaxRates&page[limit]=2'",
            key.key
        );
        println!("Admin user (password shown once): {DEMO_ADMIN} / {password}");
        println!(
            "Token:\n  curl -d grant_type=password -d username={DEMO_ADMIN} -d password='{password}' http://{}/token",
            args.bind
        );
        println!(
            "Back office: http://{}/ (log in as {DEMO_ADMIN}; the table spy_product_label is not \
             exposed yet: Endpoints, New endpoint from a table)",
            args.bind
        );
    }
    println!(
        "dynex-server listening on http://{} (database {})",
        args.bind,
        dynex_core::redact(&url)
    );
    let config = AppConfig {
        route_prefix: args.route_prefix.clone(),
        max_body_bytes: args.max_body_bytes,
        max_upload_bytes: args.max_upload_bytes,
        trust_forwarded_for: args.trust_forwarded_for,
    };
    let mut server = HttpServer::new(move || create_app(dynex.clone(), config.clone()));
    if let Some(w) = args.workers {
        server = server.workers(w.max(1));
    }
    server.bind(args.bind)?.run().await?;
    Ok(())
}

/// The admin user `--demo` creates.
const DEMO_ADMIN: &str = "admin";

fn chrono_like_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
