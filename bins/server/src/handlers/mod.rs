//! What each route does, by area; [`crate::create_app`] lists the routes.
//!
//! Handlers take their caller through the extractors of [`crate::extract`] and build answers
//! with [`crate::respond`]; what they all share is here.

pub(crate) mod admin;
pub(crate) mod csv;
pub(crate) mod docs;
pub(crate) mod entity;
pub(crate) mod health;
pub(crate) mod token;
pub(crate) mod ui;

use actix_web::{HttpResponse, Route, web};

use crate::error::ApiError;

/// Runs blocking database work off the async workers.
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, dynex_core::CoreError> + Send + 'static,
) -> Result<R, ApiError> {
    web::block(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::from)
}

/// Any path no route matches.
pub(crate) async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

/// The answer to a method a resource does not serve; `allow` lists the ones it does.
pub(crate) fn not_allowed(allow: &'static str) -> Route {
    web::to(move || async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow)) })
}
