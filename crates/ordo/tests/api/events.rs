//! Events leave Ordo (issue 10, the relay and live streams): the feed shows each reader their
//! own events in relay order; an order's stream and the feed's stream resume with
//! `Last-Event-ID` with no gap and no duplicate; a refused change leaves nothing; a revoked
//! token ends its streams; an expired cursor is refused; and on PostgreSQL a transaction that
//! commits late is never skipped, and a change on one node reaches a stream on another.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Kind, SseClient, TestApp, on_both_backends};

const WITHIN: Duration = Duration::from_secs(10);

on_both_backends!(
    the_feed_shows_each_reader_their_own_events_in_order,
    an_order_stream_resumes_where_it_left_off,
    the_feed_streams_live_and_resumes,
    a_revoked_token_ends_its_streams,
    a_stream_that_falls_behind_is_caught_up_from_the_database,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_older_than_the_events_kept_is_refused_sqlite() {
    a_cursor_older_than_the_events_kept_is_refused(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_older_than_the_events_kept_is_refused_postgres() {
    a_cursor_older_than_the_events_kept_is_refused(Kind::Postgres).await;
}

/// Every event of `token`'s feed after `after`, page by page (relayed first, so the test does
/// not depend on the background relay's timing).
async fn feed(app: &TestApp, token: &str, after: i64) -> Vec<Value> {
    app.app.relay_once().await.expect("relay");
    let (mut out, mut after) = (Vec::new(), after);
    for _ in 0..100 {
        let page = app
            .get(&format!("/api/v1/events?after={after}&limit=100"), token)
            .await
            .expect(200);
        out.extend(page["data"].as_array().expect("data").iter().cloned());
        after = page["next_after"].as_i64().expect("next_after");
        if !page["has_more"].as_bool().expect("has_more") {
            return out;
        }
    }
    panic!("the feed never ended");
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn ids(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["id"].as_i64().unwrap()).collect()
}

async fn the_feed_shows_each_reader_their_own_events_in_order(app: TestApp) {
    let (a, b) = (app.shop(10).await, app.shop(10).await);
    let (c1, c2) = (app.customer().await, app.customer().await);
    let o1 = app.order(&c1, &a.sku, 1, None).await.expect(201);
    let o1 = o1["id"].as_str().unwrap().to_owned();
    let o2 = app.order(&c2, &b.sku, 1, None).await.expect(201);
    let o2 = o2["id"].as_str().unwrap().to_owned();
    app.act(app.admin(), &o1, "pay", json!({}))
        .await
        .expect(200);

    let mine = feed(&app, &c1, 0).await;
    assert_eq!(kinds(&mine), ["order.placed", "order.paid"]);
    assert!(mine.iter().all(|e| e["data"]["order_id"] == o1.as_str()));
    assert_eq!(mine[1]["data"]["seq"], 2);
    // Customers see staff by role, never by id.
    assert_eq!(mine[1]["data"]["actor"]["role"], "admin");
    assert!(
        mine[1]["data"]["actor"]
            .get("id")
            .is_none_or(Value::is_null)
    );
    let theirs = feed(&app, &c2, 0).await;
    assert_eq!(kinds(&theirs), ["order.placed"]);
    assert_eq!(theirs[0]["data"]["order_id"], o2.as_str());

    // The vendor: its stock and its orders, nothing of the other vendor's.
    let vendor = feed(&app, &a.token, 0).await;
    assert!(kinds(&vendor).contains(&"stock.updated"));
    assert!(
        vendor
            .iter()
            .all(|e| e["data"]["order_id"] == o1.as_str() || e["data"]["sku"] == a.sku.as_str())
    );
    assert_eq!(
        vendor
            .iter()
            .filter(|e| e["type"] == "order.placed")
            .count(),
        1
    );

    // Admins see everything, in one increasing order with no repeats.
    let all = feed(&app, app.admin(), 0).await;
    let positions = ids(&all);
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    for id in ids(&mine).iter().chain(&ids(&theirs)).chain(&ids(&vendor)) {
        assert!(positions.contains(id), "admin sees event {id}");
    }

    // Pages: one at a time, continuing from `next_after`.
    let first = app.get("/api/v1/events?limit=1", &c1).await.expect(200);
    assert_eq!(first["has_more"], true);
    assert_eq!(first["next_after"], mine[0]["id"]);
    let second = app
        .get(
            &format!("/api/v1/events?limit=1&after={}", first["next_after"]),
            &c1,
        )
        .await
        .expect(200);
    assert_eq!(second["data"][0]["id"], mine[1]["id"]);
    assert_eq!(second["has_more"], false);

    // A refused change leaves no event.
    app.order(&c1, &a.sku, 1000, None)
        .await
        .expect_error(409, "insufficient_stock");
    assert_eq!(feed(&app, app.admin(), 0).await.len(), all.len());

    // Bad cursors say so, and who may not read the feed is told.
    app.get("/api/v1/events?after=-1", &c1)
        .await
        .expect_error(400, "invalid_cursor");
    app.get("/api/v1/events?after=x", &c1)
        .await
        .expect_error(400, "invalid_query");
    app.get("/api/v1/events", "nope")
        .await
        .expect_error(401, "invalid_token");
}

async fn an_order_stream_resumes_where_it_left_off(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let (carrier_id, _) = app.user("carrier", None).await;
    let order = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let id = order["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/orders/{id}/events");

    let mut stream = SseClient::open(&app.base, &path, &customer, None).await;
    let placed = stream.next(WITHIN).await.expect("placed");
    assert_eq!(placed.id.as_deref(), Some("1"));
    assert_eq!(placed.event.as_deref(), Some("order.placed"));
    assert_eq!(placed.data["order_id"], id.as_str());
    app.act(app.admin(), &id, "pay", json!({}))
        .await
        .expect(200);
    let paid = stream.next(WITHIN).await.expect("paid, live");
    assert_eq!(
        (paid.id.as_deref(), paid.event.as_deref()),
        (Some("2"), Some("order.paid"))
    );
    drop(stream);

    // Two changes while the customer is away…
    app.act(&shop.token, &id, "accept", json!({}))
        .await
        .expect(200);
    app.act(
        &shop.token,
        &id,
        "ship",
        json!({ "carrier_id": carrier_id }),
    )
    .await
    .expect(200);
    // …are replayed exactly, then the stream goes on live.
    let mut stream = SseClient::open(&app.base, &path, &customer, Some("2")).await;
    let missed = stream.take(2, WITHIN).await;
    let got: Vec<_> = missed
        .iter()
        .map(|m| (m.id.clone().unwrap(), m.event.clone().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("3".to_owned(), "order.accepted".to_owned()),
            ("4".to_owned(), "order.shipped".to_owned())
        ]
    );
    // The vendor follows the same order; a stranger cannot.
    let mut vendor = SseClient::open(&app.base, &path, &shop.token, Some("3")).await;
    assert_eq!(
        vendor.next(WITHIN).await.expect("shipped").id.as_deref(),
        Some("4")
    );
    let stranger = app.customer().await;
    assert_eq!(
        SseClient::status(&app.base, &path, &stranger, None).await,
        404
    );
    // `?after=` is the same cursor for the JSON log.
    let later = app
        .get(&format!("{path}?after=2"), &customer)
        .await
        .expect(200);
    assert_eq!(later["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        SseClient::status(&app.base, &path, &customer, Some("x")).await,
        400
    );
}

async fn the_feed_streams_live_and_resumes(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let before = feed(&app, &shop.token, 0).await;
    let cursor = before.last().map_or(0, |e| e["id"].as_i64().unwrap());

    let mut stream = SseClient::open(
        &app.base,
        "/api/v1/events",
        &shop.token,
        Some(&cursor.to_string()),
    )
    .await;
    let order = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let id = order["id"].as_str().unwrap().to_owned();
    let placed = stream.next(WITHIN).await.expect("placed, live");
    assert_eq!(placed.event.as_deref(), Some("order.placed"));
    assert_eq!(placed.data["data"]["order_id"], id.as_str());
    assert_eq!(
        placed.id.as_deref(),
        Some(placed.data["id"].to_string().as_str())
    );
    drop(stream);

    app.act(app.admin(), &id, "pay", json!({}))
        .await
        .expect(200);
    app.act(&shop.token, &id, "accept", json!({}))
        .await
        .expect(200);
    let mut stream = SseClient::open(
        &app.base,
        "/api/v1/events",
        &shop.token,
        placed.id.as_deref(),
    )
    .await;
    let missed = stream.take(2, WITHIN).await;
    let got: Vec<_> = missed.iter().map(|m| m.event.clone().unwrap()).collect();
    assert_eq!(got, ["order.paid", "order.accepted"]);
    // Then live, with nothing repeated: the next message is the next change.
    app.put(
        &format!("/api/v1/inventory/{}", shop.sku),
        &shop.token,
        json!({ "on_hand": 20 }),
    )
    .await
    .expect(200);
    let next = stream.next(WITHIN).await.expect("stock, live");
    assert_eq!(next.event.as_deref(), Some("stock.updated"));
    let (a, b): (i64, i64) = (
        missed[1].id.as_deref().unwrap().parse().unwrap(),
        next.id.as_deref().unwrap().parse().unwrap(),
    );
    assert!(b > a);
}

async fn a_revoked_token_ends_its_streams(app: TestApp) {
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let order = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let id = order["id"].as_str().unwrap().to_owned();
    let mut stream = SseClient::open(
        &app.base,
        &format!("/api/v1/orders/{id}/events"),
        &customer,
        None,
    )
    .await;
    stream.next(WITHIN).await.expect("placed");
    app.post("/api/v1/auth/logout", &customer, json!({}))
        .await
        .expect(204);
    app.act(app.admin(), &id, "pay", json!({}))
        .await
        .expect(200);
    let after = stream.next(WITHIN).await;
    assert!(
        after.is_none(),
        "the stream ends instead of sending to a revoked token; it sent {after:?}"
    );
    // Its subscription is gone with it.
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let ready = app
            .request(reqwest::Method::GET, "/readyz", None, None)
            .await
            .expect(200);
        if ready["live_streams"] == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{ready}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A follower that takes nothing while hundreds of events pass loses none: its queue
/// overflows, it is told, and it catches up from the database, in order, without a gap.
async fn a_stream_that_falls_behind_is_caught_up_from_the_database(app: TestApp) {
    use futures_util::StreamExt;
    let shop = app.shop(1_000).await;
    let customer = app.customer().await;
    let start = app.app.relay_once().await.expect("relay");
    let follower = app
        .app
        .follow_events(&ordo_domain::identity::Actor::system(), start)
        .await
        .expect("follow");
    let mut follower = Box::pin(follower);
    for _ in 0..300 {
        app.order(&customer, &shop.sku, 1, None).await.expect(201);
    }
    let last = app.app.relay_once().await.expect("relay");
    assert!(last - start >= 300, "{start}..{last}");
    let mut expected = start + 1;
    while expected <= last {
        let event = tokio::time::timeout(WITHIN, follower.next())
            .await
            .expect("caught up in time")
            .expect("an event")
            .expect("no error");
        assert_eq!(event.position, expected, "in order, no gap, no repeat");
        expected += 1;
    }
}

/// Events are kept an hour here (`--event-retention 1h`): once purged, a cursor from before
/// is told it expired instead of silently missing what was purged.
async fn a_cursor_older_than_the_events_kept_is_refused(kind: Kind) {
    let settings = ordo_app::Settings {
        event_retention: chrono::Duration::hours(1),
        ..ordo_app::Settings::default()
    };
    let Some(app) = TestApp::spawn_with(kind, settings).await else {
        return;
    };
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let kept = feed(&app, app.admin(), 0).await;
    let first = kept[0]["id"].as_i64().unwrap();
    app.advance(chrono::Duration::hours(2));
    app.run_jobs().await;
    // A newer event, kept.
    app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let now = feed(&app, app.admin(), 0).await;
    let last_old = *ids(&kept).last().unwrap();
    assert!(
        ids(&now).iter().all(|id| *id > last_old),
        "only young events are kept"
    );
    // The first order's reservation ran out meanwhile (a young event), and the new order.
    assert_eq!(kinds(&now), ["order.cancelled", "order.placed"]);
    let res = app
        .get(&format!("/api/v1/events?after={first}"), app.admin())
        .await;
    res.expect_error(410, "cursor_expired");
    // Streams too; from the start (0) is always fine.
    let first = first.to_string();
    let status = SseClient::status(&app.base, "/api/v1/events", app.admin(), Some(&first)).await;
    assert_eq!(status, 410);
    app.get("/api/v1/events?after=0", app.admin())
        .await
        .expect(200);
}

/// PostgreSQL hands out outbox ids before commit, so a transaction holding an early id can
/// commit after later ones: the relay must still deliver it, to every cursor already past
/// the later ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_commit_is_never_skipped() {
    let Some(app) = TestApp::spawn(Kind::Postgres).await else {
        return;
    };
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let start = feed(&app, app.admin(), 0).await;
    let start = start.last().map_or(0, |e| e["id"].as_i64().unwrap());

    let mut held = app.raw_postgres().await;
    sqlx::query("BEGIN")
        .execute(&mut held)
        .await
        .expect("begin");
    sqlx::query(
        "INSERT INTO outbox (topic, key, payload, created_at) VALUES ('test.held', 'held', '{\"held\": true}', now())",
    )
    .execute(&mut held)
    .await
    .expect("insert held");
    // Later transactions take later ids and commit first.
    for _ in 0..3 {
        app.order(&customer, &shop.sku, 1, None).await.expect(201);
    }
    let seen = feed(&app, app.admin(), start).await;
    assert_eq!(kinds(&seen), ["order.placed"; 3]);
    let cursor = seen.last().unwrap()["id"].as_i64().unwrap();
    let mut stream = SseClient::open(
        &app.base,
        "/api/v1/events",
        app.admin(),
        Some(&cursor.to_string()),
    )
    .await;

    sqlx::query("COMMIT")
        .execute(&mut held)
        .await
        .expect("commit");
    let late = feed(&app, app.admin(), cursor).await;
    assert_eq!(
        kinds(&late),
        ["test.held"],
        "the late commit comes after the cursor"
    );
    let live = stream.next(WITHIN).await.expect("the late event, live");
    assert_eq!(live.event.as_deref(), Some("test.held"));
    assert_eq!(live.data["data"]["held"], true);
}

/// Two nodes on one PostgreSQL: a change made through node A reaches a stream held open on
/// node B (A's relay pokes B through LISTEN/NOTIFY).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_reaches_a_stream_on_another() {
    let Some(mut app) = TestApp::spawn(Kind::Postgres).await else {
        return;
    };
    let other = app.second_node().await;
    let shop = app.shop(10).await;
    let customer = app.customer().await;
    let order = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let id = order["id"].as_str().unwrap().to_owned();
    let mut on_b = SseClient::open(
        &other,
        &format!("/api/v1/orders/{id}/events"),
        &customer,
        Some("1"),
    )
    .await;
    let mut feed_on_b = SseClient::open(&other, "/api/v1/events", &customer, Some("0")).await;
    assert_eq!(
        feed_on_b
            .next(WITHIN)
            .await
            .expect("placed")
            .event
            .as_deref(),
        Some("order.placed")
    );
    app.act(app.admin(), &id, "pay", json!({}))
        .await
        .expect(200);
    let paid = on_b.next(WITHIN).await.expect("paid, on node B");
    assert_eq!(
        (paid.id.as_deref(), paid.event.as_deref()),
        (Some("2"), Some("order.paid"))
    );
    let paid = feed_on_b.next(WITHIN).await.expect("paid in B's feed");
    assert_eq!(paid.event.as_deref(), Some("order.paid"));
}
