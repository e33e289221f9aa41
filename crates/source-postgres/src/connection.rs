//! One connection to a PostgreSQL server: TCP, startup and login, and the simple query
//! protocol. [`crate::SnapshotReader`] and [`crate::ReplicationClient`] are built on it.
//!
//! Reading is cancel-safe: bytes accumulate in `read_buf` and a message is only taken off once
//! it is complete. Writing is cancel-safe too: outgoing messages wait in `write_buf`, and
//! `flush` only removes what the socket accepted. A query abandoned half-way (a dropped future,
//! a copy not read to the end) is remembered, and its remaining answers are drained before the
//! next request.

use crate::auth::{SCRAM_SHA_256, Scram, md5_password};
use crate::wire::{self, BackendMessage, BodyReader};
use crate::{ConnectConfig, SourceError};
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A plain (non-replication) session, for ordinary SQL and the initial copy.
pub struct PgConnection {
    stream: TcpStream,
    read_buf: BytesMut,
    write_buf: BytesMut,
    backend_pid: i32,
    server_params: Vec<(String, String)>,
    /// A request was sent and its `ReadyForQuery` has not been read yet.
    awaiting_ready: bool,
}

/// What a simple query returned: every row of every result set, and the last command tag.
pub(crate) struct QueryOutcome {
    pub rows: Vec<Vec<Option<String>>>,
    pub tag: String,
}

impl PgConnection {
    /// Connects and logs in (trust, cleartext, MD5 or SCRAM-SHA-256), waiting at most
    /// `config.connect_timeout`.
    pub async fn connect(config: &ConnectConfig) -> Result<PgConnection, SourceError> {
        PgConnection::open(config, false).await
    }

