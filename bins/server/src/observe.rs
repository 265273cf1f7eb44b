//! The middleware around every request: its id, its body's deadline, its metrics and its line
//! in the access log.
//!
//! The request id ([`crate::request_id`]) is answered in `X-Request-Id` and added to the error
//! objects of a `5xx` answer as `requestId`, so that a client's report finds the server's log
//! line. The answer's body is wrapped, so the latency and the access log line are taken when
//! the last byte is handed to the connection, as a streamed CSV export ends, not when its
//! head is ready.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{ConnectionType, Method};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{ResponseError, web};

use crate::body_timeout;
use crate::config::{AppState, MetricsAccess};
use crate::error::ApiError;
use crate::metrics::{Metrics, method_label};
use crate::request_id;

/// The target of access log lines (`RUST_LOG=dynex_server::access=off` silences them).
pub(crate) const ACCESS_LOG: &str = "dynex_server::access";

/// The route label of a request no route matched.
const UNMATCHED: &str = "(unmatched)";

/// Wraps every request; see the module documentation.
pub(crate) async fn observe(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<Observed>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let id = request_id::of(req.headers());
    let timeout = state.as_ref().and_then(|s| s.body_timeout);
    let expired = timeout.and_then(|t| body_timeout::limit(&mut req, t));
    // Nobody can read them with `--metrics off`: then they are not recorded either.
    let metrics = state
        .as_ref()
        .filter(|s| s.metrics_access != MetricsAccess::Off)
        .map(|s| s.metrics.clone());
    if let Some(m) = &metrics {
        m.started();
    }
    let log = log::log_enabled!(target: ACCESS_LOG, log::Level::Info).then(|| AccessLine {
        remote: remote(&req, state.as_ref().is_some_and(|s| s.trust_forwarded_for)),
        path: req.path().to_string(),
    });
    let method = req.method().clone();
    // (The request cannot be cloned to answer an error here: routing needs it unshared.)
    let mut res = match next.call(req).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(e) => {
            let status = e.as_response_error().status_code().as_u16();
            let finish = Finish {
                metrics: metrics.map(|m| (m, UNMATCHED.to_string())),
                log,
                id,
                method,
                status,
                started,
            };
            finish.done(0);
            return Err(e);
        }
    };
    if let (Some(expired), Some(timeout)) = (&expired, timeout)
        && expired.is_set()
    {
        res = timed_out(res, timeout);
    }
    if let Some(m) = &metrics
        && let Some(ApiError::Core(error)) = res
            .response()
            .error()
            .and_then(|e| e.as_error::<ApiError>())
    {
        m.database_error(error);
    }
    if res.status().is_server_error() {
        // Logged once, here, where it is answered, with the id the client is shown.
        if let Some(error) = res.response().error() {
            log::error!(requestId = id.as_str(); "{error} (request {id})");
        }
        res = with_request_id(res, &id).await;
    } else if let Some(error) = res.response().error() {
        // What a client did wrong, for debugging (as actix-web's logger has it).
        log::debug!(requestId = id.as_str(); "error in response: {error:?}");
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(request_id::HEADER), value);
    }
    let route = metrics.as_ref().map(|_| {
        res.request()
            .match_pattern()
            .unwrap_or_else(|| UNMATCHED.to_string())
    });
    let finish = Finish {
        metrics: metrics.zip(route),
        log,
        id,
        method,
        status: res.status().as_u16(),
        started,
    };
    Ok(res.map_body(|_, body| Observed {
        body,
        bytes: 0,
        finish: Some(finish),
    }))
}

/// The client's address for the log: the peer's, or with `--trust-forwarded-for` the one the
/// proxy names.
fn remote(req: &ServiceRequest, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for && let Some(ip) = req.connection_info().realip_remote_addr() {
        return ip.to_string();
    }
    req.peer_addr()
        .as_ref()
        .map_or_else(|| "-".to_string(), |a: &SocketAddr| a.ip().to_string())
}

/// The answer to a request whose body missed its deadline: 408, and the connection closed
/// (what is left of the body is never read).
fn timed_out(res: ServiceResponse<BoxBody>, timeout: Duration) -> ServiceResponse<BoxBody> {
    let (req, _) = res.into_parts();
    let mut response = ApiError::BodyTimeout(timeout.as_secs()).error_response();
    response
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    ServiceResponse::new(req, response)
}

/// Adds `requestId` to each error object of a JSON `5xx` answer.
async fn with_request_id(res: ServiceResponse<BoxBody>, id: &str) -> ServiceResponse<BoxBody> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return res;
    }
    let (req, response) = res.into_parts();
    let (response, body) = response.into_parts();
    let Ok(bytes) = actix_web::body::to_bytes(body).await else {
        return ServiceResponse::new(req, response.set_body(BoxBody::new(())));
    };
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Array(mut objects)) => {
            for object in objects.iter_mut().filter_map(|o| o.as_object_mut()) {
                object.insert("requestId".into(), id.into());
            }
            serde_json::to_vec(&objects).map_or(bytes, Bytes::from)
        }
        _ => bytes,
    };
    ServiceResponse::new(req, response.set_body(BoxBody::new(body)))
}

