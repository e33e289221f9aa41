//! The sidecar: ctlstore's HTTP read API over the host's LDB, for applications that do not link
//! the reader library. Same routes, bodies and status codes as ctlstore's sidecar:
//!
//! - `POST /get-row-by-key/{family}/{table}` with `{"key": [{"value": v} | {"binary": b64}]}`:
//!   the row as a JSON object (bytes as base64); no such row: 404, empty body,
//!   `X-Ctlstore: Not Found`.
//! - `POST /get-rows-by-key-prefix/{family}/{table}`: a JSON array (`[]` when none); more than
//!   `max_rows` rows: 416, empty body.
//! - `GET /get-ledger-latency`: `{"value": seconds, "unit": "seconds"}`.
//! - `GET /healthcheck`, `GET /ping`: 200 when the LDB has applied an entry, else 503.
//!
//! Added: `GET /metrics`, `GET /healthz`, `GET /openapi.json` (the OpenAPI document, generated
//! from the route table in `routes.rs` by `openapi.rs`). Unknown family/table: 404 with a JSON
//! message; a bad key (wrong count, wrong type, null): 400 with a JSON message naming it.
//!
//! Reads run on the async worker directly: a read is a few microseconds of memory-mapped
//! SQLite, cheaper than a hop to a blocking thread.

pub mod openapi;
mod routes;
mod watch;

use std::future::Future;
use std::sync::Arc;

use ctlstore_reader::{Reader, ReaderError};
use tokio::net::TcpListener;

pub use routes::{NO_ROUTE_HEADER, ROUTES, Route, router};

/// Sidecar settings (ctlstore's flags).
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Most rows a prefix read may return (0: unlimited).
    pub max_rows: usize,
    /// Reported in logs only (ctlstore's `-application`).
    pub application: String,
    /// HTTPS, and with a client CA mutual TLS (`--tls-cert`, `--tls-key`, `--tls-client-ca`).
    pub tls: Option<ctlstore_tls::ServerTls>,
}

#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    #[error(transparent)]
    Reader(#[from] ReaderError),
    #[error("serve HTTP: {0}")]
    Serve(#[from] std::io::Error),
}

/// Serves the sidecar for `reader` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    reader: Arc<Reader>,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SidecarError> {
    // TCP_NODELAY, a cheap router clone per connection, small buffers (see `ctlstore-serve`).
    let tls = config.tls.clone();
    ctlstore_serve::serve_tls(listener, router(reader, config), tls, shutdown).await?;
    Ok(())
}
