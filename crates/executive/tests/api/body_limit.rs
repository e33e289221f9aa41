//! A body just over the 1 MiB limit always gets an HTTP answer, never a reset connection.
//! ctlstore answers a declared oversize `Content-Length` with 417 `Request too large` every time
//! (Go's server reads what is left of the body before closing); a server that answers and closes
//! with the body still arriving makes the kernel reset the connection, and a client still
//! writing never sees the answer. Many tries, because the failure is a race.

use ctlstore_testkit::{Backend, TestDb, TestExecutive};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TRIES: usize = 30;
/// ctlstore's limit plus the 12 bytes of the report that found the resets.
const OVERSIZE: usize = (1 << 20) + 12;

fn mutation_path() -> &'static str {
    "/families/fam/mutations"
}

/// Sends an oversize mutation the way a simple client does (the whole request, then read the
/// answer) and returns the answer's status code, or what went wrong instead.
async fn send_whole_then_read(addr: &str, chunked: bool) -> Result<u16, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {OVERSIZE}")
    };
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nctlstore-writer: writer1\r\nctlstore-secret: secret1\r\n\
         Content-Type: application/json\r\n{framing}\r\n\r\n",
        mutation_path()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| format!("write the head: {e}"))?;
    let piece = vec![b'x'; 64 * 1024];
    let mut left = OVERSIZE;
    while left > 0 {
        let n = left.min(piece.len());
        let written = if chunked {
            let mut chunk = format!("{n:x}\r\n").into_bytes();
            chunk.extend_from_slice(&piece[..n]);
            chunk.extend_from_slice(b"\r\n");
            stream.write_all(&chunk).await
        } else {
            stream.write_all(&piece[..n]).await
        };
        written.map_err(|e| format!("write the body, {left} bytes to go: {e}"))?;
        left -= n;
    }
    if chunked {
        stream
            .write_all(b"0\r\n\r\n")
            .await
            .map_err(|e| format!("write the last chunk: {e}"))?;
    }
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream
            .read(&mut buffer)
            .await
            .map_err(|e| format!("read the answer: {e}"))?;
        if n == 0 {
            return Err(format!(
                "closed without an answer (got {:?})",
                String::from_utf8_lossy(&answer)
            ));
        }
        answer.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_bodies_always_get_an_answer() {
    let db = TestDb::create(Backend::Sqlite).await;
    let s = TestExecutive::start(&db.url).await;
    let w = super::register_items(&s).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut failures = Vec::new();
    for i in 0..TRIES {
        // A declared Content-Length: ctlstore's 417, as reqwest sends it (writing the body
        // while it waits for the answer).
        let body = vec![b' '; OVERSIZE];
        match w
            .request(reqwest::Method::POST, mutation_path())
            .body(body)
            .send()
            .await
        {
            Ok(r) if r.status() == StatusCode::EXPECTATION_FAILED => {}
            Ok(r) => failures.push(format!("try {i}, reqwest: status {}", r.status())),
            Err(e) => failures.push(format!("try {i}, reqwest: {e:?}")),
        }
        // The same with a client that reads only once it has sent everything, and a chunked
        // body (no declared length: refused when the limit is crossed, 413).
        for (chunked, expected) in [(false, 417), (true, 413)] {
            match send_whole_then_read(&addr, chunked).await {
                Ok(code) if code == expected => {}
                Ok(code) => failures.push(format!("try {i}, chunked={chunked}: status {code}")),
                Err(e) => failures.push(format!("try {i}, chunked={chunked}: {e}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} oversize requests got no proper answer:\n{}",
        failures.len(),
        TRIES * 3,
        failures.join("\n")
    );
    // Still serving, and nothing reached the ledger.
    assert_eq!(s.statements(0).await.len(), 1, "only the CREATE TABLE");
    s.stop().await;
    db.cleanup().await;
}
