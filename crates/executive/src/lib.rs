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

mod acl;
mod error;
mod feed;
mod metrics;
pub mod openapi;
mod retention;
mod routes;
mod sizes;
mod state;
mod supervise;
mod usage_cleanup;
mod writer_limits;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use acl::{AclError, Rules as AclRules};
pub use ctlstore_ctldb::SecretHashScheme;
pub use error::ApiError;
pub use retention::{
    DEFAULT_MARGIN as DEFAULT_RETENTION_MARGIN, DEFAULT_PRUNE_INTERVAL, Keep, Plan, Retention,
    RetentionError, plan as plan_retention, prune_once,
};
pub use routes::{FEED_DEFAULT_LIMIT, FEED_KEEPALIVE, FEED_MAX_LIMIT, router};
pub use supervise::TaskFailure;
use tokio::net::TcpListener;

pub use ctlstore_schema::DEFAULT_HEARTBEAT_FAMILY;

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
    /// How often the ledger head is polled, to notice commits by other executives (an indexed
    /// `MAX(seq)`: 50 cheap queries a second buy cross-executive propagation within ~20 ms, as
    /// several executives on Galera or behind one load balancer need).
    pub ledger_poll_interval: Duration,
    /// Longest `wait` a ledger long-poll may ask for.
    pub max_ledger_wait: Duration,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Origins (`https://console.example.com`, or `*` for any) whose browser pages may call
    /// this executive (CORS, preflight included). Empty: no CORS headers, as ctlstore.
    pub cors_origins: Vec<String>,
    /// Ledger retention (`--ledger-retention`); `None`: the ledger is kept whole, as ctlstore.
    pub retention: Option<Retention>,
    /// TLS, and with a client CA mutual TLS (`--tls-cert`, `--tls-key`, `--tls-client-ca`).
    pub tls: Option<ctlstore_tls::ServerTls>,
    /// Access rules (`--acl-file`, `acl.rs`); `None`: no ACL, as ctlstore (the admin token,
    /// when set, still guards operators' routes).
    pub acl_file: Option<std::path::PathBuf>,
    /// The heartbeat's family: with an ACL, every identity's feed carries it unless a read
    /// rule names it (`--heartbeat-family`, the heartbeat's default `-family-name`).
    pub heartbeat_family: Option<String>,
    /// Fault injection for tests: the background task of this name (`ledger head poller`,
    /// `table sizer`, `writer usage cleanup`, `writer limit refresh`, `ctldb group committer`)
    /// panics as soon as it starts, so a test can watch the executive notice
    /// (`tests/supervision.rs`). Always `None` in service.
    #[doc(hidden)]
    pub fault_stop_task: Option<String>,
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
            ledger_poll_interval: Duration::from_millis(20),
            max_ledger_wait: Duration::from_secs(60),
            max_body_bytes: ctlstore_schema::limits::MAX_REQUEST_BODY_BYTES,
            cors_origins: Vec::new(),
            retention: None,
            tls: None,
            acl_file: None,
            heartbeat_family: Some(DEFAULT_HEARTBEAT_FAMILY.into()),
            fault_stop_task: None,
        }
    }
}

impl Config {
    /// Refuses settings the executive cannot run with, naming the setting: a zero interval
    /// would panic its task, a zero timeout would refuse every request.
    pub fn validate(&self) -> Result<(), ExecutiveError> {
        let positive = [
            ("handler_timeout", self.handler_timeout),
            ("table_size_refresh", self.table_size_refresh),
            ("ledger_poll_interval", self.ledger_poll_interval),
            ("writer_limit_period", self.writer_limit_period),
        ];
        for (setting, value) in positive {
            if value.is_zero() {
                return Err(ExecutiveError::Config {
                    setting,
                    reason: "must be greater than zero".into(),
                });
            }
        }
        routes::cors_layer(&self.cors_origins).map_err(|reason| ExecutiveError::Config {
            setting: "cors_origins",
            reason,
        })?;
        Ok(())
    }
}

/// Why the executive could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExecutiveError {
    #[error("invalid setting {setting}: {reason}")]
    Config {
        setting: &'static str,
        reason: String,
    },
    #[error("--acl-file {0}")]
    Acl(#[from] acl::AclError),
    #[error("open the ctldb: {0}")]
    Ctldb(#[from] ctlstore_ctldb::CtldbError),
    #[error("serve HTTP: {0}")]
    Serve(#[from] std::io::Error),
    /// A background task ended; the executive shut down rather than serve without it.
    #[error("{0}")]
    TaskStopped(TaskFailure),
}

/// Runs the executive on `listener` until `shutdown` completes, then drains requests (waiting
/// long-polls are answered at once) and returns. If a background task ends first, the
/// executive logs it, reports unhealthy, drains the same way and returns
/// [`ExecutiveError::TaskStopped`].
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ExecutiveError> {
    config.validate()?;
    let acl = config.acl_file.as_deref().map(acl::Acl::load).transpose()?;
    let tls = config.tls.clone();
    let ctldb = ctlstore_ctldb::Ctldb::connect(&config.ctldb_url, Default::default()).await?;
    let state = state::AppState::new(ctldb.clone(), config, acl);
    let mut background = state.start_background_tasks();
    let app = router(state.clone());
    let (failed, on_failure) = tokio::sync::oneshot::channel::<()>();
    let stopping = state.clone();
    // `ctlstore_serve`: TCP_NODELAY (a long-poll answer written as headers then body must not
    // wait for the reflector's delayed ACK, which added ~40 ms to every propagation), a router
    // clone per connection (an `Arc`; axum's `serve` of a bare `Router` rebuilt the route table
    // for each, ~18 KiB), and hyper's read buffer capped at 8 KiB (16 KiB per parked long-poll
    // otherwise): `cargo bench -p ctlstore --bench fanout`.
    let server = ctlstore_serve::serve_tls(listener, app, tls, async move {
        tokio::select! {
            _ = shutdown => {}
            _ = on_failure => {}
        }
        stopping.begin_shutdown();
    });
    tokio::pin!(server);
    let supervise = async {
        let failure = background.first_failure().await;
        tracing::error!(task = failure.task, reason = %failure.reason, "background task stopped: the executive reports unhealthy and shuts down");
        state.record_failure(&failure);
        let _ = failed.send(());
        failure
    };
    let (result, failure) = tokio::select! {
        result = &mut server => (result, None),
        failure = supervise => (server.await, Some(failure)),
    };
    background.abort();
    ctldb.close().await;
    if let Some(failure) = failure {
        return Err(ExecutiveError::TaskStopped(failure));
    }
    result.map_err(ExecutiveError::from)
}

pub(crate) type SharedState = Arc<state::Inner>;
