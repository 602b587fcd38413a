//! The exception queue (seed 003's stages): a capture the provider keeps failing is retried on
//! the test clock, then handed to people in plain words; support resolves it with "retry now"
//! and the money is captured; escalation hands an item to engineering, who alone see the
//! technical detail; money that arrives for a cancelled order goes straight back, and what only
//! people can return (a payment by hand) is flagged and marked refunded by hand. On both
//! databases, through the HTTP API.

use serde_json::{Value, json};

use crate::harness::{Kind, TestApp, on_both_kinds};

async fn spawn(kind: Kind) -> Option<TestApp> {
    let settings = ordo_app::Settings {
        payments: ordo_app::payments::PaymentSettings {
            capture: ordo_app::payments::CapturePolicy::Manual,
            attempts: 2,
            ..Default::default()
        },
        ..ordo_app::Settings::default()
    };
    TestApp::spawn_with(kind, settings).await
}

async fn place(app: &TestApp, token: &str, sku: &str, method: Option<&str>) -> Value {
    app.order_paying(token, sku, 1, method).await.expect(201)
}

async fn open_items(app: &TestApp, token: &str) -> Vec<Value> {
    app.get("/api/v1/exceptions?status=open", token)
        .await
        .expect(200)["data"]
        .as_array()
        .unwrap()
        .clone()
}

