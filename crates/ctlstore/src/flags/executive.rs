//! `ctlstore executive`.

use clap::Args;

use super::{CommonFlags, FlagError, TlsServerFlags, positive, tls_flag_error};
use crate::goflags::{GoDuration, go_bool};

/// Every default is the executive library's own (`ctlstore_executive::Config::default()`).
fn defaults() -> ctlstore_executive::Config {
    ctlstore_executive::Config::default()
}

#[derive(Args, Debug)]
pub struct ExecutiveArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub bind: String,
    /// The ctldb: sqlite:PATH (embedded, the default), mysql://..., postgres://..., or a Go MySQL
    /// DSN (user:pass@tcp(host:3306)/ctldb).
    #[arg(long, default_value_t = defaults().ctldb_url)]
    pub ctldb: String,
    /// Table size (bytes) above which upserts are refused with 507.
    #[arg(long, default_value_t = defaults().max_table_size)]
    pub max_table_size: i64,
    /// Table size (bytes) above which a warning is logged.
    #[arg(long, default_value_t = defaults().warn_table_size)]
    pub warn_table_size: i64,
    /// Rows each writer may write per period, unless it has its own limit.
    #[arg(long, default_value_t = defaults().writer_limit)]
    pub writer_limit: i64,
    /// The writer limit's period (Go duration).
    #[arg(long, default_value_t = GoDuration(defaults().writer_limit_period))]
    pub writer_limit_period: GoDuration,
    /// Allow dropping tables and clearing rows.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    pub enable_destructive_schema_changes: bool,
    /// Longest a request may take (Go duration).
    #[arg(long, default_value_t = GoDuration(defaults().handler_timeout))]
    pub handler_timeout: GoDuration,
    /// Require `Authorization: Bearer <token>` on schema and limit changes.
    #[arg(long)]
    pub admin_token: Option<String>,
    /// An origin (scheme://host[:port], or * for any) whose browser pages may call this
    /// executive: CORS headers and preflight answers. Repeat for several; in the variable,
    /// separate them with commas. None by default (no CORS headers, as ctlstore).
    #[arg(long = "cors-origin", value_name = "ORIGIN", value_delimiter = ',')]
    pub cors_origin: Vec<String>,
    /// How new writers' secrets are stored: sha256 (ctlstore's, the default) or argon2id.
    #[arg(long, default_value = "sha256")]
    pub writer_secret_hash: String,
    /// How often the ledger head is polled to notice other executives' commits (Go duration).
    #[arg(long, default_value_t = GoDuration(defaults().ledger_poll_interval))]
    pub ledger_poll_interval: GoDuration,
    /// Prune the ledger: keep entries committed within DURATION (168h) or the newest ENTRIES
    /// (1000000), and always those above the oldest snapshot at --snapshot-url (minus
    /// --ledger-retention-margin). Off by default: the ledger is kept whole, as ctlstore.
    #[arg(long, value_name = "DURATION|ENTRIES")]
    pub ledger_retention: Option<String>,
    /// Where the supervisor publishes snapshots (its --snapshot-url): needed by
    /// --ledger-retention, which never prunes above the oldest snapshot retained there.
    #[arg(long, value_name = "URL")]
    pub snapshot_url: Option<String>,
    /// Entries kept below the oldest retained snapshot's seq.
    #[arg(long, default_value_t = ctlstore_executive::DEFAULT_RETENTION_MARGIN)]
    pub ledger_retention_margin: i64,
    /// How often the ledger is pruned (Go duration).
    #[arg(long, default_value_t = GoDuration(ctlstore_executive::DEFAULT_PRUNE_INTERVAL))]
    pub ledger_prune_interval: GoDuration,
    #[command(flatten)]
    pub tls: TlsServerFlags,
    /// Access rules, one per line: `identity scope operation` (docs/security.md). Once given,
    /// whatever no rule grants is denied; the file is reloaded when it changes or on SIGHUP.
    #[arg(long, value_name = "PATH")]
    pub acl_file: Option<std::path::PathBuf>,
    /// The heartbeat's family: with --acl-file, every identity's feed carries it (so staleness
    /// stays measurable) unless a read rule names it. Empty: none.
    #[arg(long, default_value = ctlstore_executive::DEFAULT_HEARTBEAT_FAMILY)]
    pub heartbeat_family: String,
    #[command(flatten)]
    pub common: CommonFlags,
}

