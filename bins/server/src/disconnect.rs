//! Requests whose client went away: their work is dropped and their statements cancelled.
//!
//! actix-web keeps polling a handler whose client closed the connection until it answers
//! (actix/actix-web#3462), so a slow filter would hold its pooled connection for the whole
//! statement timeout after the client gave up. [`on_connect`] keeps a second handle of each
//! connection's socket; [`watch`] looks at it while a request is slow to answer, and once the
//! peer has closed its side it drops the request's future. Dropping it cancels the database
//! work of [`crate::handlers::blocking`] ([`dynex_core::Cancel`]). The request is logged and
//! counted with status `499`, as nginx names a request its client closed.

use std::any::Any;
use std::future::pending;
use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::rt::time::sleep;
use futures_util::future::{Either, select};

/// The status a request whose client went away is recorded with (it is sent to nobody).
const CLIENT_CLOSED: u16 = 499;

/// How long a request runs before its client is first looked at; most answer sooner.
const FIRST_LOOK: Duration = Duration::from_millis(50);
/// How often a slow request's client is looked at after that.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// A second handle of a connection's socket, to peek at without taking its bytes.
#[derive(Clone)]
struct Peer(Arc<std::net::TcpStream>);

/// Keeps a handle of each new TCP connection's socket, to tell when its client went away.
///
/// Give it to `HttpServer::on_connect`. Costs one `dup` per connection, none per request.
pub fn on_connect(conn: &dyn Any, data: &mut Extensions) {
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>()
        && let Ok(fd) = tcp.as_fd().try_clone_to_owned()
    {
        data.insert(Peer(Arc::new(std::net::TcpStream::from(fd))));
    }
}

impl Peer {
    /// Whether the client has closed the connection (or reset it).
    ///
    /// The socket is non-blocking (tokio made it so), so a peek answers at once: no bytes and
    /// no error means end of stream. Bytes waiting (a pipelined request) say the client is
    /// still there.
    fn gone(&self) -> bool {
        match self.0.peek(&mut [0u8; 1]) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted),
        }
    }

    /// Resolves once the client is gone; looks at the socket only while the request lasts.
    async fn closed(self) {
        sleep(FIRST_LOOK).await;
        loop {
            if self.gone() {
                return;
            }
            sleep(LOOK_EVERY).await;
        }
    }
}

/// Runs the request, dropping it when its client closes the connection first.
pub(crate) async fn watch(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let peer = req.conn_data::<Peer>().cloned();
    let answer = std::pin::pin!(next.call(req));
    let closed = std::pin::pin!(async move {
        match peer {
            Some(peer) => peer.closed().await,
            // Not a TCP connection this process accepted (a test service): nothing to watch.
            None => pending::<()>().await,
        }
    });
    match select(answer, closed).await {
        Either::Left((answer, _)) => answer,
        Either::Right(((), _answer)) => Err(actix_web::error::InternalError::new(
            "the client closed the connection",
            StatusCode::from_u16(CLIENT_CLOSED).expect("a valid status"),
        )
        .into()),
    }
}
