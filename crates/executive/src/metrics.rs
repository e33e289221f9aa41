//! The executive's Prometheus metric names (units in the names); the recorder and the request
//! middleware are shared (`ctlstore-telemetry`).

pub const REQUESTS: &str = "ctlstore_executive_requests_total";
pub const REQUEST_SECONDS: &str = "ctlstore_executive_request_seconds";
pub const MUTATION_ROWS: &str = "ctlstore_executive_mutation_rows_total";
pub const LEDGER_SEQ: &str = "ctlstore_executive_ledger_seq";
pub const LIMIT_REJECTIONS: &str = "ctlstore_executive_limit_rejections_total";
pub const LEDGER_HORIZON: &str = "ctlstore_executive_ledger_horizon_seq";
pub const LEDGER_PRUNED: &str = "ctlstore_executive_ledger_pruned_entries_total";
pub const TABLE_SIZE: &str = "ctlstore_executive_table_size_bytes";
pub const ACL_DENIALS: &str = "ctlstore_executive_acl_denials_total";
pub const ACL_RELOADS: &str = "ctlstore_executive_acl_reloads_total";

/// The process-wide recorder (see `ctlstore-telemetry`).
pub fn handle() -> Option<&'static metrics_exporter_prometheus::PrometheusHandle> {
    ctlstore_telemetry::prometheus()
}

/// The executive's request metrics, for `ctlstore_telemetry::track`.
pub const HTTP: ctlstore_telemetry::HttpMetrics = ctlstore_telemetry::HttpMetrics {
    requests: REQUESTS,
    seconds: REQUEST_SECONDS,
};
