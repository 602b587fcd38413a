//! Background work that cannot stall: durable jobs, run by every node.
//!
//! A worker runs the jobs it claimed at once, each within its lease (`Settings::job_lease`,
//! a minute by default); every job keeps its run well under that (a webhook sender stops
//! starting deliveries after a few seconds and is queued again), so a node that dies leaves
//! its claimed jobs to the others within a lease.
//!
//! A job is a row (`jobs`: kind, key, payload, run_at, attempts, last_error, state). Workers
//! claim due jobs in one short transaction — on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so
//! several nodes never take the same row — and lease them; a node that dies mid-job loses
//! nothing, since the lease runs out and another node takes the job over. Each job runs alone:
//! one that fails is logged, counted (`attempts`, `last_error`) and tried again later with
//! exponential backoff and jitter, and it never holds back the others. After its last attempt
//! it is `dead`, kept for people to look at.
//!
//! The runner knows no job but its own (`jobs.purge`): each module registers the kinds it owns
//! with a [`Handler`] — how one runs, how often it may fail, and, for a recurring one, whether
//! this node keeps it queued — in its `JOBS` list (`reservations::JOBS`, `webhooks::JOBS`,
//! `payments::JOBS`, …), and the app assembles the [`Registry`] from those lists
//! (`App::with_clock`). The kinds themselves are shared vocabulary ([`JobKind`]), so a module
//! can queue another's job without importing it; a test checks that every kind has exactly one
//! handler.
//!
//! Recurring jobs are one row each (key = kind), re-queued when they finish, so however many
//! nodes run, each runs once per period.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ordo_store::{Job, JobEnd, JobState, Purge};
use rand::RngExt;

use crate::{App, AppError, AppResult};

/// Jobs claimed at once by one worker.
const CLAIM: u32 = 50;
/// Rows one purge deletes at most; a full purge runs again at once.
const PURGE_BATCH: u32 = 5_000;

/// What a job does, and how often it may fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    ScanReservations,
    ExpireReservation,
    PurgeIdempotencyKeys,
    PurgeSessions,
    PurgeJobs,
    PurgeOutbox,
    PublishEvents,
    DispatchWebhooks,
    DeliverWebhooks,
    DispatchNotifications,
    SendNotification,
    SyncPayment,
    PaymentRequest,
    ScanPayments,
    ReconcileCancelled,
}

ordo_domain::names!(JobKind, "invalid_job_kind" {
    ScanReservations => "reservations.scan",
    ExpireReservation => "reservation.expire",
    PurgeIdempotencyKeys => "idempotency_keys.purge",
    PurgeSessions => "sessions.purge",
    PurgeJobs => "jobs.purge",
    PurgeOutbox => "outbox.purge",
    PublishEvents => "stream.publish",
    DispatchWebhooks => "webhooks.dispatch",
    DeliverWebhooks => "webhook.deliver",
    DispatchNotifications => "notifications.dispatch",
    SendNotification => "notification.send",
    SyncPayment => "payment.sync",
    PaymentRequest => "payment.request",
    ScanPayments => "payments.scan",
    ReconcileCancelled => "payments.reconcile_cancelled",
});

/// A running job's future.
pub(crate) type JobFuture<'a> = Pin<Box<dyn Future<Output = AppResult<JobEnd>> + Send + 'a>>;

/// How one kind of job runs.
pub(crate) type Run = for<'a> fn(&'a App, &'a Job) -> JobFuture<'a>;

/// One kind of job as the module that owns it registers it.
pub(crate) struct Handler {
    pub(crate) kind: JobKind,
    run: Run,
    /// Attempts before the job is dead; `None`: it is retried for ever (recurring jobs must
    /// keep running).
    max_attempts: Option<i32>,
    /// A recurring job (one row, key = kind, queued again as it ends) and whether this node
    /// keeps it: `true` from this function queues it at start.
    keep: Option<fn(&App) -> bool>,
    /// Woken at start (brought forward, or queued again when a run left it done) rather than
    /// only queued when absent.
    wake: bool,
}

impl Handler {
    /// A job queued by some use case, retried until it succeeds.
    pub(crate) const fn once(kind: JobKind, run: Run) -> Handler {
        Handler {
            kind,
            run,
            max_attempts: None,
            keep: None,
            wake: false,
        }
    }

