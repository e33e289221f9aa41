//! One NATS connection: the handshake, publishing, and reading the server's operations
//! (`MSG`, `HMSG`, `PING`, `+OK`, `-ERR`, `INFO`), with requests answered on a private inbox.
//!
//! Reads are never cancelled half-way (a cut read would leave the stream mid-message): a wait
//! that runs out makes the connection unusable and is reported as a connection error, after
//! which the caller reconnects.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

use crate::NatsError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a JetStream API request may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A message delivered to us.
#[derive(Debug)]
pub(crate) struct Msg {
    pub subject: String,
    pub reply: Option<String>,
    /// The header block (`NATS/1.0 ...` lines), when the message has headers.
    pub headers: Option<String>,
    pub payload: Vec<u8>,
}

impl Msg {
    /// The status code of a status message (`NATS/1.0 408 Request Timeout`).
    pub fn status(&self) -> Option<u16> {
        let first = self.headers.as_deref()?.lines().next()?;
        first
            .strip_prefix("NATS/1.0")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }
}

pub(crate) struct Connection {
    server: String,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    inbox: String,
    next_reply: u64,
    broken: bool,
}

impl Connection {
    pub async fn connect(server: &str) -> Result<Connection, NatsError> {
        let failed = |reason: String| NatsError::Connection {
            server: server.to_string(),
            reason,
        };
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(server))
            .await
            .map_err(|_| failed("no answer within 5 s".into()))?
            .map_err(|e| failed(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let (read, write) = tcp.into_split();
        let unique = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut conn = Connection {
            server: server.to_string(),
            reader: BufReader::new(read),
            writer: write,
            inbox: format!("_INBOX.ctlstore{}x{unique}", std::process::id()),
            next_reply: 0,
            broken: false,
        };
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let info = conn.read_line(deadline).await?;
        if !info.starts_with("INFO ") {
            return Err(NatsError::Protocol(format!("expected INFO, got {info:?}")));
        }
        let connect = serde_json::json!({
            "verbose": false, "pedantic": false, "headers": true, "no_responders": true,
            "lang": "rust", "version": env!("CARGO_PKG_VERSION"), "protocol": 1,
            "name": "ctlstore-loader",
        });
        let sub = format!("SUB {}.* 1\r\n", conn.inbox);
        conn.write(format!("CONNECT {connect}\r\nPING\r\n{sub}").as_bytes())
            .await?;
        loop {
            let line = conn.read_line(deadline).await?;
            match line.as_str() {
                "PONG" => break,
                "+OK" | "PING" => {}
                l if l.starts_with("-ERR") => return Err(NatsError::Server(l[4..].trim().into())),
                l if l.starts_with("INFO ") => {}
                other => return Err(NatsError::Protocol(format!("unexpected {other:?}"))),
            }
        }
        Ok(conn)
    }

    fn failed(&mut self, reason: impl Into<String>) -> NatsError {
        self.broken = true;
        NatsError::Connection {
            server: self.server.clone(),
            reason: reason.into(),
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), NatsError> {
        if self.broken {
            return Err(self.failed("the connection broke earlier"));
        }
        match tokio::time::timeout(REQUEST_TIMEOUT, self.writer.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.failed(e.to_string())),
            Err(_) => Err(self.failed("could not send within 10 s")),
        }
    }

    async fn read_line(&mut self, deadline: Instant) -> Result<String, NatsError> {
        let mut line = Vec::new();
        match tokio::time::timeout_at(deadline, self.reader.read_until(b'\n', &mut line)).await {
            Err(_) => Err(self.failed("no answer in time")),
            Ok(Err(e)) => Err(self.failed(e.to_string())),
            Ok(Ok(0)) => Err(self.failed("the server closed the connection")),
            Ok(Ok(_)) => Ok(String::from_utf8_lossy(&line).trim_end().to_string()),
        }
    }

    /// A fresh reply subject on our inbox.
    pub fn new_reply(&mut self) -> String {
        self.next_reply += 1;
        format!("{}.{}", self.inbox, self.next_reply)
    }

    pub async fn publish(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        payload: &[u8],
    ) -> Result<(), NatsError> {
        let mut bytes = match reply {
            Some(reply) => format!("PUB {subject} {reply} {}\r\n", payload.len()),
            None => format!("PUB {subject} {}\r\n", payload.len()),
        }
        .into_bytes();
        bytes.extend_from_slice(payload);
        bytes.extend_from_slice(b"\r\n");
        self.write(&bytes).await
    }

    /// The next message for us, answering PINGs on the way. Fails (and breaks the
    /// connection) if none arrives before `deadline`.
    pub async fn next_msg(&mut self, deadline: Instant) -> Result<Msg, NatsError> {
        loop {
            let line = self.read_line(deadline).await?;
            let mut parts = line.split_whitespace();
            match parts.next() {
                Some("PING") => self.write(b"PONG\r\n").await?,
                Some("PONG" | "+OK" | "INFO") | None => {}
                Some("-ERR") => {
                    return Err(NatsError::Server(line[4..].trim().to_string()));
                }
                Some(op @ ("MSG" | "HMSG")) => {
                    let args: Vec<&str> = parts.collect();
                    return self.read_msg(op == "HMSG", &args, deadline).await;
                }
                Some(_) => return Err(NatsError::Protocol(format!("unexpected {line:?}"))),
            }
        }
    }

    async fn read_msg(
        &mut self,
        with_headers: bool,
        args: &[&str],
        deadline: Instant,
    ) -> Result<Msg, NatsError> {
        let bad = || NatsError::Protocol(format!("malformed message line {args:?}"));
        let sizes = if with_headers { 2 } else { 1 };
        if args.len() < 2 + sizes || args.len() > 3 + sizes {
            return Err(bad());
        }
        let number = |s: &str| s.parse::<usize>().map_err(|_| bad());
        let total = number(args[args.len() - 1])?;
        let header_len = if with_headers {
            number(args[args.len() - 2])?
        } else {
            0
        };
        if header_len > total {
            return Err(bad());
        }
        let reply = (args.len() == 3 + sizes).then(|| args[2].to_string());
        let mut body = vec![0u8; total + 2];
        match tokio::time::timeout_at(deadline, self.reader.read_exact(&mut body)).await {
            Err(_) => return Err(self.failed("message cut off")),
            Ok(Err(e)) => return Err(self.failed(e.to_string())),
            Ok(Ok(_)) => {}
        }
        body.truncate(total);
        let payload = body.split_off(header_len);
        let headers = with_headers.then(|| String::from_utf8_lossy(&body).into_owned());
        Ok(Msg {
            subject: args[0].to_string(),
            reply,
            headers,
            payload,
        })
    }

    /// Publishes `payload` to `subject` and waits for the answer on a fresh reply subject.
    pub async fn request(&mut self, subject: &str, payload: &[u8]) -> Result<Msg, NatsError> {
        let reply = self.new_reply();
        self.publish(subject, Some(&reply), payload).await?;
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        loop {
            let msg = self.next_msg(deadline).await?;
            if msg.subject == reply {
                return Ok(msg);
            }
        }
    }

    /// A JetStream API call: the JSON answer, or its `error` as [`NatsError::Api`].
    pub async fn api(
        &mut self,
        subject: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, NatsError> {
        let payload = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let msg = self.request(subject, &payload).await?;
        if msg.status() == Some(503) {
            return Err(NatsError::Api {
                operation: subject.to_string(),
                code: 503,
                description: "no responders: is JetStream enabled on this server?".into(),
            });
        }
        let answer: serde_json::Value = serde_json::from_slice(&msg.payload)
            .map_err(|e| NatsError::Protocol(format!("{subject}: answer is not JSON: {e}")))?;
        if let Some(error) = answer.get("error") {
            return Err(NatsError::Api {
                operation: subject.to_string(),
                code: error.get("code").and_then(|c| c.as_u64()).unwrap_or(0),
                description: error
                    .get("description")
                    .and_then(|d| d.as_str())
                    .unwrap_or("unknown error")
                    .to_string(),
            });
        }
        Ok(answer)
    }
}
