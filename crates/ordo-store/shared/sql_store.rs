//! The SQL of the store shared by both backends: every read, the row mappings, and the text of
//! every write statement.
//!
//! This file is not a module of `ordo-store`: `ordo-store-sqlite` and `ordo-store-postgres` each
//! compile it with `#[path]`, against their own concrete driver (`crate::Db`), dialect strings
//! (`crate::dialect`), error mapping (`crate::map_err`) and write path (`crate::Writer`,
//! `crate::transact`). The SQL that is the same on both databases — nearly all of it — is
//! therefore written once and checked by the compiler twice, without the generic trait bounds
//! sqlx would otherwise demand. Reads go through sqlx on both. Writes differ in how they run:
//! PostgreSQL runs each unit of work on a pooled sqlx connection, SQLite on one writer thread
//! through its C API (rusqlite), where a statement costs microseconds instead of a round trip
//! to sqlx's worker thread — see `docs/benchmarks.md` for the measurements behind that split.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::address::Address;
use ordo_domain::cart::{Cart, CartLine, CartStatus};
use ordo_domain::catalog::{
    Location, LocationCode, Name, Product, Sku, Variant, VariantForSale, Vendor,
};
use ordo_domain::identity::{Actor, EmailAddress, Role, User};
use ordo_domain::ids::{
    AdjustmentId, CartId, CheckoutId, LocationId, OrderId, ProductId, PromotionId, RuleId, UserId,
    VariantId, VendorId,
};
use ordo_domain::inventory::{AdjustmentReason, Allocation, StockDeduction, StockLevel};
use ordo_domain::money::{Currency, Money};
use ordo_domain::order::{
    LinePricing, Order, OrderChange, OrderEvent, OrderLine, OrderPricing, OrderStatus,
};
use ordo_domain::payment::PaymentStatus;
use ordo_domain::pricing::{FxRate, PricingBook, Promotion, ShippingRate, TaxClass, TaxRule};
use ordo_store::{
    Audience, AuthChange, AuthFactors, Channel, Credentials, DeliveryState, ExceptionFilter,
    ExceptionItem, IdempotencyRecord, Job, JobCounts, JobEnd, JobState, LiveSession, LocationStock,
    LowStock, MoneyRow, NamedCustomer, Notification, NotificationPreferences, NotificationState,
    OrderNote, OrderQuery, OrderScope, OutboxMessage, Outcome, Payment, PaymentAllocation,
    PaymentEntry, Payout, PriceListEntry, Purge, RelayState, RelayedEvent, SkuStock,
    StockAdjustment, Store, StoreError, StoreResult, TxWork, WebhookDelivery, WebhookEndpoint,
};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Pool, QueryBuilder, Row};
use uuid::Uuid;

use crate::{Db, DbRow, dialect, map_err};

/// A store over a writer and a reader pool. PostgreSQL's writer is the same pool as its reader;
/// SQLite's is its group-commit writer thread (see `ordo-store-sqlite/src/writer.rs`).
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) writer: crate::Writer,
    pub(crate) reader: Pool<Db>,
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!("corrupt {what} in database: {e}"))
}

fn currency(code: &str) -> StoreResult<Currency> {
    Currency::parse(code).map_err(|e| corrupt("currency", e))
}

/// Typed columns of a result row, whichever driver read it: the row mappings below serve sqlx's
/// rows (reads, PostgreSQL writes) and SQLite's writer thread (rusqlite rows) alike.
pub(crate) trait Cols {
    fn uuid(&self, col: &str) -> StoreResult<Uuid>;
    fn opt_uuid(&self, col: &str) -> StoreResult<Option<Uuid>>;
    fn text(&self, col: &str) -> StoreResult<String>;
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>>;
    /// A `bigint` column.
    fn int(&self, col: &str) -> StoreResult<i64>;
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>>;
    /// An `integer` (32-bit on PostgreSQL) column.
    fn int32(&self, col: &str) -> StoreResult<i32>;
    /// A `boolean` column (SQLite: 0 or 1).
    fn flag(&self, col: &str) -> StoreResult<bool>;
    fn bytes(&self, col: &str) -> StoreResult<Vec<u8>>;
    fn time(&self, col: &str) -> StoreResult<DateTime<Utc>>;
    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>>;
    fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> StoreResult<T>;
}

impl Cols for DbRow {
    fn uuid(&self, col: &str) -> StoreResult<Uuid> {
        self.try_get(col).map_err(map_err)
    }
    fn opt_uuid(&self, col: &str) -> StoreResult<Option<Uuid>> {
        self.try_get(col).map_err(map_err)
    }
    fn text(&self, col: &str) -> StoreResult<String> {
        self.try_get(col).map_err(map_err)
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.try_get(col).map_err(map_err)
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.try_get(col).map_err(map_err)
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.try_get(col).map_err(map_err)
    }
    fn int32(&self, col: &str) -> StoreResult<i32> {
        self.try_get(col).map_err(map_err)
    }
    fn flag(&self, col: &str) -> StoreResult<bool> {
        self.try_get(col).map_err(map_err)
    }
    fn bytes(&self, col: &str) -> StoreResult<Vec<u8>> {
        self.try_get(col).map_err(map_err)
    }
    fn time(&self, col: &str) -> StoreResult<DateTime<Utc>> {
        self.try_get(col).map_err(map_err)
    }
    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.try_get(col).map_err(map_err)
    }
    fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> StoreResult<T> {
        let Json(value): Json<T> = self.try_get(col).map_err(map_err)?;
        Ok(value)
    }
}

fn user_from_row(row: &impl Cols) -> StoreResult<User> {
    let role = row.text("role")?;
    Ok(User {
        id: UserId(row.uuid("id")?),
        email: EmailAddress::parse(&row.text("email")?).map_err(|e| corrupt("email", e))?,
        role: role.parse::<Role>().map_err(|e| corrupt("role", e))?,
        vendor_id: row.opt_uuid("vendor_id")?.map(VendorId),
    })
}

pub(crate) fn location_from_row(row: &impl Cols) -> StoreResult<Location> {
    Ok(Location {
        id: LocationId(row.uuid("id")?),
        vendor_id: VendorId(row.uuid("vendor_id")?),
        code: LocationCode::parse(&row.text("code")?).map_err(|e| corrupt("location code", e))?,
        name: Name::parse(&row.text("name")?).map_err(|e| corrupt("location name", e))?,
        priority: row.int32("priority")?,
    })
}

pub(crate) fn line_from_row(row: &impl Cols, currency: Currency) -> StoreResult<OrderLine> {
    let sku = row.text("sku")?;
    let quantity = row.int("quantity")?;
    Ok(OrderLine {
        sku: Sku::parse(&sku).map_err(|e| corrupt("sku", e))?,
        product_id: ProductId(row.uuid("product_id")?),
        variant_id: VariantId(row.uuid("variant_id")?),
        title: row.text("title")?,
        quantity: u32::try_from(quantity).map_err(|e| corrupt("quantity", e))?,
        unit_price: Money {
            amount: row.int("unit_price_minor")?,
            currency,
        },
        line_total: Money {
            amount: row.int("line_total_minor")?,
            currency,
        },
        allocations: row.json::<Vec<Allocation>>("allocations")?,
        pricing: row.json::<LinePricing>("pricing")?,
    })
}

pub(crate) fn order_currency(row: &impl Cols) -> StoreResult<Currency> {
    currency(&row.text("currency")?)
}

pub(crate) fn order_from_row(row: &impl Cols, lines: Vec<OrderLine>) -> StoreResult<Order> {
    let cur = order_currency(row)?;
    let status = row.text("status")?;
    Ok(Order {
        id: OrderId(row.uuid("id")?),
        customer_id: UserId(row.uuid("customer_id")?),
        vendor_id: VendorId(row.uuid("vendor_id")?),
        status: status
            .parse::<OrderStatus>()
            .map_err(|e| corrupt("status", e))?,
        currency: cur,
        lines,
        subtotal: Money {
            amount: row.int("subtotal_minor")?,
            currency: cur,
        },
        total: Money {
            amount: row.int("total_minor")?,
            currency: cur,
        },
        pricing: row.json::<OrderPricing>("pricing")?,
        checkout_id: row.opt_uuid("checkout_id")?.map(CheckoutId),
        reserved_until: row.opt_time("reserved_until")?,
        shipping_address: row.json::<Address>("shipping_address")?,
        carrier_id: row.opt_uuid("carrier_id")?.map(UserId),
        cancel_reason: row.opt_text("cancel_reason")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        version: row.int("version")?,
    })
}

pub(crate) fn stock_level_from_row(row: &impl Cols) -> StoreResult<StockLevel> {
    Ok(StockLevel {
        location_id: LocationId(row.uuid("location_id")?),
        priority: row.int32("priority")?,
        on_hand: row.int("on_hand")?,
        reserved: row.int("reserved")?,
    })
}

fn vendor_from_row(row: &impl Cols) -> StoreResult<Vendor> {
    Ok(Vendor {
        id: VendorId(row.uuid("id")?),
        name: Name::parse(&row.text("name")?).map_err(|e| corrupt("vendor name", e))?,
    })
}

