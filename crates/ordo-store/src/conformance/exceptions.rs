//! Conformance of the exception queue.

use chrono::{TimeZone, Utc};

use super::{fixture, order_for, placed, unit};
use crate::{ExceptionFilter, ExceptionItem, ExceptionStatus, Store};

/// An exception is raised once per key, changed whole, and found by status, kind and order.
pub async fn exceptions_are_raised_once_and_filtered(store: &dyn Store) {
    let f = fixture(store, "exceptions").await;
    let t0 = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let order = order_for(&f, t0);
    let item = |kind: &str, key: &str, order_id| ExceptionItem {
        id: uuid::Uuid::now_v7(),
        kind: kind.into(),
        key: key.into(),
        status: ExceptionStatus::Open,
        order_id,
        body: r#"{"reason":"Karte «abgelehnt»"}"#.into(),
        created_at: t0,
        updated_at: t0,
    };
    let refund = item("refund_failed", "refund_failed:1", Some(order.id));
    let again = item("refund_failed", "refund_failed:1", Some(order.id));
    let other = item("payment_unknown", "payment_unknown:2", None);
    let (o, r, a, x) = (order.clone(), refund.clone(), again.clone(), other.clone());
    let raised = unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_order(&o, &placed(&o)).await?;
            Ok((
                tx.raise_exception(&r).await?,
                tx.raise_exception(&a).await?,
                tx.raise_exception(&x).await?,
            ))
        })
    })
    .await
    .unwrap();
    assert_eq!(raised, (true, false, true), "one exception per key");
    assert_eq!(
        store.exception(refund.id).await.unwrap(),
        Some(refund.clone())
    );
    assert!(store.exception(again.id).await.unwrap().is_none());
    let resolved = ExceptionItem {
        status: ExceptionStatus::Resolved,
        body: r#"{"resolution":"mark_refunded"}"#.into(),
        updated_at: t0 + chrono::Duration::minutes(5),
        ..refund.clone()
    };
    let r = resolved.clone();
    unit(store, move |tx| {
        Box::pin(async move { tx.update_exception(&r).await })
    })
    .await
    .unwrap();
    assert_eq!(
        store.exception(refund.id).await.unwrap(),
        Some(resolved.clone())
    );
    let find = |status: Option<ExceptionStatus>, kind: Option<&str>, order_id| ExceptionFilter {
        status,
        kind: kind.map(Into::into),
        order_id,
        limit: 10,
    };
    assert_eq!(
        store
            .exceptions(&find(Some(ExceptionStatus::Open), None, None))
            .await
            .unwrap(),
        vec![other.clone()]
    );
    assert_eq!(
        store
            .exceptions(&find(None, None, Some(order.id)))
            .await
            .unwrap(),
        vec![resolved.clone()]
    );
    assert_eq!(
        store
            .exceptions(&find(None, Some("refund_failed"), None))
            .await
            .unwrap(),
        vec![resolved]
    );
    assert_eq!(
        store
            .exceptions(&find(None, None, None))
            .await
            .unwrap()
            .len(),
        2
    );
}
