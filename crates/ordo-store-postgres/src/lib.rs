//! Ordo's scale-out backend: PostgreSQL, shared by any number of stateless `ordo serve` nodes.
//!
//! Concurrency is the database's job here: stock rows are read with `SELECT … FOR UPDATE` (in
//! SKU order, so two orders never deadlock), orders are locked while they change, and a CHECK
//! constraint refuses any write that would make stock negative, whatever the application does.
//! The SQL itself is shared with SQLite (see `ordo-store/shared/sql_store/`); the write path
//! is in [`tx`].

use std::time::Duration;

use anyhow::Context;
use ordo_store::{StoreError, constraints};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

#[path = "../../ordo-store/shared/sql_store/mod.rs"]
mod sql_store;

mod carts;
mod catalog;
mod exceptions;
mod idempotency;
mod identity;
mod jobs;
mod notifications;
mod orders;
mod outbox;
mod payments;
mod pricing;
mod tx;
mod webhooks;

pub use sql_store::SqlStore as PostgresStore;
use tx::{Writer, transact};

/// Writes can happen: a pooled connection answers and its server is a primary (a standby in
/// recovery answers reads but refuses every write).
async fn writable(writer: &Writer) -> ordo_store::StoreResult<()> {
    let primary: bool = sqlx::query_scalar("SELECT NOT pg_is_in_recovery()")
        .fetch_one(writer)
        .await
        .map_err(map_err)?;
    if primary {
        Ok(())
    } else {
        Err(StoreError::Unavailable(anyhow::anyhow!(
            "the PostgreSQL server is a standby in recovery: it takes no writes"
        )))
    }
}

/// The channel auth changes are announced on.
pub(crate) const AUTH_CHANNEL: &str = "ordo_auth";

/// A change as a NOTIFY payload: `s:<token hash hex>` or `u:<user id>`.
pub(crate) fn encode_auth_change(change: &ordo_store::AuthChange) -> String {
    match change {
        ordo_store::AuthChange::Session(hash) => {
            format!(
                "s:{}",
                hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
            )
        }
        ordo_store::AuthChange::User(id) => format!("u:{id}"),
        ordo_store::AuthChange::All => "all".to_owned(),
    }
}

fn decode_auth_change(payload: &str) -> ordo_store::AuthChange {
    use ordo_store::AuthChange;
    let hex = |s: &str| -> Option<Vec<u8>> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
            .collect()
    };
    match payload.split_once(':') {
        Some(("s", h)) => hex(h).map_or(AuthChange::All, AuthChange::Session),
        Some(("u", id)) => id.parse().map_or(AuthChange::All, |id| {
            AuthChange::User(ordo_domain::ids::UserId(id))
        }),
        _ => AuthChange::All,
    }
}

/// Auth changes committed by any node, from a connection LISTENing on [`AUTH_CHANNEL`]. When
/// the connection drops, notifications sent meanwhile are lost, so a reconnect yields
/// [`ordo_store::AuthChange::All`] before anything else.
async fn auth_changes(
    writer: &Writer,
) -> ordo_store::StoreResult<
    Option<std::pin::Pin<Box<dyn futures_util::Stream<Item = ordo_store::AuthChange> + Send>>>,
> {
    let mut listener = sqlx::postgres::PgListener::connect_with(writer)
        .await
        .map_err(map_err)?;
    listener.listen(AUTH_CHANNEL).await.map_err(map_err)?;
    let stream = futures_util::stream::unfold(listener, |mut listener| async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => return Some((decode_auth_change(n.payload()), listener)),
                // The connection was lost and is being re-established: assume we missed some.
                Ok(None) => return Some((ordo_store::AuthChange::All, listener)),
                Err(e) => {
                    tracing::warn!(error = %e, "auth change listener failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
    Ok(Some(Box::pin(stream)))
}

/// The channel a sequencer pokes, with the last position it gave, as it commits.
pub(crate) const EVENTS_CHANNEL: &str = "ordo_events";

async fn event_wakeups(
    writer: &Writer,
) -> ordo_store::StoreResult<Option<std::pin::Pin<Box<dyn futures_util::Stream<Item = i64> + Send>>>>
{
    let mut listener = sqlx::postgres::PgListener::connect_with(writer)
        .await
        .map_err(map_err)?;
    listener.listen(EVENTS_CHANNEL).await.map_err(map_err)?;
    let stream = futures_util::stream::unfold(listener, |mut listener| async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => return Some((n.payload().parse().unwrap_or(0), listener)),
                // Reconnected: pokes may have been missed, so say "look" (readers re-read).
                Ok(None) => return Some((0, listener)),
                Err(e) => {
                    tracing::warn!(error = %e, "event listener failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
    Ok(Some(Box::pin(stream)))
}

/// PostgreSQL never fail-stops a node: a commit whose outcome is unknown concerns one
/// connection, which the pool drops; the next write gets a fresh one.
async fn failed(_: &Writer) -> String {
    std::future::pending().await
}

type Db = sqlx::Postgres;
type DbRow = sqlx::postgres::PgRow;

mod dialect {
    pub const NAME: &str = "postgres";
    pub const FOR_UPDATE: &str = " FOR UPDATE";
    /// Locks the stock rows only, not the locations they are joined with.
    pub const FOR_UPDATE_OF_STOCK: &str = " FOR UPDATE OF s";
    /// The payload is jsonb; read back as text.
    pub const PAYLOAD_TEXT: &str = "payload::text AS payload";
    /// Claims skip rows another transaction is claiming.
    pub const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
    /// An order's id as text, as job keys spell it (the UUID's hyphenated form).
    pub const ORDER_ID_TEXT: &str = "orders.id::text";
}

fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        let code = db.code().unwrap_or_default();
        match code.as_ref() {
            // serialization_failure, deadlock_detected, lock_not_available
            "40001" | "40P01" | "55P03" => return StoreError::Contention,
            "23503" => return StoreError::Conflict(constraints::FOREIGN_KEY),
            "23505" | "23514" => {
                if let Some(name) = db
                    .constraint()
                    .and_then(|c| constraints::ALL.iter().find(|n| **n == c))
                {
                    return StoreError::Conflict(name);
                }
            }
            _ => {}
        }
    }
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            StoreError::Unavailable(e.into())
        }
        other => StoreError::Other(other.into()),
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl PostgresStore {
    /// Connects to `url` and brings the schema up to date (migrations take an advisory lock, so
    /// several nodes starting at once is safe).
    pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options: PgConnectOptions = url
            .parse()
            .with_context(|| "Failed to parse the PostgreSQL URL")?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .context("Failed to connect to PostgreSQL")?;
        MIGRATOR
            .run(&pool)
            .await
            .context("Failed to migrate the PostgreSQL database")?;
        Ok(Self {
            writer: pool.clone(),
            reader: pool,
        })
    }

    pub async fn close(&self) {
        self.writer.close().await;
    }
}

pub mod admin;
pub mod testing;