/// Folds one row of [`sql::VARIANTS_FOR_SALE`] (one row per variant and price) into `out`,
/// the variants with all their prices.
pub(crate) fn push_variant_for_sale(
    out: &mut Vec<VariantForSale>,
    row: &impl Cols,
) -> StoreResult<()> {
    let id = VariantId(row.uuid("id")?);
    // Rows of one variant usually come together, but SQL promises no order without an
    // ORDER BY, which would cost a sort on every placement: look the variant up instead.
    let at = match out.iter().rposition(|v| v.variant_id == id) {
        Some(at) => at,
        None => {
            out.push(variant_for_sale_from_row(row)?);
            out.len() - 1
        }
    };
    if let Some(code) = row.opt_text("currency")? {
        out[at].prices.push(Money {
            amount: row.int("amount_minor")?,
            currency: currency(&code)?,
        });
    }
    Ok(())
}

fn variant_for_sale_from_row(row: &impl Cols) -> StoreResult<VariantForSale> {
    let product_title = row.text("product_title")?;
    Ok(VariantForSale {
        variant_id: VariantId(row.uuid("id")?),
        product_id: ProductId(row.uuid("product_id")?),
        vendor_id: VendorId(row.uuid("vendor_id")?),
        sku: Sku::parse(&row.text("sku")?).map_err(|e| corrupt("sku", e))?,
        title: match row.opt_text("variant_title")? {
            Some(v) => format!("{product_title} — {v}"),
            None => product_title,
        },
        prices: Vec::new(),
        tax_class: TaxClass::parse(&row.text("tax_class")?).map_err(|e| corrupt("tax class", e))?,
        deduction: StockDeduction::parse(&row.text("stock_deduction")?)
            .map_err(|e| corrupt("stock deduction", e))?,
        weight_grams: u32::try_from(row.int("weight_grams")?).map_err(|e| corrupt("weight", e))?,
        low_stock_threshold: row.opt_int("low_stock_threshold")?,
        commission_bp: u16::try_from(row.int("commission_bp")?)
            .map_err(|e| corrupt("commission", e))?,
    })
}

pub(crate) fn idempotency_from_row(row: &impl Cols) -> StoreResult<IdempotencyRecord> {
    Ok(IdempotencyRecord {
        request_hash: row.bytes("request_hash")?,
        response: row.opt_text("response")?,
    })
}

/// Narrows a query of orders or events to whose they are (both tables name the same columns).
/// Narrows a query of `orders` to those whose share of their payment has status `paid`. With no
/// order status to match as well, a vendor's (or everyone's) orders come straight from the
/// shares' index, newest first, `limit` of them after `after`; otherwise each candidate order
/// is checked against its share (a customer's or carrier's few orders, or orders of one
/// status).
fn push_payment_status(
    qb: &mut QueryBuilder<Db>,
    scope: OrderScope,
    paid: PaymentStatus,
    ranged: Option<(Option<OrderId>, i64)>,
) {
    match (scope, ranged) {
        (OrderScope::Vendor(_) | OrderScope::All, Some((after, limit))) => {
            qb.push(" AND id IN (SELECT order_id FROM payment_allocations WHERE status = ")
                .push_bind(paid.as_str());
            if let OrderScope::Vendor(v) = scope {
                qb.push(" AND vendor_id = ").push_bind(v.0);
            }
            if let Some(after) = after {
                qb.push(" AND order_id < ").push_bind(after.0);
            }
            qb.push(" ORDER BY order_id DESC LIMIT ")
                .push_bind(limit)
                .push(")");
        }
        _ => {
            qb.push(
                " AND EXISTS (SELECT 1 FROM payment_allocations pa \
                 WHERE pa.order_id = orders.id AND pa.status = ",
            )
            .push_bind(paid.as_str())
            .push(")");
        }
    }
}

fn push_scope(qb: &mut QueryBuilder<Db>, scope: OrderScope) {
    match scope {
        OrderScope::All => {}
        OrderScope::Customer(id) => {
            qb.push(" AND customer_id = ").push_bind(id.0);
        }
        OrderScope::Vendor(id) => {
            qb.push(" AND vendor_id = ").push_bind(id.0);
        }
        OrderScope::Carrier(id) => {
            qb.push(" AND carrier_id = ").push_bind(id.0);
        }
    }
}

/// The columns [`outbox_from_row`] reads (the payload as text on both databases).
static OUTBOX_COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "topic, key, {}, created_at, customer_id, vendor_id, carrier_id",
        dialect::PAYLOAD_TEXT
    )
});

/// An outbox row (topic, key, payload as text, created_at and the audience).
pub(crate) fn outbox_from_row(r: &impl Cols) -> StoreResult<OutboxMessage> {
    Ok(OutboxMessage {
        topic: r.text("topic")?,
        key: r.text("key")?,
        payload: serde_json::value::RawValue::from_string(r.text("payload")?)
            .map_err(|e| corrupt("outbox payload", e))?,
        created_at: r.time("created_at")?,
        audience: Audience {
            customer: r.opt_uuid("customer_id")?.map(UserId),
            vendor: r.opt_uuid("vendor_id")?.map(VendorId),
            carrier: r.opt_uuid("carrier_id")?.map(UserId),
        },
    })
}

/// The columns [`webhook_endpoint_from_row`] reads.
pub(crate) const WEBHOOK_ENDPOINT_COLUMNS: &str = "id, vendor_id, url, events, description, \
    secret, previous_secret, previous_until, disabled_at, disabled_reason, failing_since, \
    created_by, created_at, updated_at";

