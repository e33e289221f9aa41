//! `ctlstore all-in-one` (or `ctlstore up`): the executive on the embedded SQLite ctldb, a
//! reflector following it, the sidecar over the reflector's LDB, a supervisor publishing
//! snapshots of its own LDB under `<data-dir>/snapshots`, and a heartbeat, in one process.
//!
//! The five run as supervised tasks: the first to end (a listener that failed to bind, a
//! reflector that halted) stops the others and the process exits non-zero, naming it. Ctrl-C
//! or SIGTERM stops all five, each finishing what it had started.

use std::future::Future;

use anyhow::{Context, anyhow};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::flags::AllInOneArgs;
use crate::services;

/// The heartbeat writer's secret: the all-in-one ctldb is private to this process.
const HEARTBEAT_SECRET: &str = "all-in-one-heartbeat";

pub async fn run(args: &AllInOneArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("create {}", args.data_dir.display()))?;
    let heartbeat_interval = args.heartbeat_interval()?;
    let ctldb = format!("sqlite:{}", args.data_dir.join("ctldb.db").display());
    let ldb = args.data_dir.join("ldb.db");
    let (stop, stopped) = watch::channel(false);
    let until_stopped = move || {
        let mut rx = stopped.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    // Bind every listener first, so a port in use fails the start before anything runs.
    let executive_listener = services::bind_listener(&args.bind).await?;
    let executive_url = format!("http://{}", executive_listener.local_addr()?);
    let mut tasks: JoinSet<(&'static str, anyhow::Result<()>)> = JoinSet::new();
    let executive_config = ctlstore_executive::Config {
        ctldb_url: ctldb,
        ..Default::default()
    };
    let executive_stop = until_stopped();
    spawn(&mut tasks, "executive", async move {
        ctlstore_executive::serve(executive_listener, executive_config, executive_stop).await?;
        Ok(())
    });

    let reflector_config = ctlstore_reflector::Config::new(
        &ldb,
        ctlstore_reflector::SourceConfig::feed(&executive_url),
    );
    let metrics_bind = args.metrics_bind.clone();
    let reflector_stop = until_stopped();
    spawn(&mut tasks, "reflector", async move {
        services::reflector_until(reflector_config, &metrics_bind, None, reflector_stop).await
    });

    let sidecar_bind = args.sidecar_bind.clone();
    let sidecar_stop = until_stopped();
    let sidecar_config = ctlstore_sidecar::Config {
        max_rows: 0,
        application: "all-in-one".into(),
        ..Default::default()
    };
    let sidecar_ldb = ldb.clone();
    spawn(&mut tasks, "sidecar", async move {
        services::sidecar(&sidecar_bind, &sidecar_ldb, sidecar_config, sidecar_stop).await
    });

    let supervisor_config = supervisor_config(args, &executive_url)?;
    let snapshots = supervisor_config.snapshot_urls.join(", ");
    let supervisor_stop = until_stopped();
    spawn(&mut tasks, "supervisor", async move {
        let status = std::sync::Arc::new(ctlstore_reflector::Status::new(
            supervisor_config.reflector.max_healthy_latency,
        ));
        ctlstore_supervisor::run(supervisor_config, status, supervisor_stop).await?;
        Ok(())
    });

    let heartbeat_config = ctlstore_heartbeat::Config {
        executive_url: executive_url.clone(),
        secret: HEARTBEAT_SECRET.into(),
        interval: heartbeat_interval,
        ..Default::default()
    };
    let heartbeat_stop = until_stopped();
    spawn(&mut tasks, "heartbeat", async move {
        ctlstore_heartbeat::run(heartbeat_config, heartbeat_stop).await?;
        Ok(())
    });

    tracing::info!(
        executive = %executive_url,
        sidecar = %args.sidecar_bind,
        reflector_health = %args.metrics_bind,
        snapshots = %snapshots,
        data = %args.data_dir.display(),
        "all-in-one running: write to the executive, read from the sidecar"
    );
    println!(
        "{}",
        banner(
            &executive_url,
            &args.sidecar_bind,
            &args.metrics_bind,
            &args.data_dir
        )
    );
    let failure = tokio::select! {
        _ = services::shutdown_signal() => None,
        Some(first) = tasks.join_next() => Some(ended(first)),
    };
    let _ = stop.send(true);
    let mut result = match failure {
        Some((name, r)) => Err(r.err().unwrap_or_else(|| anyhow!("stopped by itself")))
            .with_context(|| format!("all-in-one: the {name} ended")),
        None => Ok(()),
    };
    while let Some(done) = tasks.join_next().await {
        let (name, r) = ended(done);
        if let (Err(e), Ok(())) = (r, &result) {
            result = Err(e).with_context(|| format!("all-in-one: the {name} failed"));
        }
    }
    result
}

/// The supervisor's private reflector follows the executive like the host's own, into its own
/// LDB, and publishes zstd snapshots to `<data-dir>/snapshots/ldb.db.zst`.
fn supervisor_config(
    args: &AllInOneArgs,
    executive_url: &str,
) -> anyhow::Result<ctlstore_supervisor::Config> {
    let data = std::fs::canonicalize(&args.data_dir)
        .with_context(|| format!("resolve {}", args.data_dir.display()))?;
    let snapshots = data.join("snapshots");
    std::fs::create_dir_all(&snapshots)
        .with_context(|| format!("create {}", snapshots.display()))?;
    let private = data.join("supervisor");
    std::fs::create_dir_all(&private).with_context(|| format!("create {}", private.display()))?;
    Ok(ctlstore_supervisor::Config {
        reflector: ctlstore_reflector::Config::new(
            private.join("ldb.db"),
            ctlstore_reflector::SourceConfig::feed(executive_url),
        ),
        snapshot_urls: vec![format!("file://{}", snapshots.join("ldb.db.zst").display())],
        interval: args.snapshot_interval()?,
        keep: ctlstore_supervisor::DEFAULT_KEEP,
        s3: Default::default(),
    })
}

/// What a user opens next, printed on stdout once everything is bound.
fn banner(executive: &str, sidecar: &str, reflector: &str, data: &std::path::Path) -> String {
    let sidecar = format!("http://{sidecar}");
    let reflector = format!("http://{reflector}");
    [
        "ctlstore is up (Ctrl-C stops it):".to_string(),
        format!("  API        {executive}/            (OpenAPI JSON)"),
        format!("  console    {executive}/ui/"),
        format!("  API docs   {executive}/docs"),
        format!("  sidecar    {sidecar}/              (reads; docs at {sidecar}/docs)"),
        format!("  metrics    {executive}/metrics    {reflector}/metrics (reflector)"),
        format!("  health     {executive}/healthz    {reflector}/healthz (reflector)"),
        format!("  data       {}", data.display()),
    ]
    .join("\n")
}

fn spawn<F>(tasks: &mut JoinSet<(&'static str, anyhow::Result<()>)>, name: &'static str, f: F)
where
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    tasks.spawn(async move { (name, f.await) });
}

fn ended(
    joined: Result<(&'static str, anyhow::Result<()>), tokio::task::JoinError>,
) -> (&'static str, anyhow::Result<()>) {
    joined.unwrap_or_else(|e| ("task", Err(anyhow!("panicked or was cancelled: {e}"))))
}
