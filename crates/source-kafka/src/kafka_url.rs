//! The `kafka://` URL a loader is configured with: which brokers to bootstrap from, which topics
//! to read, and an optional group name. Pure parsing, no I/O.

use std::fmt;
use std::str::FromStr;

use crate::KafkaError;

/// `kafka://host:port[,host2:port]/TOPIC[,TOPIC2...][?group=GROUP]`.
///
/// `group` is carried for the caller (e.g. to namespace stored positions); this crate does not
/// join a consumer group: positions are the caller's (see [`crate::KafkaConsumer::seek`]).
/// No percent-decoding: Kafka topic names cannot need it, and broker addresses do not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaUrl {
    /// Bootstrap brokers, `host:port` each (IPv6 as `[addr]:port`).
    pub brokers: Vec<String>,
    /// Topics to read, in the order given, without duplicates.
    pub topics: Vec<String>,
    /// The `group` parameter, if given.
    pub group: Option<String>,
}

const SCHEME: &str = "kafka://";

/// Kafka's own limit on topic name length.
const MAX_TOPIC_LEN: usize = 249;

impl FromStr for KafkaUrl {
    type Err = KafkaError;

    fn from_str(url: &str) -> Result<Self, KafkaError> {
        let invalid = |reason: String| KafkaError::InvalidUrl {
            url: url.to_string(),
            reason,
        };
        let rest = url
            .strip_prefix(SCHEME)
            .ok_or_else(|| invalid(format!("must start with {SCHEME}")))?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = rest.split_once('/').ok_or_else(|| {
            invalid("no topic: expected kafka://host:port/TOPIC[,TOPIC2...]".into())
        })?;
        let brokers = authority
            .split(',')
            .map(|b| check_broker(b).map_err(&invalid))
            .collect::<Result<Vec<_>, _>>()?;
        if path.is_empty() {
            return Err(invalid(
                "no topic: expected kafka://host:port/TOPIC[,TOPIC2...]".into(),
            ));
        }
        let mut topics: Vec<String> = Vec::new();
        for topic in path.split(',') {
            check_topic(topic).map_err(&invalid)?;
            if topics.iter().any(|t| t == topic) {
                return Err(invalid(format!("topic {topic:?} is listed twice")));
            }
            topics.push(topic.to_string());
        }
        let group = match query {
            None => None,
            Some(q) => parse_group(q).map_err(&invalid)?,
        };
        Ok(KafkaUrl {
            brokers,
            topics,
            group,
        })
    }
}

impl fmt::Display for KafkaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEME}{}/{}",
            self.brokers.join(","),
            self.topics.join(",")
        )?;
        if let Some(group) = &self.group {
            write!(f, "?group={group}")?;
        }
        Ok(())
    }
}

fn check_broker(broker: &str) -> Result<String, String> {
    if broker.is_empty() {
        return Err("empty broker address: expected host:port".into());
    }
    let (host, port) = broker
        .rsplit_once(':')
        .ok_or_else(|| format!("broker {broker:?} has no port: expected host:port"))?;
    let bare_host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare_host.is_empty() {
        return Err(format!("broker {broker:?} has no host: expected host:port"));
    }
    if bare_host.contains(':') && bare_host.len() == host.len() {
        return Err(format!(
            "broker {broker:?}: write an IPv6 address in brackets, [addr]:port"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok(broker.to_string()),
        _ => Err(format!(
            "broker {broker:?} has a bad port {port:?}: expected 1-65535"
        )),
    }
}

fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("empty topic name in the topic list".into());
    }
    if topic == "." || topic == ".." {
        return Err(format!("topic name {topic:?} is not allowed by Kafka"));
    }
    if topic.len() > MAX_TOPIC_LEN {
        return Err(format!(
            "topic name {topic:?} is longer than Kafka's {MAX_TOPIC_LEN} characters"
        ));
    }
    if let Some(c) = topic
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "topic name {topic:?} has {c:?}; Kafka allows only ASCII letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

fn parse_group(query: &str) -> Result<Option<String>, String> {
    let mut group = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "group" => {
                if value.is_empty() {
                    return Err("group is empty: write group=NAME or leave it out".into());
                }
                if group.replace(value.to_string()).is_some() {
                    return Err("group is given twice".into());
                }
            }
            other => {
                return Err(format!(
                    "unknown parameter {other:?}: the only parameter is group"
                ));
            }
        }
    }
    Ok(group)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<KafkaUrl, String> {
        url.parse::<KafkaUrl>().map_err(|e| e.to_string())
    }

    #[test]
    fn full_url() {
        let url =
            parse("kafka://k1:9092,k2:9093/db.public.a,db.public.b?group=loader-1").expect("valid");
        assert_eq!(url.brokers, ["k1:9092", "k2:9093"]);
        assert_eq!(url.topics, ["db.public.a", "db.public.b"]);
        assert_eq!(url.group.as_deref(), Some("loader-1"));
        assert_eq!(
            url.to_string(),
            "kafka://k1:9092,k2:9093/db.public.a,db.public.b?group=loader-1"
        );
    }

    #[test]
    fn minimal_url_and_ipv6() {
        let url = parse("kafka://[::1]:9092/t").expect("valid");
        assert_eq!(url.brokers, ["[::1]:9092"]);
        assert_eq!(url.topics, ["t"]);
        assert_eq!(url.group, None);
        assert_eq!(url.to_string(), "kafka://[::1]:9092/t");
    }

    #[test]
    fn rejects_with_a_reason() {
        let cases = [
            ("http://k:9092/t", "must start with kafka://"),
            ("kafka://k:9092", "no topic"),
            ("kafka://k:9092/", "no topic"),
            ("kafka://k:9092/a,,b", "empty topic"),
            ("kafka://k:9092/a,a", "listed twice"),
            ("kafka://k:9092/a b", "has ' '"),
            ("kafka://k/t", "has no port"),
            ("kafka://k:0/t", "bad port"),
            ("kafka://k:99999/t", "bad port"),
            ("kafka://k:x/t", "bad port"),
            ("kafka://:9092/t", "no host"),
            ("kafka:///t", "empty broker"),
            ("kafka://k:1,/t", "empty broker"),
            ("kafka://::1:9092/t", "IPv6"),
            ("kafka://k:9092/t?grp=x", "unknown parameter \"grp\""),
            ("kafka://k:9092/t?group=", "group is empty"),
            ("kafka://k:9092/t?group=a&group=b", "twice"),
        ];
        for (url, want) in cases {
            let err = parse(url).expect_err(url);
            assert!(err.contains(want), "{url}: {err:?} should mention {want:?}");
            assert!(err.contains(url), "{url}: {err:?} should quote the URL");
        }
        let long = format!("kafka://k:1/{}", "a".repeat(250));
        assert!(parse(&long).expect_err("too long").contains("longer than"));
    }
}
