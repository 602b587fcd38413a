//! Ordo's embedded default backend: one SQLite file in the data folder, no server to run.
//!
//! SQLite allows one writer at a time, so this store keeps exactly one writer connection and
//! starts every transaction with `BEGIN IMMEDIATE`: writers queue in the pool instead of failing
//! with `SQLITE_BUSY`, and a transaction that read stock cannot be overtaken before it writes.
//! Readers use their own connections and never block the writer (WAL mode). Every commit is
//! fsynced (`synchronous = FULL`): an acknowledged order survives kill -9 and power loss.
//! The queries themselves are shared with PostgreSQL (see `ordo-store/shared/sql_store.rs`).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use ordo_store::{StoreError, constraints};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

#[path = "../../ordo-store/shared/sql_store.rs"]
mod sql_store;

pub use sql_store::SqlStore as SqliteStore;

type Db = sqlx::Sqlite;
type DbRow = sqlx::sqlite::SqliteRow;

mod dialect {
    pub const NAME: &str = "sqlite";
    /// Takes the write lock up front (see the module docs).
    pub const BEGIN: &str = "BEGIN IMMEDIATE";
    /// The write transaction already excludes other writers; SQLite has no row locks.
    pub const SELECT_ORDER_FOR_UPDATE: &str = "SELECT id, customer_id, vendor_id, status, currency, subtotal_minor, \
        total_minor, shipping_address, carrier_id, cancel_reason, created_at, updated_at, version FROM orders WHERE id = $1";
    pub const LOCK_STOCK: &str = "SELECT s.location_id, s.on_hand, s.reserved FROM stock s \
        JOIN locations l ON l.id = s.location_id WHERE s.sku = $1 ORDER BY l.priority, l.code";
}

/// SQLite names CHECK constraints in its errors but reports UNIQUE ones by their columns;
/// this maps the columns back to the shared names.
const UNIQUE_COLUMNS: &[(&str, &str)] = &[
    ("users.email", constraints::USERS_EMAIL_KEY),
    ("variants.sku", constraints::VARIANTS_SKU_KEY),
    ("vendors.name", constraints::VENDORS_NAME_KEY),
    (
        "locations.vendor_id, locations.code",
        constraints::LOCATIONS_VENDOR_CODE_KEY,
    ),
    (
        "idempotency_keys.user_id, idempotency_keys.key",
        constraints::IDEMPOTENCY_KEYS_PKEY,
    ),
    (
        "order_events.order_id, order_events.seq",
        constraints::ORDER_EVENTS_PKEY,
    ),
];

fn map_err(e: sqlx::Error) -> StoreError {
    use sqlx::error::ErrorKind;
    if let sqlx::Error::Database(db) = &e {
        let msg = db.message();
        let named = match db.kind() {
            ErrorKind::UniqueViolation => UNIQUE_COLUMNS
                .iter()
                .find(|(cols, _)| msg.ends_with(cols))
                .map(|(_, n)| *n),
            ErrorKind::CheckViolation => {
                constraints::ALL.iter().find(|n| msg.contains(*n)).copied()
            }
            ErrorKind::ForeignKeyViolation => Some(constraints::FOREIGN_KEY),
            _ => None,
        };
        if let Some(name) = named {
            return StoreError::Conflict(name);
        }
        // SQLITE_BUSY and SQLITE_LOCKED with their extended codes: another writer held on
        // past the busy timeout.
        if let Some(code) = db.code().and_then(|c| c.parse::<i32>().ok())
            && matches!(code & 0xff, 5 | 6)
        {
            return StoreError::Contention;
        }
    }
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => StoreError::Unavailable(e.into()),
        other => StoreError::Other(other.into()),
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the SQLite file is opened.
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// Connections for reads, beside the one writer.
    pub readers: u32,
    /// How long a writer waits for another process holding the lock (`ordo users create` run
    /// beside a live server) before giving up with a contention error.
    pub busy_timeout: Duration,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self {
            readers: 4,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and brings its schema up to date.
    pub async fn open(path: &Path, config: &SqliteConfig) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(config.busy_timeout);
        Self::connect(options, config)
            .await
            .with_context(|| format!("Failed to open SQLite database {}", path.display()))
    }

    /// Opens a `sqlite:` URL (e.g. `sqlite:///var/lib/ordo/ordo.db`).
    pub async fn open_url(url: &str, config: &SqliteConfig) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("Failed to parse SQLite URL {url}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(config.busy_timeout);
        Self::connect(options, config).await
    }

    async fn connect(options: SqliteConnectOptions, config: &SqliteConfig) -> anyhow::Result<Self> {
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .context("Failed to open the SQLite writer connection")?;
        MIGRATOR
            .run(&writer)
            .await
            .context("Failed to migrate the SQLite database")?;
        let reader = SqlitePoolOptions::new()
            .max_connections(config.readers.max(1))
            .connect_with(options.read_only(true))
            .await
            .context("Failed to open the SQLite reader connections")?;
        Ok(Self { writer, reader })
    }

    /// Flushes the write-ahead log into the main file and closes every connection.
    pub async fn close(&self) {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await;
        self.reader.close().await;
        self.writer.close().await;
    }
}