fn kinds(payment: &Value) -> Vec<String> {
    payment["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_failing_capture_is_retried_then_queued_and_support_retries_it(kind: Kind) {
    let Some(app) = spawn(kind).await else { return };
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let (_, support) = app.user("support", None).await;
    // The processor fails the first three captures.
    let order = place(
        &app,
        &customer,
        &shop.sku,
        Some("sandbox_card_capture_fails_3"),
    )
    .await;
    let id = order["id"].as_str().unwrap();
    let capture = format!("/api/v1/orders/{id}/payments/capture");
    app.post(&capture, &shop.token, json!({})).await.expect(200);
    assert!(open_items(&app, &support).await.is_empty(), "stage 1 first");
    app.advance(chrono::Duration::minutes(5));
    app.run_jobs().await;
    assert!(
        open_items(&app, &support).await.is_empty(),
        "retried once more"
    );
    app.advance(chrono::Duration::minutes(10));
    app.run_jobs().await;

    // Given up: in the queue, in plain words, with what may be done.
    let items = open_items(&app, &support).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(item["kind"], "payment_capture_failed");
    assert_eq!(item["order_id"], order["id"]);
    let summary = item["summary"].as_str().unwrap();
    assert!(summary.contains("did not answer (2 tries)"), "{summary}");
    assert!(summary.contains("€"), "{summary}");
    assert_eq!(
        item["resolutions"],
        json!([
            "retry_now",
            "mark_paid",
            "cancel_order",
            "contact_customer",
            "dismiss"
        ])
    );
    assert!(
        item.get("detail").is_none(),
        "the technical detail is not for support"
    );
    assert_eq!(item["tried"].as_array().unwrap().len(), 2);
    let item_id = item["id"].as_str().unwrap();
    let admin_view = app
        .get(&format!("/api/v1/exceptions/{item_id}"), app.admin())
        .await
        .expect(200);
    assert!(
        admin_view["detail"]
            .as_str()
            .unwrap()
            .contains("processor unavailable")
    );
    let of_order = app
        .get(&format!("/api/v1/exceptions?order_id={id}"), &support)
        .await
        .expect(200);
    assert_eq!(of_order["data"].as_array().unwrap().len(), 1);

    // Only support and admins see and work the queue.
    for token in [&customer, &shop.token] {
        app.get("/api/v1/exceptions", token)
            .await
            .expect_error(403, "forbidden");
        app.post(
            &format!("/api/v1/exceptions/{item_id}/resolve"),
            token,
            json!({ "resolution": "retry_now" }),
        )
        .await
        .expect_error(403, "forbidden");
    }
    let resolve = format!("/api/v1/exceptions/{item_id}/resolve");
    app.post(&resolve, &support, json!({ "resolution": "refund" }))
        .await
        .expect_error(422, "resolution_not_allowed");
    app.post(&resolve, &support, json!({ "resolution": "dismiss" }))
        .await
        .expect_error(400, "note_required");
    let done = app
        .post(
            &resolve,
            &support,
            json!({ "resolution": "retry_now", "note": "processor is back" }),
        )
        .await
        .expect(200);
    assert_eq!(done["status"], "resolved");
    assert_eq!(done["resolution"]["resolution"], "retry_now");
    assert_eq!(done["resolution"]["by"]["role"], "support");
    assert!(
        done["resolution"]["outcome"]
            .as_str()
            .unwrap()
            .contains("paid")
    );
    assert_eq!(done["resolutions"], json!([]));
    let p = app
        .get(&format!("/api/v1/orders/{id}/payments"), &support)
        .await
        .expect(200)["data"][0]
        .clone();
    assert_eq!(p["state"], "captured");
    assert_eq!(p["amounts"]["captured"], order["total"]["amount"]);
    assert_eq!(
        kinds(&p),
        [
            "authorized",
            "capture_requested",
            "capture_failed",
            "capture_requested",
            "capture_succeeded"
        ]
    );
    app.post(&resolve, &support, json!({ "resolution": "retry_now" }))
        .await
        .expect_error(409, "exception_resolved");
    assert!(open_items(&app, &support).await.is_empty());
}

/// Money that comes for an order already cancelled goes straight back (its authorization is
/// released); a payment by hand for a cancelled order is flagged for people, escalated to
/// engineering, and marked refunded by hand with its reference.
async fn money_for_a_cancelled_order_goes_back_and_what_only_people_can_return_is_flagged(
    kind: Kind,
) {
    let Some(app) = spawn(kind).await else { return };
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let (_, support) = app.user("support", None).await;
    let order = place(&app, &customer, &shop.sku, None).await;
    let id = order["id"].as_str().unwrap();
    let reference = order["payment"]["provider_ref"]
        .as_str()
        .unwrap()
        .to_owned();
    app.act(
        &customer,
        id,
        "cancel",
        json!({ "reason": "changed my mind" }),
    )
    .await
    .expect(200);
    // The customer's browser had already sent the card: it goes through at the provider, and
    // its webhook reaches Ordo through the intake.
    use ordo_app::payments::PaymentProvider;
    let sandbox = app.app.sandbox().unwrap();
    sandbox
        .confirm(&reference, "sandbox_card_ok", "browser")
        .await
        .unwrap();
    let (signature, body) = sandbox
        .webhook(
            &reference,
            "payment_intent.amount_capturable_updated",
            ordo_app::clock::Clock::now(&*app.clock),
        )
        .unwrap();
    let res = app
        .client
        .post(format!("{}/api/v1/payments/webhooks/sandbox", app.base))
        .header("Stripe-Signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.run_jobs().await;
    let p = app
        .get(&format!("/api/v1/orders/{id}/payments"), &support)
        .await
        .expect(200)["data"][0]
        .clone();
    assert_eq!(p["status"], "voided", "the authorization let go: {p}");
    assert_eq!(p["amounts"]["captured"], 0);
    assert!(
        open_items(&app, &support).await.is_empty(),
        "nothing for people"
    );

    // Paid by hand, then cancelled: no provider can send cash back, so people are told.
    let cash = place(&app, &customer, &shop.sku, None).await;
    let cash_id = cash["id"].as_str().unwrap();
    app.act(
        app.admin(),
        cash_id,
        "pay",
        json!({ "reason": "cash on delivery" }),
    )
    .await
    .expect(200);
    app.act(app.admin(), cash_id, "cancel", json!({}))
        .await
        .expect(200);
    let items = open_items(&app, &support).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(item["kind"], "payment_for_cancelled_order");
    assert!(
        item["summary"].as_str().unwrap().contains("paid by hand"),
        "{item}"
    );
    assert_eq!(
        item["resolutions"],
        json!(["refund", "mark_refunded", "contact_customer", "dismiss"])
    );
    let item_id = item["id"].as_str().unwrap();

    let escalate = format!("/api/v1/exceptions/{item_id}/escalate");
    app.post(&escalate, &support, json!({ "note": "" }))
        .await
        .expect_error(400, "note_required");
    let escalated = app
        .post(
            &escalate,
            &support,
            json!({ "note": "who returns cash for a cancelled order?" }),
        )
        .await
        .expect(200);
    assert_eq!(escalated["status"], "escalated");
    assert_eq!(escalated["escalation"]["by"]["role"], "support");
    app.post(&escalate, &support, json!({ "note": "again" }))
        .await
        .expect_error(409, "exception_not_open");
    let done = app
        .post(
            &format!("/api/v1/exceptions/{item_id}/resolve"),
            app.admin(),
            json!({ "resolution": "mark_refunded", "note": "cash returned, receipt 77" }),
        )
        .await
        .expect(200);
    assert_eq!(done["status"], "resolved");
    let p = app
        .get(&format!("/api/v1/orders/{cash_id}/payments"), &support)
        .await
        .expect(200)["data"][0]
        .clone();
    let mine = p["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"] == cash["id"])
        .unwrap()
        .clone();
    assert_eq!(mine["status"], "refunded", "{p}");
}

/// An authorization about to lapse uncaptured is flagged a day before; the customer paid by bank
/// transfer instead, so support marks it paid: the card hold is let go and the money recorded
/// by hand with its reference.
async fn a_lapsing_authorization_is_flagged_and_marked_paid_by_hand(kind: Kind) {
    let Some(app) = spawn(kind).await else { return };
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let (_, support) = app.user("support", None).await;
    let order = place(&app, &customer, &shop.sku, Some("sandbox_card_ok")).await;
    let id = order["id"].as_str().unwrap();
    app.run_jobs().await;
    assert!(open_items(&app, &support).await.is_empty(), "a week to go");
    app.advance(chrono::Duration::hours(6 * 24 + 12));
    app.run_jobs().await;
    let items = open_items(&app, &support).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(item["kind"], "authorization_expiring");
    assert!(item["summary"].as_str().unwrap().contains("lapses on"));
    assert_eq!(
        item["resolutions"],
        json!([
            "capture_now",
            "mark_paid",
            "cancel_order",
            "contact_customer"
        ])
    );
    // Found once, however often the hourly scan looks.
    app.advance(chrono::Duration::hours(2));
    app.run_jobs().await;
    assert_eq!(open_items(&app, &support).await.len(), 1);

    let resolve = format!(
        "/api/v1/exceptions/{}/resolve",
        item["id"].as_str().unwrap()
    );
    app.post(&resolve, &support, json!({ "resolution": "mark_paid" }))
        .await
        .expect_error(400, "note_required");
    let done = app
        .post(
            &resolve,
            &support,
            json!({ "resolution": "mark_paid", "note": "bank transfer 4711" }),
        )
        .await
        .expect(200);
    assert_eq!(done["status"], "resolved");
    let p = app
        .get(&format!("/api/v1/orders/{id}/payments"), &support)
        .await
        .expect(200)["data"][0]
        .clone();
    assert_eq!(p["status"], "paid", "{p}");
    assert_eq!(p["state"], "canceled", "the card hold was let go");
    assert_eq!(
        kinds(&p),
        [
            "authorized",
            "void_requested",
            "void_succeeded",
            "manual_payment"
        ]
    );
    let by_hand = &p["ledger"][3];
    assert_eq!(by_hand["reference"], "bank transfer 4711");
    assert_eq!(by_hand["actor"]["role"], "support");
    assert_eq!(by_hand["amount"], order["total"]["amount"]);
}

on_both_kinds!(
    a_lapsing_authorization_is_flagged_and_marked_paid_by_hand,
    a_failing_capture_is_retried_then_queued_and_support_retries_it,
    money_for_a_cancelled_order_goes_back_and_what_only_people_can_return_is_flagged,
);
