//! Moving a payment's money on request: capture, void, refund (people or Ordo ask), and
//! payments made outside any provider (`pay` by an admin).
//!
//! A request is two transactions around one provider call. The first locks the payment,
//! checks the amount against its ledger — the order's share and the payment as a whole,
//! counting what is already on its way, so twenty concurrent refunds of 30 % each let three
//! through — and writes the `*_requested` row with a `payment.request` job of the same id.
//! Then the provider is called with that id as its idempotency key; the second transaction
//! writes the outcome row, which names its request, so an outcome is stored once however many
//! times it is reported. A provider that fails for a passing reason (timeout, 5xx, rate limit)
//! leaves the request open and its job tries again — first after
//! `PaymentSettings::retry_after` (five minutes), then twice as long each time — with the same
//! key, so a call whose answer was lost is never made twice. A refusal, or the last try, ends
//! the request as failed and frees its amount.

use chrono::{DateTime, Utc};
use ordo_domain::identity::{Actor, Proof, Sensitive};
use ordo_domain::ids::OrderId;
use ordo_domain::order::{MoneyMovement, Order, OrderStatus};
use ordo_domain::payment::{CapturePolicy, EntryKind, PaymentState, Refused};
use ordo_store::{JobEnd, Payment, PaymentAllocation, PaymentDraft, PaymentEntry, StoreTx};
use uuid::Uuid;

use super::refunds::give_back;
use super::settle::{Books, entry};
use super::{PaymentDetail, ProviderError, may_move_money};
use crate::jobs::{JobKind, new_job};
use crate::{App, AppError, AppResult, with_retry};

/// What a person (or Ordo) asks of an order's payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Take this much of what is authorized (all of the order's share when `None`).
    Capture(Option<i64>),
    /// Let the order's uncaptured share go.
    Void,
    /// Send this much of what was captured back.
    Refund(i64),
}

impl Ask {
    fn kind(self) -> EntryKind {
        match self {
            Ask::Capture(_) => EntryKind::CaptureRequested,
            Ask::Void => EntryKind::VoidRequested,
            Ask::Refund(_) => EntryKind::RefundRequested,
        }
    }
}

pub(super) fn refused(e: Refused) -> AppError {
    match e {
        Refused::NotPositive => {
            AppError::Invalid(ordo_domain::ParseError::new(e.code(), e.to_string()).at("amount"))
        }
        other => AppError::conflict(other.code(), other.to_string(), Some("amount")),
    }
}

