//! Payments through the sandbox provider, on both databases: a card that pays moves the order
//! to `paid`; a decline leaves it waiting with its reason until another method pays; a client
//! confirms with the secret it is given, and a payment needing a second step waits for it;
//! refunds are capped per order even when twenty race; manual capture at shipment, and a
//! capture the provider fails is retried on the test clock until it goes through; an unknown
//! outcome is settled by fetching, never by charging again; payments by hand are in the ledger
//! with who and a reference; the reconciler finds what the client did at the provider alone.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::harness::{Kind, TestApp, address, on_both_backends, on_both_kinds};

on_both_backends!(
    a_card_that_pays_moves_the_order_to_paid_and_the_ledger_shows_it,
    a_declined_card_leaves_the_order_waiting_with_its_reason_until_another_pays,
    without_a_method_the_client_gets_a_secret_and_a_second_step_waits_for_the_customer,
    refunds_are_capped_per_order_even_when_twenty_race,
    an_unknown_outcome_is_settled_by_fetching_never_by_charging_again,
    the_reconciler_finds_what_the_client_did_at_the_provider_and_closes_what_nobody_paid,
);

async fn pay(app: &TestApp, token: &str, sku: &str, method: Option<&str>) -> crate::harness::Res {
    app.order_paying(token, sku, 1, method).await
}

async fn payment(app: &TestApp, token: &str, order: &Value) -> Value {
    let id = order["id"].as_str().unwrap();
    let list = app
        .get(&format!("/api/v1/orders/{id}/payments"), token)
        .await
        .expect(200);
    list["data"][0].clone()
}

fn kinds(payment: &Value) -> Vec<String> {
    payment["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn a_card_that_pays_moves_the_order_to_paid_and_the_ledger_shows_it(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let order = pay(&app, &customer, &shop.sku, Some("sandbox_card_ok"))
        .await
        .expect(201);
    assert_eq!(order["status"], "paid", "{order}");
    let total = order["total"]["amount"].as_i64().unwrap();
    let p = &order["payment"];
    assert_eq!(
        (
            p["provider"].as_str(),
            p["state"].as_str(),
            p["status"].as_str()
        ),
        (Some("sandbox"), Some("captured"), Some("paid"))
    );
    assert_eq!(p["amounts"]["captured"], total);
    assert!(p.get("client_secret").is_none(), "nothing left to confirm");
    // Stock taken for good: on hand 9, nothing reserved.
    assert_eq!(app.stock(&shop).await, (9, 0, 9));

    let seen = payment(&app, &customer, &order).await;
    assert_eq!(kinds(&seen), ["authorized", "capture_succeeded"]);
    assert_eq!(seen["orders"][0]["status"], "paid");
    assert_eq!(seen["orders"][0]["amount"], total);
    assert_eq!(payment(&app, &shop.token, &order).await["id"], seen["id"]);
    let stranger = app.customer().await;
    app.get(
        &format!("/api/v1/orders/{}/payments", id(&order)),
        &stranger,
    )
    .await
    .expect_error(404, "not_found");
    let events = app.events(&customer, &id(&order)).await;
    assert_eq!(events[1]["type"], "order.paid");
    assert_eq!(events[1]["actor"]["role"], "system");

    // A retried checkout (same key) is the same order and the same payment, charged once.
    let key = uuid::Uuid::now_v7().to_string();
    let body = json!({ "currency": "EUR", "items": [{ "sku": shop.sku, "quantity": 1 }],
                       "shipping_address": address(), "payment_method": "sandbox_card_ok" });
    let first = app
        .call(
            reqwest::Method::POST,
            "/api/v1/orders",
            crate::harness::Auth::Bearer(&customer),
            Some(&key),
            Some(body.to_string()),
        )
        .await
        .expect(201);
    let again = app
        .call(
            reqwest::Method::POST,
            "/api/v1/orders",
            crate::harness::Auth::Bearer(&customer),
            Some(&key),
            Some(body.to_string()),
        )
        .await
        .expect(201);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["status"], "paid");
    assert_eq!(again["payment"]["id"], first["payment"]["id"]);
    assert_eq!(
        kinds(&payment(&app, &customer, &first).await),
        ["authorized", "capture_succeeded"]
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM payments").await, 2);
}

async fn a_declined_card_leaves_the_order_waiting_with_its_reason_until_another_pays(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    // A method the provider cannot take is refused before anything is placed.
    let bad = pay(&app, &customer, &shop.sku, Some("4242424242424242"))
        .await
        .expect_error(400, "invalid_payment_method");
    assert_eq!(bad["field"], "payment_method");
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 0);
    assert_eq!(app.stock(&shop).await, (10, 0, 10));

    let order = pay(&app, &customer, &shop.sku, Some("sandbox_card_declined"))
        .await
        .expect(201);
    assert_eq!(order["status"], "pending_payment");
    let p = &order["payment"];
    assert_eq!(p["decline_code"], "card_declined");
    assert_eq!(p["state"], "requires_payment_method");
    assert_eq!(p["status"], "pending");
    // The stock stays reserved while the customer tries another card.
    assert_eq!(app.stock(&shop).await, (10, 1, 9));

    let confirm = format!("/api/v1/orders/{}/payments/confirm", id(&order));
    let again = app
        .post(
            &confirm,
            &customer,
            json!({ "payment_method": "sandbox_card_declined" }),
        )
        .await
        .expect(200);
    assert_eq!(again["decline_code"], "card_declined");
    let paid = app
        .post(
            &confirm,
            &customer,
            json!({ "payment_method": "sandbox_card_ok" }),
        )
        .await
        .expect(200);
    assert_eq!(paid["status"], "paid");
    assert!(paid.get("decline_code").is_none());
    let now = app
        .get(&format!("/api/v1/orders/{}", id(&order)), &customer)
        .await
        .expect(200);
    assert_eq!(now["status"], "paid");
    assert_eq!(app.stock(&shop).await, (9, 0, 9));
    app.post(
        &confirm,
        &customer,
        json!({ "payment_method": "sandbox_card_ok" }),
    )
    .await
    .expect_error(409, "order_not_awaiting_payment");
    // Only the customer pays.
    app.post(
        &confirm,
        &shop.token,
        json!({ "payment_method": "sandbox_card_ok" }),
    )
    .await
    .expect_error(403, "forbidden");
}

