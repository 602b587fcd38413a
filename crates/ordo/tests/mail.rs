//! E-mail through the binary a user runs: `ordo serve --smtp-url … --mail-from …` sends a
//! customer's order e-mail, in their language, to a real SMTP server (aiosmtpd), shows it as
//! sent, and writes no one's address into its log.

mod process;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use process::smtp::SmtpSink;
use process::{Database, SKU, login};
use serde_json::{Value, json};

#[tokio::test]
async fn the_binary_mails_a_customer_in_their_language_and_logs_no_address_on_sqlite() {
    the_binary_mails_a_customer_in_their_language_and_logs_no_address(false).await;
}

#[tokio::test]
async fn the_binary_mails_a_customer_in_their_language_and_logs_no_address_on_postgres() {
    the_binary_mails_a_customer_in_their_language_and_logs_no_address(true).await;
}

async fn the_binary_mails_a_customer_in_their_language_and_logs_no_address(postgres: bool) {
    let Some(smtp) = SmtpSink::start().await else {
        return;
    };
    let Some(db) = Database::on(postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ordo.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(db.args())
        .args(["--smtp-url", &smtp.url()])
        .args(["--mail-from", "Demo Shop <orders@demo.example>"])
        .args(["--shop-name", "Demo Shop", "--log-format", "json"])
        .env("ORDO_LOG", "info")
        .env_remove("ORDO_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("run ordo serve");
    let mut out = child.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let base = loop {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "ordo exited before listening: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        if let Some(line) = seen
            .lines()
            .find(|l| l.starts_with("Ordo is listening on "))
        {
            break line["Ordo is listening on ".len()..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned();
        }
    };
    std::thread::spawn(move || while out.read(&mut buf).is_ok_and(|n| n > 0) {});
    let client = ordo_app::webhooks::http_client();
    let ada = login(&client, &base, "ada@customer.example").await;
    let prefs = client
        .put(format!("{base}/api/v1/me/notification-preferences"))
        .bearer_auth(&ada)
        .json(&json!({ "locale": "de" }))
        .send()
        .await
        .unwrap();
    assert_eq!(prefs.status(), 200);
    let order: Value = client
        .post(format!("{base}/api/v1/orders"))
        .bearer_auth(&ada)
        .json(
            &json!({ "currency": "EUR", "items": [{ "sku": SKU, "quantity": 1 }],
            "shipping_address": { "name": "Ada Lovelace", "line1": "Unter den Linden 1",
                "city": "Berlin", "postal_code": "10117", "country": "DE" } }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = order["id"].as_str().expect("an order").to_owned();
    let number = id[id.len() - 8..].to_uppercase();

    // The background worker sends it by itself (no test hook): wait for it, boundedly.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mail = loop {
        if let Some(m) = smtp
            .to("ada@customer.example")
            .into_iter()
            .find(|m| m.subject.contains(&number))
        {
            break m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no e-mail for order {number}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        mail.subject,
        format!("Ihre Bestellung {number} ist eingegangen")
    );
    assert!(mail.text.contains("Demo Shop"), "{}", mail.text);
    let sent: Value = client
        .get(format!("{base}/api/v1/orders/{id}/notifications"))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent["data"][0]["status"], "sent", "{sent}");
    assert_eq!(sent["data"][0]["to"], "a***@customer.example");

    let _ = child.kill();
    let _ = child.wait();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("notification sent"),
        "the send is logged, by id"
    );
    assert!(
        !logged.contains("ada@customer.example"),
        "no address in the log: {}",
        logged
            .lines()
            .filter(|l| l.contains("ada@customer.example"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
