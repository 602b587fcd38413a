//! The shared conformance suite on PostgreSQL: each check a test of its own, in its own
//! database, dropped after.

use ordo_store::conformance::Check;
use ordo_store_postgres::testing::TestDatabase;

async fn run(check: Check) {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    check(&db.store).await;
    db.drop().await;
}

ordo_store::conformance_tests!(run);