pub(crate) fn webhook_endpoint_from_row(r: &impl Cols) -> StoreResult<WebhookEndpoint> {
    Ok(WebhookEndpoint {
        id: r.uuid("id")?,
        vendor_id: r.opt_uuid("vendor_id")?.map(VendorId),
        url: r.text("url")?,
        events: r.json("events")?,
        description: r.opt_text("description")?,
        secret: r.text("secret")?,
        previous_secret: r.opt_text("previous_secret")?,
        previous_until: r.opt_time("previous_until")?,
        disabled_at: r.opt_time("disabled_at")?,
        disabled_reason: r.opt_text("disabled_reason")?,
        failing_since: r.opt_time("failing_since")?,
        created_by: UserId(r.uuid("created_by")?),
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

/// The columns [`webhook_delivery_from_row`] reads.
pub(crate) const PAYMENT_COLUMNS: &str = "id, checkout_id, customer_id, provider, provider_ref, \
    currency, amount, capture_policy, state, authorized, captured, voided, refunded, capturing, \
    voiding, refunding, decline_code, capture_before, client_secret, created_at, updated_at, \
    version";

pub(crate) fn payment_from_row(r: &impl Cols) -> StoreResult<Payment> {
    use ordo_domain::payment::{Amounts, CapturePolicy, PaymentState};
    Ok(Payment {
        id: r.uuid("id")?,
        checkout_id: r.opt_uuid("checkout_id")?.map(CheckoutId),
        customer_id: UserId(r.uuid("customer_id")?),
        provider: r.text("provider")?,
        provider_ref: r.opt_text("provider_ref")?,
        currency: currency(&r.text("currency")?)?,
        amount: r.int("amount")?,
        capture_policy: CapturePolicy::parse(&r.text("capture_policy")?)
            .map_err(|e| corrupt("capture policy", e))?,
        state: PaymentState::parse(&r.text("state")?).map_err(|e| corrupt("payment state", e))?,
        amounts: Amounts {
            authorized: r.int("authorized")?,
            captured: r.int("captured")?,
            voided: r.int("voided")?,
            refunded: r.int("refunded")?,
            capturing: r.int("capturing")?,
            voiding: r.int("voiding")?,
            refunding: r.int("refunding")?,
        },
        decline_code: r.opt_text("decline_code")?,
        capture_before: r.opt_time("capture_before")?,
        client_secret: r.opt_text("client_secret")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        version: r.int("version")?,
    })
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
    Ok(Payout {
        id: r.uuid("id")?,
        vendor_id: VendorId(r.uuid("vendor_id")?),
        currency: currency(&r.text("currency")?)?,
        amount: r.int("amount")?,
        state: r.text("state")?,
        requested_by: actor("requested_by")?.ok_or_else(|| corrupt("payout", "no requester"))?,
        requested_at: r.time("requested_at")?,
        paid_by: actor("paid_by")?,
        paid_at: r.opt_time("paid_at")?,
        reference: r.opt_text("reference")?,
    })
}

pub(crate) const EXCEPTION_COLUMNS: &str =
    "id, kind, key, status, order_id, body, created_at, updated_at";

pub(crate) fn exception_from_row(r: &impl Cols) -> StoreResult<ExceptionItem> {
    Ok(ExceptionItem {
        id: r.uuid("id")?,
        kind: r.text("kind")?,
        key: r.text("key")?,
        status: r.text("status")?,
        order_id: r.opt_uuid("order_id")?.map(OrderId),
        body: r.text("body")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

pub(crate) const NOTIFICATION_COLUMNS: &str = "id, event_type, position, order_id, data, \
    recipient_id, to_staff, channel, address, locale, subject, state, attempts, last_error, \
    created_at, sent_at";

pub(crate) fn notification_from_row(r: &impl Cols) -> StoreResult<Notification> {
    Ok(Notification {
        id: r.uuid("id")?,
        event_type: r.text("event_type")?,
        position: r.int("position")?,
        order_id: r.opt_uuid("order_id")?.map(OrderId),
        data: r.text("data")?,
        recipient_id: UserId(r.uuid("recipient_id")?),
        to_staff: r.flag("to_staff")?,
        channel: Channel::parse(&r.text("channel")?).map_err(|e| corrupt("channel", e))?,
        address: r.text("address")?,
        locale: r.text("locale")?,
        subject: r.opt_text("subject")?,
        state: NotificationState::parse(&r.text("state")?)
            .map_err(|e| corrupt("notification state", e))?,
        attempts: r.int32("attempts")?,
        last_error: r.opt_text("last_error")?,
        created_at: r.time("created_at")?,
        sent_at: r.opt_time("sent_at")?,
    })
}

pub(crate) const WEBHOOK_DELIVERY_COLUMNS: &str = "id, endpoint_id, message_id, event_type, key, \
    position, body, state, attempts, next_at, last_status, last_error, last_latency_ms, \
    created_at, delivered_at";

pub(crate) fn webhook_delivery_from_row(r: &impl Cols) -> StoreResult<WebhookDelivery> {
    let state = r.text("state")?;
    Ok(WebhookDelivery {
        id: r.uuid("id")?,
        endpoint_id: r.uuid("endpoint_id")?,
        message_id: r.text("message_id")?,
        event_type: r.text("event_type")?,
        key: r.text("key")?,
        position: r.opt_int("position")?,
        body: r.text("body")?,
        state: DeliveryState::parse(&state).map_err(|e| corrupt("delivery state", e))?,
        attempts: r.int32("attempts")?,
        next_at: r.time("next_at")?,
        last_status: r.opt_int("last_status")?.map(|n| n as i32),
        last_error: r.opt_text("last_error")?,
        last_latency_ms: r.opt_int("last_latency_ms")?.map(|n| n as i32),
        created_at: r.time("created_at")?,
        delivered_at: r.opt_time("delivered_at")?,
    })
}

/// The columns [`job_from_row`] reads.
pub(crate) const JOB_COLUMNS: &str =
    "id, kind, key, payload, state, run_at, attempts, last_error, created_at";

pub(crate) fn job_from_row(row: &impl Cols) -> StoreResult<Job> {
    let state = row.text("state")?;
    Ok(Job {
        id: row.uuid("id")?,
        kind: row.text("kind")?,
        key: row.text("key")?,
        payload: row.json("payload")?,
        state: JobState::parse(&state).map_err(|e| corrupt("job state", e))?,
        run_at: row.time("run_at")?,
        attempts: row.int32("attempts")?,
        last_error: row.opt_text("last_error")?,
        created_at: row.time("created_at")?,
    })
}

/// The statement that ends a claimed job, and its values: (state, run_at, last_error,
/// reset attempts).
pub(crate) fn job_end(end: &JobEnd) -> (&'static str, Option<DateTime<Utc>>, Option<&str>, bool) {
    match end {
        JobEnd::Done => (JobState::Done.as_str(), None, None, false),
        JobEnd::Retry { run_at, error } => {
            (JobState::Queued.as_str(), Some(*run_at), Some(error), false)
        }
        JobEnd::Dead { error } => (JobState::Dead.as_str(), None, Some(error), false),
        JobEnd::Again { run_at } => (JobState::Queued.as_str(), Some(*run_at), None, true),
    }
}

/// The DELETE for one kind of purge.
pub(crate) fn purge_sql(what: Purge) -> &'static str {
    match what {
        Purge::IdempotencyKeys => sql::PURGE_IDEMPOTENCY_KEYS,
        Purge::Sessions => sql::PURGE_SESSIONS,
        Purge::Jobs => sql::PURGE_JOBS,
        Purge::DeadJobs => sql::PURGE_DEAD_JOBS,
        Purge::Outbox => sql::PURGE_OUTBOX,
    }
}

pub(crate) fn cart_from_row(row: &impl Cols) -> StoreResult<Cart> {
    let status = row.text("status")?;
    Ok(Cart {
        id: CartId(row.uuid("id")?),
        customer_id: row.opt_uuid("customer_id")?.map(UserId),
        status: CartStatus::parse(&status).map_err(|e| corrupt("cart status", e))?,
        currency: currency(&row.text("currency")?)?,
        promo_code: row.opt_text("promo_code")?,
        shipping_address: row.json::<Option<Address>>("shipping_address")?,
        lines: row.json::<Vec<CartLine>>("lines")?,
        checkout_id: row.opt_uuid("checkout_id")?.map(CheckoutId),
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        version: row.int("version")?,
    })
}

/// A row of `pricing_rules` or `promotions` into the book; the row's id is the rule's.
fn add_rule_to_book(book: &mut PricingBook, row: &impl Cols) -> StoreResult<()> {
    let id = RuleId(row.uuid("id")?);
    match row.text("kind")?.as_str() {
        "fx" => book.fx.push(FxRate {
            id,
            ..row.json("data")?
        }),
        "tax" => book.tax.push(TaxRule {
            id,
            ..row.json("data")?
        }),
        "shipping" => book.shipping.push(ShippingRate {
            id,
            ..row.json("data")?
        }),
        other => return Err(corrupt("rule kind", other)),
    }
    Ok(())
}

fn promotion_from_row(row: &impl Cols) -> StoreResult<Promotion> {
    let count = |v: i64| u32::try_from(v).map_err(|e| corrupt("promotion count", e));
    Ok(Promotion {
        id: PromotionId(row.uuid("id")?),
        uses: count(row.int("uses")?)?,
        usage_limit: row.opt_int("usage_limit")?.map(count).transpose()?,
        ..row.json("data")?
    })
}

fn adjustment_from_row(row: &impl Cols) -> StoreResult<StockAdjustment> {
    Ok(StockAdjustment {
        id: AdjustmentId(row.uuid("id")?),
        sku: Sku::parse(&row.text("sku")?).map_err(|e| corrupt("sku", e))?,
        location_id: LocationId(row.uuid("location_id")?),
        delta: row.int("delta")?,
        reason: AdjustmentReason::parse(&row.text("reason")?).map_err(|e| corrupt("reason", e))?,
        note: row.opt_text("note")?,
        actor: Actor {
            user_id: row.opt_uuid("actor_id")?.map(UserId),
            role: parse_role(&row.text("actor_role")?)?,
            vendor_id: None,
        },
        on_hand_after: row.int("on_hand_after")?,
        at: row.time("at")?,
    })
}

fn note_of(row: &DbRow) -> StoreResult<OrderNote> {
    Ok(OrderNote {
        id: row.uuid("id")?,
        order_id: OrderId(row.uuid("order_id")?),
        author: serde_json::from_str(&row.text("author")?).map_err(|e| corrupt("actor", e))?,
        body: row.text("body")?,
        created_at: row.time("created_at")?,
    })
}

fn parse_role(role: &str) -> StoreResult<Role> {
    if role == Role::System.as_str() {
        Ok(Role::System)
    } else {
        role.parse().map_err(|e| corrupt("role", e))
    }
}

/// The SQL of the write path, written once for both backends. Placeholders are numbered in the
/// order they appear, so SQLite's positional binding (rusqlite) and sqlx's agree.
pub(crate) mod sql {
    pub const INSERT_USER: &str = "INSERT INTO users (id, email, password_hash, role, vendor_id, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6)";
    pub const INSERT_GUEST_ACCOUNT: &str =
        "INSERT INTO guest_accounts (user_id, created_at) VALUES ($1, $2)";
    pub const CLAIM_GUEST_ACCOUNT: &str =
        "UPDATE guest_accounts SET claimed_at = $1 WHERE user_id = $2 AND claimed_at IS NULL";
    pub const SET_PASSWORD: &str = "UPDATE users SET password_hash = $1 WHERE id = $2";
    pub const INSERT_ORDER_NOTE: &str = "INSERT INTO order_notes (id, order_id, author, body, created_at) \
        VALUES ($1, $2, $3, $4, $5)";
    pub const INSERT_CHECKOUT_LINK: &str =
        "INSERT INTO checkout_links (token, checkout_id, created_at) VALUES ($1, $2, $3)";
    pub const INSERT_SESSION: &str = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, fresh_until) \
        VALUES ($1, $2, $3, $4, $5)";
    pub const SESSION_FRESH: &str =
        "UPDATE sessions SET fresh_until = $1, step_up_failures = 0 WHERE token_hash = $2";
    pub const USER_STEP_UP_RESET: &str =
        "UPDATE users SET step_up_failures = 0, step_up_locked_until = NULL WHERE id = $1";
    /// Records a TOTP step only if it is later than the last accepted: a code is good once.
    pub const USER_TOTP_STEP: &str = "UPDATE users SET totp_last_step = $1 WHERE id = $2 \
        AND (totp_last_step IS NULL OR totp_last_step < $1)";
    pub const SESSION_STEP_UP_FAILED: &str =
        "UPDATE sessions SET step_up_failures = step_up_failures + 1 WHERE token_hash = $1";
    pub const USER_STEP_UP_FAILED: &str =
        "UPDATE users SET step_up_failures = step_up_failures + 1 WHERE id = $1";
    pub const USER_STEP_UP_LOCKED: &str =
        "UPDATE users SET step_up_failures = 0, step_up_locked_until = $1 WHERE id = $2";
    pub const SET_TOTP: &str = "UPDATE users SET totp_secret = $1, totp_confirmed_at = $2, \
        totp_last_step = NULL WHERE id = $3";
    pub const DELETE_RECOVERY_CODES: &str = "DELETE FROM totp_recovery_codes WHERE user_id = $1";
    pub const INSERT_RECOVERY_CODE: &str =
        "INSERT INTO totp_recovery_codes (user_id, code_hash) VALUES ($1, $2)";
    pub const USE_RECOVERY_CODE: &str = "UPDATE totp_recovery_codes SET used_at = $1 \
        WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL";
    pub const UPDATE_USER: &str =
        "UPDATE users SET role = $1, vendor_id = $2, disabled_at = $3 WHERE id = $4";
    pub const REVOKE_SESSION: &str =
        "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL";
    pub const INSERT_VENDOR: &str =
        "INSERT INTO vendors (id, name, created_at) VALUES ($1, $2, $3)";
    pub const INSERT_LOCATION: &str = "INSERT INTO locations (id, vendor_id, code, name, priority, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6)";
    pub const LOCATION_BY_CODE: &str = "SELECT id, vendor_id, code, name, priority FROM locations WHERE vendor_id = $1 AND code = $2";
    pub const INSERT_PRODUCT: &str = "INSERT INTO products (id, vendor_id, title, tax_class, stock_deduction, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6)";
    pub const INSERT_VARIANT: &str = "INSERT INTO variants (id, product_id, sku, title, position, weight_grams, \
        low_stock_threshold, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    pub const INSERT_PRICE: &str =
        "INSERT INTO variant_prices (variant_id, currency, amount_minor) VALUES ($1, $2, $3)";
    pub const SKU_VENDOR: &str = "SELECT p.vendor_id FROM variants v JOIN products p ON p.id = v.product_id WHERE v.sku = $1";
    /// Followed by one placeholder per SKU and `)`.
    pub const VARIANTS_FOR_SALE: &str = "SELECT v.id, v.product_id, p.vendor_id, v.sku, \
        p.title AS product_title, v.title AS variant_title, p.tax_class, p.stock_deduction, \
        v.weight_grams, v.low_stock_threshold, ve.commission_bp, vp.currency, vp.amount_minor \
        FROM variants v JOIN products p ON p.id = v.product_id \
        JOIN vendors ve ON ve.id = p.vendor_id \
        LEFT JOIN variant_prices vp ON vp.variant_id = v.id WHERE v.sku IN (";
    /// `WHERE` before `ON CONFLICT` also keeps SQLite's parser from reading the upsert as a join.
    pub const SET_PRICE: &str = "INSERT INTO variant_prices (variant_id, currency, amount_minor) \
        SELECT id, $1, $2 FROM variants WHERE sku = $3 \
        ON CONFLICT (variant_id, currency) DO UPDATE SET amount_minor = excluded.amount_minor";
    pub const DELETE_PRICE: &str = "DELETE FROM variant_prices WHERE currency = $1 \
        AND variant_id = (SELECT id FROM variants WHERE sku = $2)";
    pub const SET_THRESHOLD: &str = "UPDATE variants SET low_stock_threshold = $1 WHERE sku = $2";
    pub const INSERT_ADJUSTMENT: &str = "INSERT INTO stock_adjustments (id, sku, location_id, delta, reason, note, \
        actor_id, actor_role, on_hand_after, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    pub const CHANGE_STOCK: &str = "UPDATE stock SET on_hand = on_hand + $1, reserved = reserved + $2 \
        WHERE sku = $3 AND location_id = $4";
    pub const SET_ON_HAND: &str = "INSERT INTO stock (sku, location_id, on_hand, reserved, updated_at) \
        VALUES ($1, $2, $3, 0, $4) ON CONFLICT (sku, location_id) \
        DO UPDATE SET on_hand = excluded.on_hand, updated_at = excluded.updated_at";
    pub const INSERT_ORDER: &str = "INSERT INTO orders (id, customer_id, vendor_id, status, currency, \
        subtotal_minor, total_minor, shipping_address, carrier_id, cancel_reason, created_at, updated_at, version, \
        pricing, checkout_id, reserved_until) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
    pub const INSERT_LINE: &str = "INSERT INTO order_lines (order_id, line_no, sku, product_id, variant_id, \
        title, quantity, unit_price_minor, line_total_minor, allocations, pricing) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    pub const SET_LINE_ALLOCATIONS: &str =
        "UPDATE order_lines SET allocations = $1 WHERE order_id = $2 AND line_no = $3";
    pub const UPDATE_ORDER: &str = "UPDATE orders SET status = $1, carrier_id = $2, cancel_reason = $3, \
        updated_at = $4, version = $5, reserved_until = $6 WHERE id = $7 AND version = $8";
    pub const APPEND_EVENT: &str = "INSERT INTO order_events (order_id, seq, type, actor_id, actor_role, \
        actor_vendor_id, at, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    pub const ENQUEUE: &str = "INSERT INTO outbox (topic, key, payload, created_at, customer_id, \
        vendor_id, carrier_id) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    /// The sequencer's step (its cursor row locked first, see [`super::locked::SEQUENCER`]):
    /// the next positions after `$1`, in id order, to committed messages without one.
    pub const SEQUENCE_OUTBOX: &str = "UPDATE outbox SET position = $1 + n.rn, published_at = $2 \
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM outbox \
        WHERE position IS NULL ORDER BY id LIMIT $3) AS n WHERE outbox.id = n.id";
    pub const ENSURE_CURSOR: &str = "INSERT INTO relay_cursors (consumer, position, updated_at) \
        SELECT $1, position, $2 FROM relay_cursors WHERE consumer = 'sequencer' \
        ON CONFLICT (consumer) DO NOTHING";
    pub const READ_CURSOR: &str = "SELECT position FROM relay_cursors WHERE consumer = $1";
    pub const ADVANCE_CURSOR: &str = "UPDATE relay_cursors SET position = $1, updated_at = $2 \
        WHERE consumer = $3 AND position < $1";
    pub const ADVANCE_SEQUENCER: &str =
        "UPDATE relay_cursors SET position = $1, updated_at = $2 WHERE consumer = 'sequencer'";
    /// Messages every consumer has passed, oldest position first, up to the first one still
    /// young enough to keep — so what is kept is always every position after some point, and
    /// a feed cursor before it can be told it expired.
    pub const PURGE_OUTBOX: &str = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
        WHERE position IS NOT NULL AND position <= COALESCE((SELECT MIN(position) \
        FROM relay_cursors WHERE updated_at >= $1), 9223372036854775807) \
        AND position < COALESCE((SELECT position FROM outbox WHERE position IS NOT NULL \
        AND created_at >= $1 ORDER BY position LIMIT 1), 9223372036854775807) \
        ORDER BY position LIMIT $2)";
    pub const IDEMPOTENCY_GET: &str =
        "SELECT request_hash, response FROM idempotency_keys WHERE scope = $1 AND key = $2";
    pub const IDEMPOTENCY_CLAIM: &str = "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) \
        VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING";
    pub const IDEMPOTENCY_REMEMBER: &str =
        "UPDATE idempotency_keys SET response = $1 WHERE scope = $2 AND key = $3";
    pub const SET_CART_TOKEN: &str =
        "UPDATE carts SET token_hash = $1 WHERE id = $2 AND customer_id IS NULL";
    pub const WAKE_JOB: &str = "INSERT INTO jobs (id, kind, key, payload, state, run_at, attempts, \
        created_at, updated_at) VALUES ($1, $2, $3, $4, 'queued', $5, 0, $6, $6) \
        ON CONFLICT (kind, key) DO UPDATE SET run_at = CASE WHEN jobs.state = 'queued' \
        AND jobs.run_at < $5 THEN jobs.run_at ELSE $5 END, attempts = CASE WHEN \
        jobs.state = 'done' THEN 0 ELSE jobs.attempts END, state = 'queued', \
        updated_at = $6 WHERE jobs.state IN ('done', 'queued')";
    pub const PUT_WEBHOOK_ENDPOINT: &str = "INSERT INTO webhook_endpoints (id, vendor_id, url, \
        events, description, secret, previous_secret, previous_until, disabled_at, \
        disabled_reason, failing_since, created_by, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
        ON CONFLICT (id) DO UPDATE SET url = excluded.url, events = excluded.events, \
        description = excluded.description, secret = excluded.secret, \
        previous_secret = excluded.previous_secret, previous_until = excluded.previous_until, \
        disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason, \
        failing_since = excluded.failing_since, updated_at = excluded.updated_at";
    pub const DELETE_WEBHOOK_DELIVERIES: &str =
        "DELETE FROM webhook_deliveries WHERE endpoint_id = $1";
    pub const DELETE_WEBHOOK_ENDPOINT: &str = "DELETE FROM webhook_endpoints WHERE id = $1";
    pub const SET_WEBHOOK_HEALTH: &str = "UPDATE webhook_endpoints SET failing_since = $1, \
        disabled_at = COALESCE($2, disabled_at), disabled_reason = COALESCE($3, disabled_reason) \
        WHERE id = $4";
    pub const PUT_WEBHOOK_DELIVERY: &str = "INSERT INTO webhook_deliveries (id, endpoint_id, \
        message_id, event_type, key, position, body, state, attempts, next_at, last_status, \
        last_error, last_latency_ms, created_at, delivered_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
        ON CONFLICT (id) DO UPDATE SET state = excluded.state, attempts = excluded.attempts, \
        next_at = excluded.next_at, last_status = excluded.last_status, \
        last_error = excluded.last_error, last_latency_ms = excluded.last_latency_ms, \
        delivered_at = excluded.delivered_at";
    pub const PUT_NOTIFICATION_PREFERENCES: &str = "INSERT INTO notification_preferences \
        (user_id, locale, email, sms, push, phone, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
        ON CONFLICT (user_id) DO UPDATE SET locale = excluded.locale, email = excluded.email, \
        sms = excluded.sms, push = excluded.push, phone = excluded.phone, \
        updated_at = excluded.updated_at";
    pub const PUT_NOTIFICATION: &str = "INSERT INTO notifications (id, event_type, position, \
        order_id, data, recipient_id, to_staff, channel, address, locale, subject, state, \
        attempts, last_error, created_at, sent_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
        ON CONFLICT (id) DO UPDATE SET subject = excluded.subject, state = excluded.state, \
        attempts = excluded.attempts, last_error = excluded.last_error, sent_at = excluded.sent_at";
    pub const HURRY_JOB: &str = "UPDATE jobs SET run_at = $1 \
        WHERE kind = $2 AND key = $2 AND state = 'queued' AND run_at > $1";
    pub const INSERT_PAYMENT: &str = "INSERT INTO payments (id, checkout_id, customer_id, \
        provider, provider_ref, currency, amount, capture_policy, state, authorized, captured, \
        voided, refunded, capturing, voiding, refunding, decline_code, capture_before, \
        client_secret, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
        $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)";
    pub const INSERT_PAYMENT_ALLOCATION: &str = "INSERT INTO payment_allocations \
        (payment_id, order_id, vendor_id, amount, commission_bp) VALUES ($1, $2, $3, $4, $5)";
    pub const PUT_PAYOUT: &str = "INSERT INTO vendor_payouts (id, vendor_id, currency, amount, \
        state, requested_by, requested_at, paid_by, paid_at, reference) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO UPDATE SET \
        state = excluded.state, paid_by = excluded.paid_by, paid_at = excluded.paid_at, \
        reference = excluded.reference";
    pub const VENDOR_COMMISSION: &str = "SELECT commission_bp FROM vendors WHERE id = $1";
    pub const SET_COMMISSION: &str = "UPDATE vendors SET commission_bp = $1 WHERE id = $2";
    /// Placeholders in number order (SQLite numbers `$N` by first appearance).
    pub const UPDATE_PAYMENT: &str = "UPDATE payments SET provider_ref = $1, state = $2, \
        authorized = $3, captured = $4, voided = $5, refunded = $6, capturing = $7, \
        voiding = $8, refunding = $9, decline_code = $10, capture_before = $11, \
        client_secret = $12, updated_at = $13, version = $14 WHERE id = $15 AND version = $16";
    pub const APPEND_PAYMENT_ENTRY: &str = "INSERT INTO payment_ledger (id, payment_id, \
        order_id, kind, amount, request_id, provider_ref, actor, reason, reference, detail, \
        created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
        ON CONFLICT DO NOTHING";
    pub const RAISE_EXCEPTION: &str = "INSERT INTO exceptions (id, kind, key, status, order_id, \
        body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
        ON CONFLICT (key) DO NOTHING";
    pub const UPDATE_EXCEPTION: &str =
        "UPDATE exceptions SET status = $1, body = $2, updated_at = $3 WHERE id = $4";
    pub const TAKE_PAYMENT_EVENT: &str = "INSERT INTO payment_events_inbox (provider, event_id, \
        received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
    pub const RETRY_JOB: &str = "UPDATE jobs SET state = 'queued', run_at = $1, attempts = 0, \
        last_error = NULL, updated_at = $1 WHERE id = $2 AND state = 'dead'";
    pub const ENQUEUE_JOB: &str = "INSERT INTO jobs (id, kind, key, payload, state, run_at, attempts, \
        created_at, updated_at) VALUES ($1, $2, $3, $4, 'queued', $5, 0, $6, $6) \
        ON CONFLICT (kind, key) DO NOTHING";
    /// Due jobs, oldest first: queued ones whose time has come and running ones whose lease
    /// ended (their worker died). (Placeholders appear in number order: SQLite numbers `$N`
    /// by first appearance, so `$2` before `$1` would swap them there.) `SKIP_LOCKED` lets several nodes claim at once without
    /// waiting on each other or taking the same row.
    pub static CLAIM_JOBS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = $1, locked_until = $2 \
             WHERE id IN (SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $1) \
             OR (state = 'running' AND locked_until <= $1) ORDER BY run_at LIMIT $3{}) \
             RETURNING {}",
            crate::dialect::SKIP_LOCKED,
            super::JOB_COLUMNS
        )
    });
    pub const FINISH_JOB: &str = "UPDATE jobs SET state = $1, run_at = COALESCE($2, run_at), last_error = $3, \
        attempts = CASE WHEN $4 THEN 0 ELSE attempts END, locked_until = NULL, updated_at = $5 WHERE id = $6";
    pub const PURGE_IDEMPOTENCY_KEYS: &str = "DELETE FROM idempotency_keys WHERE (scope, key) IN \
        (SELECT scope, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)";
    pub const PURGE_SESSIONS: &str = "DELETE FROM sessions WHERE token_hash IN \
        (SELECT token_hash FROM sessions WHERE expires_at < $1 OR revoked_at < $1 LIMIT $2)";
    pub const PURGE_JOBS: &str = "DELETE FROM jobs WHERE id IN \
        (SELECT id FROM jobs WHERE state = 'done' AND updated_at < $1 LIMIT $2)";
    pub const PURGE_DEAD_JOBS: &str = "DELETE FROM jobs WHERE id IN \
        (SELECT id FROM jobs WHERE state = 'dead' AND updated_at < $1 LIMIT $2)";
    pub const INSERT_CART: &str = "INSERT INTO carts (id, token_hash, customer_id, status, currency, promo_code, \
        shipping_address, lines, checkout_id, created_at, updated_at, version) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    pub const UPDATE_CART: &str = "UPDATE carts SET customer_id = $1, status = $2, currency = $3, promo_code = $4, \
        shipping_address = $5, lines = $6, checkout_id = $7, updated_at = $8, version = $9, \
        token_hash = CASE WHEN $1 IS NULL THEN token_hash ELSE NULL END \
        WHERE id = $10 AND version = $11";
    pub const PUT_RULE: &str = "INSERT INTO pricing_rules (id, kind, key, data, updated_at) VALUES ($1, $2, $3, $4, $5) \
        ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at RETURNING id";
    pub const DELETE_RULE: &str = "DELETE FROM pricing_rules WHERE kind = $1 AND id = $2";
    pub const INSERT_PROMOTION: &str = "INSERT INTO promotions (id, code, data, usage_limit, uses, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, 0, $5, $5)";
    pub const UPDATE_PROMOTION: &str = "UPDATE promotions SET code = $1, data = $2, usage_limit = $3, updated_at = $4 WHERE id = $5";
    /// The guard in the WHERE clause refuses the use past the limit; the CHECK backs it up.
    pub const USE_PROMOTION: &str = "UPDATE promotions SET uses = uses + 1 \
        WHERE id = $1 AND (usage_limit IS NULL OR uses < usage_limit)";
}

