//! Health checks for load balancers and orchestrators: `/health/live` answers while the process
//! serves, `/health/ready` once the database answers too.

use actix_web::{HttpResponse, web};
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
pub(crate) async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let dynex = state.dynex.clone();
    let version = blocking(move || {
        dynex.refresh()?;
        Ok(dynex.snapshot().version)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({"status": "ok", "configVersion": version})))
}
