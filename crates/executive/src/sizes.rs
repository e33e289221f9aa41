//! Table sizes against their limits. Measuring a table costs a catalog query, so sizes are
//! refreshed on a timer (and right after a limit changes) and checked from memory on the write
//! path, as ctlstore does. A table over its maximum refuses upserts with 507; deletes and clears
//! still work, so an oversized table can be shrunk (ctlstore refuses those too).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use ctlstore_ctldb::{Ctldb, CtldbError};

pub(crate) struct TableSizer {
    default_max: i64,
    default_warn: i64,
    snapshot: RwLock<Snapshot>,
}

#[derive(Default)]
struct Snapshot {
    sizes: HashMap<String, i64>,
    limits: HashMap<String, (i64, i64)>,
}

/// A table over its maximum size.
pub(crate) struct Oversized {
    pub table: String,
    pub size: i64,
    pub max: i64,
}

impl TableSizer {
    pub fn new(default_max: i64, default_warn: i64) -> TableSizer {
        TableSizer {
            default_max,
            default_warn,
            snapshot: RwLock::new(Snapshot::default()),
        }
    }

    /// Re-measures every table and re-reads the limits.
    pub async fn refresh(&self, ctldb: &Ctldb) -> Result<(), CtldbError> {
        let sizes = ctldb.table_sizes().await?;
        let limits = ctldb
            .table_limits()
            .await?
            .into_iter()
            .map(|l| {
                (
                    format!("{}___{}", l.family, l.table),
                    (l.warn_size_bytes, l.max_size_bytes),
                )
            })
            .collect();
        for (table, size) in &sizes {
            metrics::gauge!(crate::metrics::TABLE_SIZE, "table" => table.clone()).set(*size as f64);
        }
        if let Ok(mut s) = self.snapshot.write() {
            *s = Snapshot { sizes, limits };
        }
        Ok(())
    }

    pub async fn refresh_forever(&self, ctldb: &Ctldb, interval: Duration) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.refresh(ctldb).await {
                tracing::warn!(error = %e, "measure table sizes");
            }
        }
    }

    /// `Err` when `table` (`family___table`) is over its maximum; logs when over its warning.
    pub fn check(&self, table: &str) -> Result<(), Oversized> {
        let Ok(s) = self.snapshot.read() else {
            return Ok(());
        };
        let Some(&size) = s.sizes.get(table) else {
            return Ok(());
        };
        let (warn, max) = s
            .limits
            .get(table)
            .copied()
            .unwrap_or((self.default_warn, self.default_max));
        if max > 0 && size > max {
            return Err(Oversized {
                table: table.to_string(),
                size,
                max,
            });
        }
        if warn > 0 && size > warn {
            tracing::warn!(table, size, warn, "table above its warning size");
        }
        Ok(())
    }

    /// The last measured size of `table` (`family___table`), `None` before its first
    /// measurement, and its effective `(max, warn)` limits (its own, or the defaults).
    pub fn measurement(&self, table: &str) -> (Option<i64>, i64, i64) {
        let Ok(s) = self.snapshot.read() else {
            return (None, self.default_max, self.default_warn);
        };
        let (warn, max) = s
            .limits
            .get(table)
            .copied()
            .unwrap_or((self.default_warn, self.default_max));
        (s.sizes.get(table).copied(), max, warn)
    }

    pub fn defaults(&self) -> (i64, i64) {
        (self.default_max, self.default_warn)
    }
}
