//! Placing orders and moving them through their lifecycle.
//!
//! A SKU found with nothing available is remembered for a moment (`Settings::sold_out_ttl`) and
//! orders for it are refused before they queue for the database: in a flash sale the thousands
//! of buyers who come too late get their 409 in microseconds instead of waiting behind every
//! sale. The hint can only refuse, never sell, so it cannot oversell; restocking or cancelling
//! on this node clears it.
//!
//! Placing an order is one transaction: claim the idempotency key, price every line from the
//! catalog, lock and reserve stock SKU by SKU (sorted, so concurrent orders never deadlock),
//! write the order with its frozen snapshot, its first event and an outbox row. If any line
//! cannot be served, nothing is kept. Every later step goes through the one transition table
//! (`ordo_domain::order::decide`) and applies the stock effect the table names, in the same
//! transaction as the event that records it.

use chrono::{DateTime, Utc};
use ordo_domain::ParseError;
use ordo_domain::address::{Address, AddressInput};
use ordo_domain::catalog::Sku;
use ordo_domain::identity::{Actor, Role};
use ordo_domain::ids::{OrderId, UserId};
use ordo_domain::inventory::{Quantity, StockEffect, allocate};
use ordo_domain::money::{Currency, Money};
use ordo_domain::order::{
    Action, ActionInput, Order, OrderEvent, OrderLine, OrderStatus, TransitionError, decide,
};
use ordo_store::{
    IdempotencyRecord, OrderQuery, OrderScope, OutboxMessage, StoreError, StoreTx, constraints,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;

use crate::{App, AppError, AppResult, with_retry};

/// An order as a customer asks for it, unchecked.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub currency: String,
    /// (SKU, quantity) in the customer's order.
    pub items: Vec<(String, i64)>,
    pub shipping_address: AddressInput,
}

/// The result of a placement: the order, and whether it was a replay of an earlier request.
#[derive(Debug, Clone)]
pub struct Placed {
    pub order: Order,
    pub replayed: bool,
}

/// One page of orders.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub has_more: bool,
}

/// A placement once parsed: everything a transaction needs, nothing left to check.
#[derive(Debug, Clone)]
struct Checked {
    currency: Currency,
    lines: Vec<(Sku, Quantity)>,
    address: Address,
}

impl Checked {
    /// SHA-256 of the canonical request, to tell a replay from a reused key. Computed only when
    /// the client sent an Idempotency-Key.
    fn fingerprint(&self) -> Vec<u8> {
        let canonical = serde_json::json!({
            "currency": self.currency,
            "items": self.lines.iter().map(|(s, q)| (s.as_str(), q.get())).collect::<Vec<_>>(),
            "shipping_address": self.address,
        });
        Sha256::digest(canonical.to_string().as_bytes()).to_vec()
    }
}

pub const MAX_LINES: usize = 100;
pub const MAX_PAGE: u32 = 100;
pub const DEFAULT_PAGE: u32 = 20;

fn check_placement(input: PlaceOrder) -> Result<Checked, ParseError> {
    let currency = Currency::parse(&input.currency).map_err(|e| e.at("currency"))?;
    if input.items.is_empty() {
        return Err(ParseError::new("empty_order", "an order needs at least one item").at("items"));
    }
    if input.items.len() > MAX_LINES {
        return Err(ParseError::new(
            "too_many_items",
            format!("an order has at most {MAX_LINES} items"),
        )
        .at("items"));
    }
    // The same SKU twice is one line with the quantities added.
    let mut lines: Vec<(Sku, Quantity)> = Vec::with_capacity(input.items.len());
    for (i, (sku, quantity)) in input.items.into_iter().enumerate() {
        let sku = Sku::parse(&sku).map_err(|e| e.at(format!("items[{i}].sku")))?;
        let quantity =
            Quantity::parse(quantity).map_err(|e| e.at(format!("items[{i}].quantity")))?;
        match lines.iter_mut().find(|(s, _)| *s == sku) {
            Some((_, q)) => {
                *q = Quantity::parse(i64::from(q.get()) + i64::from(quantity.get()))
                    .map_err(|e| e.at(format!("items[{i}].quantity")))?;
            }
            None => lines.push((sku, quantity)),
        }
    }
    let address = Address::parse(input.shipping_address).map_err(|e| {
        let field = format!("shipping_address.{}", e.field.as_deref().unwrap_or(""));
        ParseError {
            field: Some(field.trim_end_matches('.').to_owned()),
            ..e
        }
    })?;
    Ok(Checked {
        currency,
        lines,
        address,
    })
}

