//! Payments, their ledger and per-order shares, vendor balances, payouts and commission: the
//! records of this aggregate and what the store does with them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::identity::Actor;
use ordo_domain::ids::{CheckoutId, OrderId, UserId, VendorId};
use ordo_domain::money::Currency;

use crate::StoreResult;

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

/// Reads: payments, their ledger and per-order shares, vendor balances, payouts and commission.
#[async_trait]
pub trait PaymentStore: Send + Sync {
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
}

/// Writes within one transaction: payments, their ledger and per-order shares, vendor balances,
/// payouts and commission.
#[async_trait]
pub trait PaymentTx: Send {
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
    /// Takes a provider's webhook event once: `false` when it was taken before.
    async fn take_payment_event(
        &mut self,
        provider: &str,
        event_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
}
