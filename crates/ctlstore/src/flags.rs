//! Flags of each subcommand, with ctlstore's names, defaults and `CTLSTORE_*` variables.
//! Booleans take Go's forms (`-flag`, `-flag=true`, `-flag false`); durations Go's text
//! (`1s`, `5m`).

use std::time::Duration;

use clap::{Args, builder::BoolishValueParser};

pub fn duration(text: &str) -> Result<Duration, String> {
    ctlstore_duration::parse(text).map_err(|e| e.to_string())
}

/// One element of a list flag. segmentio/conf writes lists as `[a,b]`; with `,` as the
/// delimiter that arrives as `[a` and `b]`, so the brackets are trimmed here. `a,b` works too.
pub fn list_item(text: &str) -> Result<String, String> {
    let item = text
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim();
    Ok(item.to_string())
}

/// Flags ctlstore has that mean nothing here; accepted, and logged once.
#[derive(Args, Debug, Default)]
pub struct IgnoredFlags {
    #[arg(
        long = "dogstatsd.address",
        env = "CTLSTORE_DOGSTATSD_ADDRESS",
        hide = true
    )]
    dogstatsd_address: Option<String>,
    #[arg(
        long = "dogstatsd.buffer-size",
        env = "CTLSTORE_DOGSTATSD_BUFFER_SIZE",
        hide = true
    )]
    dogstatsd_buffer_size: Option<String>,
    #[arg(
        long = "dogstatsd.flush-every",
        env = "CTLSTORE_DOGSTATSD_FLUSH_EVERY",
        hide = true
    )]
    dogstatsd_flush_every: Option<String>,
    #[arg(long, env = "CTLSTORE_SHADOW", hide = true, num_args = 0..=1, default_missing_value = "true")]
    shadow: Option<String>,
}

impl IgnoredFlags {
    pub fn log_ignored(&self) {
        let given: Vec<&str> = [
            ("dogstatsd.address", self.dogstatsd_address.is_some()),
            (
                "dogstatsd.buffer-size",
                self.dogstatsd_buffer_size.is_some(),
            ),
            (
                "dogstatsd.flush-every",
                self.dogstatsd_flush_every.is_some(),
            ),
            ("shadow", self.shadow.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        if !given.is_empty() {
            tracing::info!(flags = ?given, "ctlstore flags accepted and ignored: metrics are served at /metrics (Prometheus)");
        }
    }
}

#[derive(Args, Debug)]
pub struct ExecutiveArgs {
    /// Address to listen on.
    #[arg(long, env = "CTLSTORE_BIND", default_value = "127.0.0.1:3000")]
    pub bind: String,
    /// The ctldb: sqlite:PATH (embedded, the default), mysql://..., postgres://..., or a Go MySQL
    /// DSN (user:pass@tcp(host:3306)/ctldb).
    #[arg(long, env = "CTLSTORE_CTLDB", default_value = "sqlite:ctldb.db")]
    pub ctldb: String,
    /// Table size (bytes) above which upserts are refused with 507.
    #[arg(long, env = "CTLSTORE_MAX_TABLE_SIZE", default_value_t = 104_857_600)]
    pub max_table_size: i64,
    /// Table size (bytes) above which a warning is logged.
    #[arg(long, env = "CTLSTORE_WARN_TABLE_SIZE", default_value_t = 52_428_800)]
    pub warn_table_size: i64,
    /// Rows each writer may write per period, unless it has its own limit.
    #[arg(long, env = "CTLSTORE_WRITER_LIMIT", default_value_t = 1000)]
    pub writer_limit: i64,
    /// The writer limit's period (Go duration).
    #[arg(long, env = "CTLSTORE_WRITER_LIMIT_PERIOD", default_value = "1m", value_parser = duration)]
    pub writer_limit_period: Duration,
    /// Allow dropping tables and clearing rows.
    #[arg(long, env = "CTLSTORE_ENABLE_DESTRUCTIVE_SCHEMA_CHANGES", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub enable_destructive_schema_changes: bool,
    /// Longest a request may take (Go duration).
    #[arg(long, env = "CTLSTORE_HANDLER_TIMEOUT", default_value = "30s", value_parser = duration)]
    pub handler_timeout: Duration,
    /// Require `Authorization: Bearer <token>` on schema and limit changes.
    #[arg(long, env = "CTLSTORE_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// How new writers' secrets are stored: sha256 (ctlstore's, the default) or argon2id.
    #[arg(long, env = "CTLSTORE_WRITER_SECRET_HASH", default_value = "sha256")]
    pub writer_secret_hash: String,
    /// How often the ledger head is polled to notice other executives' commits (Go duration).
    #[arg(long, env = "CTLSTORE_LEDGER_POLL_INTERVAL", default_value = "200ms", value_parser = duration)]
    pub ledger_poll_interval: Duration,
    /// Log at debug level.
    #[arg(long, env = "CTLSTORE_DEBUG", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub debug: bool,
    #[command(flatten)]
    pub ignored: IgnoredFlags,
}

impl ExecutiveArgs {
    pub fn config(&self) -> anyhow::Result<ctlstore_executive::Config> {
        let writer_secret_hash = ctlstore_executive::SecretHashScheme::parse(
            &self.writer_secret_hash,
        )
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--writer-secret-hash must be sha256 or argon2id, got '{}'",
                self.writer_secret_hash
            )
        })?;
        if self.writer_limit_period.is_zero() {
            anyhow::bail!("--writer-limit-period must be positive");
        }
        Ok(ctlstore_executive::Config {
            ctldb_url: self.ctldb.clone(),
            max_table_size: self.max_table_size,
            warn_table_size: self.warn_table_size,
            writer_limit: self.writer_limit,
            writer_limit_period: self.writer_limit_period,
            enable_destructive_schema_changes: self.enable_destructive_schema_changes,
            admin_token: self.admin_token.clone().filter(|t| !t.is_empty()),
            writer_secret_hash,
            handler_timeout: self.handler_timeout,
            ledger_poll_interval: self.ledger_poll_interval,
            ..Default::default()
        })
    }
}

