//! `ctlstore status [--ldb PATH | --sidecar URL]`: the executive (`/healthz`: its ctldb up or
//! down, the dialect, the ledger head) and, when asked, this host: its LDB's seq and staleness
//! through the reader, or a sidecar's staleness (`GET /get-ledger-latency`; a sidecar does not
//! say its seq). One view; the exit status is 1 when any part is unreachable or unhealthy.

use std::path::PathBuf;

use clap::Args;
use ctlstore_reader::Reader;
use serde_json::{Value as Json, json};

use crate::ledger::seconds_text;
use crate::output::aligned;
use crate::{AdminError, Common};

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    common: Common,
    /// Also show this LDB's seq and staleness.
    #[arg(long, value_name = "PATH", conflicts_with = "sidecar")]
    ldb: Option<PathBuf>,
    /// Also show this sidecar's staleness (`http://` added when missing).
    #[arg(long, value_name = "URL")]
    sidecar: Option<String>,
}

/// This host as the status shows it.
struct Host {
    source: &'static str,
    location: String,
    seq: Option<i64>,
    staleness: Option<f64>,
    error: Option<String>,
}

pub async fn run(args: StatusArgs) -> Result<(), AdminError> {
    let client = args.common.client()?;
    let url = client.base_url().to_string();
    let health = client.healthz().await;
    let host = match (&args.ldb, &args.sidecar) {
        (Some(path), _) => Some(ldb_host(path)),
        (None, Some(url)) => Some(sidecar_host(&args.common.sidecar_http()?, url).await),
        (None, None) => None,
    };
    let head = health.as_ref().ok().map(|h| h.ledger_head);
    let executive = match &health {
        Ok(h) => json!({
            "url": url,
            "reachable": true,
            "status": h.status,
            "ctldb": h.ctldb,
            "dialect": h.dialect,
            "ledger_head": h.ledger_head,
            "error": h.error,
        }),
        Err(e) => json!({"url": url, "reachable": false, "error": e.to_string()}),
    };
    let host_json = host.as_ref().map(|h| {
        json!({
            "source": h.source,
            "location": h.location,
            "seq": h.seq,
            "behind": h.seq.zip(head).map(|(seq, head)| (head - seq).max(0)),
            "staleness_seconds": h.staleness,
            "error": h.error,
        })
    });
    let document = json!({"executive": executive, "host": host_json});
    args.common
        .output()
        .result(&document, || view(&executive, host.as_ref(), head));
    let healthy = health.as_ref().is_ok_and(|h| h.is_healthy());
    let host_ok = host.as_ref().is_none_or(|h| h.error.is_none());
    if healthy && host_ok {
        return Ok(());
    }
    let mut problems = Vec::new();
    match &health {
        Err(e) => problems.push(format!("executive: {e}")),
        Ok(h) if !h.is_healthy() => problems.push(format!(
            "executive unhealthy: {}",
            h.error.as_deref().unwrap_or("no reason given")
        )),
        Ok(_) => {}
    }
    if let Some(Host {
        error: Some(e),
        source,
        ..
    }) = &host
    {
        problems.push(format!("{source}: {e}"));
    }
    Err(AdminError::Unhealthy(problems.join("; ")))
}

fn view(executive: &Json, host: Option<&Host>, head: Option<i64>) -> String {
    let text = |v: &Json| match v {
        Json::String(s) => s.clone(),
        Json::Null => "-".into(),
        other => other.to_string(),
    };
    let mut rows = vec![vec![
        "executive".to_string(),
        text(&executive["url"]),
        if executive["reachable"] == json!(true) {
            text(&executive["status"])
        } else {
            format!("unreachable: {}", text(&executive["error"]))
        },
    ]];
    if executive["reachable"] == json!(true) {
        rows.push(vec![
            "ctldb".into(),
            text(&executive["dialect"]),
            text(&executive["ctldb"]),
        ]);
        rows.push(vec![
            "ledger".into(),
            format!("head {}", text(&executive["ledger_head"])),
            String::new(),
        ]);
    }
    if let Some(h) = host {
        let state = match (&h.error, h.seq, h.staleness) {
            (Some(e), _, _) => e.clone(),
            (None, seq, staleness) => {
                let mut parts = Vec::new();
                if let Some(seq) = seq {
                    let behind = head.map(|head| (head - seq).max(0));
                    parts.push(match behind {
                        Some(b) => format!("seq {seq} ({b} behind)"),
                        None => format!("seq {seq}"),
                    });
                }
                if let Some(s) = staleness {
                    parts.push(format!("stale by {}", seconds_text(s)));
                }
                parts.join(", ")
            }
        };
        rows.push(vec![h.source.to_string(), h.location.clone(), state]);
    }
    aligned(&["PART", "WHERE", "STATE"], &rows)
}

fn ldb_host(path: &std::path::Path) -> Host {
    let mut host = Host {
        source: "ldb",
        location: path.display().to_string(),
        seq: None,
        staleness: None,
        error: None,
    };
    let reader = match Reader::open(path) {
        Ok(r) => r,
        Err(e) => {
            host.error = Some(e.to_string());
            return host;
        }
    };
    match reader.last_sequence() {
        Ok(seq) => host.seq = Some(seq),
        Err(e) => host.error = Some(e.to_string()),
    }
    // An LDB that has applied nothing yet has no staleness; that is not an error.
    if let Ok(latency) = reader.ledger_latency() {
        host.staleness = Some(latency.as_secs_f64());
    }
    host
}

async fn sidecar_host(http: &reqwest::Client, url: &str) -> Host {
    let base = ctlstore_schema::executive_base_url(url);
    let mut host = Host {
        source: "sidecar",
        location: base.clone(),
        seq: None,
        staleness: None,
        error: None,
    };
    let answer = async {
        let response = http
            .get(format!("{base}/get-ledger-latency"))
            .send()
            .await?;
        let status = response.status();
        let body = response.text().await?;
        Ok::<_, reqwest::Error>((status, body))
    }
    .await;
    match answer {
        Ok((status, body)) if status.is_success() => {
            let value = serde_json::from_str::<Json>(&body)
                .ok()
                .and_then(|j| j.get("value").and_then(Json::as_f64));
            match value {
                Some(seconds) => host.staleness = Some(seconds),
                None => host.error = Some(format!("unexpected answer: {}", body.trim())),
            }
        }
        Ok((status, body)) => {
            let message = serde_json::from_str::<Json>(&body)
                .ok()
                .and_then(|j| j.get("error").and_then(Json::as_str).map(String::from))
                .unwrap_or_else(|| body.trim().to_string());
            host.error = Some(format!("{message} (HTTP {})", status.as_u16()));
        }
        Err(e) => host.error = Some(format!("unreachable: {}", crate::get::chain(&e))),
    }
    host
}
