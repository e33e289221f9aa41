//! `ctlstore`: one binary, one subcommand per service. This file only parses arguments and
//! wires crates together; every behaviour lives in a library crate.

mod flags;
mod goflags;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ctlstore",
    version,
    about = "A distributed control-data store, compatible with Segment's ctlstore."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the version.
    Version,
    /// Print ctlstore's ctldb schema for MySQL (what the ctldb migration creates).
    CtldbSchema,
    /// Create or upgrade a ctldb's schema and exit.
    CtldbInit {
        /// The ctldb: sqlite:PATH (default), mysql://..., postgres://... or a Go MySQL DSN.
        #[arg(long, env = "CTLSTORE_CTLDB", default_value = "sqlite:ctldb.db")]
        ctldb: String,
    },
    /// Run the executive: the write API and the ledger feed.
    Executive(Box<flags::ExecutiveArgs>),
    /// Run a reflector: follow the ledger into this host's LDB.
    Reflector(Box<flags::ReflectorArgs>),
    /// Run one reflector per LDB copy (ctlstore's multi-reflector).
    MultiReflector(Box<flags::MultiReflectorArgs>),
    /// Serve ctlstore's HTTP read API over this host's LDB.
    Sidecar(Box<flags::SidecarArgs>),
    /// Read one row from an LDB and print it as JSON (exit status 1 when there is none).
    LdbReadKey(flags::LdbReadKeyArgs),
    /// Run a private reflector and publish snapshots of its LDB every interval.
    Supervisor(Box<flags::SupervisorArgs>),
    /// Write a heartbeat row through the executive on a timer.
    Heartbeat(Box<flags::HeartbeatArgs>),
    /// Everything on one machine: executive (embedded SQLite ctldb), reflector, sidecar and
    /// heartbeat. For a laptop, a demo or a single host.
    AllInOne(flags::AllInOneArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse_from(goflags::normalise(std::env::args()));
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Command::Version => println!("ctlstore {}", env!("CARGO_PKG_VERSION")),
        Command::CtldbSchema => print!("{}", ctlstore_ctldb::mysql_schema()),
        Command::CtldbInit { ctldb } => {
            init_tracing(false);
            runtime.block_on(async {
                let db = ctlstore_ctldb::Ctldb::connect(&ctldb, Default::default()).await?;
                tracing::info!(dialect = %db.dialect(), "ctldb ready");
                db.close().await;
                anyhow::Ok(())
            })?;
        }
        Command::Executive(args) => {
            init_tracing(args.debug);
            args.ignored.log_ignored();
            let config = args.config()?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(&args.bind)
                    .await
                    .map_err(|e| anyhow::anyhow!("bind {}: {e}", args.bind))?;
                tracing::info!(bind = %listener.local_addr()?, ctldb = %redact(&config.ctldb_url), "executive listening");
                ctlstore_executive::serve(listener, config, shutdown_signal()).await?;
                anyhow::Ok(())
            })?;
        }
        Command::Reflector(args) => {
            init_tracing(args.debug);
            args.ignored.log_ignored();
            args.ledger_latency.log_ignored();
            let config = args.config()?;
            runtime.block_on(run_reflector(config, &args.metrics_bind))?;
        }
        Command::MultiReflector(mut args) => {
            init_tracing(args.reflector.debug);
            args.reflector.ignored.log_ignored();
            let paths: Vec<String> = args
                .ldb_paths
                .iter()
                .filter(|p| !p.is_empty())
                .cloned()
                .collect();
            if paths.len() < 2 {
                anyhow::bail!(
                    "--multi-reflector.ldb-paths needs at least two paths, got {paths:?}"
                );
            }
            let mut configs = Vec::new();
            for path in &paths {
                args.reflector.ldb_path = path.clone();
                configs.push(args.reflector.config()?);
            }
            let metrics_bind = args.reflector.metrics_bind.clone();
            runtime.block_on(async {
                let mut tasks = Vec::new();
                for (i, config) in configs.into_iter().enumerate() {
                    // One health endpoint: the first copy's.
                    let bind = if i == 0 {
                        metrics_bind.clone()
                    } else {
                        String::new()
                    };
                    tasks.push(tokio::spawn(
                        async move { run_reflector(config, &bind).await },
                    ));
                }
                for t in tasks {
                    t.await??;
                }
                anyhow::Ok(())
            })?;
        }
        Command::Sidecar(args) => {
            init_tracing(args.debug);
            args.ignored.log_ignored();
            runtime.block_on(run_sidecar(&args))?;
        }
        Command::LdbReadKey(args) => return ldb_read_key(&args),
        Command::Supervisor(args) => {
            init_tracing(args.debug);
            args.ignored.log_ignored();
            let config = args.config()?;
            runtime.block_on(async {
                let status = std::sync::Arc::new(ctlstore_reflector::Status::new(
                    config.reflector.max_healthy_latency,
                ));
                if !args.metrics_bind.is_empty() {
                    let listener = tokio::net::TcpListener::bind(&args.metrics_bind).await?;
                    let app = ctlstore_reflector::health_router(status.clone());
                    tokio::spawn(async move { axum::serve(listener, app).await });
                }
                ctlstore_supervisor::run(config, status, shutdown_signal()).await?;
                anyhow::Ok(())
            })?;
        }
        Command::Heartbeat(args) => {
            init_tracing(args.debug);
            args.ignored.log_ignored();
            if args.writer_secret.is_empty() {
                anyhow::bail!("--writer-secret is required");
            }
            runtime.block_on(ctlstore_heartbeat::run(args.config(), shutdown_signal()))?;
        }
        Command::AllInOne(args) => {
            init_tracing(args.debug);
            runtime.block_on(all_in_one(&args))?;
        }
    }
    Ok(())
}

