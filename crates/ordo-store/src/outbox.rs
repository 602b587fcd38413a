//! The outbox, its sequencer and the cursors of those who read the relayed events: the records of
//! this aggregate and what the store does with them.

use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::ids::{UserId, VendorId};

use crate::{OrderScope, StoreResult};

/// A message for consumers outside the transaction (webhooks, live updates, the event stream),
/// written in the same transaction as the change it describes.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    /// e.g. `order.paid`, `stock.updated`
    pub topic: String,
    /// The aggregate it concerns (an order id, a SKU): consumers keep per-key order.
    pub key: String,
    /// JSON text, serialized once by the writer of the change and stored as it is (no
    /// intermediate `Value` tree on the write path).
    pub payload: Box<serde_json::value::RawValue>,
    pub created_at: DateTime<Utc>,
    /// Who may see it (the event feed and live streams filter by it).
    pub audience: Audience,
}

/// Whose an event is: an order's customer, vendor and carrier; a SKU's vendor. Support and
/// admins see every event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Audience {
    pub customer: Option<UserId>,
    pub vendor: Option<VendorId>,
    pub carrier: Option<UserId>,
}

impl Audience {
    /// Whether a reader of `scope` may see it.
    pub fn admits(&self, scope: OrderScope) -> bool {
        match scope {
            OrderScope::All => true,
            OrderScope::Customer(id) => self.customer == Some(id),
            OrderScope::Vendor(id) => self.vendor == Some(id),
            OrderScope::Carrier(id) => self.carrier == Some(id),
        }
    }
}

/// An outbox message the relay has put in delivery order: `position` is gap-free and
/// increasing in the order the sequencer saw the changes commit, so a reader that has seen
/// every position up to N has missed nothing before N.
#[derive(Debug, Clone)]
pub struct RelayedEvent {
    pub position: i64,
    pub message: OutboxMessage,
}

/// The relay's progress (see [`OutboxStore::relay_state`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayState {
    pub cursors: Vec<(String, i64)>,
    pub waiting: i64,
    pub oldest_waiting: Option<DateTime<Utc>>,
    /// The first position still kept (older ones were purged); `None` when none is.
    pub oldest_position: Option<i64>,
}

/// Reads: the outbox, its sequencer and the cursors of those who read the relayed events.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Outbox messages after `after` (a message id), oldest first, with their ids, relayed or
    /// not (for tests and operators; consumers read [`OutboxStore::events_after`]).
    async fn outbox(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxMessage)>>;
    /// Relayed events after `after` (a position) that a reader of `scope` may see, in order.
    async fn events_after(
        &self,
        after: i64,
        scope: OrderScope,
        limit: u32,
    ) -> StoreResult<Vec<RelayedEvent>>;
    /// Where each reader of the outbox has got to (`sequencer`: the last position given out),
    /// and how many messages wait for a position, with the oldest one's time.
    async fn relay_state(&self) -> StoreResult<RelayState>;
    /// Pokes from other nodes that relayed events (PostgreSQL's LISTEN/NOTIFY, carrying the
    /// last position), as they happen. `None` where there is only ever one node (SQLite).
    async fn event_wakeups(
        &self,
    ) -> StoreResult<Option<Pin<Box<dyn futures_util::Stream<Item = i64> + Send>>>>;
}

/// Writes within one transaction: the outbox, its sequencer and the cursors of those who read the
/// relayed events.
#[async_trait]
pub trait OutboxTx: Send {
    async fn enqueue(&mut self, message: &OutboxMessage) -> StoreResult<()>;
    /// The relay's sequencer: gives the next positions, in id order, to up to `limit`
    /// committed outbox messages that have none, and returns the last position given (`None`
    /// when there were none). One sequencer runs at a time (it locks its cursor row), so
    /// positions appear in the order they are given. On PostgreSQL it also pokes the other
    /// nodes (see [`OutboxStore::event_wakeups`]) as it commits.
    async fn sequence_outbox(&mut self, at: DateTime<Utc>, limit: u32) -> StoreResult<Option<i64>>;
    /// Where `consumer` of the relayed events has got to; a new consumer starts at the
    /// present (the sequencer's position), not at the oldest event kept.
    async fn consumer_cursor(&mut self, consumer: &str, at: DateTime<Utc>) -> StoreResult<i64>;
    /// Moves `consumer` on to `position` (never back).
    async fn advance_cursor(
        &mut self,
        consumer: &str,
        position: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}
