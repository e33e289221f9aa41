//! Batches that show whether anyone ever saw half of one (feature `executive`), and a reader that
//! watches an LDB for that while a test breaks things.
//!
//! Batch `b` rewrites every row of `current` with `batch = b` and adds row `b` to `history`, in
//! one request. Written by ONE writer, one batch after the other, a consistent LDB shows
//! `current` with [`ROWS_PER_BATCH`] rows (or none yet), all with the same `batch`, equal to
//! the highest `id` in `history`. Anything else is a batch seen half applied (or applied out of
//! order). `history` has one row per batch, so a batch lost or invented shows when it is
//! compared with the ctldb.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::TableDef;

/// Rows of `current` each batch rewrites.
pub const ROWS_PER_BATCH: i64 = 5;

const FIELDS: &[(&str, &str)] = &[("id", "integer"), ("batch", "integer"), ("val", "string")];

/// The tables the batches write: `current` and `history`, columns `id`, `batch`, `val`.
pub const BATCH_TABLES: [TableDef<'static>; 2] = [
    TableDef {
        name: "current",
        fields: FIELDS,
        keys: &["id"],
    },
    TableDef {
        name: "history",
        fields: FIELDS,
        keys: &["id"],
    },
];

/// Asserts that each of `tables` of family `fam` holds exactly the ctldb's rows in the LDB at
/// `ldb`, and returns how many rows they hold together. `label` names the scenario.
pub async fn assert_ldb_matches_ctldb(
    ctldb: &ctlstore_ctldb::Ctldb,
    ldb: &Path,
    tables: &[&str],
    label: &str,
) -> usize {
    let family = ctlstore_schema::FamilyName::new("fam").expect("valid");
    let mut rows = 0;
    for table in tables {
        let name = ctlstore_schema::TableName::new(table).expect("valid");
        let expected = ctldb.rows(&family, &name).await.expect("the ctldb's rows");
        let actual = crate::sqlite_rows(
            ldb,
            &format!(r#"SELECT * FROM "fam___{table}" ORDER BY "id""#),
        );
        assert!(
            actual == expected,
            "{label}: the LDB's {table} differs from the ctldb's ({} rows against {})",
            actual.len(),
            expected.len()
        );
        rows += actual.len();
    }
    rows
}

/// The body of `POST /families/{family}/mutations` for batch `b`.
pub fn batch_mutations(b: i64) -> Value {
    let mut mutations: Vec<Value> = (0..ROWS_PER_BATCH)
        .map(|id| {
            json!({"table": "current", "values": {"id": id, "batch": b, "val": format!("batch {b}")}})
        })
        .collect();
    mutations.push(json!({"table": "history", "values": {"id": b, "batch": b, "val": "x"}}));
    json!({ "mutations": mutations })
}

/// What the watcher saw.
#[derive(Debug, Default)]
pub struct Watched {
    /// Consistent snapshots read.
    pub observations: u64,
    /// The seq of the last one.
    pub last_seq: i64,
    /// What was wrong, for the first few snapshots that were wrong.
    pub violations: Vec<String>,
    /// How many snapshots were wrong.
    pub violation_count: u64,
}

/// A thread that reads the LDB every millisecond, each time in one read transaction, and
/// records every snapshot that shows half a batch, mixed batches, or the seq going backwards.
pub struct LdbWatcher {
    watching: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Watched>,
}

impl LdbWatcher {
    /// Watches the LDB at `ldb` (which need not exist yet) for the tables of `family`.
    pub fn start(ldb: &Path, family: &str) -> LdbWatcher {
        let watching = Arc::new(AtomicBool::new(true));
        let (path, flag) = (ldb.to_path_buf(), watching.clone());
        let prefix = format!("{family}___");
        let thread = std::thread::spawn(move || watch(&path, &prefix, &flag));
        LdbWatcher { watching, thread }
    }

    /// Stops watching and says what was seen.
    pub fn finish(self) -> Watched {
        self.watching.store(false, Ordering::SeqCst);
        self.thread.join().expect("the LDB watcher ran")
    }
}

/// `(seq, distinct batches in current, rows in current, the batch of current, max id of history)`.
type Snapshot = (i64, i64, i64, Option<i64>, Option<i64>);

fn snapshot(conn: &rusqlite::Connection, prefix: &str) -> rusqlite::Result<Snapshot> {
    conn.execute_batch("BEGIN")?;
    let read = (|| {
        let seq = conn.query_row("SELECT seq FROM _ldb_seq WHERE id = 1", [], |r| r.get(0))?;
        let (distinct, rows, batch) = conn.query_row(
            &format!(
                r#"SELECT COUNT(DISTINCT "batch"), COUNT(*), MAX("batch") FROM "{prefix}current""#
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let history = conn.query_row(
            &format!(r#"SELECT MAX("id") FROM "{prefix}history""#),
            [],
            |r| r.get(0),
        )?;
        Ok((seq, distinct, rows, batch, history))
    })();
    let _ = conn.execute_batch("COMMIT");
    read
}

fn watch(path: &PathBuf, prefix: &str, watching: &AtomicBool) -> Watched {
    let mut seen = Watched::default();
    let mut conn: Option<rusqlite::Connection> = None;
    while watching.load(Ordering::SeqCst) {
        if conn.is_none() && path.exists() {
            conn = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .ok();
        }
        // Before the reflector created the tables, there is nothing to check; a connection that
        // failed is opened again.
        let read = conn.as_ref().map(|c| snapshot(c, prefix));
        if let Some(Err(_)) = read {
            conn = None;
        }
        if let Some(Ok((seq, distinct, rows, batch, history))) = read {
            seen.observations += 1;
            let mut wrong = Vec::new();
            if seq < seen.last_seq {
                wrong.push(format!("seq went backwards: {seq} after {}", seen.last_seq));
            }
            if distinct > 1 {
                wrong.push(format!("at seq {seq}: {distinct} batches mixed in current"));
            }
            if rows != 0 && rows != ROWS_PER_BATCH {
                wrong.push(format!(
                    "at seq {seq}: {rows} rows in current (half a batch)"
                ));
            }
            if rows != 0 && batch != history {
                wrong.push(format!(
                    "at seq {seq}: current holds batch {batch:?} but history's last is {history:?}"
                ));
            }
            if !wrong.is_empty() {
                seen.violation_count += 1;
                if seen.violations.len() < 20 {
                    seen.violations.push(wrong.join("; "));
                }
            }
            seen.last_seq = seen.last_seq.max(seq);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    seen
}
