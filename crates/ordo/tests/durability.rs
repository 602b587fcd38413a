//! An acknowledged order survives the server being killed (SIGKILL) in the middle of a burst
//! of placements: every order answered 201 is there after a restart, with its event, and the
//! stock reserved matches exactly the orders that exist — nothing half-written, nothing lost.
//! (Power loss is covered by `synchronous = FULL`, which this test cannot pull the plug on; see
//! docs/benchmarks.md, "Durability".)

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

const SKU: &str = "NL-JKT-M";
const KILLS: usize = 5;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("ORDO_LOG", "warn")
        .env_remove("ORDO_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ordo serve");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("ordo exited before listening").unwrap();
        if let Some(rest) = line.strip_prefix("Ordo is listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep reading so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, base }
}

async fn login(client: &reqwest::Client, base: &str, email: &str) -> String {
    let body: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": ordo_app::demo::PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["token"].as_str().unwrap().to_owned()
}

/// GET `url` as `token`; the body as JSON (Null when it is not 200).
async fn get_json(client: &reqwest::Client, url: String, token: &str) -> Value {
    let response = client.get(url).bearer_auth(token).send().await.unwrap();
    if response.status() != 200 {
        return Value::Null;
    }
    response.json().await.unwrap()
}

async fn reserved(client: &reqwest::Client, base: &str, admin: &str) -> i64 {
    let stock = get_json(client, format!("{base}/api/v1/inventory/{SKU}"), admin).await;
    stock["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["reserved"].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn every_acknowledged_order_survives_kill_9_mid_burst() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve(&data);
    let client = reqwest::Client::new();
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
        while acknowledged.lock().unwrap().len() < target {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
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

/// Units of the SKU in the customer's pending orders, over every page of their orders.
async fn pending_units(client: &reqwest::Client, base: &str, token: &str) -> i64 {
    let mut units = 0;
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/orders?limit=100&status=pending_payment");
        if let Some(a) = &after {
            url.push_str(&format!("&starting_after={a}"));
        }
        let page = get_json(client, url, token).await;
        let orders = page["data"].as_array().unwrap();
        units += orders
            .iter()
            .flat_map(|o| o["items"].as_array().unwrap().iter())
            .filter(|l| l["sku"] == SKU)
            .map(|l| l["quantity"].as_i64().unwrap())
            .sum::<i64>();
        if page["has_more"] != true {
            return units;
        }
        after = orders.last().map(|o| o["id"].as_str().unwrap().to_owned());
    }
}
