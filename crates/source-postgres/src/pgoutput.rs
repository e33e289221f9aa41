//! Decoding the `pgoutput` plugin's messages (protocol version 1, text tuples) into
//! [`Event`]s. Pure: bytes in, events out.

use crate::table::format_builtin_type;
use crate::wire::BodyReader;
use crate::{Column, Lsn, SourceError, Table, Tuple, Value};

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 00:00 UTC).
pub(crate) const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// One logical change, in WAL order. Changes always arrive inside `Begin` … `Commit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A transaction starts.
    Begin {
        /// The LSN of its commit record (the same as the `Commit`'s `commit_lsn`).
        final_lsn: Lsn,
        /// Transaction id.
        xid: u32,
        /// Commit time, microseconds since the Unix epoch.
        commit_time_micros: i64,
    },
    /// The transaction ends. Confirm `end_lsn` once it is applied: the slot then never sends
    /// this transaction again.
    Commit {
        /// The LSN of the commit record.
        commit_lsn: Lsn,
        /// Just past the commit record.
        end_lsn: Lsn,
        /// Commit time, microseconds since the Unix epoch.
        commit_time_micros: i64,
    },
    /// Describes a table before the first change to it in a session, and again after its
    /// schema changes. Later changes refer to it by `oid`.
    Relation(Table),
    /// A new row.
    Insert {
        /// The table's oid.
        relation: u32,
        /// The row.
        new: Tuple,
    },
    /// A changed row.
    Update {
        /// The table's oid.
        relation: u32,
        /// The old key (replica identity) or, with `REPLICA IDENTITY FULL`, the whole old row;
        /// `None` when the key did not change.
        old: Option<Tuple>,
        /// The new row (unchanged TOASTed values as [`Value::UnchangedToast`]).
        new: Tuple,
    },
    /// A removed row.
    Delete {
        /// The table's oid.
        relation: u32,
        /// The key columns (others are `Null`) or, with `REPLICA IDENTITY FULL`, the whole row.
        old: Tuple,
    },
    /// `TRUNCATE` of one or more tables.
    Truncate {
        /// The tables' oids.
        relations: Vec<u32>,
        /// `TRUNCATE ... CASCADE`.
        cascade: bool,
        /// `TRUNCATE ... RESTART IDENTITY`.
        restart_identity: bool,
    },
    /// Origin, Type and logical decoding messages: nothing to apply.
    Other,
}

/// Decodes one pgoutput message (the payload of an `XLogData`).
pub fn decode(message: &[u8]) -> Result<Event, SourceError> {
    let mut r = BodyReader::new(message, "pgoutput");
    let event = match r.u8()? {
        b'B' => Event::Begin {
            final_lsn: Lsn(r.u64()?),
            commit_time_micros: unix_micros(r.i64()?),
            xid: r.u32()?,
        },
        b'C' => {
            let _flags = r.u8()?;
            Event::Commit {
                commit_lsn: Lsn(r.u64()?),
                end_lsn: Lsn(r.u64()?),
                commit_time_micros: unix_micros(r.i64()?),
            }
        }
        b'R' => Event::Relation(decode_relation(&mut r)?),
        b'I' => {
            let relation = r.u32()?;
            expect_tag(&mut r, b'N', "Insert")?;
            Event::Insert {
                relation,
                new: decode_tuple(&mut r)?,
            }
        }
        b'U' => {
            let relation = r.u32()?;
            let (old, new) = match r.u8()? {
                b'K' | b'O' => {
                    let old = decode_tuple(&mut r)?;
                    expect_tag(&mut r, b'N', "Update")?;
                    (Some(old), decode_tuple(&mut r)?)
                }
                b'N' => (None, decode_tuple(&mut r)?),
                other => return Err(bad_tag(other, "Update")),
            };
            Event::Update { relation, old, new }
        }
        b'D' => {
            let relation = r.u32()?;
            match r.u8()? {
                b'K' | b'O' => {}
                other => return Err(bad_tag(other, "Delete")),
            }
            Event::Delete {
                relation,
                old: decode_tuple(&mut r)?,
            }
        }
        b'T' => {
            let count = r.u32()?;
            let options = r.u8()?;
            let relations = (0..count).map(|_| r.u32()).collect::<Result<_, _>>()?;
            Event::Truncate {
                relations,
                cascade: options & 1 != 0,
                restart_identity: options & 2 != 0,
            }
        }
        b'O' | b'Y' | b'M' => Event::Other,
        other => {
            return Err(SourceError::protocol(format!(
                "unknown pgoutput message '{}' (only protocol version 1 is supported)",
                other as char
            )));
        }
    };
    Ok(event)
}

