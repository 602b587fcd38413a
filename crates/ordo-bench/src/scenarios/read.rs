//! `read`: order detail and order lists for customers and their vendor at a fixed offered rate,
//! on an open-loop schedule: request *i* is due at `start + i / rate` whether or not earlier ones
//! have answered, and its latency runs from when it was due. A slow answer therefore shows up in
//! the figures instead of quietly lowering the rate (no coordinated omission).
//!
//! Run it on a folder filled by `ordo-bench load` (`--data-dir`); the mix is 50 % customer order
//! detail, 20 % customer order list, 15 % vendor order detail, 15 % vendor order list.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{self, Api, PASSWORD};
use crate::load;
use crate::report::{Latency, Report, Target};
use crate::scenarios::{Run, bar};

#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct Args {
    /// Requests offered per second.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u64,
    /// How long to offer them.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Loaded customers who log in and read their orders.
    #[arg(long, default_value_t = 50)]
    pub customers: usize,
}

#[derive(Default)]
struct Tally {
    detail: Latency,
    list: Latency,
    kinds: BTreeMap<String, u64>,
}

pub async fn run(run: &Run, args: &Args) -> anyhow::Result<Report> {
    // The folder the server runs on, or (with --url) the one named by --data-dir.
    let loaded: Value = run
        .server
        .data_dir
        .as_ref()
        .or(run.target.data_dir.as_ref())
        .and_then(|d| std::fs::read_to_string(d.join("bench-load.json")).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let loaded_customers = loaded["customers"].as_u64().unwrap_or(0) as usize;
    anyhow::ensure!(
        loaded_customers > 0,
        "read needs a folder filled by `ordo-bench load --data-dir DIR`; pass the same --data-dir"
    );
    let api = Api::new(&run.server.url, api::http1(256));
    let logins = bar(args.customers as u64 + 1, "logging readers in");
    let mut readers = Vec::new();
    for i in 0..args.customers {
        let email = load::customer_email(i * loaded_customers / args.customers);
        let token = api.login(&email, PASSWORD).await?;
        let page = api.get(&token, "/orders?limit=20").await.body;
        let ids = order_ids(&page);
        if !ids.is_empty() {
            readers.push((token, ids));
        }
        logins.inc(1);
    }
    let vendor = api.login(load::VENDOR_EMAIL, PASSWORD).await?;
    let vendor_ids = order_ids(&api.get(&vendor, "/orders?limit=100").await.body);
    logins.finish();
    anyhow::ensure!(
        !readers.is_empty() && !vendor_ids.is_empty(),
        "no loaded orders found"
    );

    let total = args.rate * args.seconds;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let progress = bar(total, "reads answered");
    let readers = Arc::new(readers);
    let vendor_ids = Arc::new(vendor_ids);
    let start = Instant::now() + Duration::from_millis(100);
    // Dispatch in one loop, each request spawned at its due time, never waiting for answers.
    let mut requests = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let (api, readers, vendor_ids, vendor, tally, progress) = (
            api.clone(),
            Arc::clone(&readers),
            Arc::clone(&vendor_ids),
            vendor.clone(),
            Arc::clone(&tally),
            progress.clone(),
        );
        requests.push(tokio::spawn(async move {
            let (token, ids) = &readers[i as usize % readers.len()];
            let pick = |ids: &[String]| ids[(i as usize / 7) % ids.len()].clone();
            let (is_detail, path, token) = match i % 20 {
                0..=9 => (true, format!("/orders/{}", pick(ids)), token.clone()),
                10..=13 => (false, "/orders?limit=20".to_owned(), token.clone()),
                14..=16 => (true, format!("/orders/{}", pick(&vendor_ids[..])), vendor),
                _ => (false, "/orders?limit=20".to_owned(), vendor),
            };
            let answer = api.get(&token, &path).await;
            let late = due.elapsed();
            let mut t = tally.lock().expect("tally");
            *t.kinds.entry(answer.kind()).or_default() += 1;
            if is_detail {
                t.detail.record(late);
            } else {
                t.list.record(late);
            }
            progress.inc(1);
        }));
    }
    for r in requests {
        r.await?;
    }
    let offered_for = start.elapsed().as_secs_f64();
    progress.finish();
    let tally = Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("requests still hold the tally"))?
        .into_inner()
        .expect("tally");

    let mut report = Report::new("read", run.backend_name(), json!(args));
    report.figure(
        "orders loaded",
        loaded["orders"].as_f64().unwrap_or(0.0),
        "orders",
        None,
    );
    report.figure("offered rate", args.rate as f64, "req/s", None);
    report.figure(
        "answered per second",
        total as f64 / offered_for,
        "req/s",
        None,
    );
    report.figure("order detail p50", tally.detail.ms(0.5), "ms", None);
    report.figure(
        "order detail p99",
        tally.detail.ms(0.99),
        "ms",
        Some(Target::AtMost(5.0)),
    );
    report.figure("order list p50", tally.list.ms(0.5), "ms", None);
    report.figure("order list p99", tally.list.ms(0.99), "ms", None);
    let errors: u64 = tally
        .kinds
        .iter()
        .filter(|(k, _)| k.as_str() != "200")
        .map(|(_, n)| n)
        .sum();
    report.figure(
        "answered",
        tally.kinds.values().sum::<u64>() as f64,
        "answers",
        Some(Target::Exactly(total as f64)),
    );
    report.figure(
        "errors",
        errors as f64,
        "answers",
        Some(Target::Exactly(0.0)),
    );
    run.memory(&mut report);
    report.detail("errors", json!(tally.kinds));
    report.detail("detail", tally.detail.summary());
    report.detail("list", tally.list.summary());
    Ok(report)
}

fn order_ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .map(|orders| {
            orders
                .iter()
                .filter_map(|o| o["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
