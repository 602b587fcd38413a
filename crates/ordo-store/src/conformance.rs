//! The conformance suite: what every backend must do, run against SQLite and PostgreSQL alike.
//!
//! Each check takes a freshly migrated, empty store and panics on failure. The backends' own
//! test files call every function listed in [`ALL`] (see `ordo-store-*/tests/conformance.rs`).
//! These test the database's side of the guarantees — constraints, atomicity, byte-exact
//! round trips, ordering — beneath the use cases that the API tests exercise.

use std::future::Future;
use std::pin::Pin;

use chrono::{TimeZone, Utc};
use ordo_domain::address::{Address, AddressInput};
use ordo_domain::catalog::{Location, LocationCode, Name, Product, Sku, Variant, Vendor};
use ordo_domain::identity::{Actor, EmailAddress, Role, User};
use ordo_domain::ids::{LocationId, OrderId, ProductId, UserId, VariantId, VendorId};
use ordo_domain::inventory::Allocation;
use ordo_domain::money::{Currency, Money};
use ordo_domain::order::{Order, OrderLine, OrderStatus};

use crate::{OrderQuery, OrderScope, Store, StoreError, constraints};

pub type Check = for<'a> fn(&'a dyn Store) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Every check, by name.
pub const ALL: &[(&str, Check)] = &[
    ("stock_can_never_be_reserved_beyond_on_hand", |s| {
        Box::pin(stock_can_never_be_reserved_beyond_on_hand(s))
    }),
    ("a_transaction_dropped_without_commit_leaves_nothing", |s| {
        Box::pin(a_transaction_dropped_without_commit_leaves_nothing(s))
    }),
    ("orders_round_trip_byte_for_byte", |s| {
        Box::pin(orders_round_trip_byte_for_byte(s))
    }),
    ("an_event_sequence_number_is_used_once", |s| {
        Box::pin(an_event_sequence_number_is_used_once(s))
    }),
    ("unique_names_are_reported_by_constraint", |s| {
        Box::pin(unique_names_are_reported_by_constraint(s))
    }),
    ("order_pages_are_newest_first_and_scoped", |s| {
        Box::pin(order_pages_are_newest_first_and_scoped(s))
    }),
];

struct Fixture {
    vendor: VendorId,
    location: LocationId,
    customer: User,
    sku: Sku,
    product: Product,
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

async fn fixture(store: &dyn Store, tag: &str) -> Fixture {
    let at = Utc::now();
    let vendor = Vendor {
        id: VendorId::new(),
        name: Name::parse(&format!("Vendor {tag}")).unwrap(),
    };
    let location = Location {
        id: LocationId::new(),
        vendor_id: vendor.id,
        code: LocationCode::default_code(),
        name: Name::parse("Main").unwrap(),
        priority: 0,
    };
    let customer = User {
        id: UserId::new(),
        email: EmailAddress::parse(&format!("c-{tag}@example.com")).unwrap(),
        role: Role::Customer,
        vendor_id: None,
    };
    let sku = Sku::parse(&format!("SKU-{tag}")).unwrap();
    let product = Product {
        id: ProductId::new(),
        vendor_id: vendor.id,
        title: Name::parse("Tee 👕").unwrap(),
        variants: vec![Variant {
            id: VariantId::new(),
            sku: sku.clone(),
            title: Some(Name::parse("Red / M").unwrap()),
            prices: vec![Money {
                amount: 1999,
                currency: eur(),
            }],
        }],
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_vendor(&vendor, at).await.unwrap();
    tx.insert_location(&location, at).await.unwrap();
    tx.insert_user(&customer, "hash", at).await.unwrap();
    tx.insert_product(&product, at).await.unwrap();
    tx.set_on_hand(&sku, location.id, 5, at).await.unwrap();
    tx.commit().await.unwrap();
    Fixture {
        vendor: vendor.id,
        location: location.id,
        customer,
        sku,
        product,
    }
}

fn order_for(f: &Fixture, created_at: chrono::DateTime<Utc>) -> Order {
    let price = Money {
        amount: 1999,
        currency: eur(),
    };
    Order {
        id: OrderId::new(),
        customer_id: f.customer.id,
        vendor_id: f.vendor,
        status: OrderStatus::PendingPayment,
        currency: eur(),
        lines: vec![OrderLine {
            sku: f.sku.clone(),
            product_id: f.product.id,
            variant_id: f.product.variants[0].id,
            title: "Tee 👕 — Red / M".into(),
            quantity: 2,
            unit_price: price,
            line_total: Money {
                amount: 3998,
                currency: eur(),
            },
            allocations: vec![Allocation {
                location_id: f.location,
                quantity: 2,
            }],
        }],
        subtotal: Money {
            amount: 3998,
            currency: eur(),
        },
        total: Money {
            amount: 3998,
            currency: eur(),
        },
        shipping_address: Address::parse(AddressInput {
            name: "Zoë 🏠 Ünal".into(),
            line1: "東京都港区 1-2-3 🏢".into(),
            line2: Some("Étage 2, porte «B»".into()),
            city: "Zürich".into(),
            region: Some("ZH".into()),
            postal_code: "8001".into(),
            country: "CH".into(),
        })
        .unwrap(),
        carrier_id: None,
        cancel_reason: None,
        created_at,
        updated_at: created_at,
        version: 1,
    }
}

pub async fn stock_can_never_be_reserved_beyond_on_hand(store: &dyn Store) {
    let f = fixture(store, "stock").await;
    let mut tx = store.begin().await.unwrap();
    tx.change_stock(&f.sku, f.location, 0, 5).await.unwrap();
    let err = tx.change_stock(&f.sku, f.location, 0, 1).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::STOCK_RESERVED_WITHIN_ON_HAND),
        "{err:?}"
    );
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    let err = tx
        .change_stock(&f.sku, f.location, 0, -1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "negative reservation accepted: {err:?}"
    );
    drop(tx);
    let stock = store.stock(&f.sku).await.unwrap().unwrap();
    assert_eq!(
        (
            stock.locations[0].level.on_hand,
            stock.locations[0].level.reserved
        ),
        (5, 0)
    );
}

