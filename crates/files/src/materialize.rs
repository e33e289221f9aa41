//! `ctlstore materialize F.T --dir DIR --path-field COL --content-field COL`: keeps DIR equal to
//! the table's rows. One file per row at `DIR/<path-field>` holding the content field's bytes;
//! files of rows that are gone are removed, and so are empty directories left behind.
//!
//! Safety: a path that is absolute, has `..`, `.` or empty components, or NUL is refused and
//! logged ([`crate::safe_path`]); a parent that is a symlink is refused too, so nothing is ever
//! written outside DIR. Each write is atomic: a temporary file beside the target, written with
//! the file mode, fsynced, renamed over the target, and the directory fsynced.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use ctlstore_reader::{Key, Reader, Value};

use crate::FilesError;
use crate::safe_path::{RESERVED_PREFIX, components};

/// What to materialize, and where.
#[derive(Debug, Clone)]
pub struct Options {
    pub dir: PathBuf,
    pub family: String,
    pub table: String,
    pub path_field: String,
    pub content_field: String,
    /// Leading key values (text; SQLite's affinity compares them with integer keys too).
    pub prefix: Vec<String>,
    /// File mode of written files (default 0600).
    pub mode: u32,
}

/// Where rows come from.
#[derive(Debug, Clone)]
pub enum RowSource {
    /// This host's LDB, read through the reader.
    Ldb(PathBuf),
    /// A sidecar. Its rows carry bytes as base64 text; `base64` says to decode the content.
    Sidecar { url: String, base64: bool },
}

/// One reconcile's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub written: usize,
    pub removed: usize,
    pub unchanged: usize,
    /// Rows whose path was refused (logged each time).
    pub refused: usize,
    /// Paths (relative to the directory, `/`-separated) written or removed.
    pub changed_paths: Vec<String>,
}

impl Outcome {
    pub fn changed(&self) -> bool {
        self.written > 0 || self.removed > 0
    }
}

/// A row reduced to what materializing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    pub path: String,
    pub content: Vec<u8>,
}

fn value_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::Null => Vec::new(),
        Value::Integer(i) => i.to_string().into_bytes(),
        Value::Real(r) => r.to_string().into_bytes(),
        Value::Text(t) => t.clone().into_bytes(),
        Value::Bytes(b) => b.clone(),
    }
}

impl RowSource {
    /// Every row of the table under the prefix, as files.
    pub async fn rows(&self, options: &Options) -> Result<Vec<FileRow>, FilesError> {
        match self {
            RowSource::Ldb(path) => {
                let reader = Reader::open(path).map_err(|e| FilesError::Rows(e.to_string()))?;
                let prefix: Vec<Key> = options
                    .prefix
                    .iter()
                    .map(|p| Key::from(p.as_str()))
                    .collect();
                let rows = reader
                    .rows_by_key_prefix_values(&options.family, &options.table, &prefix)
                    .map_err(|e| FilesError::Rows(e.to_string()))?;
                rows.iter()
                    .map(|row| {
                        let field = |name: &str| {
                            row.get(name).ok_or_else(|| {
                                FilesError::Invalid(format!(
                                    "{}.{} has no field '{name}'",
                                    options.family, options.table
                                ))
                            })
                        };
                        Ok(FileRow {
                            path: String::from_utf8_lossy(&value_bytes(field(
                                &options.path_field,
                            )?))
                            .into_owned(),
                            content: value_bytes(field(&options.content_field)?),
                        })
                    })
                    .collect()
            }
            RowSource::Sidecar { url, base64 } => sidecar_rows(url, *base64, options).await,
        }
    }

    /// A cheap number that changes when the rows may have: the LDB's last applied sequence.
    /// `None` when there is none to ask (a sidecar: compare contents every time).
    pub fn version(&self) -> Option<i64> {
        match self {
            RowSource::Ldb(path) => Reader::open(path).ok()?.last_sequence().ok(),
            RowSource::Sidecar { .. } => None,
        }
    }
}

async fn sidecar_rows(
    url: &str,
    base64: bool,
    options: &Options,
) -> Result<Vec<FileRow>, FilesError> {
    let base = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let key: Vec<serde_json::Value> = options
        .prefix
        .iter()
        .map(|p| serde_json::json!({"value": p}))
        .collect();
    let endpoint = format!(
        "{}/get-rows-by-key-prefix/{}/{}",
        base.trim_end_matches('/'),
        options.family,
        options.table
    );
    let response = reqwest::Client::new()
        .post(&endpoint)
        .json(&serde_json::json!({"key": key}))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| FilesError::Rows(format!("{endpoint}: {e}")))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| FilesError::Rows(format!("{endpoint}: {e}")))?;
    if !status.is_success() {
        return Err(FilesError::Rows(format!(
            "{endpoint}: HTTP {status}: {}",
            body.trim()
        )));
    }
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&body).map_err(|e| FilesError::Rows(format!("{endpoint}: {e}")))?;
    let text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    rows.iter()
        .map(|row| {
            let content = text(row.get(&options.content_field));
            let content = if base64 {
                base64::engine::general_purpose::STANDARD
                    .decode(&content)
                    .map_err(|e| FilesError::Invalid(format!("content is not base64: {e}")))?
            } else {
                content.into_bytes()
            };
            Ok(FileRow {
                path: text(row.get(&options.path_field)),
                content,
            })
        })
        .collect()
}

