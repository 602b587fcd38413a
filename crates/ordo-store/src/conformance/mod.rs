//! The conformance suite: what every backend must do, run against SQLite and PostgreSQL alike.
//!
//! Each check takes a freshly migrated, empty store and panics on failure. The backends' own
//! test files turn each into a test of its own with [`conformance_tests!`](crate::conformance_tests)
//! (see `ordo-store-*/tests/conformance.rs`).
//! These test the database's side of the guarantees — constraints, atomicity, byte-exact
//! round trips, ordering — beneath the use cases that the API tests exercise.

use std::future::Future;
use std::pin::Pin;

use chrono::Utc;
use ordo_domain::address::{Address, AddressInput};
use ordo_domain::catalog::{Location, LocationCode, Name, Product, Sku, Variant, Vendor};
use ordo_domain::identity::{Actor, EmailAddress, Role, User};
use ordo_domain::ids::{CheckoutId, LocationId, OrderId, ProductId, UserId, VariantId, VendorId};
use ordo_domain::inventory::{Allocation, StockDeduction};
use ordo_domain::money::{Currency, Money};
use ordo_domain::order::{
    LinePricing, NewOrder, Order, OrderChange, OrderEvent, OrderLine, OrderPricing,
};
use ordo_domain::pricing::TaxClass;

use crate::{Store, StoreError, StoreTx, write};

mod carts;
mod catalog;
mod exceptions;
mod idempotency;
mod identity;
mod jobs;
mod notifications;
mod orders;
mod outbox;
mod payments;
mod pricing;
mod transactions;
mod webhooks;

pub use carts::*;
pub use catalog::*;
pub use exceptions::*;
pub use idempotency::*;
pub use identity::*;
pub use jobs::*;
pub use notifications::*;
pub use orders::*;
pub use outbox::*;
pub use payments::*;
pub use pricing::*;
pub use transactions::*;
pub use webhooks::*;

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
            an_order_moves_only_with_its_events_in_sequence,
            unique_names_are_reported_by_constraint,
            order_pages_are_newest_first_and_scoped,
            concurrent_units_commit_or_roll_back_alone,
            a_limited_promotion_is_never_used_past_its_limit,
            variants_for_sale_carry_every_price_and_setting,
            carts_round_trip_and_refuse_stale_writes,
            jobs_are_claimed_once_retried_and_taken_over_after_their_lease,
            payments_keep_their_money_invariants_and_take_each_outcome_once,
            users_are_found_listed_changed_and_disabled,
            sessions_step_ups_and_second_factors_hold,
            guest_accounts_are_claimed_once,
            the_catalog_prices_and_stock_read_back_as_written,
            orders_are_found_by_checkout_link_note_name_and_deadline,
            webhook_endpoints_and_deliveries_round_trip,
            notification_preferences_and_messages_round_trip,
            exceptions_are_raised_once_and_filtered,
            an_idempotency_key_is_claimed_once_per_scope,
            jobs_are_woken_hurried_retried_and_counted,
            outbox_messages_are_sequenced_scoped_and_followed,
            rules_replace_by_key_and_promotions_keep_their_uses,
            a_cart_is_locked_by_id_and_found_by_a_later_token,
            money_rows_shares_payouts_and_commissions_add_up,
            a_healthy_store_is_ready_and_has_not_failed,
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

/// An order placed by the fixture's customer (not yet stored).
fn order_for(f: &Fixture, created_at: chrono::DateTime<Utc>) -> Order {
    Order::place(new_order_for(f, created_at), Actor::of(&f.customer))
        .expect("customers place orders")
        .0
}

/// The event that placed `order` (as [`Order::place`] makes it), for an order whose fields a
/// check adjusted before storing it.
fn placed(order: &Order) -> OrderEvent {
    OrderEvent {
        order_id: order.id,
        seq: 1,
        event_type: "order.placed".into(),
        actor: Actor {
            user_id: Some(order.customer_id),
            role: Role::Customer,
            vendor_id: None,
        },
        at: order.created_at,
        change: OrderChange::Placed {
            order: Box::new(order.clone()),
        },
    }
}

fn new_order_for(f: &Fixture, created_at: chrono::DateTime<Utc>) -> NewOrder {
    let price = Money {
        amount: 1999,
        currency: eur(),
    };
    NewOrder {
        id: OrderId::new(),
        customer_id: f.customer.id,
        vendor_id: f.vendor,
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
        created_at,
    }
}
