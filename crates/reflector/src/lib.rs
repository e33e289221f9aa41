//! The reflector: runs on every host, follows the ledger and applies it to the host's LDB, in
//! order and exactly once, surviving any crash (the LDB records its seq in the same transaction
//! as the rows; see `ctlstore-ldb`).
//!
//! Sources ([`Source`]): the executive's ledger feed (a long-poll answered the moment an entry
//! commits: propagation in milliseconds) or direct polling of a ctldb or its read replica
//! (ctlstore's way: `SELECT ... WHERE seq > ? ORDER BY seq LIMIT n` every poll interval, with
//! jitter). Source errors are retried with capped exponential backoff; a statement the LDB
//! refuses or cannot execute halts applying (logged with its seq, reported unhealthy, never
//! skipped) while the LDB keeps serving reads.
//!
//! Below the ledger's pruning horizon (the feed answers 410; a polled ctldb's horizon says so)
//! the reflector bootstraps again from `-bootstrap-url`, in place ([`Ldb::replace_contents`]),
//! and goes on from the snapshot's seq; without a bootstrap URL, or when the newest snapshot is
//! itself below the horizon, it reports unhealthy with the reason and retries.
//!
//! Entry point: [`run`] with a [`Config`], a shared [`Status`] and a shutdown future;
//! [`health_router`] serves `/healthz`, `/status` and `/metrics` from that status.

mod health;
mod partial;
mod source;
mod status;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctlstore_ldb::{Ldb, LdbError, LdbOptions};
use ctlstore_ledger::{LedgerEntry, Scopes};

pub use health::health_router;
pub use partial::snapshot_url;
pub use source::{
    DEFAULT_FEED_WAIT, DEFAULT_LEDGER_TABLE, DEFAULT_POLL_INTERVAL, DEFAULT_POLL_JITTER,
    DEFAULT_POLL_TIMEOUT, DEFAULT_QUERY_BLOCK, FEED_BLOCK_FACTOR, FEED_IDLE_TIMEOUT, Source,
    SourceConfig, SourceError,
};
pub use status::Status;

/// Metric names, units in the name.
pub mod metric {
    pub const SEQ: &str = "ctlstore_reflector_seq";
    pub const STATEMENTS: &str = "ctlstore_reflector_statements_total";
    pub const APPLY_SECONDS: &str = "ctlstore_reflector_apply_seconds";
    pub const LEDGER_LATENCY_SECONDS: &str = "ctlstore_reflector_ledger_latency_seconds";
    pub const ERRORS: &str = "ctlstore_reflector_errors_total";
    pub const SKIPPED_SEQS: &str = "ctlstore_reflector_skipped_seqs_total";
}

/// Everything a reflector needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub ldb_path: PathBuf,
    pub source: SourceConfig,
    pub ldb: LdbOptions,
    /// How long a gap in the sequence is waited on before the missing seqs are treated as
    /// skipped (rolled-back appends leave permanent gaps; ctlstore re-reads once, after 1 s),
    /// under [`GapPolicy::Wait`].
    pub gap_timeout: Duration,
    /// How gaps are treated; `None`: [`GapPolicy::default_for`] the source.
    pub gap_policy: Option<GapPolicy>,
    /// Healthy while caught up, or while the last applied entry is at most this old
    /// (ctlstore `-ledger-latency.max-healty-latency`).
    pub max_healthy_latency: Duration,
    /// Bootstrap a missing LDB from the newest snapshot here (ctlstore `-bootstrap-url`).
    pub bootstrap: Option<(String, ctlstore_snapshot::S3Options)>,
    /// Replicate only these families or tables (`--families`; the heartbeat's family comes
    /// with them on the feed). `None`: everything this host may read.
    pub families: Option<Scopes>,
    /// TLS to the executive's feed (`--tls-ca`, `--tls-client-cert`, `--tls-client-key`).
    pub tls: ctlstore_tls::ClientTls,
}

