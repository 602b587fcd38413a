//! The storage port: what Ordo needs from a database, and nothing about how.
//!
//! [`Store`] serves reads and runs units of write work; [`StoreTx`] is one transaction, through
//! which every change is written. A use case hands its whole transaction to [`write`] as one
//! closure (the steps, then `Ok` to commit or `Err` to undo), so the backend decides how it runs:
//! PostgreSQL runs it on a pooled connection; SQLite runs it on its one writer thread, where many
//! units share one commit and one fsync (group commit) and each caller is answered only once its
//! unit is durable. Work must await nothing but its [`StoreTx`]: SQLite polls it without an async
//! runtime. The port is split by aggregate — identity, catalog (and stock), orders, carts, pricing,
//! payments, jobs, outbox, webhooks, notifications, exceptions, idempotency — each a module with
//! its records, a read trait (`OrderStore`) and a write trait (`OrderTx`), and a conformance module
//! of its own. Two backends implement the port — `ordo-store-sqlite` (the embedded default) and
//! `ordo-store-postgres` (scale-out) — and both must pass the [`conformance`] suite. This crate
//! never touches SQL itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

pub mod carts;
pub mod catalog;
pub mod conformance;
pub mod constraints;
pub mod exceptions;
pub mod idempotency;
pub mod identity;
pub mod jobs;
pub mod notifications;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod pricing;
pub mod testing;
pub mod webhooks;

pub use carts::*;
pub use catalog::*;
pub use exceptions::*;
pub use idempotency::*;
pub use identity::*;
pub use jobs::*;
pub use notifications::*;
pub use orders::*;
pub use outbox::*;
pub use payments::*;
pub use pricing::*;
pub use webhooks::*;

pub type StoreResult<T> = Result<T, StoreError>;

/// A storage failure, fine-grained enough for the caller to tell a conflict from a crash.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A named constraint refused the write (see [`constraints`]); the caller maps it to a
    /// client error.
    #[error("constraint {0} refused the write")]
    Conflict(&'static str),
    /// Two transactions collided (deadlock, serialization failure, busy database); retrying the
    /// whole transaction is safe.
    #[error("transaction collided with another; retry")]
    Contention,
    /// The database could not be reached or timed out, or the write was refused before it
    /// ran: nothing changed, and retrying is safe.
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// The commit was sent but its result is unknown (a failed fsync, a connection lost during
    /// COMMIT, a writer that died holding the write): the change may or may not be durable.
    /// Only a retry with the same idempotency key can tell, after the store recovers.
    #[error("the outcome of the write is unknown")]
    OutcomeUnknown(#[source] anyhow::Error),
    /// Anything else: a bug or a broken database. Logged, never shown to clients.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Reads and the door to writes: every aggregate's reads (one trait each, in its own module),
/// and running a unit of write work.
#[async_trait]
pub trait Store:
    Send
    + Sync
    + 'static
    + IdentityStore
    + CatalogStore
    + OrderStore
    + CartStore
    + PricingStore
    + PaymentStore
    + JobStore
    + OutboxStore
    + WebhookStore
    + NotificationStore
    + ExceptionStore
{
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;
    /// Runs `work` in one write transaction: its changes are committed if it returns `Ok` and
    /// undone if it returns `Err`. Returns once the commit is durable — an `Ok(Committed)` is a
    /// promise that the changes survive a crash. Use [`write`], which carries a typed result.
    async fn transact(&self, work: TxWork) -> StoreResult<Outcome>;
    /// Checks the database answers and can take writes (SQLite: the writer thread is alive and
    /// not fail-stopped; PostgreSQL: a pooled connection reaches a primary that accepts writes).
    async fn ready(&self) -> StoreResult<()>;
    /// Resolves, with the reason, when the store has stopped taking writes for good because
    /// the outcome of a commit is unknown (fail-stop; see `docs/architecture.md`). The server
    /// then exits non-zero so its supervisor restarts it. Never resolves for a store that
    /// cannot fail-stop.
    async fn failed(&self) -> String;
}

/// One write transaction: every aggregate's writes (one trait each, in its own module). A
/// backend implements the aggregates' traits, one file each, and is a `StoreTx` by that alone.
/// Methods are called straight on `&mut dyn StoreTx`; code holding a concrete backend type
/// imports the aggregate's trait.
pub trait StoreTx:
    Send
    + IdentityTx
    + CatalogTx
    + OrderTx
    + CartTx
    + PricingTx
    + PaymentTx
    + JobTx
    + OutboxTx
    + WebhookTx
    + NotificationTx
    + ExceptionTx
    + IdempotencyTx
{
}

impl<
    T: Send
        + IdentityTx
        + CatalogTx
        + OrderTx
        + CartTx
        + PricingTx
        + PaymentTx
        + JobTx
        + OutboxTx
        + WebhookTx
        + NotificationTx
        + ExceptionTx
        + IdempotencyTx,
> StoreTx for T
{
}

/// The future of one unit of write work, borrowing its transaction.
pub type TxFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Rollback>> + Send + 'a>>;
/// One unit of write work, as a backend receives it.
pub type TxWork = Box<dyn for<'a> FnOnce(&'a mut dyn StoreTx) -> TxFuture<'a> + Send>;

/// The error for work that returned `Ok` after one of its statements failed. A failed statement
/// ends the unit on every backend (PostgreSQL abandons the transaction; SQLite is held to the
/// same rule so the two cannot differ): the work must pass the error on, and nothing is kept.
pub fn went_on_after_a_failure() -> StoreError {
    StoreError::Other(anyhow::anyhow!(
        "a unit of work returned Ok after one of its statements failed; nothing was kept"
    ))
}

/// Returned by work whose changes must be undone; its reason travels beside it (see [`write`]).
#[derive(Debug)]
pub struct Rollback;

/// What became of a unit of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its changes are durable.
    Committed,
    /// It returned `Err`; none of its changes were kept.
    RolledBack,
}

/// Runs `work` as one transaction on `store` and returns its result: `Ok` only once the changes
/// are durable; `Err` with nothing changed otherwise (the work's own error, or the store's if the
/// commit failed). The work is `'static` because SQLite runs it on its writer thread.
pub async fn write<T, E, F>(store: &dyn Store, work: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: for<'a> FnOnce(
            &'a mut dyn StoreTx,
        ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'a>>
        + Send
        + 'static,
{
    let slot: Arc<Mutex<Option<Result<T, E>>>> = Arc::new(Mutex::new(None));
    let out = Arc::clone(&slot);
    let unit: TxWork = Box::new(move |tx| {
        Box::pin(async move {
            let result = work(tx).await;
            let keep = result.is_ok();
            *out.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(result);
            if keep { Ok(()) } else { Err(Rollback) }
        })
    });
    let outcome = store.transact(unit).await;
    let result = slot
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    match (outcome, result) {
        (Ok(Outcome::Committed), Some(Ok(value))) => Ok(value),
        (Ok(Outcome::RolledBack), Some(Err(e))) => Err(e),
        // The commit failed (or the store did before running the work): nothing was kept, even
        // if the work itself succeeded.
        (Err(e), _) => Err(e.into()),
        (Ok(outcome), _) => Err(StoreError::Other(anyhow::anyhow!(
            "transaction ended {outcome:?} but its work did not say so"
        ))
        .into()),
    }
}