async fn run_reflector(
    config: ctlstore_reflector::Config,
    metrics_bind: &str,
) -> anyhow::Result<()> {
    let status = std::sync::Arc::new(ctlstore_reflector::Status::new(config.max_healthy_latency));
    if !metrics_bind.is_empty() {
        let listener = tokio::net::TcpListener::bind(metrics_bind)
            .await
            .map_err(|e| anyhow::anyhow!("bind {metrics_bind}: {e}"))?;
        tracing::info!(bind = %listener.local_addr()?, "reflector health and metrics listening");
        let app = ctlstore_reflector::health_router(status.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "health endpoint stopped");
            }
        });
    }
    ctlstore_reflector::run(config, status, shutdown_signal()).await?;
    Ok(())
}

/// The whole system in one process, on the embedded SQLite ctldb.
async fn all_in_one(args: &flags::AllInOneArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| anyhow::anyhow!("create {}: {e}", args.data_dir.display()))?;
    let ctldb = format!("sqlite:{}", args.data_dir.join("ctldb.db").display());
    let ldb = args.data_dir.join("ldb.db");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut rx = stopped.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let executive_listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .map_err(|e| anyhow::anyhow!("bind {}: {e}", args.bind))?;
    let executive_url = format!("http://{}", executive_listener.local_addr()?);
    let executive_config = ctlstore_executive::Config {
        ctldb_url: ctldb.clone(),
        ..Default::default()
    };
    let executive = tokio::spawn(ctlstore_executive::serve(
        executive_listener,
        executive_config,
        until_stopped(),
    ));

    let reflector_config = ctlstore_reflector::Config::new(
        &ldb,
        ctlstore_reflector::SourceConfig::feed(&executive_url),
    );
    let metrics_bind = args.metrics_bind.clone();
    let reflector_stop = until_stopped();
    let reflector = tokio::spawn(async move {
        tokio::select! {
            r = run_reflector(reflector_config, &metrics_bind) => r,
            _ = reflector_stop => Ok(()),
        }
    });
    let sidecar_args = flags::SidecarArgs {
        bind_addr: args.sidecar_bind.clone(),
        ldb_path: ldb.display().to_string(),
        max_rows: 0,
        application: "all-in-one".into(),
        debug: args.debug,
        ignored: Default::default(),
    };
    let sidecar_stop = until_stopped();
    let sidecar = tokio::spawn(async move {
        tokio::select! {
            r = run_sidecar(&sidecar_args) => r,
            _ = sidecar_stop => Ok(()),
        }
    });
    let heartbeat_config = ctlstore_heartbeat::Config {
        executive_url: executive_url.clone(),
        secret: "all-in-one-heartbeat".into(),
        interval: args.heartbeat_interval,
        ..Default::default()
    };
    let heartbeat = tokio::spawn(ctlstore_heartbeat::run(heartbeat_config, until_stopped()));
    tracing::info!(
        executive = %executive_url,
        sidecar = %args.sidecar_bind,
        reflector_health = %args.metrics_bind,
        data = %args.data_dir.display(),
        "all-in-one running: write to the executive, read from the sidecar"
    );
    shutdown_signal().await;
    let _ = stop.send(true);
    executive.await??;
    reflector.await??;
    sidecar.await??;
    heartbeat.await??;
    Ok(())
}

