//! Orders and their state machine.
//!
//! [`TRANSITIONS`] is the one table of the order lifecycle: (state, action) → next state, the
//! roles allowed, and what the step does to stock. Nothing else in Ordo sets an order's status:
//! [`decide`] reads the table, and [`Order::apply`] is the only code that moves an order, both
//! when a change is made and when the event log is replayed. The API publishes the table, the
//! docs' Mermaid diagram is generated from it, and the tests walk it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ParseError;
use crate::address::Address;
use crate::catalog::Sku;
use crate::identity::{Actor, Role, Sensitive};
use crate::ids::{CheckoutId, OrderId, ProductId, UserId, VariantId, VendorId};
use crate::inventory::{Allocation, StockDeduction, StockEffect};
use crate::money::{Currency, Money};
use crate::pricing::{DiscountLine, FxUsed, ShippingLine, TaxClass, TaxLine};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Processing,
    Shipped,
    Delivered,
    Completed,
    Cancelled,
}

/// Something that can be done to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A customer's checkout creates the order (the table's row from a new order).
    Place,
    /// Payment received (for now an admin marks it; payment providers come later).
    Pay,
    /// The vendor takes the order into fulfilment.
    Accept,
    Ship,
    Deliver,
    /// The return window closed; the order is final.
    Complete,
    Cancel,
}

crate::names!(OrderStatus, "invalid_status" {
    PendingPayment => "pending_payment",
    Paid => "paid",
    Processing => "processing",
    Shipped => "shipped",
    Delivered => "delivered",
    Completed => "completed",
    Cancelled => "cancelled",
});

crate::names!(Action, "invalid_action" {
    Place => "place",
    Pay => "pay",
    Accept => "accept",
    Ship => "ship",
    Deliver => "deliver",
    Complete => "complete",
    Cancel => "cancel",
});

impl Action {
    /// The event type recorded when this action succeeds (`order.paid`, `order.cancelled`…).
    pub fn event_type(self) -> &'static str {
        match self {
            Action::Place => "order.placed",
            Action::Pay => "order.paid",
            Action::Accept => "order.accepted",
            Action::Ship => "order.shipped",
            Action::Deliver => "order.delivered",
            Action::Complete => "order.completed",
            Action::Cancel => "order.cancelled",
        }
    }
}

/// One row of the lifecycle table. Its fields are private: rows exist only in [`TRANSITIONS`],
/// and an order moves only by a row looked up there ([`Order::transition`], [`Order::place`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// `None`: the order does not exist yet (the placement row).
    from: Option<OrderStatus>,
    action: Action,
    to: OrderStatus,
    roles: &'static [Role],
    stock: StockEffect,
}

impl Transition {
    /// The status the step starts from; `None` for a new order.
    pub fn from(&self) -> Option<OrderStatus> {
        self.from
    }
    pub fn action(&self) -> Action {
        self.action
    }
    pub fn to(&self) -> OrderStatus {
        self.to
    }
    pub fn roles(&self) -> &'static [Role] {
        self.roles
    }
    pub fn stock(&self) -> StockEffect {
        self.stock
    }
    /// Whether `role` may take this step (Ordo itself may take any).
    pub fn permits(&self, role: Role) -> bool {
        self.roles.contains(&role) || role == Role::System
    }
}

use Action as A;
use OrderStatus as S;
use Role as R;

const CANCEL_BEFORE_FULFILMENT: &[Role] = &[R::Customer, R::Vendor, R::Support, R::Admin];
const STAFF: &[Role] = &[R::Vendor, R::Support, R::Admin];

