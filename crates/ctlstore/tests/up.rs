//! `ctlstore up` (all-in-one) and `--config` from outside: the file's values reach the
//! service with flags > environment > file > defaults, unknown keys are refused, the banner
//! names the URLs, the supervisor publishes snapshots under the data directory, logs carry no
//! ANSI escapes when redirected (JSON with `--log-format json`), and SIGTERM stops it cleanly.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ctlstore_testkit::free_port;

fn ctlstore() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ctlstore"));
    c.env("RUST_BACKTRACE", "0")
        .env_remove("CTLSTORE_BIND")
        .env_remove("CTLSTORE_CONFIG")
        .stdin(Stdio::null());
    c
}

fn kill_term(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Waits (at most 30 s) for the child to exit and returns its status code.
fn wait_exit(child: &mut Child) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("still running 30 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The address the executive says it listens on, from its first JSON log line that says so.
fn executive_bind(config: &Path, env_bind: Option<&str>, flag_bind: Option<&str>) -> String {
    let dir = config.parent().expect("dir");
    let mut c = ctlstore();
    c.current_dir(dir)
        .args(["executive", "--config"])
        .arg(config)
        .args(["--ctldb", "sqlite:ctldb.db", "--log-format", "json"]);
    if let Some(b) = env_bind {
        c.env("CTLSTORE_BIND", b);
    }
    if let Some(b) = flag_bind {
        c.args(["--bind", b]);
    }
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut bind = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("line");
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if v["fields"]["message"] == "executive listening" {
            bind = v["fields"]["bind"].as_str().map(str::to_string);
            break;
        }
    }
    kill_term(&child);
    assert_eq!(wait_exit(&mut child), Some(0), "SIGTERM is a clean stop");
    bind.expect("the executive logged where it listens")
}

#[test]
fn config_file_sits_between_environment_and_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, env, flag) = (free_port(), free_port(), free_port());
    let config = dir.path().join("ctlstore.toml");
    std::fs::write(
        &config,
        format!(
            "# shared by every service on the host\n[executive]\nbind = \"127.0.0.1:{file}\"\n\
             [reflector]\nldb-path = \"/not/used/by/the/executive\"\n"
        ),
    )
    .expect("write");
    assert_eq!(
        executive_bind(&config, None, None),
        format!("127.0.0.1:{file}")
    );
    assert_eq!(
        executive_bind(&config, Some(&format!("127.0.0.1:{env}")), None),
        format!("127.0.0.1:{env}")
    );
    assert_eq!(
        executive_bind(
            &config,
            Some(&format!("127.0.0.1:{env}")),
            Some(&format!("127.0.0.1:{flag}"))
        ),
        format!("127.0.0.1:{flag}")
    );
}

#[test]
fn unknown_keys_and_bad_files_are_refused_naming_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("ctlstore.toml");
    for (text, expected) in [
        ("[executive]\nbnid = \"x\"\n", "unknown key `bnid`"),
        ("ldb-path = \n", "not valid TOML"),
    ] {
        std::fs::write(&config, text).expect("write");
        let out = ctlstore()
            .arg("executive")
            .arg("--config")
            .arg(&config)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expected), "{err}");
    }
    let out = ctlstore()
        .args(["executive", "--config", "/does/not/exist.toml"])
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/does/not/exist.toml"));
}

#[test]
fn up_runs_everything_prints_urls_snapshots_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (api, sidecar, metrics) = (free_port(), free_port(), free_port());
    let config = dir.path().join("ctlstore.toml");
    std::fs::write(
        &config,
        format!(
            "[all-in-one]\nbind = \"127.0.0.1:{api}\"\nsidecar-bind = \"127.0.0.1:{sidecar}\"\n\
             metrics-bind = \"127.0.0.1:{metrics}\"\ndata-dir = \"data\"\nsnapshot-interval = \"1s\"\n"
        ),
    )
    .expect("write");
    let mut child = ctlstore()
        .current_dir(dir.path())
        .args(["up", "--config", "ctlstore.toml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let banner: Vec<String> = BufReader::new(stdout)
        .lines()
        .map(|l| l.expect("line"))
        .take_while(|l| !l.trim_start().starts_with("data"))
        .collect();
    let banner = banner.join("\n");
    for url in [
        format!("http://127.0.0.1:{api}/ui/"),
        format!("http://127.0.0.1:{api}/docs"),
        format!("http://127.0.0.1:{sidecar}/"),
        format!("http://127.0.0.1:{metrics}/metrics"),
    ] {
        assert!(banner.contains(&url), "banner lacks {url}:\n{banner}");
    }

    let snapshot = dir.path().join("data/snapshots/ldb.db.zst");
    let started = Instant::now();
    while !snapshot.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no snapshot at {} after 30 s",
            snapshot.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let health = status_of(&format!("http://127.0.0.1:{api}/healthz"));
    assert_eq!(health, 200);

    kill_term(&child);
    assert_eq!(wait_exit(&mut child), Some(0), "SIGTERM is a clean stop");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("read");
    assert!(!err.contains('\x1b'), "ANSI escapes in a redirected log");
    assert!(err.contains("shutting down"), "{err}");
    // Nothing half-written: the LDB opens and holds the heartbeat table with its rows.
    let ldb = rusqlite::Connection::open(dir.path().join("data/ldb.db")).expect("open LDB");
    let seq: i64 = ldb
        .query_row("SELECT seq FROM _ldb_seq WHERE id = 1", [], |r| r.get(0))
        .expect("seq");
    assert!(seq > 0);
    let check: String = ldb
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    assert_eq!(check, "ok");
}

/// The status code of a GET (0 when it fails).
fn status_of(url: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        reqwest::get(url)
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    })
}
