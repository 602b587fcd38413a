//! Carts, pricing and inventory in depth, end to end over HTTP on both databases: flash sales
//! with and without a limited code, multi-vendor checkouts with exact totals, all-or-nothing,
//! guest carts merged at login, reservation expiry, stock taken at payment, adjustments and
//! low-stock alerts, FX and the admin's pricing rules.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::harness::{Shop, TestApp, address, on_both_backends, tally};

on_both_backends!(
    a_thousand_checkouts_for_a_hundred_units_place_exactly_a_hundred_orders,
    a_code_limited_to_fifty_uses_discounts_exactly_fifty_orders,
    a_multi_vendor_cart_checks_out_into_one_order_per_vendor_with_exact_totals,
    a_checkout_where_one_vendor_is_short_places_and_reserves_nothing,
    a_guest_cart_merges_into_the_customers_cart_at_login,
    stock_taken_at_payment_fails_the_payment_cleanly_when_it_is_gone,
    adjustments_are_recorded_never_go_negative_and_low_stock_alerts_fire_once,
    fx_rates_price_a_cart_in_a_currency_the_vendor_does_not_sell_in,
    bad_cart_input_is_refused_in_the_error_shape_and_changes_nothing,
    price_lists_are_kept_per_currency_by_the_vendor,
    a_cart_checked_out_twice_at_once_places_its_orders_once,
    a_vendors_code_discounts_only_that_vendors_order,
    unpaid_orders_are_cancelled_when_their_reservation_expires,
);

fn us_address() -> Value {
    json!({ "name": "Grace 🇺🇸 Hopper", "line1": "1 Infinite Loop", "city": "Cupertino", "region": "ca",
            "postal_code": "95014", "country": "US" })
}

/// A vendor with one product per `(sku suffix, EUR price, grams, on hand)`, and extra product
/// fields (`stock_deduction`…) merged into each product.
async fn vendor_with(app: &TestApp, items: &[(&str, i64, i64, i64)], extra: Value) -> Shop {
    let shop = app.shop(0).await;
    for (suffix, price, grams, on_hand) in items {
        let sku = format!("{}-{suffix}", shop.sku);
        let mut body = json!({ "vendor_id": shop.vendor_id, "title": format!("Item {suffix} 🧺"),
            "variants": [{ "sku": sku, "weight_grams": grams, "low_stock_threshold": 5,
                           "prices": [{ "currency": "EUR", "amount": price }] }] });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        app.post("/api/v1/products", &shop.token, body)
            .await
            .expect(201);
        app.put(
            &format!("/api/v1/inventory/{sku}"),
            &shop.token,
            json!({ "on_hand": on_hand }),
        )
        .await
        .expect(200);
    }
    shop
}

async fn stock_of(app: &TestApp, shop: &Shop, sku: &str) -> (i64, i64, i64) {
    let s = app
        .get(&format!("/api/v1/inventory/{sku}"), &shop.token)
        .await
        .expect(200);
    (
        s["on_hand"].as_i64().unwrap(),
        s["reserved"].as_i64().unwrap(),
        s["available"].as_i64().unwrap(),
    )
}

/// A customer's cart holding `lines`, created in one call.
async fn cart_of(app: &TestApp, token: &str, lines: Value, extra: Value) -> Value {
    let mut body = json!({ "currency": "EUR", "lines": lines, "shipping_address": address() });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    app.post("/api/v1/carts", token, body).await.expect(201)
}

async fn checkout(app: &TestApp, token: &str, cart: &Value) -> crate::harness::Res {
    app.post(
        &format!("/api/v1/carts/{}/checkout", cart["id"].as_str().unwrap()),
        token,
        json!({}),
    )
    .await
}

/// 1,000 buyers, each with a cart holding the same SKU; 100 units.
async fn flash_sale(app: &TestApp, shop: &Shop, extra: Value) -> Vec<crate::harness::Res> {
    let buyers = app.many_customers(1000).await;
    let mut carts = Vec::with_capacity(buyers.len());
    for chunk in buyers.chunks(100) {
        carts.extend(
            join_all(chunk.iter().map(|b| {
                cart_of(
                    app,
                    b,
                    json!([{ "sku": shop.sku, "quantity": 1 }]),
                    extra.clone(),
                )
            }))
            .await,
        );
    }
    join_all(buyers.iter().zip(&carts).map(|(b, c)| checkout(app, b, c))).await
}

