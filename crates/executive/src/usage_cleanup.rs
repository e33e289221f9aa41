//! Writer usage cleanup: deletes the per-bucket row counters of the writer rate limit once they
//! are a day old, every hour (ctlstore's schedule). Buckets that old can no longer be counted
//! against, so this only keeps `writer_usage` from growing forever.

use std::time::Duration;

use crate::SharedState;
use crate::writer_limits::unix_now;

const EVERY: Duration = Duration::from_secs(3600);
const KEEP_SECONDS: i64 = 86_400;

/// Runs until its task is aborted.
pub(crate) async fn delete_old_usage_forever(state: &SharedState) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        let period = state.config.writer_limit_period.as_secs().max(1) as i64;
        let day_ago = unix_now() - KEEP_SECONDS;
        // The start of the bucket a day ago: that bucket and later ones are kept.
        let before = day_ago - day_ago.rem_euclid(period);
        match state.ctldb.delete_writer_usage_before(before).await {
            Ok(n) => tracing::debug!(deleted = n, "writer usage collected"),
            Err(e) => tracing::warn!(error = %e, "collect writer usage"),
        }
    }
}
