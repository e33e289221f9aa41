//! High availability on MariaDB Galera (issue 20), with real processes: a private 3-node cluster
//! (`scripts/galera-cluster.sh`, its own ports and datadirs, rsync SST), an executive on each
//! node, three writers streaming batches concurrently (each to its own executive, moving to the
//! next when that one fails), and two hosts whose reflectors follow executives 1 and 2 with the
//! change feed on. Node 3 is SIGKILLed half-way and later rejoins.
//!
//! Afterwards: every acknowledged batch is in the ledger exactly once and in every host's change
//! feed exactly once; no batch was ever applied twice; no host ever showed half a batch; the
//! three nodes hold the same ledger; the hosts converge at once (no wait on Galera's
//! auto-increment stride gaps); and no writer saw a 5xx that the retries should have absorbed
//! (a 503 is allowed only while a node is down, from the executive on it).
//!
//! Short form (CI): 12 s of writes. Longer: `CTLSTORE_GALERA_SECONDS=120`. Part of the MySQL
//! suite (runs when `CTLSTORE_TEST_MYSQL_URL` is set, as `.ci/run` does); needs mariadbd,
//! galera-4 and rsync, and without them fails saying so (it never skips once the suite is on).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctlstore_testkit::{
    ExecutiveClient, GaleraCluster, KillOnDrop, SchemaDef, TableDef, free_port,
};
use serde_json::{Value, json};

const SLOTS: i64 = 3;

fn ctlstore(args: &[&str]) -> KillOnDrop {
    ctlstore_testkit::spawn_service(env!("CARGO_BIN_EXE_ctlstore"), args)
}

/// What the writers saw.
#[derive(Default)]
struct Tally {
    /// (writer, batch) acknowledged with 200.
    acked: Mutex<BTreeSet<(i64, i64)>>,
    /// 5xx answers outside the node failure's window.
    unexpected_5xx: Mutex<Vec<String>>,
    /// 503s while the cluster changed views (the documented write outage at a node failure).
    outage_503s: AtomicU64,
    /// 503s after the executive's retries ran out (a batch that lost certification 12 times in
    /// a row): the documented retry budget; the client retries after `Retry-After`.
    exhausted_503s: AtomicU64,
    failovers: AtomicU64,
    /// When each acknowledgement arrived (for the longest time without one).
    ack_times: Mutex<Vec<Instant>>,
}

/// How long after a node dies the survivors may stall commits (Galera's view change, about
/// 1.5 s with the script's `evs.*` settings) and answer 503: the executive's commit deadline
/// is 1.5 s.
const VIEW_CHANGE: Duration = Duration::from_secs(4);

/// Streams batches as `writer` until `stop`: batch n upserts slots 0..3 of the writer with n.
/// On a failure it moves to the next executive and gives the batch up (a new n follows, so a
/// batch that committed without its answer is never sent twice).
async fn write_stream(
    writer: i64,
    bases: Vec<String>,
    (on_killed_node, node_down, killed_at): (String, Arc<AtomicBool>, Arc<Mutex<Option<Instant>>>),
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    let mut at = 0usize;
    let mut n = 0i64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let mutations: Vec<Value> = (0..SLOTS)
            .map(|slot| json!({"table": "slots", "values": {"writer": writer, "slot": slot, "batch": n}}))
            .collect();
        let sent = http
            .post(format!("{}/families/hafam/mutations", bases[at]))
            .header("ctlstore-writer", "writer1")
            .header("ctlstore-secret", "secret1")
            .json(&json!({"mutations": mutations}))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                tally.acked.lock().expect("lock").insert((writer, n));
                tally.ack_times.lock().expect("lock").push(Instant::now());
            }
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                // The executive on the killed node may answer 503 while the node is down, and
                // every executive while the cluster changes views.
                let down = bases[at] == on_killed_node && node_down.load(Ordering::Relaxed);
                let view_change = killed_at
                    .lock()
                    .expect("lock")
                    .is_some_and(|t| t.elapsed() < VIEW_CHANGE);
                let unavailable = status == reqwest::StatusCode::SERVICE_UNAVAILABLE;
                if unavailable && body.contains("aborted the transaction") {
                    tally.exhausted_503s.fetch_add(1, Ordering::Relaxed);
                } else if unavailable && view_change && !down {
                    tally.outage_503s.fetch_add(1, Ordering::Relaxed);
                } else if status.is_server_error() && !down {
                    tally.unexpected_5xx.lock().expect("lock").push(format!(
                        "writer {writer} via {}: {status} {body}",
                        bases[at]
                    ));
                }
                at = (at + 1) % bases.len();
                tally.failovers.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                at = (at + 1) % bases.len();
                tally.failovers.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Home again now and then.
        if n % 50 == 0 {
            at = 0;
        }
    }
}