/// ctlstore's `-ledger-latency.*` group. Only `max-healty-latency` (sic) means something here:
/// the ECS attribute machinery does not exist outside ECS; our `/healthz` replaces it.
#[derive(Args, Debug)]
pub struct LedgerLatencyFlags {
    #[arg(long = "ledger-latency.max-healty-latency", env = "CTLSTORE_LEDGER_LATENCY_MAX_HEALTY_LATENCY", default_value = "1m", value_parser = duration)]
    pub max_healthy_latency: Duration,
    #[arg(long = "ledger-latency.disable", env = "CTLSTORE_LEDGER_LATENCY_DISABLE", hide = true, num_args = 0..=1, default_missing_value = "true")]
    latency_disable: Option<String>,
    #[arg(long = "ledger-latency.disable-ecs-behavior", env = "CTLSTORE_LEDGER_LATENCY_DISABLE_ECS_BEHAVIOR", hide = true, num_args = 0..=1, default_missing_value = "true")]
    latency_disable_ecs_behavior: Option<String>,
    #[arg(
        long = "ledger-latency.attribute-name",
        env = "CTLSTORE_LEDGER_LATENCY_ATTRIBUTE_NAME",
        hide = true
    )]
    latency_attribute_name: Option<String>,
    #[arg(
        long = "ledger-latency.healthy-attribute-value",
        env = "CTLSTORE_LEDGER_LATENCY_HEALTHY_ATTRIBUTE_VALUE",
        hide = true
    )]
    latency_healthy_attribute_value: Option<String>,
    #[arg(
        long = "ledger-latency.unhealth-attribute-value",
        env = "CTLSTORE_LEDGER_LATENCY_UNHEALTH_ATTRIBUTE_VALUE",
        hide = true
    )]
    latency_unhealth_attribute_value: Option<String>,
    #[arg(
        long = "ledger-latency.poll-interval",
        env = "CTLSTORE_LEDGER_LATENCY_POLL_INTERVAL",
        hide = true
    )]
    latency_poll_interval: Option<String>,
    #[arg(
        long = "ledger-latency.aws-region",
        env = "CTLSTORE_LEDGER_LATENCY_AWS_REGION",
        hide = true
    )]
    latency_aws_region: Option<String>,
}

impl Default for LedgerLatencyFlags {
    fn default() -> Self {
        LedgerLatencyFlags {
            max_healthy_latency: Duration::from_secs(60),
            latency_disable: None,
            latency_disable_ecs_behavior: None,
            latency_attribute_name: None,
            latency_healthy_attribute_value: None,
            latency_unhealth_attribute_value: None,
            latency_poll_interval: None,
            latency_aws_region: None,
        }
    }
}

impl LedgerLatencyFlags {
    pub fn log_ignored(&self) {
        let ignored = [
            ("ledger-latency.disable", self.latency_disable.is_some()),
            (
                "ledger-latency.disable-ecs-behavior",
                self.latency_disable_ecs_behavior.is_some(),
            ),
            (
                "ledger-latency.attribute-name",
                self.latency_attribute_name.is_some(),
            ),
            (
                "ledger-latency.healthy-attribute-value",
                self.latency_healthy_attribute_value.is_some(),
            ),
            (
                "ledger-latency.unhealth-attribute-value",
                self.latency_unhealth_attribute_value.is_some(),
            ),
            (
                "ledger-latency.poll-interval",
                self.latency_poll_interval.is_some(),
            ),
            (
                "ledger-latency.aws-region",
                self.latency_aws_region.is_some(),
            ),
        ];
        let given: Vec<&str> = ignored
            .into_iter()
            .filter_map(|(n, set)| set.then_some(n))
            .collect();
        if !given.is_empty() {
            tracing::info!(flags = ?given, "ctlstore ECS flags accepted and ignored: health is served at /healthz");
        }
    }
}

