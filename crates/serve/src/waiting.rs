//! The body of a long-poll that has to wait (the executive's and the relay's ledger feed): one
//! space per keepalive tick, then the answer. The status and headers go out at once and JSON
//! allows leading whitespace, so a client tells a quiet wait from a dead connection (no FIN, no
//! RST) by a read timeout of a few seconds, and any JSON parser reads the answer that follows.

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::{Instant, Interval};

struct Waiting<P> {
    wake: watch::Receiver<i64>,
    shutdown: watch::Receiver<bool>,
    deadline: Instant,
    keepalive: Interval,
    answer: P,
    done: bool,
}

/// A body that waits until `answer(finished)` gives the answer, asked each time `wake` changes
/// and once more, with `finished` true, when `deadline` passes or `shutdown` turns true (it
/// must answer then). `None` means keep waiting. Mark `wake` seen before the caller's first
/// read, so nothing between that read and this wait is missed.
pub fn waiting_body<P, F>(
    wake: watch::Receiver<i64>,
    shutdown: watch::Receiver<bool>,
    deadline: Instant,
    keepalive: Duration,
    answer: P,
) -> Body
where
    P: FnMut(bool) -> F + Send + 'static,
    F: Future<Output = Option<Vec<u8>>> + Send,
{
    let start = Waiting {
        wake,
        shutdown,
        deadline,
        keepalive: tokio::time::interval_at(Instant::now() + keepalive, keepalive),
        answer,
        done: false,
    };
    Body::from_stream(futures_util::stream::unfold(start, |mut w| async move {
        if w.done {
            return None;
        }
        loop {
            tokio::select! {
                _ = w.wake.changed() => {}
                _ = tokio::time::sleep_until(w.deadline) => {}
                _ = w.shutdown.changed() => {}
                _ = w.keepalive.tick() => {
                    return Some((Ok::<Bytes, std::io::Error>(Bytes::from_static(b" ")), w));
                }
            }
            w.wake.borrow_and_update();
            let finished = Instant::now() >= w.deadline || *w.shutdown.borrow();
            if let Some(body) = (w.answer)(finished).await {
                w.done = true;
                return Some((Ok(Bytes::from(body)), w));
            }
        }
    }))
}
