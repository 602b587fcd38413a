//! The shared conformance suite on PostgreSQL: each check in its own database, dropped after.

use ordo_store::conformance;
use ordo_store_postgres::testing::TestDatabase;

#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    for (name, check) in conformance::ALL {
        let Some(db) = TestDatabase::create().await else {
            return;
        };
        eprintln!("conformance: {name}");
        check(&db.store).await;
        db.drop().await;
    }
}