/// An idempotency key: 1–255 visible ASCII characters (a UUID is typical).
fn check_key(key: &str) -> Result<(), ParseError> {
    if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(ParseError::new(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )
        .at("Idempotency-Key"))
    }
}

/// Refuses the placement if one of its SKUs was just found with nothing available.
fn sold_out_hint(sold_out: &moka::sync::Cache<String, ()>, c: &Checked) -> AppResult<()> {
    for (i, (sku, quantity)) in c.lines.iter().enumerate() {
        if sold_out.contains_key(sku.as_str()) {
            return Err(AppError::InsufficientStock {
                sku: sku.to_string(),
                requested: quantity.get(),
                available: 0,
                field: format!("items[{i}].quantity"),
            });
        }
    }
    Ok(())
}

fn outbox_for(event: &OrderEvent) -> AppResult<OutboxMessage> {
    Ok(OutboxMessage {
        topic: event.event_type.clone(),
        key: event.order_id.to_string(),
        payload: serde_json::value::to_raw_value(event)
            .map_err(|e| AppError::Internal(e.into()))?,
        created_at: event.at,
    })
}

impl App {
    pub async fn place_order(
        &self,
        actor: &Actor,
        idempotency_key: Option<&str>,
        input: PlaceOrder,
    ) -> AppResult<Placed> {
        if actor.role != Role::Customer {
            return Err(AppError::Forbidden(format!(
                "a {} cannot place orders; customers do",
                actor.role
            )));
        }
        let customer = actor.user_id.ok_or(AppError::Unauthenticated)?;
        if let Some(key) = idempotency_key {
            check_key(key)?;
        }
        let checked = Arc::new(check_placement(input)?);
        sold_out_hint(&self.sold_out, &checked)?;
        let key: Option<Arc<str>> = idempotency_key.map(Arc::from);
        let actor = *actor;
        let placed = with_retry(|| {
            let (c, key, now) = (Arc::clone(&checked), key.clone(), self.now());
            let sold_out = self.sold_out.clone();
            self.write(move |tx| {
                Box::pin(async move {
                    // Again once the unit's turn has come: the sale may have ended while it
                    // queued for the writer or a connection.
                    sold_out_hint(&sold_out, &c)?;
                    place(tx, &actor, customer, key.as_deref(), &c, now).await
                })
            })
        })
        .await
        .inspect_err(|e| {
            if let AppError::InsufficientStock {
                sku, available: 0, ..
            } = e
                && !self.settings.sold_out_ttl.is_zero()
            {
                self.sold_out.insert(sku.clone(), ());
            }
        })?;
        if !placed.replayed {
            tracing::info!(order_id = %placed.order.id, total = placed.order.total.amount, "order placed");
        }
        Ok(placed)
    }

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
        let scope = match actor.role {
            Role::Admin | Role::Support | Role::System => OrderScope::All,
            Role::Customer => OrderScope::Customer(actor.user_id.ok_or(AppError::Unauthenticated)?),
            Role::Vendor => OrderScope::Vendor(actor.vendor_id.ok_or(AppError::Unauthenticated)?),
            Role::Carrier => OrderScope::Carrier(actor.user_id.ok_or(AppError::Unauthenticated)?),
        };
        let status = status
            .map(str::parse::<OrderStatus>)
            .transpose()
            .map_err(|e| e.at("status"))?;
        let limit = match limit {
            None => DEFAULT_PAGE,
            Some(n) if (1..=i64::from(MAX_PAGE)).contains(&n) => n as u32,
            Some(_) => {
                return Err(ParseError::new(
                    "invalid_limit",
                    format!("limit must be 1 to {MAX_PAGE}"),
                )
                .at("limit")
                .into());
            }
        };
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
                starting_after,
                limit: limit + 1,
            })
            .await?;
        let has_more = orders.len() > limit as usize;
        orders.truncate(limit as usize);
        Ok(OrderPage { orders, has_more })
    }

    pub async fn order_events(&self, actor: &Actor, id: OrderId) -> AppResult<Vec<OrderEvent>> {
        self.order(actor, id).await?;
        Ok(self.store.order_events(id).await?)
    }

    /// Performs `action` on an order, as the table allows.
    pub async fn act(
        &self,
        actor: &Actor,
        id: OrderId,
        action: &str,
        reason: Option<String>,
        carrier_id: Option<UserId>,
    ) -> AppResult<Order> {
        let action: Action = action.parse().map_err(|e: ParseError| e.at("action"))?;
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
        let actor = *actor;
        let (order, effect) = with_retry(|| {
            let (input, now) = (input.clone(), self.now());
            self.write(move |tx| {
                Box::pin(async move { act(tx, &actor, id, action, input, now).await })
            })
        })
        .await?;
        if effect.frees_stock() {
            for line in &order.lines {
                self.sold_out.invalidate(line.sku.as_str());
            }
        }
        tracing::info!(order_id = %id, action = %action, status = %order.status, "order changed");
        Ok(order)
    }
}