    /// A recurring job this node keeps queued when `keep` says so.
    pub(crate) const fn recurring(kind: JobKind, keep: fn(&App) -> bool, run: Run) -> Handler {
        Handler {
            kind,
            run,
            max_attempts: None,
            keep: Some(keep),
            wake: false,
        }
    }

    /// Dead after `n` attempts.
    pub(crate) const fn attempts(mut self, n: i32) -> Handler {
        self.max_attempts = Some(n);
        self
    }

    /// Woken at start instead of only queued when absent (see [`JobTx::wake_job`]).
    ///
    /// [`JobTx::wake_job`]: ordo_store::JobTx::wake_job
    pub(crate) const fn woken(mut self) -> Handler {
        self.wake = true;
        self
    }
}

/// Every kind of job the app runs, each with its one handler.
pub(crate) struct Registry {
    handlers: Vec<&'static Handler>,
}

impl Registry {
    /// The registry of the modules' lists; a kind registered twice is a bug found at start.
    pub(crate) fn new(lists: &[&'static [Handler]]) -> Registry {
        let handlers: Vec<&'static Handler> = lists.iter().flat_map(|l| l.iter()).collect();
        for (i, h) in handlers.iter().enumerate() {
            assert!(
                !handlers[..i].iter().any(|o| o.kind == h.kind),
                "job kind {} is registered twice",
                h.kind
            );
        }
        Registry { handlers }
    }

    pub(crate) fn get(&self, kind: JobKind) -> Option<&'static Handler> {
        self.handlers.iter().copied().find(|h| h.kind == kind)
    }

    fn recurring(&self) -> impl Iterator<Item = &'static Handler> + '_ {
        self.handlers.iter().copied().filter(|h| h.keep.is_some())
    }
}

/// The runner's own job: clearing out jobs long done.
pub(crate) const JOBS: &[Handler] = &[Handler::recurring(
    JobKind::PurgeJobs,
    always,
    purge_done_jobs,
)];

/// For a recurring job every node keeps.
pub(crate) fn always(_: &App) -> bool {
    true
}

fn purge_done_jobs<'a>(app: &'a App, _: &'a Job) -> JobFuture<'a> {
    purge_older_than(app, Purge::Jobs, chrono::Duration::days(7))
}

/// A recurring purge's run: deletes one batch of `what` older than `age` (see [`App::purge`]).
pub(crate) fn purge_older_than(app: &App, what: Purge, age: chrono::Duration) -> JobFuture<'_> {
    Box::pin(async move {
        let now = app.now();
        app.purge(what, now - age, now).await
    })
}

/// A recurring job's end: run again `period` from now.
pub(crate) fn again(app: &App, period: Duration) -> AppResult<JobEnd> {
    Ok(JobEnd::Again {
        run_at: app.now() + chrono::Duration::from_std(period).unwrap_or(chrono::Duration::MAX),
    })
}

/// See [`App::jobs_overview`].
#[derive(Debug)]
pub struct JobsOverview {
    pub jobs: Vec<Job>,
    pub counts: ordo_store::JobCounts,
    pub relay: ordo_store::RelayState,
}

fn staff_only(actor: &ordo_domain::identity::Actor) -> AppResult<()> {
    use ordo_domain::identity::Role;
    match actor.role {
        Role::Admin | Role::Support | Role::System => Ok(()),
        _ => Err(AppError::Forbidden(
            "background jobs are for support and admins".into(),
        )),
    }
}

/// The outcome of one run of [`App::run_due_jobs`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobsRun {
    pub done: usize,
    /// Failed and scheduled again.
    pub retried: usize,
    /// Failed for the last time.
    pub dead: usize,
}

impl JobsRun {
    pub fn claimed(&self) -> usize {
        self.done + self.retried + self.dead
    }
}

/// The wait before attempt `attempts + 1`: 5 s doubled per attempt up to an hour, then between
/// half and all of it at random, so jobs that failed together do not retry together.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let exp = attempts.clamp(1, 30) - 1;
    let full = (5_i64 << exp.min(20)).min(3_600);
    let millis = full * 1000;
    chrono::Duration::milliseconds(rand::rng().random_range(millis / 2..=millis))
}