async fn without_a_method_the_client_gets_a_secret_and_a_second_step_waits_for_the_customer(
    app: TestApp,
) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let order = pay(&app, &customer, &shop.sku, None).await.expect(201);
    let p = &order["payment"];
    assert_eq!(p["state"], "requires_payment_method");
    assert!(p["client_secret"].as_str().unwrap().starts_with("sbx_pay_"));
    // The secret is the paying customer's alone.
    let staff_view = payment(&app, &shop.token, &order).await;
    assert!(staff_view.get("client_secret").is_none());

    let confirm = format!("/api/v1/orders/{}/payments/confirm", id(&order));
    let authenticate = format!("/api/v1/orders/{}/payments/authenticate", id(&order));
    let step = app
        .post(
            &confirm,
            &customer,
            json!({ "payment_method": "sandbox_card_3ds" }),
        )
        .await
        .expect(200);
    assert_eq!(step["state"], "requires_action");
    let failed = app
        .post(&authenticate, &customer, json!({ "success": false }))
        .await
        .expect(200);
    assert_eq!(
        (failed["state"].as_str(), failed["decline_code"].as_str()),
        (
            Some("requires_payment_method"),
            Some("authentication_failed")
        )
    );
    app.post(&authenticate, &customer, json!({ "success": true }))
        .await
        .expect_error(409, "payment_not_awaiting_action");
    app.post(
        &confirm,
        &customer,
        json!({ "payment_method": "sandbox_card_3ds" }),
    )
    .await
    .expect(200);
    let passed = app
        .post(&authenticate, &customer, json!({ "success": true }))
        .await
        .expect(200);
    assert_eq!(passed["status"], "paid");
    let now = app
        .get(&format!("/api/v1/orders/{}", id(&order)), &customer)
        .await
        .expect(200);
    assert_eq!(now["status"], "paid");
}

