//! A pull consumer on one stream, started right after the caller's position.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::NatsError;
use crate::NatsUrl;
use crate::connection::Connection;

/// One message from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsMessage {
    pub stream_seq: u64,
    pub subject: String,
    pub payload: Vec<u8>,
    pub published_unix_nanos: i64,
}

/// Acknowledgements are hints here (the caller's position is the truth), so a long wait before
/// redelivery keeps the server from resending what is merely slow to be acknowledged.
const ACK_WAIT_NANOS: u64 = 3_600_000_000_000;
/// Messages delivered and not yet acknowledged before the server pauses delivery.
const MAX_ACK_PENDING: u64 = 100_000;
/// Extra time beyond a pull's expiry for its end-of-pull status to arrive.
const PULL_GRACE: Duration = Duration::from_secs(5);

pub struct JetStreamConsumer {
    conn: Connection,
    stream: String,
    consumer: String,
    /// The last stream sequence delivered: a redelivery at or below it is dropped.
    last_seq: u64,
    /// Acknowledgement subjects of delivered messages, by stream sequence.
    acks: VecDeque<(u64, String)>,
}

impl JetStreamConsumer {
    /// Connects and creates a pull consumer delivering from stream sequence `after_seq + 1`
    /// (everything when `after_seq` is 0), filtered by the URL's subject. A durable name is
    /// deleted first and re-created at that start: the caller's position wins over whatever the
    /// server remembered. Fails with [`NatsError::StreamNotFound`] and
    /// [`NatsError::PositionGone`] rather than start anywhere else.
    pub async fn connect(url: &NatsUrl, after_seq: u64) -> Result<JetStreamConsumer, NatsError> {
        let mut conn = Connection::connect(&url.server).await?;
        let (first, last) = stream_bounds(&mut conn, &url.stream).await?;
        if after_seq > 0 && (after_seq + 1 < first || after_seq > last) {
            return Err(NatsError::PositionGone {
                stream: url.stream.clone(),
                after: after_seq,
                first,
                last,
            });
        }
        let mut config = json!({
            "ack_policy": "all",
            "ack_wait": ACK_WAIT_NANOS,
            "max_ack_pending": MAX_ACK_PENDING,
            "replay_policy": "instant",
        });
        if after_seq == 0 {
            config["deliver_policy"] = json!("all");
        } else {
            config["deliver_policy"] = json!("by_start_sequence");
            config["opt_start_seq"] = json!(after_seq + 1);
        }
        if let Some(subject) = &url.subject {
            config["filter_subject"] = json!(subject);
        }
        let stream = &url.stream;
        let consumer = match &url.durable {
            Some(durable) => {
                match conn
                    .api(
                        &format!("$JS.API.CONSUMER.DELETE.{stream}.{durable}"),
                        &json!(null),
                    )
                    .await
                {
                    Ok(_) | Err(NatsError::Api { code: 404, .. }) => {}
                    Err(e) => return Err(e),
                }
                config["durable_name"] = json!(durable);
                let subject = format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}");
                conn.api(&subject, &json!({"stream_name": stream, "config": config}))
                    .await?;
                durable.clone()
            }
            None => {
                let subject = format!("$JS.API.CONSUMER.CREATE.{stream}");
                let answer = conn
                    .api(&subject, &json!({"stream_name": stream, "config": config}))
                    .await?;
                answer
                    .get("name")
                    .and_then(|n| n.as_str())
                    .ok_or_else(|| NatsError::Protocol("the new consumer has no name".into()))?
                    .to_string()
            }
        };
        Ok(JetStreamConsumer {
            conn,
            stream: stream.clone(),
            consumer,
            last_seq: after_seq,
            acks: VecDeque::new(),
        })
    }

    /// Waits up to `max_wait` for up to `max` messages, in stream order. Not cancel-safe:
    /// dropping the future mid-read leaves the connection unusable (reconnect).
    pub async fn poll(
        &mut self,
        max: usize,
        max_wait: Duration,
    ) -> Result<Vec<NatsMessage>, NatsError> {
        let max_wait = max_wait.max(Duration::from_millis(1));
        let reply = self.conn.new_reply();
        let request = json!({"batch": max.max(1), "expires": max_wait.as_nanos() as u64});
        let subject = format!(
            "$JS.API.CONSUMER.MSG.NEXT.{}.{}",
            self.stream, self.consumer
        );
        self.conn
            .publish(&subject, Some(&reply), request.to_string().as_bytes())
            .await?;
        let deadline = Instant::now() + max_wait + PULL_GRACE;
        let mut out = Vec::new();
        while out.len() < max.max(1) {
            let msg = self.conn.next_msg(deadline).await?;
            // Data arrives on its original subject with an acknowledgement subject as reply;
            // the pull's statuses arrive on the pull's own reply subject. Only one pull is
            // outstanding per connection, so anything else is a leftover of an earlier one.
            let is_data = msg
                .reply
                .as_deref()
                .is_some_and(|r| r.starts_with("$JS.ACK."));
            if !is_data {
                if msg.subject != reply {
                    continue;
                }
                match msg.status() {
                    // The pull expired, or there is nothing (more) to deliver.
                    Some(404 | 408) => break,
                    Some(409) => {
                        let why = msg
                            .headers
                            .as_deref()
                            .unwrap_or_default()
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_string();
                        return Err(NatsError::Api {
                            operation: subject,
                            code: 409,
                            description: why,
                        });
                    }
                    // Idle heartbeats and anything else informational.
                    _ => continue,
                }
            }
            let Some(ack) = msg.reply else {
                continue;
            };
            let (stream_seq, published) = parse_ack_subject(&ack).ok_or_else(|| {
                NatsError::Protocol(format!("unexpected acknowledgement subject {ack:?}"))
            })?;
            if stream_seq <= self.last_seq {
                continue;
            }
            self.last_seq = stream_seq;
            self.acks.push_back((stream_seq, ack));
            // Bounded: only the newest subject at or below a position is ever used.
            if self.acks.len() > 10_000 {
                self.acks.pop_front();
            }
            out.push(NatsMessage {
                stream_seq,
                subject: msg.subject,
                payload: msg.payload,
                published_unix_nanos: published,
            });
        }
        Ok(out)
    }

    /// Acknowledges everything delivered up to and including `stream_seq` (ack policy "all").
    pub async fn ack_through(&mut self, stream_seq: u64) -> Result<(), NatsError> {
        let mut newest = None;
        while let Some((seq, _)) = self.acks.front() {
            if *seq > stream_seq {
                break;
            }
            newest = self.acks.pop_front().map(|(_, subject)| subject);
        }
        match newest {
            Some(subject) => self.conn.publish(&subject, None, b"+ACK").await,
            None => Ok(()),
        }
    }

    /// The stream's first and last sequences.
    pub async fn stream_bounds(&mut self) -> Result<(u64, u64), NatsError> {
        stream_bounds(&mut self.conn, &self.stream).await
    }
}

