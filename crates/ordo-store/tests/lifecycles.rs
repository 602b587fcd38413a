//! The lifecycles the store keeps, by their tables: whatever a provider reports, in whatever
//! order and as often as it likes, a payment moves only along its table, never leaves a final
//! state, and its money changes only by ledger rows; an exception is resolved once and
//! escalated only while open; a payout is paid once.

use chrono::{TimeZone, Utc};
use ordo_domain::ids::UserId;
use ordo_domain::money::Currency;
use ordo_domain::payment::{Amounts, CapturePolicy, EntryKind, PaymentState, STATE_TRANSITIONS};
use ordo_store::{ExceptionStatus, Payment, PaymentDraft, Payout, PayoutState};
use proptest::prelude::*;

/// Every state the table knows (a new one is driven through it too).
const STATES: &[PaymentState] = PaymentState::ALL;

fn draft(provider: &str) -> PaymentDraft {
    PaymentDraft {
        id: uuid::Uuid::now_v7(),
        checkout_id: None,
        customer_id: UserId::new(),
        provider: provider.into(),
        provider_ref: None,
        currency: Currency::parse("EUR").unwrap(),
        amount: 5_000,
        capture_policy: CapturePolicy::Manual,
        capture_before: None,
        client_secret: None,
        created_at: Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap(),
    }
}

#[test]
fn a_payment_opens_where_the_table_starts_with_no_money() {
    let open = Payment::open(draft("sandbox"));
    assert_eq!(open.state(), PaymentState::RequiresPaymentMethod);
    assert_eq!(open.amounts(), Amounts::default());
    assert_eq!(open.version, 1);
    let by_hand = Payment::paid_by_hand(draft("manual"));
    assert_eq!(by_hand.state(), PaymentState::Captured);
    assert_eq!(by_hand.amounts(), Amounts::default());
}

proptest! {
    /// Any sequence of reports: each accepted one is a row of the table, each refused one
    /// changes nothing, a final state is never left, and the accepted reports alone, replayed,
    /// end in the same state.
    #[test]
    fn reports_move_a_payment_only_along_the_table(
        reports in proptest::collection::vec(0usize..STATES.len(), 0..50)
    ) {
        let mut payment = Payment::open(draft("sandbox"));
        let mut accepted = Vec::new();
        for i in reports {
            let next = STATES[i];
            let before = payment.clone();
            let moved = payment.report(next);
            if moved {
                prop_assert!(STATE_TRANSITIONS.contains(&(before.state(), next)));
                prop_assert!(!before.state().is_final(), "left final {:?}", before.state());
                prop_assert_eq!(payment.state(), next);
                accepted.push(next);
            } else {
                prop_assert_eq!(&payment, &before, "a refused report changed the payment");
            }
            prop_assert_eq!(payment.amounts(), Amounts::default(), "reports move no money");
        }
        let mut replayed = Payment::open(draft("sandbox"));
        for next in accepted {
            prop_assert!(replayed.report(next));
        }
        prop_assert_eq!(replayed.state(), payment.state());
    }

    /// Money moves only by ledger rows: recording an authorization then a capture changes
    /// the amounts as the ledger's fold does, and the state does not follow by itself.
    #[test]
    fn only_ledger_rows_move_the_money(authorized in 1i64..1_000_000, captured in 0i64..1_000_000) {
        let captured = captured.min(authorized);
        let mut payment = Payment::open(draft("sandbox"));
        payment.record(EntryKind::Authorized, authorized, None);
        payment.record(EntryKind::CaptureRequested, captured, None);
        payment.record(EntryKind::CaptureSucceeded, captured, Some(captured));
        let a = payment.amounts();
        prop_assert_eq!((a.authorized, a.captured, a.capturing), (authorized, captured, 0));
        prop_assert!(a.consistent());
        prop_assert_eq!(payment.state(), PaymentState::RequiresPaymentMethod);
    }
}

#[test]
fn an_exception_is_escalated_only_while_open_and_resolved_once() {
    use ExceptionStatus::{Escalated, Open, Resolved};
    for from in ExceptionStatus::ALL {
        for to in ExceptionStatus::ALL {
            let allowed = matches!(
                (from, to),
                (Open, Escalated) | (Open, Resolved) | (Escalated, Resolved)
            );
            assert_eq!(from.may_become(*to), allowed, "{from} -> {to}");
        }
    }
}

#[test]
fn a_payout_is_paid_once() {
    let at = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let by = ordo_domain::identity::Actor::system();
    let eur = Currency::parse("EUR").unwrap();
    let mut payout = Payout::request(
        uuid::Uuid::now_v7(),
        ordo_domain::ids::VendorId::new(),
        eur,
        500,
        by,
        at,
    );
    assert_eq!(payout.state(), PayoutState::Requested);
    assert!(payout.pay(by, at, Some("SEPA-1".into())));
    let paid = payout.clone();
    assert!(!payout.pay(by, at, Some("SEPA-2".into())), "paid again");
    assert_eq!(payout, paid, "a refused payment changes nothing");
    assert_eq!(payout.reference.as_deref(), Some("SEPA-1"));
}
