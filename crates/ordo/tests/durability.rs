//! An acknowledged order survives the server being killed (SIGKILL) in the middle of a burst
//! of placements: every order answered 201 is there after a restart, with its event, and the
//! stock reserved matches exactly the orders that exist — nothing half-written, nothing lost.
//! (Power loss is covered by `synchronous = FULL`, which this test cannot pull the plug on; see
//! docs/benchmarks.md, "Durability".)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

mod process;
use process::{SKU, get_json, login, pending_units, reserved, serve};

const KILLS: usize = 5;

#[tokio::test]
async fn every_acknowledged_order_survives_kill_9_mid_burst() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve(&data);
    let client = ordo_app::webhooks::http_client();
    let admin = login(&client, &server.base, "admin@ordo.example").await;
    let reserved_before = reserved(&client, &server.base, &admin).await;
    let put = client
        .put(format!("{}/api/v1/inventory/{SKU}", server.base))
        .bearer_auth(&admin)
        .json(&json!({ "on_hand": 1_000_000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let customer = login(&client, &server.base, "ada@customer.example").await;
    let stored_before = pending_units(&client, &server.base, &customer).await;

    // Five times: a burst of placements from 16 connections, killed once it is well under way
    // (several kills, because the moment of a kill decides which batch it cuts short).
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut server = server;
    for cycle in 0..KILLS {
        if cycle > 0 {
            server = serve(&data);
        }
        let target = acknowledged.lock().unwrap().len() + 300;
        let workers = burst(&client, &server.base, &customer, &acknowledged);
        // Waits for the server's answers, never longer than the deadline.
        let reached = tokio::time::timeout(Duration::from_secs(120), async {
            while acknowledged.lock().unwrap().len() < target {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        assert!(
            reached.is_ok(),
            "cycle {cycle}: fewer than {target} orders acknowledged within 120 s"
        );
        server.child.kill().unwrap(); // SIGKILL: no shutdown, no final checkpoint
        server.child.wait().unwrap();
        for w in workers {
            w.await.unwrap();
        }
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    drop(server);

    let server = serve(&data);
    let admin = login(&client, &server.base, "admin@ordo.example").await;
    let mut lost = Vec::new();
    for id in &acknowledged {
        let events = get_json(
            &client,
            format!("{}/api/v1/orders/{id}/events", server.base),
            &admin,
        )
        .await;
        if events["data"][0]["type"] != "order.placed" {
            lost.push(id.clone());
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged orders were lost: {lost:?}",
        lost.len(),
        acknowledged.len()
    );

    // Reservations match the orders that exist exactly: none half-written. (Some requests in
    // flight at the kill may have committed without their answer arriving; they count too.)
    let ada = login(&client, &server.base, "ada@customer.example").await;
    let stored = pending_units(&client, &server.base, &ada).await;
    assert!(stored - stored_before >= acknowledged.len() as i64);
    assert_eq!(
        reserved(&client, &server.base, &admin).await - reserved_before,
        stored - stored_before,
        "stock reserved does not match the orders stored"
    );
}

/// 16 connections placing one-unit orders as fast as they can until the server dies; the id
/// of every order answered 201 goes into `acknowledged`.
fn burst(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    acknowledged: &Arc<Mutex<Vec<String>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let order = json!({ "currency": "EUR", "items": [{ "sku": SKU, "quantity": 1 }],
        "shipping_address": { "name": "Ada", "line1": "1 Loop Road", "city": "London",
                              "postal_code": "N1", "country": "GB" } });
    (0..16)
        .map(|_| {
            let (client, url, token, order, acknowledged) = (
                client.clone(),
                format!("{base}/api/v1/orders"),
                token.to_owned(),
                order.clone(),
                Arc::clone(acknowledged),
            );
            tokio::spawn(async move {
                loop {
                    let sent = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&order)
                        .send()
                        .await;
                    let Ok(response) = sent else { return };
                    if response.status() != 201 {
                        continue;
                    }
                    let Ok(body) = response.json::<Value>().await else {
                        return;
                    };
                    acknowledged
                        .lock()
                        .unwrap()
                        .push(body["id"].as_str().unwrap().to_owned());
                }
            })
        })
        .collect()
}
