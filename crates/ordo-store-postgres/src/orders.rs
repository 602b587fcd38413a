//! Orders on PostgreSQL: the writes of [`ordo_store::orders`] in one transaction. The reads
//! and row mappings are shared with SQLite (`ordo-store/shared/sql_store/orders.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::address::name_keys;
use ordo_domain::ids::{CheckoutId, OrderId};
use ordo_domain::inventory::Allocation;
use ordo_domain::order::{Order, OrderEvent};
use ordo_store::{
    OrderNote, OrderTx, StoreError, StoreResult, changes_from, check_placement, constraints,
};
use sqlx::types::Json;

use crate::sql_store::orders::CHECKOUT_ORDERS;
use crate::sql_store::orders::orders_with_lines;
use crate::sql_store::{locked, sql};
use crate::tx::PgTx;

#[async_trait]
impl OrderTx for PgTx {
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
        let rows = sqlx::query(locked::ORDER.as_str())
            .bind(id.0)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(orders_with_lines(&mut *self.tx, rows).await?.pop())
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
}

/// The statements behind the trait's writes of an order: an order's row is written only with
/// its events (see `OrderTx::insert_order` and `OrderTx::record_order_changes`).
impl PgTx {
    async fn insert_order_row(&mut self, o: &Order) -> StoreResult<()> {
        sqlx::query(sql::INSERT_ORDER)
            .bind(o.id.0)
            .bind(o.customer_id.0)
            .bind(o.vendor_id.0)
            .bind(o.status().as_str())
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
    async fn update_order_row(&mut self, o: &Order, expected_version: i64) -> StoreResult<()> {
        let done = sqlx::query(sql::UPDATE_ORDER)
            .bind(o.status().as_str())
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
    async fn append_event_row(&mut self, e: &OrderEvent) -> StoreResult<()> {
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
}