pub(crate) const LINE_COLUMNS: &str = "order_id, line_no, sku, product_id, variant_id, title, quantity, \
    unit_price_minor, line_total_minor, allocations, pricing";

pub(crate) const CART_COLUMNS: &str = "id, customer_id, status, currency, promo_code, shipping_address, lines, \
    checkout_id, created_at, updated_at, version";

pub(crate) const ORDER_COLUMNS: &str = "id, customer_id, vendor_id, status, currency, subtotal_minor, total_minor, \
    shipping_address, carrier_id, cancel_reason, created_at, updated_at, version, pricing, checkout_id, reserved_until";

/// Statements of the write path built from the column lists once, with each backend's row lock
/// (`dialect::FOR_UPDATE`: `FOR UPDATE` on PostgreSQL; nothing on SQLite, whose one writer
/// thread already excludes every other writer).
pub(crate) mod locked {
    use std::sync::LazyLock;

    use super::{
        CART_COLUMNS, ORDER_COLUMNS, PAYMENT_COLUMNS, PAYMENT_ENTRY_COLUMNS, STOCK_OF_SKU,
    };
    use crate::dialect::{FOR_UPDATE, FOR_UPDATE_OF_STOCK};

    pub static ORDER: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1{FOR_UPDATE}"));
    pub static PAYMENT: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1{FOR_UPDATE}")
    });
    pub static ORDER_PAYMENT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = \
             (SELECT payment_id FROM payment_allocations WHERE order_id = $1){FOR_UPDATE}"
        )
    });
    /// A vendor's row, locked: its money is changed by one payout at a time.
    pub static VENDOR: LazyLock<String> =
        LazyLock::new(|| format!("SELECT id FROM vendors WHERE id = $1{FOR_UPDATE}"));
    /// Read under the vendor's lock.
    pub static VENDOR_MONEY: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{} AND a.vendor_id = $1{}",
            super::MONEY_ROWS,
            super::MONEY_ORDER
        )
    });
    pub static VENDOR_PAYOUTS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {} FROM vendor_payouts WHERE vendor_id = $1 ORDER BY requested_at, id",
            super::PAYOUT_COLUMNS
        )
    });
    /// Not locked itself: read under its payment's lock.
    pub static PAYMENT_LEDGER: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {PAYMENT_ENTRY_COLUMNS} FROM payment_ledger WHERE payment_id = $1 \
             ORDER BY created_at, id"
        )
    });
    /// Not locked itself (shares never change): read under its payment's lock.
    pub const PAYMENT_SHARES: &str =
        "SELECT order_id, amount FROM payment_allocations WHERE payment_id = $1 ORDER BY order_id";
    pub const SET_SHARE_STATUS: &str =
        "UPDATE payment_allocations SET status = $1 WHERE payment_id = $2 AND order_id = $3";
    /// The sequencer's cursor: locked, so one sequencer runs at a time across nodes.
    pub static SEQUENCER: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT position FROM relay_cursors WHERE consumer = 'sequencer'{FOR_UPDATE}")
    });
    pub static STOCK: LazyLock<String> =
        LazyLock::new(|| format!("{STOCK_OF_SKU}{FOR_UPDATE_OF_STOCK}"));
    pub static CART: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {CART_COLUMNS} FROM carts WHERE id = $1{FOR_UPDATE}"));
    pub static OPEN_CART: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {CART_COLUMNS} FROM carts WHERE customer_id = $1 AND status = 'open'{FOR_UPDATE}"
        )
    });
}

