//! A real Kafka-protocol broker for tests: tansu (a Kafka-compatible broker from crates.io),
//! installed once per machine by `.ci/install-tansu`, run with in-memory storage on a free port.

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{KillOnDrop, free_port};

/// How long the broker may take to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A tansu broker with in-memory storage, killed when dropped.
pub struct TansuBroker {
    /// `kafka://127.0.0.1:PORT`: append `/TOPIC` for a `KafkaUrl`.
    pub url: String,
    /// `127.0.0.1:PORT`: for clients that take a bootstrap list.
    pub bootstrap: String,
    pub port: u16,
    _child: KillOnDrop,
    _log_dir: tempfile::TempDir,
}

impl TansuBroker {
    /// Installs tansu if needed (the first time takes minutes), starts it and waits until it
    /// accepts connections. Panics with the reason if it cannot: a Kafka test must not pass
    /// without a broker.
    pub fn start() -> TansuBroker {
        let binary = install();
        let port = free_port();
        let listener = format!("tcp://127.0.0.1:{port}");
        let log_dir = tempfile::tempdir().expect("a temporary directory for tansu's log");
        let log_path = log_dir.path().join("tansu.log");
        let log = std::fs::File::create(&log_path)
            .unwrap_or_else(|e| panic!("create {}: {e}", log_path.display()));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("clone {}: {e}", log_path.display()));
        let child = Command::new(&binary)
            .arg("broker")
            .args(["--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("start tansu ({}): {e}", binary.display()));
        let mut child = KillOnDrop(child);
        wait_for_port(&mut child, port, &log_path);
        TansuBroker {
            url: format!("kafka://127.0.0.1:{port}"),
            bootstrap: format!("127.0.0.1:{port}"),
            port,
            _child: child,
            _log_dir: log_dir,
        }
    }
}

/// Runs `.ci/install-tansu` (a no-op once installed) and returns the binary it prints.
fn install() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join(".ci/install-tansu");
    let output = Command::new("bash")
        .arg(&script)
        .current_dir(&root)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{} failed ({}): cannot install the tansu Kafka broker the Kafka tests need; output: {stdout}",
        script.display(),
        output.status
    );
    let binary = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    assert!(
        binary.is_file(),
        "{} printed {binary:?}, which is not a file: tansu is not installed",
        script.display()
    );
    binary
}

fn wait_for_port(child: &mut KillOnDrop, port: u16, log_path: &Path) {
    let started = Instant::now();
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!(
                "tansu exited ({status}) before accepting connections on port {port}; its log:\n{}",
                read_log(log_path)
            );
        }
        if started.elapsed() > STARTUP_TIMEOUT {
            panic!(
                "tansu did not accept connections on port {port} within {STARTUP_TIMEOUT:?}; its log:\n{}",
                read_log(log_path)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_log(path: &Path) -> String {
    let mut text = String::new();
    match std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text)) {
        Ok(_) => text,
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}
