//! Payments: money kept as amounts folded from an append-only ledger, never a guessed status.
//!
//! A payment (one per checkout: the customer pays once, each vendor order knows its share) has
//! a provider-side [`PaymentState`] that only moves along [`STATE_TRANSITIONS`] — so a late or
//! duplicate provider message never moves it backwards — and a ledger of [`Entry`]s: what was
//! authorized, what capture, void and refund was asked for and how each ended. [`Amounts`] is
//! the fold of that ledger (Saleor's idea): authorized, captured, voided, refunded, and what is
//! in flight of each. The commands check the invariants against it, counting the in-flight
//! amounts, before anything is sent to a provider:
//!
//! - captured + capturing ≤ authorized − voided − voiding,
//! - voided + voiding ≤ authorized − captured − capturing,
//! - refunded + refunding ≤ captured.
//!
//! The order's [`PaymentStatus`] is a pure function of the amounts against what is due.
//! Money moved is also posted double-entry ([`postings`]): every posting set balances to zero,
//! so vendor balances and the platform's commission are sums, never stored guesses.

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// A payment's state at its provider, normalized (Stripe's PaymentIntent states, plus the
/// ends Ordo gives them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// Created; waiting for a card or another method (also after a decline).
    RequiresPaymentMethod,
    /// The customer must complete a step (3-D Secure).
    RequiresAction,
    /// The provider is working on it (bank debits).
    Processing,
    /// Authorized, waiting for capture (manual capture).
    Authorized,
    /// Captured, in full or in part (a payment is captured once; the rest is released).
    Captured,
    /// Cancelled before capture (the authorization released).
    Canceled,
    /// The authorization lapsed uncaptured.
    Expired,
    /// Failed for good (no further method will be tried on it).
    Failed,
}

crate::names!(PaymentState, "invalid_payment_state" {
    RequiresPaymentMethod => "requires_payment_method",
    RequiresAction => "requires_action",
    Processing => "processing",
    Authorized => "authorized",
    Captured => "captured",
    Canceled => "canceled",
    Expired => "expired",
    Failed => "failed",
});

use PaymentState as P;

/// When money is taken: at authorization, or later by an explicit capture (at shipment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapturePolicy {
    Automatic,
    Manual,
}

crate::names!(CapturePolicy, "invalid_capture_policy" {
    Automatic => "automatic",
    Manual => "manual",
});

/// Every move a payment's state may make; anything else (a late `requires_action` after
/// `captured`, a `failed` after `captured`) is ignored as stale.
pub const STATE_TRANSITIONS: &[(PaymentState, PaymentState)] = &[
    (P::RequiresPaymentMethod, P::RequiresAction),
    (P::RequiresPaymentMethod, P::Processing),
    (P::RequiresPaymentMethod, P::Authorized),
    (P::RequiresPaymentMethod, P::Captured),
    (P::RequiresPaymentMethod, P::Canceled),
    (P::RequiresPaymentMethod, P::Failed),
    (P::RequiresAction, P::RequiresPaymentMethod),
    (P::RequiresAction, P::Processing),
    (P::RequiresAction, P::Authorized),
    (P::RequiresAction, P::Captured),
    (P::RequiresAction, P::Canceled),
    (P::RequiresAction, P::Failed),
    (P::Processing, P::RequiresPaymentMethod),
    (P::Processing, P::Authorized),
    (P::Processing, P::Captured),
    (P::Processing, P::Canceled),
    (P::Processing, P::Failed),
    (P::Authorized, P::Captured),
    (P::Authorized, P::Canceled),
    (P::Authorized, P::Expired),
];

impl PaymentState {
    /// Whether the provider is done with it: no state follows.
    pub fn is_final(self) -> bool {
        matches!(self, P::Captured | P::Canceled | P::Expired | P::Failed)
    }

    /// Whether a provider's report of `next` moves the payment (staying put is not a move).
    pub fn may_become(self, next: PaymentState) -> bool {
        STATE_TRANSITIONS.contains(&(self, next))
    }
}

