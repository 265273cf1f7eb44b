//! Health checks for load balancers and orchestrators: `/health/live` answers while the process
//! serves, `/health/ready` once the database answers too.

use actix_web::{HttpResponse, web};
use dynex_core::CoreError;
use serde_json::json;

use super::blocking;
use crate::config::AppState;
use crate::error::ApiError;

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