/// The order lifecycle. Read it as: from `from`, `action` by one of `roles` leads to `to`.
pub const TRANSITIONS: &[Transition] = &[
    Transition {
        from: None,
        action: A::Place,
        to: S::PendingPayment,
        roles: &[R::Customer],
        stock: StockEffect::Reserve,
    },
    Transition {
        from: Some(S::PendingPayment),
        action: A::Pay,
        to: S::Paid,
        roles: &[R::Admin],
        stock: StockEffect::Commit,
    },
    Transition {
        from: Some(S::PendingPayment),
        action: A::Cancel,
        to: S::Cancelled,
        roles: CANCEL_BEFORE_FULFILMENT,
        stock: StockEffect::Release,
    },
    Transition {
        from: Some(S::Paid),
        action: A::Accept,
        to: S::Processing,
        roles: &[R::Vendor, R::Admin],
        stock: StockEffect::None,
    },
    Transition {
        from: Some(S::Paid),
        action: A::Cancel,
        to: S::Cancelled,
        roles: CANCEL_BEFORE_FULFILMENT,
        stock: StockEffect::Restock,
    },
    // Once the vendor is picking, the customer asks support; staff can still stop it before it ships.
    Transition {
        from: Some(S::Processing),
        action: A::Cancel,
        to: S::Cancelled,
        roles: STAFF,
        stock: StockEffect::Restock,
    },
    Transition {
        from: Some(S::Processing),
        action: A::Ship,
        to: S::Shipped,
        roles: &[R::Vendor, R::Admin],
        stock: StockEffect::None,
    },
    Transition {
        from: Some(S::Shipped),
        action: A::Deliver,
        to: S::Delivered,
        roles: &[R::Carrier, R::Admin],
        stock: StockEffect::None,
    },
    Transition {
        from: Some(S::Delivered),
        action: A::Complete,
        to: S::Completed,
        roles: &[R::Admin],
        stock: StockEffect::None,
    },
];

impl Sensitive {
    /// Whether an order action is sensitive from a status: cancelling once paid (or later).
    pub fn of_order_action(action: Action, from: OrderStatus) -> Option<Sensitive> {
        (action == Action::Cancel && from != OrderStatus::PendingPayment)
            .then_some(Sensitive::CancelPaidOrder)
    }
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The actor's role may never perform this action, in any state.
    #[error("a {role} may not {action} orders")]
    Forbidden { role: Role, action: Action },
    /// Not from this state (for this role); `allowed` lists what the actor may do now.
    #[error("cannot {action} an order that is {from}")]
    NotAllowedNow {
        action: Action,
        from: OrderStatus,
        allowed: Vec<Action>,
    },
}

/// The actions `role` may perform on an order in `status`, in table order.
pub fn allowed_actions(status: OrderStatus, role: Role) -> Vec<Action> {
    TRANSITIONS
        .iter()
        .filter(|t| t.from == Some(status) && t.permits(role))
        .map(|t| t.action)
        .collect()
}

/// Looks `action` up in the table for this order and actor. Ownership is checked before this,
/// by whoever loaded the order; this decides only what the lifecycle permits.
pub fn decide(
    status: OrderStatus,
    action: Action,
    role: Role,
) -> Result<&'static Transition, TransitionError> {
    if !TRANSITIONS
        .iter()
        .any(|t| t.action == action && t.permits(role))
    {
        return Err(TransitionError::Forbidden { role, action });
    }
    TRANSITIONS
        .iter()
        .find(|t| t.from == Some(status) && t.action == action && t.permits(role))
        .ok_or_else(|| TransitionError::NotAllowedNow {
            action,
            from: status,
            allowed: allowed_actions(status, role),
        })
}

/// The placement row, if `role` may place orders.
pub fn placement(role: Role) -> Result<&'static Transition, TransitionError> {
    TRANSITIONS
        .iter()
        .find(|t| t.from.is_none() && t.action == Action::Place && t.permits(role))
        .ok_or(TransitionError::Forbidden {
            role,
            action: Action::Place,
        })
}

/// The row an event in a log claims to have taken, if the table has it for that actor.
fn row_of(
    from: Option<OrderStatus>,
    action: Action,
    to: OrderStatus,
    role: Role,
) -> Option<&'static Transition> {
    TRANSITIONS
        .iter()
        .find(|t| t.from == from && t.action == action && t.to == to && t.permits(role))
}

/// Every state, in lifecycle order.
pub fn states() -> &'static [OrderStatus] {
    OrderStatus::ALL
}

