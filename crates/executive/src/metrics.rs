//! Prometheus metrics: names (with units), the process-wide recorder, and the middleware that
//! counts requests by route and status.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

pub const REQUESTS: &str = "ctlstore_executive_requests_total";
pub const REQUEST_SECONDS: &str = "ctlstore_executive_request_seconds";
pub const MUTATION_ROWS: &str = "ctlstore_executive_mutation_rows_total";
pub const LEDGER_SEQ: &str = "ctlstore_executive_ledger_seq";
pub const LIMIT_REJECTIONS: &str = "ctlstore_executive_limit_rejections_total";
pub const TABLE_SIZE: &str = "ctlstore_executive_table_size_bytes";

/// The process-wide recorder (see `ctlstore-telemetry`).
pub fn handle() -> Option<&'static metrics_exporter_prometheus::PrometheusHandle> {
    ctlstore_telemetry::prometheus()
}

pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!(REQUEST_SECONDS, "route" => route).record(started.elapsed().as_secs_f64());
    response
}
