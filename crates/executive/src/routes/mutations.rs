//! `POST /families/{family}/mutations`: the write path.
//!
//! Body (ctlstore's, byte for byte): `{"cookie": b64, "check_cookie": b64, "mutations":
//! [{"table": t, "delete": bool, "values": {field: value}}]}`; cookies are base64 the way Go
//! encodes `[]byte`. Credentials in the `ctlstore-writer` / `ctlstore-secret` headers.

use std::collections::BTreeSet;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use ctlstore_ctldb::{CtldbError, Mutation, MutationRequest, WriterRateLimit};
use ctlstore_schema::FamilyName;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value as Json};

use ctlstore_tls::PeerIdentity;

use super::access::check_write;
use super::{authenticated_writer, ok, parse_json, path_name};
use crate::error::{ApiError, ApiResult};
use crate::metrics::{LIMIT_REJECTIONS, MUTATION_ROWS};
use crate::state::AppState;
use crate::writer_limits::unix_now;

#[derive(Deserialize)]
struct MutationBody {
    #[serde(default, deserialize_with = "base64_bytes")]
    cookie: Option<Vec<u8>>,
    #[serde(default, deserialize_with = "base64_bytes")]
    check_cookie: Option<Vec<u8>>,
    #[serde(default)]
    mutations: Vec<MutationJson>,
}

#[derive(Deserialize)]
struct MutationJson {
    table: String,
    #[serde(default)]
    delete: bool,
    #[serde(default)]
    values: Map<String, Json>,
}

/// Go marshals `[]byte` as standard base64 and `nil` as `null`.
fn base64_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    text.map(|t| base64::engine::general_purpose::STANDARD.decode(t))
        .transpose()
        .map_err(|e| serde::de::Error::custom(format!("cookie is not standard base64: {e}")))
}

pub async fn mutate(
    State(state): State<AppState>,
    Path(family): Path<String>,
    identity: Option<Extension<PeerIdentity>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let writer = authenticated_writer(&state, &headers, identity.as_deref()).await?;
    let family = path_name("family", &family, FamilyName::new)?;
    let body: MutationBody = parse_json(&body)?;
    let s = &state.0;
    let tables: BTreeSet<String> = body
        .mutations
        .iter()
        .map(|m| m.table.to_lowercase())
        .collect();
    if let Err(denied) = check_write(s, writer.as_str(), family.as_str(), &tables) {
        return Ok(denied.into_response());
    }
    for m in body.mutations.iter().filter(|m| !m.delete) {
        let table = format!("{family}___{}", m.table.to_lowercase());
        if let Err(over) = s.sizes.check(&table) {
            metrics::counter!(LIMIT_REJECTIONS, "kind" => "table_size").increment(1);
            return Err(ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                format!(
                    "table '{}' has exceeded the max size of {} (it is {} bytes)",
                    over.table, over.max, over.size
                ),
            )
            .with_field("table"));
        }
    }
    let rows = body.mutations.len() as u64;
    let request_writer = writer.clone();
    let request = MutationRequest {
        family,
        writer,
        cookie: body.cookie,
        check_cookie: body.check_cookie,
        mutations: body
            .mutations
            .into_iter()
            .map(|m| Mutation {
                table: m.table,
                delete: m.delete,
                values: m.values,
            })
            .collect(),
        rate_limit: Some(WriterRateLimit {
            period_seconds: s.config.writer_limit_period.as_secs().max(1) as i64,
            default_rows: s.config.writer_limit,
            now_unix: unix_now(),
            writer_override: s.writer_overrides.get(request_writer.as_str()),
        }),
    };
    // The commit and the feed's new head happen in their own task: hyper drops this handler
    // when the client goes away, and a batch committed but never published stayed invisible
    // to every reflector on the feed until the next write or ledger poll (found by killing a
    // `ctlstore mutate` mid-request).
    let committer = state.clone();
    let applied = tokio::spawn(async move {
        let applied = committer.0.ctldb.apply_mutations(&request).await;
        if let Ok(a) = &applied {
            committer.0.feed.publish(a.last_seq);
        }
        applied
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("commit task: {e}"),
        )
    })?;
    match applied {
        Ok(_) => {
            metrics::counter!(MUTATION_ROWS).increment(rows);
            Ok(ok())
        }
        Err(e @ CtldbError::RateLimited { .. }) => {
            metrics::counter!(LIMIT_REJECTIONS, "kind" => "writer_rate").increment(1);
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}
