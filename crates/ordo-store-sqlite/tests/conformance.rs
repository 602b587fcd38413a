//! The shared conformance suite on SQLite: each check a test of its own, on a fresh file.

use ordo_store::conformance::Check;
use ordo_store_sqlite::{SqliteConfig, SqliteStore};

async fn run(check: Check) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ordo.db"), &SqliteConfig::default())
        .await
        .unwrap();
    check(&store).await;
    store.close().await;
}

ordo_store::conformance_tests!(run);
