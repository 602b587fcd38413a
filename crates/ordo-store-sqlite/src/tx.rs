//! One SQLite transaction on the writer thread, through SQLite's C API (rusqlite).
//!
//! Every method runs its statement synchronously (prepared once, then cached) and returns a
//! future that is already complete, which is what lets the writer thread poll a whole unit of
//! work once (see [`crate::writer`]). The SQL text and the row mappings are the shared ones in
//! `ordo-store/shared/sql_store.rs`; values are encoded exactly as sqlx encodes them for the
//! readers (UUIDs as 16-byte blobs, times as RFC 3339 text, JSON as text).

use std::cell::Cell;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
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
    ExceptionItem, IdempotencyRecord, Job, JobEnd, MoneyRow, Notification, NotificationPreferences,
    OrderNote, OutboxMessage, Payment, PaymentAllocation, PaymentEntry, Payout, Purge, RuleKind,
    Session, StockAdjustment, StoreError, StoreResult, StoreTx, WebhookDelivery, WebhookEndpoint,
    constraints,
};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::sql_store::{
    CHECKOUT_ORDERS, Cols, LINE_COLUMNS, cart_from_row, corrupt, idempotency_from_row, job_end,
    job_from_row, line_from_row, location_from_row, locked, money_row_from, order_currency,
    order_from_row, payment_entry_from_row, payment_from_row, payout_from, purge_sql,
    push_variant_for_sale, sql, stock_level_from_row,
};

/// One order's lines (PostgreSQL reads them for many orders at once, in `orders_with_lines`).
static LINES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {LINE_COLUMNS} FROM order_lines WHERE order_id = $1 ORDER BY line_no")
});

/// The writer connection, lent to one unit of work at a time.
pub(crate) struct SqliteTx {
    conn: Connection,
    /// A statement of the current unit failed: the unit must end with `Err`, as on PostgreSQL
    /// (see `ordo_store::went_on_after_a_failure`).
    failed: Cell<bool>,
}

impl SqliteTx {
    pub(crate) fn new(conn: Connection) -> Self {
        Self {
            conn,
            failed: Cell::new(false),
        }
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Starts a unit with a clean slate; returns whether the previous one saw a failure.
    pub(crate) fn take_failed(&self) -> bool {
        self.failed.replace(false)
    }

    fn fail(&self, e: rusqlite::Error) -> StoreError {
        self.failed.set(true);
        map_rusqlite_err(e)
    }

    fn execute(&self, sql: &str, params: impl rusqlite::Params) -> StoreResult<usize> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params))
            .map_err(|e| self.fail(e))
    }

    /// Writes a job with one of the job statements (they share their parameters).
    fn put_job(&self, sql: &str, job: &Job, at: DateTime<Utc>) -> StoreResult<usize> {
        self.execute(
            sql,
            params![
                job.id,
                job.kind,
                job.key,
                json(&job.payload)?,
                ts(&job.run_at),
                ts(&at)
            ],
        )
    }

    fn query<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        mut map: impl FnMut(&rusqlite::Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.fail(e))?;
        let mut rows = stmt.query(params).map_err(|e| self.fail(e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.fail(e))? {
            out.push(map(row)?);
        }
        Ok(out)
    }
}

/// A time as sqlx writes it for SQLite, so both drivers compare and sort the same text.
fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

fn json(value: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Other(e.into()))
}

/// Maps a rusqlite error like `crate::map_err` maps sqlx's.
pub(crate) fn map_rusqlite_err(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(err, msg) = &e {
        let msg = msg.as_deref().unwrap_or_default();
        let kind = match err.extended_code {
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => Some(crate::ConstraintKind::Unique),
            rusqlite::ffi::SQLITE_CONSTRAINT_CHECK => Some(crate::ConstraintKind::Check),
            rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Some(crate::ConstraintKind::ForeignKey),
            _ => None,
        };
        if let Some(name) = kind.and_then(|k| crate::constraint_named(k, msg)) {
            return StoreError::Conflict(name);
        }
        if matches!(
            err.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        ) {
            return StoreError::Contention;
        }
        if matches!(
            err.code,
            rusqlite::ErrorCode::SystemIoFailure
                | rusqlite::ErrorCode::DiskFull
                | rusqlite::ErrorCode::CannotOpen
        ) {
            return StoreError::Unavailable(e.into());
        }
    }
    StoreError::Other(e.into())
}