async fn a_thousand_checkouts_for_a_hundred_units_place_exactly_a_hundred_orders(app: TestApp) {
    let shop = app.shop(100).await;
    let results = flash_sale(&app, &shop, json!({})).await;
    assert_eq!(tally(&results, "insufficient_stock"), (100, 900));
    // Never sold twice: on hand − reserved is exactly zero, not below.
    assert_eq!(app.stock(&shop).await, (100, 100, 0));
    let orders = app
        .get(
            "/api/v1/orders?limit=100&status=pending_payment",
            app.admin(),
        )
        .await
        .expect(200);
    assert_eq!(orders["data"].as_array().unwrap().len(), 100);
    assert_eq!(orders["has_more"], false);
}

async fn a_code_limited_to_fifty_uses_discounts_exactly_fifty_orders(app: TestApp) {
    let shop = app.shop(100).await;
    let promo = app
        .post(
            "/api/v1/promotions",
            app.admin(),
            json!({ "code": "flash50", "name": "Flash 20%", "percent": "20", "usage_limit": 50 }),
        )
        .await
        .expect(201);
    assert_eq!(promo["code"], "FLASH50");
    let results = flash_sale(&app, &shop, json!({ "promo_code": "FLASH50" })).await;
    assert_eq!(tally(&results, "promotion_exhausted"), (50, 950));
    let placed: Vec<&Value> = results
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| &r.body["orders"][0])
        .collect();
    for o in &placed {
        assert_eq!(o["pricing"]["discount_total"]["amount"], 250, "{o}");
        assert_eq!(o["pricing"]["discounts"][0]["code"], "FLASH50");
        assert_eq!(o["total"]["amount"], 1000);
    }
    assert_eq!(app.stock(&shop).await, (100, 50, 50));
    let book = app.get("/api/v1/pricing", app.admin()).await.expect(200);
    assert_eq!(book["promotions"][0]["uses"], 50);
}

async fn a_multi_vendor_cart_checks_out_into_one_order_per_vendor_with_exact_totals(app: TestApp) {
    let admin = app.admin();
    app.post("/api/v1/tax-rules", admin,
        json!({ "country": "US", "region": "CA", "rate": "7.25", "mode": "exclusive", "name": "CA sales tax" }))
        .await.expect(200);
    for (name, min, max, price) in [("light", 0, Some(1000), 500), ("heavy", 1000, None, 1500)] {
        app.post("/api/v1/shipping-rates", admin, json!({ "name": name, "countries": ["US"],
            "min_weight_grams": min, "max_weight_grams": max, "price": { "amount": price, "currency": "EUR" } }))
            .await.expect(201);
    }
    app.post(
        "/api/v1/promotions",
        admin,
        json!({ "name": "10 off over 50", "amount": { "amount": 1000, "currency": "EUR" },
        "min_subtotal": { "amount": 5000, "currency": "EUR" } }),
    )
    .await
    .expect(201);
    let a = vendor_with(&app, &[("A", 3000, 400, 10)], json!({})).await;
    let b = vendor_with(&app, &[("B", 2000, 1200, 10)], json!({})).await;
    let (sku_a, sku_b) = (format!("{}-A", a.sku), format!("{}-B", b.sku));
    let customer = app.customer().await;
    let cart = cart_of(
        &app,
        &customer,
        json!([{ "sku": sku_a, "quantity": 2 }, { "sku": sku_b, "quantity": 1 }]),
        json!({ "shipping_address": us_address() }),
    )
    .await;
    // The cart shows what the checkout will charge, before it happens.
    assert_eq!(cart["orders"].as_array().unwrap().len(), 2);
    assert_eq!(cart["total"]["amount"], 9508, "{cart}");
    assert_eq!(cart["problems"], json!([]));

    let key = uuid::Uuid::now_v7().to_string();
    let path = format!("/api/v1/carts/{}/checkout", cart["id"].as_str().unwrap());
    let call = |k: &str| {
        app.client
            .post(format!("{}{path}", app.base))
            .bearer_auth(&customer)
            .header("Idempotency-Key", k.to_owned())
            .json(&json!({}))
            .send()
    };
    let first = call(&key).await.unwrap();
    assert_eq!(first.status(), 201);
    let done: Value = first.json().await.unwrap();
    let orders = done["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2);
    assert_eq!(done["total"]["amount"], 9508);
    // Vendor A: 2 × 30.00, 400 g each → light rate 5.00; 7.50 of the 10.00 off (60/80);
    // tax 7.25 % of 52.50 = 3.81. Vendor B: 20.00, 1200 g → heavy 15.00; 2.50 off; tax of
    // 17.50 = 1.27.
    let expect = [
        (&a, 6000, 750, 500, 381, 6131),
        (&b, 2000, 250, 1500, 127, 3377),
    ];
    for (shop, sub, disc, ship, tax, total) in expect {
        let o = orders
            .iter()
            .find(|o| o["vendor_id"] == shop.vendor_id.as_str())
            .expect("vendor's order");
        let p = &o["pricing"];
        assert_eq!(
            (
                o["subtotal"]["amount"].as_i64(),
                p["discount_total"]["amount"].as_i64(),
                p["shipping_total"]["amount"].as_i64(),
                p["tax_total"]["amount"].as_i64(),
                o["total"]["amount"].as_i64()
            ),
            (Some(sub), Some(disc), Some(ship), Some(tax), Some(total)),
            "{o}"
        );
        assert_eq!(sub - disc + ship + tax, total);
        assert_eq!(o["checkout_id"], done["checkout_id"]);
        assert_eq!(p["taxes"][0]["name"], "CA sales tax");
        assert_eq!(p["taxes"][0]["rate"], "7.25");
        assert!(o["reserved_until"].is_string());
        // The order records where each line ships from.
        assert_eq!(
            o["items"][0]["allocations"][0]["quantity"],
            o["items"][0]["quantity"]
        );
    }
    // The same key again: the same checkout, nothing more reserved.
    let again = call(&key).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["checkout_id"], done["checkout_id"]);
    assert_eq!(stock_of(&app, &a, &sku_a).await, (10, 2, 8));
    // A new key on the spent cart: it is closed.
    let res = call(&uuid::Uuid::now_v7().to_string()).await.unwrap();
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "cart_closed");
    let shown = app
        .get(
            &format!("/api/v1/carts/{}", cart["id"].as_str().unwrap()),
            &customer,
        )
        .await
        .expect(200);
    assert_eq!(
        (shown["status"].as_str(), shown["checkout_id"].clone()),
        (Some("checked_out"), done["checkout_id"].clone())
    );
}

