//! The command line: `ordo serve`, `ordo migrate`, `ordo users create`, `ordo pricing`.
//! Every flag can also come from an `ORDO_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::DatabaseConfig;

#[derive(Debug, Parser)]
#[command(
    name = "ordo",
    version,
    about = "Ordo: order management for shops and marketplaces"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format: `text` for people, `json` for log collectors; `auto` picks text on a terminal.
    #[arg(long, global = true, env = "ORDO_LOG_FORMAT", default_value = "auto")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Auto,
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database first).
    Serve(Box<ServeArgs>),
    /// Bring the database schema up to date and exit.
    Migrate(DbArgs),
    /// Manage users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage pricing rules (FX rates, tax rules, shipping rates, promotions).
    #[command(subcommand)]
    Pricing(PricingCommand),
    /// See, retry and clear out background jobs (webhook deliveries, notifications, expiries…).
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Reconcile payments with orders.
    #[command(subcommand)]
    Payments(PaymentsCommand),
}

#[derive(Debug, Subcommand)]
pub enum PaymentsCommand {
    /// Lists every cancelled order whose customer's money was not given back (what it holds,
    /// since when, who cancelled it) and puts each in the support console's exception queue;
    /// with --apply, gives the money back (refunds the captured part, releases the rest; paid
    /// by hand: left to people), after asking for confirmation. Running it again sends
    /// nothing twice. The running server's job worker sends the requests.
    Reconcile(ReconcileArgs),
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Cancelled orders still holding money (the one reconciliation there is).
    #[arg(long, required = true)]
    pub cancelled: bool,
    /// Give the money back (asks first; each request is recorded on the order's log).
    #[arg(long)]
    pub apply: bool,
    /// With --apply: do not ask (for scripts that already decided).
    #[arg(long, requires = "apply")]
    pub yes: bool,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Jobs newest first, with how many are in each state and how far each reader of the
    /// event relay has got.
    List(JobsListArgs),
    /// Queue a dead job again now.
    Retry(JobsRetryArgs),
    /// Delete jobs done long ago (and, with --dead, dead ones).
    Purge(JobsPurgeArgs),
}

#[derive(Debug, Args)]
pub struct JobsListArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// queued, running, done or dead.
    #[arg(long)]
    pub state: Option<String>,
    /// e.g. webhook.deliver, notification.send.
    #[arg(long)]
    pub kind: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    /// Print JSON (the API's shape) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JobsRetryArgs {
    #[command(flatten)]
    pub db: DbArgs,
    pub id: uuid::Uuid,
}

#[derive(Debug, Args)]
pub struct JobsPurgeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Jobs that ended longer ago than this (`7d`, `12h`).
    #[arg(long, default_value = "7d", value_parser = parse_duration)]
    pub older_than: std::time::Duration,
    /// Dead jobs too (they can no longer be retried).
    #[arg(long)]
    pub dead: bool,
}

#[derive(Debug, Subcommand)]
pub enum PricingCommand {
    /// Apply a JSON file of pricing data: `{"prices": [...], "fx_rates": [...], "tax_rules":
    /// [...], "shipping_rates": [...], "promotions": [...]}`, each entry shaped as the API takes
    /// it, in one transaction: a bad entry leaves everything as it was.
    Import(PricingImportArgs),
    /// Print every rule as JSON.
    Show(DbArgs),
}

#[derive(Debug, Args)]
pub struct PricingImportArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The file to read (`-` for standard input).
    pub file: PathBuf,
}

/// Where notifications go (docs/notifications.md).
#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// Send e-mail notifications through this SMTP server: `smtp://host:port` (plain; add
    /// `?tls=required` for STARTTLS), `smtps://user:password@host:465`.
    #[arg(long, env = "ORDO_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The From of every e-mail.
    #[arg(
        long,
        env = "ORDO_MAIL_FROM",
        default_value = "Ordo <orders@localhost>"
    )]
    pub mail_from: String,
    /// Send SMS and push notifications as signed JSON POSTs to the platform's relay here.
    #[arg(long, env = "ORDO_NOTIFIER_URL", requires = "notifier_secret")]
    pub notifier_url: Option<String>,
    /// `whsec_…` (base64 key): signs every notifier request as webhooks are signed.
    #[arg(
        long,
        env = "ORDO_NOTIFIER_SECRET",
        requires = "notifier_url",
        hide_env_values = true
    )]
    pub notifier_secret: Option<String>,
    /// A folder of message templates replacing the built-in ones of the same name
    /// (`en/customer/order.shipped.txt`…).
    #[arg(long, env = "ORDO_NOTIFICATION_TEMPLATES")]
    pub notification_templates: Option<PathBuf>,
    /// The shop's name in messages.
    #[arg(long, env = "ORDO_SHOP_NAME", default_value = "Ordo")]
    pub shop_name: String,
    /// Where people open the shop (`https://shop.example`): messages link to their orders.
    #[arg(long, env = "ORDO_PUBLIC_URL")]
    pub public_url: Option<String>,
}

