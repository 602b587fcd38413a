//! The shared conformance suite on SQLite: each check on its own fresh database file.

use ordo_store::conformance;
use ordo_store_sqlite::{SqliteConfig, SqliteStore};

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    for (name, check) in conformance::ALL {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("ordo.db"), &SqliteConfig::default())
            .await
            .unwrap();
        eprintln!("conformance: {name}");
        check(&store).await;
        store.close().await;
    }
}
