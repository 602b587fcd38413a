//! Conformance of orders and their events.

use chrono::{TimeZone, Utc};
use ordo_domain::identity::Actor;
use ordo_domain::ids::{CheckoutId, OrderId, VendorId};
use ordo_domain::inventory::Allocation;
use ordo_domain::order::{Order, OrderStatus};

use super::{fixture, order_for, placed, unit};
use crate::{OrderQuery, OrderScope, Store, StoreError, constraints};

pub async fn orders_round_trip_byte_for_byte(store: &dyn Store) {
    let f = fixture(store, "roundtrip").await;
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 15).unwrap()
        + chrono::Duration::microseconds(123_456);
    let order = order_for(&f, at);
    let event = placed(&order);
    let (o, e) = (order.clone(), event.clone());
    let read_back = unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_order(&o, &e).await?;
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

/// An order's status is written only with the events that moved it, numbered on from its
/// version: a second writer of the same step (the order moved meanwhile) is refused by version
/// with nothing kept; a write without an event, with a gap, or not ending at the order's
/// version, and an insert without its placement, are refused whole.
pub async fn an_order_moves_only_with_its_events_in_sequence(store: &dyn Store) {
    use ordo_domain::order::{Action, ActionInput};
    let f = fixture(store, "events").await;
    let at = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let order = order_for(&f, at);
    let event = placed(&order);
    let cancel = |o: &Order| {
        let mut o = o.clone();
        let input = ActionInput {
            reason: Some("changed my mind".into()),
            ..ActionInput::default()
        };
        let (_, e) = o
            .transition(Action::Cancel, Actor::of(&f.customer), input, at)
            .unwrap();
        (o, e)
    };
    let (cancelled, step) = cancel(&order);
    let (o, e, c, s) = (
        order.clone(),
        event.clone(),
        cancelled.clone(),
        step.clone(),
    );
    unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_order(&o, &e).await?;
            tx.record_order_changes(&c, &[s]).await
        })
    })
    .await
    .unwrap();
    assert_eq!(
        store.order(order.id).await.unwrap(),
        Some(cancelled.clone())
    );
    assert_eq!(
        store.order_events(order.id).await.unwrap(),
        vec![event.clone(), step.clone()]
    );

    // The same step again, as a second writer that read the order before it moved.
    let (c, s) = (cancelled.clone(), step.clone());
    let err = unit(store, move |tx| {
        Box::pin(async move { tx.record_order_changes(&c, &[s]).await })
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::ORDERS_VERSION),
        "{err:?}"
    );

    // Writes that do not say how the order got where it is are refused whole.
    let other = order_for(&f, at);
    let (other_cancelled, other_step) = cancel(&other);
    let mut ahead = other_cancelled.clone();
    ahead.version = 5;
    let tries: Vec<(&str, Order, Vec<_>)> = vec![
        ("no event", other_cancelled.clone(), vec![]),
        (
            "a gap",
            other_cancelled.clone(),
            vec![ordo_domain::order::OrderEvent {
                seq: 3,
                ..other_step.clone()
            }],
        ),
        (
            "the version is not the last event's",
            ahead,
            vec![other_step.clone()],
        ),
        (
            "another order's event",
            other_cancelled.clone(),
            vec![step.clone()],
        ),
    ];
    for (what, changed, events) in tries {
        let (o, e) = (other.clone(), placed(&other));
        let err = unit(store, move |tx| {
            Box::pin(async move {
                tx.insert_order(&o, &e).await?;
                tx.record_order_changes(&changed, &events).await
            })
        })
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::Other(_)), "{what}: {err:?}");
        assert_eq!(
            store.order(other.id).await.unwrap(),
            None,
            "{what}: nothing kept"
        );
    }
    let mut adjusted = other.clone();
    adjusted.reserved_until = None;
    let e = placed(&other);
    let err = unit(store, move |tx| {
        Box::pin(async move { tx.insert_order(&adjusted, &e).await })
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Other(_)),
        "a placement of another snapshot: {err:?}"
    );
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
                tx.insert_order(o, &placed(o)).await?;
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

