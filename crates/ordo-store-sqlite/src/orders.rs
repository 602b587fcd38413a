//! Orders on SQLite: the writes of [`ordo_store::orders`] in one transaction. The reads
//! and row mappings are shared with PostgreSQL (`ordo-store/shared/sql_store/orders.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::address::name_keys;
use ordo_domain::ids::{CheckoutId, OrderId};
use ordo_domain::inventory::Allocation;
use ordo_domain::order::{Order, OrderEvent};
use ordo_store::{
    OrderNote, OrderTx, StoreError, StoreResult, changes_from, check_placement, constraints,
};
use rusqlite::params;

use crate::sql_store::orders::{CHECKOUT_ORDERS, line_from_row, order_currency, order_from_row};
use crate::sql_store::{Cols, locked, sql};
use crate::tx::{LINES, SqliteTx, json, ts};

#[async_trait]
impl OrderTx for SqliteTx {
    async fn insert_order(&mut self, o: &Order, placed: &OrderEvent) -> StoreResult<()> {
        check_placement(o, placed)?;
        self.insert_order_row(o).await?;
        self.append_event_row(placed).await
    }

    async fn record_order_changes(&mut self, o: &Order, events: &[OrderEvent]) -> StoreResult<()> {
        let expected = changes_from(o, events)?;
        self.update_order_row(o, expected).await?;
        for e in events {
            self.append_event_row(e).await?;
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
}

/// The statements behind the trait's writes of an order: an order's row is written only with
/// its events (see `OrderTx::insert_order` and `OrderTx::record_order_changes`).
impl SqliteTx {
    async fn insert_order_row(&mut self, o: &Order) -> StoreResult<()> {
        self.execute(
            sql::INSERT_ORDER,
            params![
                o.id.0,
                o.customer_id.0,
                o.vendor_id.0,
                o.status().as_str(),
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
    async fn update_order_row(&mut self, o: &Order, expected_version: i64) -> StoreResult<()> {
        let changed = self.execute(
            sql::UPDATE_ORDER,
            params![
                o.status().as_str(),
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
    async fn append_event_row(&mut self, e: &OrderEvent) -> StoreResult<()> {
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
}