#[derive(Args, Debug)]
pub struct ReflectorArgs {
    /// The LDB file this host serves reads from (required, except with multi-reflector).
    #[arg(long, env = "CTLSTORE_LDB_PATH", default_value = "")]
    pub ldb_path: String,
    /// Follow the executive's ledger feed (lowest latency). Otherwise --upstream-dsn is polled.
    #[arg(long, env = "CTLSTORE_EXECUTIVE_URL")]
    pub executive_url: Option<String>,
    /// Upstream driver for polling: mysql, sqlite3 or postgres.
    #[arg(long, env = "CTLSTORE_UPSTREAM_DRIVER")]
    pub upstream_driver: Option<String>,
    /// The ctldb (or read replica) to poll: a Go MySQL DSN, a URL, or an SQLite path.
    #[arg(long, env = "CTLSTORE_UPSTREAM_DSN")]
    pub upstream_dsn: Option<String>,
    #[arg(
        long,
        env = "CTLSTORE_UPSTREAM_LEDGER_TABLE",
        default_value = "ctlstore_dml_ledger"
    )]
    pub upstream_ledger_table: String,
    /// Write a JSON-lines changelog of row changes here (empty: off).
    #[arg(long, env = "CTLSTORE_CHANGELOG_PATH", default_value = "")]
    pub changelog_path: String,
    /// Rotate the changelog at this many bytes.
    #[arg(long, env = "CTLSTORE_CHANGELOG_SIZE", default_value_t = 1_048_576)]
    pub changelog_size: u64,
    /// Snapshot to start from when the LDB does not exist yet.
    #[arg(long, env = "CTLSTORE_BOOTSTRAP_URL", default_value = "")]
    pub bootstrap_url: String,
    #[arg(long, env = "CTLSTORE_BOOTSTRAP_REGION", default_value = "")]
    pub bootstrap_region: String,
    /// How long to sleep when a poll found nothing new (Go duration).
    #[arg(long, env = "CTLSTORE_POLL_INTERVAL", default_value = "1s", value_parser = duration)]
    pub poll_interval: Duration,
    #[arg(long, env = "CTLSTORE_POLL_JITTER_COEFFICIENT", default_value_t = 0.25)]
    pub poll_jitter_coefficient: f64,
    #[arg(long, env = "CTLSTORE_POLL_TIMEOUT", default_value = "5s", value_parser = duration)]
    pub poll_timeout: Duration,
    /// Ledger entries per poll query (feed pages are ten times larger).
    #[arg(long, env = "CTLSTORE_QUERY_BLOCK_SIZE", default_value_t = 100)]
    pub query_block_size: i64,
    /// How long a sequence gap is waited on before it is treated as skipped (Go duration).
    #[arg(long, env = "CTLSTORE_GAP_TIMEOUT", default_value = "1s", value_parser = duration)]
    pub gap_timeout: Duration,
    /// Serve /healthz, /status and /metrics here (empty: off).
    #[arg(long, env = "CTLSTORE_METRICS_BIND", default_value = "")]
    pub metrics_bind: String,
    /// ctlstore's WAL monitor interval; checkpoints here happen after each applied page.
    #[arg(long, env = "CTLSTORE_WAL_POLL_INTERVAL", default_value = "0", value_parser = duration, hide = true)]
    pub wal_poll_interval: Duration,
    #[arg(
        long,
        env = "CTLSTORE_WAL_CHECKPOINT_THRESHOLD_SIZE",
        default_value_t = 8_388_608
    )]
    pub wal_checkpoint_threshold_size: u64,
    /// PASSIVE, FULL, RESTART or TRUNCATE.
    #[arg(long, env = "CTLSTORE_WAL_CHECKPOINT_TYPE", default_value = "PASSIVE")]
    pub wal_checkpoint_type: String,
    /// SQLite busy timeout for the LDB, ms (0: 5000, go-sqlite3's default).
    #[arg(long, env = "CTLSTORE_BUSY_TIMEOUT_MS", default_value_t = 0)]
    pub busy_timeout_ms: u64,
    #[arg(long, env = "CTLSTORE_DEBUG", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub debug: bool,
    #[command(flatten)]
    pub ledger_latency: LedgerLatencyFlags,
    #[command(flatten)]
    pub ignored: IgnoredFlags,
}

impl ReflectorArgs {
    pub fn config(&self) -> anyhow::Result<ctlstore_reflector::Config> {
        use ctlstore_reflector::SourceConfig;
        let source = match (&self.executive_url, &self.upstream_dsn) {
            (Some(url), _) if !url.is_empty() => SourceConfig::Feed {
                executive_url: url.clone(),
                wait: Duration::from_secs(30),
                block: (self.query_block_size * 10).clamp(1, 10_000),
            },
            (_, Some(dsn)) if !dsn.is_empty() => SourceConfig::Poll {
                ctldb_url: upstream_url(self.upstream_driver.as_deref(), dsn)?,
                ledger_table: self.upstream_ledger_table.clone(),
                block: self.query_block_size.max(1),
                interval: self.poll_interval,
                jitter: self.poll_jitter_coefficient,
                timeout: self.poll_timeout,
            },
            _ => anyhow::bail!(
                "give --executive-url (the ledger feed) or --upstream-driver and --upstream-dsn (polling)"
            ),
        };
        if self.ldb_path.is_empty() {
            anyhow::bail!("--ldb-path is required");
        }
        let mut config = ctlstore_reflector::Config::new(&self.ldb_path, source);
        config.gap_timeout = self.gap_timeout;
        config.max_healthy_latency = self.ledger_latency.max_healthy_latency;
        config.ldb.wal_checkpoint_threshold = self.wal_checkpoint_threshold_size;
        config.ldb.wal_checkpoint_mode =
            ctlstore_ldb::CheckpointMode::parse(&self.wal_checkpoint_type).ok_or_else(|| {
                anyhow::anyhow!("--wal-checkpoint-type must be PASSIVE, FULL, RESTART or TRUNCATE")
            })?;
        if self.busy_timeout_ms > 0 {
            config.ldb.busy_timeout = Duration::from_millis(self.busy_timeout_ms);
        }
        if !self.bootstrap_url.is_empty() {
            let s3 = ctlstore_snapshot::S3Options {
                region: Some(self.bootstrap_region.clone()).filter(|r| !r.is_empty()),
                ..Default::default()
            };
            config.bootstrap = Some((self.bootstrap_url.clone(), s3));
        }
        if !self.changelog_path.is_empty() && self.changelog_size > 0 {
            config.ldb.changelog = Some((self.changelog_path.clone().into(), self.changelog_size));
        }
        Ok(config)
    }
}

