//! Logical replication: a walsender connection (`replication=database`) that manages slots and
//! streams a publication's changes through the CopyBoth sub-protocol, answering the server's
//! keepalives and reporting how far the consumer has durably applied.

use crate::connection::PgConnection;
use crate::pgoutput::{self, Event, PG_EPOCH_OFFSET_MICROS};
use crate::table::{quote_ident, quote_literal};
use crate::wire::{self, BackendMessage, BodyReader};
use crate::{ConnectConfig, Lsn, SourceError};
use bytes::BufMut;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Standby status updates go out at least this often, well inside the server's default
/// `wal_sender_timeout` (60 s), so an idle but healthy stream is never cut.
const STATUS_INTERVAL: Duration = Duration::from_secs(10);

/// SQLSTATE `object_in_use`: the slot is held by another walsender.
const OBJECT_IN_USE: &str = "55006";

/// A row of `pg_replication_slots`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    /// How far the consumer confirmed (`confirmed_flush_lsn`); the stream resumes after it.
    pub confirmed_flush: Option<Lsn>,
    /// The server process streaming from the slot now, if any.
    pub active_pid: Option<i32>,
    /// Output plugin (`pgoutput` for slots this crate creates).
    pub plugin: String,
}

/// What `CREATE_REPLICATION_SLOT` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSlot {
    /// The stream starts with transactions committing after this point; the snapshot shows
    /// everything before it.
    pub consistent_point: Lsn,
    /// For [`crate::SnapshotReader::begin`]; valid while the creating connection stays open
    /// and runs no other command.
    pub snapshot_name: String,
}

/// A replication connection, before streaming.
pub struct ReplicationClient {
    conn: PgConnection,
}

impl ReplicationClient {
    /// Connects with `replication=database` (the role needs the REPLICATION attribute and a
    /// `replication` line in pg_hba.conf).
    pub async fn connect(config: &ConnectConfig) -> Result<ReplicationClient, SourceError> {
        Ok(ReplicationClient {
            conn: PgConnection::open(config, true).await?,
        })
    }

    /// The slot's row from `pg_replication_slots`, or `None` if there is no such slot.
    pub async fn slot(&mut self, slot: &str) -> Result<Option<SlotInfo>, SourceError> {
        let rows = self
            .conn
            .simple_query(&format!(
                "SELECT confirmed_flush_lsn, active_pid, plugin FROM pg_replication_slots WHERE slot_name = {}",
                quote_literal(slot)
            ))
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let [confirmed, pid, plugin] = <[Option<String>; 3]>::try_from(row)
            .map_err(|_| SourceError::protocol("pg_replication_slots row has the wrong width"))?;
        Ok(Some(SlotInfo {
            confirmed_flush: confirmed.map(|c| c.parse()).transpose()?,
            active_pid: pid.and_then(|p| p.parse().ok()),
            plugin: plugin.unwrap_or_default(),
        }))
    }

    /// `CREATE_REPLICATION_SLOT slot LOGICAL pgoutput EXPORT_SNAPSHOT`. Copy through a
    /// [`crate::SnapshotReader`] with the returned snapshot *before* calling any other method
    /// here (the next command on this connection ends the snapshot), then [`Self::start`].
    pub async fn create_slot(&mut self, slot: &str) -> Result<CreatedSlot, SourceError> {
        validate_slot_name(slot)?;
        let rows = self
            .conn
            .simple_query(&format!(
                "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput EXPORT_SNAPSHOT",
                quote_ident(slot)
            ))
            .await?;
        let row = rows
            .into_iter()
            .next()
            .ok_or_else(|| SourceError::protocol("CREATE_REPLICATION_SLOT returned no row"))?;
        let field = |i: usize| row.get(i).cloned().flatten();
        let consistent_point = field(1)
            .ok_or_else(|| {
                SourceError::protocol("CREATE_REPLICATION_SLOT returned no consistent point")
            })?
            .parse()?;
        let snapshot_name = field(2)
            .ok_or_else(|| SourceError::protocol("CREATE_REPLICATION_SLOT exported no snapshot"))?;
        Ok(CreatedSlot {
            consistent_point,
            snapshot_name,
        })
    }

    /// `DROP_REPLICATION_SLOT`; [`SourceError::SlotActive`] while another connection streams
    /// from it.
    pub async fn drop_slot(&mut self, slot: &str) -> Result<(), SourceError> {
        validate_slot_name(slot)?;
        self.conn
            .execute(&format!("DROP_REPLICATION_SLOT {}", quote_ident(slot)))
            .await
            .map_err(|e| slot_error(e, slot))?;
        Ok(())
    }

