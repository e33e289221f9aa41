//! `POST /ledger/prune` (admin; ours): prunes the ledger once, or with `"dryRun": true` says
//! what would go. Retention settings default to the executive's own (`--ledger-retention`,
//! `--snapshot-url`, `--ledger-retention-margin`) and may be given in the body instead, so an
//! executive without retention can be asked once (`ctlstore ledger prune`).
//!
//! Body (optional): `{"dryRun": bool, "retention": "168h" | "1000000", "snapshotUrl": URL,
//! "margin": N}`. Answer: the plan and what was (or would be) deleted.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::retention::{Keep, Retention, RetentionError};
use crate::state::AppState;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PruneBody {
    #[serde(default)]
    dry_run: bool,
    retention: Option<String>,
    snapshot_url: Option<String>,
    margin: Option<i64>,
}

/// How often a long prune logs how far it got.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

pub async fn prune(State(state): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let s = &state.0;
    let body: PruneBody = if body.iter().all(u8::is_ascii_whitespace) {
        PruneBody::default()
    } else {
        super::parse_json(&body)?
    };
    let retention = settings(s.config.retention.as_ref(), &body)?;
    let fail = |e: RetentionError| match e {
        RetentionError::Ctldb(e) => ApiError::from(e),
        RetentionError::Snapshot(e) => {
            ApiError::new(axum::http::StatusCode::BAD_GATEWAY, e.to_string())
                .with_field("snapshotUrl")
        }
    };
    let plan = crate::retention::plan(&s.ctldb, &retention)
        .await
        .map_err(fail)?;
    let report = if body.dry_run {
        s.ctldb.prune_preview(plan.through).await?
    } else {
        let mut last = std::time::Instant::now();
        let report = s
            .ctldb
            .prune_ledger(
                plan.through,
                crate::retention::PRUNE_BATCH,
                |deleted, at| {
                    if last.elapsed() >= PROGRESS_EVERY {
                        last = std::time::Instant::now();
                        tracing::info!(deleted, at, through = plan.through, "pruning the ledger");
                    }
                },
            )
            .await?;
        s.feed.publish_horizon(report.through);
        tracing::info!(
            entries = report.entries,
            through = report.through,
            "ledger pruned on request"
        );
        report
    };
    Ok(Json(json!({
        "dryRun": body.dry_run,
        "retention": retention.keep.to_string(),
        "snapshotUrl": retention.snapshot_url,
        "margin": retention.margin,
        "head": plan.head,
        "horizonBefore": plan.current,
        "keepBound": plan.keep_bound,
        "oldestSnapshot": plan.oldest_snapshot,
        "through": report.through,
        "entries": report.entries,
        "firstSeq": report.first,
    }))
    .into_response())
}

/// The executive's retention with the body's settings over it; 400 naming what is missing.
fn settings(configured: Option<&Retention>, body: &PruneBody) -> ApiResult<Retention> {
    let keep = match (&body.retention, configured) {
        (Some(text), _) => {
            Keep::parse(text).map_err(|e| ApiError::bad_request(e).with_field("retention"))?
        }
        (None, Some(r)) => r.keep,
        (None, None) => {
            return Err(ApiError::bad_request(
                "this executive has no --ledger-retention: say how much to keep",
            )
            .with_field("retention"));
        }
    };
    let mut retention = match (&body.snapshot_url, configured) {
        (Some(url), Some(r)) => Retention {
            snapshot_url: url.clone(),
            ..r.clone()
        },
        (Some(url), None) => Retention::new(keep, url.clone()),
        (None, Some(r)) => r.clone(),
        (None, None) => {
            return Err(ApiError::bad_request(
                "this executive has no --snapshot-url: say where the snapshots are",
            )
            .with_field("snapshotUrl"));
        }
    };
    retention.keep = keep;
    if let Some(margin) = body.margin {
        if margin < 0 {
            return Err(ApiError::bad_request("must not be negative").with_field("margin"));
        }
        retention.margin = margin;
    }
    retention
        .location()
        .map_err(|e| ApiError::bad_request(e.to_string()).with_field("snapshotUrl"))?;
    Ok(retention)
}