async fn run_sidecar(args: &flags::SidecarArgs) -> anyhow::Result<()> {
    let path = args.ldb_path();
    let listener = tokio::net::TcpListener::bind(&args.bind_addr)
        .await
        .map_err(|e| anyhow::anyhow!("bind {}: {e}", args.bind_addr))?;
    // A sidecar may start before its reflector has created the LDB: wait for it.
    let mut waited = 0u32;
    let reader = loop {
        match ctlstore_reader::Reader::open(&path) {
            Ok(r) => break r,
            Err(ctlstore_reader::ReaderError::NotFound(_)) => {
                if waited.is_multiple_of(10) {
                    tracing::info!(ldb = %path.display(), "waiting for the LDB to exist");
                }
                waited += 1;
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    _ = shutdown_signal() => return Ok(()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    };
    tracing::info!(bind = %listener.local_addr()?, ldb = %path.display(), application = %args.application, "sidecar listening");
    let config = ctlstore_sidecar::Config {
        max_rows: args.max_rows,
        application: args.application.clone(),
    };
    ctlstore_sidecar::serve(
        listener,
        std::sync::Arc::new(reader),
        config,
        shutdown_signal(),
    )
    .await?;
    Ok(())
}

fn ldb_read_key(args: &flags::LdbReadKeyArgs) -> anyhow::Result<()> {
    let key = args.key()?;
    let reader = ctlstore_reader::Reader::open(args.ldb_path())?;
    let Some(row) = reader.get_row(&args.family, &args.table, &key)? else {
        eprintln!("not found");
        std::process::exit(1);
    };
    let mut out = serde_json::Map::new();
    for (column, value) in row {
        use base64::Engine;
        let v = match value {
            ctlstore_reader::Value::Null => serde_json::Value::Null,
            ctlstore_reader::Value::Integer(i) => i.into(),
            ctlstore_reader::Value::Real(f) => serde_json::Number::from_f64(f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            ctlstore_reader::Value::Text(t) => t.into(),
            ctlstore_reader::Value::Bytes(b) => {
                base64::engine::general_purpose::STANDARD.encode(b).into()
            }
        };
        out.insert(column, v);
    }
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}

/// Hides a password in a URL or DSN for logging.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_string(),
        },
        (None, Some(at)) => match url[..at].split_once(':') {
            Some((user, _)) => format!("{user}:***{}", &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

fn init_tracing(debug: bool) {
    let default = if debug { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn ctlstore_command_lines_parse() {
        use clap::Parser;
        let parse = |line: &str| {
            super::Cli::try_parse_from(super::goflags::normalise(line.split(' ').map(String::from)))
        };
        parse("ctlstore executive -bind 0.0.0.0:3000 -ctldb ctldb:ctldbpw@tcp(mysql:3306)/ctldb?collation=utf8mb4_unicode_ci -enable-destructive-schema-changes -writer-limit-period 1m -dogstatsd.address statsd:8125")
            .expect("executive");
        parse("ctlstore reflector -ldb-path /var/spool/ctlstore/ldb.db -upstream-driver mysql -upstream-dsn ctldb:ctldbpw@tcp(mysql:3306)/ctldb -changelog-path /var/spool/ctlstore/changelog -bootstrap-url s3://b/k.db.gz -ledger-latency.disable -metrics-bind 0.0.0.0:9090 -poll-interval 1s -wal-checkpoint-type TRUNCATE")
            .expect("reflector");
        assert!(parse("ctlstore reflector -no-such-flag x").is_err());
        let multi = parse("ctlstore multi-reflector -multi-reflector.ldb-paths [/a/ldb.db,/a/ldb-2.db] -upstream-driver sqlite3 -upstream-dsn /c.db")
            .expect("multi-reflector");
        match multi.command {
            super::Command::MultiReflector(m) => {
                assert_eq!(m.ldb_paths, ["/a/ldb.db", "/a/ldb-2.db"])
            }
            _ => panic!("not multi-reflector"),
        }
        let supervisor = parse("ctlstore supervisor -snapshot-url [file:///s/a.db,s3://b/k.db.gz] -reflector.ldb-path /x.db -reflector.upstream-driver mysql -reflector.upstream-dsn u@tcp(h:3306)/d -reflector.changelog-path /c -reflector.ledger-latency.disable -ledger-latency-health.disable-ecs-behavior -reflector.wal-checkpoint-type TRUNCATE -dogstatsd.address x:1 -shadow")
            .expect("supervisor with every kind of ctlstore flag");
        match supervisor.command {
            super::Command::Supervisor(s) => {
                assert_eq!(s.snapshot_url, ["file:///s/a.db", "s3://b/k.db.gz"])
            }
            _ => panic!("not supervisor"),
        }
    }
}
