//! `nats://host:port/STREAM?subject=SUBJ&durable=NAME`.

use std::str::FromStr;

use crate::NatsError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsUrl {
    /// `host:port`.
    pub server: String,
    pub stream: String,
    /// Only messages on this subject (wildcards allowed).
    pub subject: Option<String>,
    /// A durable consumer name (visible in `nats consumer info`); without it the consumer is
    /// ephemeral.
    pub durable: Option<String>,
}

impl FromStr for NatsUrl {
    type Err = NatsError;

    fn from_str(url: &str) -> Result<NatsUrl, NatsError> {
        let invalid = |reason: &str| NatsError::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let rest = url
            .strip_prefix("nats://")
            .ok_or_else(|| invalid("it must start with nats://"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (server, stream) = rest
            .split_once('/')
            .ok_or_else(|| invalid("it names no stream (nats://host:port/STREAM)"))?;
        let port = server
            .rsplit_once(':')
            .and_then(|(host, port)| (!host.is_empty()).then_some(port))
            .ok_or_else(|| invalid("the server must be host:port"))?;
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(invalid("the port must be 1-65535"));
        }
        if stream.is_empty()
            || stream
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/'))
        {
            return Err(invalid(
                "the stream name must be non-empty, without spaces, '.', '*', '>' or '/'",
            ));
        }
        let mut parsed = NatsUrl {
            server: server.to_string(),
            stream: stream.to_string(),
            subject: None,
            durable: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.is_empty() || value.chars().any(char::is_whitespace) {
                return Err(invalid(&format!("`{key}` needs a value without spaces")));
            }
            match key {
                "subject" => parsed.subject = Some(value.to_string()),
                "durable" if value.contains(['.', '*', '>']) => {
                    return Err(invalid("a durable name cannot contain '.', '*' or '>'"));
                }
                "durable" => parsed.durable = Some(value.to_string()),
                other => {
                    return Err(invalid(&format!(
                        "unknown parameter `{other}` (subject, durable)"
                    )));
                }
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_bad_ones_say_why() {
        let url: NatsUrl = "nats://127.0.0.1:4222/DBZ?subject=origin.public.users&durable=ctl"
            .parse()
            .expect("parses");
        assert_eq!(url.server, "127.0.0.1:4222");
        assert_eq!(url.stream, "DBZ");
        assert_eq!(url.subject.as_deref(), Some("origin.public.users"));
        assert_eq!(url.durable.as_deref(), Some("ctl"));
        for bad in [
            "http://x:1/S",
            "nats://x:1",
            "nats://x/S",
            "nats://x:0/S",
            "nats://x:1/a.b",
            "nats://x:1/S?bogus=1",
            "nats://x:1/S?durable=a.b",
            "nats://x:1/S?subject=",
        ] {
            assert!(bad.parse::<NatsUrl>().is_err(), "{bad}");
        }
    }
}