/// Per writer, the distinct batches its slots hold in one read transaction of the LDB (more than
/// one: half a batch was visible).
fn torn(ldb: &Path) -> Option<Vec<i64>> {
    let conn =
        rusqlite::Connection::open_with_flags(ldb, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    conn.query_row(
        "SELECT group_concat(d) FROM (SELECT COUNT(DISTINCT batch) AS d FROM hafam___slots GROUP BY writer)",
        [],
        |r| r.get::<_, Option<String>>(0),
    )
    .ok()
    .flatten()
    .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
}

fn ldb_seq(ldb: &Path) -> i64 {
    rusqlite::Connection::open_with_flags(ldb, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .ok()
        .and_then(|c| ctlstore_ldb_layout::read_seq(&c).ok())
        .unwrap_or(0)
}

/// (writer, batch) of each feed batch that upserted slot 0, counted.
fn feed_batches(ldb: &Path) -> HashMap<(i64, i64), usize> {
    let conn = rusqlite::Connection::open(ldb).expect("open the LDB");
    let mut statement = conn
        .prepare("SELECT row FROM _ctlstore_feed WHERE tbl = 'slots' AND op = 'upsert'")
        .expect("prepare");
    let mut counts = HashMap::new();
    for row in statement
        .query_map([], |r| r.get::<_, String>(0))
        .expect("query")
    {
        let row: Value = serde_json::from_str(&row.expect("row")).expect("JSON row");
        if row["slot"] == 0 {
            let key = (
                row["writer"].as_i64().expect("writer"),
                row["batch"].as_i64().expect("batch"),
            );
            *counts.entry(key).or_default() += 1;
        }
    }
    counts
}

/// The ledger of one node: seq → statement.
async fn ledger(url: &str) -> BTreeMap<i64, String> {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::MySqlConnection::connect(url)
        .await
        .expect("connect to a node");
    sqlx::query("SELECT seq, statement FROM ctlstore_dml_ledger ORDER BY seq")
        .fetch_all(&mut conn)
        .await
        .expect("read the ledger")
        .iter()
        .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)))
        .collect()
}

/// `REPLACE INTO hafam___slots ("writer","slot","batch") VALUES(w,0,n)` → (w, n).
fn slot0_batch(statement: &str) -> Option<(i64, i64)> {
    let values = statement
        .strip_prefix("REPLACE INTO hafam___slots")?
        .split("VALUES(")
        .nth(1)?
        .trim_end_matches(')');
    let v: Vec<i64> = values.split(',').filter_map(|x| x.parse().ok()).collect();
    (v.len() == 3 && v[1] == 0).then(|| (v[0], v[2]))
}