/// ctlstore's `-upstream-driver` + `-upstream-dsn` as a ctldb URL.
fn upstream_url(driver: Option<&str>, dsn: &str) -> anyhow::Result<String> {
    Ok(match driver.unwrap_or("") {
        "sqlite3" | "sqlite" => {
            let path = dsn.strip_prefix("file:").unwrap_or(dsn);
            format!("sqlite:{}", path.split('?').next().unwrap_or(path))
        }
        "mysql" | "postgres" | "postgresql" | "" => dsn.to_string(),
        other => {
            anyhow::bail!("--upstream-driver must be mysql, sqlite3 or postgres, got '{other}'")
        }
    })
}

#[derive(Args, Debug)]
pub struct SidecarArgs {
    /// Address to serve reads on.
    #[arg(long, env = "CTLSTORE_BIND_ADDR", default_value = "0.0.0.0:1331")]
    pub bind_addr: String,
    /// The LDB to read (default: $CTLSTORE_PATH/ldb.db, else /var/spool/ctlstore/ldb.db).
    #[arg(long, env = "CTLSTORE_LDB_PATH", default_value = "")]
    pub ldb_path: String,
    /// Most rows a prefix read may return; more is answered with 416 (0: unlimited).
    #[arg(long, env = "CTLSTORE_MAX_ROWS", default_value_t = 0)]
    pub max_rows: usize,
    /// The application name, for logs.
    #[arg(long, env = "CTLSTORE_APPLICATION", default_value = "")]
    pub application: String,
    #[arg(long, env = "CTLSTORE_DEBUG", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub debug: bool,
    #[command(flatten)]
    pub ignored: IgnoredFlags,
}

impl SidecarArgs {
    pub fn ldb_path(&self) -> std::path::PathBuf {
        if self.ldb_path.is_empty() {
            ctlstore_reader::default_path()
        } else {
            self.ldb_path.clone().into()
        }
    }
}

#[derive(Args, Debug)]
pub struct LdbReadKeyArgs {
    /// The LDB to read (default: $CTLSTORE_PATH/ldb.db, else /var/spool/ctlstore/ldb.db).
    #[arg(long, env = "CTLSTORE_LDB_PATH", default_value = "")]
    pub ldb_path: String,
    #[arg(long)]
    pub family: String,
    #[arg(long)]
    pub table: String,
    /// The key as a JSON array: strings, integers, and {"binary": "<base64>"} for bytes.
    #[arg(long)]
    pub key_json: String,
}

impl LdbReadKeyArgs {
    pub fn ldb_path(&self) -> std::path::PathBuf {
        if self.ldb_path.is_empty() {
            ctlstore_reader::default_path()
        } else {
            self.ldb_path.clone().into()
        }
    }

    /// Parses `--key-json`.
    pub fn key(&self) -> anyhow::Result<Vec<ctlstore_reader::Key>> {
        use base64::Engine;
        use ctlstore_reader::Key;
        let parts: Vec<serde_json::Value> = serde_json::from_str(&self.key_json)
            .map_err(|e| anyhow::anyhow!("--key-json must be a JSON array: {e}"))?;
        parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| match part {
                serde_json::Value::String(s) => Ok(Key::Text(s)),
                serde_json::Value::Number(n) => n
                    .as_i64()
                    .map(Key::Int)
                    .ok_or_else(|| anyhow::anyhow!("--key-json #{i}: {n} is not an integer")),
                serde_json::Value::Object(o) => match o.get("binary").and_then(|b| b.as_str()) {
                    Some(b) => base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .map(Key::Bytes)
                        .map_err(|e| anyhow::anyhow!("--key-json #{i}: binary is not base64: {e}")),
                    None => anyhow::bail!(
                        "--key-json #{i}: objects must be {{\"binary\": \"<base64>\"}}"
                    ),
                },
                other => anyhow::bail!(
                    "--key-json #{i}: {other} is not a string, an integer or {{\"binary\": ...}}"
                ),
            })
            .collect()
    }
}

#[derive(Args, Debug)]
pub struct HeartbeatArgs {
    #[arg(
        long,
        env = "CTLSTORE_EXECUTIVE_URL",
        default_value = "ctlstore-executive.segment.local"
    )]
    pub executive_url: String,
    #[arg(long, env = "CTLSTORE_FAMILY_NAME", default_value = "ctlstore")]
    pub family_name: String,
    #[arg(long, env = "CTLSTORE_TABLE_NAME", default_value = "heartbeats")]
    pub table_name: String,
    #[arg(long, env = "CTLSTORE_WRITER_NAME", default_value = "heartbeat")]
    pub writer_name: String,
    /// The heartbeat writer's secret (required).
    #[arg(long, env = "CTLSTORE_WRITER_SECRET")]
    pub writer_secret: String,
    #[arg(long, env = "CTLSTORE_HEARTBEAT_INTERVAL", default_value = "15s", value_parser = duration)]
    pub heartbeat_interval: Duration,
    #[arg(long, env = "CTLSTORE_DEBUG", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub debug: bool,
    #[command(flatten)]
    pub ignored: IgnoredFlags,
}

