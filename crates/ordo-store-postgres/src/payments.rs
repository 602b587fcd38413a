//! Payments on PostgreSQL: the writes of [`ordo_store::payments`] in one transaction. The reads
//! and row mappings are shared with SQLite (`ordo-store/shared/sql_store/payments.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::ids::{OrderId, VendorId};
use ordo_domain::payment::PaymentStatus;
use ordo_store::{
    MoneyRow, Payment, PaymentAllocation, PaymentEntry, PaymentTx, Payout, StoreError, StoreResult,
    constraints,
};
use uuid::Uuid;

use crate::sql_store::payments::{
    money_row_from, payment_entry_from_row, payment_from_row, payout_from,
};
use crate::sql_store::{Cols, locked, sql};
use crate::tx::PgTx;

#[async_trait]
impl PaymentTx for PgTx {
    async fn insert_payment(
        &mut self,
        p: &Payment,
        allocations: &[PaymentAllocation],
    ) -> StoreResult<()> {
        let a = &p.amounts();
        sqlx::query(sql::INSERT_PAYMENT)
            .bind(p.id)
            .bind(p.checkout_id.map(|c| c.0))
            .bind(p.customer_id.0)
            .bind(&p.provider)
            .bind(p.provider_ref.as_deref())
            .bind(p.currency.code())
            .bind(p.amount)
            .bind(p.capture_policy.as_str())
            .bind(p.state().as_str())
            .bind(a.authorized)
            .bind(a.captured)
            .bind(a.voided)
            .bind(a.refunded)
            .bind(a.capturing)
            .bind(a.voiding)
            .bind(a.refunding)
            .bind(p.decline_code.as_deref())
            .bind(p.capture_before)
            .bind(p.client_secret.as_deref())
            .bind(p.created_at)
            .bind(p.updated_at)
            .bind(p.version)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        for al in allocations {
            sqlx::query(sql::INSERT_PAYMENT_ALLOCATION)
                .bind(p.id)
                .bind(al.order_id.0)
                .bind(al.vendor_id.0)
                .bind(al.amount)
                .bind(i64::from(al.commission_bp))
                .execute(&mut *self.tx)
                .await
                .map_err(|e| self.fail(e))?;
        }
        Ok(())
    }

    async fn payment_for_update(&mut self, id: Uuid) -> StoreResult<Option<Payment>> {
        let row = sqlx::query(locked::PAYMENT.as_str())
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(payment_from_row).transpose()
    }

    async fn order_payment_for_update(&mut self, order: OrderId) -> StoreResult<Option<Payment>> {
        let row = sqlx::query(locked::ORDER_PAYMENT.as_str())
            .bind(order.0)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(payment_from_row).transpose()
    }

    async fn payment_shares(&mut self, payment: Uuid) -> StoreResult<Vec<(OrderId, i64)>> {
        let rows = sqlx::query(locked::PAYMENT_SHARES)
            .bind(payment)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|r| Ok((OrderId(r.uuid("order_id")?), r.int("amount")?)))
            .collect()
    }

    async fn set_share_statuses(
        &mut self,
        payment: Uuid,
        statuses: &[(OrderId, PaymentStatus)],
    ) -> StoreResult<()> {
        for (order, status) in statuses {
            sqlx::query(locked::SET_SHARE_STATUS)
                .bind(status.as_str())
                .bind(payment)
                .bind(order.0)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| self.fail(e))?;
        }
        Ok(())
    }

    async fn payment_ledger(&mut self, payment: Uuid) -> StoreResult<Vec<PaymentEntry>> {
        let rows = sqlx::query(locked::PAYMENT_LEDGER.as_str())
            .bind(payment)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(payment_entry_from_row).collect()
    }

    async fn update_payment(&mut self, p: &Payment, expected_version: i64) -> StoreResult<()> {
        let a = &p.amounts();
        let done = sqlx::query(sql::UPDATE_PAYMENT)
            .bind(p.provider_ref.as_deref())
            .bind(p.state().as_str())
            .bind(a.authorized)
            .bind(a.captured)
            .bind(a.voided)
            .bind(a.refunded)
            .bind(a.capturing)
            .bind(a.voiding)
            .bind(a.refunding)
            .bind(p.decline_code.as_deref())
            .bind(p.capture_before)
            .bind(p.client_secret.as_deref())
            .bind(p.updated_at)
            .bind(p.version)
            .bind(p.id)
            .bind(expected_version)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(constraints::PAYMENTS_VERSION));
        }
        Ok(())
    }

    async fn append_payment_entry(&mut self, e: &PaymentEntry) -> StoreResult<bool> {
        let actor = e
            .actor
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|err| StoreError::Other(err.into()))?;
        let done = sqlx::query(sql::APPEND_PAYMENT_ENTRY)
            .bind(e.id)
            .bind(e.payment_id)
            .bind(e.order_id.map(|o| o.0))
            .bind(e.kind.as_str())
            .bind(e.amount)
            .bind(e.request_id)
            .bind(e.provider_ref.as_deref())
            .bind(actor)
            .bind(e.reason.as_deref())
            .bind(e.reference.as_deref())
            .bind(e.detail.as_deref())
            .bind(e.created_at)
            .execute(&mut *self.tx)
            .await
            .map_err(|err| self.fail(err))?;
        Ok(done.rows_affected() == 1)
    }

    async fn vendor_money_for_update(
        &mut self,
        vendor: VendorId,
    ) -> StoreResult<Option<(Vec<MoneyRow>, Vec<Payout>)>> {
        let found = sqlx::query(locked::VENDOR.as_str())
            .bind(vendor.0)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        if found.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(locked::VENDOR_MONEY.as_str())
            .bind(vendor.0)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        let payouts = sqlx::query(locked::VENDOR_PAYOUTS.as_str())
            .bind(vendor.0)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(Some((
            rows.iter()
                .map(money_row_from)
                .collect::<StoreResult<_>>()?,
            payouts
                .iter()
                .map(payout_from)
                .collect::<StoreResult<_>>()?,
        )))
    }

    async fn put_payout(&mut self, p: &Payout) -> StoreResult<()> {
        let actor = |a: &ordo_domain::identity::Actor| {
            serde_json::to_string(a).map_err(|e| StoreError::Other(e.into()))
        };
        sqlx::query(sql::PUT_PAYOUT)
            .bind(p.id)
            .bind(p.vendor_id.0)
            .bind(p.currency.code())
            .bind(p.amount)
            .bind(p.state().as_str())
            .bind(actor(&p.requested_by)?)
            .bind(p.requested_at)
            .bind(p.paid_by.as_ref().map(actor).transpose()?)
            .bind(p.paid_at)
            .bind(p.reference.as_deref())
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn vendor_commission_now(&mut self, vendor: VendorId) -> StoreResult<Option<u16>> {
        let row = sqlx::query(sql::VENDOR_COMMISSION)
            .bind(vendor.0)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.map(|r| {
            u16::try_from(r.int("commission_bp")?)
                .map_err(|e| StoreError::Other(anyhow::anyhow!("commission: {e}")))
        })
        .transpose()
    }

    async fn set_vendor_commission(&mut self, vendor: VendorId, bp: u16) -> StoreResult<bool> {
        let done = sqlx::query(sql::SET_COMMISSION)
            .bind(i64::from(bp))
            .bind(vendor.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn take_payment_event(
        &mut self,
        provider: &str,
        event_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(sql::TAKE_PAYMENT_EVENT)
            .bind(provider)
            .bind(event_id)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }
}
