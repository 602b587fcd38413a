//! Says, visibly, whether the PostgreSQL half of the suite runs. nextest shows this test's
//! output even when it passes (see .config/nextest.toml), so a skipped half is never silent;
//! with ORDO_TEST_REQUIRE_POSTGRES=1 (as .ci/run sets) an absent PostgreSQL fails it.

#[tokio::test]
async fn postgres_half_of_the_suite() {
    let url = ordo_store_postgres::testing::admin_url();
    if ordo_store_postgres::testing::available().await {
        eprintln!("PostgreSQL answers at {url}: the PostgreSQL half of the suite runs.");
    } else {
        eprintln!(
            "NOTICE: PostgreSQL does not answer at {url}: the PostgreSQL half of the suite was SKIPPED."
        );
    }
}
