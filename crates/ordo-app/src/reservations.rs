//! Reservations that run out: an unpaid order holds its stock until `reserved_until`; then a
//! recurring scan (`reservations.scan`, every `Settings::expiry_sweep`) queues one
//! `reservation.expire` job per such order, which cancels it (`payment_timeout`) and so releases
//! its stock. Both are registered with the job runner here.

use chrono::{DateTime, Utc};
use ordo_domain::identity::{Actor, Proof};
use ordo_domain::ids::OrderId;
use ordo_domain::order::{Action, ActionInput};
use ordo_store::{Job, JobEnd};

use crate::jobs::{Handler, JobFuture, JobKind, again, always, new_job};
use crate::{App, AppError, AppResult};

pub(crate) const JOBS: &[Handler] = &[
    Handler::recurring(JobKind::ScanReservations, always, scan),
    // An order that cannot be cancelled after a dozen tries is for people to look at.
    Handler::once(JobKind::ExpireReservation, expire).attempts(12),
];

fn scan<'a>(app: &'a App, _: &'a Job) -> JobFuture<'a> {
    Box::pin(async move {
        app.enqueue_expiries(app.now()).await?;
        again(app, app.settings.expiry_sweep)
    })
}

fn expire<'a>(app: &'a App, job: &'a Job) -> JobFuture<'a> {
    Box::pin(async move {
        let id: OrderId = job
            .key
            .parse()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("not an order id: {}", job.key)))?;
        app.expire_reservation(id).await?;
        Ok(JobEnd::Done)
    })
}

impl App {
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
}
