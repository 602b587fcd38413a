//! What the API sends and receives: JSON shapes with their OpenAPI schemas.
//!
//! Domain types stay free of HTTP concerns; these views decide the wire format (money as
//! `{"amount", "currency"}` in minor units, times in RFC 3339 UTC, ids as UUID strings).

use chrono::{DateTime, Utc};
use ordo_app::payments::PaymentDetail;
use ordo_domain::address::Address;
use ordo_domain::catalog::{Location, Product, Vendor};
use ordo_domain::identity::{Actor, Role, User};
use ordo_domain::money::{Currency, Money};
use ordo_domain::order::{Order, OrderChange, OrderEvent, allowed_actions};
use ordo_domain::payment::{Amounts, PaymentState, PaymentStatus, payment_status};
use ordo_domain::pricing::{DiscountLine, FxUsed, ShippingLine, TaxLine};
use ordo_store::{Payment, PaymentEntry, SkuStock};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// An amount of money in integer minor units (cents for EUR, yen for JPY).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MoneyView {
    #[schema(example = 1999)]
    pub amount: i64,
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
}

impl From<Money> for MoneyView {
    fn from(m: Money) -> Self {
        Self {
            amount: m.amount,
            currency: m.currency.code().to_owned(),
        }
    }
}

/// A postal address, returned exactly as it was typed.
///
/// The schema only: on the wire the domain's own `AddressInput` (in) and `Address` (out) are
/// used directly, since they already have exactly this shape.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "describes the domain Address in the OpenAPI document"
)]
pub struct AddressView {
    /// Any script, any emoji; kept byte for byte. No control characters.
    #[schema(
        example = "Zoë Ünal 🏠",
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub line1: String,
    #[schema(pattern = r"^[^\x00-\x1F\x7F-\x9F]*$", max_length = 200)]
    pub line2: Option<String>,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub city: String,
    #[schema(pattern = r"^[^\x00-\x1F\x7F-\x9F]*$", max_length = 200)]
    pub region: Option<String>,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 (or XK).
    #[schema(example = "CH", pattern = "^[A-Za-z]{2}$")]
    pub country: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllocationView {
    pub location_id: Uuid,
    pub quantity: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderItemView {
    pub sku: String,
    /// Product title (and variant) as it was when the order was placed.
    pub title: String,
    pub quantity: u32,
    pub unit_price: MoneyView,
    pub line_total: MoneyView,
    /// This line's share of the order's discounts.
    pub discount: MoneyView,
    /// Tax on this line (added, or contained in the price for inclusive rules).
    pub tax: MoneyView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_class: Option<String>,
    /// `at_order` (reserved at placement) or `at_payment` (taken at payment).
    pub stock_deduction: String,
    /// When the price was converted from the vendor's own currency: the original price, the
    /// rate and its rounding rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub fx: Option<FxUsed>,
    /// Where the units ship from (reserved at placement, or taken at payment).
    pub allocations: Vec<AllocationView>,
}

/// Everything the order was priced with, frozen at placement:
/// `subtotal − discount_total + shipping_total + tax_total = total`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPricingView {
    pub discount_total: MoneyView,
    pub shipping_total: MoneyView,
    /// Tax added on top of the prices (exclusive rules).
    pub tax_total: MoneyView,
    /// Tax contained in VAT/GST-inclusive prices (informative; not added).
    pub tax_included: MoneyView,
    /// One line per promotion: its id, code, name and amount.
    #[schema(value_type = Vec<Object>)]
    pub discounts: Vec<DiscountLine>,
    /// The shipping rate used (id, name, weight, amount); absent when none applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub shipping: Option<ShippingLine>,
    /// One line per tax rule used: name, rate, mode, taxable amount, tax.
    #[schema(value_type = Vec<Object>)]
    pub taxes: Vec<TaxLine>,
}

fn money(amount: i64, currency: Currency) -> MoneyView {
    Money { amount, currency }.into()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: Uuid,
    #[schema(example = "pending_payment")]
    pub status: String,
    pub customer_id: Uuid,
    pub vendor_id: Uuid,
    pub currency: String,
    pub items: Vec<OrderItemView>,
    pub subtotal: MoneyView,
    pub total: MoneyView,
    pub pricing: OrderPricingView,
    /// The checkout this order came from (one order per vendor share it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_id: Option<Uuid>,
    /// While unpaid: when the reservation ends and the order is cancelled (`payment_timeout`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_until: Option<DateTime<Utc>>,
    #[schema(value_type = AddressView)]
    pub shipping_address: Address,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// What the caller may do to this order now (from the state machine table).
    pub allowed_actions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The number of events in the order's log.
    pub version: i64,
    /// In the answer to a placement: the order's payment as the provider left it (see
    /// `GET /orders/{id}/payments` for it and its ledger later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentView>,
}

impl OrderView {
    pub fn new(o: Order, viewer: &Actor) -> Self {
        Self {
            id: o.id.0,
            status: o.status().to_string(),
            customer_id: o.customer_id.0,
            vendor_id: o.vendor_id.0,
            currency: o.currency.code().to_owned(),
            allowed_actions: allowed_actions(o.status(), viewer.role)
                .iter()
                .map(|a| a.to_string())
                .collect(),
            items: o
                .lines
                .into_iter()
                .map(|l| OrderItemView {
                    sku: l.sku.to_string(),
                    title: l.title,
                    quantity: l.quantity,
                    unit_price: l.unit_price.into(),
                    line_total: l.line_total.into(),
                    discount: money(l.pricing.discount, o.currency),
                    tax: money(l.pricing.tax, o.currency),
                    tax_class: l.pricing.tax_class.map(|c| c.as_str().to_owned()),
                    stock_deduction: l.pricing.deduction.as_str().to_owned(),
                    fx: l.pricing.fx,
                    allocations: l
                        .allocations
                        .iter()
                        .map(|a| AllocationView {
                            location_id: a.location_id.0,
                            quantity: a.quantity,
                        })
                        .collect(),
                })
                .collect(),
            subtotal: o.subtotal.into(),
            total: o.total.into(),
            pricing: OrderPricingView {
                discount_total: money(o.pricing.discount, o.currency),
                shipping_total: money(o.pricing.shipping, o.currency),
                tax_total: money(o.pricing.tax, o.currency),
                tax_included: money(o.pricing.tax_included, o.currency),
                discounts: o.pricing.discounts,
                shipping: o.pricing.shipping_line,
                taxes: o.pricing.taxes,
            },
            checkout_id: o.checkout_id.map(|c| c.0),
            reserved_until: o.reserved_until,
            shipping_address: o.shipping_address,
            carrier_id: o.carrier_id.map(|c| c.0),
            cancel_reason: o.cancel_reason,
            created_at: o.created_at,
            updated_at: o.updated_at,
            version: o.version,
            payment: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderList {
    pub data: Vec<OrderView>,
    /// Whether older orders follow; fetch them with `starting_after` = the last id.
    pub has_more: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActorView {
    /// Shown to staff only: customers and carriers see who acted by role and name, never the
    /// internal ids of the people on the other side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    pub role: String,
    /// For people: "you", "the seller", "customer support"…
    pub name: &'static str,
}

impl ActorView {
    /// `actor` as `viewer` may see them.
    pub fn new(actor: &Actor, viewer: &Actor) -> Self {
        let own = actor.user_id.is_some() && actor.user_id == viewer.user_id;
        let name = match actor.role {
            _ if own => "you",
            Role::Customer => "the customer",
            Role::Vendor => "the seller",
            Role::Support => "customer support",
            Role::Admin => "the shop's administration",
            Role::Carrier => "the carrier",
            Role::System => "Ordo",
        };
        Self {
            user_id: actor
                .user_id
                .filter(|_| viewer.is_staff() || own)
                .map(|u| u.0),
            role: actor.role.to_string(),
            name,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub order_id: Uuid,
    /// 1 for placement, then +1 per change: gap-free per order (the SSE `id`).
    pub seq: i64,
    #[serde(rename = "type")]
    #[schema(example = "order.paid")]
    pub kind: String,
    pub actor: ActorView,
    pub at: DateTime<Utc>,
    /// For `order.placed`, the order as placed; for a transition, `from`, `to` and any reason;
    /// for `payment.*` (money going back), `movement`, `amount` (minor units of the order's
    /// currency), `request_id` and any `reason`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl EventView {
    /// An event as `viewer` may see it.
    pub fn new(e: OrderEvent, viewer: &Actor) -> Self {
        let data = match &e.change {
            OrderChange::Placed { order } => {
                // The snapshot as placed: what was bought, at which prices, shipped where.
                let placed = OrderView::new((**order).clone(), &Actor::system());
                serde_json::json!({
                    "status": placed.status, "currency": placed.currency, "items": placed.items,
                    "subtotal": placed.subtotal, "total": placed.total, "pricing": placed.pricing,
                    "checkout_id": placed.checkout_id, "shipping_address": placed.shipping_address,
                })
            }
            OrderChange::Transitioned {
                action,
                from,
                to,
                reason,
                carrier_id,
                allocated,
            } => {
                let allocated: Vec<_> = allocated
                    .iter()
                    .map(|(line, a)| serde_json::json!({ "line": line, "allocations": a }))
                    .collect();
                serde_json::json!({
                    "action": action, "from": from, "to": to, "reason": reason, "carrier_id": carrier_id,
                    "allocated": allocated,
                })
            }
            OrderChange::Money {
                movement,
                amount,
                request_id,
                reason,
            } => {
                // Why, and which request, are staff's words and ids: a customer (or carrier)
                // reads how much moved and how.
                let staff = matches!(
                    viewer.role,
                    Role::Vendor | Role::Support | Role::Admin | Role::System
                );
                if staff {
                    serde_json::json!({
                        "movement": movement, "amount": amount, "request_id": request_id,
                        "reason": reason,
                    })
                } else {
                    serde_json::json!({ "movement": movement, "amount": amount })
                }
            }
        };
        Self {
            order_id: e.order_id.0,
            seq: e.seq,
            kind: e.event_type,
            actor: ActorView::new(&e.actor, viewer),
            at: e.at,
            data,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub data: Vec<EventView>,
}

/// One event of a caller's feed (`GET /events`), as its webhooks and the event stream carry it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedEventView {
    /// The event's place in the feed: gap-free and increasing; the cursor (`after`) and the
    /// SSE `id`. Also the event's id for consumers that must act once per event.
    pub id: i64,
    #[serde(rename = "type")]
    #[schema(example = "order.paid")]
    pub kind: String,
    pub timestamp: DateTime<Utc>,
    /// For `order.*`: the order's event as its log shows it (`EventView`); for `stock.*`: the
    /// SKU, its stock and what changed.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl FeedEventView {
    /// An event as `viewer` may see it.
    pub fn new(e: ordo_store::RelayedEvent, viewer: &Actor) -> Self {
        let m = e.message;
        let data = if ordo_app::outbox::in_order_log(&m.topic) {
            match serde_json::from_str::<OrderEvent>(m.payload.get()) {
                Ok(event) => {
                    serde_json::to_value(EventView::new(event, viewer)).unwrap_or_default()
                }
                Err(err) => {
                    tracing::error!(position = e.position, error = %err, "unreadable order event in the outbox");
                    serde_json::Value::Null
                }
            }
        } else {
            serde_json::from_str(m.payload.get()).unwrap_or_default()
        };
        Self {
            id: e.position,
            kind: m.topic,
            timestamp: m.created_at,
            data,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    pub data: Vec<FeedEventView>,
    /// More events wait after the last one: ask again with `after` = `next_after`.
    pub has_more: bool,
    /// The cursor to continue from (the last event's id, or the `after` you sent).
    pub next_after: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<Uuid>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id.0,
            email: u.email.to_string(),
            role: u.role.to_string(),
            vendor_id: u.vendor_id.map(|v| v.0),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VendorView {
    pub id: Uuid,
    pub name: String,
}

impl From<Vendor> for VendorView {
    fn from(v: Vendor) -> Self {
        Self {
            id: v.id.0,
            name: v.name.as_str().to_owned(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VendorList {
    pub data: Vec<VendorView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LocationView {
    pub id: Uuid,
    pub vendor_id: Uuid,
    pub code: String,
    pub name: String,
    pub priority: i32,
}

impl From<Location> for LocationView {
    fn from(l: Location) -> Self {
        Self {
            id: l.id.0,
            vendor_id: l.vendor_id.0,
            code: l.code.as_str().to_owned(),
            name: l.name.as_str().to_owned(),
            priority: l.priority,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VariantView {
    pub id: Uuid,
    pub sku: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub prices: Vec<MoneyView>,
    pub weight_grams: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low_stock_threshold: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub id: Uuid,
    pub vendor_id: Uuid,
    pub title: String,
    #[schema(example = "standard")]
    pub tax_class: String,
    /// `at_order` or `at_payment`.
    pub stock_deduction: String,
    pub variants: Vec<VariantView>,
}

impl ProductView {
    /// A product as `viewer` may see it: its low-stock thresholds only for the vendor's staff,
    /// support and admins.
    pub fn new(p: Product, viewer: &Actor) -> Self {
        let internals = viewer.sees_vendor_internals(p.vendor_id);
        Self {
            id: p.id.0,
            vendor_id: p.vendor_id.0,
            title: p.title.as_str().to_owned(),
            tax_class: p.tax_class.as_str().to_owned(),
            stock_deduction: p.stock_deduction.as_str().to_owned(),
            variants: p
                .variants
                .into_iter()
                .map(|v| VariantView {
                    id: v.id.0,
                    sku: v.sku.to_string(),
                    title: v.title.map(|t| t.as_str().to_owned()),
                    prices: v.prices.into_iter().map(MoneyView::from).collect(),
                    weight_grams: v.weight_grams,
                    low_stock_threshold: v.low_stock_threshold.filter(|_| internals),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductList {
    pub data: Vec<ProductView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LocationStockView {
    /// The location's code.
    pub location: String,
    pub location_id: Uuid,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

/// Stock of one SKU: totals, then per location.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockView {
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub locations: Vec<LocationStockView>,
}

impl From<SkuStock> for StockView {
    fn from(s: SkuStock) -> Self {
        let locations: Vec<LocationStockView> = s
            .locations
            .into_iter()
            .map(|l| LocationStockView {
                location: l.code.as_str().to_owned(),
                location_id: l.level.location_id.0,
                on_hand: l.level.on_hand,
                reserved: l.level.reserved,
                available: l.level.available(),
            })
            .collect();
        Self {
            sku: s.sku.to_string(),
            on_hand: locations.iter().map(|l| l.on_hand).sum(),
            reserved: locations.iter().map(|l| l.reserved).sum(),
            available: locations.iter().map(|l| l.available).sum(),
            locations,
        }
    }
}

/// A payment's money, in minor units of its currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct AmountsView {
    pub authorized: i64,
    pub captured: i64,
    pub voided: i64,
    pub refunded: i64,
    /// Asked of the provider, answer not in yet.
    pub capturing: i64,
    pub voiding: i64,
    pub refunding: i64,
}

impl From<Amounts> for AmountsView {
    fn from(a: Amounts) -> Self {
        Self {
            authorized: a.authorized,
            captured: a.captured,
            voided: a.voided,
            refunded: a.refunded,
            capturing: a.capturing,
            voiding: a.voiding,
            refunding: a.refunding,
        }
    }
}

/// One vendor order's share of a payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentShareView {
    pub order_id: Uuid,
    pub vendor_id: Uuid,
    /// What this order is due.
    pub amount: i64,
    /// Its payment status, from its own amounts.
    #[schema(example = "paid")]
    pub status: String,
    pub amounts: AmountsView,
}

/// One row of a payment's ledger (rows are only ever added).
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntryView {
    pub id: Uuid,
    #[schema(example = "refund_requested")]
    pub kind: String,
    pub amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<Uuid>,
    /// For an outcome: the request it ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<ActorView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// An offline payment's reference (a bank transfer's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The provider's answer (admins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl LedgerEntryView {
    fn new(e: PaymentEntry, viewer: &Actor) -> Self {
        Self {
            id: e.id,
            kind: e.kind.to_string(),
            amount: e.amount,
            order_id: e.order_id.map(|o| o.0),
            request_id: e.request_id,
            provider_ref: e.provider_ref,
            actor: e.actor.as_ref().map(|a| ActorView::new(a, viewer)),
            reason: e.reason,
            reference: e.reference,
            detail: e.detail.filter(|_| viewer.role == Role::Admin),
            created_at: e.created_at,
        }
    }
}

/// A payment: one per checkout (the customer pays once), each vendor order with its share.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    pub id: Uuid,
    /// `sandbox`, `stripe` or `manual` (paid by hand).
    #[schema(example = "sandbox")]
    pub provider: String,
    /// The provider's id of the payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<String>,
    /// Where the provider has the payment: `requires_payment_method`, `requires_action`,
    /// `processing`, `authorized`, `captured`, `canceled`, `expired`, `failed`.
    #[schema(example = "captured")]
    pub state: String,
    /// The money's status against what is due: `pending`, `authorized`, `partially_paid`,
    /// `paid`, `partially_refunded`, `refunded`, `voided`, `failed`, `expired`.
    #[schema(example = "paid")]
    pub status: String,
    /// What is due.
    pub amount: MoneyView,
    pub amounts: AmountsView,
    /// `automatic` (at authorization) or `manual` (at shipment, or by hand).
    pub capture_policy: String,
    /// Why the last attempt was declined (`card_declined`…): the customer may pay with
    /// another method until the reservation ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// For the paying customer while the payment waits for them: what their client confirms
    /// it with at the provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Manual capture: the authorization lapses then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_before: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<PaymentShareView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ledger: Vec<LedgerEntryView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PaymentView {
    /// The payment alone (as a checkout answers it).
    pub fn new(p: Payment, viewer: &Actor) -> Self {
        let status = payment_status(&p.amounts(), p.state(), p.amount);
        Self::with_status(p, status, viewer)
    }

    fn with_status(p: Payment, status: PaymentStatus, viewer: &Actor) -> Self {
        let waiting = matches!(
            p.state(),
            PaymentState::RequiresPaymentMethod | PaymentState::RequiresAction
        );
        let payer = viewer.role == Role::Customer && viewer.user_id == Some(p.customer_id);
        let (state, amounts) = (p.state(), p.amounts());
        Self {
            id: p.id,
            provider: p.provider,
            provider_ref: p.provider_ref,
            state: state.to_string(),
            status: status.to_string(),
            amount: MoneyView {
                amount: p.amount,
                currency: p.currency.code().to_owned(),
            },
            amounts: amounts.into(),
            capture_policy: p.capture_policy.to_string(),
            decline_code: p.decline_code,
            client_secret: p.client_secret.filter(|_| waiting && payer),
            capture_before: p.capture_before,
            orders: Vec::new(),
            ledger: Vec::new(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }

    /// The payment with its shares and ledger. A vendor's staff see their own orders' shares
    /// and rows only.
    pub fn detail(d: PaymentDetail, viewer: &Actor) -> Self {
        let mine = |vendor: Uuid| {
            viewer.role != Role::Vendor || viewer.vendor_id.map(|v| v.0) == Some(vendor)
        };
        let own_orders: Vec<ordo_domain::ids::OrderId> = d
            .allocations
            .iter()
            .filter(|a| mine(a.vendor_id.0))
            .map(|a| a.order_id)
            .collect();
        let mut view = Self::with_status(d.payment, d.status, viewer);
        view.orders = d
            .allocations
            .iter()
            .filter(|a| own_orders.contains(&a.order_id))
            .map(|a| {
                let (amounts, status) = d
                    .orders
                    .iter()
                    .find(|(o, ..)| *o == a.order_id)
                    .map(|(_, am, st)| (*am, *st))
                    .unwrap_or((Amounts::default(), PaymentStatus::Pending));
                PaymentShareView {
                    order_id: a.order_id.0,
                    vendor_id: a.vendor_id.0,
                    amount: a.amount,
                    status: status.to_string(),
                    amounts: amounts.into(),
                }
            })
            .collect();
        view.ledger = d
            .entries
            .into_iter()
            .filter(|e| e.order_id.is_none_or(|o| own_orders.contains(&o)))
            .map(|e| LedgerEntryView::new(e, viewer))
            .collect();
        view
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentList {
    pub data: Vec<PaymentView>,
}
