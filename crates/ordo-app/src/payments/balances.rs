//! Vendor money: what each vendor has earned (captured − refunded − the platform's commission),
//! payouts of it, and the double-entry ledger an accountant exports.
//!
//! Nothing here is stored twice: balances are the postings of the payment ledger's money rows
//! (`ordo_domain::payment::postings`: a capture debits the provider clearing account and
//! credits the vendor, less commission, and the platform; a refund reverses both; a payout
//! moves the vendor's balance out), less payouts. The commission is the vendor's when the order
//! was placed, frozen on its share. A payout is checked against the balance under the vendor's
//! row lock, so twenty concurrent payouts never take out more than there is.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ordo_domain::ParseError;
use ordo_domain::identity::{Actor, Proof, Role, Sensitive};
use ordo_domain::ids::VendorId;
use ordo_domain::money::Currency;
use ordo_domain::payment::{Account, Commission, EntryKind, Movement, Posting, postings};
use ordo_store::{MoneyRow, Payout, PayoutState};
use uuid::Uuid;

use crate::{App, AppError, AppResult, with_retry};

/// A vendor's money in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Balance {
    pub currency: Option<Currency>,
    /// Captured on the vendor's orders (and paid by hand).
    pub sales: i64,
    pub refunded: i64,
    /// The platform's part (net of refunds).
    pub commission: i64,
    /// What the vendor is owed in all: sales − refunds − commission.
    pub earned: i64,
    /// Payouts requested and not yet marked paid.
    pub payouts_pending: i64,
    pub paid_out: i64,
    /// What may still be paid out.
    pub available: i64,
}

/// A vendor's balances, one per currency, and its commission now.
#[derive(Debug, Clone)]
pub struct VendorBalance {
    pub vendor_id: VendorId,
    pub commission_bp: u16,
    pub balances: Vec<Balance>,
}

/// One line of the exported ledger: one side of a balanced posting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    /// The ledger row or payout that moved the money (its postings sum to zero).
    pub entry_id: Uuid,
    pub at: DateTime<Utc>,
    /// `capture`, `manual_payment`, `refund`, `payout`.
    pub movement: &'static str,
    pub payment_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub vendor_id: VendorId,
    pub currency: Currency,
    pub account: Account,
    /// Debit > 0, credit < 0.
    pub amount: i64,
}

fn movement(row: &MoneyRow) -> (Movement, &'static str) {
    match row.kind {
        EntryKind::RefundSucceeded => (Movement::Refunded(row.amount), "refund"),
        EntryKind::ManualPayment => (Movement::Captured(row.amount), "manual_payment"),
        _ => (Movement::Captured(row.amount), "capture"),
    }
}

fn commission(bp: u16) -> Commission {
    Commission::basis_points(bp.min(10_000)).unwrap_or(Commission::basis_points(0).expect("0 bp"))
}

/// The postings of each money row and payout, in time order.
fn lines(rows: &[MoneyRow], payouts: &[Payout]) -> Vec<LedgerLine> {
    let mut out = Vec::new();
    for r in rows {
        let (m, name) = movement(r);
        for Posting { account, amount } in postings(m, r.vendor_id, commission(r.commission_bp)) {
            out.push(LedgerLine {
                entry_id: r.entry_id,
                at: r.at,
                movement: name,
                payment_id: Some(r.payment_id),
                order_id: Some(r.order_id.0),
                vendor_id: r.vendor_id,
                currency: r.currency,
                account,
                amount,
            });
        }
    }
    for p in payouts {
        for Posting { account, amount } in
            postings(Movement::PaidOut(p.amount), p.vendor_id, commission(0))
        {
            out.push(LedgerLine {
                entry_id: p.id,
                at: p.requested_at,
                movement: "payout",
                payment_id: None,
                order_id: None,
                vendor_id: p.vendor_id,
                currency: p.currency,
                account,
                amount,
            });
        }
    }
    out.sort_by_key(|l| (l.at, l.entry_id));
    out
}

