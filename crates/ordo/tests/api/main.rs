//! The API, end to end over real HTTP, on SQLite and on PostgreSQL: every scenario below runs
//! once per backend (see `on_both_backends!`).

mod auth;
mod authz;
mod cancellations;
mod checkout;
mod events;
mod exceptions;
mod guests;
mod harness;
mod idempotency;
mod jobs;
mod notifications;
mod payments;
mod payouts;
mod stream;
mod stripe;
mod support;
mod web;
mod webhooks;

use futures_util::future::join_all;
use harness::{Kind, TestApp, address, on_both_backends, order_body};
use ordo_domain::ids::OrderId;
use ordo_domain::order::{Action, Order, OrderStatus, TRANSITIONS};
use serde_json::{Value, json};

on_both_backends!(
    a_placed_order_freezes_prices_and_the_address_exactly_as_typed,
    customers_see_and_touch_only_their_own_orders,
    vendors_and_carriers_see_only_their_own_orders,
    a_replayed_idempotency_key_returns_the_same_order_and_reserves_nothing_more,
    forty_buyers_for_ten_units_get_exactly_ten_orders,
    paying_commits_and_cancelling_releases_or_restocks,
    every_invalid_transition_is_a_409_and_changes_nothing,
    bad_input_is_refused_in_the_error_shape_and_changes_nothing,
    the_whole_lifecycle_follows_the_table_and_the_log_replays_to_the_order,
    orders_and_events_survive_a_restart,
    order_lists_are_newest_first_with_cursor_pages,
    tokens_are_required_checked_and_revocable,
    stock_cannot_be_set_below_what_is_reserved,
    a_bad_value_of_each_checked_type_is_refused_with_its_field,
    the_database_refuses_a_status_the_lifecycle_does_not_have,
);

/// Whoever writes to the database — a bug, a script, an operator in a SQL shell — an order's
/// status stays one of the lifecycle table's; the migrations' lists are the table's states.
async fn the_database_refuses_a_status_the_lifecycle_does_not_have(app: TestApp) {
    for migration in [
        include_str!("../../../ordo-store-sqlite/migrations/0016_order_status_check.sql"),
        include_str!("../../../ordo-store-postgres/migrations/0016_order_status_check.sql"),
    ] {
        let listed = migration
            .lines()
            .find(|l| l.contains("'pending_payment'"))
            .expect("the list of statuses");
        let states = ordo_domain::order::OrderStatus::ALL;
        for s in states {
            assert!(
                listed.contains(&format!("'{s}'")),
                "{s} missing from {listed}"
            );
        }
        assert_eq!(listed.matches('\'').count(), states.len() * 2, "{listed}");
    }
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let order = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let id = order["id"].as_str().unwrap();
    let key = app.sql_id(id);
    let refused = app
        .try_execute(&format!(
            "UPDATE orders SET status = 'teleported' WHERE id = {key}"
        ))
        .await
        .expect_err("an unknown status is refused");
    assert!(refused.contains("orders_status_check"), "{refused}");
    app.try_execute(&format!(
        "UPDATE orders SET status = 'paid' WHERE id = {key}"
    ))
    .await
    .expect("a status of the table is taken");

    // The same for each order's share of its payment (its payment status).
    for migration in [
        include_str!("../../../ordo-store-sqlite/migrations/0017_payment_share_status_check.sql"),
        include_str!("../../../ordo-store-postgres/migrations/0017_payment_share_status_check.sql"),
    ] {
        let listed = migration
            .lines()
            .find(|l| l.contains("'partially_refunded'"))
            .expect("the list of payment statuses");
        let statuses = ordo_domain::payment::PaymentStatus::ALL;
        for s in statuses {
            assert!(
                listed.contains(&format!("'{s}'")),
                "{s} missing from {listed}"
            );
        }
        assert_eq!(listed.matches('\'').count(), statuses.len() * 2, "{listed}");
    }
    let (payment, vendor) = (
        app.sql_id(&uuid::Uuid::now_v7().to_string()),
        app.sql_id(&uuid::Uuid::now_v7().to_string()),
    );
    let refused = app
        .try_execute(&format!(
            "INSERT INTO payment_allocations (payment_id, order_id, vendor_id, amount, status) \
             VALUES ({payment}, {key}, {vendor}, 1, 'teleported')"
        ))
        .await
        .expect_err("an unknown payment status is refused");
    assert!(
        refused.contains("payment_allocations_status_check"),
        "{refused}"
    );
}

