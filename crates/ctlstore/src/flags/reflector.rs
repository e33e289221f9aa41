//! `ctlstore reflector` and `ctlstore multi-reflector` (the supervisor nests the same flags).

use std::time::Duration;

use clap::Args;
use ctlstore_reflector as reflector;

use super::{
    CommonFlags, FlagError, NestedLedgerLatency, TlsClientFlags, TlsServerFlags, http_urls,
    positive, tls_flag_error,
};
use crate::goflags::{GoDuration, list_item};

#[derive(Args, Debug)]
pub struct ReflectorArgs {
    /// The LDB file this host serves reads from (required, except with multi-reflector).
    #[arg(long, default_value = "")]
    pub ldb_path: String,
    /// Follow the executive's ledger feed (lowest latency). Otherwise --upstream-dsn is polled.
    #[arg(long)]
    pub executive_url: Option<String>,
    /// Upstream driver for polling: mysql, sqlite3 or postgres.
    #[arg(long)]
    pub upstream_driver: Option<String>,
    /// The ctldb (or read replica) to poll: a Go MySQL DSN, a URL, or an SQLite path.
    #[arg(long)]
    pub upstream_dsn: Option<String>,
    #[arg(long, default_value = reflector::DEFAULT_LEDGER_TABLE)]
    pub upstream_ledger_table: String,
    /// Write a JSON-lines changelog of row changes here (empty: off).
    #[arg(long, default_value = "")]
    pub changelog_path: String,
    /// Rotate the changelog at this many bytes (ctlstore's default: 1 MiB).
    #[arg(long, default_value_t = 1_048_576)]
    pub changelog_size: u64,
    /// Keep a change feed of at least this many row changes in the LDB, for watches and
    /// triggers (docs/watch.md); 0: off.
    #[arg(long, default_value_t = 0)]
    pub change_feed: u64,
    /// Snapshot to start from when the LDB does not exist yet (s3://, file://).
    #[arg(long, default_value = "")]
    pub bootstrap_url: String,
    #[arg(long, default_value = "")]
    pub bootstrap_region: String,
    /// How long to sleep when a poll found nothing new (Go duration).
    #[arg(long, default_value_t = GoDuration(reflector::DEFAULT_POLL_INTERVAL))]
    pub poll_interval: GoDuration,
    #[arg(long, default_value_t = reflector::DEFAULT_POLL_JITTER)]
    pub poll_jitter_coefficient: f64,
    #[arg(long, default_value_t = GoDuration(reflector::DEFAULT_POLL_TIMEOUT))]
    pub poll_timeout: GoDuration,
    /// Ledger entries per poll query (feed pages are ten times larger).
    #[arg(long, default_value_t = reflector::DEFAULT_QUERY_BLOCK)]
    pub query_block_size: i64,
    /// How long a sequence gap is waited on before it is treated as skipped (Go duration).
    #[arg(long, default_value_t = GoDuration(reflector::DEFAULT_GAP_TIMEOUT))]
    pub gap_timeout: GoDuration,
    /// `final`: a gap below a committed entry is skipped at once (the default for the
    /// executive's feed; safe when polling a ctldb, or a replica applying in commit order,
    /// written only by our executives). `wait`: wait -gap-timeout first (ctlstore's rule; the
    /// default when polling a ctldb). Empty: the source's default.
    #[arg(long, default_value = "", value_name = "wait|final")]
    pub gap_policy: String,
    /// Serve /healthz, /status and /metrics here (empty: off).
    #[arg(long, default_value = "")]
    pub metrics_bind: String,
    /// ctlstore's WAL monitor interval; checkpoints here happen after each applied page.
    #[arg(long, default_value = "0s", hide = true)]
    pub wal_poll_interval: GoDuration,
    #[arg(long, default_value_t = ctlstore_ldb::LdbOptions::default().wal_checkpoint_threshold)]
    pub wal_checkpoint_threshold_size: u64,
    /// PASSIVE, FULL, RESTART or TRUNCATE.
    #[arg(long, default_value = "PASSIVE")]
    pub wal_checkpoint_type: String,
    /// SQLite busy timeout for the LDB, ms (0: 5000, go-sqlite3's default).
    #[arg(long, default_value_t = 0)]
    pub busy_timeout_ms: u64,
    /// Replicate only these families (or family/table), comma-separated; the heartbeat's
    /// family comes with them. The feed never sends more than this host's identity may read.
    #[arg(long, value_name = "FAMILY[,FAMILY/TABLE...]")]
    pub families: Option<String>,
    /// Give a new LDB (and its WAL and SHM, mode 0640) to this group, so applications in it
    /// can read it: a name or a gid.
    #[arg(long, value_name = "GROUP")]
    pub ldb_group: Option<String>,
    /// TLS for --metrics-bind.
    #[command(flatten)]
    pub tls: TlsServerFlags,
    /// TLS to the executive's feed.
    #[command(flatten)]
    pub tls_client: TlsClientFlags,
    #[command(flatten)]
    pub ledger_latency: NestedLedgerLatency,
    #[command(flatten)]
    pub common: CommonFlags,
}

