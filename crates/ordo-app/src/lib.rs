//! What users can do: every use case, over the store.
//!
//! Each use case authorizes its actor (role and ownership), opens one transaction, does its
//! steps through [`ordo_store::StoreTx`], writes the event and outbox row that describe the
//! change, and commits — so a change and its record are durable together or not at all. This
//! crate knows nothing of HTTP or SQL; its errors say what went wrong in domain terms and the
//! HTTP layer chooses the status code.

use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use ordo_domain::ParseError;
use ordo_domain::order::{Action, OrderStatus};
use ordo_store::{Store, StoreError, StoreTx};

pub mod access;
pub mod auth;
pub mod carts;
pub mod catalog;
pub mod checkout;
pub mod clock;
pub mod demo;
pub mod exceptions;
pub mod guests;
pub mod idempotency;
pub mod inventory;
pub mod jobs;
pub mod notifications;
pub mod orders;
pub mod outbox;
pub mod paging;
pub mod payments;
pub mod pricing;
pub mod relay;
pub mod reservations;
pub mod stream;
pub mod tokens;
pub mod totp;
pub mod users;
pub mod webhooks;

use clock::{Clock, SystemClock};

/// The application: the store plus settings the use cases need. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    clock: Arc<dyn Clock>,
    /// Live sessions by token hash, with their expiry (see [`auth`]).
    sessions: Arc<auth::SessionCache>,
    /// SKUs just found with nothing available (see [`orders`]): refused at once for a moment.
    sold_out: moka::sync::Cache<String, ()>,
    /// The pricing rules, read as one book (see [`pricing`]).
    pricing: moka::sync::Cache<(), Arc<ordo_domain::pricing::PricingBook>>,
    /// This node's relay: its wake-up and the broadcast its live streams follow.
    relay: Arc<relay::Relay>,
    /// The JetStream connection, once made (see [`stream`]).
    stream: Arc<tokio::sync::OnceCell<async_nats::jetstream::Context>>,
    /// The HTTP client webhook deliveries go out with, once built (see [`webhooks`]).
    webhook_client: Arc<std::sync::OnceLock<Arc<reqwest::Client>>>,
    /// Templates, the SMTP transport and the notifier's client, once built (see
    /// [`notifications`]).
    senders: Arc<notifications::Senders>,
    /// The payment provider (see [`payments`]); `None` when payments are off.
    provider: Option<Arc<dyn payments::PaymentProvider>>,
    /// The same provider when it is the sandbox (its test "bank page" is served).
    sandbox: Option<Arc<payments::sandbox::Sandbox>>,
    /// What an order's actions do to its money (the payments', given to the orders module).
    money: Arc<dyn orders::MoneyOfOrders>,
    /// Every kind of background job, registered by the module that owns it (see [`jobs`]).
    jobs: Arc<jobs::Registry>,
}