/// What happened to a payment's money: one row of its append-only ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// The provider holds this much for capture.
    Authorized,
    CaptureRequested,
    CaptureSucceeded,
    CaptureFailed,
    VoidRequested,
    VoidSucceeded,
    VoidFailed,
    RefundRequested,
    RefundSucceeded,
    RefundFailed,
    /// Paid outside any provider (bank transfer, cash on delivery), recorded by an admin with
    /// a reference: authorized and captured at once.
    ManualPayment,
    /// The uncaptured rest of an authorization lapsed.
    AuthorizationExpired,
}

crate::names!(EntryKind, "invalid_entry_kind" {
    Authorized => "authorized",
    CaptureRequested => "capture_requested",
    CaptureSucceeded => "capture_succeeded",
    CaptureFailed => "capture_failed",
    VoidRequested => "void_requested",
    VoidSucceeded => "void_succeeded",
    VoidFailed => "void_failed",
    RefundRequested => "refund_requested",
    RefundSucceeded => "refund_succeeded",
    RefundFailed => "refund_failed",
    ManualPayment => "manual_payment",
    AuthorizationExpired => "authorization_expired",
});

impl EntryKind {
    /// A request to the provider, whose outcome comes later.
    pub fn is_request(self) -> bool {
        matches!(
            self,
            EntryKind::CaptureRequested | EntryKind::VoidRequested | EntryKind::RefundRequested
        )
    }

    /// For an outcome: the kind of request it ends.
    pub fn request_of(self) -> Option<EntryKind> {
        use EntryKind as K;
        match self {
            K::CaptureSucceeded | K::CaptureFailed => Some(K::CaptureRequested),
            K::VoidSucceeded | K::VoidFailed => Some(K::VoidRequested),
            K::RefundSucceeded | K::RefundFailed => Some(K::RefundRequested),
            _ => None,
        }
    }
}

/// One ledger row, as the fold needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub kind: EntryKind,
    /// Minor units, in the payment's currency; never negative.
    pub amount: i64,
    /// For a request's outcome: the request it ends (its ledger row), so an outcome counted
    /// twice is counted once. `None` for what the provider did on its own (an automatic
    /// capture, an authorization).
    pub request: Option<uuid::Uuid>,
    /// This row's own id (a request's outcome names it).
    pub id: uuid::Uuid,
}

/// A payment's money, folded from its ledger (minor units, one currency).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amounts {
    pub authorized: i64,
    pub captured: i64,
    pub voided: i64,
    pub refunded: i64,
    /// Asked of the provider, outcome not known yet.
    pub capturing: i64,
    pub voiding: i64,
    pub refunding: i64,
}

/// Why a command on a payment is refused (the money would not add up).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the amount must be more than zero")]
    NotPositive,
    #[error("only {available} can still be captured ({capturing} is being captured)")]
    CaptureExceeds { available: i64, capturing: i64 },
    #[error("nothing is left to void: {available} is authorized and not captured or voided")]
    NothingToVoid { available: i64 },
    #[error("only {available} can still be refunded ({refunding} is being refunded)")]
    RefundExceeds { available: i64, refunding: i64 },
}

impl Refused {
    pub fn code(&self) -> &'static str {
        match self {
            Refused::NotPositive => "invalid_amount",
            Refused::CaptureExceeds { .. } => "capture_exceeds_authorized",
            Refused::NothingToVoid { .. } => "nothing_to_void",
            Refused::RefundExceeds { .. } => "refund_exceeds_captured",
        }
    }
}

impl Amounts {
    /// Folds a ledger, oldest row first. An outcome whose request was already ended (a
    /// duplicate) is ignored; an outcome of no request is the provider's own doing.
    pub fn fold(entries: &[Entry]) -> Amounts {
        use std::collections::HashMap;
        let mut a = Amounts::default();
        // Requests still open: id → (kind, amount).
        let mut open: HashMap<uuid::Uuid, (EntryKind, i64)> = HashMap::new();
        for e in entries {
            let ended = match (e.kind.request_of(), e.request) {
                (None, _) => {
                    if e.kind.is_request() {
                        open.insert(e.id, (e.kind, e.amount));
                    }
                    None
                }
                // Ends its request once; a second outcome of it counts for nothing.
                (Some(asked), Some(r)) => match open.remove(&r) {
                    Some((kind, amount)) if kind == asked => Some(amount),
                    _ => continue,
                },
                (Some(_), None) => Some(0),
            };
            a.record(e.kind, e.amount, ended);
        }
        a
    }

