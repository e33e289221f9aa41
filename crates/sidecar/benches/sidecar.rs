//! Sidecar reads over loopback on a 1M-row table: p50/p99 of sequential keep-alive requests
//! (a minimal HTTP/1.1 client, so the figure is the sidecar's, not a client library's), then
//! requests/s under `wrk` when it is installed. Prints figures; asserts nothing.
//!
//!     cargo bench -p ctlstore-sidecar --bench sidecar     # BENCH_ROWS, BENCH_REQUESTS
//!
//! `BENCH_TLS=off,on` (the default) runs both over plain TCP and over TLS (the sidecar with
//! `--tls-cert`/`--tls-key` from a CA made for the run; the client is rustls, wrk uses OpenSSL).
//!
//! wrk: `apt-get install wrk` (bench/README.md).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One request on a keep-alive connection; returns once the whole response is read.
fn request(stream: &mut impl ReadWrite, body: &str, buf: &mut Vec<u8>) {
    let req = format!(
        "POST /get-row-by-key/bench/flags HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).expect("write");
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).expect("read");
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                assert!(head.starts_with("http/1.1 200"), "{head}");
                return;
            }
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn main() {
    let rows = env_or("BENCH_ROWS", 1_000_000);
    let requests = env_or("BENCH_REQUESTS", 100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    ctlstore_testkit::build_flags_ldb(&path, rows);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let modes = std::env::var("BENCH_TLS").unwrap_or_else(|_| "off,on".into());
    for tls in modes.split(',').map(|m| m.trim() == "on") {
        bench(&runtime, &dir, &path, rows, requests, tls);
    }
}

fn bench(
    runtime: &tokio::runtime::Runtime,
    dir: &tempfile::TempDir,
    path: &std::path::Path,
    rows: usize,
    requests: usize,
    tls: bool,
) {
    let pki = ctlstore_testkit::pki::TestPki::new("bench");
    let server = pki.server("sidecar");
    let server_tls = tls.then(|| {
        ctlstore_tls::ServerTls::load(ctlstore_tls::ServerTlsFiles {
            cert: server.cert.clone(),
            key: server.key.clone(),
            client_ca: None,
        })
        .expect("server TLS")
    });
    let client_tls = ctlstore_tls::ClientTls::load(ctlstore_tls::ClientTlsFiles {
        ca: Some(pki.ca()),
        ..Default::default()
    })
    .expect("client TLS");
    let reader = Arc::new(ctlstore_reader::Reader::open(path).expect("reader"));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(ctlstore_sidecar::serve(
        listener,
        reader,
        ctlstore_sidecar::Config {
            tls: server_tls,
            ..Default::default()
        },
        async move {
            let _ = stopped.await;
        },
    ));
    std::thread::sleep(Duration::from_millis(200));

    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let mut stream: Box<dyn ReadWrite> = match client_tls.rustls_config().filter(|_| tls) {
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
            let conn =
                rustls::ClientConnection::new(Arc::new(config.clone()), name).expect("TLS client");
            Box::new(rustls::StreamOwned::new(conn, tcp))
        }
        None => Box::new(tcp),
    };
    let transport = if tls { "TLS" } else { "plain TCP" };
    let mut buf = Vec::with_capacity(8192);
    let groups = (rows / 10).max(1);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut times = Vec::with_capacity(requests);
    let started = Instant::now();
    for _ in 0..requests {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let i = (state % (groups as u64 * 10)) as usize;
        let body = format!(
            r#"{{"key":[{{"value":"flag-{}"}},{{"value":{}}}]}}"#,
            i / 10,
            i % 10
        );
        let t = Instant::now();
        request(&mut stream, &body, &mut buf);
        times.push(t.elapsed());
    }
    let total = started.elapsed();
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e6;
    println!(
        "sidecar get-row-by-key over {transport}, 1 keep-alive connection: p50 {:.1} µs, p99 {:.1} µs, {:.0} req/s ({requests} requests, {rows} rows)",
        pct(0.5),
        pct(0.99),
        requests as f64 / total.as_secs_f64()
    );

    let script = dir.path().join("post.lua");
    std::fs::write(
        &script,
        format!(
            "request = function()\n  local i = math.random(0, {})\n  local body = string.format('{{\"key\":[{{\"value\":\"flag-%d\"}},{{\"value\":%d}}]}}', i, math.random(0, 9))\n  return wrk.format(\"POST\", \"/get-row-by-key/bench/flags\", {{[\"Content-Type\"] = \"application/json\"}}, body)\nend\n",
            groups - 1
        ),
    )
    .expect("lua");
    match std::process::Command::new("wrk")
        .args(["-t2", "-c32", "-d5s", "--latency", "-s"])
        .arg(&script)
        .arg(if tls {
            format!("https://localhost:{}", addr.port())
        } else {
            format!("http://{addr}")
        })
        .output()
    {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            for line in text.lines().filter(|l| {
                l.contains("Requests/sec")
                    || l.contains("50%")
                    || l.contains("99%")
                    || l.contains("Non-2xx")
            }) {
                println!("wrk -t2 -c32 -d5s over {transport}: {}", line.trim());
            }
        }
        Err(_) => println!("wrk: not installed (apt-get install wrk); skipped the throughput run"),
    }
    let _ = stop.send(());
}
