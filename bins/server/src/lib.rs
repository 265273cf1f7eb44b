//! The dynex API server: the Data Exchange API over the configured tables.
//!
//! [`create_app`] builds the actix-web application from an opened [`Dynex`], so tests and
//! embedding programs reuse exactly what `dynex-server` serves; [`run`] is the whole binary.
//!
//! This file is the route table. The rest: `config` (settings and shared state), `boot`
//! (starting the server), `extract` (who is calling, the query, the body), `respond` (building
//! answers), `error` (failures as Spryker's error arrays), `auth` (credentials and scopes) and
//! `handlers` (what each route does, by area).

mod auth;
mod body_timeout;
mod boot;
mod conditional;
mod config;
mod disconnect;
mod error;
mod extract;
mod handlers;
mod logging;
mod metrics;
mod observe;
pub mod pipelines;
mod request_id;
mod respond;
mod serve;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, web};
use dynex_core::Dynex;

use handlers::admin::{
    access, audit, entities, jobs, overview, pipeline_edit, pipelines as pipeline_admin,
};
use handlers::{docs, entity, health, hooks, not_allowed, not_found, token, ui};

pub use boot::run;
pub use config::{AppConfig, AppState, LogFormat, MetricsAccess, ServerArgs, Switch};
pub use disconnect::on_connect;
pub use dynex_wire::{Code, ErrorObject};
pub use error::ApiError;
pub use handlers::docs::openapi_document;
pub use logging::{FLUSH_EVERY as LOG_FLUSH_EVERY, init as init_logging, json_line};
pub use metrics::{Metrics, Minute};
pub use serve::{Conn, DEFAULT_BLOCKING_THREADS, serve, serve_with};

/// Methods of `/{alias}`, for `Allow` headers.
const COLLECTION_METHODS: &str = "GET, POST, PATCH, PUT, DELETE";
/// Methods of `/{alias}/{id}`, for `Allow` headers.
const ONE_METHODS: &str = "GET, PATCH, PUT, DELETE";