/// Balances per currency from a vendor's money rows and payouts.
pub fn balances(rows: &[MoneyRow], payouts: &[Payout]) -> Vec<Balance> {
    let mut by: BTreeMap<&'static str, Balance> = BTreeMap::new();
    for r in rows {
        let b = balance_mut(&mut by, r.currency);
        let platform = commission(r.commission_bp).of(r.amount);
        match movement(r).0 {
            Movement::Refunded(a) => {
                b.refunded += a;
                b.commission -= platform;
                b.earned -= a - platform;
            }
            Movement::Captured(a) | Movement::PaidOut(a) => {
                b.sales += a;
                b.commission += platform;
                b.earned += a - platform;
            }
        }
    }
    for p in payouts {
        let b = balance_mut(&mut by, p.currency);
        if p.state() == PayoutState::Paid {
            b.paid_out += p.amount;
        } else {
            b.payouts_pending += p.amount;
        }
    }
    by.into_values()
        .map(|mut b| {
            b.available = b.earned - b.paid_out - b.payouts_pending;
            b
        })
        .collect()
}

fn balance_mut<'a>(by: &'a mut BTreeMap<&'static str, Balance>, c: Currency) -> &'a mut Balance {
    let b = by.entry(c.code()).or_default();
    b.currency = Some(c);
    b
}

/// Who may see a vendor's money: its staff, support and admins (others: not found).
fn may_see(actor: &Actor, vendor: VendorId) -> AppResult<()> {
    if actor.manages_vendor(vendor) || matches!(actor.role, Role::Support | Role::System) {
        Ok(())
    } else if matches!(actor.role, Role::Customer | Role::Carrier) {
        Err(AppError::Forbidden(
            "a vendor's money is for its staff, support and admins".into(),
        ))
    } else {
        Err(AppError::NotFound("vendor"))
    }
}

fn admin_only(actor: &Actor, what: &str) -> AppResult<()> {
    match actor.role {
        Role::Admin | Role::System => Ok(()),
        _ => Err(AppError::Forbidden(format!("{what} is for admins"))),
    }
}

impl App {
    /// A vendor's balances and commission.
    pub async fn vendor_balance(
        &self,
        actor: &Actor,
        vendor: VendorId,
    ) -> AppResult<VendorBalance> {
        may_see(actor, vendor)?;
        let commission_bp = self
            .store
            .vendor_commission(vendor)
            .await?
            .ok_or(AppError::NotFound("vendor"))?;
        let (rows, payouts) = tokio::try_join!(
            self.store.money_rows(Some(vendor), None, None),
            self.store.payouts(Some(vendor), None, None)
        )?;
        Ok(VendorBalance {
            vendor_id: vendor,
            commission_bp,
            balances: balances(&rows, &payouts),
        })
    }

    /// Sets a vendor's commission (admins; a sensitive action). Orders placed from now on
    /// carry it; placed ones keep theirs.
    pub async fn set_commission(
        &self,
        actor: &Actor,
        proof: Proof,
        vendor: VendorId,
        basis_points: i64,
    ) -> AppResult<VendorBalance> {
        admin_only(actor, "setting a vendor's commission")?;
        self.require_fresh(actor, proof, Sensitive::ManagePayouts)?;
        let bp = u16::try_from(basis_points)
            .ok()
            .filter(|bp| *bp <= 10_000)
            .ok_or_else(|| {
                ParseError::new(
                    "invalid_commission",
                    "basis_points is 0 to 10,000 (0–100 %)",
                )
                .at("basis_points")
            })?;
        let found = self
            .write_once(move |tx| {
                Box::pin(async move { Ok(tx.set_vendor_commission(vendor, bp).await?) })
            })
            .await?;
        if !found {
            return Err(AppError::NotFound("vendor"));
        }
        self.vendor_balance(actor, vendor).await
    }

    /// A vendor's payouts, oldest first.
    pub async fn payouts(&self, actor: &Actor, vendor: VendorId) -> AppResult<Vec<Payout>> {
        may_see(actor, vendor)?;
        if self.store.vendor_commission(vendor).await?.is_none() {
            return Err(AppError::NotFound("vendor"));
        }
        Ok(self.store.payouts(Some(vendor), None, None).await?)
    }

