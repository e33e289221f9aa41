//! The ledger head, as a value that changes: every commit made through this executive publishes
//! its seq at once, and a poller notices commits made by other executives on the same ctldb.
//! Long-polls and streams wait on it, so a waiting reflector is answered the moment an entry
//! commits. A waiter is a parked task with a watch receiver: thousands cost next to nothing.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use ctlstore_ctldb::Ctldb;
use tokio::sync::watch;

/// How often the poller re-reads the pruning horizon (other executives may prune).
const HORIZON_REFRESH: Duration = Duration::from_secs(1);

pub(crate) struct LedgerFeed {
    head: watch::Sender<i64>,
    /// The seq through which the ledger is known to be pruned (retention.rs): a follower
    /// below it is answered 410.
    horizon: AtomicI64,
}

impl LedgerFeed {
    pub fn new() -> LedgerFeed {
        LedgerFeed {
            head: watch::channel(0).0,
            horizon: AtomicI64::new(0),
        }
    }

    /// Records a pruning horizon (only ever moves forward).
    pub fn publish_horizon(&self, seq: i64) {
        self.horizon.fetch_max(seq, Ordering::Relaxed);
    }

    pub fn horizon(&self) -> i64 {
        self.horizon.load(Ordering::Relaxed)
    }

    /// Publishes a committed seq (only ever moves forward).
    pub fn publish(&self, seq: i64) {
        self.head.send_if_modified(|head| {
            if seq > *head {
                *head = seq;
                metrics::gauge!(crate::metrics::LEDGER_SEQ).set(seq as f64);
                true
            } else {
                false
            }
        });
    }

    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }

    pub fn head(&self) -> i64 {
        *self.head.borrow()
    }

    /// Polls the ctldb's ledger head forever, for commits this process did not make.
    pub async fn follow_ctldb(&self, ctldb: &Ctldb, interval: Duration) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Logged when it starts and stops failing, not on every tick of an outage.
        let mut failing = false;
        let mut horizon_read: Option<Instant> = None;
        loop {
            tick.tick().await;
            if horizon_read.is_none_or(|t| t.elapsed() >= HORIZON_REFRESH) {
                if let Ok(h) = ctldb.ledger_horizon().await {
                    self.publish_horizon(h);
                }
                horizon_read = Some(Instant::now());
            }
            match ctldb.max_seq().await {
                Ok(seq) => {
                    if std::mem::take(&mut failing) {
                        tracing::info!(seq, "ledger head readable again");
                    }
                    self.publish(seq);
                }
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "poll ledger head");
                }
                Err(_) => {}
            }
        }
    }
}
