//! Where ledger entries come from: the executive's feed (default) or polling a ctldb.

use std::fmt;
use std::time::Duration;

use ctlstore_ctldb::{Ctldb, CtldbOptions};
use ctlstore_ledger::{LedgerEntry, Scopes};
use serde::Deserialize;

/// ctlstore's `-upstream-ledger-table` default.
pub const DEFAULT_LEDGER_TABLE: &str = "ctlstore_dml_ledger";
/// ctlstore's `-poll-interval` default.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// ctlstore's `-poll-jitter-coefficient` default.
pub const DEFAULT_POLL_JITTER: f64 = 0.25;
/// ctlstore's `-poll-timeout` default.
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(5);
/// ctlstore's `-query-block-size` default; feed pages are `FEED_BLOCK_FACTOR` times larger.
pub const DEFAULT_QUERY_BLOCK: i64 = 100;
pub const FEED_BLOCK_FACTOR: i64 = 10;
/// How long one feed long-poll waits for new entries.
pub const DEFAULT_FEED_WAIT: Duration = Duration::from_secs(30);
/// A feed connection silent this long is dead (a NAT timeout or a cut cable sends no FIN and no
/// RST): the request fails and the next one opens a new connection. The executive sends a
/// keepalive byte every second while a long-poll waits (`ctlstore_executive::FEED_KEEPALIVE`),
/// so a live connection is never this quiet; 2.5 s notices a dead one, and the retry is on its
/// way, within 3 s.
pub const FEED_IDLE_TIMEOUT: Duration = Duration::from_millis(2500);
/// How long a connection to an executive may take: a host that does not answer at all (no RST)
/// is given up within this, so a reflector with several executives moves on within 3 s.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How to reach the ledger.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    /// `GET {executive_url}/ledger?after=N&limit=block&wait=...`: answered at commit.
    /// `executive_url` may name several executives of one ctldb, comma-separated: a failed
    /// fetch (down, 503, a cut connection) moves to the next, which continues from the same seq.
    Feed {
        executive_url: String,
        wait: Duration,
        block: i64,
    },
    /// `SELECT seq, leader_ts, statement FROM {ledger_table} WHERE seq > ? ORDER BY seq LIMIT
    /// block` against a ctldb or its read replica; when nothing is new, sleep `interval` ×
    /// (1 ± `jitter`) (ctlstore's `-poll-interval`, `-poll-jitter-coefficient`).
    Poll {
        ctldb_url: String,
        ledger_table: String,
        block: i64,
        interval: Duration,
        jitter: f64,
        timeout: Duration,
    },
}

impl SourceConfig {
    pub fn feed(executive_url: impl Into<String>) -> SourceConfig {
        SourceConfig::Feed {
            executive_url: executive_url.into(),
            wait: DEFAULT_FEED_WAIT,
            block: DEFAULT_QUERY_BLOCK * FEED_BLOCK_FACTOR,
        }
    }

    pub fn poll(ctldb_url: impl Into<String>) -> SourceConfig {
        SourceConfig::Poll {
            ctldb_url: ctldb_url.into(),
            ledger_table: DEFAULT_LEDGER_TABLE.into(),
            block: DEFAULT_QUERY_BLOCK,
            interval: DEFAULT_POLL_INTERVAL,
            jitter: DEFAULT_POLL_JITTER,
            timeout: DEFAULT_POLL_TIMEOUT,
        }
    }
}

impl fmt::Display for SourceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceConfig::Feed { executive_url, .. } => write!(f, "feed {executive_url}"),
            // The URL may carry a password: name the kind only.
            SourceConfig::Poll { ledger_table, .. } => {
                write!(f, "polling ctldb table {ledger_table}")
            }
        }
    }
}

