//! Payments through Stripe's API, against localstripe (a real stand-in server from PyPI), on
//! both databases: a card that pays moves the order to `paid`, and so does each of the other
//! two paths alone — the webhook, and the reconciler when no webhook comes; a declining card
//! leaves the order waiting with its reason and its stock reserved; manual capture; refunds
//! partial and full, and twenty racing refunds of 30 % each of which three pass (localstripe
//! itself would take them all); a webhook with a bad signature or an old timestamp is refused
//! and changes nothing; the same webhook twice is applied once.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

#[path = "../process/localstripe.rs"]
mod localstripe;

use crate::harness::{Kind, TestApp, on_both_kinds};
use localstripe::LocalStripe;

/// Ordo over `kind` taking payments through a fresh localstripe.
async fn spawn(
    kind: Kind,
    capture: ordo_app::payments::CapturePolicy,
) -> Option<(TestApp, LocalStripe)> {
    let stripe = LocalStripe::start().await?;
    let settings = ordo_app::Settings {
        payments: ordo_app::payments::PaymentSettings {
            provider: ordo_app::payments::ProviderChoice::Stripe(stripe.settings()),
            capture,
            ..Default::default()
        },
        ..ordo_app::Settings::default()
    };
    let app = TestApp::spawn_with(kind, settings).await?;
    Some((app, stripe))
}

async fn place(app: &TestApp, token: &str, sku: &str, method: Option<&str>) -> crate::harness::Res {
    app.order_paying(token, sku, 2, method).await
}

async fn status(app: &TestApp, token: &str, order: &Value) -> String {
    let id = order["id"].as_str().unwrap();
    let now = app
        .get(&format!("/api/v1/orders/{id}"), token)
        .await
        .expect(200);
    now["status"].as_str().unwrap().to_owned()
}

async fn payment(app: &TestApp, token: &str, order: &Value) -> Value {
    let id = order["id"].as_str().unwrap();
    app.get(&format!("/api/v1/orders/{id}/payments"), token)
        .await
        .expect(200)["data"][0]
        .clone()
}

