//! Step-up re-authentication and the TOTP second factor, on both databases: sensitive actions
//! (the published list) need a fresh proof of identity; a step-up gives one; wrong proofs are
//! counted and lock step-ups out; a TOTP code is good once; and on PostgreSQL a revoked token or
//! a changed role reaches every node at once.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Auth, Kind, TestApp, on_both_backends};

on_both_backends!(
    cancelling_a_paid_order_needs_a_fresh_proof,
    pricing_rules_and_users_need_a_fresh_proof,
    a_totp_factor_is_enrolled_confirmed_used_once_and_removed,
    wrong_step_ups_are_counted_and_locked_out,
    the_sensitive_actions_are_published,
);

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

async fn step_up(app: &TestApp, token: &str, body: Value) -> crate::harness::Res {
    app.post("/api/v1/auth/step-up", token, body).await
}

/// The code an authenticator app shows for `secret` at `at`.
fn code(secret: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap();
    totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .unwrap()
        .generate(u64::try_from(at.timestamp()).unwrap())
        .to_string()
}

async fn cancelling_a_paid_order_needs_a_fresh_proof(app: TestApp) {
    let shop = app.shop(10).await;
    let (_, customer) = app.user("customer", None).await;
    let me = app.get("/api/v1/auth/me", &customer).await.expect(200);
    let email = me["email"].as_str().unwrap().to_owned();
    let paid = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let unpaid = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let id = |o: &Value| o["id"].as_str().unwrap().to_owned();
    app.act(app.admin(), &id(&paid), "pay", json!({}))
        .await
        .expect(200);

    let stock = app.stock(&shop).await;
    // The login was five minutes ago and more: no longer a fresh proof.
    app.advance(minutes(6));
    let err = app
        .act(
            &customer,
            &id(&paid),
            "cancel",
            json!({ "reason": "too late" }),
        )
        .await
        .expect_error(401, "step_up_required");
    assert!(
        err["message"].as_str().unwrap().contains("paid or later")
            && err["message"].as_str().unwrap().contains("5 minutes"),
        "{err}"
    );
    assert_eq!(app.stock(&shop).await, stock, "nothing was released");
    // An unpaid order is not sensitive: cancelling it needs no step-up.
    app.act(&customer, &id(&unpaid), "cancel", json!({}))
        .await
        .expect(200);

    step_up(&app, &customer, json!({ "password": "not the password" }))
        .await
        .expect_error(401, "step_up_failed");
    step_up(
        &app,
        &customer,
        json!({ "password": crate::harness::PASSWORD, "totp": "123456" }),
    )
    .await
    .expect_error(400, "one_factor_required");
    let fresh = step_up(
        &app,
        &customer,
        json!({ "password": crate::harness::PASSWORD }),
    )
    .await
    .expect(200);
    assert!(fresh["fresh_until"].is_string());
    app.act(
        &customer,
        &id(&paid),
        "cancel",
        json!({ "reason": "changed my mind" }),
    )
    .await
    .expect(200);
    assert_eq!(app.stock(&shop).await, (10, 0, 10));

    // The window closes again; a new login opens it.
    let another = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    app.act(app.admin(), &id(&another), "pay", json!({}))
        .await
        .expect(200);
    app.advance(minutes(6));
    app.act(&customer, &id(&another), "cancel", json!({}))
        .await
        .expect_error(401, "step_up_required");
    let relogin = app.login(&email, crate::harness::PASSWORD).await;
    app.act(&relogin, &id(&another), "cancel", json!({}))
        .await
        .expect(200);
}

