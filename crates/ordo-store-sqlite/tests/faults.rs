//! The SQLite writer under faults, injected at exact steps of a group commit (the `faults`
//! feature's switches; a real full disk is tested through the binary in
//! `crates/ordo/tests/faults.rs`). Each test holds the writer to its promise: nothing answered
//! as failed is committed, nothing answered as done is missing, and an unknown outcome is said
//! to be unknown and stops the writer.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ordo_domain::catalog::{Name, Vendor};
use ordo_domain::ids::VendorId;
use ordo_store::{CatalogStore, Outcome, Store, StoreError, StoreResult, TxWork};
use ordo_store_sqlite::{SqliteConfig, SqliteStore};

/// Fails a test that waits too long instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(30);

async fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ordo.db"), &SqliteConfig::default())
        .await
        .unwrap();
    (dir, store)
}

fn vendor(name: &str) -> Vendor {
    Vendor {
        id: VendorId::new(),
        name: Name::parse(name).unwrap(),
    }
}

/// A unit that inserts `vendor`.
fn insert(vendor: &Vendor) -> TxWork {
    let vendor = vendor.clone();
    Box::new(move |tx| {
        Box::pin(async move {
            tx.insert_vendor(&vendor, Utc::now())
                .await
                .map_err(|_| ordo_store::Rollback)
        })
    })
}

/// A unit that panics halfway, after a write.
fn panicking(vendor: &Vendor) -> TxWork {
    let vendor = vendor.clone();
    Box::new(move |tx| {
        Box::pin(async move {
            tx.insert_vendor(&vendor, Utc::now())
                .await
                .map_err(|_| ordo_store::Rollback)?;
            panic!("a bug in a use case");
        })
    })
}

/// Runs `units` as one batch (the writer gathers exactly them) and returns each answer.
async fn one_batch(store: &SqliteStore, units: Vec<TxWork>) -> Vec<StoreResult<Outcome>> {
    store.faults().gather_next_batch(units.len());
    let store = Arc::new(store.clone());
    let calls: Vec<_> = units
        .into_iter()
        .map(|u| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.transact(u).await })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        let answer = tokio::time::timeout(DEADLINE, call)
            .await
            .expect("the writer answered within the deadline")
            .unwrap();
        answers.push(answer);
    }
    answers
}

async fn stored(store: &SqliteStore) -> Vec<String> {
    let mut names: Vec<String> = store
        .vendors()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name.as_str().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_savepoint_that_cannot_be_ended_sinks_its_whole_batch() {
    let (_dir, store) = open().await;
    let (a, b, c) = (vendor("A"), vendor("B"), vendor("C"));
    // A's savepoint is released; B's RELEASE fails; C has not run yet. Before the fix, B's
    // caller heard of the failure while the batch committed B's writes all the same.
    store.faults().fail_savepoint_end_after(1);
    let answers = one_batch(&store, vec![insert(&a), insert(&b), insert(&c)]).await;
    for (n, answer) in answers[..2].iter().enumerate() {
        assert!(
            matches!(answer, Err(StoreError::Unavailable(_))),
            "unit {n} of a sunk batch must be told nothing was saved, got {answer:?}"
        );
    }
    // C never ran in the sunk batch: it waits for the next one, and commits there.
    assert!(
        matches!(answers[2], Ok(Outcome::Committed)),
        "{:?}",
        answers[2]
    );
    assert_eq!(
        stored(&store).await,
        ["C"],
        "a sunk batch committed some of its units"
    );
    // The writer goes on: the rollback succeeded, so nothing is in doubt.
    store.ready().await.expect("still ready");
    let d = vendor("D");
    assert!(matches!(
        store.transact(insert(&d)).await,
        Ok(Outcome::Committed)
    ));
    assert_eq!(stored(&store).await, ["C", "D"]);
}

#[tokio::test]
async fn a_failed_commit_is_an_unknown_outcome_and_stops_the_writer() {
    let (_dir, store) = open().await;
    let (a, b) = (vendor("A"), vendor("B"));
    store.faults().fail_next_commit();
    let answers = one_batch(&store, vec![insert(&a), insert(&b)]).await;
    for answer in &answers {
        assert!(
            matches!(answer, Err(StoreError::OutcomeUnknown(_))),
            "a caller of a failed commit must hear the outcome is unknown, got {answer:?}"
        );
    }
    let why = tokio::time::timeout(DEADLINE, store.failed())
        .await
        .expect("the store reports its fail-stop");
    assert!(why.contains("commit"), "{why}");
    assert!(
        store.ready().await.is_err(),
        "a fail-stopped store is not ready"
    );
    // Every later write is refused before it runs: nothing changed, safe to retry elsewhere.
    let c = vendor("C");
    assert!(matches!(
        store.transact(insert(&c)).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(!stored(&store).await.contains(&"C".to_owned()));
}

#[tokio::test]
async fn a_panicking_unit_is_rolled_back_alone() {
    let (_dir, store) = open().await;
    let (a, b, c) = (vendor("A"), vendor("B"), vendor("C"));
    let answers = one_batch(&store, vec![insert(&a), panicking(&b), insert(&c)]).await;
    assert!(matches!(answers[0], Ok(Outcome::Committed)));
    match &answers[1] {
        Err(StoreError::Other(e)) => assert!(
            e.to_string().contains("a bug in a use case"),
            "the panic's message is kept: {e}"
        ),
        other => panic!("a panicking unit must fail, got {other:?}"),
    }
    assert!(matches!(answers[2], Ok(Outcome::Committed)));
    assert_eq!(stored(&store).await, ["A", "C"]);
    store
        .ready()
        .await
        .expect("a unit's panic does not stop the writer");
}

#[tokio::test]
async fn a_panic_in_the_writer_itself_is_fail_stop() {
    let (_dir, store) = open().await;
    let a = vendor("A");
    store.faults().panic_before_next_commit();
    let answers = one_batch(&store, vec![insert(&a)]).await;
    assert!(
        matches!(answers[0], Err(StoreError::OutcomeUnknown(_))),
        "the writer died holding the write: {:?}",
        answers[0]
    );
    let why = tokio::time::timeout(DEADLINE, store.failed())
        .await
        .expect("the store reports its fail-stop");
    assert!(why.contains("panicked"), "{why}");
    assert!(store.ready().await.is_err());
}
