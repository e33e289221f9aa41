//! The ledger: what a ctlstore ledger row looks like and how statements are rendered.
//!
//! Every accepted mutation becomes SQLite-dialect SQL text in `ctlstore_dml_ledger`, exactly as
//! ctlstore's executive writes it (`pkg/sqlgen`): bare `family___table` names, double-quoted
//! column names, values as SQL literals, and `--- BEGIN` / `--- COMMIT` marker rows around a
//! batch of more than one mutation. Reflectors on every host execute this text against their
//! LDB, so the renderer here is the one place that decides what hosts run; it is property-tested
//! against real SQLite.
//!
//! [`LedgerWindow`] is the window of recent entries the executive and the relay serve followers
//! from.
//!
//! Architecture invariant: pure functions, no I/O; depends only on `ctlstore-schema`.

mod entry;
mod literal;
mod render;
mod scope;
mod window;

pub use entry::{BEGIN_MARKER, COMMIT_MARKER, LedgerEntry, Statement};
pub use literal::{Literal, push_literal, push_quoted_identifier, sql_literal};
pub use render::{
    add_column, clear_table, create_index, create_table, delete_row, drop_index, drop_table,
    statement_too_large, upsert_row,
};
pub use scope::{Scope, Scopes, statement_table};
pub use window::LedgerWindow;