async fn a_checkout_where_one_vendor_is_short_places_and_reserves_nothing(app: TestApp) {
    let a = vendor_with(&app, &[("A", 1000, 0, 5)], json!({})).await;
    let b = vendor_with(&app, &[("B", 1000, 0, 1)], json!({})).await;
    let (sku_a, sku_b) = (format!("{}-A", a.sku), format!("{}-B", b.sku));
    let customer = app.customer().await;
    let cart = cart_of(
        &app,
        &customer,
        json!([{ "sku": sku_a, "quantity": 2 }, { "sku": sku_b, "quantity": 2 }]),
        json!({}),
    )
    .await;
    assert_eq!(cart["problems"][0]["code"], "insufficient_stock");
    let err = checkout(&app, &customer, &cart)
        .await
        .expect_error(409, "insufficient_stock");
    assert_eq!(err["field"], "lines[1].quantity");
    assert_eq!(stock_of(&app, &a, &sku_a).await, (5, 0, 5));
    assert_eq!(stock_of(&app, &b, &sku_b).await, (1, 0, 1));
    let mine = app.get("/api/v1/orders", &customer).await.expect(200);
    assert_eq!(mine["data"], json!([]));
    // The cart is still open and can be fixed and checked out.
    let id = cart["id"].as_str().unwrap();
    app.patch(
        &format!("/api/v1/carts/{id}/lines/{sku_b}"),
        &customer,
        json!({ "quantity": 1 }),
    )
    .await
    .expect(200);
    let done = checkout(&app, &customer, &cart).await.expect(201);
    assert_eq!(done["orders"].as_array().unwrap().len(), 2);
    assert_eq!(stock_of(&app, &b, &sku_b).await, (1, 1, 0));
}

