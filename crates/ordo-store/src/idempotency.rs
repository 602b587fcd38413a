//! Idempotency keys and the answers they replay: the records of this aggregate and what the store
//! does with them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::StoreResult;

/// What an idempotency key was first used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// SHA-256 of the canonical request (method, path and body), to refuse a key reused for a
    /// different request.
    pub request_hash: Vec<u8>,
    /// What the first request returned, as JSON text (set in the same transaction as its
    /// change, so a committed claim always has it).
    pub response: Option<String>,
}

/// Writes within one transaction: idempotency keys and the answers they replay.
#[async_trait]
pub trait IdempotencyTx: Send {
    /// Claims `key` in `scope` for a request with `request_hash` and returns `None`, or returns
    /// what the key was first used for. One statement in the common case: the insert is the
    /// lookup. A claim by a concurrent transaction that is not yet committed is waited for
    /// (PostgreSQL) and then reported.
    async fn idempotency_claim(
        &mut self,
        scope: &str,
        key: &str,
        request_hash: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotencyRecord>>;
    /// Keeps the result of the request that claimed `key`, for its replays.
    async fn idempotency_remember(
        &mut self,
        scope: &str,
        key: &str,
        response: &str,
    ) -> StoreResult<()>;
}
