//! Background jobs that cannot stall, on both databases: one order whose cancellation keeps
//! failing is retried with backoff and never holds back the expiry of the others; revoked and
//! expired sessions are purged.

use ordo_app::jobs::JobKind;
use ordo_store::JobState;
use serde_json::json;

use crate::harness::{TestApp, on_both_backends};

on_both_backends!(
    operators_see_jobs_and_replay_a_dead_one,
    an_order_that_cannot_be_cancelled_does_not_stop_the_expiry_of_the_others,
    expired_and_revoked_sessions_are_purged,
);

async fn an_order_that_cannot_be_cancelled_does_not_stop_the_expiry_of_the_others(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let stuck = app.order(&customer, &shop.sku, 2, None).await.expect(201);
    let later = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    assert_eq!(app.stock(&shop).await, (10, 3, 7));
    // Break the oldest order's cancellation for real: its stock row says fewer units are
    // reserved than it holds, so releasing them would break the table's CHECK.
    app.execute(&format!(
        "UPDATE stock SET reserved = 1 WHERE sku = '{}'",
        shop.sku
    ))
    .await;

    app.advance(app.app.settings.reservation_ttl + chrono::Duration::seconds(1));
    let run = app.run_jobs().await;
    assert_eq!(run.retried, 1, "{run:?}");
    let path = |o: &serde_json::Value| format!("/api/v1/orders/{}", o["id"].as_str().unwrap());
    assert_eq!(
        app.get(&path(&later), &customer).await.expect(200)["status"],
        "cancelled",
        "the order behind the stuck one expired all the same"
    );
    assert_eq!(
        app.get(&path(&stuck), &customer).await.expect(200)["status"],
        "pending_payment"
    );
    let failing = app
        .app
        .jobs(Some(JobState::Queued), Some(JobKind::ExpireReservation), 10)
        .await
        .unwrap();
    assert_eq!(failing.len(), 1);
    let job = &failing[0];
    assert_eq!(job.key, stuck["id"].as_str().unwrap());
    assert_eq!(job.attempts, 1);
    assert!(
        job.last_error.as_deref().is_some_and(|e| !e.is_empty()),
        "{job:?}"
    );
    assert!(job.run_at > app.app.now(), "retried later, not at once");

    // Not before its backoff…
    let run = app.run_jobs().await;
    assert_eq!(run.retried + run.dead, 0, "{run:?}");
    // …then again, still failing, with a longer wait.
    app.advance(chrono::Duration::seconds(6));
    assert_eq!(app.run_jobs().await.retried, 1);
    // Repaired: the next try cancels it and the job is done.
    app.execute(&format!(
        "UPDATE stock SET reserved = 2 WHERE sku = '{}'",
        shop.sku
    ))
    .await;
    app.advance(chrono::Duration::seconds(11));
    app.run_jobs().await;
    let order = app.get(&path(&stuck), &customer).await.expect(200);
    assert_eq!(
        (order["status"].as_str(), order["cancel_reason"].as_str()),
        (Some("cancelled"), Some("payment_timeout"))
    );
    assert_eq!(app.stock(&shop).await, (10, 0, 10));
    let done = app
        .app
        .jobs(Some(JobState::Done), Some(JobKind::ExpireReservation), 10)
        .await
        .unwrap();
    assert_eq!(done.len(), 2);
    assert!(done.iter().any(|j| j.attempts == 3 && j.key == stuck["id"]));
}

async fn expired_and_revoked_sessions_are_purged(app: TestApp) {
    let (_, token) = app.user("customer", None).await;
    let me = app.get("/api/v1/auth/me", &token).await.expect(200);
    let email = me["email"].as_str().unwrap().to_owned();
    let sessions = "SELECT COUNT(*) FROM sessions";
    let start = app.count(sessions).await;
    let second = app.login(&email, crate::harness::PASSWORD).await;
    assert_eq!(app.count(sessions).await, start + 1);
    app.post("/api/v1/auth/logout", &second, json!({}))
        .await
        .expect(204);
    // Revoked a day ago: purged; the live ones stay.
    app.advance(chrono::Duration::hours(25));
    app.run_jobs().await;
    assert_eq!(app.count(sessions).await, start);
    app.get("/api/v1/auth/me", &token).await.expect(200);
    // Expired (a week) and a day more: every session of the test is gone.
    app.advance(chrono::Duration::days(8));
    app.run_jobs().await;
    assert_eq!(app.count(sessions).await, 0);
}

/// Support sees what background work is queued, running, done and dead, with the event
/// relay's progress, and queues a dead job again; nobody else may.
async fn operators_see_jobs_and_replay_a_dead_one(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    app.order(&customer, &shop.sku, 1, None).await.expect(201);
    app.run_jobs().await;
    app.app.relay_once().await.expect("relay");
    app.app.fan_out_webhooks().await.expect("fan out");
    // A job that died (its last attempt failed): made so here, as no job fails 12 times on cue.
    app.execute(
        "UPDATE jobs SET state = 'dead', last_error = 'it broke' WHERE kind = 'sessions.purge'",
    )
    .await;
    let (_, support) = app.user("support", None).await;

    let all = app.get("/api/v1/jobs", &support).await.expect(200);
    assert_eq!(all["counts"]["dead"], 1);
    // The other recurring jobs ran and wait for their next turn.
    assert!(
        all["counts"]["queued"].as_i64().unwrap() >= 4,
        "{}",
        all["counts"]
    );
    let consumers = all["relay"]["consumers"].as_array().unwrap();
    let lag = |name: &str| {
        consumers
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["lag"].clone())
    };
    assert_eq!(lag("sequencer"), Some(json!(0)));
    assert_eq!(
        lag("webhooks"),
        Some(json!(0)),
        "the fan-out has read everything"
    );
    assert_eq!(all["relay"]["waiting"], 0);

    let dead = app
        .get("/api/v1/jobs?state=dead", &support)
        .await
        .expect(200);
    let job = dead["data"][0].clone();
    assert_eq!(
        (job["kind"].as_str(), job["last_error"].as_str()),
        (Some("sessions.purge"), Some("it broke"))
    );
    let retry = format!("/api/v1/jobs/{}/retry", job["id"].as_str().unwrap());
    app.post(&retry, &customer, json!({}))
        .await
        .expect_error(403, "forbidden");
    app.post(&retry, &shop.token, json!({}))
        .await
        .expect_error(403, "forbidden");
    app.post(&retry, &support, json!({})).await.expect(202);
    app.post(&retry, &support, json!({}))
        .await
        .expect_error(409, "job_not_dead");
    app.post(
        &format!("/api/v1/jobs/{}/retry", uuid::Uuid::now_v7()),
        &support,
        json!({}),
    )
    .await
    .expect_error(404, "not_found");
    app.run_jobs().await;
    let after = app
        .get("/api/v1/jobs?kind=sessions.purge", &support)
        .await
        .expect(200);
    assert_eq!(
        after["data"][0]["state"], "queued",
        "ran again and is due once more"
    );
    assert_eq!(after["counts"]["dead"], 0);
    app.get("/api/v1/jobs?state=lost", &support)
        .await
        .expect_error(400, "invalid_job_state");
    app.get("/api/v1/jobs?kind=nope", &support)
        .await
        .expect_error(400, "invalid_job_kind");
    app.get("/api/v1/jobs", &shop.token)
        .await
        .expect_error(403, "forbidden");
}
