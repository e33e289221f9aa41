//! A private 3-node MariaDB Galera cluster for tests and benchmarks (issue 20), run by
//! `scripts/galera-cluster.sh` on its own ports and data directory; stopped and deleted when
//! dropped. Needs mariadbd, galera-4 and rsync: without them [`GaleraCluster::start`] panics
//! saying so (a Galera test never skips).
//!
//! The methods block (they wait for the nodes): call them from `spawn_blocking` or
//! `block_in_place` in async code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct GaleraCluster {
    dir: PathBuf,
    /// The SQL port of each node, node 1 first.
    pub ports: Vec<u16>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/galera-cluster.sh")
}

fn run(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(script())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/galera-cluster.sh")
}

impl GaleraCluster {
    /// Starts the cluster and waits until all three nodes are synced; panics with the script's
    /// error if it cannot (after three tries on different ports).
    pub fn start() -> GaleraCluster {
        // Directly under /tmp: run as root, the nodes run as `mysql`, which must reach it.
        let dir = PathBuf::from(format!("/tmp/ctlstore-galera-{}", std::process::id()));
        let mut last = String::new();
        for attempt in 0..3u32 {
            let base = 20_000 + ((std::process::id() + attempt * 97) % 300) * 50;
            let _ = std::fs::remove_dir_all(&dir);
            let out = run(&["start", &dir.display().to_string(), &base.to_string()]);
            if out.status.success() {
                let ports: Vec<u16> = String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect();
                assert_eq!(ports.len(), 3, "the script printed the three ports");
                return GaleraCluster { dir, ports };
            }
            last = String::from_utf8_lossy(&out.stderr).to_string();
            let _ = run(&["stop", &dir.display().to_string()]);
        }
        panic!(
            "a 3-node Galera cluster could not start on this machine (mariadbd, galera-4 and rsync are needed; see scripts/galera-cluster.sh): {last}"
        );
    }

    /// `kill` (SIGKILL) or `restart` (rejoin) node `n` (1 to 3).
    pub fn node(&self, verb: &str, n: u32) {
        let out = run(&[verb, &self.dir.display().to_string(), &n.to_string()]);
        assert!(
            out.status.success(),
            "galera-cluster.sh {verb} {n}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `mysql://root@127.0.0.1:{port}/ctldb` of node `i` (0 to 2).
    pub fn url(&self, i: usize) -> String {
        format!("mysql://root@127.0.0.1:{}/ctldb", self.ports[i])
    }
}

impl Drop for GaleraCluster {
    fn drop(&mut self) {
        let _ = run(&["stop", &self.dir.display().to_string()]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
