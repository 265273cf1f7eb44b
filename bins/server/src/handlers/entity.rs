//! The Data Exchange API on `/{prefix}/{alias}` and `/{prefix}/{alias}/{id}`: reads, writes
//! and deletes of an entity's rows, in JSON or (through [`super::csv`]) CSV.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use dynex_auth::Principal;
use dynex_core::{CoreError, Dynex, Method, PageNow, WriteRequest};

use super::{blocking, csv};
use crate::conditional;
use crate::config::AppState;
use crate::error::ApiError;
use crate::extract::{Authorized, Delete, Read, Write, read_body};
use crate::respond;

/// `GET /{alias}`: a page of rows, or every matching row as CSV (`Accept: text/csv`).
pub(crate) async fn get_collection(
    state: web::Data<AppState>,
    caller: Authorized<Read>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let Authorized {
        principal,
        alias,
        pairs,
        ..
    } = caller;
    if csv::wants_csv(&req) {
        return csv::export(state, alias, pairs, principal).await;
    }
    let now = state
        .dynex
        .read_collection_text_now(&alias, &pairs, Some(&principal))?;
    let page = match now {
        PageNow::Read(page) => page,
        PageNow::Later(read) => {
            let dynex = state.dynex.clone();
            blocking(move || dynex.read_pending_text(read)).await?
        }
    };
    Ok(respond::page(page, req.path(), &pairs))
}

/// `GET /{alias}/{id}`: one row, with its `ETag` when the answer is the whole row; `304` when
/// `If-None-Match` names that tag.
pub(crate) async fn get_one(
    state: web::Data<AppState>,
    caller: Authorized<Read>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let whole = conditional::whole_row(&caller.pairs);
    // The route's path always has the `{id}`.
    let id = caller.id.as_deref().unwrap_or_default();
    let now =
        state
            .dynex
            .read_one_if_idle(&caller.alias, id, &caller.pairs, Some(&caller.principal));
    // The row's text is both what its tag hashes and the answer's `data`.
    let text = match now {
        Some(text) => text?,
        None => {
            let dynex = state.dynex.clone();
            blocking(move || {
                let id = caller.id.as_deref().unwrap_or_default();
                dynex.read_one_text(&caller.alias, id, &caller.pairs, Some(&caller.principal))
            })
            .await?
        }
    };
    if !whole {
        return Ok(respond::ok_serialized(&text));
    }
    let etag = dynex_core::etag_of_text(&text);
    let value = conditional::header_value(&etag);
    if conditional::not_modified(&req, &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, value))
            .finish());
    }
    let mut response = respond::ok_serialized(&text);
    if let Ok(value) = header::HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

/// `X-Is-Transactional: false` (or `0`) commits each root row on its own; anything else, or no
/// header, is one transaction.
fn transactional(req: &HttpRequest) -> bool {
    !req.headers()
        .get("x-is-transactional")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "false" | "0"))
}

/// The write a method asks for; routes only send POST, PATCH and PUT here.
fn write_method(method: &actix_web::http::Method) -> Method {
    match *method {
        actix_web::http::Method::POST => Method::Create,
        actix_web::http::Method::PATCH => Method::Update,
        _ => Method::Upsert,
    }
}

/// The database as the caller, when the write is recorded in the audit log (an import always,
/// other writes with `--audit-data-writes`); otherwise the shared handle, which costs nothing.
fn acting(state: &AppState, principal: &Principal, req: &HttpRequest, import: bool) -> Dynex {
    if import || state.dynex.audits_data_writes() {
        crate::auth::acting_as(state, principal, req)
    } else {
        state.dynex.clone()
    }
}

/// `POST`, `PATCH` or `PUT` on `/{alias}` or `/{alias}/{id}`: creates, updates or upserts the
/// rows of the body (JSON, or CSV with `Content-Type: text/csv` on the collection), answered
/// by [`respond::written`].
pub(crate) async fn write(
    state: web::Data<AppState>,
    caller: Authorized<Write>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let Authorized {
        principal,
        alias,
        id,
        pairs,
        ..
    } = caller;
    let method = write_method(req.method());
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    let transactional = transactional(&req);
    let precondition = conditional::of_write(&req);
    if id.is_none() && csv::sends_csv(&req) {
        if let Some(header) = precondition.failing_on_collection() {
            return Err(ApiError::Core(CoreError::PreconditionFailed {
                path: alias,
                header,
            }));
        }
        let mode = match method {
            Method::Create => dynex_core::ImportMode::Insert,
            Method::Update => dynex_core::ImportMode::Update,
            Method::Upsert => dynex_core::ImportMode::Upsert,
        };
        let dynex = acting(&state, &principal, &req, true);
        return csv::import(&state, dynex, alias, pairs, body, mode, transactional).await;
    }
    let dynex = acting(&state, &principal, &req, false);
    let by_id = id.is_some();
    let outcome = blocking(move || {
        let request = WriteRequest {
            alias: &alias,
            method,
            id: id.as_deref(),
            body: &body,
            transactional,
            principal: Some(&principal),
        };
        dynex.write_if(&request, Some(&precondition))
    })
    .await?;
    Ok(respond::written(outcome, method, by_id))
}

/// `DELETE /{alias}` (the rows the filters match) or `DELETE /{alias}/{id}`: 204, or 405 when
/// the entity is not deletable.
pub(crate) async fn delete(
    state: web::Data<AppState>,
    caller: Authorized<Delete>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let precondition = conditional::of_write(&req);
    let dynex = acting(&state, &caller.principal, &req, false);
    let allow = if caller.id.is_some() {
        "GET, PATCH, PUT"
    } else {
        "GET, POST, PATCH, PUT"
    };
    let deleted = blocking(move || {
        let id = caller.id.as_deref();
        dynex.delete_if(
            &caller.alias,
            id,
            &caller.pairs,
            Some(&caller.principal),
            Some(&precondition),
        )
    });
    match deleted.await {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(ApiError::Core(dynex_core::CoreError::MethodNotAllowed(alias))) => {
            Err(ApiError::NotDeletable(alias, allow))
        }
        Err(e) => Err(e),
    }
}
