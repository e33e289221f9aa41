//! Reading the change feed a reflector started with `-change-feed N` keeps in the LDB
//! (docs/watch.md): [`Reader::changes`] iterates applied batches after a sequence, in ledger
//! order, one batch at a time, filtered by family, table and key prefix, waiting for new ones.
//!
//! It polls the feed table (an indexed read of the next batch) every `poll` (default 5 ms) while
//! nothing is new, so a change is seen within about that long after the reflector commits it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::Value as Json;

use crate::{Reader, ReaderError};

pub use ctlstore_ldb_layout::FeedRetention;
use ctlstore_ldb_layout::{FEED_TABLE, META_BOOTSTRAPPED, META_SINCE, read_feed_meta};

/// How often an idle iterator looks for a new batch.
pub const DEFAULT_FEED_POLL: Duration = Duration::from_millis(5);

/// One changed row.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub family: String,
    pub table: String,
    /// `upsert` or `delete`.
    pub op: String,
    /// The primary key values (bytes as base64, as the sidecar sends them).
    pub key: Vec<Json>,
    /// The row after the batch, for upserts.
    pub row: Option<serde_json::Map<String, Json>>,
}

/// What the feed yields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FeedEvent {
    /// One applied ledger batch (its last seq) and its matching changes; never empty.
    Batch { seq: i64, changes: Vec<Change> },
    /// The LDB was restored from the snapshot at `seq` while the consumer was behind it: the
    /// rows up to `seq` came from the snapshot, not from changes, so re-read the tables you
    /// follow. Batches after `seq` follow.
    Bootstrap { seq: i64 },
}

/// The JSON line `ctlstore watch` and the sidecar's `/watch` print for an event; `None` for
/// an error that ends the stream.
pub fn feed_event_json(event: &Result<FeedEvent, ReaderError>) -> Option<Json> {
    Some(match event {
        Ok(FeedEvent::Batch { seq, changes }) => serde_json::json!({
            "seq": seq,
            "changes": changes.iter().map(|c| serde_json::json!({"family": c.family, "table": c.table, "op": c.op, "key": c.key, "row": c.row})).collect::<Vec<_>>(),
        }),
        Ok(FeedEvent::Bootstrap { seq }) => serde_json::json!({"bootstrap": true, "seq": seq}),
        Err(ReaderError::FeedNotRetained { after, since }) => {
            serde_json::json!({"error": format!("changes after {after} are no longer retained"), "since": since})
        }
        Err(_) => return None,
    })
}

/// An iterator over [`FeedEvent`]s; see [`Reader::changes`].
pub struct Changes {
    path: PathBuf,
    conn: Option<Connection>,
    after: i64,
    family: Option<String>,
    table: Option<String>,
    prefix: Vec<Json>,
    timeout: Option<Duration>,
    poll: Duration,
    checked_since: bool,
    /// When the connection was opened: it is reopened every second while idle, so a replaced
    /// LDB file (a snapshot restore) is seen.
    opened: Option<Instant>,
}

/// How long an idle iterator keeps one connection before reopening the file.
const REOPEN_EVERY: Duration = Duration::from_secs(1);

impl Reader {
    /// The changes of the batches applied after `after_seq`, in order. The iterator blocks
    /// while nothing new is applied: until [`Changes::timeout`] (then it ends), or forever.
    /// Its first item is [`ReaderError::FeedNotRetained`] when the feed no longer holds (or
    /// never held) the batches right after `after_seq`; iteration then continues from the
    /// oldest batch it has.
    pub fn changes(&self, after_seq: i64) -> Changes {
        Changes {
            path: self.path().to_path_buf(),
            conn: None,
            after: after_seq,
            family: None,
            table: None,
            prefix: Vec::new(),
            timeout: None,
            poll: DEFAULT_FEED_POLL,
            checked_since: false,
            opened: None,
        }
    }
}

impl Reader {
    /// What the change feed holds now: the seq it starts after, its newest batch, how many
    /// changed rows it keeps, and the snapshot it was bootstrapped from.
    /// [`ReaderError::FeedDisabled`] when the reflector runs without `-change-feed`.
    pub fn feed_retention(&self) -> Result<FeedRetention, ReaderError> {
        let conn = Connection::open_with_flags(
            self.path(),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        ctlstore_ldb_layout::read_feed_retention(&conn).map_err(|_| ReaderError::FeedDisabled)
    }
}

impl Changes {
    pub fn family(mut self, family: &str) -> Changes {
        self.family = Some(family.to_ascii_lowercase());
        self
    }

    pub fn table(mut self, table: &str) -> Changes {
        self.table = Some(table.to_ascii_lowercase());
        self
    }

    /// Only rows whose leading key values equal these (JSON: numbers, strings, base64 bytes).
    pub fn prefix(mut self, prefix: Vec<Json>) -> Changes {
        self.prefix = prefix;
        self
    }

    /// End the iteration after waiting this long with nothing new.
    pub fn timeout(mut self, timeout: Duration) -> Changes {
        self.timeout = Some(timeout);
        self
    }

    pub fn poll_interval(mut self, poll: Duration) -> Changes {
        self.poll = poll.max(Duration::from_micros(100));
        self
    }

    /// The seq of the last batch returned (or the starting point).
    pub fn position(&self) -> i64 {
        self.after
    }