pub async fn a_transaction_dropped_without_commit_leaves_nothing(store: &dyn Store) {
    let vendor = Vendor {
        id: VendorId::new(),
        name: Name::parse("Ghost").unwrap(),
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_vendor(&vendor, Utc::now()).await.unwrap();
    drop(tx);
    assert_eq!(store.vendor(vendor.id).await.unwrap(), None);
    // And the writer is free again afterwards.
    let mut tx = store.begin().await.unwrap();
    tx.insert_vendor(&vendor, Utc::now()).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.vendor(vendor.id).await.unwrap().is_some());
}

pub async fn orders_round_trip_byte_for_byte(store: &dyn Store) {
    let f = fixture(store, "roundtrip").await;
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 15).unwrap()
        + chrono::Duration::microseconds(123_456);
    let order = order_for(&f, at);
    let event = order.placed_event(Actor::of(&f.customer));
    let mut tx = store.begin().await.unwrap();
    tx.insert_order(&order).await.unwrap();
    tx.append_event(&event).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.order(order.id).await.unwrap().as_ref(), Some(&order));
    assert_eq!(store.order_events(order.id).await.unwrap(), vec![event]);
    assert_eq!(
        store.product(f.product.id).await.unwrap().as_ref(),
        Some(&f.product)
    );
}

pub async fn an_event_sequence_number_is_used_once(store: &dyn Store) {
    let f = fixture(store, "events").await;
    let order = order_for(&f, Utc::now());
    let event = order.placed_event(Actor::of(&f.customer));
    let mut tx = store.begin().await.unwrap();
    tx.insert_order(&order).await.unwrap();
    tx.append_event(&event).await.unwrap();
    let err = tx.append_event(&event).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::ORDER_EVENTS_PKEY),
        "{err:?}"
    );
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    let err = tx.update_order(&order, 1).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::ORDERS_VERSION),
        "{err:?}"
    );
}

pub async fn unique_names_are_reported_by_constraint(store: &dyn Store) {
    let f = fixture(store, "unique").await;
    let mut tx = store.begin().await.unwrap();
    let err = tx
        .insert_user(
            &User {
                id: UserId::new(),
                ..f.customer.clone()
            },
            "h",
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::USERS_EMAIL_KEY),
        "{err:?}"
    );
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    let dup = Product {
        id: ProductId::new(),
        variants: vec![Variant {
            id: VariantId::new(),
            ..f.product.variants[0].clone()
        }],
        ..f.product.clone()
    };
    let err = tx.insert_product(&dup, Utc::now()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::VARIANTS_SKU_KEY),
        "{err:?}"
    );
}

pub async fn order_pages_are_newest_first_and_scoped(store: &dyn Store) {
    let f = fixture(store, "pages").await;
    let other = fixture(store, "pages-other").await;
    let mut ids = Vec::new();
    let mut tx = store.begin().await.unwrap();
    for _ in 0..5 {
        let o = order_for(&f, Utc::now());
        tx.insert_order(&o).await.unwrap();
        ids.push(o.id);
    }
    tx.insert_order(&order_for(&other, Utc::now()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    ids.reverse();
    let page = |starting_after| OrderQuery {
        scope: OrderScope::Customer(f.customer.id),
        status: None,
        starting_after,
        limit: 2,
    };
    let first: Vec<_> = store
        .orders(&page(None))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(first, ids[..2]);
    let second: Vec<_> = store
        .orders(&page(Some(ids[1])))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(second, ids[2..4]);
    let all = store
        .orders(&OrderQuery {
            scope: OrderScope::All,
            status: Some(OrderStatus::PendingPayment),
            starting_after: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
    assert!(
        all.iter().all(|o| o.lines.len() == 1),
        "lines are loaded for every order in a page"
    );
}
