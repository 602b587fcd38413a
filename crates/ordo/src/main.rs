//! `ordo`: parse the command line, start logging, open the database, run the command.

/// mimalloc hands freed memory back to the system; glibc's allocator kept each thread arena's
/// high-water mark (tens of MiB per arena after a few 19 MiB Argon2 hashes), which pushed the
/// server's resident memory past 256 MiB after a burst of logins (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use clap::Parser;
use ordo::cli::{
    Cli, Command, JobsCommand, LogFormat, PaymentsCommand, PricingCommand, UsersCommand,
};
use ordo::{Backend, app, app_with, launch};
use ordo_app::Settings;
use ordo_app::pricing::PricingImport;
use ordo_app::users::NewUser;
use ordo_domain::identity::{Actor, Proof};
use ordo_domain::ids::VendorId;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Command::Serve(args) => {
            let args = *args;
            let notifications = args.notify.settings();
            notifications.check().context("Notification settings")?;
            let backend = Backend::open(&args.db.config()).await?;
            let settings = Settings {
                reservation_ttl: chrono::Duration::from_std(args.reservation_ttl)
                    .context("--reservation-ttl is too long")?,
                expiry_sweep: args.expiry_sweep,
                idempotency_ttl: chrono::Duration::from_std(args.idempotency_ttl)
                    .context("--idempotency-ttl is too long")?,
                step_up_window: chrono::Duration::from_std(args.step_up_window)
                    .context("--step-up-window is too long")?,
                require_totp_for: args.require_totp_for,
                max_in_flight: args.max_in_flight,
                max_waiting: args.max_waiting,
                request_timeout: args.request_timeout,
                event_retention: chrono::Duration::from_std(args.event_retention)
                    .context("--event-retention is too long")?,
                relay: !args.no_relay,
                job_lease: chrono::Duration::from_std(args.job_lease)
                    .context("--job-lease is too long")?,
                allow_private_webhook_targets: args.allow_private_webhook_targets,
                nats: args.nats_url.map(|url| ordo_app::stream::NatsSettings {
                    url,
                    stream: args.nats_stream,
                    prefix: args.nats_subject_prefix,
                }),
                notifications,
                payments: args.pay.settings().context("Payment settings")?,
                ..Settings::default()
            };
            let app = app_with(&backend, settings);
            app.check_notification_templates()
                .context("--notification-templates")?;
            if args.demo {
                let logins = app
                    .load_demo()
                    .await
                    .context("Failed to load the demo data")?;
                println!(
                    "\nOrdo demo data is loaded. Every demo login's password is: {}\n",
                    ordo_app::demo::PASSWORD
                );
                for l in logins {
                    println!("  {:<28} {:<9} {}", l.email, l.role, l.note);
                }
                println!();
            }
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("Failed to listen on {}", args.listen))?;
            // The bound address, not the requested one: `--listen 127.0.0.1:0` picks a port.
            let addr = listener
                .local_addr()
                .context("Failed to read the listening address")?;
            println!(
                "Ordo is listening on http://{addr} (the shop: http://{addr}/, API docs: http://{addr}/api/docs)"
            );
            println!(
                "  The shop:           http://{addr}/  (buy as a guest, or sign in at /sign-in)"
            );
            println!("  Customers' orders:  http://{addr}/account  (a customer login)");
            println!("  Vendor console:     http://{addr}/vendor  (a vendor login)");
            println!("  Support console:    http://{addr}/support  (support or admin)");
            println!("  Admin:              http://{addr}/admin  (an admin login)");
            launch(listener, app, shutdown_signal()).await?;
            backend.close().await;
            tracing::info!("stopped cleanly");
        }
        Command::Pricing(PricingCommand::Import(args)) => {
            let text = if args.file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
                    .context("Failed to read standard input")?
            } else {
                std::fs::read_to_string(&args.file)
                    .with_context(|| format!("Failed to read {}", args.file.display()))?
            };
            let import: PricingImport = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a pricing file", args.file.display()))?;
            let backend = Backend::open(&args.db.config()).await?;
            let result = app(&backend)
                .import_pricing(&Actor::system(), Proof::SYSTEM, &import)
                .await;
            backend.close().await;
            let summary = result.map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            println!("{}", serde_json::to_string(&summary)?);
        }
        Command::Pricing(PricingCommand::Show(db)) => {
            let backend = Backend::open(&db.config()).await?;
            let result = app(&backend).pricing_rules(&Actor::system()).await;
            backend.close().await;
            let book = result.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&book)?);
        }
        Command::Jobs(JobsCommand::List(args)) => {
            let backend = Backend::open(&args.db.config()).await?;
            let result = app(&backend)
                .jobs_overview(
                    &Actor::system(),
                    args.state.as_deref(),
                    args.kind.as_deref(),
                    Some(args.limit),
                )
                .await;
            backend.close().await;
            let overview = result.map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            print!("{}", ordo::jobs_report(overview, args.json)?);
        }
        Command::Jobs(JobsCommand::Retry(args)) => {
            let backend = Backend::open(&args.db.config()).await?;
            let result = app(&backend).retry_job(&Actor::system(), args.id).await;
            backend.close().await;
            result.map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            println!("Job {} is queued again.", args.id);
        }
        Command::Jobs(JobsCommand::Purge(args)) => {
            let backend = Backend::open(&args.db.config()).await?;
            let app = app(&backend);
            let before = app.now()
                - chrono::Duration::from_std(args.older_than)
                    .context("--older-than is too long")?;
            let result = app.purge_jobs(&Actor::system(), before, args.dead).await;
            backend.close().await;
            let deleted = result.map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            println!("Deleted {deleted} jobs that ended before {before}.");
        }
        Command::Payments(PaymentsCommand::Reconcile(args)) => {
            let backend = Backend::open(&args.db.config()).await?;
            let result = ordo::reconcile(&app(&backend), &args).await;
            backend.close().await;
            result?;
        }
        Command::Migrate(db) => {
            let backend = Backend::open(&db.config()).await?;
            println!("The {} database is up to date.", backend.store().backend());
            backend.close().await;
        }
        Command::Users(UsersCommand::Create(args)) => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("Failed to read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            let backend = Backend::open(&args.db.config()).await?;
            let input = NewUser {
                email: args.email,
                password,
                role: args.role,
                vendor_id: args.vendor_id.map(VendorId),
            };
            let result = app(&backend)
                .create_user(&Actor::system(), Proof::SYSTEM, input)
                .await;
            backend.close().await;
            let user = result.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "{}",
                serde_json::json!({ "id": user.id, "email": user.email, "role": user.role, "vendor_id": user.vendor_id })
            );
        }
    }
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("ORDO_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}

/// Resolves on Ctrl-C or SIGTERM: the server then stops accepting and drains.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}

/// An error with the field it concerns, for the command line.
fn describe(e: &ordo_app::AppError) -> String {
    match e {
        ordo_app::AppError::Invalid(p) => match &p.field {
            Some(f) => format!("{f}: {} ({})", p.message, p.code),
            None => format!("{} ({})", p.message, p.code),
        },
        other => other.to_string(),
    }
}
