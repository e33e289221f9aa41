//! Ledger retention (`--ledger-retention`, off by default as in ctlstore): entries below a
//! *horizon* are deleted, in small batches, by a background task of every executive and by
//! `ctlstore ledger prune`.
//!
//! The horizon is the lower of two bounds, and never moves back:
//! - what the operator asked to keep: the newest N entries, or the entries of the last DURATION;
//! - the oldest snapshot still retained at the snapshot location, minus a safety margin (so
//!   every host can bootstrap from any retained snapshot and find the ledger after it). With no
//!   versioned snapshot there, nothing is pruned.
//!
//! A follower below the horizon gets 410 from the feed, with the snapshot location
//! (`routes/feed.rs`), and bootstraps.

use std::time::Duration;

use ctlstore_ctldb::{Ctldb, PruneReport};
use ctlstore_snapshot::{Location, S3Options};

/// Entries kept below the oldest retained snapshot's seq by default.
pub const DEFAULT_MARGIN: i64 = 10_000;
/// How often the executive prunes by default.
pub const DEFAULT_PRUNE_INTERVAL: Duration = Duration::from_secs(60);
/// Seqs deleted per transaction: a few milliseconds of work, so writers barely wait.
pub const PRUNE_BATCH: i64 = 2_000;

/// How much of the ledger to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Entries committed within this long.
    Age(Duration),
    /// The newest this many entries (by seq).
    Entries(i64),
}

impl Keep {
    /// `DURATION` (Go form, `168h`) or `ENTRIES` (a whole number, `1000000`).
    pub fn parse(text: &str) -> Result<Keep, String> {
        let text = text.trim();
        if let Ok(n) = text.parse::<i64>() {
            return if n > 0 {
                Ok(Keep::Entries(n))
            } else {
                Err(format!("must keep at least one entry, got {n}"))
            };
        }
        match ctlstore_duration::parse(text) {
            Ok(d) if !d.is_zero() => Ok(Keep::Age(d)),
            Ok(_) => Err("must be longer than zero".into()),
            Err(e) => Err(format!(
                "'{text}' is neither a duration (168h) nor a number of entries: {e}"
            )),
        }
    }
}

impl std::fmt::Display for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Keep::Age(d) => write!(f, "{}", ctlstore_duration::format(*d)),
            Keep::Entries(n) => write!(f, "{n} entries"),
        }
    }
}

/// Retention settings.
#[derive(Debug, Clone)]
pub struct Retention {
    pub keep: Keep,
    /// Where the supervisor publishes snapshots (`--snapshot-url`): the horizon stays below the
    /// oldest version retained there.
    pub snapshot_url: String,
    pub s3: S3Options,
    /// Entries kept below the oldest snapshot's seq.
    pub margin: i64,
    /// How often the executive prunes.
    pub interval: Duration,
}

impl Retention {
    pub fn new(keep: Keep, snapshot_url: impl Into<String>) -> Retention {
        Retention {
            keep,
            snapshot_url: snapshot_url.into(),
            s3: S3Options::default(),
            margin: DEFAULT_MARGIN,
            interval: DEFAULT_PRUNE_INTERVAL,
        }
    }

    pub fn location(&self) -> Result<Location, RetentionError> {
        Location::parse(&self.snapshot_url, &self.s3).map_err(RetentionError::Snapshot)
    }
}

/// Why retention could not decide or prune.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("ctldb: {0}")]
    Ctldb(#[from] ctlstore_ctldb::CtldbError),
    #[error("snapshot location: {0}")]
    Snapshot(ctlstore_snapshot::SnapshotError),
}

/// Where the horizon goes now, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    /// The ledger head.
    pub head: i64,
    /// The horizon already recorded.
    pub current: i64,
    /// The bound from `--ledger-retention` alone.
    pub keep_bound: i64,
    /// The oldest snapshot retained, if the location has one.
    pub oldest_snapshot: Option<i64>,
    /// The new horizon: every entry at or below it goes.
    pub through: i64,
}

/// Decides the horizon (see the module docs).
pub async fn plan(ctldb: &Ctldb, retention: &Retention) -> Result<Plan, RetentionError> {
    let head = ctldb.max_seq().await?;
    let current = ctldb.ledger_horizon().await?;
    let keep_bound = match retention.keep {
        Keep::Entries(n) => head - n,
        Keep::Age(age) => ctldb.newest_seq_older_than(age).await?.unwrap_or(0),
    };
    let location = retention.location()?;
    let oldest_snapshot = location
        .manifest_seqs()
        .await
        .map_err(RetentionError::Snapshot)?
        .into_iter()
        .min();
    let snapshot_bound = oldest_snapshot.map_or(0, |s| s - retention.margin);
    let through = keep_bound.min(snapshot_bound).max(current).max(0);
    Ok(Plan {
        head,
        current,
        keep_bound,
        oldest_snapshot,
        through,
    })
}

/// Plans and prunes once. `progress` hears (entries deleted, seq reached) after each batch.
pub async fn prune_once(
    ctldb: &Ctldb,
    retention: &Retention,
    progress: impl FnMut(i64, i64) + Send,
) -> Result<(Plan, PruneReport), RetentionError> {
    let plan = plan(ctldb, retention).await?;
    let report = ctldb
        .prune_ledger(plan.through, PRUNE_BATCH, progress)
        .await?;
    Ok((plan, report))
}

/// The executive's pruning task: prunes every `interval`, forever; errors are logged (an
/// unreachable snapshot store only delays pruning).
pub(crate) async fn prune_forever(state: std::sync::Arc<crate::state::Inner>) {
    let Some(retention) = state.config.retention.clone() else {
        return std::future::pending().await;
    };
    let mut tick = tokio::time::interval(retention.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        match prune_once(&state.ctldb, &retention, |_, _| {}).await {
            Ok((plan, report)) => {
                state.feed.publish_horizon(report.through);
                metrics::gauge!(crate::metrics::LEDGER_HORIZON).set(report.through as f64);
                if report.entries > 0 {
                    metrics::counter!(crate::metrics::LEDGER_PRUNED)
                        .increment(report.entries as u64);
                    tracing::info!(
                        entries = report.entries,
                        through = report.through,
                        head = plan.head,
                        oldest_snapshot = plan.oldest_snapshot,
                        ms = started.elapsed().as_millis() as u64,
                        "ledger pruned"
                    );
                } else if plan.oldest_snapshot.is_none() {
                    tracing::debug!(url = %retention.snapshot_url, "no snapshot retained yet: nothing pruned");
                }
            }
            Err(e) => tracing::warn!(error = %e, "ledger retention"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_is_a_duration_or_a_count() {
        assert_eq!(Keep::parse("1000"), Ok(Keep::Entries(1000)));
        assert_eq!(
            Keep::parse("168h"),
            Ok(Keep::Age(Duration::from_secs(168 * 3600)))
        );
        assert!(Keep::parse("0").is_err());
        assert!(Keep::parse("-5").is_err());
        assert!(Keep::parse("0s").is_err());
        let e = Keep::parse("lots").expect_err("not a setting");
        assert!(e.contains("neither a duration"), "{e}");
    }
}
