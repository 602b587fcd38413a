//! The conformance suite: what every backend must do, run against SQLite and PostgreSQL alike.
//!
//! Each check takes a freshly migrated, empty store and panics on failure. The backends' own
//! test files turn each into a test of its own with [`conformance_tests!`](crate::conformance_tests)
//! (see `ordo-store-*/tests/conformance.rs`).
//! These test the database's side of the guarantees — constraints, atomicity, byte-exact
//! round trips, ordering — beneath the use cases that the API tests exercise.

use std::future::Future;
use std::pin::Pin;

use chrono::{SubsecRound, TimeZone, Utc};
use ordo_domain::address::{Address, AddressInput};
use ordo_domain::cart::{Cart, CartLine, CartStatus};
use ordo_domain::catalog::{Location, LocationCode, Name, Product, Sku, Variant, Vendor};
use ordo_domain::identity::{Actor, EmailAddress, Role, User};
use ordo_domain::ids::{
    CartId, CheckoutId, LocationId, OrderId, ProductId, PromotionId, UserId, VariantId, VendorId,
};
use ordo_domain::inventory::{Allocation, Quantity, StockDeduction};
use ordo_domain::money::{Currency, Money};
use ordo_domain::order::{LinePricing, Order, OrderLine, OrderPricing, OrderStatus};
use ordo_domain::pricing::{Discount, Percent, Promotion, TaxClass};

use crate::{OrderQuery, OrderScope, Store, StoreError, StoreTx, constraints, write};

/// Runs `work` as one unit and returns its result. Assertions stay outside the work: it may run
/// on another thread (SQLite's writer), where a panic would not reach the test.
async fn unit<T: Send + 'static>(
    store: &dyn Store,
    work: impl for<'a> FnOnce(
        &'a mut dyn StoreTx,
    ) -> Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>
    + Send
    + 'static,
) -> Result<T, StoreError> {
    write(store, work).await
}

pub type Check = for<'a> fn(&'a dyn Store) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// One `#[tokio::test]` per check, so the first failure does not hide the rest. A backend's
/// test file defines `async fn run(check: Check)` (a fresh store for the check, removed
/// afterwards) and calls `ordo_store::conformance_tests!(run);`.
#[macro_export]
macro_rules! conformance_tests {
    ($run:path) => {
        $crate::conformance_tests!(@tests $run;
            stock_can_never_be_reserved_beyond_on_hand,
            a_transaction_dropped_without_commit_leaves_nothing,
            orders_round_trip_byte_for_byte,
            an_event_sequence_number_is_used_once,
            unique_names_are_reported_by_constraint,
            order_pages_are_newest_first_and_scoped,
            concurrent_units_commit_or_roll_back_alone,
            a_limited_promotion_is_never_used_past_its_limit,
            variants_for_sale_carry_every_price_and_setting,
            carts_round_trip_and_refuse_stale_writes,
            jobs_are_claimed_once_retried_and_taken_over_after_their_lease,
            payments_keep_their_money_invariants_and_take_each_outcome_once,
        );
    };
    (@tests $run:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                $run(|s| Box::pin($crate::conformance::$name(s))).await;
            }
        )*
    };
}

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

/// 40 units race to use a promotion limited to 5 uses: exactly 5 succeed, and the book
/// reports 5 uses.
pub async fn a_limited_promotion_is_never_used_past_its_limit(store: &dyn Store) {
    let code = format!("LIMIT{}", &PromotionId::new().0.simple().to_string()[20..]).to_uppercase();
    let promo = Promotion {
        id: PromotionId::new(),
        code: Some(code.clone()),
        name: "five only".into(),
        discount: Discount::Percentage {
            percent: Percent::parse("10").unwrap(),
        },
        min_subtotal: None,
        vendor_id: None,
        usage_limit: Some(5),
        uses: 0,
        active: true,
        starts_at: None,
        ends_at: None,
    };
    let p = promo.clone();
    unit(store, move |tx| {
        Box::pin(async move { tx.insert_promotion(&p, Utc::now()).await })
    })
    .await
    .unwrap();
    let id = promo.id;
    let tries = (0..40).map(|_| {
        unit(store, move |tx| {
            Box::pin(async move { tx.use_promotion(id).await })
        })
    });
    let used = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    assert_eq!(used, 5);
    let book = store.pricing_book().await.unwrap();
    let stored = book.promotion_by_code(&code).unwrap();
    assert_eq!((stored.uses, stored.usage_limit), (5, Some(5)));
    assert_eq!(stored.discount, promo.discount);
}

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
        tax_class: TaxClass::standard(),
        stock_deduction: StockDeduction::AtOrder,
        variants: vec![Variant {
            id: VariantId::new(),
            sku: sku.clone(),
            title: Some(Name::parse("Red / M").unwrap()),
            prices: vec![Money {
                amount: 1999,
                currency: eur(),
            }],
            weight_grams: 250,
            low_stock_threshold: Some(2),
        }],
    };
    let (v, l, c, p, s) = (
        vendor.clone(),
        location.clone(),
        customer.clone(),
        product.clone(),
        sku.clone(),
    );
    unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_vendor(&v, at).await?;
            tx.insert_location(&l, at).await?;
            tx.insert_user(&c, "hash", at).await?;
            tx.insert_product(&p, at).await?;
            tx.set_on_hand(&s, l.id, 5, at).await
        })
    })
    .await
    .unwrap();
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
            pricing: LinePricing {
                discount: 400,
                tax: 571,
                tax_class: Some(TaxClass::standard()),
                fx: None,
                deduction: StockDeduction::AtOrder,
            },
        }],
        subtotal: Money {
            amount: 3998,
            currency: eur(),
        },
        total: Money {
            amount: 3998 - 400 + 490,
            currency: eur(),
        },
        pricing: OrderPricing {
            discount: 400,
            shipping: 490,
            tax: 0,
            tax_included: 571,
            ..Default::default()
        },
        checkout_id: Some(CheckoutId::new()),
        reserved_until: Some(created_at + chrono::Duration::minutes(15)),
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

