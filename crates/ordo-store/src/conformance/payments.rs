//! Conformance of payments and their ledger.

use chrono::{SubsecRound, TimeZone, Utc};
use ordo_domain::identity::Actor;
use ordo_domain::ids::VendorId;
use ordo_domain::order::Order;

use super::{eur, fixture, order_for, placed, unit};
use crate::{OrderScope, Store, StoreError, constraints};

/// The database's side of the payment invariants: amounts that would capture more than was
/// authorized or refund more than was captured are refused by CHECK, a stale write by version;
/// a request's outcome, a provider reference and a webhook event are each stored once; an
/// order has one payment.
pub async fn payments_keep_their_money_invariants_and_take_each_outcome_once(store: &dyn Store) {
    use ordo_domain::payment::{Amounts, CapturePolicy, EntryKind, PaymentState};

    use crate::{Payment, PaymentAllocation, PaymentDraft, PaymentEntry};
    let f = fixture(store, "pay").await;
    let order = order_for(&f, Utc::now());
    let at = Utc::now().trunc_subsecs(6);
    let draft = PaymentDraft {
        id: uuid::Uuid::now_v7(),
        checkout_id: order.checkout_id,
        customer_id: f.customer.id,
        provider: "sandbox".into(),
        provider_ref: Some("sbx_pay_1".into()),
        currency: eur(),
        amount: order.total.amount,
        capture_policy: CapturePolicy::Manual,
        capture_before: Some(at + chrono::Duration::days(7)),
        client_secret: Some("sbx_pay_1_secret".into()),
        created_at: at,
    };
    // Stored as they are (`Payment::stored`): these check what the database itself refuses,
    // whatever the code would ask.
    let payment = Payment::stored(
        draft.clone(),
        PaymentState::Authorized,
        Amounts {
            authorized: order.total.amount,
            ..Amounts::default()
        },
    );
    let share = PaymentAllocation {
        order_id: order.id,
        vendor_id: f.vendor,
        amount: order.total.amount,
        commission_bp: 1_250,
    };
    let (o, p) = (order.clone(), payment.clone());
    unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_order(&o, &placed(&o)).await?;
            tx.insert_payment(&p, &[share]).await
        })
    })
    .await
    .unwrap();
    assert_eq!(
        store.order_payment(order.id).await.unwrap().as_ref(),
        Some(&payment)
    );
    assert_eq!(
        store.payment_allocations(payment.id).await.unwrap(),
        vec![share]
    );

    // A second payment for the same order is refused.
    let mut twin = payment.clone();
    twin.id = uuid::Uuid::now_v7();
    twin.provider_ref = Some("sbx_pay_2".into());
    let err = unit(store, move |tx| {
        Box::pin(async move { tx.insert_payment(&twin, &[share]).await })
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::PAYMENT_ALLOCATIONS_ORDER_KEY),
        "{err:?}"
    );

    // Amounts that break an invariant never reach the table, whatever the code asks.
    let total = order.total.amount;
    for (amounts, constraint) in [
        (
            Amounts {
                authorized: total,
                captured: total,
                capturing: 1,
                ..Amounts::default()
            },
            constraints::PAYMENTS_CAPTURE_WITHIN_AUTHORIZED,
        ),
        (
            Amounts {
                authorized: total,
                captured: 10,
                refunded: 5,
                refunding: 6,
                ..Amounts::default()
            },
            constraints::PAYMENTS_REFUND_WITHIN_CAPTURED,
        ),
        (
            Amounts {
                authorized: total,
                voiding: -1,
                ..Amounts::default()
            },
            constraints::PAYMENTS_AMOUNTS_NOT_NEGATIVE,
        ),
    ] {
        let mut bad = Payment::stored(draft.clone(), PaymentState::Authorized, amounts);
        bad.version = 2;
        let err = unit(store, move |tx| {
            Box::pin(async move { tx.update_payment(&bad, 1).await })
        })
        .await
        .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(c) if c == constraint),
            "{amounts:?}: {err:?}"
        );
    }
    let mut captured = Payment::stored(
        draft.clone(),
        PaymentState::Captured,
        Amounts {
            captured: total,
            ..payment.amounts()
        },
    );
    captured.version = 2;
    let ok = captured.clone();
    unit(store, move |tx| {
        Box::pin(async move { tx.update_payment(&ok, 1).await })
    })
    .await
    .unwrap();
    let stale = captured.clone();
    let err = unit(store, move |tx| {
        Box::pin(async move { tx.update_payment(&stale, 1).await })
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(c) if c == constraints::PAYMENTS_VERSION),
        "{err:?}"
    );
    assert_eq!(store.payment(payment.id).await.unwrap(), Some(captured));

    // Each outcome is stored once; so is each provider reference and each webhook event.
    let entry = |kind, amount, request_id, provider_ref: Option<&str>| PaymentEntry {
        id: uuid::Uuid::now_v7(),
        payment_id: payment.id,
        order_id: Some(order.id),
        kind,
        amount,
        request_id,
        provider_ref: provider_ref.map(str::to_owned),
        actor: Some(Actor::system()),
        reason: None,
        reference: None,
        detail: None,
        created_at: at,
    };
    let request = entry(EntryKind::RefundRequested, 500, None, None);
    let first = entry(
        EntryKind::RefundSucceeded,
        500,
        Some(request.id),
        Some("re_1"),
    );
    let repeat = entry(
        EntryKind::RefundSucceeded,
        500,
        Some(request.id),
        Some("re_1b"),
    );
    let same_ref = entry(EntryKind::CaptureSucceeded, total, None, Some("ch_1"));
    let same_ref_again = entry(EntryKind::CaptureSucceeded, total, None, Some("ch_1"));
    let rows = [
        request.clone(),
        first.clone(),
        repeat,
        same_ref.clone(),
        same_ref_again,
    ];
    let taken = unit(store, move |tx| {
        Box::pin(async move {
            let mut taken = Vec::new();
            for r in &rows {
                taken.push(tx.append_payment_entry(r).await?);
            }
            taken.push(tx.take_payment_event("stripe", "evt_1", Utc::now()).await?);
            taken.push(tx.take_payment_event("stripe", "evt_1", Utc::now()).await?);
            taken.push(
                tx.take_payment_event("sandbox", "evt_1", Utc::now())
                    .await?,
            );
            Ok(taken)
        })
    })
    .await
    .unwrap();
    assert_eq!(taken, [true, true, false, true, false, true, false, true]);
    let ledger = store.payment_entries(payment.id).await.unwrap();
    assert_eq!(ledger, vec![request, first, same_ref]);
    // Inside a transaction: the order's payment (locked) and the same ledger.
    let (order_id, payment_id) = (order.id, payment.id);
    let (locked, in_tx) = unit(store, move |tx| {
        Box::pin(async move {
            Ok((
                tx.order_payment_for_update(order_id).await?,
                tx.payment_ledger(payment_id).await?,
            ))
        })
    })
    .await
    .unwrap();
    assert_eq!(locked.map(|p| p.id), Some(payment.id));
    assert_eq!(in_tx, ledger);
}

