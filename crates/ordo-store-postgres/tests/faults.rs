//! PostgreSQL's write path under faults, injected for real in the server: a connection that
//! dies during COMMIT is an unknown outcome (the commit may have become durable just before),
//! never "nothing changed"; a commit PostgreSQL itself refuses is a known failure; and
//! readiness means a write-capable connection.

use chrono::Utc;
use ordo_domain::catalog::{Name, Vendor};
use ordo_domain::ids::VendorId;
use ordo_store::{CatalogStore, Outcome, Store, StoreError, StoreResult};
use ordo_store_postgres::testing::TestDatabase;

async fn insert_vendor(store: &dyn Store, name: &str) -> StoreResult<Outcome> {
    let vendor = Vendor {
        id: VendorId::new(),
        name: Name::parse(name).unwrap(),
    };
    store
        .transact(Box::new(move |tx| {
            Box::pin(async move {
                tx.insert_vendor(&vendor, Utc::now())
                    .await
                    .map_err(|_| ordo_store::Rollback)
            })
        }))
        .await
}

/// A deferred trigger on `vendors` running `body` at COMMIT, in the committing backend.
async fn at_commit(db: &TestDatabase, body: &str) {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    for statement in [
        format!(
            "CREATE FUNCTION at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$"
        ),
        "CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON vendors DEFERRABLE INITIALLY DEFERRED \
         FOR EACH ROW EXECUTE FUNCTION at_commit()"
            .to_owned(),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_connection_lost_during_commit_is_an_unknown_outcome() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    // The committing backend terminates itself in the middle of its COMMIT.
    at_commit(&db, "PERFORM pg_terminate_backend(pg_backend_pid());").await;
    let answer = insert_vendor(&db.store, "Lost at commit").await;
    assert!(
        matches!(answer, Err(StoreError::OutcomeUnknown(_))),
        "a commit cut off must be reported as unknown, got {answer:?}"
    );
    // The pool drops the dead connection; the node goes on (no fail-stop on PostgreSQL).
    db.store.ready().await.expect("still ready");
    db.drop().await;
}

#[tokio::test]
async fn a_commit_postgres_refuses_is_a_known_failure() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    // A deferred check that fails at COMMIT: PostgreSQL rolls back and says so (class 23).
    at_commit(
        &db,
        "RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'refused at commit';",
    )
    .await;
    let answer = insert_vendor(&db.store, "Refused at commit").await;
    assert!(
        matches!(answer, Err(StoreError::Other(_) | StoreError::Conflict(_))),
        "a refused commit is a known failure, got {answer:?}"
    );
    assert!(db.store.vendors().await.unwrap().is_empty());
    db.drop().await;
}

#[tokio::test]
async fn readiness_asks_for_a_write_capable_connection() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    db.store.ready().await.expect("a primary is ready");
    db.store.close().await;
    assert!(
        db.store.ready().await.is_err(),
        "a store whose connections are gone is not ready"
    );
    db.drop().await;
}
