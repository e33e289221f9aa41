//! The executive's background tasks, supervised. Each runs until it is aborted (the ledger-head
//! poller, the table sizer, the writer-limit refresh, the usage cleanup, and a watch on the
//! ctldb's group committer), so a task that ends, by returning or by panicking, is a failure:
//! without it the executive would go on serving with something silently missing (a ledger head
//! that never moves for other executives' commits, sizes never measured, every write failing).
//! [`BackgroundTasks::first_failure`] reports the first one; `serve` logs it at error level,
//! marks the executive unhealthy (`/healthz` names the task), shuts down and returns it as an
//! error, so the process exits non-zero and its supervisor restarts it.

use std::collections::HashMap;
use std::future::Future;

use tokio::task::{Id, JoinError, JoinSet};

/// A background task that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// The task's name, as `/healthz` and the logs give it (`ledger head poller`, ...).
    pub task: &'static str,
    /// How it ended: its panic message, or that it returned.
    pub reason: String,
}

impl std::fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "background task '{}' stopped: {}",
            self.task, self.reason
        )
    }
}

/// The running tasks, by name. Dropping it does not stop them: [`BackgroundTasks::abort`] does.
#[derive(Default)]
pub(crate) struct BackgroundTasks {
    set: JoinSet<()>,
    names: HashMap<Id, &'static str>,
}

impl BackgroundTasks {
    pub fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let handle = self.set.spawn(task);
        self.names.insert(handle.id(), name);
    }

    /// Waits until a task ends and says which and how. Never completes while they all run.
    pub async fn first_failure(&mut self) -> TaskFailure {
        let (id, reason) = match self.set.join_next_with_id().await {
            Some(Ok((id, ()))) => (id, "it returned".to_string()),
            Some(Err(e)) => (e.id(), failure_reason(e)),
            None => std::future::pending().await,
        };
        TaskFailure {
            task: self.names.get(&id).copied().unwrap_or("unnamed task"),
            reason,
        }
    }

    pub fn abort(mut self) {
        self.set.abort_all();
    }
}

fn failure_reason(e: JoinError) -> String {
    if !e.is_panic() {
        return "it was cancelled".into();
    }
    let payload = e.into_panic();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    format!("it panicked: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_task_to_end_is_named() {
        let mut tasks = BackgroundTasks::default();
        tasks.spawn("forever", std::future::pending());
        tasks.spawn("returns", async {});
        let failure = tasks.first_failure().await;
        assert_eq!(failure.task, "returns");
        assert_eq!(failure.reason, "it returned");

        tasks.spawn("panics", async { panic!("boom") });
        let failure = tasks.first_failure().await;
        assert_eq!(failure.task, "panics");
        assert_eq!(failure.reason, "it panicked: boom");
        tasks.abort();
    }
}
