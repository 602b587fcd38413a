//! The `ordo` binary's pieces: the command line, choosing the backend from the URL, and
//! launching the server. `main.rs` only wires these together; tests use them to start a real
//! server on port 0 exactly as `ordo serve` does.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use ordo_app::{App, Settings};
use ordo_store::Store;
use ordo_store_postgres::PostgresStore;
use ordo_store_sqlite::{SqliteConfig, SqliteStore};
use tokio::net::TcpListener;

pub mod cli;

/// Where the data lives: a PostgreSQL or SQLite URL, or else `ordo.db` in the data folder.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
}

/// The open database, whichever it is.
pub enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Backend {
    /// Opens the database the configuration names and migrates it.
    pub async fn open(config: &DatabaseConfig) -> anyhow::Result<Self> {
        match config.database_url.as_deref() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Backend::Postgres(PostgresStore::open(url, 20).await?))
            }
            Some(url) if url.starts_with("sqlite:") => Ok(Backend::Sqlite(
                SqliteStore::open_url(url, &SqliteConfig::default()).await?,
            )),
            Some(other) => {
                anyhow::bail!("unsupported database URL {other:?}: use postgres://… or sqlite:…")
            }
            None => {
                std::fs::create_dir_all(&config.data_dir).with_context(|| {
                    format!(
                        "Failed to create the data folder {}",
                        config.data_dir.display()
                    )
                })?;
                Ok(Backend::Sqlite(
                    SqliteStore::open(&database_file(&config.data_dir), &SqliteConfig::default())
                        .await?,
                ))
            }
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Backend::Sqlite(s) => Arc::new(s.clone()),
            Backend::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// Closes every connection (and, on SQLite, folds the write-ahead log into the file).
    pub async fn close(&self) {
        match self {
            Backend::Sqlite(s) => s.close().await,
            Backend::Postgres(s) => s.close().await,
        }
    }
}

/// The SQLite file inside a data folder.
pub fn database_file(data_dir: &Path) -> PathBuf {
    data_dir.join("ordo.db")
}

/// Serves the API on `listener` until `shutdown` resolves, then drains in-flight requests.
///
/// If the store fail-stops (a commit whose outcome is unknown, see docs/architecture.md), the
/// server drains the same way — every write now answers 503 and `/readyz` says not ready — and
/// this returns an error, so `ordo serve` exits non-zero and its supervisor restarts it: the
/// database's own recovery at open then decides what is durable.
pub async fn launch(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener
        .local_addr()
        .context("Failed to read the listening address")?;
    tracing::info!(%addr, backend = app.store.backend(), "ordo is serving");
    let worker = app
        .settings
        .job_poll
        .map(|every| tokio::spawn(work_jobs(app.clone(), every)));
    let auth_changes = tokio::spawn(follow_auth_changes(app.clone()));
    let relay = app.settings.relay.then(|| {
        let app = app.clone();
        tokio::spawn(async move { app.run_relay().await })
    });
    let fatal = Arc::new(std::sync::OnceLock::<String>::new());
    let stop = {
        let (store, fatal) = (Arc::clone(&app.store), Arc::clone(&fatal));
        async move {
            tokio::select! {
                () = shutdown => {}
                why = store.failed() => {
                    tracing::error!(reason = %why, "the store fail-stopped: draining and exiting");
                    let _ = fatal.set(why);
                }
            }
        }
    };
    let served = ordo_http::serve(listener, app, stop)
        .await
        .context("Failed to serve HTTP");
    if let Some(worker) = worker {
        worker.abort();
    }
    auth_changes.abort();
    if let Some(relay) = relay {
        relay.abort();
    }
    if let Some(why) = fatal.get() {
        anyhow::bail!(
            "stopped because the database's write path failed ({why}); restart Ordo to let the \
             database recover"
        );
    }
    served
}

/// Runs due background jobs (reservation expiry, purges, webhook deliveries…; see
/// `ordo_app::jobs`) every `every`, and at once when this node's relay has events for its
/// consumers, on every node: claims keep nodes from taking the same job. A failing round is
/// logged and the next one tried; a round that ran jobs is followed at once by another (the
/// jobs it queued for now, such as the deliveries a fan-out made, run without waiting).
async fn work_jobs(app: App, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut scheduled = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = app.jobs_woken() => {}
        }
        if !scheduled {
            scheduled = app.schedule_recurring_jobs().await.is_ok();
        }
        // Bounded: a burst of rounds, then the next tick or wake-up.
        for _ in 0..100 {
            match app.run_due_jobs().await {
                Ok(run) if run.claimed() > 0 => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "running background jobs failed; will retry");
                    break;
                }
            }
        }
    }
}

