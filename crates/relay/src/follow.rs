//! Following upstream: the window is loaded before the relay serves, then kept at upstream's
//! head by one long-poll at a time.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ctlstore_ledger::LedgerWindow;
use ctlstore_reflector::{Source, SourceConfig, SourceError};

use crate::{Config, RelayError, Shared, metric};

/// Entries asked for per page while loading.
const LOAD_PAGE: i64 = 10_000;

/// Loads the newest `preload` entries (fewer when upstream pruned them) into a new window.
pub(crate) async fn load(config: &Config) -> Result<LedgerWindow, RelayError> {
    let mut probe = Source::connect(
        &SourceConfig::Feed {
            executive_url: config.upstream.clone(),
            wait: Duration::ZERO,
            block: LOAD_PAGE,
        },
        &config.tls,
        None,
    )
    .await?;
    // Nothing is after this seq: the answer is the head alone.
    let head = probe.fetch(i64::MAX / 2).await?.head.unwrap_or(0);
    let mut window =
        LedgerWindow::starting_after((head - config.preload as i64).max(0), config.window);
    let started = Instant::now();
    while window.through() < head {
        match probe.fetch(window.through()).await {
            Ok(page) if page.entries.is_empty() => break,
            Ok(page) => window.push(page.entries),
            Err(SourceError::BelowHorizon { horizon, .. }) => window.restart_after(horizon),
            Err(e) => return Err(e.into()),
        }
    }
    tracing::info!(
        head,
        from = window.after(),
        entries = window.len(),
        ms = started.elapsed().as_millis() as u64,
        "relay window loaded"
    );
    Ok(window)
}

/// Keeps the window at upstream's head forever; upstream errors are retried with backoff.
pub(crate) async fn follow_forever(shared: Arc<Shared>, config: Config) {
    let mut delay = Duration::from_millis(100);
    let mut source = loop {
        match Source::connect(
            &SourceConfig::feed(config.upstream.clone()),
            &config.tls,
            None,
        )
        .await
        {
            Ok(s) => break s,
            Err(e) => {
                tracing::warn!(error = %e, "relay: upstream client");
                tokio::time::sleep(delay).await;
            }
        }
    };
    loop {
        let through = shared.window.read().map(|w| w.through()).unwrap_or(0);
        match source.fetch(through).await {
            Ok(page) => {
                delay = Duration::from_millis(100);
                if let Ok(mut ok) = shared.last_ok.lock() {
                    *ok = Some(Instant::now());
                }
                if let Some(head) = page.head {
                    shared.head.fetch_max(head, Ordering::Relaxed);
                }
                if page.entries.is_empty() {
                    continue;
                }
                let (through, entries) = match shared.window.write() {
                    Ok(mut w) => {
                        w.push(page.entries);
                        (w.through(), w.len())
                    }
                    Err(_) => continue,
                };
                metrics::gauge!(metric::THROUGH).set(through as f64);
                metrics::gauge!(metric::WINDOW_ENTRIES).set(entries as f64);
                shared.filled.send_replace(through);
            }
            Err(SourceError::BelowHorizon { horizon, .. }) => {
                // Upstream pruned past the window: start over from its horizon; followers
                // below are redirected upstream, which tells them to bootstrap.
                tracing::warn!(through, horizon, "relay: upstream pruned past the window");
                if let Ok(mut w) = shared.window.write() {
                    w.restart_after(horizon);
                }
                shared.filled.send_replace(horizon);
            }
            Err(e) => {
                metrics::counter!(metric::UPSTREAM_ERRORS).increment(1);
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "relay: upstream feed");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
