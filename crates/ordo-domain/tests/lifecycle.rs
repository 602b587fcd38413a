//! Properties of the order lifecycle: random action sequences driven through the one table, and
//! the generated diagram in docs/ kept in step with it.

use chrono::{TimeZone, Utc};
use ordo_domain::address::{Address, AddressInput};
use ordo_domain::catalog::Sku;
use ordo_domain::identity::{Actor, Role};
use ordo_domain::ids::{OrderId, ProductId, UserId, VariantId, VendorId};
use ordo_domain::money::{Currency, Money};
use ordo_domain::order::{
    Action, ActionInput, NewOrder, Order, OrderLine, OrderStatus, decide, mermaid,
};
use proptest::prelude::*;

fn fresh_order() -> NewOrder {
    let eur = Currency::parse("EUR").unwrap();
    let price = Money {
        amount: 1250,
        currency: eur,
    };
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    NewOrder {
        id: OrderId::new(),
        customer_id: UserId::new(),
        vendor_id: VendorId::new(),
        currency: eur,
        lines: vec![OrderLine {
            sku: Sku::parse("TEE-1").unwrap(),
            product_id: ProductId::new(),
            variant_id: VariantId::new(),
            title: "Tee".into(),
            quantity: 2,
            unit_price: price,
            line_total: Money {
                amount: 2500,
                currency: eur,
            },
            allocations: vec![],
            pricing: Default::default(),
        }],
        subtotal: Money {
            amount: 2500,
            currency: eur,
        },
        total: Money {
            amount: 2500,
            currency: eur,
        },
        pricing: Default::default(),
        checkout_id: None,
        reserved_until: Some(at),
        shipping_address: Address::parse(AddressInput {
            name: "Ada 🚀".into(),
            line1: "1 Loop".into(),
            city: "Paris".into(),
            postal_code: "75001".into(),
            country: "FR".into(),
            ..Default::default()
        })
        .unwrap(),
        created_at: at,
    }
}

fn any_role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL_USER_ROLES.to_vec())
}

fn any_action() -> impl Strategy<Value = Action> {
    prop::sample::select(Action::ALL.to_vec())
}

proptest! {
    /// Whatever is attempted, in whatever order, by whomever: accepted steps follow the table,
    /// refused ones change nothing, and replaying the log rebuilds exactly the same order.
    #[test]
    fn replaying_the_log_rebuilds_the_order(steps in prop::collection::vec((any_action(), any_role(), any::<bool>()), 0..40)) {
        let new = fresh_order();
        let customer = Actor { user_id: Some(new.customer_id), role: Role::Customer, vendor_id: None };
        let (mut order, placed) = Order::place(new, customer).unwrap();
        prop_assert_eq!(order.status(), OrderStatus::PendingPayment);
        let mut log = vec![placed];
        let mut clock = order.created_at;
        for (action, role, with_reason) in steps {
            let before = order.clone();
            clock += chrono::Duration::seconds(1);
            let actor = Actor { user_id: Some(UserId::new()), role, vendor_id: None };
            let input = ActionInput {
                allocated: Vec::new(),
                reason: with_reason.then(|| "changed my mind ✋".to_string()),
                carrier_id: (action == Action::Ship).then(UserId::new),
            };
            let planned = decide(order.status(), action, role);
            match order.transition(action, actor, input, clock) {
                Ok((t, event)) => {
                    // The one way to move is the row `decide` names, and nothing else.
                    prop_assert_eq!(Some(t), planned.ok());
                    prop_assert_eq!(t.from(), Some(before.status()));
                    prop_assert_eq!(order.status(), t.to());
                    prop_assert_eq!(order.version, before.version + 1);
                    log.push(event);
                }
                Err(_) => {
                    prop_assert!(planned.is_err());
                    prop_assert_eq!(&order, &before);
                }
            }
        }
        prop_assert_eq!(Order::replay(&log).unwrap(), order.clone());
        let seqs: Vec<i64> = log.iter().map(|e| e.seq).collect();
        prop_assert_eq!(seqs, (1..=order.version).collect::<Vec<_>>());
        // The log survives the trip through JSON, which is how both stores keep it.
        let json = serde_json::to_string(&log).unwrap();
        let back: Vec<ordo_domain::order::OrderEvent> = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(Order::replay(&back).unwrap(), order);
    }
}

#[test]
fn terminal_states_accept_nothing() {
    for status in [OrderStatus::Completed, OrderStatus::Cancelled] {
        for action in Action::ALL {
            assert!(decide(status, *action, Role::Admin).is_err());
        }
    }
}

/// A log that claims a step the table does not have, or a step by a role the row does not
/// list, does not replay.
#[test]
fn a_log_with_a_step_outside_the_table_does_not_replay() {
    let new = fresh_order();
    let customer = Actor {
        user_id: Some(new.customer_id),
        role: Role::Customer,
        vendor_id: None,
    };
    let (mut order, placed) = Order::place(new, customer).unwrap();
    let admin = Actor {
        user_id: Some(UserId::new()),
        role: Role::Admin,
        vendor_id: None,
    };
    let (_, paid) = order
        .transition(Action::Pay, admin, ActionInput::default(), order.created_at)
        .unwrap();
    assert!(Order::replay(&[placed.clone(), paid.clone()]).is_ok());
    // The same step, written as if the customer had taken it: the table lets only admins pay.
    let mut forged = paid.clone();
    forged.actor = customer;
    assert_eq!(
        Order::replay(&[placed.clone(), forged]),
        Err(ordo_domain::order::ReplayError::NotInTable(2))
    );
    // A jump straight from pending payment to shipped.
    let mut jump = paid;
    if let ordo_domain::order::OrderChange::Transitioned { to, .. } = &mut jump.change {
        *to = OrderStatus::Shipped;
    }
    assert_eq!(
        Order::replay(&[placed.clone(), jump]),
        Err(ordo_domain::order::ReplayError::NotInTable(2))
    );
    // A placement by someone who may not place orders.
    let mut by_vendor = placed;
    by_vendor.actor = Actor {
        user_id: Some(UserId::new()),
        role: Role::Vendor,
        vendor_id: None,
    };
    assert_eq!(
        Order::replay(&[by_vendor]),
        Err(ordo_domain::order::ReplayError::NotInTable(1))
    );
}

/// docs/order-lifecycle.md embeds the diagram generated from the table. Run with
/// `ORDO_BLESS=1` to rewrite it after changing the table.
#[test]
fn the_lifecycle_diagram_in_docs_matches_the_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/order-lifecycle.md");
    let diagram = mermaid();
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    let begin = "```mermaid\n";
    let current = doc
        .split_once(begin)
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(d, _)| d);
    if current == Some(diagram.as_str()) {
        return;
    }
    if std::env::var_os("ORDO_BLESS").is_some() {
        let (head, tail) = match doc.split_once(begin) {
            Some((head, rest)) => (
                head.to_string(),
                rest.split_once("```")
                    .map(|(_, t)| t.to_string())
                    .unwrap_or_default(),
            ),
            None => ("# Order lifecycle\n\n".to_string(), "\n".to_string()),
        };
        std::fs::write(path, format!("{head}{begin}{diagram}```{tail}")).unwrap();
        return;
    }
    panic!(
        "docs/order-lifecycle.md is stale: run `ORDO_BLESS=1 cargo nextest run -p ordo-domain` and commit it"
    );
}