impl ReflectorArgs {
    pub fn config(&self) -> Result<reflector::Config, FlagError> {
        self.config_for(&self.ldb_path)
    }

    /// The config for one LDB (multi-reflector keeps several with the same flags).
    fn config_for(&self, ldb_path: &str) -> Result<reflector::Config, FlagError> {
        let source = match (&self.executive_url, &self.upstream_dsn) {
            (Some(url), _) if !url.is_empty() => reflector::SourceConfig::Feed {
                executive_url: http_urls("executive-url", url)?,
                wait: reflector::DEFAULT_FEED_WAIT,
                block: (self.query_block_size * reflector::FEED_BLOCK_FACTOR).clamp(1, 10_000),
            },
            (_, Some(dsn)) if !dsn.is_empty() => reflector::SourceConfig::Poll {
                ctldb_url: upstream_url(self.upstream_driver.as_deref(), dsn)?,
                ledger_table: self.upstream_ledger_table.clone(),
                block: self.query_block_size.max(1),
                interval: positive("poll-interval", self.poll_interval)?,
                jitter: self.poll_jitter_coefficient,
                timeout: positive("poll-timeout", self.poll_timeout)?,
            },
            _ => {
                return Err(FlagError::new(
                    "executive-url",
                    "give --executive-url (the ledger feed) or --upstream-driver and --upstream-dsn (polling)",
                ));
            }
        };
        if ldb_path.is_empty() {
            return Err(FlagError::new("ldb-path", "is required"));
        }
        if !(0.0..1.0).contains(&self.poll_jitter_coefficient) {
            return Err(FlagError::new(
                "poll-jitter-coefficient",
                "must be at least 0 and below 1",
            ));
        }
        if self.query_block_size <= 0 {
            return Err(FlagError::new(
                "query-block-size",
                "must be greater than zero",
            ));
        }
        let mut config = reflector::Config::new(ldb_path, source);
        config.gap_timeout = positive("gap-timeout", self.gap_timeout)?;
        if !self.gap_policy.is_empty() {
            config.gap_policy = Some(
                reflector::GapPolicy::parse(&self.gap_policy)
                    .ok_or_else(|| FlagError::new("gap-policy", "must be wait or final"))?,
            );
        }
        config.max_healthy_latency = positive(
            "ledger-latency.max-healty-latency",
            self.ledger_latency.inner.max_healthy_latency,
        )?;
        config.ldb.wal_checkpoint_threshold = self.wal_checkpoint_threshold_size;
        config.ldb.wal_checkpoint_mode =
            ctlstore_ldb::CheckpointMode::parse(&self.wal_checkpoint_type).ok_or_else(|| {
                FlagError::new(
                    "wal-checkpoint-type",
                    "must be PASSIVE, FULL, RESTART or TRUNCATE",
                )
            })?;
        if self.busy_timeout_ms > 0 {
            config.ldb.busy_timeout = Duration::from_millis(self.busy_timeout_ms);
        }
        if !self.bootstrap_url.is_empty() {
            let s3 = ctlstore_snapshot::S3Options {
                region: Some(self.bootstrap_region.clone()).filter(|r| !r.is_empty()),
                ..Default::default()
            };
            ctlstore_snapshot::Location::parse(&self.bootstrap_url, &s3)
                .map_err(|e| FlagError::new("bootstrap-url", e.to_string()))?;
            config.bootstrap = Some((self.bootstrap_url.clone(), s3));
        }
        if !self.changelog_path.is_empty() && self.changelog_size > 0 {
            config.ldb.changelog = Some((self.changelog_path.clone().into(), self.changelog_size));
        }
        config.ldb.change_feed = self.change_feed;
        if let Some(list) = self.families.as_deref().filter(|f| !f.trim().is_empty()) {
            config.families = Some(
                ctlstore_ledger::Scopes::parse_list(list)
                    .map_err(|e| FlagError::new("families", e))?,
            );
        }
        if let Some(group) = self.ldb_group.as_deref().filter(|g| !g.is_empty()) {
            config.ldb.group = Some(
                ctlstore_ldb::resolve_group(group).map_err(|e| FlagError::new("ldb-group", e))?,
            );
        }
        config.tls = self.tls_client.load().map_err(tls_flag_error)?;
        Ok(config)
    }

