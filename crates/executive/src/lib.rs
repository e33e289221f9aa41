//! The executive: the only way data gets into ctlstore.
//!
//! It serves ctlstore's write API (same paths, methods, bodies, headers and success codes, so a
//! Go program written against ctlstore's executive works unchanged), enforces writer rate limits
//! and table size limits, and serves the ledger to reflectors as a long-poll and a stream that
//! answer the moment an entry commits. Errors are JSON `{"error": ..., "field": ...}` with a 4xx
//! status wherever the request was at fault (ctlstore answers many of those with a 500).
//!
//! The executive is stateless: run several against one MySQL or PostgreSQL ctldb; the ledger
//! lock and the limits live in the database.
//!
//! Entry point: [`serve`] with a bound listener, a [`Config`] and a shutdown future.

mod error;
mod feed;
mod metrics;
pub mod openapi;
mod routes;
mod sizes;
mod state;
mod usage_cleanup;
mod writer_limits;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use ctlstore_ctldb::SecretHashScheme;
pub use error::ApiError;
pub use routes::router;
use tokio::net::TcpListener;

/// Everything the executive needs to run. Defaults are ctlstore's.
#[derive(Debug, Clone)]
pub struct Config {
    /// The ctldb: `sqlite:PATH`, `mysql://...`, `postgres://...` or a Go MySQL DSN.
    pub ctldb_url: String,
    /// Bytes at which a table refuses growth (ctlstore `-max-table-size`).
    pub max_table_size: i64,
    /// Bytes at which a table is reported as large (ctlstore `-warn-table-size`).
    pub warn_table_size: i64,
    /// Rows a writer may write per period (ctlstore `-writer-limit`).
    pub writer_limit: i64,
    /// The period of the writer limit (ctlstore `-writer-limit-period`).
    pub writer_limit_period: Duration,
    /// Allow dropping tables and clearing rows (ctlstore `-enable-destructive-schema-changes`).
    pub enable_destructive_schema_changes: bool,
    /// When set, schema and limit routes require `Authorization: Bearer <token>`.
    pub admin_token: Option<String>,
    /// How new writers' secrets are stored.
    pub writer_secret_hash: SecretHashScheme,
    /// Longest time a request may take (ctlstore `-handler-timeout`); not for the ledger feed.
    pub handler_timeout: Duration,
    /// How often table sizes are measured.
    pub table_size_refresh: Duration,
    /// How often the ledger head is polled, to notice commits by other executives.
    pub ledger_poll_interval: Duration,
    /// Longest `wait` a ledger long-poll may ask for.
    pub max_ledger_wait: Duration,
    /// Largest request body.
    pub max_body_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ctldb_url: "sqlite:ctldb.db".into(),
            max_table_size: 100 * 1024 * 1024,
            warn_table_size: 50 * 1024 * 1024,
            writer_limit: 1000,
            writer_limit_period: Duration::from_secs(60),
            enable_destructive_schema_changes: false,
            admin_token: None,
            writer_secret_hash: SecretHashScheme::Sha256Hex,
            handler_timeout: Duration::from_secs(30),
            table_size_refresh: Duration::from_secs(60),
            ledger_poll_interval: Duration::from_millis(200),
            max_ledger_wait: Duration::from_secs(60),
            max_body_bytes: ctlstore_schema::limits::MAX_REQUEST_BODY_BYTES,
        }
    }
}

/// Why the executive could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExecutiveError {
    #[error("open the ctldb: {0}")]
    Ctldb(#[from] ctlstore_ctldb::CtldbError),
    #[error("serve HTTP: {0}")]
    Serve(#[from] std::io::Error),
}

/// Runs the executive on `listener` until `shutdown` completes, then drains requests (waiting
/// long-polls are answered at once) and returns.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ExecutiveError> {
    let ctldb = ctlstore_ctldb::Ctldb::connect(&config.ctldb_url, Default::default()).await?;
    let state = state::AppState::new(ctldb.clone(), config);
    let background = state.start_background_tasks();
    let app = router(state.clone());
    let stopping = state.clone();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopping.begin_shutdown();
        })
        .await;
    background.abort();
    ctldb.close().await;
    result.map_err(ExecutiveError::from)
}

pub(crate) type SharedState = Arc<state::Inner>;