/// One action on one order, as a unit of work.
async fn act(
    tx: &mut dyn StoreTx,
    actor: &Actor,
    id: OrderId,
    action: Action,
    input: ActionInput,
    now: DateTime<Utc>,
) -> AppResult<(Order, StockEffect)> {
    let mut order = match tx.order_for_update(id).await? {
        Some(order) if order.visible_to(actor) => order,
        _ => return Err(AppError::NotFound("order")),
    };
    let transition = decide(order.status, action, actor.role).map_err(|e| match e {
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
    })?;
    let expected = order.version;
    let event = order
        .transition(transition, input, *actor, now)
        .map_err(|e| AppError::Internal(e.into()))?;
    apply_stock_effect(tx, &order, transition.stock).await?;
    match tx.update_order(&order, expected).await {
        Err(StoreError::Conflict(name)) if name == constraints::ORDERS_VERSION => {
            return Err(AppError::Contention);
        }
        other => other?,
    }
    match tx.append_event(&event).await {
        Err(StoreError::Conflict(name)) if name == constraints::ORDER_EVENTS_PKEY => {
            return Err(AppError::Contention);
        }
        other => other?,
    }
    tx.enqueue(&outbox_for(&event)?).await?;
    Ok((order, transition.stock))
}

/// Applies a transition's stock effect to every (SKU, location) the order reserved, in SKU
/// order like placement, so it cannot deadlock against one.
async fn apply_stock_effect(
    tx: &mut dyn StoreTx,
    order: &Order,
    effect: StockEffect,
) -> AppResult<()> {
    let mut moves: Vec<_> = order
        .lines
        .iter()
        .flat_map(|l| l.allocations.iter().map(move |a| (&l.sku, a)))
        .collect();
    moves.sort_by(|a, b| a.0.cmp(b.0));
    for (sku, a) in moves {
        let (on_hand, reserved) = effect.deltas(a.quantity);
        if (on_hand, reserved) != (0, 0) {
            tx.change_stock(sku, a.location_id, on_hand, reserved)
                .await?;
        }
    }
    Ok(())
}