async fn paying_refunding_and_declines(kind: Kind) {
    let Some((app, stripe)) = spawn(kind, ordo_app::payments::CapturePolicy::Automatic).await
    else {
        return;
    };
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let (_, support) = app.user("support", None).await;

    let order = place(&app, &customer, &shop.sku, Some("pm_card_visa"))
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
        (Some("stripe"), Some("captured"), Some("paid"))
    );
    let intent = p["provider_ref"].as_str().unwrap();
    assert!(intent.starts_with("pi_"));
    let held = stripe
        .get(&format!("/v1/payment_intents/{intent}"))
        .await
        .unwrap();
    assert_eq!(held["status"], "succeeded");
    assert_eq!(held["amount"], total);
    assert_eq!(held["metadata"]["ordo_payment"], p["id"]);

    // Refunds: partial, then twenty racing for 30 % each (three fit), then the rest.
    let refunds = format!("/api/v1/orders/{}/refunds", order["id"].as_str().unwrap());
    let first = app
        .post(
            &refunds,
            &support,
            json!({ "amount": 100, "reason": "scratched" }),
        )
        .await
        .expect(200);
    assert_eq!(first["status"], "partially_refunded");
    let part = (total - 100) * 30 / 100;
    let answers =
        join_all((0..20).map(|_| app.post(&refunds, &support, json!({ "amount": part })))).await;
    let ok = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 3, "three of 30 % fit what was captured");
    let rest = total - 100 - 3 * part;
    let done = app
        .post(&refunds, &support, json!({ "amount": rest }))
        .await
        .expect(200);
    assert_eq!(done["status"], "refunded");
    app.post(&refunds, &support, json!({ "amount": 1 }))
        .await
        .expect_error(409, "refund_exceeds_captured");
    // At the provider: exactly what Ordo's ledger says, never more.
    let list = stripe.get("/v1/refunds").await.unwrap();
    let sent: i64 = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["payment_intent"] == intent)
        .map(|r| r["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(sent, total);

    // A card the bank declines: the order waits, with the reason, its stock still reserved.
    let before = app.stock(&shop).await;
    let declined = place(
        &app,
        &customer,
        &shop.sku,
        Some("pm_card_chargeCustomerFail"),
    )
    .await
    .expect(201);
    assert_eq!(declined["status"], "pending_payment");
    assert_eq!(declined["payment"]["state"], "requires_payment_method");
    assert!(
        declined["payment"]["decline_code"].is_string(),
        "{declined}"
    );
    let after = app.stock(&shop).await;
    assert_eq!((after.1, after.2), (before.1 + 2, before.2 - 2));
    // Not a Stripe method at all: refused before anything is placed.
    place(&app, &customer, &shop.sku, Some("sandbox_card_ok"))
        .await
        .expect_error(400, "invalid_payment_method");
}

async fn manual_capture_at_shipment(kind: Kind) {
    let Some((app, stripe)) = spawn(kind, ordo_app::payments::CapturePolicy::Manual).await else {
        return;
    };
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let order = place(&app, &customer, &shop.sku, Some("pm_card_visa"))
        .await
        .expect(201);
    assert_eq!(order["status"], "paid");
    assert_eq!(order["payment"]["state"], "authorized");
    let intent = order["payment"]["provider_ref"].as_str().unwrap();
    let held = stripe
        .get(&format!("/v1/payment_intents/{intent}"))
        .await
        .unwrap();
    assert_eq!(held["status"], "requires_capture");
    let capture = format!(
        "/api/v1/orders/{}/payments/capture",
        order["id"].as_str().unwrap()
    );
    let captured = app.post(&capture, &shop.token, json!({})).await.expect(200);
    assert_eq!(
        (captured["state"].as_str(), captured["status"].as_str()),
        (Some("captured"), Some("paid"))
    );
    let held = stripe
        .get(&format!("/v1/payment_intents/{intent}"))
        .await
        .unwrap();
    assert_eq!(held["status"], "succeeded");
}

/// The client pays at the provider; Ordo hears of it by the webhook alone — and then, with no
/// webhook at all, by the reconciler alone.
async fn the_webhook_and_the_reconciler_each_reach_paid_alone(kind: Kind) {
    let Some((app, stripe)) = spawn(kind, ordo_app::payments::CapturePolicy::Automatic).await
    else {
        return;
    };
    let shop = app.shop(10).await;
    let customer = app.customer().await;

    let by_webhook = place(&app, &customer, &shop.sku, None).await.expect(201);
    let p = &by_webhook["payment"];
    assert!(p["client_secret"].as_str().unwrap().contains("_secret_"));
    stripe
        .webhooks_to(&format!("{}/api/v1/payments/webhooks/stripe", app.base))
        .await;
    stripe
        .pay_client_side(p["provider_ref"].as_str().unwrap(), "pm_card_visa")
        .await;
    // localstripe sends `payment_intent.succeeded` about a second later.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while status(&app, &customer, &by_webhook).await != "paid" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the webhook never paid the order"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Now no webhook reaches Ordo: only its reconciler finds the payment.
    stripe.webhooks_to("http://127.0.0.1:9/nowhere").await;
    let by_reconciler = place(&app, &customer, &shop.sku, None).await.expect(201);
    stripe
        .pay_client_side(
            by_reconciler["payment"]["provider_ref"].as_str().unwrap(),
            "pm_card_visa",
        )
        .await;
    assert_eq!(
        status(&app, &customer, &by_reconciler).await,
        "pending_payment"
    );
    app.advance(chrono::Duration::seconds(61));
    app.run_jobs().await;
    assert_eq!(status(&app, &customer, &by_reconciler).await, "paid");
}

/// Webhooks are proven by their signature, fresh, and taken once.
async fn webhooks_are_signed_fresh_and_taken_once(kind: Kind) {
    let Some((app, stripe)) = spawn(kind, ordo_app::payments::CapturePolicy::Automatic).await
    else {
        return;
    };
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let order = place(&app, &customer, &shop.sku, None).await.expect(201);
    let p = &order["payment"];
    let intent = p["provider_ref"].as_str().unwrap();
    stripe.pay_client_side(intent, "pm_card_visa").await;
    let body = json!({
        "id": "evt_ordo_test_1", "object": "event", "type": "payment_intent.succeeded",
        "data": { "object": { "id": intent, "object": "payment_intent",
                              "metadata": { "ordo_payment": p["id"] } } }
    })
    .to_string();
    let send = |signature: String, body: String| {
        let (client, url) = (
            app.client.clone(),
            format!("{}/api/v1/payments/webhooks/stripe", app.base),
        );
        async move {
            let res = client
                .post(url)
                .header("Stripe-Signature", signature)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (
                res.status().as_u16(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let now = ordo_app::clock::Clock::now(&*app.clock);
    let sign = |secret: &str, at: chrono::DateTime<chrono::Utc>, body: &str| {
        ordo_app::payments::webhook::sign(secret, at, body.as_bytes())
    };
    // Wrong secret, old timestamp, a body changed after signing: refused, nothing applied.
    let refused = [
        sign("whsec_someone_else", now, &body),
        sign(
            localstripe::WEBHOOK_SECRET,
            now - chrono::Duration::minutes(6),
            &body,
        ),
        sign(
            localstripe::WEBHOOK_SECRET,
            now,
            &body.replace("succeeded", "canceled"),
        ),
        String::new(),
    ];
    for signature in refused {
        let (status, answer) = send(signature, body.clone()).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_webhook");
    }
    assert_eq!(status(&app, &customer, &order).await, "pending_payment");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payment_events_inbox").await,
        0
    );

    // Signed and fresh: applied; the same event again: acknowledged, applied once.
    for _ in 0..2 {
        let (status, answer) =
            send(sign(localstripe::WEBHOOK_SECRET, now, &body), body.clone()).await;
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(status(&app, &customer, &order).await, "paid");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payment_events_inbox").await,
        1
    );
    let ledger = payment(&app, &customer, &order).await["ledger"].clone();
    let kinds: Vec<&str> = ledger
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["authorized", "capture_succeeded"]);
    let events = app.events(&customer, order["id"].as_str().unwrap()).await;
    assert_eq!(
        events.iter().filter(|e| e["type"] == "order.paid").count(),
        1
    );
}

/// Cancelling gives the money back through Stripe: a captured order is refunded (one refund at
/// localstripe, for the whole amount), an order only authorized (manual capture) is released
/// (its intent canceled).
async fn a_cancelled_order_gets_its_money_back_through_stripe(kind: Kind) {
    use ordo_app::payments::CapturePolicy;
    for capture in [CapturePolicy::Automatic, CapturePolicy::Manual] {
        let Some((app, stripe)) = spawn(kind, capture).await else {
            return;
        };
        let shop = app.shop(10).await;
        let customer = app.customer().await;
        let order = place(&app, &customer, &shop.sku, Some("pm_card_visa"))
            .await
            .expect(201);
        assert_eq!(order["status"], "paid", "{order}");
        let id = order["id"].as_str().unwrap();
        let total = order["total"]["amount"].as_i64().unwrap();
        let answer = app
            .act(
                &customer,
                id,
                "cancel",
                json!({ "reason": "changed my mind" }),
            )
            .await
            .expect(200);
        let on_its_way = match capture {
            CapturePolicy::Automatic => "refunding",
            CapturePolicy::Manual => "voiding",
        };
        assert_eq!(answer["payment"]["amounts"][on_its_way], total, "{answer}");
        app.run_jobs().await;
        let p = payment(&app, &customer, &order).await;
        let intent = p["provider_ref"].as_str().unwrap();
        let held = stripe
            .get(&format!("/v1/payment_intents/{intent}"))
            .await
            .unwrap();
        match capture {
            CapturePolicy::Automatic => {
                assert_eq!(p["status"], "refunded", "{p}");
                assert_eq!(p["amounts"]["refunded"], total);
                let refunds = stripe
                    .get(&format!("/v1/refunds?payment_intent={intent}"))
                    .await
                    .unwrap();
                let sent: Vec<i64> = refunds["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["payment_intent"] == intent)
                    .map(|r| r["amount"].as_i64().unwrap())
                    .collect();
                assert_eq!(sent, [total], "one refund of the whole: {refunds}");
            }
            CapturePolicy::Manual => {
                assert_eq!(p["status"], "voided", "{p}");
                assert_eq!(held["status"], "canceled", "{held}");
            }
        }
    }
}

on_both_kinds!(
    a_cancelled_order_gets_its_money_back_through_stripe,
    paying_refunding_and_declines,
    manual_capture_at_shipment,
    the_webhook_and_the_reconciler_each_reach_paid_alone,
    webhooks_are_signed_fresh_and_taken_once,
);
