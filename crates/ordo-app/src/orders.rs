//! Orders once placed: reading them, and moving them through their lifecycle.
//!
//! Orders are placed by a checkout (`crate::checkout`, which knows this module; this module
//! knows no checkout and no payment). Every step goes through the one transition table
//! (`ordo_domain::order::decide`) and applies the stock effect the table names, in the same
//! transaction as the event that records it; what a step does to the order's money (paid by
//! hand, given back on cancel) is the [`MoneyOfOrders`] the app gives it — the payments'. Paying for stock taken at
//! payment takes it then; if it is gone, the order is cancelled cleanly instead. Unpaid orders
//! whose reservation ran out are cancelled (`payment_timeout`) by [`App::expire_reservations`].

use chrono::{DateTime, Utc};
use ordo_domain::ParseError;
use ordo_domain::catalog::Sku;
use ordo_domain::identity::{Actor, Proof, Role, Sensitive};
use ordo_domain::ids::{OrderId, UserId};
use ordo_domain::inventory::{
    Allocation, Quantity, StockDeduction, StockEffect, StockLevel, allocate,
};
use ordo_domain::order::{
    Action, ActionInput, Order, OrderEvent, OrderStatus, TransitionError, decide,
};
use ordo_domain::payment::PaymentStatus;
use ordo_store::{OrderQuery, OrderScope, StoreError, StoreTx, constraints};

use crate::access::scope_of;
use crate::inventory::note_low_stock;
use crate::{App, AppError, AppResult, with_retry};

/// One page of orders.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub has_more: bool,
}

impl App {
    pub async fn order(&self, actor: &Actor, id: OrderId) -> AppResult<Order> {
        match self.store.order(id).await? {
            Some(order) if order.visible_to(actor) => Ok(order),
            _ => Err(AppError::NotFound("order")),
        }
    }

    /// Orders the actor may see, newest first.
    pub async fn orders(
        &self,
        actor: &Actor,
        status: Option<&str>,
        limit: Option<i64>,
        starting_after: Option<&str>,
    ) -> AppResult<OrderPage> {
        self.orders_filtered(actor, status, None, limit, starting_after)
            .await
    }

    /// The orders the actor may see with `status` and whose payment (their share of it) has
    /// `payment_status` (`pending`, `authorized`, `paid`, `refunded`…), newest first.
    pub async fn orders_filtered(
        &self,
        actor: &Actor,
        status: Option<&str>,
        payment_status: Option<&str>,
        limit: Option<i64>,
        starting_after: Option<&str>,
    ) -> AppResult<OrderPage> {
        let scope = scope_of(actor)?;
        let (status, payment_status) = parse_filters(status, payment_status)?;
        self.order_page(scope, status, payment_status, limit, starting_after)
            .await
    }

    /// One customer's orders, newest first, a page at a time (support and admins).
    pub async fn customer_orders(
        &self,
        actor: &Actor,
        customer: UserId,
        limit: Option<i64>,
        starting_after: Option<&str>,
    ) -> AppResult<OrderPage> {
        if scope_of(actor)? != OrderScope::All {
            return Err(AppError::Forbidden(
                "only support and admins look up a customer's orders".into(),
            ));
        }
        self.order_page(
            OrderScope::Customer(customer),
            None,
            None,
            limit,
            starting_after,
        )
        .await
    }

    /// A page of orders by keyset (`starting_after`: the last id of the page before).
    async fn order_page(
        &self,
        scope: OrderScope,
        status: Option<OrderStatus>,
        payment_status: Option<PaymentStatus>,
        limit: Option<i64>,
        starting_after: Option<&str>,
    ) -> AppResult<OrderPage> {
        let limit = crate::paging::page_limit(limit)?;
        let starting_after = starting_after
            .map(|s| s.parse::<OrderId>())
            .transpose()
            .map_err(|_| {
                ParseError::new("invalid_cursor", "starting_after must be an order id")
                    .at("starting_after")
            })?;
        let mut orders = self
            .store
            .orders(&OrderQuery {
                scope,
                status,
                payment_status,
                starting_after,
                limit: limit + 1,
            })
            .await?;
        let has_more = orders.len() > limit as usize;
        orders.truncate(limit as usize);
        Ok(OrderPage { orders, has_more })
    }