async fn refunds_are_capped_per_order_even_when_twenty_race(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let (_, support) = app.user("support", None).await;
    let order = pay(&app, &customer, &shop.sku, Some("sandbox_card_ok"))
        .await
        .expect(201);
    let total = order["total"]["amount"].as_i64().unwrap();
    let refunds = format!("/api/v1/orders/{}/refunds", id(&order));
    // Customers and vendors do not refund.
    for token in [&customer, &shop.token] {
        app.post(&refunds, token, json!({ "amount": 1 }))
            .await
            .expect_error(403, "forbidden");
    }
    app.post(&refunds, &support, json!({ "amount": 0 }))
        .await
        .expect_error(400, "invalid_amount");

    let part = total * 30 / 100;
    let answers = join_all((0..20).map(|_| {
        app.post(
            &refunds,
            &support,
            json!({ "amount": part, "reason": "damaged" }),
        )
    }))
    .await;
    let ok = answers.iter().filter(|r| r.status == 200).count();
    let capped = answers
        .iter()
        .filter(|r| r.status == 409 && r.body["error"]["code"] == "refund_exceeds_captured")
        .count();
    assert_eq!(
        (ok, capped),
        (3, 17),
        "three of 30 % fit, the rest are refused"
    );
    let p = payment(&app, &support, &order).await;
    assert_eq!(p["amounts"]["refunded"], 3 * part);
    assert_eq!(p["amounts"]["refunding"], 0);
    assert_eq!(p["status"], "partially_refunded");
    let rest = total - 3 * part;
    let done = app
        .post(&refunds, &support, json!({ "amount": rest }))
        .await
        .expect(200);
    assert_eq!(done["status"], "refunded");
    assert_eq!(done["amounts"]["refunded"], total);
    app.post(&refunds, &support, json!({ "amount": 1 }))
        .await
        .expect_error(409, "refund_exceeds_captured");
    let succeeded = kinds(&done)
        .iter()
        .filter(|k| *k == "refund_succeeded")
        .count();
    assert_eq!(succeeded, 4);
    // A refund is a sensitive action: past the step-up window it needs a fresh proof.
    app.advance(chrono::Duration::minutes(10));
    app.post(&refunds, &support, json!({ "amount": 1 }))
        .await
        .expect_error(401, "step_up_required");
}

async fn an_unknown_outcome_is_settled_by_fetching_never_by_charging_again(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let order = pay(&app, &customer, &shop.sku, Some("sandbox_card_timeout"))
        .await
        .expect(201);
    assert_eq!(order["status"], "paid", "the charge went through: fetched");
    let p = payment(&app, &customer, &order).await;
    assert_eq!(kinds(&p), ["authorized", "capture_succeeded"]);
    assert_eq!(p["amounts"]["captured"], order["total"]["amount"]);
    // The reconciler asks again later: nothing more is charged or recorded.
    app.advance(chrono::Duration::minutes(2));
    app.run_jobs().await;
    assert_eq!(kinds(&payment(&app, &customer, &order).await).len(), 2);
}

async fn the_reconciler_finds_what_the_client_did_at_the_provider_and_closes_what_nobody_paid(
    app: TestApp,
) {
    use ordo_app::payments::PaymentProvider;
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let order = pay(&app, &customer, &shop.sku, None).await.expect(201);
    let reference = payment(&app, &customer, &order).await["provider_ref"]
        .as_str()
        .unwrap()
        .to_owned();
    // The customer's client confirms at the provider itself, and no word reaches Ordo.
    app.app
        .sandbox()
        .unwrap()
        .confirm(&reference, "sandbox_card_ok", "client-side")
        .await
        .unwrap();
    app.advance(chrono::Duration::seconds(61));
    app.run_jobs().await;
    let now = app
        .get(&format!("/api/v1/orders/{}", id(&order)), &customer)
        .await
        .expect(200);
    assert_eq!(now["status"], "paid", "the reconciler found the payment");

    // Nobody pays this one: the reservation runs out, the order is cancelled, and the intent
    // still open at the provider is cancelled so it can no longer be paid.
    let unpaid = pay(&app, &customer, &shop.sku, None).await.expect(201);
    for _ in 0..4 {
        app.advance(chrono::Duration::minutes(8));
        app.run_jobs().await;
    }
    let gone = app
        .get(&format!("/api/v1/orders/{}", id(&unpaid)), &customer)
        .await
        .expect(200);
    assert_eq!(gone["status"], "cancelled");
    let p = payment(&app, &customer, &unpaid).await;
    assert_eq!(p["state"], "canceled");
    let reference = p["provider_ref"].as_str().unwrap();
    assert_eq!(
        app.app
            .sandbox()
            .unwrap()
            .fetch(reference)
            .await
            .unwrap()
            .state,
        ordo_domain::payment::PaymentState::Canceled
    );
}

