//! Payments, shared by both backends: the row mappings (used by their writes too) and
//! the reads of [`ordo_store::payments`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::identity::Actor;
use ordo_domain::ids::{CheckoutId, OrderId, UserId, VendorId};
use ordo_store::{
    MoneyRow, Payment, PaymentAllocation, PaymentDraft, PaymentEntry, PaymentStore, Payout,
    PayoutState, StoreResult,
};
use sqlx::{AssertSqlSafe, QueryBuilder};
use uuid::Uuid;

use super::{Cols, SqlStore, corrupt, currency, sql};
use crate::{Db, map_err};

/// The columns [`webhook_delivery_from_row`] reads.
pub(crate) const PAYMENT_COLUMNS: &str = "id, checkout_id, customer_id, provider, provider_ref, \
    currency, amount, capture_policy, state, authorized, captured, voided, refunded, capturing, \
    voiding, refunding, decline_code, capture_before, client_secret, created_at, updated_at, \
    version";

pub(crate) fn payment_from_row(r: &impl Cols) -> StoreResult<Payment> {
    use ordo_domain::payment::{Amounts, CapturePolicy, PaymentState};
    let draft = PaymentDraft {
        id: r.uuid("id")?,
        checkout_id: r.opt_uuid("checkout_id")?.map(CheckoutId),
        customer_id: UserId(r.uuid("customer_id")?),
        provider: r.text("provider")?,
        provider_ref: r.opt_text("provider_ref")?,
        currency: currency(&r.text("currency")?)?,
        amount: r.int("amount")?,
        capture_policy: CapturePolicy::parse(&r.text("capture_policy")?)
            .map_err(|e| corrupt("capture policy", e))?,
        capture_before: r.opt_time("capture_before")?,
        client_secret: r.opt_text("client_secret")?,
        created_at: r.time("created_at")?,
    };
    let state = PaymentState::parse(&r.text("state")?).map_err(|e| corrupt("payment state", e))?;
    let amounts = Amounts {
        authorized: r.int("authorized")?,
        captured: r.int("captured")?,
        voided: r.int("voided")?,
        refunded: r.int("refunded")?,
        capturing: r.int("capturing")?,
        voiding: r.int("voiding")?,
        refunding: r.int("refunding")?,
    };
    let mut payment = Payment::stored(draft, state, amounts);
    payment.decline_code = r.opt_text("decline_code")?;
    payment.updated_at = r.time("updated_at")?;
    payment.version = r.int("version")?;
    Ok(payment)
}

pub(crate) const PAYMENT_ENTRY_COLUMNS: &str = "id, payment_id, order_id, kind, amount, \
    request_id, provider_ref, actor, reason, reference, detail, created_at";

pub(crate) fn payment_entry_from_row(r: &impl Cols) -> StoreResult<PaymentEntry> {
    Ok(PaymentEntry {
        id: r.uuid("id")?,
        payment_id: r.uuid("payment_id")?,
        order_id: r.opt_uuid("order_id")?.map(OrderId),
        kind: ordo_domain::payment::EntryKind::parse(&r.text("kind")?)
            .map_err(|e| corrupt("ledger kind", e))?,
        amount: r.int("amount")?,
        request_id: r.opt_uuid("request_id")?,
        provider_ref: r.opt_text("provider_ref")?,
        actor: r
            .opt_text("actor")?
            .map(|a| serde_json::from_str(&a).map_err(|e| corrupt("actor", e)))
            .transpose()?,
        reason: r.opt_text("reason")?,
        reference: r.opt_text("reference")?,
        detail: r.opt_text("detail")?,
        created_at: r.time("created_at")?,
    })
}

/// Money moved on orders, with the vendor and commission of each order's share; followed by
/// ` AND …` filters and an `ORDER BY`.
pub(crate) const MONEY_ROWS: &str = "SELECT e.id AS entry_id, e.created_at AS at, \
    e.payment_id, e.order_id, a.vendor_id, e.kind, e.amount, p.currency, a.commission_bp \
    FROM payment_ledger e JOIN payment_allocations a ON a.order_id = e.order_id \
    JOIN payments p ON p.id = e.payment_id \
    WHERE e.kind IN ('capture_succeeded', 'manual_payment', 'refund_succeeded')";

pub(crate) const MONEY_ORDER: &str = " ORDER BY e.created_at, e.id";

pub(crate) fn money_row_from(r: &impl Cols) -> StoreResult<MoneyRow> {
    Ok(MoneyRow {
        entry_id: r.uuid("entry_id")?,
        at: r.time("at")?,
        payment_id: r.uuid("payment_id")?,
        order_id: OrderId(r.uuid("order_id")?),
        vendor_id: VendorId(r.uuid("vendor_id")?),
        kind: ordo_domain::payment::EntryKind::parse(&r.text("kind")?)
            .map_err(|e| corrupt("ledger kind", e))?,
        amount: r.int("amount")?,
        currency: currency(&r.text("currency")?)?,
        commission_bp: u16::try_from(r.int("commission_bp")?)
            .map_err(|e| corrupt("commission", e))?,
    })
}

pub(crate) const PAYOUT_COLUMNS: &str = "id, vendor_id, currency, amount, state, requested_by, \
    requested_at, paid_by, paid_at, reference";

