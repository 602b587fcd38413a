//! `pages`: the vendor console's hot pages at a fixed offered rate (open loop) over a folder
//! filled by `ordo-bench load` (1,000,000 orders of one vendor by default): the order queue
//! (`/vendor`: the "needs action" sections, every order's first page, counts capped at 1,000)
//! and an order's page (`/vendor/orders/{id}`: the order, its events, its payment), as a
//! signed-in browser asks for them (the session cookie). The mix: 40 % queue, 20 % queue
//! filtered by status and paged by keyset deep into the history, 40 % order page.

use serde_json::json;

use crate::api::{self, Api, PASSWORD};
use crate::load;
use crate::report::{Report, Target};
use crate::scenarios::{Run, open_loop};

#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct Args {
    /// Pages offered per second.
    #[arg(long, default_value_t = 100)]
    pub rate: u64,
    /// How long to offer them.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
}

pub async fn run(run: &Run, args: &Args) -> anyhow::Result<Report> {
    let loaded = crate::scenarios::notes(run);
    anyhow::ensure!(
        loaded["orders"].as_u64().unwrap_or(0) > 0,
        "pages needs a folder filled by `ordo-bench load --data-dir DIR`; pass the same --data-dir"
    );
    let api = Api::new(&run.server.url, api::http1(256));
    let vendor = api.login(load::VENDOR_EMAIL, PASSWORD).await?;
    let listed = api.get(&vendor, "/orders?limit=100").await.body;
    let ids: Vec<String> = listed["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    anyhow::ensure!(!ids.is_empty(), "no loaded orders found");
    // A keyset cursor deep in the history: the last of the first 100 delivered orders.
    let deep = api
        .get(&vendor, "/orders?status=delivered&limit=100")
        .await
        .body;
    let cursor = deep["data"]
        .as_array()
        .and_then(|a| a.last())
        .and_then(|o| o["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    // Warm each page once: the figures are of a running console, not of its first request.
    for path in ["/vendor".to_owned(), format!("/vendor/orders/{}", ids[0])] {
        let warm = api.page(&vendor, &path).await;
        anyhow::ensure!(warm.status.is_success(), "{path} answered {}", warm.status);
    }
    let (ids, cursor) = (std::sync::Arc::new(ids), std::sync::Arc::new(cursor));
    let measured = open_loop(args.rate, args.seconds, "pages answered", |i| {
        let (api, vendor, ids, cursor) = (
            api.clone(),
            vendor.clone(),
            std::sync::Arc::clone(&ids),
            std::sync::Arc::clone(&cursor),
        );
        async move {
            let (kind, path) = match i % 5 {
                0 | 1 => ("queue", "/vendor".to_owned()),
                2 => (
                    "queue, filtered and paged",
                    format!("/vendor?status=delivered&after={cursor}"),
                ),
                _ => (
                    "order page",
                    format!("/vendor/orders/{}", ids[(i as usize / 5) % ids.len()]),
                ),
            };
            (kind, api.page(&vendor, &path).await)
        }
    })
    .await?;

    let mut report = Report::new("pages", run.backend_name(), json!(args));
    report.figure(
        "orders loaded",
        loaded["orders"].as_f64().unwrap_or(0.0),
        "orders",
        None,
    );
    report.figure("offered rate", args.rate as f64, "pages/s", None);
    let total = args.rate * args.seconds;
    report.figure(
        "answered per second",
        total as f64 / measured.offered_for,
        "pages/s",
        None,
    );
    for (kind, latency) in &measured.latency {
        report.figure(&format!("{kind} p50"), latency.ms(0.5), "ms", None);
        report.figure(
            &format!("{kind} p99"),
            latency.ms(0.99),
            "ms",
            Some(Target::AtMost(50.0)),
        );
        report.detail(kind, latency.summary());
    }
    measured.report_answers(&mut report, total);
    run.memory(&mut report);
    report.detail("answers", json!(measured.answers));
    Ok(report)
}