/// ctlstore's `-ledger-latency.max-healty-latency` default.
pub const DEFAULT_MAX_HEALTHY_LATENCY: Duration = Duration::from_secs(60);
/// How long a sequence gap is waited on by default (ctlstore re-reads once, after 1 s).
pub const DEFAULT_GAP_TIMEOUT: Duration = Duration::from_secs(1);

impl Config {
    pub fn new(ldb_path: impl Into<PathBuf>, source: SourceConfig) -> Config {
        Config {
            ldb_path: ldb_path.into(),
            source,
            ldb: LdbOptions::default(),
            gap_timeout: DEFAULT_GAP_TIMEOUT,
            gap_policy: None,
            max_healthy_latency: DEFAULT_MAX_HEALTHY_LATENCY,
            bootstrap: None,
            families: None,
            tls: ctlstore_tls::ClientTls::default(),
        }
    }
}

/// What a gap in the ledger's seqs means (docs/decisions/0011-ledger-gaps-are-final.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapPolicy {
    /// A gap may still fill (an append in flight, as ctlstore's own executive can leave):
    /// wait `gap_timeout` before skipping it. ctlstore's rule.
    Wait,
    /// A gap below a committed entry is permanent: skip it at once. True of every ledger our
    /// executives write (each append takes its seq under the ledger lock, so commit order is
    /// seq order), read from the primary or from a replica that applies in commit order.
    Final,
}

impl GapPolicy {
    /// `final` for our executive's feed, `wait` when polling a ctldb directly (which ctlstore's
    /// own executive may write).
    pub fn default_for(source: &SourceConfig) -> GapPolicy {
        match source {
            SourceConfig::Feed { .. } => GapPolicy::Final,
            _ => GapPolicy::Wait,
        }
    }

    /// `wait` or `final`, as the flag spells them.
    pub fn parse(text: &str) -> Option<GapPolicy> {
        match text {
            "wait" => Some(GapPolicy::Wait),
            "final" => Some(GapPolicy::Final),
            _ => None,
        }
    }
}

/// Why the reflector stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReflectorError {
    #[error(transparent)]
    Ldb(#[from] LdbError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("the LDB worker thread failed: {0}")]
    Worker(String),
    /// The LDB was replicated with other families than this reflector is told to follow: it
    /// would hold data it should not, or lack some it should.
    #[error(
        "{ldb} holds families {recorded}, but this reflector follows {configured}: remove the LDB (and its -wal, -shm) to replicate afresh"
    )]
    Families {
        ldb: String,
        recorded: String,
        configured: String,
    },
}

