//! What resolving an exception does to the money (and the order) it is about: each resolution
//! of the queue (`crate::exceptions`) run through the payments' own use cases — a retry is a
//! request again, `mark_paid` and `mark_refunded` record money moved by hand, `cancel_order`
//! cancels through the order table (which gives the money back), `refund` gives back what a
//! cancelled order still holds.

use ordo_domain::identity::{Actor, Proof};
use ordo_domain::order::{Action, ActionInput};

use super::requests::Ask;
use crate::exceptions::{Exception, ExceptionKind, Resolution, money};
use crate::{App, AppError, AppResult};

impl App {
    /// Runs a resolution through the use cases; returns what came of it.
    pub(crate) async fn carry_out(
        &self,
        e: &Exception,
        resolution: Resolution,
        by: &Actor,
        note: Option<String>,
    ) -> AppResult<String> {
        let system = Actor::system();
        let order = e.order_id;
        let reason = Some(format!("resolving exception {}", e.id));
        let on_order = || {
            order.ok_or_else(|| {
                AppError::conflict("no_order", "this exception names no order", None)
            })
        };
        let described = |d: crate::payments::PaymentDetail| {
            let a = d.payment.amounts();
            format!(
                "the payment is now {} (captured {}, refunded {}, still on its way {})",
                d.status,
                money(a.captured, d.payment.currency),
                money(a.refunded, d.payment.currency),
                money(a.capturing + a.refunding + a.voiding, d.payment.currency)
            )
        };
        match resolution {
            Resolution::ContactCustomer | Resolution::Dismiss => {
                Ok("nothing was changed in Ordo".into())
            }
            Resolution::RetryNow => {
                let request = e.body.request_id.ok_or_else(|| {
                    AppError::conflict(
                        "no_request",
                        "this exception names no payment request",
                        None,
                    )
                })?;
                if e.kind == ExceptionKind::PaymentOutcomeUnknown {
                    // The same request again, with its key: it cannot happen twice.
                    self.reopen_request(request).await?;
                    self.run_request(request, None).await?;
                    let d = self.order_payment(&system, on_order()?).await?;
                    return Ok(d.map_or_else(|| "asked again".into(), described));
                }
                let row = self
                    .store
                    .payment_entry(request)
                    .await?
                    .ok_or(AppError::NotFound("payment request"))?;
                let ask = match row.kind {
                    ordo_domain::payment::EntryKind::CaptureRequested => {
                        Ask::Capture(Some(row.amount))
                    }
                    ordo_domain::payment::EntryKind::RefundRequested => Ask::Refund(row.amount),
                    _ => Ask::Void,
                };
                let d = self
                    .move_money(&system, Proof::SYSTEM, on_order()?, ask, reason)
                    .await?;
                Ok(described(d))
            }
            Resolution::MarkPaid => {
                let id = on_order()?;
                // The card hold goes (nothing to let go is fine), then the money by hand.
                match self
                    .move_money(&system, Proof::SYSTEM, id, Ask::Void, reason)
                    .await
                {
                    Ok(_) | Err(AppError::Conflict { .. }) => {}
                    Err(other) => return Err(other),
                }
                let order = self
                    .store
                    .order(id)
                    .await?
                    .ok_or(AppError::NotFound("order"))?;
                let (by, now) = (*by, self.now());
                self.write(move |tx| {
                    Box::pin(async move {
                        crate::payments::requests::record_manual_payment(tx, &order, by, note, now)
                            .await
                    })
                })
                .await?;
                let d = self
                    .order_payment(&system, id)
                    .await?
                    .ok_or(AppError::NotFound("payment"))?;
                Ok(described(d))
            }
            Resolution::CaptureNow => {
                let d = self
                    .move_money(
                        &system,
                        Proof::SYSTEM,
                        on_order()?,
                        Ask::Capture(None),
                        reason,
                    )
                    .await?;
                Ok(described(d))
            }
            Resolution::CancelOrder => {
                let id = on_order()?;
                let input = ActionInput {
                    reason: Some("cancelled from the exception queue".into()),
                    ..ActionInput::default()
                };
                // Cancelling gives the order's money back by itself (released or refunded).
                let cancelled = match self
                    .act_as(system, Proof::SYSTEM, id, Action::Cancel, input)
                    .await
                {
                    Ok(o) => format!("the order is {}", o.status()),
                    Err(AppError::InvalidTransition { status, .. }) => {
                        format!("the order stays {status} (it cannot be cancelled now)")
                    }
                    Err(other) => return Err(other),
                };
                let d = self.order_payment(&system, id).await?;
                Ok(match d {
                    Some(d) => format!("{cancelled}; {}", described(d)),
                    None => cancelled,
                })
            }
            Resolution::Refund => {
                let id = on_order()?;
                let given = self.give_back(id, *by, reason).await?;
                if given.refund + given.void == 0 && given.by_hand > 0 {
                    // No provider can send back money paid by hand: the item stays open.
                    return Err(AppError::conflict(
                        "paid_by_hand",
                        "this order's money was paid by hand, so no provider can send it back: give it back by hand, then resolve with mark_refunded and the transfer's reference",
                        Some("resolution"),
                    ));
                }
                if given.is_empty() {
                    return Ok("nothing was left to send back".into());
                }
                let d = self
                    .order_payment(&system, id)
                    .await?
                    .ok_or(AppError::NotFound("payment"))?;
                Ok(described(d))
            }
            Resolution::MarkRefunded => {
                let id = on_order()?;
                // What the failed request asked, or else all the order still holds.
                let asked = match e.body.request_id {
                    Some(r) => self.store.payment_entry(r).await?.map(|row| row.amount),
                    None => None,
                };
                let d = self
                    .mark_refunded(*by, id, asked, note.unwrap_or_default())
                    .await?;
                Ok(described(d))
            }
        }
    }
}
