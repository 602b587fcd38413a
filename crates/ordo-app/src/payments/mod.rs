//! Payments: the provider port and its adapters, and the use cases that keep Ordo's ledger.
//!
//! A provider holds the customer's money; Ordo never sees a card, only the provider's
//! references. Every call Ordo makes carries an idempotency key (the ledger row that asked for
//! it, or the payment's own id for its creation), so a call retried after a timeout is the same
//! call, never a second charge; a call whose outcome is unknown (it timed out after sending) is
//! settled by fetching the payment again, never by sending anew. Providers answer with the
//! payment as they now hold it ([`ProviderPayment`]); Ordo folds that into its own ledger (see
//! `ordo_domain::payment`), where its own caps hold whatever a provider lets through.
//!
//! The flow: a checkout creates its payment row (one per checkout, a share per vendor order)
//! in its own transaction, with a `payment.sync` job as a safety net; after the commit Ordo
//! creates the payment at the provider and, given a method, confirms it ([`settle`]). What the
//! provider answers is applied under the payment's row lock; once the money is authorized each
//! order moves to `paid` through the order table. Captures, voids and refunds are requests
//! ([`requests`]): checked against the ledger under the lock, written as `*_requested` rows
//! with a `payment.request` job, sent, and ended by their outcome row — retried when the
//! provider fails for a passing reason. A cancelled order's money goes back through them
//! ([`refunds`], in the cancellation's own transaction); [`reconcile`] finds cancelled orders
//! that still hold money (from before that) and gives it back.
//!
//! Adapters: [`sandbox`] (built in, offline, documented test cards) and [`stripe`]
//! (PaymentIntents over Stripe's HTTP API). Their webhooks come in through one intake
//! ([`webhook`], `App::receive_payment_webhook`).

pub mod balances;
pub mod reconcile;
pub mod refunds;
pub mod requests;
pub mod resolutions;
pub mod sandbox;
pub mod settle;
pub mod stripe;
pub mod webhook;

use std::sync::Arc;

use async_trait::async_trait;
use ordo_domain::identity::{Actor, Role};
use ordo_domain::ids::OrderId;
use ordo_domain::money::Currency;
pub use ordo_domain::payment::CapturePolicy;
use ordo_domain::payment::{Amounts, PaymentState, PaymentStatus, payment_status};
use ordo_store::{Payment, PaymentAllocation, PaymentEntry};

use crate::jobs::{Handler, JobFuture, JobKind, again, uuid_key};
use crate::{App, AppError, AppResult};

/// The payments' part of an order's actions (see [`crate::orders::MoneyOfOrders`]): a payment by
/// hand recorded in the ledger, a cancelled order's money given back.
pub struct Effects;

#[async_trait]
impl crate::orders::MoneyOfOrders for Effects {
    async fn paid_by_hand(
        &self,
        tx: &mut dyn ordo_store::StoreTx,
        order: &ordo_domain::order::Order,
        actor: Actor,
        reference: Option<String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<()> {
        requests::record_manual_payment(tx, order, actor, reference, now).await
    }

    async fn cancelled(
        &self,
        tx: &mut dyn ordo_store::StoreTx,
        order: &mut ordo_domain::order::Order,
        actor: Actor,
        reason: Option<String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<Vec<ordo_domain::order::OrderEvent>> {
        Ok(refunds::give_back(tx, order, actor, reason, now).await?.1)
    }
}

/// Which provider takes payments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProviderChoice {
    /// None: orders are paid by hand (`pay`, admins) only.
    Off,
    /// The built-in sandbox (the default: it needs no network and no account).
    #[default]
    Sandbox,
    /// Stripe's API (or a server that speaks it, such as localstripe in tests).
    Stripe(stripe::StripeSettings),
}

/// How Ordo takes payments.
#[derive(Debug, Clone)]
pub struct PaymentSettings {
    pub provider: ProviderChoice,
    /// Capture at authorization (default) or later, by hand or at shipment.
    pub capture: CapturePolicy,
    /// When Ordo first asks the provider about a payment it has not heard the end of (the
    /// reconciler; webhooks usually come first).
    pub sync_after: chrono::Duration,
    /// The first wait before a capture, void or refund that failed for a passing reason is
    /// tried again (seed 003: five minutes); each later wait doubles.
    pub retry_after: chrono::Duration,
    /// Tries of such a request before it is given up and handed to people.
    pub attempts: i32,
    /// How long an uncaptured authorization holds at the provider (about 7 days at card
    /// networks): it must be captured, or it is flagged, before it lapses.
    pub authorization_ttl: chrono::Duration,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        Self {
            provider: ProviderChoice::default(),
            capture: CapturePolicy::Automatic,
            sync_after: chrono::Duration::minutes(1),
            retry_after: chrono::Duration::minutes(5),
            attempts: 5,
            authorization_ttl: chrono::Duration::days(7),
        }
    }
}