/// The orders of one checkout, oldest first (read in the transaction of an idempotent replay).
pub(crate) static CHECKOUT_ORDERS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {ORDER_COLUMNS} FROM orders WHERE checkout_id = $1 ORDER BY id")
});

/// The columns of the stock rows of one SKU in allocation order; each backend adds its lock.
pub(crate) const STOCK_OF_SKU: &str = "SELECT s.location_id, l.priority, l.code, s.on_hand, s.reserved FROM stock s \
    JOIN locations l ON l.id = s.location_id WHERE s.sku = $1 ORDER BY l.priority, l.code";

/// The variants for `skus` with all their prices, through any sqlx executor (the reader pool,
/// or a PostgreSQL transaction).
pub(crate) async fn fetch_variants_for_sale<'c, E>(
    executor: E,
    skus: &[Sku],
) -> StoreResult<Vec<VariantForSale>>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    if skus.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Db>::new(sql::VARIANTS_FOR_SALE);
    let mut list = qb.separated(", ");
    for sku in skus {
        list.push_bind(sku.as_str());
    }
    qb.push(")");
    let rows = qb.build().fetch_all(executor).await.map_err(map_err)?;
    let mut out = Vec::with_capacity(skus.len());
    for r in &rows {
        push_variant_for_sale(&mut out, r)?;
    }
    Ok(out)
}