    fn conn(&mut self) -> Result<&Connection, ReaderError> {
        if self.conn.is_none() {
            if !self.path.exists() {
                return Err(ReaderError::NotFound(self.path.clone()));
            }
            let conn = Connection::open_with_flags(
                &self.path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(Duration::from_secs(5))?;
            self.conn = Some(conn);
            self.opened = Some(Instant::now());
        }
        self.conn
            .as_ref()
            .ok_or_else(|| ReaderError::NotFound(self.path.clone()))
    }

    fn since(&mut self) -> Result<i64, ReaderError> {
        let conn = self.conn()?;
        read_feed_meta(conn, META_SINCE)
            .map_err(|_| ReaderError::FeedDisabled)?
            .ok_or(ReaderError::FeedDisabled)
    }

    /// What to tell a consumer at `after`, below the feed's start `since`: that the LDB was
    /// restored from a snapshot past it (and the feed goes on after the snapshot), or that
    /// changes were pruned.
    fn behind(&mut self, since: i64) -> Result<FeedEvent, ReaderError> {
        let after = self.after;
        let bootstrapped = read_feed_meta(self.conn()?, META_BOOTSTRAPPED)
            .ok()
            .flatten();
        match bootstrapped {
            // Nothing pruned since the restore: the snapshot accounts for the whole gap.
            Some(seq) if seq > after && since <= seq => {
                self.after = seq;
                Ok(FeedEvent::Bootstrap { seq })
            }
            _ => {
                self.after = since;
                Err(ReaderError::FeedNotRetained { after, since })
            }
        }
    }

    /// The next batch after `after`, unfiltered, if one is applied.
    fn next_batch(&mut self) -> Result<Option<(i64, Vec<Change>)>, ReaderError> {
        let after = self.after;
        let conn = self.conn()?;
        let seq: Option<i64> = conn
            .query_row(
                &format!("SELECT seq FROM {FEED_TABLE} WHERE seq > ?1 ORDER BY seq LIMIT 1"),
                [after],
                |r| r.get(0),
            )
            .optional()?;
        let Some(seq) = seq else { return Ok(None) };
        let mut statement = conn.prepare_cached(&format!(
            "SELECT family, tbl, op, key, row FROM {FEED_TABLE} WHERE seq = ?1 ORDER BY n"
        ))?;
        let rows = statement.query_map([seq], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        let mut changes = Vec::new();
        for row in rows {
            let (family, table, op, key, data) = row?;
            let key: Vec<Json> = serde_json::from_str(&key)
                .map_err(|e| ReaderError::Layout(format!("feed key: {e}")))?;
            let row = match data {
                Some(text) => match serde_json::from_str(&text) {
                    Ok(Json::Object(map)) => Some(map),
                    _ => return Err(ReaderError::Layout("feed row is not a JSON object".into())),
                },
                None => None,
            };
            changes.push(Change {
                family,
                table,
                op,
                key,
                row,
            });
        }
        Ok(Some((seq, changes)))
    }

    fn matches(&self, change: &Change) -> bool {
        self.family.as_ref().is_none_or(|f| *f == change.family)
            && self.table.as_ref().is_none_or(|t| *t == change.table)
            && self.prefix.len() <= change.key.len()
            && self
                .prefix
                .iter()
                .zip(&change.key)
                .all(|(want, have)| key_equal(want, have))
    }
}

/// Key values compare as text too, as SQLite's affinity does for a key given as a string.
fn key_equal(want: &Json, have: &Json) -> bool {
    want == have
        || match (want, have) {
            (Json::String(w), Json::Number(h)) | (Json::Number(h), Json::String(w)) => {
                *w == h.to_string()
            }
            _ => false,
        }
}

impl Iterator for Changes {
    type Item = Result<FeedEvent, ReaderError>;

    fn next(&mut self) -> Option<Self::Item> {
        let started = Instant::now();
        loop {
            if !self.checked_since {
                match self.since() {
                    Ok(since) => {
                        self.checked_since = true;
                        if self.after < since {
                            return Some(self.behind(since));
                        }
                    }
                    // No feed (yet): the reflector may not have created it; wait like for data.
                    Err(ReaderError::FeedDisabled | ReaderError::NotFound(_)) => {
                        self.conn = None;
                    }
                    Err(e) => return Some(Err(e)),
                }
            }
            if self.checked_since {
                match self.next_batch() {
                    Err(e) => return Some(Err(e)),
                    Ok(Some((seq, changes))) => {
                        self.after = seq;
                        let changes: Vec<Change> =
                            changes.into_iter().filter(|c| self.matches(c)).collect();
                        if !changes.is_empty() {
                            return Some(Ok(FeedEvent::Batch { seq, changes }));
                        }
                        continue;
                    }
                    Ok(None) => {
                        if self.opened.is_some_and(|t| t.elapsed() >= REOPEN_EVERY) {
                            self.conn = None;
                            // A replaced file's feed may start after this position.
                            if self.since().is_ok_and(|since| since > self.after) {
                                self.checked_since = false;
                                continue;
                            }
                        }
                    }
                }
            }
            if self.timeout.is_some_and(|t| started.elapsed() >= t) {
                if !self.checked_since {
                    return Some(Err(ReaderError::FeedDisabled));
                }
                return None;
            }
            std::thread::sleep(self.poll);
        }
    }
}
