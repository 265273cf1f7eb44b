//! Serving the app over TCP, as `HttpServer` does, with one difference: the bare answers of
//! the HTTP parser get a JSON body.
//!
//! A request line or head the parser cannot read (a raw `"` or space in the URL, a head
//! larger than the parser takes) is answered by actix-http itself, before any middleware or
//! error handler runs, with `400` (or `431`) and an empty body. Every other error of dynex is
//! a JSON array of error objects, so each connection's socket is wrapped in [`Conn`], which
//! recognises those two answers as they are written (they are the only answers with an empty
//! body and these statuses: dynex's own errors always have a body) and writes the JSON answer
//! in their place. Nothing else is changed: every other byte passes through as it is.

use std::any::Any;
use std::io;
use std::net::TcpListener;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_codec::{AsyncRead, AsyncWrite, ReadBuf};
use actix_http::body::MessageBody;
use actix_http::{HttpService, Protocol};
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::{AppConfig, Extensions, Server, ServiceFactory};
use actix_web::rt::net::TcpStream;
use actix_web::web::{Bytes, BytesMut};
use dynex_wire::{Code, ErrorObject};

/// The heads actix-http writes for a request it cannot parse, and the message each gets.
const BARE_ANSWERS: [(&[u8], u16, &str); 2] = [
    (
        b" 400 Bad Request\r\ncontent-length: 0\r\n",
        400,
        "The request line or a header cannot be read. Percent-encode characters a URL may not \
         hold raw (space, `\"`, `<`, `>`, `\\`, `^`, backtick, `{`, `|`, `}`): curl does it with \
         `-G --data-urlencode`.",
    ),
    (
        b" 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n",
        431,
        "The request's head is larger than the server reads.",
    ),
];

/// Serves `app` (called once per worker) on `listener` with `workers` workers (one per CPU
/// when `None`), each new connection handed to `on_connect` as `HttpServer::on_connect` does.
///
/// Each worker runs database calls on at most [`DEFAULT_BLOCKING_THREADS`] threads.
pub fn serve<F, S, B>(
    listener: TcpListener,
    workers: Option<usize>,
    app: F,
    on_connect: fn(&dyn Any, &mut Extensions),
) -> io::Result<Server>
where
    F: Fn() -> actix_web::App<S> + Send + Clone + 'static,
    S: ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    serve_with(listener, workers, DEFAULT_BLOCKING_THREADS, app, on_connect)
}

/// The most threads a worker runs blocking calls (database work) on, by default.
///
/// It is the default connection pool's size: more threads could only wait for a connection,
/// and each one costs memory. actix's default, 512 shared by the workers, let 64 connections
/// grow the server to 146 threads and 180 MB of anonymous memory on GET by id.
pub const DEFAULT_BLOCKING_THREADS: usize = 8;

/// [`serve`], with each worker running blocking calls on at most `blocking_threads` threads
/// (the database pool's size is the useful most).
pub fn serve_with<F, S, B>(
    listener: TcpListener,
    workers: Option<usize>,
    blocking_threads: usize,
    app: F,
    on_connect: fn(&dyn Any, &mut Extensions),
) -> io::Result<Server>
where
    F: Fn() -> actix_web::App<S> + Send + Clone + 'static,
    S: ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let mut builder = Server::build().worker_max_blocking_threads(blocking_threads.max(2));
    if let Some(workers) = workers {
        builder = builder.workers(workers.max(1));
    }
    builder
        .listen("dynex", listener, move || {
            let app = app()
                .into_factory()
                .map_err(|e: actix_web::Error| e.as_response_error().error_response());
            let http = HttpService::build()
                .local_addr(addr)
                .on_connect_ext(move |io: &Conn, ext: &mut Extensions| {
                    on_connect(&io.io as &dyn Any, ext)
                })
                // The configuration `HttpServer` gives an app; only its constructor is not
                // public (actix-test uses this one).
                .finish(map_config(app, move |()| {
                    AppConfig::__priv_test_new(false, addr.to_string(), addr)
                }));
            fn_service(|io: TcpStream| async move {
                let _ = io.set_nodelay(true);
                let peer = io.peer_addr().ok();
                Ok((Conn::new(io), Protocol::Http1, peer))
            })
            .and_then(http)
        })
        .map(|b| b.run())
}

/// A connection's socket, whose bare parser answers are written as JSON ones.
pub struct Conn {
    /// The socket.
    pub io: TcpStream,
    /// JSON answer bytes still to write, in place of a bare one.
    pending: BytesMut,
}

impl Conn {
    fn new(io: TcpStream) -> Conn {
        Conn {
            io,
            pending: BytesMut::new(),
        }
    }

    /// Writes what is pending; ready once nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            let _ = self.pending.split_to(n);
        }
        Poll::Ready(Ok(()))
    }
}

/// The JSON answer that replaces `buf`, if `buf` is a bare answer of the parser.
fn json_answer(buf: &[u8]) -> Option<Bytes> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0"))?;
    let (head, status, message) = BARE_ANSWERS
        .iter()
        .find(|(head, ..)| rest.starts_with(head))?;
    let tail = &rest[head.len()..];
    let body = serde_json::to_vec(&[ErrorObject {
        code: Code::InvalidParameter.as_str(),
        status: *status,
        message: (*message).to_string(),
    }])
    .ok()?;
    let mut out = Vec::with_capacity(buf.len() + body.len() + 64);
    out.extend_from_slice(&buf[..buf.len() - rest.len()]);
    // The status line as it was; the length of the body, and its type, in place of `0`.
    let status_line = &head[..head.iter().position(|&b| b == b'\n')? + 1];
    out.extend_from_slice(status_line);
    out.extend_from_slice(b"content-type: application/json\r\n");
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(tail);
    out.extend_from_slice(&body);
    Some(Bytes::from(out))
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        // The whole head comes in one write: the answer has no body, and actix-http writes
        // its buffer from the start of the answer.
        if buf.ends_with(b"\r\n\r\n")
            && let Some(answer) = json_answer(buf)
        {
            this.pending.extend_from_slice(&answer);
            // Taken: written by this call, or by the next write, flush or shutdown.
            let _ = this.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_400_becomes_a_json_answer() {
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: Sun, 06 Dec 2026 21:03:20 GMT\r\n\r\n";
        let answer = json_answer(bare).expect("replaced");
        let text = String::from_utf8(answer.to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"),
            "{head}"
        );
        assert!(head.contains("connection: close\r\ndate: "), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let objects: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(objects[0]["code"], "1320");
        assert_eq!(objects[0]["status"], 400);
    }

    #[test]
    fn a_bare_431_becomes_a_json_answer() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        let answer = String::from_utf8(json_answer(bare).expect("replaced").to_vec()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(answer.contains(r#""status":431"#), "{answer}");
    }

    #[test]
    fn answers_with_a_body_pass_as_they_are() {
        let answer = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n[]";
        assert!(json_answer(answer).is_none());
        assert!(json_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