    /// Asks for a payout of a vendor's balance (its staff, admins; a sensitive action): never
    /// more than is available, checked under the vendor's lock.
    pub async fn request_payout(
        &self,
        actor: &Actor,
        proof: Proof,
        vendor: VendorId,
        amount: i64,
        currency: &str,
    ) -> AppResult<Payout> {
        if !actor.manages_vendor(vendor) {
            return match actor.role {
                Role::Vendor => Err(AppError::NotFound("vendor")),
                _ => Err(AppError::Forbidden(
                    "payouts are asked for by the vendor's staff and admins".into(),
                )),
            };
        }
        self.require_fresh(actor, proof, Sensitive::ManagePayouts)?;
        let currency = Currency::parse(currency).map_err(|e| e.at("currency"))?;
        if amount <= 0 {
            return Err(
                ParseError::new("invalid_amount", "the amount must be more than zero")
                    .at("amount")
                    .into(),
            );
        }
        let (actor, now) = (*actor, self.now());
        let id: Uuid = with_retry(|| {
            self.write_once(move |tx| {
                Box::pin(async move {
                    let (rows, payouts) = tx
                        .vendor_money_for_update(vendor)
                        .await?
                        .ok_or(AppError::NotFound("vendor"))?;
                    let available = balances(&rows, &payouts)
                        .into_iter()
                        .find(|b| b.currency == Some(currency))
                        .map_or(0, |b| b.available);
                    if amount > available {
                        return Err(AppError::conflict(
                            "payout_exceeds_balance",
                            format!(
                                "only {} is available to pay out",
                                crate::exceptions::money(available.max(0), currency)
                            ),
                            Some("amount"),
                        ));
                    }
                    let payout =
                        Payout::request(Uuid::now_v7(), vendor, currency, amount, actor, now);
                    tx.put_payout(&payout).await?;
                    Ok(payout.id)
                })
            })
        })
        .await?;
        self.payout(vendor, id).await
    }

    /// One payout of a vendor, as stored.
    async fn payout(&self, vendor: VendorId, id: Uuid) -> AppResult<Payout> {
        self.store
            .payouts(Some(vendor), None, None)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or(AppError::NotFound("payout"))
    }

    /// Marks a payout paid (admins; a sensitive action), with the bank transfer's reference.
    pub async fn mark_payout_paid(
        &self,
        actor: &Actor,
        proof: Proof,
        vendor: VendorId,
        payout: Uuid,
        reference: Option<String>,
    ) -> AppResult<Payout> {
        admin_only(actor, "marking a payout paid")?;
        self.require_fresh(actor, proof, Sensitive::ManagePayouts)?;
        let reference = ordo_domain::order::ActionInput::parse(reference, None)
            .map_err(|e| AppError::Invalid(e.at("reference")))?
            .reason;
        let (actor, now) = (*actor, self.now());
        self.write_once(move |tx| {
            Box::pin(async move {
                let (_, payouts) = tx
                    .vendor_money_for_update(vendor)
                    .await?
                    .ok_or(AppError::NotFound("vendor"))?;
                let mut p = payouts
                    .into_iter()
                    .find(|p| p.id == payout)
                    .ok_or(AppError::NotFound("payout"))?;
                if !p.pay(actor, now, reference) {
                    return Err(AppError::conflict(
                        "payout_paid",
                        "this payout is marked paid already",
                        None,
                    ));
                }
                tx.put_payout(&p).await?;
                Ok(p.id)
            })
        })
        .await?;
        self.payout(vendor, payout).await
    }

    /// The double-entry ledger between two times (admins): every capture, payment by hand,
    /// refund and payout as balanced postings.
    pub async fn ledger(
        &self,
        actor: &Actor,
        from: Option<&str>,
        to: Option<&str>,
    ) -> AppResult<Vec<LedgerLine>> {
        admin_only(actor, "the ledger export")?;
        let time = |raw: Option<&str>, field: &str| {
            raw.map(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| {
                        ParseError::new("invalid_time", format!("{field} is an RFC 3339 time"))
                            .at(field)
                    })
            })
            .transpose()
        };
        let (from, to) = (time(from, "from")?, time(to, "to")?);
        let (rows, payouts) = tokio::try_join!(
            self.store.money_rows(None, from, to),
            self.store.payouts(None, from, to)
        )?;
        Ok(lines(&rows, &payouts))
    }
}
