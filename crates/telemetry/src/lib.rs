//! The process-wide Prometheus recorder. Services record with the `metrics` facade; whichever
//! service serves `/metrics` renders everything the process recorded. Installed once, on first
//! use, so several services in one process (the all-in-one mode, tests) share it.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Histogram buckets, in seconds: sub-millisecond to tens of seconds.
const BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The recorder, installed on first use. `None` if another recorder already owns the process.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .ok()?
                .install_recorder()
                .ok()?;
            spawn_upkeep(handle.clone());
            Some(handle)
        })
        .as_ref()
}

/// Histogram samples pile up in the recorder until something drains them; `install_recorder`
/// leaves that to its caller. Without it every timed request kept ~16 bytes until the next
/// `/metrics` scrape, forever when nothing scrapes (the soak measured a sidecar growing
/// 1.4 MiB per 85,000 reads). A plain thread, so it works whichever runtime (or none) the
/// process has.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the metrics upkeep thread: histograms grow until scraped");
    }
}

/// The Prometheus text of everything recorded so far.
pub fn render() -> Option<String> {
    prometheus().map(|h| h.render())
}

/// The Content-Type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Names of a service's HTTP metrics (units in the names).
#[derive(Clone, Copy)]
pub struct HttpMetrics {
    /// Counter by `route`, `method`, `status`.
    pub requests: &'static str,
    /// Histogram by `route`.
    pub seconds: &'static str,
}

/// axum middleware counting requests by route and status and timing them; install with
/// `from_fn_with_state(HttpMetrics { .. }, ctlstore_telemetry::track)`.
pub async fn track(State(names): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(names.requests, "route" => route.clone(), "method" => method, "status" => status).increment(1);
    metrics::histogram!(names.seconds, "route" => route).record(started.elapsed().as_secs_f64());
    response
}

/// The `/metrics` answer: everything recorded, in Prometheus text (503 without a recorder).
pub async fn metrics_handler() -> Response {
    match render() {
        Some(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response(),
    }
}