    /// Adds one ledger row. For an outcome, `asked` is what its request asked for (`Some(0)`
    /// for the provider's own doing, which ended no request of Ordo's); the caller has made
    /// sure the request was open (the ledger stores one outcome per request).
    pub fn record(&mut self, kind: EntryKind, amount: i64, asked: Option<i64>) {
        use EntryKind as K;
        let asked = asked.unwrap_or(0);
        let a = self;
        match kind {
            K::Authorized => a.authorized += amount,
            K::ManualPayment => {
                a.authorized += amount;
                a.captured += amount;
            }
            K::CaptureRequested => a.capturing += amount,
            K::VoidRequested => a.voiding += amount,
            K::RefundRequested => a.refunding += amount,
            K::CaptureSucceeded | K::CaptureFailed => {
                a.capturing -= asked;
                if kind == K::CaptureSucceeded {
                    a.captured += amount;
                }
            }
            K::VoidSucceeded | K::VoidFailed => {
                a.voiding -= asked;
                if kind == K::VoidSucceeded {
                    a.voided += amount;
                }
            }
            K::RefundSucceeded | K::RefundFailed => {
                a.refunding -= asked;
                if kind == K::RefundSucceeded {
                    a.refunded += amount;
                }
            }
            K::AuthorizationExpired => a.voided += amount,
        }
    }

    /// What may still be captured: authorized, less what is captured, voided or on its way.
    pub fn capturable(&self) -> i64 {
        self.authorized - self.voided - self.voiding - self.captured - self.capturing
    }

    /// What may still be refunded: captured, less what is refunded or on its way.
    pub fn refundable(&self) -> i64 {
        self.captured - self.refunded - self.refunding
    }

    /// Checks a capture of `amount` against the invariants.
    pub fn check_capture(&self, amount: i64) -> Result<(), Refused> {
        if amount <= 0 {
            return Err(Refused::NotPositive);
        }
        if amount > self.capturable() {
            return Err(Refused::CaptureExceeds {
                available: self.capturable().max(0),
                capturing: self.capturing,
            });
        }
        Ok(())
    }

    /// The amount a void releases (all that is authorized and not captured), if any.
    pub fn check_void(&self) -> Result<i64, Refused> {
        match self.capturable() {
            n if n > 0 => Ok(n),
            n => Err(Refused::NothingToVoid {
                available: n.max(0),
            }),
        }
    }

    /// Checks a refund of `amount` against the invariants.
    pub fn check_refund(&self, amount: i64) -> Result<(), Refused> {
        if amount <= 0 {
            return Err(Refused::NotPositive);
        }
        if amount > self.refundable() {
            return Err(Refused::RefundExceeds {
                available: self.refundable().max(0),
                refunding: self.refunding,
            });
        }
        Ok(())
    }

    /// Whether the amounts keep every invariant (what the database's CHECKs also hold).
    pub fn consistent(&self) -> bool {
        [
            self.authorized,
            self.captured,
            self.voided,
            self.refunded,
            self.capturing,
            self.voiding,
            self.refunding,
        ]
        .iter()
        .all(|n| *n >= 0)
            && self.captured + self.capturing + self.voided + self.voiding <= self.authorized
            && self.refunded + self.refunding <= self.captured
    }
}

/// An order's payment status, as customers and staff read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Authorized,
    PartiallyPaid,
    Paid,
    PartiallyRefunded,
    Refunded,
    Voided,
    Failed,
    Expired,
}

crate::names!(PaymentStatus, "invalid_payment_status" {
    Pending => "pending",
    Authorized => "authorized",
    PartiallyPaid => "partially_paid",
    Paid => "paid",
    PartiallyRefunded => "partially_refunded",
    Refunded => "refunded",
    Voided => "voided",
    Failed => "failed",
    Expired => "expired",
});

