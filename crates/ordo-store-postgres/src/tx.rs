//! PostgreSQL's write path: each unit of work runs in its own transaction on a pooled
//! connection. Concurrent units commit in parallel and PostgreSQL groups their WAL flushes, so
//! no batching is needed here; row locks (`FOR UPDATE`) keep concurrent units apart.

use std::cell::Cell;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::address::name_keys;
use ordo_domain::cart::Cart;
use ordo_domain::catalog::{Location, LocationCode, Name, Product, Sku, VariantForSale, Vendor};
use ordo_domain::identity::User;
use ordo_domain::ids::{
    CartId, CheckoutId, LocationId, OrderId, PromotionId, RuleId, UserId, VendorId,
};
use ordo_domain::inventory::{Allocation, StockLevel};
use ordo_domain::money::{Currency, Money};
use ordo_domain::order::{Order, OrderEvent};
use ordo_domain::payment::PaymentStatus;
use ordo_domain::pricing::Promotion;
use ordo_store::{
    AuthChange, ExceptionItem, IdempotencyRecord, Job, JobEnd, MoneyRow, Notification,
    NotificationPreferences, OrderNote, OutboxMessage, Outcome, Payment, PaymentAllocation,
    PaymentEntry, Payout, Purge, RuleKind, Session, StockAdjustment, StoreError, StoreResult,
    StoreTx, TxWork, WebhookDelivery, WebhookEndpoint, constraints,
};
use serde_json::value::RawValue;
use sqlx::types::Json;
use sqlx::{Pool, Transaction};
use uuid::Uuid;

use crate::sql_store::{
    CHECKOUT_ORDERS, Cols, cart_from_row, fetch_variants_for_sale, idempotency_from_row, job_end,
    job_from_row, location_from_row, locked, money_row_from, orders_with_lines,
    payment_entry_from_row, payment_from_row, payout_from, purge_sql, sql, stock_level_from_row,
};
use crate::{Db, map_err};

/// The writer is the pool itself.
pub(crate) type Writer = Pool<Db>;

pub(crate) async fn transact(pool: &Writer, work: TxWork) -> StoreResult<Outcome> {
    let tx = pool.begin().await.map_err(map_err)?;
    let mut tx = PgTx {
        tx,
        failed: Cell::new(false),
    };
    if work(&mut tx).await.is_err() {
        // Dropping the transaction rolls it back.
        return Ok(Outcome::RolledBack);
    }
    if tx.failed.get() {
        // PostgreSQL has already abandoned this transaction; its COMMIT would quietly roll back.
        return Err(ordo_store::went_on_after_a_failure());
    }
    tx.tx.commit().await.map_err(commit_failed)?;
    Ok(Outcome::Committed)
}

/// A failed COMMIT. PostgreSQL answers a refused commit (a deferred constraint, a
/// serialization failure) with an error of class 23 or 40 and has then rolled back: nothing
/// changed. Any other failure — the connection lost, the server shut down or crashed while
/// committing — leaves the outcome unknown: the commit may have become durable just before.
fn commit_failed(e: sqlx::Error) -> StoreError {
    let refused = matches!(&e, sqlx::Error::Database(db)
        if db.code().is_some_and(|c| c.starts_with("23") || c.starts_with("40")));
    if refused {
        map_err(e)
    } else {
        StoreError::OutcomeUnknown(e.into())
    }
}

struct PgTx {
    tx: Transaction<'static, Db>,
    /// A statement failed: the unit must end with `Err` (see `ordo_store::went_on_after_a_failure`).
    failed: Cell<bool>,
}

impl PgTx {
    /// Writes a job with one of the job statements (they share their parameters); returns
    /// the rows written.
    async fn put_job(
        &mut self,
        sql: &'static str,
        job: &Job,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let done = sqlx::query(sql)
            .bind(job.id)
            .bind(&job.kind)
            .bind(&job.key)
            .bind(Json(&job.payload))
            .bind(job.run_at)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected())
    }

    fn fail(&self, e: sqlx::Error) -> StoreError {
        self.failed.set(true);
        map_err(e)
    }

    /// Tells every node of an auth change when (and only if) this transaction commits:
    /// PostgreSQL delivers a NOTIFY at commit. The payload is an id, never more.
    async fn notify(&mut self, change: &AuthChange) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::AUTH_CHANNEL)
            .bind(crate::encode_auth_change(change))
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}

