//! Running one service in this process: binding its listeners, its health endpoint, waiting
//! for its LDB, and stopping on Ctrl-C or SIGTERM. A background task that ends early (a health
//! endpoint whose listener failed, say) ends the service with an error, so the process exits
//! non-zero instead of running on half-alive.

use std::future::Future;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use ctlstore_reflector::Status;

pub async fn ctldb_init(ctldb: &str) -> anyhow::Result<()> {
    let db = ctlstore_ctldb::Ctldb::connect(ctldb, Default::default()).await?;
    tracing::info!(dialect = %db.dialect(), "ctldb ready");
    db.close().await;
    Ok(())
}

pub async fn executive(bind: &str, config: ctlstore_executive::Config) -> anyhow::Result<()> {
    let listener = bind_listener(bind).await?;
    tracing::info!(bind = %listener.local_addr()?, ctldb = %redact(&config.ctldb_url), "executive listening");
    ctlstore_executive::serve(listener, config, shutdown_signal()).await?;
    Ok(())
}

pub async fn relay(bind: &str, config: ctlstore_relay::Config) -> anyhow::Result<()> {
    let listener = bind_listener(bind).await?;
    tracing::info!(bind = %listener.local_addr()?, upstream = %config.upstream, "relay listening");
    ctlstore_relay::serve(listener, config, shutdown_signal()).await?;
    Ok(())
}

pub async fn bind_listener(bind: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("bind {bind}"))
}

/// Serves a reflector's `/healthz`, `/status` and `/metrics` on `bind` (nothing when empty).
/// The returned future ends only if serving fails.
async fn health_endpoint(
    bind: &str,
    tls: Option<ctlstore_tls::ServerTls>,
    status: Arc<Status>,
) -> anyhow::Result<impl Future<Output = anyhow::Error> + use<>> {
    let listener = if bind.is_empty() {
        None
    } else {
        let listener = bind_listener(bind).await?;
        tracing::info!(bind = %listener.local_addr()?, "health and metrics listening");
        Some(listener)
    };
    Ok(async move {
        let Some(listener) = listener else {
            return std::future::pending().await;
        };
        let app = ctlstore_reflector::health_router(status);
        match ctlstore_serve::serve_tls(listener, app, tls, std::future::pending()).await {
            Ok(()) => anyhow!("the health endpoint stopped"),
            Err(e) => anyhow!("the health endpoint failed: {e}"),
        }
    })
}

/// Runs `service` until it ends; ends with an error if the health endpoint dies first.
async fn with_health<F>(
    bind: &str,
    tls: Option<ctlstore_tls::ServerTls>,
    status: Arc<Status>,
    service: F,
) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>>,
{
    let health = health_endpoint(bind, tls, status).await?;
    tokio::select! {
        r = service => r,
        e = health => Err(e),
    }
}

pub async fn reflector(
    config: ctlstore_reflector::Config,
    metrics_bind: &str,
    metrics_tls: Option<ctlstore_tls::ServerTls>,
) -> anyhow::Result<()> {
    reflector_until(config, metrics_bind, metrics_tls, shutdown_signal()).await
}

pub async fn reflector_until(
    config: ctlstore_reflector::Config,
    metrics_bind: &str,
    metrics_tls: Option<ctlstore_tls::ServerTls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let status = Arc::new(Status::new(config.max_healthy_latency));
    with_health(metrics_bind, metrics_tls, status.clone(), async {
        ctlstore_reflector::run(config, status, shutdown).await?;
        Ok(())
    })
    .await
}