async fn a_guest_cart_merges_into_the_customers_cart_at_login(app: TestApp) {
    let shop = vendor_with(&app, &[("A", 1000, 0, 50), ("B", 500, 0, 50)], json!({})).await;
    let (sku_a, sku_b) = (format!("{}-A", shop.sku), format!("{}-B", shop.sku));
    // A guest: no login, a token instead.
    let guest = app.cart_call(reqwest::Method::POST, "/api/v1/carts", None, None,
        Some(json!({ "currency": "EUR", "lines": [{ "sku": sku_a, "quantity": 2 }, { "sku": sku_b, "quantity": 1 }] })))
        .await.expect(201);
    let token = guest["cart_token"]
        .as_str()
        .expect("token shown once")
        .to_owned();
    let gid = guest["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/carts/{gid}");
    app.cart_call(reqwest::Method::GET, &path, None, None, None)
        .await
        .expect_error(404, "not_found");
    app.cart_call(
        reqwest::Method::GET,
        &path,
        None,
        Some("ordo_cart_forged"),
        None,
    )
    .await
    .expect_error(404, "not_found");
    let seen = app
        .cart_call(reqwest::Method::GET, &path, None, Some(&token), None)
        .await
        .expect(200);
    assert_eq!(seen["total"]["amount"], 2500);
    assert!(seen.get("cart_token").is_none());
    // A guest checks out with an e-mail address (see guests.rs); without one, nothing is placed.
    app.cart_call(
        reqwest::Method::POST,
        &format!("{path}/checkout"),
        None,
        Some(&token),
        Some(json!({})),
    )
    .await
    .expect_error(400, "email_required");

    // The customer already has a cart with one of the same items.
    let (_, customer) = app.user("customer", None).await;
    let me = app.get("/api/v1/auth/me", &customer).await.expect(200);
    let email = me["email"].as_str().unwrap().to_owned();
    let mine = cart_of(
        &app,
        &customer,
        json!([{ "sku": sku_a, "quantity": 1 }]),
        json!({}),
    )
    .await;
    let login = app.request(reqwest::Method::POST, "/api/v1/auth/login", None,
        Some(json!({ "email": email, "password": crate::harness::PASSWORD, "cart_token": token }))).await.expect(200);
    assert_eq!(login["cart_id"], mine["id"]);
    let merged = app
        .get(
            &format!("/api/v1/carts/{}", mine["id"].as_str().unwrap()),
            &customer,
        )
        .await
        .expect(200);
    let lines: Vec<(String, i64)> = merged["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap().to_owned(),
                l["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines, vec![(sku_a.clone(), 3), (sku_b.clone(), 1)]);
    // The guest cart is spent: it shows as merged and no longer changes.
    let old = app
        .cart_call(reqwest::Method::GET, &path, None, Some(&token), None)
        .await
        .expect(200);
    assert_eq!(old["status"], "merged");
    app.cart_call(
        reqwest::Method::POST,
        &format!("{path}/lines"),
        None,
        Some(&token),
        Some(json!({ "sku": sku_a, "quantity": 1 })),
    )
    .await
    .expect_error(409, "cart_closed");
    // Another customer cannot see it.
    let other = app.customer().await;
    app.get(
        &format!("/api/v1/carts/{}", mine["id"].as_str().unwrap()),
        &other,
    )
    .await
    .expect_error(404, "not_found");
    let done = checkout(&app, &customer, &merged).await.expect(201);
    assert_eq!(done["total"]["amount"], 3500);
}

async fn stock_taken_at_payment_fails_the_payment_cleanly_when_it_is_gone(app: TestApp) {
    let shop = vendor_with(
        &app,
        &[("P", 1000, 0, 1)],
        json!({ "stock_deduction": "at_payment" }),
    )
    .await;
    let sku = format!("{}-P", shop.sku);
    let (c1, c2) = (app.customer().await, app.customer().await);
    let o1 = app.order(&c1, &sku, 1, None).await.expect(201);
    let o2 = app.order(&c2, &sku, 1, None).await.expect(201);
    // Nothing is held for unpaid orders of this product.
    assert_eq!(o1["items"][0]["stock_deduction"], "at_payment");
    assert_eq!(o1["items"][0]["allocations"], json!([]));
    assert_eq!(stock_of(&app, &shop, &sku).await, (1, 0, 1));
    let paid = app
        .act(app.admin(), o1["id"].as_str().unwrap(), "pay", json!({}))
        .await
        .expect(200);
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["items"][0]["allocations"][0]["quantity"], 1);
    assert_eq!(stock_of(&app, &shop, &sku).await, (0, 0, 0));
    // The second payment finds it gone: refused, and the order is cancelled, not left hanging.
    let id2 = o2["id"].as_str().unwrap();
    app.act(app.admin(), id2, "pay", json!({}))
        .await
        .expect_error(409, "insufficient_stock");
    let o2 = app
        .get(&format!("/api/v1/orders/{id2}"), &c2)
        .await
        .expect(200);
    assert_eq!(
        (o2["status"].as_str(), o2["cancel_reason"].as_str()),
        (Some("cancelled"), Some("insufficient_stock"))
    );
    assert_eq!(stock_of(&app, &shop, &sku).await, (0, 0, 0));
    // Cancelling the paid order puts the unit back where it was taken from.
    app.act(app.admin(), o1["id"].as_str().unwrap(), "cancel", json!({}))
        .await
        .expect(200);
    assert_eq!(stock_of(&app, &shop, &sku).await, (1, 0, 1));
    // And the log replays to the same order, allocation taken at payment included.
    let events = app.events(app.admin(), o1["id"].as_str().unwrap()).await;
    assert_eq!(
        events[1]["data"]["allocated"][0]["allocations"][0]["quantity"],
        1
    );
    let id: ordo_domain::ids::OrderId = o1["id"].as_str().unwrap().parse().unwrap();
    let log = app.store.order_events(id).await.unwrap();
    let stored = app.store.order(id).await.unwrap().unwrap();
    let replayed = ordo_domain::order::Order::replay(&log).unwrap();
    assert_eq!(replayed, stored);
    assert!(
        !replayed.lines[0].allocations.is_empty(),
        "the allocation came from the log"
    );
}

async fn adjustments_are_recorded_never_go_negative_and_low_stock_alerts_fire_once(app: TestApp) {
    let shop = vendor_with(&app, &[("L", 1000, 0, 10)], json!({})).await;
    let sku = format!("{}-L", shop.sku);
    let adjustments = format!("/api/v1/inventory/{sku}/adjustments");
    let adj = |delta: i64, reason: &str| {
        app.post(
            &adjustments,
            &shop.token,
            json!({ "delta": delta, "reason": reason, "note": "aisle 3 🧯" }),
        )
    };
    let a = adj(-3, "damage").await.expect(201);
    assert_eq!(
        (
            a["on_hand_after"].as_i64(),
            a["reason"].as_str(),
            a["actor_role"].as_str()
        ),
        (Some(7), Some("damage"), Some("vendor"))
    );
    let low = || app.get("/api/v1/low-stock", &shop.token);
    assert_eq!(low().await.expect(200)["data"], json!([]));
    // Two reserved: 5 available, at the threshold → low, and one stock.low event.
    let customer = app.customer().await;
    app.order(&customer, &sku, 2, None).await.expect(201);
    let listed = low().await.expect(200);
    assert_eq!(
        listed["data"],
        json!([{ "sku": sku, "low_stock_threshold": 5, "available": 5 }])
    );
    app.order(&customer, &sku, 1, None).await.expect(201);
    let events = app.outbox("stock.low").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0]["sku"].as_str(), events[0]["available"].as_i64()),
        (Some(sku.as_str()), Some(5))
    );
    // 4 available: removing 5 would leave less than is reserved.
    let err = adj(-5, "correction")
        .await
        .expect_error(409, "would_go_negative");
    assert_eq!(err["field"], "delta");
    assert_eq!(stock_of(&app, &shop, &sku).await, (7, 3, 4));
    adj(10, "receipt").await.expect(201);
    assert_eq!(stock_of(&app, &shop, &sku).await, (17, 3, 14));
    assert_eq!(low().await.expect(200)["data"], json!([]));
    adj(1, "stolen").await.expect_error(400, "invalid_reason");
    // The most negative number there is (a fuzzer found it overflowed a check): refused, too.
    let e = adj(i64::MIN, "damage")
        .await
        .expect_error(400, "invalid_quantity");
    assert_eq!(e["field"], "delta");
    let history = app
        .get(&format!("/api/v1/inventory/{sku}/adjustments"), &shop.token)
        .await
        .expect(200);
    let deltas: Vec<i64> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["delta"].as_i64().unwrap())
        .collect();
    // Newest first; the first level, set from a count, is recorded as a correction too.
    assert_eq!(deltas, vec![10, -3, 10]);
    assert_eq!(history["data"][1]["note"], "aisle 3 🧯");
    assert_eq!(history["data"][2]["reason"], "correction");
    app.get(&format!("/api/v1/inventory/{sku}/adjustments"), &customer)
        .await
        .expect_error(403, "forbidden");
    // Switching the alert off: stock falls far below the old threshold and nothing fires.
    app.put(
        &format!("/api/v1/inventory/{sku}/low-stock-threshold"),
        &shop.token,
        json!({ "low_stock_threshold": null }),
    )
    .await
    .expect(204);
    let alerts = app.outbox("stock.low").await.len();
    adj(-12, "damage").await.expect(201);
    assert_eq!(stock_of(&app, &shop, &sku).await, (5, 3, 2));
    assert_eq!(
        app.outbox("stock.low").await.len(),
        alerts,
        "no alert once switched off"
    );
    assert_eq!(low().await.expect(200)["data"], json!([]));
}

