//! Conformance of units of work: atomicity, isolation and named constraints.

use chrono::Utc;
use ordo_domain::catalog::{Name, Product, Variant, Vendor};
use ordo_domain::identity::User;
use ordo_domain::ids::{ProductId, UserId, VariantId, VendorId};

use super::{fixture, unit};
use crate::{Store, StoreError, constraints};

pub async fn a_transaction_dropped_without_commit_leaves_nothing(store: &dyn Store) {
    let vendor = Vendor {
        id: VendorId::new(),
        name: Name::parse("Ghost").unwrap(),
    };
    let v = vendor.clone();
    let err = unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_vendor(&v, Utc::now()).await?;
            Err::<(), _>(StoreError::Contention)
        })
    })
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Contention), "{err:?}");
    assert_eq!(store.vendor(vendor.id).await.unwrap(), None);
    // And the writer is free again afterwards.
    let v = vendor.clone();
    unit(store, move |tx| {
        Box::pin(async move { tx.insert_vendor(&v, Utc::now()).await })
    })
    .await
    .unwrap();
    assert!(store.vendor(vendor.id).await.unwrap().is_some());
}

pub async fn unique_names_are_reported_by_constraint(store: &dyn Store) {
    let f = fixture(store, "unique").await;
    let twin = User {
        id: UserId::new(),
        ..f.customer.clone()
    };
    let err = unit(store, move |tx| {
        Box::pin(async move { tx.insert_user(&twin, "h", Utc::now()).await })
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::USERS_EMAIL_KEY),
        "{err:?}"
    );
    let dup = Product {
        id: ProductId::new(),
        variants: vec![Variant {
            id: VariantId::new(),
            ..f.product.variants[0].clone()
        }],
        ..f.product.clone()
    };
    let err = unit(store, move |tx| {
        Box::pin(async move { tx.insert_product(&dup, Utc::now()).await })
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::VARIANTS_SKU_KEY),
        "{err:?}"
    );
}

/// Many units at once (on SQLite they share commits): each one's changes are kept or undone by
/// its own result alone, and every `Ok` is readable afterwards.
pub async fn concurrent_units_commit_or_roll_back_alone(store: &dyn Store) {
    let vendors: Vec<Vendor> = (0..64)
        .map(|i| Vendor {
            id: VendorId::new(),
            name: Name::parse(&format!("Concurrent {i}")).unwrap(),
        })
        .collect();
    let units = vendors.iter().enumerate().map(|(i, v)| {
        let v = v.clone();
        unit(store, move |tx| {
            Box::pin(async move {
                tx.insert_vendor(&v, Utc::now()).await?;
                if i % 3 == 0 {
                    return Err(StoreError::Contention);
                }
                Ok(i)
            })
        })
    });
    let results = futures_util::future::join_all(units).await;
    for (i, (result, vendor)) in results.iter().zip(&vendors).enumerate() {
        let stored = store.vendor(vendor.id).await.unwrap();
        if i % 3 == 0 {
            assert!(matches!(result, Err(StoreError::Contention)), "{result:?}");
            assert_eq!(stored, None, "unit {i} failed but left its vendor");
        } else {
            assert_eq!(result.as_ref().ok(), Some(&i));
            assert_eq!(
                stored.as_ref(),
                Some(vendor),
                "unit {i} was acknowledged but lost"
            );
        }
    }
}

/// A healthy store names its backend, is ready for writes, and has not failed (its `failed`
/// future is still pending); `transact` runs a unit and says it committed.
pub async fn a_healthy_store_is_ready_and_has_not_failed(store: &dyn Store) {
    use futures_util::FutureExt;
    assert!(["sqlite", "postgres"].contains(&store.backend()));
    store.ready().await.unwrap();
    assert!(
        store.failed().now_or_never().is_none(),
        "a healthy store has not failed"
    );
    let outcome = store
        .transact(Box::new(|_tx| Box::pin(async { Ok(()) })))
        .await
        .unwrap();
    assert_eq!(outcome, crate::Outcome::Committed);
}
