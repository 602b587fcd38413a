//! Payments (issue 11, in progress): the provider port and its adapters.
//!
//! A provider holds the customer's money; Ordo never sees a card, only the provider's
//! references. Every call Ordo makes carries an idempotency key (the ledger row that asked for
//! it), so a call retried after a timeout is the same call, never a second charge; a call whose
//! outcome is unknown (it timed out after sending) is settled by fetching the payment again,
//! never by sending anew. Providers answer with the payment as they now hold it
//! ([`ProviderPayment`]); Ordo folds that into its own ledger (see
//! `ordo_domain::payment`), where its own caps hold whatever a provider lets through.
//!
//! Adapters: [`sandbox`] (built in, offline, documented test cards). Stripe comes next.

pub mod sandbox;

use async_trait::async_trait;
use ordo_domain::money::Currency;
pub use ordo_domain::payment::CapturePolicy;
use ordo_domain::payment::PaymentState;

/// A payment to create at the provider.
#[derive(Debug, Clone)]
pub struct NewPayment {
    /// Minor units.
    pub amount: i64,
    pub currency: Currency,
    /// A provider's reference for how to pay (`pm_card_visa`, a sandbox test card); `None`:
    /// the client confirms with the answer's `client_secret`.
    pub method: Option<String>,
    pub capture: CapturePolicy,
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
    /// Creates the payment and, with a method, confirms it at once.
    async fn create(&self, payment: NewPayment) -> Result<ProviderPayment, ProviderError>;
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