/// Makes `dir` hold exactly `rows`.
pub fn reconcile(dir: &Path, rows: &[FileRow], mode: u32) -> Result<Outcome, FilesError> {
    std::fs::create_dir_all(dir).map_err(|e| FilesError::io(dir, e))?;
    let mut outcome = Outcome::default();
    let mut desired: BTreeMap<PathBuf, &[u8]> = BTreeMap::new();
    for row in rows {
        match components(&row.path) {
            Ok(parts) => {
                let rel: PathBuf = parts.iter().collect();
                if desired.insert(rel, &row.content).is_some() {
                    tracing::warn!(path = %row.path, "two rows name the same file: the later one wins");
                }
            }
            Err(why) => {
                outcome.refused += 1;
                tracing::warn!(path = ?row.path, %why, "row refused: its path would not stay inside the directory");
            }
        }
    }
    let mut kept = BTreeSet::new();
    for (rel, content) in &desired {
        match write_file(dir, rel, content, mode)? {
            Some(true) => {
                outcome.written += 1;
                outcome.changed_paths.push(slash_path(rel));
            }
            Some(false) => outcome.unchanged += 1,
            None => {
                outcome.refused += 1;
                continue;
            }
        }
        kept.insert(dir.join(rel));
    }
    let mut removed = Vec::new();
    remove_others(dir, dir, &kept, &mut removed)?;
    outcome.removed = removed.len();
    outcome.changed_paths.extend(removed);
    Ok(outcome)
}