/// One reflector per LDB copy; the first copy's health is served. Any copy failing stops all.
pub async fn multi_reflector(
    configs: Vec<ctlstore_reflector::Config>,
    metrics_bind: &str,
    metrics_tls: Option<ctlstore_tls::ServerTls>,
) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, config) in configs.into_iter().enumerate() {
        let bind = if i == 0 {
            metrics_bind.to_string()
        } else {
            String::new()
        };
        let tls = metrics_tls.clone();
        tasks.spawn(async move { reflector(config, &bind, tls).await });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

pub async fn supervisor(
    config: ctlstore_supervisor::Config,
    metrics_bind: &str,
    metrics_tls: Option<ctlstore_tls::ServerTls>,
) -> anyhow::Result<()> {
    let status = Arc::new(Status::new(config.reflector.max_healthy_latency));
    with_health(metrics_bind, metrics_tls, status.clone(), async {
        ctlstore_supervisor::run(config, status, shutdown_signal()).await?;
        Ok(())
    })
    .await
}

/// The sidecar, once its LDB exists: a sidecar may start before its reflector has made it.
pub async fn sidecar(
    bind: &str,
    path: &Path,
    config: ctlstore_sidecar::Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = bind_listener(bind).await?;
    let mut shutdown = Box::pin(shutdown);
    let mut waited = 0u32;
    let reader = loop {
        match ctlstore_reader::Reader::open(path) {
            Ok(r) => break r,
            Err(ctlstore_reader::ReaderError::NotFound(_)) => {
                if waited.is_multiple_of(10) {
                    tracing::info!(ldb = %path.display(), "waiting for the LDB to exist");
                }
                waited += 1;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = &mut shutdown => return Ok(()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    };
    tracing::info!(bind = %listener.local_addr()?, ldb = %path.display(), application = %config.application, "sidecar listening");
    ctlstore_sidecar::serve(listener, Arc::new(reader), config, shutdown).await?;
    Ok(())
}

/// Prints one row as the sidecar would answer it; exit status 1 when there is none.
pub fn ldb_read_key(args: &crate::flags::LdbReadKeyArgs) -> anyhow::Result<()> {
    let parts: Vec<serde_json::Value> = serde_json::from_str(&args.key_json)
        .map_err(|e| anyhow!("--key-json must be a JSON array: {e}"))?;
    let key =
        ctlstore_reader::json::key_from_array(&parts).map_err(|e| anyhow!("--key-json: {e}"))?;
    let reader = ctlstore_reader::Reader::open(args.ldb_path())?;
    let Some(row) = reader.get_row(&args.family, &args.table, &key)? else {
        eprintln!("not found");
        std::process::exit(1);
    };
    println!("{}", ctlstore_reader::json::row_json(&row));
    Ok(())
}

/// Hides a password in a URL or DSN for logging.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_string(),
        },
        (None, Some(at)) => match url[..at].split_once(':') {
            Some((user, _)) => format!("{user}:***{}", &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

/// Ctrl-C or SIGTERM.
/// Set once SIGINT or SIGTERM has arrived; see [`listen_for_signals`].
static STOP: std::sync::OnceLock<tokio::sync::watch::Sender<bool>> = std::sync::OnceLock::new();

fn stop_sender() -> &'static tokio::sync::watch::Sender<bool> {
    STOP.get_or_init(|| tokio::sync::watch::channel(false).0)
}

/// Registers the SIGINT/SIGTERM handlers at once, before any service starts, so a signal that
/// arrives while a service is still starting (connecting to its ctldb, opening its LDB) is a
/// clean stop rather than the default action, death by signal. Call inside the runtime.
pub fn listen_for_signals() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            tokio::spawn(async move {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
                // send_replace: `send` drops the value when nobody listens yet.
                stop_sender().send_replace(true);
            });
            return;
        }
    }
    tokio::spawn(async {
        let _ = tokio::signal::ctrl_c().await;
        // send_replace: `send` drops the value when nobody listens yet.
        stop_sender().send_replace(true);
    });
}

/// Completes when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let mut stopped = stop_sender().subscribe();
    let _ = stopped.wait_for(|s| *s).await;
    tracing::info!("shutting down");
}

/// Logs to stderr, with colour only when stderr is a terminal (a log redirected to a file has
/// no escape codes); `RUST_LOG` overrides the level.
/// How services write their logs: `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines; ANSI colour only when stderr is a terminal.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

static LOG_FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// Set once from the command line, before any service starts its logging.
pub fn set_log_format(format: LogFormat) {
    let _ = LOG_FORMAT.set(format);
}

pub fn init_tracing(debug: bool) {
    let default = if debug { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Otherwise a failed log write (stderr closed by a dead log pipe, a full disk) is
        // reported with `eprint!`, which panics on the same broken stderr: the service would
        // die of its log. Losing log lines is the lesser harm.
        .log_internal_errors(false);
    let _ = match LOG_FORMAT.get().copied().unwrap_or(LogFormat::Text) {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
