//! The exception queue: what needs a person: the records of this aggregate and what the store does
//! with them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::ids::OrderId;

use crate::StoreResult;

/// An item of the exception queue: what Ordo could not settle by itself. The app owns the
/// shape of `body` (JSON); the store keeps it and filters by the columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionItem {
    pub id: uuid::Uuid,
    pub kind: String,
    /// What it is about: raised once per key.
    pub key: String,
    /// `open`, `resolved`, `escalated`.
    pub status: String,
    pub order_id: Option<OrderId>,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which exceptions to list.
#[derive(Debug, Clone, Default)]
pub struct ExceptionFilter {
    pub status: Option<String>,
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