/// The lifecycle as a Mermaid state diagram, generated from [`TRANSITIONS`].
pub fn mermaid() -> String {
    let mut out = String::from("stateDiagram-v2\n");
    for t in TRANSITIONS {
        let roles: Vec<_> = t.roles.iter().map(|r| r.as_str()).collect();
        out.push_str(&format!(
            "    {} --> {}: {} ({})\n",
            t.from.map_or("[*]", OrderStatus::as_str),
            t.to,
            t.action,
            roles.join(", ")
        ));
    }
    for s in OrderStatus::ALL {
        if !TRANSITIONS.iter().any(|t| t.from == Some(*s)) {
            out.push_str(&format!("    {s} --> [*]\n"));
        }
    }
    out
}

/// One line of an order, frozen at placement: what was bought, at which price, from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: Sku,
    pub product_id: ProductId,
    pub variant_id: VariantId,
    pub title: String,
    pub quantity: u32,
    pub unit_price: Money,
    pub line_total: Money,
    /// Which locations the units were reserved at (or, for stock deducted at payment, taken
    /// from at payment): the seed of shipments, and what every later stock effect applies to.
    pub allocations: Vec<Allocation>,
    /// Discount, tax and provenance of the price, frozen at placement.
    #[serde(default)]
    pub pricing: LinePricing,
}

/// How one line was priced, in the order's currency (minor units).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinePricing {
    /// This line's share of the order's discounts.
    pub discount: i64,
    /// Tax on this line: added (exclusive rules) or contained (inclusive rules).
    pub tax: i64,
    pub tax_class: Option<TaxClass>,
    /// Set when the unit price was converted from the vendor's price in another currency.
    pub fx: Option<FxUsed>,
    /// When the line's stock is taken: reserved at order (default) or deducted at payment.
    pub deduction: StockDeduction,
}

/// Everything an order was priced with, frozen at placement (minor units of its currency):
/// `subtotal − discount + shipping + tax = total`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPricing {
    pub discount: i64,
    pub shipping: i64,
    /// Tax added on top of the prices.
    pub tax: i64,
    /// Tax contained in VAT/GST-inclusive prices (not added).
    pub tax_included: i64,
    pub discounts: Vec<DiscountLine>,
    pub shipping_line: Option<ShippingLine>,
    pub taxes: Vec<TaxLine>,
}

/// An order: what one customer bought from one vendor, and where it stands.
///
/// Its status is private: an order comes to be only by [`Order::place`] (in the status the
/// table's placement row gives) and moves only by [`Order::transition`], which returns the event
/// the store writes together with the new status and version (`OrderTx::record_order_changes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub customer_id: UserId,
    pub vendor_id: VendorId,
    status: OrderStatus,
    pub currency: Currency,
    pub lines: Vec<OrderLine>,
    pub subtotal: Money,
    pub total: Money,
    #[serde(default)]
    pub pricing: OrderPricing,
    /// The checkout this order was placed in: one per vendor of a cart share it.
    #[serde(default)]
    pub checkout_id: Option<CheckoutId>,
    /// While unpaid, the reservation lasts until then; the order is then cancelled
    /// (`payment_timeout`) and its stock released.
    #[serde(default)]
    pub reserved_until: Option<DateTime<Utc>>,
    pub shipping_address: Address,
    /// The carrier user the order was handed to at shipment; carriers see only these.
    pub carrier_id: Option<UserId>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The sequence number of the last event applied; the next event is `version + 1`.
    pub version: i64,
}

/// What a placement decides about a new order: everything but where it stands (the table's
/// placement row says that) and what happens to it later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub id: OrderId,
    pub customer_id: UserId,
    pub vendor_id: VendorId,
    pub currency: Currency,
    pub lines: Vec<OrderLine>,
    pub subtotal: Money,
    pub total: Money,
    pub pricing: OrderPricing,
    pub checkout_id: Option<CheckoutId>,
    pub reserved_until: Option<DateTime<Utc>>,
    pub shipping_address: Address,
    pub created_at: DateTime<Utc>,
}

