//! Conformance of carts.

use chrono::{TimeZone, Utc};
use ordo_domain::cart::{Cart, CartLine, CartStatus};
use ordo_domain::ids::CartId;
use ordo_domain::inventory::Quantity;

use super::{eur, fixture, order_for, unit};
use crate::{Store, StoreError, constraints};

/// A cart reads back as written (address byte for byte), by id and by its guest token; a write
/// on a stale version is refused by name; a customer has at most one open cart.
pub async fn carts_round_trip_and_refuse_stale_writes(store: &dyn Store) {
    let f = fixture(store, "carts").await;
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 15).unwrap();
    let address = order_for(&f, at).shipping_address;
    let cart = Cart {
        id: CartId::new(),
        customer_id: None,
        status: CartStatus::Open,
        currency: eur(),
        promo_code: Some("WELCOME10".into()),
        shipping_address: Some(address),
        lines: vec![CartLine {
            sku: f.sku.clone(),
            quantity: Quantity::parse(3).unwrap(),
        }],
        checkout_id: None,
        created_at: at,
        updated_at: at,
        version: 1,
    };
    let c = cart.clone();
    unit(store, move |tx| {
        Box::pin(async move { tx.insert_cart(&c, Some(b"token-hash".as_slice())).await })
    })
    .await
    .unwrap();
    assert_eq!(store.cart(cart.id).await.unwrap().as_ref(), Some(&cart));
    assert_eq!(
        store.cart_by_token(b"token-hash").await.unwrap().as_ref(),
        Some(&cart)
    );
    // The customer takes it over: the token no longer opens it.
    let mut mine = cart.clone();
    mine.customer_id = Some(f.customer.id);
    mine.version = 2;
    let m = mine.clone();
    unit(store, move |tx| {
        Box::pin(async move { tx.update_cart(&m, 1).await })
    })
    .await
    .unwrap();
    assert_eq!(store.cart(cart.id).await.unwrap().as_ref(), Some(&mine));
    assert_eq!(store.cart_by_token(b"token-hash").await.unwrap(), None);
    let stale = mine.clone();
    let err = unit(store, move |tx| {
        Box::pin(async move { tx.update_cart(&stale, 1).await })
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::CARTS_VERSION),
        "{err:?}"
    );
    let second = Cart {
        id: CartId::new(),
        customer_id: Some(f.customer.id),
        ..cart.clone()
    };
    let err = unit(store, move |tx| {
        Box::pin(async move { tx.insert_cart(&second, None).await })
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::CARTS_OPEN_CUSTOMER_KEY),
        "{err:?}"
    );
    let customer = f.customer.id;
    let open = unit(store, move |tx| {
        Box::pin(async move { tx.open_cart_for_update(customer).await })
    })
    .await
    .unwrap();
    assert_eq!(open.map(|c| c.id), Some(cart.id));
}

/// A cart is loaded for change by id, and given a guest token later it is found by that token.
pub async fn a_cart_is_locked_by_id_and_found_by_a_later_token(store: &dyn Store) {
    let at = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let cart = Cart {
        id: CartId::new(),
        customer_id: None,
        status: CartStatus::Open,
        currency: eur(),
        promo_code: None,
        shipping_address: None,
        lines: vec![],
        checkout_id: None,
        created_at: at,
        updated_at: at,
        version: 1,
    };
    let c = cart.clone();
    let (loaded, absent) = unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_cart(&c, None).await?;
            tx.set_cart_token(c.id, b"later-token").await?;
            Ok((
                tx.cart_for_update(c.id).await?,
                tx.cart_for_update(CartId::new()).await?,
            ))
        })
    })
    .await
    .unwrap();
    assert_eq!(loaded, Some(cart.clone()));
    assert!(absent.is_none());
    assert_eq!(
        store.cart_by_token(b"later-token").await.unwrap(),
        Some(cart)
    );
}