/// The source failed; the reflector retries with backoff. Nothing here halts applying: only an
/// entry the LDB refuses does, and an entry is only ever taken from a complete, parsed page.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The connection failed, or the answer ended before it was complete (a reset, or a FIN in
    /// the middle of a response): with the cause, which reqwest's own message leaves out.
    #[error("ledger feed: {}", with_causes(.0))]
    Http(#[from] reqwest::Error),
    #[error("ledger feed answered {status}: {body}")]
    Status { status: u16, body: String },
    /// A complete answer that is not a page: a feed this reflector does not understand.
    #[error("ledger feed sent an answer that is not a page: {0}")]
    Page(serde_json::Error),
    #[error("ledger feed failed while waiting: {0}")]
    Feed(String),
    #[error("ctldb: {0}")]
    Ctldb(#[from] ctlstore_ctldb::CtldbError),
    #[error("ctldb poll timed out after {0:?}")]
    Timeout(Duration),
    /// The entries after this host's seq were pruned from the ledger (retention): only a
    /// snapshot can bring it forward.
    #[error("the ledger is pruned through seq {horizon}, above this LDB's seq {after}: bootstrap from a snapshot{}", .snapshot.as_deref().map(|s| format!(" ({s})")).unwrap_or_default())]
    BelowHorizon {
        after: i64,
        horizon: i64,
        /// Where the executive says the snapshots are.
        snapshot: Option<String>,
    },
}

/// The executive's 410 body.
#[derive(Deserialize)]
struct Gone {
    horizon: i64,
    snapshot: Option<String>,
}

/// A page of entries.
pub struct Fetched {
    pub entries: Vec<LedgerEntry>,
    /// The newest seq the source knows of, when it says.
    pub head: Option<i64>,
    /// On a filtered page (partial replication): the seq it carries this host to. Entries up
    /// to it that are not in `entries` were not for this host; they are neither a gap to wait
    /// on nor skipped seqs.
    pub through: Option<i64>,
}

/// A connected source.
pub struct Source {
    kind: SourceKind,
    /// `--families`: what this host replicates.
    families: Option<Scopes>,
}

enum SourceKind {
    Feed {
        client: reqwest::Client,
        /// `{base}/ledger` of each executive.
        urls: Vec<String>,
        /// `&families=...`, or empty.
        query: String,
        /// The one in use.
        at: usize,
        wait: Duration,
        block: i64,
    },
    Poll {
        ctldb: Option<Ctldb>,
        config: SourceConfig,
    },
}

#[derive(Deserialize)]
struct Page {
    entries: Vec<PageEntry>,
    head: i64,
    #[serde(default)]
    through: Option<i64>,
}

/// A long-poll's body: the page, or the error that ended a wait after the 200 went out.
#[derive(Deserialize)]
#[serde(untagged)]
enum Answer {
    Page(Page),
    /// Pruned while the long-poll waited (the 200 had gone out).
    Gone(Gone),
    Error {
        error: String,
    },
}

#[derive(Deserialize)]
struct PageEntry {
    seq: i64,
    leader_ts: String,
    statement: String,
}

impl Source {
    /// Prepares the source. A poll source connects lazily, so a reflector starts (and serves its
    /// LDB) while the ctldb is down. `families` narrows what is replicated: the feed is asked
    /// for them (and what arrives is filtered again here); a polled ctldb is filtered here.
    pub async fn connect(
        config: &SourceConfig,
        tls: &ctlstore_tls::ClientTls,
        families: Option<&Scopes>,
    ) -> Result<Source, SourceError> {
        let kind = match config {
            SourceConfig::Feed {
                executive_url,
                wait,
                block,
            } => {
                let client = tls
                    .apply(
                        reqwest::Client::builder()
                            .connect_timeout(CONNECT_TIMEOUT)
                            .read_timeout(FEED_IDLE_TIMEOUT),
                    )
                    .build()?;
                let query = families
                    .filter(|f| !f.is_all())
                    .map(|f| format!("&families={}", f.to_list()))
                    .unwrap_or_default();
                SourceKind::Feed {
                    client,
                    urls: ctlstore_schema::executive_base_urls(executive_url)
                        .iter()
                        .map(|base| format!("{base}/ledger"))
                        .collect(),
                    query,
                    at: 0,
                    wait: *wait,
                    block: *block,
                }
            }
            SourceConfig::Poll { .. } => SourceKind::Poll {
                ctldb: None,
                config: config.clone(),
            },
        };
        // What arrives is filtered here too (a relay or an older executive does not filter):
        // the families asked for, and the heartbeat's, which the executive always adds.
        Ok(Source {
            kind,
            families: crate::partial::held(families),
        })
    }

    // PERFORMANCE-CRITICAL PATH: propagation latency is this call's latency.
    /// The next entries after `after` (possibly none, after waiting for them).
    /// This host's own filter over `entries` (read after `after`; `through` when the source
    /// already filtered): only what its `--families` admits (a relay, an older executive or a
    /// polled ctldb sends everything), and how far the page carried. Without `--families`,
    /// the page as it came.
    pub fn narrow<'a>(
        &self,
        entries: &'a [LedgerEntry],
        through: Option<i64>,
        after: i64,
    ) -> (std::borrow::Cow<'a, [LedgerEntry]>, Option<i64>) {
        let Some(scopes) = self.families.as_ref() else {
            return (std::borrow::Cow::Borrowed(entries), through);
        };
        let last = entries.last().map_or(after, |e| e.seq);
        let through = through.unwrap_or(after).max(last);
        let kept: Vec<LedgerEntry> = entries
            .iter()
            .filter(|e| scopes.admits(e))
            .cloned()
            .collect();
        (std::borrow::Cow::Owned(kept), Some(through))
    }

    pub async fn fetch(&mut self, after: i64) -> Result<Fetched, SourceError> {
        match &mut self.kind {
            SourceKind::Feed {
                client,
                urls,
                query,
                at,
                wait,
                block,
            } => {
                let Some(url) = urls.get(*at) else {
                    return Err(SourceError::Feed("no executive URL".into()));
                };
                let page = match feed_page(client, url, query, after, *wait, *block).await {
                    Ok(page) => page,
                    Err(e) => {
                        // The next executive (of the same ctldb) continues from the same seq.
                        if urls.len() > 1 {
                            *at = (*at + 1) % urls.len();
                            tracing::warn!(error = %e, next = %urls[*at], "ledger feed failed: moving to the next executive");
                        }
                        return Err(e);
                    }
                };
                let entries = page
                    .entries
                    .into_iter()
                    .map(|e| LedgerEntry {
                        seq: e.seq,
                        leader_ts: e.leader_ts,
                        statement: e.statement,
                    })
                    .collect();
                Ok(Fetched {
                    entries,
                    head: Some(page.head),
                    through: page.through,
                })
            }
            SourceKind::Poll { ctldb, config } => {
                let SourceConfig::Poll {
                    ctldb_url,
                    ledger_table,
                    block,
                    interval,
                    jitter,
                    timeout,
                } = config
                else {
                    unreachable!("a poll source is built from a poll config")
                };
                if ctldb.is_none() {
                    let options = CtldbOptions {
                        max_connections: 2,
                        run_migrations: false,
                        ledger_table: ledger_table.clone(),
                        ..CtldbOptions::default()
                    };
                    *ctldb = Some(Ctldb::connect(ctldb_url, options).await?);
                }
                let Some(db) = ctldb.as_ref() else {
                    unreachable!("connected above")
                };
                let entries = tokio::time::timeout(*timeout, db.ledger_after(after, *block))
                    .await
                    .map_err(|_| SourceError::Timeout(*timeout))??;
                // A page that starts past a gap may be missing pruned entries: the horizon is
                // recorded before pruning deletes, so reading it after the page tells.
                if entries.first().is_some_and(|e| e.seq > after + 1) {
                    let horizon = db.ledger_horizon().await?;
                    if after < horizon {
                        return Err(SourceError::BelowHorizon {
                            after,
                            horizon,
                            snapshot: None,
                        });
                    }
                }
                if entries.is_empty() {
                    tokio::time::sleep(jittered(*interval, *jitter)).await;
                }
                Ok(Fetched {
                    entries,
                    head: None,
                    through: None,
                })
            }
        }
    }
}