impl App {
    /// Makes sure each recurring job this node keeps exists (one row per kind; a no-op when it
    /// does).
    pub async fn schedule_recurring_jobs(&self) -> AppResult<()> {
        let now = self.now();
        let kept: Vec<(JobKind, bool)> = self
            .jobs
            .recurring()
            .filter(|h| h.keep.is_some_and(|keep| keep(self)))
            .map(|h| (h.kind, h.wake))
            .collect();
        self.write(move |tx| {
            Box::pin(async move {
                for (kind, wake) in kept {
                    let job = new_job(kind, kind.as_str(), now);
                    if wake {
                        tx.wake_job(&job, now).await?;
                    } else {
                        tx.enqueue_job(&job, now).await?;
                    }
                }
                Ok(())
            })
        })
        .await
    }

    /// Claims the jobs due now and runs each, recording how each ended. Returns what became
    /// of them; a caller that got a full claim may call again at once.
    pub async fn run_due_jobs(&self) -> AppResult<JobsRun> {
        let now = self.now();
        let lease = self.settings.job_lease;
        let claimed = self
            .write(move |tx| {
                Box::pin(async move { Ok(tx.claim_jobs(now, now + lease, CLAIM).await?) })
            })
            .await?;
        // All at once: each starts within its lease, and a slow one (a webhook receiver
        // taking its 15 s) holds back no other.
        let ends = futures_util::future::join_all(claimed.iter().map(|job| async move {
            match self.run_job(job).await {
                Ok(end) => end,
                Err(e) => self.failed(job, &e),
            }
        }))
        .await;
        let mut run = JobsRun::default();
        for end in &ends {
            match end {
                JobEnd::Done | JobEnd::Again { .. } => run.done += 1,
                JobEnd::Retry { .. } => run.retried += 1,
                JobEnd::Dead { .. } => run.dead += 1,
            }
        }
        // One transaction records how every job of the round ended: one commit to wait for,
        // not one per job (a round of 50 webhook deliveries waited 50 commits in turn).
        let ended: Vec<(uuid::Uuid, JobEnd)> = claimed.iter().map(|job| job.id).zip(ends).collect();
        let at = self.now();
        self.write(move |tx| {
            Box::pin(async move {
                for (id, end) in &ended {
                    tx.finish_job(*id, end, at).await?;
                }
                Ok(())
            })
        })
        .await?;
        Ok(run)
    }