async fn a_placed_order_freezes_prices_and_the_address_exactly_as_typed(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let order = app.order(&customer, &shop.sku, 3, None).await.expect(201);
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(order["currency"], "EUR");
    assert_eq!(order["items"][0]["sku"], shop.sku.as_str());
    assert_eq!(order["items"][0]["title"], "Mug ☕");
    assert_eq!(order["items"][0]["quantity"], 3);
    assert_eq!(
        order["items"][0]["unit_price"],
        json!({ "amount": 1250, "currency": "EUR" })
    );
    assert_eq!(order["total"], json!({ "amount": 3750, "currency": "EUR" }));
    assert_eq!(
        order["shipping_address"],
        address(),
        "the address comes back byte for byte"
    );
    assert_eq!(app.stock(&shop).await, (10, 3, 7));
    let id = order["id"].as_str().unwrap();
    // A later price change does not touch the order's snapshot (it does reach new orders).
    app.put(
        &format!("/api/v1/prices/{}/EUR", shop.sku),
        &shop.token,
        json!({ "amount": 1999 }),
    )
    .await
    .expect(204);
    let fetched = app
        .get(&format!("/api/v1/orders/{id}"), &customer)
        .await
        .expect(200);
    assert_eq!(fetched["shipping_address"], address());
    assert_eq!(fetched["items"], order["items"]);
    assert_eq!(fetched["items"][0]["unit_price"]["amount"], 1250);
    assert_eq!(fetched["total"], order["total"]);
    let later = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    assert_eq!(
        later["items"][0]["unit_price"]["amount"], 1999,
        "the change took effect"
    );
    let events = app.events(&customer, id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0]["seq"].as_i64(), events[0]["type"].as_str()),
        (Some(1), Some("order.placed"))
    );
    assert_eq!(events[0]["actor"]["role"], "customer");
    assert_eq!(
        events[0]["data"]["items"], order["items"],
        "the placed event carries the snapshot"
    );
    assert_eq!(events[0]["data"]["shipping_address"], address());
}

async fn customers_see_and_touch_only_their_own_orders(app: TestApp) {
    let shop = app.shop(10).await;
    let alice = app.customer().await;
    let bob = app.customer().await;
    let order = app.order(&alice, &shop.sku, 1, None).await.expect(201);
    let id = order["id"].as_str().unwrap();
    app.get(&format!("/api/v1/orders/{id}"), &bob)
        .await
        .expect_error(404, "not_found");
    app.get(&format!("/api/v1/orders/{id}/events"), &bob)
        .await
        .expect_error(404, "not_found");
    app.act(&bob, id, "cancel", json!({}))
        .await
        .expect_error(404, "not_found");
    let bobs = app.get("/api/v1/orders", &bob).await.expect(200);
    assert_eq!(bobs["data"], json!([]));
    // An id that exists nowhere reads the same as someone else's.
    let unknown = OrderId::new();
    app.get(&format!("/api/v1/orders/{unknown}"), &bob)
        .await
        .expect_error(404, "not_found");
    app.get("/api/v1/orders/not-an-id", &bob)
        .await
        .expect_error(404, "not_found");
    // Alice's order is untouched and hers.
    let mine = app
        .get(&format!("/api/v1/orders/{id}"), &alice)
        .await
        .expect(200);
    assert_eq!(
        (mine["status"].as_str(), mine["version"].as_i64()),
        (Some("pending_payment"), Some(1))
    );
    let alices = app.get("/api/v1/orders", &alice).await.expect(200);
    assert_eq!(alices["data"].as_array().unwrap().len(), 1);
}

