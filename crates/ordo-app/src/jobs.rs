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
//! Jobs today:
//! - `reservations.scan` (recurring, every `Settings::expiry_sweep`): finds unpaid orders whose
//!   reservation ran out and enqueues one `reservation.expire` job for each;
//! - `reservation.expire`: cancels one such order (`payment_timeout`), releasing its stock;
//! - `idempotency_keys.purge`, `sessions.purge`, `jobs.purge`, `outbox.purge` (recurring):
//!   clear out expired idempotency keys, expired or revoked sessions, jobs long done, and
//!   relayed events past their retention (see [`crate::relay`]);
//! - `webhooks.dispatch` (recurring, every second): turns relayed events into webhook
//!   deliveries and wakes the senders of deliveries due; `webhook.deliver` (one per endpoint
//!   and order or SKU): sends them in order (see [`crate::webhooks`]);
//! - `notifications.dispatch` (recurring, every second, where a channel is set up): turns relayed events into e-mail, SMS
//!   and push notifications; `notification.send` (one per notification): renders and sends it,
//!   failed after 10 attempts (see [`crate::notifications`]);
//! - `stream.publish` (recurring, every second, with `--nats-url`): publishes relayed events
//!   to NATS JetStream (see [`crate::stream`]); NATS down only delays it.
//! - `payment.sync` (one per payment, from its checkout): the reconciler — asks the provider
//!   how the payment stands until it is settled (see [`crate::payments::settle`]);
//! - `payment.request` (one per capture, void or refund): sends it, retried from five minutes
//!   when the provider fails for a passing reason (see [`crate::payments::requests`]);
//! - `payments.scan` (recurring, hourly, where payments are taken): flags authorizations about
//!   to lapse uncaptured in the exception queue (see [`crate::exceptions`]);
//! - `payments.reconcile_cancelled` (recurring, daily, where payments are taken): flags each
//!   cancelled order still holding its customer's money (see [`crate::payments::reconcile`]).
//!
//! Recurring jobs are one row each (key = kind), re-queued when they finish, so however many
//! nodes run, each runs once per period.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ordo_domain::identity::{Actor, Proof};
use ordo_domain::ids::OrderId;
use ordo_domain::order::{Action, ActionInput};
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

