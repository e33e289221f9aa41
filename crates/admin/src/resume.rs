//! The position `ctlstore mutate` records in the writer's cookie, so a re-run after a crash
//! resumes exactly where the last committed batch ended.
//!
//! The cookie is ASCII text: `ctlstore-mutate/1 <identity> <offset> <rows>`, where `identity`
//! is the hex SHA-256 of the load (see [`identity`]), `offset` the byte offset in the file just
//! after the last row of the batch and `rows` the rows applied so far. The executive commits a
//! batch and its cookie in one transaction, and each batch is sent with `check_cookie` = the
//! cookie before it, so whatever the moment of a crash, the cookie names exactly the rows that
//! are in the ctldb, and a batch is never applied on top of a cookie it did not expect.
//!
//! Why the whole file's hash, not path + size + first bytes: a file edited in place after the
//! first few kilobytes would otherwise be taken for the one already half loaded, and resuming
//! into different rows would silently skip some. Hashing costs one extra sequential read, which
//! is small next to sending the rows; it also makes stdin (`--file -`, spooled to a temporary
//! file) and a moved or renamed file resumable. The table, the operation (upsert or delete)
//! and the format are part of the identity, so loading one file into two tables, or deleting
//! the rows a file upserted, is never mistaken for a finished load.

use std::io::Read;

use sha2::{Digest, Sha256};

/// The cookie's first word; a cookie that does not start with it is someone else's.
pub const COOKIE_PREFIX: &str = "ctlstore-mutate/1 ";

/// Where a load stands: which load, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// Hex SHA-256 of the load ([`identity`]).
    pub identity: String,
    /// Byte offset in the file after the last applied row.
    pub offset: u64,
    /// Rows applied so far.
    pub rows: u64,
}

impl Position {
    pub fn encode(&self) -> Vec<u8> {
        format!(
            "{COOKIE_PREFIX}{} {} {}",
            self.identity, self.offset, self.rows
        )
        .into_bytes()
    }

    /// The position a cookie records, if it is one of ours.
    pub fn decode(cookie: &[u8]) -> Option<Position> {
        let text = std::str::from_utf8(cookie).ok()?;
        let rest = text.strip_prefix(COOKIE_PREFIX)?;
        let mut words = rest.split(' ');
        let identity = words.next()?;
        let offset = words.next()?.parse().ok()?;
        let rows = words.next()?.parse().ok()?;
        let is_hash = identity.len() == 64 && identity.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hash || words.next().is_some() {
            return None;
        }
        Some(Position {
            identity: identity.to_string(),
            offset,
            rows,
        })
    }
}

/// What a load is, apart from its file's bytes.
#[derive(Debug, Clone, Copy)]
pub struct LoadKind<'a> {
    pub family: &'a str,
    pub table: &'a str,
    pub delete: bool,
    pub format: &'a str,
}

/// The identity of a load: SHA-256 over the target, the operation, the format and every byte
/// of the file, as hex.
pub fn identity(kind: LoadKind<'_>, file: &mut impl Read) -> std::io::Result<String> {
    let mut hash = Sha256::new();
    let op = if kind.delete { "delete" } else { "upsert" };
    hash.update(format!(
        "{COOKIE_PREFIX}\n{}.{}\n{op}\n{}\n",
        kind.family, kind.table, kind.format
    ));
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hash.update(&buffer[..n]);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(delete: bool) -> LoadKind<'static> {
        LoadKind {
            family: "demo",
            table: "flags",
            delete,
            format: "jsonl",
        }
    }

    #[test]
    fn positions_round_trip_and_foreign_cookies_are_not_ours() {
        let p = Position {
            identity: "ab".repeat(32),
            offset: 1234,
            rows: 17,
        };
        assert_eq!(Position::decode(&p.encode()), Some(p.clone()));
        assert!(p.encode().len() < ctlstore_schema::limits::MAX_COOKIE_BYTES);
        for foreign in [
            &b"bG9hZGVy..."[..],
            b"",
            b"ctlstore-mutate/1 xyz 1 2",
            b"ctlstore-mutate/2 abab 1 2",
            b"\xff\xfe",
        ] {
            assert_eq!(Position::decode(foreign), None, "{foreign:?}");
        }
        let extra = [p.encode(), b" 9".to_vec()].concat();
        assert_eq!(Position::decode(&extra), None);
    }

    #[test]
    fn identity_covers_target_operation_and_every_byte() {
        let id = |kind: LoadKind<'_>, bytes: &[u8]| identity(kind, &mut &bytes[..]).expect("hash");
        let base = id(kind(false), b"{\"a\":1}\n");
        assert_eq!(base.len(), 64);
        assert_eq!(base, id(kind(false), b"{\"a\":1}\n"));
        assert_ne!(base, id(kind(true), b"{\"a\":1}\n"));
        assert_ne!(base, id(kind(false), b"{\"a\":2}\n"));
        let other_table = LoadKind {
            table: "other",
            ..kind(false)
        };
        assert_ne!(base, id(other_table, b"{\"a\":1}\n"));
    }
}
