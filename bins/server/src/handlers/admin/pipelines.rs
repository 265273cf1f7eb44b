//! Pipelines in the admin API: their health (`GET /admin/api/pipelines`,
//! `GET /admin/api/pipelines/health` for monitors), and starting or stopping a run.

use actix_web::{HttpResponse, web};
use dynex_pipeline::health::PipelineHealth;
use dynex_pipeline::run::RunError;
use serde::Serialize;
use serde_json::json;

use super::run;
use crate::config::AppState;
use crate::error::ApiError;
use crate::extract::Admin;
use crate::handlers::blocking;
use crate::pipelines::Trigger;
use crate::respond::ok;

/// The pipelines and whether all are healthy.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pipelines {
    healthy: bool,
    pipelines: Vec<PipelineHealth>,
}

async fn health_of_all(admin: &Admin, state: &AppState) -> Result<Pipelines, ApiError> {
    let pipelines = run(admin, |d| {
        dynex_pipeline::health::all(&d, chrono::Utc::now())
    })
    .await?;
    state.metrics.pipeline_health(&pipelines);
    Ok(Pipelines {
        healthy: pipelines.iter().all(|p| p.healthy),
        pipelines,
    })
}

/// `GET /admin/api/pipelines`: every pipeline with its schedule, next and last run and health.
pub(crate) async fn list(
    state: web::Data<AppState>,
    admin: Admin,
) -> Result<HttpResponse, ApiError> {
    Ok(ok(health_of_all(&admin, &state).await?))
}

/// `GET /admin/api/pipelines/health`: as the list, answered `503` when a pipeline is unhealthy,
/// for monitors that look at the status only.
pub(crate) async fn health(
    state: web::Data<AppState>,
    admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let all = health_of_all(&admin, &state).await?;
    let status = if all.healthy {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE
    };
    Ok(HttpResponse::build(status)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(json!({ "data": all })))
}

/// `GET /admin/api/pipelines/{name}/health`.
pub(crate) async fn health_of_one(
    admin: Admin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let health = run(&admin, move |d| {
        dynex_pipeline::health::one(&d, &name, chrono::Utc::now())
    })
    .await?;
    Ok(ok(health))
}

/// `POST /admin/api/pipelines/{name}/run`: starts a run on this server and answers `202` with
/// its id; `409` when a run of the pipeline is in progress.
pub(crate) async fn start(
    state: web::Data<AppState>,
    admin: Admin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let dynex = admin.dynex.clone();
    let metrics = state.metrics.clone();
    let id = blocking(move || {
        crate::pipelines::start(&dynex, &metrics, &name, Trigger::BackOffice, None)
            .map_err(run_error)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(json!({ "data": { "run": id } })))
}

/// `POST /admin/api/pipelines/{name}/stop`: asks its running run to stop (between two pages,
/// within seconds, on whichever server runs it); `{"run": null}` when none runs.
pub(crate) async fn stop(admin: Admin, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let id = run(&admin, move |d| d.request_pipeline_stop(&name)).await?;
    Ok(HttpResponse::Accepted().json(json!({ "data": { "run": id } })))
}

/// A run that could not start as an API error: a definition that does not read is invalid.
pub(crate) fn run_error(e: RunError) -> dynex_core::CoreError {
    match e {
        RunError::Core(e) => e,
        RunError::Invalid(problems) => dynex_core::CoreError::Invalid(problems.to_string()),
        RunError::Failed(summary) => dynex_core::CoreError::Invalid(format!(
            "run {} failed: {}",
            summary.run,
            summary.error.unwrap_or_default()
        )),
    }
}