/// An order's checkout, its guest link, its notes, its lines' allocations and its recipient's
/// name read back as written; counts stop at their cap; orders whose reservation ran out are
/// found until their expiry job exists.
pub async fn orders_are_found_by_checkout_link_note_name_and_deadline(store: &dyn Store) {
    use crate::{Job, JobState, OrderNote};
    let f = fixture(store, "order-finds").await;
    let t0 = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let checkout = CheckoutId::new();
    let orders: Vec<Order> = (0..3)
        .map(|i| {
            let mut o = order_for(&f, t0 + chrono::Duration::seconds(i));
            o.checkout_id = Some(checkout);
            o
        })
        .collect();
    let (first, last) = (orders[0].clone(), orders[2].clone());
    let os = orders.clone();
    let (in_tx, allocated) = unit(store, move |tx| {
        Box::pin(async move {
            for o in &os {
                tx.insert_order(o, &placed(o)).await?;
            }
            tx.insert_checkout_link(checkout, "link-token", t0).await?;
            let in_tx = tx.checkout_orders(checkout).await?;
            tx.set_line_allocations(os[0].id, 0, &[]).await?;
            let allocated = tx.order_for_update(os[0].id).await?;
            Ok((in_tx, allocated))
        })
    })
    .await
    .unwrap();
    let ids = |os: &[Order]| os.iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(
        ids(&in_tx),
        ids(&orders),
        "a checkout's orders, oldest first"
    );
    assert_eq!(
        ids(&store.orders_of_checkout(checkout).await.unwrap()),
        ids(&orders)
    );
    assert!(
        store
            .orders_of_checkout(CheckoutId::new())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(allocated.unwrap().lines[0].allocations.is_empty());
    let allocation = Allocation {
        location_id: f.location,
        quantity: 2,
    };
    let id = first.id;
    unit(store, move |tx| {
        Box::pin(async move { tx.set_line_allocations(id, 0, &[allocation]).await })
    })
    .await
    .unwrap();
    assert_eq!(
        store.order(first.id).await.unwrap().unwrap().lines[0].allocations,
        vec![allocation]
    );

    // The guest link, both ways.
    assert_eq!(
        store.checkout_by_link("link-token").await.unwrap(),
        Some(checkout)
    );
    assert_eq!(
        store.checkout_link(checkout).await.unwrap().as_deref(),
        Some("link-token")
    );
    assert!(store.checkout_by_link("other").await.unwrap().is_none());
    assert!(
        store
            .checkout_link(CheckoutId::new())
            .await
            .unwrap()
            .is_none()
    );

    // Counts, capped.
    let scope = OrderScope::Customer(f.customer.id);
    assert_eq!(store.count_orders(scope, None, None, 10).await.unwrap(), 3);
    assert_eq!(store.count_orders(scope, None, None, 2).await.unwrap(), 2);
    assert_eq!(
        store
            .count_orders(scope, Some(OrderStatus::PendingPayment), None, 10)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store
            .count_orders(OrderScope::Vendor(VendorId::new()), None, None, 10)
            .await
            .unwrap(),
        0
    );

    // Notes: an order's oldest first; a customer's newest first.
    let note = |order: OrderId, body: &str, secs| OrderNote {
        id: uuid::Uuid::now_v7(),
        order_id: order,
        author: Actor::of(&f.customer),
        body: body.into(),
        created_at: t0 + chrono::Duration::seconds(secs),
    };
    let (n1, n2, n3) = (
        note(first.id, "Kunde ruft an — «dringend» 📞", 10),
        note(first.id, "second", 20),
        note(last.id, "on the last order", 30),
    );
    let ns = vec![n1.clone(), n2.clone(), n3.clone()];
    unit(store, move |tx| {
        Box::pin(async move {
            for n in &ns {
                tx.insert_order_note(n).await?;
            }
            Ok(())
        })
    })
    .await
    .unwrap();
    assert_eq!(
        store.order_notes(first.id).await.unwrap(),
        vec![n1, n2.clone()]
    );
    assert_eq!(
        store.customer_notes(f.customer.id, 2).await.unwrap(),
        vec![n3, n2]
    );

    // The recipient's name, by the start of any word of it.
    let named = store.customers_named("ün", 10).await.unwrap();
    assert!(
        named
            .iter()
            .all(|n| n.customer_id == f.customer.id && n.email == f.customer.email.as_str()),
        "{named:?}"
    );
    assert!(named.iter().any(|n| n.name == "Zoë 🏠 Ünal"), "{named:?}");
    assert!(store.customers_named("zz", 10).await.unwrap().is_empty());

    // Reservations that ran out (15 minutes after placement), until an expiry job exists.
    let later = t0 + chrono::Duration::minutes(30);
    let expired = store
        .expired_reservations(later, "test.expire", 10)
        .await
        .unwrap();
    assert_eq!(expired, ids(&orders), "oldest deadline first");
    assert!(
        store
            .expired_reservations(t0, "test.expire", 10)
            .await
            .unwrap()
            .is_empty()
    );
    let job = Job {
        id: uuid::Uuid::now_v7(),
        kind: "test.expire".into(),
        key: first.id.to_string(),
        payload: serde_json::json!({}),
        state: JobState::Queued,
        run_at: later,
        attempts: 0,
        last_error: None,
        created_at: later,
    };
    unit(store, move |tx| {
        Box::pin(async move { tx.enqueue_job(&job, later).await.map(|_| ()) })
    })
    .await
    .unwrap();
    assert_eq!(
        store
            .expired_reservations(later, "test.expire", 10)
            .await
            .unwrap(),
        ids(&orders[1..])
    );
}
