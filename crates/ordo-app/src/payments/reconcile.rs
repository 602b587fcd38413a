//! Reconciling cancelled orders with their money: finding those that still hold a customer's
//! money, and giving it back (`ordo payments reconcile --cancelled [--apply]`).
//!
//! Since cancelling gives money back in the cancellation's own transaction, a cancelled order
//! holds none once its requests end. Orders cancelled before that (or whose give-back was
//! refused and dismissed) may: this finds them from the ledger — the truth, never the stored
//! share status alone — lists what each holds, since when and who cancelled it, puts each in
//! the exception queue once (`payment_for_cancelled_order`, so support sees the same list), and
//! on request gives the money back through the same path a cancellation takes, recorded on the
//! order's log. Giving back counts what is refunded or on its way, so running it again sends
//! nothing twice.

use chrono::{DateTime, Utc};
use ordo_domain::identity::Actor;
use ordo_domain::ids::{OrderId, UserId, VendorId};
use ordo_domain::money::Currency;
use ordo_domain::order::{Action, OrderChange};
use ordo_store::ExceptionStatus;

use super::refunds::GivenBack;
use crate::exceptions::{Body, ExceptionKind, money, raise, short};
use crate::{App, AppResult};

/// Orders looked at in one page of the scan.
const PAGE: u32 = 500;

/// A cancelled order that still holds its customer's money.
#[derive(Debug, Clone)]
pub struct Unreturned {
    pub order_id: OrderId,
    pub customer_id: UserId,
    pub vendor_id: VendorId,
    pub currency: Currency,
    /// What the order's share had captured, refunded, and has on its way back.
    pub captured: i64,
    pub refunded: i64,
    pub refunding: i64,
    /// Captured and not refunded nor on its way: what a refund sends.
    pub to_refund: i64,
    /// Authorized, never captured nor released: what a void releases.
    pub to_release: i64,
    /// Whether some of the money was taken outside any provider (people give it back by hand).
    pub by_hand: bool,
    /// When it was cancelled, by whom, and why.
    pub cancelled_at: DateTime<Utc>,
    pub cancelled_by: Actor,
    pub reason: Option<String>,
}

/// Raises `payment_for_cancelled_order` for `order` with `summary` (once per order, whoever
/// finds it: a cancellation of money paid by hand, or a reconciliation).
pub(crate) async fn flag(
    tx: &mut dyn ordo_store::StoreTx,
    order: OrderId,
    payment_id: Option<uuid::Uuid>,
    summary: String,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let body = Body {
        summary,
        payment_id,
        ..Body::default()
    };
    let key = format!("payment-for-cancelled-order/{order}");
    raise(
        tx,
        ExceptionKind::PaymentForCancelledOrder,
        key,
        Some(order),
        body,
        now,
    )
    .await?;
    Ok(())
}

/// What a reconciliation found, and what it gave back (with `apply`).
#[derive(Debug, Clone)]
pub struct Reconciled {
    pub order: Unreturned,
    pub given: Option<GivenBack>,
}