/// Writes one file if its content or mode differ. `Some(written)`, or `None` when a parent
/// is not a real directory inside `dir` (refused and logged).
fn write_file(
    dir: &Path,
    rel: &Path,
    content: &[u8],
    mode: u32,
) -> Result<Option<bool>, FilesError> {
    let mut parent = dir.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        parent.push(part);
        match std::fs::symlink_metadata(&parent) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                tracing::warn!(path = %rel.display(), at = %parent.display(), "refused: a parent is not a directory (or is a symlink)");
                return Ok(None);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&parent).map_err(|e| FilesError::io(&parent, e))?;
            }
            Err(e) => return Err(FilesError::io(&parent, e)),
        }
    }
    let target = dir.join(rel);
    match std::fs::symlink_metadata(&target) {
        Ok(m) if m.is_dir() => {
            tracing::warn!(path = %rel.display(), "refused: a directory is in the way");
            return Ok(None);
        }
        Ok(m) if m.is_file() && m.permissions().mode() & 0o7777 == mode => {
            let same = std::fs::read(&target).map_err(|e| FilesError::io(&target, e))? == content;
            if same {
                return Ok(Some(false));
            }
        }
        _ => {}
    }
    let tmp = parent.join(format!("{RESERVED_PREFIX}tmp-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| FilesError::io(&tmp, e))?;
    // `mode` at creation is filtered by the umask; set it exactly.
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| FilesError::io(&tmp, e))?;
    file.write_all(content)
        .map_err(|e| FilesError::io(&tmp, e))?;
    file.sync_all().map_err(|e| FilesError::io(&tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, &target).map_err(|e| FilesError::io(&target, e))?;
    if let Ok(d) = std::fs::File::open(&parent) {
        let _ = d.sync_all();
    }
    Ok(Some(true))
}

/// Removes every file under `at` that is not in `kept`, and directories left empty.
fn remove_others(
    root: &Path,
    at: &Path,
    kept: &BTreeSet<PathBuf>,
    removed: &mut Vec<String>,
) -> Result<(), FilesError> {
    let entries = std::fs::read_dir(at).map_err(|e| FilesError::io(at, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| FilesError::io(at, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| FilesError::io(&path, e))?;
        if kind.is_dir() {
            remove_others(root, &path, kept, removed)?;
            if std::fs::read_dir(&path)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false)
            {
                std::fs::remove_dir(&path).map_err(|e| FilesError::io(&path, e))?;
            }
        } else if !kept.contains(&path) {
            std::fs::remove_file(&path).map_err(|e| FilesError::io(&path, e))?;
            if let Ok(rel) = path.strip_prefix(root) {
                removed.push(slash_path(rel));
            }
        }
    }
    Ok(())
}

fn slash_path(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reconciles at start and whenever the rows may have changed (the LDB's sequence moved, or
/// every `poll` for a sidecar), until `shutdown`. `on_change` runs after a reconcile that
/// wrote or removed files. Reading errors (no LDB yet, no table yet) are logged and retried.
pub async fn run(
    options: &Options,
    source: &RowSource,
    poll: Duration,
    shutdown: impl std::future::Future<Output = ()>,
    mut on_change: impl FnMut(&Outcome),
) -> Result<(), FilesError> {
    tokio::pin!(shutdown);
    let mut seen: Option<Option<i64>> = None;
    loop {
        let version = source.version();
        if seen != Some(version) || version.is_none() {
            match source.rows(options).await {
                Ok(rows) => {
                    let outcome = reconcile(&options.dir, &rows, options.mode)?;
                    if outcome.changed() || seen.is_none() {
                        tracing::info!(written = outcome.written, removed = outcome.removed, unchanged = outcome.unchanged, refused = outcome.refused, dir = %options.dir.display(), "materialized");
                    }
                    if outcome.changed() {
                        on_change(&outcome);
                    }
                    seen = Some(version);
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the rows yet; retrying"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = &mut shutdown => return Ok(()),
        }
    }
}

/// [`run`], with the triggers in `triggers_dir` (ctlstore-triggers' format) run for the files
/// each reconcile writes or removes: a trigger's path is `family/table/<directory prefix>`, the
/// file's path split on `/` standing for the key. Their state is kept in `<triggers_dir>.state`;
/// sequences are the reconcile's time in milliseconds, so they grow across restarts.
pub async fn run_with_triggers(
    options: &Options,
    source: &RowSource,
    poll: Duration,
    triggers_dir: &Path,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), FilesError> {
    let triggers = ctlstore_triggers::load_dir(triggers_dir)
        .map_err(|e| FilesError::Invalid(e.to_string()))?;
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    };
    let state_path = PathBuf::from(format!("{}.state", triggers_dir.display()));
    let trigger_options = ctlstore_triggers::Options {
        state_path,
        head: now_ms(),
        max_backoff: Duration::from_secs(60),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(ctlstore_triggers::run(
        triggers,
        trigger_options,
        rx,
        async move {
            let _ = stop_rx.await;
        },
    ));
    let mut last = 0;
    let outcome = run(options, source, poll, shutdown, |outcome| {
        // Strictly increasing, even for two reconciles in one millisecond.
        last = now_ms().max(last + 1);
        let changes = outcome
            .changed_paths
            .iter()
            .map(|path| ctlstore_triggers::ChangedKey {
                family: options.family.clone(),
                table: options.table.clone(),
                key: path
                    .split('/')
                    .map(|p| serde_json::Value::String(p.to_string()))
                    .collect(),
                op: if options.dir.join(path).exists() {
                    "upsert"
                } else {
                    "delete"
                }
                .to_string(),
            })
            .collect();
        if tx
            .try_send(ctlstore_triggers::Event::Batch(ctlstore_triggers::Batch {
                seq: last,
                changes,
            }))
            .is_err()
        {
            tracing::warn!("triggers are behind; this change will be covered by their next run");
        }
    })
    .await;
    let _ = stop_tx.send(());
    let _ = runner.await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(path: &str, content: &str) -> FileRow {
        FileRow {
            path: path.into(),
            content: content.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_directory_follows_the_rows_and_nothing_escapes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("out");
        let outside = tmp.path().join("secret");
        std::fs::write(&outside, "untouched").expect("write");
        let first = reconcile(
            &dir,
            &[
                row("a.txt", "A"),
                row("sub/b.txt", "B"),
                row("../secret", "pwned"),
                row("/etc/x", "no"),
            ],
            0o600,
        )
        .expect("reconcile");
        assert_eq!(
            (first.written, first.removed, first.unchanged, first.refused),
            (2, 0, 0, 2)
        );
        assert_eq!(first.changed_paths, ["a.txt", "sub/b.txt"]);
        assert_eq!(
            std::fs::read_to_string(dir.join("sub/b.txt")).expect("read"),
            "B"
        );
        assert_eq!(
            std::fs::metadata(dir.join("a.txt"))
                .expect("meta")
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::read_to_string(&outside).expect("read"),
            "untouched"
        );
        // A symlinked parent is refused, not followed.
        std::os::unix::fs::symlink(tmp.path(), dir.join("link")).expect("symlink");
        let second = reconcile(
            &dir,
            &[row("a.txt", "A2"), row("link/secret", "pwned")],
            0o600,
        )
        .expect("reconcile");
        assert_eq!(second.written, 1);
        assert!(
            second.changed_paths.contains(&"sub/b.txt".to_string()),
            "{:?}",
            second.changed_paths
        );
        assert_eq!(second.refused, 1);
        assert_eq!(
            std::fs::read_to_string(&outside).expect("read"),
            "untouched"
        );
        assert!(!dir.join("sub").exists(), "the empty directory is gone");
        assert!(
            !dir.join("link").exists(),
            "the stray symlink is removed, its target kept"
        );
        assert!(tmp.path().exists());
        let third = reconcile(&dir, &[row("a.txt", "A2")], 0o600).expect("reconcile");
        assert_eq!(
            (third.written, third.removed, third.unchanged, third.refused),
            (0, 0, 1, 0)
        );
        assert!(third.changed_paths.is_empty());
    }
}