/// Manual capture (`--capture manual`): paid at authorization, captured by the vendor; a
/// capture the provider fails for a passing reason is retried from five minutes, on the test
/// clock, until it goes through; a void lets the rest go.
async fn manual_capture_and_retried_captures(kind: Kind) {
    let settings = ordo_app::Settings {
        payments: ordo_app::payments::PaymentSettings {
            capture: ordo_app::payments::CapturePolicy::Manual,
            ..Default::default()
        },
        ..ordo_app::Settings::default()
    };
    let Some(app) = TestApp::spawn_with(kind, settings).await else {
        return;
    };
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let order = pay(&app, &customer, &shop.sku, Some("sandbox_card_ok"))
        .await
        .expect(201);
    let total = order["total"]["amount"].as_i64().unwrap();
    assert_eq!(order["status"], "paid");
    assert_eq!(
        (
            order["payment"]["state"].as_str(),
            order["payment"]["status"].as_str()
        ),
        (Some("authorized"), Some("authorized"))
    );
    assert!(order["payment"]["capture_before"].is_string());
    let capture = format!("/api/v1/orders/{}/payments/capture", id(&order));
    app.post(&capture, &customer, json!({}))
        .await
        .expect_error(403, "forbidden");
    app.post(&capture, &shop.token, json!({ "amount": total + 1 }))
        .await
        .expect_error(409, "capture_exceeds_authorized");
    let captured = app.post(&capture, &shop.token, json!({})).await.expect(200);
    assert_eq!(
        (captured["state"].as_str(), captured["status"].as_str()),
        (Some("captured"), Some("paid"))
    );

    // The processor is down for the first two tries.
    let flaky = pay(
        &app,
        &customer,
        &shop.sku,
        Some("sandbox_card_capture_fails_2"),
    )
    .await
    .expect(201);
    let capture = format!("/api/v1/orders/{}/payments/capture", id(&flaky));
    let waiting = app.post(&capture, &shop.token, json!({})).await.expect(200);
    assert_eq!(waiting["amounts"]["capturing"], total, "asked, not done");
    app.post(&capture, &shop.token, json!({}))
        .await
        .expect_error(409, "capture_exceeds_authorized");
    assert_eq!(
        app.run_jobs().await.retried,
        0,
        "not tried again before five minutes"
    );
    app.advance(chrono::Duration::minutes(5));
    let run = app.run_jobs().await;
    assert_eq!(run.retried, 1, "{run:?}");
    let p = payment(&app, &customer, &flaky).await;
    assert_eq!(p["amounts"]["capturing"], total, "still asked");
    app.advance(chrono::Duration::minutes(10));
    app.run_jobs().await;
    let p = payment(&app, &customer, &flaky).await;
    assert_eq!(
        (
            p["amounts"]["captured"].as_i64(),
            p["amounts"]["capturing"].as_i64()
        ),
        (Some(total), Some(0))
    );
    assert_eq!(
        kinds(&p),
        ["authorized", "capture_requested", "capture_succeeded"]
    );

    // The provider captures but its answer is lost: the request stays open (its amount counted),
    // and the retry with the same key learns it was done — captured once, not twice.
    let lost = pay(
        &app,
        &customer,
        &shop.sku,
        Some("sandbox_card_capture_unknown"),
    )
    .await
    .expect(201);
    let capture = format!("/api/v1/orders/{}/payments/capture", id(&lost));
    let asked = app.post(&capture, &shop.token, json!({})).await.expect(200);
    assert_eq!(
        (
            asked["amounts"]["capturing"].as_i64(),
            asked["amounts"]["captured"].as_i64()
        ),
        (Some(total), Some(0))
    );
    app.advance(chrono::Duration::minutes(5));
    app.run_jobs().await;
    let p = payment(&app, &customer, &lost).await;
    assert_eq!(
        (
            p["amounts"]["captured"].as_i64(),
            p["amounts"]["capturing"].as_i64()
        ),
        (Some(total), Some(0))
    );
    let reference = p["provider_ref"].as_str().unwrap();
    use ordo_app::payments::PaymentProvider;
    assert_eq!(
        app.app
            .sandbox()
            .unwrap()
            .fetch(reference)
            .await
            .unwrap()
            .captured,
        total,
        "charged once"
    );

    // A void lets the authorization go.
    let third = pay(&app, &customer, &shop.sku, Some("sandbox_card_ok"))
        .await
        .expect(201);
    let void = format!("/api/v1/orders/{}/payments/void", id(&third));
    let voided = app.post(&void, &shop.token, json!({})).await.expect(200);
    assert_eq!(
        (voided["state"].as_str(), voided["status"].as_str()),
        (Some("canceled"), Some("voided"))
    );
    app.post(&void, &shop.token, json!({}))
        .await
        .expect_error(409, "nothing_to_void");
}

