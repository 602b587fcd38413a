//! The storage port: what Ordo needs from a database, and nothing about how.
//!
//! [`Store`] serves reads and runs units of write work; [`StoreTx`] is one transaction, through
//! which every change is written. A use case hands its whole transaction to [`write`] as one
//! closure (the steps, then `Ok` to commit or `Err` to undo), so the backend decides how it runs:
//! PostgreSQL runs it on a pooled connection; SQLite runs it on its one writer thread, where many
//! units share one commit and one fsync (group commit) and each caller is answered only once its
//! unit is durable. Work must await nothing but its [`StoreTx`]: SQLite polls it without an async
//! runtime. Two backends implement the port — `ordo-store-sqlite` (the embedded default) and
//! `ordo-store-postgres` (scale-out) — and both must pass the [`conformance`] suite. This crate
//! never touches SQL itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::cart::Cart;
use ordo_domain::catalog::{Location, LocationCode, Product, Sku, VariantForSale, Vendor};
use ordo_domain::identity::{Actor, EmailAddress, User};
use ordo_domain::ids::{
    AdjustmentId, CartId, CheckoutId, LocationId, OrderId, ProductId, PromotionId, RuleId, UserId,
    VendorId,
};
use ordo_domain::inventory::{AdjustmentReason, Allocation, StockLevel};
use ordo_domain::money::{Currency, Money};
use ordo_domain::order::{Order, OrderEvent, OrderStatus};
use ordo_domain::pricing::{PricingBook, Promotion};

pub mod conformance;
pub mod constraints;
pub mod testing;

pub type StoreResult<T> = Result<T, StoreError>;

/// A storage failure, fine-grained enough for the caller to tell a conflict from a crash.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A named constraint refused the write (see [`constraints`]); the caller maps it to a
    /// client error.
    #[error("constraint {0} refused the write")]
    Conflict(&'static str),
    /// Two transactions collided (deadlock, serialization failure, busy database); retrying the
    /// whole transaction is safe.
    #[error("transaction collided with another; retry")]
    Contention,
    /// The database could not be reached or timed out, or the write was refused before it
    /// ran: nothing changed, and retrying is safe.
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// The commit was sent but its result is unknown (a failed fsync, a connection lost during
    /// COMMIT, a writer that died holding the write): the change may or may not be durable.
    /// Only a retry with the same idempotency key can tell, after the store recovers.
    #[error("the outcome of the write is unknown")]
    OutcomeUnknown(#[source] anyhow::Error),
    /// Anything else: a bug or a broken database. Logged, never shown to clients.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A user with their password hash, only ever used to check a login.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// A login session. Only the SHA-256 of the bearer token is stored, so a copy of the database
/// does not hand out working tokens.
#[derive(Debug, Clone)]
pub struct Session {
    pub token_hash: Vec<u8>,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Until when the session counts as freshly authenticated (step-up); `None`: not fresh.
    pub fresh_until: Option<DateTime<Utc>>,
}

/// A live session as a request sees it.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub user: User,
    /// Whether the user has a confirmed TOTP second factor.
    pub totp: bool,
    pub expires_at: DateTime<Utc>,
    pub fresh_until: Option<DateTime<Utc>>,
    /// Failed step-ups in this session so far.
    pub step_up_failures: i32,
}

/// What a user proves who they are with, and how their step-ups went: only ever read to
/// check a step-up.
#[derive(Debug, Clone)]
pub struct AuthFactors {
    pub password_hash: String,
    /// Disabled users cannot log in (and their sessions stop working).
    pub disabled: bool,
    /// The TOTP secret (base32), once enrolment started.
    pub totp_secret: Option<String>,
    /// Set once the user proved they hold the secret: from then on TOTP is their second factor.
    pub totp_confirmed: bool,
    pub totp_last_step: Option<i64>,
    /// Failed step-ups across all the user's sessions since the last success or lockout.
    pub step_up_failures: i32,
    pub step_up_locked_until: Option<DateTime<Utc>>,
}

/// A change to who may do what, made on one node, that every other node must learn of at once
/// (their session caches would otherwise trust it for a while).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthChange {
    /// One session revoked or stepped up (its token hash).
    Session(Vec<u8>),
    /// A user's role, vendor or status changed: every session of theirs.
    User(UserId),
    /// Notifications may have been missed (the listener reconnected): forget everything.
    All,
}

/// Whose orders a listing may contain: the ownership rule turned into a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderScope {
    All,
    Customer(UserId),
    Vendor(VendorId),
    Carrier(UserId),
}

/// One page of orders, newest first.
#[derive(Debug, Clone)]
pub struct OrderQuery {
    pub scope: OrderScope,
    pub status: Option<OrderStatus>,
    /// Only orders whose share of their payment has this status.
    pub payment_status: Option<ordo_domain::payment::PaymentStatus>,
    /// Return only orders older than this one (ids are time-ordered).
    pub starting_after: Option<OrderId>,
    /// Rows to fetch; callers ask for one more than a page to learn `has_more`.
    pub limit: u32,
}

/// Stock of one SKU at one location, with the location's code for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationStock {
    pub level: StockLevel,
    pub code: LocationCode,
}

/// All stock of one SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuStock {
    pub sku: Sku,
    pub vendor_id: VendorId,
    /// In allocation order (location priority, then code).
    pub locations: Vec<LocationStock>,
}

/// A message for consumers outside the transaction (webhooks, live updates, the event stream),
/// written in the same transaction as the change it describes.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    /// e.g. `order.paid`, `stock.updated`
    pub topic: String,
    /// The aggregate it concerns (an order id, a SKU): consumers keep per-key order.
    pub key: String,
    /// JSON text, serialized once by the writer of the change and stored as it is (no
    /// intermediate `Value` tree on the write path).
    pub payload: Box<serde_json::value::RawValue>,
    pub created_at: DateTime<Utc>,
    /// Who may see it (the event feed and live streams filter by it).
    pub audience: Audience,
}

