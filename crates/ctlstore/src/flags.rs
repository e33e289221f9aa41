//! Flags of each subcommand, with ctlstore's names, defaults and `CTLSTORE_*` variables.
//! Booleans take Go's forms (`-flag`, `-flag=true`, `-flag false`); durations Go's text
//! (`1s`, `5m`).

use std::time::Duration;

use clap::{Args, builder::BoolishValueParser};

pub fn duration(text: &str) -> Result<Duration, String> {
    ctlstore_duration::parse(text).map_err(|e| e.to_string())
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
