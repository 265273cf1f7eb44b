//! How answers are built: the `{"data": …}` envelope, a page with its next link, a write's
//! answer with the rows it refused, files embedded in the binary, and the rewrite of the
//! framework's own plain-text errors into coded JSON.

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, web};
use dynex_core::{Method, ReadPage, WriteOutcome};
use dynex_wire::ErrorObject;
use serde_json::json;

use crate::config::AppState;
use crate::error;

/// The `{"data": …}` envelope, serialized straight from `data` (no copy into a JSON value
/// first).
#[derive(serde::Serialize)]
struct Data<T> {
    data: T,
}

/// `200 OK` with `{"data": data}`.
pub(crate) fn ok(data: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().json(Data { data })
}

/// `200 OK` with `{"data": …}` around `data`, JSON already serialized (a row whose text its
/// entity tag was computed from).
pub(crate) fn ok_serialized(data: &[u8]) -> HttpResponse {
    let mut body = Vec::with_capacity(data.len() + 10);
    body.extend_from_slice(b"{\"data\":");
    body.extend_from_slice(data);
    body.push(b'}');
    HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(body)
}

/// `201 Created` with `{"data": data}`, never cached: a created key or client carries its
/// secret, shown this once.
pub(crate) fn created(data: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Data { data })
}

/// A collection page: `{"data"}`, with `links.next` under keyset paging and `meta.count` when
/// asked for. The rows come as their JSON array's text; `path` and `pairs` are the request's,
/// for the next link.
pub(crate) fn page(
    page: ReadPage<Vec<u8>>,
    path: &str,
    pairs: &[(String, String)],
) -> HttpResponse {
    let mut body = page.rows;
    body.splice(0..0, *b"{\"data\":");
    if page.cursor {
        // `{"next": link}` written as `serde_json` writes it, without a map to write.
        body.extend_from_slice(b",\"links\":{\"next\":");
        match page.next.map(|cursor| next_link(path, pairs, &cursor)) {
            // Serializing a string to a vector cannot fail.
            Some(link) => drop(serde_json::to_writer(&mut body, &link)),
            None => body.extend_from_slice(b"null"),
        }
        body.push(b'}');
    }
    if let Some(count) = page.count {
        body.extend_from_slice(format!(",\"meta\":{{\"count\":{count}}}").as_bytes());
    }
    body.push(b'}');
    HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(body)
}

/// The link to the next keyset page: this request's path and parameters with `page[after]` set
/// to `cursor`. An `api_key` parameter is left out: a link is no place for a secret.
fn next_link(path: &str, pairs: &[(String, String)], cursor: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if k != "page[after]" && k != "api_key" {
            query.append_pair(k, v);
        }
    }
    query.append_pair("page[after]", cursor);
    format!("{path}?{}", query.finish())
}

/// A write's answer: the saved rows (one object when `by_id`) with 201 (POST) or 200; in
/// non-transactional mode with refused rows, `{"data", "errors"}` with the success status when
/// anything was saved and the first error's status otherwise.
pub(crate) fn written(outcome: WriteOutcome, method: Method, by_id: bool) -> HttpResponse {
    let success = if method == Method::Create {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let data = if by_id {
        outcome
            .data
            .into_iter()
            .next()
            .unwrap_or(serde_json::Value::Null)
    } else {
        serde_json::Value::Array(outcome.data)
    };
    let Some(first) = outcome.errors.first() else {
        return HttpResponse::build(success).json(json!({ "data": data }));
    };
    let saved_any = match &data {
        serde_json::Value::Array(rows) => !rows.is_empty(),
        other => !other.is_null(),
    };
    let status = if saved_any {
        success
    } else {
        StatusCode::from_u16(first.status()).unwrap_or(StatusCode::BAD_REQUEST)
    };
    let errors: Vec<ErrorObject> = outcome
        .errors
        .iter()
        .map(dynex_wire::WireError::object)
        .collect();
    HttpResponse::build(status).json(json!({ "data": data, "errors": errors }))
}

/// A file embedded in the binary, answered with `cache_control`.
pub(crate) fn embedded(
    body: &'static [u8],
    content_type: &'static str,
    cache_control: &'static str,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

/// An HTML page of this server's own, never cached, that may load only what `policy` allows.
pub(crate) fn html_page(policy: &'static str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, policy))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(body)
}

/// Replaces any error response that is not JSON (actix's own plain-text errors) with a coded one.
pub(crate) fn json_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let limit = res
        .request()
        .app_data::<web::Data<AppState>>()
        .map_or(0, |s| s.max_body_bytes);
    let code = dynex_wire::Code::for_status(status.as_u16());
    let message = match code {
        dynex_wire::Code::BodyTooLarge => error::body_too_large(limit),
        dynex_wire::Code::InvalidParameter => status
            .canonical_reason()
            .unwrap_or("Bad request")
            .to_string(),
        other => other.message().to_string(),
    };
    let mut object = ErrorObject::new(code, message);
    // The status stays the framework's own (a 5xx other than 500 too).
    object.status = status.as_u16();
    let body = serde_json::to_string(&[object]).unwrap_or_default();
    let (req, mut res) = res.into_parts();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let res = res.set_body(body);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, res)
            .map_into_boxed_body()
            .map_into_right_body(),
    ))
}
