//! `read`: order detail and order lists for customers and their vendor at a fixed offered rate,
//! on an open-loop schedule: request *i* is due at `start + i / rate` whether or not earlier ones
//! have answered, and its latency runs from when it was due. A slow answer therefore shows up in
//! the figures instead of quietly lowering the rate (no coordinated omission).
//!
//! Run it on a folder filled by `ordo-bench load` (`--data-dir`); the mix is 50 % customer order
//! detail, 20 % customer order list, 15 % vendor order detail, 15 % vendor order list.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::api::{self, Api, PASSWORD};
use crate::load;
use crate::report::{Report, Target};
use crate::scenarios::{Run, bar, open_loop};

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

pub async fn run(run: &Run, args: &Args) -> anyhow::Result<Report> {
    let loaded = crate::scenarios::notes(run);
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

    let (readers, vendor_ids) = (Arc::new(readers), Arc::new(vendor_ids));
    let measured = open_loop(args.rate, args.seconds, "reads answered", |i| {
        let (api, readers, vendor_ids, vendor) = (
            api.clone(),
            Arc::clone(&readers),
            Arc::clone(&vendor_ids),
            vendor.clone(),
        );
        async move {
            let (token, ids) = &readers[i as usize % readers.len()];
            let pick = |ids: &[String]| ids[(i as usize / 7) % ids.len()].clone();
            let (kind, path, token) = match i % 20 {
                0..=9 => (DETAIL, format!("/orders/{}", pick(ids)), token.clone()),
                10..=13 => (LIST, "/orders?limit=20".to_owned(), token.clone()),
                14..=16 => (DETAIL, format!("/orders/{}", pick(&vendor_ids[..])), vendor),
                _ => (LIST, "/orders?limit=20".to_owned(), vendor),
            };
            (kind, api.get(&token, &path).await)
        }
    })
    .await?;
    let (detail, list) = (&measured.latency[DETAIL], &measured.latency[LIST]);
    let total = args.rate * args.seconds;

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
        total as f64 / measured.offered_for,
        "req/s",
        None,
    );
    report.figure("order detail p50", detail.ms(0.5), "ms", None);
    report.figure(
        "order detail p99",
        detail.ms(0.99),
        "ms",
        Some(Target::AtMost(5.0)),
    );
    report.figure("order list p50", list.ms(0.5), "ms", None);
    report.figure("order list p99", list.ms(0.99), "ms", None);
    measured.report_answers(&mut report, total);
    run.memory(&mut report);
    report.detail("errors", json!(measured.answers));
    report.detail("detail", detail.summary());
    report.detail("list", list.summary());
    Ok(report)
}

const DETAIL: &str = "detail";
const LIST: &str = "list";

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
