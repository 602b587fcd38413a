//! The durable job queue and the purge of old rows: the records of this aggregate and what the
//! store does with them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::StoreResult;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for its `run_at`.
    Queued,
    /// Claimed by a worker until its lease ends.
    Running,
    Done,
    /// Gave up after its last attempt; kept for people to look at and replay.
    Dead,
}

ordo_domain::names!(JobState, "invalid_job_state" {
    Queued => "queued",
    Running => "running",
    Done => "done",
    Dead => "dead",
});

/// Jobs by state (for operators).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub queued: i64,
    /// Queued again after a failed attempt.
    pub retrying: i64,
    pub running: i64,
    pub done: i64,
    pub dead: i64,
}

/// A unit of background work, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: uuid::Uuid,
    /// What to do (`reservation.expire`, `sessions.purge`…); the worker's handler is chosen by it.
    pub kind: String,
    /// With `kind`, names the job: enqueueing the same (kind, key) twice is a no-op.
    pub key: String,
    pub payload: serde_json::Value,
    pub state: JobState,
    pub run_at: DateTime<Utc>,
    /// Attempts started so far (a claim counts one).
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// How a claimed job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEnd {
    Done,
    /// Failed; try again at `run_at`.
    Retry {
        run_at: DateTime<Utc>,
        error: String,
    },
    /// Failed for the last time.
    Dead {
        error: String,
    },
    /// A recurring job: run again at `run_at`, with its attempts counted from zero.
    Again {
        run_at: DateTime<Utc>,
    },
}

/// What the purge job clears out, older than a cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// Idempotency keys created before the cut-off.
    IdempotencyKeys,
    /// Sessions that expired or were revoked before the cut-off.
    Sessions,
    /// Jobs done before the cut-off.
    Jobs,
    /// Dead jobs that died before the cut-off (only when a person asks: `ordo jobs purge --dead`).
    DeadJobs,
    /// Outbox messages written before the cut-off that every consumer has passed (a consumer
    /// not heard of since the cut-off no longer holds them).
    Outbox,
}

/// Reads: the durable job queue and the purge of old rows.
#[async_trait]
pub trait JobStore: Send + Sync {
    async fn job(&self, id: uuid::Uuid) -> StoreResult<Option<Job>>;
    /// How many jobs are in each state, and how many queued ones failed before (retrying).
    async fn job_counts(&self) -> StoreResult<JobCounts>;
    /// Jobs, optionally of one state and kind, newest first.
    async fn jobs(
        &self,
        state: Option<JobState>,
        kind: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;
}

/// Writes within one transaction: the durable job queue and the purge of old rows.
#[async_trait]
pub trait JobTx: Send {
    /// Enqueues `job` unless a job of its kind and key exists; returns whether it was added.
    async fn enqueue_job(&mut self, job: &Job, at: DateTime<Utc>) -> StoreResult<bool>;
    /// As [`JobTx::enqueue_job`], and a job of its kind and key that is done is queued again,
    /// one waiting for later is brought forward to `job.run_at` (for jobs that drain a queue
    /// of their own, such as one endpoint's webhook deliveries).
    async fn wake_job(&mut self, job: &Job, at: DateTime<Utc>) -> StoreResult<()>;
    /// Brings a recurring job (key = kind) that waits for later forward to `at`; a no-op when
    /// it is due already, running or absent.
    async fn hurry_job(&mut self, kind: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Claims up to `limit` jobs that are due at `now` (queued and past `run_at`, or running
    /// with a lease that ended), counts an attempt and leases them until `lease_until`. Where
    /// the backend has row locks, rows another transaction is claiming are skipped.
    async fn claim_jobs(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;
    /// Queues a dead job again now, its attempts counted afresh; `false` if it is not dead.
    async fn retry_job(&mut self, id: uuid::Uuid, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Records how a claimed job ended.
    async fn finish_job(
        &mut self,
        id: uuid::Uuid,
        end: &JobEnd,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Deletes up to `limit` rows of `what` older than `before`; returns how many.
    async fn purge(&mut self, what: Purge, before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
}