/// Whose an event is: an order's customer, vendor and carrier; a SKU's vendor. Support and
/// admins see every event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Audience {
    pub customer: Option<UserId>,
    pub vendor: Option<VendorId>,
    pub carrier: Option<UserId>,
}

impl Audience {
    /// Whether a reader of `scope` may see it.
    pub fn admits(&self, scope: OrderScope) -> bool {
        match scope {
            OrderScope::All => true,
            OrderScope::Customer(id) => self.customer == Some(id),
            OrderScope::Vendor(id) => self.vendor == Some(id),
            OrderScope::Carrier(id) => self.carrier == Some(id),
        }
    }
}

/// An outbox message the relay has put in delivery order: `position` is gap-free and
/// increasing in the order the sequencer saw the changes commit, so a reader that has seen
/// every position up to N has missed nothing before N.
#[derive(Debug, Clone)]
pub struct RelayedEvent {
    pub position: i64,
    pub message: OutboxMessage,
}

/// What an idempotency key was first used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// SHA-256 of the canonical request (method, path and body), to refuse a key reused for a
    /// different request.
    pub request_hash: Vec<u8>,
    /// What the first request returned, as JSON text (set in the same transaction as its
    /// change, so a committed claim always has it).
    pub response: Option<String>,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for its `run_at`.
    Queued,
    /// Claimed by a worker until its lease ends.
    Running,
    Done,
    /// Gave up after its last attempt; kept for people to look at and replay.
    Dead,
}

ordo_domain::names!(JobState, "invalid_job_state" {
    Queued => "queued",
    Running => "running",
    Done => "done",
    Dead => "dead",
});

/// Where an outbound webhook goes, for which events, signed with which secret.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WebhookEndpoint {
    pub id: uuid::Uuid,
    /// A vendor's endpoint sees that vendor's events only; `None`: the platform's (all).
    pub vendor_id: Option<VendorId>,
    pub url: String,
    /// Patterns: `order.paid`, `order.*`, `*`.
    pub events: Vec<String>,
    pub description: Option<String>,
    /// `whsec_` + base64 of the signing key.
    pub secret: String,
    /// After a rotation, the old secret also signs until `previous_until`.
    pub previous_secret: Option<String>,
    pub previous_until: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed; cleared by a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Dead,
}

ordo_domain::names!(DeliveryState, "invalid_delivery_state" {
    Pending => "pending",
    Delivered => "delivered",
    Dead => "dead",
});

/// One message for one endpoint, and how sending it went.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WebhookDelivery {
    pub id: uuid::Uuid,
    pub endpoint_id: uuid::Uuid,
    /// The `webhook-id` header: the same on every attempt and replay of the event.
    pub message_id: String,
    pub event_type: String,
    /// The aggregate (order, SKU): an endpoint gets one aggregate's messages in order.
    pub key: String,
    /// The event's relay position (`None` for test messages).
    pub position: Option<i64>,
    /// The JSON body, exactly as signed and sent.
    pub body: String,
    pub state: DeliveryState,
    pub attempts: i32,
    /// When the next attempt is due (while pending).
    pub next_at: DateTime<Utc>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// How a person wants to hear about their orders (and, for vendor staff, their vendor's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationPreferences {
    pub user_id: UserId,
    /// The language of their messages (`en`, `de`).
    pub locale: String,
    pub email: bool,
    pub sms: bool,
    pub push: bool,
    /// Where SMS go (E.164, `+4915112345678`).
    pub phone: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A way a notification reaches a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Push,
}

ordo_domain::names!(Channel, "invalid_channel" {
    Email => "email",
    Sms => "sms",
    Push => "push",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationState {
    /// Waiting to be sent (or to be tried again).
    Queued,
    Sent,
    /// Every attempt failed; a person may retry its job.
    Failed,
}

ordo_domain::names!(NotificationState, "invalid_notification_state" {
    Queued => "queued",
    Sent => "sent",
    Failed => "failed",
});

/// One message to one person on one channel about one event, and how sending it went.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: uuid::Uuid,
    /// The event's type (`order.shipped`, `stock.low`): which template.
    pub event_type: String,
    /// The event's relay position.
    pub position: i64,
    /// The order it is about (none for stock).
    pub order_id: Option<OrderId>,
    /// The event's data, as relayed (what the template shows beside the order).
    pub data: String,
    pub recipient_id: UserId,
    /// Whether it went to vendor staff (else to the order's customer).
    pub to_staff: bool,
    pub channel: Channel,
    /// The e-mail address, phone number or (push) user id it goes to.
    pub address: String,
    pub locale: String,
    /// The subject (or SMS/push title) as sent.
    pub subject: Option<String>,
    pub state: NotificationState,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A payment as stored: one per checkout, with its provider's state and the amounts folded
/// from its ledger (see `ordo_domain::payment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: uuid::Uuid,
    pub checkout_id: Option<CheckoutId>,
    pub customer_id: UserId,
    /// `sandbox`, `stripe`, `manual`.
    pub provider: String,
    /// The provider's id of the payment, once created there.
    pub provider_ref: Option<String>,
    pub currency: Currency,
    /// What is due, in minor units.
    pub amount: i64,
    pub capture_policy: ordo_domain::payment::CapturePolicy,
    pub state: ordo_domain::payment::PaymentState,
    pub amounts: ordo_domain::payment::Amounts,
    pub decline_code: Option<String>,
    pub capture_before: Option<DateTime<Utc>>,
    /// What a client confirms the payment with itself (the provider's; not card data).
    pub client_secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// A vendor order's share of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentAllocation {
    pub order_id: OrderId,
    pub vendor_id: VendorId,
    pub amount: i64,
    /// The vendor's commission when the order was placed (basis points).
    pub commission_bp: u16,
}

/// One movement of money on a vendor's orders (a capture, a payment by hand, a refund): a row
/// of the payment ledger with what the ledger export and balances need beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyRow {
    pub entry_id: uuid::Uuid,
    pub at: DateTime<Utc>,
    pub payment_id: uuid::Uuid,
    pub order_id: OrderId,
    pub vendor_id: VendorId,
    pub kind: ordo_domain::payment::EntryKind,
    pub amount: i64,
    pub currency: Currency,
    pub commission_bp: u16,
}

