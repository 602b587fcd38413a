//! Orders, shared by both backends: the row mappings (used by their writes too) and
//! the reads of [`ordo_store::orders`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::address::Address;
use ordo_domain::catalog::Sku;
use ordo_domain::identity::Actor;
use ordo_domain::ids::{CheckoutId, OrderId, ProductId, UserId, VariantId, VendorId};
use ordo_domain::inventory::Allocation;
use ordo_domain::money::{Currency, Money};
use ordo_domain::order::{
    LinePricing, NewOrder, Order, OrderChange, OrderEvent, OrderLine, OrderPricing, OrderStatus,
};
use ordo_domain::payment::PaymentStatus;
use ordo_store::{NamedCustomer, OrderNote, OrderQuery, OrderScope, OrderStore, StoreResult};
use sqlx::{AssertSqlSafe, QueryBuilder};

use super::identity::parse_role;
use super::{Cols, LINE_COLUMNS, ORDER_COLUMNS, SqlStore, corrupt, currency, group_by};
use crate::{Db, DbRow, dialect, map_err};

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
    let status = row
        .text("status")?
        .parse::<OrderStatus>()
        .map_err(|e| corrupt("status", e))?;
    let mut order = Order::stored(
        NewOrder {
            id: OrderId(row.uuid("id")?),
            customer_id: UserId(row.uuid("customer_id")?),
            vendor_id: VendorId(row.uuid("vendor_id")?),
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
            created_at: row.time("created_at")?,
        },
        status,
    );
    order.carrier_id = row.opt_uuid("carrier_id")?.map(UserId);
    order.cancel_reason = row.opt_text("cancel_reason")?;
    order.updated_at = row.time("updated_at")?;
    order.version = row.int("version")?;
    Ok(order)
}

/// Narrows a query of orders or events to whose they are (both tables name the same columns).
/// Narrows a query of `orders` to those whose share of their payment has status `paid`. With no
/// order status to match as well, a vendor's (or everyone's) orders come straight from the
/// shares' index, newest first, `limit` of them after `after`; otherwise each candidate order
/// is checked against its share (a customer's or carrier's few orders, or orders of one
/// status).
pub(crate) fn push_payment_status(
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

pub(crate) fn push_scope(qb: &mut QueryBuilder<Db>, scope: OrderScope) {
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

pub(crate) fn note_of(row: &DbRow) -> StoreResult<OrderNote> {
    Ok(OrderNote {
        id: row.uuid("id")?,
        order_id: OrderId(row.uuid("order_id")?),
        author: serde_json::from_str(&row.text("author")?).map_err(|e| corrupt("actor", e))?,
        body: row.text("body")?,
        created_at: row.time("created_at")?,
    })
}

/// The orders of one checkout, oldest first (read in the transaction of an idempotent replay).
pub(crate) static CHECKOUT_ORDERS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {ORDER_COLUMNS} FROM orders WHERE checkout_id = $1 ORDER BY id")
});

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

pub(crate) fn event_from_row(row: &impl Cols) -> StoreResult<OrderEvent> {
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

#[async_trait]
impl OrderStore for SqlStore {
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
}