    /// Writes an internal note on an order (support and admins, for each other; customers and
    /// vendors never see notes).
    pub async fn add_order_note(
        &self,
        actor: &Actor,
        id: OrderId,
        body: &str,
    ) -> AppResult<ordo_store::OrderNote> {
        notes_are_staff_only(actor)?;
        self.order(actor, id).await?;
        let body = body.trim();
        if body.is_empty() {
            return Err(ParseError::new("note_required", "write the note")
                .at("note")
                .into());
        }
        // Lines and tabs are welcome in a note; other control characters (NUL above all,
        // which PostgreSQL cannot store) are not.
        if body.chars().count() > 2_000
            || body
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(ParseError::new(
                "invalid_note",
                "a note is at most 2,000 characters, without control characters",
            )
            .at("note")
            .into());
        }
        let note = ordo_store::OrderNote {
            id: uuid::Uuid::now_v7(),
            order_id: id,
            author: *actor,
            body: body.to_owned(),
            created_at: self.now(),
        };
        // Its event, in the same transaction: staff only (no customer, vendor or carrier in its
        // audience), so only support's and admins' feeds and the platform's webhooks carry it.
        let message = ordo_store::OutboxMessage {
            topic: crate::outbox::NOTE_ADDED.into(),
            key: id.to_string(),
            payload: serde_json::value::to_raw_value(&serde_json::json!({
                "order_id": id, "note_id": note.id, "author": note.author,
                "body": note.body, "at": note.created_at,
            }))
            .map_err(|e| AppError::Internal(e.into()))?,
            created_at: note.created_at,
            audience: ordo_store::Audience::default(),
        };
        let saved = note.clone();
        self.write(move |tx| {
            Box::pin(async move {
                tx.insert_order_note(&saved).await?;
                tx.enqueue(&message).await?;
                Ok(())
            })
        })
        .await?;
        tracing::info!(order_id = %id, "internal note added");
        Ok(note)
    }

    /// An order's internal notes, oldest first (support and admins).
    pub async fn order_notes(
        &self,
        actor: &Actor,
        id: OrderId,
    ) -> AppResult<Vec<ordo_store::OrderNote>> {
        notes_are_staff_only(actor)?;
        self.order(actor, id).await?;
        Ok(self.store.order_notes(id).await?)
    }

    /// The newest internal notes on any of a customer's orders (support and admins).
    pub async fn customer_notes(
        &self,
        actor: &Actor,
        customer: UserId,
        limit: Option<i64>,
    ) -> AppResult<Vec<ordo_store::OrderNote>> {
        notes_are_staff_only(actor)?;
        let limit = crate::paging::page_limit(limit)?;
        Ok(self
            .store
            .customer_notes(customer, i64::from(limit))
            .await?)
    }

    /// How many of the orders the actor may see have `status`, counted no further than `cap`
    /// (a busy page says "1,000+" rather than scanning every order to be exact).
    pub async fn count_orders(
        &self,
        actor: &Actor,
        status: Option<OrderStatus>,
        payment_status: Option<PaymentStatus>,
        cap: u32,
    ) -> AppResult<u32> {
        let scope = scope_of(actor)?;
        Ok(self
            .store
            .count_orders(scope, status, payment_status, cap)
            .await?)
    }

    pub async fn order_events(&self, actor: &Actor, id: OrderId) -> AppResult<Vec<OrderEvent>> {
        self.order(actor, id).await?;
        Ok(self.store.order_events(id).await?)
    }

    /// Performs `action` on an order, as the table allows.
    pub async fn act(
        &self,
        actor: &Actor,
        proof: Proof,
        id: OrderId,
        action: &str,
        reason: Option<String>,
        carrier_id: Option<UserId>,
    ) -> AppResult<Order> {
        let action: Action = action.parse().map_err(|e: ParseError| e.at("action"))?;
        if action == Action::Place {
            return Err(ParseError::new(
                "invalid_action",
                "place is not an action on an existing order: orders are placed by POST /orders or a cart checkout",
            )
            .at("action")
            .into());
        }
        let input = ActionInput::parse(reason, carrier_id)?;
        if let Some(carrier) = input.carrier_id {
            if action != Action::Ship {
                return Err(ParseError::new(
                    "carrier_not_applicable",
                    "only ship takes a carrier_id",
                )
                .at("carrier_id")
                .into());
            }
            if !matches!(self.store.user(carrier).await?, Some(u) if u.role == Role::Carrier) {
                return Err(ParseError::new(
                    "unknown_carrier",
                    format!("no carrier user {carrier}"),
                )
                .at("carrier_id")
                .into());
            }
        }
        self.act_as(*actor, proof, id, action, input).await
    }

    /// Runs one action as one transaction (with retries on collisions).
    pub(crate) async fn act_as(
        &self,
        actor: Actor,
        proof: Proof,
        id: OrderId,
        action: Action,
        input: ActionInput,
    ) -> AppResult<Order> {
        let acted = with_retry(|| {
            let (input, now) = (input.clone(), self.now());
            // Whether the action turns out sensitive depends on the order's status, read in
            // the transaction: the unit gets what it needs to refuse it there.
            let stale = (actor.role != Role::System && !proof.is_fresh(now))
                .then_some(self.settings.step_up_window);
            let money = std::sync::Arc::clone(&self.money);
            self.write_once(move |tx| {
                Box::pin(
                    async move { act(tx, &*money, &actor, id, action, input, now, stale).await },
                )
            })
        })
        .await?;
        if acted.effect.frees_stock() {
            for line in &acted.order.lines {
                self.sold_out.invalidate(line.sku.as_str());
            }
        }
        let order = acted.order;
        tracing::info!(order_id = %id, action = %action, status = %order.status(), "order changed");
        match acted.short {
            // The payment found stock taken at payment gone: the order was cancelled instead.
            Some((sku, requested, available)) => Err(AppError::CancelledAtPayment {
                order_id: order.id,
                sku: sku.to_string(),
                requested,
                available,
            }),
            None => Ok(order),
        }
    }
}