async fn fx_rates_price_a_cart_in_a_currency_the_vendor_does_not_sell_in(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    // Only admins keep pricing rules; bad rules are refused with the field named.
    app.put(
        "/api/v1/fx-rates",
        &shop.token,
        json!({ "from": "EUR", "to": "JPY", "rate": "161.235" }),
    )
    .await
    .expect_error(403, "forbidden");
    let err = app
        .put(
            "/api/v1/fx-rates",
            app.admin(),
            json!({ "from": "EUR", "to": "JPY", "rate": "1,6" }),
        )
        .await
        .expect_error(400, "invalid_rate");
    assert_eq!(err["field"], "rate");
    let err = app
        .post(
            "/api/v1/tax-rules",
            app.admin(),
            json!({ "country": "XX", "rate": "5", "mode": "inclusive", "name": "x" }),
        )
        .await
        .expect_error(400, "invalid_country");
    assert_eq!(err["field"], "country");
    let body = json!({ "currency": "JPY", "lines": [{ "sku": shop.sku, "quantity": 2 }], "shipping_address": address() });
    let cart = app.post("/api/v1/carts", &customer, body).await.expect(201);
    assert_eq!(cart["problems"][0]["code"], "price_unavailable", "{cart}");
    let rate = app
        .put(
            "/api/v1/fx-rates",
            app.admin(),
            json!({ "from": "EUR", "to": "JPY", "rate": "161.235", "rounding": "half_up" }),
        )
        .await
        .expect(200);
    // Setting the pair again replaces it, keeping its id.
    let again = app
        .put(
            "/api/v1/fx-rates",
            app.admin(),
            json!({ "from": "EUR", "to": "JPY", "rate": "161.235" }),
        )
        .await
        .expect(200);
    assert_eq!(again["id"], rate["id"]);
    // 12.50 EUR × 161.235 = 2015.4375 JPY, which has no minor unit: 2015.
    let cart = app
        .get(
            &format!("/api/v1/carts/{}", cart["id"].as_str().unwrap()),
            &customer,
        )
        .await
        .expect(200);
    assert_eq!(
        cart["lines"][0]["unit_price"],
        json!({ "amount": 2015, "currency": "JPY" })
    );
    let done = checkout(&app, &customer, &cart).await.expect(201);
    let line = &done["orders"][0]["items"][0];
    assert_eq!(
        line["line_total"],
        json!({ "amount": 4030, "currency": "JPY" })
    );
    assert_eq!(
        line["fx"]["original"],
        json!({ "amount": 1250, "currency": "EUR" })
    );
    assert_eq!(line["fx"]["rate"], "161.235");
}