/// What the access log line needs from the request.
struct AccessLine {
    remote: String,
    path: String,
}

/// What is recorded when an answer's body ends.
struct Finish {
    /// The metrics and the request's route template.
    metrics: Option<(Metrics, String)>,
    /// `None` when the access log is off.
    log: Option<AccessLine>,
    id: String,
    method: Method,
    status: u16,
    started: Instant,
}

impl Finish {
    fn done(self, bytes: u64) {
        let elapsed = self.started.elapsed();
        let method = method_label(&self.method);
        if let Some((metrics, route)) = &self.metrics {
            metrics.finished(route, method, self.status, elapsed);
        }
        if let Some(line) = &self.log {
            let seconds = elapsed.as_secs_f64();
            ACCESS_TEXT.with_borrow_mut(|text| {
                access_text(text, line, &self, bytes, elapsed);
                // The query string is never logged: it may carry `api_key`.
                log::info!(
                    target: ACCESS_LOG,
                    requestId = self.id.as_str(),
                    remote = line.remote.as_str(),
                    method = self.method.as_str(),
                    path = line.path.as_str(),
                    status = self.status,
                    bytes = bytes,
                    seconds = seconds;
                    "{text}"
                );
            });
        }
    }
}

thread_local! {
    /// The message of the last access line, its buffer reused.
    static ACCESS_TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// `REMOTE "METHOD PATH" STATUS BYTES SECONDS ID`, the seconds to the microsecond, written
/// without `format!`, whose machinery (a float to six places above all) was most of the 3,400
/// instructions that the access line cost a read by id.
fn access_text(text: &mut String, line: &AccessLine, finish: &Finish, bytes: u64, took: Duration) {
    let mut number = itoa::Buffer::new();
    text.clear();
    text.push_str(&line.remote);
    text.push_str(" \"");
    text.push_str(finish.method.as_str());
    text.push(' ');
    text.push_str(&line.path);
    text.push_str("\" ");
    text.push_str(number.format(finish.status));
    text.push(' ');
    text.push_str(number.format(bytes));
    text.push(' ');
    let micros = (took.as_nanos() + 500) / 1000;
    text.push_str(number.format(micros / 1_000_000));
    text.push('.');
    let fraction = number.format(micros % 1_000_000);
    for _ in fraction.len()..6 {
        text.push('0');
    }
    text.push_str(fraction);
    text.push(' ');
    text.push_str(&finish.id);
}

/// An answer's body, counted as it is sent; the request is recorded when it is dropped (sent,
/// or abandoned by the client).
pub(crate) struct Observed {
    body: BoxBody,
    bytes: u64,
    finish: Option<Finish>,
}

impl MessageBody for Observed {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            this.bytes += chunk.len() as u64;
        }
        polled
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        if let Some(finish) = self.finish.take() {
            finish.done(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message is the one `format!` wrote, the seconds rounded to the microsecond.
    #[test]
    fn access_text_is_what_format_wrote() {
        let line = AccessLine {
            remote: "10.0.0.7".into(),
            path: "/dynamic-entity/tax-rates/3".into(),
        };
        let mut text = String::new();
        for (nanos, status, bytes) in [
            (0, 200, 0),
            (540_000, 200, 157),
            (999, 404, 12),
            (1_499, 201, 1),
            (999_999_500, 503, u64::MAX),
            (12_345_678_901, 499, 4_785),
        ] {
            let finish = Finish {
                metrics: None,
                log: None,
                id: "9a678e86326f1be10000000a".into(),
                method: Method::PATCH,
                status,
                started: Instant::now(),
            };
            let took = Duration::from_nanos(nanos);
            access_text(&mut text, &line, &finish, bytes, took);
            let micros = (u128::from(nanos) + 500) / 1000;
            let seconds = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
            assert_eq!(
                text,
                format!(
                    "10.0.0.7 \"PATCH /dynamic-entity/tax-rates/3\" {status} {bytes} {seconds} \
                     9a678e86326f1be10000000a"
                )
            );
        }
        let finish = Finish {
            metrics: None,
            log: None,
            id: "x".into(),
            method: Method::GET,
            status: 200,
            started: Instant::now(),
        };
        access_text(&mut text, &line, &finish, 5, Duration::from_micros(540));
        assert_eq!(
            text,
            "10.0.0.7 \"GET /dynamic-entity/tax-rates/3\" 200 5 0.000540 x"
        );
    }
}