/// The provider `settings` name, and the sandbox when it is that one (its "bank page" is
/// reachable through the API).
pub(crate) fn provider_for(
    settings: &PaymentSettings,
) -> (
    Option<Arc<dyn PaymentProvider>>,
    Option<Arc<sandbox::Sandbox>>,
) {
    match &settings.provider {
        ProviderChoice::Off => (None, None),
        ProviderChoice::Sandbox => {
            let sandbox = Arc::new(sandbox::Sandbox::default());
            (Some(Arc::clone(&sandbox) as _), Some(sandbox))
        }
        ProviderChoice::Stripe(s) => (Some(Arc::new(stripe::Stripe::new(s.clone()))), None),
    }
}

/// A payment with everything a reader needs: its shares, its ledger, and the status of the
/// orders it pays.
#[derive(Debug, Clone)]
pub struct PaymentDetail {
    pub payment: Payment,
    /// The payment's status as a whole (against all it is due).
    pub status: PaymentStatus,
    pub allocations: Vec<PaymentAllocation>,
    /// Each order's own amounts and status (its share of the money).
    pub orders: Vec<(OrderId, Amounts, PaymentStatus)>,
    pub entries: Vec<PaymentEntry>,
}

impl PaymentDetail {
    pub(crate) fn new(
        payment: Payment,
        allocations: Vec<PaymentAllocation>,
        entries: Vec<PaymentEntry>,
    ) -> Self {
        let status = payment_status(&payment.amounts(), payment.state(), payment.amount);
        let orders = allocations
            .iter()
            .map(|a| {
                let mine = order_amounts(&entries, a.order_id);
                (
                    a.order_id,
                    mine,
                    payment_status(&mine, payment.state(), a.amount),
                )
            })
            .collect();
        Self {
            payment,
            status,
            allocations,
            orders,
            entries,
        }
    }

    /// One order's amounts and status.
    pub fn order(&self, id: OrderId) -> Option<(Amounts, PaymentStatus)> {
        self.orders
            .iter()
            .find(|(o, ..)| *o == id)
            .map(|(_, a, s)| (*a, *s))
    }
}

/// One order's share of a payment's money: the fold of the ledger rows that name it.
pub(crate) fn order_amounts(entries: &[PaymentEntry], order: OrderId) -> Amounts {
    let mine: Vec<_> = entries
        .iter()
        .filter(|e| e.order_id == Some(order))
        .map(PaymentEntry::entry)
        .collect();
    Amounts::fold(&mine)
}

/// What of an order's money was paid outside any provider (`manual_payment`) and not yet
/// given back by hand (a refund recorded without a request): no provider can send it back.
pub(crate) fn held_by_hand(entries: &[PaymentEntry], order: OrderId) -> i64 {
    use ordo_domain::payment::EntryKind;
    entries
        .iter()
        .filter(|e| e.order_id == Some(order))
        .map(|e| match e.kind {
            EntryKind::ManualPayment => e.amount,
            EntryKind::RefundSucceeded if e.request_id.is_none() => -e.amount,
            _ => 0,
        })
        .sum::<i64>()
        .max(0)
}

impl App {
    /// The payment provider this node uses, if any.
    pub fn payment_provider(&self) -> Option<&Arc<dyn PaymentProvider>> {
        self.provider.as_ref()
    }

    /// The payment of an order (with its ledger) as `actor` may see it; `None` when the order
    /// has none (placed before payments, or a shop without a provider, until it is paid by
    /// hand).
    pub async fn order_payment(
        &self,
        actor: &Actor,
        order: OrderId,
    ) -> AppResult<Option<PaymentDetail>> {
        self.order(actor, order).await?;
        let Some(payment) = self.store.order_payment(order).await? else {
            return Ok(None);
        };
        self.payment_detail(payment).await.map(Some)
    }

    pub(crate) async fn payment_detail(&self, payment: Payment) -> AppResult<PaymentDetail> {
        let (allocations, entries) = tokio::try_join!(
            self.store.payment_allocations(payment.id),
            self.store.payment_entries(payment.id)
        )?;
        Ok(PaymentDetail::new(payment, allocations, entries))
    }

    /// The sandbox provider, when this node uses it (its test "bank page").
    pub fn sandbox(&self) -> AppResult<&Arc<sandbox::Sandbox>> {
        self.sandbox.as_ref().ok_or(AppError::NotFound("sandbox"))
    }
}

/// Who may move an order's money: its vendor's staff (capture, void) and admins; support and
/// admins refund.
pub(crate) fn may_move_money(actor: &Actor, refund: bool) -> AppResult<()> {
    let ok = match actor.role {
        Role::Admin | Role::System => true,
        Role::Vendor => !refund,
        Role::Support => refund,
        Role::Customer | Role::Carrier => false,
    };
    if ok {
        Ok(())
    } else if refund {
        Err(AppError::Forbidden(
            "refunds are made by support and admins".into(),
        ))
    } else {
        Err(AppError::Forbidden(
            "captures and voids are made by the order's vendor and admins".into(),
        ))
    }
}