    /// `replication`: ask for a walsender that also runs SQL (`replication=database`).
    pub(crate) async fn open(
        config: &ConnectConfig,
        replication: bool,
    ) -> Result<PgConnection, SourceError> {
        let timeout = config.connect_timeout;
        match tokio::time::timeout(timeout, PgConnection::open_now(config, replication)).await {
            Ok(result) => result,
            Err(_) => Err(SourceError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "no answer from {}:{} within {timeout:?} (connect_timeout)",
                    config.host, config.port
                ),
            ))),
        }
    }

    async fn open_now(
        config: &ConnectConfig,
        replication: bool,
    ) -> Result<PgConnection, SourceError> {
        let stream = TcpStream::connect((config.host.as_str(), config.port))
            .await
            .map_err(|e| {
                SourceError::Io(std::io::Error::new(
                    e.kind(),
                    format!("cannot connect to {}:{}: {e}", config.host, config.port),
                ))
            })?;
        // Standby status updates and queries are small; don't let Nagle hold them back.
        stream.set_nodelay(true)?;
        let mut conn = PgConnection {
            stream,
            read_buf: BytesMut::with_capacity(16 * 1024),
            write_buf: BytesMut::with_capacity(1024),
            backend_pid: 0,
            server_params: Vec::new(),
            awaiting_ready: true,
        };
        // The same session settings on both connection kinds, so pgoutput (which formats values
        // in the walsender with these settings) and COPY produce the same text for a value.
        let mut params = vec![
            ("user", config.user.as_str()),
            ("database", config.database.as_str()),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO, YMD"),
            ("IntervalStyle", "postgres"),
            ("TimeZone", "UTC"),
            ("application_name", config.application_name.as_str()),
        ];
        if replication {
            params.push(("replication", "database"));
        }
        wire::startup(&mut conn.write_buf, &params);
        conn.flush().await?;
        conn.authenticate(config).await?;
        conn.wait_ready_after_login().await?;
        Ok(conn)
    }

    async fn authenticate(&mut self, config: &ConnectConfig) -> Result<(), SourceError> {
        let mut scram: Option<Scram> = None;
        loop {
            let msg = self.read_message().await?;
            match msg.tag {
                b'R' => {}
                b'E' => return Err(login_error(&msg)?),
                b'v' => continue, // NegotiateProtocolVersion: the server lacks a minor feature; fine.
                other => {
                    return Err(SourceError::protocol(format!(
                        "expected an authentication request, got message '{}'",
                        other as char
                    )));
                }
            }
            let mut body = BodyReader::new(&msg.body, "Authentication");
            let password = || {
                config.password.as_deref().ok_or_else(|| {
                    SourceError::Auth(format!(
                        "the server wants a password for user \"{}\" but the connection URL has none",
                        config.user
                    ))
                })
            };
            match body.i32()? {
                0 => return Ok(()),
                3 => wire::password(&mut self.write_buf, password()?),
                5 => {
                    let salt: [u8; 4] = body
                        .take(4)?
                        .try_into()
                        .map_err(|_| SourceError::protocol("MD5 salt is not 4 bytes"))?;
                    wire::password(
                        &mut self.write_buf,
                        &md5_password(&config.user, password()?, salt),
                    );
                }
                10 => {
                    let mut mechanisms = Vec::new();
                    loop {
                        let name = body.cstr()?;
                        if name.is_empty() {
                            break;
                        }
                        mechanisms.push(name);
                    }
                    if !mechanisms.iter().any(|m| m == SCRAM_SHA_256) {
                        return Err(SourceError::Auth(format!(
                            "the server offers only SASL mechanisms {mechanisms:?}; this client speaks {SCRAM_SHA_256}"
                        )));
                    }
                    let exchange = Scram::new("", password()?, Scram::random_nonce());
                    wire::sasl_initial_response(
                        &mut self.write_buf,
                        SCRAM_SHA_256,
                        exchange.client_first().as_bytes(),
                    );
                    scram = Some(exchange);
                }
                11 => {
                    let exchange = scram
                        .as_mut()
                        .ok_or_else(|| SourceError::protocol("SASLContinue before SASL started"))?;
                    let answer = exchange.client_final(body.rest())?;
                    wire::sasl_response(&mut self.write_buf, answer.as_bytes());
                }
                12 => {
                    let exchange = scram
                        .as_ref()
                        .ok_or_else(|| SourceError::protocol("SASLFinal before SASL started"))?;
                    exchange.verify_server_final(body.rest())?;
                }
                other => {
                    return Err(SourceError::Auth(format!(
                        "the server asks for authentication method {other} (Kerberos, GSSAPI or SSPI); this client supports trust, password, md5 and scram-sha-256"
                    )));
                }
            }
            self.flush().await?;
        }
    }

    async fn wait_ready_after_login(&mut self) -> Result<(), SourceError> {
        loop {
            let msg = self.read_message().await?;
            match msg.tag {
                b'K' => {
                    let mut body = BodyReader::new(&msg.body, "BackendKeyData");
                    self.backend_pid = body.i32()?;
                }
                b'Z' => {
                    self.awaiting_ready = false;
                    return Ok(());
                }
                b'E' => return Err(login_error(&msg)?),
                _ => {}
            }
        }
    }

    /// Runs one or more `;`-separated statements with the simple query protocol and returns
    /// every row as text (`None` for NULL). Meant for catalog queries and tests, not bulk data.
    pub async fn simple_query(
        &mut self,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, SourceError> {
        Ok(self.query(sql).await?.rows)
    }

    /// Runs statements and returns the row count of the last one's command tag (`INSERT 0 3`
    /// → 3; 0 for tags without a count, like `CREATE TABLE`).
    pub async fn execute(&mut self, sql: &str) -> Result<u64, SourceError> {
        let tag = self.query(sql).await?.tag;
        Ok(tag
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    /// A parameter the server reported (`server_version`, `TimeZone`, ...).
    pub fn server_parameter(&self, name: &str) -> Option<&str> {
        self.server_params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The server process serving this connection (as in `pg_stat_activity.pid`).
    pub fn backend_pid(&self) -> i32 {
        self.backend_pid
    }

    /// Says goodbye (`Terminate`) and closes the socket.
    pub async fn close(mut self) -> Result<(), SourceError> {
        wire::terminate(&mut self.write_buf);
        self.flush().await?;
        self.stream.shutdown().await?;
        Ok(())
    }

    pub(crate) async fn query(&mut self, sql: &str) -> Result<QueryOutcome, SourceError> {
        self.send_query(sql).await?;
        let mut outcome = QueryOutcome {
            rows: Vec::new(),
            tag: String::new(),
        };
        let mut error = None;
        loop {
            let msg = self.read_message().await?;
            match msg.tag {
                b'T' | b'I' | b'd' | b'c' => {}
                b'D' => outcome.rows.push(parse_data_row(&msg.body)?),
                b'C' => outcome.tag = BodyReader::new(&msg.body, "CommandComplete").cstr()?,
                b'E' => error = Some(SourceError::from(wire::parse_error_fields(&msg.body)?)),
                b'H' => {} // COPY TO STDOUT through simple_query: the data is skipped.
                b'G' => {
                    // COPY FROM STDIN has no data source here: refuse it cleanly.
                    self.queue_copy_fail("COPY FROM STDIN is not supported by simple_query");
                    self.flush().await?;
                }
                b'W' => {
                    return Err(SourceError::protocol(
                        "START_REPLICATION through simple_query; use ReplicationClient::start",
                    ));
                }
                b'Z' => {
                    self.awaiting_ready = false;
                    return match error {
                        Some(e) => Err(e),
                        None => Ok(outcome),
                    };
                }
                other => {
                    return Err(SourceError::protocol(format!(
                        "unexpected message '{}' in a query's answer",
                        other as char
                    )));
                }
            }
        }
    }

    /// Sends `sql`, first draining whatever an abandoned earlier request left unread.
    pub(crate) async fn send_query(&mut self, sql: &str) -> Result<(), SourceError> {
        self.drain_until_ready().await?;
        wire::query(&mut self.write_buf, sql);
        self.awaiting_ready = true;
        self.flush().await
    }

    async fn drain_until_ready(&mut self) -> Result<(), SourceError> {
        while self.awaiting_ready {
            self.flush().await?;
            let msg = self.read_message().await?;
            match msg.tag {
                b'Z' => self.awaiting_ready = false,
                // An abandoned COPY FROM STDIN would wait forever for data.
                b'G' => self.queue_copy_fail("abandoned by the client"),
                _ => {}
            }
        }
        Ok(())
    }

    fn queue_copy_fail(&mut self, reason: &str) {
        let mut body = reason.as_bytes().to_vec();
        body.push(0);
        self.write_buf.extend_from_slice(b"f");
        let len = i32::try_from(body.len() + 4).unwrap_or(i32::MAX);
        self.write_buf.extend_from_slice(&len.to_be_bytes());
        self.write_buf.extend_from_slice(&body);
    }

    pub(crate) fn mark_ready(&mut self) {
        self.awaiting_ready = false;
    }

    pub(crate) fn write_buf(&mut self) -> &mut BytesMut {
        &mut self.write_buf
    }

    /// Writes out everything queued. Cancel-safe: unsent bytes stay queued.
    pub(crate) async fn flush(&mut self) -> Result<(), SourceError> {
        while !self.write_buf.is_empty() {
            let n = self.stream.write_buf(&mut self.write_buf).await?;
            if n == 0 {
                return Err(SourceError::ConnectionClosed);
            }
        }
        Ok(())
    }

    /// The next message that matters to the caller: notices, parameter changes and
    /// notifications are handled here. `ErrorResponse` is returned like any other message.
    /// Cancel-safe.
    pub(crate) async fn read_message(&mut self) -> Result<BackendMessage, SourceError> {
        loop {
            if let Some(msg) = self.try_take_message()? {
                return Ok(msg);
            }
            self.fill().await?;
        }
    }

    /// A complete message already received, if any (notices and the like are consumed).
    pub(crate) fn try_take_message(&mut self) -> Result<Option<BackendMessage>, SourceError> {
        while let Some(msg) = wire::take_message(&mut self.read_buf)? {
            match msg.tag {
                b'N' => log_notice(&msg),
                b'S' => self.record_parameter(&msg)?,
                b'A' => {} // LISTEN/NOTIFY: we never LISTEN.
                _ => return Ok(Some(msg)),
            }
        }
        Ok(None)
    }

    /// Reads whatever the socket has into `read_buf`. Cancel-safe (a single `read_buf`).
    pub(crate) async fn fill(&mut self) -> Result<(), SourceError> {
        if self.read_buf.capacity() - self.read_buf.len() < 4096 {
            self.read_buf.reserve(16 * 1024);
        }
        let n = self.stream.read_buf(&mut self.read_buf).await?;
        if n == 0 {
            return Err(SourceError::ConnectionClosed);
        }
        Ok(())
    }

    fn record_parameter(&mut self, msg: &BackendMessage) -> Result<(), SourceError> {
        let mut body = BodyReader::new(&msg.body, "ParameterStatus");
        let name = body.cstr()?;
        let value = body.cstr()?;
        match self.server_params.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.server_params.push((name, value)),
        }
        Ok(())
    }
}

fn log_notice(msg: &BackendMessage) {
    match wire::parse_error_fields(&msg.body) {
        Ok(f) => {
            tracing::info!(severity = %f.severity, code = %f.code, message = %f.message, "postgres notice")
        }
        Err(e) => tracing::warn!(error = %e, "unreadable postgres notice"),
    }
}

/// An `ErrorResponse` during login: class 28 (invalid authorization) is an [`SourceError::Auth`].
fn login_error(msg: &BackendMessage) -> Result<SourceError, SourceError> {
    let fields = wire::parse_error_fields(&msg.body)?;
    if fields.code.starts_with("28") {
        return Ok(SourceError::Auth(format!(
            "{} (SQLSTATE {}); check the user name, the password and the server's pg_hba.conf",
            fields.message, fields.code
        )));
    }
    Ok(fields.into())
}

pub(crate) fn parse_data_row(body: &[u8]) -> Result<Vec<Option<String>>, SourceError> {
    let mut reader = BodyReader::new(body, "DataRow");
    let count = reader.i16()?;
    let mut row = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for _ in 0..count {
        let len = reader.i32()?;
        if len < 0 {
            row.push(None);
            continue;
        }
        let bytes = reader.take(usize::try_from(len).unwrap_or(0))?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| SourceError::protocol("DataRow holds a value that is not UTF-8"))?;
        row.push(Some(text));
    }
    Ok(row)
}
