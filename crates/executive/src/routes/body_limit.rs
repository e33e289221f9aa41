//! The request body limit (ctlstore's 1 MiB), and how a refused body is answered.
//!
//! A declared `Content-Length` over the limit is ctlstore's 417 `Request too large`, decided
//! before reading; a body without one (chunked) is read up to the limit and refused with 413 when
//! it goes over (ctlstore: 500). Either way the answer must reach the client: a server that
//! answers and closes while the body is still arriving leaves unread bytes in its socket, the
//! kernel answers them with a reset, and a client still writing sees "connection reset" instead
//! of the status. So, like Go's server, we read and discard the rest first, up to
//! [`DRAIN_FACTOR`] times the limit within the handler timeout; a body larger or slower than
//! that gets its answer with `Connection: close`, best effort.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use crate::error::ApiError;
use crate::state::AppState;

/// How much of a refused body is read and discarded, as a multiple of the limit.
const DRAIN_FACTOR: usize = 4;

pub(super) async fn limit_body(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let max = state.0.config.max_body_bytes;
    let drain_for = state.0.config.handler_timeout;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let (parts, body) = request.into_parts();
    if declared.is_some_and(|n| n > max) {
        // ctlstore's answer to a declared oversize body.
        let refusal = ApiError::new(StatusCode::EXPECTATION_FAILED, "Request too large")
            .with_field("body")
            .into_response();
        let mut stream = body.into_data_stream();
        let drained = if expects_continue(&parts.headers) {
            // The client waits for `100 Continue` before sending; not reading the body means
            // it is never asked for.
            true
        } else {
            discard(&mut stream, max * DRAIN_FACTOR, drain_for).await
        };
        return closing_unless(drained, refusal);
    }
    let mut stream = body.into_data_stream();
    match read_up_to(&mut stream, max).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(ReadError::TooLarge) => {
            let refusal = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body larger than {max} bytes"),
            )
            .with_field("body")
            .into_response();
            let drained = discard(&mut stream, max * DRAIN_FACTOR, drain_for).await;
            closing_unless(drained, refusal)
        }
        Err(ReadError::Broken(e)) => closing_unless(
            false,
            ApiError::bad_request(format!("could not read the request body: {e}"))
                .with_field("body")
                .into_response(),
        ),
    }
}

enum ReadError {
    TooLarge,
    Broken(axum::Error),
}

type DataStream = axum::body::BodyDataStream;

/// The whole body if it is at most `max` bytes; otherwise stops at the chunk that crosses it.
async fn read_up_to(stream: &mut DataStream, max: usize) -> Result<Bytes, ReadError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(ReadError::Broken)?;
        if body.len() + chunk.len() > max {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Reads and drops the rest of the body, at most `budget` bytes and for at most `time`. True
/// when the body ended (the connection can be answered and reused safely).
async fn discard(stream: &mut DataStream, budget: usize, time: Duration) -> bool {
    let drain = async {
        let mut read = 0usize;
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { return false };
            read += chunk.len();
            if read > budget {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(time, drain).await.unwrap_or(false)
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
}

/// `response`, with `Connection: close` when the body was not read to its end (the connection
/// cannot carry another request).
fn closing_unless(drained: bool, mut response: Response) -> Response {
    if !drained {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
