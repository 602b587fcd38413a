//! Vendor money, on both databases: balances are captured − refunded − commission (frozen on
//! each order when it was placed); twenty concurrent payouts never take out more than is
//! available; payouts are marked paid by an admin; the ledger export balances per entry, as
//! JSON and as CSV.

use std::collections::HashMap;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::harness::{TestApp, address, on_both_backends};

on_both_backends!(balances_payouts_and_the_ledger_add_up,);

fn available(balance: &Value) -> i64 {
    balance["balances"][0]["available"].as_i64().unwrap()
}

async fn balances_payouts_and_the_ledger_add_up(app: TestApp) {
    let shop = app.shop(100).await;
    let customer = app.customer().await;
    let (_, support) = app.user("support", None).await;
    let vendor = &shop.vendor_id;
    let commission = format!("/api/v1/vendors/{vendor}/commission");
    app.put(&commission, &shop.token, json!({ "basis_points": 0 }))
        .await
        .expect_error(403, "forbidden");
    app.put(&commission, app.admin(), json!({ "basis_points": 10_001 }))
        .await
        .expect_error(400, "invalid_commission");
    app.put(&commission, app.admin(), json!({ "basis_points": 1_250 }))
        .await
        .expect(200);

    let order = app
        .post(
            "/api/v1/orders",
            &customer,
            json!({ "currency": "EUR", "items": [{ "sku": shop.sku, "quantity": 4 }],
                    "shipping_address": address(), "payment_method": "sandbox_card_ok" }),
        )
        .await
        .expect(201);
    let total = order["total"]["amount"].as_i64().unwrap();
    // Orders placed from now on get the new rate; this one keeps 12.5 %.
    app.put(&commission, app.admin(), json!({ "basis_points": 0 }))
        .await
        .expect(200);
    let refund = 500;
    app.post(
        &format!("/api/v1/orders/{}/refunds", order["id"].as_str().unwrap()),
        &support,
        json!({ "amount": refund }),
    )
    .await
    .expect(200);

    let balance_path = format!("/api/v1/vendors/{vendor}/balance");
    let balance = app.get(&balance_path, &shop.token).await.expect(200);
    let b = &balance["balances"][0];
    let cut = |amount: i64| amount * 1_250 / 10_000;
    let earned = (total - cut(total)) - (refund - cut(refund));
    assert_eq!(b["currency"], "EUR");
    assert_eq!(b["sales"], total);
    assert_eq!(b["refunded"], refund);
    assert_eq!(b["commission"], cut(total) - cut(refund));
    assert_eq!(b["earned"], earned);
    assert_eq!(b["available"], earned);
    assert_eq!(balance["commission_bp"], 0);
    let other = app.shop(1).await;
    app.get(&balance_path, &other.token)
        .await
        .expect_error(404, "not_found");
    app.get(&balance_path, &customer)
        .await
        .expect_error(403, "forbidden");

    // Twenty payouts of 30 % each at once: three fit.
    let payouts = format!("/api/v1/vendors/{vendor}/payouts");
    let part = earned * 30 / 100;
    let answers = join_all((0..20).map(|_| {
        app.post(
            &payouts,
            &shop.token,
            json!({ "amount": part, "currency": "EUR" }),
        )
    }))
    .await;
    let ok: Vec<&Value> = answers
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| &r.body)
        .collect();
    let capped = answers
        .iter()
        .filter(|r| r.status == 409 && r.body["error"]["code"] == "payout_exceeds_balance")
        .count();
    assert_eq!((ok.len(), capped), (3, 17));
    let balance = app.get(&balance_path, app.admin()).await.expect(200);
    assert_eq!(available(&balance), earned - 3 * part);
    assert_eq!(balance["balances"][0]["payouts_pending"], 3 * part);

    // An admin marks one paid, with the bank's reference; once.
    let paid = format!("{payouts}/{}/paid", ok[0]["id"].as_str().unwrap());
    app.post(&paid, &shop.token, json!({}))
        .await
        .expect_error(403, "forbidden");
    let done = app
        .post(
            &paid,
            app.admin(),
            json!({ "reference": "SEPA 2026-11-29 #77" }),
        )
        .await
        .expect(200);
    assert_eq!(done["state"], "paid");
    assert_eq!(done["reference"], "SEPA 2026-11-29 #77");
    app.post(&paid, app.admin(), json!({}))
        .await
        .expect_error(409, "payout_paid");
    let balance = app.get(&balance_path, app.admin()).await.expect(200);
    assert_eq!(balance["balances"][0]["paid_out"], part);
    assert_eq!(available(&balance), earned - 3 * part);
    let list = app.get(&payouts, &shop.token).await.expect(200);
    assert_eq!(list["data"].as_array().unwrap().len(), 3);

    // Payouts are a sensitive action: past the step-up window, a fresh proof is needed.
    app.advance(chrono::Duration::minutes(10));
    app.post(
        &payouts,
        &shop.token,
        json!({ "amount": 1, "currency": "EUR" }),
    )
    .await
    .expect_error(401, "step_up_required");

    // The ledger: every entry balances; the vendor's payable account is what it earned, less
    // what was paid out to it.
    app.get("/api/v1/ledger", &support)
        .await
        .expect_error(403, "forbidden");
    let ledger = app.get("/api/v1/ledger", app.admin()).await.expect(200);
    let lines = ledger["data"].as_array().unwrap();
    let mut per_entry: HashMap<&str, i64> = HashMap::new();
    let mut payable = 0;
    for l in lines {
        *per_entry
            .entry(l["entry_id"].as_str().unwrap())
            .or_default() += l["amount"].as_i64().unwrap();
        if l["account"] == "vendor_payable" && l["vendor_id"] == *vendor {
            payable += l["amount"].as_i64().unwrap();
        }
    }
    assert!(per_entry.values().all(|sum| *sum == 0), "{per_entry:?}");
    // Captured, refunded, three payouts: 5 entries (capture, refund, 3 payouts).
    assert_eq!(per_entry.len(), 5);
    assert_eq!(-payable, earned - 3 * part);
    let csv = app
        .client
        .get(format!("{}/api/v1/ledger", app.base))
        .bearer_auth(app.admin())
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(
        rows[0],
        "entry_id,at,movement,payment_id,order_id,vendor_id,account,currency,amount"
    );
    assert_eq!(rows.len(), lines.len() + 1);
    let future = app
        .get("/api/v1/ledger?from=2100-01-01T00:00:00Z", app.admin())
        .await
        .expect(200);
    assert_eq!(future["data"], json!([]));
    app.get("/api/v1/ledger?from=yesterday", app.admin())
        .await
        .expect_error(400, "invalid_time");
}