async fn vendors_and_carriers_see_only_their_own_orders(app: TestApp) {
    let shop = app.shop(10).await;
    let other = app.shop(10).await;
    let customer = app.customer().await;
    let order = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let id = order["id"].as_str().unwrap();
    app.get(&format!("/api/v1/orders/{id}"), &shop.token)
        .await
        .expect(200);
    // Vendor staff see their own vendor only; admins see all; customers none.
    let mine = app.get("/api/v1/vendors", &shop.token).await.expect(200);
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    assert_eq!(mine["data"][0]["id"], shop.vendor_id.as_str());
    assert_eq!(
        app.get("/api/v1/vendors", app.admin()).await.expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.get("/api/v1/vendors", &customer)
        .await
        .expect_error(403, "forbidden");
    app.get(&format!("/api/v1/vendors/{}", other.vendor_id), &shop.token)
        .await
        .expect_error(404, "not_found");
    app.get(&format!("/api/v1/orders/{id}"), &other.token)
        .await
        .expect_error(404, "not_found");
    assert_eq!(
        app.get("/api/v1/orders", &other.token).await.expect(200)["data"],
        json!([])
    );
    assert_eq!(
        app.get("/api/v1/orders", &shop.token).await.expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Another vendor cannot read or change this vendor's stock either.
    app.get(&format!("/api/v1/inventory/{}", shop.sku), &other.token)
        .await
        .expect_error(404, "not_found");
    app.put(
        &format!("/api/v1/inventory/{}", shop.sku),
        &other.token,
        json!({ "on_hand": 0 }),
    )
    .await
    .expect_error(404, "not_found");
    app.act(&other.token, id, "cancel", json!({}))
        .await
        .expect_error(404, "not_found");

    let (carrier_id, carrier) = app.user("carrier", None).await;
    let (_, stranger) = app.user("carrier", None).await;
    app.act(app.admin(), id, "pay", json!({})).await.expect(200);
    app.act(&shop.token, id, "accept", json!({}))
        .await
        .expect(200);
    app.get(&format!("/api/v1/orders/{id}"), &carrier)
        .await
        .expect_error(404, "not_found");
    app.act(&shop.token, id, "ship", json!({ "carrier_id": carrier_id }))
        .await
        .expect(200);
    app.get(&format!("/api/v1/orders/{id}"), &carrier)
        .await
        .expect(200);
    app.get(&format!("/api/v1/orders/{id}"), &stranger)
        .await
        .expect_error(404, "not_found");
    app.act(&stranger, id, "deliver", json!({}))
        .await
        .expect_error(404, "not_found");
    let delivered = app
        .act(&carrier, id, "deliver", json!({}))
        .await
        .expect(200);
    assert_eq!(delivered["status"], "delivered");
}

async fn a_replayed_idempotency_key_returns_the_same_order_and_reserves_nothing_more(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let first = app.order(&customer, &shop.sku, 2, Some("key-1")).await;
    assert_eq!(first.headers["idempotent-replayed"], "false");
    let first = first.expect(201);
    // Sequential replays, and a burst of concurrent ones.
    let again = app.order(&customer, &shop.sku, 2, Some("key-1")).await;
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.expect(201)["id"], first["id"]);
    let burst = join_all((0..8).map(|_| app.order(&customer, &shop.sku, 2, Some("key-2")))).await;
    let ids: Vec<Value> = burst
        .into_iter()
        .map(|r| r.expect(201)["id"].clone())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one order for one key: {ids:?}"
    );
    assert_eq!(
        app.stock(&shop).await,
        (10, 4, 6),
        "two orders of two units, however many requests"
    );
    // The same key with a different body is refused and changes nothing.
    app.order(&customer, &shop.sku, 3, Some("key-1"))
        .await
        .expect_error(409, "idempotency_key_reused");
    // Keys are per user: another customer's identical key is a new order.
    let other = app.customer().await;
    let theirs = app
        .order(&other, &shop.sku, 2, Some("key-1"))
        .await
        .expect(201);
    assert_ne!(theirs["id"], first["id"]);
    assert_eq!(app.stock(&shop).await, (10, 6, 4));
    assert_eq!(
        app.get("/api/v1/orders", &customer).await.expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn forty_buyers_for_ten_units_get_exactly_ten_orders(app: TestApp) {
    let shop = app.shop(10).await;
    let mut buyers = Vec::new();
    for _ in 0..40 {
        buyers.push(app.customer().await);
    }
    let results = join_all(buyers.iter().map(|b| app.order(b, &shop.sku, 1, None))).await;
    assert_eq!(harness::tally(&results, "insufficient_stock"), (10, 30));
    assert_eq!(app.stock(&shop).await, (10, 10, 0));
    let all = app
        .get("/api/v1/orders?limit=100", app.admin())
        .await
        .expect(200);
    assert_eq!(all["data"].as_array().unwrap().len(), 10);
}

async fn paying_commits_and_cancelling_releases_or_restocks(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let a = app.order(&customer, &shop.sku, 3, None).await.expect(201);
    let b = app.order(&customer, &shop.sku, 2, None).await.expect(201);
    assert_eq!(app.stock(&shop).await, (10, 5, 5));
    // Cancel before payment: the reservation is released.
    let cancelled = app
        .act(
            &customer,
            a["id"].as_str().unwrap(),
            "cancel",
            json!({ "reason": "changed my mind" }),
        )
        .await
        .expect(200);
    assert_eq!(
        (
            cancelled["status"].as_str(),
            cancelled["cancel_reason"].as_str()
        ),
        (Some("cancelled"), Some("changed my mind"))
    );
    assert_eq!(app.stock(&shop).await, (10, 2, 8));
    // Payment commits: the units leave the shelf.
    app.act(app.admin(), b["id"].as_str().unwrap(), "pay", json!({}))
        .await
        .expect(200);
    assert_eq!(app.stock(&shop).await, (8, 0, 8));
    // Cancelling a paid order puts them back.
    app.act(&customer, b["id"].as_str().unwrap(), "cancel", json!({}))
        .await
        .expect(200);
    assert_eq!(app.stock(&shop).await, (10, 0, 10));
}

/// Drives an order to `target` along the table's happy path.
async fn order_in(
    app: &TestApp,
    shop: &harness::Shop,
    customer: &str,
    target: OrderStatus,
) -> String {
    let id = app.order(customer, &shop.sku, 1, None).await.expect(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path: &[&str] = match target {
        OrderStatus::PendingPayment => &[],
        OrderStatus::Paid => &["pay"],
        OrderStatus::Processing => &["pay", "accept"],
        OrderStatus::Shipped => &["pay", "accept", "ship"],
        OrderStatus::Delivered => &["pay", "accept", "ship", "deliver"],
        OrderStatus::Completed => &["pay", "accept", "ship", "deliver", "complete"],
        OrderStatus::Cancelled => &["cancel"],
    };
    for action in path {
        app.act(app.admin(), &id, action, json!({}))
            .await
            .expect(200);
    }
    id
}

async fn every_invalid_transition_is_a_409_and_changes_nothing(app: TestApp) {
    let shop = app.shop(100).await;
    let customer = app.customer().await;
    for status in OrderStatus::ALL {
        let id = order_in(&app, &shop, &customer, *status).await;
        let before = app
            .get(&format!("/api/v1/orders/{id}"), app.admin())
            .await
            .expect(200);
        let stock_before = app.stock(&shop).await;
        let allowed: Vec<&str> = TRANSITIONS
            .iter()
            .filter(|t| t.from() == Some(*status))
            .map(|t| t.action().as_str())
            .collect();
        app.act(app.admin(), &id, "place", json!({}))
            .await
            .expect_error(400, "invalid_action");
        for action in Action::ALL.iter().filter(|a| **a != Action::Place) {
            if allowed.contains(&action.as_str()) {
                continue;
            }
            let err = app
                .act(app.admin(), &id, action.as_str(), json!({}))
                .await
                .expect_error(409, "invalid_transition");
            let listed: Vec<&str> = err["allowed_actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            assert_eq!(listed, allowed, "{status}: allowed actions listed");
        }
        let after = app
            .get(&format!("/api/v1/orders/{id}"), app.admin())
            .await
            .expect(200);
        assert_eq!(after, before, "{status}: refused actions changed the order");
        assert_eq!(
            app.stock(&shop).await,
            stock_before,
            "{status}: refused actions changed stock"
        );
        assert_eq!(
            app.events(app.admin(), &id).await.len() as i64,
            before["version"].as_i64().unwrap()
        );
    }
    // A role that may never take an action gets 403, not 409; an unknown action is a 400.
    let id = order_in(&app, &shop, &customer, OrderStatus::Shipped).await;
    app.act(&customer, &id, "deliver", json!({}))
        .await
        .expect_error(403, "forbidden");
    app.act(&shop.token, &id, "pay", json!({}))
        .await
        .expect_error(403, "forbidden");
    app.act(app.admin(), &id, "teleport", json!({}))
        .await
        .expect_error(400, "invalid_action");
}

async fn bad_input_is_refused_in_the_error_shape_and_changes_nothing(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut body = order_body(&shop.sku, 1);
        f(&mut body);
        body
    };
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (
            with(&|b| b["items"][0]["quantity"] = json!(-1)),
            400,
            "invalid_quantity",
            Some("items[0].quantity"),
        ),
        (
            with(&|b| b["items"][0]["quantity"] = json!(0)),
            400,
            "invalid_quantity",
            Some("items[0].quantity"),
        ),
        (
            with(&|b| b["items"][0]["quantity"] = json!(1_000_000_000_000i64)),
            400,
            "invalid_quantity",
            Some("items[0].quantity"),
        ),
        (
            with(&|b| b["items"][0]["quantity"] = json!(1e30)),
            400,
            "invalid_body",
            Some("items[0].quantity"),
        ),
        (
            with(&|b| b["items"][0]["quantity"] = json!("2")),
            400,
            "invalid_body",
            Some("items[0].quantity"),
        ),
        (
            with(&|b| b["items"][0]["sku"] = json!("NO-SUCH-SKU")),
            400,
            "unknown_sku",
            Some("items[0].sku"),
        ),
        (
            with(&|b| b["items"][0]["sku"] = json!("bad sku/..")),
            400,
            "invalid_sku",
            Some("items[0].sku"),
        ),
        (
            with(&|b| b["items"] = json!([])),
            400,
            "empty_order",
            Some("items"),
        ),
        (
            with(&|b| b["currency"] = json!("EURO")),
            400,
            "invalid_currency",
            Some("currency"),
        ),
        (
            with(&|b| b["currency"] = json!("JPY")),
            400,
            "price_unavailable",
            Some("items[0].sku"),
        ),
        (
            with(&|b| b["shipping_address"]["country"] = json!("XX")),
            400,
            "invalid_country",
            Some("shipping_address.country"),
        ),
        (
            with(&|b| b["shipping_address"]["line1"] = json!("   ")),
            400,
            "invalid_address",
            Some("shipping_address.line1"),
        ),
        (
            with(&|b| b["shipping_address"]["city"] = json!("a\u{0}b")),
            400,
            "invalid_address",
            Some("shipping_address.city"),
        ),
        (
            with(&|b| b["coupon"] = json!("FREE")),
            400,
            "invalid_body",
            None,
        ),
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("shipping_address");
            }),
            400,
            "invalid_body",
            None,
        ),
    ];
    // All 10 units *and* a line of an unknown SKU: nothing may be reserved for the good line.
    let mut cases = cases;
    let mixed = json!({ "currency": "EUR", "items": [{ "sku": shop.sku, "quantity": 10 }, { "sku": "GHOST", "quantity": 1 }],
                        "shipping_address": address() });
    cases.push((mixed, 400, "unknown_sku", Some("items[1].sku")));
    for (body, status, code, field) in cases {
        let res = app.post("/api/v1/orders", &customer, body.clone()).await;
        let err = res.expect_error(status, code);
        if let Some(field) = field {
            assert_eq!(err["field"], field, "for {body}");
        }
        assert!(err["request_id"].is_string());
    }
    app.post_raw(
        "/api/v1/orders",
        &customer,
        "application/json",
        "{\"currency\": \"EUR\", ",
    )
    .await
    .expect_error(400, "malformed_json");
    app.post_raw(
        "/api/v1/orders",
        &customer,
        "text/plain",
        order_body(&shop.sku, 1).to_string(),
    )
    .await
    .expect_error(415, "unsupported_media_type");
    let huge = format!(
        "{{\"currency\":\"EUR\",\"pad\":\"{}\"}}",
        "x".repeat(ordo_http::BODY_LIMIT + 1)
    );
    app.post_raw("/api/v1/orders", &customer, "application/json", huge)
        .await
        .expect_error(413, "payload_too_large");
    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({ "sku": format!("S{i}"), "quantity": 1 }))
        .collect();
    app.post(
        "/api/v1/orders",
        &customer,
        json!({ "currency": "EUR", "items": too_many, "shipping_address": address() }),
    )
    .await
    .expect_error(400, "too_many_items");
    // Only customers place orders.
    app.post("/api/v1/orders", &shop.token, order_body(&shop.sku, 1))
        .await
        .expect_error(403, "forbidden");
    // Nothing changed.
    assert_eq!(app.stock(&shop).await, (10, 0, 10));
    assert_eq!(
        app.get("/api/v1/orders", app.admin()).await.expect(200)["data"],
        json!([])
    );
    // Bad input elsewhere gets the same treatment.
    app.put(
        &format!("/api/v1/inventory/{}", shop.sku),
        &shop.token,
        json!({ "on_hand": -5 }),
    )
    .await
    .expect_error(400, "invalid_quantity");
    app.put(
        &format!("/api/v1/inventory/{}", shop.sku),
        &shop.token,
        json!({ "on_hand": 5, "location": "nowhere" }),
    )
    .await
    .expect_error(400, "unknown_location");
    app.post(
        "/api/v1/users",
        app.admin(),
        json!({ "email": "x@test.example", "password": "short", "role": "customer" }),
    )
    .await
    .expect_error(400, "invalid_password");
    app.post(
        "/api/v1/users",
        app.admin(),
        json!({ "email": "y@test.example", "password": harness::PASSWORD, "role": "vendor" }),
    )
    .await
    .expect_error(400, "vendor_required");
    app.post(
        "/api/v1/users",
        app.admin(),
        json!({ "email": "admin@test.example", "password": harness::PASSWORD, "role": "customer" }),
    )
    .await
    .expect_error(409, "email_taken");
    app.post(
        "/api/v1/products",
        &shop.token,
        json!({ "vendor_id": shop.vendor_id, "title": "Dup", "variants": [{ "sku": shop.sku, "prices": [{ "currency": "EUR", "amount": 1 }] }] }),
    )
    .await
    .expect_error(409, "sku_taken");
    app.get("/api/v1/orders?limit=0", &customer)
        .await
        .expect_error(400, "invalid_limit");
    app.get("/api/v1/orders?status=lost", &customer)
        .await
        .expect_error(400, "invalid_status");
    app.get("/api/v1/nothing-here", &customer)
        .await
        .expect_error(404, "route_not_found");
    assert_eq!(app.stock(&shop).await, (10, 0, 10));
}

