//! The SQL dialects ctlstore speaks: SQLite (the LDB, the ledger text and the embedded ctldb),
//! MySQL/MariaDB and PostgreSQL (production ctldbs).

use std::fmt;

/// A SQL dialect. The ledger text is always [`Dialect::Sqlite`]; a ctldb has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Mysql,
    Postgres,
}

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::Sqlite, Dialect::Mysql, Dialect::Postgres];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Mysql => "mysql",
            Dialect::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