// With the MySQL suite (`CTLSTORE_TEST_MYSQL_URL`, set by `.ci/run`): a machine set up for it
// has MariaDB's server; without galera-4 and rsync the test fails saying so, never skips.
ctlstore_testkit::mysql_test! {
async fn galera_writes_survive_a_node_failure_and_hosts_never_stall() {
    let seconds: u64 = std::env::var("CTLSTORE_GALERA_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let cluster = tokio::task::spawn_blocking(GaleraCluster::start)
        .await
        .expect("task");
    let dir = tempfile::tempdir().expect("tempdir");

    // One executive per node; the first runs the migrations, then the others start.
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let bases: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let mut executives = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let url = cluster.url(i);
        executives.push(ctlstore(&[
            "executive",
            "-bind",
            &format!("127.0.0.1:{port}"),
            "-ctldb",
            &url,
            "-writer-limit",
            "100000000",
        ]));
        ExecutiveClient::new(bases[i].clone())
            .wait_until_healthy(Duration::from_secs(60))
            .await;
    }
    let slots = TableDef {
        name: "slots",
        fields: &[
            ("writer", "integer"),
            ("slot", "integer"),
            ("batch", "integer"),
        ],
        keys: &["writer", "slot"],
    };
    ExecutiveClient::new(bases[0].clone())
        .register(&SchemaDef {
            family: "hafam",
            tables: &[slots],
            writer: "writer1",
            secret: "secret1",
        })
        .await;

    // Two hosts.
    let ldbs: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("host{i}.db")))
        .collect();
    let _reflectors: Vec<KillOnDrop> = ldbs
        .iter()
        .zip(&bases)
        .map(|(ldb, base)| {
            ctlstore(&[
                "reflector",
                "-ldb-path",
                &ldb.display().to_string(),
                "-executive-url",
                base,
                "-change-feed",
                "100000000",
                "-metrics-bind",
                "",
            ])
        })
        .collect();

    // A watcher per host: never half a batch.
    let stop = Arc::new(AtomicBool::new(false));
    let torn_seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let watchers: Vec<_> = ldbs
        .iter()
        .cloned()
        .map(|ldb| {
            let (stop, torn_seen) = (stop.clone(), torn_seen.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(d) = torn(&ldb)
                        && d.iter().any(|&n| n > 1)
                    {
                        torn_seen
                            .lock()
                            .expect("lock")
                            .push(format!("{}: {d:?}", ldb.display()));
                    }
                    std::thread::sleep(Duration::from_millis(3));
                }
            })
        })
        .collect();

    // Three writers, one per executive.
    let tally = Arc::new(Tally::default());
    let node_down = Arc::new(AtomicBool::new(false));
    let killed_at = Arc::new(Mutex::new(None::<Instant>));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            // Writer w's home is executive w; then the others in turn.
            let mut order = bases.clone();
            order.rotate_left(w);
            tokio::spawn(write_stream(
                w as i64 + 1,
                order,
                (bases[2].clone(), node_down.clone(), killed_at.clone()),
                stop.clone(),
                tally.clone(),
            ))
        })
        .collect();

    // Half-way, node 3 dies; later it rejoins.
    tokio::time::sleep(Duration::from_secs(seconds / 3)).await;
    node_down.store(true, Ordering::Relaxed);
    let kill_time = Instant::now();
    *killed_at.lock().expect("lock") = Some(kill_time);
    tokio::task::block_in_place(|| cluster.node("kill", 3));
    tokio::time::sleep(Duration::from_secs(seconds / 3)).await;
    tokio::task::block_in_place(|| cluster.node("restart", 3));
    node_down.store(false, Ordering::Relaxed);
    let down_for = kill_time.elapsed();
    tokio::time::sleep(Duration::from_secs(seconds / 3)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    for w in watchers {
        w.join().expect("watcher");
    }

    let acked = tally.acked.lock().expect("lock").clone();
    let unexpected = tally.unexpected_5xx.lock().expect("lock").clone();
    let mut times = tally.ack_times.lock().expect("lock").clone();
    times.sort();
    let longest_without_ack = times
        .windows(2)
        .filter(|w| w[1] >= kill_time)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    let exhausted = tally.exhausted_503s.load(Ordering::Relaxed);
    println!(
        "{} batches acknowledged in {seconds} s, {} failovers, {exhausted} answers 503 after the retries ran out; node 3 down for {:.1} s; write outage at the failure {:.2} s ({} answers 503 meanwhile)",
        acked.len(),
        tally.failovers.load(Ordering::Relaxed),
        down_for.as_secs_f64(),
        longest_without_ack.as_secs_f64(),
        tally.outage_503s.load(Ordering::Relaxed),
    );
    assert!(
        unexpected.is_empty(),
        "5xx beyond the retries: {unexpected:?}"
    );
    assert!(
        exhausted * 200 <= acked.len() as u64,
        "more than 1 batch in 200 ran out of retries: {exhausted} of {}",
        acked.len()
    );
    assert!(
        acked.len() > 100,
        "the writers made progress: {}",
        acked.len()
    );

    // The ledger: the same on every node, each acknowledged batch exactly once, none twice.
    let ledgers = [
        ledger(&cluster.url(0)).await,
        ledger(&cluster.url(1)).await,
        ledger(&cluster.url(2)).await,
    ];
    assert_eq!(ledgers[0], ledgers[1], "nodes 1 and 2 hold the same ledger");
    assert_eq!(ledgers[0], ledgers[2], "node 3 caught up after rejoining");
    let mut in_ledger: HashMap<(i64, i64), usize> = HashMap::new();
    for statement in ledgers[0].values() {
        if let Some(b) = slot0_batch(statement) {
            *in_ledger.entry(b).or_default() += 1;
        }
    }
    assert!(in_ledger.values().all(|&c| c == 1), "a batch applied twice");
    let missing: Vec<_> = acked
        .iter()
        .filter(|b| !in_ledger.contains_key(b))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not in the ledger: {missing:?}"
    );
    let head = *ledgers[0].keys().last().expect("a ledger");
    let gaps = head - ledgers[0].len() as i64;
    println!(
        "ledger head {head}, {} entries, {gaps} seqs never used",
        ledgers[0].len()
    );

    // The hosts: converge at once (gaps are final), every acknowledged batch once in the feed.
    let converge = Instant::now();
    for ldb in &ldbs {
        while ldb_seq(ldb) < head {
            assert!(
                converge.elapsed() < Duration::from_secs(10),
                "{} stuck at {} of {head}",
                ldb.display(),
                ldb_seq(ldb)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    println!(
        "hosts at the head {:.0} ms after the writers stopped",
        converge.elapsed().as_secs_f64() * 1000.0
    );
    for ldb in &ldbs {
        let feed = feed_batches(ldb);
        assert!(
            feed.values().all(|&c| c == 1),
            "{}: a batch twice in the feed",
            ldb.display()
        );
        let missing: Vec<_> = acked.iter().filter(|b| !feed.contains_key(b)).collect();
        assert!(
            missing.is_empty(),
            "{}: acknowledged but not on the host: {missing:?}",
            ldb.display()
        );
    }
    let torn_seen = torn_seen.lock().expect("lock").clone();
    assert!(
        torn_seen.is_empty(),
        "half a batch was visible: {torn_seen:?}"
    );
    drop(executives);
}
}
