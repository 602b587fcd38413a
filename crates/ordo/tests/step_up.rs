//! Step-up re-authentication through the real `ordo serve` binary on its demo data: a customer
//! with a TOTP second factor, logged in without a code, cannot cancel a paid order (401
//! `step_up_required`); wrong TOTP codes fail (401) until step-ups lock (429); a good code in a
//! new session steps up, and the cancellation goes through.

use serde_json::{Value, json};

mod process;
use process::{Database, login, serve_with};

const ADA: &str = "ada@customer.example";

async fn post(client: &reqwest::Client, url: String, token: &str, body: Value) -> (u16, Value) {
    let r = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The code an authenticator app shows for `secret`, `ahead` steps from now.
fn code(secret: &str, ahead: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap()
        .generate(now + 30 * ahead)
        .to_string()
}

#[tokio::test]
async fn a_paid_order_is_cancelled_only_after_a_totp_step_up_on_sqlite() {
    a_paid_order_is_cancelled_only_after_a_totp_step_up(false).await;
}

#[tokio::test]
async fn a_paid_order_is_cancelled_only_after_a_totp_step_up_on_postgres() {
    a_paid_order_is_cancelled_only_after_a_totp_step_up(true).await;
}

async fn a_paid_order_is_cancelled_only_after_a_totp_step_up(postgres: bool) {
    let Some(db) = Database::on(postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = db.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = serve_with(&dir.path().join("data"), &args);
    let (client, base) = (ordo_app::webhooks::http_client(), server.base.clone());
    let api = |path: &str| format!("{base}/api/v1{path}");
    let admin = login(&client, &base, "admin@ordo.example").await;
    let ada = login(&client, &base, ADA).await;

    let (status, order) = post(
        &client,
        api("/orders"),
        &ada,
        json!({
        "currency": "EUR", "items": [{ "sku": "NL-BEANIE-GREY", "quantity": 1 }],
        "shipping_address": { "name": "Ada", "line1": "Unter den Linden 1", "city": "Berlin",
                              "postal_code": "10117", "country": "DE" } }),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    let cancel = api(&format!(
        "/orders/{}/actions/cancel",
        order["id"].as_str().unwrap()
    ));
    let pay = api(&format!(
        "/orders/{}/actions/pay",
        order["id"].as_str().unwrap()
    ));
    assert_eq!(post(&client, pay, &admin, json!({})).await.0, 200);

    // Ada enrols a TOTP factor.
    let (status, enrolment) = post(&client, api("/auth/totp/enroll"), &ada, json!({})).await;
    assert_eq!(status, 200, "{enrolment}");
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    let (status, codes) = post(
        &client,
        api("/auth/totp/confirm"),
        &ada,
        json!({ "code": code(&secret, 0) }),
    )
    .await;
    assert_eq!(status, 200, "{codes}");

    // A login without a code is not a fresh proof for her any more.
    let (status, session) = post(
        &client,
        api("/auth/login"),
        "",
        json!({
        "email": ADA, "password": ordo_app::demo::PASSWORD }),
    )
    .await;
    assert_eq!(status, 200);
    assert!(session.get("fresh_until").is_none(), "{session}");
    let token = session["token"].as_str().unwrap().to_owned();
    let (status, err) = post(
        &client,
        cancel.clone(),
        &token,
        json!({ "reason": "changed my mind" }),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("step_up_required")),
        "{err}"
    );

    // Wrong codes fail, then lock this session's step-ups.
    for _ in 0..5 {
        let (status, err) = post(
            &client,
            api("/auth/step-up"),
            &token,
            json!({ "totp": "000000" }),
        )
        .await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (401, Some("step_up_failed")),
            "{err}"
        );
    }
    let (status, err) = post(
        &client,
        api("/auth/step-up"),
        &token,
        json!({ "totp": code(&secret, 1) }),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (429, Some("step_up_locked")),
        "{err}"
    );

    // A new session, a good code: stepped up, and the cancellation goes through.
    let fresh = login(&client, &base, ADA).await;
    let (status, body) = post(
        &client,
        api("/auth/step-up"),
        &fresh,
        json!({ "totp": code(&secret, 1) }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(
        &client,
        cancel,
        &fresh,
        json!({ "reason": "changed my mind" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
}
