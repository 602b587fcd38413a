//! Signed outbound webhooks (issue 10): a real HTTP receiver checks every delivery with the
//! Standard Webhooks reference library; each order's events arrive in order; a failed delivery
//! is retried with the same `webhook-id`, and is dead after its last try; retry, replay, test
//! messages and secret rotation work; a vendor's endpoint gets only its vendor's events; and a
//! private target is refused without `--allow-private-webhook-targets`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Kind, TestApp, on_both_backends};

on_both_backends!(private_targets_and_strangers_are_refused,);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
}

impl Received {
    fn id(&self) -> &str {
        self.headers["webhook-id"].to_str().unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Whether `secret` signed it, checked with the reference library (its own HMAC; the test
    /// clock is not the wall clock, so the signature is compared, not the timestamp's age).
    fn signed_by(&self, secret: &str) -> bool {
        let wh = standardwebhooks::Webhook::new(secret).expect("a Standard Webhooks secret");
        let ts: i64 = self.headers["webhook-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let expected = wh.sign(self.id(), ts, self.body.as_bytes()).expect("sign");
        self.headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .any(|s| s == expected)
    }
}

/// A webhook receiver on 127.0.0.1: records every request, answers 500 while told to fail.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Requests still to fail; `usize::MAX`: fail all.
    fail: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(&self) -> String {
        let me = self.clone();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let me = me.clone();
                async move {
                    me.got.lock().unwrap().push(Received { headers, body });
                    let fail = me.fail.load(Ordering::SeqCst);
                    if fail > 0 {
                        if fail != usize::MAX {
                            me.fail.fetch_sub(1, Ordering::SeqCst);
                        }
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        url
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    fn of_type(&self, kind: &str) -> Vec<Received> {
        self.got()
            .into_iter()
            .filter(|r| r.json()["type"] == kind)
            .collect()
    }
}

/// Relays what is new, fans it out (as the `webhooks.dispatch` job does every second) and
/// runs the deliveries due.
async fn deliver(app: &TestApp) {
    app.app.relay_once().await.expect("relay");
    app.app.fan_out_webhooks().await.expect("fan out");
    app.app.sweep_webhooks().await.expect("sweep");
    app.run_jobs().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_ordered_retried_and_replayed_sqlite() {
    webhooks_are_signed_ordered_retried_and_replayed(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_ordered_retried_and_replayed_postgres() {
    webhooks_are_signed_ordered_retried_and_replayed(Kind::Postgres).await;
}

async fn webhooks_are_signed_ordered_retried_and_replayed(kind: Kind) {
    let settings = ordo_app::Settings {
        allow_private_webhook_targets: true,
        // The test moves the clock through weeks of retries; its logins must last.
        session_ttl: chrono::Duration::days(60),
        ..ordo_app::Settings::default()
    };
    let Some(app) = TestApp::spawn_with(kind, settings).await else {
        return;
    };
    let receiver = Receiver::default();
    let url = receiver.start().await;
    // The fan-out starts at the present.
    deliver(&app).await;

    let platform = app
        .post(
            "/api/v1/webhook-endpoints",
            app.admin(),
            json!({ "url": url, "events": ["order.*"], "description": "CRM" }),
        )
        .await
        .expect(201);
    let secret = platform["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let platform_id = platform["id"].as_str().unwrap().to_owned();
    let listed = app
        .get(
            &format!("/api/v1/webhook-endpoints/{platform_id}"),
            app.admin(),
        )
        .await
        .expect(200);
    assert!(listed.get("secret").is_none(), "the secret is shown once");

    let (shop, other) = (app.shop(10).await, app.shop(10).await);
    // An endpoint gets what happens once it exists (the shops' first stock is older).
    app.advance(chrono::Duration::seconds(1));
    let vendor_hook = app
        .post(
            "/api/v1/webhook-endpoints",
            &shop.token,
            json!({ "url": url, "events": ["stock.*", "order.placed"] }),
        )
        .await
        .expect(201);
    let vendor_secret = vendor_hook["secret"].as_str().unwrap().to_owned();
    let vendor_hook_id = vendor_hook["id"].as_str().unwrap().to_owned();
    // Only the owner (and admins) reach an endpoint: another vendor is told it does not exist,
    // a customer or support that webhooks are not theirs to manage.
    let (_, support) = app.user("support", None).await;
    let customer = app.customer().await;
    for path in [
        format!("/api/v1/webhook-endpoints/{vendor_hook_id}"),
        format!("/api/v1/webhook-endpoints/{platform_id}"),
        format!("/api/v1/webhook-endpoints/{platform_id}/deliveries"),
    ] {
        app.get(&path, &other.token)
            .await
            .expect_error(404, "not_found");
        app.get(&path, &customer)
            .await
            .expect_error(403, "forbidden");
        app.get(&path, &support)
            .await
            .expect_error(403, "forbidden");
    }
    for (path, body) in [
        (
            format!("/api/v1/webhook-endpoints/{platform_id}/test"),
            json!({}),
        ),
        (
            format!("/api/v1/webhook-endpoints/{platform_id}/rotate-secret"),
            json!({}),
        ),
        (
            format!("/api/v1/webhook-endpoints/{platform_id}/replay"),
            json!({ "since": "2000-01-01T00:00:00Z" }),
        ),
    ] {
        app.post(&path, &other.token, body)
            .await
            .expect_error(404, "not_found");
    }
    app.patch(
        &format!("/api/v1/webhook-endpoints/{vendor_hook_id}"),
        &other.token,
        json!({ "disabled": true }),
    )
    .await
    .expect_error(404, "not_found");
    app.delete(
        &format!("/api/v1/webhook-endpoints/{vendor_hook_id}"),
        &other.token,
    )
    .await
    .expect_error(404, "not_found");
    let mine = app
        .get("/api/v1/webhook-endpoints", &shop.token)
        .await
        .expect(200);
    assert_eq!(
        mine["data"].as_array().unwrap().len(),
        1,
        "a vendor lists its own only"
    );
    let all = app
        .get("/api/v1/webhook-endpoints", app.admin())
        .await
        .expect(200);
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    assert_eq!(vendor_hook["vendor_id"], shop.vendor_id.as_str());

    let order = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let id = order["id"].as_str().unwrap().to_owned();
    app.act(app.admin(), &id, "pay", json!({}))
        .await
        .expect(200);
    app.order(&customer, &other.sku, 1, None).await.expect(201);
    app.put(
        &format!("/api/v1/inventory/{}", shop.sku),
        &shop.token,
        json!({ "on_hand": 20 }),
    )
    .await
    .expect(200);
    deliver(&app).await;

    // The platform's endpoint: every order event, signed, in order per order.
    let got = receiver.got();
    let platform_got: Vec<_> = got.iter().filter(|r| r.signed_by(&secret)).collect();
    let mine: Vec<_> = platform_got
        .iter()
        .filter(|r| r.json()["data"]["order_id"] == id.as_str())
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(mine, ["order.placed", "order.paid"]);
    assert_eq!(
        platform_got.len(),
        3,
        "two orders' events: {platform_got:?}"
    );
    for r in &platform_got {
        let body = r.json();
        assert!(body["timestamp"].is_string() && body["data"].is_object());
        assert!(r.id().starts_with("evt_"));
    }
    // The vendor's: its own stock and order, nothing of the other vendor's.
    let vendor_got: Vec<_> = got.iter().filter(|r| r.signed_by(&vendor_secret)).collect();
    let mut kinds: Vec<_> = vendor_got
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["order.placed", "stock.updated"]);
    for r in &vendor_got {
        let data = r.json()["data"].clone();
        assert!(
            data["sku"] == shop.sku.as_str() || data["order_id"] == id.as_str(),
            "{data}"
        );
    }
    assert_eq!(
        got.len(),
        platform_got.len() + vendor_got.len(),
        "every delivery verifies"
    );

    // A 500 is retried after about 5 s with the same webhook-id.
    receiver.fail.store(1, Ordering::SeqCst);
    app.act(&shop.token, &id, "accept", json!({}))
        .await
        .expect(200);
    deliver(&app).await;
    assert_eq!(receiver.of_type("order.accepted").len(), 1);
    let pending = app
        .get(
            &format!("/api/v1/webhook-endpoints/{platform_id}/deliveries?status=pending"),
            app.admin(),
        )
        .await
        .expect(200);
    assert_eq!(pending["data"][0]["attempts"], 1);
    assert_eq!(pending["data"][0]["last_status"], 500);
    app.advance(chrono::Duration::seconds(6));
    deliver(&app).await;
    let accepted = receiver.of_type("order.accepted");
    assert_eq!(accepted.len(), 2);
    assert_eq!(
        accepted[0].id(),
        accepted[1].id(),
        "a retry keeps its webhook-id"
    );
    let delivered = app
        .get(
            &format!(
                "/api/v1/webhook-endpoints/{platform_id}/deliveries?status=delivered&limit=100"
            ),
            app.admin(),
        )
        .await
        .expect(200);
    let retried = delivered["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "order.accepted")
        .unwrap();
    assert_eq!(
        (
            retried["attempts"].as_i64(),
            retried["last_status"].as_i64()
        ),
        (Some(2), Some(204))
    );

    // Failing every time: dead after the eighth attempt (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
    receiver.fail.store(usize::MAX, Ordering::SeqCst);
    let doomed = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let doomed = doomed["id"].as_str().unwrap().to_owned();
    deliver(&app).await;
    for wait in [6, 330, 1_990, 7_920, 19_800, 39_600, 39_600] {
        app.advance(chrono::Duration::seconds(wait));
        deliver(&app).await;
    }
    let tries = receiver
        .of_type("order.placed")
        .into_iter()
        .filter(|r| r.json()["data"]["order_id"] == doomed.as_str() && r.signed_by(&secret))
        .count();
    assert_eq!(tries, 8, "eight attempts, then no more");
    let dead = app
        .get(
            &format!("/api/v1/webhook-endpoints/{platform_id}/deliveries?status=dead&limit=100"),
            app.admin(),
        )
        .await
        .expect(200);
    let dead = dead["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "order.placed")
        .unwrap()
        .clone();
    assert_eq!(dead["attempts"], 8);
    let endpoint = app
        .get(
            &format!("/api/v1/webhook-endpoints/{platform_id}"),
            app.admin(),
        )
        .await
        .expect(200);
    assert!(endpoint["failing_since"].is_string());
    assert_eq!(
        endpoint["disabled"], false,
        "27 hours of failure is not 5 days"
    );

    // Retried by hand once the receiver is back: delivered, and the endpoint is healthy again.
    receiver.fail.store(0, Ordering::SeqCst);
    let before = receiver.got().len();
    app.post(
        &format!(
            "/api/v1/webhook-endpoints/{platform_id}/deliveries/{}/retry",
            dead["id"].as_str().unwrap()
        ),
        app.admin(),
        json!({}),
    )
    .await
    .expect(200);
    deliver(&app).await;
    assert!(
        receiver.got()[before..]
            .iter()
            .any(|r| r.id() == dead["message_id"].as_str().unwrap())
    );
    let endpoint = app
        .get(
            &format!("/api/v1/webhook-endpoints/{platform_id}"),
            app.admin(),
        )
        .await
        .expect(200);
    assert!(endpoint.get("failing_since").is_none());

    // Replay: the same events again, with their original ids.
    let seen: std::collections::BTreeSet<String> = receiver
        .got()
        .iter()
        .filter(|r| r.signed_by(&secret) && r.json()["type"] != "webhook.test")
        .map(|r| r.id().to_owned())
        .collect();
    let before = receiver.got().len();
    let replay = app
        .post(
            &format!("/api/v1/webhook-endpoints/{platform_id}/replay"),
            app.admin(),
            json!({ "since": "2000-01-01T00:00:00Z" }),
        )
        .await
        .expect(202);
    deliver(&app).await;
    // An order whose own later event still waits out a retry holds its replay back (each
    // order's events stay in order): let the waits pass.
    app.advance(chrono::Duration::hours(11));
    deliver(&app).await;
    let replayed: std::collections::BTreeSet<String> = receiver.got()[before..]
        .iter()
        .map(|r| r.id().to_owned())
        .collect();
    assert!(replay["queued"].as_u64().unwrap() as usize <= receiver.got().len() - before);
    assert!(
        seen.is_subset(&replayed),
        "every event sent before is sent again with its id"
    );

    // A test message, then a rotation: both secrets sign for a day.
    app.post(
        &format!("/api/v1/webhook-endpoints/{platform_id}/test"),
        app.admin(),
        json!({}),
    )
    .await
    .expect(202);
    deliver(&app).await;
    let rotated = app
        .post(
            &format!("/api/v1/webhook-endpoints/{platform_id}/rotate-secret"),
            app.admin(),
            json!({}),
        )
        .await
        .expect(200);
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    deliver(&app).await;
    app.post(
        &format!("/api/v1/webhook-endpoints/{platform_id}/test"),
        app.admin(),
        json!({}),
    )
    .await
    .expect(202);
    deliver(&app).await;
    let tests = receiver.of_type("webhook.test");
    assert_eq!(tests.len(), 2);
    assert!(tests[0].signed_by(&secret) && !tests[0].signed_by(&new_secret));
    assert!(tests[1].signed_by(&secret) && tests[1].signed_by(&new_secret));
    app.advance(chrono::Duration::hours(25));
    app.post(
        &format!("/api/v1/webhook-endpoints/{platform_id}/test"),
        app.admin(),
        json!({}),
    )
    .await
    .expect(202);
    deliver(&app).await;
    let last = receiver.of_type("webhook.test").pop().unwrap();
    assert!(
        last.signed_by(&new_secret) && !last.signed_by(&secret),
        "the old secret stops after 24 h"
    );

    // Disabled: nothing goes out; enabled again: what waited is sent.
    app.patch(
        &format!("/api/v1/webhook-endpoints/{platform_id}"),
        app.admin(),
        json!({ "disabled": true }),
    )
    .await
    .expect(200);
    let before = receiver.got().len();
    let quiet = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    deliver(&app).await;
    assert!(
        receiver.got()[before..]
            .iter()
            .all(|r| !r.signed_by(&new_secret)),
        "a disabled endpoint gets nothing"
    );
    app.patch(
        &format!("/api/v1/webhook-endpoints/{platform_id}"),
        app.admin(),
        json!({ "disabled": false }),
    )
    .await
    .expect(200);
    deliver(&app).await;
    assert!(
        receiver.got()[before..]
            .iter()
            .any(|r| r.signed_by(&new_secret) && r.json()["data"]["order_id"] == quiet["id"])
    );

    // Failing for 5 days: the vendor's endpoint is disabled, and its owner told in their feed.
    receiver.fail.store(usize::MAX, Ordering::SeqCst);
    for on_hand in 30..37 {
        app.put(
            &format!("/api/v1/inventory/{}", shop.sku),
            &shop.token,
            json!({ "on_hand": on_hand }),
        )
        .await
        .expect(200);
        deliver(&app).await;
        app.advance(chrono::Duration::hours(22));
        deliver(&app).await;
    }
    let hook = app
        .get(
            &format!("/api/v1/webhook-endpoints/{vendor_hook_id}"),
            &shop.token,
        )
        .await
        .expect(200);
    assert_eq!(hook["disabled"], true);
    assert_eq!(hook["disabled_reason"], "every delivery failed for 5 days");
    app.app.relay_once().await.expect("relay");
    let feed = app
        .get("/api/v1/events?limit=100", &shop.token)
        .await
        .expect(200);
    let notice = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "webhook.endpoint_disabled")
        .cloned();
    assert_eq!(
        notice.expect("the owner is told")["data"]["endpoint_id"],
        vendor_hook_id.as_str()
    );

    app.delete(
        &format!("/api/v1/webhook-endpoints/{platform_id}"),
        app.admin(),
    )
    .await
    .expect(204);
    app.get(
        &format!("/api/v1/webhook-endpoints/{platform_id}"),
        app.admin(),
    )
    .await
    .expect_error(404, "not_found");
}

async fn private_targets_and_strangers_are_refused(app: TestApp) {
    let shop = app.shop(10).await;
    let other = app.shop(10).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5/x",
        "http://[::1]/x",
        "http://localhost/x",
    ] {
        let res = app
            .post(
                "/api/v1/webhook-endpoints",
                app.admin(),
                json!({ "url": url, "events": ["*"] }),
            )
            .await;
        res.expect_error(422, "webhook_target_refused");
    }
    let ok_shape = json!({ "url": "ftp://example.com/x", "events": ["*"] });
    app.post("/api/v1/webhook-endpoints", app.admin(), ok_shape)
        .await
        .expect_error(400, "invalid_url");
    app.post(
        "/api/v1/webhook-endpoints",
        app.admin(),
        json!({ "url": "http://127.0.0.1/x", "events": ["order.exploded"] }),
    )
    .await
    .expect_error(400, "invalid_events");
    app.post(
        "/api/v1/webhook-endpoints",
        app.admin(),
        json!({ "url": "http://127.0.0.1/x", "events": [] }),
    )
    .await
    .expect_error(400, "invalid_events");
    let customer = app.customer().await;
    app.post(
        "/api/v1/webhook-endpoints",
        &customer,
        json!({ "url": "http://127.0.0.1/x", "events": ["*"] }),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        "/api/v1/webhook-endpoints",
        &shop.token,
        json!({ "url": "http://127.0.0.1/x", "events": ["*"], "vendor_id": other.vendor_id }),
    )
    .await
    .expect_error(403, "forbidden");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_endpoints").await,
        0,
        "nothing was saved"
    );
}