async fn pricing_rules_and_users_need_a_fresh_proof(app: TestApp) {
    let admin = app.admin().to_owned();
    app.advance(minutes(6));
    app.post(
        "/api/v1/tax-rules",
        &admin,
        json!({ "country": "AT", "rate": "20", "mode": "inclusive", "name": "AT VAT" }),
    )
    .await
    .expect_error(401, "step_up_required");
    app.post(
        "/api/v1/users",
        &admin,
        json!({ "email": "late@test.example", "password": "a long password", "role": "support" }),
    )
    .await
    .expect_error(401, "step_up_required");
    let before = app.get("/api/v1/pricing", &admin).await.expect(200);
    step_up(
        &app,
        &admin,
        json!({ "password": crate::harness::PASSWORD }),
    )
    .await
    .expect(200);
    app.post(
        "/api/v1/tax-rules",
        &admin,
        json!({ "country": "AT", "rate": "20", "mode": "inclusive", "name": "AT VAT" }),
    )
    .await
    .expect(200);
    assert_ne!(app.get("/api/v1/pricing", &admin).await.expect(200), before);
    let user = app
        .post("/api/v1/users", &admin,
            json!({ "email": "late@test.example", "password": "a long password", "role": "support" }))
        .await
        .expect(201);
    let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    // Changing a role is sensitive too; the user's sessions see it at once.
    let support = app.login("late@test.example", "a long password").await;
    app.get("/api/v1/orders", &support).await.expect(200);
    let changed = app
        .patch(&path, &admin, json!({ "role": "customer" }))
        .await
        .expect(200);
    assert_eq!(changed["role"], "customer");
    assert_eq!(
        app.get("/api/v1/auth/me", &support).await.expect(200)["role"],
        "customer"
    );
    app.patch(&path, &admin, json!({ "disabled": true }))
        .await
        .expect(200);
    app.get("/api/v1/auth/me", &support)
        .await
        .expect_error(401, "invalid_token");
    assert_eq!(
        app.request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": "late@test.example", "password": "a long password" }))
        )
        .await
        .status,
        401,
        "a disabled user cannot log in"
    );
    let me = app.get("/api/v1/auth/me", &admin).await.expect(200);
    app.patch(
        &format!("/api/v1/users/{}", me["id"].as_str().unwrap()),
        &admin,
        json!({ "role": "support" }),
    )
    .await
    .expect_error(403, "forbidden");
    app.advance(minutes(6));
    app.patch(&path, &admin, json!({ "disabled": false }))
        .await
        .expect_error(401, "step_up_required");
}

async fn a_totp_factor_is_enrolled_confirmed_used_once_and_removed(app: TestApp) {
    let (_, token) = app.user("support", None).await;
    let me = app.get("/api/v1/auth/me", &token).await.expect(200);
    let email = me["email"].as_str().unwrap().to_owned();
    let enrolment = app
        .post("/api/v1/auth/totp/enroll", &token, json!({}))
        .await
        .expect(200);
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    assert!(
        enrolment["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Ordo:")
    );
    assert!(enrolment["qr_svg"].as_str().unwrap().contains("<svg"));
    let now = app.app.now();
    app.post(
        "/api/v1/auth/totp/confirm",
        &token,
        json!({ "code": "000000" }),
    )
    .await
    .expect_error(400, "invalid_totp");
    let confirmed = app
        .post(
            "/api/v1/auth/totp/confirm",
            &token,
            json!({ "code": code(&secret, now) }),
        )
        .await
        .expect(200);
    let recovery: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    app.post("/api/v1/auth/totp/enroll", &token, json!({}))
        .await
        .expect_error(409, "totp_already_enabled");

    // From now on the password alone is not a step-up, and a login without a code is not fresh.
    app.advance(minutes(6));
    step_up(
        &app,
        &token,
        json!({ "password": crate::harness::PASSWORD }),
    )
    .await
    .expect_error(400, "totp_required");
    let login = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": email, "password": crate::harness::PASSWORD })),
        )
        .await
        .expect(200);
    assert!(login.get("fresh_until").is_none(), "{login}");
    let now = app.app.now();
    let with_code = app
        .request(Method::POST, "/api/v1/auth/login", None,
            Some(json!({ "email": email, "password": crate::harness::PASSWORD, "totp": code(&secret, now) })))
        .await
        .expect(200);
    assert!(with_code["fresh_until"].is_string());

    // A wrong code fails; a good one works once (the login above used this step already).
    step_up(&app, &token, json!({ "totp": "999999" }))
        .await
        .expect_error(401, "step_up_failed");
    step_up(&app, &token, json!({ "totp": code(&secret, now) }))
        .await
        .expect_error(401, "step_up_failed");
    app.advance(chrono::Duration::seconds(30));
    let now = app.app.now();
    step_up(&app, &token, json!({ "totp": code(&secret, now) }))
        .await
        .expect(200);
    // A recovery code stands in for a code, once.
    app.advance(minutes(6));
    step_up(
        &app,
        &token,
        json!({ "recovery_code": recovery[0].to_uppercase() }),
    )
    .await
    .expect(200);
    app.advance(minutes(6));
    step_up(&app, &token, json!({ "recovery_code": recovery[0] }))
        .await
        .expect_error(401, "step_up_failed");

    // Removing the factor is itself sensitive.
    app.delete("/api/v1/auth/totp", &token)
        .await
        .expect_error(401, "step_up_required");
    step_up(&app, &token, json!({ "recovery_code": recovery[1] }))
        .await
        .expect(200);
    app.delete("/api/v1/auth/totp", &token).await.expect(204);
    app.advance(minutes(6));
    step_up(
        &app,
        &token,
        json!({ "password": crate::harness::PASSWORD }),
    )
    .await
    .expect(200);
}

