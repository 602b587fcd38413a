//! The exception queue: what Ordo cannot settle by itself, for people (seed 003's stages 2
//! and 3).
//!
//! Stage 1 is automatic (a payment request the provider failed for a passing reason is tried
//! again, from five minutes on). What is left lands here, once per thing it is about: a
//! capture, refund or void given up or refused, a request whose outcome stayed unknown, an
//! authorization about to lapse uncaptured, money that arrived for a cancelled order. Each item
//! says in plain words what happened, what was tried and when, and which resolutions fit its
//! kind; support and admins resolve it (`retry_now`, `capture_now`, `mark_paid`,
//! `cancel_order`, `refund`, `contact_customer`, `dismiss`), and each resolution runs through the same use cases as
//! everything else and is recorded with who, when, a note and what came of it. Stage 3:
//! escalating hands it to engineering (admins), who see the technical detail (the provider's
//! answers) that the summary leaves out.

use chrono::{DateTime, Utc};
use ordo_domain::ParseError;
use ordo_domain::identity::{Actor, Role};
use ordo_domain::ids::OrderId;
use ordo_domain::money::{Currency, Money};
pub use ordo_store::ExceptionStatus;
use ordo_store::{ExceptionFilter, ExceptionItem, StoreTx};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{App, AppError, AppResult};

/// What went wrong, and so what may be done about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExceptionKind {
    PaymentCaptureFailed,
    PaymentOutcomeUnknown,
    RefundFailed,
    PaymentVoidFailed,
    AuthorizationExpiring,
    PaymentForCancelledOrder,
}

ordo_domain::names!(ExceptionKind, "invalid_exception_kind" {
    PaymentCaptureFailed => "payment_capture_failed",
    PaymentOutcomeUnknown => "payment_outcome_unknown",
    RefundFailed => "refund_failed",
    PaymentVoidFailed => "payment_void_failed",
    AuthorizationExpiring => "authorization_expiring",
    PaymentForCancelledOrder => "payment_for_cancelled_order",
});

/// What a person may do about an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// Ask the provider again (the same request, when its outcome is unknown).
    RetryNow,
    /// Capture the order's authorized share now.
    CaptureNow,
    /// Cancel the order (its stock released or restocked) and let its authorization go.
    CancelOrder,
    /// Send the order's money back (or let its authorization go).
    Refund,
    /// The money came in outside the provider (a bank transfer): the order's authorization is
    /// let go and the payment recorded by hand, the note its reference.
    MarkPaid,
    /// The money was given back outside the provider (a bank transfer): recorded as refunded,
    /// the note its reference.
    MarkRefunded,
    /// Handled with the customer outside Ordo (a note says how).
    ContactCustomer,
    /// Nothing to do (a note says why).
    Dismiss,
}

ordo_domain::names!(Resolution, "invalid_resolution" {
    RetryNow => "retry_now",
    CaptureNow => "capture_now",
    CancelOrder => "cancel_order",
    Refund => "refund",
    ContactCustomer => "contact_customer",
    Dismiss => "dismiss",
    MarkPaid => "mark_paid",
    MarkRefunded => "mark_refunded",
});

impl Resolution {
    /// Whether people must say in a note what they did (a reference, how it was sorted out).
    pub fn needs_note(self) -> bool {
        matches!(
            self,
            Resolution::ContactCustomer
                | Resolution::Dismiss
                | Resolution::MarkPaid
                | Resolution::MarkRefunded
        )
    }
}

impl ExceptionKind {
    /// The resolutions that fit, in the order they are offered.
    pub fn resolutions(self) -> &'static [Resolution] {
        use Resolution as R;
        match self {
            ExceptionKind::PaymentCaptureFailed => &[
                R::RetryNow,
                R::MarkPaid,
                R::CancelOrder,
                R::ContactCustomer,
                R::Dismiss,
            ],
            ExceptionKind::PaymentOutcomeUnknown => &[R::RetryNow, R::ContactCustomer],
            ExceptionKind::RefundFailed => {
                &[R::RetryNow, R::MarkRefunded, R::ContactCustomer, R::Dismiss]
            }
            ExceptionKind::PaymentVoidFailed => &[R::RetryNow, R::Dismiss],
            ExceptionKind::AuthorizationExpiring => &[
                R::CaptureNow,
                R::MarkPaid,
                R::CancelOrder,
                R::ContactCustomer,
            ],
            ExceptionKind::PaymentForCancelledOrder => {
                &[R::Refund, R::MarkRefunded, R::ContactCustomer, R::Dismiss]
            }
        }
    }
}

/// One try, as people read it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tried {
    pub at: DateTime<Utc>,
    pub what: String,
}

/// How an exception was resolved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resolved {
    pub resolution: String,
    pub note: Option<String>,
    pub by: Actor,
    pub at: DateTime<Utc>,
    /// What came of it, in plain words.
    pub outcome: String,
}

