//! Every subcommand's flags, with ctlstore's names and defaults, each defined once (one file
//! per service). Variables (`CTLSTORE_*`) are derived from the long names (`goflags.rs`), nested
//! forms (`-reflector.*`) from the same definitions (`nested.rs`). Each `config()` is the one
//! place a service's flags are checked, so a bad value stops the process at startup with a
//! message naming the flag.

mod all_in_one;
mod executive;
mod files;
mod heartbeat;
mod ldb_read_key;
mod loader;
mod reflector;
mod relay;
mod sidecar;
mod supervisor;
mod tls;

use std::time::Duration;

use clap::Args;

pub use all_in_one::AllInOneArgs;
pub use executive::ExecutiveArgs;
pub use files::{MaterializeArgs, StoreArgs};
pub use heartbeat::HeartbeatArgs;
pub use ldb_read_key::LdbReadKeyArgs;
pub use loader::LoaderArgs;
pub use reflector::{MultiReflectorArgs, ReflectorArgs};
pub use relay::RelayArgs;
pub use sidecar::SidecarArgs;
pub use supervisor::SupervisorArgs;
pub use tls::{TlsClientFlags, TlsServerFlags, flag_error as tls_flag_error};

use crate::goflags::{GoDuration, go_bool};
use crate::nested::{Ignored, IgnoredSet, Nested, Prefix};

/// A flag value that cannot be used, named by its flag.
#[derive(Debug, thiserror::Error)]
#[error("-{flag}: {reason}")]
pub struct FlagError {
    pub flag: String,
    pub reason: String,
}

impl FlagError {
    pub fn new(flag: &str, reason: impl Into<String>) -> FlagError {
        FlagError {
            flag: flag.to_string(),
            reason: reason.into(),
        }
    }
}

/// A duration that must be above zero: `tokio::time::interval(ZERO)` panics, and a zero
/// timeout or period means nothing.
pub fn positive(flag: &str, d: GoDuration) -> Result<Duration, FlagError> {
    if d.0.is_zero() {
        return Err(FlagError::new(flag, "must be greater than zero"));
    }
    Ok(d.0)
}

/// An `http://` or `https://` URL with a host (`http://` is added when missing, as ctlstore's
/// heartbeat does: `ctlstore_schema::executive_base_url`).
/// One or several (comma-separated) executive URLs, each checked by [`http_url`]; returned
/// completed and comma-joined, as clients take them.
pub fn http_urls(flag: &str, urls: &str) -> Result<String, FlagError> {
    let checked = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| http_url(flag, u))
        .collect::<Result<Vec<_>, _>>()?;
    if checked.is_empty() {
        return Err(FlagError::new(flag, "names no URL"));
    }
    Ok(checked.join(","))
}

pub fn http_url(flag: &str, url: &str) -> Result<String, FlagError> {
    let url = ctlstore_schema::executive_base_url(url);
    let rest = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    if rest.contains("://") {
        return Err(FlagError::new(
            flag,
            format!("'{url}' is not an http(s) URL"),
        ));
    }
    if rest.is_empty() || rest.starts_with('/') {
        return Err(FlagError::new(flag, format!("'{url}' has no host")));
    }
    Ok(url)
}

/// ctlstore's statsd flags, shared by every service: our metrics are Prometheus, at /metrics.
#[derive(Debug)]
pub struct Statsd;

impl IgnoredSet for Statsd {
    const NAMES: &'static [&'static str] = &[
        "dogstatsd.address",
        "dogstatsd.buffer-size",
        "dogstatsd.flush-every",
        "shadow",
    ];
    const WHY: &'static str = "metrics are served at /metrics (Prometheus)";
}

/// Flags every service has.
#[derive(Args, Debug, Default)]
pub struct CommonFlags {
    /// Log at debug level.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    pub debug: bool,
    #[command(flatten)]
    pub ignored: Ignored<Statsd>,
}

/// ctlstore's ECS health attributes: they do not exist outside ECS; our /healthz replaces them.
#[derive(Debug)]
pub struct EcsHealth;

impl IgnoredSet for EcsHealth {
    const NAMES: &'static [&'static str] = &[
        "disable",
        "disable-ecs-behavior",
        "attribute-name",
        "healthy-attribute-value",
        "unhealth-attribute-value",
        "poll-interval",
        "aws-region",
    ];
    const WHY: &'static str = "ECS health attributes; health is served at /healthz";
}

/// ctlstore's ledger-latency group (`-ledger-latency.*` on the reflector). Only
/// `max-healty-latency` (sic) means something here.
#[derive(Args, Debug)]
pub struct LedgerLatencyFlags {
    /// Healthy while the last applied entry is at most this old.
    #[arg(long = "max-healty-latency", default_value_t = GoDuration(ctlstore_reflector::DEFAULT_MAX_HEALTHY_LATENCY))]
    pub max_healthy_latency: GoDuration,
    #[command(flatten)]
    pub ecs: Ignored<EcsHealth>,
}

#[derive(Debug)]
pub struct LedgerLatency;
impl Prefix for LedgerLatency {
    const PREFIX: &'static str = "ledger-latency.";
    const ALIASES: bool = false;
}

/// The supervisor's copy of the ledger-latency group, parsed and unused by ctlstore itself.
#[derive(Debug)]
pub struct LedgerLatencyHealth;
impl Prefix for LedgerLatencyHealth {
    const PREFIX: &'static str = "ledger-latency-health.";
    const ALIASES: bool = false;
}

/// The supervisor's private reflector: `-reflector.<flag>`, plain `-<flag>` kept as an alias.
#[derive(Debug)]
pub struct ReflectorPrefix;
impl Prefix for ReflectorPrefix {
    const PREFIX: &'static str = "reflector.";
    const ALIASES: bool = true;
}

pub type NestedLedgerLatency = Nested<LedgerLatencyFlags, LedgerLatency>;

/// The LDB path flag's fallback: `$CTLSTORE_PATH/ldb.db`, else /var/spool/ctlstore/ldb.db.
pub fn ldb_path_or_default(path: &str) -> std::path::PathBuf {
    if path.is_empty() {
        ctlstore_reader::default_path()
    } else {
        path.into()
    }
}