impl NotifyArgs {
    pub fn settings(self) -> ordo_app::notifications::NotificationSettings {
        ordo_app::notifications::NotificationSettings {
            smtp_url: self.smtp_url,
            mail_from: self.mail_from,
            notifier_url: self.notifier_url,
            notifier_secret: self.notifier_secret,
            templates: self.notification_templates,
            shop_name: self.shop_name,
            public_url: self.public_url,
        }
    }
}

/// How payments are taken (docs/payments.md).
#[derive(Debug, Args)]
pub struct PayArgs {
    /// Who takes payments: `sandbox` (built in, offline, test cards; the default), `stripe`
    /// (with the --stripe-* settings) or `off` (orders are paid by hand by an admin).
    #[arg(long, env = "ORDO_PAYMENTS", default_value = "sandbox")]
    pub payments: PaymentsChoice,
    /// When a payment is captured: `automatic` (at authorization) or `manual` (by the vendor,
    /// at shipment; the authorization must be captured before it lapses).
    #[arg(long, env = "ORDO_CAPTURE", default_value = "automatic")]
    pub capture: CaptureChoice,
    /// The first wait before a capture, void or refund the provider failed for a passing
    /// reason is tried again (each later wait doubles).
    #[arg(long, env = "ORDO_PAYMENT_RETRY_AFTER", default_value = "5m", value_parser = parse_duration)]
    pub payment_retry_after: std::time::Duration,
    /// Tries of such a request before it is handed to people.
    #[arg(long, env = "ORDO_PAYMENT_ATTEMPTS", default_value_t = 5)]
    pub payment_attempts: i32,
    /// Stripe's secret API key (`sk_…`), for `--payments stripe`.
    #[arg(long, env = "ORDO_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<String>,
    /// The signing secret of Ordo's Stripe webhook endpoint (`whsec_…`):
    /// `/api/v1/payments/webhooks/stripe`.
    #[arg(long, env = "ORDO_STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<String>,
    /// Where Stripe's API is (a stand-in such as localstripe for tests).
    #[arg(
        long,
        env = "ORDO_STRIPE_API_BASE",
        default_value = "https://api.stripe.com"
    )]
    pub stripe_api_base: String,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PaymentsChoice {
    Sandbox,
    Stripe,
    Off,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CaptureChoice {
    Automatic,
    Manual,
}

impl PayArgs {
    pub fn settings(&self) -> anyhow::Result<ordo_app::payments::PaymentSettings> {
        use ordo_app::payments::{CapturePolicy, PaymentSettings, ProviderChoice};
        Ok(PaymentSettings {
            provider: match self.payments {
                PaymentsChoice::Sandbox => ProviderChoice::Sandbox,
                PaymentsChoice::Off => ProviderChoice::Off,
                PaymentsChoice::Stripe => {
                    let (Some(secret_key), Some(webhook_secret)) =
                        (&self.stripe_secret_key, &self.stripe_webhook_secret)
                    else {
                        anyhow::bail!(
                            "--payments stripe needs --stripe-secret-key and --stripe-webhook-secret"
                        );
                    };
                    ProviderChoice::Stripe(ordo_app::payments::stripe::StripeSettings {
                        secret_key: secret_key.clone(),
                        webhook_secret: webhook_secret.clone(),
                        api_base: self.stripe_api_base.clone(),
                    })
                }
            },
            capture: match self.capture {
                CaptureChoice::Automatic => CapturePolicy::Automatic,
                CaptureChoice::Manual => CapturePolicy::Manual,
            },
            retry_after: chrono::Duration::from_std(self.payment_retry_after)?,
            attempts: self.payment_attempts.max(1),
            ..PaymentSettings::default()
        })
    }
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// Folder for the embedded SQLite database (used when no --database-url is given).
    #[arg(long, env = "ORDO_DATA_DIR", default_value = "./ordo-data")]
    pub data_dir: PathBuf,
    /// `postgres://user@host/db` for PostgreSQL, or `sqlite:path` for a SQLite file elsewhere.
    #[arg(long, env = "ORDO_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DbArgs {
    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "ORDO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Load the demo data set (if not loaded yet) and print its logins.
    #[arg(long, env = "ORDO_DEMO")]
    pub demo: bool,
    /// How long an unpaid order holds its stock before it is cancelled (`payment_timeout`):
    /// `15m`, `90s`, `2h`…
    #[arg(long, env = "ORDO_RESERVATION_TTL", default_value = "15m", value_parser = parse_duration)]
    pub reservation_ttl: std::time::Duration,
    /// How often to look for expired reservations.
    #[arg(long, env = "ORDO_EXPIRY_SWEEP", default_value = "5s", value_parser = parse_duration)]
    pub expiry_sweep: std::time::Duration,
    /// How long an Idempotency-Key is remembered (a retry later than this is a new request).
    #[arg(long, env = "ORDO_IDEMPOTENCY_TTL", default_value = "24h", value_parser = parse_duration)]
    pub idempotency_ttl: std::time::Duration,
    /// How long relayed events are kept: how far back `GET /api/v1/events` and a stream's
    /// `Last-Event-ID` can reach (`30d`, `72h`…).
    #[arg(long, env = "ORDO_EVENT_RETENTION", default_value = "30d", value_parser = parse_duration)]
    pub event_retention: std::time::Duration,
    /// How long a login or step-up counts as a fresh proof of identity for sensitive actions.
    #[arg(long, env = "ORDO_STEP_UP_WINDOW", default_value = "5m", value_parser = parse_duration)]
    pub step_up_window: std::time::Duration,
    /// Roles whose users must enrol a TOTP second factor before doing anything else
    /// (comma-separated: `support,admin`).
    #[arg(long, env = "ORDO_REQUIRE_TOTP_FOR", value_delimiter = ',', value_parser = parse_role)]
    pub require_totp_for: Vec<ordo_domain::identity::Role>,
    /// Publish every event to this NATS server's JetStream (`nats://127.0.0.1:4222`).
    #[arg(long, env = "ORDO_NATS_URL")]
    pub nats_url: Option<String>,
    /// The JetStream stream events go to (created if missing).
    #[arg(long, env = "ORDO_NATS_STREAM", default_value = "ORDO")]
    pub nats_stream: String,
    /// Events are published on `<prefix>.<type>`, e.g. `ordo.order.paid`.
    #[arg(long, env = "ORDO_NATS_SUBJECT_PREFIX", default_value = "ordo")]
    pub nats_subject_prefix: String,
    /// How long a claimed background job is this node's before another may take it over: the
    /// most a node that died mid-job delays it.
    #[arg(long, env = "ORDO_JOB_LEASE", default_value = "60s", value_parser = parse_duration)]
    pub job_lease: std::time::Duration,
    #[command(flatten)]
    pub notify: NotifyArgs,
    #[command(flatten)]
    pub pay: PayArgs,
    /// Let webhook endpoints target loopback, private and link-local addresses (refused
    /// otherwise, against server-side request forgery). For tests and closed networks.
    #[arg(long, env = "ORDO_ALLOW_PRIVATE_WEBHOOK_TARGETS")]
    pub allow_private_webhook_targets: bool,
    /// Do not run the event relay on this node (see docs/events.md): events wait in the
    /// outbox until a node with a relay numbers them. For nodes that only serve requests, and
    /// to measure what the relay costs.
    #[arg(long, env = "ORDO_NO_RELAY")]
    pub no_relay: bool,
    /// API requests worked on at once; more wait for a turn.
    #[arg(long, env = "ORDO_MAX_IN_FLIGHT", default_value_t = 512)]
    pub max_in_flight: usize,
    /// Requests that may wait for a turn; more are shed at once (503 overloaded, Retry-After).
    #[arg(long, env = "ORDO_MAX_WAITING", default_value_t = 20_000)]
    pub max_waiting: usize,
    /// The most a request may take, waiting included (then 503).
    #[arg(long, env = "ORDO_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: std::time::Duration,
}

fn parse_role(raw: &str) -> Result<ordo_domain::identity::Role, String> {
    ordo_domain::identity::Role::of_user(raw.trim()).map_err(|e| e.message)
}

/// A duration as people write it: a whole number and a unit (`ms`, `s`, `m`, `h`).
pub fn parse_duration(raw: &str) -> Result<std::time::Duration, String> {
    let split = raw
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("'{raw}' needs a unit: ms, s, m, h or d"))?;
    let (n, unit) = raw.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{raw}' does not start with a whole number"))?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1_000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        _ => return Err(format!("'{unit}' is not a unit: use ms, s, m, h or d")),
    };
    if ms == 0 {
        return Err("a duration must be above zero".into());
    }
    Ok(std::time::Duration::from_millis(ms))
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user; the password is read from standard input.
    Create(CreateUserArgs),
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(long)]
    pub email: String,
    /// customer, vendor, support, admin or carrier.
    #[arg(long)]
    pub role: String,
    /// The vendor a vendor user belongs to.
    #[arg(long)]
    pub vendor_id: Option<uuid::Uuid>,
    /// Read the password from standard input (its first line), so it stays out of shell history.
    #[arg(long, required = true)]
    pub password_stdin: bool,
}