/// A payout of a vendor's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub id: uuid::Uuid,
    pub vendor_id: VendorId,
    pub currency: Currency,
    pub amount: i64,
    /// `requested`, `paid`.
    pub state: String,
    pub requested_by: Actor,
    pub requested_at: DateTime<Utc>,
    pub paid_by: Option<Actor>,
    pub paid_at: Option<DateTime<Utc>>,
    /// The bank transfer's reference, once paid.
    pub reference: Option<String>,
}

/// One row of a payment's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEntry {
    pub id: uuid::Uuid,
    pub payment_id: uuid::Uuid,
    /// The vendor order whose share this row moves.
    pub order_id: Option<OrderId>,
    pub kind: ordo_domain::payment::EntryKind,
    pub amount: i64,
    /// For an outcome: the request row it ends.
    pub request_id: Option<uuid::Uuid>,
    /// The provider's id of what this row records.
    pub provider_ref: Option<String>,
    pub actor: Option<Actor>,
    pub reason: Option<String>,
    /// An offline payment's reference (a bank transfer's).
    pub reference: Option<String>,
    /// The provider's answer, redacted (for engineers).
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl PaymentEntry {
    /// The row as the domain's fold reads it.
    pub fn entry(&self) -> ordo_domain::payment::Entry {
        ordo_domain::payment::Entry {
            kind: self.kind,
            amount: self.amount,
            request: self.request_id,
            id: self.id,
        }
    }
}

/// An item of the exception queue: what Ordo could not settle by itself. The app owns the
/// shape of `body` (JSON); the store keeps it and filters by the columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionItem {
    pub id: uuid::Uuid,
    pub kind: String,
    /// What it is about: raised once per key.
    pub key: String,
    /// `open`, `resolved`, `escalated`.
    pub status: String,
    pub order_id: Option<OrderId>,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which exceptions to list.
#[derive(Debug, Clone, Default)]
pub struct ExceptionFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub order_id: Option<OrderId>,
    pub limit: u32,
}

/// Jobs by state (for operators).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub queued: i64,
    /// Queued again after a failed attempt.
    pub retrying: i64,
    pub running: i64,
    pub done: i64,
    pub dead: i64,
}

/// A unit of background work, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: uuid::Uuid,
    /// What to do (`reservation.expire`, `sessions.purge`…); the worker's handler is chosen by it.
    pub kind: String,
    /// With `kind`, names the job: enqueueing the same (kind, key) twice is a no-op.
    pub key: String,
    pub payload: serde_json::Value,
    pub state: JobState,
    pub run_at: DateTime<Utc>,
    /// Attempts started so far (a claim counts one).
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// How a claimed job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEnd {
    Done,
    /// Failed; try again at `run_at`.
    Retry {
        run_at: DateTime<Utc>,
        error: String,
    },
    /// Failed for the last time.
    Dead {
        error: String,
    },
    /// A recurring job: run again at `run_at`, with its attempts counted from zero.
    Again {
        run_at: DateTime<Utc>,
    },
}

/// The relay's progress (see [`Store::relay_state`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayState {
    pub cursors: Vec<(String, i64)>,
    pub waiting: i64,
    pub oldest_waiting: Option<DateTime<Utc>>,
    /// The first position still kept (older ones were purged); `None` when none is.
    pub oldest_position: Option<i64>,
}

/// What the purge job clears out, older than a cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// Idempotency keys created before the cut-off.
    IdempotencyKeys,
    /// Sessions that expired or were revoked before the cut-off.
    Sessions,
    /// Jobs done before the cut-off.
    Jobs,
    /// Dead jobs that died before the cut-off (only when a person asks: `ordo jobs purge --dead`).
    DeadJobs,
    /// Outbox messages written before the cut-off that every consumer has passed (a consumer
    /// not heard of since the cut-off no longer holds them).
    Outbox,
}

/// The kinds of admin-maintained pricing rules kept as documents (promotions have their own
/// table, for their usage counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Fx,
    Tax,
    Shipping,
}

ordo_domain::names!(RuleKind, "invalid_rule_kind" {
    Fx => "fx",
    Tax => "tax",
    Shipping => "shipping",
});

/// One SKU's price on a currency's price list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceListEntry {
    pub sku: Sku,
    pub vendor_id: VendorId,
    pub price: Money,
}

/// A SKU whose available stock is at or below its threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowStock {
    pub sku: Sku,
    pub threshold: i64,
    /// On hand minus reserved, over all locations.
    pub available: i64,
}

/// An internal note on an order: staff only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderNote {
    pub id: uuid::Uuid,
    pub order_id: OrderId,
    pub author: Actor,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A customer found by a recipient name on their orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedCustomer {
    pub customer_id: UserId,
    pub email: String,
    /// The name as it was typed on the order.
    pub name: String,
}

/// One recorded stock adjustment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StockAdjustment {
    pub id: AdjustmentId,
    pub sku: Sku,
    pub location_id: LocationId,
    pub delta: i64,
    pub reason: AdjustmentReason,
    pub note: Option<String>,
    pub actor: Actor,
    pub on_hand_after: i64,
    pub at: DateTime<Utc>,
}