/// What happened to an order: the payload of one event in its log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrderChange {
    /// The order came to be; carries its full snapshot.
    Placed { order: Box<Order> },
    /// A row of [`TRANSITIONS`] was taken.
    Transitioned {
        action: Action,
        from: OrderStatus,
        to: OrderStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        carrier_id: Option<UserId>,
        /// Lines whose stock was taken by this step (deduction at payment): line index and
        /// where from.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        allocated: Vec<(usize, Vec<Allocation>)>,
    },
    /// Money of the order's share moved back towards the customer (a refund or a released
    /// authorization asked for, done, or failed). It does not move the order's status: it is in
    /// the log so the order's own timeline, stream and audit say what became of the money.
    Money {
        movement: MoneyMovement,
        /// Minor units of the order's currency.
        amount: i64,
        /// The payment request (its ledger row) this is about.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<uuid::Uuid>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// What happened to money going back to a customer (the `payment.*` events of an order's log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoneyMovement {
    /// A refund was asked of the provider: on its way.
    RefundRequested,
    /// The provider (or a person, by hand) sent it.
    Refunded,
    /// The provider refused it, or could not be reached through every try: people take over.
    RefundFailed,
    /// Releasing the uncaptured authorization was asked for.
    VoidRequested,
    /// The authorization is released: the customer was never charged this.
    Voided,
    VoidFailed,
}

crate::names!(MoneyMovement, "invalid_money_movement" {
    RefundRequested => "refund_requested",
    Refunded => "refunded",
    RefundFailed => "refund_failed",
    VoidRequested => "void_requested",
    Voided => "voided",
    VoidFailed => "void_failed",
});

impl MoneyMovement {
    /// The event type it is recorded as (`payment.refund_requested`…).
    pub fn event_type(self) -> &'static str {
        match self {
            MoneyMovement::RefundRequested => "payment.refund_requested",
            MoneyMovement::Refunded => "payment.refunded",
            MoneyMovement::RefundFailed => "payment.refund_failed",
            MoneyMovement::VoidRequested => "payment.void_requested",
            MoneyMovement::Voided => "payment.voided",
            MoneyMovement::VoidFailed => "payment.void_failed",
        }
    }
}

impl OrderChange {
    pub fn event_type(&self) -> &'static str {
        match self {
            OrderChange::Placed { .. } => "order.placed",
            OrderChange::Transitioned { action, .. } => action.event_type(),
            OrderChange::Money { movement, .. } => movement.event_type(),
        }
    }
}

/// One entry of an order's append-only log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    pub order_id: OrderId,
    /// 1 for placement, then +1 per change: gap-free per order.
    pub seq: i64,
    pub event_type: String,
    pub actor: Actor,
    pub at: DateTime<Utc>,
    pub change: OrderChange,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("the log does not start with order.placed")]
    NotPlacedFirst,
    #[error("event {0} is out of sequence")]
    OutOfSequence(i64),
    #[error("event {seq} moves from {from} but the order is {actual}")]
    WrongState {
        seq: i64,
        from: OrderStatus,
        actual: OrderStatus,
    },
    /// The event claims a step the table does not have (for that actor).
    #[error("event {0} takes a step that is not in the lifecycle table")]
    NotInTable(i64),
}

/// An action's extra input: why (cancel) and to whom (ship).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionInput {
    pub reason: Option<String>,
    pub carrier_id: Option<UserId>,
    /// Set by the use case, never by a client: stock taken by this step (see
    /// [`OrderChange::Transitioned`]).
    pub allocated: Vec<(usize, Vec<Allocation>)>,
}

impl ActionInput {
    pub const MAX_REASON_CHARS: usize = 500;

    pub fn parse(reason: Option<String>, carrier_id: Option<UserId>) -> Result<Self, ParseError> {
        let reason = match reason {
            Some(r) if r.trim().is_empty() => None,
            Some(r) => {
                crate::check_text(&r, Self::MAX_REASON_CHARS, "invalid_reason")
                    .map_err(|e| e.at("reason"))?;
                Some(r)
            }
            None => None,
        };
        Ok(Self {
            reason,
            carrier_id,
            allocated: Vec::new(),
        })
    }
}

impl Order {
    /// Places a new order by `actor`: the table's placement row must allow the actor's role,
    /// and gives the status it starts in. Returns the order (version 1) and the event numbered 1
    /// that records it.
    pub fn place(new: NewOrder, actor: Actor) -> Result<(Order, OrderEvent), TransitionError> {
        let row = placement(actor.role)?;
        let order = Order::stored(new, row.to);
        let event = OrderEvent {
            order_id: order.id,
            seq: 1,
            event_type: row.action.event_type().into(),
            actor,
            at: order.created_at,
            change: OrderChange::Placed {
                order: Box::new(order.clone()),
            },
        };
        Ok((order, event))
    }

