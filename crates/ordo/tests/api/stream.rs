//! The event stream (issue 10): every relayed event reaches NATS JetStream once per
//! `Nats-Msg-Id`, in relay order, on `ordo.<type>` — across a NATS restart (publishing stops,
//! then resumes where it stopped) and across an Ordo restart that publishes again what it had
//! already sent (JetStream drops the duplicates). Each test runs its own `nats-server` (the
//! Debian package's binary), so it can stop and start it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Kind, TestApp};

const NATS_SERVER: &str = "/usr/sbin/nats-server";

/// A NATS server of the test's own, with JetStream storage in a temp folder.
struct Nats {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Nats {
    /// `None` when there is no nats-server here (fails instead under ORDO_TEST_REQUIRE_NATS).
    async fn start() -> Option<Self> {
        if !std::path::Path::new(NATS_SERVER).exists() {
            ordo_store::testing::missing(
                "NATS",
                &format!("{NATS_SERVER} is missing (apt-get install nats-server)"),
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut nats = Self {
            child: None,
            port,
            dir: tempfile::tempdir().expect("temp dir"),
        };
        nats.up().await;
        Some(nats)
    }

    async fn up(&mut self) {
        let child = Command::new(NATS_SERVER)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nats-server did not listen within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Every message of the ORDO stream: (subject, Nats-Msg-Id, body).
    async fn messages(&self) -> Vec<(String, String, Value)> {
        let client = async_nats::connect(self.url()).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream("ORDO").await.expect("the ORDO stream");
        let count = stream.get_info().await.expect("info").state.messages;
        let mut out = Vec::new();
        for seq in 1..=count {
            let m = stream.get_raw_message(seq).await.expect("message");
            let id = m
                .headers
                .get("Nats-Msg-Id")
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default();
            out.push((
                m.subject.to_string(),
                id,
                serde_json::from_slice(&m.payload).expect("JSON"),
            ));
        }
        out
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.down();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_jetstream_once_sqlite() {
    every_event_reaches_jetstream_once(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_jetstream_once_postgres() {
    every_event_reaches_jetstream_once(Kind::Postgres).await;
}

/// Publishes until JetStream has taken everything relayed (NATS may still be reconnecting).
async fn publish_all(app: &TestApp) {
    app.app.relay_once().await.expect("relay");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match app.app.publish_events().await {
            Ok(_) => {
                // Nothing left after the cursor: everything is in.
                if app.app.publish_events().await.expect("publish") == 0 {
                    return;
                }
            }
            Err(e) => assert!(
                tokio::time::Instant::now() < deadline,
                "publishing never resumed: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn every_event_reaches_jetstream_once(kind: Kind) {
    let Some(mut nats) = Nats::start().await else {
        return;
    };
    let settings = ordo_app::Settings {
        nats: Some(ordo_app::stream::NatsSettings::new(nats.url())),
        ..ordo_app::Settings::default()
    };
    let Some(mut app) = TestApp::spawn_with(kind, settings).await else {
        return;
    };
    // The stream starts at the present: what happens from here on is published.
    publish_all(&app).await;
    let start = app
        .count("SELECT position FROM relay_cursors WHERE consumer = 'nats'")
        .await;
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let first = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let first = first["id"].as_str().unwrap().to_owned();
    app.act(app.admin(), &first, "pay", json!({}))
        .await
        .expect(200);
    publish_all(&app).await;
    let types: Vec<String> = nats
        .messages()
        .await
        .into_iter()
        .map(|(s, _, _)| s)
        .collect();
    assert_eq!(
        types,
        ["ordo.stock.updated", "ordo.order.placed", "ordo.order.paid"]
    );

    // NATS goes away: changes go on, publishing stops without losing its place…
    nats.down();
    let second = app.order(&customer, &shop.sku, 2, None).await.expect(201);
    let second = second["id"].as_str().unwrap().to_owned();
    app.app.relay_once().await.expect("relay");
    assert!(app.app.publish_events().await.is_err(), "NATS is down");
    // …and resumes where it stopped once NATS is back.
    nats.up().await;
    publish_all(&app).await;

    // Ordo restarts having lost track of what it sent (its cursor moved back): it publishes
    // everything again, and JetStream keeps each event once.
    app.execute(&format!(
        "UPDATE relay_cursors SET position = {start} WHERE consumer = 'nats'"
    ))
    .await;
    app.restart().await;
    publish_all(&app).await;

    let messages = nats.messages().await;
    let mut expected = Vec::new();
    let mut after = start;
    loop {
        let page = app
            .get(
                &format!("/api/v1/events?after={after}&limit=100"),
                app.admin(),
            )
            .await
            .expect(200);
        let data = page["data"].as_array().unwrap().clone();
        expected.extend(data);
        if page["has_more"] == false {
            break;
        }
        after = page["next_after"].as_i64().unwrap();
    }
    assert_eq!(
        messages.len(),
        expected.len(),
        "each event once in the stream"
    );
    for ((subject, msg_id, body), event) in messages.iter().zip(&expected) {
        assert_eq!(body["id"], event["id"]);
        assert_eq!(msg_id, &event["id"].to_string());
        assert_eq!(
            subject,
            &format!("ordo.{}", event["type"].as_str().unwrap())
        );
        assert_eq!(body["type"], event["type"]);
    }
    let paid_second = messages
        .iter()
        .filter(|(s, _, b)| s == "ordo.order.placed" && b["data"]["order_id"] == second.as_str())
        .count();
    assert_eq!(
        paid_second, 1,
        "the order placed during the outage is there once"
    );
    assert!(
        messages
            .iter()
            .any(|(s, _, b)| s == "ordo.order.paid" && b["data"]["order_id"] == first.as_str())
    );

    // In `ordo serve` the `stream.publish` job does it, once a second.
    app.act(app.admin(), &second, "pay", json!({}))
        .await
        .expect(200);
    app.app.relay_once().await.expect("relay");
    app.advance(chrono::Duration::seconds(2));
    app.run_jobs().await;
    let last = nats.messages().await.pop().expect("a message");
    assert_eq!(
        (last.0.as_str(), &last.2["data"]["order_id"]),
        ("ordo.order.paid", &json!(second))
    );
}