/// Turns order rows into orders, fetching all their lines in one more query.
pub(crate) async fn orders_with_lines<'c, E>(
    executor: E,
    rows: Vec<DbRow>,
) -> StoreResult<Vec<Order>>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Db>::new(format!(
        "SELECT {LINE_COLUMNS} FROM order_lines WHERE order_id IN ("
    ));
    let mut ids = qb.separated(", ");
    for row in &rows {
        ids.push_bind(row.uuid("id")?);
    }
    qb.push(") ORDER BY order_id, line_no");
    let line_rows = qb.build().fetch_all(executor).await.map_err(map_err)?;
    let mut lines_of = group_by(&line_rows, "order_id")?;
    let mut orders = Vec::with_capacity(rows.len());
    for row in &rows {
        let cur = order_currency(row)?;
        let lines = lines_of
            .remove(&row.uuid("id")?)
            .unwrap_or_default()
            .into_iter()
            .map(|l| line_from_row(l, cur))
            .collect::<StoreResult<Vec<_>>>()?;
        orders.push(order_from_row(row, lines)?);
    }
    Ok(orders)
}

/// Groups child rows by their parent's id (column `key`), keeping their order, so a page of
/// parents is assembled in one pass instead of scanning every child row for every parent.
fn group_by<'r>(rows: &'r [DbRow], key: &str) -> StoreResult<HashMap<Uuid, Vec<&'r DbRow>>> {
    let mut groups: HashMap<Uuid, Vec<&DbRow>> = HashMap::new();
    for row in rows {
        groups.entry(row.uuid(key)?).or_default().push(row);
    }
    Ok(groups)
}

fn event_from_row(row: &impl Cols) -> StoreResult<OrderEvent> {
    let role = parse_role(&row.text("actor_role")?)?;
    Ok(OrderEvent {
        order_id: OrderId(row.uuid("order_id")?),
        seq: row.int("seq")?,
        event_type: row.text("type")?,
        actor: Actor {
            user_id: row.opt_uuid("actor_id")?.map(UserId),
            role,
            vendor_id: row.opt_uuid("actor_vendor_id")?.map(VendorId),
        },
        at: row.time("at")?,
        change: row.json::<OrderChange>("data")?,
    })
}