/// Keeps this node's session cache in step with auth changes made on other nodes (PostgreSQL;
/// nothing to do on SQLite's single node), reconnecting after a failure.
async fn follow_auth_changes(app: App) {
    loop {
        match app.follow_auth_changes().await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot follow auth changes; retrying in 1 s");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

/// Builds the application over an open backend.
pub fn app(backend: &Backend) -> App {
    app_with(backend, Settings::default())
}

/// The application over `backend` with chosen settings.
pub fn app_with(backend: &Backend, settings: Settings) -> App {
    App::new(backend.store(), settings)
}

/// `ordo jobs list`: the API's view of background jobs, as JSON or as a table for people.
pub fn jobs_report(overview: ordo_app::jobs::JobsOverview, json: bool) -> anyhow::Result<String> {
    use std::fmt::Write;
    let view = ordo_http::api::v1::jobs::JobsView::from(overview);
    if json {
        return Ok(serde_json::to_string_pretty(&view)? + "\n");
    }
    let c = &view.counts;
    let mut out = format!(
        "queued {} (retrying {}), running {}, done {}, dead {}\n",
        c.queued, c.retrying, c.running, c.done, c.dead
    );
    let readers: Vec<String> = view
        .relay
        .consumers
        .iter()
        .map(|r| format!("{} at {} (lag {})", r.name, r.position, r.lag))
        .collect();
    writeln!(
        out,
        "relay: {} waiting for a number; {}\n",
        view.relay.waiting,
        readers.join(", ")
    )?;
    writeln!(
        out,
        "{:<36}  {:<22}  {:<7}  {:>8}  {:<20}  KEY / LAST ERROR",
        "ID", "KIND", "STATE", "ATTEMPTS", "RUN AT"
    )?;
    for j in &view.data {
        writeln!(
            out,
            "{:<36}  {:<22}  {:<7}  {:>8}  {:<20}  {}{}",
            j.id,
            j.kind,
            j.state,
            j.attempts,
            j.run_at.format("%Y-%m-%d %H:%M:%S"),
            j.key,
            j.last_error
                .as_deref()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default()
        )?;
    }
    Ok(out)
}

/// `ordo payments reconcile --cancelled [--apply]`: lists the cancelled orders still holding
/// their customer's money; with `--apply`, asks (unless `--yes`) and gives it back.
pub async fn reconcile(app: &App, args: &cli::ReconcileArgs) -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    let system = ordo_domain::identity::Actor::system();
    // Who ran it, for the order's log (staff read the reason; customers see the amounts).
    let operator = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "an operator".into());
    let reason = format!(
        "ordo payments reconcile --cancelled --apply, run by {operator}: cancelled before cancelling gave money back"
    );
    let reason = reason.as_str();
    let found = app
        .reconcile_cancelled(system, false, reason)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    print!("{}", reconcile_report(&found, args.json)?);
    if !args.apply {
        return Ok(());
    }
    let to_send = found.len();
    if to_send == 0 {
        return Ok(());
    }
    if !args.yes {
        print!(
            "Give back the money of {to_send} cancelled {} (recorded on each order's log)? Type yes to go on: ",
            if to_send == 1 { "order" } else { "orders" }
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            println!("Nothing was changed.");
            return Ok(());
        }
    }
    let done = app
        .reconcile_cancelled(system, true, reason)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Per currency: (refunded, released).
    let mut sums: std::collections::BTreeMap<&str, (i64, i64, ordo_domain::money::Currency)> =
        std::collections::BTreeMap::new();
    let mut orders = 0;
    for r in &done {
        if let Some(g) = r.given.filter(|g| g.refund + g.void > 0) {
            orders += 1;
            let c = r.order.currency;
            let sum = sums.entry(c.code()).or_insert((0, 0, c));
            (sum.0, sum.1) = (sum.0 + g.refund, sum.1 + g.void);
        }
    }
    let money = |amount, currency| ordo_domain::money::Money { amount, currency }.format_for("en");
    let amounts: Vec<String> = sums
        .values()
        .map(|(refund, release, c)| {
            format!(
                "{} refunded, {} released",
                money(*refund, *c),
                money(*release, *c)
            )
        })
        .collect();
    println!(
        "Asked the provider to give back the money of {orders} {} ({}). The running Ordo sends the \
         requests (jobs payment.request); their outcome shows on each order.",
        if orders == 1 { "order" } else { "orders" },
        amounts.join("; ")
    );
    Ok(())
}

fn reconcile_report(
    found: &[ordo_app::payments::reconcile::Reconciled],
    json: bool,
) -> anyhow::Result<String> {
    use std::fmt::Write;
    let money =
        |amount: i64, currency| ordo_domain::money::Money { amount, currency }.format_for("en");
    let mut out = String::new();
    for r in found {
        let u = &r.order;
        if json {
            let line = serde_json::json!({
                "order_id": u.order_id, "customer_id": u.customer_id, "vendor_id": u.vendor_id,
                "currency": u.currency.code(), "captured": u.captured, "refunded": u.refunded,
                "refunding": u.refunding, "to_refund": u.to_refund, "to_release": u.to_release,
                "by_hand": u.by_hand, "cancelled_at": u.cancelled_at,
                "cancelled_by": u.cancelled_by.role.as_str(), "reason": u.reason,
            });
            writeln!(out, "{line}")?;
        }
    }
    if json {
        return Ok(out);
    }
    if found.is_empty() {
        return Ok("Every cancelled order's money has been given back.\n".into());
    }
    writeln!(
        out,
        "{:<36}  {:<17}  {:<8}  {:>11}  {:>11}  {:>11}  {:>11}  NOTE",
        "ORDER", "CANCELLED AT", "BY", "CAPTURED", "REFUNDED", "TO REFUND", "TO RELEASE"
    )?;
    for r in found {
        let u = &r.order;
        writeln!(
            out,
            "{:<36}  {:<17}  {:<8}  {:>11}  {:>11}  {:>11}  {:>11}  {}",
            u.order_id,
            u.cancelled_at.format("%Y-%m-%d %H:%M"),
            u.cancelled_by.role.as_str(),
            money(u.captured, u.currency),
            money(u.refunded + u.refunding, u.currency),
            money(u.to_refund, u.currency),
            money(u.to_release, u.currency),
            if u.by_hand {
                "paid by hand: people give that back"
            } else {
                u.reason.as_deref().unwrap_or("")
            }
        )?;
    }
    writeln!(
        out,
        "{} cancelled {} still {} money; each is in the support console's exception queue.",
        found.len(),
        if found.len() == 1 { "order" } else { "orders" },
        if found.len() == 1 { "holds" } else { "hold" }
    )?;
    Ok(out)
}
