//! Settling a payment with its provider: creating it after its checkout, confirming it with a
//! method, and applying whatever the provider reports — an answer, a webhook, the reconciler's
//! look — under the payment's row lock.
//!
//! A report is applied the same way whoever brings it, and as often as it comes: the state
//! moves only forward (`PaymentState::may_become`), money the provider holds that the ledger
//! lacks is posted once (each such row carries a provider reference stored once), and once an
//! order's share is authorized the order moves to `paid` through the order table in the same
//! transaction. So a webhook that arrives twice, late, or after the answer it repeats changes
//! nothing the second time.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ordo_domain::identity::{Actor, Role};
use ordo_domain::ids::OrderId;
use ordo_domain::order::{Action, ActionInput, Order, OrderStatus};
use ordo_domain::payment::{
    Amounts, CapturePolicy, EntryKind, PaymentState, Share, payment_status, split,
};
use ordo_store::{
    JobEnd, Payment, PaymentAllocation, PaymentEntry, StoreError, StoreTx, constraints,
};
use uuid::Uuid;

use super::refunds::give_back_order;
use super::{NewPayment, PaymentDetail, ProviderError, ProviderPayment};
use crate::{App, AppError, AppResult, with_retry};

/// What a provider said about a payment.
#[derive(Debug, Clone)]
pub(crate) enum Report {
    /// The payment as the provider holds it now.
    Payment(ProviderPayment),
    /// The method was declined; the payment waits for another. With the payment as just
    /// created when the decline answered the first confirmation.
    Declined {
        code: String,
        created: Option<ProviderPayment>,
    },
}

/// A payment after a report was applied, and the orders it moved (to `paid`).
#[derive(Debug, Clone)]
pub(crate) struct Settled {
    pub payment: Payment,
    pub orders: Vec<Order>,
}

/// A payment's money while a transaction changes it: the payment's totals and each order's
/// share, both folded from the ledger and kept up to date row by row.
pub(crate) struct Books {
    pub payment: Payment,
    pub orders: HashMap<OrderId, Amounts>,
    /// Each order's share: what it is due.
    shares: Vec<(OrderId, i64)>,
    /// The ledger as read, and the rows posted since.
    rows: Vec<PaymentEntry>,
    /// The payment as read, to tell whether it changed.
    read: Payment,
}

impl Books {
    /// Locks the payment and reads its ledger.
    pub async fn open(tx: &mut dyn StoreTx, id: Uuid) -> AppResult<Books> {
        let payment = tx
            .payment_for_update(id)
            .await?
            .ok_or(AppError::NotFound("payment"))?;
        Self::of(tx, payment).await
    }

    pub async fn of(tx: &mut dyn StoreTx, payment: Payment) -> AppResult<Books> {
        let ledger = tx.payment_ledger(payment.id).await?;
        let shares = tx.payment_shares(payment.id).await?;
        let mut orders: HashMap<OrderId, Vec<_>> = HashMap::new();
        for e in &ledger {
            if let Some(o) = e.order_id {
                orders.entry(o).or_default().push(e.entry());
            }
        }
        Ok(Books {
            rows: ledger,
            read: payment.clone(),
            orders: orders
                .into_iter()
                .map(|(o, rows)| (o, Amounts::fold(&rows)))
                .collect(),
            shares,
            payment,
        })
    }

    pub fn order(&self, id: OrderId) -> Amounts {
        self.orders.get(&id).copied().unwrap_or_default()
    }

    /// What of order `id`'s money was paid by hand and is not yet given back by hand.
    pub fn by_hand(&self, id: OrderId) -> i64 {
        super::held_by_hand(&self.rows, id)
    }

    /// Adds a ledger row and its effect on the amounts; `false` (nothing changed) when the
    /// ledger already holds it. `asked`: for an outcome of a request, what the request asked.
    pub async fn post(
        &mut self,
        tx: &mut dyn StoreTx,
        entry: &PaymentEntry,
        asked: Option<i64>,
    ) -> AppResult<bool> {
        if !tx.append_payment_entry(entry).await? {
            return Ok(false);
        }
        self.rows.push(entry.clone());
        self.payment.record(entry.kind, entry.amount, asked);
        if let Some(o) = entry.order_id {
            self.orders
                .entry(o)
                .or_default()
                .record(entry.kind, entry.amount, asked);
        }
        Ok(true)
    }