async fn unpaid_orders_are_cancelled_when_their_reservation_expires(app: TestApp) {
    let shop = app.shop(5).await;
    let customer = app.customer().await;
    let unpaid = app.order(&customer, &shop.sku, 2, None).await.expect(201);
    let paid = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    assert!(unpaid["reserved_until"].is_string());
    app.act(app.admin(), paid["id"].as_str().unwrap(), "pay", json!({}))
        .await
        .expect(200);
    assert_eq!(app.stock(&shop).await, (4, 2, 2));
    let path = format!("/api/v1/orders/{}", unpaid["id"].as_str().unwrap());

    // Just before the deadline nothing happens…
    app.advance(app.app.settings.reservation_ttl - chrono::Duration::seconds(1));
    app.run_jobs().await;
    assert_eq!(
        app.get(&path, &customer).await.expect(200)["status"],
        "pending_payment"
    );
    // …and once it has passed (found within one sweep), the order is cancelled and its
    // stock released.
    let sweep = chrono::Duration::from_std(app.app.settings.expiry_sweep).unwrap();
    app.advance(sweep + chrono::Duration::seconds(2));
    app.run_jobs().await;
    let order = app.get(&path, &customer).await.expect(200);
    assert_eq!(
        (order["status"].as_str(), order["cancel_reason"].as_str()),
        (Some("cancelled"), Some("payment_timeout")),
        "{order}"
    );
    assert!(order.get("reserved_until").is_none());
    // The units are available again; the paid order kept its stock.
    assert_eq!(app.stock(&shop).await, (4, 0, 4));
    let paid = app
        .get(
            &format!("/api/v1/orders/{}", paid["id"].as_str().unwrap()),
            &customer,
        )
        .await
        .expect(200);
    assert_eq!(paid["status"], "paid");
    let events = app.events(&customer, unpaid["id"].as_str().unwrap()).await;
    assert_eq!(events.last().unwrap()["actor"]["role"], "system");
}