    /// Runs SQL (or a replication command) on this connection.
    pub async fn simple_query(
        &mut self,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, SourceError> {
        self.conn.simple_query(sql).await
    }

    /// Starts streaming `publication` from `slot` (pgoutput protocol version 1). The server
    /// resumes at the later of `start` and the slot's confirmed position, so `Lsn(0)` means
    /// "wherever the slot is". [`SourceError::SlotActive`] if another connection holds the slot.
    pub async fn start(
        mut self,
        slot: &str,
        publication: &str,
        start: Lsn,
    ) -> Result<ReplicationStream, SourceError> {
        validate_slot_name(slot)?;
        // publication_names is a string holding a list of identifiers: quote the identifier,
        // then the string.
        let sql = format!(
            "START_REPLICATION SLOT {} LOGICAL {start} (proto_version '1', publication_names {})",
            quote_ident(slot),
            quote_literal(&quote_ident(publication))
        );
        self.conn.send_query(&sql).await?;
        let msg = self.conn.read_message().await?;
        match msg.tag {
            b'W' => {}
            b'E' => {
                let error = SourceError::from(wire::parse_error_fields(&msg.body)?);
                while self.conn.read_message().await?.tag != b'Z' {}
                self.conn.mark_ready();
                return Err(slot_error(error, slot));
            }
            other => {
                return Err(SourceError::protocol(format!(
                    "expected CopyBothResponse after START_REPLICATION, got message '{}'",
                    other as char
                )));
            }
        }
        tracing::debug!(slot, publication, %start, "replication started");
        Ok(ReplicationStream {
            conn: self.conn,
            slot: slot.to_owned(),
            confirmed: Lsn(0),
            server_wal_end: Lsn(0),
            next_status_at: Instant::now() + STATUS_INTERVAL,
            state: StreamState::Streaming,
        })
    }

    /// Closes the connection.
    pub async fn close(self) -> Result<(), SourceError> {
        self.conn.close().await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamState {
    Streaming,
    /// The server ended the copy; we answered and wait for ReadyForQuery.
    Ending,
    Ended,
}

/// A running logical replication stream.
pub struct ReplicationStream {
    conn: PgConnection,
    slot: String,
    confirmed: Lsn,
    server_wal_end: Lsn,
    next_status_at: Instant,
    state: StreamState,
}

impl ReplicationStream {
    /// The next change. Keepalives are answered here, and a status update goes out at least
    /// every 10 s while the caller is waiting in this method, so call it often (e.g. in a
    /// `tokio::select!` loop). `Ok(None)` once the server ends the stream.
    ///
    /// Cancel-safe: partial messages and unsent replies stay buffered in the stream, so
    /// dropping the future loses nothing.
    pub async fn next(&mut self) -> Result<Option<Event>, SourceError> {
        loop {
            if self.state == StreamState::Ended {
                return Ok(None);
            }
            self.conn.flush().await?;
            if let Some(msg) = self.conn.try_take_message()? {
                if let Some(event) = self.handle(msg)? {
                    return Ok(Some(event));
                }
                continue;
            }
            let woke = tokio::select! {
                read = self.conn.fill() => Wake::Data(read),
                () = tokio::time::sleep_until(self.next_status_at) => Wake::StatusDue,
            };
            match woke {
                Wake::Data(read) => read?,
                Wake::StatusDue => self.queue_status(),
            }
        }
    }

    fn handle(&mut self, msg: BackendMessage) -> Result<Option<Event>, SourceError> {
        match msg.tag {
            b'd' if self.state == StreamState::Streaming => self.handle_copy_data(&msg.body),
            b'd' => Ok(None),
            b'c' => {
                // The server ended the stream: answer with our CopyDone, then read to
                // ReadyForQuery.
                if self.state == StreamState::Streaming {
                    wire::copy_done(self.conn.write_buf());
                }
                self.state = StreamState::Ending;
                Ok(None)
            }
            b'C' | b'T' | b'D' => Ok(None),
            b'Z' => {
                self.conn.mark_ready();
                self.state = StreamState::Ended;
                Ok(None)
            }
            b'E' => {
                self.state = StreamState::Ended;
                let error = SourceError::from(wire::parse_error_fields(&msg.body)?);
                Err(slot_error(error, &self.slot))
            }
            other => Err(SourceError::protocol(format!(
                "unexpected message '{}' in the replication stream",
                other as char
            ))),
        }
    }

    fn handle_copy_data(&mut self, body: &[u8]) -> Result<Option<Event>, SourceError> {
        let mut r = BodyReader::new(body, "replication CopyData");
        match r.u8()? {
            b'w' => {
                let _wal_start = r.u64()?;
                let wal_end = Lsn(r.u64()?);
                let _send_time = r.i64()?;
                self.server_wal_end = self.server_wal_end.max(wal_end);
                pgoutput::decode(r.rest()).map(Some)
            }
            b'k' => {
                let wal_end = Lsn(r.u64()?);
                let _send_time = r.i64()?;
                let reply_requested = r.u8()? == 1;
                self.server_wal_end = self.server_wal_end.max(wal_end);
                if reply_requested {
                    self.queue_status();
                }
                Ok(None)
            }
            other => Err(SourceError::protocol(format!(
                "unknown replication message '{}'",
                other as char
            ))),
        }
    }

    /// Records that everything up to `lsn` (a `Commit`'s `end_lsn`) is durably applied. The
    /// server learns it with the next status update and may then recycle that WAL; after a
    /// reconnect, transactions that ended at or before it are not sent again. Never moves back.
    pub fn confirm(&mut self, lsn: Lsn) {
        self.confirmed = self.confirmed.max(lsn);
    }

    /// The position last passed to [`Self::confirm`].
    pub fn confirmed(&self) -> Lsn {
        self.confirmed
    }

    /// The furthest WAL position the server said it has sent (from data and keepalives).
    pub fn server_wal_end(&self) -> Lsn {
        self.server_wal_end
    }

    /// Sends a standby status update now.
    pub async fn send_status(&mut self) -> Result<(), SourceError> {
        self.queue_status();
        self.conn.flush().await
    }

    /// Reports the confirmed position, ends the stream politely (so the server has processed
    /// the report before the slot is released) and closes the connection.
    pub async fn close(mut self) -> Result<(), SourceError> {
        if self.state == StreamState::Streaming {
            self.queue_status();
            wire::copy_done(self.conn.write_buf());
            self.state = StreamState::Ending;
        }
        let drain = async {
            while self.state != StreamState::Ended {
                self.conn.flush().await?;
                let msg = self.conn.read_message().await?;
                self.handle(msg)?;
            }
            Ok::<(), SourceError>(())
        };
        match tokio::time::timeout(STATUS_INTERVAL, drain).await {
            Ok(result) => result?,
            Err(_) => {
                tracing::warn!(slot = %self.slot, "server did not end the replication stream in time; closing anyway")
            }
        }
        self.conn.close().await
    }

    /// Queues a standby status update: write, flush and apply positions all equal the
    /// confirmed LSN, since the consumer's "applied" is the only durable point we know. Sending
    /// 0/0 before anything is confirmed is harmless: the server ignores an invalid position.
    fn queue_status(&mut self) {
        let mut body = Vec::with_capacity(34);
        body.put_u8(b'r');
        for _ in 0..3 {
            body.put_u64(self.confirmed.0);
        }
        body.put_i64(pg_now_micros());
        body.put_u8(0);
        wire::copy_data(self.conn.write_buf(), &body);
        self.next_status_at = Instant::now() + STATUS_INTERVAL;
    }
}

enum Wake {
    Data(Result<(), SourceError>),
    StatusDue,
}

/// Microseconds since PostgreSQL's epoch, for status updates.
fn pg_now_micros() -> i64 {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    unix - PG_EPOCH_OFFSET_MICROS
}

/// Slot names are `[a-z0-9_]{1,63}` (PostgreSQL's own rule); checking here gives a clear
/// message instead of a syntax error from the replication grammar.
fn validate_slot_name(slot: &str) -> Result<(), SourceError> {
    let ok = !slot.is_empty()
        && slot.len() <= 63
        && slot
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        return Ok(());
    }
    Err(SourceError::InvalidName(format!(
        "replication slot name {slot:?} may only contain lower-case letters, digits and underscores (at most 63)"
    )))
}

/// "replication slot "s" is active for PID 1234" (SQLSTATE 55006) becomes SlotActive.
fn slot_error(error: SourceError, slot: &str) -> SourceError {
    match &error {
        SourceError::Server { code, message, .. } if code == OBJECT_IN_USE => {
            SourceError::SlotActive {
                slot: slot.to_owned(),
                pid: message
                    .rsplit(' ')
                    .next()
                    .and_then(|p| p.trim_end_matches('.').parse().ok()),
            }
        }
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_slot_in_use_to_slot_active() {
        let error = SourceError::Server {
            code: "55006".into(),
            message: "replication slot \"s1\" is active for PID 4242".into(),
            detail: None,
        };
        match slot_error(error, "s1") {
            SourceError::SlotActive { slot, pid } => {
                assert_eq!((slot.as_str(), pid), ("s1", Some(4242)))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn validates_slot_names() {
        assert!(validate_slot_name("ctlstore_1").is_ok());
        for bad in ["", "Upper", "a-b", "a\"b", &"x".repeat(64)] {
            assert!(validate_slot_name(bad).is_err(), "{bad:?}");
        }
    }
}
