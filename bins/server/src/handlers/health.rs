//! Health checks for load balancers and orchestrators: `/health/live` answers while the process
//! serves, `/health/ready` once the database answers too; and `/metrics` for scrapers.

use actix_web::{HttpRequest, HttpResponse, web};
use dynex_core::CoreError;
use serde_json::json;

use super::blocking;
use crate::auth;
use crate::config::{AppState, MetricsAccess};
use crate::error::ApiError;
use crate::extract::query_pairs;

/// `GET /health/live`: always `{"status": "ok"}`.
pub(crate) async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /health/ready`: asks the database whether the configuration changed (reloading it if
/// so) and answers the version in force.
///
/// Any failure is `503`: whatever keeps the server from reading its configuration (a lost or
/// refused connection, a revoked privilege, a timeout) makes it unready, and an orchestrator
/// takes only a 503 as such. The cause is logged.
pub(crate) async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let dynex = state.dynex.clone();
    let version = blocking(move || {
        dynex.refresh()?;
        Ok(dynex.snapshot().version)
    })
    .await
    .map_err(|e| match e {
        ApiError::Core(CoreError::Unavailable(_)) => e,
        other => {
            log::error!("not ready: {other}");
            ApiError::Core(CoreError::Unavailable(other.to_string()))
        }
    })?;
    Ok(HttpResponse::Ok().json(json!({"status": "ok", "configVersion": version})))
}

/// `GET /metrics`: the Prometheus text format, to whoever `--metrics` lets in.
pub(crate) async fn metrics(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    match state.metrics_access {
        MetricsAccess::Public => {}
        MetricsAccess::Admin => {
            auth::authorize_admin(&state.dynex, &req, &query_pairs(&req))?;
        }
        MetricsAccess::Off => return Err(ApiError::RouteNotFound),
    }
    // The pipelines' health comes from the run history, whichever server ran them.
    let dynex = state.dynex.clone();
    match blocking(move || dynex_pipeline::health::all(&dynex, chrono::Utc::now())).await {
        Ok(pipelines) => state.metrics.pipeline_health(&pipelines),
        Err(e) => log::warn!("metrics: cannot read the pipelines' health: {e}"),
    }
    let text = state
        .metrics
        .render(&state.dynex)
        .map_err(|e| ApiError::Internal(format!("cannot encode the metrics: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(prometheus_client::encoding::prometheus_text::CONTENT_TYPE)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(text))
}
