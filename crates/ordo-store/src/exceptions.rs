//! The exception queue: what needs a person: the records of this aggregate and what the store does
//! with them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::ids::OrderId;

use crate::StoreResult;

/// Where an exception stands: open until a person resolves it, or escalates it to engineering
/// (then resolved from there). Its moves are [`ExceptionStatus::TRANSITIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExceptionStatus {
    Open,
    Escalated,
    Resolved,
}

ordo_domain::names!(ExceptionStatus, "invalid_status" {
    Open => "open",
    Escalated => "escalated",
    Resolved => "resolved",
});

impl ExceptionStatus {
    /// Every move an exception may make; anything else is refused.
    pub const TRANSITIONS: &'static [(ExceptionStatus, ExceptionStatus)] = &[
        (ExceptionStatus::Open, ExceptionStatus::Escalated),
        (ExceptionStatus::Open, ExceptionStatus::Resolved),
        (ExceptionStatus::Escalated, ExceptionStatus::Resolved),
    ];

    pub fn may_become(self, next: ExceptionStatus) -> bool {
        Self::TRANSITIONS.contains(&(self, next))
    }
}

/// An item of the exception queue: what Ordo could not settle by itself. The app owns the
/// shape of `body` (JSON); the store keeps it and filters by the columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionItem {
    pub id: uuid::Uuid,
    pub kind: String,
    /// What it is about: raised once per key.
    pub key: String,
    pub status: ExceptionStatus,
    pub order_id: Option<OrderId>,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which exceptions to list.
#[derive(Debug, Clone, Default)]
pub struct ExceptionFilter {
    pub status: Option<ExceptionStatus>,
    pub kind: Option<String>,
    pub order_id: Option<OrderId>,
    pub limit: u32,
}

/// Reads: the exception queue: what needs a person.
#[async_trait]
pub trait ExceptionStore: Send + Sync {
    /// The exception queue, newest first.
    async fn exceptions(&self, filter: &ExceptionFilter) -> StoreResult<Vec<ExceptionItem>>;
    async fn exception(&self, id: uuid::Uuid) -> StoreResult<Option<ExceptionItem>>;
}

/// Writes within one transaction: the exception queue: what needs a person.
#[async_trait]
pub trait ExceptionTx: Send {
    /// Raises an exception: `false` (nothing written) when one with its key exists.
    async fn raise_exception(&mut self, item: &ExceptionItem) -> StoreResult<bool>;
    /// Writes an exception's status and body.
    async fn update_exception(&mut self, item: &ExceptionItem) -> StoreResult<()>;
}