/// With payments off (`--payments off`) orders are paid by hand: the admin's `pay` is in the
/// ledger with who and a reference, and a method is refused.
async fn payments_by_hand(kind: Kind) {
    let settings = ordo_app::Settings {
        payments: ordo_app::payments::PaymentSettings {
            provider: ordo_app::payments::ProviderChoice::Off,
            ..Default::default()
        },
        ..ordo_app::Settings::default()
    };
    let Some(app) = TestApp::spawn_with(kind, settings).await else {
        return;
    };
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    pay(&app, &customer, &shop.sku, Some("sandbox_card_ok"))
        .await
        .expect_error(422, "payments_off");
    let order = pay(&app, &customer, &shop.sku, None).await.expect(201);
    assert!(order.get("payment").is_none());
    let none = app
        .get(
            &format!("/api/v1/orders/{}/payments", id(&order)),
            &customer,
        )
        .await
        .expect(200);
    assert_eq!(none["data"], json!([]));
    app.act(
        app.admin(),
        &id(&order),
        "pay",
        json!({ "reason": "bank transfer 4711" }),
    )
    .await
    .expect(200);
    let p = payment(&app, &customer, &order).await;
    assert_eq!(
        (p["provider"].as_str(), p["status"].as_str()),
        (Some("manual"), Some("paid"))
    );
    let row = &p["ledger"][0];
    assert_eq!(row["kind"], "manual_payment");
    assert_eq!(row["reference"], "bank transfer 4711");
    assert_eq!(row["actor"]["role"], "admin");
    assert_eq!(row["amount"], order["total"]["amount"]);
    // Money is not moved through a provider that holds none of it.
    let (_, support) = app.user("support", None).await;
    app.post(
        &format!("/api/v1/orders/{}/refunds", id(&order)),
        &support,
        json!({ "amount": 1 }),
    )
    .await
    .expect_error(409, "payment_not_at_provider");
}

on_both_kinds!(
    manual_capture_and_retried_captures,
    payments_by_hand,
    orders_are_found_by_their_payment_status,
);

