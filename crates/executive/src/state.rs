//! The executive's shared state and its background tasks.

use std::sync::Arc;

use ctlstore_ctldb::Ctldb;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::Config;
use crate::feed::LedgerFeed;
use crate::sizes::TableSizer;
use crate::writer_limits::WriterOverrides;

/// Cheap to clone: an `Arc` around [`Inner`].
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub ctldb: Ctldb,
    pub config: Config,
    pub feed: LedgerFeed,
    pub sizes: TableSizer,
    pub writer_overrides: WriterOverrides,
    pub shutdown: watch::Sender<bool>,
}

/// Background tasks; aborted when dropped or on [`BackgroundTasks::abort`].
pub(crate) struct BackgroundTasks(JoinSet<()>);

impl BackgroundTasks {
    pub fn abort(mut self) {
        self.0.abort_all();
    }
}

impl AppState {
    pub fn new(ctldb: Ctldb, config: Config) -> AppState {
        let sizes = TableSizer::new(config.max_table_size, config.warn_table_size);
        let (shutdown, _) = watch::channel(false);
        AppState(Arc::new(Inner {
            ctldb,
            config,
            feed: LedgerFeed::new(),
            sizes,
            writer_overrides: WriterOverrides::default(),
            shutdown,
        }))
    }

    pub(crate) fn start_background_tasks(&self) -> BackgroundTasks {
        let mut tasks = JoinSet::new();
        let s = self.0.clone();
        tasks.spawn(async move {
            s.feed
                .follow_ctldb(&s.ctldb, s.config.ledger_poll_interval)
                .await
        });
        let s = self.0.clone();
        tasks.spawn(async move {
            s.sizes
                .refresh_forever(&s.ctldb, s.config.table_size_refresh)
                .await
        });
        let s = self.0.clone();
        tasks.spawn(async move { crate::usage_cleanup::delete_old_usage_forever(&s).await });
        let s = self.0.clone();
        tasks.spawn(async move { s.writer_overrides.refresh_forever(&s.ctldb).await });
        BackgroundTasks(tasks)
    }

    /// Wakes every waiting long-poll and stream so graceful shutdown does not wait for them.
    pub(crate) fn begin_shutdown(&self) {
        let _ = self.0.shutdown.send(true);
    }
}