/// Follows the ledger until `shutdown` completes. Returns `Ok` on shutdown; an error only when
/// the LDB cannot be opened or the source cannot be set up, at startup. That includes
/// [`LdbError::Locked`]: another reflector holds this LDB, and no retry can fix that, so `run`
/// ends at once with the error naming the LDB and its lock file. A poisoned ledger halts
/// applying but not the process: the status reports it and `run` keeps waiting for shutdown,
/// so the host keeps its LDB and its health endpoint says what is wrong.
pub async fn run(
    config: Config,
    status: Arc<Status>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ReflectorError> {
    // The lock first: a second reflector on this LDB is refused before it restores anything,
    // so two starting at once cannot both rename a snapshot into place.
    let lock = ctlstore_ldb::LdbLock::acquire(&config.ldb_path)?;
    if config.families.is_some() && matches!(config.source, SourceConfig::Poll { .. }) {
        tracing::warn!(
            "--families with a ctldb polled directly: entries of other families are read from the ctldb and dropped here, so this host's ctldb credentials can read them; with ACLs, follow the executive's feed instead (docs/security.md)"
        );
    }
    let mut restored = false;
    if let Some((url, s3)) = &config.bootstrap
        && !config.ldb_path.exists()
    {
        let allowed = partial::allowed_scopes(&config).await;
        restored = bootstrap(&config, url, s3, &allowed).await;
    }
    let path = config.ldb_path.clone();
    let options = config.ldb.clone();
    let families = config.families.clone();
    let ldb = tokio::task::spawn_blocking(move || {
        let ldb = Ldb::open_locked(&path, options, lock)?;
        if restored {
            ldb.mark_bootstrapped()?;
        }
        partial::check_recorded_families(&ldb, families.as_ref())?;
        Ok::<_, ReflectorError>(ldb)
    })
    .await
    .map_err(|e| ReflectorError::Worker(e.to_string()))??;
    status.set_applied(ldb.seq(), ldb.last_update().ok().flatten());
    tracing::info!(ldb = %config.ldb_path.display(), seq = ldb.seq(), source = %config.source, "reflector starting");
    let ldb = Arc::new(Mutex::new(ldb));
    let mut source = Source::connect(&config.source, &config.tls, config.families.as_ref()).await?;
    tokio::pin!(shutdown);
    tokio::select! {
        _ = follow(&config, &status, &ldb, &mut source) => {
            // Halted on a refused entry: keep serving the LDB and reporting why until told to stop.
            (&mut shutdown).await;
        }
        _ = &mut shutdown => {}
    }
    tracing::info!(seq = status.applied_seq(), "reflector stopped");
    Ok(())
}

/// Restores the newest snapshot to the LDB (which does not exist). Store errors are retried (5
/// attempts, as ctlstore); a missing, corrupt or mismatched snapshot, or one holding families
/// outside `allowed`, is logged and the reflector replays the ledger instead. Either way the
/// LDB is a complete file or absent afterwards; `true` when it was restored.
async fn bootstrap(
    config: &Config,
    url: &str,
    s3: &ctlstore_snapshot::S3Options,
    allowed: &Scopes,
) -> bool {
    use ctlstore_snapshot::SnapshotError;
    let url = partial::snapshot_url(url, config.families.as_ref());
    let location = match ctlstore_snapshot::Location::parse(&url, s3) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "bootstrap URL unusable: replaying the ledger instead");
            return false;
        }
    };
    let staged = partial::staged_path(&config.ldb_path, ".bootstrap");
    for attempt in 1..=5 {
        match ctlstore_snapshot::restore(&location, &staged).await {
            Ok(r) => {
                if let Err(why) = partial::admit_snapshot(&staged, allowed, config.ldb.group) {
                    let _ = std::fs::remove_file(&staged);
                    metrics::counter!(metric::ERRORS, "kind" => "bootstrap").increment(1);
                    tracing::error!(url, reason = %why, "snapshot refused: replaying the ledger instead");
                    return false;
                }
                if let Err(e) = std::fs::rename(&staged, &config.ldb_path) {
                    let _ = std::fs::remove_file(&staged);
                    tracing::error!(error = %e, "install the snapshot: replaying the ledger instead");
                    return false;
                }
                tracing::info!(seq = r.seq, url, "bootstrapped from snapshot");
                return true;
            }
            Err(e @ (SnapshotError::Store(_) | SnapshotError::Io { .. })) if attempt < 5 => {
                tracing::warn!(error = %e, attempt, "snapshot download failed: retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                metrics::counter!(metric::ERRORS, "kind" => "bootstrap").increment(1);
                tracing::warn!(error = %e, "bootstrap refused: replaying the ledger instead");
                return false;
            }
        }
    }
    false
}

/// How often a reflector stuck below the pruning horizon tries again (a snapshot may appear,
/// or an operator may fix the bootstrap URL's store).
const BELOW_HORIZON_RETRY: Duration = Duration::from_secs(10);