impl ExecutiveArgs {
    pub fn config(&self) -> Result<ctlstore_executive::Config, FlagError> {
        let writer_secret_hash = ctlstore_executive::SecretHashScheme::parse(
            &self.writer_secret_hash,
        )
        .ok_or_else(|| {
            FlagError::new(
                "writer-secret-hash",
                format!(
                    "must be sha256 or argon2id, got '{}'",
                    self.writer_secret_hash
                ),
            )
        })?;
        ctlstore_ctldb::parse_ctldb_url(&self.ctldb)
            .map_err(|e| FlagError::new("ctldb", e.to_string()))?;
        if self.max_table_size <= 0 {
            return Err(FlagError::new(
                "max-table-size",
                "must be greater than zero",
            ));
        }
        if self.warn_table_size <= 0 {
            return Err(FlagError::new(
                "warn-table-size",
                "must be greater than zero",
            ));
        }
        if self.writer_limit < 0 {
            return Err(FlagError::new("writer-limit", "must not be negative"));
        }
        let retention = self.retention()?;
        let tls = self.tls.load().map_err(tls_flag_error)?;
        let acl_file = self.acl_file.clone().filter(|p| !p.as_os_str().is_empty());
        if let Some(path) = &acl_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| FlagError::new("acl-file", format!("{}: {e}", path.display())))?;
            ctlstore_executive::AclRules::parse(&path.display().to_string(), &text)
                .map_err(|e| FlagError::new("acl-file", e.to_string()))?;
        }
        let config = ctlstore_executive::Config {
            ctldb_url: self.ctldb.clone(),
            max_table_size: self.max_table_size,
            warn_table_size: self.warn_table_size,
            writer_limit: self.writer_limit,
            writer_limit_period: positive("writer-limit-period", self.writer_limit_period)?,
            enable_destructive_schema_changes: self.enable_destructive_schema_changes,
            admin_token: self.admin_token.clone().filter(|t| !t.is_empty()),
            writer_secret_hash,
            handler_timeout: positive("handler-timeout", self.handler_timeout)?,
            ledger_poll_interval: positive("ledger-poll-interval", self.ledger_poll_interval)?,
            cors_origins: self.cors_origin.clone(),
            retention,
            tls,
            acl_file,
            heartbeat_family: Some(self.heartbeat_family.clone()).filter(|f| !f.is_empty()),
            ..defaults()
        };
        config
            .validate()
            .map_err(|e| FlagError::new("cors-origin", e.to_string()))?;
        Ok(config)
    }

    fn retention(&self) -> Result<Option<ctlstore_executive::Retention>, FlagError> {
        let Some(text) = self.ledger_retention.as_deref().filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let keep = ctlstore_executive::Keep::parse(text)
            .map_err(|e| FlagError::new("ledger-retention", e))?;
        let Some(url) = self.snapshot_url.as_deref().filter(|u| !u.is_empty()) else {
            return Err(FlagError::new(
                "ledger-retention",
                "needs --snapshot-url: the ledger is never pruned above the oldest snapshot, so hosts can always bootstrap",
            ));
        };
        if self.ledger_retention_margin < 0 {
            return Err(FlagError::new(
                "ledger-retention-margin",
                "must not be negative",
            ));
        }
        let mut retention = ctlstore_executive::Retention::new(keep, url);
        retention
            .location()
            .map_err(|e| FlagError::new("snapshot-url", e.to_string()))?;
        retention.margin = self.ledger_retention_margin;
        retention.interval = positive("ledger-prune-interval", self.ledger_prune_interval)?;
        Ok(Some(retention))
    }
}
