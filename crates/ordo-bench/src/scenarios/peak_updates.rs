//! `peak-updates`: 20,000 order updates in flight at once, each a state-machine action (`pay`,
//! or `--action cancel`) on its own pre-placed order (placed paying with `--paying-with`, say
//! `sandbox_card_ok`, to cancel paid orders: each cancel then also asks for its refund). Every
//! update must be acknowledged, and afterwards every acknowledged update must be in its order's
//! event log (lost = 0).
//!
//! This machine caps a process at 20,000 open files, so the 20,000 requests travel over HTTP/2
//! (up to 200 streams per connection, over `--connections` sockets) from one client process.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::{StreamExt, stream};
use serde_json::json;

use crate::api::{self, Api};
use crate::report::{Latency, Report, Target};
use crate::scenarios::{Run, bar, burst};

#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct Args {
    /// Updates sent at once (and orders placed beforehand).
    #[arg(long, default_value_t = 20_000)]
    pub updates: usize,
    /// HTTP/2 connections carrying the updates (at most 200 in flight on each).
    #[arg(long, default_value_t = 128)]
    pub connections: usize,
    /// The action each update takes: `pay` (orders placed unpaid) or `cancel`.
    #[arg(long, default_value = "pay")]
    pub action: String,
    /// Place the orders paying with this method (`sandbox_card_ok`): cancels then give money back.
    #[arg(long)]
    pub paying_with: Option<String>,
}

pub async fn run(run: &Run, args: &Args) -> anyhow::Result<Report> {
    let api = Api::new(&run.server.url, api::http1(64));
    let shop = api.shop("pu", 1_000, 1_000_000_000, 64).await?;
    let (admin, skus, tokens) = (shop.admin, Arc::new(shop.skus), shop.customers);

    let placing = bar(args.updates as u64, "placing the orders to update");
    let ids = stream::iter(0..args.updates)
        .map(|i| {
            let (api, skus, token, placing) = (
                api.clone(),
                Arc::clone(&skus),
                tokens[i % tokens.len()].clone(),
                placing.clone(),
            );
            let paying = args.paying_with.clone();
            async move {
                let mut body = api::random_order(&skus);
                if let Some(method) = paying {
                    body["payment_method"] = json!(method);
                }
                let answer = api.post(&token, "/orders", &body).await;
                placing.inc(1);
                answer.body["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        anyhow::anyhow!("placing failed: {} {}", answer.status, answer.body)
                    })
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<String>>>()?;
    placing.finish();

    let cpu_before = run.server.cpu();
    let answers = burst(&api, ids.len(), args.connections, "updates answered", |i| {
        (
            admin.clone(),
            format!("/orders/{}/actions/{}", ids[i], args.action),
            json!({}),
        )
    })
    .await;
    let cpu_after = run.server.cpu();
    // From the release of the burst to its last answer (setup before the release excluded).
    let burst_seconds = answers
        .iter()
        .map(|(_, done)| done.as_secs_f64())
        .fold(0.0, f64::max);
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut latency = Latency::default();
    let mut acknowledged = Vec::new();
    for (i, (answer, _)) in answers.iter().enumerate() {
        *kinds.entry(answer.kind()).or_default() += 1;
        latency.record(answer.latency);
        if answer.status.as_u16() == 200 {
            acknowledged.push(ids[i].clone());
        }
    }

    let checking = bar(acknowledged.len() as u64, "checking the event logs");
    let event = if args.action == "cancel" {
        "order.cancelled"
    } else {
        "order.paid"
    };
    let lost = stream::iter(acknowledged.iter())
        .map(|id| {
            let (api, admin, checking) = (api.clone(), admin.clone(), checking.clone());
            async move {
                let events = api.get(&admin, &format!("/orders/{id}/events")).await.body;
                checking.inc(1);
                let done = events["data"]
                    .as_array()
                    .is_some_and(|list| list.iter().any(|e| e["type"] == event));
                usize::from(!done)
            }
        })
        .buffer_unordered(64)
        .fold(0usize, |sum, lost| async move { sum + lost })
        .await;
    checking.finish();

    let mut report = Report::new("peak-updates", run.backend_name(), json!(args));
    report.figure(
        "updates in flight at once",
        args.updates as f64,
        "requests",
        None,
    );
    report.figure(
        "acknowledged (200)",
        acknowledged.len() as f64 / args.updates as f64 * 100.0,
        "%",
        Some(Target::Exactly(100.0)),
    );
    report.figure("p50 latency", latency.ms(0.5), "ms", None);
    report.figure(
        "p99 latency",
        latency.ms(0.99),
        "ms",
        Some(Target::AtMost(1000.0)),
    );
    report.figure("max latency", latency.max_ms(), "ms", None);
    report.figure(
        "acknowledged but not in the event log",
        lost as f64,
        "updates",
        Some(Target::Exactly(0.0)),
    );
    report.figure("burst drained in", burst_seconds * 1000.0, "ms", None);
    crate::scenarios::cpu_figures(
        &mut report,
        cpu_before,
        cpu_after,
        args.updates as f64,
        "update",
        burst_seconds,
    );
    run.memory(&mut report);
    report.detail("errors", json!(kinds));
    report.detail("latency", latency.summary());
    report.detail(
        "transport",
        json!(format!(
            "one client process, HTTP/2 cleartext over {} connections",
            args.connections
        )),
    );
    Ok(report)
}