    /// TLS for the health and metrics endpoint (`--metrics-bind`).
    pub fn metrics_tls(&self) -> Result<Option<ctlstore_tls::ServerTls>, FlagError> {
        self.tls.load().map_err(tls_flag_error)
    }

    /// Logs the ctlstore flags given that mean nothing here.
    pub fn log_ignored(&self) {
        self.common.ignored.log();
        self.ledger_latency.inner.ecs.log();
    }
}

/// ctlstore's `-upstream-driver` + `-upstream-dsn` as a ctldb URL, checked.
fn upstream_url(driver: Option<&str>, dsn: &str) -> Result<String, FlagError> {
    let url = match driver.unwrap_or("") {
        "sqlite3" | "sqlite" => {
            let path = dsn.strip_prefix("file:").unwrap_or(dsn);
            format!("sqlite:{}", path.split('?').next().unwrap_or(path))
        }
        "mysql" | "postgres" | "postgresql" | "" => dsn.to_string(),
        other => {
            return Err(FlagError::new(
                "upstream-driver",
                format!("must be mysql, sqlite3 or postgres, got '{other}'"),
            ));
        }
    };
    ctlstore_ctldb::parse_ctldb_url(&url)
        .map_err(|e| FlagError::new("upstream-dsn", e.to_string()))?;
    Ok(url)
}

/// ctlstore's `multi-reflector`: the reflector flags, applied to several LDB copies.
#[derive(Args, Debug)]
pub struct MultiReflectorArgs {
    /// The LDB copies to keep, as `[a,b]` or `a,b` (at least two).
    #[arg(long = "multi-reflector.ldb-paths", value_delimiter = ',', value_parser = list_item, required = true)]
    pub ldb_paths: Vec<String>,
    #[command(flatten)]
    pub reflector: ReflectorArgs,
}

impl MultiReflectorArgs {
    /// One reflector config per LDB copy.
    pub fn configs(&self) -> Result<Vec<reflector::Config>, FlagError> {
        let paths: Vec<&String> = self.ldb_paths.iter().filter(|p| !p.is_empty()).collect();
        if paths.len() < 2 {
            return Err(FlagError::new(
                "multi-reflector.ldb-paths",
                format!("needs at least two paths, got {paths:?}"),
            ));
        }
        let mut configs = paths
            .into_iter()
            .map(|path| self.reflector.config_for(path))
            .collect::<Result<Vec<_>, _>>()?;
        // One changelog, written by the first copy only (as ctlstore does): several writers
        // appending to and rotating one file would interleave and lose lines.
        for config in configs.iter_mut().skip(1) {
            config.ldb.changelog = None;
        }
        Ok(configs)
    }
}
