//! Ledger rows and their statement kinds.

/// Marks the start of a multi-statement batch (ctlstore's `schema.DMLTxBeginKey`).
pub const BEGIN_MARKER: &str = "--- BEGIN";
/// Marks the end of a multi-statement batch (ctlstore's `schema.DMLTxEndKey`).
pub const COMMIT_MARKER: &str = "--- COMMIT";

/// One row of `ctlstore_dml_ledger`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Position in the ledger; strictly increasing, possibly with gaps (rolled-back inserts).
    pub seq: i64,
    /// The ctldb's commit-time clock, UTC, `YYYY-MM-DD HH:MM:SS` (ctlstore's layout).
    pub leader_ts: String,
    /// SQLite-dialect SQL, or a batch marker.
    pub statement: String,
}

impl LedgerEntry {
    pub fn kind(&self) -> Statement<'_> {
        Statement::parse(&self.statement)
    }
}

/// What a ledger statement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statement<'a> {
    Begin,
    Commit,
    Sql(&'a str),
}

impl<'a> Statement<'a> {
    pub fn parse(text: &'a str) -> Statement<'a> {
        match text {
            BEGIN_MARKER => Statement::Begin,
            COMMIT_MARKER => Statement::Commit,
            sql => Statement::Sql(sql),
        }
    }
}
