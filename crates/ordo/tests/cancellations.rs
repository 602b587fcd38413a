//! A cancelled order gives the money back, through the binary a shop runs, on SQLite and on
//! PostgreSQL: `ordo serve --demo` with its sandbox and a real SMTP server. The demo customer
//! cancels a paid order; the answer says a refund is on its way, the server's own job worker
//! sends it, and the customer's e-mails say how much comes back and that it was refunded. An
//! order cancelled the old way (money kept, made with raw SQL) is listed by `ordo payments
//! reconcile --cancelled`, refunded by `--apply` after a typed "yes", and never twice.

mod process;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use process::smtp::SmtpSink;
use process::{Database, SKU, login, serve_with};
use serde_json::{Value, json};
use sqlx::Connection;

fn order() -> Value {
    json!({ "currency": "EUR", "items": [{ "sku": SKU, "quantity": 1 }],
            "payment_method": "sandbox_card_ok",
            "shipping_address": { "name": "Ada Lovelace", "line1": "Unter den Linden 1",
                "city": "Berlin", "postal_code": "10117", "country": "DE" } })
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Polls the order's payment until its status is `want` (the binary's worker runs by itself),
/// for at most 30 seconds.
async fn until_status(client: &reqwest::Client, base: &str, token: &str, id: &str, want: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, p) = call(
            client,
            reqwest::Method::GET,
            format!("{base}/api/v1/orders/{id}/payments"),
            token,
            None,
        )
        .await;
        if p["data"][0]["status"] == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "payment of {id} never became {want}: {p}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first e-mail to `to` whose subject holds `words`, waited for at most 30 seconds.
async fn mail(smtp: &SmtpSink, to: &str, words: &str) -> process::smtp::Mail {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(m) = smtp.to(to).into_iter().find(|m| m.subject.contains(words)) {
            return m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no e-mail to {to} about {words:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `ordo payments reconcile …` on the server's database, with `answer` typed on its input.
fn reconcile(db: &[String], args: &[&str], answer: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["payments", "reconcile", "--cancelled"])
        .args(args)
        .args(db)
        .env("ORDO_LOG", "warn")
        .env_remove("ORDO_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ordo payments reconcile");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

async fn the_binary_gives_a_cancelled_orders_money_back(postgres: bool) {
    let Some(smtp) = SmtpSink::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let Some(database) = Database::on(postgres).await else {
        return;
    };
    // The CLI's `reconcile` is told the database as `serve` is; `serve_with` gives the data
    // folder itself, and PostgreSQL is named on top of it.
    let served = database.args();
    let db: Vec<String> = if postgres {
        served.clone()
    } else {
        vec!["--data-dir".into(), data.display().to_string()]
    };
    let smtp_url = smtp.url();
    let mut args: Vec<&str> = served.iter().map(String::as_str).collect();
    args.extend(["--smtp-url", &smtp_url, "--shop-name", "Demo Shop"]);
    let server = serve_with(&data, &args);
    let base = &server.base;
    let client = ordo_app::webhooks::http_client();
    let ada = login(&client, base, "ada@customer.example").await;

    let (status, paid) = call(
        &client,
        reqwest::Method::POST,
        format!("{base}/api/v1/orders"),
        &ada,
        Some(order()),
    )
    .await;
    assert_eq!(
        (status, paid["status"].as_str()),
        (201, Some("paid")),
        "{paid}"
    );
    let id = paid["id"].as_str().unwrap().to_owned();
    let total = paid["total"]["amount"].as_i64().unwrap();
    let (status, cancelled) = call(
        &client,
        reqwest::Method::POST,
        format!("{base}/api/v1/orders/{id}/actions/cancel"),
        &ada,
        Some(json!({ "reason": "changed my mind" })),
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["payment"]["amounts"]["refunding"], total);
    until_status(&client, base, &ada, &id, "refunded").await;

    // The customer is told how much comes back, and then that it did.
    let number = id[id.len() - 8..].to_uppercase();
    let gone = mail(
        &smtp,
        "ada@customer.example",
        &format!("{number} has been cancelled"),
    )
    .await;
    let euros = format!("€{}.{:02}", total / 100, total % 100);
    assert!(
        gone.text
            .contains(&format!("{euros} goes back to the card")),
        "{}",
        gone.text
    );
    let back = mail(&smtp, "ada@customer.example", "refund").await;
    assert!(back.text.contains(&euros), "{}", back.text);

    // An order cancelled before this fix: paid, then cancelled with its money kept.
    let (_, old) = call(
        &client,
        reqwest::Method::POST,
        format!("{base}/api/v1/orders"),
        &ada,
        Some(order()),
    )
    .await;
    let old_id = old["id"].as_str().unwrap().to_owned();
    let sql = match database.url() {
        Some(url) => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            let q = format!("UPDATE orders SET status = 'cancelled' WHERE id = '{old_id}'");
            sqlx::query(sqlx::AssertSqlSafe(q))
                .execute(&mut c)
                .await
                .map(|r| r.rows_affected())
        }
        None => {
            let file = ordo::database_file(&data);
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                .await
                .unwrap();
            let q = format!(
                "UPDATE orders SET status = 'cancelled' WHERE id = x'{}'",
                old_id.replace('-', "")
            );
            sqlx::query(sqlx::AssertSqlSafe(q))
                .execute(&mut c)
                .await
                .map(|r| r.rows_affected())
        }
    };
    assert_eq!(sql.unwrap(), 1);

    let (ok, listed) = reconcile(&db, &[], "");
    assert!(ok, "{listed}");
    assert!(listed.contains(&old_id), "{listed}");
    assert!(
        !listed.contains(&id),
        "the order cancelled today gave its money back: {listed}"
    );
    // Asked, and not confirmed: nothing changes.
    let (ok, refused) = reconcile(&db, &["--apply"], "no\n");
    assert!(ok && refused.contains("Nothing was changed"), "{refused}");
    let (ok, applied) = reconcile(&db, &["--apply"], "yes\n");
    assert!(ok && applied.contains("money of 1 order (€"), "{applied}");
    until_status(&client, base, &ada, &old_id, "refunded").await;
    let (ok, again) = reconcile(&db, &["--apply", "--yes"], "");
    assert!(
        ok && again.contains("has been given back"),
        "nothing twice: {again}"
    );
    let (_, p) = call(
        &client,
        reqwest::Method::GET,
        format!("{base}/api/v1/orders/{old_id}/payments"),
        &ada,
        None,
    )
    .await;
    let requests = p["data"][0]["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "refund_requested")
        .count();
    assert_eq!(requests, 1, "{p}");
    drop(server);
}

#[tokio::test]
async fn the_binary_gives_a_cancelled_orders_money_back_on_sqlite() {
    the_binary_gives_a_cancelled_orders_money_back(false).await;
}

#[tokio::test]
async fn the_binary_gives_a_cancelled_orders_money_back_on_postgres() {
    the_binary_gives_a_cancelled_orders_money_back(true).await;
}