async fn bad_cart_input_is_refused_in_the_error_shape_and_changes_nothing(app: TestApp) {
    let shop = app.shop(5).await;
    let customer = app.customer().await;
    let create = |body: Value| app.post("/api/v1/carts", &customer, body);
    let e = create(json!({ "currency": "EUR", "lines": [{ "sku": "NOPE", "quantity": 1 }] }))
        .await
        .expect_error(400, "unknown_sku");
    assert_eq!(e["field"], "lines[0].sku");
    let e = create(json!({ "currency": "EUR", "lines": [{ "sku": shop.sku, "quantity": 0 }] }))
        .await
        .expect_error(400, "invalid_quantity");
    assert_eq!(e["field"], "lines[0].quantity");
    create(json!({ "currency": "eur" }))
        .await
        .expect_error(400, "invalid_currency");
    create(json!({ "currency": "EUR", "promo_code": "NOSUCH" }))
        .await
        .expect_error(422, "unknown_promotion_code");
    let mut bad = address();
    bad["country"] = json!("XX");
    let e = create(json!({ "currency": "EUR", "shipping_address": bad }))
        .await
        .expect_error(400, "invalid_country");
    assert_eq!(e["field"], "shipping_address.country");
    let e = create(json!({ "currency": "EUR", "colour": "red" }))
        .await
        .expect_error(400, "invalid_body");
    assert!(e["message"].as_str().unwrap().contains("colour"), "{e}");
    app.post("/api/v1/carts", &shop.token, json!({ "currency": "EUR" }))
        .await
        .expect_error(403, "forbidden");
    // None of that made a cart: the first good call creates it.
    let cart = app
        .post("/api/v1/carts", &customer, json!({ "currency": "EUR" }))
        .await
        .expect(201);
    assert_eq!(cart["version"], 1);
    checkout(&app, &customer, &cart)
        .await
        .expect_error(400, "empty_cart");
    let id = cart["id"].as_str().unwrap();
    app.patch(
        &format!("/api/v1/carts/{id}/lines/{}", shop.sku),
        &customer,
        json!({ "quantity": 1 }),
    )
    .await
    .expect_error(404, "not_found");
    app.post(
        &format!("/api/v1/carts/{id}/lines"),
        &customer,
        json!({ "sku": shop.sku, "quantity": 1 }),
    )
    .await
    .expect(200);
    checkout(&app, &customer, &cart)
        .await
        .expect_error(400, "missing_address");
    // Another customer's token opens nothing.
    let other = app.customer().await;
    app.post(
        &format!("/api/v1/carts/{id}/lines"),
        &other,
        json!({ "sku": shop.sku, "quantity": 1 }),
    )
    .await
    .expect_error(404, "not_found");
    assert_eq!(app.stock(&shop).await, (5, 0, 5));
}

