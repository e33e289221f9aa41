//! `CTLSTORE_CHECK_ARGS=1`: check a command line without running anything. The arguments are
//! parsed (flags, `CTLSTORE_*` variables, `--config`) and each service's configuration is built
//! exactly as `main` builds it, then the process prints `ok` and exits 0; a bad flag exits
//! non-zero with the same message the service would stop with. Nothing is bound, opened or
//! connected.
//!
//! It exists so that command lines written outside Rust (docker-compose.yml, the systemd units
//! in deploy/, a deployment's own manifests) can be tested against the real CLI on a machine
//! that cannot run them (`crates/ctlstore/tests/packaging.rs`). It is deliberately not a flag:
//! ctlstore's command lines must stay exactly ctlstore's, and a variable leaves them untouched.

use crate::Command;
use crate::flags::FlagError;

/// The variable that switches checking on; `1` or `true`.
pub const VAR: &str = "CTLSTORE_CHECK_ARGS";

pub fn requested() -> bool {
    std::env::var(VAR).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Builds every configuration the command would build, then prints `ok`.
pub fn run(command: &Command, config_file: Option<&std::path::Path>) -> anyhow::Result<()> {
    match command {
        Command::Version
        | Command::CtldbSchema
        | Command::LdbReadKey(_)
        | Command::Admin(_)
        | Command::Completions { .. }
        | Command::Man { .. } => {}
        Command::CtldbInit { ctldb } => {
            ctlstore_ctldb::parse_ctldb_url(ctldb)
                .map_err(|e| FlagError::new("ctldb", e.to_string()))?;
        }
        Command::Executive(args) => {
            address("bind", &args.bind)?;
            args.config()?;
        }
        Command::Reflector(args) => {
            optional_address("metrics-bind", &args.metrics_bind)?;
            args.config()?;
        }
        Command::MultiReflector(args) => {
            optional_address("metrics-bind", &args.reflector.metrics_bind)?;
            args.configs()?;
        }
        Command::Sidecar(args) => {
            address("bind-addr", &args.bind_addr)?;
            args.config()?;
        }
        Command::Relay(args) => {
            address("bind", &args.bind)?;
            args.config()?;
        }
        Command::Supervisor(args) => {
            optional_address("reflector.metrics-bind", &args.reflector.inner.metrics_bind)?;
            args.config()?;
        }
        Command::Heartbeat(args) => {
            args.config()?;
        }
        Command::Watch(_) | Command::Triggers(_) => {}
        Command::Materialize(args) => {
            args.config()?;
        }
        Command::Store(args) => {
            args.config()?;
        }
        Command::Loader(args) => {
            args.config(config_file)?;
        }
        Command::AllInOne(args) => {
            address("bind", &args.bind)?;
            address("sidecar-bind", &args.sidecar_bind)?;
            optional_address("metrics-bind", &args.metrics_bind)?;
            args.heartbeat_interval()?;
            args.snapshot_interval()?;
        }
    }
    println!("ok");
    Ok(())
}

/// A listen address as the services bind it: `host:port` (a name is resolved at bind time,
/// so only the shape and the port are checked here).
fn address(flag: &str, value: &str) -> Result<(), FlagError> {
    let port = value
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty())
        .map(|(_, port)| port);
    match port.map(str::parse::<u16>) {
        Some(Ok(_)) => Ok(()),
        _ => Err(FlagError::new(
            flag,
            format!("'{value}' is not host:port (e.g. 0.0.0.0:3000)"),
        )),
    }
}

/// An address where empty means "off".
fn optional_address(flag: &str, value: &str) -> Result<(), FlagError> {
    if value.is_empty() {
        return Ok(());
    }
    address(flag, value)
}
