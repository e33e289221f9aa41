//! Source positions and the writer cookie that stores them.
//!
//! Every change a source yields carries a [`Mark`]: where it sits in the source. The loader's
//! [`Position`] is how far the source has been applied; it is stored as the writer's cookie in
//! the same ctldb transaction as the batch that reached it, so "applied" and "position" can
//! never disagree (docs/loader.md, "Exactly once"). On start the loader reads the cookie and
//! skips every change the position already [covers](Position::covers).
//!
//! The cookie is `ctlstore-loader/1 ` followed by compact JSON, so an operator reading it with
//! `ctlstore writer cookie` sees what it means. Anything else (a new writer's initial cookie,
//! another program's) means "nothing applied yet".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What every loader cookie starts with; the digit is the format's version.
pub const COOKIE_PREFIX: &str = "ctlstore-loader/1 ";

/// The largest cookie the executive stores (ctlstore's `BLOB(1024)`).
pub const MAX_COOKIE_BYTES: usize = 1024;

/// Rows of a PostgreSQL transaction already applied, when all of them are.
pub const WHOLE_TRANSACTION: u64 = u64::MAX;

/// Where one change sits in its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// Row `row` (1-based) of the transaction that commits at `lsn`; `WHOLE_TRANSACTION` for a
    /// change that ends it (a TRUNCATE, or the transaction's last row).
    Postgres {
        lsn: u64,
        row: u64,
    },
    /// A row of the initial copy, taken from the snapshot at `consistent_lsn`.
    PostgresCopy {
        consistent_lsn: u64,
    },
    Kafka {
        topic: String,
        partition: i32,
        offset: i64,
    },
    Nats {
        seq: u64,
    },
    File {
        line: u64,
    },
}

/// How far a source has been applied. Serialised into the cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Every transaction committed at or before `lsn` is applied, and `rows` rows of the one
    /// at `lsn` ([`WHOLE_TRANSACTION`] when all of it).
    Postgres {
        #[serde(with = "lsn_text")]
        lsn: u64,
        #[serde(default = "whole", skip_serializing_if = "is_whole")]
        rows: u64,
    },
    /// The initial copy from the snapshot at `consistent_lsn` is under way (not finished: a
    /// restart copies again from a new snapshot).
    PostgresCopy {
        #[serde(with = "lsn_text")]
        consistent_lsn: u64,
    },
    /// The next offset to read, per `topic/partition`.
    Kafka(BTreeMap<String, i64>),
    /// The last applied stream sequence.
    Nats(u64),
    /// The last applied line (1-based).
    File(u64),
}

fn whole() -> u64 {
    WHOLE_TRANSACTION
}

fn is_whole(rows: &u64) -> bool {
    *rows == WHOLE_TRANSACTION
}

/// The key of a Kafka partition in a [`Position::Kafka`] map.
pub fn kafka_partition_key(topic: &str, partition: i32) -> String {
    format!("{topic}/{partition}")
}

impl Position {
    /// Whether the change at `mark` is already applied.
    pub fn covers(&self, mark: &Mark) -> bool {
        match (self, mark) {
            (Position::Postgres { lsn, rows }, Mark::Postgres { lsn: at, row }) => {
                at < lsn || (at == lsn && row <= rows)
            }
            // A finished copy covers every copied row; an unfinished one covers nothing
            // (the copy restarts from a new snapshot).
            (Position::Postgres { .. }, Mark::PostgresCopy { .. }) => true,
            (
                Position::Kafka(next),
                Mark::Kafka {
                    topic,
                    partition,
                    offset,
                },
            ) => next
                .get(&kafka_partition_key(topic, *partition))
                .is_some_and(|next| offset < next),
            (Position::Nats(seq), Mark::Nats { seq: at }) => at <= seq,
            (Position::File(line), Mark::File { line: at }) => at <= line,
            _ => false,
        }
    }

