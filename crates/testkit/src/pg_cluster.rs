//! A private PostgreSQL cluster, for tests that take the database away: a fresh `initdb` in a
//! temporary directory, served on an ephemeral port, stopped hard (`pg_ctl stop -m immediate`:
//! every server process killed, as in a crash) and started again (crash recovery) on command.
//! The shared test servers are never touched.
//!
//! Needs PostgreSQL's server binaries (`initdb`, `pg_ctl`): `CTLSTORE_TEST_PG_BINDIR`, else the
//! newest `/usr/lib/postgresql/*/bin`, else the `PATH`. Run as root, it runs them as the
//! `postgres` user (`runuser`), since PostgreSQL refuses to run as root. Tests using it are
//! gated with [`crate::postgres_test!`], so a machine without PostgreSQL reports them ignored.
//!
//! The methods block (they wait for the server): call them from `spawn_blocking` in async tests.

use crate::free_port;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running (or stopped) private cluster. Stopped hard and deleted when dropped.
pub struct PgCluster {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
    /// `postgres://postgres@127.0.0.1:{port}/postgres`.
    pub url: String,
}

impl PgCluster {
    /// Initialises and starts a cluster; panics (with the server's log) if it cannot.
    pub fn start() -> PgCluster {
        PgCluster::start_with(&[])
    }