/// What an action did (stored whole as the answer to its Idempotency-Key).
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Acted {
    pub order: Order,
    pub effect: StockEffect,
    /// Set when a payment was refused for stock taken at payment: (SKU, wanted, available).
    pub short: Option<(Sku, u32, i64)>,
}

/// What an order's actions do to its money, in the action's own transaction: the payments'
/// part, which the orders module only calls (orders know nothing of payments; the app wires
/// the payments' implementation in).
#[async_trait::async_trait]
pub trait MoneyOfOrders: Send + Sync {
    /// An admin marked `order` paid outside any provider, with `reference`.
    async fn paid_by_hand(
        &self,
        tx: &mut dyn StoreTx,
        order: &Order,
        actor: Actor,
        reference: Option<String>,
        now: DateTime<Utc>,
    ) -> AppResult<()>;
    /// `order` (locked, just cancelled) gives back what it holds; returns the events that
    /// record it, to append after the cancellation's (the order's version moved with them).
    async fn cancelled(
        &self,
        tx: &mut dyn StoreTx,
        order: &mut Order,
        actor: Actor,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> AppResult<Vec<OrderEvent>>;
}

/// One action on one order, as a unit of work; `money` does the action's part to its payment.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn act(
    tx: &mut dyn StoreTx,
    money: &dyn MoneyOfOrders,
    actor: &Actor,
    id: OrderId,
    action: Action,
    mut input: ActionInput,
    now: DateTime<Utc>,
    stale: Option<chrono::Duration>,
) -> AppResult<Acted> {
    let mut order = match tx.order_for_update(id).await? {
        Some(order) if order.visible_to(actor) => order,
        _ => return Err(AppError::NotFound("order")),
    };
    // A look at the row first: what the step will do to stock decides what to prepare.
    let planned = decide(order.status(), action, actor.role).map_err(refused)?;
    if let (Some(sensitive), Some(window)) =
        (Sensitive::of_order_action(action, order.status()), stale)
    {
        return Err(AppError::StepUpRequired {
            action: sensitive,
            window,
        });
    }
    let (mut action, mut actor) = (action, *actor);
    let mut short = None;
    if planned.stock() == StockEffect::Commit {
        match take_at_payment(tx, &order, now).await? {
            Ok(allocated) => input.allocated = allocated,
            Err(shortfall) => {
                // Not enough stock for a line taken at payment: the order is cancelled
                // cleanly (its reservations released) instead of being paid.
                action = Action::Cancel;
                actor = Actor::system();
                input = ActionInput {
                    reason: Some("insufficient_stock".into()),
                    ..ActionInput::default()
                };
                short = Some(shortfall);
            }
        }
    }
    if action == Action::Pay && actor.role != Role::System {
        // Paid by hand (an admin): the money is recorded in the ledger, who and a reference.
        money
            .paid_by_hand(tx, &order, actor, input.reason.clone(), now)
            .await?;
    }
    // The one way an order moves: by the table's row for (action, actor) from its status.
    let (transition, event) = order
        .transition(action, actor, input.clone(), now)
        .map_err(refused)?;
    for (line, allocations) in &input.allocated {
        tx.set_line_allocations(order.id, *line, allocations)
            .await?;
    }
    apply_stock_effect(tx, &order, transition.stock()).await?;
    let mut events = vec![event];
    if action == Action::Cancel && transition.from() != Some(OrderStatus::PendingPayment) {
        // A cancelled order keeps none of the customer's money: what it holds goes back in
        // this same transaction (requests the job worker sends at once).
        let more = money
            .cancelled(tx, &mut order, actor, input.reason.clone(), now)
            .await?;
        events.extend(more);
    }
    record(tx, &order, &events).await?;
    Ok(Acted {
        order,
        effect: transition.stock(),
        short,
    })
}

/// Writes what happened to a locked `order`: its new status and version with the events in its
/// log (oldest first; the first one's number says which version the order was read at), and
/// their outbox messages. A writer that lost a race for the order gets `Contention`.
pub(crate) async fn record(
    tx: &mut dyn StoreTx,
    order: &Order,
    events: &[OrderEvent],
) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    match tx.record_order_changes(order, events).await {
        Err(StoreError::Conflict(name))
            if name == constraints::ORDERS_VERSION || name == constraints::ORDER_EVENTS_PKEY =>
        {
            return Err(AppError::Contention);
        }
        other => other?,
    }
    for event in events {
        tx.enqueue(&crate::outbox::outbox_for(event, order)?)
            .await?;
    }
    Ok(())
}