/// Brings an LDB at `after`, below the pruning `horizon`, forward from the newest snapshot at
/// `-bootstrap-url`, or says why it cannot. `offered` is where the executive said the
/// snapshots are (for the message: the host's own URL is what it trusts).
async fn rebootstrap(
    config: &Config,
    status: &Arc<Status>,
    ldb: &Arc<Mutex<Ldb>>,
    after: i64,
    horizon: i64,
    offered: Option<&str>,
) -> Result<(), String> {
    let Some((url, s3)) = &config.bootstrap else {
        let hint = offered
            .map(|s| format!("; the executive's snapshots are at {s}"))
            .unwrap_or_default();
        return Err(format!(
            "pruned through seq {horizon}, this LDB is at {after}, and no -bootstrap-url is set{hint}"
        ));
    };
    let url = &partial::snapshot_url(url, config.families.as_ref());
    let location = ctlstore_snapshot::Location::parse(url, s3).map_err(|e| e.to_string())?;
    let staged = partial::staged_path(&config.ldb_path, ".rebootstrap");
    let _ = std::fs::remove_file(&staged);
    tracing::warn!(
        after,
        horizon,
        url,
        "below the ledger's pruning horizon: bootstrapping from the newest snapshot"
    );
    let restored = ctlstore_snapshot::restore(&location, &staged)
        .await
        .map_err(|e| format!("restore from {url}: {e}"))?;
    let allowed = partial::allowed_scopes(config).await;
    if let Err(why) = partial::admit_snapshot(&staged, &allowed, config.ldb.group) {
        let _ = std::fs::remove_file(&staged);
        return Err(format!("the snapshot at {url} was refused: {why}"));
    }
    if restored.seq < horizon || restored.seq <= after {
        let _ = std::fs::remove_file(&staged);
        return Err(format!(
            "the newest snapshot at {url} is at seq {}, not above the horizon {horizon}",
            restored.seq
        ));
    }
    let (handle, from) = (ldb.clone(), staged.clone());
    let replaced = tokio::task::spawn_blocking(move || {
        let mut l = handle
            .lock()
            .map_err(|_| "the LDB lock is poisoned".to_string())?;
        l.replace_contents(&from).map_err(|e| e.to_string())?;
        Ok::<_, String>((l.seq(), l.last_update().ok().flatten()))
    })
    .await
    .map_err(|e| format!("the LDB worker thread failed: {e}"));
    let _ = std::fs::remove_file(&staged);
    let (seq, last_update) = replaced??;
    status.set_batch_progress(None);
    status.set_applied(seq, last_update);
    metrics::gauge!(metric::SEQ).set(seq as f64);
    tracing::info!(
        seq,
        horizon,
        url,
        "bootstrapped from snapshot past the pruning horizon"
    );
    Ok(())
}

