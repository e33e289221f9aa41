//! [`waiting_body`]: the body of a long-poll that waits, with keepalives (the executive's and
//! the relay's ledger feed).
//!
//! Serving an axum [`Router`] over HTTP/1.1, as `axum::serve` does, with one difference that
//! matters when thousands of followers park long-polls on one process: hyper's read buffer is
//! capped at 8 KiB ([`READ_BUFFER`]).
//!
//! Uncapped, hyper reserves another 8 KiB for its next read while the first request's bytes
//! are still in the buffer, so every connection holds a 16 KiB read buffer for as long as its
//! long-poll waits (found with `valgrind --tool=massif` on an executive holding 1,000 parked
//! long-polls: 16.4 of its 30 MB; docs/benchmarks.md). Capped, a request's head must fit in
//! 8 KiB (larger heads are answered 431, as most servers do by default), and bodies are read in
//! 8 KiB pieces, which costs nothing measurable at our 1 MiB body limit.
//!
//! Shutdown is graceful: once `shutdown` completes no connection is accepted, and `serve`
//! returns when the open ones have finished their requests (callers wake their long-polls
//! first).

mod waiting;

pub use waiting::waiting_body;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use ctlstore_tls::{PeerIdentity, ServerTls};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

/// hyper's read buffer per connection: its minimum.
pub const READ_BUFFER: usize = 8 * 1024;

/// Serves `app` on `listener` until `shutdown` completes, then waits for open connections.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_tls(listener, app, None, shutdown).await
}

/// A TLS handshake that takes longer than this is dropped (a client that connects and sends
/// nothing must not hold a task and a socket for ever).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// [`serve`], over TLS when `tls` is given: each connection's handshake uses the configuration
/// current when it was accepted (so a rotated certificate is served to new connections), and a
/// verified client certificate's identity reaches handlers as a
/// [`ctlstore_tls::PeerIdentity`] request extension.
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    tls: Option<ServerTls>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    if tls.is_some() {
        // Inside the runtime now (loading may not have been): SIGHUP reloads the certificate.
        ctlstore_tls::listen_for_sighup();
    }
    let mut http = hyper::server::conn::http1::Builder::new();
    http.max_buf_size(READ_BUFFER).timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accept");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let Some(tls) = &tls else {
            let service = service(app, None);
            let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "connection");
                }
            });
            continue;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
        let watcher = graceful.watcher();
        let http = http.clone();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "TLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake timed out");
                        return;
                    }
                };
            let identity = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(ctlstore_tls::identity_of)
                .map(|id| PeerIdentity(id.into()));
            let connection = http.serve_connection(TokioIo::new(stream), service(app, identity));
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(error = %e, "connection");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The hyper service for one connection: `app`, with the peer's identity in every request.
fn service(
    app: Router,
    identity: Option<PeerIdentity>,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut app = app.clone();
        let mut request = request.map(Body::new);
        if let Some(identity) = &identity {
            request.extensions_mut().insert(identity.clone());
        }
        async move { tower_service::Service::call(&mut app, request).await }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_and_stops() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let app = Router::new().route("/", axum::routing::get(|| async { "hello" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app, async {
            let _ = stopped.await;
        }));
        let text = reqwest::get(&base)
            .await
            .expect("request")
            .text()
            .await
            .expect("body");
        assert_eq!(text, "hello");
        // A head larger than the read buffer is refused, not buffered.
        let big = "x".repeat(READ_BUFFER + 100);
        let r = reqwest::Client::new()
            .get(&base)
            .header("x-big", big)
            .send()
            .await;
        assert!(r.is_err() || r.is_ok_and(|r| r.status().as_u16() == 431));
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("stops")
            .expect("task")
            .expect("serve");
    }
}
