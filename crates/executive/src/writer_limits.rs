//! Per-writer rate-limit overrides, cached in memory and refreshed every minute (ctlstore's
//! schedule) and whenever this executive changes one. Until the first load succeeds, the
//! mutation transaction reads the override itself, so a limit is never skipped.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ctlstore_ctldb::{Ctldb, WriterOverride};

const REFRESH: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(crate) struct WriterOverrides {
    loaded: RwLock<Option<HashMap<String, i64>>>,
}

impl WriterOverrides {
    pub fn get(&self, writer: &str) -> WriterOverride {
        match self.loaded.read().ok().as_deref() {
            Some(Some(map)) => WriterOverride::Cached(map.get(writer).copied()),
            _ => WriterOverride::ReadInTransaction,
        }
    }

    pub async fn refresh(&self, ctldb: &Ctldb) {
        match ctldb.writer_limits().await {
            Ok(limits) => {
                if let Ok(mut l) = self.loaded.write() {
                    *l = Some(limits.into_iter().collect());
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "load writer limits");
                if let Ok(mut l) = self.loaded.write() {
                    *l = None;
                }
            }
        }
    }

    pub async fn refresh_forever(&self, ctldb: &Ctldb) {
        let mut tick = tokio::time::interval(REFRESH);
        loop {
            tick.tick().await;
            self.refresh(ctldb).await;
        }
    }
}

/// Seconds since the Unix epoch: the clock rate-limit buckets are cut from.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
