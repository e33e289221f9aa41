//! The loader's Prometheus metrics (served at `/metrics`), each named once here.

pub const ROWS_APPLIED: &str = "ctlstore_loader_rows_applied_total";
pub const BATCHES_APPLIED: &str = "ctlstore_loader_batches_applied_total";
pub const TRANSACTIONS_SPLIT: &str = "ctlstore_loader_transactions_split_total";
pub const RETRIES: &str = "ctlstore_loader_retries_total";
pub const COOKIE_CONFLICTS: &str = "ctlstore_loader_cookie_conflicts_total";
pub const RESTARTS: &str = "ctlstore_loader_restarts_total";
pub const LAG_SECONDS: &str = "ctlstore_loader_lag_seconds";
pub const LAG_ENTRIES: &str = "ctlstore_loader_lag_entries";
pub const HALTED: &str = "ctlstore_loader_halted";
pub const BATCH_SECONDS: &str = "ctlstore_loader_batch_seconds";

pub fn applied(rows: usize, seconds: f64) {
    metrics::counter!(ROWS_APPLIED).increment(rows as u64);
    metrics::counter!(BATCHES_APPLIED).increment(1);
    metrics::histogram!(BATCH_SECONDS).record(seconds);
}

pub fn split() {
    metrics::counter!(TRANSACTIONS_SPLIT).increment(1);
}

pub fn retry(reason: &'static str) {
    metrics::counter!(RETRIES, "reason" => reason).increment(1);
}

pub fn cookie_conflict() {
    metrics::counter!(COOKIE_CONFLICTS).increment(1);
}

pub fn restart(reason: &'static str) {
    metrics::counter!(RESTARTS, "reason" => reason).increment(1);
}

pub fn lag(seconds: f64, entries: u64) {
    metrics::gauge!(LAG_SECONDS).set(seconds);
    metrics::gauge!(LAG_ENTRIES).set(entries as f64);
}

pub fn halted(halted: bool) {
    metrics::gauge!(HALTED).set(if halted { 1.0 } else { 0.0 });
}