fn unix_micros(pg_micros: i64) -> i64 {
    pg_micros.saturating_add(PG_EPOCH_OFFSET_MICROS)
}

fn expect_tag(r: &mut BodyReader<'_>, tag: u8, what: &str) -> Result<(), SourceError> {
    match r.u8()? {
        t if t == tag => Ok(()),
        other => Err(bad_tag(other, what)),
    }
}

fn bad_tag(tag: u8, what: &str) -> SourceError {
    SourceError::protocol(format!(
        "unexpected tuple marker '{}' in a pgoutput {what}",
        tag as char
    ))
}

fn decode_relation(r: &mut BodyReader<'_>) -> Result<Table, SourceError> {
    let oid = r.u32()?;
    let schema = match r.cstr()? {
        // pgoutput abbreviates pg_catalog as the empty string.
        s if s.is_empty() => "pg_catalog".to_owned(),
        s => s,
    };
    let name = r.cstr()?;
    let _replica_identity = r.u8()?;
    let count = r.i16()?;
    let mut columns = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for _ in 0..count {
        let flags = r.u8()?;
        let name = r.cstr()?;
        let type_oid = r.u32()?;
        let type_modifier = r.i32()?;
        columns.push(Column {
            name,
            type_oid,
            type_name: format_builtin_type(type_oid, type_modifier),
            type_modifier,
            is_key: flags & 1 != 0,
        });
    }
    Ok(Table {
        oid,
        schema,
        name,
        columns,
    })
}