    /// The position once the change at `mark` is applied too (`self` is the position before
    /// it, `None` when nothing is applied yet).
    pub fn after(before: Option<&Position>, mark: &Mark) -> Position {
        match mark {
            Mark::Postgres { lsn, row } => Position::Postgres {
                lsn: *lsn,
                rows: *row,
            },
            Mark::PostgresCopy { consistent_lsn } => Position::PostgresCopy {
                consistent_lsn: *consistent_lsn,
            },
            Mark::Kafka {
                topic,
                partition,
                offset,
            } => {
                let mut next = match before {
                    Some(Position::Kafka(next)) => next.clone(),
                    _ => BTreeMap::new(),
                };
                next.insert(kafka_partition_key(topic, *partition), offset + 1);
                Position::Kafka(next)
            }
            Mark::Nats { seq } => Position::Nats(*seq),
            Mark::File { line } => Position::File(*line),
        }
    }

    /// The source kind, for messages.
    pub fn source_kind(&self) -> &'static str {
        match self {
            Position::Postgres { .. } | Position::PostgresCopy { .. } => "postgres",
            Position::Kafka(_) => "kafka",
            Position::Nats(_) => "nats",
            Position::File(_) => "file",
        }
    }

    /// The cookie that stores this position.
    pub fn to_cookie(&self) -> Result<Vec<u8>, CookieError> {
        let json = serde_json::to_string(self).map_err(|e| CookieError::Encode(e.to_string()))?;
        let cookie = format!("{COOKIE_PREFIX}{json}").into_bytes();
        if cookie.len() > MAX_COOKIE_BYTES {
            return Err(CookieError::TooLong { len: cookie.len() });
        }
        Ok(cookie)
    }

    /// The position a cookie stores; `Ok(None)` for a cookie the loader did not write (a new
    /// writer's).
    pub fn from_cookie(cookie: &[u8]) -> Result<Option<Position>, CookieError> {
        let Some(json) = cookie.strip_prefix(COOKIE_PREFIX.as_bytes()) else {
            return Ok(None);
        };
        serde_json::from_slice(json)
            .map(Some)
            .map_err(|e| CookieError::Decode(e.to_string()))
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Postgres { lsn, rows } if *rows == WHOLE_TRANSACTION => {
                write!(f, "lsn {}", lsn_text::format(*lsn))
            }
            Position::Postgres { lsn, rows } => {
                write!(f, "lsn {} (first {rows} rows)", lsn_text::format(*lsn))
            }
            Position::PostgresCopy { consistent_lsn } => write!(
                f,
                "initial copy at lsn {}",
                lsn_text::format(*consistent_lsn)
            ),
            Position::Kafka(next) => {
                let parts: Vec<String> = next.iter().map(|(k, v)| format!("{k}@{v}")).collect();
                write!(f, "offsets {}", parts.join(","))
            }
            Position::Nats(seq) => write!(f, "stream seq {seq}"),
            Position::File(line) => write!(f, "line {line}"),
        }
    }
}

impl std::fmt::Display for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mark::Postgres { lsn, row } if *row == WHOLE_TRANSACTION => {
                write!(f, "transaction at lsn {}", lsn_text::format(*lsn))
            }
            Mark::Postgres { lsn, row } => {
                write!(
                    f,
                    "row {row} of transaction at lsn {}",
                    lsn_text::format(*lsn)
                )
            }
            Mark::PostgresCopy { consistent_lsn } => {
                write!(
                    f,
                    "initial copy at lsn {}",
                    lsn_text::format(*consistent_lsn)
                )
            }
            Mark::Kafka {
                topic,
                partition,
                offset,
            } => write!(f, "{topic}/{partition} offset {offset}"),
            Mark::Nats { seq } => write!(f, "stream seq {seq}"),
            Mark::File { line } => write!(f, "line {line}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CookieError {
    #[error(
        "the position does not fit in a cookie ({len} bytes, at most {MAX_COOKIE_BYTES}): too many Kafka partitions for one writer"
    )]
    TooLong { len: usize },
    #[error("cannot encode the position: {0}")]
    Encode(String),
    #[error(
        "the writer's cookie starts with `{COOKIE_PREFIX}` but is not a position this loader understands: {0}"
    )]
    Decode(String),
}