/// One page from the feed at `url` (`.../ledger`).
async fn feed_page(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    after: i64,
    wait: Duration,
    block: i64,
) -> Result<Page, SourceError> {
    let request = format!(
        "{url}?after={after}&limit={block}&wait={}{query}",
        wait.as_millis()
    );
    let response = client
        .get(request)
        .timeout(wait + Duration::from_secs(15))
        .send()
        .await?;
    let status = response.status();
    if status == reqwest::StatusCode::GONE {
        let body = response.bytes().await?;
        if let Ok(gone) = serde_json::from_slice::<Gone>(&body) {
            return Err(SourceError::BelowHorizon {
                after,
                horizon: gone.horizon,
                snapshot: gone.snapshot,
            });
        }
        return Err(SourceError::Status {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(SourceError::Status {
            status: status.as_u16(),
            body,
        });
    }
    // The whole body first: a response cut short fails here, as a transport error, before
    // anything is parsed.
    let body = response.bytes().await?;
    match serde_json::from_slice::<Answer>(&body).map_err(SourceError::Page)? {
        Answer::Page(page) => Ok(page),
        Answer::Gone(gone) => Err(SourceError::BelowHorizon {
            after,
            horizon: gone.horizon,
            snapshot: gone.snapshot,
        }),
        Answer::Error { error } => Err(SourceError::Feed(error)),
    }
}

/// `error: cause: its cause ...`: reqwest says "error decoding response body" for a body cut
/// short; the cause says how ("connection reset", "end of file before message length reached").
fn with_causes(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// `interval × (1 + coefficient × (2u − 1))`, u uniform in [0, 1): ctlstore's poll jitter.
fn jittered(interval: Duration, coefficient: f64) -> Duration {
    let u = jitter_millis(1_000_000) as f64 / 1_000_000.0;
    interval.mul_f64((1.0 + coefficient.clamp(0.0, 1.0) * (2.0 * u - 1.0)).max(0.0))
}

/// A pseudo-random number in `[0, max)`: enough to spread hosts' polls apart.
pub(crate) fn jitter_millis(max: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    if max == 0 {
        return 0;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() % max
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A feed that answers every request with `answer`, then closes (FIN).
    async fn feed_answering(answer: &'static [u8]) -> Source {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            while let Ok((mut c, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = c.read(&mut request).await;
                let _ = c.write_all(answer).await;
                let _ = c.shutdown().await;
            }
        });
        Source::connect(&SourceConfig::feed(url), &Default::default(), None)
            .await
            .expect("the source")
    }

    #[tokio::test]
    async fn a_page_cut_short_is_a_transport_error() {
        let cut: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\ncontent-length: 200\r\n\r\n{\"entries\":[{\"seq\":1,",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\n \r\n",
            b"HTTP/1.1 200 OK\r\ncontent-le",
        ];
        for answer in cut {
            let mut source = feed_answering(answer).await;
            let error = source.fetch(0).await.err().expect("a cut page fails");
            assert!(matches!(error, SourceError::Http(_)), "{error}");
            // The message says how it was cut, not only "error decoding response body".
            let text = error.to_string();
            assert!(
                text.contains("end of file") || text.contains("EOF") || text.contains("closed"),
                "{text}"
            );
        }
        let mut source = feed_answering(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await;
        let error = source.fetch(0).await.err().expect("not a page");
        assert!(matches!(error, SourceError::Page(_)), "{error}");
    }

    #[test]
    fn jitter_stays_in_bounds() {
        for _ in 0..1000 {
            let d = jittered(Duration::from_secs(1), 0.25);
            assert!(
                d >= Duration::from_millis(750) && d <= Duration::from_millis(1250),
                "{d:?}"
            );
        }
    }
}