pub(crate) fn payout_from(r: &impl Cols) -> StoreResult<Payout> {
    let actor = |col: &str| -> StoreResult<Option<Actor>> {
        r.opt_text(col)?
            .map(|a| serde_json::from_str(&a).map_err(|e| corrupt("actor", e)))
            .transpose()
    };
    let mut payout = Payout::request(
        r.uuid("id")?,
        VendorId(r.uuid("vendor_id")?),
        currency(&r.text("currency")?)?,
        r.int("amount")?,
        actor("requested_by")?.ok_or_else(|| corrupt("payout", "no requester"))?,
        r.time("requested_at")?,
    );
    match PayoutState::parse(&r.text("state")?).map_err(|e| corrupt("payout state", e))? {
        PayoutState::Requested => {}
        PayoutState::Paid => {
            let by = actor("paid_by")?.ok_or_else(|| corrupt("payout", "paid by nobody"))?;
            let at = r
                .opt_time("paid_at")?
                .ok_or_else(|| corrupt("payout", "paid at no time"))?;
            payout.pay(by, at, r.opt_text("reference")?);
        }
    }
    Ok(payout)
}

#[async_trait]
impl PaymentStore for SqlStore {
    async fn payment(&self, id: Uuid) -> StoreResult<Option<Payment>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(payment_from_row).transpose()
    }

    async fn order_payment(&self, order: OrderId) -> StoreResult<Option<Payment>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = \
             (SELECT payment_id FROM payment_allocations WHERE order_id = $1)"
        )))
        .bind(order.0)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(payment_from_row).transpose()
    }

    async fn payment_allocations(&self, payment: Uuid) -> StoreResult<Vec<PaymentAllocation>> {
        let rows = sqlx::query(
            "SELECT order_id, vendor_id, amount, commission_bp FROM payment_allocations \
             WHERE payment_id = $1 ORDER BY order_id",
        )
        .bind(payment)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(PaymentAllocation {
                    order_id: OrderId(r.uuid("order_id")?),
                    vendor_id: VendorId(r.uuid("vendor_id")?),
                    amount: r.int("amount")?,
                    commission_bp: u16::try_from(r.int("commission_bp")?)
                        .map_err(|e| corrupt("commission", e))?,
                })
            })
            .collect()
    }

    async fn cancelled_orders_holding_money(
        &self,
        after: Option<OrderId>,
        limit: u32,
    ) -> StoreResult<Vec<OrderId>> {
        // One range of the orders' (status, id) index over cancelled orders, each joined to its
        // share by key: those whose share's money is all back (refunded, voided) are left out.
        let rows = sqlx::query(
            "SELECT o.id FROM orders o JOIN payment_allocations a ON a.order_id = o.id \
             WHERE o.status = 'cancelled' AND o.id > $1 \
             AND a.status IN ('authorized', 'paid', 'partially_paid', 'partially_refunded') \
             ORDER BY o.id LIMIT $2",
        )
        .bind(after.map_or(Uuid::nil(), |o| o.0))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(|r| r.uuid("id").map(OrderId)).collect()
    }

    async fn expiring_authorizations(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Uuid>> {
        let rows = sqlx::query(
            "SELECT id FROM payments WHERE state = 'authorized' AND capture_before < $1 \
             AND captured + capturing + voided + voiding < authorized ORDER BY capture_before \
             LIMIT $2",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(|r| r.uuid("id")).collect()
    }

    async fn money_rows(
        &self,
        vendor: Option<VendorId>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<MoneyRow>> {
        let mut qb: QueryBuilder<Db> = QueryBuilder::new(MONEY_ROWS);
        if let Some(v) = vendor {
            qb.push(" AND a.vendor_id = ").push_bind(v.0);
        }
        if let Some(from) = from {
            qb.push(" AND e.created_at >= ").push_bind(from);
        }
        if let Some(to) = to {
            qb.push(" AND e.created_at < ").push_bind(to);
        }
        qb.push(MONEY_ORDER);
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(money_row_from).collect()
    }

    async fn payouts(
        &self,
        vendor: Option<VendorId>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<Payout>> {
        let mut qb: QueryBuilder<Db> = QueryBuilder::new(format!(
            "SELECT {PAYOUT_COLUMNS} FROM vendor_payouts WHERE 1 = 1"
        ));
        if let Some(v) = vendor {
            qb.push(" AND vendor_id = ").push_bind(v.0);
        }
        if let Some(from) = from {
            qb.push(" AND requested_at >= ").push_bind(from);
        }
        if let Some(to) = to {
            qb.push(" AND requested_at < ").push_bind(to);
        }
        qb.push(" ORDER BY requested_at, id");
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(payout_from).collect()
    }

    async fn vendor_commission(&self, vendor: VendorId) -> StoreResult<Option<u16>> {
        let row = sqlx::query(sql::VENDOR_COMMISSION)
            .bind(vendor.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
        row.map(|r| u16::try_from(r.int("commission_bp")?).map_err(|e| corrupt("commission", e)))
            .transpose()
    }

    async fn payment_entry(&self, id: Uuid) -> StoreResult<Option<PaymentEntry>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PAYMENT_ENTRY_COLUMNS} FROM payment_ledger WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(payment_entry_from_row).transpose()
    }

    async fn payment_entries(&self, payment: Uuid) -> StoreResult<Vec<PaymentEntry>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PAYMENT_ENTRY_COLUMNS} FROM payment_ledger WHERE payment_id = $1 \
             ORDER BY created_at, id"
        )))
        .bind(payment)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(payment_entry_from_row).collect()
    }
}
