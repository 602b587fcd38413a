//! `events`: what the event relay costs, and how fast events leave Ordo.
//!
//! 1. Checkout throughput with the relay on — a webhook endpoint subscribed to `order.*` on a
//!    receiver in the bench, and `--checkout-streams` live feeds open — against a second Ordo
//!    started with `--no-relay`, in alternating rounds of one run: the ratio of the medians.
//! 2. Webhook delivery lag, from the event's commit to the receiver, at full checkout load and
//!    at a steady `--rate`.
//! 3. `--streams` open Server-Sent-Event streams on one node: the server's memory per stream,
//!    and the fan-out latency from an event's commit to its arrival on each stream, at `--rate`
//!    orders per second.
//!
//! Latencies from commit use the event's `timestamp` (taken in the transaction, just before
//! its commit) against the bench's clock: the same machine's.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde_json::json;

use crate::api::{self, Api};
use crate::report::{Latency, Report, Target};
use crate::scenarios::{Run, bar, median, rush, spinner};
use crate::server::Server;

#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct Args {
    /// Customers placing orders at once in the throughput rounds.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Seconds each throughput round places orders (after one second of warm-up).
    #[arg(long, default_value_t = 8)]
    pub seconds: u64,
    /// Rounds with the relay on and off, alternating.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// SKUs in the catalog.
    #[arg(long, default_value_t = 1_000)]
    pub skus: usize,
    /// Live feeds open during the throughput rounds: one per ordering customer, one of the
    /// admin's (every event: a support dashboard), the rest idle customers' (as most are).
    #[arg(long, default_value_t = 1_000)]
    pub checkout_streams: usize,
    /// Streams open on the node for the fan-out measurement.
    #[arg(long, default_value_t = 10_000)]
    pub streams: usize,
    /// Customers those streams follow (each its own feed, streams spread evenly).
    #[arg(long, default_value_t = 20)]
    pub stream_customers: usize,
    /// Orders per second (open loop) while the streams are open.
    #[arg(long, default_value_t = 20)]
    pub rate: u64,
    /// Seconds of that steady load.
    #[arg(long, default_value_t = 10)]
    pub rate_seconds: u64,
}

/// What the webhook receiver saw.
#[derive(Default)]
struct Received {
    /// Commit to arrival, per delivery.
    lag: Latency,
    ids: std::collections::HashSet<String>,
}

/// A webhook receiver on 127.0.0.1: answers 204 at once, records each delivery's lag.
async fn receiver() -> anyhow::Result<(String, Arc<Mutex<Received>>)> {
    let got = Arc::new(Mutex::new(Received::default()));
    let keep = Arc::clone(&got);
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let got = Arc::clone(&keep);
            async move {
                let now = Utc::now();
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let at = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|b| b["timestamp"].as_str()?.parse::<DateTime<Utc>>().ok());
                let mut got = got.lock().expect("receiver");
                if let Some(at) = at {
                    got.lag.record((now - at).to_std().unwrap_or_default());
                }
                got.ids.insert(id);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((url, got))
}

