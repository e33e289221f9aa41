//! Trigger files: JSON `{"path": "family/table[/key...]", "command": "..."}`, one per file;
//! files whose name has a dot (`.json`, `.swp`, `.state`) are not triggers, as in replds.

use std::path::Path;

use serde::Deserialize;

use crate::TriggerError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// The file's name: the trigger's identity in the state file and the logs.
    pub name: String,
    /// `family`, `table`, then key values, as text.
    pub path: Vec<String>,
    pub command: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    path: String,
    command: String,
}

impl Trigger {
    /// Whether a change of `family.table` with `key` (as text) is under this trigger's path.
    pub fn matches(&self, family: &str, table: &str, key: &[String]) -> bool {
        let change = [family, table]
            .into_iter()
            .chain(key.iter().map(String::as_str));
        self.path.len() <= 2 + key.len()
            && self
                .path
                .iter()
                .zip(change)
                .all(|(want, have)| want == have)
    }

    pub fn parse(name: &str, text: &str) -> Result<Trigger, String> {
        let file: File = serde_json::from_str(text)
            .map_err(|e| format!("not a trigger ({{\"path\", \"command\"}}): {e}"))?;
        let path: Vec<String> = file
            .path
            .trim_matches('/')
            .split('/')
            .map(String::from)
            .collect();
        if path.iter().any(String::is_empty) {
            return Err(format!(
                "path '{}' must be family[/table[/key...]]",
                file.path
            ));
        }
        if file.command.trim().is_empty() {
            return Err("command is empty".into());
        }
        Ok(Trigger {
            name: name.to_string(),
            path,
            command: file.command,
        })
    }
}

/// Every trigger in `dir`, sorted by name. A malformed trigger file is an error naming it.
pub fn load_dir(dir: &Path) -> Result<Vec<Trigger>, TriggerError> {
    let io = |e| TriggerError::Io {
        path: dir.display().to_string(),
        source: e,
    };
    let mut triggers = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.contains('.') || !entry.file_type().map_err(io)?.is_file() {
            continue;
        }
        let path = entry.path();
        let text = std::fs::read_to_string(&path).map_err(|e| TriggerError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let trigger = Trigger::parse(&name, &text).map_err(|reason| TriggerError::Spec {
            path: path.display().to_string(),
            reason,
        })?;
        triggers.push(trigger);
    }
    triggers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(triggers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_prefixes() {
        let t =
            Trigger::parse("t", r#"{"path": "cfg/files/svc", "command": "true"}"#).expect("parses");
        assert!(t.matches("cfg", "files", &["svc".into(), "x".into()]));
        assert!(!t.matches("cfg", "files", &["other".into()]));
        assert!(!t.matches("cfg", "other", &["svc".into()]));
        let family =
            Trigger::parse("t", r#"{"path": "/cfg/", "command": "true"}"#).expect("parses");
        assert!(family.matches("cfg", "anything", &[]));
        assert!(Trigger::parse("t", r#"{"path": "a//b", "command": "x"}"#).is_err());
        assert!(Trigger::parse("t", r#"{"path": "a", "command": " "}"#).is_err());
        assert!(Trigger::parse("t", r#"{"path": "a", "command": "x", "extra": 1}"#).is_err());
    }
}