pub async fn orders_round_trip_byte_for_byte(store: &dyn Store) {
    let f = fixture(store, "roundtrip").await;
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 15).unwrap()
        + chrono::Duration::microseconds(123_456);
    let order = order_for(&f, at);
    let event = Order::place(&order, Actor::of(&f.customer)).unwrap();
    let (o, e) = (order.clone(), event.clone());
    let read_back = unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_order(&o).await?;
            tx.append_event(&e).await?;
            tx.order_for_update(o.id).await
        })
    })
    .await
    .unwrap();
    assert_eq!(read_back.as_ref(), Some(&order), "read back in the unit");
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
    let event = Order::place(&order, Actor::of(&f.customer)).unwrap();
    let (o, e) = (order.clone(), event.clone());
    let err = unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_order(&o).await?;
            tx.append_event(&e).await?;
            tx.append_event(&e).await
        })
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::ORDER_EVENTS_PKEY),
        "{err:?}"
    );
    assert_eq!(store.order(order.id).await.unwrap(), None, "rolled back");
    let o = order.clone();
    let err = unit(store, move |tx| {
        Box::pin(async move { tx.update_order(&o, 1).await })
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::ORDERS_VERSION),
        "{err:?}"
    );
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

pub async fn order_pages_are_newest_first_and_scoped(store: &dyn Store) {
    let f = fixture(store, "pages").await;
    let other = fixture(store, "pages-other").await;
    let mut orders: Vec<Order> = (0..5).map(|_| order_for(&f, Utc::now())).collect();
    let mut ids: Vec<OrderId> = orders.iter().map(|o| o.id).collect();
    orders.push(order_for(&other, Utc::now()));
    unit(store, move |tx| {
        Box::pin(async move {
            for o in &orders {
                tx.insert_order(o).await?;
            }
            Ok(())
        })
    })
    .await
    .unwrap();
    ids.reverse();
    let page = |starting_after| OrderQuery {
        scope: OrderScope::Customer(f.customer.id),
        status: None,
        payment_status: None,
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
            payment_status: None,
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

/// Jobs: one per (kind, key); only due ones are claimed, each by one claim; a failed one comes
/// back at its retry time with its error kept; a running one whose lease ended is taken over;
/// a recurring one starts its attempts afresh; done ones are purged.
pub async fn jobs_are_claimed_once_retried_and_taken_over_after_their_lease(store: &dyn Store) {
    use crate::{Job, JobEnd, JobState, Purge};
    let t0 = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let secs = chrono::Duration::seconds;
    let job = |key: &str, run_at| Job {
        id: uuid::Uuid::now_v7(),
        kind: "test.kind".into(),
        key: key.into(),
        payload: serde_json::json!({ "n": key }),
        state: JobState::Queued,
        run_at,
        attempts: 0,
        last_error: None,
        created_at: t0,
    };
    let (a, b, later) = (job("a", t0), job("b", t0), job("later", t0 + secs(60)));
    let dup = job("a", t0);
    let added = unit(store, move |tx| {
        Box::pin(async move {
            let mut added = Vec::new();
            for j in [&a, &b, &later, &dup] {
                added.push(tx.enqueue_job(j, t0).await?);
            }
            Ok(added)
        })
    })
    .await
    .unwrap();
    assert_eq!(added, [true, true, true, false], "one job per kind and key");

    let claim = |now, limit| {
        unit(store, move |tx| {
            Box::pin(async move { tx.claim_jobs(now, now + secs(300), limit).await })
        })
    };
    let first = claim(t0, 10).await.unwrap();
    let mut keys: Vec<&str> = first.iter().map(|j| j.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["a", "b"], "only due jobs are claimed");
    assert!(
        first
            .iter()
            .all(|j| j.attempts == 1 && j.state == JobState::Running)
    );
    assert_eq!(first[0].payload["n"], first[0].key.as_str());
    assert!(
        claim(t0, 10).await.unwrap().is_empty(),
        "a claimed job is not claimed again"
    );

    let (a_id, b_id) = (
        first.iter().find(|j| j.key == "a").unwrap().id,
        first.iter().find(|j| j.key == "b").unwrap().id,
    );
    unit(store, move |tx| {
        Box::pin(async move {
            tx.finish_job(
                a_id,
                &JobEnd::Retry {
                    run_at: t0 + secs(30),
                    error: "boom".into(),
                },
                t0,
            )
            .await
        })
    })
    .await
    .unwrap();
    assert!(claim(t0 + secs(29), 10).await.unwrap().is_empty());
    let retried = claim(t0 + secs(30), 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(
        (
            retried[0].key.as_str(),
            retried[0].attempts,
            retried[0].last_error.as_deref()
        ),
        ("a", 2, Some("boom"))
    );
    // b's worker died: its lease (300 s from t0) ends, and it is taken over.
    let taken = claim(t0 + secs(301), 1).await.unwrap();
    assert_eq!((taken[0].key.as_str(), taken[0].attempts), ("b", 2));

    let later_id = claim(t0 + secs(900), 10)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.key == "later")
        .unwrap()
        .id;
    unit(store, move |tx| {
        Box::pin(async move {
            tx.finish_job(
                a_id,
                &JobEnd::Dead {
                    error: "gave up".into(),
                },
                t0 + secs(900),
            )
            .await?;
            tx.finish_job(b_id, &JobEnd::Done, t0 + secs(900)).await?;
            tx.finish_job(
                later_id,
                &JobEnd::Again {
                    run_at: t0 + secs(1000),
                },
                t0 + secs(900),
            )
            .await
        })
    })
    .await
    .unwrap();
    let dead = store.jobs(Some(JobState::Dead), None, 10).await.unwrap();
    assert_eq!(
        (dead.len(), dead[0].last_error.as_deref()),
        (1, Some("gave up"))
    );
    let again = store
        .jobs(Some(JobState::Queued), Some("test.kind"), 10)
        .await
        .unwrap();
    assert_eq!(
        (again.len(), again[0].attempts),
        (1, 0),
        "a recurring job starts afresh"
    );
    assert_eq!(again[0].run_at, t0 + secs(1000));
    assert!(
        claim(t0 + secs(5000), 10).await.unwrap().len() == 1,
        "dead and done stay put"
    );

    let purged = unit(store, move |tx| {
        Box::pin(async move { tx.purge(Purge::Jobs, t0 + secs(901), 100).await })
    })
    .await
    .unwrap();
    assert_eq!(purged, 1, "only the done job is purged");
    assert!(
        store
            .jobs(Some(JobState::Done), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The database's side of the payment invariants: amounts that would capture more than was
/// authorized or refund more than was captured are refused by CHECK, a stale write by version;
/// a request's outcome, a provider reference and a webhook event are each stored once; an
/// order has one payment.
pub async fn payments_keep_their_money_invariants_and_take_each_outcome_once(store: &dyn Store) {
    use ordo_domain::payment::{Amounts, CapturePolicy, EntryKind, PaymentState};

    use crate::{Payment, PaymentAllocation, PaymentEntry};
    let f = fixture(store, "pay").await;
    let order = order_for(&f, Utc::now());
    let at = Utc::now().trunc_subsecs(6);
    let payment = Payment {
        id: uuid::Uuid::now_v7(),
        checkout_id: order.checkout_id,
        customer_id: f.customer.id,
        provider: "sandbox".into(),
        provider_ref: Some("sbx_pay_1".into()),
        currency: eur(),
        amount: order.total.amount,
        capture_policy: CapturePolicy::Manual,
        state: PaymentState::Authorized,
        amounts: Amounts {
            authorized: order.total.amount,
            ..Amounts::default()
        },
        decline_code: None,
        capture_before: Some(at + chrono::Duration::days(7)),
        client_secret: Some("sbx_pay_1_secret".into()),
        created_at: at,
        updated_at: at,
        version: 1,
    };
    let share = PaymentAllocation {
        order_id: order.id,
        vendor_id: f.vendor,
        amount: order.total.amount,
        commission_bp: 1_250,
    };
    let (o, p) = (order.clone(), payment.clone());
    unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_order(&o).await?;
            tx.insert_payment(&p, &[share]).await
        })
    })
    .await
    .unwrap();
    assert_eq!(
        store.order_payment(order.id).await.unwrap().as_ref(),
        Some(&payment)
    );
    assert_eq!(
        store.payment_allocations(payment.id).await.unwrap(),
        vec![share]
    );

    // A second payment for the same order is refused.
    let mut twin = payment.clone();
    twin.id = uuid::Uuid::now_v7();
    twin.provider_ref = Some("sbx_pay_2".into());
    let err = unit(store, move |tx| {
        Box::pin(async move { tx.insert_payment(&twin, &[share]).await })
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::PAYMENT_ALLOCATIONS_ORDER_KEY),
        "{err:?}"
    );

    // Amounts that break an invariant never reach the table, whatever the code asks.
    let total = order.total.amount;
    for (amounts, constraint) in [
        (
            Amounts {
                authorized: total,
                captured: total,
                capturing: 1,
                ..Amounts::default()
            },
            constraints::PAYMENTS_CAPTURE_WITHIN_AUTHORIZED,
        ),
        (
            Amounts {
                authorized: total,
                captured: 10,
                refunded: 5,
                refunding: 6,
                ..Amounts::default()
            },
            constraints::PAYMENTS_REFUND_WITHIN_CAPTURED,
        ),
        (
            Amounts {
                authorized: total,
                voiding: -1,
                ..Amounts::default()
            },
            constraints::PAYMENTS_AMOUNTS_NOT_NEGATIVE,
        ),
    ] {
        let mut bad = payment.clone();
        bad.amounts = amounts;
        bad.version = 2;
        let err = unit(store, move |tx| {
            Box::pin(async move { tx.update_payment(&bad, 1).await })
        })
        .await
        .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(c) if c == constraint),
            "{amounts:?}: {err:?}"
        );
    }
    let mut captured = payment.clone();
    captured.amounts.captured = total;
    captured.state = PaymentState::Captured;
    captured.version = 2;
    let ok = captured.clone();
    unit(store, move |tx| {
        Box::pin(async move { tx.update_payment(&ok, 1).await })
    })
    .await
    .unwrap();
    let stale = captured.clone();
    let err = unit(store, move |tx| {
        Box::pin(async move { tx.update_payment(&stale, 1).await })
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::PAYMENTS_VERSION),
        "{err:?}"
    );
    assert_eq!(store.payment(payment.id).await.unwrap(), Some(captured));

    // Each outcome is stored once; so is each provider reference and each webhook event.
    let entry = |kind, amount, request_id, provider_ref: Option<&str>| PaymentEntry {
        id: uuid::Uuid::now_v7(),
        payment_id: payment.id,
        order_id: Some(order.id),
        kind,
        amount,
        request_id,
        provider_ref: provider_ref.map(str::to_owned),
        actor: Some(Actor::system()),
        reason: None,
        reference: None,
        detail: None,
        created_at: at,
    };
    let request = entry(EntryKind::RefundRequested, 500, None, None);
    let first = entry(
        EntryKind::RefundSucceeded,
        500,
        Some(request.id),
        Some("re_1"),
    );
    let repeat = entry(
        EntryKind::RefundSucceeded,
        500,
        Some(request.id),
        Some("re_1b"),
    );
    let same_ref = entry(EntryKind::CaptureSucceeded, total, None, Some("ch_1"));
    let same_ref_again = entry(EntryKind::CaptureSucceeded, total, None, Some("ch_1"));
    let rows = [
        request.clone(),
        first.clone(),
        repeat,
        same_ref.clone(),
        same_ref_again,
    ];
    let taken = unit(store, move |tx| {
        Box::pin(async move {
            let mut taken = Vec::new();
            for r in &rows {
                taken.push(tx.append_payment_entry(r).await?);
            }
            taken.push(tx.take_payment_event("stripe", "evt_1", Utc::now()).await?);
            taken.push(tx.take_payment_event("stripe", "evt_1", Utc::now()).await?);
            taken.push(
                tx.take_payment_event("sandbox", "evt_1", Utc::now())
                    .await?,
            );
            Ok(taken)
        })
    })
    .await
    .unwrap();
    assert_eq!(taken, [true, true, false, true, false, true, false, true]);
    let ledger = store.payment_entries(payment.id).await.unwrap();
    assert_eq!(ledger, vec![request, first, same_ref]);
    // Inside a transaction: the order's payment (locked) and the same ledger.
    let (order_id, payment_id) = (order.id, payment.id);
    let (locked, in_tx) = unit(store, move |tx| {
        Box::pin(async move {
            Ok((
                tx.order_payment_for_update(order_id).await?,
                tx.payment_ledger(payment_id).await?,
            ))
        })
    })
    .await
    .unwrap();
    assert_eq!(locked.map(|p| p.id), Some(payment.id));
    assert_eq!(in_tx, ledger);
}
