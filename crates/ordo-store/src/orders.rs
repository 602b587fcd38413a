//! Orders, their lines and allocations, their event log, notes, checkout links and the customer-
//! name index: the records of this aggregate and what the store does with them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::identity::Actor;
use ordo_domain::ids::{CheckoutId, OrderId, UserId, VendorId};
use ordo_domain::inventory::Allocation;
use ordo_domain::order::{Order, OrderChange, OrderEvent, OrderStatus};

use crate::{StoreError, StoreResult};

/// Whose orders a listing may contain: the ownership rule turned into a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderScope {
    All,
    Customer(UserId),
    Vendor(VendorId),
    Carrier(UserId),
}

/// One page of orders, newest first.
#[derive(Debug, Clone)]
pub struct OrderQuery {
    pub scope: OrderScope,
    pub status: Option<OrderStatus>,
    /// Only orders whose share of their payment has this status.
    pub payment_status: Option<ordo_domain::payment::PaymentStatus>,
    /// Return only orders older than this one (ids are time-ordered).
    pub starting_after: Option<OrderId>,
    /// Rows to fetch; callers ask for one more than a page to learn `has_more`.
    pub limit: u32,
}

/// An internal note on an order: staff only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderNote {
    pub id: uuid::Uuid,
    pub order_id: OrderId,
    pub author: Actor,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A customer found by a recipient name on their orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedCustomer {
    pub customer_id: UserId,
    pub email: String,
    /// The name as it was typed on the order.
    pub name: String,
}

/// Reads: orders, their lines and allocations, their event log, notes, checkout links and the
/// customer-name index.
#[async_trait]
pub trait OrderStore: Send + Sync {
    async fn order(&self, id: OrderId) -> StoreResult<Option<Order>>;
    async fn orders(&self, query: &OrderQuery) -> StoreResult<Vec<Order>>;
    /// How many orders of `scope` (with `status`, and `payment_status`) there are, counting no
    /// further than `cap`.
    async fn count_orders(
        &self,
        scope: OrderScope,
        status: Option<OrderStatus>,
        payment_status: Option<ordo_domain::payment::PaymentStatus>,
        cap: u32,
    ) -> StoreResult<u32>;
    async fn order_events(&self, id: OrderId) -> StoreResult<Vec<OrderEvent>>;
    /// Unpaid orders whose reservation ran out before `now` and that have no expiry job yet
    /// (one that keeps failing must not hide the ones behind it), oldest deadline first.
    async fn expired_reservations(
        &self,
        now: DateTime<Utc>,
        job_kind: &str,
        limit: u32,
    ) -> StoreResult<Vec<OrderId>>;
    /// The guest checkout a link opens.
    async fn checkout_by_link(&self, token: &str) -> StoreResult<Option<CheckoutId>>;
    /// A guest checkout's link.
    async fn checkout_link(&self, checkout: CheckoutId) -> StoreResult<Option<String>>;
    /// The orders of one checkout, oldest first.
    async fn orders_of_checkout(&self, checkout: CheckoutId) -> StoreResult<Vec<Order>>;
    /// An order's internal notes, oldest first.
    async fn order_notes(&self, order: OrderId) -> StoreResult<Vec<OrderNote>>;
    /// The newest `limit` internal notes on any of a customer's orders, newest first.
    async fn customer_notes(&self, customer: UserId, limit: i64) -> StoreResult<Vec<OrderNote>>;
    /// Customers with a recipient name that has a word starting with `prefix` (in
    /// [`ordo_domain::address::name_search_form`]), the closest keys first: up to `limit` rows,
    /// one customer and name may come twice (once per matching word).
    async fn customers_named(&self, prefix: &str, limit: i64) -> StoreResult<Vec<NamedCustomer>>;
}

/// Writes within one transaction: orders, their lines and allocations, their event log, notes,
/// checkout links and the customer-name index.
#[async_trait]
pub trait OrderTx: Send {
    /// Writes a new order with the event that placed it (number 1): see [`check_placement`].
    async fn insert_order(&mut self, order: &Order, placed: &OrderEvent) -> StoreResult<()>;
    /// Loads an order for change, locking it where the backend has row locks.
    async fn order_for_update(&mut self, id: OrderId) -> StoreResult<Option<Order>>;
    /// Writes what happened to a locked order: its status, version and the rest of its
    /// mutable state, together with the events that moved it there (oldest first, see
    /// [`changes_from`]) — the only way an order's status is written. Refused as
    /// [`constraints::ORDERS_VERSION`] when the order moved meanwhile (it is no longer at the
    /// version before the first event), or [`constraints::ORDER_EVENTS_PKEY`] when one of the
    /// events' numbers is taken.
    async fn record_order_changes(
        &mut self,
        order: &Order,
        events: &[OrderEvent],
    ) -> StoreResult<()>;
    /// Records where a line's stock was taken from (stock deducted at payment).
    async fn set_line_allocations(
        &mut self,
        order: OrderId,
        line_index: usize,
        allocations: &[Allocation],
    ) -> StoreResult<()>;
    /// The orders of one checkout, read in this transaction (for an idempotent replay).
    async fn checkout_orders(&mut self, id: CheckoutId) -> StoreResult<Vec<Order>>;
    /// Adds an internal note to an order.
    async fn insert_order_note(&mut self, note: &OrderNote) -> StoreResult<()>;
    /// Records a guest checkout's link.
    async fn insert_checkout_link(
        &mut self,
        checkout: CheckoutId,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// Checks that `placed` is the event that placed `order` (its number 1, about it), before a
/// backend writes them together.
pub fn check_placement(order: &Order, placed: &OrderEvent) -> StoreResult<()> {
    let placement = matches!(
        &placed.change,
        OrderChange::Placed { order: snapshot } if **snapshot == *order
    );
    if placed.seq != 1 || order.version != 1 || placed.order_id != order.id || !placement {
        return Err(StoreError::Other(anyhow::anyhow!(
            "order {} was not written with the event that placed it",
            order.id
        )));
    }
    Ok(())
}

/// The version `order` was at before `events` (the version its row must still have), once
/// the events are checked to be its own, numbered without a gap, and to end at its version:
/// a status is never written without the events that say how it got there.
pub fn changes_from(order: &Order, events: &[OrderEvent]) -> StoreResult<i64> {
    let bug = |why: &str| StoreError::Other(anyhow::anyhow!("order {}: {why}", order.id));
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Err(bug("a change was written without an event"));
    };
    if events.iter().any(|e| e.order_id != order.id) {
        return Err(bug("an event of another order"));
    }
    if events.windows(2).any(|w| w[1].seq != w[0].seq + 1) || first.seq < 2 {
        return Err(bug("events out of sequence"));
    }
    if last.seq != order.version {
        return Err(bug("the order's version is not its last event's"));
    }
    Ok(first.seq - 1)
}