    /// Like [`PgCluster::start`], with extra server settings written to `postgresql.conf`
    /// before the first start, e.g. `&[("wal_level", "logical"), ("max_replication_slots", "10")]`
    /// for logical replication. Values are written as quoted strings.
    pub fn start_with(settings: &[(&str, &str)]) -> PgCluster {
        let cluster = PgCluster::new_dir();
        let data = cluster.data_dir();
        let data = data.to_string_lossy();
        cluster.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
            true,
        );
        if !settings.is_empty() {
            let mut conf = String::from("\n# Added by PgCluster::start_with\n");
            for (name, value) in settings {
                conf.push_str(&format!("{name} = '{}'\n", value.replace('\'', "''")));
            }
            cluster.append_to_data_file("postgresql.conf", &conf, false);
        }
        cluster.resume();
        cluster
    }

    /// A cluster that accepts only TLS connections from 127.0.0.1 (`ssl = on`, `hostssl`
    /// trust, `hostnossl` reject), serving the certificate and key at `cert` and `key`.
    pub fn start_tls(cert: &Path, key: &Path) -> PgCluster {
        let cluster = PgCluster::new_dir();
        let data = cluster.data_dir();
        let data_text = data.to_string_lossy();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data_text,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
            true,
        );
        for (from, name) in [(cert, "server.crt"), (key, "server.key")] {
            let to = data.join(name);
            std::fs::copy(from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
            // The server refuses a key others can read, or one it does not own.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
                    .expect("key mode");
            }
            if cluster.as_postgres {
                cluster.run("chown", &["postgres:", &to.to_string_lossy()], false);
            }
        }
        cluster.append_to_data_file(
            "postgresql.conf",
            "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
            false,
        );
        cluster.append_to_data_file(
            "pg_hba.conf",
            "hostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
            true,
        );
        cluster.resume();
        cluster
    }

    /// A streaming standby of the primary on `primary_port` (`pg_basebackup -R`), started on a
    /// port of its own and connecting as `application_name` = `name` (so
    /// `synchronous_standby_names = 'name'` on the primary makes its commits wait for it).
    pub fn standby_of_port(primary_port: u16, name: &str) -> PgCluster {
        let cluster = PgCluster::new_dir();
        let data = cluster.data_dir();
        let data = data.to_string_lossy();
        let primary_port = primary_port.to_string();
        cluster.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary_port,
                "-U",
                "postgres",
                "-D",
                &data,
                "-R",
                "-X",
                "stream",
                "--no-sync",
            ],
            true,
        );
        cluster.append_to_data_file(
            "postgresql.auto.conf",
            &format!(
                "primary_conninfo = 'host=127.0.0.1 port={primary_port} user=postgres application_name={name}'\n"
            ),
            false,
        );
        cluster.resume();
        cluster
    }

    /// Makes a standby the primary (`pg_ctl promote`), waiting until it takes writes.
    pub fn promote(&self) {
        let data = self.data_dir();
        let data = data.to_string_lossy();
        self.run("pg_ctl", &["promote", "-D", &data, "-w", "-t", "60"], true);
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A cluster not yet made: its directory (owned by `postgres` when we are root) and port.
    fn new_dir() -> PgCluster {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let port = free_port();
        let as_postgres = running_as_root();
        let cluster = PgCluster {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            port,
            bin: bin_dir(),
            as_postgres,
        };
        if as_postgres {
            cluster.run("chown", &["-R", "postgres:", &cluster.path_text()], false);
        }
        cluster
    }

    /// Adds `line` (e.g. `host all alice 127.0.0.1/32 scram-sha-256`) to the *top* of
    /// `pg_hba.conf`, so it wins over the trust rules, and reloads the server's configuration
    /// (the reload is a signal: new connections see it a moment later).
    pub fn add_hba_rule(&self, line: &str) {
        self.append_to_data_file("pg_hba.conf", &format!("{line}\n"), true);
        self.reload();
    }

    /// Makes the server re-read its configuration files (`pg_ctl reload`).
    pub fn reload(&self) {
        let data = self.data_dir();
        let data = data.to_string_lossy();
        self.run("pg_ctl", &["reload", "-D", &data], true);
    }

    /// Adds text to a file in the data directory (at the start when `prepend`), keeping its
    /// owner and mode: the server runs as `postgres` and refuses files it cannot read.
    fn append_to_data_file(&self, name: &str, text: &str, prepend: bool) {
        let path = self.data_dir().join(name);
        let old = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let new = if prepend {
            format!("{text}{old}")
        } else {
            format!("{old}{text}")
        };
        // Truncating and rewriting the existing file keeps its owner and permissions.
        std::fs::write(&path, new).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Kills every server process at once (`pg_ctl stop -m immediate`): connections drop, new
    /// ones are refused, nothing is shut down cleanly.
    pub fn stop_hard(&self) {
        let data = self.data_dir();
        let data = data.to_string_lossy();
        self.run(
            "pg_ctl",
            &["stop", "-D", &data, "-m", "immediate", "-w"],
            true,
        );
    }

    /// Starts the server again on the same port (after [`PgCluster::stop_hard`]: with crash
    /// recovery) and waits until it accepts connections.
    pub fn resume(&self) {
        let data = self.data_dir();
        let data = data.to_string_lossy();
        let log = self.dir.path().join("server.log");
        // fsync off: the tests kill processes, not the machine; the page cache survives them.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.path_text()
        );
        let log = log.to_string_lossy();
        self.run(
            "pg_ctl",
            &[
                "start", "-D", &data, "-o", &options, "-l", &log, "-w", "-t", "120",
            ],
            true,
        );
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn path_text(&self) -> String {
        self.dir.path().to_string_lossy().into_owned()
    }

    /// Runs `program` (from the PostgreSQL bin directory when `postgres_bin`), as the
    /// `postgres` user when we are root; panics with its output if it fails.
    fn run(&self, program: &str, args: &[&str], postgres_bin: bool) {
        let program = if postgres_bin {
            self.bin.join(program)
        } else {
            PathBuf::from(program)
        };
        let mut command = if self.as_postgres && postgres_bin {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let output = command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
        assert!(
            output.status.success(),
            "{} {args:?} failed: {}\n{}\n{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        let pg_ctl = self.bin.join("pg_ctl");
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let _ = command
            .args(["stop", "-m", "immediate", "-D"])
            .arg(&data)
            .output();
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Where `initdb` and `pg_ctl` are.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CTLSTORE_TEST_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .max_by_key(|bin| version_of(bin));
    newest.unwrap_or_default()
}

/// `/usr/lib/postgresql/15/bin` → 15.
fn version_of(bin: &Path) -> u32 {
    bin.parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