/// Knobs for the use cases, with defaults that suit a shop.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a login token lives.
    pub session_ttl: chrono::Duration,
    /// How long a checked token is trusted without asking the database again: the most a
    /// logout on one node can take to reach the others.
    pub session_cache_ttl: std::time::Duration,
    /// How long a SKU found with nothing available is refused without asking the database.
    /// A restock or cancellation on this node ends it at once; on another node it may be
    /// refused for this long after stock came back. Zero turns the hint off.
    pub sold_out_ttl: std::time::Duration,
    /// How long an unpaid order holds its stock before it is cancelled (`payment_timeout`).
    pub reservation_ttl: chrono::Duration,
    /// How long the pricing rules are used from memory: the most an admin's change on one
    /// node can take to reach checkouts on the others.
    pub pricing_ttl: std::time::Duration,
    /// How often `ordo serve` looks for expired reservations.
    pub expiry_sweep: std::time::Duration,
    /// How long an Idempotency-Key is remembered.
    pub idempotency_ttl: chrono::Duration,
    /// How often each node looks for due background jobs; `None` runs none in the background
    /// (tests then run them with [`App::run_due_jobs`]).
    pub job_poll: Option<std::time::Duration>,
    /// How long a claimed job is its worker's before another node may take it over (a node
    /// that died mid-job leaves it for this long).
    pub job_lease: chrono::Duration,
    /// How long a login or step-up counts as a fresh proof of identity for sensitive actions.
    pub step_up_window: chrono::Duration,
    /// Roles whose users must enrol a TOTP second factor before doing anything else.
    pub require_totp_for: Vec<ordo_domain::identity::Role>,
    /// API requests in the use cases at once (the HTTP front's admission control).
    pub max_in_flight: usize,
    /// Requests that may wait for a turn; more are shed at once with 503.
    pub max_waiting: usize,
    /// The most a request may take, waiting included.
    pub request_timeout: std::time::Duration,
    /// How long relayed events are kept (the event feed's reach back; a cursor older than
    /// this is refused as expired).
    pub event_retention: chrono::Duration,
    /// Whether `ordo serve` runs this node's relay (see [`relay`]). Off only where a test
    /// needs the writer to itself; events then wait in the outbox until a relay runs.
    pub relay: bool,
    /// Publish every event to NATS JetStream (see [`stream`]); `None`: no event stream.
    pub nats: Option<stream::NatsSettings>,
    /// Let webhook endpoints target loopback, private and link-local addresses (for tests and
    /// closed networks; see [`webhooks`]).
    pub allow_private_webhook_targets: bool,
    /// Where e-mail, SMS and push notifications go (see [`notifications`]).
    pub notifications: notifications::NotificationSettings,
    /// How payments are taken (see [`payments`]).
    pub payments: payments::PaymentSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_ttl: chrono::Duration::days(7),
            session_cache_ttl: std::time::Duration::from_secs(30),
            sold_out_ttl: std::time::Duration::from_millis(500),
            reservation_ttl: chrono::Duration::minutes(15),
            pricing_ttl: std::time::Duration::from_secs(1),
            expiry_sweep: std::time::Duration::from_secs(5),
            idempotency_ttl: chrono::Duration::hours(24),
            job_poll: Some(std::time::Duration::from_secs(1)),
            job_lease: chrono::Duration::minutes(1),
            step_up_window: chrono::Duration::minutes(5),
            require_totp_for: Vec::new(),
            max_in_flight: 512,
            // The 20,000-request bursts of the benchmarks fit; past that, shed.
            max_waiting: 20_000,
            request_timeout: std::time::Duration::from_secs(30),
            event_retention: chrono::Duration::days(30),
            relay: true,
            nats: None,
            allow_private_webhook_targets: false,
            notifications: notifications::NotificationSettings::default(),
            payments: payments::PaymentSettings::default(),
        }
    }
}

/// Every module's background jobs, in one registry (see [`jobs`]).
fn job_registry() -> jobs::Registry {
    jobs::Registry::new(&[
        jobs::JOBS,
        reservations::JOBS,
        idempotency::JOBS,
        auth::JOBS,
        relay::JOBS,
        stream::JOBS,
        webhooks::JOBS,
        notifications::JOBS,
        payments::JOBS,
    ])
}

impl App {
    pub fn new(store: Arc<dyn Store>, settings: Settings) -> Self {
        Self::with_clock(store, settings, Arc::new(SystemClock))
    }

    /// The application reading the time from `clock` (tests move a [`clock::ManualClock`]).
    pub fn with_clock(store: Arc<dyn Store>, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        let (provider, sandbox) = payments::provider_for(&settings.payments);
        Self {
            provider,
            sandbox,
            money: Arc::new(payments::Effects),
            jobs: Arc::new(job_registry()),
            store,
            clock,
            sessions: auth::SessionCache::new(settings.session_cache_ttl),
            sold_out: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(settings.sold_out_ttl)
                .build(),
            pricing: moka::sync::Cache::builder()
                .max_capacity(1)
                .time_to_live(settings.pricing_ttl)
                .build(),
            relay: Arc::default(),
            stream: Arc::default(),
            webhook_client: Arc::default(),
            senders: Arc::default(),
            settings: Arc::new(settings),
        }
    }

    /// The time, from the app's [`Clock`]. Truncated to microseconds, the precision both
    /// databases keep, so an order read back equals the one written and the snapshot in its
    /// first event.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// Runs `work` as one transaction (see [`ordo_store::write`]): `Ok` once durable, `Err`
    /// with nothing changed. A write that creates or moves something uses
    /// [`App::write_once`] instead, which honours the request's Idempotency-Key.
    pub(crate) async fn write<T, F>(&self, work: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: TxWork<T>,
    {
        let done = ordo_store::write(&*self.store, work).await;
        if done.is_ok() {
            // It may have left outbox messages: the relay numbers and sends them.
            self.wake_relay();
        }
        done
    }
}

/// One unit of write work returning `T` (see [`App::write`]).
pub(crate) trait TxWork<T>:
    for<'a> FnOnce(&'a mut dyn StoreTx) -> Pin<Box<dyn Future<Output = AppResult<T>> + Send + 'a>>
    + Send
    + 'static
{
}

impl<T, F> TxWork<T> for F where
    F: for<'a> FnOnce(
            &'a mut dyn StoreTx,
        ) -> Pin<Box<dyn Future<Output = AppResult<T>> + Send + 'a>>
        + Send
        + 'static
{
}

