//! Payments through the binary a user runs: `ordo serve --demo` pays with its built-in sandbox
//! (no network), and `ordo serve --payments stripe …` pays through Stripe's API (localstripe, a
//! real stand-in server) and checks the signature of what reaches its webhook endpoint.

mod process;

use process::localstripe::{self, LocalStripe};
use process::{SKU, login, serve_with};
use serde_json::{Value, json};

fn order(method: &str) -> Value {
    json!({ "currency": "EUR", "items": [{ "sku": SKU, "quantity": 1 }],
            "payment_method": method,
            "shipping_address": { "name": "Ada Lovelace", "line1": "Unter den Linden 1",
                "city": "Berlin", "postal_code": "10117", "country": "DE" } })
}

async fn post(client: &reqwest::Client, url: String, token: &str, body: Value) -> (u16, Value) {
    let res = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_demo_pays_with_its_sandbox_and_refunds() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(dir.path(), &[]);
    let base = &server.base;
    let client = ordo_app::webhooks::http_client();
    let ada = login(&client, base, "ada@customer.example").await;
    let (status, paid) = post(
        &client,
        format!("{base}/api/v1/orders"),
        &ada,
        order("sandbox_card_ok"),
    )
    .await;
    assert_eq!(status, 201, "{paid}");
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["payment"]["provider"], "sandbox");
    let (status, declined) = post(
        &client,
        format!("{base}/api/v1/orders"),
        &ada,
        order("sandbox_card_declined"),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(declined["status"], "pending_payment");
    assert_eq!(declined["payment"]["decline_code"], "card_declined");

    let support = login(&client, base, "support@ordo.example").await;
    let id = paid["id"].as_str().unwrap();
    let (status, refunded) = post(
        &client,
        format!("{base}/api/v1/orders/{id}/refunds"),
        &support,
        json!({ "amount": 100, "reason": "late" }),
    )
    .await;
    assert_eq!(status, 200, "{refunded}");
    assert_eq!(refunded["status"], "partially_refunded");
}

#[tokio::test]
async fn the_binary_pays_through_stripe_and_checks_its_webhooks() {
    let Some(stripe) = LocalStripe::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let api = stripe.url();
    let server = serve_with(
        dir.path(),
        &[
            "--payments",
            "stripe",
            "--stripe-secret-key",
            localstripe::SECRET_KEY,
            "--stripe-webhook-secret",
            localstripe::WEBHOOK_SECRET,
            "--stripe-api-base",
            &api,
        ],
    );
    let base = &server.base;
    let client = ordo_app::webhooks::http_client();
    let ada = login(&client, base, "ada@customer.example").await;
    let (status, paid) = post(
        &client,
        format!("{base}/api/v1/orders"),
        &ada,
        order("pm_card_visa"),
    )
    .await;
    assert_eq!(status, 201, "{paid}");
    assert_eq!(paid["status"], "paid");
    let intent = paid["payment"]["provider_ref"].as_str().unwrap();
    let held = stripe
        .get(&format!("/v1/payment_intents/{intent}"))
        .await
        .unwrap();
    assert_eq!(held["status"], "succeeded");
    // The demo's paid orders went through Stripe too.
    let all = stripe.get("/v1/payment_intents").await.unwrap();
    assert!(all["data"].as_array().unwrap().len() > 1);

    let unsigned = client
        .post(format!("{base}/api/v1/payments/webhooks/stripe"))
        .header("Stripe-Signature", "t=1,v1=00")
        .body(r#"{"id": "evt_1", "type": "payment_intent.succeeded"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 400);
}
