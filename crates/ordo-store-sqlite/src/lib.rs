//! Ordo's embedded default backend: one SQLite file in the data folder, no server to run.
//!
//! SQLite allows one writer at a time, so this store has exactly one writer: a thread that owns
//! the write connection and runs the use cases' units of work one after another, committing
//! whatever is waiting as one group (see [`writer`]). Nothing can overtake a unit between its
//! stock read and its stock write, since nothing else writes. Readers use their own connections
//! (sqlx) and never block the writer (WAL mode). Every commit is fsynced (`synchronous = FULL`)
//! before anyone is answered: an acknowledged order survives kill -9 and power loss. The SQL is
//! shared with PostgreSQL (see `ordo-store/shared/sql_store/`).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use ordo_store::{Outcome, StoreError, StoreResult, TxWork, constraints};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

#[path = "../../ordo-store/shared/sql_store/mod.rs"]
mod sql_store;

mod carts;
mod catalog;
mod exceptions;
pub mod faults;
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
mod writer;

pub use sql_store::SqlStore as SqliteStore;
pub use writer::{Stopped, Writer};

async fn transact(writer: &Writer, work: TxWork) -> StoreResult<Outcome> {
    writer.transact(work).await
}

/// Writes can happen: the writer thread is alive and has not fail-stopped.
async fn writable(writer: &Writer) -> StoreResult<()> {
    match writer.stopped() {
        None => Ok(()),
        Some(Stopped::Closed) => Err(StoreError::Unavailable(anyhow::anyhow!(
            "the SQLite writer is closed"
        ))),
        Some(Stopped::Failed(why)) => Err(StoreError::Unavailable(anyhow::anyhow!(
            "the SQLite writer fail-stopped: {why}"
        ))),
    }
}

async fn failed(writer: &Writer) -> String {
    writer.failed().await
}

/// One SQLite file has one node: there is nobody to tell of auth changes.
async fn auth_changes(
    _: &Writer,
) -> StoreResult<
    Option<std::pin::Pin<Box<dyn futures_util::Stream<Item = ordo_store::AuthChange> + Send>>>,
> {
    Ok(None)
}

/// One node: its relay wakes its own readers.
async fn event_wakeups(
    _: &Writer,
) -> StoreResult<Option<std::pin::Pin<Box<dyn futures_util::Stream<Item = i64> + Send>>>> {
    Ok(None)
}

type Db = sqlx::Sqlite;
type DbRow = sqlx::sqlite::SqliteRow;

mod dialect {
    pub const NAME: &str = "sqlite";
    /// The writer thread already excludes other writers; SQLite has no row locks.
    pub const FOR_UPDATE: &str = "";
    pub const FOR_UPDATE_OF_STOCK: &str = "";
    pub const PAYLOAD_TEXT: &str = "payload";
    /// Claims skip rows another transaction is claiming.
    pub const SKIP_LOCKED: &str = "";
    /// An order's id as text, as job keys spell it (the UUID's hyphenated form).
    pub const ORDER_ID_TEXT: &str = "lower(substr(hex(orders.id), 1, 8) || '-' || substr(hex(orders.id), 9, 4) || '-' || substr(hex(orders.id), 13, 4) || '-' || substr(hex(orders.id), 17, 4) || '-' || substr(hex(orders.id), 21))";
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
        "idempotency_keys.scope, idempotency_keys.key",
        constraints::IDEMPOTENCY_KEYS_PKEY,
    ),
    (
        "order_events.order_id, order_events.seq",
        constraints::ORDER_EVENTS_PKEY,
    ),
    ("carts.customer_id", constraints::CARTS_OPEN_CUSTOMER_KEY),
    ("promotions.code", constraints::PROMOTIONS_CODE_KEY),
    ("jobs.kind, jobs.key", constraints::JOBS_KIND_KEY_KEY),
    (
        "payment_allocations.order_id",
        constraints::PAYMENT_ALLOCATIONS_ORDER_KEY,
    ),
];

#[derive(Debug, Clone, Copy)]
enum ConstraintKind {
    Unique,
    Check,
    ForeignKey,
}

/// The shared name of the constraint an SQLite error message reports, for both drivers.
fn constraint_named(kind: ConstraintKind, msg: &str) -> Option<&'static str> {
    match kind {
        ConstraintKind::Unique => UNIQUE_COLUMNS
            .iter()
            .find(|(cols, _)| msg.ends_with(cols))
            .map(|(_, n)| *n),
        ConstraintKind::Check => constraints::ALL.iter().find(|n| msg.contains(*n)).copied(),
        ConstraintKind::ForeignKey => Some(constraints::FOREIGN_KEY),
    }
}

fn map_err(e: sqlx::Error) -> StoreError {
    use sqlx::error::ErrorKind;
    if let sqlx::Error::Database(db) = &e {
        let kind = match db.kind() {
            ErrorKind::UniqueViolation => Some(ConstraintKind::Unique),
            ErrorKind::CheckViolation => Some(ConstraintKind::Check),
            ErrorKind::ForeignKeyViolation => Some(ConstraintKind::ForeignKey),
            _ => None,
        };
        if let Some(name) = kind.and_then(|k| constraint_named(k, db.message())) {
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
        let options = SqliteConnectOptions::new().filename(path);
        Self::connect(options, path.to_owned(), config)
            .await
            .with_context(|| format!("Failed to open SQLite database {}", path.display()))
    }

    /// Opens a `sqlite:` URL (e.g. `sqlite:///var/lib/ordo/ordo.db`).
    pub async fn open_url(url: &str, config: &SqliteConfig) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("Failed to parse SQLite URL {url}"))?;
        let path = options.get_filename().to_owned();
        Self::connect(options, path, config).await
    }

    async fn connect(
        options: SqliteConnectOptions,
        path: PathBuf,
        config: &SqliteConfig,
    ) -> anyhow::Result<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(config.busy_timeout);
        // Migrations run on a connection of their own, before the writer thread starts.
        let migrate = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .context("Failed to open the SQLite database")?;
        MIGRATOR
            .run(&migrate)
            .await
            .context("Failed to migrate the SQLite database")?;
        migrate.close().await;
        let writer = Writer::start(&path, config.busy_timeout)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(config.readers.max(1))
            .connect_with(options.read_only(true))
            .await
            .context("Failed to open the SQLite reader connections")?;
        Ok(Self { writer, reader })
    }

    /// The writer's fault switches, for tests that break the write path on purpose. They are
    /// all off, and nothing outside this API (no flag, no variable) turns one on: the binary
    /// the process tests run is the one that ships.
    pub fn faults(&self) -> &faults::Faults {
        self.writer.faults()
    }

    /// Flushes the write-ahead log into the main file and closes every connection.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}