/// The status of money `due` against a payment's amounts and state: a pure function, so it
/// can never go stale.
pub fn payment_status(amounts: &Amounts, state: PaymentState, due: i64) -> PaymentStatus {
    use PaymentStatus as S;
    let a = amounts;
    if a.refunded > 0 {
        return if a.refunded >= a.captured {
            S::Refunded
        } else {
            S::PartiallyRefunded
        };
    }
    if a.captured > 0 {
        return if a.captured >= due {
            S::Paid
        } else {
            S::PartiallyPaid
        };
    }
    match state {
        P::Expired => S::Expired,
        P::Failed => S::Failed,
        _ if a.authorized > 0 && a.voided >= a.authorized => S::Voided,
        _ if a.authorized - a.voided > 0 => S::Authorized,
        _ => S::Pending,
    }
}

/// A share of a payment: which vendor order it pays for, and how much of the payment's total
/// is that order's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share<K> {
    pub key: K,
    pub due: i64,
}

/// Splits `amount` over shares in proportion to what each is due, in whole minor units: each
/// gets the floor of its part, and the few units left go one each to the largest remainders
/// (ties to the earlier share), so the parts always add up to `amount` exactly.
pub fn split<K: Copy>(amount: i64, shares: &[Share<K>]) -> Vec<(K, i64)> {
    let total: i64 = shares.iter().map(|s| s.due).sum();
    if total <= 0 {
        return shares.iter().map(|s| (s.key, 0)).collect();
    }
    let amount128 = i128::from(amount);
    let total128 = i128::from(total);
    let mut parts: Vec<(usize, i64, i128)> = shares
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let exact = amount128 * i128::from(s.due);
            (i, (exact / total128) as i64, exact % total128)
        })
        .collect();
    let mut left = amount - parts.iter().map(|p| p.1).sum::<i64>();
    let mut by_remainder: Vec<usize> = (0..parts.len()).collect();
    by_remainder.sort_by(|x, y| parts[*y].2.cmp(&parts[*x].2).then(x.cmp(y)));
    for i in by_remainder {
        if left == 0 {
            break;
        }
        parts[i].1 += 1;
        left -= 1;
    }
    parts
        .into_iter()
        .map(|(i, part, _)| (shares[i].key, part))
        .collect()
}

/// A ledger account money moves between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "account", content = "id", rename_all = "snake_case")]
pub enum Account {
    /// Money the payment provider holds for the platform (captured, not yet paid out).
    ProviderClearing,
    /// What the platform owes a vendor.
    VendorPayable(crate::ids::VendorId),
    /// The platform's commission.
    PlatformRevenue,
    /// Money paid out to vendors.
    Payouts,
}

/// One side of a double-entry posting: positive debits, negative credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub account: Account,
    pub amount: i64,
}

/// Commission as basis points (1/100 of a percent): 1,250 = 12.5 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commission(u16);

impl Commission {
    pub fn basis_points(bp: u16) -> Result<Self, ParseError> {
        if bp > 10_000 {
            return Err(ParseError::new(
                "invalid_commission",
                "commission must be 0 to 10,000 basis points (0–100 %)",
            ));
        }
        Ok(Self(bp))
    }

    /// The platform's part of `amount`, rounded down (the vendor keeps the odd unit).
    pub fn of(self, amount: i64) -> i64 {
        (i128::from(amount) * i128::from(self.0) / 10_000) as i64
    }
}

/// What one kind of money movement posts, balanced (the amounts sum to zero):
/// a capture for a vendor's order credits the vendor (less commission) and the platform; a
/// refund reverses both in proportion; a payout pays the vendor out.
pub fn postings(
    movement: Movement,
    vendor: crate::ids::VendorId,
    commission: Commission,
) -> Vec<Posting> {
    let post = |account, amount| Posting { account, amount };
    match movement {
        Movement::Captured(amount) => {
            let platform = commission.of(amount);
            vec![
                post(Account::ProviderClearing, amount),
                post(Account::VendorPayable(vendor), -(amount - platform)),
                post(Account::PlatformRevenue, -platform),
            ]
        }
        Movement::Refunded(amount) => {
            let platform = commission.of(amount);
            vec![
                post(Account::ProviderClearing, -amount),
                post(Account::VendorPayable(vendor), amount - platform),
                post(Account::PlatformRevenue, platform),
            ]
        }
        Movement::PaidOut(amount) => vec![
            post(Account::VendorPayable(vendor), amount),
            post(Account::Payouts, -amount),
        ],
    }
}

