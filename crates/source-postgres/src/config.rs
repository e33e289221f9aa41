//! Where and as whom to connect: [`ConnectConfig`], read from a `postgres://` URL.

use crate::SourceError;
use std::time::Duration;

/// How to reach a PostgreSQL server. TLS is not supported yet; see [`ConnectConfig::from_url`].
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectConfig {
    /// Host name or IP address (no brackets around IPv6 addresses).
    pub host: String,
    /// TCP port, 5432 by default.
    pub port: u16,
    /// Role to log in as.
    pub user: String,
    /// Password, when the server asks for one.
    pub password: Option<String>,
    /// Database to connect to.
    pub database: String,
    /// How long to wait for the TCP connection and the login together.
    pub connect_timeout: Duration,
    /// Sent as `application_name`, so operators can tell our sessions apart in
    /// `pg_stat_activity` and `pg_stat_replication`.
    pub application_name: String,
}

// Hand-written so the password never reaches a log line.
impl std::fmt::Debug for ConnectConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
            .field("connect_timeout", &self.connect_timeout)
            .field("application_name", &self.application_name)
            .finish()
    }
}

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl ConnectConfig {
    /// A configuration with the default timeout (10 s) and application name.
    pub fn new(
        host: &str,
        port: u16,
        user: &str,
        password: Option<&str>,
        database: &str,
    ) -> ConnectConfig {
        ConnectConfig {
            host: host.to_owned(),
            port,
            user: user.to_owned(),
            password: password.map(str::to_owned),
            database: database.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            application_name: "ctlstore-loader".to_owned(),
        }
    }

    /// Parses `postgres://user[:password]@host[:port]/database[?param=value&...]` (also
    /// `postgresql://`). User, password and database may be percent-encoded. Known parameters:
    /// `sslmode` (`disable`, `allow` and `prefer` connect without TLS; anything stronger is
    /// refused because TLS is not implemented), `connect_timeout` (seconds) and
    /// `application_name`. Other parameters are left to the caller: see [`query_params`].
    pub fn from_url(url: &str) -> Result<ConnectConfig, SourceError> {
        let invalid = |why: &str| SourceError::InvalidUrl(format!("{why} (in {})", redact(url)));
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| invalid("it must start with postgres:// or postgresql://"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((u, p)) => (percent_decode(u)?, Some(percent_decode(p)?)),
                None => (percent_decode(info)?, None),
            },
            None => (String::new(), None),
        };
        if user.is_empty() {
            return Err(invalid("it names no user (postgres://USER@host/db)"));
        }
        let (host, port) = split_host_port(hostport).ok_or_else(|| invalid("bad host or port"))?;
        if host.is_empty() {
            return Err(invalid("it names no host"));
        }
        let database = match percent_decode(path)? {
            db if db.is_empty() => user.clone(),
            db => db,
        };
        let mut config = ConnectConfig {
            host,
            port,
            user,
            password,
            database,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            application_name: "ctlstore-loader".to_owned(),
        };
        for (key, value) in parse_query(query)? {
            match key.as_str() {
                "sslmode" => match value.as_str() {
                    "disable" | "allow" | "prefer" => {}
                    other => {
                        return Err(SourceError::Unsupported(format!(
                            "sslmode={other}: TLS is not supported yet; use sslmode=disable or prefer, or reach the server over a trusted network"
                        )));
                    }
                },
                "connect_timeout" => {
                    let seconds: u64 = value.parse().map_err(|_| {
                        invalid("connect_timeout must be a whole number of seconds")
                    })?;
                    config.connect_timeout = Duration::from_secs(seconds.max(1));
                }
                "application_name" => config.application_name = value,
                _ => {}
            }
        }
        Ok(config)
    }
}

/// The URL's query parameters, decoded, in order (e.g. `publication` and `slot` for the
/// loader). Malformed percent-encoding is kept as written.
pub fn query_params(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode(s).unwrap_or_else(|_| s.to_owned());
            (decode(k), decode(v))
        })
        .collect()
}

fn parse_query(query: &str) -> Result<Vec<(String, String)>, SourceError> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn split_host_port(hostport: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => 5432,
    };
    Some((host.to_owned(), port))
}

fn percent_decode(text: &str) -> Result<String, SourceError> {
    let bad = || SourceError::InvalidUrl(format!("bad percent-encoding in {text:?}"));
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// The URL with any password replaced, for error messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((info, _)) if info.contains(':') => {
            let user = info.split_once(':').map(|(u, _)| u).unwrap_or(info);
            let at = rest[..authority_end].rfind('@').unwrap_or(0);
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_url() {
        let c = ConnectConfig::from_url(
            "postgres://loader:p%40ss@db.example:6432/orders?sslmode=disable&publication=pub1",
        )
        .expect("valid test input");
        assert_eq!(c.host, "db.example");
        assert_eq!(c.port, 6432);
        assert_eq!(c.user, "loader");
        assert_eq!(c.password.as_deref(), Some("p@ss"));
        assert_eq!(c.database, "orders");
        assert!(!format!("{c:?}").contains("p@ss"));
    }

    #[test]
    fn fills_defaults() {
        let c =
            ConnectConfig::from_url("postgresql://postgres@127.0.0.1").expect("valid test input");
        assert_eq!(
            (c.port, c.database.as_str(), c.password),
            (5432, "postgres", None)
        );
        let c = ConnectConfig::from_url("postgres://u@[::1]:7/d").expect("valid test input");
        assert_eq!((c.host.as_str(), c.port), ("::1", 7));
    }

    #[test]
    fn refuses_tls_and_nonsense() {
        let tls = ConnectConfig::from_url("postgres://u@h/d?sslmode=require");
        assert!(matches!(tls, Err(SourceError::Unsupported(m)) if m.contains("TLS")));
        assert!(matches!(
            ConnectConfig::from_url("mysql://u@h/d"),
            Err(SourceError::InvalidUrl(_))
        ));
        assert!(matches!(
            ConnectConfig::from_url("postgres://h/d"),
            Err(SourceError::InvalidUrl(_))
        ));
        assert!(matches!(
            ConnectConfig::from_url("postgres://u@h:x/d"),
            Err(SourceError::InvalidUrl(_))
        ));
        let err =
            ConnectConfig::from_url("postgres://u:secret@h:x/d").expect_err("invalid test input");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn exposes_query_params() {
        let params = query_params("postgres://u@h/d?publication=p%31&slot=s&flag");
        assert_eq!(
            params,
            vec![
                ("publication".to_owned(), "p1".to_owned()),
                ("slot".to_owned(), "s".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
    }
}
