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
    Mysql(Box<MySqlConnectOptions>),
    Postgres(PgTargets),
}

/// A PostgreSQL ctldb: one host, or several as libpq takes them
/// (`postgres://h1:5432,h2:5432/ctldb?target_session_attrs=read-write`), for a primary and its
/// standbys: the pool connects to the first host that answers (with `read-write`, the first
/// that accepts writes) and moves when that one stops (`backend.rs`).
#[derive(Debug, Clone)]
pub struct PgTargets {
    pub hosts: Vec<PgConnectOptions>,
    /// `target_session_attrs=read-write`: only a primary will do.
    pub read_write: bool,
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
        return parse_go_mysql_dsn(url).map(|o| CtldbUrl::Mysql(Box::new(o)));
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
            .map(|o| CtldbUrl::Mysql(Box::new(o)))
            .map_err(|e| CtldbError::InvalidUrl(e.to_string()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return parse_postgres_url(url).map(CtldbUrl::Postgres);
    }
    if url.contains("://") {
        let scheme = url.split("://").next().unwrap_or_default();
        return Err(CtldbError::InvalidUrl(format!(
            "unknown scheme '{scheme}' (use sqlite:PATH, mysql://, postgres:// or a Go MySQL DSN)"
        )));
    }
    Ok(CtldbUrl::Sqlite(PathBuf::from(url)))
}

/// Splits libpq's multi-host form into one URL per host (sqlx takes one host) and takes
/// `target_session_attrs` out (sqlx ignores it with a warning; `any` or `read-write`).
fn parse_postgres_url(url: &str) -> Result<PgTargets, CtldbError> {
    let invalid = |why: String| CtldbError::InvalidUrl(why);
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid("no scheme".into()))?;
    let host_start = rest.find('@').map_or(0, |i| i + 1);
    let host_end = rest[host_start..]
        .find(['/', '?'])
        .map_or(rest.len(), |i| host_start + i);
    let (userinfo, hosts, tail) = (
        &rest[..host_start],
        &rest[host_start..host_end],
        &rest[host_end..],
    );
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    let mut read_write = false;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("target_session_attrs", "read-write")) => read_write = true,
            Some(("target_session_attrs", "any")) => {}
            Some(("target_session_attrs", other)) => {
                return Err(invalid(format!(
                    "target_session_attrs={other}: only any and read-write are supported"
                )));
            }
            _ => kept.push(pair),
        }
    }
    let query = if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", kept.join("&"))
    };
    let hosts = hosts
        .split(',')
        .map(|host| {
            PgConnectOptions::from_str(&format!("{scheme}://{userinfo}{host}{path}{query}"))
                .map_err(|e| invalid(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PgTargets { hosts, read_write })
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
        match parse_ctldb_url(
            "postgres://u:p%40w@h1:5432,h2:5433/ctldb?target_session_attrs=read-write&sslmode=disable",
        ) {
            Ok(CtldbUrl::Postgres(t)) => {
                assert!(t.read_write);
                let hosts: Vec<(String, u16)> = t
                    .hosts
                    .iter()
                    .map(|h| (h.get_host().to_string(), h.get_port()))
                    .collect();
                assert_eq!(hosts, [("h1".into(), 5432), ("h2".into(), 5433)]);
                assert_eq!(t.hosts[1].get_database(), Some("ctldb"));
                assert_eq!(t.hosts[1].get_username(), "u");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_ctldb_url("postgres://h1/db?target_session_attrs=standby"),
            Err(CtldbError::InvalidUrl(_))
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