    /// Writes the payment back if anything changed (a collision with another writer of it is
    /// a retry), and with it the payment status of each order's share (what orders are
    /// filtered by).
    pub async fn save(&mut self, tx: &mut dyn StoreTx, now: DateTime<Utc>) -> AppResult<()> {
        if self.read == self.payment {
            return Ok(());
        }
        let expected = self.read.version;
        self.payment.version = expected + 1;
        self.payment.updated_at = now;
        match tx.update_payment(&self.payment, expected).await {
            Err(StoreError::Conflict(name)) if name == constraints::PAYMENTS_VERSION => {
                return Err(AppError::Contention);
            }
            Err(StoreError::Conflict(name)) => {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "the payment's money would not add up ({name}): refused by the database"
                )));
            }
            other => other?,
        }
        let statuses: Vec<_> = self
            .shares
            .iter()
            .map(|&(order, due)| {
                let status = payment_status(&self.order(order), self.payment.state(), due);
                (order, status)
            })
            .collect();
        tx.set_share_statuses(self.payment.id, &statuses).await?;
        Ok(())
    }
}

/// A ledger row of `kind` for `order`, as Ordo or its provider records it.
pub(crate) fn entry(
    payment: &Payment,
    order: Option<OrderId>,
    kind: EntryKind,
    amount: i64,
    now: DateTime<Utc>,
) -> PaymentEntry {
    PaymentEntry {
        id: Uuid::now_v7(),
        payment_id: payment.id,
        order_id: order,
        kind,
        amount,
        request_id: None,
        provider_ref: None,
        actor: None,
        reason: None,
        reference: None,
        detail: None,
        created_at: now,
    }
}

