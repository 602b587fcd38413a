//! Admission control: how many API requests run at once, how many may wait for a turn, for how
//! long, and how long any request may take.
//!
//! Past `Settings::max_in_flight` requests in the use cases, further ones wait here, before
//! their bodies are read, costing a few hundred bytes each instead of a whole parsed request
//! and its futures (a 20,000-request burst on PostgreSQL held ~450 MiB without this; see
//! docs/benchmarks.md). The wait happens in the service's `poll_ready`, as tower's own
//! concurrency limit does: a waiting request holds only the semaphore's waiter and a deadline
//! timer, no handler future (a middleware function that awaited the turn itself held a boxed
//! future and a cloned inner service per waiting request, ~1.5 KiB more each).
//!
//! The waiting room is bounded (`max_waiting`) and so is the wait (the request timeout): a
//! request that finds it full, or waits too long, is shed at once with 503 `overloaded` and
//! `Retry-After` — nothing of it was done, so a retry is safe. A request that runs past the
//! timeout is answered 503 too; for a write that is `outcome_unknown` (it may still commit:
//! retry it with the same Idempotency-Key), for a read `timeout`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::PollSemaphore;

use crate::error::ApiError;

/// The admission state shared by every request of one server.
#[derive(Debug)]
pub struct Admission {
    slots: Arc<Semaphore>,
    max_in_flight: usize,
    waiting: AtomicUsize,
    max_waiting: usize,
    timeout: Duration,
}

impl Admission {
    pub fn new(max_in_flight: usize, max_waiting: usize, timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            slots: Arc::new(Semaphore::new(max_in_flight.max(1))),
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

/// Puts [`AdmissionService`] in front of a router's routes.
#[derive(Clone, Debug)]
pub struct AdmissionLayer(pub Arc<Admission>);

impl<S> tower::Layer<S> for AdmissionLayer {
    type Service = AdmissionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AdmissionService {
            inner,
            admission: Arc::clone(&self.0),
            turn: Turn::NotAsked,
        }
    }
}

/// One request's place in the queue. Axum clones the service for each request and calls
/// `poll_ready` then `call` on the clone, so this is per request.
#[derive(Debug)]
enum Turn {
    NotAsked,
    Waiting {
        slots: PollSemaphore,
        deadline: Pin<Box<Sleep>>,
        _counted: Waiting,
    },
    Admitted {
        permit: OwnedSemaphorePermit,
        deadline: Instant,
    },
    Shed(&'static str),
}

/// Counts one waiting request for as long as it waits (also when its client goes away).
#[derive(Debug)]
struct Waiting(Arc<Admission>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Debug)]
pub struct AdmissionService<S> {
    inner: S,
    admission: Arc<Admission>,
    turn: Turn,
}

impl<S: Clone> Clone for AdmissionService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            admission: Arc::clone(&self.admission),
            turn: Turn::NotAsked,
        }
    }
}

impl<S> tower::Service<Request> for AdmissionService<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            match &mut self.turn {
                Turn::NotAsked => {
                    let admission = &self.admission;
                    let deadline = Instant::now() + admission.timeout;
                    self.turn = match Arc::clone(&admission.slots).try_acquire_owned() {
                        Ok(permit) => Turn::Admitted { permit, deadline },
                        Err(_)
                            if admission.waiting.fetch_add(1, Ordering::AcqRel)
                                >= admission.max_waiting =>
                        {
                            admission.waiting.fetch_sub(1, Ordering::AcqRel);
                            Turn::Shed("the server is at capacity and its waiting room is full")
                        }
                        Err(_) => Turn::Waiting {
                            slots: PollSemaphore::new(Arc::clone(&admission.slots)),
                            deadline: Box::pin(tokio::time::sleep_until(deadline)),
                            _counted: Waiting(Arc::clone(admission)),
                        },
                    };
                }
                Turn::Waiting {
                    slots, deadline, ..
                } => {
                    if let Poll::Ready(permit) = slots.poll_acquire(cx) {
                        let deadline = deadline.deadline();
                        self.turn = match permit {
                            Some(permit) => Turn::Admitted { permit, deadline },
                            // The semaphore is never closed; if it were, no turn would come.
                            None => Turn::Shed("the server is shutting down"),
                        };
                    } else {
                        ready!(deadline.as_mut().poll(cx));
                        self.turn =
                            Turn::Shed("the server is at capacity and no turn came in time");
                    }
                }
                Turn::Admitted { .. } => return self.inner.poll_ready(cx),
                Turn::Shed(_) => return Poll::Ready(Ok(())),
            }
        }
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let (permit, deadline) = match std::mem::replace(&mut self.turn, Turn::NotAsked) {
            Turn::Admitted { permit, deadline } => (permit, deadline),
            Turn::Shed(why) => return Box::pin(std::future::ready(Ok(shed(why)))),
            Turn::NotAsked | Turn::Waiting { .. } => {
                panic!("AdmissionService called before it was ready")
            }
        };
        let write = crate::idempotency::is_write(req.method());
        let run = self.inner.call(req);
        Box::pin(async move {
            let _permit = permit;
            Ok(match tokio::time::timeout_at(deadline, run).await {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_) if write => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "outcome_unknown",
                    "the request took too long: it may or may not have been applied; retry it \
                     with the same Idempotency-Key to find out",
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
            })
        })
    }
}

fn shed(why: &str) -> Response {
    tracing::warn!(reason = why, "request shed");
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", why)
        .retry_after(1)
        .into_response()
}