#[async_trait]
impl StoreTx for PgTx {
    async fn insert_user(
        &mut self,
        user: &User,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(sql::INSERT_USER)
            .bind(user.id.0)
            .bind(user.email.as_str())
            .bind(password_hash)
            .bind(user.role.as_str())
            .bind(user.vendor_id.map(|v| v.0))
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn insert_session(&mut self, s: &Session) -> StoreResult<()> {
        sqlx::query(sql::INSERT_SESSION)
            .bind(&s.token_hash)
            .bind(s.user_id.0)
            .bind(s.created_at)
            .bind(s.expires_at)
            .bind(s.fresh_until)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn revoke_session(&mut self, token_hash: &[u8], at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(sql::REVOKE_SESSION)
            .bind(at)
            .bind(token_hash)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        self.notify(&AuthChange::Session(token_hash.to_vec()))
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn step_up_succeeded(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        fresh_until: DateTime<Utc>,
        totp_step: Option<i64>,
    ) -> StoreResult<bool> {
        if let Some(step) = totp_step {
            let done = sqlx::query(sql::USER_TOTP_STEP)
                .bind(step)
                .bind(user.0)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| self.fail(e))?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
        }
        sqlx::query(sql::SESSION_FRESH)
            .bind(fresh_until)
            .bind(token_hash)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        sqlx::query(sql::USER_STEP_UP_RESET)
            .bind(user.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        self.notify(&AuthChange::Session(token_hash.to_vec()))
            .await?;
        Ok(true)
    }

    async fn step_up_failed(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        lock_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        sqlx::query(sql::SESSION_STEP_UP_FAILED)
            .bind(token_hash)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        let user_update = match lock_until {
            Some(until) => sqlx::query(sql::USER_STEP_UP_LOCKED)
                .bind(until)
                .bind(user.0),
            None => sqlx::query(sql::USER_STEP_UP_FAILED).bind(user.0),
        };
        user_update
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn set_totp(
        &mut self,
        user: UserId,
        secret: Option<&str>,
        confirmed_at: Option<DateTime<Utc>>,
        recovery: Option<&[Vec<u8>]>,
    ) -> StoreResult<()> {
        sqlx::query(sql::SET_TOTP)
            .bind(secret)
            .bind(confirmed_at)
            .bind(user.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        if let Some(codes) = recovery {
            sqlx::query(sql::DELETE_RECOVERY_CODES)
                .bind(user.0)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| self.fail(e))?;
            for code in codes {
                sqlx::query(sql::INSERT_RECOVERY_CODE)
                    .bind(user.0)
                    .bind(code)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(|e| self.fail(e))?;
            }
        }
        Ok(())
    }

    async fn use_recovery_code(
        &mut self,
        user: UserId,
        code_hash: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(sql::USE_RECOVERY_CODE)
            .bind(at)
            .bind(user.0)
            .bind(code_hash)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_user(
        &mut self,
        user: &User,
        disabled_at: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(sql::UPDATE_USER)
            .bind(user.role.as_str())
            .bind(user.vendor_id.map(|v| v.0))
            .bind(disabled_at)
            .bind(user.id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        self.notify(&AuthChange::User(user.id)).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_vendor(&mut self, vendor: &Vendor, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(sql::INSERT_VENDOR)
            .bind(vendor.id.0)
            .bind(vendor.name.as_str())
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn insert_location(&mut self, l: &Location, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(sql::INSERT_LOCATION)
            .bind(l.id.0)
            .bind(l.vendor_id.0)
            .bind(l.code.as_str())
            .bind(l.name.as_str())
            .bind(l.priority)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn location_by_code(
        &mut self,
        vendor: VendorId,
        code: &LocationCode,
    ) -> StoreResult<Option<Location>> {
        let row = sqlx::query(sql::LOCATION_BY_CODE)
            .bind(vendor.0)
            .bind(code.as_str())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(location_from_row).transpose()
    }

    async fn insert_product(&mut self, p: &Product, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(sql::INSERT_PRODUCT)
            .bind(p.id.0)
            .bind(p.vendor_id.0)
            .bind(p.title.as_str())
            .bind(p.tax_class.as_str())
            .bind(p.stock_deduction.as_str())
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        for (position, v) in p.variants.iter().enumerate() {
            sqlx::query(sql::INSERT_VARIANT)
                .bind(v.id.0)
                .bind(p.id.0)
                .bind(v.sku.as_str())
                .bind(v.title.as_ref().map(Name::as_str))
                .bind(position as i32)
                .bind(i64::from(v.weight_grams))
                .bind(v.low_stock_threshold)
                .bind(at)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| self.fail(e))?;
            for price in &v.prices {
                sqlx::query(sql::INSERT_PRICE)
                    .bind(v.id.0)
                    .bind(price.currency.code())
                    .bind(price.amount)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(|e| self.fail(e))?;
            }
        }
        Ok(())
    }

    async fn sku_vendor(&mut self, sku: &Sku) -> StoreResult<Option<VendorId>> {
        let row = sqlx::query(sql::SKU_VENDOR)
            .bind(sku.as_str())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.map(|r| r.uuid("vendor_id").map(VendorId)).transpose()
    }

    async fn variants_for_sale(&mut self, skus: &[Sku]) -> StoreResult<Vec<VariantForSale>> {
        let found = fetch_variants_for_sale(&mut *self.tx, skus).await;
        if found.is_err() {
            self.failed.set(true);
        }
        found
    }

    async fn set_price(&mut self, sku: &Sku, price: Money) -> StoreResult<bool> {
        let done = sqlx::query(sql::SET_PRICE)
            .bind(price.currency.code())
            .bind(price.amount)
            .bind(sku.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_price(&mut self, sku: &Sku, currency: Currency) -> StoreResult<bool> {
        let done = sqlx::query(sql::DELETE_PRICE)
            .bind(currency.code())
            .bind(sku.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_low_stock_threshold(
        &mut self,
        sku: &Sku,
        threshold: Option<i64>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(sql::SET_THRESHOLD)
            .bind(threshold)
            .bind(sku.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_adjustment(&mut self, a: &StockAdjustment) -> StoreResult<()> {
        sqlx::query(sql::INSERT_ADJUSTMENT)
            .bind(a.id.0)
            .bind(a.sku.as_str())
            .bind(a.location_id.0)
            .bind(a.delta)
            .bind(a.reason.as_str())
            .bind(a.note.as_deref())
            .bind(a.actor.user_id.map(|u| u.0))
            .bind(a.actor.role.as_str())
            .bind(a.on_hand_after)
            .bind(a.at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn lock_stock(&mut self, sku: &Sku) -> StoreResult<Vec<StockLevel>> {
        let rows = sqlx::query(locked::STOCK.as_str())
            .bind(sku.as_str())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(stock_level_from_row).collect()
    }

    async fn change_stock(
        &mut self,
        sku: &Sku,
        location: LocationId,
        on_hand: i64,
        reserved: i64,
    ) -> StoreResult<()> {
        let done = sqlx::query(sql::CHANGE_STOCK)
            .bind(on_hand)
            .bind(reserved)
            .bind(sku.as_str())
            .bind(location.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Other(anyhow::anyhow!(
                "no stock row for {sku} at {location}"
            )));
        }
        Ok(())
    }

    async fn set_on_hand(
        &mut self,
        sku: &Sku,
        location: LocationId,
        on_hand: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(sql::SET_ON_HAND)
            .bind(sku.as_str())
            .bind(location.0)
            .bind(on_hand)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn insert_order(&mut self, o: &Order) -> StoreResult<()> {
        sqlx::query(sql::INSERT_ORDER)
            .bind(o.id.0)
            .bind(o.customer_id.0)
            .bind(o.vendor_id.0)
            .bind(o.status.as_str())
            .bind(o.currency.code())
            .bind(o.subtotal.amount)
            .bind(o.total.amount)
            .bind(Json(&o.shipping_address))
            .bind(o.carrier_id.map(|c| c.0))
            .bind(o.cancel_reason.as_deref())
            .bind(o.created_at)
            .bind(o.updated_at)
            .bind(o.version)
            .bind(Json(&o.pricing))
            .bind(o.checkout_id.map(|c| c.0))
            .bind(o.reserved_until)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        for (line_no, l) in o.lines.iter().enumerate() {
            sqlx::query(sql::INSERT_LINE)
                .bind(o.id.0)
                .bind(line_no as i32 + 1)
                .bind(l.sku.as_str())
                .bind(l.product_id.0)
                .bind(l.variant_id.0)
                .bind(&l.title)
                .bind(i64::from(l.quantity))
                .bind(l.unit_price.amount)
                .bind(l.line_total.amount)
                .bind(Json(&l.allocations))
                .bind(Json(&l.pricing))
                .execute(&mut *self.tx)
                .await
                .map_err(|e| self.fail(e))?;
        }
        // Support finds the customer by the recipient's name (see 0014_customer_names.sql):
        // every key in one statement, one round trip.
        sqlx::query(
            "INSERT INTO customer_names (key, customer_id, name) \
             SELECT key, $2, $3 FROM unnest($1::text[]) AS key ON CONFLICT DO NOTHING",
        )
        .bind(name_keys(&o.shipping_address.name))
        .bind(o.customer_id.0)
        .bind(&o.shipping_address.name)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn order_for_update(&mut self, id: OrderId) -> StoreResult<Option<Order>> {
        let rows = sqlx::query(locked::ORDER.as_str())
            .bind(id.0)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(orders_with_lines(&mut *self.tx, rows).await?.pop())
    }

    async fn update_order(&mut self, o: &Order, expected_version: i64) -> StoreResult<()> {
        let done = sqlx::query(sql::UPDATE_ORDER)
            .bind(o.status.as_str())
            .bind(o.carrier_id.map(|c| c.0))
            .bind(o.cancel_reason.as_deref())
            .bind(o.updated_at)
            .bind(o.version)
            .bind(o.reserved_until)
            .bind(o.id.0)
            .bind(expected_version)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(constraints::ORDERS_VERSION));
        }
        Ok(())
    }

    async fn set_line_allocations(
        &mut self,
        order: OrderId,
        line_index: usize,
        allocations: &[Allocation],
    ) -> StoreResult<()> {
        sqlx::query(sql::SET_LINE_ALLOCATIONS)
            .bind(Json(allocations))
            .bind(order.0)
            .bind(line_index as i32 + 1)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn checkout_orders(&mut self, id: CheckoutId) -> StoreResult<Vec<Order>> {
        let rows = sqlx::query(CHECKOUT_ORDERS.as_str())
            .bind(id.0)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        orders_with_lines(&mut *self.tx, rows).await
    }

    async fn insert_cart(&mut self, c: &Cart, token_hash: Option<&[u8]>) -> StoreResult<()> {
        sqlx::query(sql::INSERT_CART)
            .bind(c.id.0)
            .bind(token_hash)
            .bind(c.customer_id.map(|u| u.0))
            .bind(c.status.as_str())
            .bind(c.currency.code())
            .bind(c.promo_code.as_deref())
            .bind(Json(&c.shipping_address))
            .bind(Json(&c.lines))
            .bind(c.checkout_id.map(|x| x.0))
            .bind(c.created_at)
            .bind(c.updated_at)
            .bind(c.version)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn cart_for_update(&mut self, id: CartId) -> StoreResult<Option<Cart>> {
        let row = sqlx::query(locked::CART.as_str())
            .bind(id.0)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(cart_from_row).transpose()
    }

    async fn open_cart_for_update(&mut self, customer: UserId) -> StoreResult<Option<Cart>> {
        let row = sqlx::query(locked::OPEN_CART.as_str())
            .bind(customer.0)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(cart_from_row).transpose()
    }

    async fn update_cart(&mut self, c: &Cart, expected_version: i64) -> StoreResult<()> {
        let done = sqlx::query(sql::UPDATE_CART)
            .bind(c.customer_id.map(|u| u.0))
            .bind(c.status.as_str())
            .bind(c.currency.code())
            .bind(c.promo_code.as_deref())
            .bind(Json(&c.shipping_address))
            .bind(Json(&c.lines))
            .bind(c.checkout_id.map(|x| x.0))
            .bind(c.updated_at)
            .bind(c.version)
            .bind(c.id.0)
            .bind(expected_version)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(constraints::CARTS_VERSION));
        }
        Ok(())
    }

    async fn put_rule(
        &mut self,
        kind: RuleKind,
        key: &str,
        id: RuleId,
        data: &RawValue,
        at: DateTime<Utc>,
    ) -> StoreResult<RuleId> {
        let row = sqlx::query(sql::PUT_RULE)
            .bind(id.0)
            .bind(kind.as_str())
            .bind(key)
            .bind(Json(data))
            .bind(at)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(RuleId(row.uuid("id")?))
    }

    async fn delete_rule(&mut self, kind: RuleKind, id: RuleId) -> StoreResult<bool> {
        let done = sqlx::query(sql::DELETE_RULE)
            .bind(kind.as_str())
            .bind(id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_promotion(&mut self, p: &Promotion, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(sql::INSERT_PROMOTION)
            .bind(p.id.0)
            .bind(p.code.as_deref())
            .bind(Json(p))
            .bind(p.usage_limit.map(i64::from))
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn update_promotion(&mut self, p: &Promotion, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(sql::UPDATE_PROMOTION)
            .bind(p.code.as_deref())
            .bind(Json(p))
            .bind(p.usage_limit.map(i64::from))
            .bind(at)
            .bind(p.id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn use_promotion(&mut self, id: PromotionId) -> StoreResult<bool> {
        let done = sqlx::query(sql::USE_PROMOTION)
            .bind(id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn append_event(&mut self, e: &OrderEvent) -> StoreResult<()> {
        sqlx::query(sql::APPEND_EVENT)
            .bind(e.order_id.0)
            .bind(e.seq)
            .bind(&e.event_type)
            .bind(e.actor.user_id.map(|u| u.0))
            .bind(e.actor.role.as_str())
            .bind(e.actor.vendor_id.map(|v| v.0))
            .bind(e.at)
            .bind(Json(&e.change))
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn enqueue(&mut self, m: &OutboxMessage) -> StoreResult<()> {
        sqlx::query(sql::ENQUEUE)
            .bind(&m.topic)
            .bind(&m.key)
            .bind(Json(&m.payload))
            .bind(m.created_at)
            .bind(m.audience.customer.map(|u| u.0))
            .bind(m.audience.vendor.map(|v| v.0))
            .bind(m.audience.carrier.map(|u| u.0))
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn idempotency_claim(
        &mut self,
        scope: &str,
        key: &str,
        request_hash: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let claimed = sqlx::query(sql::IDEMPOTENCY_CLAIM)
            .bind(scope)
            .bind(key)
            .bind(request_hash)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        if claimed.rows_affected() == 1 {
            return Ok(None);
        }
        // Read Committed: this statement sees the claim that the insert waited for.
        let row = sqlx::query(sql::IDEMPOTENCY_GET)
            .bind(scope)
            .bind(key)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(idempotency_from_row).transpose()
    }

    async fn idempotency_remember(
        &mut self,
        scope: &str,
        key: &str,
        response: &str,
    ) -> StoreResult<()> {
        sqlx::query(sql::IDEMPOTENCY_REMEMBER)
            .bind(response)
            .bind(scope)
            .bind(key)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn set_cart_token(&mut self, id: CartId, token_hash: &[u8]) -> StoreResult<()> {
        sqlx::query(sql::SET_CART_TOKEN)
            .bind(token_hash)
            .bind(id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn insert_guest_account(&mut self, user: UserId, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(sql::INSERT_GUEST_ACCOUNT)
            .bind(user.0)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn claim_guest_account(
        &mut self,
        user: UserId,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let claimed = sqlx::query(sql::CLAIM_GUEST_ACCOUNT)
            .bind(at)
            .bind(user.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        if claimed.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(sql::SET_PASSWORD)
            .bind(password_hash)
            .bind(user.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(true)
    }

    async fn insert_order_note(&mut self, note: &OrderNote) -> StoreResult<()> {
        let author =
            serde_json::to_string(&note.author).map_err(|e| StoreError::Other(e.into()))?;
        sqlx::query(sql::INSERT_ORDER_NOTE)
            .bind(note.id)
            .bind(note.order_id.0)
            .bind(author)
            .bind(&note.body)
            .bind(note.created_at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn insert_checkout_link(
        &mut self,
        checkout: CheckoutId,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(sql::INSERT_CHECKOUT_LINK)
            .bind(token)
            .bind(checkout.0)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn enqueue_job(&mut self, job: &Job, at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(self.put_job(sql::ENQUEUE_JOB, job, at).await? == 1)
    }

    async fn wake_job(&mut self, job: &Job, at: DateTime<Utc>) -> StoreResult<()> {
        self.put_job(sql::WAKE_JOB, job, at).await?;
        Ok(())
    }

    async fn put_webhook_endpoint(&mut self, e: &WebhookEndpoint) -> StoreResult<()> {
        sqlx::query(sql::PUT_WEBHOOK_ENDPOINT)
            .bind(e.id)
            .bind(e.vendor_id.map(|v| v.0))
            .bind(&e.url)
            .bind(Json(&e.events))
            .bind(e.description.as_deref())
            .bind(&e.secret)
            .bind(e.previous_secret.as_deref())
            .bind(e.previous_until)
            .bind(e.disabled_at)
            .bind(e.disabled_reason.as_deref())
            .bind(e.failing_since)
            .bind(e.created_by.0)
            .bind(e.created_at)
            .bind(e.updated_at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn delete_webhook_endpoint(&mut self, id: Uuid) -> StoreResult<bool> {
        sqlx::query(sql::DELETE_WEBHOOK_DELIVERIES)
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        let done = sqlx::query(sql::DELETE_WEBHOOK_ENDPOINT)
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_webhook_health(
        &mut self,
        id: Uuid,
        failing_since: Option<DateTime<Utc>>,
        disabled: Option<(DateTime<Utc>, &str)>,
    ) -> StoreResult<()> {
        sqlx::query(sql::SET_WEBHOOK_HEALTH)
            .bind(failing_since)
            .bind(disabled.map(|d| d.0))
            .bind(disabled.map(|d| d.1))
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn put_webhook_delivery(&mut self, d: &WebhookDelivery) -> StoreResult<()> {
        sqlx::query(sql::PUT_WEBHOOK_DELIVERY)
            .bind(d.id)
            .bind(d.endpoint_id)
            .bind(&d.message_id)
            .bind(&d.event_type)
            .bind(&d.key)
            .bind(d.position)
            .bind(&d.body)
            .bind(d.state.as_str())
            .bind(d.attempts)
            .bind(d.next_at)
            .bind(d.last_status)
            .bind(d.last_error.as_deref())
            .bind(d.last_latency_ms)
            .bind(d.created_at)
            .bind(d.delivered_at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn put_notification_preferences(
        &mut self,
        p: &NotificationPreferences,
    ) -> StoreResult<()> {
        sqlx::query(sql::PUT_NOTIFICATION_PREFERENCES)
            .bind(p.user_id.0)
            .bind(&p.locale)
            .bind(p.email)
            .bind(p.sms)
            .bind(p.push)
            .bind(p.phone.as_deref())
            .bind(p.updated_at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn put_notification(&mut self, n: &Notification) -> StoreResult<()> {
        sqlx::query(sql::PUT_NOTIFICATION)
            .bind(n.id)
            .bind(&n.event_type)
            .bind(n.position)
            .bind(n.order_id.map(|o| o.0))
            .bind(&n.data)
            .bind(n.recipient_id.0)
            .bind(n.to_staff)
            .bind(n.channel.as_str())
            .bind(&n.address)
            .bind(&n.locale)
            .bind(n.subject.as_deref())
            .bind(n.state.as_str())
            .bind(n.attempts)
            .bind(n.last_error.as_deref())
            .bind(n.created_at)
            .bind(n.sent_at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn insert_payment(
        &mut self,
        p: &Payment,
        allocations: &[PaymentAllocation],
    ) -> StoreResult<()> {
        let a = &p.amounts;
        sqlx::query(sql::INSERT_PAYMENT)
            .bind(p.id)
            .bind(p.checkout_id.map(|c| c.0))
            .bind(p.customer_id.0)
            .bind(&p.provider)
            .bind(p.provider_ref.as_deref())
            .bind(p.currency.code())
            .bind(p.amount)
            .bind(p.capture_policy.as_str())
            .bind(p.state.as_str())
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
        let a = &p.amounts;
        let done = sqlx::query(sql::UPDATE_PAYMENT)
            .bind(p.provider_ref.as_deref())
            .bind(p.state.as_str())
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
            .bind(&p.state)
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

    async fn raise_exception(&mut self, e: &ExceptionItem) -> StoreResult<bool> {
        let done = sqlx::query(sql::RAISE_EXCEPTION)
            .bind(e.id)
            .bind(&e.kind)
            .bind(&e.key)
            .bind(&e.status)
            .bind(e.order_id.map(|o| o.0))
            .bind(&e.body)
            .bind(e.created_at)
            .bind(e.updated_at)
            .execute(&mut *self.tx)
            .await
            .map_err(|err| self.fail(err))?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_exception(&mut self, e: &ExceptionItem) -> StoreResult<()> {
        sqlx::query(sql::UPDATE_EXCEPTION)
            .bind(&e.status)
            .bind(&e.body)
            .bind(e.updated_at)
            .bind(e.id)
            .execute(&mut *self.tx)
            .await
            .map_err(|err| self.fail(err))?;
        Ok(())
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

    async fn hurry_job(&mut self, kind: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(sql::HURRY_JOB)
            .bind(at)
            .bind(kind)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn retry_job(&mut self, id: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(sql::RETRY_JOB)
            .bind(at)
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn claim_jobs(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql::CLAIM_JOBS.as_str()))
            .bind(now)
            .bind(lease_until)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(job_from_row).collect()
    }

    async fn finish_job(
        &mut self,
        id: uuid::Uuid,
        end: &JobEnd,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (state, run_at, error, reset) = job_end(end);
        sqlx::query(sql::FINISH_JOB)
            .bind(state)
            .bind(run_at)
            .bind(error)
            .bind(reset)
            .bind(at)
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn purge(&mut self, what: Purge, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let done = sqlx::query(purge_sql(what))
            .bind(before)
            .bind(i64::from(limit))
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected())
    }

    async fn sequence_outbox(&mut self, at: DateTime<Utc>, limit: u32) -> StoreResult<Option<i64>> {
        // Waits for another node's sequencer to commit, then reads the position it left.
        let row = sqlx::query(locked::SEQUENCER.as_str())
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        let last = row.int("position")?;
        let given = sqlx::query(sql::SEQUENCE_OUTBOX)
            .bind(last)
            .bind(at)
            .bind(i64::from(limit))
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?
            .rows_affected();
        if given == 0 {
            return Ok(None);
        }
        let now_last = last + given as i64;
        sqlx::query(sql::ADVANCE_SEQUENCER)
            .bind(now_last)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        // Delivered at commit, so other nodes never read ahead of what is visible.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::EVENTS_CHANNEL)
            .bind(now_last.to_string())
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(Some(now_last))
    }

    async fn consumer_cursor(&mut self, consumer: &str, at: DateTime<Utc>) -> StoreResult<i64> {
        sqlx::query(sql::ENSURE_CURSOR)
            .bind(consumer)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        let row = sqlx::query(sql::READ_CURSOR)
            .bind(consumer)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.int("position")
    }

    async fn advance_cursor(
        &mut self,
        consumer: &str,
        position: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(sql::ADVANCE_CURSOR)
            .bind(position)
            .bind(at)
            .bind(consumer)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}
