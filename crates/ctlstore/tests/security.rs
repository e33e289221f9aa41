//! Security (issue 19) with the real binaries: mutual TLS on the executive, identities from
//! client certificates, an ACL file, partial replication down to the LDB and the snapshots, and
//! no secret in any log line, status page or error body. A CA and every certificate are made
//! inside the test (`ctlstore_testkit::pki`).
//!
//! The fleet: an executive (mTLS, `-acl-file`, an admin token), the heartbeat, a supervisor
//! replicating family `alpha` (identity `supervisor-a`), and hosts with identity
//! `spiffe://fleet/host-a`, which may read `alpha` only. Family `beta` holds a secret value no
//! such host may ever see.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ctlstore_testkit::pki::{CertFiles, TestPki};
use ctlstore_testkit::{KillOnDrop, free_port};
use serde_json::{Value, json};

const ADMIN_TOKEN: &str = "admin-token-canary-6f1d";
const WRITER_B_SECRET: &str = "writer-b-secret-canary-93ac";
const HEARTBEAT_SECRET: &str = "heartbeat-secret-canary-27be";
const DSN_PASSWORD: &str = "dsn-password-canary-41c7";
/// The value only family `beta` holds.
const BETA_VALUE: &str = "TOPSECRET-beta-value-8d2e";
const HOST_A: &str = "spiffe://fleet/host-a";

/// Every service this test starts logs at debug level to its own file, grepped at the end.
struct Fleet {
    dir: tempfile::TempDir,
    logs: Vec<PathBuf>,
}

impl Fleet {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn start(&mut self, name: &str, args: &[&str]) -> KillOnDrop {
        let log = self.path(&format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        self.logs.push(log);
        KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_ctlstore"))
                .args(args)
                .env("RUST_LOG", "debug")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(file)
                .spawn()
                .expect("start ctlstore"),
        )
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default()
    }
}

impl Drop for Fleet {
    /// On failure, the end of every log says what each process was doing.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for log in &self.logs {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().filter(|l| !l.contains("DEBUG")).collect();
            eprintln!("--- {} (last non-debug lines)", log.display());
            for line in &lines[lines.len().saturating_sub(15)..] {
                eprintln!("{line}");
            }
        }
        if std::env::var_os("CTLSTORE_TEST_KEEP").is_some()
            && let Ok(fresh) = tempfile::tempdir()
        {
            let kept = std::mem::replace(&mut self.dir, fresh).keep();
            eprintln!("kept {}", kept.display());
        }
    }
}

/// `-tls-ca`, `-tls-client-cert`, `-tls-client-key` for a service presenting `cert`.
fn client_flags(ca: &Path, cert: &CertFiles) -> Vec<String> {
    let p = |f: &Path| f.to_string_lossy().into_owned();
    vec![
        "-tls-ca".into(),
        p(ca),
        "-tls-client-cert".into(),
        p(&cert.cert),
        "-tls-client-key".into(),
        p(&cert.key),
    ]
}

/// `args` then `extra`, as the `&str`s `Fleet::start` takes.
fn with(args: &[&str], extra: &[String]) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(extra.iter().cloned());
    all
}

fn client(ca: &Path, cert: Option<&CertFiles>) -> reqwest::Client {
    let tls = ctlstore_tls::ClientTls::load(ctlstore_tls::ClientTlsFiles {
        ca: Some(ca.to_path_buf()),
        cert: cert.map(|c| c.cert.clone()),
        key: cert.map(|c| c.key.clone()),
    })
    .expect("client TLS");
    tls.apply(reqwest::Client::builder().timeout(Duration::from_secs(10)))
        .build()
        .expect("client")
}