/// Live feeds held open by the bench: how many are open, messages received, and each
/// message's latency from its event's commit.
#[derive(Clone, Default)]
struct Streams {
    open: Arc<AtomicUsize>,
    messages: Arc<AtomicUsize>,
    fan_out: Arc<Mutex<Latency>>,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Streams {
    /// Opens `count` feeds spread over `tokens`, 64 at a time; returns once all are open.
    async fn open(&self, base: &str, tokens: &[String], count: usize) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .http1_only()
            .tcp_nodelay(true)
            .build()?;
        let progress = bar(count as u64, "opening live streams");
        let opened = futures_util::stream::iter(0..count)
            .map(|i| {
                let (client, token) = (client.clone(), tokens[i % tokens.len()].clone());
                let url = format!("{base}/api/v1/events");
                let me = self.clone();
                let progress = progress.clone();
                async move {
                    let mut res = client
                        .get(url)
                        .bearer_auth(token)
                        .header("accept", "text/event-stream")
                        .send()
                        .await?
                        .error_for_status()?;
                    me.open.fetch_add(1, Ordering::Relaxed);
                    progress.inc(1);
                    let reader = me.clone();
                    let task = tokio::spawn(async move {
                        let mut mine = Latency::default();
                        let mut pending = String::new();
                        while let Ok(Some(chunk)) = res.chunk().await {
                            let now = Utc::now();
                            pending.push_str(&String::from_utf8_lossy(&chunk));
                            while let Some(end) = pending.find("\n\n") {
                                let message: String = pending.drain(..end + 2).collect();
                                if let Some(at) = timestamp_of(&message) {
                                    mine.record((now - at).to_std().unwrap_or_default());
                                    reader.messages.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            // Merged as it comes: the task is aborted, not ended.
                            if mine.count() > 0 {
                                reader.fan_out.lock().expect("fan-out").add(&mine);
                                mine = Latency::default();
                            }
                        }
                        reader.fan_out.lock().expect("fan-out").add(&mine);
                    });
                    me.tasks.lock().expect("tasks").push(task);
                    Ok::<_, anyhow::Error>(())
                }
            })
            .buffer_unordered(64)
            .collect::<Vec<_>>()
            .await;
        progress.finish();
        opened.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        Ok(())
    }

    fn close(&self) {
        for task in self.tasks.lock().expect("tasks").drain(..) {
            task.abort();
        }
    }
}

/// The `"timestamp"` of one SSE message's data (the feed's view of an event).
fn timestamp_of(message: &str) -> Option<DateTime<Utc>> {
    let data = message
        .lines()
        .find_map(|l| l.strip_prefix("data:"))?
        .trim_start();
    let start = data.find("\"timestamp\":\"")? + "\"timestamp\":\"".len();
    let end = start + data[start..].find('"')?;
    data[start..end].parse().ok()
}

/// Waits until the receiver has `count` distinct deliveries, or `within` passes.
async fn deliveries(got: &Mutex<Received>, count: usize, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let have = got.lock().expect("receiver").ids.len();
        if have >= count || Instant::now() >= deadline {
            return have;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn run(run: &Run, args: &Args) -> anyhow::Result<Report> {
    anyhow::ensure!(
        run.target.url.is_none(),
        "events starts its own two servers (relay on and off): drop --url"
    );
    let mut report = Report::new("events", run.backend_name(), json!(args));
    let (hook_url, got) = receiver().await?;

    // The relay-off twin, on a fresh folder or database of its own.
    let mut off_target = run.target.clone();
    off_target.data_dir = None;
    off_target.database_url = None;
    off_target.serve_args.push("--no-relay".into());
    let off = Server::start(&off_target).await?;

    let on_api = Api::new(&run.server.url, api::http1(args.connections));
    let off_api = Api::new(&off.url, api::http1(args.connections));
    let on_shop = on_api
        .shop("ev", args.skus, 1_000_000_000, args.connections)
        .await?;
    let off_shop = off_api
        .shop("ev", args.skus, 1_000_000_000, args.connections)
        .await?;
    let endpoint = on_api
        .post(
            &on_shop.admin,
            "/webhook-endpoints",
            &json!({ "url": hook_url, "events": ["order.*"], "description": "ordo-bench" }),
        )
        .await;
    on_api.expect(
        endpoint,
        "subscribe the receiver (is --allow-private-webhook-targets on?)",
    )?;
    let followers = on_api
        .customers(
            &on_shop.admin,
            &format!("evs{}", std::process::id()),
            args.stream_customers,
            &bar(args.stream_customers as u64, "logging followers in"),
        )
        .await?;
    let live = Streams::default();
    let active = on_shop.customers.len().min(args.checkout_streams);
    live.open(&run.server.url, &on_shop.customers[..active], active)
        .await?;
    if args.checkout_streams > active {
        live.open(&run.server.url, std::slice::from_ref(&on_shop.admin), 1)
            .await?;
        live.open(
            &run.server.url,
            &followers,
            args.checkout_streams - active - 1,
        )
        .await?;
    }

    // 1. Throughput, relay on and off in alternating rounds.
    let (on_skus, off_skus) = (Arc::new(on_shop.skus), Arc::new(off_shop.skus));
    let mut on_rates = Vec::new();
    let mut off_rates = Vec::new();
    let mut placed = 0;
    let rounds = bar(args.rounds as u64 * 2, "checkout rounds, relay on/off");
    for _ in 0..args.rounds {
        let on = rush(&on_api, &on_shop.customers, &on_skus, args.seconds, None).await;
        on_rates.push(on.rate);
        placed += on.all;
        rounds.inc(1);
        off_rates.push(
            rush(&off_api, &off_shop.customers, &off_skus, args.seconds, None)
                .await
                .rate,
        );
        rounds.inc(1);
    }
    rounds.finish();
    off.stop().await?;
    let (on_rate, off_rate) = (median(&on_rates), median(&off_rates));
    report.figure(
        "orders/s, relay on (webhooks, streams)",
        on_rate,
        "orders/s",
        None,
    );
    report.figure("orders/s, relay off", off_rate, "orders/s", None);
    report.figure(
        "relay on / off",
        if off_rate > 0.0 {
            on_rate / off_rate
        } else {
            0.0
        },
        "ratio",
        Some(Target::AtLeast(0.8)),
    );
    report.detail("rounds", json!({ "on": on_rates, "off": off_rates }));

    // 2. Webhook lag at full load: every order placed with the relay on is delivered.
    let spin = spinner("waiting for every webhook delivery");
    let delivered = deliveries(&got, placed, Duration::from_secs(300)).await;
    spin.finish();
    let rush_lag = std::mem::take(&mut *got.lock().expect("receiver"));
    report.figure(
        "webhooks delivered of orders placed",
        delivered as f64 / placed.max(1) as f64 * 100.0,
        "%",
        Some(Target::AtLeast(100.0)),
    );
    report.figure(
        "webhook lag p50, at full load",
        rush_lag.lag.ms(0.50),
        "ms",
        None,
    );
    report.figure(
        "webhook lag p99, at full load",
        rush_lag.lag.ms(0.99),
        "ms",
        None,
    );
    live.close();

    // 3. Many streams: memory per stream, fan-out at a steady rate, webhook lag beside it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = run.server.rss_mib();
    let streams = Streams::default();
    streams
        .open(&run.server.url, &followers, args.streams)
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = run.server.rss_mib();
    report.figure(
        "streams open on one node",
        streams.open.load(Ordering::Relaxed) as f64,
        "streams",
        Some(Target::AtLeast(args.streams as f64)),
    );
    if let (Some(before), Some(after)) = (before, after) {
        report.figure(
            "server memory per open stream",
            (after - before) * 1024.0 / args.streams.max(1) as f64,
            "KiB",
            None,
        );
        report.figure("server memory with the streams open", after, "MiB", None);
    }
    let progress = bar(args.rate * args.rate_seconds, "orders at a steady rate");
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate.max(1) as f64));
    let mut sent = Vec::new();
    for i in 0..(args.rate * args.rate_seconds) as usize {
        tick.tick().await;
        let (api, skus) = (on_api.clone(), Arc::clone(&on_skus));
        let token = followers[i % followers.len()].clone();
        let progress = progress.clone();
        sent.push(tokio::spawn(async move {
            let answer = api.post(&token, "/orders", &api::random_order(&skus)).await;
            progress.inc(1);
            answer.status.as_u16() == 201
        }));
    }
    let mut steady_placed = 0;
    for s in sent {
        steady_placed += usize::from(s.await.unwrap_or(false));
    }
    progress.finish();
    // Each order's event goes to every stream of its customer.
    let per_customer = args.streams / followers.len();
    let expected = steady_placed * per_customer;
    let deadline = Instant::now() + Duration::from_secs(60);
    while streams.messages.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let steady_delivered = deliveries(&got, steady_placed, Duration::from_secs(60)).await;
    streams.close();
    let fan_out = std::mem::take(&mut *streams.fan_out.lock().expect("fan-out"));
    report.figure(
        "stream messages received of expected",
        streams.messages.load(Ordering::Relaxed) as f64 / expected.max(1) as f64 * 100.0,
        "%",
        Some(Target::AtLeast(100.0)),
    );
    report.figure(
        "fan-out p50, commit to stream",
        fan_out.ms(0.50),
        "ms",
        None,
    );
    report.figure(
        "fan-out p99, commit to stream",
        fan_out.ms(0.99),
        "ms",
        Some(Target::AtMost(1_000.0)),
    );
    let steady = got.lock().expect("receiver");
    report.figure(
        "webhook lag p50, at the steady rate",
        steady.lag.ms(0.50),
        "ms",
        None,
    );
    report.figure(
        "webhook lag p99, at the steady rate",
        steady.lag.ms(0.99),
        "ms",
        Some(Target::AtMost(2_000.0)),
    );
    report.detail(
        "steady",
        json!({ "orders": steady_placed, "webhooks": steady_delivered, "stream_messages": expected,
                "fan_out": fan_out.summary(), "webhook_lag": steady.lag.summary(),
                "rush_webhook_lag": rush_lag.lag.summary() }),
    );
    drop(steady);
    run.memory(&mut report);
    Ok(report)
}
