//! The state file: the last sequence each trigger handled, so a restart catches up from the
//! oldest of them. Written atomically (temporary file, fsync, rename).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::TriggerError;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Trigger name → the last ledger sequence whose batch it handled.
    pub handled: BTreeMap<String, i64>,
}

impl State {
    pub fn load(path: &Path) -> Result<State, TriggerError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| TriggerError::Spec {
                path: path.display().to_string(),
                reason: format!("not a state file: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(TriggerError::Io {
                path: path.display().to_string(),
                source: e,
            }),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), TriggerError> {
        let io = |e| TriggerError::Io {
            path: path.display().to_string(),
            source: e,
        };
        let tmp: PathBuf = path.with_extension("state-tmp");
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(serde_json::to_string(self).unwrap_or_default().as_bytes())
            .map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Where to resume the feed: after the oldest sequence any current trigger handled (0
    /// when one has handled nothing yet).
    pub fn resume_after(&self, names: &[String]) -> i64 {
        names
            .iter()
            .map(|n| self.handled.get(n).copied().unwrap_or(0))
            .min()
            .unwrap_or(0)
    }
}