/// Applies a provider's report to payment `id` (see the module docs), and pays the orders
/// whose share is now authorized. Returns the payment as it now stands.
pub(crate) async fn apply(
    tx: &mut dyn StoreTx,
    id: Uuid,
    report: &Report,
    allocations: &[PaymentAllocation],
    authorization_ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> AppResult<Settled> {
    let mut books = Books::open(tx, id).await?;
    // Which shares were authorized before this report: money that arrives now for an order
    // already cancelled goes back; what an order held before is not this report's to move.
    let held_before: Vec<OrderId> = allocations
        .iter()
        .map(|a| a.order_id)
        .filter(|o| books.order(*o).authorized > 0)
        .collect();
    match report {
        Report::Declined { code, created } => {
            if let Some(pp) = created {
                take_in(tx, &mut books, pp, allocations, authorization_ttl, now).await?;
            }
            if books.payment.state() == PaymentState::RequiresPaymentMethod {
                books.payment.decline_code = Some(code.clone());
            }
        }
        Report::Payment(pp) => {
            take_in(tx, &mut books, pp, allocations, authorization_ttl, now).await?;
        }
    }
    books.save(tx, now).await?;
    let (mut orders, mut gave_back) = (Vec::new(), false);
    if matches!(
        books.payment.state(),
        PaymentState::Authorized | PaymentState::Captured
    ) {
        for a in allocations {
            if books.order(a.order_id).authorized < a.amount {
                continue;
            }
            match pay_order(tx, a.order_id, now).await? {
                Paid::Moved(order) => orders.push(*order),
                Paid::Cancelled(_) if held_before.contains(&a.order_id) => {}
                Paid::Cancelled(why) => {
                    // Money for an order that is not going to be sent goes straight back.
                    let reason = Some(why.to_owned());
                    let order = a.order_id;
                    let given = give_back_order(tx, order, Actor::system(), reason, now).await?;
                    gave_back |= !given.is_empty();
                }
                Paid::Already => {}
            }
        }
    }
    if gave_back {
        books.payment = tx
            .payment_for_update(id)
            .await?
            .ok_or(AppError::NotFound("payment"))?;
    }
    Ok(Settled {
        payment: books.payment,
        orders,
    })
}

/// Folds what the provider holds into the books: its reference and state, the authorization,
/// a capture it made by itself, and the uncaptured rest it let go.
async fn take_in(
    tx: &mut dyn StoreTx,
    books: &mut Books,
    pp: &ProviderPayment,
    allocations: &[PaymentAllocation],
    authorization_ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let p = &mut books.payment;
    match &p.provider_ref {
        None => p.provider_ref = Some(pp.reference.clone()),
        Some(mine) if *mine != pp.reference => {
            return Err(AppError::Internal(anyhow::anyhow!(
                "the provider reported {} for payment {} ({mine})",
                pp.reference,
                p.id
            )));
        }
        Some(_) => {}
    }
    if p.client_secret.is_none() {
        p.client_secret.clone_from(&pp.client_secret);
    }
    p.report(pp.state);
    match p.state() {
        PaymentState::RequiresPaymentMethod if pp.decline.is_some() => {
            p.decline_code.clone_from(&pp.decline);
        }
        PaymentState::Authorized | PaymentState::Captured => p.decline_code = None,
        _ => {}
    }
    let reference = pp.reference.clone();
    let held = matches!(pp.state, PaymentState::Authorized | PaymentState::Captured);
    if held && p.amounts().authorized == 0 {
        if p.capture_policy == CapturePolicy::Manual {
            p.capture_before = Some(now + authorization_ttl);
        }
        for a in allocations {
            let mut row = entry(
                &books.payment,
                Some(a.order_id),
                EntryKind::Authorized,
                a.amount,
                now,
            );
            row.provider_ref = Some(format!("{reference}/authorized/{}", a.order_id));
            books.post(tx, &row, None).await?;
        }
    }
    // A capture the provider made by itself (automatic capture): shared out by what each
    // order had left to capture. Ordo's own captures end their requests instead.
    let p = &books.payment;
    if p.amounts().capturing == 0 && pp.captured > p.amounts().captured {
        let extra = pp.captured - p.amounts().captured;
        let shares: Vec<Share<OrderId>> = allocations
            .iter()
            .map(|a| Share {
                key: a.order_id,
                due: books.order(a.order_id).capturable().max(0),
            })
            .collect();
        for (order, part) in split(extra, &shares) {
            if part > 0 {
                let mut row = entry(
                    &books.payment,
                    Some(order),
                    EntryKind::CaptureSucceeded,
                    part,
                    now,
                );
                row.provider_ref = Some(format!("{reference}/captured/{order}"));
                books.post(tx, &row, Some(0)).await?;
            }
        }
    }
    // Captured, cancelled or lapsed at the provider: what is left uncaptured is let go.
    let p = &books.payment;
    let ended = matches!(
        p.state(),
        PaymentState::Captured | PaymentState::Canceled | PaymentState::Expired
    );
    if ended && p.amounts().capturing == 0 && p.amounts().voiding == 0 {
        let kind = if p.state() == PaymentState::Expired {
            EntryKind::AuthorizationExpired
        } else {
            EntryKind::VoidSucceeded
        };
        for a in allocations {
            let rest = books.order(a.order_id).capturable();
            if rest > 0 {
                let mut row = entry(&books.payment, Some(a.order_id), kind, rest, now);
                row.provider_ref = Some(format!("{reference}/released/{}", a.order_id));
                books.post(tx, &row, Some(0)).await?;
            }
        }
    }
    Ok(())
}

/// What paying an order did.
enum Paid {
    Moved(Box<Order>),
    /// The order was cancelled (before, or now for want of stock taken at payment).
    Cancelled(&'static str),
    /// Paid or further along already.
    Already,
}

/// Moves a paid-for order to `paid` through the order table (as Ordo itself).
async fn pay_order(tx: &mut dyn StoreTx, order: OrderId, now: DateTime<Utc>) -> AppResult<Paid> {
    let done = crate::orders::act(
        tx,
        &super::Effects,
        &Actor::system(),
        order,
        Action::Pay,
        ActionInput::default(),
        now,
        None,
    )
    .await;
    match done {
        Ok(acted) if acted.short.is_some() => {
            Ok(Paid::Cancelled("out of stock when the payment came"))
        }
        Ok(acted) => Ok(Paid::Moved(Box::new(acted.order))),
        Err(AppError::InvalidTransition {
            status: OrderStatus::Cancelled,
            ..
        }) => Ok(Paid::Cancelled(
            "the payment came after the order was cancelled",
        )),
        Err(AppError::InvalidTransition { .. } | AppError::NotFound(_)) => Ok(Paid::Already),
        Err(e) => Err(e),
    }
}

impl App {
    /// Applies `report` to payment `id` in its own transaction (with retries on collisions).
    pub(crate) async fn apply_report(&self, id: Uuid, report: Report) -> AppResult<Settled> {
        self.apply_once(id, report, None).await?.ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("a report without an event was not applied"))
        })
    }

    /// Applies `report` to payment `id` in its own transaction (with retries on collisions);
    /// with a provider's webhook event (provider, event id), only if that event is taken now,
    /// in the same transaction — `None` when it was taken before.
    async fn apply_once(
        &self,
        id: Uuid,
        report: Report,
        event: Option<(&'static str, String)>,
    ) -> AppResult<Option<Settled>> {
        let allocations = self.store.payment_allocations(id).await?;
        let ttl = self.settings.payments.authorization_ttl;
        with_retry(|| {
            let (report, allocations, now) = (report.clone(), allocations.clone(), self.now());
            let event = event.clone();
            self.write(move |tx| {
                Box::pin(async move {
                    if let Some((provider, event_id)) = &event
                        && !tx.take_payment_event(provider, event_id, now).await?
                    {
                        return Ok(None);
                    }
                    Ok(Some(apply(tx, id, &report, &allocations, ttl, now).await?))
                })
            })
        })
        .await
    }

    /// Settles a provider's answer to a call on payment `id`: applied if it is the payment,
    /// fetched again if the outcome is unknown. `created`: the payment as just created, when
    /// this answers its first confirmation (a decline, or no answer, still records it). A
    /// failure to reach the provider is logged and left to the payment's sync job.
    pub(crate) async fn settle(
        &self,
        id: Uuid,
        reference: &str,
        answer: Result<ProviderPayment, ProviderError>,
        created: Option<ProviderPayment>,
    ) -> AppResult<Settled> {
        let answer = match answer {
            Err(ProviderError::Unknown(why)) => {
                tracing::warn!(payment_id = %id, %why, "payment outcome unknown: fetching it");
                match &self.provider {
                    Some(provider) => provider.fetch(reference).await,
                    None => Err(ProviderError::Unknown(why)),
                }
            }
            other => other,
        };
        let report = match (answer, created) {
            (Ok(pp), _) => Report::Payment(pp),
            (Err(ProviderError::Declined { code }), created) => Report::Declined { code, created },
            (Err(e), created) => {
                tracing::warn!(payment_id = %id, error = %e, "payment not settled now: its sync job will ask again");
                match created {
                    Some(pp) => Report::Payment(pp),
                    None => {
                        let payment = self
                            .store
                            .payment(id)
                            .await?
                            .ok_or(AppError::NotFound("payment"))?;
                        return Ok(Settled {
                            payment,
                            orders: Vec::new(),
                        });
                    }
                }
            }
        };
        self.apply_report(id, report).await
    }

    /// After a checkout committed: creates its payment at the provider and, given a method
    /// (and not a replay), confirms it — both answers applied in one transaction. The orders
    /// are placed whatever happens here; a provider out of reach leaves the payment to its
    /// sync job.
    pub(crate) async fn open_payment(
        &self,
        payment: Payment,
        method: Option<&str>,
        replayed: bool,
    ) -> AppResult<Settled> {
        let Some(provider) = self.provider.clone() else {
            return Ok(Settled {
                payment,
                orders: Vec::new(),
            });
        };
        let method = method.filter(|_| !replayed);
        let id = payment.id;
        if payment.provider_ref.is_none() {
            let created = match provider.create(new_payment(&payment)).await {
                Ok(created) => created,
                Err(e) => {
                    tracing::warn!(payment_id = %id, error = %e, "payment not created at the provider now: its sync job will");
                    return Ok(Settled {
                        payment,
                        orders: Vec::new(),
                    });
                }
            };
            let reference = created.reference.clone();
            return match method {
                Some(m) => {
                    let key = Uuid::now_v7().to_string();
                    let answer = provider.confirm(&reference, m, &key).await;
                    self.settle(id, &reference, answer, Some(created)).await
                }
                None => self.settle(id, &reference, Ok(created), None).await,
            };
        }
        match (method, payment.provider_ref.clone()) {
            (Some(m), Some(reference))
                if payment.state() == PaymentState::RequiresPaymentMethod =>
            {
                let key = Uuid::now_v7().to_string();
                let answer = provider.confirm(&reference, m, &key).await;
                self.settle(id, &reference, answer, None).await
            }
            _ => Ok(Settled {
                payment,
                orders: Vec::new(),
            }),
        }
    }

    /// Pays an unpaid order with `method` (its customer): confirms the order's payment — after
    /// a decline, or when its checkout was placed without a method.
    pub async fn confirm_payment(
        &self,
        actor: &Actor,
        order: OrderId,
        method: &str,
    ) -> AppResult<PaymentDetail> {
        let payment = self.payment_to_pay(actor, order).await?;
        let provider = self.provider.clone().ok_or_else(payments_off)?;
        provider.check_method(method).map_err(|why| {
            AppError::Invalid(
                ordo_domain::ParseError::new("invalid_payment_method", why).at("payment_method"),
            )
        })?;
        let payment = match &payment.provider_ref {
            None => {
                self.open_payment(payment, Some(method), false)
                    .await?
                    .payment
            }
            Some(_) if payment.state() != PaymentState::RequiresPaymentMethod => {
                return Err(AppError::conflict(
                    "payment_not_awaiting_method",
                    format!(
                        "the payment is {}: it is not waiting for a payment method",
                        payment.state()
                    ),
                    None,
                ));
            }
            Some(reference) => {
                let key = Uuid::now_v7().to_string();
                let answer = provider.confirm(reference, method, &key).await;
                self.settle(payment.id, reference, answer, None)
                    .await?
                    .payment
            }
        };
        self.payment_detail(payment).await
    }

    /// The sandbox's "bank page": completes (or fails) the second step a `sandbox_card_3ds`
    /// payment of `order` waits for, as its customer.
    pub async fn authenticate_sandbox_payment(
        &self,
        actor: &Actor,
        order: OrderId,
        success: bool,
    ) -> AppResult<PaymentDetail> {
        let sandbox = std::sync::Arc::clone(self.sandbox()?);
        let payment = self.payment_to_pay(actor, order).await?;
        let reference = match (&payment.provider_ref, payment.state()) {
            (Some(r), PaymentState::RequiresAction) => r.clone(),
            _ => {
                return Err(AppError::conflict(
                    "payment_not_awaiting_action",
                    format!("the payment is {}: no step is waiting", payment.state()),
                    None,
                ));
            }
        };
        sandbox
            .authenticate(&reference, success)
            .map_err(|e| AppError::conflict("payment_not_awaiting_action", e.to_string(), None))?;
        // The sandbox tells Ordo as a provider does: a signed webhook, through the intake.
        let now = self.now();
        let (signature, body) = sandbox
            .webhook(&reference, "payment_intent.updated", now)
            .ok_or(AppError::NotFound("payment"))?;
        self.receive_payment_webhook("sandbox", Some(&signature), &body)
            .await?;
        let payment = self
            .store
            .payment(payment.id)
            .await?
            .ok_or(AppError::NotFound("payment"))?;
        self.payment_detail(payment).await
    }

    /// A provider's webhook (`POST /api/v1/payments/webhooks/{provider}`): checked against its
    /// signature (a bad one, or an old timestamp, is refused and changes nothing), taken once
    /// by its event id, and applied by asking the provider for the payment as it is now — a
    /// webhook may come late, twice or never, so it is a hint, not the truth.
    pub async fn receive_payment_webhook(
        &self,
        provider: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> AppResult<()> {
        let p = self
            .provider
            .clone()
            .filter(|p| p.name() == provider)
            .ok_or(AppError::NotFound("payment provider"))?;
        let event = p
            .verify_webhook(signature, body, self.now())
            .map_err(|why| {
                AppError::Invalid(ordo_domain::ParseError::new("invalid_webhook", why))
            })?;
        let name = p.name();
        let (Some(id), Some(reference)) = (event.ordo_id, event.reference.clone()) else {
            // Not about a payment of Ordo's: taken, so it is not asked about again.
            let at = self.now();
            self.write(move |tx| {
                Box::pin(async move {
                    tx.take_payment_event(name, &event.id, at).await?;
                    Ok(())
                })
            })
            .await?;
            return Ok(());
        };
        let Some(payment) = self.store.payment(id).await? else {
            return Err(AppError::NotFound("payment"));
        };
        if payment
            .provider_ref
            .as_ref()
            .is_some_and(|mine| *mine != reference)
        {
            return Err(AppError::Invalid(ordo_domain::ParseError::new(
                "invalid_webhook",
                "the event's payment is not the one Ordo holds under that id",
            )));
        }
        // The truth, from the provider; unreachable now is a 503 and the provider retries.
        let pp = p
            .fetch(&reference)
            .await
            .map_err(|e| AppError::Unavailable(e.into()))?;
        let applied = self
            .apply_once(id, Report::Payment(pp), Some((name, event.id.clone())))
            .await?
            .is_some();
        tracing::info!(payment_id = %id, event = %event.id, kind = %event.kind, applied, "payment webhook");
        Ok(())
    }

    /// The payment of an order its customer is about to pay.
    async fn payment_to_pay(&self, actor: &Actor, order: OrderId) -> AppResult<Payment> {
        if actor.role != Role::Customer {
            return Err(AppError::Forbidden(
                "customers pay for their own orders".into(),
            ));
        }
        let o = self.order(actor, order).await?;
        if o.status() != OrderStatus::PendingPayment {
            return Err(AppError::conflict(
                "order_not_awaiting_payment",
                format!("the order is {}: there is nothing to pay", o.status()),
                None,
            ));
        }
        self.store.order_payment(order).await?.ok_or_else(|| {
            AppError::conflict("no_payment", "this order has no payment to pay", None)
        })
    }

    /// The `payment.sync` job (the reconciler): asks the provider how payment `id` stands and
    /// applies it — creating it there first if the checkout's own call never made it. Keeps
    /// watching, less and less often, while the payment is unsettled and its orders wait; once
    /// they are all cancelled, an intent still open is cancelled at the provider so it can no
    /// longer be paid.
    pub(crate) async fn sync_payment(&self, id: Uuid) -> AppResult<JobEnd> {
        let (Some(provider), Some(payment)) =
            (self.provider.clone(), self.store.payment(id).await?)
        else {
            return Ok(JobEnd::Done);
        };
        let answer = match &payment.provider_ref {
            None => provider.create(new_payment(&payment)).await,
            Some(reference) => provider.fetch(reference).await,
        };
        let payment = match answer {
            Ok(pp) => self.apply_report(id, Report::Payment(pp)).await?.payment,
            Err(e) => return Err(AppError::Unavailable(e.into())),
        };
        if !matches!(
            payment.state(),
            PaymentState::RequiresPaymentMethod
                | PaymentState::RequiresAction
                | PaymentState::Processing
        ) {
            return Ok(JobEnd::Done);
        }
        let allocations = self.store.payment_allocations(id).await?;
        let mut waiting = false;
        for a in &allocations {
            if let Some(order) = self.store.order(a.order_id).await?
                && order.status() == OrderStatus::PendingPayment
            {
                waiting = true;
            }
        }
        if !waiting {
            if let Some(reference) = &payment.provider_ref {
                let answer = provider.cancel(reference, &format!("{id}/cancel")).await;
                self.settle(id, reference, answer, None).await?;
            }
            return Ok(JobEnd::Done);
        }
        // Half the payment's age: a minute, then about half as often again each time.
        let now = self.now();
        let wait = ((now - payment.created_at) / 2).max(self.settings.payments.sync_after);
        Ok(JobEnd::Again { run_at: now + wait })
    }
}

/// The creation call for a stored payment: its own id is the idempotency key, so the checkout's
/// call and the sync job's create one payment between them.
pub(crate) fn new_payment(p: &Payment) -> NewPayment {
    NewPayment {
        amount: p.amount,
        currency: p.currency,
        capture: p.capture_policy,
        ordo_id: p.id.to_string(),
        idempotency_key: p.id.to_string(),
    }
}

/// A method given where no provider takes payments.
pub(crate) fn payments_off() -> AppError {
    AppError::unprocessable(
        "payments_off",
        "this shop takes no payments through a provider: orders are paid by hand",
        Some("payment_method"),
    )
}