    /// An order as its store keeps it, in `status` at version 1: for a backend reading its
    /// rows (which then sets the version, carrier and the rest as stored) — never to move an
    /// order, which only [`Order::transition`] does.
    pub fn stored(new: NewOrder, status: OrderStatus) -> Order {
        Order {
            id: new.id,
            customer_id: new.customer_id,
            vendor_id: new.vendor_id,
            status,
            currency: new.currency,
            lines: new.lines,
            subtotal: new.subtotal,
            total: new.total,
            pricing: new.pricing,
            checkout_id: new.checkout_id,
            reserved_until: new.reserved_until,
            shipping_address: new.shipping_address,
            carrier_id: None,
            cancel_reason: None,
            created_at: new.created_at,
            updated_at: new.created_at,
            version: 1,
        }
    }

    /// Where the order stands.
    pub fn status(&self) -> OrderStatus {
        self.status
    }

    /// The status a new order starts in (the placement row's `to`).
    pub fn initial_status() -> OrderStatus {
        placement(Role::System).map_or(OrderStatus::PendingPayment, |t| t.to)
    }

    /// Takes `action` as `actor`, by the row the table has for it from the order's status,
    /// and returns the row taken and the event to append. The order is changed only through
    /// [`Order::apply`], the same path replay uses.
    pub fn transition(
        &mut self,
        action: Action,
        actor: Actor,
        input: ActionInput,
        at: DateTime<Utc>,
    ) -> Result<(&'static Transition, OrderEvent), TransitionError> {
        let row = decide(self.status, action, actor.role)?;
        let event = OrderEvent {
            order_id: self.id,
            seq: self.version + 1,
            event_type: row.action.event_type().into(),
            actor,
            at,
            change: OrderChange::Transitioned {
                action: row.action,
                from: self.status,
                to: row.to,
                reason: input.reason,
                carrier_id: input.carrier_id,
                allocated: input.allocated,
            },
        };
        self.apply(&event)
            .map_err(|_| TransitionError::NotAllowedNow {
                action,
                from: self.status,
                allowed: allowed_actions(self.status, actor.role),
            })?;
        Ok((row, event))
    }

    /// Records money of the order's share moving (see [`OrderChange::Money`]) by `actor`:
    /// returns the event to append after any other of this change (the order's status stays).
    pub fn record_money(
        &mut self,
        movement: MoneyMovement,
        amount: i64,
        request_id: Option<uuid::Uuid>,
        reason: Option<String>,
        actor: Actor,
        at: DateTime<Utc>,
    ) -> OrderEvent {
        let event = OrderEvent {
            order_id: self.id,
            seq: self.version + 1,
            event_type: movement.event_type().into(),
            actor,
            at,
            change: OrderChange::Money {
                movement,
                amount,
                request_id,
                reason,
            },
        };
        self.version = event.seq;
        self.updated_at = at;
        event
    }

    /// Moves the order by one event.
    pub fn apply(&mut self, event: &OrderEvent) -> Result<(), ReplayError> {
        if event.seq != self.version + 1 {
            return Err(ReplayError::OutOfSequence(event.seq));
        }
        match &event.change {
            OrderChange::Placed { .. } => return Err(ReplayError::OutOfSequence(event.seq)),
            // Money moving leaves the status where it is.
            OrderChange::Money { .. } => {}
            OrderChange::Transitioned {
                action,
                from,
                to,
                reason,
                carrier_id,
                allocated,
            } => {
                if *from != self.status {
                    return Err(ReplayError::WrongState {
                        seq: event.seq,
                        from: *from,
                        actual: self.status,
                    });
                }
                if row_of(Some(*from), *action, *to, event.actor.role).is_none() {
                    return Err(ReplayError::NotInTable(event.seq));
                }
                self.status = *to;
                if *action == Action::Cancel {
                    self.cancel_reason.clone_from(reason);
                }
                if carrier_id.is_some() {
                    self.carrier_id = *carrier_id;
                }
                for (line, allocations) in allocated {
                    if let Some(l) = self.lines.get_mut(*line) {
                        l.allocations.clone_from(allocations);
                    }
                }
                if *to != OrderStatus::PendingPayment {
                    self.reserved_until = None;
                }
            }
        }
        self.version = event.seq;
        self.updated_at = event.at;
        Ok(())
    }

