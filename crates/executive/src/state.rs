//! The executive's shared state and its background tasks (supervised: `supervise.rs`).

use std::sync::{Arc, Mutex};

use ctlstore_ctldb::Ctldb;
use tokio::sync::watch;

use crate::Config;
use crate::feed::LedgerFeed;
use crate::sizes::TableSizer;
use crate::supervise::{BackgroundTasks, TaskFailure};
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
    /// The access rules (`--acl-file`), when given.
    pub acl: Option<crate::acl::Acl>,
    /// The background task that stopped, once one has: `/healthz` reports it.
    pub failure: Mutex<Option<TaskFailure>>,
}

/// How often an executive settles the schema-change intents another may have left (MySQL).
const DDL_INTENT_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

impl AppState {
    pub fn new(ctldb: Ctldb, config: Config, acl: Option<crate::acl::Acl>) -> AppState {
        let sizes = TableSizer::new(config.max_table_size, config.warn_table_size);
        let (shutdown, _) = watch::channel(false);
        AppState(Arc::new(Inner {
            ctldb,
            config,
            feed: LedgerFeed::new(),
            sizes,
            writer_overrides: WriterOverrides::default(),
            shutdown,
            acl,
            failure: Mutex::new(None),
        }))
    }

    /// Starts the background tasks (see `supervise.rs`); `serve` watches them.
    pub(crate) fn start_background_tasks(&self) -> BackgroundTasks {
        let mut tasks = BackgroundTasks::default();
        let s = self.0.clone();
        self.spawn(&mut tasks, "ledger head poller", async move {
            s.feed
                .follow_ctldb(&s.ctldb, s.config.ledger_poll_interval)
                .await
        });
        let s = self.0.clone();
        self.spawn(&mut tasks, "ledger window", async move {
            s.feed
                .recent
                .fill_forever(&s.ctldb, s.feed.subscribe())
                .await
        });
        let s = self.0.clone();
        self.spawn(&mut tasks, "table sizer", async move {
            s.sizes
                .refresh_forever(&s.ctldb, s.config.table_size_refresh)
                .await
        });
        let s = self.0.clone();
        self.spawn(&mut tasks, "writer usage cleanup", async move {
            crate::usage_cleanup::delete_old_usage_forever(&s).await
        });
        let s = self.0.clone();
        self.spawn(&mut tasks, "writer limit refresh", async move {
            s.writer_overrides.refresh_forever(&s.ctldb).await
        });
        let s = self.0.clone();
        self.spawn(&mut tasks, "ddl intent recovery", async move {
            // Another executive killed between a MySQL DDL and its ledger row is repaired by
            // whichever executive looks first, not only when that one restarts.
            let mut tick = tokio::time::interval(DDL_INTENT_CHECK);
            loop {
                tick.tick().await;
                if let Err(e) = s.ctldb.recover_ddl_intents().await {
                    tracing::debug!(error = %e, "recover schema-change intents");
                }
            }
        });
        if self.0.config.retention.is_some() {
            let s = self.0.clone();
            self.spawn(
                &mut tasks,
                "ledger pruner",
                crate::retention::prune_forever(s),
            );
        }
        let s = self.0.clone();
        self.spawn(&mut tasks, "ctldb group committer", async move {
            s.ctldb.committer_stopped().await
        });
        tasks
    }

    fn spawn(
        &self,
        tasks: &mut BackgroundTasks,
        name: &'static str,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        if self.0.config.fault_stop_task.as_deref() == Some(name) {
            tasks.spawn(name, async {
                panic!("fault injected by Config::fault_stop_task")
            });
            return;
        }
        tasks.spawn(name, task);
    }

    /// Records the task whose end makes the executive unhealthy (the first one counts).
    pub(crate) fn record_failure(&self, failure: &TaskFailure) {
        if let Ok(mut f) = self.0.failure.lock() {
            f.get_or_insert_with(|| failure.clone());
        }
    }

    /// The background task that stopped, if one did.
    pub(crate) fn failure(&self) -> Option<TaskFailure> {
        self.0.failure.lock().ok().and_then(|f| f.clone())
    }

    /// Wakes every waiting long-poll and stream so graceful shutdown does not wait for them.
    pub(crate) fn begin_shutdown(&self) {
        let _ = self.0.shutdown.send(true);
    }
}