async fn the_whole_lifecycle_follows_the_table_and_the_log_replays_to_the_order(app: TestApp) {
    let shop = app.shop(5).await;
    let customer = app.customer().await;
    let (carrier_id, carrier) = app.user("carrier", None).await;
    let id = app.order(&customer, &shop.sku, 2, None).await.expect(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.act(app.admin(), &id, "pay", json!({}))
            .await
            .expect(200)["status"],
        "paid"
    );
    let processing = app
        .act(&shop.token, &id, "accept", json!({}))
        .await
        .expect(200);
    assert_eq!(processing["allowed_actions"], json!(["cancel", "ship"]));
    app.act(
        &shop.token,
        &id,
        "ship",
        json!({ "carrier_id": carrier_id }),
    )
    .await
    .expect(200);
    app.act(&carrier, &id, "deliver", json!({}))
        .await
        .expect(200);
    let done = app
        .act(app.admin(), &id, "complete", json!({}))
        .await
        .expect(200);
    assert_eq!(
        (done["status"].as_str(), done["version"].as_i64()),
        (Some("completed"), Some(6))
    );
    let types: Vec<String> = app
        .events(&customer, &id)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "order.placed",
            "order.paid",
            "order.accepted",
            "order.shipped",
            "order.delivered",
            "order.completed"
        ]
    );
    // The log alone rebuilds the order exactly as stored.
    let oid: OrderId = id.parse().unwrap();
    let events = app.store.order_events(oid).await.unwrap();
    let stored = app.store.order(oid).await.unwrap().unwrap();
    assert_eq!(Order::replay(&events).unwrap(), stored);
    // The state machine the server publishes is the table it enforces.
    let sm = app
        .request(
            reqwest::Method::GET,
            "/api/v1/order-state-machine",
            None,
            None,
        )
        .await
        .expect(200);
    let published = sm["transitions"].as_array().unwrap();
    assert_eq!(published.len(), TRANSITIONS.len());
    for (row, t) in published.iter().zip(TRANSITIONS) {
        let roles: Vec<String> = t.roles().iter().map(|r| r.to_string()).collect();
        assert_eq!(
            row,
            &json!({
                "from": t.from().map_or_else(|| "new".to_owned(), |s| s.to_string()),
                "action": t.action().as_str(),
                "to": t.to().as_str(),
                "roles": roles,
                "stock_effect": serde_json::to_value(t.stock()).unwrap(),
            }),
            "the published row is the enforced row"
        );
    }
    assert_eq!(
        sm["states"].as_array().unwrap().len(),
        OrderStatus::ALL.len()
    );
    assert_eq!(app.stock(&shop).await, (3, 0, 3));
}

