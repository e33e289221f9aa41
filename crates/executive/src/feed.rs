//! The ledger head, as a value that changes: every commit made through this executive publishes
//! its seq at once, and a poller notices commits made by other executives on the same ctldb.
//! Long-polls and streams wait on it, so a waiting reflector is answered the moment an entry
//! commits. A waiter is a parked task with a watch receiver: thousands cost next to nothing.

use std::time::Duration;

use ctlstore_ctldb::Ctldb;
use tokio::sync::watch;

pub(crate) struct LedgerFeed {
    head: watch::Sender<i64>,
}

impl LedgerFeed {
    pub fn new() -> LedgerFeed {
        LedgerFeed {
            head: watch::channel(0).0,
        }
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
        loop {
            tick.tick().await;
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
