//! How an LDB is opened: busy timeout, WAL checkpoints, the changelog.

use std::path::PathBuf;
use std::time::Duration;

/// `PRAGMA wal_checkpoint` modes (ctlstore `-wal-checkpoint-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointMode {
    Passive,
    Full,
    Restart,
    Truncate,
}

impl CheckpointMode {
    pub fn parse(text: &str) -> Option<CheckpointMode> {
        match text.to_ascii_uppercase().as_str() {
            "PASSIVE" => Some(CheckpointMode::Passive),
            "FULL" => Some(CheckpointMode::Full),
            "RESTART" => Some(CheckpointMode::Restart),
            "TRUNCATE" => Some(CheckpointMode::Truncate),
            _ => None,
        }
    }

    pub(crate) fn sql_name(self) -> &'static str {
        match self {
            CheckpointMode::Passive => "PASSIVE",
            CheckpointMode::Full => "FULL",
            CheckpointMode::Restart => "RESTART",
            CheckpointMode::Truncate => "TRUNCATE",
        }
    }
}

/// How the LDB is opened.
#[derive(Debug, Clone)]
pub struct LdbOptions {
    /// How long a write waits for a lock held by another connection (ctlstore `-busy-timeout-ms`).
    pub busy_timeout: Duration,
    /// Checkpoint the WAL once it is larger than this (ctlstore
    /// `-wal-checkpoint-threshold-size`); 0 leaves it to SQLite's automatic checkpoints.
    pub wal_checkpoint_threshold: u64,
    /// The checkpoint mode (ctlstore `-wal-checkpoint-type`).
    pub wal_checkpoint_mode: CheckpointMode,
    /// Write ctlstore's changelog of row changes: path and rotation size in bytes.
    pub changelog: Option<(PathBuf, u64)>,
    /// Keep a change feed of at least this many row changes in the LDB (0: off; see
    /// `feed.rs`).
    pub change_feed: u64,
    /// The group a new LDB file is given (`--ldb-group`, a gid); its mode is
    /// [`crate::LDB_FILE_MODE`] either way.
    pub group: Option<u32>,
}

impl Default for LdbOptions {
    fn default() -> Self {
        LdbOptions {
            busy_timeout: Duration::from_secs(5),
            wal_checkpoint_threshold: 8 * 1024 * 1024,
            wal_checkpoint_mode: CheckpointMode::Passive,
            changelog: None,
            change_feed: 0,
            group: None,
        }
    }
}
