//! Conformance of the catalog and stock.

use chrono::{TimeZone, Utc};
use ordo_domain::catalog::{Location, LocationCode, Name, Sku};
use ordo_domain::identity::Actor;
use ordo_domain::ids::{LocationId, VendorId};
use ordo_domain::inventory::StockDeduction;
use ordo_domain::money::{Currency, Money};
use ordo_domain::pricing::TaxClass;

use super::{eur, fixture, unit};
use crate::{Store, StoreError, constraints};

pub async fn variants_for_sale_carry_every_price_and_setting(store: &dyn Store) {
    let f = fixture(store, "vfs").await;
    let sku = f.sku.clone();
    let got = unit(store, move |tx| {
        Box::pin(async move { tx.variants_for_sale(&[sku]).await })
    })
    .await
    .unwrap();
    assert_eq!(got.len(), 1);
    let v = &got[0];
    assert_eq!(v.prices, f.product.variants[0].prices);
    assert_eq!((v.weight_grams, v.low_stock_threshold), (250, Some(2)));
    assert_eq!(v.tax_class, TaxClass::standard());
    assert_eq!(v.deduction, StockDeduction::AtOrder);
    assert_eq!(
        store.product(f.product.id).await.unwrap().unwrap(),
        f.product
    );
}

pub async fn stock_can_never_be_reserved_beyond_on_hand(store: &dyn Store) {
    let f = fixture(store, "stock").await;
    let (sku, location) = (f.sku.clone(), f.location);
    let err = unit(store, move |tx| {
        Box::pin(async move {
            tx.change_stock(&sku, location, 0, 5).await?;
            tx.change_stock(&sku, location, 0, 1).await
        })
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::STOCK_RESERVED_WITHIN_ON_HAND),
        "{err:?}"
    );
    let (sku, location) = (f.sku.clone(), f.location);
    let err = unit(store, move |tx| {
        Box::pin(async move { tx.change_stock(&sku, location, 0, -1).await })
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "negative reservation accepted: {err:?}"
    );
    // Work that swallows a failed statement and returns Ok is refused whole, on both backends.
    let (sku, location) = (f.sku.clone(), f.location);
    let err = unit(store, move |tx| {
        Box::pin(async move {
            tx.change_stock(&sku, location, 0, 5).await?;
            let _ = tx.change_stock(&sku, location, 0, 1).await;
            Ok(())
        })
    })
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
    let stock = store.stock(&f.sku).await.unwrap().unwrap();
    assert_eq!(
        (
            stock.locations[0].level.on_hand,
            stock.locations[0].level.reserved
        ),
        (5, 0)
    );
}

/// Vendors, their locations (by priority, and by code), their products and a SKU's seller read
/// back as written; price lists take and drop a currency's price; a SKU at or below its
/// threshold is low on stock until the threshold is cleared; stock rows lock in allocation order
/// and add up across locations; adjustments are kept newest first.
pub async fn the_catalog_prices_and_stock_read_back_as_written(store: &dyn Store) {
    use crate::{PriceListEntry, StockAdjustment};
    use ordo_domain::ids::AdjustmentId;
    use ordo_domain::inventory::AdjustmentReason;
    let f = fixture(store, "catalog").await;
    let at = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let backroom = Location {
        id: LocationId::new(),
        vendor_id: f.vendor,
        code: LocationCode::parse("back-1").unwrap(),
        name: Name::parse("Back room").unwrap(),
        priority: 1,
    };
    let (b, sku, vendor) = (backroom.clone(), f.sku.clone(), f.vendor);
    let (found, seller, nobody, levels) = unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_location(&b, at).await?;
            tx.set_on_hand(&sku, b.id, 3, at).await?;
            let found = tx.location_by_code(vendor, &b.code).await?;
            let seller = tx.sku_vendor(&sku).await?;
            let nobody = tx.sku_vendor(&Sku::parse("NO-SUCH").unwrap()).await?;
            let levels = tx.lock_stock(&sku).await?;
            Ok((found, seller, nobody, levels))
        })
    })
    .await
    .unwrap();
    assert_eq!(found, Some(backroom.clone()));
    assert_eq!((seller, nobody), (Some(f.vendor), None));
    assert_eq!(
        levels
            .iter()
            .map(|l| (l.location_id, l.on_hand, l.reserved))
            .collect::<Vec<_>>(),
        vec![(f.location, 5, 0), (backroom.id, 3, 0)],
        "stock rows in allocation order"
    );
    let locations = store.locations(f.vendor).await.unwrap();
    assert_eq!(
        locations.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![f.location, backroom.id]
    );
    assert!(
        store
            .vendors()
            .await
            .unwrap()
            .iter()
            .any(|v| v.id == f.vendor && v.name.as_str() == "Vendor catalog")
    );
    assert_eq!(
        store.vendor(f.vendor).await.unwrap().map(|v| v.id),
        Some(f.vendor)
    );
    assert_eq!(
        store.products(Some(f.vendor), 10).await.unwrap(),
        vec![f.product.clone()]
    );
    assert!(
        store
            .products(Some(VendorId::new()), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .available(&[f.sku.clone(), Sku::parse("NO-SUCH").unwrap()])
            .await
            .unwrap(),
        vec![(f.sku.clone(), 8)],
        "available across locations; a SKU without stock rows is absent"
    );

    // Price lists: a USD price added, replaced, listed, then dropped.
    let usd = Currency::parse("USD").unwrap();
    let dollars = move |amount| Money {
        amount,
        currency: usd,
    };
    let sku = f.sku.clone();
    let set = unit(store, move |tx| {
        Box::pin(async move {
            let first = tx.set_price(&sku, dollars(2100)).await?;
            let again = tx.set_price(&sku, dollars(2200)).await?;
            let unknown = tx
                .set_price(&Sku::parse("NO-SUCH").unwrap(), dollars(1))
                .await?;
            Ok((first, again, unknown))
        })
    })
    .await
    .unwrap();
    assert_eq!(set, (true, true, false));
    let entry = PriceListEntry {
        sku: f.sku.clone(),
        vendor_id: f.vendor,
        price: dollars(2200),
    };
    assert_eq!(
        store
            .price_list(usd, Some(f.vendor), None, 10)
            .await
            .unwrap(),
        vec![entry.clone()]
    );
    assert!(
        store
            .price_list(usd, None, Some(&f.sku), 10)
            .await
            .unwrap()
            .is_empty(),
        "the page after the last SKU is empty"
    );
    assert!(
        store
            .price_list(usd, Some(VendorId::new()), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let sku = f.sku.clone();
    let dropped = unit(store, move |tx| {
        Box::pin(async move {
            Ok((
                tx.delete_price(&sku, usd).await?,
                tx.delete_price(&sku, usd).await?,
            ))
        })
    })
    .await
    .unwrap();
    assert_eq!(dropped, (true, false));
    assert!(
        store
            .price_list(usd, None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .price_list(eur(), Some(f.vendor), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // Low stock: threshold 2; 8 available is fine, 2 is low, no threshold is never low.
    assert!(store.low_stock(f.vendor).await.unwrap().is_empty());
    let (sku, main, back) = (f.sku.clone(), f.location, backroom.id);
    unit(store, move |tx| {
        Box::pin(async move {
            tx.set_on_hand(&sku, main, 1, at).await?;
            tx.set_on_hand(&sku, back, 1, at).await
        })
    })
    .await
    .unwrap();
    let low = store.low_stock(f.vendor).await.unwrap();
    assert_eq!(
        low.iter()
            .map(|l| (l.sku.clone(), l.threshold, l.available))
            .collect::<Vec<_>>(),
        vec![(f.sku.clone(), 2, 2)]
    );
    let sku = f.sku.clone();
    let cleared = unit(store, move |tx| {
        Box::pin(async move {
            Ok((
                tx.set_low_stock_threshold(&sku, None).await?,
                tx.set_low_stock_threshold(&Sku::parse("NO-SUCH").unwrap(), Some(1))
                    .await?,
            ))
        })
    })
    .await
    .unwrap();
    assert_eq!(cleared, (true, false));
    assert!(store.low_stock(f.vendor).await.unwrap().is_empty());

    // Adjustments, newest first, byte for byte.
    let adjustment = |delta, reason, minutes| StockAdjustment {
        id: AdjustmentId::new(),
        sku: f.sku.clone(),
        location_id: f.location,
        delta,
        reason,
        note: Some("Zählung «Lager» 📦".into()),
        actor: Actor::of(&f.customer),
        on_hand_after: 1 + delta,
        at: at + chrono::Duration::minutes(minutes),
    };
    let older = adjustment(4, AdjustmentReason::Receipt, 1);
    let newer = adjustment(-1, AdjustmentReason::Damage, 2);
    let (o, n) = (older.clone(), newer.clone());
    unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_adjustment(&o).await?;
            tx.insert_adjustment(&n).await
        })
    })
    .await
    .unwrap();
    assert_eq!(
        store.stock_adjustments(&f.sku, 10).await.unwrap(),
        vec![newer.clone(), older]
    );
    assert_eq!(
        store.stock_adjustments(&f.sku, 1).await.unwrap(),
        vec![newer]
    );
}