fn decode_tuple(r: &mut BodyReader<'_>) -> Result<Tuple, SourceError> {
    let count = r.i16()?;
    let mut tuple = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for _ in 0..count {
        let value = match r.u8()? {
            b'n' => Value::Null,
            b'u' => Value::UnchangedToast,
            b't' => {
                let len = usize::try_from(r.i32()?)
                    .map_err(|_| SourceError::protocol("negative length in a pgoutput tuple"))?;
                let bytes = r.take(len)?;
                let text = std::str::from_utf8(bytes)
                    .map_err(|_| SourceError::protocol("pgoutput value is not UTF-8"))?;
                Value::Text(text.to_owned())
            }
            b'b' => {
                return Err(SourceError::Unsupported(
                    "binary pgoutput tuples (the publication was started with binary 'true')"
                        .to_owned(),
                ));
            }
            other => return Err(bad_tag(other, "tuple")),
        };
        tuple.push(value);
    }
    Ok(tuple)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds messages the way pgoutput writes them.
    #[derive(Default)]
    struct Msg(Vec<u8>);

    impl Msg {
        fn u8(mut self, v: u8) -> Self {
            self.0.push(v);
            self
        }
        fn i16(mut self, v: i16) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn i32(mut self, v: i32) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn i64(mut self, v: i64) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn s(mut self, v: &str) -> Self {
            self.0.extend_from_slice(v.as_bytes());
            self.0.push(0);
            self
        }
        fn text(self, v: &str) -> Self {
            let mut m = self.u8(b't').i32(v.len() as i32);
            m.0.extend_from_slice(v.as_bytes());
            m
        }
    }

    #[test]
    fn decodes_begin_and_commit() {
        let begin = Msg::default()
            .u8(b'B')
            .i64(0x1_0000_0010)
            .i64(1_000_000)
            .i32(777);
        assert_eq!(
            decode(&begin.0).expect("valid test input"),
            Event::Begin {
                final_lsn: Lsn(0x1_0000_0010),
                xid: 777,
                commit_time_micros: PG_EPOCH_OFFSET_MICROS + 1_000_000
            }
        );
        let commit = Msg::default().u8(b'C').u8(0).i64(0x10).i64(0x40).i64(-5);
        assert_eq!(
            decode(&commit.0).expect("valid test input"),
            Event::Commit {
                commit_lsn: Lsn(0x10),
                end_lsn: Lsn(0x40),
                commit_time_micros: PG_EPOCH_OFFSET_MICROS - 5
            }
        );
    }

    #[test]
    fn decodes_relation() {
        let m = Msg::default()
            .u8(b'R')
            .i32(16384)
            .s("public")
            .s("items")
            .u8(b'd')
            .i16(2)
            .u8(1)
            .s("id")
            .i32(20)
            .i32(-1)
            .u8(0)
            .s("label")
            .i32(1043)
            .i32(24);
        let Event::Relation(table) = decode(&m.0).expect("valid test input") else {
            panic!("not a relation")
        };
        assert_eq!(
            (table.oid, table.schema.as_str(), table.name.as_str()),
            (16384, "public", "items")
        );
        assert_eq!(table.columns.len(), 2);
        assert!(table.columns[0].is_key && !table.columns[1].is_key);
        assert_eq!(table.columns[0].type_name, "bigint");
        assert_eq!(table.columns[1].type_name, "character varying(20)");
        assert_eq!(table.columns[1].type_modifier, 24);
    }

    #[test]
    fn decodes_row_changes() {
        let insert = Msg::default()
            .u8(b'I')
            .i32(5)
            .u8(b'N')
            .i16(3)
            .text("1")
            .u8(b'n')
            .text("é\0x");
        assert_eq!(
            decode(&insert.0).expect("valid test input"),
            Event::Insert {
                relation: 5,
                new: vec![
                    Value::Text("1".into()),
                    Value::Null,
                    Value::Text("é\0x".into())
                ]
            }
        );
        let update = Msg::default()
            .u8(b'U')
            .i32(5)
            .u8(b'K')
            .i16(1)
            .text("1")
            .u8(b'N')
            .i16(2)
            .text("2")
            .u8(b'u');
        assert_eq!(
            decode(&update.0).expect("valid test input"),
            Event::Update {
                relation: 5,
                old: Some(vec![Value::Text("1".into())]),
                new: vec![Value::Text("2".into()), Value::UnchangedToast]
            }
        );
        let plain = Msg::default().u8(b'U').i32(5).u8(b'N').i16(1).text("3");
        assert!(matches!(
            decode(&plain.0).expect("valid test input"),
            Event::Update { old: None, .. }
        ));
        let delete = Msg::default()
            .u8(b'D')
            .i32(5)
            .u8(b'K')
            .i16(2)
            .text("1")
            .u8(b'n');
        assert_eq!(
            decode(&delete.0).expect("valid test input"),
            Event::Delete {
                relation: 5,
                old: vec![Value::Text("1".into()), Value::Null]
            }
        );
    }

    #[test]
    fn decodes_truncate_and_ignorables() {
        let t = Msg::default().u8(b'T').i32(2).u8(3).i32(7).i32(8);
        assert_eq!(
            decode(&t.0).expect("valid test input"),
            Event::Truncate {
                relations: vec![7, 8],
                cascade: true,
                restart_identity: true
            }
        );
        let origin = Msg::default().u8(b'O').i64(1).s("node");
        assert_eq!(decode(&origin.0).expect("valid test input"), Event::Other);
    }

    #[test]
    fn rejects_truncated_and_unknown_messages() {
        let short = Msg::default().u8(b'I').i32(5).u8(b'N').i16(2).text("1");
        assert!(matches!(decode(&short.0), Err(SourceError::Protocol(_))));
        let long_value = Msg::default()
            .u8(b'I')
            .i32(5)
            .u8(b'N')
            .i16(1)
            .u8(b't')
            .i32(100);
        assert!(matches!(
            decode(&long_value.0),
            Err(SourceError::Protocol(_))
        ));
        assert!(matches!(decode(b"Z"), Err(SourceError::Protocol(_))));
        assert!(matches!(decode(b""), Err(SourceError::Protocol(_))));
        let binary = Msg::default()
            .u8(b'I')
            .i32(5)
            .u8(b'N')
            .i16(1)
            .u8(b'b')
            .i32(0);
        assert!(matches!(
            decode(&binary.0),
            Err(SourceError::Unsupported(_))
        ));
    }
}