impl App {
    /// Every cancelled order still holding its customer's money (see the module docs); each
    /// is put in the exception queue once. With `apply`, gives each one's money back as
    /// `actor` (audited on the order's log, with `reason`).
    pub async fn reconcile_cancelled(
        &self,
        actor: Actor,
        apply: bool,
        reason: &str,
    ) -> AppResult<Vec<Reconciled>> {
        let mut found = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .cancelled_orders_holding_money(after, PAGE)
                .await?;
            after = page.last().copied();
            for id in &page {
                if let Some(u) = self.unreturned(*id).await? {
                    found.push(u);
                }
            }
            if page.len() < PAGE as usize {
                break;
            }
        }
        let mut out = Vec::with_capacity(found.len());
        for order in found {
            self.flag_unreturned(&order).await?;
            let given = if apply {
                let given = self
                    .give_back(order.order_id, actor, Some(reason.to_owned()))
                    .await?;
                // Money paid by hand keeps its item open: people still have to send it.
                if given.by_hand == 0 {
                    self.resolve_flag(&order, actor, &given).await?;
                }
                Some(given)
            } else {
                None
            };
            out.push(Reconciled { order, given });
        }
        Ok(out)
    }

    /// What cancelled order `id` still holds, if anything.
    async fn unreturned(&self, id: OrderId) -> AppResult<Option<Unreturned>> {
        let (Some(order), Some(payment)) = (
            self.store.order(id).await?,
            self.store.order_payment(id).await?,
        ) else {
            return Ok(None);
        };
        let entries = self.store.payment_entries(payment.id).await?;
        let a = super::order_amounts(&entries, id);
        if a.refundable() <= 0 && a.capturable() <= 0 {
            return Ok(None);
        }
        let events = self.store.order_events(id).await?;
        let cancel = events.iter().rev().find(|e| {
            matches!(
                e.change,
                OrderChange::Transitioned {
                    action: Action::Cancel,
                    ..
                }
            )
        });
        Ok(Some(Unreturned {
            order_id: id,
            customer_id: order.customer_id,
            vendor_id: order.vendor_id,
            currency: order.currency,
            captured: a.captured,
            refunded: a.refunded,
            refunding: a.refunding,
            to_refund: a.refundable(),
            to_release: a.capturable().max(0),
            by_hand: payment.provider_ref.is_none() || super::held_by_hand(&entries, id) > 0,
            cancelled_at: cancel.map_or(order.updated_at, |e| e.at),
            cancelled_by: cancel.map_or_else(Actor::system, |e| e.actor),
            reason: order.cancel_reason,
        }))
    }

    /// Resolves the order's open `payment_for_cancelled_order` item: its money is on its way.
    async fn resolve_flag(&self, u: &Unreturned, by: Actor, given: &GivenBack) -> AppResult<()> {
        let filter = ordo_store::ExceptionFilter {
            status: Some(ExceptionStatus::Open),
            kind: Some(ExceptionKind::PaymentForCancelledOrder.as_str().into()),
            order_id: Some(u.order_id),
            limit: 10,
        };
        let now = self.now();
        for item in self.store.exceptions(&filter).await? {
            let mut e = crate::exceptions::Exception::of(item)?;
            e.move_to(ExceptionStatus::Resolved, now)?;
            e.body.resolution = Some(crate::exceptions::Resolved {
                resolution: crate::exceptions::Resolution::Refund.as_str().into(),
                note: Some("ordo payments reconcile --cancelled --apply".into()),
                by,
                at: now,
                outcome: format!(
                    "asked the provider to refund {} and release {}",
                    money(given.refund, u.currency),
                    money(given.void, u.currency)
                ),
            });
            self.save_exception(&e).await?;
        }
        Ok(())
    }

    /// Puts an unreturned order in the exception queue (once per order), unless an open item
    /// already says what became of its money (a refund that failed, say).
    async fn flag_unreturned(&self, u: &Unreturned) -> AppResult<()> {
        let open = ordo_store::ExceptionFilter {
            status: Some(ExceptionStatus::Open),
            kind: None,
            order_id: Some(u.order_id),
            limit: 1,
        };
        if !self.store.exceptions(&open).await?.is_empty() {
            return Ok(());
        }
        let held = money(u.to_refund + u.to_release, u.currency);
        let summary = format!(
            "Order {} was cancelled on {} ({}), but {held} of the customer's money was never given back{}.",
            short(u.order_id),
            u.cancelled_at.format("%Y-%m-%d %H:%M UTC"),
            match &u.reason {
                Some(r) => format!("by {}: {r}", u.cancelled_by.role),
                None => format!("by {}", u.cancelled_by.role),
            },
            if u.by_hand {
                ": it was paid by hand, so return it by hand and mark it refunded"
            } else {
                ": refund it"
            }
        );
        let (order, now) = (u.order_id, self.now());
        self.write(move |tx| Box::pin(async move { flag(tx, order, None, summary, now).await }))
            .await?;
        Ok(())
    }
}
