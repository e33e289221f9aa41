//! Applying ledger entries to the LDB: batch-atomic and exactly once.
//!
//! A `--- BEGIN` .. `--- COMMIT` batch is one SQLite transaction (it may span several calls to
//! [`Ldb::apply`]); a statement outside markers is its own transaction. `_ldb_seq` and
//! `_ldb_last_update` are written in the transaction of the entry they describe, so a crash at
//! any moment leaves the file at a batch boundary with the seq that matches it.

use ctlstore_ldb_layout as layout;
use ctlstore_ledger::{LedgerEntry, Statement};

use crate::{Ldb, LdbError};

/// What one call to [`Ldb::apply`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Entries applied (markers included), committed or inside the open batch.
    pub entries: usize,
    /// The last committed seq.
    pub committed_seq: i64,
}

impl Ldb {
    // PERFORMANCE-CRITICAL PATH: catch-up applies every ledger entry through here.
    /// Applies `entries` (which must follow [`Ldb::applied_seq`] in seq order; gaps are allowed)
    /// and returns how far it got. On error nothing of the open batch remains.
    pub fn apply(&mut self, entries: &[LedgerEntry]) -> Result<Applied, LdbError> {
        let mut applied = 0;
        for entry in entries {
            if let Err(e) = self.apply_one(entry) {
                self.abandon_batch();
                return Err(e);
            }
            applied += 1;
        }
        self.checkpoint_if_large();
        Ok(Applied {
            entries: applied,
            committed_seq: self.committed,
        })
    }

    fn apply_one(&mut self, entry: &LedgerEntry) -> Result<(), LdbError> {
        let after = self.applied_seq();
        if entry.seq <= after {
            return Err(LdbError::Replay {
                seq: entry.seq,
                applied: after,
            });
        }
        match entry.kind() {
            Statement::Begin => {
                if self.in_batch() {
                    return Err(LdbError::Invariant {
                        seq: entry.seq,
                        what: "--- BEGIN inside a batch",
                    });
                }
                self.conn.execute_batch("BEGIN")?;
                self.track(entry)?;
                self.open_batch = Some(entry.seq);
            }
            Statement::Commit => {
                if !self.in_batch() {
                    return Err(LdbError::Invariant {
                        seq: entry.seq,
                        what: "--- COMMIT outside a batch",
                    });
                }
                self.track(entry)?;
                if let Some(changes) = self.changes.as_mut() {
                    changes.write_feed(&self.conn, entry.seq)?;
                }
                // Durable point of a batch: its rows, _ldb_seq and _ldb_last_update together.
                self.conn.execute_batch("COMMIT")?;
                self.open_batch = None;
                self.committed = entry.seq;
            }
            Statement::Sql(sql) => {
                let own_transaction = !self.in_batch();
                if own_transaction {
                    self.conn.execute_batch("BEGIN")?;
                }
                self.track(entry)?;
                if let Some(changes) = self.changes.as_mut()
                    && is_ddl(sql)
                {
                    changes.drop_triggers(&self.conn)?;
                }
                self.run_ledger_sql(entry.seq, sql)?;
                // ctlstore writes the changelog after each ledger row, even inside a batch.
                if let Some(changes) = self.changes.as_mut() {
                    changes.flush(&self.conn);
                    if is_ddl(sql) {
                        changes.rebuild_triggers(&self.conn)?;
                    }
                }
                if own_transaction {
                    if let Some(changes) = self.changes.as_mut() {
                        changes.write_feed(&self.conn, entry.seq)?;
                    }
                    self.conn.execute_batch("COMMIT")?;
                    self.committed = entry.seq;
                } else {
                    self.open_batch = Some(entry.seq);
                }
            }
        }
        Ok(())
    }

    /// Records the entry's seq and leader timestamp, in the entry's transaction.
    fn track(&self, entry: &LedgerEntry) -> Result<(), LdbError> {
        if !layout::advance_seq(&self.conn, entry.seq)? {
            return Err(LdbError::Replay {
                seq: entry.seq,
                applied: layout::read_seq(&self.conn)?,
            });
        }
        // Bounded by this host's clock and the previous value: skew between the leader and
        // this host, or between executives, never shows as negative or jumping staleness.
        let previous = layout::read_last_update(&self.conn)?;
        let at = layout::bounded_timestamp(
            &entry.leader_ts,
            previous.as_deref(),
            std::time::SystemTime::now(),
        );
        layout::set_last_update(&self.conn, &at)?;
        Ok(())
    }

    fn run_ledger_sql(&self, seq: i64, sql: &str) -> Result<(), LdbError> {
        let (result, refusal) = self.sandbox.run(|| self.conn.execute_batch(sql));
        match (result, refusal) {
            (Ok(()), _) => Ok(()),
            (Err(_), Some(reason)) => Err(LdbError::Refused {
                seq,
                statement: sql.to_string(),
                reason,
            }),
            (Err(error), None) => Err(LdbError::Statement {
                seq,
                statement: sql.to_string(),
                error,
            }),
        }
    }

    /// Rolls back the open batch, if any, and what the change triggers captured for it.
    pub(crate) fn abandon_batch(&mut self) {
        if let Some(changes) = &mut self.changes {
            changes.discard_batch(&self.conn);
        }
        if !self.conn.is_autocommit()
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "roll back the open LDB transaction");
        }
        self.open_batch = None;
    }
}

fn is_ddl(sql: &str) -> bool {
    let head = sql.trim_start().get(..6).unwrap_or("").to_ascii_uppercase();
    matches!(head.as_str(), "CREATE" | "ALTER " | "DROP T" | "DROP I")
}
