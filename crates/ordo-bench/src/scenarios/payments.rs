//! `payments`: what taking the payment in the checkout costs. Customers place orders as fast as
//! they can on the Ordo under test, each paying with the sandbox's `sandbox_card_ok` (the
//! payment written in the checkout's transaction, created and confirmed at the provider after
//! it, and the order moved to `paid` in a second transaction), against a twin Ordo started
//! with `--payments off` taking orders without payment — in alternating rounds of one run, so
//! both see the same moment of a shared machine: the ratio of the medians.

use std::sync::Arc;

use serde_json::json;

use crate::api::{self, Api};
use crate::report::{Report, Target};
use crate::scenarios::{Run, bar, median, rush};
use crate::server::Server;

#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct Args {
    /// Customers placing orders at once.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Seconds each round places orders (after one second of warm-up).
    #[arg(long, default_value_t = 8)]
    pub seconds: u64,
    /// Rounds with payments and without, alternating.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// SKUs in the catalog.
    #[arg(long, default_value_t = 10_000)]
    pub skus: usize,
    /// The test card the paying customers use.
    #[arg(long, default_value = "sandbox_card_ok")]
    pub payment_method: String,
}

pub async fn run(run: &Run, args: &Args) -> anyhow::Result<Report> {
    anyhow::ensure!(
        run.target.url.is_none(),
        "payments starts its own two servers (sandbox and off): drop --url"
    );
    let mut report = Report::new("payments", run.backend_name(), json!(args));
    let mut off_target = run.target.clone();
    off_target.data_dir = None;
    off_target.database_url = None;
    off_target.serve_args.push("--payments=off".into());
    let off = Server::start(&off_target).await?;

    let pay_api = Api::new(&run.server.url, api::http1(args.connections));
    let off_api = Api::new(&off.url, api::http1(args.connections));
    let pay_shop = pay_api
        .shop("pa", args.skus, 1_000_000_000, args.connections)
        .await?;
    let off_shop = off_api
        .shop("pa", args.skus, 1_000_000_000, args.connections)
        .await?;
    let (pay_skus, off_skus) = (Arc::new(pay_shop.skus), Arc::new(off_shop.skus));

    let (mut pay_rates, mut off_rates) = (Vec::new(), Vec::new());
    let (mut pay_p99, mut off_p99) = (Vec::new(), Vec::new());
    let (mut placed, mut paid) = (0, 0);
    let rounds = bar(
        args.rounds as u64 * 2,
        "checkout rounds, paying / not paying",
    );
    for _ in 0..args.rounds {
        let with = rush(
            &pay_api,
            &pay_shop.customers,
            &pay_skus,
            args.seconds,
            Some(&args.payment_method),
        )
        .await;
        pay_rates.push(with.rate);
        pay_p99.push(with.latency.ms(0.99));
        placed += with.latency.count() as usize;
        paid += with.paid;
        rounds.inc(1);
        let without = rush(&off_api, &off_shop.customers, &off_skus, args.seconds, None).await;
        off_rates.push(without.rate);
        off_p99.push(without.latency.ms(0.99));
        rounds.inc(1);
    }
    rounds.finish();
    off.stop().await?;
    let (pay_rate, off_rate) = (median(&pay_rates), median(&off_rates));
    report.figure(
        "orders/s, paid with the sandbox in the checkout",
        pay_rate,
        "orders/s",
        None,
    );
    report.figure("orders/s, payments off", off_rate, "orders/s", None);
    report.figure(
        "paying / not paying",
        if off_rate > 0.0 {
            pay_rate / off_rate
        } else {
            0.0
        },
        "ratio",
        None,
    );
    report.figure(
        "p99, paid with the sandbox (median of rounds)",
        median(&pay_p99),
        "ms",
        None,
    );
    report.figure(
        "p99, payments off (median of rounds)",
        median(&off_p99),
        "ms",
        None,
    );
    report.figure(
        "paid orders answered as not paid",
        (placed - paid) as f64,
        "orders",
        Some(Target::Exactly(0.0)),
    );
    run.memory(&mut report);
    Ok(report)
}
