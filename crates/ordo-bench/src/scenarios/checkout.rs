//! `checkout`: V customers, logged in once, place orders of 1–5 lines from a large catalog as
//! fast as they can for T seconds (a closed loop: each waits for its answer, then orders again).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::api::{self, Api};
use crate::report::{Latency, Report, Target};
use crate::scenarios::{Ceiling, Run, bar, spinner};

#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct Args {
    /// Customers placing orders at once (one keep-alive connection each).
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// How long to place orders.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Seconds at the start that are run but not counted.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// SKUs in the catalog.
    #[arg(long, default_value_t = 10_000)]
    pub skus: usize,
    /// Skip measuring the raw-SQL ceiling beside the run.
    #[arg(long)]
    pub no_ceiling: bool,
    #[command(flatten)]
    pub ceiling: crate::scenarios::ceiling::CeilingArgs,
    /// Where to draw latency over time (SVG).
    #[arg(long)]
    pub chart: Option<std::path::PathBuf>,
}

struct Tally {
    latency: Latency,
    /// Latency of the answers that completed in each second of the run.
    seconds: Vec<Latency>,
    kinds: BTreeMap<String, u64>,
}

impl Tally {
    fn new(seconds: u64) -> Self {
        Self {
            latency: Latency::default(),
            seconds: vec![Latency::default(); seconds as usize + 1],
            kinds: BTreeMap::new(),
        }
    }
}

pub async fn run(run: &Run, args: &Args) -> anyhow::Result<Report> {
    let api = Api::new(&run.server.url, api::http1(args.connections));
    let shop = api
        .shop("co", args.skus, 1_000_000_000, args.connections)
        .await?;
    let skus = Arc::new(shop.skus);

    let total = args.warmup + args.seconds;
    let tally = Arc::new(Mutex::new(Tally::new(args.seconds)));
    let progress = bar(total, "placing orders (seconds)");
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let end = measure_from + Duration::from_secs(args.seconds);
    let workers: Vec<_> = shop
        .customers
        .into_iter()
        .map(|token| {
            let (api, skus, tally) = (api.clone(), Arc::clone(&skus), Arc::clone(&tally));
            tokio::spawn(async move {
                // Each worker keeps its own tally and merges once: no lock per request.
                let mut mine = Tally::new((end - measure_from).as_secs());
                loop {
                    let sent = Instant::now();
                    if sent >= end {
                        break;
                    }
                    let answer = api.post(&token, "/orders", &api::random_order(&skus)).await;
                    if sent < measure_from {
                        continue;
                    }
                    let done = Instant::now();
                    let second = (done.min(end) - measure_from).as_secs() as usize;
                    *mine.kinds.entry(answer.kind()).or_default() += 1;
                    if answer.status.as_u16() == 201 {
                        mine.latency.record(answer.latency);
                        mine.seconds[second].record(answer.latency);
                    }
                }
                let mut all = tally.lock().expect("tally");
                all.latency.add(&mine.latency);
                for (total, s) in all.seconds.iter_mut().zip(&mine.seconds) {
                    total.add(s);
                }
                for (k, n) in mine.kinds {
                    *all.kinds.entry(k).or_default() += n;
                }
            })
        })
        .collect();
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_before = run.server.cpu();
    let ticker = tokio::spawn({
        let progress = progress.clone();
        async move {
            while Instant::now() < end {
                tokio::time::sleep(Duration::from_secs(1)).await;
                progress.set_position(start.elapsed().as_secs().min(total));
            }
        }
    });
    for w in workers {
        w.await?;
    }
    let cpu_after = run.server.cpu();
    ticker.abort();
    progress.finish();
    let tally = Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("workers still hold the tally"))?
        .into_inner()
        .expect("tally");

    let placed = tally.latency.count() as f64;
    let rate = placed / args.seconds as f64;
    let errors: u64 = tally
        .kinds
        .iter()
        .filter(|(k, _)| k.as_str() != "201")
        .map(|(_, n)| n)
        .sum();
    let mut report = Report::new("checkout", run.backend_name(), json!(args));
    report.figure("orders placed per second", rate, "orders/s", None);
    report.figure("p50 latency", tally.latency.ms(0.50), "ms", None);
    report.figure("p95 latency", tally.latency.ms(0.95), "ms", None);
    report.figure(
        "p99 latency",
        tally.latency.ms(0.99),
        "ms",
        Some(Target::AtMost(50.0)),
    );
    report.figure("max latency", tally.latency.max_ms(), "ms", None);
    report.figure(
        "errors",
        errors as f64,
        "answers",
        Some(Target::Exactly(0.0)),
    );
    crate::scenarios::cpu_figures(
        &mut report,
        cpu_before,
        cpu_after,
        placed,
        "order",
        args.seconds as f64,
    );
    if !args.no_ceiling {
        let spin = spinner("measuring the raw-SQL ceiling beside it");
        let ceiling = Ceiling::measure(run, args.ceiling).await?;
        spin.finish();
        ceiling.compare(&mut report, rate, run.server.backend);
    }
    run.memory(&mut report);
    report.detail("latency", tally.latency.summary());
    report.detail("errors", json!(tally.kinds));
    report.detail(
        "per_second",
        json!(tally.seconds.iter().map(|s| json!({
            "answers": s.count(), "p50_ms": s.ms(0.5), "p99_ms": s.ms(0.99), "max_ms": s.max_ms()
        })).collect::<Vec<_>>()),
    );
    if let Some(path) = &args.chart {
        crate::report::chart(
            path,
            &format!(
                "checkout on {}: {} customers, {:.0} orders/s, p99 {:.1} ms",
                run.backend_name(),
                args.connections,
                rate,
                tally.latency.ms(0.99)
            ),
            &tally.seconds[..args.seconds as usize],
        )?;
    }
    Ok(report)
}