/// Reads and the door to writes.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Runs `work` in one write transaction: its changes are committed if it returns `Ok` and
    /// undone if it returns `Err`. Returns once the commit is durable — an `Ok(Committed)` is a
    /// promise that the changes survive a crash. Use [`write`], which carries a typed result.
    async fn transact(&self, work: TxWork) -> StoreResult<Outcome>;

    /// Checks the database answers and can take writes (SQLite: the writer thread is alive and
    /// not fail-stopped; PostgreSQL: a pooled connection reaches a primary that accepts writes).
    async fn ready(&self) -> StoreResult<()>;

    /// Resolves, with the reason, when the store has stopped taking writes for good because
    /// the outcome of a commit is unknown (fail-stop; see `docs/architecture.md`). The server
    /// then exits non-zero so its supervisor restarts it. Never resolves for a store that
    /// cannot fail-stop.
    async fn failed(&self) -> String;

    async fn credentials(&self, email: &EmailAddress) -> StoreResult<Option<Credentials>>;
    async fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// The live (unexpired, unrevoked) session a token hash names, of a user not disabled.
    async fn session_user(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<LiveSession>>;
    /// A user's factors and step-up record, for checking a step-up.
    async fn auth_factors(&self, user: UserId) -> StoreResult<Option<AuthFactors>>;
    /// Every user, by e-mail, after `after_email`, with whether each is disabled.
    async fn users(&self, after_email: Option<&str>, limit: u32) -> StoreResult<Vec<(User, bool)>>;
    /// Changes to sessions and users committed by other nodes, as they happen (PostgreSQL's
    /// LISTEN/NOTIFY). `None` where there is only ever one node (SQLite).
    async fn auth_changes(
        &self,
    ) -> StoreResult<Option<Pin<Box<dyn futures_util::Stream<Item = AuthChange> + Send>>>>;

    async fn vendor(&self, id: VendorId) -> StoreResult<Option<Vendor>>;
    async fn vendors(&self) -> StoreResult<Vec<Vendor>>;
    async fn locations(&self, vendor: VendorId) -> StoreResult<Vec<Location>>;
    async fn product(&self, id: ProductId) -> StoreResult<Option<Product>>;
    /// Products of one vendor (or all), newest first.
    async fn products(&self, vendor: Option<VendorId>, limit: u32) -> StoreResult<Vec<Product>>;
    async fn stock(&self, sku: &Sku) -> StoreResult<Option<SkuStock>>;
    /// Units available (on hand − reserved, all locations) of each of `skus` that has stock
    /// rows; a SKU without any is absent.
    async fn available(&self, skus: &[Sku]) -> StoreResult<Vec<(Sku, i64)>>;
    /// As [`StoreTx::variants_for_sale`], outside a transaction (carts show live prices).
    async fn variants_for_sale(&self, skus: &[Sku]) -> StoreResult<Vec<VariantForSale>>;

    async fn order(&self, id: OrderId) -> StoreResult<Option<Order>>;
    async fn orders(&self, query: &OrderQuery) -> StoreResult<Vec<Order>>;
    /// How many orders of `scope` (with `status`, and `payment_status`) there are, counting no
    /// further than `cap`.
    async fn count_orders(
        &self,
        scope: OrderScope,
        status: Option<OrderStatus>,
        payment_status: Option<ordo_domain::payment::PaymentStatus>,
        cap: u32,
    ) -> StoreResult<u32>;
    async fn order_events(&self, id: OrderId) -> StoreResult<Vec<OrderEvent>>;
    /// Unpaid orders whose reservation ran out before `now` and that have no expiry job yet
    /// (one that keeps failing must not hide the ones behind it), oldest deadline first.
    async fn expired_reservations(
        &self,
        now: DateTime<Utc>,
        job_kind: &str,
        limit: u32,
    ) -> StoreResult<Vec<OrderId>>;

    async fn cart(&self, id: CartId) -> StoreResult<Option<Cart>>;
    /// The guest cart a token opens.
    async fn cart_by_token(&self, token_hash: &[u8]) -> StoreResult<Option<Cart>>;
    /// Whether a user is a guest account: `None` if not, `Some(claimed)` if it is (claimed:
    /// its owner registered and set a password).
    async fn guest_account(&self, user: UserId) -> StoreResult<Option<bool>>;
    /// The guest checkout a link opens.
    async fn checkout_by_link(&self, token: &str) -> StoreResult<Option<CheckoutId>>;
    /// A guest checkout's link.
    async fn checkout_link(&self, checkout: CheckoutId) -> StoreResult<Option<String>>;
    /// The orders of one checkout, oldest first.
    async fn orders_of_checkout(&self, checkout: CheckoutId) -> StoreResult<Vec<Order>>;
    /// An order's internal notes, oldest first.
    async fn order_notes(&self, order: OrderId) -> StoreResult<Vec<OrderNote>>;
    /// The newest `limit` internal notes on any of a customer's orders, newest first.
    async fn customer_notes(&self, customer: UserId, limit: i64) -> StoreResult<Vec<OrderNote>>;
    /// Customers with a recipient name that has a word starting with `prefix` (in
    /// [`ordo_domain::address::name_search_form`]), the closest keys first: up to `limit` rows,
    /// one customer and name may come twice (once per matching word).
    async fn customers_named(&self, prefix: &str, limit: i64) -> StoreResult<Vec<NamedCustomer>>;

    /// Every pricing rule and promotion, as one book.
    async fn pricing_book(&self) -> StoreResult<PricingBook>;

    /// One vendor's SKUs at or below their low-stock threshold.
    async fn low_stock(&self, vendor: VendorId) -> StoreResult<Vec<LowStock>>;
    /// One currency's price list: SKUs with a price in it, by SKU, after `after_sku`,
    /// optionally one vendor's only.
    async fn price_list(
        &self,
        currency: Currency,
        vendor: Option<VendorId>,
        after_sku: Option<&Sku>,
        limit: u32,
    ) -> StoreResult<Vec<PriceListEntry>>;
    /// Outbox messages after `after` (a message id), oldest first, with their ids, relayed or
    /// not (for tests and operators; consumers read [`Store::events_after`]).
    async fn outbox(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxMessage)>>;
    /// Relayed events after `after` (a position) that a reader of `scope` may see, in order.
    async fn events_after(
        &self,
        after: i64,
        scope: OrderScope,
        limit: u32,
    ) -> StoreResult<Vec<RelayedEvent>>;
    /// Where each reader of the outbox has got to (`sequencer`: the last position given out),
    /// and how many messages wait for a position, with the oldest one's time.
    async fn relay_state(&self) -> StoreResult<RelayState>;
    /// Webhook endpoints: a vendor's, or all of them.
    async fn webhook_endpoints(
        &self,
        vendor: Option<VendorId>,
    ) -> StoreResult<Vec<WebhookEndpoint>>;
    async fn webhook_endpoint(&self, id: uuid::Uuid) -> StoreResult<Option<WebhookEndpoint>>;
    /// An endpoint's deliveries, newest first, optionally in one state.
    async fn webhook_deliveries(
        &self,
        endpoint: uuid::Uuid,
        state: Option<DeliveryState>,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    async fn webhook_delivery(
        &self,
        endpoint: uuid::Uuid,
        id: uuid::Uuid,
    ) -> StoreResult<Option<WebhookDelivery>>;
    /// The pending deliveries of one endpoint and key, in the order they must go.
    async fn pending_deliveries(
        &self,
        endpoint: uuid::Uuid,
        key: &str,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    /// (endpoint, key) pairs of enabled endpoints with a pending delivery due by `now`.
    async fn due_webhook_keys(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(uuid::Uuid, String)>>;
    /// A user's notification preferences, if they chose any.
    async fn notification_preferences(
        &self,
        user: UserId,
    ) -> StoreResult<Option<NotificationPreferences>>;
    /// The enabled users who work for a vendor.
    async fn vendor_staff(&self, vendor: VendorId) -> StoreResult<Vec<User>>;
    /// The notifications about an order, oldest first.
    async fn order_notifications(&self, order: OrderId) -> StoreResult<Vec<Notification>>;
    async fn notification(&self, id: uuid::Uuid) -> StoreResult<Option<Notification>>;
    async fn payment(&self, id: uuid::Uuid) -> StoreResult<Option<Payment>>;
    /// The payment an order is paid by, if any.
    async fn order_payment(&self, order: OrderId) -> StoreResult<Option<Payment>>;
    async fn payment_allocations(&self, payment: uuid::Uuid)
    -> StoreResult<Vec<PaymentAllocation>>;
    /// A payment's ledger, oldest row first.
    async fn payment_entries(&self, payment: uuid::Uuid) -> StoreResult<Vec<PaymentEntry>>;
    /// One ledger row.
    async fn payment_entry(&self, id: uuid::Uuid) -> StoreResult<Option<PaymentEntry>>;
    /// Cancelled orders whose share of a payment may still hold money (its stored status is
    /// authorized, paid, partially paid or partially refunded), by id after `after`, at most
    /// `limit`: candidates only — the ledger says what each really holds.
    async fn cancelled_orders_holding_money(
        &self,
        after: Option<OrderId>,
        limit: u32,
    ) -> StoreResult<Vec<OrderId>>;
    /// Authorized payments with something left to capture whose authorization lapses before
    /// `before` (manual capture).
    async fn expiring_authorizations(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<uuid::Uuid>>;
    /// Money moved on orders (captures, payments by hand, refunds), oldest first: one
    /// vendor's, or everyone's between two times (the ledger export).
    async fn money_rows(
        &self,
        vendor: Option<VendorId>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<MoneyRow>>;
    /// Payouts, oldest first: one vendor's, or everyone's requested between two times.
    async fn payouts(
        &self,
        vendor: Option<VendorId>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<Payout>>;
    async fn vendor_commission(&self, vendor: VendorId) -> StoreResult<Option<u16>>;
    /// The exception queue, newest first.
    async fn exceptions(&self, filter: &ExceptionFilter) -> StoreResult<Vec<ExceptionItem>>;
    async fn exception(&self, id: uuid::Uuid) -> StoreResult<Option<ExceptionItem>>;
    /// Pokes from other nodes that relayed events (PostgreSQL's LISTEN/NOTIFY, carrying the
    /// last position), as they happen. `None` where there is only ever one node (SQLite).
    async fn event_wakeups(
        &self,
    ) -> StoreResult<Option<Pin<Box<dyn futures_util::Stream<Item = i64> + Send>>>>;
    /// A SKU's adjustments, newest first.
    async fn stock_adjustments(&self, sku: &Sku, limit: u32) -> StoreResult<Vec<StockAdjustment>>;
    async fn job(&self, id: uuid::Uuid) -> StoreResult<Option<Job>>;
    /// How many jobs are in each state, and how many queued ones failed before (retrying).
    async fn job_counts(&self) -> StoreResult<JobCounts>;
    /// Jobs, optionally of one state and kind, newest first.
    async fn jobs(
        &self,
        state: Option<JobState>,
        kind: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;
}

/// One write transaction.
#[async_trait]
pub trait StoreTx: Send {
    async fn insert_user(
        &mut self,
        user: &User,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn insert_session(&mut self, session: &Session) -> StoreResult<()>;
    /// Marks a session revoked; returns whether a live one was found.
    async fn revoke_session(&mut self, token_hash: &[u8], at: DateTime<Utc>) -> StoreResult<bool>;
    /// A step-up succeeded: the session is fresh until `fresh_until` and the failure counts
    /// start again. With a TOTP step, the step is recorded only if it is later than the last
    /// one accepted; returns false (and changes nothing) when it is not (a code used twice).
    async fn step_up_succeeded(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        fresh_until: DateTime<Utc>,
        totp_step: Option<i64>,
    ) -> StoreResult<bool>;
    /// A step-up failed: counted on the session and the user; the user is locked out of
    /// step-ups until `lock_until` when given (and their count starts again).
    async fn step_up_failed(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        lock_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;
    /// Sets (or clears, with `None`) a user's TOTP secret and when it was confirmed; with
    /// `recovery`, replaces their recovery codes (SHA-256 of each).
    async fn set_totp(
        &mut self,
        user: UserId,
        secret: Option<&str>,
        confirmed_at: Option<DateTime<Utc>>,
        recovery: Option<&[Vec<u8>]>,
    ) -> StoreResult<()>;
    /// Uses one recovery code; false if it is unknown or used.
    async fn use_recovery_code(
        &mut self,
        user: UserId,
        code_hash: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Changes a user's role and vendor and disables or enables them; false if there is none.
    async fn update_user(
        &mut self,
        user: &User,
        disabled_at: Option<DateTime<Utc>>,
    ) -> StoreResult<bool>;

    async fn insert_vendor(&mut self, vendor: &Vendor, at: DateTime<Utc>) -> StoreResult<()>;
    async fn insert_location(&mut self, location: &Location, at: DateTime<Utc>) -> StoreResult<()>;
    async fn location_by_code(
        &mut self,
        vendor: VendorId,
        code: &LocationCode,
    ) -> StoreResult<Option<Location>>;
    async fn insert_product(&mut self, product: &Product, at: DateTime<Utc>) -> StoreResult<()>;
    /// The vendor selling `sku`, if any.
    async fn sku_vendor(&mut self, sku: &Sku) -> StoreResult<Option<VendorId>>;
    /// The variants for `skus` with all their prices; unknown SKUs are simply absent.
    async fn variants_for_sale(&mut self, skus: &[Sku]) -> StoreResult<Vec<VariantForSale>>;
    /// Sets a SKU's price in one currency (adding it to that currency's price list or
    /// replacing it); false if there is no such SKU.
    async fn set_price(&mut self, sku: &Sku, price: Money) -> StoreResult<bool>;
    /// Takes a SKU off one currency's price list; false if it had no price there.
    async fn delete_price(&mut self, sku: &Sku, currency: Currency) -> StoreResult<bool>;
    /// Sets (or clears) a SKU's low-stock threshold; false if there is no such SKU.
    async fn set_low_stock_threshold(
        &mut self,
        sku: &Sku,
        threshold: Option<i64>,
    ) -> StoreResult<bool>;
    async fn insert_adjustment(&mut self, adjustment: &StockAdjustment) -> StoreResult<()>;

    /// Reads a SKU's stock rows in allocation order and, where the backend has row locks, locks
    /// them until commit. Callers lock SKUs in sorted order so two orders never deadlock.
    async fn lock_stock(&mut self, sku: &Sku) -> StoreResult<Vec<StockLevel>>;
    /// Adds the deltas to one stock row. A result that breaks `0 <= reserved <= on_hand` is
    /// refused by the database as [`constraints::STOCK_RESERVED_WITHIN_ON_HAND`].
    async fn change_stock(
        &mut self,
        sku: &Sku,
        location: LocationId,
        on_hand: i64,
        reserved: i64,
    ) -> StoreResult<()>;
    /// Sets `on_hand` (creating the row if needed), keeping `reserved`.
    async fn set_on_hand(
        &mut self,
        sku: &Sku,
        location: LocationId,
        on_hand: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    async fn insert_order(&mut self, order: &Order) -> StoreResult<()>;
    /// Loads an order for change, locking it where the backend has row locks.
    async fn order_for_update(&mut self, id: OrderId) -> StoreResult<Option<Order>>;
    /// Writes the order's mutable state if it is still at `expected_version`; otherwise
    /// [`constraints::ORDERS_VERSION`].
    async fn update_order(&mut self, order: &Order, expected_version: i64) -> StoreResult<()>;
    /// Records where a line's stock was taken from (stock deducted at payment).
    async fn set_line_allocations(
        &mut self,
        order: OrderId,
        line_index: usize,
        allocations: &[Allocation],
    ) -> StoreResult<()>;
    /// The orders of one checkout, read in this transaction (for an idempotent replay).
    async fn checkout_orders(&mut self, id: CheckoutId) -> StoreResult<Vec<Order>>;
    async fn append_event(&mut self, event: &OrderEvent) -> StoreResult<()>;
    async fn enqueue(&mut self, message: &OutboxMessage) -> StoreResult<()>;

    async fn insert_cart(&mut self, cart: &Cart, token_hash: Option<&[u8]>) -> StoreResult<()>;
    /// Loads a cart for change, locking it where the backend has row locks.
    async fn cart_for_update(&mut self, id: CartId) -> StoreResult<Option<Cart>>;
    /// The customer's open cart, locked.
    async fn open_cart_for_update(&mut self, customer: UserId) -> StoreResult<Option<Cart>>;
    /// Writes the cart if it is still at `expected_version` (else
    /// [`constraints::CARTS_VERSION`]). A cart given a customer loses its guest token.
    async fn update_cart(&mut self, cart: &Cart, expected_version: i64) -> StoreResult<()>;

    /// Inserts or replaces the rule of `kind` known by `key` (the rule's natural key: a
    /// currency pair, a country/region/class); returns the id it is stored under, which is the
    /// existing one on a replace.
    async fn put_rule(
        &mut self,
        kind: RuleKind,
        key: &str,
        id: RuleId,
        data: &serde_json::value::RawValue,
        at: DateTime<Utc>,
    ) -> StoreResult<RuleId>;
    /// Deletes a rule; false if there was none.
    async fn delete_rule(&mut self, kind: RuleKind, id: RuleId) -> StoreResult<bool>;
    async fn insert_promotion(
        &mut self,
        promotion: &Promotion,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Replaces a promotion's definition (its use count is kept); false if there is none.
    async fn update_promotion(
        &mut self,
        promotion: &Promotion,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Counts one use of a promotion, if its limit allows: false when it is used up. Where the
    /// backend has row locks, the promotion stays locked until commit, so concurrent
    /// checkouts take turns and a limited code is never used once too often.
    async fn use_promotion(&mut self, id: PromotionId) -> StoreResult<bool>;

    /// Claims `key` in `scope` for a request with `request_hash` and returns `None`, or returns
    /// what the key was first used for. One statement in the common case: the insert is the
    /// lookup. A claim by a concurrent transaction that is not yet committed is waited for
    /// (PostgreSQL) and then reported.
    async fn idempotency_claim(
        &mut self,
        scope: &str,
        key: &str,
        request_hash: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotencyRecord>>;
    /// Keeps the result of the request that claimed `key`, for its replays.
    async fn idempotency_remember(
        &mut self,
        scope: &str,
        key: &str,
        response: &str,
    ) -> StoreResult<()>;
    /// Gives a guest cart a new token (its old one stops opening it).
    async fn set_cart_token(&mut self, id: CartId, token_hash: &[u8]) -> StoreResult<()>;
    /// Marks a new user as a guest account (no usable password until it is claimed).
    async fn insert_guest_account(&mut self, user: UserId, at: DateTime<Utc>) -> StoreResult<()>;
    /// Claims an unclaimed guest account: its password set. `false` if it was claimed already.
    async fn claim_guest_account(
        &mut self,
        user: UserId,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Adds an internal note to an order.
    async fn insert_order_note(&mut self, note: &OrderNote) -> StoreResult<()>;
    /// Records a guest checkout's link.
    async fn insert_checkout_link(
        &mut self,
        checkout: CheckoutId,
        token: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Enqueues `job` unless a job of its kind and key exists; returns whether it was added.
    async fn enqueue_job(&mut self, job: &Job, at: DateTime<Utc>) -> StoreResult<bool>;
    /// As [`StoreTx::enqueue_job`], and a job of its kind and key that is done is queued again,
    /// one waiting for later is brought forward to `job.run_at` (for jobs that drain a queue
    /// of their own, such as one endpoint's webhook deliveries).
    async fn wake_job(&mut self, job: &Job, at: DateTime<Utc>) -> StoreResult<()>;
    /// Brings a recurring job (key = kind) that waits for later forward to `at`; a no-op when
    /// it is due already, running or absent.
    async fn hurry_job(&mut self, kind: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Claims up to `limit` jobs that are due at `now` (queued and past `run_at`, or running
    /// with a lease that ended), counts an attempt and leases them until `lease_until`. Where
    /// the backend has row locks, rows another transaction is claiming are skipped.
    async fn claim_jobs(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;
    /// Queues a dead job again now, its attempts counted afresh; `false` if it is not dead.
    async fn retry_job(&mut self, id: uuid::Uuid, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Records how a claimed job ended.
    async fn finish_job(
        &mut self,
        id: uuid::Uuid,
        end: &JobEnd,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Deletes up to `limit` rows of `what` older than `before`; returns how many.
    async fn purge(&mut self, what: Purge, before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
    /// The relay's sequencer: gives the next positions, in id order, to up to `limit`
    /// committed outbox messages that have none, and returns the last position given (`None`
    /// when there were none). One sequencer runs at a time (it locks its cursor row), so
    /// positions appear in the order they are given. On PostgreSQL it also pokes the other
    /// nodes (see [`Store::event_wakeups`]) as it commits.
    async fn sequence_outbox(&mut self, at: DateTime<Utc>, limit: u32) -> StoreResult<Option<i64>>;
    /// Where `consumer` of the relayed events has got to; a new consumer starts at the
    /// present (the sequencer's position), not at the oldest event kept.
    async fn consumer_cursor(&mut self, consumer: &str, at: DateTime<Utc>) -> StoreResult<i64>;
    /// Writes an endpoint whole (created or changed).
    async fn put_webhook_endpoint(&mut self, endpoint: &WebhookEndpoint) -> StoreResult<()>;
    /// Deletes an endpoint and its deliveries; `false` if there was none.
    async fn delete_webhook_endpoint(&mut self, id: uuid::Uuid) -> StoreResult<bool>;
    /// Records how deliveries to an endpoint are going: failing since when (`None`: fine),
    /// and disabled (with why) when they failed too long.
    async fn set_webhook_health(
        &mut self,
        id: uuid::Uuid,
        failing_since: Option<DateTime<Utc>>,
        disabled: Option<(DateTime<Utc>, &str)>,
    ) -> StoreResult<()>;
    /// Writes a delivery whole (new, or after an attempt).
    async fn put_webhook_delivery(&mut self, delivery: &WebhookDelivery) -> StoreResult<()>;
    /// Writes a user's notification preferences whole.
    async fn put_notification_preferences(
        &mut self,
        preferences: &NotificationPreferences,
    ) -> StoreResult<()>;
    /// Writes a notification whole (new, or after an attempt).
    async fn put_notification(&mut self, notification: &Notification) -> StoreResult<()>;
    /// Creates a payment with its shares.
    async fn insert_payment(
        &mut self,
        payment: &Payment,
        allocations: &[PaymentAllocation],
    ) -> StoreResult<()>;
    /// Loads a payment for change, locking it where the backend has row locks.
    async fn payment_for_update(&mut self, id: uuid::Uuid) -> StoreResult<Option<Payment>>;
    /// Loads the payment an order is paid by for change, locking it.
    async fn order_payment_for_update(&mut self, order: OrderId) -> StoreResult<Option<Payment>>;
    /// A payment's ledger, oldest row first, read in this transaction (after locking the
    /// payment, it is the ledger every command checks against).
    async fn payment_ledger(&mut self, payment: uuid::Uuid) -> StoreResult<Vec<PaymentEntry>>;
    /// Each order's share of a payment (the order, the amount it is due), read in this
    /// transaction.
    async fn payment_shares(&mut self, payment: uuid::Uuid) -> StoreResult<Vec<(OrderId, i64)>>;
    /// Writes the payment status of each order's share, as the payment's money now stands
    /// (what orders are filtered by: see 0015_order_payment_status.sql).
    async fn set_share_statuses(
        &mut self,
        payment: uuid::Uuid,
        statuses: &[(OrderId, ordo_domain::payment::PaymentStatus)],
    ) -> StoreResult<()>;
    /// Writes a payment's state and amounts if it is still at `expected_version` (else
    /// [`constraints::PAYMENTS_VERSION`]); amounts that break an invariant are refused by the
    /// database (`payments_capture_within_authorized`, `payments_refund_within_captured`…).
    async fn update_payment(&mut self, payment: &Payment, expected_version: i64)
    -> StoreResult<()>;
    /// Adds a ledger row; `false` (and nothing added) when its outcome or provider reference is
    /// already recorded — a duplicate report.
    async fn append_payment_entry(&mut self, entry: &PaymentEntry) -> StoreResult<bool>;
    /// Locks a vendor's money (its row) and reads its movements and payouts, so a payout is
    /// checked against a balance no other payout changes meanwhile. `None`: no such vendor.
    async fn vendor_money_for_update(
        &mut self,
        vendor: VendorId,
    ) -> StoreResult<Option<(Vec<MoneyRow>, Vec<Payout>)>>;
    /// Writes a payout whole (new, or marked paid).
    async fn put_payout(&mut self, payout: &Payout) -> StoreResult<()>;
    /// A vendor's commission (basis points), read in this transaction.
    async fn vendor_commission_now(&mut self, vendor: VendorId) -> StoreResult<Option<u16>>;
    /// Sets a vendor's commission; `false` when there is no such vendor.
    async fn set_vendor_commission(&mut self, vendor: VendorId, bp: u16) -> StoreResult<bool>;
    /// Raises an exception: `false` (nothing written) when one with its key exists.
    async fn raise_exception(&mut self, item: &ExceptionItem) -> StoreResult<bool>;
    /// Writes an exception's status and body.
    async fn update_exception(&mut self, item: &ExceptionItem) -> StoreResult<()>;
    /// Takes a provider's webhook event once: `false` when it was taken before.
    async fn take_payment_event(
        &mut self,
        provider: &str,
        event_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Moves `consumer` on to `position` (never back).
    async fn advance_cursor(
        &mut self,
        consumer: &str,
        position: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// The future of one unit of write work, borrowing its transaction.
pub type TxFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Rollback>> + Send + 'a>>;
/// One unit of write work, as a backend receives it.
pub type TxWork = Box<dyn for<'a> FnOnce(&'a mut dyn StoreTx) -> TxFuture<'a> + Send>;

/// The error for work that returned `Ok` after one of its statements failed. A failed statement
/// ends the unit on every backend (PostgreSQL abandons the transaction; SQLite is held to the
/// same rule so the two cannot differ): the work must pass the error on, and nothing is kept.
pub fn went_on_after_a_failure() -> StoreError {
    StoreError::Other(anyhow::anyhow!(
        "a unit of work returned Ok after one of its statements failed; nothing was kept"
    ))
}

/// Returned by work whose changes must be undone; its reason travels beside it (see [`write`]).
#[derive(Debug)]
pub struct Rollback;

/// What became of a unit of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its changes are durable.
    Committed,
    /// It returned `Err`; none of its changes were kept.
    RolledBack,
}

/// Runs `work` as one transaction on `store` and returns its result: `Ok` only once the changes
/// are durable; `Err` with nothing changed otherwise (the work's own error, or the store's if the
/// commit failed). The work is `'static` because SQLite runs it on its writer thread.
pub async fn write<T, E, F>(store: &dyn Store, work: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: for<'a> FnOnce(
            &'a mut dyn StoreTx,
        ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'a>>
        + Send
        + 'static,
{
    let slot: Arc<Mutex<Option<Result<T, E>>>> = Arc::new(Mutex::new(None));
    let out = Arc::clone(&slot);
    let unit: TxWork = Box::new(move |tx| {
        Box::pin(async move {
            let result = work(tx).await;
            let keep = result.is_ok();
            *out.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(result);
            if keep { Ok(()) } else { Err(Rollback) }
        })
    });
    let outcome = store.transact(unit).await;
    let result = slot
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    match (outcome, result) {
        (Ok(Outcome::Committed), Some(Ok(value))) => Ok(value),
        (Ok(Outcome::RolledBack), Some(Err(e))) => Err(e),
        // The commit failed (or the store did before running the work): nothing was kept, even
        // if the work itself succeeded.
        (Err(e), _) => Err(e.into()),
        (Ok(outcome), _) => Err(StoreError::Other(anyhow::anyhow!(
            "transaction ended {outcome:?} but its work did not say so"
        ))
        .into()),
    }
}
