//! Which family and table a ledger statement writes, and sets of `family` / `family/table`
//! scopes: what partial replication filters the feed by (ACL `read` rules, a reflector's
//! `--families`).
//!
//! A statement whose table cannot be read from its text (not one of the shapes ctlstore's
//! executive and ours write) belongs to no scope, so a filtered follower never gets it: the
//! filter fails closed.

use std::collections::BTreeSet;
use std::fmt;

use ctlstore_schema::{FamilyName, LDB_TABLE_DELIMITER, TableName, parse_ldb_table_name};

use crate::{LedgerEntry, Statement};

/// `family` (every table of it) or `family/table`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    pub family: String,
    pub table: Option<String>,
}

impl Scope {
    /// Parses `family` or `family/table`, each a valid ctlstore name.
    pub fn parse(text: &str) -> Result<Scope, String> {
        let (family, table) = match text.split_once('/') {
            Some((f, t)) => (f, Some(t)),
            None => (text, None),
        };
        let family = FamilyName::new(family)
            .map_err(|e| format!("'{text}': family: {e}"))?
            .to_string();
        let table = match table {
            Some(t) => Some(
                TableName::new(t)
                    .map_err(|e| format!("'{text}': table: {e}"))?
                    .to_string(),
            ),
            None => None,
        };
        Ok(Scope { family, table })
    }

    /// Whether this scope covers `family`'s `table`.
    pub fn covers(&self, family: &str, table: &str) -> bool {
        self.family == family && self.table.as_deref().is_none_or(|t| t == table)
    }

    /// Whether this scope lies within `other` (a family covers its tables).
    pub fn within(&self, other: &Scope) -> bool {
        self.family == other.family
            && match (&self.table, &other.table) {
                (_, None) => true,
                (Some(a), Some(b)) => a == b,
                (None, Some(_)) => false,
            }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.table {
            Some(t) => write!(f, "{}/{t}", self.family),
            None => f.write_str(&self.family),
        }
    }
}

/// What a follower may be sent: everything, or the tables its scopes cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scopes {
    All,
    Only(BTreeSet<Scope>),
}