    /// What operators see of background work: jobs (newest first, optionally of one state and
    /// kind), how many are in each state, and how far each reader of the relay has got
    /// (support and admins).
    pub async fn jobs_overview(
        &self,
        actor: &ordo_domain::identity::Actor,
        state: Option<&str>,
        kind: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<JobsOverview> {
        staff_only(actor)?;
        let state = state
            .map(JobState::parse)
            .transpose()
            .map_err(|e| e.at("state"))?;
        let kind = kind
            .map(JobKind::parse)
            .transpose()
            .map_err(|e| e.at("kind"))?;
        let limit = crate::paging::page_limit(limit)?;
        Ok(JobsOverview {
            jobs: self.jobs(state, kind, limit).await?,
            counts: self.store.job_counts().await?,
            relay: self.store.relay_state().await?,
        })
    }

    /// Queues a dead job again now (support and admins: what got stuck, fixed without an
    /// engineer). Only a dead job can be retried.
    pub async fn retry_job(
        &self,
        actor: &ordo_domain::identity::Actor,
        id: uuid::Uuid,
    ) -> AppResult<()> {
        staff_only(actor)?;
        let now = self.now();
        let retried = self
            .write_once(move |tx| Box::pin(async move { Ok(tx.retry_job(id, now).await?) }))
            .await?;
        if retried {
            return Ok(());
        }
        match self.store.job(id).await? {
            Some(job) => Err(AppError::conflict(
                "job_not_dead",
                format!("only a dead job can be retried; this one is {}", job.state),
                None,
            )),
            None => Err(AppError::NotFound("job")),
        }
    }

    /// Deletes jobs done before `before` (and, with `dead`, dead ones that died before it);
    /// returns how many (support and admins: `ordo jobs purge`).
    pub async fn purge_jobs(
        &self,
        actor: &ordo_domain::identity::Actor,
        before: DateTime<Utc>,
        dead: bool,
    ) -> AppResult<u64> {
        staff_only(actor)?;
        let mut total = 0;
        let kinds: &[Purge] = if dead {
            &[Purge::Jobs, Purge::DeadJobs]
        } else {
            &[Purge::Jobs]
        };
        for &what in kinds {
            loop {
                let deleted = self
                    .write(move |tx| {
                        Box::pin(async move { Ok(tx.purge(what, before, PURGE_BATCH).await?) })
                    })
                    .await?;
                total += deleted;
                if deleted < u64::from(PURGE_BATCH) {
                    break;
                }
            }
        }
        Ok(total)
    }

    /// Jobs, newest first (for operators and tests).
    pub async fn jobs(
        &self,
        state: Option<JobState>,
        kind: Option<JobKind>,
        limit: u32,
    ) -> AppResult<Vec<Job>> {
        Ok(self
            .store
            .jobs(state, kind.map(JobKind::as_str), limit)
            .await?)
    }

    /// How a failed attempt ends: again later with backoff, or dead after the last one.
    fn failed(&self, job: &Job, error: &AppError) -> JobEnd {
        let error = match error {
            AppError::Internal(e) | AppError::Unavailable(e) | AppError::OutcomeUnknown(e) => {
                format!("{error}: {e:#}")
            }
            other => other.to_string(),
        };
        let limit = JobKind::parse(&job.kind)
            .ok()
            .and_then(|kind| self.jobs.get(kind))
            .and_then(|h| h.max_attempts);
        if limit.is_some_and(|max| job.attempts >= max) {
            tracing::error!(job_id = %job.id, kind = %job.kind, key = %job.key, attempts = job.attempts, error = %error, "job failed for the last time");
            JobEnd::Dead { error }
        } else {
            let run_at = self.now() + backoff(job.attempts);
            tracing::warn!(job_id = %job.id, kind = %job.kind, key = %job.key, attempts = job.attempts, %run_at, error = %error, "job failed; will retry");
            JobEnd::Retry { run_at, error }
        }
    }

    async fn run_job(&self, job: &Job) -> AppResult<JobEnd> {
        let handler = JobKind::parse(&job.kind)
            .ok()
            .and_then(|kind| self.jobs.get(kind))
            .ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("no handler for jobs of kind {}", job.kind))
            })?;
        (handler.run)(self, job).await
    }

    /// Deletes one batch of `what` from before `before`, and runs again at once while there is
    /// more, else in ten minutes (the recurring purges).
    pub(crate) async fn purge(
        &self,
        what: Purge,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> AppResult<JobEnd> {
        let deleted = self
            .write(move |tx| {
                Box::pin(async move { Ok(tx.purge(what, before, PURGE_BATCH).await?) })
            })
            .await?;
        if deleted > 0 {
            tracing::info!(?what, deleted, "purged");
        }
        let period = chrono::Duration::minutes(10);
        Ok(JobEnd::Again {
            run_at: if deleted >= u64::from(PURGE_BATCH) {
                now
            } else {
                now + period
            },
        })
    }
}

/// Runs a relay consumer's step (which returns how many events it took) while it takes full
/// batches, for up to 10 s (well inside the job's lease): a backlog drains at the database's
/// pace, not one batch a second.
pub(crate) async fn drain<F, Fut>(mut step: F) -> AppResult<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = AppResult<usize>>,
{
    let started = std::time::Instant::now();
    while step().await? == crate::outbox::CONSUMER_BATCH as usize
        && started.elapsed() < Duration::from_secs(10)
    {}
    Ok(())
}

/// A job's key read as the id it names.
pub(crate) fn uuid_key(job: &Job) -> AppResult<uuid::Uuid> {
    job.key
        .parse()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("not an id: {}", job.key)))
}

pub(crate) fn new_job(kind: JobKind, key: &str, now: DateTime<Utc>) -> Job {
    Job {
        id: uuid::Uuid::now_v7(),
        kind: kind.as_str().to_owned(),
        key: key.to_owned(),
        payload: serde_json::Value::Object(Default::default()),
        state: JobState::Queued,
        run_at: now,
        attempts: 0,
        last_error: None,
        created_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_with_jitter_below_it() {
        for attempts in 1..40 {
            let full = (5_i64 << (attempts.clamp(1, 30) - 1).min(20)).min(3_600) * 1000;
            let wait = backoff(attempts).num_milliseconds();
            assert!(
                (full / 2..=full).contains(&wait),
                "attempt {attempts}: {wait} ms"
            );
        }
        assert!(backoff(1).num_milliseconds() <= 5_000);
        assert!(backoff(30).num_milliseconds() <= 3_600_000);
    }
}