impl JobKind {
    /// Attempts before the job is dead; recurring jobs never die (they must keep running).
    fn max_attempts(self) -> Option<i32> {
        match self {
            JobKind::ExpireReservation => Some(12),
            _ => None,
        }
    }
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
    /// Makes sure each recurring job exists (one row per kind; a no-op when it does).
    pub async fn schedule_recurring_jobs(&self) -> AppResult<()> {
        let now = self.now();
        let nats = self.settings.nats.is_some();
        let notify = self.notifications_on();
        let payments = self.provider.is_some();
        self.write(move |tx| {
            Box::pin(async move {
                for kind in [
                    JobKind::ScanReservations,
                    JobKind::PurgeIdempotencyKeys,
                    JobKind::PurgeSessions,
                    JobKind::PurgeJobs,
                    JobKind::PurgeOutbox,
                    JobKind::DispatchWebhooks,
                ] {
                    tx.enqueue_job(&new_job(kind, kind.as_str(), now), now)
                        .await?;
                }
                if nats {
                    let kind = JobKind::PublishEvents;
                    tx.enqueue_job(&new_job(kind, kind.as_str(), now), now)
                        .await?;
                }
                // Only where a channel is set up: with none, nothing would be sent, and
                // reading every event to skip it would cost the relay's hot path. (Woken, not
                // enqueued: a run that found no channel left its row done.)
                if notify {
                    let kind = JobKind::DispatchNotifications;
                    tx.wake_job(&new_job(kind, kind.as_str(), now), now).await?;
                }
                if payments {
                    for kind in [JobKind::ScanPayments, JobKind::ReconcileCancelled] {
                        tx.enqueue_job(&new_job(kind, kind.as_str(), now), now)
                            .await?;
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
            .and_then(JobKind::max_attempts);
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
        let Ok(kind) = JobKind::parse(&job.kind) else {
            return Err(AppError::Internal(anyhow::anyhow!(
                "no handler for jobs of kind {}",
                job.kind
            )));
        };
        let now = self.now();
        let every = |d: Duration| {
            Ok(JobEnd::Again {
                run_at: now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX),
            })
        };
        match kind {
            JobKind::ScanReservations => {
                self.enqueue_expiries(now).await?;
                every(self.settings.expiry_sweep)
            }
            JobKind::ExpireReservation => {
                let id: OrderId = job.key.parse().map_err(|_| {
                    AppError::Internal(anyhow::anyhow!("not an order id: {}", job.key))
                })?;
                self.expire_reservation(id).await?;
                Ok(JobEnd::Done)
            }
            JobKind::PurgeIdempotencyKeys => {
                let before = now - self.settings.idempotency_ttl;
                self.purge(Purge::IdempotencyKeys, before, now).await
            }
            // Expired or revoked sessions: a day's grace keeps them for an audit of late use.
            JobKind::PurgeSessions => {
                self.purge(Purge::Sessions, now - chrono::Duration::days(1), now)
                    .await
            }
            JobKind::PurgeJobs => {
                self.purge(Purge::Jobs, now - chrono::Duration::days(7), now)
                    .await
            }
            // NATS being down is expected now and then: try again steadily, not with backoff.
            JobKind::PublishEvents => {
                if let Err(e) = self.publish_events().await {
                    tracing::warn!(error = %e, "publishing events to NATS failed; will retry");
                }
                every(Duration::from_secs(1))
            }
            JobKind::DispatchWebhooks => {
                drain(|| self.fan_out_webhooks()).await?;
                self.sweep_webhooks().await?;
                every(Duration::from_secs(1))
            }
            JobKind::DeliverWebhooks => self.deliver_webhooks(&job.key).await,
            // A node started without any channel ends the job another configuration left.
            JobKind::DispatchNotifications if !self.notifications_on() => Ok(JobEnd::Done),
            JobKind::DispatchNotifications => {
                drain(|| self.dispatch_notifications()).await?;
                every(Duration::from_secs(1))
            }
            JobKind::SendNotification => self.send_notification(job).await,
            JobKind::SyncPayment => self.sync_payment(uuid_key(job)?).await,
            JobKind::PaymentRequest => self.run_request(uuid_key(job)?, Some(job.attempts)).await,
            JobKind::ScanPayments => {
                self.scan_authorizations().await?;
                every(Duration::from_secs(3_600))
            }
            JobKind::ReconcileCancelled => {
                // Lists (and flags) only: giving back is for people, or the CLI's --apply.
                self.reconcile_cancelled(ordo_domain::identity::Actor::system(), false, "")
                    .await?;
                every(Duration::from_secs(86_400))
            }
            JobKind::PurgeOutbox => {
                let before = now - self.settings.event_retention;
                self.purge(Purge::Outbox, before, now).await
            }
        }
    }

    /// Enqueues an expiry job for each order whose reservation ran out (and has none yet).
    async fn enqueue_expiries(&self, now: DateTime<Utc>) -> AppResult<()> {
        let due = self
            .store
            .expired_reservations(now, JobKind::ExpireReservation.as_str(), 500)
            .await?;
        if due.is_empty() {
            return Ok(());
        }
        tracing::info!(
            orders = due.len(),
            "reservations expired: cancellations queued"
        );
        self.write(move |tx| {
            Box::pin(async move {
                for id in due {
                    let job = new_job(JobKind::ExpireReservation, &id.to_string(), now);
                    tx.enqueue_job(&job, now).await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Cancels one unpaid order whose reservation ran out (`payment_timeout`). Paid,
    /// cancelled or gone meanwhile is fine: nothing to do. Safe on many nodes at once (the
    /// cancellation is a versioned transition; a payment that lands first wins).
    async fn expire_reservation(&self, id: OrderId) -> AppResult<()> {
        let input = ActionInput {
            reason: Some("payment_timeout".into()),
            ..ActionInput::default()
        };
        match self
            .act_as(Actor::system(), Proof::SYSTEM, id, Action::Cancel, input)
            .await
        {
            Ok(_) => {
                tracing::info!(order_id = %id, "unpaid order cancelled: reservation expired");
                Ok(())
            }
            Err(AppError::InvalidTransition { .. } | AppError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn purge(
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
async fn drain<F, Fut>(mut step: F) -> AppResult<()>
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
fn uuid_key(job: &Job) -> AppResult<uuid::Uuid> {
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