impl HeartbeatArgs {
    pub fn config(&self) -> ctlstore_heartbeat::Config {
        ctlstore_heartbeat::Config {
            executive_url: self.executive_url.clone(),
            family: self.family_name.clone(),
            table: self.table_name.clone(),
            writer: self.writer_name.clone(),
            secret: self.writer_secret.clone(),
            interval: self.heartbeat_interval,
        }
    }
}

#[derive(Args, Debug)]
pub struct AllInOneArgs {
    /// Where the embedded ctldb (ctldb.db) and the LDB (ldb.db) live.
    #[arg(long, env = "CTLSTORE_DATA_DIR", default_value = "ctlstore-data")]
    pub data_dir: std::path::PathBuf,
    /// The executive's address (writes, the ledger feed).
    #[arg(long, env = "CTLSTORE_BIND", default_value = "127.0.0.1:3000")]
    pub bind: String,
    /// The sidecar's address (reads).
    #[arg(long, env = "CTLSTORE_SIDECAR_BIND", default_value = "127.0.0.1:1331")]
    pub sidecar_bind: String,
    /// The reflector's health and metrics address.
    #[arg(long, env = "CTLSTORE_METRICS_BIND", default_value = "127.0.0.1:9090")]
    pub metrics_bind: String,
    #[arg(long, env = "CTLSTORE_HEARTBEAT_INTERVAL", default_value = "5s", value_parser = duration)]
    pub heartbeat_interval: Duration,
    #[arg(long, env = "CTLSTORE_DEBUG", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub debug: bool,
}

#[derive(Args, Debug)]
pub struct SupervisorArgs {
    /// Where snapshots go, comma-separated: file:///dir/name or s3://bucket/key. The extension
    /// picks the codec: .gz (gzip, what ctlstore reads), .zst (zstd), anything else uncompressed.
    #[arg(
        long,
        env = "CTLSTORE_SNAPSHOT_URL",
        value_delimiter = ',',
        value_parser = list_item,
        required = true
    )]
    pub snapshot_url: Vec<String>,
    #[arg(long, env = "CTLSTORE_SNAPSHOT_INTERVAL", default_value = "5m", value_parser = duration)]
    pub snapshot_interval: Duration,
    /// Snapshot versions kept per location (older ones are deleted after a newer upload).
    #[arg(long, env = "CTLSTORE_SNAPSHOT_KEEP", default_value_t = 3)]
    pub snapshot_keep: usize,
    /// The supervisor's private LDB.
    #[arg(
        long = "reflector.ldb-path",
        visible_alias = "ldb-path",
        env = "CTLSTORE_REFLECTOR_LDB_PATH"
    )]
    pub ldb_path: String,
    #[arg(
        long = "reflector.executive-url",
        visible_alias = "executive-url",
        env = "CTLSTORE_REFLECTOR_EXECUTIVE_URL"
    )]
    pub executive_url: Option<String>,
    #[arg(
        long = "reflector.upstream-driver",
        visible_alias = "upstream-driver",
        env = "CTLSTORE_REFLECTOR_UPSTREAM_DRIVER"
    )]
    pub upstream_driver: Option<String>,
    #[arg(
        long = "reflector.upstream-dsn",
        visible_alias = "upstream-dsn",
        env = "CTLSTORE_REFLECTOR_UPSTREAM_DSN"
    )]
    pub upstream_dsn: Option<String>,
    #[arg(
        long = "reflector.upstream-ledger-table",
        env = "CTLSTORE_REFLECTOR_UPSTREAM_LEDGER_TABLE",
        default_value = "ctlstore_dml_ledger"
    )]
    pub upstream_ledger_table: String,
    #[arg(
        long = "reflector.bootstrap-url",
        env = "CTLSTORE_REFLECTOR_BOOTSTRAP_URL",
        default_value = ""
    )]
    pub bootstrap_url: String,
    #[arg(long = "reflector.poll-interval", env = "CTLSTORE_REFLECTOR_POLL_INTERVAL", default_value = "1s", value_parser = duration)]
    pub poll_interval: Duration,
    #[arg(
        long = "reflector.query-block-size",
        env = "CTLSTORE_REFLECTOR_QUERY_BLOCK_SIZE",
        default_value_t = 100
    )]
    pub query_block_size: i64,
    #[arg(
        long = "reflector.metrics-bind",
        visible_alias = "metrics-bind",
        env = "CTLSTORE_REFLECTOR_METRICS_BIND",
        default_value = ""
    )]
    pub metrics_bind: String,
    #[arg(long, env = "CTLSTORE_DEBUG", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    pub debug: bool,
    #[command(flatten)]
    pub ignored: IgnoredFlags,
    #[command(flatten)]
    pub extra: SupervisorExtraFlags,
}

