//! Admission control: how many API requests run at once, how many may wait for a turn, for how
//! long, and how long any request may take.
//!
//! Past `Settings::max_in_flight` requests in the use cases, further ones wait here, before
//! their bodies are read, costing a few KiB each instead of a whole parsed request and its
//! futures (a 20,000-request burst on PostgreSQL held ~450 MiB without this; see
//! docs/benchmarks.md). The waiting room is bounded (`max_waiting`) and so is the wait (the
//! request timeout): a request that finds it full, or waits too long, is shed at once with 503
//! `overloaded` and `Retry-After` — nothing of it was done, so a retry is safe. A request that
//! runs past the timeout is answered 503 too; for a write that is `outcome_unknown` (it may
//! still commit: retry it with the same Idempotency-Key), for a read `timeout`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// The admission state shared by every request of one server.
#[derive(Debug)]
pub struct Admission {
    slots: Semaphore,
    max_in_flight: usize,
    waiting: AtomicUsize,
    max_waiting: usize,
    timeout: Duration,
}

impl Admission {
    pub fn new(max_in_flight: usize, max_waiting: usize, timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            slots: Semaphore::new(max_in_flight.max(1)),
            max_in_flight: max_in_flight.max(1),
            waiting: AtomicUsize::new(0),
            max_waiting,
            timeout,
        })
    }

    /// Requests being worked on and waiting now (for `/readyz`).
    pub fn load(&self) -> (usize, usize) {
        (
            self.max_in_flight - self.slots.available_permits(),
            self.waiting.load(Ordering::Acquire),
        )
    }
}

/// Counts one waiting request for as long as it waits (also when its client goes away).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub async fn layer(State(admission): State<Arc<Admission>>, req: Request, next: Next) -> Response {
    let deadline = tokio::time::Instant::now() + admission.timeout;
    let _permit = match admission.slots.try_acquire() {
        Ok(permit) => permit,
        Err(_) => {
            if admission.waiting.fetch_add(1, Ordering::AcqRel) >= admission.max_waiting {
                admission.waiting.fetch_sub(1, Ordering::AcqRel);
                return shed("the server is at capacity and its waiting room is full");
            }
            let _waiting = Waiting(&admission.waiting);
            match tokio::time::timeout_at(deadline, admission.slots.acquire()).await {
                Ok(Ok(permit)) => permit,
                _ => return shed("the server is at capacity and no turn came in time"),
            }
        }
    };
    let write = crate::idempotency::is_write(req.method());
    // Boxed, so that a request still waiting above costs only its small waiting state: the
    // handler's future is built once the request has its turn (inline, it made every waiting
    // request as large as the largest handler, ~3 KiB more per request in a 20,000 burst).
    let run = Box::pin(next.run(req));
    match tokio::time::timeout_at(deadline, run).await {
        Ok(response) => response,
        Err(_) if write => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "outcome_unknown",
            "the request took too long: it may or may not have been applied; retry it with the \
             same Idempotency-Key to find out",
        )
        .retry_after(1)
        .into_response(),
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long; retry it",
        )
        .retry_after(1)
        .into_response(),
    }
}

fn shed(why: &str) -> Response {
    tracing::warn!(reason = why, "request shed");
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", why)
        .retry_after(1)
        .into_response()
}
