//! `ordo-bench`: Ordo's load generator.
//!
//! Drives a real `ordo serve` over real HTTP — one it starts itself on a fresh data folder or
//! PostgreSQL database (the `ordo` binary beside this one), or one already running at `--url` —
//! through the workloads a shop platform sees: a checkout rush, a flash sale, a peak of order
//! updates. Beside them it measures the raw-SQL `ceiling` of the same database, so every result
//! reads as a share of what the database alone can do on this machine at this moment. Prints a
//! table, writes every figure as JSON (`--json`), and draws latency over time as SVG.
//! See docs/benchmarks.md for how to read the results.

mod api;
mod load;
mod progress;
mod report;
mod scenarios;
mod server;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use scenarios::Run;
use server::{Server, TargetArgs};

#[derive(Debug, Parser)]
#[command(name = "ordo-bench", version, about = "Load-test Ordo over HTTP.")]
struct Cli {
    #[command(flatten)]
    target: TargetArgs,
    /// Also write every figure, the machine, the backend, the commit and the settings here.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Customers place orders as fast as they can; orders/s and latency, beside the ceiling.
    Checkout(scenarios::checkout::Args),
    /// Thousands of buyers at once for a few units: exactly as many sold, none oversold.
    FlashSale(scenarios::flash_sale::Args),
    /// Thousands of order updates in flight at once; all acknowledged, none lost.
    PeakUpdates(scenarios::peak_updates::Args),
    /// The event relay: checkout with it on (webhooks, live streams) vs off, webhook lag, and
    /// 10,000 open streams (memory per stream, fan-out latency).
    Events(scenarios::events::Args),
    /// Checkout paying with the sandbox provider vs a twin with payments off: orders/s, p99.
    Payments(scenarios::payments::Args),
    /// Order detail and lists at a fixed offered rate (open loop), over a loaded folder.
    Read(scenarios::read::Args),
    /// The vendor console's order queue and order page at a fixed offered rate (open loop),
    /// over a loaded folder.
    Pages(scenarios::pages::Args),
    /// The database writes of one placement as raw SQL: what the database alone can do.
    Ceiling(scenarios::ceiling::CeilingArgs),
    /// Fill `--data-dir` (or `--database-url`) with N realistic orders for `read`.
    Load(load::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if let Scenario::Load(args) = &cli.scenario {
            let report = load::run(&cli.target, args).await?;
            report.print();
            if let Some(path) = &cli.json {
                report.write_json(path)?;
            }
            return Ok(());
        }
        let mut target = cli.target.clone();
        if matches!(cli.scenario, Scenario::Events(_)) {
            // Its webhook receiver is on 127.0.0.1.
            target
                .serve_args
                .push("--allow-private-webhook-targets".into());
        }
        let server = Server::start(&target).await?;
        let run = Run { server, target };
        let report = match &cli.scenario {
            Scenario::Checkout(args) => scenarios::checkout::run(&run, args).await,
            Scenario::FlashSale(args) => scenarios::flash_sale::run(&run, args).await,
            Scenario::PeakUpdates(args) => scenarios::peak_updates::run(&run, args).await,
            Scenario::Read(args) => scenarios::read::run(&run, args).await,
            Scenario::Pages(args) => scenarios::pages::run(&run, args).await,
            Scenario::Events(args) => scenarios::events::run(&run, args).await,
            Scenario::Payments(args) => scenarios::payments::run(&run, args).await,
            Scenario::Ceiling(args) => scenarios::ceiling::run(&run, *args).await,
            Scenario::Load(_) => unreachable!("handled above"),
        };
        run.server.stop().await?;
        let report = report?;
        report.print();
        if let Some(path) = &cli.json {
            report.write_json(path)?;
        }
        Ok(())
    })
}