impl SupervisorArgs {
    pub fn config(&self) -> anyhow::Result<ctlstore_supervisor::Config> {
        let mut reflector = ReflectorArgs {
            ldb_path: self.ldb_path.clone(),
            executive_url: self.executive_url.clone(),
            upstream_driver: self.upstream_driver.clone(),
            upstream_dsn: self.upstream_dsn.clone(),
            upstream_ledger_table: self.upstream_ledger_table.clone(),
            changelog_path: String::new(),
            changelog_size: 1_048_576,
            bootstrap_url: self.bootstrap_url.clone(),
            bootstrap_region: String::new(),
            poll_interval: self.poll_interval,
            poll_jitter_coefficient: 0.25,
            poll_timeout: Duration::from_secs(5),
            query_block_size: self.query_block_size,
            gap_timeout: Duration::from_secs(1),
            metrics_bind: self.metrics_bind.clone(),
            wal_poll_interval: Duration::ZERO,
            wal_checkpoint_threshold_size: 8 * 1024 * 1024,
            wal_checkpoint_type: "PASSIVE".into(),
            busy_timeout_ms: 0,
            debug: self.debug,
            ledger_latency: LedgerLatencyFlags::default(),
            ignored: IgnoredFlags::default(),
        };
        self.extra.apply(&mut reflector)?;
        Ok(ctlstore_supervisor::Config {
            reflector: reflector.config()?,
            snapshot_urls: self.snapshot_url.clone(),
            interval: self.snapshot_interval,
            keep: self.snapshot_keep,
            s3: Default::default(),
        })
    }
}

/// ctlstore's `multi-reflector`: the reflector flags, applied to several LDB copies.
#[derive(Args, Debug)]
pub struct MultiReflectorArgs {
    /// The LDB copies to keep, as `[a,b]` or `a,b` (at least two).
    #[arg(long = "multi-reflector.ldb-paths", env = "CTLSTORE_MULTI_REFLECTOR_LDB_PATHS", value_delimiter = ',', value_parser = list_item, required = true)]
    pub ldb_paths: Vec<String>,
    #[command(flatten)]
    pub reflector: ReflectorArgs,
}

/// The rest of ctlstore's supervisor flags: every `-reflector.*` flag (applied to the private
/// reflector) and `-ledger-latency-health.*` (ECS behaviour ctlstore parses and never uses).
#[derive(Args, Debug, Default)]
pub struct SupervisorExtraFlags {
    #[arg(long = "reflector.changelog-path", env = "CTLSTORE_REFLECTOR_CHANGELOG_PATH", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_changelog_path: Option<String>,
    #[arg(long = "reflector.changelog-size", env = "CTLSTORE_REFLECTOR_CHANGELOG_SIZE", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_changelog_size: Option<String>,
    #[arg(long = "reflector.bootstrap-region", env = "CTLSTORE_REFLECTOR_BOOTSTRAP_REGION", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_bootstrap_region: Option<String>,
    #[arg(long = "reflector.poll-jitter-coefficient", env = "CTLSTORE_REFLECTOR_POLL_JITTER_COEFFICIENT", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_poll_jitter_coefficient: Option<String>,
    #[arg(long = "reflector.poll-timeout", env = "CTLSTORE_REFLECTOR_POLL_TIMEOUT", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_poll_timeout: Option<String>,
    #[arg(long = "reflector.debug", env = "CTLSTORE_REFLECTOR_DEBUG", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_debug: Option<String>,
    #[arg(long = "reflector.wal-poll-interval", env = "CTLSTORE_REFLECTOR_WAL_POLL_INTERVAL", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_wal_poll_interval: Option<String>,
    #[arg(long = "reflector.wal-checkpoint-threshold-size", env = "CTLSTORE_REFLECTOR_WAL_CHECKPOINT_THRESHOLD_SIZE", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_wal_checkpoint_threshold_size: Option<String>,
    #[arg(long = "reflector.wal-checkpoint-type", env = "CTLSTORE_REFLECTOR_WAL_CHECKPOINT_TYPE", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_wal_checkpoint_type: Option<String>,
    #[arg(long = "reflector.busy-timeout-ms", env = "CTLSTORE_REFLECTOR_BUSY_TIMEOUT_MS", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_busy_timeout_ms: Option<String>,
    #[arg(long = "reflector.gap-timeout", env = "CTLSTORE_REFLECTOR_GAP_TIMEOUT", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_gap_timeout: Option<String>,
    #[arg(long = "reflector.ledger-latency.disable", env = "CTLSTORE_REFLECTOR_LEDGER_LATENCY_DISABLE", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_ledger_latency_disable: Option<String>,
    #[arg(long = "reflector.ledger-latency.disable-ecs-behavior", env = "CTLSTORE_REFLECTOR_LEDGER_LATENCY_DISABLE_ECS_BEHAVIOR", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_ledger_latency_disable_ecs_behavior: Option<String>,
    #[arg(long = "reflector.ledger-latency.max-healty-latency", env = "CTLSTORE_REFLECTOR_LEDGER_LATENCY_MAX_HEALTY_LATENCY", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_ledger_latency_max_healty_latency: Option<String>,
    #[arg(long = "reflector.ledger-latency.attribute-name", env = "CTLSTORE_REFLECTOR_LEDGER_LATENCY_ATTRIBUTE_NAME", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_ledger_latency_attribute_name: Option<String>,
    #[arg(long = "reflector.ledger-latency.healthy-attribute-value", env = "CTLSTORE_REFLECTOR_LEDGER_LATENCY_HEALTHY_ATTRIBUTE_VALUE", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_ledger_latency_healthy_attribute_value: Option<String>,
    #[arg(long = "reflector.ledger-latency.unhealth-attribute-value", env = "CTLSTORE_REFLECTOR_LEDGER_LATENCY_UNHEALTH_ATTRIBUTE_VALUE", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_ledger_latency_unhealth_attribute_value: Option<String>,
    #[arg(long = "reflector.ledger-latency.poll-interval", env = "CTLSTORE_REFLECTOR_LEDGER_LATENCY_POLL_INTERVAL", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_ledger_latency_poll_interval: Option<String>,
    #[arg(long = "reflector.ledger-latency.aws-region", env = "CTLSTORE_REFLECTOR_LEDGER_LATENCY_AWS_REGION", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_reflector_ledger_latency_aws_region: Option<String>,
    #[arg(long = "ledger-latency-health.disable", env = "CTLSTORE_LEDGER_LATENCY_HEALTH_DISABLE", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_ledger_latency_health_disable: Option<String>,
    #[arg(long = "ledger-latency-health.disable-ecs-behavior", env = "CTLSTORE_LEDGER_LATENCY_HEALTH_DISABLE_ECS_BEHAVIOR", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_ledger_latency_health_disable_ecs_behavior: Option<String>,
    #[arg(long = "ledger-latency-health.max-healty-latency", env = "CTLSTORE_LEDGER_LATENCY_HEALTH_MAX_HEALTY_LATENCY", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_ledger_latency_health_max_healty_latency: Option<String>,
    #[arg(long = "ledger-latency-health.attribute-name", env = "CTLSTORE_LEDGER_LATENCY_HEALTH_ATTRIBUTE_NAME", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_ledger_latency_health_attribute_name: Option<String>,
    #[arg(long = "ledger-latency-health.healthy-attribute-value", env = "CTLSTORE_LEDGER_LATENCY_HEALTH_HEALTHY_ATTRIBUTE_VALUE", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_ledger_latency_health_healthy_attribute_value: Option<String>,
    #[arg(long = "ledger-latency-health.unhealth-attribute-value", env = "CTLSTORE_LEDGER_LATENCY_HEALTH_UNHEALTH_ATTRIBUTE_VALUE", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_ledger_latency_health_unhealth_attribute_value: Option<String>,
    #[arg(long = "ledger-latency-health.poll-interval", env = "CTLSTORE_LEDGER_LATENCY_HEALTH_POLL_INTERVAL", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_ledger_latency_health_poll_interval: Option<String>,
    #[arg(long = "ledger-latency-health.aws-region", env = "CTLSTORE_LEDGER_LATENCY_HEALTH_AWS_REGION", hide = true, num_args = 0..=1, default_missing_value = "true")]
    x_ledger_latency_health_aws_region: Option<String>,
}

