//! A private MariaDB server, for tests that take the database away: a fresh
//! `mariadb-install-db` in a temporary directory, served on an ephemeral port and a socket of its
//! own, killed hard (SIGKILL to `mariadbd`: a crash, nothing shut down cleanly) and started again
//! on the same data directory (InnoDB crash recovery) on command. The shared test server is never
//! touched. The same shape as [`crate::PgCluster`].
//!
//! `root` has an empty password over TCP (`--auth-root-authentication-method=normal`), and the
//! server creates the database `ctldb` at each start (`--init-file`), so [`MariaDbInstance::url`]
//! is ready for an executive. InnoDB writes its log to the OS at each commit without an fsync
//! (`--innodb-flush-log-at-trx-commit=2`): the tests kill processes, not the machine, and the
//! page cache survives them, so an acknowledged commit survives the kill.
//!
//! Needs MariaDB's server binaries (`mariadbd` or `mysqld`, `mariadb-install-db` or
//! `mysql_install_db`): `CTLSTORE_TEST_MARIADB_BINDIR`, else the `PATH`, `/usr/sbin`, `/usr/bin`.
//! Run as root, the server runs as root (`--user=root`). Tests using it are gated with
//! [`crate::mysql_test!`], so a machine without MariaDB reports them ignored.
//!
//! The methods block (they wait for the server): call them from `spawn_blocking` in async tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a start (crash recovery included) may take.
const START_WITHIN: Duration = Duration::from_secs(120);

/// A running (or stopped) private server. Killed and deleted when dropped.
pub struct MariaDbInstance {
    dir: tempfile::TempDir,
    port: u16,
    server: PathBuf,
    as_root: bool,
    /// The running `mariadbd`, if any.
    child: Mutex<Option<Child>>,
    /// More server options, at every start.
    extra: Vec<String>,
    /// `mysql://root@127.0.0.1:{port}/ctldb`.
    pub url: String,
}

impl MariaDbInstance {
    /// Initialises a data directory and starts the server; panics (with the server's log) if it
    /// cannot.
    pub fn start() -> MariaDbInstance {
        MariaDbInstance::start_with(Vec::new())
    }

    /// A server that takes only TLS connections (`--require-secure-transport`), serving the
    /// certificate and key at `cert` and `key`.
    pub fn start_tls(cert: &Path, key: &Path) -> MariaDbInstance {
        MariaDbInstance::start_with(vec![
            format!("--ssl-cert={}", cert.display()),
            format!("--ssl-key={}", key.display()),
            "--require-secure-transport=ON".into(),
        ])
    }

    fn start_with(extra: Vec<String>) -> MariaDbInstance {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let port = crate::free_port();
        let instance = MariaDbInstance {
            url: format!("mysql://root@127.0.0.1:{port}/ctldb"),
            dir,
            port,
            server: find_binary(&["mariadbd", "mysqld"]),
            as_root: running_as_root(),
            child: Mutex::new(None),
            extra,
        };
        let install = find_binary(&["mariadb-install-db", "mysql_install_db"]);
        let mut command = Command::new(&install);
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", instance.data_dir().display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ]);
        if instance.as_root {
            command.arg("--user=root");
        }
        let output = command
            .current_dir(instance.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", install.display()));
        assert!(
            output.status.success(),
            "{} failed: {}\n{}",
            install.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::write(
            instance.dir.path().join("init.sql"),
            "CREATE DATABASE IF NOT EXISTS ctldb;\n",
        )
        .expect("write the init file");
        instance.resume();
        instance
    }

    /// Kills `mariadbd` with SIGKILL and reaps it: connections drop, new ones are refused,
    /// nothing is shut down cleanly. Panics if the server is not running.
    pub fn stop_hard(&self) {
        let child = self.child.lock().expect("the child lock").take();
        let mut child = child.expect("stop_hard: the server is not running");
        child.kill().expect("SIGKILL mariadbd");
        let _ = child.wait();
    }

    /// Starts the server on the same port and data directory (after
    /// [`MariaDbInstance::stop_hard`]: with crash recovery) and waits until it accepts
    /// connections.
    pub fn resume(&self) {
        let mut slot = self.child.lock().expect("the child lock");
        assert!(slot.is_none(), "resume: the server is already running");
        let ready_before = self.log().matches("ready for connections").count();
        let d = |name: &str| self.dir.path().join(name).display().to_string();
        let mut command = Command::new(&self.server);
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.data_dir().display()))
            .arg(format!("--port={}", self.port))
            .arg(format!("--socket={}", d("mysqld.sock")))
            .arg(format!("--pid-file={}", d("mysqld.pid")))
            .arg(format!("--log-error={}", d("server.log")))
            .arg(format!("--init-file={}", d("init.sql")))
            .arg(format!("--tmpdir={}", self.dir.path().display()))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--innodb-flush-log-at-trx-commit=2",
                "--innodb-buffer-pool-size=64M",
                "--performance-schema=OFF",
                "--max-connections=500",
            ])
            .args(&self.extra);
        if self.as_root {
            command.arg("--user=root");
        }
        let child = command
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.server.display()));
        *slot = Some(child);
        let started = Instant::now();
        loop {
            if let Some(child) = slot.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                *slot = None;
                panic!("mariadbd exited during start: {status}\n{}", self.log());
            }
            let ready = self.log().matches("ready for connections").count() > ready_before;
            if ready && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                started.elapsed() < START_WITHIN,
                "mariadbd did not accept connections within {START_WITHIN:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's error log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for MariaDbInstance {
    fn drop(&mut self) {
        let child = match self.child.get_mut() {
            Ok(c) => c.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The first of `names` found in `CTLSTORE_TEST_MARIADB_BINDIR`, else on the `PATH`, in
/// `/usr/sbin` or `/usr/bin`; panics naming them when none is.
fn find_binary(names: &[&str]) -> PathBuf {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("CTLSTORE_TEST_MARIADB_BINDIR") {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.extend(["/usr/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from));
    names
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|candidate| is_file(candidate))
        .unwrap_or_else(|| {
            panic!(
                "none of {names:?} found (set CTLSTORE_TEST_MARIADB_BINDIR to MariaDB's bin directory)"
            )
        })
}

fn is_file(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file())
}