/// Checks `ask` against the order's share and the whole payment, and writes its request row
/// and job (and, for money going back, its event in the order's log). Returns the request row.
async fn request(
    tx: &mut dyn StoreTx,
    order: OrderId,
    ask: Ask,
    actor: Actor,
    reason: Option<String>,
    first_try: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<PaymentEntry> {
    // The order first, then its payment, as cancelling does (applying a provider's report
    // locks the other way round: see docs/payments.md, "Not built yet").
    let mut locked = tx
        .order_for_update(order)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    if matches!(ask, Ask::Capture(_)) && locked.status() == OrderStatus::Cancelled {
        return Err(AppError::conflict(
            "order_cancelled",
            "the order is cancelled: its money goes back to the customer, it is not captured",
            None,
        ));
    }
    let payment = tx.order_payment_for_update(order).await?.ok_or_else(|| {
        AppError::conflict(
            "no_payment",
            "this order has no payment to move money on",
            None,
        )
    })?;
    let mut books = Books::of(tx, payment).await?;
    if books.payment.provider_ref.is_none() {
        return Err(AppError::conflict(
            "payment_not_at_provider",
            format!(
                "this payment is {} and held by no provider: there is no money to move through one",
                books.payment.provider
            ),
            None,
        ));
    }
    let mine = books.order(order);
    let whole = books.payment.amounts();
    let amount = match ask {
        Ask::Capture(amount) => {
            // Left out: all the order's share still to capture (if any is).
            let amount = match amount {
                Some(amount) => amount,
                None if mine.capturable() > 0 => mine.capturable(),
                None => {
                    return Err(refused(Refused::CaptureExceeds {
                        available: 0,
                        capturing: mine.capturing,
                    }));
                }
            };
            mine.check_capture(amount).map_err(refused)?;
            whole.check_capture(amount).map_err(refused)?;
            amount
        }
        Ask::Void => mine.check_void().map_err(refused)?,
        Ask::Refund(amount) => {
            mine.check_refund(amount).map_err(refused)?;
            whole.check_refund(amount).map_err(refused)?;
            amount
        }
    };
    let row = ask_provider(
        tx,
        &mut books,
        order,
        ask.kind(),
        amount,
        actor,
        reason,
        first_try,
        now,
    )
    .await?;
    books.save(tx, now).await?;
    if let Some(movement) = movement_of(row.kind, true) {
        let event = locked.record_money(
            movement,
            amount,
            Some(row.id),
            row.reason.clone(),
            actor,
            now,
        );
        crate::orders::record(tx, &locked, &[event]).await?;
    }
    Ok(row)
}

/// Posts a request row for `order` and queues its `payment.request` job (of the same id).
#[allow(clippy::too_many_arguments)]
pub(super) async fn ask_provider(
    tx: &mut dyn StoreTx,
    books: &mut Books,
    order: OrderId,
    kind: EntryKind,
    amount: i64,
    actor: Actor,
    reason: Option<String>,
    first_try: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<PaymentEntry> {
    let mut row = entry(&books.payment, Some(order), kind, amount, now);
    row.actor = Some(actor);
    row.reason = reason;
    books.post(tx, &row, None).await?;
    let mut job = new_job(JobKind::PaymentRequest, &row.id.to_string(), first_try);
    job.id = row.id;
    tx.enqueue_job(&job, now).await?;
    Ok(row)
}

/// The event a refund or void request (`requested`), or its outcome, is recorded as in the
/// order's log; captures are not (they are the order being paid, not money going back).
pub(super) fn movement_of(kind: EntryKind, requested: bool) -> Option<MoneyMovement> {
    use MoneyMovement as M;
    Some(match (kind, requested) {
        (EntryKind::RefundRequested, true) => M::RefundRequested,
        (EntryKind::VoidRequested, true) => M::VoidRequested,
        (EntryKind::RefundSucceeded, false) => M::Refunded,
        (EntryKind::RefundFailed, false) => M::RefundFailed,
        (EntryKind::VoidSucceeded | EntryKind::AuthorizationExpired, false) => M::Voided,
        (EntryKind::VoidFailed, false) => M::VoidFailed,
        _ => return None,
    })
}

/// How a provider call for a request ended.
enum Outcome {
    /// Done: the outcome row's amount, the provider's reference of it (a refund's id), and
    /// the payment's state at the provider after it.
    Succeeded(i64, Option<String>, Option<PaymentState>),
    /// Refused (or given up): not worth trying again as it is. The provider's answer, and
    /// whether the request was given up after its tries.
    Failed(String, bool),
    /// Not now: try again later with the same key. `unknown`: it may have been done.
    Later { why: String, unknown: bool },
}

impl App {
    /// Captures, voids or refunds (see [`Ask`]) an order's share of its payment, as `actor`
    /// may. Answers once the provider has answered (or the request waits for a retry: its
    /// status shows `capturing`, `refunding`…).
    pub async fn move_money(
        &self,
        actor: &Actor,
        proof: Proof,
        order: OrderId,
        ask: Ask,
        reason: Option<String>,
    ) -> AppResult<PaymentDetail> {
        may_move_money(actor, matches!(ask, Ask::Refund(_)))?;
        let o = self.order(actor, order).await?;
        if matches!(ask, Ask::Refund(_)) {
            self.require_fresh(actor, proof, Sensitive::RefundPayment)?;
        }
        // Checked as an order action's reason is (length, no control characters).
        let reason = ordo_domain::order::ActionInput::parse(reason, None)?.reason;
        let (actor, now) = (*actor, self.now());
        // The job is the safety net: the call below normally ends the request first.
        let first_try = now + chrono::Duration::seconds(30);
        let request_id: Uuid = with_retry(|| {
            let reason = reason.clone();
            self.write_once(move |tx| {
                Box::pin(async move {
                    let row = request(tx, order, ask, actor, reason, first_try, now).await?;
                    Ok(row.id)
                })
            })
        })
        .await?;
        self.run_request(request_id, None).await?;
        self.payment_of(&o).await
    }

    /// The demo's stuck payment: asks for the order's capture and makes every try at once, so
    /// a failing card ends in the exception queue without the hour of waiting between them.
    pub(crate) async fn capture_given_up(&self, order: OrderId) -> AppResult<()> {
        self.move_money(
            &Actor::system(),
            Proof::SYSTEM,
            order,
            Ask::Capture(None),
            None,
        )
        .await?;
        let payment = self
            .store
            .order_payment(order)
            .await?
            .ok_or(AppError::NotFound("payment"))?;
        let entries = self.store.payment_entries(payment.id).await?;
        let request = entries
            .iter()
            .rev()
            .find(|e| e.kind == EntryKind::CaptureRequested)
            .ok_or(AppError::NotFound("capture request"))?;
        // Every try Ordo would make, one after another (the sandbox answers at once).
        for attempt in 1..=self.settings.payments.attempts {
            self.run_request(request.id, Some(attempt)).await?;
        }
        Ok(())
    }

    async fn payment_of(&self, order: &Order) -> AppResult<PaymentDetail> {
        let payment = self
            .store
            .order_payment(order.id)
            .await?
            .ok_or(AppError::NotFound("payment"))?;
        self.payment_detail(payment).await
    }

    /// Sends an open request to the provider and records how it ended. `attempt`: the job's
    /// try (`None` for the call made while the person waits). Returns how the job ends.
    pub(crate) async fn run_request(&self, id: Uuid, attempt: Option<i32>) -> AppResult<JobEnd> {
        let Some(provider) = self.provider.clone() else {
            return Ok(JobEnd::Dead {
                error: "no payment provider is configured on this node".into(),
            });
        };
        let Some((payment, row)) = self.open_request(id).await? else {
            return Ok(JobEnd::Done);
        };
        let reference = payment.provider_ref.clone().unwrap_or_default();
        let key = id.to_string();
        // A share released in Ordo's books alone (others of the payment were still held).
        let mut released_here = false;
        let outcome = match row.kind {
            EntryKind::CaptureRequested => {
                match provider.capture(&reference, row.amount, &key).await {
                    Ok(pp) => Outcome::Succeeded(row.amount, None, Some(pp.state)),
                    Err(e) => outcome_of(e),
                }
            }
            EntryKind::VoidRequested => {
                // The provider lets an authorization go as a whole: only when nothing else of
                // it is left to capture is it cancelled there; otherwise this share is simply
                // never captured, and goes with the payment's final capture or lapse.
                let whole = payment.amounts().capturable() + payment.amounts().voiding;
                if whole > row.amount {
                    released_here = true;
                    Outcome::Succeeded(row.amount, None, None)
                } else {
                    match provider.cancel(&reference, &key).await {
                        Ok(pp) => Outcome::Succeeded(row.amount, None, Some(pp.state)),
                        Err(e) => outcome_of(e),
                    }
                }
            }
            EntryKind::RefundRequested => {
                match provider.refund(&reference, row.amount, &key).await {
                    Ok(r) if r.succeeded => Outcome::Succeeded(r.amount, Some(r.reference), None),
                    Ok(r) => Outcome::Failed(
                        format!("the provider refused refund {}", r.reference),
                        false,
                    ),
                    Err(e) => outcome_of(e),
                }
            }
            other => {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "ledger row {id} is {other}, not a request"
                )));
            }
        };
        let retry_after = self.settings.payments.retry_after;
        let last = attempt.is_some_and(|n| n >= self.settings.payments.attempts);
        let (end, outcome) = match outcome {
            // It may have been done: never ended as failed (its amount stays on its way, so
            // no cap is freed), but handed to people, who may ask again with the same key.
            Outcome::Later { why, unknown: true } if last => {
                self.outcome_unknown(&payment, &row, &why).await?;
                return Ok(JobEnd::Dead { error: why });
            }
            Outcome::Later { why, .. } if last => (
                JobEnd::Dead { error: why.clone() },
                Outcome::Failed(why, true),
            ),
            Outcome::Later { why, .. } => {
                // Five minutes after the first failure (the call made while someone waited, or
                // the job's first try), then twice as long after each later one.
                let n = attempt.map_or(0, |a| a - 1).clamp(0, 10) as u32;
                let run_at = self.now() + retry_after * 2_i32.pow(n);
                tracing::warn!(request = %id, error = %why, %run_at, "payment request failed for now; will retry");
                let end = JobEnd::Retry { run_at, error: why };
                if attempt.is_none() {
                    // The job is told when to try (its own tries set it themselves).
                    let (at, end2) = (self.now(), end.clone());
                    self.write(move |tx| {
                        Box::pin(async move { Ok(tx.finish_job(id, &end2, at).await?) })
                    })
                    .await?;
                }
                return Ok(end);
            }
            other => (JobEnd::Done, other),
        };
        self.end_request(&payment, &row, outcome).await?;
        if released_here {
            self.release_if_nothing_held(payment.id).await?;
        }
        Ok(end)
    }

    /// When the last held share of an authorization was released in the books alone (sibling
    /// shares released at once each saw the others still held), lets it go at the provider too,
    /// so the customer's card is not held until the authorization lapses.
    async fn release_if_nothing_held(&self, id: Uuid) -> AppResult<()> {
        let (Some(provider), Some(p)) = (self.provider.clone(), self.store.payment(id).await?)
        else {
            return Ok(());
        };
        let a = p.amounts();
        let nothing_held = a.capturable() == 0 && a.capturing == 0 && a.voiding == 0;
        if p.state() != PaymentState::Authorized || a.captured > 0 || !nothing_held {
            return Ok(());
        }
        let Some(reference) = p.provider_ref else {
            return Ok(());
        };
        // One key for the payment's release: however many shares get here, it is one call.
        let answer = provider.cancel(&reference, &format!("{id}/release")).await;
        self.settle(id, &reference, answer, None).await?;
        Ok(())
    }

    /// A request whose outcome stayed unknown through its tries: handed to people.
    async fn outcome_unknown(
        &self,
        payment: &Payment,
        row: &PaymentEntry,
        why: &str,
    ) -> AppResult<()> {
        use crate::exceptions::{Body, ExceptionKind, Tried, money, raise, short};
        let (now, attempts) = (self.now(), self.settings.payments.attempts);
        let order = row.order_id;
        let body = Body {
            summary: format!(
                "Ordo asked the payment provider to {} {} for order {}, but never heard whether it happened ({attempts} tries). Nothing is sent again without you: retrying asks the provider the same request again, which cannot make it happen twice.",
                verb(row.kind),
                money(row.amount, payment.currency),
                order.map(short).unwrap_or_default()
            ),
            payment_id: Some(payment.id),
            request_id: Some(row.id),
            tried: vec![
                Tried {
                    at: row.created_at,
                    what: format!("asked to {}", verb(row.kind)),
                },
                Tried {
                    at: now,
                    what: format!("no clear answer after {attempts} tries"),
                },
            ],
            detail: Some(why.to_owned()),
            ..Body::default()
        };
        let key = format!("payment-request/{}", row.id);
        self.write(move |tx| {
            Box::pin(async move {
                raise(
                    tx,
                    ExceptionKind::PaymentOutcomeUnknown,
                    key,
                    order,
                    body,
                    now,
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Queues a request given up with an unknown outcome again (its job was dead).
    pub(crate) async fn reopen_request(&self, id: Uuid) -> AppResult<()> {
        let now = self.now();
        self.write(move |tx| Box::pin(async move { Ok(tx.retry_job(id, now).await?) }))
            .await?;
        Ok(())
    }

    /// The request row `id` and its payment, if the request is still open.
    async fn open_request(&self, id: Uuid) -> AppResult<Option<(Payment, PaymentEntry)>> {
        let Some(row) = self.store.payment_entry(id).await? else {
            return Ok(None);
        };
        let entries = self.store.payment_entries(row.payment_id).await?;
        if entries.iter().any(|e| e.request_id == Some(id)) {
            return Ok(None);
        }
        let payment = self
            .store
            .payment(row.payment_id)
            .await?
            .ok_or(AppError::NotFound("payment"))?;
        Ok(Some((payment, row)))
    }

    /// Writes a request's outcome row (once) and ends its job.
    async fn end_request(
        &self,
        payment: &Payment,
        row: &PaymentEntry,
        outcome: Outcome,
    ) -> AppResult<()> {
        let (payment_id, row) = (payment.id, row.clone());
        let outcome = std::sync::Arc::new(outcome);
        let attempts = self.settings.payments.attempts;
        with_retry(|| {
            let (row, outcome, now) = (row.clone(), std::sync::Arc::clone(&outcome), self.now());
            self.write(move |tx| {
                Box::pin(async move {
                    // The order first, then its payment, as cancelling and requesting do.
                    let mut order = match row.order_id {
                        Some(id) => tx.order_for_update(id).await?,
                        None => None,
                    };
                    let mut books = Books::open(tx, payment_id).await?;
                    let (kind, amount, provider_ref, detail, state) = match &*outcome {
                        Outcome::Succeeded(amount, provider_ref, state) => (
                            succeeded(row.kind),
                            *amount,
                            provider_ref.clone(),
                            None,
                            *state,
                        ),
                        Outcome::Failed(why, _) | Outcome::Later { why, .. } => {
                            (failed(row.kind), row.amount, None, Some(why.clone()), None)
                        }
                    };
                    let mut end = entry(&books.payment, row.order_id, kind, amount, now);
                    end.request_id = Some(row.id);
                    end.provider_ref = provider_ref;
                    end.detail = detail;
                    let posted = books.post(tx, &end, Some(row.amount)).await?;
                    if let Some(state) = state {
                        books.payment.report(state);
                    }
                    books.save(tx, now).await?;
                    tx.finish_job(row.id, &JobEnd::Done, now).await?;
                    // A capture that was on its way when its order was cancelled: whatever
                    // came of it, what the order holds goes back (below), and nobody is asked
                    // to capture it again.
                    let cancelled_capture = row.kind == EntryKind::CaptureRequested
                        && order
                            .as_ref()
                            .is_some_and(|o| o.status() == OrderStatus::Cancelled);
                    if let Outcome::Failed(why, given_up) = &*outcome
                        && !cancelled_capture
                    {
                        request_failed(tx, &books, &row, why, *given_up, attempts, now).await?;
                    }
                    let Some(order) = order.as_mut().filter(|_| posted) else {
                        return Ok(());
                    };
                    let mut events = Vec::new();
                    if let Some(movement) = movement_of(kind, false) {
                        // The provider's own words stay in the ledger (for admins): the order's
                        // log is read by its customer.
                        let system = Actor::system();
                        events.push(order.record_money(
                            movement,
                            end.amount,
                            Some(row.id),
                            None,
                            system,
                            now,
                        ));
                    }
                    if cancelled_capture {
                        // Captured (or not) after the order was cancelled: what it holds now,
                        // captured or still authorized, goes back.
                        let reason = Some("captured after the order was cancelled".to_owned());
                        let (_, more) = give_back(tx, order, Actor::system(), reason, now).await?;
                        events.extend(more);
                    }
                    crate::orders::record(tx, order, &events).await?;
                    Ok(())
                })
            })
        })
        .await
    }
}

/// Records `order` as paid outside any provider (`pay` by an admin: bank transfer, cash on
/// delivery) by `actor`, in the order's own transaction: the rest of its share not yet
/// authorized, posted as `manual_payment` with `reference` — on the order's payment, or on a
/// new `manual` payment when it has none.
pub(crate) async fn record_manual_payment(
    tx: &mut dyn StoreTx,
    order: &Order,
    actor: Actor,
    reference: Option<String>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let payment = match tx.order_payment_for_update(order.id).await? {
        Some(p) => p,
        None => {
            let p = Payment::paid_by_hand(PaymentDraft {
                id: Uuid::now_v7(),
                checkout_id: order.checkout_id,
                customer_id: order.customer_id,
                provider: "manual".into(),
                provider_ref: None,
                currency: order.currency,
                amount: order.total.amount,
                capture_policy: CapturePolicy::Automatic,
                capture_before: None,
                client_secret: None,
                created_at: now,
            });
            if p.amount <= 0 {
                return Ok(());
            }
            let share = PaymentAllocation {
                order_id: order.id,
                vendor_id: order.vendor_id,
                amount: order.total.amount,
                commission_bp: tx
                    .vendor_commission_now(order.vendor_id)
                    .await?
                    .unwrap_or(0),
            };
            tx.insert_payment(&p, &[share]).await?;
            p
        }
    };
    let mut books = Books::of(tx, payment).await?;
    // What is not held for it already: an authorization let go (voided) holds nothing.
    let mine = books.order(order.id);
    let owed = order.total.amount - (mine.authorized - mine.voided - mine.voiding);
    if owed <= 0 {
        return Ok(());
    }
    let mut row = entry(
        &books.payment,
        Some(order.id),
        EntryKind::ManualPayment,
        owed,
        now,
    );
    row.actor = Some(actor);
    row.reference = reference;
    books.post(tx, &row, None).await?;
    books.save(tx, now).await
}

fn succeeded(request: EntryKind) -> EntryKind {
    match request {
        EntryKind::CaptureRequested => EntryKind::CaptureSucceeded,
        EntryKind::VoidRequested => EntryKind::VoidSucceeded,
        _ => EntryKind::RefundSucceeded,
    }
}

fn failed(request: EntryKind) -> EntryKind {
    match request {
        EntryKind::CaptureRequested => EntryKind::CaptureFailed,
        EntryKind::VoidRequested => EntryKind::VoidFailed,
        _ => EntryKind::RefundFailed,
    }
}

fn outcome_of(e: ProviderError) -> Outcome {
    match e {
        ProviderError::Transient(why) => Outcome::Later {
            why,
            unknown: false,
        },
        ProviderError::Unknown(why) => Outcome::Later { why, unknown: true },
        other => Outcome::Failed(other.to_string(), false),
    }
}

/// What a request asks, in words.
fn verb(request: EntryKind) -> &'static str {
    match request {
        EntryKind::CaptureRequested => "capture",
        EntryKind::VoidRequested => "release",
        _ => "refund",
    }
}

/// Raises the exception of a request that ended failed (refused, or given up).
async fn request_failed(
    tx: &mut dyn StoreTx,
    books: &Books,
    row: &PaymentEntry,
    why: &str,
    given_up: bool,
    attempts: i32,
    now: DateTime<Utc>,
) -> AppResult<()> {
    use crate::exceptions::{Body, ExceptionKind, Tried, money, raise, short};
    let p = &books.payment;
    let amount = money(row.amount, p.currency);
    let order = row.order_id.map(short).unwrap_or_default();
    let cause = if given_up {
        format!("the payment provider could not be reached or did not answer ({attempts} tries)")
    } else {
        "the payment provider refused it".to_owned()
    };
    let (kind, summary) = match row.kind {
        EntryKind::CaptureRequested => (
            ExceptionKind::PaymentCaptureFailed,
            format!(
                "Taking {amount} from the customer for order {order} failed: {cause}. The money is still only reserved on their card{}; the order is not paid for until it is captured.",
                p.capture_before
                    .map(|t| format!(" (until {})", t.format("%Y-%m-%d")))
                    .unwrap_or_default()
            ),
        ),
        EntryKind::RefundRequested => (
            ExceptionKind::RefundFailed,
            format!(
                "Refunding {amount} to the customer of order {order} failed: {cause}. The customer has not got this money back."
            ),
        ),
        _ => (
            ExceptionKind::PaymentVoidFailed,
            format!(
                "Releasing the {amount} reserved on the customer's card for order {order} failed: {cause}. It stays reserved until the authorization lapses."
            ),
        ),
    };
    let body = Body {
        summary,
        payment_id: Some(p.id),
        request_id: Some(row.id),
        tried: vec![
            Tried {
                at: row.created_at,
                what: format!("asked to {} {amount}", verb(row.kind)),
            },
            Tried {
                at: now,
                what: if given_up {
                    format!("gave up after {attempts} tries")
                } else {
                    "refused by the provider".into()
                },
            },
        ],
        detail: Some(why.to_owned()),
        ..Body::default()
    };
    let key = format!("payment-request/{}", row.id);
    raise(tx, kind, key, row.order_id, body, now).await?;
    Ok(())
}