/// How it was handed to engineering.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Escalated {
    pub note: String,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// The item's body (kept as JSON by the store).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Body {
    /// What happened, for a non-technical reader.
    pub summary: String,
    pub payment_id: Option<Uuid>,
    /// The payment request it is about (capture, refund, void).
    pub request_id: Option<Uuid>,
    pub tried: Vec<Tried>,
    /// The technical detail (the provider's answers, redacted): for engineers (admins).
    pub detail: Option<String>,
    pub resolution: Option<Resolved>,
    pub escalation: Option<Escalated>,
}

/// An exception as the queue shows it.
#[derive(Debug, Clone)]
pub struct Exception {
    pub id: Uuid,
    pub kind: ExceptionKind,
    /// Private: it moves only along [`ExceptionStatus::TRANSITIONS`] ([`Exception::move_to`]).
    status: ExceptionStatus,
    pub order_id: Option<OrderId>,
    pub body: Body,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Exception {
    pub(crate) fn of(item: ExceptionItem) -> AppResult<Exception> {
        let ExceptionItem {
            id,
            kind,
            status,
            order_id,
            body,
            created_at,
            updated_at,
            ..
        } = item;
        let corrupt = |e: String| AppError::Internal(anyhow::anyhow!("exception {id}: {e}"));
        Ok(Exception {
            id,
            kind: ExceptionKind::parse(&kind).map_err(|e| corrupt(e.message))?,
            status,
            order_id,
            body: serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?,
            created_at,
            updated_at,
        })
    }

    pub fn status(&self) -> ExceptionStatus {
        self.status
    }

    /// Moves the exception to `next` at `at`, if its table allows; otherwise a conflict that
    /// says where it stands.
    pub(crate) fn move_to(&mut self, next: ExceptionStatus, at: DateTime<Utc>) -> AppResult<()> {
        if !self.status.may_become(next) {
            return Err(AppError::conflict(
                "exception_status",
                format!("an exception that is {} cannot become {next}", self.status),
                None,
            ));
        }
        self.status = next;
        self.updated_at = at;
        Ok(())
    }

    fn item(&self, key: String) -> AppResult<ExceptionItem> {
        Ok(ExceptionItem {
            id: self.id,
            kind: self.kind.as_str().to_owned(),
            key,
            status: self.status,
            order_id: self.order_id,
            body: serde_json::to_string(&self.body).map_err(|e| AppError::Internal(e.into()))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Money as people read it (`€25.00`).
pub(crate) fn money(amount: i64, currency: Currency) -> String {
    Money { amount, currency }.format_for("en")
}

/// The last characters of an order's id, as people quote it.
pub(crate) fn short(order: OrderId) -> String {
    let s = order.to_string();
    format!("…{}", &s[s.len() - 8..])
}

/// Raises an exception in `tx` (once per `key`: `false` if it is raised already).
pub(crate) async fn raise(
    tx: &mut dyn StoreTx,
    kind: ExceptionKind,
    key: String,
    order_id: Option<OrderId>,
    body: Body,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let e = Exception {
        id: Uuid::now_v7(),
        kind,
        status: ExceptionStatus::Open,
        order_id,
        body,
        created_at: now,
        updated_at: now,
    };
    let raised = tx.raise_exception(&e.item(key)?).await?;
    if raised {
        tracing::warn!(exception_id = %e.id, kind = %kind, order_id = ?order_id, "exception raised for people to resolve");
    }
    Ok(raised)
}

fn staff(actor: &Actor) -> AppResult<()> {
    match actor.role {
        Role::Support | Role::Admin | Role::System => Ok(()),
        _ => Err(AppError::Forbidden(
            "the exception queue is for support and admins".into(),
        )),
    }
}

fn check_note(note: Option<String>, required: bool) -> AppResult<Option<String>> {
    let note = note.filter(|n| !n.trim().is_empty());
    if let Some(n) = &note
        && n.chars().count() > 2_000
    {
        return Err(
            ParseError::new("invalid_note", "a note is at most 2,000 characters")
                .at("note")
                .into(),
        );
    }
    if required && note.is_none() {
        return Err(
            ParseError::new("note_required", "say in a note what was done, and why")
                .at("note")
                .into(),
        );
    }
    Ok(note)
}

impl App {
    /// The queue (support, admins), newest first, optionally of one status, kind or order.
    pub async fn exceptions(
        &self,
        actor: &Actor,
        status: Option<&str>,
        kind: Option<&str>,
        order_id: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Vec<Exception>> {
        staff(actor)?;
        let status = status
            .map(ExceptionStatus::parse)
            .transpose()
            .map_err(|e| e.at("status"))?;
        let kind = kind
            .map(ExceptionKind::parse)
            .transpose()
            .map_err(|e| e.at("kind"))?;
        let order_id = order_id
            .map(str::parse::<OrderId>)
            .transpose()
            .map_err(|_| {
                ParseError::new("invalid_id", "order_id is an order's id").at("order_id")
            })?;
        let filter = ExceptionFilter {
            status,
            kind: kind.map(|k| k.as_str().to_owned()),
            order_id,
            limit: crate::paging::page_limit(limit)? as u32,
        };
        self.store
            .exceptions(&filter)
            .await?
            .into_iter()
            .map(Exception::of)
            .collect()
    }

    pub async fn exception(&self, actor: &Actor, id: Uuid) -> AppResult<Exception> {
        staff(actor)?;
        let item = self
            .store
            .exception(id)
            .await?
            .ok_or(AppError::NotFound("exception"))?;
        Exception::of(item)
    }

    /// Resolves an open (or escalated) exception with one of its kind's resolutions, run as
    /// Ordo on the person's behalf and recorded with who, when, their note and the outcome.
    pub async fn resolve_exception(
        &self,
        actor: &Actor,
        id: Uuid,
        resolution: &str,
        note: Option<String>,
    ) -> AppResult<Exception> {
        let mut e = self.exception(actor, id).await?;
        let resolution = Resolution::parse(resolution).map_err(|err| err.at("resolution"))?;
        if e.status == ExceptionStatus::Resolved {
            return Err(AppError::conflict(
                "exception_resolved",
                "this exception is resolved already",
                None,
            ));
        }
        if !e.kind.resolutions().contains(&resolution) {
            let allowed: Vec<&str> = e.kind.resolutions().iter().map(|r| r.as_str()).collect();
            return Err(AppError::unprocessable(
                "resolution_not_allowed",
                format!(
                    "{resolution} does not fit a {} exception: {}",
                    e.kind,
                    allowed.join(", ")
                ),
                Some("resolution"),
            ));
        }
        let note = check_note(note, resolution.needs_note())?;
        // A resolution may run several use cases, each its own transaction: they run outside
        // the request's Idempotency-Key (a task of their own), which only the resolution's own
        // record below claims; a retry finds the exception resolved.
        let outcome = {
            let (app, e, actor, note) = (self.clone(), e.clone(), *actor, note.clone());
            tokio::spawn(async move { app.carry_out(&e, resolution, &actor, note).await })
                .await
                .map_err(|j| AppError::Internal(anyhow::anyhow!("a resolution stopped: {j}")))??
        };
        let now = self.now();
        e.move_to(ExceptionStatus::Resolved, now)?;
        e.body.resolution = Some(Resolved {
            resolution: resolution.as_str().to_owned(),
            note,
            by: *actor,
            at: now,
            outcome,
        });
        self.save_exception(&e).await?;
        tracing::info!(exception_id = %e.id, kind = %e.kind, %resolution, by = ?actor.user_id, "exception resolved");
        Ok(e)
    }

    /// Hands an exception to engineering (stage 3), with a note of what staff saw.
    pub async fn escalate_exception(
        &self,
        actor: &Actor,
        id: Uuid,
        note: Option<String>,
    ) -> AppResult<Exception> {
        let mut e = self.exception(actor, id).await?;
        if e.status != ExceptionStatus::Open {
            return Err(AppError::conflict(
                "exception_not_open",
                format!(
                    "only an open exception is escalated; this one is {}",
                    e.status
                ),
                None,
            ));
        }
        let note = check_note(note, true)?.unwrap_or_default();
        let now = self.now();
        e.move_to(ExceptionStatus::Escalated, now)?;
        e.body.escalation = Some(Escalated {
            note,
            by: *actor,
            at: now,
        });
        self.save_exception(&e).await?;
        tracing::warn!(exception_id = %e.id, kind = %e.kind, "exception escalated to engineering");
        Ok(e)
    }

    pub(crate) async fn save_exception(&self, e: &Exception) -> AppResult<()> {
        let item = e.item(String::new())?;
        self.write_once(move |tx| Box::pin(async move { Ok(tx.update_exception(&item).await?) }))
            .await
    }

    /// The `payments.scan` job: raises `authorization_expiring` for each order whose share of
    /// an authorization lapses within a day and is not captured.
    pub(crate) async fn scan_authorizations(&self) -> AppResult<()> {
        let now = self.now();
        let due = self
            .store
            .expiring_authorizations(now + chrono::Duration::days(1), 500)
            .await?;
        for id in due {
            let Some(payment) = self.store.payment(id).await? else {
                continue;
            };
            let d = self.payment_detail(payment).await?;
            for (order, amounts, _) in &d.orders {
                if amounts.capturable() <= 0 {
                    continue;
                }
                let lapses = d.payment.capture_before.unwrap_or(now);
                let body = Body {
                    summary: format!(
                        "The customer's card authorization of {} for order {} lapses on {} and has not been captured yet: capture it now, or cancel the order.",
                        money(amounts.capturable(), d.payment.currency),
                        short(*order),
                        lapses.format("%Y-%m-%d %H:%M UTC")
                    ),
                    payment_id: Some(id),
                    ..Body::default()
                };
                let (order, key) = (*order, format!("authorization-expiring/{id}/{order}"));
                self.write(move |tx| {
                    Box::pin(async move {
                        raise(
                            tx,
                            ExceptionKind::AuthorizationExpiring,
                            key,
                            Some(order),
                            body,
                            now,
                        )
                        .await
                    })
                })
                .await?;
            }
        }
        Ok(())
    }
}
