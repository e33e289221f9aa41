//! ctlstore's changelog: one JSON line per changed row,
//! `{"seq":1,"family":"f","table":"t","key":[{"name":"id","type":"INTEGER","value":1}]}`,
//! appended to a file that is deleted and started again when it would pass its size limit
//! (ctlstore keeps no rotated copies). `seq` counts lines written by this process from 1; a
//! consumer that sees a jump treats it as "invalidate caches" (ctlstore's contract).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ChangelogError {
    #[error("changelog {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One line, fields in ctlstore's order.
#[derive(Serialize)]
struct Line<'a> {
    seq: u64,
    family: &'a str,
    table: &'a str,
    key: Vec<KeyPart<'a>>,
}

#[derive(Serialize)]
struct KeyPart<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    value: &'a Value,
}

/// A size-rotated JSON-lines file.
pub struct Changelog {
    path: PathBuf,
    max_bytes: u64,
    file: Option<File>,
    size: u64,
    seq: u64,
}

impl Changelog {
    pub fn new(path: impl AsRef<Path>, max_bytes: u64) -> Changelog {
        Changelog {
            path: path.as_ref().to_path_buf(),
            max_bytes,
            file: None,
            size: 0,
            seq: 0,
        }
    }

    fn io(&self, source: std::io::Error) -> ChangelogError {
        ChangelogError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn open(&mut self) -> Result<(), ChangelogError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        self.size = file.metadata().map_err(|e| self.io(e))?.len();
        self.file = Some(file);
        Ok(())
    }

    /// Appends one line for a changed row. `key` is `[(name, declared type, value)]`.
    pub fn record(
        &mut self,
        family: &str,
        table: &str,
        key: &[(String, String, Value)],
    ) -> Result<(), ChangelogError> {
        self.seq += 1;
        let key: Vec<KeyPart> = key
            .iter()
            .map(|(name, kind, value)| KeyPart { name, kind, value })
            .collect();
        let mut line = serde_json::to_string(&Line {
            seq: self.seq,
            family,
            table,
            key,
        })
        .map_err(|e| self.io(std::io::Error::other(e)))?;
        line.push('\n');
        let len = line.len() as u64;
        if self.file.is_none() {
            self.open()?;
        }
        if self.size + len > self.max_bytes {
            // ctlstore's rotation: delete and start again.
            self.file = None;
            match std::fs::remove_file(&self.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.io(e)),
            }
            self.open()?;
        }
        let result = match self.file.as_mut() {
            Some(f) => f.write_all(line.as_bytes()),
            None => Ok(()),
        };
        result.map_err(|e| self.io(e))?;
        self.size += len;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_and_rotation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("changelog");
        let mut log = Changelog::new(&path, 200);
        let key = vec![("field1".to_string(), "INTEGER".to_string(), json!(1234))];
        log.record("family1", "table1234", &key).expect("write");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "{\"seq\":1,\"family\":\"family1\",\"table\":\"table1234\",\"key\":[{\"name\":\"field1\",\"type\":\"INTEGER\",\"value\":1234}]}\n"
        );
        let big = vec![(
            "k".to_string(),
            "INTEGER".to_string(),
            json!(18014398509481984i64),
        )];
        log.record("family1", "table1", &big).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.starts_with("{\"seq\":2,"),
            "rotated: only the new line remains: {text}"
        );
        assert!(
            text.contains("18014398509481984"),
            "large ints are not float-rounded"
        );
    }
}