impl Scopes {
    /// Parses a comma-separated list (`a,b/t`); empty items are ignored, and an empty list is
    /// an error (it would replicate nothing, which is never meant).
    pub fn parse_list(text: &str) -> Result<Scopes, String> {
        let set = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Scope::parse)
            .collect::<Result<BTreeSet<_>, _>>()?;
        if set.is_empty() {
            return Err("names no family".into());
        }
        Ok(Scopes::Only(set))
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Scopes::All)
    }

    /// Whether `family`'s `table` is covered.
    pub fn covers(&self, family: &str, table: &str) -> bool {
        match self {
            Scopes::All => true,
            Scopes::Only(set) => set.iter().any(|s| s.covers(family, table)),
        }
    }

    /// What both allow.
    pub fn intersect(&self, other: &Scopes) -> Scopes {
        match (self, other) {
            (Scopes::All, x) | (x, Scopes::All) => x.clone(),
            (Scopes::Only(a), Scopes::Only(b)) => {
                let mut out = BTreeSet::new();
                for x in a {
                    for y in b {
                        if x.within(y) {
                            out.insert(x.clone());
                        } else if y.within(x) {
                            out.insert(y.clone());
                        }
                    }
                }
                Scopes::Only(out)
            }
        }
    }

    /// Whether everything `self` allows, `other` allows too.
    pub fn within(&self, other: &Scopes) -> bool {
        match (self, other) {
            (_, Scopes::All) => true,
            (Scopes::All, Scopes::Only(_)) => false,
            (Scopes::Only(a), Scopes::Only(b)) => a.iter().all(|x| b.iter().any(|y| x.within(y))),
        }
    }

    /// Whether a follower with these scopes is sent `entry`. Batch markers always are (they
    /// carry no data, and a batch's markers must reach the follower as a pair whatever page
    /// boundaries fall inside it).
    pub fn admits(&self, entry: &LedgerEntry) -> bool {
        match (self, entry.kind()) {
            (Scopes::All, _) => true,
            (_, Statement::Begin | Statement::Commit) => true,
            (_, Statement::Sql(sql)) => {
                statement_table(sql).is_some_and(|(family, table)| self.covers(&family, &table))
            }
        }
    }

    /// The text form: `*` for all, else the comma-separated scopes.
    pub fn to_list(&self) -> String {
        match self {
            Scopes::All => "*".into(),
            Scopes::Only(set) => set
                .iter()
                .map(Scope::to_string)
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// The family and table a ledger statement writes, from its text: `CREATE TABLE t`,
/// `ALTER TABLE t`, `DROP TABLE IF EXISTS t`, `DELETE FROM t`, `REPLACE INTO t`,
/// `CREATE [UNIQUE] INDEX i ON t`, `DROP INDEX [IF EXISTS] i [ON t]`. `None` for anything else.
pub fn statement_table(sql: &str) -> Option<(String, String)> {
    const TABLE_PREFIXES: &[&str] = &[
        "REPLACE INTO ",
        "DELETE FROM ",
        "CREATE TABLE ",
        "ALTER TABLE ",
        "DROP TABLE IF EXISTS ",
        "DROP TABLE ",
    ];
    let sql = sql.trim_start();
    for prefix in TABLE_PREFIXES {
        if let Some(rest) = strip_prefix_ignore_case(sql, prefix) {
            return table_parts(first_name(rest)?);
        }
    }
    for prefix in ["CREATE INDEX ", "CREATE UNIQUE INDEX "] {
        if let Some(rest) = strip_prefix_ignore_case(sql, prefix) {
            let (_, on) = rest.split_once(" ON ")?;
            return table_parts(first_name(on)?);
        }
    }
    for prefix in ["DROP INDEX IF EXISTS ", "DROP INDEX "] {
        if let Some(rest) = strip_prefix_ignore_case(sql, prefix) {
            return index_table(first_name(rest)?);
        }
    }
    None
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// The identifier at the start of `text`, unquoted.
fn first_name(text: &str) -> Option<&str> {
    let text = text.trim_start();
    if let Some(quoted) = text.strip_prefix('"') {
        return quoted.split_once('"').map(|(name, _)| name);
    }
    let end = text
        .find(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .unwrap_or(text.len());
    Some(&text[..end]).filter(|n| !n.is_empty())
}

fn table_parts(name: &str) -> Option<(String, String)> {
    parse_ldb_table_name(name).map(|(f, t)| (f.to_string(), t.to_string()))
}

/// `family___table___index`: a family may end with `_`, and a table has no `__`, so the split
/// is the one that leaves a valid table followed by `___` and an index name.
fn index_table(name: &str) -> Option<(String, String)> {
    let (ldb_table, _index) = name.rsplit_once(LDB_TABLE_DELIMITER)?;
    table_parts(ldb_table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, statement: &str) -> LedgerEntry {
        LedgerEntry {
            seq,
            leader_ts: "2026-01-01 00:00:00".into(),
            statement: statement.into(),
        }
    }

    #[test]
    fn tables_of_every_statement_shape() {
        let cases = [
            (
                "REPLACE INTO fam___tbl (\"a\") VALUES(1)",
                Some(("fam", "tbl")),
            ),
            (
                "DELETE FROM fam___tbl WHERE \"a\" = 1",
                Some(("fam", "tbl")),
            ),
            ("DELETE FROM fam___tbl", Some(("fam", "tbl"))),
            (
                "CREATE TABLE fam___tbl (\"a\" INTEGER, PRIMARY KEY(\"a\"));",
                Some(("fam", "tbl")),
            ),
            (
                "ALTER TABLE fam___tbl ADD COLUMN \"b\" TEXT",
                Some(("fam", "tbl")),
            ),
            ("DROP TABLE IF EXISTS fam___tbl", Some(("fam", "tbl"))),
            (
                "CREATE UNIQUE INDEX fam___tbl___by_a ON fam___tbl (\"a\")",
                Some(("fam", "tbl")),
            ),
            (
                "DROP INDEX IF EXISTS fam___tbl___by_a",
                Some(("fam", "tbl")),
            ),
            // A family ending in `_`.
            (
                "REPLACE INTO abc____tbl (\"a\") VALUES(1)",
                Some(("abc_", "tbl")),
            ),
            (
                "DROP INDEX IF EXISTS abc____tbl___idx",
                Some(("abc_", "tbl")),
            ),
            (
                "REPLACE INTO \"fam___tbl\" (\"a\") VALUES(1)",
                Some(("fam", "tbl")),
            ),
            ("UPDATE fam___tbl SET a = 1", None),
            ("REPLACE INTO _ldb_seq VALUES(1)", None),
        ];
        for (sql, want) in cases {
            let got = statement_table(sql);
            let want = want.map(|(f, t)| (f.to_string(), t.to_string()));
            assert_eq!(got, want, "{sql}");
        }
    }

    #[test]
    fn scopes_admit_their_tables_and_every_marker() {
        let scopes = Scopes::parse_list("alpha,beta/one").expect("scopes");
        assert!(scopes.admits(&entry(1, "REPLACE INTO alpha___xyz (\"a\") VALUES(1)")));
        assert!(scopes.admits(&entry(2, "REPLACE INTO beta___one (\"a\") VALUES(1)")));
        assert!(!scopes.admits(&entry(3, "REPLACE INTO beta___two (\"a\") VALUES(1)")));
        assert!(!scopes.admits(&entry(4, "REPLACE INTO gamma___xyz (\"a\") VALUES(1)")));
        assert!(!scopes.admits(&entry(5, "VACUUM")));
        assert!(scopes.admits(&entry(6, crate::BEGIN_MARKER)));
        assert!(scopes.admits(&entry(7, crate::COMMIT_MARKER)));
        assert!(Scopes::All.admits(&entry(8, "VACUUM")));
    }

    #[test]
    fn intersect_and_within() {
        let ab = Scopes::parse_list("alpha,beta").expect("ab");
        let a_t = Scopes::parse_list("alpha/tee,gamma").expect("a_t");
        let both = ab.intersect(&a_t);
        assert_eq!(both, Scopes::parse_list("alpha/tee").expect("want"));
        assert!(both.within(&ab) && both.within(&a_t));
        assert!(!ab.within(&a_t));
        assert_eq!(Scopes::All.intersect(&ab), ab);
        assert!(ab.within(&Scopes::All) && !Scopes::All.within(&ab));
        assert!(Scopes::parse_list(" , ").is_err());
        assert!(Scopes::parse_list("Bad-Name").is_err());
        assert_eq!(ab.to_list(), "alpha,beta");
    }
}