async fn wrong_step_ups_are_counted_and_locked_out(app: TestApp) {
    let (_, first) = app.user("customer", None).await;
    let me = app.get("/api/v1/auth/me", &first).await.expect(200);
    let email = me["email"].as_str().unwrap().to_owned();
    let wrong = json!({ "password": "wrong password" });
    for _ in 0..5 {
        step_up(&app, &first, wrong.clone())
            .await
            .expect_error(401, "step_up_failed");
    }
    // Five in one session: that session may step up no more, even with the right password.
    step_up(
        &app,
        &first,
        json!({ "password": crate::harness::PASSWORD }),
    )
    .await
    .expect_error(429, "step_up_locked");
    // Across sessions, the tenth failure locks the user out for a while.
    let second = app.login(&email, crate::harness::PASSWORD).await;
    for _ in 0..5 {
        step_up(&app, &second, wrong.clone())
            .await
            .expect_error(401, "step_up_failed");
    }
    let third = app.login(&email, crate::harness::PASSWORD).await;
    let locked = step_up(
        &app,
        &third,
        json!({ "password": crate::harness::PASSWORD }),
    )
    .await;
    let retry_after: u64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    locked.expect_error(429, "step_up_locked");
    app.advance(minutes(16));
    step_up(
        &app,
        &third,
        json!({ "password": crate::harness::PASSWORD }),
    )
    .await
    .expect(200);
}

async fn the_sensitive_actions_are_published(app: TestApp) {
    let list = app
        .call(
            Method::GET,
            "/api/v1/auth/sensitive-actions",
            Auth::Guest,
            None,
            None,
        )
        .await
        .expect(200);
    assert_eq!(list["step_up_window_seconds"], 300);
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "cancel_paid_order",
            "manage_users",
            "change_pricing_rules",
            "remove_totp",
            "refund_payment",
            "manage_payouts"
        ]
    );
    assert!(
        list["data"][2]["endpoints"]
            .as_array()
            .unwrap()
            .contains(&json!("POST /api/v1/tax-rules"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_must_have_totp_can_only_enrol_until_it_does_sqlite() {
    a_role_that_must_have_totp_can_only_enrol_until_it_does(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_must_have_totp_can_only_enrol_until_it_does_postgres() {
    a_role_that_must_have_totp_can_only_enrol_until_it_does(Kind::Postgres).await;
}

async fn a_role_that_must_have_totp_can_only_enrol_until_it_does(kind: Kind) {
    let settings = ordo_app::Settings {
        require_totp_for: vec![ordo_domain::identity::Role::Support],
        ..ordo_app::Settings::default()
    };
    let Some(app) = TestApp::spawn_with(kind, settings).await else {
        return;
    };
    let (_, token) = app.user("support", None).await;
    app.get("/api/v1/orders", &token)
        .await
        .expect_error(403, "totp_enrolment_required");
    app.get("/api/v1/auth/me", &token).await.expect(200);
    let secret = app
        .post("/api/v1/auth/totp/enroll", &token, json!({}))
        .await
        .expect(200)["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        "/api/v1/auth/totp/confirm",
        &token,
        json!({ "code": code(&secret, app.app.now()) }),
    )
    .await
    .expect(200);
    app.get("/api/v1/orders", &token).await.expect(200);
    // Other roles are not asked.
    let customer = app.customer().await;
    app.get("/api/v1/orders", &customer).await.expect(200);
}

/// Two nodes on one PostgreSQL database: a token revoked on one stops working on the other at
/// once, and a role changed on one is seen by the other at once (not after the session
/// cache's 30 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_and_a_role_change_reach_every_node() {
    let Some(mut app) = TestApp::spawn(Kind::Postgres).await else {
        return;
    };
    let other = app.second_node().await;
    let (id, token) = app.user("support", None).await;
    let me_on_other = |token: String| {
        let (client, url) = (app.client.clone(), format!("{other}/api/v1/auth/me"));
        async move { client.get(url).bearer_auth(token).send().await.unwrap() }
    };
    // The other node checks the token and remembers it.
    assert_eq!(me_on_other(token.clone()).await.status(), 200);
    let second = {
        let me = app.get("/api/v1/auth/me", &token).await.expect(200);
        app.login(me["email"].as_str().unwrap(), crate::harness::PASSWORD)
            .await
    };
    assert_eq!(me_on_other(second.clone()).await.status(), 200);

    app.post("/api/v1/auth/logout", &token, json!({}))
        .await
        .expect(204);
    wait_for(
        || async { me_on_other(token.clone()).await.status() == 401 },
        "the revocation",
    )
    .await;

    app.patch(
        &format!("/api/v1/users/{id}"),
        app.admin(),
        json!({ "role": "customer" }),
    )
    .await
    .expect(200);
    wait_for(
        || async {
            let me: Value = me_on_other(second.clone()).await.json().await.unwrap();
            me["role"] == "customer"
        },
        "the role change",
    )
    .await;
}

/// Polls `check` until it holds, failing after 10 s (the cache alone would take 30 s).
async fn wait_for<F, Fut>(check: F, what: &str)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not reach the other node within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
