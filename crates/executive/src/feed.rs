//! The ledger head, as a value that changes: every commit made through this executive publishes
//! its seq at once, and a poller notices commits made by other executives on the same ctldb.
//!
//! The newest entries are kept in memory ([`RecentEntries`]): one task reads each new commit
//! from the ctldb once and publishes how far the window reaches. Long-polls and streams wait
//! on that, so a waiting reflector is answered the moment an entry commits, from memory: with
//! 10,000 followers a write costs one ctldb read, not 10,000. A waiter is a parked task with a
//! watch receiver: thousands cost next to nothing. Followers further behind than the window
//! read the ctldb as before.

use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use ctlstore_ctldb::Ctldb;
use ctlstore_ledger::{LedgerEntry, LedgerWindow};
use tokio::sync::watch;

/// Entries kept in memory: a few seconds of a heavy write load, a few MB.
const WINDOW_ENTRIES: usize = 10_000;

/// How often the poller re-reads the pruning horizon (other executives may prune).
const HORIZON_REFRESH: Duration = Duration::from_secs(1);

pub(crate) struct LedgerFeed {
    head: watch::Sender<i64>,
    /// The seq through which the ledger is known to be pruned (retention.rs): a follower
    /// below it is answered 410.
    horizon: AtomicI64,
    pub recent: RecentEntries,
}

/// The newest ledger entries, shared by every follower of this executive.
pub(crate) struct RecentEntries {
    window: RwLock<LedgerWindow>,
    /// `through`, for waiters: changes when new entries are in the window.
    filled: watch::Sender<i64>,
}

impl RecentEntries {
    fn new() -> RecentEntries {
        RecentEntries {
            // Serves nothing until the filler has read the head.
            window: RwLock::new(LedgerWindow::starting_after(i64::MAX, WINDOW_ENTRIES)),
            filled: watch::channel(0).0,
        }
    }

    /// Changes whenever the window has new entries.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.filled.subscribe()
    }

    /// Up to `limit` entries after `after`, when the window covers it (`None`: read the
    /// ctldb). An empty page means there is nothing newer yet.
    pub fn after(&self, after: i64, limit: usize) -> Option<Vec<LedgerEntry>> {
        self.window.read().ok()?.page(after, limit)
    }

    /// Keeps the window at the ledger's head forever: reads what commits after it (woken by
    /// `head`), once, for every follower.
    pub async fn fill_forever(&self, ctldb: &Ctldb, mut head: watch::Receiver<i64>) {
        let mut through = loop {
            match ctldb.max_seq().await {
                Ok(seq) => break seq,
                Err(e) => {
                    tracing::warn!(error = %e, "ledger window: read the head");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        if let Ok(mut w) = self.window.write() {
            w.restart_after(through);
        }
        self.filled.send_replace(through);
        loop {
            head.borrow_and_update();
            match ctldb.ledger_after(through, WINDOW_ENTRIES as i64).await {
                Ok(entries) if !entries.is_empty() => {
                    through = entries.last().map_or(through, |e| e.seq);
                    if let Ok(mut w) = self.window.write() {
                        w.push(entries);
                    }
                    self.filled.send_replace(through);
                    // A full read may have left more behind it.
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "ledger window: read new entries");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
            if *head.borrow() > through {
                // Published but not read yet (another connection's view lags): look again soon.
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            if head.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

impl LedgerFeed {
    pub fn new() -> LedgerFeed {
        LedgerFeed {
            head: watch::channel(0).0,
            horizon: AtomicI64::new(0),
            recent: RecentEntries::new(),
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
