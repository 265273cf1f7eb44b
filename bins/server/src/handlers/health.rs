//! Health checks for load balancers and orchestrators: `/health/live` answers while the process
//! serves, `/health/ready` once the database answers too; and `/metrics` for scrapers.

use actix_web::{HttpRequest, HttpResponse, web};
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
pub(crate) async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let dynex = state.dynex.clone();
    let version = blocking(move || {
        dynex.refresh()?;
        Ok(dynex.snapshot().version)
    })
    .await?;
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
    let text = state
        .metrics
        .render(&state.dynex)
        .map_err(|e| ApiError::Internal(format!("cannot encode the metrics: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(prometheus_client::encoding::prometheus_text::CONTENT_TYPE)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(text))
}