/// Why a use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input does not parse or breaks a rule (400).
    #[error("{0}")]
    Invalid(#[from] ParseError),
    /// No valid login (401).
    #[error("authentication required")]
    Unauthenticated,
    /// Login refused: wrong e-mail or password, deliberately not saying which (401).
    #[error("invalid e-mail or password")]
    BadCredentials,
    /// The actor's role may never do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// A sensitive action without a fresh proof of identity (401 `step_up_required`).
    #[error(
        "{} needs a fresh proof of who you are: step up (POST /api/v1/auth/step-up with your password, or a TOTP code once you have one); it then lasts {} minutes",
        action.description(),
        window.num_minutes()
    )]
    StepUpRequired {
        action: ordo_domain::identity::Sensitive,
        window: chrono::Duration,
    },
    /// A step-up whose proof was wrong (401 `step_up_failed`).
    #[error("that does not prove who you are")]
    StepUpFailed,
    /// Too many attempts (429, with how long to wait when it is known).
    #[error("{message}")]
    Locked {
        code: &'static str,
        message: String,
        retry_after: Option<u64>,
    },
    /// What was asked for existed once and is no longer kept (410): an expired feed cursor.
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    /// No such thing, or not the actor's to see (404): the two are indistinguishable on purpose.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The action is not possible from the order's current state (409).
    #[error("cannot {action} an order that is {status}")]
    InvalidTransition {
        action: Action,
        status: OrderStatus,
        allowed: Vec<Action>,
    },
    /// Not enough stock for a line (409).
    #[error("not enough stock for {sku}: {requested} requested, {available} available")]
    InsufficientStock {
        sku: String,
        requested: u32,
        available: i64,
        field: String,
    },
    /// A payment found stock taken at payment gone; the order was cancelled instead (409).
    #[error(
        "not enough stock for {sku} at payment ({requested} wanted, {available} available): order {order_id} was cancelled"
    )]
    CancelledAtPayment {
        order_id: ordo_domain::ids::OrderId,
        sku: String,
        requested: u32,
        available: i64,
    },
    /// Well-formed, but the platform cannot serve it (422): no shipping to the destination, a
    /// promotion code that does not apply.
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    /// Clashes with existing data (409): a taken e-mail, a reused idempotency key…
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    /// Two transactions collided and retrying did not help (503); safe to retry later.
    #[error("the request collided with another; retry")]
    Contention,
    /// The database is down or overloaded (503); nothing changed, safe to retry.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// The write was sent to the disk but whether it is durable is unknown (503). Retrying
    /// with the same Idempotency-Key replays it if it was saved and does it once if not.
    #[error(
        "the outcome of this request is unknown: it may or may not have been saved; retry it with the same Idempotency-Key to find out"
    )]
    OutcomeUnknown(#[source] anyhow::Error),
    /// A bug or broken infrastructure (500). Logged, never shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(e) => AppError::Unavailable(e),
            StoreError::OutcomeUnknown(e) => AppError::OutcomeUnknown(e),
            StoreError::Contention => AppError::Contention,
            StoreError::Conflict(name) => {
                AppError::Internal(anyhow::anyhow!("unexpected conflict on {name}"))
            }
            StoreError::Other(e) => AppError::Internal(e),
        }
    }
}

impl AppError {
    pub fn unprocessable(
        code: &'static str,
        message: impl Into<String>,
        field: Option<&str>,
    ) -> Self {
        AppError::Unprocessable {
            code,
            message: message.into(),
            field: field.map(str::to_owned),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>, field: Option<&str>) -> Self {
        AppError::Conflict {
            code,
            message: message.into(),
            field: field.map(str::to_owned),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Runs `attempt` again when the database reports a collision between transactions (a
/// PostgreSQL serialization failure or deadlock, SQLite busy). Each attempt is a whole
/// transaction, so a retry never doubles a change.
pub(crate) async fn with_retry<T, F, Fut>(mut attempt: F) -> AppResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = AppResult<T>>,
{
    const ATTEMPTS: u32 = 3;
    let mut n = 0;
    loop {
        n += 1;
        match attempt().await {
            Err(AppError::Contention) if n < ATTEMPTS => {
                tracing::debug!(attempt = n, "transaction collided; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(n))).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod registry_tests {
    use super::*;

    #[test]
    fn every_job_kind_has_exactly_one_handler() {
        // `Registry::new` refuses a kind registered twice; here every kind must have one.
        let registry = job_registry();
        for kind in jobs::JobKind::ALL {
            assert!(registry.get(*kind).is_some(), "no handler for {kind}");
        }
    }
}