/// A payment to create at the provider.
#[derive(Debug, Clone)]
pub struct NewPayment {
    /// Minor units.
    pub amount: i64,
    pub currency: Currency,
    pub capture: CapturePolicy,
    /// Ordo's id of the payment, kept at the provider (metadata) so its webhooks can be traced.
    pub ordo_id: String,
    pub idempotency_key: String,
}

/// A payment as the provider holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPayment {
    pub reference: String,
    pub state: PaymentState,
    pub amount: i64,
    /// Authorized and not captured or released.
    pub capturable: i64,
    pub captured: i64,
    /// What the client needs to confirm (or complete a step) itself.
    pub client_secret: Option<String>,
    /// Why the last attempt was declined, for the customer (`card_declined`…).
    pub decline: Option<String>,
}

/// A refund as the provider holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    pub reference: String,
    pub amount: i64,
    pub succeeded: bool,
}

/// How a provider call went wrong; each kind is handled its own way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The payment method was refused: not retried blindly; the customer may try another.
    #[error("declined: {code}")]
    Declined { code: String },
    /// Worth trying again later with the same idempotency key (timeout before sending, 5xx,
    /// rate limit, connection reset).
    #[error("temporarily unavailable: {0}")]
    Transient(String),
    /// Sent, but no answer: fetch the payment to learn what happened.
    #[error("outcome unknown: {0}")]
    Unknown(String),
    /// The request itself is wrong (a bug, or the payment is not in a state for it).
    #[error("refused: {0}")]
    Invalid(String),
    #[error("no such payment at the provider: {0}")]
    NotFound(String),
}

/// What Ordo asks of a payment provider.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// `sandbox`, `stripe`.
    fn name(&self) -> &'static str;
    /// Whether the provider answers in this process, without a network (the sandbox): a
    /// checkout then creates its payment there inside its own transaction, saving one. A
    /// provider over the network is only called after the commit, so it never holds a write.
    fn in_process(&self) -> bool {
        false
    }
    /// Checks a payment method's form before anything is placed (`Err`: why, for the client).
    fn check_method(&self, method: &str) -> Result<(), String>;
    /// Checks a webhook's signature over its raw body and reads the event (`Err`: why).
    fn verify_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<webhook::WebhookEvent, String>;
    /// Creates the payment, waiting for a method (the answer's `client_secret` lets a client
    /// confirm it itself).
    async fn create(&self, payment: NewPayment) -> Result<ProviderPayment, ProviderError>;
    /// Confirms a created payment with a method (`pm_card_visa`, a sandbox test card). A
    /// decline leaves it waiting for another method.
    async fn confirm(
        &self,
        reference: &str,
        method: &str,
        idempotency_key: &str,
    ) -> Result<ProviderPayment, ProviderError>;
    /// Takes `amount` of what is authorized (a payment is captured once; the rest is released).
    async fn capture(
        &self,
        reference: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> Result<ProviderPayment, ProviderError>;
    /// Releases an uncaptured authorization.
    async fn cancel(
        &self,
        reference: &str,
        idempotency_key: &str,
    ) -> Result<ProviderPayment, ProviderError>;
    async fn refund(
        &self,
        reference: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> Result<ProviderRefund, ProviderError>;
    /// The payment as the provider holds it now (the truth after a webhook or a timeout).
    async fn fetch(&self, reference: &str) -> Result<ProviderPayment, ProviderError>;
}

/// Payments' jobs: the reconciler of one payment, one request to the provider, and, where
/// payments are taken, the hourly scan of lapsing authorizations and the daily check of
/// cancelled orders still holding money.
pub(crate) const JOBS: &[Handler] = &[
    Handler::once(JobKind::SyncPayment, sync),
    Handler::once(JobKind::PaymentRequest, request),
    Handler::recurring(JobKind::ScanPayments, takes_payments, scan),
    Handler::recurring(JobKind::ReconcileCancelled, takes_payments, reconcile),
];

fn takes_payments(app: &App) -> bool {
    app.provider.is_some()
}

fn sync<'a>(app: &'a App, job: &'a ordo_store::Job) -> JobFuture<'a> {
    Box::pin(async move { app.sync_payment(uuid_key(job)?).await })
}

fn request<'a>(app: &'a App, job: &'a ordo_store::Job) -> JobFuture<'a> {
    Box::pin(async move { app.run_request(uuid_key(job)?, Some(job.attempts)).await })
}

fn scan<'a>(app: &'a App, _: &'a ordo_store::Job) -> JobFuture<'a> {
    Box::pin(async move {
        app.scan_authorizations().await?;
        again(app, std::time::Duration::from_secs(3_600))
    })
}

/// Lists (and flags) only: giving back is for people, or the CLI's `--apply`.
fn reconcile<'a>(app: &'a App, _: &'a ordo_store::Job) -> JobFuture<'a> {
    Box::pin(async move {
        app.reconcile_cancelled(Actor::system(), false, "").await?;
        again(app, std::time::Duration::from_secs(86_400))
    })
}
