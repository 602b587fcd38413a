//! Payments on SQLite: the writes of [`ordo_store::payments`] in one transaction. The reads
//! and row mappings are shared with PostgreSQL (`ordo-store/shared/sql_store/payments.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::ids::{OrderId, VendorId};
use ordo_domain::payment::PaymentStatus;
use ordo_store::{
    MoneyRow, Payment, PaymentAllocation, PaymentEntry, PaymentTx, Payout, StoreError, StoreResult,
    constraints,
};
use rusqlite::params;
use uuid::Uuid;

use crate::sql_store::payments::{
    money_row_from, payment_entry_from_row, payment_from_row, payout_from,
};
use crate::sql_store::{Cols, corrupt, locked, sql};
use crate::tx::{SqliteTx, json, ts};

#[async_trait]
impl PaymentTx for SqliteTx {
    async fn insert_payment(
        &mut self,
        p: &Payment,
        allocations: &[PaymentAllocation],
    ) -> StoreResult<()> {
        let a = &p.amounts();
        self.execute(
            sql::INSERT_PAYMENT,
            params![
                p.id,
                p.checkout_id.map(|c| c.0),
                p.customer_id.0,
                p.provider,
                p.provider_ref,
                p.currency.code(),
                p.amount,
                p.capture_policy.as_str(),
                p.state().as_str(),
                a.authorized,
                a.captured,
                a.voided,
                a.refunded,
                a.capturing,
                a.voiding,
                a.refunding,
                p.decline_code,
                p.capture_before.as_ref().map(ts),
                p.client_secret,
                ts(&p.created_at),
                ts(&p.updated_at),
                p.version
            ],
        )?;
        for al in allocations {
            self.execute(
                sql::INSERT_PAYMENT_ALLOCATION,
                params![
                    p.id,
                    al.order_id.0,
                    al.vendor_id.0,
                    al.amount,
                    i64::from(al.commission_bp)
                ],
            )?;
        }
        Ok(())
    }

    async fn payment_for_update(&mut self, id: Uuid) -> StoreResult<Option<Payment>> {
        Ok(self
            .query(&locked::PAYMENT, params![id], |r| payment_from_row(r))?
            .pop())
    }

    async fn order_payment_for_update(&mut self, order: OrderId) -> StoreResult<Option<Payment>> {
        Ok(self
            .query(&locked::ORDER_PAYMENT, params![order.0], |r| {
                payment_from_row(r)
            })?
            .pop())
    }

    async fn payment_ledger(&mut self, payment: Uuid) -> StoreResult<Vec<PaymentEntry>> {
        self.query(&locked::PAYMENT_LEDGER, params![payment], |r| {
            payment_entry_from_row(r)
        })
    }

    async fn payment_shares(&mut self, payment: Uuid) -> StoreResult<Vec<(OrderId, i64)>> {
        self.query(locked::PAYMENT_SHARES, params![payment], |r| {
            Ok((OrderId(r.uuid("order_id")?), r.int("amount")?))
        })
    }

    async fn set_share_statuses(
        &mut self,
        payment: Uuid,
        statuses: &[(OrderId, PaymentStatus)],
    ) -> StoreResult<()> {
        for (order, status) in statuses {
            self.execute(
                locked::SET_SHARE_STATUS,
                params![status.as_str(), payment, order.0],
            )?;
        }
        Ok(())
    }

    async fn update_payment(&mut self, p: &Payment, expected_version: i64) -> StoreResult<()> {
        let a = &p.amounts();
        let changed = self.execute(
            sql::UPDATE_PAYMENT,
            params![
                p.provider_ref,
                p.state().as_str(),
                a.authorized,
                a.captured,
                a.voided,
                a.refunded,
                a.capturing,
                a.voiding,
                a.refunding,
                p.decline_code,
                p.capture_before.as_ref().map(ts),
                p.client_secret,
                ts(&p.updated_at),
                p.version,
                p.id,
                expected_version
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::Conflict(constraints::PAYMENTS_VERSION));
        }
        Ok(())
    }

    async fn append_payment_entry(&mut self, e: &PaymentEntry) -> StoreResult<bool> {
        let actor = e.actor.as_ref().map(json).transpose()?;
        Ok(self.execute(
            sql::APPEND_PAYMENT_ENTRY,
            params![
                e.id,
                e.payment_id,
                e.order_id.map(|o| o.0),
                e.kind.as_str(),
                e.amount,
                e.request_id,
                e.provider_ref,
                actor,
                e.reason,
                e.reference,
                e.detail,
                ts(&e.created_at)
            ],
        )? == 1)
    }

    async fn vendor_money_for_update(
        &mut self,
        vendor: VendorId,
    ) -> StoreResult<Option<(Vec<MoneyRow>, Vec<Payout>)>> {
        let found = self.query(&locked::VENDOR, params![vendor.0], |r| r.uuid("id"))?;
        if found.is_empty() {
            return Ok(None);
        }
        let rows = self.query(&locked::VENDOR_MONEY, params![vendor.0], |r| {
            money_row_from(r)
        })?;
        let payouts = self.query(&locked::VENDOR_PAYOUTS, params![vendor.0], |r| {
            payout_from(r)
        })?;
        Ok(Some((rows, payouts)))
    }

    async fn put_payout(&mut self, p: &Payout) -> StoreResult<()> {
        self.execute(
            sql::PUT_PAYOUT,
            params![
                p.id,
                p.vendor_id.0,
                p.currency.code(),
                p.amount,
                p.state().as_str(),
                json(&p.requested_by)?,
                ts(&p.requested_at),
                p.paid_by.as_ref().map(json).transpose()?,
                p.paid_at.as_ref().map(ts),
                p.reference
            ],
        )?;
        Ok(())
    }

    async fn vendor_commission_now(&mut self, vendor: VendorId) -> StoreResult<Option<u16>> {
        self.query(sql::VENDOR_COMMISSION, params![vendor.0], |r| {
            u16::try_from(r.int("commission_bp")?).map_err(|e| corrupt("commission", e))
        })
        .map(|mut v| v.pop())
    }

    async fn set_vendor_commission(&mut self, vendor: VendorId, bp: u16) -> StoreResult<bool> {
        Ok(self.execute(sql::SET_COMMISSION, params![i64::from(bp), vendor.0])? == 1)
    }

    async fn take_payment_event(
        &mut self,
        provider: &str,
        event_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        Ok(self.execute(
            sql::TAKE_PAYMENT_EVENT,
            params![provider, event_id, ts(&at)],
        )? == 1)
    }
}
