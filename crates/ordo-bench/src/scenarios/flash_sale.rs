//! `flash-sale`: 20,000 purchase requests at once for one SKU with 100 units. Exactly 100 must
//! sell, none may oversell, and the refusals must come back fast.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::api::{self, Api};
use crate::report::{Latency, Report, Target};
use crate::scenarios::{Run, burst};

#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct Args {
    /// Purchase requests sent at once.
    #[arg(long, default_value_t = 20_000)]
    pub buyers: usize,
    /// Units on sale.
    #[arg(long, default_value_t = 100)]
    pub units: i64,
    /// Customer accounts the buyers are spread over (each logs in once).
    #[arg(long, default_value_t = 200)]
    pub accounts: usize,
    /// HTTP/2 connections carrying the requests (at most 200 in flight on each).
    #[arg(long, default_value_t = 128)]
    pub connections: usize,
}

pub async fn run(run: &Run, args: &Args) -> anyhow::Result<Report> {
    let api = Api::new(&run.server.url, api::http1(32));
    let shop = api.shop("fs", 1, args.units, args.accounts).await?;
    let (admin, sku, tokens) = (shop.admin, &shop.skus[0], shop.customers);

    let order = api::order_of(&[json!({ "sku": sku, "quantity": 1 })]);
    let answers = burst(
        &api,
        args.buyers,
        args.connections,
        "buyers answered",
        |i| {
            (
                tokens[i % tokens.len()].clone(),
                "/orders".to_owned(),
                order.clone(),
            )
        },
    )
    .await;

    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let (mut all, mut refusals) = (Latency::default(), Latency::default());
    let mut sold_out_after = Duration::ZERO;
    for (answer, done) in &answers {
        *kinds.entry(answer.kind()).or_default() += 1;
        all.record(answer.latency);
        match answer.status.as_u16() {
            201 => sold_out_after = sold_out_after.max(*done),
            409 => refusals.record(answer.latency),
            _ => {}
        }
    }
    let sold = kinds.get("201").copied().unwrap_or(0) as f64;
    let refused = kinds.get("409 insufficient_stock").copied().unwrap_or(0) as f64;
    let stock = api.get(&admin, &format!("/inventory/{sku}")).await.body;
    let reserved = stock["locations"][0]["reserved"].as_i64().unwrap_or(-1) as f64;
    let on_hand = stock["locations"][0]["on_hand"].as_i64().unwrap_or(-1) as f64;

    let mut report = Report::new("flash-sale", run.backend_name(), json!(args));
    report.figure(
        "sold (201)",
        sold,
        "orders",
        Some(Target::Exactly(args.units as f64)),
    );
    report.figure(
        "oversold (sold beyond stock)",
        (sold - on_hand).max(0.0) + (reserved - on_hand).max(0.0),
        "units",
        Some(Target::Exactly(0.0)),
    );
    report.figure(
        "reserved in the database",
        reserved,
        "units",
        Some(Target::Exactly(sold)),
    );
    report.figure("refused (409 insufficient_stock)", refused, "answers", None);
    report.figure(
        "other answers",
        args.buyers as f64 - sold - refused,
        "answers",
        Some(Target::Exactly(0.0)),
    );
    report.figure(
        "time to sell out",
        sold_out_after.as_secs_f64() * 1000.0,
        "ms",
        None,
    );
    report.figure("refusal p50", refusals.ms(0.5), "ms", None);
    report.figure("refusal p99", refusals.ms(0.99), "ms", None);
    report.figure(
        "p99 of all answers",
        all.ms(0.99),
        "ms",
        Some(Target::AtMost(1000.0)),
    );
    report.figure("max of all answers", all.max_ms(), "ms", None);
    run.memory(&mut report);
    report.detail("errors", json!(kinds));
    report.detail("latency", all.summary());
    report.detail("refusals", refusals.summary());
    report.detail(
        "transport",
        json!(format!(
            "one client process, HTTP/2 cleartext over {} connections",
            args.connections
        )),
    );
    Ok(report)
}
