//! The binary's command line from outside: variables derived from flag names (nested ones
//! too), bad values refused at startup naming the flag, and a service that cannot start its
//! parts exiting non-zero instead of running half-alive.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ctlstore() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ctlstore"));
    c.env("RUST_BACKTRACE", "0").stdin(Stdio::null());
    c
}

/// Runs to completion (at most 20 s) and returns (exit code, stderr).
fn finish(mut command: Command) -> (Option<i32>, String) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let out = child.wait_with_output().expect("output");
            return (
                status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asserts `command` exits with status 1 at startup, saying `message`.
fn refused(command: Command, message: &str) {
    let (code, err) = finish(command);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(message), "wanted {message:?} in: {err}");
}

#[test]
fn variables_are_derived_from_flag_names_nested_ones_too() {
    let mut c = ctlstore();
    c.args(["heartbeat", "-writer-secret", "x"])
        .env("CTLSTORE_HEARTBEAT_INTERVAL", "0s");
    refused(c, "-heartbeat-interval: must be greater than zero");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = ctlstore();
    c.args(["supervisor", "-snapshot-url"])
        .arg(format!("file://{}/snap.db", dir.path().display()))
        .env("CTLSTORE_REFLECTOR_LDB_PATH", dir.path().join("ldb.db"))
        .env("CTLSTORE_REFLECTOR_EXECUTIVE_URL", "127.0.0.1:1")
        .env("CTLSTORE_REFLECTOR_GAP_TIMEOUT", "0s");
    refused(c, "-reflector.gap-timeout: must be greater than zero");
}

#[test]
fn zero_intervals_are_refused_at_startup() {
    for args in [
        &["executive", "-ledger-poll-interval", "0s"][..],
        &["executive", "-handler-timeout", "0"][..],
        &[
            "reflector",
            "-ldb-path",
            "/tmp/x.db",
            "-upstream-driver",
            "sqlite3",
            "-upstream-dsn",
            "/tmp/c.db",
            "-poll-interval",
            "0s",
        ][..],
        &[
            "all-in-one",
            "-heartbeat-interval",
            "0s",
            "-data-dir",
            "/tmp/ctlstore-cli-test",
        ][..],
    ] {
        let mut c = ctlstore();
        c.args(args);
        refused(c, "must be greater than zero");
    }
}

/// A sidecar that cannot bind stops the all-in-one with an error (it used to sit invisible
/// until Ctrl-C).
#[test]
fn all_in_one_exits_when_a_part_cannot_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = ctlstore();
    c.args([
        "all-in-one",
        "-bind",
        "127.0.0.1:0",
        "-metrics-bind",
        "127.0.0.1:0",
    ])
    .arg("-data-dir")
    .arg(dir.path())
    .arg("-sidecar-bind")
    .arg(format!("127.0.0.1:{port}"));
    let (code, err) = finish(c);
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("sidecar"), "{err}");
    assert!(err.contains(&format!("bind 127.0.0.1:{port}")), "{err}");
}
