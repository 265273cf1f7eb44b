//! Incoming webhooks: `POST /hooks/{pipeline}` runs a pipeline with the posted records as its
//! source ([`dynex_pipeline::hook`]).
//!
//! The caller is checked before anything else happens: a pipeline without `hook:` is not
//! callable (404, as an unknown one), a missing or wrong secret or signature is refused (401,
//! code `1404`), and a body that is not records is refused (400, `1401`). Only then a run
//! starts, on a thread of its own; the answer is `202` with the run's id.

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::json;

use crate::config::AppState;
use crate::error::ApiError;
use crate::handlers::blocking;
use crate::pipelines::{Records, Trigger};

/// The largest body a webhook takes: 1 MiB.
pub const HOOK_MAX_BYTES: usize = 1 << 20;

/// `POST /hooks/{pipeline}`.
pub(crate) async fn call(
    state: web::Data<AppState>,
    request: HttpRequest,
    name: web::Path<String>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let mut body = web::BytesMut::new();
    let mut too_large = false;
    let mut received = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::Core(dynex_core::CoreError::Invalid(e.to_string())))?;
        received = received.saturating_add(chunk.len());
        // The rest of a body too large is read and dropped, up to a point, so that the
        // client reads the answer instead of a reset connection.
        if received > HOOK_MAX_BYTES {
            too_large = true;
            if received > HOOK_MAX_BYTES * 8 {
                break;
            }
            continue;
        }
        body.extend_from_slice(&chunk);
    }
    if too_large {
        return Err(ApiError::BodyTooLarge(HOOK_MAX_BYTES));
    }
    let body = body.freeze();
    let csv = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/csv"));
    let headers = request.headers().clone();
    let dynex = state.dynex.clone();
    let metrics = state.metrics.clone();
    let not_found = |name: &str| dynex_core::CoreError::NotFound {
        kind: "pipeline",
        name: name.to_string(),
    };
    let outcome = blocking(move || {
        let (definition, _) = match dynex_pipeline::stored::load(&dynex, &name) {
            Ok(loaded) => loaded,
            Err(dynex_pipeline::run::RunError::Core(e)) => return Err(e),
            // A definition that no longer holds cannot say who may call it.
            Err(_) => return Err(not_found(&name)),
        };
        let Some(hook) = &definition.hook else {
            return Err(not_found(&name));
        };
        let shown = headers.get(hook.header()).map(|v| v.as_bytes());
        if !hook.allows(shown, &body) {
            return Ok(Err(ApiError::HookRefused));
        }
        let records = match dynex_pipeline::hook::records(&body, csv) {
            Ok(records) => records,
            Err(e) => return Err(dynex_core::CoreError::Invalid(e.to_string())),
        };
        let open: Records = Box::new(move |_| {
            Ok(Box::new(dynex_pipeline::hook::Posted::new(records))
                as Box<dyn dynex_pipeline::source::Source>)
        });
        crate::pipelines::start(&dynex, &metrics, &name, Trigger::Hook, Some(open))
            .map(Ok)
            .map_err(crate::handlers::admin::pipelines::run_error)
    })
    .await?;
    let run = outcome?;
    Ok(HttpResponse::Accepted().json(json!({ "data": { "run": run } })))
}