impl SupervisorExtraFlags {
    /// (flag, value, the reflector flag it sets) for every flag given.
    fn given(&self) -> Vec<(&'static str, &str, Option<&'static str>)> {
        let mut v = Vec::new();
        if let Some(x) = &self.x_reflector_changelog_path {
            v.push((
                "reflector.changelog-path",
                x.as_str(),
                Some("changelog-path"),
            ));
        }
        if let Some(x) = &self.x_reflector_changelog_size {
            v.push((
                "reflector.changelog-size",
                x.as_str(),
                Some("changelog-size"),
            ));
        }
        if let Some(x) = &self.x_reflector_bootstrap_region {
            v.push((
                "reflector.bootstrap-region",
                x.as_str(),
                Some("bootstrap-region"),
            ));
        }
        if let Some(x) = &self.x_reflector_poll_jitter_coefficient {
            v.push((
                "reflector.poll-jitter-coefficient",
                x.as_str(),
                Some("poll-jitter-coefficient"),
            ));
        }
        if let Some(x) = &self.x_reflector_poll_timeout {
            v.push(("reflector.poll-timeout", x.as_str(), Some("poll-timeout")));
        }
        if let Some(x) = &self.x_reflector_debug {
            v.push(("reflector.debug", x.as_str(), Some("debug")));
        }
        if let Some(x) = &self.x_reflector_wal_poll_interval {
            v.push((
                "reflector.wal-poll-interval",
                x.as_str(),
                Some("wal-poll-interval"),
            ));
        }
        if let Some(x) = &self.x_reflector_wal_checkpoint_threshold_size {
            v.push((
                "reflector.wal-checkpoint-threshold-size",
                x.as_str(),
                Some("wal-checkpoint-threshold-size"),
            ));
        }
        if let Some(x) = &self.x_reflector_wal_checkpoint_type {
            v.push((
                "reflector.wal-checkpoint-type",
                x.as_str(),
                Some("wal-checkpoint-type"),
            ));
        }
        if let Some(x) = &self.x_reflector_busy_timeout_ms {
            v.push((
                "reflector.busy-timeout-ms",
                x.as_str(),
                Some("busy-timeout-ms"),
            ));
        }
        if let Some(x) = &self.x_reflector_gap_timeout {
            v.push(("reflector.gap-timeout", x.as_str(), Some("gap-timeout")));
        }
        if let Some(x) = &self.x_reflector_ledger_latency_disable {
            v.push((
                "reflector.ledger-latency.disable",
                x.as_str(),
                Some("ledger-latency.disable"),
            ));
        }
        if let Some(x) = &self.x_reflector_ledger_latency_disable_ecs_behavior {
            v.push((
                "reflector.ledger-latency.disable-ecs-behavior",
                x.as_str(),
                Some("ledger-latency.disable-ecs-behavior"),
            ));
        }
        if let Some(x) = &self.x_reflector_ledger_latency_max_healty_latency {
            v.push((
                "reflector.ledger-latency.max-healty-latency",
                x.as_str(),
                Some("ledger-latency.max-healty-latency"),
            ));
        }
        if let Some(x) = &self.x_reflector_ledger_latency_attribute_name {
            v.push((
                "reflector.ledger-latency.attribute-name",
                x.as_str(),
                Some("ledger-latency.attribute-name"),
            ));
        }
        if let Some(x) = &self.x_reflector_ledger_latency_healthy_attribute_value {
            v.push((
                "reflector.ledger-latency.healthy-attribute-value",
                x.as_str(),
                Some("ledger-latency.healthy-attribute-value"),
            ));
        }
        if let Some(x) = &self.x_reflector_ledger_latency_unhealth_attribute_value {
            v.push((
                "reflector.ledger-latency.unhealth-attribute-value",
                x.as_str(),
                Some("ledger-latency.unhealth-attribute-value"),
            ));
        }
        if let Some(x) = &self.x_reflector_ledger_latency_poll_interval {
            v.push((
                "reflector.ledger-latency.poll-interval",
                x.as_str(),
                Some("ledger-latency.poll-interval"),
            ));
        }
        if let Some(x) = &self.x_reflector_ledger_latency_aws_region {
            v.push((
                "reflector.ledger-latency.aws-region",
                x.as_str(),
                Some("ledger-latency.aws-region"),
            ));
        }
        if let Some(x) = &self.x_ledger_latency_health_disable {
            v.push(("ledger-latency-health.disable", x.as_str(), None));
        }
        if let Some(x) = &self.x_ledger_latency_health_disable_ecs_behavior {
            v.push((
                "ledger-latency-health.disable-ecs-behavior",
                x.as_str(),
                None,
            ));
        }
        if let Some(x) = &self.x_ledger_latency_health_max_healty_latency {
            v.push(("ledger-latency-health.max-healty-latency", x.as_str(), None));
        }
        if let Some(x) = &self.x_ledger_latency_health_attribute_name {
            v.push(("ledger-latency-health.attribute-name", x.as_str(), None));
        }
        if let Some(x) = &self.x_ledger_latency_health_healthy_attribute_value {
            v.push((
                "ledger-latency-health.healthy-attribute-value",
                x.as_str(),
                None,
            ));
        }
        if let Some(x) = &self.x_ledger_latency_health_unhealth_attribute_value {
            v.push((
                "ledger-latency-health.unhealth-attribute-value",
                x.as_str(),
                None,
            ));
        }
        if let Some(x) = &self.x_ledger_latency_health_poll_interval {
            v.push(("ledger-latency-health.poll-interval", x.as_str(), None));
        }
        if let Some(x) = &self.x_ledger_latency_health_aws_region {
            v.push(("ledger-latency-health.aws-region", x.as_str(), None));
        }
        v
    }