async fn orders_and_events_survive_a_restart(mut app: TestApp) {
    let shop = app.shop(5).await;
    let customer = app.customer().await;
    let order = app
        .order(&customer, &shop.sku, 2, Some("before-restart"))
        .await
        .expect(201);
    let id = order["id"].as_str().unwrap().to_owned();
    app.act(app.admin(), &id, "pay", json!({}))
        .await
        .expect(200);
    let before = app
        .get(&format!("/api/v1/orders/{id}"), &customer)
        .await
        .expect(200);
    app.restart().await;
    // Tokens are stored sessions, so they survive too.
    let after = app
        .get(&format!("/api/v1/orders/{id}"), &customer)
        .await
        .expect(200);
    assert_eq!(after, before);
    assert_eq!(app.events(&customer, &id).await.len(), 2);
    assert_eq!(app.stock(&shop).await, (3, 0, 3));
    // The idempotency record survived as well: a retry after the restart is still a replay.
    let replay = app
        .order(&customer, &shop.sku, 2, Some("before-restart"))
        .await;
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.expect(201)["id"], id.as_str());
}

async fn order_lists_are_newest_first_with_cursor_pages(app: TestApp) {
    let shop = app.shop(50).await;
    let customer = app.customer().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            app.order(&customer, &shop.sku, 1, None).await.expect(201)["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    app.act(&customer, &ids[0], "cancel", json!({}))
        .await
        .expect(200);
    ids.reverse();
    let page1 = app
        .get("/api/v1/orders?limit=2", &customer)
        .await
        .expect(200);
    let got: Vec<&str> = page1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        (got, page1["has_more"].as_bool()),
        (vec![ids[0].as_str(), ids[1].as_str()], Some(true))
    );
    let page3 = app
        .get(
            &format!("/api/v1/orders?limit=2&starting_after={}", ids[3]),
            &customer,
        )
        .await
        .expect(200);
    assert_eq!(page3["data"].as_array().unwrap().len(), 1);
    assert_eq!(page3["has_more"], false);
    let cancelled = app
        .get("/api/v1/orders?status=cancelled", &customer)
        .await
        .expect(200);
    assert_eq!(cancelled["data"][0]["id"], ids[4].as_str());
    assert_eq!(cancelled["data"].as_array().unwrap().len(), 1);
    app.get("/api/v1/orders?starting_after=nope", &customer)
        .await
        .expect_error(400, "invalid_cursor");
}

