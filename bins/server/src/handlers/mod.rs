//! What each route does, by area; [`crate::create_app`] lists the routes.
//!
//! Handlers take their caller through the extractors of [`crate::extract`] and build answers
//! with [`crate::respond`]; what they all share is here.

pub(crate) mod admin;
pub(crate) mod csv;
pub(crate) mod docs;
pub(crate) mod entity;
pub(crate) mod health;
pub(crate) mod hooks;
pub(crate) mod token;
pub(crate) mod ui;

use actix_web::{HttpResponse, Route, web};
use dynex_core::Cancel;

use crate::error::ApiError;

/// Runs blocking database work off the async workers.
///
/// The work runs in a [`Cancel`] scope: when the request is dropped before it ends (its client
/// went away, see [`crate::disconnect`]), the statement it runs is cancelled and it takes no
/// further connection.
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, dynex_core::CoreError> + Send + 'static,
) -> Result<R, ApiError> {
    let cancel = Cancel::new();
    let mut unfinished = CancelOnDrop(Some(cancel.clone()));
    let result = web::block(move || cancel.within(f)).await;
    unfinished.disarm();
    result
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::from)
}

/// Cancels its scope when dropped before the work ended.
pub(crate) struct CancelOnDrop(pub(crate) Option<Cancel>);

impl CancelOnDrop {
    /// The work ended: nothing to cancel any more.
    pub(crate) fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(cancel) = self.0.take() {
            // Cancelling may connect: not on an async worker.
            std::thread::spawn(move || cancel.cancel());
        }
    }
}

/// Any path no route matches.
pub(crate) async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

/// The answer to a method a resource does not serve; `allow` lists the ones it does.
pub(crate) fn not_allowed(allow: &'static str) -> Route {
    web::to(move || async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow)) })
}
