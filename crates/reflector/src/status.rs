//! What the reflector is doing, shared with its health endpoint.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

#[derive(Default)]
struct State {
    applied: i64,
    batch: Option<i64>,
    last_update: Option<String>,
    head: Option<i64>,
    caught_up_at: Option<Instant>,
    source_error: Option<String>,
    source_failures: u64,
    skipped_seqs: u64,
    apply_error: Option<String>,
    apply_failures: u64,
    halted: Option<String>,
    below_horizon: Option<String>,
}

/// The reflector's status. Cheap to update from the apply loop.
pub struct Status {
    state: Mutex<State>,
    max_healthy_latency: Duration,
}

/// A point-in-time report, as `/status` serves it.
#[derive(Debug, Serialize)]
pub struct Report {
    pub healthy: bool,
    pub reason: String,
    pub seq: i64,
    pub head: Option<i64>,
    pub last_update: Option<String>,
    pub ledger_latency_seconds: Option<f64>,
    pub source_error: Option<String>,
    /// Failed fetches since start (each followed by a backoff sleep).
    pub source_failures: u64,
    /// Seqs given up on as gaps since start.
    pub skipped_seqs: u64,
    /// Why the last apply failed, while it keeps failing (a full disk, an I/O error): retried
    /// with backoff, unhealthy until an apply succeeds.
    pub apply_error: Option<String>,
    /// Failed applies since start.
    pub apply_failures: u64,
    pub halted: Option<String>,
}

impl Status {
    pub fn new(max_healthy_latency: Duration) -> Status {
        Status {
            state: Mutex::new(State::default()),
            max_healthy_latency,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        match self.state.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    pub fn applied_seq(&self) -> i64 {
        self.with(|s| s.applied)
    }

    /// Where to fetch from: past the entries of an open batch.
    pub fn applied_seq_including_batch(&self) -> i64 {
        self.with(|s| s.batch.unwrap_or(s.applied))
    }

    pub(crate) fn set_applied(&self, seq: i64, last_update: Option<String>) {
        self.with(|s| {
            s.applied = seq;
            if last_update.is_some() {
                s.last_update = last_update;
            }
        });
        if let Some(latency) = self.ledger_latency() {
            metrics::gauge!(crate::metric::LEDGER_LATENCY_SECONDS).set(latency.as_secs_f64());
        }
    }

    pub(crate) fn set_batch_progress(&self, seq: Option<i64>) {
        self.with(|s| s.batch = seq);
    }

    pub(crate) fn set_head(&self, head: i64) {
        self.with(|s| s.head = Some(head));
    }

    pub(crate) fn mark_caught_up(&self) {
        self.with(|s| s.caught_up_at = Some(Instant::now()));
    }

    pub(crate) fn set_source_error(&self, error: Option<String>) {
        self.with(|s| {
            if error.is_some() {
                s.source_failures += 1;
            }
            s.source_error = error;
        });
    }

    /// An apply that failed for a reason outside the ledger (`Some`), or one that succeeded.
    pub(crate) fn set_apply_error(&self, error: Option<String>) {
        self.with(|s| {
            if error.is_some() {
                s.apply_failures += 1;
            }
            s.apply_error = error;
        });
    }

    pub(crate) fn add_skipped(&self, n: u64) {
        self.with(|s| s.skipped_seqs += n);
    }

    pub(crate) fn halt(&self, why: String) {
        self.with(|s| s.halted = Some(why));
    }

    /// This host fell below the ledger's pruning horizon and could not bootstrap (`None` once
    /// it moves again).
    pub(crate) fn set_below_horizon(&self, why: Option<String>) {
        self.with(|s| s.below_horizon = why);
    }

    pub fn halted(&self) -> Option<String> {
        self.with(|s| s.halted.clone())
    }

    /// Now minus the leader timestamp of the last applied entry.
    pub fn ledger_latency(&self) -> Option<Duration> {
        let ts = self.with(|s| s.last_update.clone())?;
        let at = ctlstore_ldb::parse_timestamp(&ts)?;
        Some(SystemTime::now().duration_since(at).unwrap_or_default())
    }

    /// Healthy when applying has not halted and the host is current: caught up with the source
    /// recently, or its last applied entry is fresh enough.
    pub fn report(&self) -> Report {
        let latency = self.ledger_latency();
        let max = self.max_healthy_latency;
        self.with(|s| {
            let caught_up = s.caught_up_at.is_some_and(|t| t.elapsed() <= max);
            let fresh = latency.is_some_and(|l| l <= max);
            let (healthy, reason) = match (&s.halted, &s.apply_error, caught_up, fresh) {
                (Some(why), _, _, _) => (false, format!("applying halted: {why}")),
                (None, _, _, _) if s.below_horizon.is_some() => (
                    false,
                    format!(
                        "below the ledger's pruning horizon: {}",
                        s.below_horizon.as_deref().unwrap_or_default()
                    ),
                ),
                (None, Some(why), _, _) => (false, format!("applying fails, retrying: {why}")),
                (None, None, true, _) => (true, "caught up".to_string()),
                (None, None, false, true) => (true, "ledger latency within bound".to_string()),
                (None, None, false, false) => (
                    false,
                    format!("not caught up and ledger latency above {max:?}"),
                ),
            };
            Report {
                healthy,
                reason,
                seq: s.applied,
                head: s.head,
                last_update: s.last_update.clone(),
                ledger_latency_seconds: latency.map(|l| l.as_secs_f64()),
                source_error: s.source_error.clone(),
                source_failures: s.source_failures,
                skipped_seqs: s.skipped_seqs,
                apply_error: s.apply_error.clone(),
                apply_failures: s.apply_failures,
                halted: s.halted.clone(),
            }
        })
    }
}