pub(crate) async fn stream_bounds(
    conn: &mut Connection,
    stream: &str,
) -> Result<(u64, u64), NatsError> {
    let info = match conn
        .api(&format!("$JS.API.STREAM.INFO.{stream}"), &json!(null))
        .await
    {
        Err(NatsError::Api { code: 404, .. }) => {
            return Err(NatsError::StreamNotFound {
                stream: stream.to_string(),
            });
        }
        other => other?,
    };
    let state = info.get("state");
    let number = |k: &str| {
        state
            .and_then(|s| s.get(k))
            .and_then(|v| v.as_u64())
            .unwrap_or(0)
    };
    Ok((number("first_seq"), number("last_seq")))
}

/// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns>.<pending>`, or
/// the newer form with a domain and an account hash after `ACK` (and a random token last).
fn parse_ack_subject(subject: &str) -> Option<(u64, i64)> {
    let tokens: Vec<&str> = subject.split('.').collect();
    if tokens.len() < 9 || tokens[0] != "$JS" || tokens[1] != "ACK" {
        return None;
    }
    let base = if tokens.len() == 9 { 2 } else { 4 };
    let stream_seq = tokens.get(base + 3)?.parse().ok()?;
    let published = tokens.get(base + 5)?.parse().ok()?;
    Some((stream_seq, published))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgement_subjects_carry_the_stream_sequence() {
        assert_eq!(
            parse_ack_subject("$JS.ACK.S.C.1.42.7.1700000000000000000.3"),
            Some((42, 1_700_000_000_000_000_000))
        );
        assert_eq!(
            parse_ack_subject("$JS.ACK.dom.acchash.S.C.1.42.7.1700000000000000000.3.xyz"),
            Some((42, 1_700_000_000_000_000_000))
        );
        assert_eq!(parse_ack_subject("$JS.ACK.S.C"), None);
        assert_eq!(parse_ack_subject("foo.bar.S.C.1.42.7.1.3"), None);
    }
}
