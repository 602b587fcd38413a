//! Giving money back: what a cancelled order still holds goes back to its customer (its
//! uncaptured authorization released, its captured share refunded) through the requests of
//! [`super::requests`], in the transaction that cancels it; and refunds people made outside
//! any provider (a bank transfer, cash) recorded as such.
//!
//! Everything here counts what was refunded or is on its way already, under the payment's row
//! lock, so however often and by whomever it is asked — a cancel, a racing refund, a money
//! report that arrives late, `ordo payments reconcile --apply` — the money goes back once.
//! Money paid by hand has no provider to go back through: it is handed to people.

use chrono::{DateTime, Utc};
use ordo_domain::identity::Actor;
use ordo_domain::ids::OrderId;
use ordo_domain::order::{MoneyMovement, Order, OrderEvent, OrderStatus};
use ordo_domain::payment::{EntryKind, Refused};
use ordo_store::StoreTx;

use super::PaymentDetail;
use super::requests::{ask_provider, movement_of, refused};
use super::settle::{Books, entry};
use crate::{App, AppError, AppResult, with_retry};

/// What cancelling an order sent back to its customer (minor units of its currency). Stored as
/// the answer to an Idempotency-Key when a person's request gives money back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GivenBack {
    /// Captured money asked back from the provider.
    pub refund: i64,
    /// Authorized, uncaptured money released.
    pub void: i64,
    /// Paid outside any provider: people give it back by hand (an exception says so).
    pub by_hand: i64,
}

impl GivenBack {
    pub fn is_empty(&self) -> bool {
        *self == GivenBack::default()
    }
}

