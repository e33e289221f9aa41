//! Where the ctldb is: our URL forms and ctlstore's.
//!
//! Accepted, in order of precedence:
//! - `sqlite:PATH`, `sqlite://PATH`, `sqlite3:PATH` or a bare file path: embedded SQLite;
//! - `mysql://user:pass@host:port/db`: MySQL/MariaDB;
//! - `postgres://...` / `postgresql://...`: PostgreSQL;
//! - Go's MySQL DSN, as ctlstore takes it: `user:pass@tcp(host:port)/db?param=value&...`
//!   (also `@unix(/path/to.sock)` and no address at all, meaning 127.0.0.1:3306). Parameters
//!   ctlstore sets itself (`collation`, `sql_mode`, `timeout`, `parseTime`) are accepted; we set
//!   the session mode we need on every connection anyway.

use std::path::PathBuf;
use std::str::FromStr;

use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;

use crate::CtldbError;
use crate::go_dsn::parse_go_mysql_dsn;

/// A parsed ctldb location.
#[derive(Debug, Clone)]
pub enum CtldbUrl {
    Sqlite(PathBuf),
    Mysql(MySqlConnectOptions),
    Postgres(PgConnectOptions),
}

/// Parses any accepted form (see the module docs).
pub fn parse_ctldb_url(url: &str) -> Result<CtldbUrl, CtldbError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(CtldbError::InvalidUrl("empty".into()));
    }
    // First: a Go DSN's credentials may hold anything (`sqlite:` as a user, `://` in a
    // password), so its shape is checked before any URL prefix.
    if looks_like_go_dsn(url) {
        return parse_go_mysql_dsn(url).map(CtldbUrl::Mysql);
    }
    for prefix in ["sqlite://", "sqlite3://", "sqlite:", "sqlite3:"] {
        if let Some(path) = url.strip_prefix(prefix) {
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                return Err(CtldbUrl::missing("sqlite URL has no path"));
            }
            return Ok(CtldbUrl::Sqlite(PathBuf::from(path)));
        }
    }
    if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        let url = url.replacen("mariadb://", "mysql://", 1);
        return MySqlConnectOptions::from_str(&url)
            .map(CtldbUrl::Mysql)
            .map_err(|e| CtldbError::InvalidUrl(e.to_string()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return PgConnectOptions::from_str(url)
            .map(CtldbUrl::Postgres)
            .map_err(|e| CtldbError::InvalidUrl(e.to_string()));
    }
    if url.contains("://") {
        let scheme = url.split("://").next().unwrap_or_default();
        return Err(CtldbError::InvalidUrl(format!(
            "unknown scheme '{scheme}' (use sqlite:PATH, mysql://, postgres:// or a Go MySQL DSN)"
        )));
    }
    Ok(CtldbUrl::Sqlite(PathBuf::from(url)))
}

impl CtldbUrl {
    fn missing(what: &str) -> CtldbError {
        CtldbError::InvalidUrl(what.to_string())
    }
}

/// Go's DSN by its address, split as go-sql-driver splits it: what stands between the last `@`
/// and the last `/` is `net(addr)` (`tcp(...)`, `unix(...)`), or nothing after a user
/// (`user@/db`).
fn looks_like_go_dsn(dsn: &str) -> bool {
    let Some(slash) = dsn.rfind('/') else {
        return false;
    };
    let left = &dsn[..slash];
    let (had_user, address) = match left.rfind('@') {
        Some(at) => (true, &left[at + 1..]),
        None => (false, left),
    };
    let net_addr = ["tcp(", "tcp4(", "tcp6(", "unix("]
        .iter()
        .any(|net| address.starts_with(net))
        && address.ends_with(')');
    net_addr || (had_user && address.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_dsns_win_over_url_prefixes() {
        // Found by fuzzing: credentials that look like a URL scheme or an SQLite prefix.
        for dsn in [
            "r://##############@tcp(db:30016)/n",
            "sqlite:@tcp(db:1473)/db",
            "u://x:p//w@unix(/run/mysqld.sock)/d",
            "u:@/d",
        ] {
            assert!(
                matches!(parse_ctldb_url(dsn), Ok(CtldbUrl::Mysql(_))),
                "{dsn}"
            );
        }
        assert!(matches!(
            parse_ctldb_url("sqlite:/data/ctldb.db"),
            Ok(CtldbUrl::Sqlite(_))
        ));
        assert!(matches!(
            parse_ctldb_url("mysql://u:p@db:3306/ctldb"),
            Ok(CtldbUrl::Mysql(_))
        ));
    }

    #[test]
    fn forms() {
        assert!(
            matches!(parse_ctldb_url("sqlite:/tmp/x.db"), Ok(CtldbUrl::Sqlite(p)) if p == std::path::Path::new("/tmp/x.db"))
        );
        assert!(
            matches!(parse_ctldb_url("sqlite:///tmp/x.db"), Ok(CtldbUrl::Sqlite(p)) if p == std::path::Path::new("/tmp/x.db"))
        );
        assert!(matches!(
            parse_ctldb_url("ctldb.db"),
            Ok(CtldbUrl::Sqlite(_))
        ));
        assert!(matches!(
            parse_ctldb_url("mysql://root@127.0.0.1:3306/ctldb"),
            Ok(CtldbUrl::Mysql(_))
        ));
        assert!(matches!(
            parse_ctldb_url("postgres://postgres@127.0.0.1/ctldb"),
            Ok(CtldbUrl::Postgres(_))
        ));
        assert!(matches!(
            parse_ctldb_url("redis://x"),
            Err(CtldbError::InvalidUrl(_))
        ));
        assert!(matches!(
            parse_ctldb_url(""),
            Err(CtldbError::InvalidUrl(_))
        ));
    }
}
