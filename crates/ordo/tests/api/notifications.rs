//! Notifications (issue 10): a real SMTP server (aiosmtpd from PyPI, pinned in
//! `.ci/requirements.txt`) receives each customer's e-mails in their language and none for a
//! customer who turned e-mail off; vendor staff hear of new orders; SMS go to a real HTTP
//! receiver, signed like webhooks; an order's notifications show masked addresses; an SMTP
//! outage is retried until the notification fails, and a person's retry then sends it.
//!
//! Without `.venv/bin/python` and aiosmtpd the test is skipped; with
//! `ORDO_TEST_REQUIRE_SMTP=1` (as `.ci/run` sets) it fails instead. `tests/mail.rs` runs the
//! binary with `--smtp-url`.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Kind, PASSWORD, TestApp};

#[path = "../process/smtp.rs"]
mod smtp;
use smtp::{Mail, SmtpSink};

const NOTIFIER_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The platform's SMS/push relay: records each request.
#[derive(Clone, Default)]
struct Notifier {
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
}

impl Notifier {
    async fn start(&self) -> String {
        let me = self.clone();
        let router = axum::Router::new().route(
            "/notify",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let me = me.clone();
                async move {
                    me.got.lock().unwrap().push((headers, body));
                    StatusCode::ACCEPTED
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        url
    }

    /// Each request's body, after checking its signature with the Standard Webhooks library.
    fn verified(&self) -> Vec<Value> {
        let wh = standardwebhooks::Webhook::new(NOTIFIER_SECRET).unwrap();
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(headers, body)| {
                let id = headers["webhook-id"].to_str().unwrap();
                let ts: i64 = headers["webhook-timestamp"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let expected = wh.sign(id, ts, body.as_bytes()).unwrap();
                assert_eq!(headers["webhook-signature"].to_str().unwrap(), expected);
                serde_json::from_str(body).unwrap()
            })
            .collect()
    }
}

/// Relays what is new, dispatches it (as the `notifications.dispatch` job does every second)
/// and runs the sends due.
async fn notify(app: &TestApp) {
    app.app.relay_once().await.expect("relay");
    app.app
        .dispatch_notifications()
        .await
        .expect("dispatch notifications");
    app.run_jobs().await;
}

/// A user with a known e-mail address, logged in.
async fn person(app: &TestApp, email: &str, role: &str, vendor_id: Option<&str>) -> String {
    app.post(
        "/api/v1/users",
        app.admin(),
        json!({ "email": email, "password": PASSWORD, "role": role, "vendor_id": vendor_id }),
    )
    .await
    .expect(201);
    app.login(email, PASSWORD).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_reach_people_in_their_language_on_their_channels_sqlite() {
    notifications_reach_people(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_reach_people_in_their_language_on_their_channels_postgres() {
    notifications_reach_people(Kind::Postgres).await;
}

async fn notifications_reach_people(kind: Kind) {
    let Some(mut smtp) = SmtpSink::start().await else {
        return;
    };
    let notifier = Notifier::default();
    let notifier_url = notifier.start().await;
    let settings = ordo_app::Settings {
        notifications: ordo_app::notifications::NotificationSettings {
            smtp_url: Some(smtp.url()),
            mail_from: "Test Shop <orders@shop.test>".into(),
            notifier_url: Some(notifier_url),
            notifier_secret: Some(NOTIFIER_SECRET.into()),
            shop_name: "Test Shop".into(),
            public_url: Some("https://shop.test".into()),
            ..Default::default()
        },
        // The test moves the clock through hours of retries; its logins must last.
        session_ttl: chrono::Duration::days(60),
        ..ordo_app::Settings::default()
    };
    let Some(app) = TestApp::spawn_with(kind, settings).await else {
        return;
    };
    // The dispatcher starts at the present.
    notify(&app).await;
    let shop = app.shop(50).await;
    let staff = person(&app, "staff@shop.test", "vendor", Some(&shop.vendor_id)).await;
    let greta = person(&app, "greta@example.test", "customer", None).await;
    let sam = person(&app, "sam@example.test", "customer", None).await;
    let (carrier_id, carrier) = app.user("carrier", None).await;

    // Bad preferences are refused and change nothing.
    let e = app
        .put(
            "/api/v1/me/notification-preferences",
            &greta,
            json!({ "locale": "fr" }),
        )
        .await
        .expect_error(400, "invalid_locale");
    assert_eq!(e["field"], "locale");
    app.put(
        "/api/v1/me/notification-preferences",
        &greta,
        json!({ "channels": { "email": true, "sms": true, "push": false } }),
    )
    .await
    .expect_error(400, "phone_required");
    app.put(
        "/api/v1/me/notification-preferences",
        &greta,
        json!({ "phone": "0151 1234" }),
    )
    .await
    .expect_error(400, "invalid_phone");
    let defaults = app
        .get("/api/v1/me/notification-preferences", &greta)
        .await
        .expect(200);
    assert_eq!(defaults["locale"], "en");
    assert_eq!(
        defaults["channels"],
        json!({ "email": true, "sms": false, "push": false })
    );
    // Greta reads German e-mail; Sam wants no e-mail, only SMS.
    let de = app
        .put(
            "/api/v1/me/notification-preferences",
            &greta,
            json!({ "locale": "de" }),
        )
        .await
        .expect(200);
    assert_eq!(de["locale"], "de");
    app.put(
        "/api/v1/me/notification-preferences",
        &sam,
        json!({ "channels": { "email": false, "sms": true, "push": false }, "phone": "+4915112345678" }),
    )
    .await
    .expect(200);

    // Greta's order goes all the way; Sam's is placed and cancelled.
    let gretas = app.order(&greta, &shop.sku, 2, None).await.expect(201);
    let g = gretas["id"].as_str().unwrap().to_owned();
    let sams = app.order(&sam, &shop.sku, 1, None).await.expect(201);
    let s = sams["id"].as_str().unwrap().to_owned();
    notify(&app).await;
    app.act(app.admin(), &g, "pay", json!({})).await.expect(200);
    app.act(&shop.token, &g, "accept", json!({}))
        .await
        .expect(200);
    app.act(&shop.token, &g, "ship", json!({ "carrier_id": carrier_id }))
        .await
        .expect(200);
    app.act(&carrier, &g, "deliver", json!({}))
        .await
        .expect(200);
    app.act(&sam, &s, "cancel", json!({ "reason": "changed my mind" }))
        .await
        .expect(200);
    notify(&app).await;

    let mut subjects: Vec<String> = smtp
        .to("greta@example.test")
        .iter()
        .map(|m| m.subject.clone())
        .collect();
    subjects.sort();
    let number = g[g.len() - 8..].to_uppercase();
    let mut expected = vec![
        format!("Ihre Bestellung {number} ist eingegangen"),
        format!("Zahlung für Bestellung {number} erhalten"),
        format!("Ihre Bestellung {number} ist unterwegs"),
        format!("Ihre Bestellung {number} wurde zugestellt"),
    ];
    expected.sort();
    assert_eq!(subjects, expected, "one e-mail per step, in German");
    let placed = smtp
        .to("greta@example.test")
        .into_iter()
        .find(|m| m.subject.contains("eingegangen"))
        .unwrap();
    assert!(placed.text.contains("Hallo Zoë Ünal 🏠"), "{}", placed.text);
    assert!(placed.text.contains("2 × Mug ☕"), "{}", placed.text);
    assert!(placed.text.contains("25,00\u{a0}€"), "{}", placed.text);
    assert!(
        placed
            .text
            .contains(&format!("https://shop.test/orders/{g}"))
    );
    assert!(placed.html.contains("<html lang=\"de\">"));
    assert!(
        placed.html.contains("Zoë Ünal 🏠"),
        "names are escaped, not mangled"
    );
    assert!(
        smtp.to("sam@example.test").is_empty(),
        "Sam turned e-mail off"
    );
    let staff_mail = smtp.to("staff@shop.test");
    assert_eq!(
        staff_mail.len(),
        2,
        "staff hear of each new order: {staff_mail:?}"
    );
    assert!(
        staff_mail
            .iter()
            .all(|m| m.subject.starts_with("New order "))
    );
    // Sam's SMS, signed, in English.
    let sms = notifier.verified();
    let sms: Vec<&Value> = sms.iter().filter(|b| b["order_id"] == s.as_str()).collect();
    assert_eq!(
        sms.iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["order.placed", "order.cancelled"]
    );
    assert!(
        sms.iter()
            .all(|b| b["channel"] == "sms" && b["to"] == "+4915112345678")
    );
    assert!(
        sms[1]["body"]
            .as_str()
            .unwrap()
            .contains("has been cancelled")
    );

    // What was sent about Greta's order: hers (masked) for her; everything for support.
    let mine = app
        .get(&format!("/api/v1/orders/{g}/notifications"), &greta)
        .await
        .expect(200);
    let mine = mine["data"].as_array().unwrap();
    assert_eq!(mine.len(), 4);
    assert!(mine.iter().all(|n| n["to"] == "g***@example.test"
        && n["status"] == "sent"
        && n["channel"] == "email"
        && n["locale"] == "de"));
    assert_eq!(mine[0]["type"], "order.placed");
    let all = app
        .get(&format!("/api/v1/orders/{g}/notifications"), app.admin())
        .await
        .expect(200);
    assert_eq!(
        all["data"].as_array().unwrap().len(),
        6,
        "and the two staff members': {all}"
    );
    let vendors = app
        .get(&format!("/api/v1/orders/{g}/notifications"), &staff)
        .await
        .expect(200);
    assert_eq!(vendors["data"].as_array().unwrap().len(), 2);
    app.get(&format!("/api/v1/orders/{g}/notifications"), &carrier)
        .await
        .expect_error(403, "forbidden");
    app.get(&format!("/api/v1/orders/{g}/notifications"), &sam)
        .await
        .expect_error(404, "not_found");

    // Staff hear when a SKU runs low.
    app.put(
        &format!("/api/v1/inventory/{}/low-stock-threshold", shop.sku),
        &shop.token,
        json!({ "low_stock_threshold": 47 }),
    )
    .await
    .expect(204);
    app.order(&greta, &shop.sku, 1, None).await.expect(201);
    notify(&app).await;
    let low: Vec<Mail> = smtp
        .to("staff@shop.test")
        .into_iter()
        .filter(|m| m.subject.starts_with("Low stock"))
        .collect();
    assert_eq!(low.len(), 1, "{low:?}");
    assert_eq!(low[0].subject, format!("Low stock: {} (47 left)", shop.sku));

    // A guest's confirmation links to the checkout's unguessable page, not an account's.
    let (cart, cart_token) = app.guest_cart(&shop.sku, 1).await;
    let guest = app
        .cart_call(
            reqwest::Method::POST,
            &format!("/api/v1/carts/{cart}/checkout"),
            None,
            Some(&cart_token),
            Some(json!({ "email": "guest@example.test" })),
        )
        .await
        .expect(201);
    notify(&app).await;
    let confirmation = smtp
        .to("guest@example.test")
        .into_iter()
        .next()
        .expect("the guest's confirmation");
    let link = format!(
        "https://shop.test{}/orders/{}",
        guest["track_url"].as_str().unwrap(),
        guest["orders"][0]["id"].as_str().unwrap()
    );
    assert!(confirmation.text.contains(&link), "{}", confirmation.text);

    // The SMTP server goes away: the e-mail is retried, then fails, and shows so.
    smtp.down().await;
    let third = app.order(&greta, &shop.sku, 1, None).await.expect(201);
    let t = third["id"].as_str().unwrap().to_owned();
    notify(&app).await;
    let path = format!("/api/v1/orders/{t}/notifications");
    let queued = app.get(&path, app.admin()).await.expect(200);
    let customer_mail = |list: &Value| {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["recipient"] == "customer")
            .cloned()
            .unwrap()
    };
    let n = customer_mail(&queued);
    assert_eq!(
        (n["status"].as_str(), n["attempts"].as_i64()),
        (Some("queued"), Some(1))
    );
    assert!(
        n["last_error"].as_str().unwrap().contains("SMTP"),
        "support see why: {n}"
    );
    assert!(
        customer_mail(&app.get(&path, &greta).await.expect(200))
            .get("last_error")
            .is_none(),
        "the customer does not see server errors"
    );
    for _ in 0..12 {
        app.advance(chrono::Duration::hours(2));
        notify(&app).await;
    }
    let failed = customer_mail(&app.get(&path, app.admin()).await.expect(200));
    assert_eq!(
        (failed["status"].as_str(), failed["attempts"].as_i64()),
        (Some("failed"), Some(10))
    );
    let dead = app
        .get(
            "/api/v1/jobs?state=dead&kind=notification.send",
            app.admin(),
        )
        .await
        .expect(200);
    let dead = dead["data"].as_array().unwrap();
    let job = dead
        .iter()
        .find(|j| j["key"] == failed["id"])
        .expect("its dead job");
    // Back up, and support retries it: it is sent.
    smtp.up().await;
    app.post(
        &format!("/api/v1/jobs/{}/retry", job["id"].as_str().unwrap()),
        app.admin(),
        json!({}),
    )
    .await
    .expect(202);
    notify(&app).await;
    let sent = customer_mail(&app.get(&path, app.admin()).await.expect(200));
    assert_eq!(sent["status"], "sent");
    let number = t[t.len() - 8..].to_uppercase();
    assert_eq!(
        smtp.to("greta@example.test")
            .iter()
            .filter(|m| m.subject.contains(&number))
            .count(),
        1
    );
}
