//! The relay: the fan-out tier between the executive and many hosts (issue 21,
//! docs/decisions/0014-fan-out-relay.md).
//!
//! `ctlstore relay --upstream URL --bind ADDR` follows an executive's ledger feed (or another
//! relay's: they stack) with one long-poll, keeps the newest entries in a bounded window
//! ([`LedgerWindow`]), and serves the same feed API downstream (`GET /ledger`,
//! `GET /ledger/stream`, same query, same pages, same keepalives), so a reflector follows a
//! relay with the flag it already has: `-executive-url http://relay:3001`.
//!
//! A follower outside the window (further behind, or ahead of a relay that just started) is
//! redirected upstream (307 with the same query); reflectors follow redirects, and the upstream
//! answers it, 410 included when the entries it needs were pruned. So a relay never serves a
//! page the executive would not, and holds no state worth keeping: restart it at will.
//!
//! Entry point: [`serve`] with a bound listener, a [`Config`] and a shutdown future.

mod follow;
mod routes;

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use ctlstore_ledger::LedgerWindow;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Entries a relay keeps by default: minutes of a busy ledger, tens of MB at most.
pub const DEFAULT_WINDOW: usize = 100_000;
/// How many of the newest entries a starting relay loads before it serves, by default: hosts
/// that were following the relay it replaces find their place in the window.
pub const DEFAULT_PRELOAD: usize = 10_000;
/// Unhealthy after this long without an answer from upstream (a long-poll answers at least
/// every `wait`, 30 s).
pub const UNHEALTHY_AFTER: Duration = Duration::from_secs(65);

/// Metric names, units in the name.
pub mod metric {
    pub const REQUESTS: &str = "ctlstore_relay_requests_total";
    pub const REQUEST_SECONDS: &str = "ctlstore_relay_request_seconds";
    pub const THROUGH: &str = "ctlstore_relay_window_through_seq";
    pub const WINDOW_ENTRIES: &str = "ctlstore_relay_window_entries";
    pub const REDIRECTS: &str = "ctlstore_relay_redirects_total";
    pub const UPSTREAM_ERRORS: &str = "ctlstore_relay_upstream_errors_total";
}

/// Everything a relay needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The executive (or relay) to follow: a URL, or several separated by commas (the next is
    /// tried when one fails, as the reflector does).
    pub upstream: String,
    /// Entries kept in memory.
    pub window: usize,
    /// Entries loaded before serving.
    pub preload: usize,
    /// Longest `wait` a follower may ask for.
    pub max_wait: Duration,
    /// TLS to upstream (`--tls-ca`, `--tls-client-cert`, `--tls-client-key`).
    pub tls: ctlstore_tls::ClientTls,
    /// TLS for followers (`--tls-cert`, `--tls-key`, `--tls-client-ca`).
    pub server_tls: Option<ctlstore_tls::ServerTls>,
}

impl Config {
    pub fn new(upstream: impl Into<String>) -> Config {
        Config {
            upstream: upstream.into(),
            window: DEFAULT_WINDOW,
            preload: DEFAULT_PRELOAD,
            max_wait: Duration::from_secs(60),
            tls: ctlstore_tls::ClientTls::default(),
            server_tls: None,
        }
    }
}

/// Why the relay could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("invalid setting {setting}: {reason}")]
    Config {
        setting: &'static str,
        reason: String,
    },
    #[error("upstream: {0}")]
    Upstream(#[from] ctlstore_reflector::SourceError),
    #[error("serve HTTP: {0}")]
    Serve(#[from] std::io::Error),
}

/// What the follower task and the handlers share.
pub(crate) struct Shared {
    pub window: RwLock<LedgerWindow>,
    /// The window's `through`, for waiters: changes when entries arrive.
    pub filled: watch::Sender<i64>,
    /// The newest seq upstream reported.
    pub head: AtomicI64,
    /// Upstream base URLs, for redirects (the first: the one operators named first).
    pub upstream: Vec<String>,
    pub last_ok: Mutex<Option<Instant>>,
    pub max_wait: Duration,
    pub shutdown: watch::Sender<bool>,
}

impl Shared {
    pub fn head(&self) -> i64 {
        let through = self.window.read().map(|w| w.through()).unwrap_or(0);
        self.head.load(Ordering::Relaxed).max(through)
    }

    pub fn page(&self, after: i64, limit: usize) -> Option<Vec<ctlstore_ledger::LedgerEntry>> {
        self.window.read().ok()?.page(after, limit)
    }
}

/// Serves the relay on `listener` until `shutdown` completes. Fails at start when the upstream
/// cannot be read (so a misconfigured relay exits instead of redirecting every host).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    if config.window == 0 {
        return Err(RelayError::Config {
            setting: "window",
            reason: "must hold at least one entry".into(),
        });
    }
    let upstream = ctlstore_schema::executive_base_urls(&config.upstream);
    if upstream.is_empty() {
        return Err(RelayError::Config {
            setting: "upstream",
            reason: "no URL given".into(),
        });
    }
    let window: LedgerWindow = follow::load(&config).await?;
    let start = window.through();
    let shared = Arc::new(Shared {
        window: RwLock::new(window),
        filled: watch::channel(start).0,
        head: AtomicI64::new(start),
        upstream,
        last_ok: Mutex::new(Some(Instant::now())),
        max_wait: config.max_wait,
        shutdown: watch::channel(false).0,
    });
    let follower = tokio::spawn(follow::follow_forever(shared.clone(), config.clone()));
    tracing::info!(start, upstream = %config.upstream, window = config.window, "relay serving");
    let app = routes::router(shared.clone());
    let stopping = shared.clone();
    let served = ctlstore_serve::serve_tls(listener, app, config.server_tls.clone(), async move {
        shutdown.await;
        // Wakes parked long-polls and streams, so shutdown does not wait for them.
        let _ = stopping.shutdown.send(true);
    })
    .await;
    follower.abort();
    served?;
    Ok(())
}