/// Money moved on orders is listed per vendor and per period with each share's commission; a
/// payment and its shares load for change, and the shares' statuses are what orders are
/// filtered and found by (cancelled ones still holding money, among them); authorizations about
/// to lapse are found; a vendor's money locks with its payouts, which read back whole; a
/// commission is set only for a vendor that exists.
pub async fn money_rows_shares_payouts_and_commissions_add_up(store: &dyn Store) {
    use ordo_domain::payment::{Amounts, CapturePolicy, EntryKind, PaymentState, PaymentStatus};

    use crate::{Payment, PaymentAllocation, PaymentDraft, PaymentEntry, Payout};
    let f = fixture(store, "money").await;
    let t0 = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let mins = chrono::Duration::minutes;
    let (paid, held) = (order_for(&f, t0), order_for(&f, t0 + mins(1)));
    let total = paid.total.amount;
    let payment = |order: &Order, state, amounts, policy| {
        let draft = PaymentDraft {
            id: uuid::Uuid::now_v7(),
            checkout_id: order.checkout_id,
            customer_id: f.customer.id,
            provider: "sandbox".into(),
            provider_ref: Some(format!("sbx_{}", order.id)),
            currency: eur(),
            amount: total,
            capture_policy: policy,
            capture_before: Some(t0 + chrono::Duration::days(7)),
            client_secret: None,
            created_at: t0,
        };
        Payment::stored(draft, state, amounts)
    };
    let captured = payment(
        &paid,
        PaymentState::Captured,
        Amounts {
            authorized: total,
            captured: total,
            refunded: 500,
            ..Amounts::default()
        },
        CapturePolicy::Automatic,
    );
    let authorized = payment(
        &held,
        PaymentState::Authorized,
        Amounts {
            authorized: total,
            ..Amounts::default()
        },
        CapturePolicy::Manual,
    );
    let share = |order: &Order| PaymentAllocation {
        order_id: order.id,
        vendor_id: f.vendor,
        amount: total,
        commission_bp: 1_250,
    };
    let entry = |kind, amount, minutes| PaymentEntry {
        id: uuid::Uuid::now_v7(),
        payment_id: captured.id,
        order_id: Some(paid.id),
        kind,
        amount,
        request_id: None,
        provider_ref: None,
        actor: Some(Actor::system()),
        reason: None,
        reference: None,
        detail: None,
        created_at: t0 + mins(minutes),
    };
    let capture = entry(EntryKind::CaptureSucceeded, total, 2);
    let refund = entry(EntryKind::RefundSucceeded, 500, 3);
    let requested = entry(EntryKind::RefundRequested, 500, 3);
    let (o1, o2, p1, p2, s1, s2) = (
        paid.clone(),
        held.clone(),
        captured.clone(),
        authorized.clone(),
        share(&paid),
        share(&held),
    );
    let (c, r, q) = (capture.clone(), refund.clone(), requested.clone());
    let (locked, shares) = unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_order(&o1, &placed(&o1)).await?;
            tx.insert_order(&o2, &placed(&o2)).await?;
            tx.insert_payment(&p1, &[s1]).await?;
            tx.insert_payment(&p2, &[s2]).await?;
            tx.append_payment_entry(&c).await?;
            tx.append_payment_entry(&q).await?;
            tx.append_payment_entry(&r).await?;
            let locked = tx.payment_for_update(p1.id).await?;
            let shares = tx.payment_shares(p1.id).await?;
            tx.set_share_statuses(p1.id, &[(o1.id, PaymentStatus::PartiallyRefunded)])
                .await?;
            tx.set_share_statuses(p2.id, &[(o2.id, PaymentStatus::Authorized)])
                .await?;
            Ok((locked, shares))
        })
    })
    .await
    .unwrap();
    assert_eq!(locked, Some(captured.clone()));
    assert_eq!(shares, vec![(paid.id, total)]);
    assert_eq!(
        store.payment_entry(refund.id).await.unwrap(),
        Some(refund.clone())
    );
    assert!(
        store
            .payment_entry(uuid::Uuid::now_v7())
            .await
            .unwrap()
            .is_none()
    );
    let scope = OrderScope::Vendor(f.vendor);
    assert_eq!(
        store
            .count_orders(scope, None, Some(PaymentStatus::PartiallyRefunded), 10)
            .await
            .unwrap(),
        1,
        "orders are filtered by their share's status"
    );

    // Money moved: the capture and the refund (not the request), with the share's commission.
    let rows = store.money_rows(Some(f.vendor), None, None).await.unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.entry_id, r.kind, r.amount, r.order_id, r.commission_bp))
            .collect::<Vec<_>>(),
        vec![
            (
                capture.id,
                EntryKind::CaptureSucceeded,
                total,
                paid.id,
                1_250
            ),
            (refund.id, EntryKind::RefundSucceeded, 500, paid.id, 1_250),
        ]
    );
    assert_eq!(rows[0].currency, eur());
    let window = store
        .money_rows(None, Some(t0 + mins(3)), Some(t0 + mins(4)))
        .await
        .unwrap();
    assert_eq!(
        window.iter().map(|r| r.entry_id).collect::<Vec<_>>(),
        vec![refund.id]
    );
    assert!(
        store
            .money_rows(Some(VendorId::new()), None, None)
            .await
            .unwrap()
            .is_empty()
    );

    // Authorizations that lapse before a time.
    assert_eq!(
        store
            .expiring_authorizations(t0 + chrono::Duration::days(8), 10)
            .await
            .unwrap(),
        vec![authorized.id]
    );
    assert!(
        store
            .expiring_authorizations(t0 + chrono::Duration::days(1), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A cancelled order whose share still holds money is a candidate for giving it back.
    assert!(
        store
            .cancelled_orders_holding_money(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let mut cancelled = held.clone();
    let (_, step) = cancelled
        .transition(
            ordo_domain::order::Action::Cancel,
            Actor::of(&f.customer),
            ordo_domain::order::ActionInput::default(),
            t0 + mins(5),
        )
        .unwrap();
    unit(store, move |tx| {
        Box::pin(async move { tx.record_order_changes(&cancelled, &[step]).await })
    })
    .await
    .unwrap();
    assert_eq!(
        store
            .cancelled_orders_holding_money(None, 10)
            .await
            .unwrap(),
        vec![held.id]
    );
    assert!(
        store
            .cancelled_orders_holding_money(Some(held.id), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Payouts against the vendor's locked money; commission set and read back.
    let payout = Payout::request(
        uuid::Uuid::now_v7(),
        f.vendor,
        eur(),
        1_000,
        Actor::of(&f.customer),
        t0 + mins(10),
    );
    let mut paid_out = payout.clone();
    assert!(paid_out.pay(
        Actor::system(),
        t0 + mins(20),
        Some("SEPA «2030-01»".into())
    ));
    assert!(
        !paid_out.clone().pay(Actor::system(), t0 + mins(30), None),
        "a payout is paid once"
    );
    let (vendor, p, po) = (f.vendor, payout.clone(), paid_out.clone());
    let (money, nobody, commission) = unit(store, move |tx| {
        Box::pin(async move {
            let money = tx.vendor_money_for_update(vendor).await?;
            let nobody = tx.vendor_money_for_update(VendorId::new()).await?;
            tx.put_payout(&p).await?;
            tx.put_payout(&po).await?;
            let set = tx.set_vendor_commission(vendor, 900).await?;
            let unknown = tx.set_vendor_commission(VendorId::new(), 900).await?;
            let now = tx.vendor_commission_now(vendor).await?;
            Ok((money, nobody, (set, unknown, now)))
        })
    })
    .await
    .unwrap();
    let (moved, payouts) = money.expect("the vendor's money");
    assert_eq!((moved.len(), payouts.len()), (2, 0));
    assert!(nobody.is_none());
    assert_eq!(commission, (true, false, Some(900)));
    assert_eq!(store.vendor_commission(f.vendor).await.unwrap(), Some(900));
    assert_eq!(
        store.payouts(Some(f.vendor), None, None).await.unwrap(),
        vec![paid_out.clone()]
    );
    assert_eq!(
        store
            .payouts(None, Some(t0), Some(t0 + mins(11)))
            .await
            .unwrap(),
        vec![paid_out]
    );
    assert!(
        store
            .payouts(None, Some(t0 + mins(11)), None)
            .await
            .unwrap()
            .is_empty()
    );
}