    /// Applies the meaningful flags to the private reflector's settings; logs the ECS ones.
    pub fn apply(&self, r: &mut ReflectorArgs) -> anyhow::Result<()> {
        let mut ignored = Vec::new();
        for (flag, value, inner) in self.given() {
            let bad = |e: String| anyhow::anyhow!("-{flag}: {e}");
            match inner {
                Some("changelog-path") => r.changelog_path = value.to_string(),
                Some("changelog-size") => {
                    r.changelog_size = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                Some("bootstrap-region") => r.bootstrap_region = value.to_string(),
                Some("poll-jitter-coefficient") => {
                    r.poll_jitter_coefficient = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                Some("poll-timeout") => r.poll_timeout = duration(value).map_err(bad)?,
                Some("gap-timeout") => r.gap_timeout = duration(value).map_err(bad)?,
                Some("wal-poll-interval") => r.wal_poll_interval = duration(value).map_err(bad)?,
                Some("wal-checkpoint-threshold-size") => {
                    r.wal_checkpoint_threshold_size =
                        value.parse().map_err(|e| bad(format!("{e}")))?
                }
                Some("wal-checkpoint-type") => r.wal_checkpoint_type = value.to_string(),
                Some("busy-timeout-ms") => {
                    r.busy_timeout_ms = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                Some("debug") => r.debug = matches!(value, "true" | "1" | "yes"),
                Some("ledger-latency.max-healty-latency") => {
                    r.ledger_latency.max_healthy_latency = duration(value).map_err(bad)?
                }
                _ => ignored.push(flag),
            }
        }
        if !ignored.is_empty() {
            tracing::info!(flags = ?ignored, "ctlstore ECS flags accepted and ignored: health is served at /healthz");
        }
        Ok(())
    }
}