/// Gives back the money a cancelled `order` (locked by the caller, in this transaction) still
/// holds: the uncaptured rest of its share of the authorization is released and the captured
/// rest refunded, each as a request with its job (run at once, retried as every request is),
/// and each recorded on the order (its version moves; the caller writes it and appends the
/// returned events after its own). What was refunded or is on its way already — by hand,
/// by a racing refund — is counted, so whoever calls this, and however often, the money goes
/// back once. Money paid by hand (no provider to send it through) is handed to people.
pub(crate) async fn give_back(
    tx: &mut dyn StoreTx,
    order: &mut Order,
    actor: Actor,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> AppResult<(GivenBack, Vec<OrderEvent>)> {
    let mut given = GivenBack::default();
    let mut events = Vec::new();
    let Some(payment) = tx.order_payment_for_update(order.id).await? else {
        return Ok((given, events));
    };
    let mut books = Books::of(tx, payment).await?;
    let (mine, whole) = (books.order(order.id), books.payment.amounts());
    let void = mine.capturable().min(whole.capturable());
    let mut refund = mine.refundable().min(whole.refundable());
    // Money paid by hand (or all of it, with no provider holding the payment) only people
    // can give back: they are told, and the provider is asked for the rest only.
    let by_hand = if books.payment.provider_ref.is_none() {
        refund
    } else {
        books.by_hand(order.id).min(refund)
    };
    if by_hand > 0 {
        given.by_hand = by_hand;
        refund -= by_hand;
        paid_by_hand(tx, &books, order.id, by_hand, now).await?;
    }
    if books.payment.provider_ref.is_none() {
        return Ok((given, events));
    }
    for (kind, amount) in [
        (EntryKind::VoidRequested, void),
        (EntryKind::RefundRequested, refund),
    ] {
        if amount <= 0 {
            continue;
        }
        let row = ask_provider(
            tx,
            &mut books,
            order.id,
            kind,
            amount,
            actor,
            reason.clone(),
            now,
            now,
        )
        .await?;
        if let Some(movement) = movement_of(kind, true) {
            events.push(order.record_money(
                movement,
                amount,
                Some(row.id),
                reason.clone(),
                actor,
                now,
            ));
        }
    }
    given.void = void.max(0);
    given.refund = refund.max(0);
    books.save(tx, now).await?;
    Ok((given, events))
}

/// As [`give_back`], for an order not locked yet (and cancelled, or it is refused): locks it
/// and writes what it recorded.
pub(crate) async fn give_back_order(
    tx: &mut dyn StoreTx,
    order: OrderId,
    actor: Actor,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> AppResult<GivenBack> {
    let Some(mut locked) = tx.order_for_update(order).await? else {
        return Err(AppError::NotFound("order"));
    };
    if locked.status() != OrderStatus::Cancelled {
        return Err(AppError::conflict(
            "order_not_cancelled",
            format!(
                "the order is {}: only a cancelled order's money is given back whole",
                locked.status()
            ),
            None,
        ));
    }
    let (given, events) = give_back(tx, &mut locked, actor, reason, now).await?;
    crate::orders::record(tx, &locked, &events).await?;
    Ok(given)
}

/// Raises the exception of a cancelled order paid by hand: its money goes back by hand.
async fn paid_by_hand(
    tx: &mut dyn StoreTx,
    books: &Books,
    order: OrderId,
    amount: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let p = &books.payment;
    let summary = format!(
        "Order {} was cancelled, and {} of it was paid by hand (not through a payment provider), so Ordo cannot send it back: return it to the customer by hand, then mark it refunded with the transfer's reference.",
        crate::exceptions::short(order),
        crate::exceptions::money(amount, p.currency)
    );
    super::reconcile::flag(tx, order, Some(p.id), summary, now).await
}

impl App {
    /// Gives back what cancelled `order` still holds (see [`give_back`]), as `actor`: a
    /// resolution from the exception queue, `ordo payments reconcile --apply`.
    pub(crate) async fn give_back(
        &self,
        order: OrderId,
        actor: Actor,
        reason: Option<String>,
    ) -> AppResult<GivenBack> {
        with_retry(|| {
            let (reason, now) = (reason.clone(), self.now());
            self.write_once(move |tx| {
                Box::pin(async move { give_back_order(tx, order, actor, reason, now).await })
            })
        })
        .await
    }

    /// Records that `by` gave an order's money back outside the provider (a bank transfer,
    /// with its `reference`): `amount` (at most what is still refundable; all of it when
    /// `None`) is refunded in the ledger and on the order's log.
    pub(crate) async fn mark_refunded(
        &self,
        by: Actor,
        order: OrderId,
        amount: Option<i64>,
        reference: String,
    ) -> AppResult<PaymentDetail> {
        with_retry(|| {
            let (reference, now) = (reference.clone(), self.now());
            self.write_once(move |tx| {
                Box::pin(async move {
                    let mut locked = tx
                        .order_for_update(order)
                        .await?
                        .ok_or(AppError::NotFound("order"))?;
                    let payment = tx
                        .order_payment_for_update(order)
                        .await?
                        .ok_or(AppError::NotFound("payment"))?;
                    let mut books = Books::of(tx, payment).await?;
                    let left = books
                        .order(order)
                        .refundable()
                        .min(books.payment.amounts().refundable());
                    let amount = amount.unwrap_or(left).min(left);
                    if amount <= 0 {
                        return Err(refused(Refused::RefundExceeds {
                            available: 0,
                            refunding: books.order(order).refunding,
                        }));
                    }
                    let mut row = entry(
                        &books.payment,
                        Some(order),
                        EntryKind::RefundSucceeded,
                        amount,
                        now,
                    );
                    row.actor = Some(by);
                    row.reason = Some("refunded by hand".into());
                    row.reference = Some(reference.clone());
                    books.post(tx, &row, Some(0)).await?;
                    books.save(tx, now).await?;
                    let why = Some(format!("refunded by hand, reference {reference}"));
                    let event = locked.record_money(
                        MoneyMovement::Refunded,
                        amount,
                        Some(row.id),
                        why,
                        by,
                        now,
                    );
                    crate::orders::record(tx, &locked, &[event]).await
                })
            })
        })
        .await?;
        let payment = self
            .store
            .order_payment(order)
            .await?
            .ok_or(AppError::NotFound("payment"))?;
        self.payment_detail(payment).await
    }
}