/// Orders by the payment status of their share: through the API (a page at a time, with the
/// order status too) and the vendor's queue; each status written as the money moves.
async fn orders_are_found_by_their_payment_status(kind: Kind) {
    let settings = ordo_app::Settings {
        payments: ordo_app::payments::PaymentSettings {
            capture: ordo_app::payments::CapturePolicy::Manual,
            ..Default::default()
        },
        ..ordo_app::Settings::default()
    };
    let Some(app) = TestApp::spawn_with(kind, settings).await else {
        return;
    };
    let shop = app.shop(20).await;
    let other = app.shop(5).await;
    let customer = app.customer().await;
    let id = |o: &Value| o["id"].as_str().unwrap().to_owned();
    let unpaid = id(&pay(&app, &customer, &shop.sku, None).await.expect(201));
    let held = id(&pay(&app, &customer, &shop.sku, Some("sandbox_card_ok"))
        .await
        .expect(201));
    let paid = id(&pay(&app, &customer, &shop.sku, Some("sandbox_card_ok"))
        .await
        .expect(201));
    let refunded = id(&pay(&app, &customer, &shop.sku, Some("sandbox_card_ok"))
        .await
        .expect(201));
    let held_later = id(&pay(&app, &customer, &shop.sku, Some("sandbox_card_ok"))
        .await
        .expect(201));
    for order in [&paid, &refunded] {
        app.post(
            &format!("/api/v1/orders/{order}/payments/capture"),
            &shop.token,
            json!({}),
        )
        .await
        .expect(200);
    }
    app.post(
        &format!("/api/v1/orders/{refunded}/refunds"),
        app.admin(),
        json!({ "amount": 100 }),
    )
    .await
    .expect(200);

    let found = |token: String, query: &'static str| {
        let app = &app;
        async move {
            let page = app
                .get(&format!("/api/v1/orders?{query}"), &token)
                .await
                .expect(200);
            let ids: Vec<String> = page["data"].as_array().unwrap().iter().map(id).collect();
            (ids, page["has_more"] == true)
        }
    };
    let vendor = shop.token.clone();
    assert_eq!(
        found(vendor.clone(), "payment_status=authorized").await,
        (vec![held_later.clone(), held.clone()], false)
    );
    assert_eq!(
        found(vendor.clone(), "payment_status=paid").await.0,
        [paid.as_str()]
    );
    assert_eq!(
        found(vendor.clone(), "payment_status=partially_refunded")
            .await
            .0,
        [refunded.as_str()]
    );
    assert_eq!(
        found(vendor.clone(), "payment_status=pending").await.0,
        [unpaid.as_str()]
    );
    assert!(
        found(vendor.clone(), "payment_status=refunded")
            .await
            .0
            .is_empty()
    );
    // With the order's status too; and a page at a time.
    assert_eq!(
        found(vendor.clone(), "status=paid&payment_status=authorized")
            .await
            .0,
        [held_later.clone(), held.clone()]
    );
    assert!(
        found(
            vendor.clone(),
            "status=pending_payment&payment_status=authorized"
        )
        .await
        .0
        .is_empty()
    );
    let first = found(vendor.clone(), "payment_status=authorized&limit=1").await;
    assert_eq!(first, (vec![held_later.clone()], true));
    let next = app
        .get(
            &format!(
                "/api/v1/orders?payment_status=authorized&limit=1&starting_after={held_later}"
            ),
            &shop.token,
        )
        .await
        .expect(200);
    assert_eq!(next["data"][0]["id"], held.as_str());
    assert_eq!(next["has_more"], false);
    // Everyone's (support, admins) and the customer's own; never another vendor's.
    assert_eq!(
        found(app.admin().to_owned(), "payment_status=paid").await.0,
        [paid.as_str()]
    );
    assert_eq!(
        found(customer.clone(), "payment_status=pending").await.0,
        [unpaid.as_str()]
    );
    assert!(
        found(other.token.clone(), "payment_status=authorized")
            .await
            .0
            .is_empty()
    );
    app.get("/api/v1/orders?payment_status=settled", &shop.token)
        .await
        .expect_error(400, "invalid_payment_status");

    // The vendor's queue filters the same way, its count capped as ever.
    let page = app
        .client
        .get(format!("{}/vendor?payment=authorized", app.base))
        .header("cookie", format!("ordo_session={}", shop.token))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let all = &page[page.find("all-title").unwrap()..];
    assert!(all.contains("(2)"), "{all}");
    assert!(all.contains(&held) && all.contains(&held_later) && !all.contains(&paid));
    assert!(all.contains(r#"<option value="authorized" selected>"#));
}
