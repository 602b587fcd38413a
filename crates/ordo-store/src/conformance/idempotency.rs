//! Conformance of idempotency keys.

use chrono::{TimeZone, Utc};

use super::unit;
use crate::Store;

/// A key is claimed once per scope; a later claim gets back what it was first used for (the
/// request's hash, then its remembered answer); another scope is another key.
pub async fn an_idempotency_key_is_claimed_once_per_scope(store: &dyn Store) {
    let at = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let (first, before, in_other_scope) = unit(store, move |tx| {
        Box::pin(async move {
            let first = tx
                .idempotency_claim("checkout:u1", "key-1", b"hash-a", at)
                .await?;
            let before = tx
                .idempotency_claim("checkout:u1", "key-1", b"hash-b", at)
                .await?;
            let other = tx
                .idempotency_claim("checkout:u2", "key-1", b"hash-c", at)
                .await?;
            tx.idempotency_remember("checkout:u1", "key-1", r#"{"id":"o-1"}"#)
                .await?;
            Ok((first, before, other))
        })
    })
    .await
    .unwrap();
    assert!(
        first.is_none() && in_other_scope.is_none(),
        "new keys are claimed"
    );
    let before = before.expect("the key was taken");
    assert_eq!(before.request_hash, b"hash-a");
    assert_eq!(
        before.response, None,
        "no answer yet inside the claiming unit"
    );
    let replay = unit(store, move |tx| {
        Box::pin(async move {
            tx.idempotency_claim("checkout:u1", "key-1", b"hash-x", at)
                .await
        })
    })
    .await
    .unwrap()
    .expect("a replay");
    assert_eq!(replay.request_hash, b"hash-a");
    assert_eq!(replay.response.as_deref(), Some(r#"{"id":"o-1"}"#));
}