/// Builds the application: routes, JSON errors everywhere, request ids, metrics, body
/// timeouts, and request logging without secrets.
///
/// Serve it with [`on_connect`] given to `HttpServer::on_connect`, so that requests whose
/// client went away are dropped and their statements cancelled.
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
            metrics: config.metrics.clone(),
            metrics_access: config.metrics_access,
            body_timeout: config.body_timeout,
        }))
        .app_data(web::PayloadConfig::new(config.max_body_bytes))
        // Innermost: a request whose client left is dropped before anything else sees it.
        .wrap(from_fn(disconnect::watch))
        .wrap(ErrorHandlers::new().default_handler(respond::json_errors))
        // Outermost: it sees the final answer, the framework's own errors rewritten.
        .wrap(from_fn(observe::observe))
        // The Data Exchange API.
        .service(
            web::scope(&prefix)
                .service(
                    web::resource("/{alias}")
                        .route(web::get().to(entity::get_collection))
                        .route(web::post().to(entity::write))
                        .route(web::patch().to(entity::write))
                        .route(web::put().to(entity::write))
                        .route(web::delete().to(entity::delete))
                        .default_service(not_allowed(COLLECTION_METHODS)),
                )
                .service(
                    web::resource("/{alias}/{id}")
                        .route(web::get().to(entity::get_one))
                        .route(web::patch().to(entity::write))
                        .route(web::put().to(entity::write))
                        .route(web::delete().to(entity::delete))
                        .default_service(not_allowed(ONE_METHODS)),
                ),
        )
        // OAuth 2.0.
        .service(
            web::resource(["/token", "/token/"])
                .route(web::post().to(token::token))
                .default_service(not_allowed("POST")),
        )
        .service(
            web::resource("/token/revoke")
                .route(web::post().to(token::revoke))
                .default_service(not_allowed("POST")),
        )
        // The admin API; every handler takes the `Admin` extractor.
        .service(
            web::scope("/admin/api")
                .route("/tables", web::get().to(entities::list_tables))
                .route("/tables/{name}", web::get().to(entities::show_table))
                .route("/entities", web::get().to(entities::list_entities))
                .route("/entities", web::post().to(entities::add_entity))
                .route("/entities/{alias}", web::get().to(entities::show_entity))
                .route("/entities/{alias}", web::put().to(entities::save_entity))
                .route(
                    "/entities/{alias}",
                    web::delete().to(entities::remove_entity),
                )
                .route(
                    "/configuration",
                    web::get().to(entities::export_configuration),
                )
                .route(
                    "/configuration",
                    web::post().to(entities::import_configuration),
                )
                .route("/users", web::get().to(access::list_users))
                .route("/users", web::post().to(access::add_user))
                .route("/users/{name}", web::delete().to(access::remove_user))
                .route(
                    "/users/{name}/password",
                    web::put().to(access::set_password),
                )
                .route(
                    "/users/{name}/revoke-tokens",
                    web::post().to(access::revoke_user),
                )
                .route("/clients", web::get().to(access::list_clients))
                .route("/clients", web::post().to(access::add_client))
                .route("/clients/{id}", web::delete().to(access::remove_client))
                .route(
                    "/clients/{id}/revoke-tokens",
                    web::post().to(access::revoke_client),
                )
                .route("/keys", web::get().to(access::list_keys))
                .route("/keys", web::post().to(access::create_key))
                .route("/keys/{name}", web::delete().to(access::revoke_key))
                .route("/jobs", web::get().to(jobs::list))
                .route("/jobs/import", web::post().to(jobs::import))
                .route("/jobs/export", web::post().to(jobs::export))
                .route("/jobs/{id}", web::get().to(jobs::show))
                .route("/jobs/{id}/rejects", web::get().to(jobs::rejects))
                .route("/jobs/{id}/resume", web::post().to(jobs::resume))
                .route("/audit", web::get().to(audit::list))
                .route("/overview", web::get().to(overview::show))
                .route("/pipelines", web::get().to(pipeline_admin::list))
                .route("/pipelines/health", web::get().to(pipeline_admin::health))
                .route(
                    "/pipelines/{name}/health",
                    web::get().to(pipeline_admin::health_of_one),
                )
                .route(
                    "/pipelines/{name}/run",
                    web::post().to(pipeline_admin::start),
                )
                .route(
                    "/pipelines/{name}/stop",
                    web::post().to(pipeline_admin::stop),
                )
                .configure(pipeline_edit::routes),
        )
        // Incoming webhooks: a pipeline run with the posted records.
        .service(
            web::resource("/hooks/{pipeline}")
                .route(web::post().to(hooks::call))
                .default_service(not_allowed("POST")),
        )
        // The API description and Swagger UI.
        .service(
            web::resource("/openapi.json")
                .app_data(web::Data::new(config.clone()))
                .route(web::get().to(docs::openapi)),
        )
        .route("/docs", web::get().to(docs::page))
        .route("/docs/", web::get().to(docs::to_page))
        .route(
            "/docs/swagger-initializer.js",
            web::get().to(docs::initializer),
        )
        .route("/docs/swagger-ui-bundle.js", web::get().to(docs::bundle))
        .route("/docs/swagger-ui.css", web::get().to(docs::css))
        // The back office.
        .service(
            web::resource("/")
                .app_data(ui::Page::new(&config))
                .route(web::get().to(ui::page))
                .default_service(not_allowed("GET")),
        )
        .route("/ui/app.js", web::get().to(ui::script))
        .route("/ui/app.css", web::get().to(ui::styles))
        .route("/favicon.ico", web::get().to(ui::favicon_ico))
        .route("/ui/favicon.svg", web::get().to(ui::favicon_svg))
        .route("/health/live", web::get().to(health::live))
        .route("/health/ready", web::get().to(health::ready))
        .route("/metrics", web::get().to(health::metrics))
        .default_service(web::to(not_found))
}
