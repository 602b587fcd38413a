//! Payments, their ledger and per-order shares, vendor balances, payouts and commission: the
//! records of this aggregate and what the store does with them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::identity::Actor;
use ordo_domain::ids::{CheckoutId, OrderId, UserId, VendorId};
use ordo_domain::money::Currency;
use ordo_domain::payment::{Amounts, PaymentState};

use crate::StoreResult;

/// A payment as stored: one per checkout, with its provider's state and the amounts folded
/// from its ledger (see `ordo_domain::payment`).
///
/// Its state and amounts are private: a payment opens in the table's first state
/// ([`Payment::open`], or [`Payment::paid_by_hand`]), its state moves only along the table
/// ([`Payment::report`]), and its amounts change only by a ledger row ([`Payment::record`]).
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
    state: PaymentState,
    amounts: Amounts,
    pub decline_code: Option<String>,
    pub capture_before: Option<DateTime<Utc>>,
    /// What a client confirms the payment with itself (the provider's; not card data).
    pub client_secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// What opening a payment decides: everything but its state and its money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentDraft {
    pub id: uuid::Uuid,
    pub checkout_id: Option<CheckoutId>,
    pub customer_id: UserId,
    pub provider: String,
    pub provider_ref: Option<String>,
    pub currency: Currency,
    pub amount: i64,
    pub capture_policy: ordo_domain::payment::CapturePolicy,
    pub capture_before: Option<DateTime<Utc>>,
    pub client_secret: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Payment {
    /// A new payment, waiting for a payment method, with no money moved (version 1).
    pub fn open(draft: PaymentDraft) -> Payment {
        Payment::stored(
            draft,
            PaymentState::RequiresPaymentMethod,
            Amounts::default(),
        )
    }

    /// A payment of money paid by hand (provider `manual`): there is no provider to wait for,
    /// so it starts captured; its money arrives by ledger rows like any other's.
    pub fn paid_by_hand(draft: PaymentDraft) -> Payment {
        Payment::stored(draft, PaymentState::Captured, Amounts::default())
    }

    /// A payment as its store keeps it: for a backend reading its rows (which then sets the
    /// version and the rest as stored), and for tests of what the database refuses — never to
    /// move a payment.
    pub fn stored(draft: PaymentDraft, state: PaymentState, amounts: Amounts) -> Payment {
        Payment {
            id: draft.id,
            checkout_id: draft.checkout_id,
            customer_id: draft.customer_id,
            provider: draft.provider,
            provider_ref: draft.provider_ref,
            currency: draft.currency,
            amount: draft.amount,
            capture_policy: draft.capture_policy,
            state,
            amounts,
            decline_code: None,
            capture_before: draft.capture_before,
            client_secret: draft.client_secret,
            created_at: draft.created_at,
            updated_at: draft.created_at,
            version: 1,
        }
    }

    /// Where the provider has the payment.
    pub fn state(&self) -> PaymentState {
        self.state
    }

    /// The money, as folded from the ledger.
    pub fn amounts(&self) -> Amounts {
        self.amounts
    }

    /// Takes the provider's report of `next` if the table lets the payment move there (see
    /// [`PaymentState::may_become`]); returns whether it moved. A late or repeated report
    /// never moves a payment back.
    pub fn report(&mut self, next: PaymentState) -> bool {
        let moves = self.state.may_become(next);
        if moves {
            self.state = next;
        }
        moves
    }

    /// Adds one ledger row's effect on the money (`asked`: for an outcome of a request, what
    /// the request asked for).
    pub fn record(
        &mut self,
        kind: ordo_domain::payment::EntryKind,
        amount: i64,
        asked: Option<i64>,
    ) {
        self.amounts.record(kind, amount, asked);
    }
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

/// Where a payout stands: requested by a vendor, then paid by the platform (once). Its one move
/// is [`PayoutState::TRANSITIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayoutState {
    Requested,
    Paid,
}

ordo_domain::names!(PayoutState, "invalid_payout_state" {
    Requested => "requested",
    Paid => "paid",
});

impl PayoutState {
    pub const TRANSITIONS: &'static [(PayoutState, PayoutState)] =
        &[(PayoutState::Requested, PayoutState::Paid)];

    pub fn may_become(self, next: PayoutState) -> bool {
        Self::TRANSITIONS.contains(&(self, next))
    }
}

/// A payout of a vendor's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub id: uuid::Uuid,
    pub vendor_id: VendorId,
    pub currency: Currency,
    pub amount: i64,
    state: PayoutState,
    pub requested_by: Actor,
    pub requested_at: DateTime<Utc>,
    pub paid_by: Option<Actor>,
    pub paid_at: Option<DateTime<Utc>>,
    /// The bank transfer's reference, once paid.
    pub reference: Option<String>,
}

impl Payout {
    /// A payout a vendor asks for: requested, not yet paid.
    pub fn request(
        id: uuid::Uuid,
        vendor_id: VendorId,
        currency: Currency,
        amount: i64,
        requested_by: Actor,
        requested_at: DateTime<Utc>,
    ) -> Payout {
        Payout {
            id,
            vendor_id,
            currency,
            amount,
            state: PayoutState::Requested,
            requested_by,
            requested_at,
            paid_by: None,
            paid_at: None,
            reference: None,
        }
    }

    pub fn state(&self) -> PayoutState {
        self.state
    }

    /// Marks it paid by `by` with the transfer's reference; `false` (nothing changed) when the
    /// table does not allow it (it is paid already).
    pub fn pay(&mut self, by: Actor, at: DateTime<Utc>, reference: Option<String>) -> bool {
        if !self.state.may_become(PayoutState::Paid) {
            return false;
        }
        self.state = PayoutState::Paid;
        self.paid_by = Some(by);
        self.paid_at = Some(at);
        self.reference = reference;
        true
    }
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