/// Money that moved, for [`postings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    Captured(i64),
    Refunded(i64),
    PaidOut(i64),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(kind: EntryKind, amount: i64, request: Option<uuid::Uuid>) -> Entry {
        Entry {
            kind,
            amount,
            request,
            id: uuid::Uuid::now_v7(),
        }
    }

    #[test]
    fn a_duplicate_outcome_counts_once_and_a_failed_request_frees_its_amount() {
        use EntryKind as K;
        let auth = entry(K::Authorized, 10_000, None);
        let capture = entry(K::CaptureRequested, 6_000, None);
        let ok = entry(K::CaptureSucceeded, 6_000, Some(capture.id));
        let refund = entry(K::RefundRequested, 2_000, None);
        let failed = entry(K::RefundFailed, 2_000, Some(refund.id));
        let a = Amounts::fold(&[auth, capture, ok, ok, refund, failed, failed]);
        assert_eq!(
            a,
            Amounts {
                authorized: 10_000,
                captured: 6_000,
                ..Amounts::default()
            }
        );
        assert!(a.consistent());
        assert_eq!(a.capturable(), 4_000);
        assert_eq!(a.refundable(), 6_000);
        assert_eq!(
            payment_status(&a, P::Captured, 10_000),
            PaymentStatus::PartiallyPaid
        );
    }

    #[test]
    fn in_flight_amounts_count_against_the_caps() {
        use EntryKind as K;
        let a = Amounts::fold(&[
            entry(K::Authorized, 10_000, None),
            entry(K::CaptureSucceeded, 10_000, None),
            entry(K::RefundRequested, 3_000, None),
            entry(K::RefundRequested, 3_000, None),
            entry(K::RefundRequested, 3_000, None),
        ]);
        assert_eq!(
            a.check_refund(3_000),
            Err(Refused::RefundExceeds {
                available: 1_000,
                refunding: 9_000
            })
        );
        assert!(a.check_refund(1_000).is_ok());
        assert_eq!(
            a.check_capture(1),
            Err(Refused::CaptureExceeds {
                available: 0,
                capturing: 0
            })
        );
        assert_eq!(a.check_refund(0), Err(Refused::NotPositive));
    }

    #[test]
    fn states_never_move_backwards() {
        for s in PaymentState::ALL.iter().filter(|s| s.is_final()) {
            assert!(
                PaymentState::ALL.iter().all(|n| !s.may_become(*n)),
                "{s} is final"
            );
        }
        assert!(!P::Captured.may_become(P::Failed));
        assert!(!P::Captured.may_become(P::RequiresAction));
        assert!(
            P::RequiresAction.may_become(P::RequiresPaymentMethod),
            "a declined 3-D Secure step"
        );
        assert!(P::Authorized.may_become(P::Expired));
    }

    #[test]
    fn the_status_follows_the_money() {
        use PaymentStatus as S;
        let amounts = |authorized, captured, voided, refunded| Amounts {
            authorized,
            captured,
            voided,
            refunded,
            ..Amounts::default()
        };
        let due = 5_000;
        assert_eq!(
            payment_status(&amounts(0, 0, 0, 0), P::RequiresPaymentMethod, due),
            S::Pending
        );
        assert_eq!(
            payment_status(&amounts(5_000, 0, 0, 0), P::Authorized, due),
            S::Authorized
        );
        assert_eq!(
            payment_status(&amounts(5_000, 5_000, 0, 0), P::Captured, due),
            S::Paid
        );
        assert_eq!(
            payment_status(&amounts(5_000, 2_000, 3_000, 0), P::Captured, due),
            S::PartiallyPaid
        );
        assert_eq!(
            payment_status(&amounts(5_000, 5_000, 0, 1), P::Captured, due),
            S::PartiallyRefunded
        );
        assert_eq!(
            payment_status(&amounts(5_000, 5_000, 0, 5_000), P::Captured, due),
            S::Refunded
        );
        assert_eq!(
            payment_status(&amounts(5_000, 0, 5_000, 0), P::Canceled, due),
            S::Voided
        );
        assert_eq!(
            payment_status(&amounts(5_000, 0, 5_000, 0), P::Expired, due),
            S::Expired
        );
        assert_eq!(
            payment_status(&amounts(0, 0, 0, 0), P::Failed, due),
            S::Failed
        );
    }

    #[test]
    fn commission_is_rounded_down_and_refused_above_all() {
        let c = Commission::basis_points(1_250).unwrap();
        assert_eq!(c.of(999), 124);
        assert!(Commission::basis_points(10_001).is_err());
    }

    fn kind() -> impl Strategy<Value = u8> {
        0u8..6
    }

    proptest! {
        /// Any sequence of commands that the checks let through, with any outcomes (some
        /// reported twice), keeps every invariant.
        #[test]
        fn checked_commands_keep_the_invariants(
            authorized in 1i64..1_000_000,
            steps in proptest::collection::vec((kind(), 1i64..400_000, any::<bool>(), any::<bool>()), 0..60),
        ) {
            use EntryKind as K;
            let mut ledger = vec![entry(K::Authorized, authorized, None)];
            let mut open: Vec<Entry> = Vec::new();
            for (k, amount, succeed, twice) in steps {
                let a = Amounts::fold(&ledger);
                prop_assert!(a.consistent(), "{a:?}");
                match k {
                    0 if a.check_capture(amount).is_ok() => {
                        let r = entry(K::CaptureRequested, amount, None);
                        ledger.push(r);
                        open.push(r);
                    }
                    1 if a.check_refund(amount).is_ok() => {
                        let r = entry(K::RefundRequested, amount, None);
                        ledger.push(r);
                        open.push(r);
                    }
                    2 => if let Ok(rest) = a.check_void() {
                        let r = entry(K::VoidRequested, rest, None);
                        ledger.push(r);
                        open.push(r);
                    },
                    _ => if let Some(r) = open.pop() {
                        let outcome = match (r.kind, succeed) {
                            (K::CaptureRequested, true) => K::CaptureSucceeded,
                            (K::CaptureRequested, false) => K::CaptureFailed,
                            (K::RefundRequested, true) => K::RefundSucceeded,
                            (K::RefundRequested, false) => K::RefundFailed,
                            (K::VoidRequested, true) => K::VoidSucceeded,
                            _ => K::VoidFailed,
                        };
                        let o = entry(outcome, r.amount, Some(r.id));
                        ledger.push(o);
                        if twice {
                            ledger.push(o);
                        }
                    },
                }
            }
            let a = Amounts::fold(&ledger);
            prop_assert!(a.consistent(), "{a:?}");
        }

        /// A split adds up to the amount exactly, and no part strays a unit from its share.
        #[test]
        fn splits_add_up(amount in 0i64..10_000_000, dues in proptest::collection::vec(1i64..1_000_000, 1..8)) {
            let shares: Vec<Share<usize>> = dues.iter().enumerate().map(|(key, due)| Share { key, due: *due }).collect();
            let parts = split(amount, &shares);
            prop_assert_eq!(parts.iter().map(|p| p.1).sum::<i64>(), amount);
            let total: i64 = dues.iter().sum();
            for ((_, part), due) in parts.iter().zip(&dues) {
                let exact = amount as f64 * *due as f64 / total as f64;
                prop_assert!((*part as f64 - exact).abs() < 1.0 + 1e-9, "{part} vs {exact}");
            }
        }

        /// Every posting set balances, and a refund of a capture undoes it exactly.
        #[test]
        fn postings_balance(amount in 0i64..100_000_000, bp in 0u16..=10_000) {
            let vendor = crate::ids::VendorId::new();
            let c = Commission::basis_points(bp).unwrap();
            for m in [Movement::Captured(amount), Movement::Refunded(amount), Movement::PaidOut(amount)] {
                prop_assert_eq!(postings(m, vendor, c).iter().map(|p| p.amount).sum::<i64>(), 0);
            }
            let mut net = std::collections::HashMap::new();
            for p in postings(Movement::Captured(amount), vendor, c).into_iter().chain(postings(Movement::Refunded(amount), vendor, c)) {
                *net.entry(p.account).or_insert(0) += p.amount;
            }
            prop_assert!(net.values().all(|v| *v == 0));
        }
    }
}