/// An order list's filters as typed, checked: each refusal names its field.
pub fn parse_filters(
    status: Option<&str>,
    payment_status: Option<&str>,
) -> AppResult<(Option<OrderStatus>, Option<PaymentStatus>)> {
    let status = status
        .map(str::parse::<OrderStatus>)
        .transpose()
        .map_err(|e| e.at("status"))?;
    let payment_status = payment_status
        .map(str::parse::<PaymentStatus>)
        .transpose()
        .map_err(|e| e.at("payment_status"))?;
    Ok((status, payment_status))
}

fn notes_are_staff_only(actor: &Actor) -> AppResult<()> {
    match actor.role {
        Role::Support | Role::Admin | Role::System => Ok(()),
        _ => Err(AppError::Forbidden(
            "internal notes are for support and admins".into(),
        )),
    }
}

fn refused(e: TransitionError) -> AppError {
    match e {
        TransitionError::Forbidden { .. } => AppError::Forbidden(e.to_string()),
        TransitionError::NotAllowedNow {
            action,
            from,
            allowed,
        } => AppError::InvalidTransition {
            action,
            status: from,
            allowed,
        },
    }
}

/// For a payment: locks every SKU of the order (in SKU order, as everywhere) and chooses where
/// the lines whose stock is taken at payment come from. `Err` names a line that cannot be
/// served. Writes nothing: the caller applies the choice with the payment's stock effect.
async fn take_at_payment(
    tx: &mut dyn StoreTx,
    order: &Order,
    now: DateTime<Utc>,
) -> AppResult<Result<Vec<(usize, Vec<Allocation>)>, (Sku, u32, i64)>> {
    let pending: Vec<usize> = (0..order.lines.len())
        .filter(|&i| {
            let l = &order.lines[i];
            l.pricing.deduction == StockDeduction::AtPayment && l.allocations.is_empty()
        })
        .collect();
    if pending.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let mut by_sku: Vec<usize> = (0..order.lines.len()).collect();
    by_sku.sort_by(|a, b| order.lines[*a].sku.cmp(&order.lines[*b].sku));
    let mut levels = vec![Vec::new(); order.lines.len()];
    for i in by_sku {
        levels[i] = tx.lock_stock(&order.lines[i].sku).await?;
    }
    let mut allocated = Vec::with_capacity(pending.len());
    for &i in &pending {
        let line = &order.lines[i];
        let quantity = Quantity::parse(i64::from(line.quantity)).map_err(AppError::from)?;
        match allocate(&levels[i], quantity) {
            Ok(a) => allocated.push((i, a)),
            Err(s) => return Ok(Err((line.sku.clone(), line.quantity, s.available))),
        }
    }
    // Every line can be taken: only now announce the SKUs this payment brings low (a refused
    // payment takes nothing, so it must announce nothing).
    let skus: Vec<Sku> = pending
        .iter()
        .map(|&i| order.lines[i].sku.clone())
        .collect();
    let variants = tx.variants_for_sale(&skus).await?;
    for &i in &pending {
        let line = &order.lines[i];
        let threshold = variants
            .iter()
            .find(|v| v.sku == line.sku)
            .and_then(|v| v.low_stock_threshold);
        let available: i64 = levels[i].iter().map(StockLevel::available).sum();
        let after = available - i64::from(line.quantity);
        note_low_stock(tx, &line.sku, threshold, available, after, now).await?;
    }
    Ok(Ok(allocated))
}

/// Applies a transition's stock effect to every (SKU, location) the order holds, in SKU
/// order like placement, so it cannot deadlock against one. Stock taken at payment was never
/// reserved, so paying for it lowers only `on_hand`.
async fn apply_stock_effect(
    tx: &mut dyn StoreTx,
    order: &Order,
    effect: StockEffect,
) -> AppResult<()> {
    let mut moves: Vec<_> = order
        .lines
        .iter()
        .flat_map(|l| l.allocations.iter().map(move |a| (l, a)))
        .collect();
    moves.sort_by(|a, b| a.0.sku.cmp(&b.0.sku));
    for (line, a) in moves {
        let (on_hand, mut reserved) = effect.deltas(a.quantity);
        if effect == StockEffect::Commit && line.pricing.deduction == StockDeduction::AtPayment {
            reserved = 0;
        }
        if (on_hand, reserved) != (0, 0) {
            tx.change_stock(&line.sku, a.location_id, on_hand, reserved)
                .await?;
        }
    }
    Ok(())
}