async fn tokens_are_required_checked_and_revocable(app: TestApp) {
    app.request(reqwest::Method::GET, "/api/v1/orders", None, None)
        .await
        .expect_error(401, "unauthenticated");
    app.get("/api/v1/orders", "ordo_not-a-real-token")
        .await
        .expect_error(401, "invalid_token");
    app.request(
        reqwest::Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": "admin@test.example", "password": "wrong password" })),
    )
    .await
    .expect_error(401, "invalid_credentials");
    app.request(
        reqwest::Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": "nobody@test.example", "password": "wrong password" })),
    )
    .await
    .expect_error(401, "invalid_credentials");
    let customer = app.customer().await;
    assert_eq!(
        app.get("/api/v1/auth/me", &customer).await.expect(200)["role"],
        "customer"
    );
    app.post("/api/v1/vendors", &customer, json!({ "name": "Mine" }))
        .await
        .expect_error(403, "forbidden");
    app.post(
        "/api/v1/users",
        &customer,
        json!({ "email": "e@test.example", "password": harness::PASSWORD, "role": "admin" }),
    )
    .await
    .expect_error(403, "forbidden");
    app.post("/api/v1/auth/logout", &customer, json!({}))
        .await
        .expect(204);
    app.get("/api/v1/orders", &customer)
        .await
        .expect_error(401, "invalid_token");
    assert_eq!(
        app.request(reqwest::Method::GET, "/healthz", None, None)
            .await
            .expect(200)["status"],
        "ok"
    );
    let ready = app
        .request(reqwest::Method::GET, "/readyz", None, None)
        .await
        .expect(200);
    assert_eq!(
        ready["database"],
        if app.kind == Kind::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    );
    let spec = app
        .request(reqwest::Method::GET, "/api/openapi.json", None, None)
        .await
        .expect(200);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(spec["paths"]["/api/v1/orders/{id}/actions/{action}"]["post"].is_object());
    for (path, method) in [
        ("/api/v1/carts", "post"),
        ("/api/v1/carts/{id}", "patch"),
        ("/api/v1/carts/{id}/lines", "post"),
        ("/api/v1/carts/{id}/lines/{sku}", "delete"),
        ("/api/v1/carts/{id}/checkout", "post"),
        ("/api/v1/pricing", "get"),
        ("/api/v1/fx-rates", "put"),
        ("/api/v1/tax-rules", "post"),
        ("/api/v1/shipping-rates", "post"),
        ("/api/v1/promotions/{id}", "patch"),
        ("/api/v1/inventory/{sku}/adjustments", "post"),
        ("/api/v1/inventory/{sku}/low-stock-threshold", "put"),
        ("/api/v1/low-stock", "get"),
    ] {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} undocumented"
        );
    }
    assert!(spec["components"]["schemas"]["CheckoutView"].is_object());
    let docs = app
        .client
        .get(format!("{}/api/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text().await.unwrap().contains("swagger-ui"),
        "the docs page is served from the binary"
    );
    let html = app
        .client
        .get(format!("{}/api/docs/", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "the docs page loads nothing from the internet"
    );
}

async fn stock_cannot_be_set_below_what_is_reserved(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    app.order(&customer, &shop.sku, 6, None).await.expect(201);
    app.put(
        &format!("/api/v1/inventory/{}", shop.sku),
        &shop.token,
        json!({ "on_hand": 5 }),
    )
    .await
    .expect_error(409, "below_reserved");
    assert_eq!(app.stock(&shop).await, (10, 6, 4));
    // A second location adds stock beside the first; orders draw from whichever can ship.
    app.post(
        &format!("/api/v1/vendors/{}/locations", shop.vendor_id),
        &shop.token,
        json!({ "code": "berlin", "name": "Berlin", "priority": 1 }),
    )
    .await
    .expect(201);
    let s = app
        .put(
            &format!("/api/v1/inventory/{}", shop.sku),
            &shop.token,
            json!({ "on_hand": 3, "location": "berlin" }),
        )
        .await
        .expect(200);
    assert_eq!(
        (s["on_hand"].as_i64(), s["available"].as_i64()),
        (Some(13), Some(7))
    );
    assert_eq!(s["locations"].as_array().unwrap().len(), 2);
    // 6 units: 4 left at main, 3 at berlin, so the line is split across both.
    let split = app.order(&customer, &shop.sku, 6, None).await.expect(201);
    assert_eq!(
        split["items"][0]["allocations"].as_array().unwrap().len(),
        2
    );
    assert_eq!(app.stock(&shop).await, (13, 12, 1));
}

/// A commit that fails on SQLite (an fsync error injected at the writer's COMMIT): the
/// customer hears 503 `outcome_unknown` with a Retry-After, never "nothing changed"; the node
/// says at once it is not ready, refuses every later write as plainly unavailable, and the
/// server stops by itself with an error (`ordo serve` then exits non-zero).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_on_sqlite_is_an_unknown_outcome_and_a_fail_stop() {
    // The relay off, so the failing commit is the customer's and not the relay's.
    let settings = ordo_app::Settings {
        relay: false,
        ..ordo_app::Settings::default()
    };
    let mut app = TestApp::spawn_with(Kind::Sqlite, settings)
        .await
        .expect("sqlite");
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let other = app.second_server().await;
    let ready = app
        .client
        .get(format!("{other}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    app.sqlite_faults().fail_next_commit();
    let res = app.order(&customer, &shop.sku, 1, Some("key-1")).await;
    assert!(res.headers.contains_key("retry-after"), "{:?}", res.headers);
    res.expect_error(503, "outcome_unknown");
    // The node that served it is draining; a server over the same store says why at once.
    let ready = app
        .client
        .get(format!("{other}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503, "a fail-stopped store is not ready");
    let later = app
        .client
        .post(format!("{other}/api/v1/orders"))
        .bearer_auth(&customer)
        .json(&order_body(&shop.sku, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(later.status(), 503);
    let body: Value = later.json().await.unwrap();
    assert_eq!(
        body["error"]["code"], "unavailable",
        "nothing ran: safe to retry"
    );
    let ended = app.server_exit().await;
    let why = ended.expect_err("a fail-stopped server ends with an error");
    assert!(why.to_string().contains("write path failed"), "{why}");
}

/// Admission control on SQLite, with the writer held on purpose (it waits to gather a batch of
/// two): one request in flight, one waiting, and a third is shed at once with 503 `overloaded`
/// and nothing done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_waiting_room_sheds_at_once_and_changes_nothing() {
    let settings = ordo_app::Settings {
        max_in_flight: 1,
        max_waiting: 1,
        request_timeout: std::time::Duration::from_secs(20),
        // The writer is held for the API's writes alone.
        relay: false,
        ..ordo_app::Settings::default()
    };
    let app = TestApp::spawn_with(Kind::Sqlite, settings)
        .await
        .expect("sqlite");
    let admin = app.admin().to_owned();
    // Held: the writer waits for a second unit before it runs the first.
    app.sqlite_faults().gather_next_batch(2);
    let vendor = |name: &'static str| {
        let (client, url, admin) = (
            app.client.clone(),
            format!("{}/api/v1/vendors", app.base),
            admin.clone(),
        );
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(admin)
                .json(&json!({ "name": name }))
                .send()
                .await
                .unwrap()
        })
    };
    // /readyz (never limited) says how many run and wait: send each once the last is in.
    let load = || async {
        let r = app
            .request(reqwest::Method::GET, "/readyz", None, None)
            .await
            .expect(200);
        (
            r["requests"]["in_flight"].as_u64().unwrap(),
            r["requests"]["waiting"].as_u64().unwrap(),
        )
    };
    let until = |want: (u64, u64)| async move {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while load().await != want {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never reached {want:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    let in_flight = vendor("In flight");
    until((1, 0)).await;
    let waiting = vendor("Waiting");
    until((1, 1)).await;
    let shed = app
        .post("/api/v1/vendors", &admin, json!({ "name": "Shed" }))
        .await;
    assert!(shed.headers.contains_key("retry-after"));
    shed.expect_error(503, "overloaded");
    // Let the writer go: a unit of the test's own completes its batch of two.
    let extra = ordo_domain::catalog::Vendor {
        id: ordo_domain::ids::VendorId::new(),
        name: ordo_domain::catalog::Name::parse("Released").unwrap(),
    };
    ordo_store::write(&*app.store, move |tx| {
        Box::pin(async move { tx.insert_vendor(&extra, chrono::Utc::now()).await })
    })
    .await
    .unwrap();
    assert_eq!(in_flight.await.unwrap().status(), 201);
    assert_eq!(waiting.await.unwrap().status(), 201);
    let names: Vec<String> = app.get("/api/v1/vendors", &admin).await.expect(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !names.contains(&"Shed".to_owned()),
        "a shed request did nothing: {names:?}"
    );
}

/// A write that runs past the request timeout (the SQLite writer held on purpose) is answered
/// 503 `outcome_unknown`, never "nothing changed" — and indeed it commits once the writer goes
/// on; its retry with the same key then replays it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_past_the_request_timeout_is_an_unknown_outcome() {
    let settings = ordo_app::Settings {
        request_timeout: std::time::Duration::from_millis(300),
        relay: false,
        ..ordo_app::Settings::default()
    };
    let app = TestApp::spawn_with(Kind::Sqlite, settings)
        .await
        .expect("sqlite");
    let admin = app.admin().to_owned();
    app.sqlite_faults().gather_next_batch(2);
    let body = json!({ "name": "Slow vendor" }).to_string();
    let first = app
        .call(
            reqwest::Method::POST,
            "/api/v1/vendors",
            harness::Auth::Bearer(&admin),
            Some("slow-1"),
            Some(body.clone()),
        )
        .await;
    assert!(first.headers.contains_key("retry-after"));
    first.expect_error(503, "outcome_unknown");
    let extra = ordo_domain::catalog::Vendor {
        id: ordo_domain::ids::VendorId::new(),
        name: ordo_domain::catalog::Name::parse("Released").unwrap(),
    };
    ordo_store::write(&*app.store, move |tx| {
        Box::pin(async move { tx.insert_vendor(&extra, chrono::Utc::now()).await })
    })
    .await
    .unwrap();
    let retry = app
        .call(
            reqwest::Method::POST,
            "/api/v1/vendors",
            harness::Auth::Bearer(&admin),
            Some("slow-1"),
            Some(body),
        )
        .await;
    assert_eq!(
        retry.headers["idempotent-replayed"], "true",
        "the slow write had committed"
    );
    assert_eq!(retry.expect(201)["name"], "Slow vendor");
}

/// Each checked type, sent bad in a request body, is refused in the one error shape with its
/// field named, and nothing is created.
async fn a_bad_value_of_each_checked_type_is_refused_with_its_field(app: TestApp) {
    let shop = app.shop(5).await;
    let customer = app.customer().await;
    let mut body = order_body("no such sku!", 1);
    let e = app
        .post("/api/v1/orders", &customer, body.clone())
        .await
        .expect_error(400, "invalid_sku");
    assert_eq!(e["field"], "items[0].sku");
    body = order_body(&shop.sku, 0);
    let e = app
        .post("/api/v1/orders", &customer, body)
        .await
        .expect_error(400, "invalid_quantity");
    assert_eq!(e["field"], "items[0].quantity");
    let e = app
        .post("/api/v1/vendors", app.admin(), json!({ "name": " \u{7} " }))
        .await
        .expect_error(400, "invalid_name");
    assert_eq!(e["field"], "name");
    let e = app
        .post(
            "/api/v1/users",
            app.admin(),
            json!({ "email": "not-an-address", "password": "a long password", "role": "support" }),
        )
        .await
        .expect_error(400, "invalid_email");
    assert_eq!(e["field"], "email");
    let e = app
        .post(
            &format!("/api/v1/vendors/{}/locations", shop.vendor_id),
            &shop.token,
            json!({ "code": "Not A Code", "name": "North" }),
        )
        .await
        .expect_error(400, "invalid_location");
    assert_eq!(e["field"], "code");
    let mut bad_address = order_body(&shop.sku, 1);
    bad_address["shipping_address"]["country"] = json!("ZZ");
    let e = app
        .post("/api/v1/orders", &customer, bad_address)
        .await
        .expect_error(400, "invalid_country");
    assert_eq!(e["field"], "shipping_address.country");
    let orders = app.get("/api/v1/orders", &customer).await.expect(200);
    assert_eq!(orders["data"], json!([]), "nothing was created");
}
