//! Triggers, replds-compatible: every file without a dot in its name in the triggers directory
//! is a JSON trigger `{"path": "family/table[/key...]", "command": "shell command"}`. The
//! command runs after each applied batch that touched a row under `path` (a prefix, as in
//! replds), with `CTLSTORE_SEQ`, `CTLSTORE_FAMILY`, `CTLSTORE_TABLE` in its environment and the
//! changed keys as JSON lines on stdin.
//!
//! Runs are serialised per trigger and coalesced: batches arriving while the command runs
//! lead to one more run with all their keys. A failing command is retried with backoff (its
//! keys kept), logged with its output and counted. What each trigger has handled is kept in a
//! state file, so a restart catches up from there and no change is missed (a batch may be
//! handled twice across a crash: at least once).

mod runner;
mod spec;
mod state;

pub use runner::{Batch, ChangedKey, Event, Options, run};
pub use spec::{Trigger, load_dir};
pub use state::State;

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("{path}: {reason}")]
    Spec { path: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}
