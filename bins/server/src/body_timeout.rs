//! The body timeout: a request body must arrive within `--body-timeout` of the request's head,
//! plus one second per MiB received (as Apache's `mod_reqtimeout` grants time for data).
//!
//! actix-web's `client_request_timeout` covers only the head, so a client that sends the head
//! and then trickles the body would hold a worker's read and a connection for as long as it
//! likes. The payload of a request that has a body is wrapped here: once the deadline passes,
//! the next read fails, the request is marked, and [`crate::observe`] answers `408` (code
//! `1328`) and closes the connection, whatever the handler made of the failed read.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::rt::time::{Instant, Sleep, sleep_until};
use actix_web::web::Bytes;
use futures_util::Stream;

/// Bytes that earn one more second.
const BYTES_PER_SECOND: u64 = 1024 * 1024;

/// Set once a request's body missed its deadline.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expired(Arc<AtomicBool>);

impl Expired {
    /// Whether the body missed its deadline.
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Whether the request announces a body (a `Content-Length` above 0, or chunks).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

/// Puts the deadline on the request's body, if it has one; the flag tells whether it passed.
pub(crate) fn limit(req: &mut ServiceRequest, timeout: Duration) -> Option<Expired> {
    if !has_body(req) {
        return None;
    }
    let expired = Expired::default();
    let start = Instant::now();
    let timed = Timed {
        inner: req.take_payload(),
        start,
        timeout,
        received: 0,
        granted: 0,
        sleep: Box::pin(sleep_until(start + timeout)),
        expired: expired.clone(),
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(timed),
    });
    Some(expired)
}

/// A payload that fails once its deadline passes.
struct Timed {
    inner: Payload,
    start: Instant,
    timeout: Duration,
    /// Bytes received so far.
    received: u64,
    /// Seconds granted for them.
    granted: u64,
    sleep: Pin<Box<Sleep>>,
    expired: Expired,
}

impl Stream for Timed {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.expired.is_set() {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.received += chunk.len() as u64;
                let granted = this.received / BYTES_PER_SECOND;
                if granted != this.granted {
                    this.granted = granted;
                    let deadline = this.start + this.timeout + Duration::from_secs(this.granted);
                    this.sleep.as_mut().reset(deadline);
                }
                return Poll::Ready(Some(Ok(chunk)));
            }
            Poll::Ready(other) => return Poll::Ready(other),
            Poll::Pending => {}
        }
        match this.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.expired.0.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                )))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