async fn products_with_variants(pool: &Pool<Db>, rows: Vec<DbRow>) -> StoreResult<Vec<Product>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT v.product_id, v.id, v.sku, v.title, v.weight_grams, v.low_stock_threshold, p.currency, \
         p.amount_minor FROM variants v LEFT JOIN variant_prices p ON p.variant_id = v.id WHERE v.product_id IN (",
    );
    let mut ids = qb.separated(", ");
    for row in &rows {
        ids.push_bind(row.uuid("id")?);
    }
    qb.push(") ORDER BY v.product_id, v.position, p.currency");
    let variant_rows = qb.build().fetch_all(pool).await.map_err(map_err)?;
    let mut variants_of = group_by(&variant_rows, "product_id")?;
    let mut products = Vec::with_capacity(rows.len());
    for row in &rows {
        let id = row.uuid("id")?;
        let mut variants: Vec<Variant> = Vec::new();
        // Rows come sorted by variant position, then currency: one row per price.
        for v in variants_of.remove(&id).unwrap_or_default() {
            let variant_id = VariantId(v.uuid("id")?);
            if variants.last().is_none_or(|last| last.id != variant_id) {
                variants.push(Variant {
                    id: variant_id,
                    sku: Sku::parse(&v.text("sku")?).map_err(|e| corrupt("sku", e))?,
                    title: v
                        .opt_text("title")?
                        .map(|t| Name::parse(&t))
                        .transpose()
                        .map_err(|e| corrupt("variant title", e))?,
                    prices: Vec::new(),
                    weight_grams: u32::try_from(v.int("weight_grams")?)
                        .map_err(|e| corrupt("weight", e))?,
                    low_stock_threshold: v.opt_int("low_stock_threshold")?,
                });
            }
            if let Some(code) = v.opt_text("currency")? {
                let amount = v.int("amount_minor")?;
                if let Some(last) = variants.last_mut() {
                    last.prices.push(Money {
                        amount,
                        currency: currency(&code)?,
                    });
                }
            }
        }
        products.push(Product {
            id: ProductId(id),
            vendor_id: VendorId(row.uuid("vendor_id")?),
            title: Name::parse(&row.text("title")?).map_err(|e| corrupt("product title", e))?,
            tax_class: TaxClass::parse(&row.text("tax_class")?)
                .map_err(|e| corrupt("tax class", e))?,
            stock_deduction: StockDeduction::parse(&row.text("stock_deduction")?)
                .map_err(|e| corrupt("stock deduction", e))?,
            variants,
        });
    }
    Ok(products)
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        dialect::NAME
    }

    async fn transact(&self, work: TxWork) -> StoreResult<Outcome> {
        crate::transact(&self.writer, work).await
    }

    async fn ready(&self) -> StoreResult<()> {
        crate::writable(&self.writer).await?;
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn failed(&self) -> String {
        crate::failed(&self.writer).await
    }

    async fn credentials(&self, email: &EmailAddress) -> StoreResult<Option<Credentials>> {
        let row = sqlx::query(
            "SELECT id, email, role, vendor_id, password_hash FROM users WHERE email = $1",
        )
        .bind(email.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.map(|r| {
            Ok(Credentials {
                user: user_from_row(&r)?,
                password_hash: r.text("password_hash")?,
            })
        })
        .transpose()
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query("SELECT id, email, role, vendor_id FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn session_user(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<LiveSession>> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.role, u.vendor_id, u.totp_confirmed_at, s.expires_at, \
             s.fresh_until, s.step_up_failures FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
             AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.map(|r| {
            Ok(LiveSession {
                user: user_from_row(&r)?,
                totp: r.opt_time("totp_confirmed_at")?.is_some(),
                expires_at: r.time("expires_at")?,
                fresh_until: r.opt_time("fresh_until")?,
                step_up_failures: r.int32("step_up_failures")?,
            })
        })
        .transpose()
    }

    async fn auth_factors(&self, user: UserId) -> StoreResult<Option<AuthFactors>> {
        let row = sqlx::query(
            "SELECT password_hash, disabled_at, totp_secret, totp_confirmed_at, totp_last_step, \
             step_up_failures, step_up_locked_until FROM users WHERE id = $1",
        )
        .bind(user.0)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.map(|r| {
            Ok(AuthFactors {
                password_hash: r.text("password_hash")?,
                disabled: r.opt_time("disabled_at")?.is_some(),
                totp_secret: r.opt_text("totp_secret")?,
                totp_confirmed: r.opt_time("totp_confirmed_at")?.is_some(),
                totp_last_step: r.opt_int("totp_last_step")?,
                step_up_failures: r.int32("step_up_failures")?,
                step_up_locked_until: r.opt_time("step_up_locked_until")?,
            })
        })
        .transpose()
    }

    async fn users(&self, after_email: Option<&str>, limit: u32) -> StoreResult<Vec<(User, bool)>> {
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new("SELECT id, email, role, vendor_id, disabled_at FROM users");
        if let Some(after) = after_email {
            qb.push(" WHERE email > ").push_bind(after.to_owned());
        }
        qb.push(" ORDER BY email LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter()
            .map(|r| Ok((user_from_row(r)?, r.opt_time("disabled_at")?.is_some())))
            .collect()
    }

    async fn auth_changes(
        &self,
    ) -> StoreResult<Option<std::pin::Pin<Box<dyn futures_util::Stream<Item = AuthChange> + Send>>>>
    {
        crate::auth_changes(&self.writer).await
    }

    async fn vendor(&self, id: VendorId) -> StoreResult<Option<Vendor>> {
        let row = sqlx::query("SELECT id, name FROM vendors WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
        row.map(|r| vendor_from_row(&r)).transpose()
    }

    async fn vendors(&self) -> StoreResult<Vec<Vendor>> {
        let rows = sqlx::query("SELECT id, name FROM vendors ORDER BY name")
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        rows.iter().map(vendor_from_row).collect()
    }

    async fn locations(&self, vendor: VendorId) -> StoreResult<Vec<Location>> {
        let rows = sqlx::query(
            "SELECT id, vendor_id, code, name, priority FROM locations WHERE vendor_id = $1 ORDER BY priority, code",
        )
        .bind(vendor.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(location_from_row).collect()
    }

    async fn product(&self, id: ProductId) -> StoreResult<Option<Product>> {
        let rows = sqlx::query(
            "SELECT id, vendor_id, title, tax_class, stock_deduction FROM products WHERE id = $1",
        )
        .bind(id.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        Ok(products_with_variants(&self.reader, rows).await?.pop())
    }

    async fn products(&self, vendor: Option<VendorId>, limit: u32) -> StoreResult<Vec<Product>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, vendor_id, title, tax_class, stock_deduction FROM products",
        );
        if let Some(v) = vendor {
            qb.push(" WHERE vendor_id = ").push_bind(v.0);
        }
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        products_with_variants(&self.reader, rows).await
    }

    async fn stock(&self, sku: &Sku) -> StoreResult<Option<SkuStock>> {
        let Some(vendor) = sqlx::query(
            "SELECT p.vendor_id FROM variants v JOIN products p ON p.id = v.product_id WHERE v.sku = $1",
        )
        .bind(sku.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(STOCK_OF_SKU)
            .bind(sku.as_str())
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        let mut locations = Vec::with_capacity(rows.len());
        for r in &rows {
            locations.push(LocationStock {
                level: stock_level_from_row(r)?,
                code: LocationCode::parse(&r.text("code")?)
                    .map_err(|e| corrupt("location code", e))?,
            });
        }
        Ok(Some(SkuStock {
            sku: sku.clone(),
            vendor_id: VendorId(vendor.uuid("vendor_id")?),
            locations,
        }))
    }

    async fn order(&self, id: OrderId) -> StoreResult<Option<Order>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"
        )))
        .bind(id.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        Ok(orders_with_lines(&self.reader, rows).await?.pop())
    }

    async fn orders(&self, query: &OrderQuery) -> StoreResult<Vec<Order>> {
        let mut qb = QueryBuilder::<Db>::new("SELECT ");
        qb.push(ORDER_COLUMNS).push(" FROM orders WHERE 1 = 1");
        push_scope(&mut qb, query.scope);
        if let Some(status) = query.status {
            qb.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(paid) = query.payment_status {
            let ranged = query
                .status
                .is_none()
                .then_some((query.starting_after, i64::from(query.limit)));
            push_payment_status(&mut qb, query.scope, paid, ranged);
        }
        if let Some(after) = query.starting_after {
            qb.push(" AND id < ").push_bind(after.0);
        }
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(query.limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        orders_with_lines(&self.reader, rows).await
    }

    async fn guest_account(&self, user: UserId) -> StoreResult<Option<bool>> {
        let row = sqlx::query(
            "SELECT CAST(CASE WHEN claimed_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS claimed \
             FROM guest_accounts WHERE user_id = $1",
        )
        .bind(user.0)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.map(|r| Ok(r.int("claimed")? != 0)).transpose()
    }

    async fn checkout_by_link(&self, token: &str) -> StoreResult<Option<CheckoutId>> {
        let row = sqlx::query("SELECT checkout_id FROM checkout_links WHERE token = $1")
            .bind(token)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
        row.map(|r| Ok(CheckoutId(r.uuid("checkout_id")?)))
            .transpose()
    }

    async fn checkout_link(&self, checkout: CheckoutId) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT token FROM checkout_links WHERE checkout_id = $1")
            .bind(checkout.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
        row.map(|r| r.text("token")).transpose()
    }

    async fn orders_of_checkout(&self, checkout: CheckoutId) -> StoreResult<Vec<Order>> {
        let rows = sqlx::query(CHECKOUT_ORDERS.as_str())
            .bind(checkout.0)
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        orders_with_lines(&self.reader, rows).await
    }

    async fn order_notes(&self, order: OrderId) -> StoreResult<Vec<OrderNote>> {
        let rows = sqlx::query(
            "SELECT id, order_id, author, body, created_at FROM order_notes \
             WHERE order_id = $1 ORDER BY created_at, id",
        )
        .bind(order.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(note_of).collect()
    }

    async fn customer_notes(&self, customer: UserId, limit: i64) -> StoreResult<Vec<OrderNote>> {
        let rows = sqlx::query(
            "SELECT n.id, n.order_id, n.author, n.body, n.created_at FROM order_notes n \
             JOIN orders o ON o.id = n.order_id WHERE o.customer_id = $1 \
             ORDER BY n.created_at DESC, n.id DESC LIMIT $2",
        )
        .bind(customer.0)
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(note_of).collect()
    }

    async fn customers_named(&self, prefix: &str, limit: i64) -> StoreResult<Vec<NamedCustomer>> {
        // Every key starting with `prefix` sorts between it and it followed by the highest
        // code point, byte by byte (SQLite's BINARY, PostgreSQL's "C"): an index range.
        let end = format!("{prefix}\u{10FFFF}");
        let rows = sqlx::query(
            "SELECT n.customer_id, n.name, u.email FROM customer_names n \
             JOIN users u ON u.id = n.customer_id \
             WHERE n.key >= $1 AND n.key < $2 ORDER BY n.key, n.customer_id LIMIT $3",
        )
        .bind(prefix)
        .bind(end)
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(NamedCustomer {
                    customer_id: UserId(r.uuid("customer_id")?),
                    email: r.text("email")?,
                    name: r.text("name")?,
                })
            })
            .collect()
    }

    async fn count_orders(
        &self,
        scope: OrderScope,
        status: Option<OrderStatus>,
        payment_status: Option<PaymentStatus>,
        cap: u32,
    ) -> StoreResult<u32> {
        // Counting stops at the cap: a hot page never scans a vendor's whole history.
        let mut qb =
            QueryBuilder::<Db>::new("SELECT count(*) AS n FROM (SELECT 1 FROM orders WHERE 1 = 1");
        push_scope(&mut qb, scope);
        if let Some(status) = status {
            qb.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(paid) = payment_status {
            let ranged = status.is_none().then_some((None, i64::from(cap)));
            push_payment_status(&mut qb, scope, paid, ranged);
        }
        qb.push(" LIMIT ")
            .push_bind(i64::from(cap))
            .push(") capped");
        let row = qb.build().fetch_one(&self.reader).await.map_err(map_err)?;
        Ok(u32::try_from(row.int("n")?).unwrap_or(cap))
    }

    async fn order_events(&self, id: OrderId) -> StoreResult<Vec<OrderEvent>> {
        let rows = sqlx::query(
            "SELECT order_id, seq, type, actor_id, actor_role, actor_vendor_id, at, data FROM order_events \
             WHERE order_id = $1 ORDER BY seq",
        )
        .bind(id.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn expired_reservations(
        &self,
        now: DateTime<Utc>,
        job_kind: &str,
        limit: u32,
    ) -> StoreResult<Vec<OrderId>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT id FROM orders WHERE status = 'pending_payment' AND reserved_until < $1 \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.kind = $2 AND j.key = {}) \
             ORDER BY reserved_until LIMIT $3",
            dialect::ORDER_ID_TEXT
        )))
        .bind(now)
        .bind(job_kind)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(|r| Ok(OrderId(r.uuid("id")?))).collect()
    }

    async fn cart(&self, id: CartId) -> StoreResult<Option<Cart>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CART_COLUMNS} FROM carts WHERE id = $1"
        )))
        .bind(id.0)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(cart_from_row).transpose()
    }

    async fn cart_by_token(&self, token_hash: &[u8]) -> StoreResult<Option<Cart>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CART_COLUMNS} FROM carts WHERE token_hash = $1"
        )))
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(cart_from_row).transpose()
    }

    async fn pricing_book(&self) -> StoreResult<PricingBook> {
        let mut book = PricingBook::default();
        let rules = sqlx::query("SELECT id, kind, data FROM pricing_rules ORDER BY id")
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        for r in &rules {
            add_rule_to_book(&mut book, r)?;
        }
        let promotions =
            sqlx::query("SELECT id, data, usage_limit, uses FROM promotions ORDER BY id")
                .fetch_all(&self.reader)
                .await
                .map_err(map_err)?;
        book.promotions = promotions
            .iter()
            .map(promotion_from_row)
            .collect::<StoreResult<_>>()?;
        Ok(book)
    }

    async fn low_stock(&self, vendor: VendorId) -> StoreResult<Vec<LowStock>> {
        let rows = sqlx::query(
            // SUM of bigint is numeric on PostgreSQL: cast back so both read an i64.
            "SELECT v.sku, v.low_stock_threshold, CAST(COALESCE(SUM(s.on_hand - s.reserved), 0) AS BIGINT) AS available \
             FROM variants v JOIN products p ON p.id = v.product_id LEFT JOIN stock s ON s.sku = v.sku \
             WHERE p.vendor_id = $1 AND v.low_stock_threshold IS NOT NULL \
             GROUP BY v.sku, v.low_stock_threshold \
             HAVING COALESCE(SUM(s.on_hand - s.reserved), 0) <= v.low_stock_threshold ORDER BY v.sku",
        )
        .bind(vendor.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(LowStock {
                    sku: Sku::parse(&r.text("sku")?).map_err(|e| corrupt("sku", e))?,
                    threshold: r.int("low_stock_threshold")?,
                    available: r.int("available")?,
                })
            })
            .collect()
    }

    async fn stock_adjustments(&self, sku: &Sku, limit: u32) -> StoreResult<Vec<StockAdjustment>> {
        let rows = sqlx::query(
            "SELECT id, sku, location_id, delta, reason, note, actor_id, actor_role, on_hand_after, at \
             FROM stock_adjustments WHERE sku = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(sku.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(adjustment_from_row).collect()
    }

    async fn jobs(
        &self,
        state: Option<JobState>,
        kind: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1"));
        if let Some(state) = state {
            qb.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(kind) = kind {
            qb.push(" AND kind = ").push_bind(kind.to_owned());
        }
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(job_from_row).collect()
    }

    async fn variants_for_sale(&self, skus: &[Sku]) -> StoreResult<Vec<VariantForSale>> {
        fetch_variants_for_sale(&self.reader, skus).await
    }

    async fn available(&self, skus: &[Sku]) -> StoreResult<Vec<(Sku, i64)>> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        // SUM of bigint is numeric on PostgreSQL: cast back so both read an i64.
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT sku, CAST(SUM(on_hand - reserved) AS BIGINT) AS available FROM stock WHERE sku IN (",
        );
        let mut list = qb.separated(", ");
        for sku in skus {
            list.push_bind(sku.as_str());
        }
        qb.push(") GROUP BY sku");
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    Sku::parse(&r.text("sku")?).map_err(|e| corrupt("sku", e))?,
                    r.int("available")?,
                ))
            })
            .collect()
    }

    async fn outbox(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxMessage)>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, {} FROM outbox WHERE id > $1 ORDER BY id LIMIT $2",
            *OUTBOX_COLUMNS
        )))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| Ok((r.int("id")?, outbox_from_row(r)?)))
            .collect()
    }

    async fn events_after(
        &self,
        after: i64,
        scope: OrderScope,
        limit: u32,
    ) -> StoreResult<Vec<RelayedEvent>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT position, {} FROM outbox WHERE position > ",
            *OUTBOX_COLUMNS
        ));
        qb.push_bind(after);
        push_scope(&mut qb, scope);
        qb.push(" ORDER BY position LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(RelayedEvent {
                    position: r.int("position")?,
                    message: outbox_from_row(r)?,
                })
            })
            .collect()
    }

    async fn relay_state(&self) -> StoreResult<RelayState> {
        let cursors = sqlx::query("SELECT consumer, position FROM relay_cursors ORDER BY consumer")
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        let waiting = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest, \
             (SELECT MIN(position) FROM outbox) AS oldest_position \
             FROM outbox WHERE position IS NULL",
        )
        .fetch_one(&self.reader)
        .await
        .map_err(map_err)?;
        Ok(RelayState {
            cursors: cursors
                .iter()
                .map(|r| Ok((r.text("consumer")?, r.int("position")?)))
                .collect::<StoreResult<_>>()?,
            waiting: waiting.int("n")?,
            oldest_waiting: waiting.opt_time("oldest")?,
            oldest_position: waiting.opt_int("oldest_position")?,
        })
    }

    async fn job(&self, id: Uuid) -> StoreResult<Option<Job>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn job_counts(&self) -> StoreResult<JobCounts> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n, \
             SUM(CASE WHEN last_error IS NOT NULL THEN 1 ELSE 0 END) AS failed \
             FROM jobs GROUP BY state",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        let mut counts = JobCounts::default();
        for r in &rows {
            let n = r.int("n")?;
            match JobState::parse(&r.text("state")?).map_err(|e| corrupt("job state", e))? {
                JobState::Queued => {
                    counts.queued = n;
                    counts.retrying = r.opt_int("failed")?.unwrap_or(0);
                }
                JobState::Running => counts.running = n,
                JobState::Done => counts.done = n,
                JobState::Dead => counts.dead = n,
            }
        }
        Ok(counts)
    }

    async fn webhook_endpoints(
        &self,
        vendor: Option<VendorId>,
    ) -> StoreResult<Vec<WebhookEndpoint>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {WEBHOOK_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE 1 = 1"
        ));
        if let Some(v) = vendor {
            qb.push(" AND vendor_id = ").push_bind(v.0);
        }
        qb.push(" ORDER BY created_at, id");
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(webhook_endpoint_from_row).collect()
    }

    async fn webhook_endpoint(&self, id: Uuid) -> StoreResult<Option<WebhookEndpoint>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {WEBHOOK_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(webhook_endpoint_from_row).transpose()
    }

    async fn webhook_deliveries(
        &self,
        endpoint: Uuid,
        state: Option<DeliveryState>,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {WEBHOOK_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = "
        ));
        qb.push_bind(endpoint);
        if let Some(state) = state {
            qb.push(" AND state = ").push_bind(state.as_str());
        }
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(webhook_delivery_from_row).collect()
    }

    async fn webhook_delivery(
        &self,
        endpoint: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<WebhookDelivery>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {WEBHOOK_DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE endpoint_id = $1 AND id = $2"
        )))
        .bind(endpoint)
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(webhook_delivery_from_row).transpose()
    }

    async fn pending_deliveries(
        &self,
        endpoint: Uuid,
        key: &str,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {WEBHOOK_DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE endpoint_id = $1 AND key = $2 AND state = 'pending' \
             ORDER BY created_at, position, id LIMIT $3"
        )))
        .bind(endpoint)
        .bind(key)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(webhook_delivery_from_row).collect()
    }

    async fn due_webhook_keys(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(Uuid, String)>> {
        let rows = sqlx::query(
            "SELECT DISTINCT d.endpoint_id, d.key FROM webhook_deliveries d \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE d.state = 'pending' AND d.next_at <= $1 AND e.disabled_at IS NULL LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| Ok((r.uuid("endpoint_id")?, r.text("key")?)))
            .collect()
    }

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

    async fn exceptions(&self, f: &ExceptionFilter) -> StoreResult<Vec<ExceptionItem>> {
        let mut qb: QueryBuilder<Db> = QueryBuilder::new(format!(
            "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE 1 = 1"
        ));
        if let Some(status) = &f.status {
            qb.push(" AND status = ").push_bind(status.clone());
        }
        if let Some(kind) = &f.kind {
            qb.push(" AND kind = ").push_bind(kind.clone());
        }
        if let Some(order) = f.order_id {
            qb.push(" AND order_id = ").push_bind(order.0);
        }
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(f.limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(exception_from_row).collect()
    }

    async fn exception(&self, id: Uuid) -> StoreResult<Option<ExceptionItem>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(exception_from_row).transpose()
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

    async fn notification_preferences(
        &self,
        user: UserId,
    ) -> StoreResult<Option<NotificationPreferences>> {
        let row = sqlx::query(
            "SELECT user_id, locale, email, sms, push, phone, updated_at \
             FROM notification_preferences WHERE user_id = $1",
        )
        .bind(user.0)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.map(|r| {
            Ok(NotificationPreferences {
                user_id: UserId(r.uuid("user_id")?),
                locale: r.text("locale")?,
                email: r.flag("email")?,
                sms: r.flag("sms")?,
                push: r.flag("push")?,
                phone: r.opt_text("phone")?,
                updated_at: r.time("updated_at")?,
            })
        })
        .transpose()
    }

    async fn vendor_staff(&self, vendor: VendorId) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(
            "SELECT id, email, role, vendor_id FROM users \
             WHERE vendor_id = $1 AND disabled_at IS NULL ORDER BY email",
        )
        .bind(vendor.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn order_notifications(&self, order: OrderId) -> StoreResult<Vec<Notification>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE order_id = $1 \
             ORDER BY created_at, position, id"
        )))
        .bind(order.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(notification_from_row).collect()
    }

    async fn notification(&self, id: Uuid) -> StoreResult<Option<Notification>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(notification_from_row).transpose()
    }

    async fn event_wakeups(
        &self,
    ) -> StoreResult<Option<std::pin::Pin<Box<dyn futures_util::Stream<Item = i64> + Send>>>> {
        crate::event_wakeups(&self.writer).await
    }

    async fn price_list(
        &self,
        currency: Currency,
        vendor: Option<VendorId>,
        after_sku: Option<&Sku>,
        limit: u32,
    ) -> StoreResult<Vec<PriceListEntry>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT v.sku, p.vendor_id, vp.amount_minor FROM variant_prices vp \
             JOIN variants v ON v.id = vp.variant_id JOIN products p ON p.id = v.product_id \
             WHERE vp.currency = ",
        );
        qb.push_bind(currency.code());
        if let Some(v) = vendor {
            qb.push(" AND p.vendor_id = ").push_bind(v.0);
        }
        if let Some(after) = after_sku {
            qb.push(" AND v.sku > ").push_bind(after.as_str());
        }
        qb.push(" ORDER BY v.sku LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(PriceListEntry {
                    sku: Sku::parse(&r.text("sku")?).map_err(|e| corrupt("sku", e))?,
                    vendor_id: VendorId(r.uuid("vendor_id")?),
                    price: Money {
                        amount: r.int("amount_minor")?,
                        currency,
                    },
                })
            })
            .collect()
    }
}