async fn price_lists_are_kept_per_currency_by_the_vendor(app: TestApp) {
    let shop = app.shop(10).await;
    let other = app.shop(10).await;
    let path = format!("/api/v1/prices/{}/GBP", shop.sku);
    app.put(&path, &shop.token, json!({ "amount": 1099 }))
        .await
        .expect(204);
    // Another vendor's staff cannot touch it; bad input names its field.
    app.put(&path, &other.token, json!({ "amount": 1 }))
        .await
        .expect_error(404, "not_found");
    let e = app
        .put(&path, &shop.token, json!({ "amount": -5 }))
        .await
        .expect_error(400, "invalid_amount");
    assert_eq!(e["field"], "amount");
    app.put(
        &format!("/api/v1/prices/{}/QQQ", shop.sku),
        &shop.token,
        json!({ "amount": 5 }),
    )
    .await
    .expect_error(400, "invalid_currency");
    let list = app
        .get(
            &format!("/api/v1/price-lists/GBP?vendor_id={}", shop.vendor_id),
            &shop.token,
        )
        .await
        .expect(200);
    assert_eq!(
        list["data"],
        json!([{ "sku": shop.sku, "vendor_id": shop.vendor_id, "price": { "amount": 1099, "currency": "GBP" } }])
    );
    // A cart in GBP uses the price list; a changed price shows at once, an order keeps its own.
    let customer = app.customer().await;
    let body = json!({ "currency": "GBP", "lines": [{ "sku": shop.sku, "quantity": 1 }], "shipping_address": address() });
    let cart = app.post("/api/v1/carts", &customer, body).await.expect(201);
    assert_eq!(cart["total"]["amount"], 1099);
    let done = checkout(&app, &customer, &cart).await.expect(201);
    app.put(&path, &shop.token, json!({ "amount": 1199 }))
        .await
        .expect(204);
    let order = app
        .get(
            &format!(
                "/api/v1/orders/{}",
                done["orders"][0]["id"].as_str().unwrap()
            ),
            &customer,
        )
        .await
        .expect(200);
    assert_eq!(order["total"]["amount"], 1099);
    app.request(reqwest::Method::DELETE, &path, Some(&shop.token), None)
        .await
        .expect(204);
    app.request(reqwest::Method::DELETE, &path, Some(&shop.token), None)
        .await
        .expect_error(404, "not_found");
    let list = app
        .get("/api/v1/price-lists/GBP", &shop.token)
        .await
        .expect(200);
    assert_eq!(list["data"], json!([]));
}

async fn a_cart_checked_out_twice_at_once_places_its_orders_once(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let cart = cart_of(
        &app,
        &customer,
        json!([{ "sku": shop.sku, "quantity": 3 }]),
        json!({}),
    )
    .await;
    // Eight tabs, eight different keys, the same cart, at the same moment.
    let path = format!("/api/v1/carts/{}/checkout", cart["id"].as_str().unwrap());
    let results = join_all((0..8).map(|i| {
        let key = format!("tab-{i}-{}", uuid::Uuid::now_v7());
        let path = path.clone();
        let customer = customer.clone();
        let app = &app;
        async move {
            app.call(
                reqwest::Method::POST,
                &path,
                crate::harness::Auth::Bearer(&customer),
                Some(&key),
                Some("{}".to_owned()),
            )
            .await
        }
    }))
    .await;
    assert_eq!(tally(&results, "cart_closed"), (1, 7));
    assert_eq!(app.stock(&shop).await, (10, 3, 7));
    let mine = app.get("/api/v1/orders", &customer).await.expect(200);
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
}

async fn a_vendors_code_discounts_only_that_vendors_order(app: TestApp) {
    let a = vendor_with(&app, &[("A", 4000, 0, 10)], json!({})).await;
    let b = vendor_with(&app, &[("B", 6000, 0, 10)], json!({})).await;
    app.post(
        "/api/v1/promotions",
        app.admin(),
        json!({ "code": "ASHOP", "name": "A's 25 %", "percent": "25",
        "vendor_id": a.vendor_id, "min_subtotal": { "amount": 3000, "currency": "EUR" } }),
    )
    .await
    .expect(201);
    let customer = app.customer().await;
    let cart = cart_of(&app, &customer,
        json!([{ "sku": format!("{}-A", a.sku), "quantity": 1 }, { "sku": format!("{}-B", b.sku), "quantity": 1 }]),
        json!({ "promo_code": "ashop" })).await;
    assert_eq!(cart["promo_code"], "ASHOP");
    assert_eq!(cart["total"]["amount"], 4000 - 1000 + 6000, "{cart}");
    let done = checkout(&app, &customer, &cart).await.expect(201);
    for o in done["orders"].as_array().unwrap() {
        let discount = o["pricing"]["discount_total"]["amount"].as_i64().unwrap();
        if o["vendor_id"] == a.vendor_id.as_str() {
            assert_eq!(discount, 1000);
            assert_eq!(o["items"][0]["discount"]["amount"], 1000);
        } else {
            assert_eq!(discount, 0);
        }
    }
    // With none of the vendor's items the code does not apply: the cart says why, checkout refuses.
    let cart = cart_of(
        &app,
        &customer,
        json!([{ "sku": format!("{}-B", b.sku), "quantity": 1 }]),
        json!({ "promo_code": "ASHOP" }),
    )
    .await;
    assert_eq!(
        cart["problems"][0]["code"], "promotion_not_applicable",
        "{cart}"
    );
    assert_eq!(cart["total"]["amount"], 6000);
    checkout(&app, &customer, &cart)
        .await
        .expect_error(422, "promotion_not_applicable");
}
