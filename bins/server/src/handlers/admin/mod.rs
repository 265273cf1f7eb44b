//! The admin API under `/admin/api`: entities (the Data Exchange API's configuration) and the
//! live tables they can expose, users, integration clients and API keys, jobs, and the overview
//! of the back office's landing page. Every route needs the `admin` scope (the
//! [`crate::extract::Admin`] extractor); answers are `{"data": …}` and errors Spryker-style
//! arrays like the rest.
//!
//! What the areas share is here: running core calls off the async workers and reading JSON
//! bodies.

pub(crate) mod access;
pub(crate) mod audit;
pub(crate) mod entities;
pub(crate) mod jobs;
pub(crate) mod overview;
pub(crate) mod pipeline_edit;
pub(crate) mod pipelines;

use actix_web::HttpResponse;
use dynex_core::{CoreError, Dynex};

use super::blocking;
use crate::error::ApiError;
use crate::extract::Admin;

/// Runs `f` off the async workers, on the database as the caller (see the audit log).
async fn run<R: Send + 'static>(
    admin: &Admin,
    f: impl FnOnce(Dynex) -> Result<R, CoreError> + Send + 'static,
) -> Result<R, ApiError> {
    let dynex = admin.dynex.clone();
    blocking(move || f(dynex)).await
}

/// Runs `op` on the named user, client, key or entity and answers 204.
async fn on_name(
    admin: Admin,
    name: String,
    op: fn(&Dynex, &str) -> Result<(), CoreError>,
) -> Result<HttpResponse, ApiError> {
    run(&admin, move |d| op(&d, &name)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Parses a JSON request body; a malformed one is 400 with serde's reason, as is one whose
/// object names a member twice or whose text holds a NUL character (`1401`).
pub(crate) fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let invalid = |reason: String| {
        ApiError::Core(CoreError::Invalid(format!(
            "invalid request body: {reason}"
        )))
    };
    let value = dynex_schema::json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    if let Some(path) = dynex_schema::json::nul_path(&value) {
        return Err(invalid(format!(
            "`{path}` holds a NUL character (U+0000), which no text here may hold"
        )));
    }
    serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
}