impl Cols for rusqlite::Row<'_> {
    fn uuid(&self, col: &str) -> StoreResult<Uuid> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn opt_uuid(&self, col: &str) -> StoreResult<Option<Uuid>> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn text(&self, col: &str) -> StoreResult<String> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn int32(&self, col: &str) -> StoreResult<i32> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn flag(&self, col: &str) -> StoreResult<bool> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn bytes(&self, col: &str) -> StoreResult<Vec<u8>> {
        self.get(col).map_err(map_rusqlite_err)
    }
    fn time(&self, col: &str) -> StoreResult<DateTime<Utc>> {
        self.opt_time(col)?
            .ok_or_else(|| corrupt("time", format!("{col} is NULL")))
    }
    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let text: Option<String> = self.get(col).map_err(map_rusqlite_err)?;
        text.map(|t| {
            DateTime::parse_from_rfc3339(&t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| corrupt("time", e))
        })
        .transpose()
    }
    fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> StoreResult<T> {
        let text: String = self.get(col).map_err(map_rusqlite_err)?;
        serde_json::from_str(&text).map_err(|e| corrupt("json", e))
    }
}

#[async_trait]
impl StoreTx for SqliteTx {
    async fn insert_user(
        &mut self,
        user: &User,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            sql::INSERT_USER,
            params![
                user.id.0,
                user.email.as_str(),
                password_hash,
                user.role.as_str(),
                user.vendor_id.map(|v| v.0),
                ts(&at)
            ],
        )?;
        Ok(())
    }

    async fn insert_session(&mut self, s: &Session) -> StoreResult<()> {
        self.execute(
            sql::INSERT_SESSION,
            params![
                s.token_hash,
                s.user_id.0,
                ts(&s.created_at),
                ts(&s.expires_at),
                s.fresh_until.as_ref().map(ts)
            ],
        )?;
        Ok(())
    }

    async fn revoke_session(&mut self, token_hash: &[u8], at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(self.execute(sql::REVOKE_SESSION, params![ts(&at), token_hash])? > 0)
    }

    async fn step_up_succeeded(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        fresh_until: DateTime<Utc>,
        totp_step: Option<i64>,
    ) -> StoreResult<bool> {
        if let Some(step) = totp_step
            && self.execute(sql::USER_TOTP_STEP, params![step, user.0])? == 0
        {
            return Ok(false);
        }
        self.execute(sql::SESSION_FRESH, params![ts(&fresh_until), token_hash])?;
        self.execute(sql::USER_STEP_UP_RESET, params![user.0])?;
        Ok(true)
    }

    async fn step_up_failed(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        lock_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        self.execute(sql::SESSION_STEP_UP_FAILED, params![token_hash])?;
        match lock_until {
            Some(until) => self.execute(sql::USER_STEP_UP_LOCKED, params![ts(&until), user.0])?,
            None => self.execute(sql::USER_STEP_UP_FAILED, params![user.0])?,
        };
        Ok(())
    }

    async fn set_totp(
        &mut self,
        user: UserId,
        secret: Option<&str>,
        confirmed_at: Option<DateTime<Utc>>,
        recovery: Option<&[Vec<u8>]>,
    ) -> StoreResult<()> {
        self.execute(
            sql::SET_TOTP,
            params![secret, confirmed_at.as_ref().map(ts), user.0],
        )?;
        if let Some(codes) = recovery {
            self.execute(sql::DELETE_RECOVERY_CODES, params![user.0])?;
            for code in codes {
                self.execute(sql::INSERT_RECOVERY_CODE, params![user.0, code])?;
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
        Ok(self.execute(sql::USE_RECOVERY_CODE, params![ts(&at), user.0, code_hash])? == 1)
    }

    async fn update_user(
        &mut self,
        user: &User,
        disabled_at: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        Ok(self.execute(
            sql::UPDATE_USER,
            params![
                user.role.as_str(),
                user.vendor_id.map(|v| v.0),
                disabled_at.as_ref().map(ts),
                user.id.0
            ],
        )? == 1)
    }

    async fn insert_vendor(&mut self, vendor: &Vendor, at: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
            sql::INSERT_VENDOR,
            params![vendor.id.0, vendor.name.as_str(), ts(&at)],
        )?;
        Ok(())
    }

    async fn insert_location(&mut self, l: &Location, at: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
            sql::INSERT_LOCATION,
            params![
                l.id.0,
                l.vendor_id.0,
                l.code.as_str(),
                l.name.as_str(),
                l.priority,
                ts(&at)
            ],
        )?;
        Ok(())
    }

    async fn location_by_code(
        &mut self,
        vendor: VendorId,
        code: &LocationCode,
    ) -> StoreResult<Option<Location>> {
        Ok(self
            .query(
                sql::LOCATION_BY_CODE,
                params![vendor.0, code.as_str()],
                |r| location_from_row(r),
            )?
            .pop())
    }

    async fn insert_product(&mut self, p: &Product, at: DateTime<Utc>) -> StoreResult<()> {
        let at = ts(&at);
        self.execute(
            sql::INSERT_PRODUCT,
            params![
                p.id.0,
                p.vendor_id.0,
                p.title.as_str(),
                p.tax_class.as_str(),
                p.stock_deduction.as_str(),
                at
            ],
        )?;
        for (position, v) in p.variants.iter().enumerate() {
            self.execute(
                sql::INSERT_VARIANT,
                params![
                    v.id.0,
                    p.id.0,
                    v.sku.as_str(),
                    v.title.as_ref().map(Name::as_str),
                    position as i64,
                    i64::from(v.weight_grams),
                    v.low_stock_threshold,
                    at
                ],
            )?;
            for price in &v.prices {
                self.execute(
                    sql::INSERT_PRICE,
                    params![v.id.0, price.currency.code(), price.amount],
                )?;
            }
        }
        Ok(())
    }

    async fn sku_vendor(&mut self, sku: &Sku) -> StoreResult<Option<VendorId>> {
        self.conn
            .prepare_cached(sql::SKU_VENDOR)
            .and_then(|mut s| {
                s.query_row(params![sku.as_str()], |r| r.get::<_, Uuid>(0))
                    .optional()
            })
            .map(|v| v.map(VendorId))
            .map_err(|e| self.fail(e))
    }

    async fn variants_for_sale(&mut self, skus: &[Sku]) -> StoreResult<Vec<VariantForSale>> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=skus.len()).map(|i| format!("${i}")).collect();
        let sql = format!("{}{})", sql::VARIANTS_FOR_SALE, placeholders.join(", "));
        let mut out = Vec::with_capacity(skus.len());
        self.query(&sql, params_from_iter(skus.iter().map(Sku::as_str)), |r| {
            push_variant_for_sale(&mut out, r)
        })?;
        Ok(out)
    }

    async fn set_price(&mut self, sku: &Sku, price: Money) -> StoreResult<bool> {
        Ok(self.execute(
            sql::SET_PRICE,
            params![price.currency.code(), price.amount, sku.as_str()],
        )? == 1)
    }

    async fn delete_price(&mut self, sku: &Sku, currency: Currency) -> StoreResult<bool> {
        Ok(self.execute(sql::DELETE_PRICE, params![currency.code(), sku.as_str()])? == 1)
    }

    async fn set_low_stock_threshold(
        &mut self,
        sku: &Sku,
        threshold: Option<i64>,
    ) -> StoreResult<bool> {
        Ok(self.execute(sql::SET_THRESHOLD, params![threshold, sku.as_str()])? == 1)
    }

    async fn insert_adjustment(&mut self, a: &StockAdjustment) -> StoreResult<()> {
        self.execute(
            sql::INSERT_ADJUSTMENT,
            params![
                a.id.0,
                a.sku.as_str(),
                a.location_id.0,
                a.delta,
                a.reason.as_str(),
                a.note,
                a.actor.user_id.map(|u| u.0),
                a.actor.role.as_str(),
                a.on_hand_after,
                ts(&a.at)
            ],
        )?;
        Ok(())
    }

    async fn lock_stock(&mut self, sku: &Sku) -> StoreResult<Vec<StockLevel>> {
        self.query(&locked::STOCK, params![sku.as_str()], |r| {
            stock_level_from_row(r)
        })
    }

    async fn change_stock(
        &mut self,
        sku: &Sku,
        location: LocationId,
        on_hand: i64,
        reserved: i64,
    ) -> StoreResult<()> {
        let changed = self.execute(
            sql::CHANGE_STOCK,
            params![on_hand, reserved, sku.as_str(), location.0],
        )?;
        if changed != 1 {
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
        self.execute(
            sql::SET_ON_HAND,
            params![sku.as_str(), location.0, on_hand, ts(&at)],
        )?;
        Ok(())
    }

    async fn insert_order(&mut self, o: &Order) -> StoreResult<()> {
        self.execute(
            sql::INSERT_ORDER,
            params![
                o.id.0,
                o.customer_id.0,
                o.vendor_id.0,
                o.status.as_str(),
                o.currency.code(),
                o.subtotal.amount,
                o.total.amount,
                json(&o.shipping_address)?,
                o.carrier_id.map(|c| c.0),
                o.cancel_reason.as_deref(),
                ts(&o.created_at),
                ts(&o.updated_at),
                o.version,
                json(&o.pricing)?,
                o.checkout_id.map(|c| c.0),
                o.reserved_until.as_ref().map(ts)
            ],
        )?;
        for (line_no, l) in o.lines.iter().enumerate() {
            self.execute(
                sql::INSERT_LINE,
                params![
                    o.id.0,
                    line_no as i64 + 1,
                    l.sku.as_str(),
                    l.product_id.0,
                    l.variant_id.0,
                    l.title,
                    i64::from(l.quantity),
                    l.unit_price.amount,
                    l.line_total.amount,
                    json(&l.allocations)?,
                    json(&l.pricing)?
                ],
            )?;
        }
        // Support finds the customer by the recipient's name (see 0014_customer_names.sql).
        for key in name_keys(&o.shipping_address.name) {
            self.execute(
                "INSERT INTO customer_names (key, customer_id, name) VALUES (?1, ?2, ?3) \
                 ON CONFLICT DO NOTHING",
                params![key, o.customer_id.0, o.shipping_address.name],
            )?;
        }
        Ok(())
    }

    async fn order_for_update(&mut self, id: OrderId) -> StoreResult<Option<Order>> {
        let mut rows = self.query(&locked::ORDER, params![id.0], |r| {
            Ok((order_currency(r)?, order_from_row(r, Vec::new())?))
        })?;
        let Some((currency, mut order)) = rows.pop() else {
            return Ok(None);
        };
        order.lines = self.query(&LINES, params![id.0], |r| line_from_row(r, currency))?;
        Ok(Some(order))
    }

    async fn update_order(&mut self, o: &Order, expected_version: i64) -> StoreResult<()> {
        let changed = self.execute(
            sql::UPDATE_ORDER,
            params![
                o.status.as_str(),
                o.carrier_id.map(|c| c.0),
                o.cancel_reason.as_deref(),
                ts(&o.updated_at),
                o.version,
                o.reserved_until.as_ref().map(ts),
                o.id.0,
                expected_version
            ],
        )?;
        if changed == 0 {
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
        self.execute(
            sql::SET_LINE_ALLOCATIONS,
            params![json(&allocations)?, order.0, line_index as i64 + 1],
        )?;
        Ok(())
    }

    async fn checkout_orders(&mut self, id: CheckoutId) -> StoreResult<Vec<Order>> {
        let ids = self.query(&CHECKOUT_ORDERS, params![id.0], |r| {
            Ok(OrderId(r.uuid("id")?))
        })?;
        let mut orders = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(o) = self.order_for_update(id).await? {
                orders.push(o);
            }
        }
        Ok(orders)
    }

    async fn append_event(&mut self, e: &OrderEvent) -> StoreResult<()> {
        self.execute(
            sql::APPEND_EVENT,
            params![
                e.order_id.0,
                e.seq,
                e.event_type,
                e.actor.user_id.map(|u| u.0),
                e.actor.role.as_str(),
                e.actor.vendor_id.map(|v| v.0),
                ts(&e.at),
                json(&e.change)?
            ],
        )?;
        Ok(())
    }

    async fn enqueue(&mut self, m: &OutboxMessage) -> StoreResult<()> {
        self.execute(
            sql::ENQUEUE,
            params![
                m.topic,
                m.key,
                m.payload.get(),
                ts(&m.created_at),
                m.audience.customer.map(|u| u.0),
                m.audience.vendor.map(|v| v.0),
                m.audience.carrier.map(|u| u.0)
            ],
        )?;
        Ok(())
    }

    async fn insert_cart(&mut self, c: &Cart, token_hash: Option<&[u8]>) -> StoreResult<()> {
        self.execute(
            sql::INSERT_CART,
            params![
                c.id.0,
                token_hash,
                c.customer_id.map(|u| u.0),
                c.status.as_str(),
                c.currency.code(),
                c.promo_code,
                json(&c.shipping_address)?,
                json(&c.lines)?,
                c.checkout_id.map(|x| x.0),
                ts(&c.created_at),
                ts(&c.updated_at),
                c.version
            ],
        )?;
        Ok(())
    }

    async fn cart_for_update(&mut self, id: CartId) -> StoreResult<Option<Cart>> {
        Ok(self
            .query(&locked::CART, params![id.0], |r| cart_from_row(r))?
            .pop())
    }

    async fn open_cart_for_update(&mut self, customer: UserId) -> StoreResult<Option<Cart>> {
        Ok(self
            .query(&locked::OPEN_CART, params![customer.0], |r| {
                cart_from_row(r)
            })?
            .pop())
    }

    async fn update_cart(&mut self, c: &Cart, expected_version: i64) -> StoreResult<()> {
        let changed = self.execute(
            sql::UPDATE_CART,
            params![
                c.customer_id.map(|u| u.0),
                c.status.as_str(),
                c.currency.code(),
                c.promo_code,
                json(&c.shipping_address)?,
                json(&c.lines)?,
                c.checkout_id.map(|x| x.0),
                ts(&c.updated_at),
                c.version,
                c.id.0,
                expected_version
            ],
        )?;
        if changed == 0 {
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
        let ids = self.query(
            sql::PUT_RULE,
            params![id.0, kind.as_str(), key, data.get(), ts(&at)],
            |r| Ok(RuleId(r.uuid("id")?)),
        )?;
        ids.into_iter()
            .next()
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("upsert returned no id")))
    }

    async fn delete_rule(&mut self, kind: RuleKind, id: RuleId) -> StoreResult<bool> {
        Ok(self.execute(sql::DELETE_RULE, params![kind.as_str(), id.0])? == 1)
    }

    async fn insert_promotion(&mut self, p: &Promotion, at: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
            sql::INSERT_PROMOTION,
            params![
                p.id.0,
                p.code,
                json(p)?,
                p.usage_limit.map(i64::from),
                ts(&at)
            ],
        )?;
        Ok(())
    }

    async fn update_promotion(&mut self, p: &Promotion, at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(self.execute(
            sql::UPDATE_PROMOTION,
            params![
                p.code,
                json(p)?,
                p.usage_limit.map(i64::from),
                ts(&at),
                p.id.0
            ],
        )? == 1)
    }

    async fn use_promotion(&mut self, id: PromotionId) -> StoreResult<bool> {
        Ok(self.execute(sql::USE_PROMOTION, params![id.0])? == 1)
    }

    async fn idempotency_claim(
        &mut self,
        scope: &str,
        key: &str,
        request_hash: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let claimed = self.execute(
            sql::IDEMPOTENCY_CLAIM,
            params![scope, key, request_hash, ts(&at)],
        )?;
        if claimed == 1 {
            return Ok(None);
        }
        Ok(self
            .query(sql::IDEMPOTENCY_GET, params![scope, key], |r| {
                idempotency_from_row(r)
            })?
            .pop())
    }

    async fn idempotency_remember(
        &mut self,
        scope: &str,
        key: &str,
        response: &str,
    ) -> StoreResult<()> {
        self.execute(sql::IDEMPOTENCY_REMEMBER, params![response, scope, key])?;
        Ok(())
    }

    async fn set_cart_token(&mut self, id: CartId, token_hash: &[u8]) -> StoreResult<()> {
        self.execute(sql::SET_CART_TOKEN, params![token_hash, id.0])?;
        Ok(())
    }

    async fn insert_guest_account(&mut self, user: UserId, at: DateTime<Utc>) -> StoreResult<()> {
        self.execute(sql::INSERT_GUEST_ACCOUNT, params![user.0, ts(&at)])?;
        Ok(())
    }

    async fn claim_guest_account(
        &mut self,
        user: UserId,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        if self.execute(sql::CLAIM_GUEST_ACCOUNT, params![ts(&at), user.0])? == 0 {
            return Ok(false);
        }
        self.execute(sql::SET_PASSWORD, params![password_hash, user.0])?;
        Ok(true)
    }

    async fn insert_order_note(&mut self, note: &OrderNote) -> StoreResult<()> {
        self.execute(
            sql::INSERT_ORDER_NOTE,
            params![
                note.id,
                note.order_id.0,
                json(&note.author)?,
                note.body,
                ts(&note.created_at)
            ],
        )?;
        Ok(())
    }

    async fn insert_checkout_link(
        &mut self,
        checkout: CheckoutId,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            sql::INSERT_CHECKOUT_LINK,
            params![token, checkout.0, ts(&at)],
        )?;
        Ok(())
    }

    async fn enqueue_job(&mut self, job: &Job, at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(self.put_job(sql::ENQUEUE_JOB, job, at)? == 1)
    }

    async fn wake_job(&mut self, job: &Job, at: DateTime<Utc>) -> StoreResult<()> {
        self.put_job(sql::WAKE_JOB, job, at)?;
        Ok(())
    }

    async fn put_webhook_endpoint(&mut self, e: &WebhookEndpoint) -> StoreResult<()> {
        self.execute(
            sql::PUT_WEBHOOK_ENDPOINT,
            params![
                e.id,
                e.vendor_id.map(|v| v.0),
                e.url,
                json(&e.events)?,
                e.description,
                e.secret,
                e.previous_secret,
                e.previous_until.as_ref().map(ts),
                e.disabled_at.as_ref().map(ts),
                e.disabled_reason,
                e.failing_since.as_ref().map(ts),
                e.created_by.0,
                ts(&e.created_at),
                ts(&e.updated_at)
            ],
        )?;
        Ok(())
    }

    async fn delete_webhook_endpoint(&mut self, id: Uuid) -> StoreResult<bool> {
        self.execute(sql::DELETE_WEBHOOK_DELIVERIES, params![id])?;
        Ok(self.execute(sql::DELETE_WEBHOOK_ENDPOINT, params![id])? == 1)
    }

    async fn set_webhook_health(
        &mut self,
        id: Uuid,
        failing_since: Option<DateTime<Utc>>,
        disabled: Option<(DateTime<Utc>, &str)>,
    ) -> StoreResult<()> {
        self.execute(
            sql::SET_WEBHOOK_HEALTH,
            params![
                failing_since.as_ref().map(ts),
                disabled.map(|d| ts(&d.0)),
                disabled.map(|d| d.1),
                id
            ],
        )?;
        Ok(())
    }

    async fn put_webhook_delivery(&mut self, d: &WebhookDelivery) -> StoreResult<()> {
        self.execute(
            sql::PUT_WEBHOOK_DELIVERY,
            params![
                d.id,
                d.endpoint_id,
                d.message_id,
                d.event_type,
                d.key,
                d.position,
                d.body,
                d.state.as_str(),
                d.attempts,
                ts(&d.next_at),
                d.last_status,
                d.last_error,
                d.last_latency_ms,
                ts(&d.created_at),
                d.delivered_at.as_ref().map(ts)
            ],
        )?;
        Ok(())
    }

    async fn put_notification_preferences(
        &mut self,
        p: &NotificationPreferences,
    ) -> StoreResult<()> {
        self.execute(
            sql::PUT_NOTIFICATION_PREFERENCES,
            params![
                p.user_id.0,
                p.locale,
                p.email,
                p.sms,
                p.push,
                p.phone,
                ts(&p.updated_at)
            ],
        )?;
        Ok(())
    }

    async fn put_notification(&mut self, n: &Notification) -> StoreResult<()> {
        self.execute(
            sql::PUT_NOTIFICATION,
            params![
                n.id,
                n.event_type,
                n.position,
                n.order_id.map(|o| o.0),
                n.data,
                n.recipient_id.0,
                n.to_staff,
                n.channel.as_str(),
                n.address,
                n.locale,
                n.subject,
                n.state.as_str(),
                n.attempts,
                n.last_error,
                ts(&n.created_at),
                n.sent_at.as_ref().map(ts)
            ],
        )?;
        Ok(())
    }

    async fn insert_payment(
        &mut self,
        p: &Payment,
        allocations: &[PaymentAllocation],
    ) -> StoreResult<()> {
        let a = &p.amounts;
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
                p.state.as_str(),
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
        let a = &p.amounts;
        let changed = self.execute(
            sql::UPDATE_PAYMENT,
            params![
                p.provider_ref,
                p.state.as_str(),
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
                p.state,
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

    async fn raise_exception(&mut self, e: &ExceptionItem) -> StoreResult<bool> {
        Ok(self.execute(
            sql::RAISE_EXCEPTION,
            params![
                e.id,
                e.kind,
                e.key,
                e.status,
                e.order_id.map(|o| o.0),
                e.body,
                ts(&e.created_at),
                ts(&e.updated_at)
            ],
        )? == 1)
    }

    async fn update_exception(&mut self, e: &ExceptionItem) -> StoreResult<()> {
        self.execute(
            sql::UPDATE_EXCEPTION,
            params![e.status, e.body, ts(&e.updated_at), e.id],
        )?;
        Ok(())
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

    async fn hurry_job(&mut self, kind: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.execute(sql::HURRY_JOB, params![ts(&at), kind])?;
        Ok(())
    }

    async fn retry_job(&mut self, id: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(self.execute(sql::RETRY_JOB, params![ts(&at), id])? == 1)
    }

    async fn claim_jobs(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        self.query(
            &sql::CLAIM_JOBS,
            params![ts(&now), ts(&lease_until), i64::from(limit)],
            |r| job_from_row(r),
        )
    }

    async fn finish_job(&mut self, id: Uuid, end: &JobEnd, at: DateTime<Utc>) -> StoreResult<()> {
        let (state, run_at, error, reset) = job_end(end);
        self.execute(
            sql::FINISH_JOB,
            params![state, run_at.as_ref().map(ts), error, reset, ts(&at), id],
        )?;
        Ok(())
    }

    async fn purge(&mut self, what: Purge, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        Ok(self.execute(purge_sql(what), params![ts(&before), i64::from(limit)])? as u64)
    }

    async fn sequence_outbox(&mut self, at: DateTime<Utc>, limit: u32) -> StoreResult<Option<i64>> {
        let last: Vec<i64> = self.query(&locked::SEQUENCER, [], |r| r.int("position"))?;
        let last = last.first().copied().unwrap_or(0);
        let given = self.execute(
            sql::SEQUENCE_OUTBOX,
            params![last, ts(&at), i64::from(limit)],
        )?;
        if given == 0 {
            return Ok(None);
        }
        let now_last = last + given as i64;
        self.execute(sql::ADVANCE_SEQUENCER, params![now_last, ts(&at)])?;
        Ok(Some(now_last))
    }

    async fn consumer_cursor(&mut self, consumer: &str, at: DateTime<Utc>) -> StoreResult<i64> {
        self.execute(sql::ENSURE_CURSOR, params![consumer, ts(&at)])?;
        let at: Vec<i64> =
            self.query(sql::READ_CURSOR, params![consumer], |r| r.int("position"))?;
        at.first()
            .copied()
            .ok_or_else(|| corrupt("relay cursor", format!("{consumer} has no cursor")))
    }

    async fn advance_cursor(
        &mut self,
        consumer: &str,
        position: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(sql::ADVANCE_CURSOR, params![position, ts(&at), consumer])?;
        Ok(())
    }
}