async fn send(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn wait_for(what: &str, within: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn ldb_seq(ldb: &Path) -> i64 {
    rusqlite::Connection::open_with_flags(ldb, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT seq FROM _ldb_seq WHERE id = 1", [], |r| r.get(0)))
        .unwrap_or(0)
}

fn tables(ldb: &Path) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(ldb, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open LDB");
    let mut st = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .expect("prepare");
    st.query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("names")
}

fn count(ldb: &Path, table: &str) -> i64 {
    rusqlite::Connection::open_with_flags(ldb, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)))
        .unwrap_or(-1)
}

/// No byte of `needle` sequence in the file (or its WAL and SHM): not in a row, a free page or
/// a WAL frame.
fn assert_no_trace(file: &Path, needles: &[&str]) {
    let mut paths = vec![file.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut p = file.as_os_str().to_owned();
        p.push(suffix);
        paths.push(PathBuf::from(p));
    }
    for path in paths.iter().filter(|p| p.exists()) {
        let bytes = std::fs::read(path).expect("read");
        for needle in needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{} holds '{needle}'",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_acls_and_partial_replication() {
    let pki = TestPki::new("fleet");
    let rogue = TestPki::new("rogue");
    let server = pki.server("executive");
    let ops = pki.client("ops", "ops", None);
    let writer_a = pki.client("writer-a", "writer-a", None);
    let heartbeat = pki.client("heartbeat", "heartbeat", None);
    let host_a = pki.client("host-a", "host-a-cn", Some(HOST_A));
    let supervisor_a = pki.client("supervisor-a", "supervisor-a", None);
    let mallory = rogue.client("mallory", "ops", None);
    let ca = pki.ca();
    let p = |f: &Path| f.to_string_lossy().into_owned();

    let mut fleet = Fleet {
        dir: tempfile::tempdir().expect("tempdir"),
        logs: Vec::new(),
    };
    let acl = fleet.path("acl.txt");
    let rules = format!(
        "# operators\nops * admin\n\
         heartbeat ctlstore admin\nheartbeat ctlstore write\n\
         writer-a alpha write\nwriter-b beta w\n\
         {HOST_A} alpha read\nsupervisor-a alpha r\n"
    );
    std::fs::write(&acl, &rules).expect("write the ACL");
    let port = free_port();
    let base = format!("https://localhost:{port}");
    let ctldb = format!("sqlite:{}", fleet.path("ctldb.db").display());
    let tls_server = [
        "-tls-cert".to_string(),
        p(&server.cert),
        "-tls-key".into(),
        p(&server.key),
        "-tls-client-ca".into(),
        p(&ca),
    ];
    let mut args: Vec<String> = vec![
        "executive".into(),
        "-bind".into(),
        format!("127.0.0.1:{port}"),
        "-ctldb".into(),
        ctldb,
        "-admin-token".into(),
        ADMIN_TOKEN.into(),
        "-acl-file".into(),
        p(&acl),
    ];
    args.extend(tls_server.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let executive = fleet.start("executive", &args);

    let as_ops = client(&ca, Some(&ops));
    wait_for("the executive serves TLS", Duration::from_secs(20), async || {
        matches!(as_ops.get(format!("{base}/healthz")).send().await, Ok(r) if r.status().is_success())
    })
    .await;

    // The handshake refuses a client without a certificate, and one from another CA.
    for (who, c) in [
        ("no certificate", client(&ca, None)),
        ("another CA's certificate", client(&ca, Some(&mallory))),
    ] {
        let r = c.get(format!("{base}/healthz")).send().await;
        assert!(r.is_err(), "{who}: {r:?}");
    }
    // Plain HTTP gets nowhere either.
    assert!(
        reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_err()
    );

    // Schema and writers, as the operator identity (no admin token needed).
    for (path, body) in [
        ("/families/alpha", String::new()),
        ("/families/beta", String::new()),
        (
            "/families/alpha/tables/users",
            json!({"fields": [["id", "string"], ["name", "string"]], "keyFields": ["id"]})
                .to_string(),
        ),
        (
            "/families/beta/tables/secrets",
            json!({"fields": [["id", "string"], ["value", "string"]], "keyFields": ["id"]})
                .to_string(),
        ),
        ("/writers/writer-a", "writer-a-secret-canary-5e0b".into()),
        ("/writers/writer-b", WRITER_B_SECRET.into()),
    ] {
        let (status, text) = send(as_ops.post(format!("{base}{path}")).body(body)).await;
        assert_eq!(status, 200, "{path}: {text}");
    }
    // A read-only identity may not change the schema: 403 naming who, what and where.
    let as_host = client(&ca, Some(&host_a));
    let (status, text) = send(as_host.post(format!("{base}/families/gamma"))).await;
    assert_eq!(status, 403, "{text}");
    let denial: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(denial["identity"], HOST_A);
    assert_eq!(denial["scope"], "gamma");
    assert_eq!(denial["operation"], "admin");

    // writer-a writes by certificate alone (no headers).
    let as_writer_a = client(&ca, Some(&writer_a));
    let rows = json!({"mutations": [
        {"table": "users", "values": {"id": "u1", "name": "alice"}},
        {"table": "users", "values": {"id": "u2", "name": "bob"}},
    ]});
    let (status, text) = send(
        as_writer_a
            .post(format!("{base}/families/alpha/mutations"))
            .json(&rows),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    // Outside its scope: 403, and nothing applied.
    let outside =
        json!({"mutations": [{"table": "secrets", "values": {"id": "x", "value": "from-a"}}]});
    let (status, text) = send(
        as_writer_a
            .post(format!("{base}/families/beta/mutations"))
            .json(&outside),
    )
    .await;
    assert_eq!(status, 403, "{text}");
    let denial: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(
        (
            denial["identity"].as_str(),
            denial["scope"].as_str(),
            denial["operation"].as_str()
        ),
        (Some("writer-a"), Some("beta/secrets"), Some("write"))
    );
    // writer-b writes with ctlstore's headers, over the operator's connection: the headers
    // name the writer.
    let secret_row =
        json!({"mutations": [{"table": "secrets", "values": {"id": "s1", "value": BETA_VALUE}}]});
    let (status, text) = send(
        as_ops
            .post(format!("{base}/families/beta/mutations"))
            .header("ctlstore-writer", "writer-b")
            .header("ctlstore-secret", WRITER_B_SECRET)
            .json(&secret_row),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let (_, beta_rows) =
        send(as_ops.get(format!("{base}/families/beta/tables/secrets/rows"))).await;
    assert!(!beta_rows.contains("from-a"), "{beta_rows}");
    assert!(beta_rows.contains(BETA_VALUE), "{beta_rows}");

    // The heartbeat, over mTLS.
    let args = with(
        &[
            "heartbeat",
            "-executive-url",
            &base,
            "-writer-secret",
            HEARTBEAT_SECRET,
            "-heartbeat-interval",
            "200ms",
        ],
        &client_flags(&ca, &heartbeat),
    );
    let _heartbeat = fleet.start(
        "heartbeat",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );

    // The supervisor replicates alpha and publishes it under alpha's own key.
    let snapshots = fleet.path("snapshots");
    let snapshot_url = format!("file://{}/ldb.db", snapshots.display());
    let supervisor_ldb = fleet.path("supervisor.db");
    let args = with(
        &[
            "supervisor",
            "-snapshot-url",
            &snapshot_url,
            "-snapshot-interval",
            "1s",
            "-reflector.ldb-path",
            &p(&supervisor_ldb),
            "-reflector.executive-url",
            &base,
            "-families",
            "alpha",
        ],
        &client_flags(&ca, &supervisor_a),
    );
    let _supervisor = fleet.start(
        "supervisor",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let alpha_snapshots = snapshots.join("families-alpha");
    wait_for("a snapshot of alpha", Duration::from_secs(30), async || {
        std::fs::read_dir(&alpha_snapshots)
            .map(|d| d.count() > 0)
            .unwrap_or(false)
            && ldb_seq(&supervisor_ldb) > 0
            && count(&supervisor_ldb, "ctlstore___heartbeats") > 0
    })
    .await;
    assert!(
        !snapshots.join("ldb.db").exists(),
        "a supervisor with --families published under the full snapshot's key"
    );

    // Host 1: identity host-a, no --families: the ACL alone decides what its feed carries.
    // Host 2: the same identity with --families alpha, bootstrapped from alpha's snapshot.
    let host_tls = client_flags(&ca, &host_a);
    let reflector = |fleet: &mut Fleet, name: &str, ldb: &Path, extra: &[&str]| {
        let mut args = vec![
            "reflector".to_string(),
            "-ldb-path".into(),
            p(ldb),
            "-executive-url".into(),
            base.clone(),
        ];
        args.extend(host_tls.iter().cloned());
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fleet.start(name, &args)
    };
    let host1 = fleet.path("host1.db");
    let host2 = fleet.path("host2.db");
    let _host1 = reflector(&mut fleet, "host1", &host1, &[]);
    let _host2 = reflector(
        &mut fleet,
        "host2",
        &host2,
        &["-families", "alpha", "-bootstrap-url", &snapshot_url],
    );

    // A host fed a full snapshot where alpha's should be refuses it and replays the feed.
    let evil = fleet.path("evil");
    std::fs::create_dir_all(evil.join("families-alpha")).expect("evil dir");
    {
        let full = fleet.path("full.db");
        let args = with(
            &["reflector", "-ldb-path", &p(&full), "-executive-url", &base],
            &client_flags(&ca, &ops),
        );
        let _full = fleet.start("full", &args.iter().map(String::as_str).collect::<Vec<_>>());
        wait_for(
            "an operator's host holds beta",
            Duration::from_secs(30),
            async || count(&full, "beta___secrets") == 1,
        )
        .await;
        rusqlite::Connection::open(&full)
            .and_then(|c| {
                c.execute(
                    "VACUUM INTO ?1",
                    [evil.join("families-alpha/ldb.db").to_string_lossy()],
                )
            })
            .expect("copy the full LDB");
    }
    let host3 = fleet.path("host3.db");
    let _host3 = reflector(
        &mut fleet,
        "host3",
        &host3,
        &[
            "-families",
            "alpha",
            "-bootstrap-url",
            &format!("file://{}/ldb.db", evil.display()),
        ],
    );

    // More writes after the hosts started: alpha and beta both move.
    let more = json!({"mutations": [{"table": "users", "values": {"id": "u3", "name": "carol"}}]});
    let (status, _) = send(
        as_writer_a
            .post(format!("{base}/families/alpha/mutations"))
            .json(&more),
    )
    .await;
    assert_eq!(status, 200);
    let more_beta =
        json!({"mutations": [{"table": "secrets", "values": {"id": "s2", "value": BETA_VALUE}}]});
    let (status, _) = send(
        as_ops
            .post(format!("{base}/families/beta/mutations"))
            .header("ctlstore-writer", "writer-b")
            .header("ctlstore-secret", WRITER_B_SECRET)
            .json(&more_beta),
    )
    .await;
    assert_eq!(status, 200);
    let head = {
        let (_, text) = send(as_ops.get(format!("{base}/ledger?after=0&limit=1"))).await;
        let page: Value = serde_json::from_str(&text).expect("page");
        page["head"].as_i64().expect("head")
    };
    for host in [&host1, &host2, &host3] {
        wait_for(
            &format!("{} follows to the head", host.display()),
            Duration::from_secs(30),
            async || ldb_seq(host) >= head && count(host, "alpha___users") == 3,
        )
        .await;
        let names = tables(host);
        assert!(
            names.contains(&"ctlstore___heartbeats".to_string()),
            "{names:?}"
        );
        assert!(
            !names.iter().any(|n| n.starts_with("beta")),
            "{}: {names:?}",
            host.display()
        );
        assert!(count(host, "ctlstore___heartbeats") > 0);
        assert_no_trace(host, &[BETA_VALUE, "beta___secrets"]);
    }
    // The filtered feed carried the hosts past beta's entries: no gaps were skipped.
    let host1_log = fleet.log("host1");
    assert!(!host1_log.contains("treating the missing seqs as skipped"));
    assert!(
        fleet.log("host2").contains("bootstrapped from snapshot"),
        "host 2 did not bootstrap"
    );
    let host3_log = fleet.log("host3");
    assert!(host3_log.contains("snapshot refused"), "{host3_log}");
    // No snapshot alpha's hosts bootstrap from holds beta.
    let mut files = vec![alpha_snapshots.clone()];
    let mut snapshot_files = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(
                std::fs::read_dir(&path)
                    .expect("dir")
                    .map(|e| e.expect("entry").path()),
            );
            continue;
        }
        snapshot_files += 1;
        let bytes = std::fs::read(&path).expect("read snapshot");
        assert!(
            !bytes
                .windows(BETA_VALUE.len())
                .any(|w| w == BETA_VALUE.as_bytes()),
            "{} holds beta's value",
            path.display()
        );
    }
    assert!(snapshot_files > 0);
    // The executive tells each client what its feed carries.
    let (_, access) = send(as_host.get(format!("{base}/ledger/access"))).await;
    let access: Value = serde_json::from_str(&access).expect("JSON");
    assert_eq!(access["identity"], HOST_A);
    assert_eq!(access["families"], json!(["alpha", "ctlstore"]));

    // The ACL file changes: writer-a may now write beta. A broken file is refused and the
    // rules in force stay.
    std::fs::write(&acl, format!("{rules}writer-a beta/secrets write\n")).expect("rewrite");
    wait_for(
        "the new rule applies",
        Duration::from_secs(10),
        async || {
            let (status, _) = send(
                as_writer_a
                    .post(format!("{base}/families/beta/mutations"))
                    .json(&outside),
            )
            .await;
            status == 200
        },
    )
    .await;
    std::fs::write(&acl, "ops * admin\nthis line is broken\n").expect("break the ACL");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, text) = send(
        as_writer_a
            .post(format!("{base}/families/beta/mutations"))
            .json(&outside),
    )
    .await;
    assert_eq!(status, 200, "the previous rules must stay in force: {text}");
    let (status, _) = send(as_host.post(format!("{base}/families/gamma"))).await;
    assert_eq!(status, 403);
    assert!(fleet.log("executive").contains("acl.txt:2:"));
    // SIGHUP reloads instead of ending the process.
    let hup = Command::new("kill")
        .args(["-HUP", &executive.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = send(as_ops.get(format!("{base}/healthz"))).await;
    assert_eq!(status, 200, "the executive did not survive SIGHUP");
    assert!(fleet.log("executive").contains("SIGHUP: reloading"));

    // A sidecar over TLS, its certificate rotated on disk: new connections get the new one.
    let sidecar_port = free_port();
    let live = fleet.path("sidecar");
    let first = pki.server("sidecar-1");
    std::fs::copy(&first.cert, live.with_extension("pem")).expect("cert");
    std::fs::copy(&first.key, live.with_extension("key")).expect("key");
    let _sidecar = fleet.start(
        "sidecar",
        &[
            "sidecar",
            "-bind-addr",
            &format!("127.0.0.1:{sidecar_port}"),
            "-ldb-path",
            &p(&host1),
            "-tls-cert",
            &p(&live.with_extension("pem")),
            "-tls-key",
            &p(&live.with_extension("key")),
        ],
    );
    let sidecar_url = format!("https://localhost:{sidecar_port}/healthcheck");
    wait_for(
        "the sidecar serves TLS",
        Duration::from_secs(20),
        async || client(&ca, None).get(&sidecar_url).send().await.is_ok(),
    )
    .await;
    let new_ca = TestPki::new("rotated");
    let rotated = new_ca.server("sidecar-2");
    std::fs::copy(&rotated.cert, live.with_extension("pem")).expect("rotate cert");
    std::fs::copy(&rotated.key, live.with_extension("key")).expect("rotate key");
    wait_for(
        "the rotated certificate is served",
        Duration::from_secs(10),
        async || {
            client(&new_ca.ca(), None)
                .get(&sidecar_url)
                .send()
                .await
                .is_ok()
        },
    )
    .await;

    // A password in a ctldb DSN that cannot be reached is never logged.
    let _poller = fleet.start(
        "poller",
        &[
            "reflector",
            "-ldb-path",
            &p(&fleet.path("poller.db")),
            "-upstream-driver",
            "mysql",
            "-upstream-dsn",
            &format!("root:{DSN_PASSWORD}@tcp(127.0.0.1:1)/ctldb"),
            "-poll-interval",
            "100ms",
        ],
    );
    // Pages that could echo a secret: status, health, and error bodies.
    let mut pages = Vec::new();
    for path in ["/status", "/healthz", "/families/nope/tables"] {
        pages.push(send(as_ops.get(format!("{base}{path}"))).await.1);
    }
    pages.push(
        send(
            as_ops
                .post(format!("{base}/families/beta/mutations"))
                .header("ctlstore-writer", "writer-b")
                .header("ctlstore-secret", "a-wrong-secret")
                .json(&more_beta),
        )
        .await
        .1,
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        fleet.log("poller").contains("ctldb"),
        "the poller logged nothing"
    );

    // Every log line of every process, and every page: no secret, no key material.
    let mut key_lines = Vec::new();
    for files in [&server, &ops, &writer_a, &heartbeat, &host_a, &supervisor_a] {
        let pem = std::fs::read_to_string(&files.key).expect("key");
        key_lines.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 20)
                .map(str::to_string),
        );
    }
    let mut canaries: Vec<&str> =
        vec![ADMIN_TOKEN, WRITER_B_SECRET, HEARTBEAT_SECRET, DSN_PASSWORD];
    canaries.extend(key_lines.iter().map(String::as_str));
    let mut lines = 0;
    for log in &fleet.logs {
        let text = std::fs::read_to_string(log).expect("log");
        for line in text.lines() {
            lines += 1;
            for canary in &canaries {
                assert!(
                    !line.contains(canary),
                    "{} logs a secret: {line}",
                    log.display()
                );
            }
        }
    }
    for page in &pages {
        for canary in &canaries {
            assert!(!page.contains(canary), "a page shows a secret: {page}");
        }
    }
    assert!(lines > 100, "only {lines} log lines: is debug logging on?");
    println!(
        "{lines} log lines from {} processes, no secret in any",
        fleet.logs.len()
    );
}
