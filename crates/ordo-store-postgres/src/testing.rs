//! Throw-away PostgreSQL databases for tests: one per test, dropped afterwards.
//!
//! The server is found at `ORDO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Where none answers, tests that need it are
//! skipped with a notice on stderr — unless `ORDO_TEST_REQUIRE_POSTGRES=1` (set by `.ci/run`),
//! in which case a missing PostgreSQL is a failure, never a silent skip.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::PostgresStore;

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn admin_url() -> String {
    std::env::var("ORDO_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

pub fn required() -> bool {
    ordo_store::testing::required("POSTGRES")
}

/// Whether the test server answers; panics if it does not and it is required.
pub async fn available() -> bool {
    let url = admin_url();
    let ok = matches!(
        tokio_timeout(PgConnection::connect(&url)).await,
        Some(Ok(_))
    );
    if !ok {
        assert!(
            !required(),
            "PostgreSQL is required (ORDO_TEST_REQUIRE_POSTGRES=1) but does not answer at {url}"
        );
        eprintln!(
            "NOTICE: PostgreSQL does not answer at {url}; skipping the PostgreSQL half of this test"
        );
    }
    ok
}

async fn tokio_timeout<F: std::future::Future>(f: F) -> Option<F::Output> {
    tokio::time::timeout(Duration::from_secs(5), f).await.ok()
}

/// Drops its database when it goes out of scope — on a panic too, so a failing test leaves
/// nothing behind. Any connections still open are cut (`WITH (FORCE)`).
pub struct DatabaseGuard(pub String);

impl Drop for DatabaseGuard {
    fn drop(&mut self) {
        let name = self.0.clone();
        // A thread of its own: this may run inside (or while unwinding out of) a runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(drop_database(&name));
        })
        .join();
    }
}

/// A migrated database of its own for one test.
pub struct TestDatabase {
    pub url: String,
    pub store: PostgresStore,
    // Last, so it drops after the store.
    pub guard: DatabaseGuard,
}

impl TestDatabase {
    /// Creates and migrates a fresh database, or returns `None` (after the notice) when no
    /// PostgreSQL answers and none is required.
    pub async fn create() -> Option<Self> {
        let (guard, url) = Self::create_empty().await?;
        let store = PostgresStore::open(&url, 10)
            .await
            .expect("migrate the test database");
        Some(Self { url, store, guard })
    }

    /// Creates an empty database; it is dropped with the returned guard.
    pub async fn create_empty() -> Option<(DatabaseGuard, String)> {
        if !available().await {
            return None;
        }
        let name = format!("ordo_test_{}", uuid::Uuid::now_v7().simple());
        let url = crate::admin::create_database(&admin_url(), &name)
            .await
            .expect("create the test database");
        Some((DatabaseGuard(name), url))
    }

    /// Closes the store's connections, then drops the database.
    pub async fn drop(self) {
        self.store.close().await;
    }
}

/// Drops a test database, disconnecting anyone still in it.
pub async fn drop_database(name: &str) {
    crate::admin::drop_database(&admin_url(), name)
        .await
        .expect("drop the test database");
}