/// The apply loop. Returns only when applying has halted on a poisoned entry.
async fn follow(config: &Config, status: &Arc<Status>, ldb: &Arc<Mutex<Ldb>>, source: &mut Source) {
    let mut backoff = Backoff::new();
    let mut gap_since: Option<(i64, Instant)> = None;
    // How far filtered pages carried this host past entries not for it (partial replication):
    // ahead of the LDB's seq only while a batch is open or until `carry` records it.
    let mut carried = 0i64;
    loop {
        let after = status.applied_seq_including_batch().max(carried);
        let fetched = match source.fetch(after).await {
            Ok(f) => {
                backoff.reset();
                f
            }
            Err(SourceError::BelowHorizon {
                after,
                horizon,
                snapshot,
            }) => {
                metrics::counter!(metric::ERRORS, "kind" => "below_horizon").increment(1);
                match rebootstrap(config, status, ldb, after, horizon, snapshot.as_deref()).await {
                    Ok(()) => {
                        status.set_below_horizon(None);
                        status.set_source_error(None);
                        backoff.reset();
                    }
                    Err(why) => {
                        tracing::error!(after, horizon, reason = %why, "below the ledger's pruning horizon");
                        status.set_below_horizon(Some(why));
                        tokio::time::sleep(BELOW_HORIZON_RETRY).await;
                    }
                }
                continue;
            }
            Err(e) => {
                metrics::counter!(metric::ERRORS, "kind" => "source").increment(1);
                status.set_source_error(Some(e.to_string()));
                let delay = backoff.next();
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "ledger source");
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        status.set_source_error(None);
        if let Some(head) = fetched.head {
            status.set_head(head);
        }
        // Gaps are judged on what the source read, before this host's own filter: a page the
        // executive filtered (`through`) has none to judge (its gaps are entries for others).
        let (admitted, through): (&[LedgerEntry], Option<i64>) = match fetched.through {
            Some(through) => (&fetched.entries, Some(through)),
            None if fetched.entries.is_empty() => {
                status.mark_caught_up();
                continue;
            }
            None => match admit_gap(config, &fetched.entries, after, &mut gap_since) {
                Some((entries, skipped)) => {
                    status.add_skipped(skipped);
                    (entries, None)
                }
                None => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (entries, through) = source.narrow(admitted, through, after);
        let Some(through) = through else {
            if !apply_page(status, ldb, &entries, fetched.head, &mut backoff).await {
                carried = 0;
                if status.halted().is_some() {
                    return;
                }
            }
            continue;
        };
        // A filtered page: apply what is for this host, then record how far the page carried.
        if !entries.is_empty()
            && !apply_page(status, ldb, &entries, fetched.head, &mut backoff).await
        {
            carried = 0;
            if status.halted().is_some() {
                return;
            }
            continue;
        }
        carried = carried.max(through);
        carry(status, ldb, through).await;
        if entries.is_empty() || fetched.head.is_none_or(|h| through >= h) {
            status.mark_caught_up();
        }
    }
}

/// Applies `entries` and reports it in `status`. `false` when they were not all applied: the
/// LDB refused one (applying has halted: `status.halted().is_some()`) or could not apply them now (the
/// error is reported and this has waited out a backoff).
async fn apply_page(
    status: &Arc<Status>,
    ldb: &Arc<Mutex<Ldb>>,
    entries: &[LedgerEntry],
    head: Option<i64>,
    backoff: &mut Backoff,
) -> bool {
    match apply(ldb, entries).await {
        Ok((committed, in_batch_seq, last_update)) => {
            status.set_apply_error(None);
            status.set_applied(committed, last_update);
            status.set_batch_progress(in_batch_seq);
            metrics::counter!(metric::STATEMENTS).increment(entries.len() as u64);
            metrics::gauge!(metric::SEQ).set(committed as f64);
            if head.is_none_or(|h| committed >= h) {
                status.mark_caught_up();
            }
            true
        }
        Err(e) if e.is_poison() => {
            // Entries before the refused one committed: report where the LDB really is.
            if let Ok(l) = ldb.lock() {
                status.set_applied(l.seq(), l.last_update().ok().flatten());
            }
            status.set_batch_progress(None);
            metrics::counter!(metric::ERRORS, "kind" => "halted").increment(1);
            tracing::error!(error = %e, "ledger entry refused: applying halted; the LDB keeps serving reads");
            status.halt(e.to_string());
            false
        }
        Err(e) => {
            metrics::counter!(metric::ERRORS, "kind" => "apply").increment(1);
            status.set_apply_error(Some(e.to_string()));
            let delay = backoff.next();
            tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "apply to the LDB");
            if let Ok(l) = ldb.lock() {
                status.set_applied(l.seq(), l.last_update().ok().flatten());
            }
            status.set_batch_progress(None);
            tokio::time::sleep(delay).await;
            false
        }
    }
}

/// Records in the LDB that a filtered page carried this host to `through` (see
/// [`Ldb::carry_to`]); a failure is only logged: the next page carries again.
async fn carry(status: &Arc<Status>, ldb: &Arc<Mutex<Ldb>>, through: i64) {
    let ldb = ldb.clone();
    let carried = tokio::task::spawn_blocking(move || {
        let mut l = ldb
            .lock()
            .map_err(|_| "the LDB lock is poisoned".to_string())?;
        l.carry_to(through).map_err(|e| e.to_string())?;
        Ok::<_, String>((l.seq(), l.last_update().ok().flatten()))
    })
    .await
    .map_err(|e| e.to_string());
    match carried {
        Ok(Ok((seq, last_update))) => {
            status.set_applied(seq, last_update);
            metrics::gauge!(metric::SEQ).set(seq as f64);
        }
        Ok(Err(e)) | Err(e) => {
            tracing::warn!(error = %e, through, "record the filtered feed's position")
        }
    }
}

/// Decides what part of a fetched page to apply when its first entry does not follow `after`:
/// `None` to wait and re-read, or the entries to apply. Gaps inside a page are handled on the
/// next round (the page is cut before them).
fn admit_gap<'a>(
    config: &Config,
    entries: &'a [LedgerEntry],
    after: i64,
    gap_since: &mut Option<(i64, Instant)>,
) -> Option<(&'a [LedgerEntry], u64)> {
    let first = entries[0].seq;
    let policy = config
        .gap_policy
        .unwrap_or_else(|| GapPolicy::default_for(&config.source));
    if policy == GapPolicy::Final {
        // Every entry of the page is committed, so no seq below one of them can still appear.
        let mut skipped = if after == 0 {
            0
        } else {
            (first - after - 1) as u64
        };
        skipped += entries
            .windows(2)
            .map(|w| (w[1].seq - w[0].seq - 1) as u64)
            .sum::<u64>();
        if skipped > 0 {
            metrics::counter!(metric::SKIPPED_SEQS).increment(skipped);
        }
        *gap_since = None;
        return Some((entries, skipped));
    }
    let mut skipped = 0;
    // A fresh LDB (after == 0) starts wherever the ledger starts.
    if first != after + 1 && after != 0 {
        let since = match gap_since {
            Some((at, t)) if *at == after => *t,
            _ => {
                *gap_since = Some((after, Instant::now()));
                Instant::now()
            }
        };
        if since.elapsed() < config.gap_timeout {
            return None;
        }
        skipped = (first - after - 1) as u64;
        metrics::counter!(metric::SKIPPED_SEQS).increment(skipped);
        tracing::warn!(
            after,
            next = first,
            skipped,
            "ledger gap outlived its timeout: treating the missing seqs as skipped"
        );
    }
    *gap_since = None;
    // Cut at the first gap inside the page.
    let contiguous = entries
        .windows(2)
        .position(|w| w[1].seq != w[0].seq + 1)
        .map_or(entries.len(), |i| i + 1);
    Some((&entries[..contiguous], skipped))
}

/// Applies on a blocking thread. Returns (committed seq, seq inside an open batch, last update).
async fn apply(
    ldb: &Arc<Mutex<Ldb>>,
    entries: &[LedgerEntry],
) -> Result<(i64, Option<i64>, Option<String>), LdbError> {
    let ldb = ldb.clone();
    let entries = entries.to_vec();
    let started = Instant::now();
    let result = tokio::task::spawn_blocking(move || {
        let mut l = ldb.lock().map_err(|_| LdbError::Invariant {
            seq: 0,
            what: "LDB lock poisoned",
        })?;
        let applied = l.apply(&entries)?;
        let batch = l.in_batch().then(|| l.applied_seq());
        Ok((applied.committed_seq, batch, l.last_update().ok().flatten()))
    })
    .await
    .unwrap_or_else(|e| {
        Err(LdbError::Invariant {
            seq: 0,
            what: if e.is_panic() {
                "apply panicked"
            } else {
                "apply cancelled"
            },
        })
    });
    metrics::histogram!(metric::APPLY_SECONDS).record(started.elapsed().as_secs_f64());
    result
}

/// Capped exponential backoff with jitter: 100 ms, 200 ms, ... 10 s.
struct Backoff {
    attempt: u32,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff { attempt: 0 }
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }

    fn next(&mut self) -> Duration {
        let base = 100u64.saturating_mul(1 << self.attempt.min(7)).min(10_000);
        self.attempt += 1;
        Duration::from_millis(base / 2 + source::jitter_millis(base / 2))
    }
}