    /// Rebuilds an order from its log alone.
    pub fn replay(events: &[OrderEvent]) -> Result<Order, ReplayError> {
        let (first, rest) = events.split_first().ok_or(ReplayError::NotPlacedFirst)?;
        let OrderChange::Placed { order } = &first.change else {
            return Err(ReplayError::NotPlacedFirst);
        };
        if first.seq != 1 {
            return Err(ReplayError::OutOfSequence(first.seq));
        }
        if row_of(None, Action::Place, order.status, first.actor.role).is_none() {
            return Err(ReplayError::NotInTable(1));
        }
        let mut order = (**order).clone();
        for e in rest {
            order.apply(e)?;
        }
        Ok(order)
    }

    /// Whether `actor` may see this order at all. Anyone else is told it does not exist (404),
    /// so ids cannot be probed.
    pub fn visible_to(&self, actor: &Actor) -> bool {
        match actor.role {
            Role::Admin | Role::Support | Role::System => true,
            Role::Customer => actor.user_id == Some(self.customer_id),
            Role::Vendor => actor.vendor_id == Some(self.vendor_id),
            Role::Carrier => actor.user_id.is_some() && self.carrier_id == actor.user_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_one_row_per_state_and_action() {
        for (i, t) in TRANSITIONS.iter().enumerate() {
            assert!(
                !TRANSITIONS[..i]
                    .iter()
                    .any(|o| o.from == t.from && o.action == t.action),
                "two rows for ({:?}, {})",
                t.from,
                t.action
            );
            assert!(!t.roles.is_empty());
        }
    }

    #[test]
    fn every_state_is_reachable_from_placement() {
        let mut seen = vec![placement(R::Customer).unwrap().to];
        let mut i = 0;
        while i < seen.len() {
            let from = seen[i];
            for t in TRANSITIONS.iter().filter(|t| t.from == Some(from)) {
                if !seen.contains(&t.to) {
                    seen.push(t.to);
                }
            }
            i += 1;
        }
        assert_eq!(seen.len(), OrderStatus::ALL.len());
    }

    #[test]
    fn a_role_never_allowed_an_action_is_forbidden_not_conflicting() {
        assert!(matches!(
            decide(S::Shipped, A::Deliver, R::Customer),
            Err(TransitionError::Forbidden { .. })
        ));
        let err = decide(S::Processing, A::Cancel, R::Customer).unwrap_err();
        assert!(
            matches!(err, TransitionError::NotAllowedNow { ref allowed, .. } if allowed.is_empty())
        );
        let err = decide(S::Shipped, A::Cancel, R::Admin).unwrap_err();
        assert_eq!(
            err,
            TransitionError::NotAllowedNow {
                action: A::Cancel,
                from: S::Shipped,
                allowed: vec![A::Deliver]
            }
        );
    }

    #[test]
    fn only_customers_place_orders_and_a_log_must_follow_the_table() {
        assert!(placement(R::Customer).is_ok());
        assert!(placement(R::Vendor).is_err());
        assert_eq!(
            row_of(Some(S::PendingPayment), A::Pay, S::Paid, R::Admin).map(|t| t.to),
            Some(S::Paid)
        );
        // A step no row has, or a row's step by a role it does not list, is not in the table.
        assert!(row_of(Some(S::PendingPayment), A::Pay, S::Shipped, R::Admin).is_none());
        assert!(row_of(Some(S::PendingPayment), A::Pay, S::Paid, R::Customer).is_none());
        assert!(row_of(Some(S::Shipped), A::Deliver, S::Delivered, R::System).is_some());
    }

    #[test]
    fn names_round_trip() {
        for s in OrderStatus::ALL {
            assert_eq!(s.as_str().parse::<OrderStatus>().unwrap(), *s);
        }
        assert!("teleport".parse::<Action>().is_err());
    }
}
