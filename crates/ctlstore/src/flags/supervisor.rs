//! `ctlstore supervisor`: a private reflector (every reflector flag, as `-reflector.<flag>`)
//! plus snapshots.

use clap::Args;

use super::{
    CommonFlags, FlagError, LedgerLatencyFlags, LedgerLatencyHealth, ReflectorArgs,
    ReflectorPrefix, positive,
};
use crate::goflags::{GoDuration, list_item};
use crate::nested::Nested;

#[derive(Args, Debug)]
pub struct SupervisorArgs {
    /// Where snapshots go, comma-separated: file:///dir/name or s3://bucket/key. The extension
    /// picks the codec: .gz (gzip, what ctlstore reads), .zst (zstd), anything else uncompressed.
    #[arg(long, value_delimiter = ',', value_parser = list_item, required = true)]
    pub snapshot_url: Vec<String>,
    #[arg(long, default_value_t = GoDuration(ctlstore_supervisor::DEFAULT_INTERVAL))]
    pub snapshot_interval: GoDuration,
    /// Snapshot versions kept per location (older ones are deleted after a newer upload).
    #[arg(long, default_value_t = ctlstore_supervisor::DEFAULT_KEEP)]
    pub snapshot_keep: usize,
    // Declared before the nested reflector flags, so `-debug` is the supervisor's own and
    // `-reflector.debug` the reflector's.
    #[command(flatten)]
    pub common: CommonFlags,
    #[command(flatten)]
    pub reflector: Nested<ReflectorArgs, ReflectorPrefix>,
    /// ctlstore parses these and never uses them.
    #[command(flatten)]
    pub ledger_latency_health: Nested<LedgerLatencyFlags, LedgerLatencyHealth>,
}

impl SupervisorArgs {
    pub fn debug(&self) -> bool {
        self.common.debug || self.reflector.inner.common.debug
    }

    pub fn log_ignored(&self) {
        self.common.ignored.log();
        self.reflector.inner.log_ignored();
        self.ledger_latency_health.inner.ecs.log();
    }

    pub fn config(&self) -> Result<ctlstore_supervisor::Config, FlagError> {
        let s3 = ctlstore_snapshot::S3Options::default();
        for url in &self.snapshot_url {
            ctlstore_snapshot::Location::parse(url, &s3)
                .map_err(|e| FlagError::new("snapshot-url", e.to_string()))?;
        }
        if self.snapshot_keep == 0 {
            return Err(FlagError::new("snapshot-keep", "must be at least 1"));
        }
        Ok(ctlstore_supervisor::Config {
            reflector: self
                .reflector
                .inner
                .config()
                .map_err(|e| FlagError::new(&format!("reflector.{}", e.flag), e.reason))?,
            snapshot_urls: self.snapshot_url.clone(),
            interval: positive("snapshot-interval", self.snapshot_interval)?,
            keep: self.snapshot_keep,
            s3,
        })
    }
}
