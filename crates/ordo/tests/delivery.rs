//! Events survive the server being killed (SIGKILL) while webhook deliveries are in flight:
//! after a restart, every event of every acknowledged change reaches a real receiver at least
//! once, each order's events in order, none of a change that was refused — checked with the
//! Standard Webhooks reference library, against the wall clock, as an integrator would.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

mod process;
use process::{Database, SKU, get_json, login, serve_with};

const KILLS: usize = 3;

/// What the receiver got, by order: the event types in the order they first arrived.
type Seen = Arc<Mutex<BTreeMap<String, Vec<String>>>>;

async fn receiver(secret: Arc<Mutex<Option<String>>>, seen: Seen) -> String {
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (secret, seen) = (Arc::clone(&secret), Arc::clone(&seen));
            async move {
                let Some(secret) = secret.lock().unwrap().clone() else {
                    return StatusCode::SERVICE_UNAVAILABLE;
                };
                let wh = standardwebhooks::Webhook::new(&secret).unwrap();
                if wh.verify(body.as_bytes(), &headers).is_err() {
                    return StatusCode::UNAUTHORIZED;
                }
                let event: Value = serde_json::from_str(&body).unwrap();
                let order = event["data"]["order_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let kind = event["type"].as_str().unwrap().to_owned();
                let mut seen = seen.lock().unwrap();
                let kinds = seen.entry(order).or_default();
                if !kinds.contains(&kind) {
                    kinds.push(kind);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_reaches_the_receiver_across_kill_9_on_sqlite() {
    every_acknowledged_event_reaches_the_receiver_across_kill_9(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_reaches_the_receiver_across_kill_9_on_postgres() {
    every_acknowledged_event_reaches_the_receiver_across_kill_9(true).await;
}

async fn every_acknowledged_event_reaches_the_receiver_across_kill_9(postgres: bool) {
    let Some(db) = Database::on(postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A short lease: the killed process's claimed jobs are taken over within seconds.
    let mut args = db.args();
    args.extend(["--allow-private-webhook-targets", "--job-lease", "10s"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = serve_with(&data, &args);
    let client = ordo_app::webhooks::http_client();
    let secret = Arc::new(Mutex::new(None));
    let seen: Seen = Arc::default();
    let url = receiver(Arc::clone(&secret), Arc::clone(&seen)).await;

    let admin = login(&client, &server.base, "admin@ordo.example").await;
    let put = client
        .put(format!("{}/api/v1/inventory/{SKU}", server.base))
        .bearer_auth(&admin)
        // Fewer than one refused order asks for (10,000): those are always refused; the
        // one-unit orders are cancelled again, so their stock comes back.
        .json(&json!({ "on_hand": 5_000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let endpoint: Value = client
        .post(format!("{}/api/v1/webhook-endpoints", server.base))
        .bearer_auth(&admin)
        .json(&json!({ "url": url, "events": ["order.*"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    *secret.lock().unwrap() = Some(endpoint["secret"].as_str().unwrap().to_owned());
    let customer = login(&client, &server.base, "ada@customer.example").await;

    // Orders placed and cancelled (two events each, in that order) from 8 connections, and
    // orders refused for want of stock; the server is killed while deliveries go out.
    let acknowledged: Arc<Mutex<BTreeMap<String, Vec<String>>>> = Arc::default();
    for cycle in 0..KILLS {
        let target = acknowledged.lock().unwrap().len() + 100;
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (client, base, token, acknowledged) = (
                    client.clone(),
                    server.base.clone(),
                    customer.clone(),
                    Arc::clone(&acknowledged),
                );
                tokio::spawn(async move { churn(&client, &base, &token, &acknowledged).await })
            })
            .collect();
        let reached = tokio::time::timeout(Duration::from_secs(120), async {
            while acknowledged.lock().unwrap().len() < target {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(
            reached.is_ok(),
            "cycle {cycle}: fewer than {target} orders within 120 s"
        );
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        for w in workers {
            w.await.unwrap();
        }
        server = serve_with(&data, &args);
    }

    // After the last restart every acknowledged event arrives (the relay and the delivery
    // jobs pick up where the killed process left them).
    let expected = acknowledged.lock().unwrap().clone();
    let arrived = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let done = {
                let seen = seen.lock().unwrap();
                expected.iter().all(|(order, kinds)| {
                    seen.get(order)
                        .is_some_and(|got| kinds.iter().all(|k| got.contains(k)))
                })
            };
            if done {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    let missing: Vec<_> = expected
        .iter()
        .filter(|(order, kinds)| {
            !seen
                .get(*order)
                .is_some_and(|got| kinds.iter().all(|k| got.contains(k)))
        })
        .collect();
    assert!(
        arrived.is_ok(),
        "{} of {} acknowledged orders missed events: {:?}",
        missing.len(),
        expected.len(),
        &missing[..missing.len().min(5)]
    );

    // Each order's events arrived in order, and only orders that exist sent any (a refused
    // placement, rolled back, sent nothing).
    let admin = login(&client, &server.base, "admin@ordo.example").await;
    for (order, kinds) in &seen {
        assert_eq!(
            kinds.first().map(String::as_str),
            Some("order.placed"),
            "order {order}: {kinds:?}"
        );
        let found = get_json(
            &client,
            format!("{}/api/v1/orders/{order}", server.base),
            &admin,
        )
        .await;
        assert_eq!(
            found["id"],
            order.as_str(),
            "an event of an order that does not exist"
        );
    }
}

/// Places an order, cancels it, and places one that cannot be had — until the server dies.
/// Records every acknowledged change of each order.
async fn churn(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    acknowledged: &Arc<Mutex<BTreeMap<String, Vec<String>>>>,
) {
    let order = |quantity: i64| {
        json!({ "currency": "EUR", "items": [{ "sku": SKU, "quantity": quantity }],
            "shipping_address": { "name": "Ada", "line1": "1 Loop Road", "city": "London",
                                  "postal_code": "N1", "country": "GB" } })
    };
    loop {
        let Ok(placed) = client
            .post(format!("{base}/api/v1/orders"))
            .bearer_auth(token)
            .json(&order(1))
            .send()
            .await
        else {
            return;
        };
        if placed.status() != 201 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let Ok(body) = placed.json::<Value>().await else {
            return;
        };
        let id = body["id"].as_str().unwrap().to_owned();
        acknowledged
            .lock()
            .unwrap()
            .insert(id.clone(), vec!["order.placed".into()]);
        let Ok(cancelled) = client
            .post(format!("{base}/api/v1/orders/{id}/actions/cancel"))
            .bearer_auth(token)
            .json(&json!({}))
            .send()
            .await
        else {
            return;
        };
        if cancelled.status() == 200 {
            acknowledged
                .lock()
                .unwrap()
                .get_mut(&id)
                .unwrap()
                .push("order.cancelled".into());
        }
        // Refused (not enough stock): rolled back, so it must leave no event.
        if client
            .post(format!("{base}/api/v1/orders"))
            .bearer_auth(token)
            .json(&order(10_000))
            .send()
            .await
            .is_err()
        {
            return;
        }
    }
}
