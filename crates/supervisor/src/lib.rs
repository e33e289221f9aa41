//! The supervisor: runs its own reflector on a private LDB and, every interval, publishes a
//! snapshot of it to each configured location, so new hosts bootstrap from object storage
//! instead of replaying the ledger.
//!
//! Unlike ctlstore's supervisor it does not stop its reflector to snapshot: the capture reads one
//! consistent WAL snapshot on a second connection (see `ctlstore-snapshot`), so applying goes on
//! and a long snapshot never stalls the private LDB.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctlstore_reflector::Status;
use ctlstore_snapshot::{Location, S3Options};

/// Supervisor settings (ctlstore's `-snapshot-url`, `-snapshot-interval`, `-reflector.*`).
#[derive(Debug, Clone)]
pub struct Config {
    pub reflector: ctlstore_reflector::Config,
    /// Where snapshots go: `file:///dir/name` or `s3://bucket/key` (extension picks the codec).
    pub snapshot_urls: Vec<String>,
    pub interval: Duration,
    /// Versions kept per location.
    pub keep: usize,
    pub s3: S3Options,
}

/// ctlstore's `-snapshot-interval` default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Snapshot versions kept per location by default.
pub const DEFAULT_KEEP: usize = 3;

pub const SNAPSHOTS: &str = "ctlstore_supervisor_snapshots_total";
pub const SNAPSHOT_SECONDS: &str = "ctlstore_supervisor_snapshot_seconds";
pub const SNAPSHOT_BYTES: &str = "ctlstore_supervisor_snapshot_bytes";

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error(transparent)]
    Snapshot(#[from] ctlstore_snapshot::SnapshotError),
    #[error(transparent)]
    Reflector(#[from] ctlstore_reflector::ReflectorError),
}

mod capture_thread;

/// Runs until `shutdown` completes.
pub async fn run(
    config: Config,
    status: Arc<Status>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), SupervisorError> {
    // A supervisor replicating a family set (`--families`) publishes under that set's own key,
    // where hosts with the same `--families` look for it.
    let locations = config
        .snapshot_urls
        .iter()
        .map(|u| ctlstore_reflector::snapshot_url(u, config.reflector.families.as_ref()))
        .map(|u| Location::parse(&u, &config.s3))
        .collect::<Result<Vec<_>, _>>()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut reflector = {
        let (c, s) = (config.reflector.clone(), status.clone());
        let mut rx = stopped.clone();
        tokio::spawn(async move {
            ctlstore_reflector::run(c, s, async move {
                let _ = rx.wait_for(|v| *v).await;
            })
            .await
        })
    };
    let worker =
        |e: tokio::task::JoinError| ctlstore_reflector::ReflectorError::Worker(e.to_string());
    tokio::select! {
        _ = snapshot_forever(&config, &status, &locations) => {}
        _ = shutdown => {}
        // The reflector ends before it is told to only when it could not start (its LDB is
        // held by another reflector, or unusable): snapshotting an LDB nobody here applies to
        // would publish stale copies forever, so the supervisor stops with that error.
        ended = &mut reflector => {
            ended.map_err(worker)??;
            return Ok(());
        }
    }
    let _ = stop.send(true);
    reflector.await.map_err(worker)??;
    Ok(())
}

async fn snapshot_forever(config: &Config, status: &Status, locations: &[Location]) {
    let mut last_published = None;
    loop {
        tokio::time::sleep(config.interval).await;
        let seq = status.applied_seq();
        if seq == 0 || last_published == Some(seq) {
            tracing::debug!(seq, "nothing new to snapshot");
            continue;
        }
        match snapshot_once(config, locations).await {
            Ok(published) => last_published = Some(published),
            Err(e) => {
                metrics::counter!(SNAPSHOTS, "result" => "error").increment(1);
                tracing::error!(error = %e, "snapshot failed; the next interval tries again");
            }
        }
    }
}

/// Captures the private LDB once and publishes it everywhere; returns its seq.
pub async fn snapshot_once(
    config: &Config,
    locations: &[Location],
) -> Result<i64, SupervisorError> {
    let started = Instant::now();
    let ldb = config.reflector.ldb_path.clone();
    let work = ldb
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| ".".into());
    let mut seq = 0;
    // One capture per codec: locations with the same extension share it.
    let mut by_codec: Vec<(ctlstore_snapshot::Compression, ctlstore_snapshot::Captured)> =
        Vec::new();
    for location in locations {
        let codec = location.compression();
        if !by_codec.iter().any(|(c, _)| *c == codec) {
            let (l, w) = (ldb.clone(), work.clone());
            let captured = capture_thread::capture(l, w, codec).await?;
            by_codec.push((codec, captured));
        }
        let Some((_, captured)) = by_codec.iter().find(|(c, _)| *c == codec) else {
            continue;
        };
        ctlstore_snapshot::publish(location, captured, config.keep).await?;
        seq = captured.manifest.seq;
        metrics::gauge!(SNAPSHOT_BYTES, "url" => location.url().to_string())
            .set(captured.manifest.object_bytes as f64);
    }
    metrics::counter!(SNAPSHOTS, "result" => "ok").increment(1);
    metrics::histogram!(SNAPSHOT_SECONDS).record(started.elapsed().as_secs_f64());
    tracing::info!(
        seq,
        seconds = started.elapsed().as_secs_f64(),
        "snapshot cycle done"
    );
    Ok(seq)
}