/// One placement, as a unit of work: claim the key, price, reserve, record.
async fn place(
    tx: &mut dyn StoreTx,
    actor: &Actor,
    customer: UserId,
    key: Option<&str>,
    c: &Checked,
    now: DateTime<Utc>,
) -> AppResult<Placed> {
    let order_id = OrderId::new();
    if let Some(key) = key {
        // Claimed first, so a concurrent request with the same key waits here (PostgreSQL) or
        // queues behind this one (SQLite's one writer), then finds the claim and replays.
        let record = IdempotencyRecord {
            request_hash: c.fingerprint(),
            order_id,
        };
        if let Some(seen) = tx.idempotency_claim(customer, key, &record, now).await? {
            return replay(tx, seen, c).await;
        }
    }

    let skus: Vec<Sku> = c.lines.iter().map(|(s, _)| s.clone()).collect();
    let for_sale = tx.variants_for_sale(&skus, c.currency).await?;
    let mut vendor = None;
    let mut lines = Vec::with_capacity(c.lines.len());
    for (i, (sku, quantity)) in c.lines.iter().enumerate() {
        let field = format!("items[{i}].sku");
        let v = for_sale.iter().find(|v| v.sku == *sku).ok_or_else(|| {
            ParseError::new("unknown_sku", format!("no product has SKU {sku}")).at(field.clone())
        })?;
        let unit_price = v.unit_price.ok_or_else(|| {
            ParseError::new(
                "price_unavailable",
                format!("{sku} has no price in {}", c.currency),
            )
            .at(field.clone())
        })?;
        match vendor {
            None => vendor = Some(v.vendor_id),
            Some(first) if first != v.vendor_id => {
                return Err(ParseError::new(
                    "mixed_vendors",
                    "an order holds one vendor's items; place one order per vendor",
                )
                .at(field)
                .into());
            }
            Some(_) => {}
        }
        let line_total = unit_price
            .checked_mul(quantity.get())
            .map_err(|e| AppError::Internal(e.into()))?;
        lines.push(OrderLine {
            sku: sku.clone(),
            product_id: v.product_id,
            variant_id: v.variant_id,
            title: v.title.clone(),
            quantity: quantity.get(),
            unit_price,
            line_total,
            allocations: Vec::new(),
        });
    }

    // Lock and reserve in SKU order: two orders for the same SKUs always queue in the same
    // order, so they cannot deadlock. The CHECK on the stock table backs this up.
    let mut by_sku: Vec<usize> = (0..lines.len()).collect();
    by_sku.sort_by(|a, b| lines[*a].sku.cmp(&lines[*b].sku));
    for i in by_sku {
        let (sku, quantity) = &c.lines[i];
        let levels = tx.lock_stock(sku).await?;
        let allocations =
            allocate(&levels, *quantity).map_err(|short| AppError::InsufficientStock {
                sku: sku.to_string(),
                requested: quantity.get(),
                available: short.available,
                field: format!("items[{i}].quantity"),
            })?;
        for a in &allocations {
            tx.change_stock(sku, a.location_id, 0, i64::from(a.quantity))
                .await?;
        }
        lines[i].allocations = allocations;
    }

    let mut subtotal = Money::zero(c.currency);
    for l in &lines {
        subtotal = subtotal
            .checked_add(l.line_total)
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    let order = Order {
        id: order_id,
        customer_id: customer,
        vendor_id: vendor.expect("at least one line"),
        status: OrderStatus::PendingPayment,
        currency: c.currency,
        lines,
        subtotal,
        total: subtotal,
        shipping_address: c.address.clone(),
        carrier_id: None,
        cancel_reason: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let event = order.placed_event(*actor);
    tx.insert_order(&order).await?;
    tx.append_event(&event).await?;
    tx.enqueue(&outbox_for(&event)?).await?;
    Ok(Placed {
        order,
        replayed: false,
    })
}

/// The order an earlier request with the same key placed, read in the same transaction (on
/// SQLite it may still be in the batch being committed).
async fn replay(tx: &mut dyn StoreTx, seen: IdempotencyRecord, c: &Checked) -> AppResult<Placed> {
    if seen.request_hash != c.fingerprint() {
        return Err(AppError::conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request",
            Some("Idempotency-Key"),
        ));
    }
    let order = tx.order_for_update(seen.order_id).await?.ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "idempotency key points at missing order {}",
            seen.order_id
        ))
    })?;
    Ok(Placed {
        order,
        replayed: true,
    })
}