/// LSNs as PostgreSQL prints them (`16/B374D848`), so a cookie reads like the server's views.
pub mod lsn_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn format(lsn: u64) -> String {
        format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
    }

    pub fn parse(text: &str) -> Option<u64> {
        let (hi, lo) = text.split_once('/')?;
        let hi = u64::from_str_radix(hi, 16).ok()?;
        let lo = u64::from_str_radix(lo, 16).ok()?;
        (hi <= 0xFFFF_FFFF && lo <= 0xFFFF_FFFF).then_some((hi << 32) | lo)
    }

    pub fn serialize<S: Serializer>(lsn: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*lsn))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).ok_or_else(|| serde::de::Error::custom(format!("not an LSN: {text}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_round_trip_and_read_as_text() {
        let positions = [
            Position::Postgres {
                lsn: 0x16_B374_D848,
                rows: WHOLE_TRANSACTION,
            },
            Position::Postgres { lsn: 5, rows: 100 },
            Position::PostgresCopy { consistent_lsn: 7 },
            Position::Kafka(BTreeMap::from([
                ("t/0".to_string(), 5),
                ("t/1".to_string(), 9),
            ])),
            Position::Nats(42),
            Position::File(3),
        ];
        for p in positions {
            let cookie = p.to_cookie().expect("fits");
            assert_eq!(Position::from_cookie(&cookie).expect("decodes"), Some(p));
        }
        let cookie = Position::Postgres {
            lsn: 0x16_B374_D848,
            rows: WHOLE_TRANSACTION,
        }
        .to_cookie()
        .expect("fits");
        assert_eq!(
            String::from_utf8(cookie).expect("text"),
            r#"ctlstore-loader/1 {"postgres":{"lsn":"16/B374D848"}}"#
        );
    }

    #[test]
    fn foreign_cookies_mean_nothing_applied() {
        assert_eq!(Position::from_cookie(b"").expect("ok"), None);
        assert_eq!(Position::from_cookie(b"\x01\x02").expect("ok"), None);
        assert!(Position::from_cookie(b"ctlstore-loader/1 {nope").is_err());
    }

    #[test]
    fn covers_what_was_applied_and_nothing_else() {
        let p = Position::Postgres { lsn: 10, rows: 3 };
        assert!(p.covers(&Mark::Postgres {
            lsn: 9,
            row: WHOLE_TRANSACTION
        }));
        assert!(p.covers(&Mark::Postgres { lsn: 10, row: 3 }));
        assert!(!p.covers(&Mark::Postgres { lsn: 10, row: 4 }));
        assert!(!p.covers(&Mark::Postgres { lsn: 11, row: 1 }));
        let k = Position::after(
            None,
            &Mark::Kafka {
                topic: "t".into(),
                partition: 1,
                offset: 4,
            },
        );
        assert!(k.covers(&Mark::Kafka {
            topic: "t".into(),
            partition: 1,
            offset: 4
        }));
        assert!(!k.covers(&Mark::Kafka {
            topic: "t".into(),
            partition: 1,
            offset: 5
        }));
        assert!(!k.covers(&Mark::Kafka {
            topic: "t".into(),
            partition: 0,
            offset: 0
        }));
        assert!(Position::Nats(5).covers(&Mark::Nats { seq: 5 }));
        assert!(!Position::Nats(5).covers(&Mark::Nats { seq: 6 }));
    }

    #[test]
    fn lsns_print_as_postgres_does() {
        assert_eq!(lsn_text::format(0x16_B374_D848), "16/B374D848");
        assert_eq!(lsn_text::parse("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(lsn_text::parse("0/0"), Some(0));
        assert_eq!(lsn_text::parse("x"), None);
    }
}
