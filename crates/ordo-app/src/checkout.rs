//! Checkout: a basket becomes orders — one per vendor, sharing a checkout id — all or nothing:
//! a cart's checkout, and `POST /orders` (one vendor's items, without a cart).
//!
//! One transaction does it all, so a checkout is never half done: claim the idempotency key,
//! price every line (FX where a variant has no price in the currency), apply promotions, lock
//! the stock rows of every SKU in the checkout in one global SKU order (so concurrent checkouts
//! queue instead of deadlocking), choose each order's ship-from locations, reserve, count each
//! limited promotion's use (its row is locked after the stock rows, the same order everywhere),
//! write the orders with their frozen pricing snapshot, events and outbox rows, and close the
//! cart. If any vendor's stock is short, a code is used up, or anything else fails, the
//! transaction rolls back: no order exists and nothing stays reserved.
//!
//! A SKU found with nothing available is remembered for a moment (`Settings::sold_out_ttl`) and
//! checkouts of it are refused before they queue for the database: in a flash sale the thousands
//! of buyers who come too late get their 409 in microseconds instead of waiting behind every
//! sale. The hint can only refuse, never sell, so it cannot oversell; restocking or cancelling
//! on this node clears it.

use std::collections::HashMap;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use ordo_domain::ParseError;
use ordo_domain::address::{Address, AddressInput};
use ordo_domain::catalog::{Sku, VariantForSale};
use ordo_domain::identity::{Actor, Role};
use ordo_domain::ids::{CheckoutId, OrderId, UserId};
use ordo_domain::inventory::{Quantity, StockDeduction, StockLevel, allocate_order};
use ordo_domain::money::Currency;
use ordo_domain::order::{LinePricing, NewOrder, Order, OrderLine, OrderPricing};
use ordo_domain::pricing::parse_promo_code;
use ordo_domain::pricing::{
    BasketLine, Destination, NotApplicable, PricingBook, PricingError, Promotion, price_basket,
    resolve_price,
};
use ordo_store::StoreTx;

use crate::inventory::note_low_stock;
use crate::jobs::{JobKind, new_job};
use crate::outbox::outbox_for;
use ordo_domain::payment::CapturePolicy;
use ordo_store::{Payment, PaymentAllocation, PaymentDraft};
use std::sync::Arc;

use crate::{App, AppError, AppResult, with_retry};

/// What is being bought, checked.
#[derive(Debug, Clone)]
pub(crate) struct Basket {
    pub currency: Currency,
    pub lines: Vec<(Sku, Quantity)>,
    pub address: Option<Address>,
    pub promo_code: Option<String>,
}

/// Where a checkout's basket comes from.
pub(crate) enum BasketSource {
    /// `POST /orders`: the request itself.
    Direct(Box<Basket>),
    /// A stored basket (a cart), read and closed in the checkout's transaction by its owner
    /// module, so the checkout knows no more of carts than this.
    Stored(Box<dyn StoredBasket>),
}

/// A basket kept elsewhere that a checkout reads and then closes, in its own transaction.
pub(crate) trait StoredBasket: Send + Sync {
    /// The basket, as `actor` may check it out.
    fn read<'a>(
        &'a self,
        tx: &'a mut dyn StoreTx,
        actor: Actor,
    ) -> Pin<Box<dyn Future<Output = AppResult<Basket>> + Send + 'a>>;
    /// Marks it checked out as `checkout_id`.
    fn close<'a>(
        &'a self,
        tx: &'a mut dyn StoreTx,
        checkout_id: CheckoutId,
        now: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = AppResult<()>> + Send + 'a>>;
}

/// The orders of one checkout (stored whole as the answer to its Idempotency-Key).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Checkout {
    pub checkout_id: CheckoutId,
    pub orders: Vec<Order>,
    /// The checkout's payment (one for all its orders), when a provider takes payments.
    #[serde(default)]
    pub payment_id: Option<uuid::Uuid>,
    /// An earlier request with the same Idempotency-Key placed them.
    #[serde(skip)]
    pub replayed: bool,
    /// The payment as written, then as it stands once the provider answered.
    #[serde(skip)]
    pub payment: Option<ordo_store::Payment>,
}

/// Everything a checkout transaction needs besides the basket.
pub(crate) struct Context<'a> {
    pub actor: Actor,
    pub customer: UserId,
    pub book: &'a PricingBook,
    pub now: DateTime<Utc>,
    pub reservation_ttl: chrono::Duration,
    /// `POST /orders` places exactly one order; carts split.
    pub one_vendor: bool,
    /// The request field naming the lines (`items` or `lines`), for error paths.
    pub lines_field: &'static str,
    /// Who takes the payment (the provider's name) and when it is captured; `None`: payments
    /// are off and orders are paid by hand.
    pub payment: Option<(&'static str, CapturePolicy)>,
    /// The provider, when it answers in this process (see `PaymentProvider::in_process`).
    pub in_process: Option<Arc<dyn crate::payments::PaymentProvider>>,
    /// When the payment's sync job first looks.
    pub sync_at: DateTime<Utc>,
}

/// A basket line priced: the variant, its unit price and where the price came from.
pub(crate) struct Resolved<'v> {
    pub variant: &'v VariantForSale,
    pub line: BasketLine,
    pub fx: Option<ordo_domain::pricing::FxUsed>,
}

/// Matches each basket line with its variant and price in the basket's currency.
pub(crate) fn resolve<'v>(
    basket: &Basket,
    variants: &'v [VariantForSale],
    book: &PricingBook,
    lines_field: &str,
) -> AppResult<Vec<Resolved<'v>>> {
    basket
        .lines
        .iter()
        .enumerate()
        .map(|(i, (sku, quantity))| {
            resolve_line(sku, *quantity, basket.currency, variants, book)
                .map_err(|e| e.at(format!("{lines_field}[{i}].sku")).into())
        })
        .collect()
}

/// One line's variant and unit price in `currency` (`unknown_sku`, `price_unavailable`).
pub(crate) fn resolve_line<'v>(
    sku: &Sku,
    quantity: Quantity,
    currency: Currency,
    variants: &'v [VariantForSale],
    book: &PricingBook,
) -> Result<Resolved<'v>, ParseError> {
    let v = variants
        .iter()
        .find(|v| v.sku == *sku)
        .ok_or_else(|| ParseError::new("unknown_sku", format!("no product has SKU {sku}")))?;
    let (unit_price, fx) = resolve_price(&v.prices, currency, &book.fx).ok_or_else(|| {
        ParseError::new(
            "price_unavailable",
            format!("{sku} has no price in {currency} and no FX rate converts one"),
        )
    })?;
    Ok(Resolved {
        variant: v,
        line: BasketLine {
            sku: sku.clone(),
            vendor_id: v.vendor_id,
            quantity: quantity.get(),
            unit_price,
            tax_class: v.tax_class.clone(),
            weight_grams: v.weight_grams,
        },
        fx,
    })
}

/// The promotions a basket gets: every usable automatic one, then its code's. A code that is
/// unknown, off or used up refuses the checkout (the customer saw it in their cart).
pub(crate) fn promotions_for<'b>(
    book: &'b PricingBook,
    code: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<Vec<&'b Promotion>> {
    let mut out: Vec<&Promotion> = book.automatic(now).collect();
    if let Some(code) = code {
        let p = book.promotion_by_code(code).ok_or_else(|| {
            AppError::unprocessable(
                "unknown_promotion_code",
                format!("no promotion has the code {code}"),
                Some("promo_code"),
            )
        })?;
        p.usable(now)
            .map_err(|reason| promotion_refused(code, &reason))?;
        out.push(p);
    }
    Ok(out)
}

pub(crate) fn promotion_refused(code: &str, reason: &NotApplicable) -> AppError {
    match reason {
        NotApplicable::Exhausted => AppError::conflict(
            "promotion_exhausted",
            format!("the code {code} has been used as often as it may be"),
            Some("promo_code"),
        ),
        other => AppError::unprocessable(
            "promotion_not_applicable",
            format!("the code {code} does not apply: {other}"),
            Some("promo_code"),
        ),
    }
}

pub(crate) fn pricing_refused(e: PricingError) -> AppError {
    match e {
        PricingError::PromotionNotApplicable { code, reason } => promotion_refused(&code, &reason),
        PricingError::NoShippingRate { .. } => AppError::unprocessable(
            "no_shipping_rate",
            e.to_string(),
            Some("shipping_address.country"),
        ),
        PricingError::Overflow => {
            AppError::unprocessable("amount_out_of_range", e.to_string(), None)
        }
    }
}

/// Places the orders of one checkout in `tx`. See the module docs for the steps.
pub(crate) async fn place(
    tx: &mut dyn StoreTx,
    cx: Context<'_>,
    basket: &Basket,
    checkout_id: CheckoutId,
) -> AppResult<Checkout> {
    let address = basket.address.as_ref().ok_or_else(|| {
        ParseError::new(
            "missing_address",
            "a shipping address is needed to check out",
        )
        .at("shipping_address")
    })?;

    let skus: Vec<Sku> = basket.lines.iter().map(|(s, _)| s.clone()).collect();
    let variants = tx.variants_for_sale(&skus).await?;
    let resolved = resolve(basket, &variants, cx.book, cx.lines_field)?;
    if cx.one_vendor
        && let Some(i) = resolved
            .iter()
            .position(|r| r.line.vendor_id != resolved[0].line.vendor_id)
    {
        return Err(ParseError::new(
            "mixed_vendors",
            "an order holds one vendor's items; check out a cart to buy from several vendors at once",
        )
        .at(format!("{}[{i}].sku", cx.lines_field))
        .into());
    }
    let promotions = promotions_for(cx.book, basket.promo_code.as_deref(), cx.now)?;
    let basket_lines: Vec<BasketLine> = resolved.iter().map(|r| r.line.clone()).collect();
    let dest = Destination {
        country: &address.country,
        region: address.region.as_deref(),
    };
    let priced = price_basket(
        basket.currency,
        &basket_lines,
        Some(dest),
        cx.book,
        &promotions,
        basket.promo_code.as_deref(),
    )
    .map_err(pricing_refused)?;

    // Lock every SKU of the checkout, in one global order.
    let mut order_of_locks: Vec<usize> = (0..basket.lines.len()).collect();
    order_of_locks.sort_by(|a, b| basket.lines[*a].0.cmp(&basket.lines[*b].0));
    let mut levels: HashMap<usize, Vec<StockLevel>> = HashMap::with_capacity(basket.lines.len());
    for i in order_of_locks {
        levels.insert(i, tx.lock_stock(&basket.lines[i].0).await?);
    }

    // Count each promotion that is limited or was entered as a code; a used-up one refuses
    // the whole checkout. Unlimited automatic promotions are not counted, so they do not make
    // every checkout queue on one row.
    let mut counted: Vec<&Promotion> = promotions
        .iter()
        .copied()
        .filter(|p| priced.applied.iter().any(|(id, _)| *id == p.id))
        .filter(|p| p.usage_limit.is_some() || p.code.is_some())
        .collect();
    counted.sort_by_key(|p| p.id);

    let mut drafts = Vec::with_capacity(priced.orders.len());
    for po in &priced.orders {
        let idx: Vec<usize> = po.lines.iter().map(|l| l.index).collect();
        let order_levels: Vec<&[StockLevel]> = idx.iter().map(|i| levels[i].as_slice()).collect();
        let reserve_now: Vec<Option<Quantity>> = idx
            .iter()
            .map(|&i| {
                (resolved[i].variant.deduction == StockDeduction::AtOrder)
                    .then_some(basket.lines[i].1)
            })
            .collect();
        let short = |i: usize, available: i64| AppError::InsufficientStock {
            sku: basket.lines[i].0.to_string(),
            requested: basket.lines[i].1.get(),
            available,
            field: format!("{}[{i}].quantity", cx.lines_field),
        };
        let allocations = allocate_order(&order_levels, &reserve_now)
            .map_err(|(k, s)| short(idx[k], s.available))?;
        let mut lines = Vec::with_capacity(idx.len());
        for (k, &i) in idx.iter().enumerate() {
            let (sku, quantity) = &basket.lines[i];
            let available: i64 = order_levels[k].iter().map(StockLevel::available).sum();
            // Stock taken at payment is only checked now: an order that could never be served
            // is not placed.
            if available < i64::from(quantity.get()) {
                return Err(short(i, available));
            }
            for a in &allocations[k] {
                tx.change_stock(sku, a.location_id, 0, i64::from(a.quantity))
                    .await?;
            }
            if !allocations[k].is_empty() {
                let v = resolved[i].variant;
                note_low_stock(
                    tx,
                    sku,
                    v.low_stock_threshold,
                    available,
                    available - i64::from(quantity.get()),
                    cx.now,
                )
                .await?;
            }
            let r = &resolved[i];
            let pl = &po.lines[k];
            lines.push(OrderLine {
                sku: sku.clone(),
                product_id: r.variant.product_id,
                variant_id: r.variant.variant_id,
                title: r.variant.title.clone(),
                quantity: quantity.get(),
                unit_price: r.line.unit_price,
                line_total: pl.line_total,
                allocations: allocations[k].clone(),
                pricing: LinePricing {
                    discount: pl.discount.amount,
                    tax: pl.tax.amount,
                    tax_class: Some(r.line.tax_class.clone()),
                    fx: r.fx.clone(),
                    deduction: r.variant.deduction,
                },
            });
        }
        let t = po.totals;
        drafts.push(NewOrder {
            id: OrderId::new(),
            customer_id: cx.customer,
            vendor_id: po.vendor_id,
            currency: basket.currency,
            lines,
            subtotal: t.subtotal,
            total: t.total,
            pricing: OrderPricing {
                discount: t.discount.amount,
                shipping: t.shipping.amount,
                tax: t.tax.amount,
                tax_included: t.tax_included.amount,
                discounts: po.discounts.clone(),
                shipping_line: po.shipping.clone(),
                taxes: po.taxes.clone(),
            },
            checkout_id: Some(checkout_id),
            reserved_until: Some(cx.now + cx.reservation_ttl),
            shipping_address: address.clone(),
            created_at: cx.now,
        });
    }
    for p in counted {
        if !tx.use_promotion(p.id).await? {
            return Err(promotion_refused(
                p.code.as_deref().unwrap_or(&p.name),
                &NotApplicable::Exhausted,
            ));
        }
    }
    let mut orders = Vec::with_capacity(drafts.len());
    for new in drafts {
        let (order, event) =
            Order::place(new, cx.actor).map_err(|e| AppError::Forbidden(e.to_string()))?;
        tx.insert_order(&order, &event).await?;
        tx.enqueue(&outbox_for(&event, &order)?).await?;
        orders.push(order);
    }
    let payment = match cx.payment {
        Some((provider, capture)) => {
            // Each vendor's commission as it stands now, frozen on its order's share.
            let commissions: HashMap<_, _> = resolved
                .iter()
                .map(|r| (r.variant.vendor_id, r.variant.commission_bp))
                .collect();
            let opening = Opening {
                provider,
                capture,
                checkout_id,
                currency: basket.currency,
                commissions: &commissions,
            };
            open_payment(tx, &cx, opening, &orders).await?
        }
        None => None,
    };
    Ok(Checkout {
        checkout_id,
        orders,
        payment_id: payment.as_ref().map(|p| p.id),
        replayed: false,
        payment,
    })
}

/// Writes the checkout's payment — one for all its orders, a share per order — and the job
/// that makes sure the provider hears of it (see [`crate::payments::settle`]). Nothing to pay
/// (every order free) is no payment.
/// What a checkout's payment is opened with.
struct Opening<'a> {
    provider: &'a str,
    capture: CapturePolicy,
    checkout_id: CheckoutId,
    currency: Currency,
    commissions: &'a HashMap<ordo_domain::ids::VendorId, u16>,
}

async fn open_payment(
    tx: &mut dyn StoreTx,
    cx: &Context<'_>,
    opening: Opening<'_>,
    orders: &[Order],
) -> AppResult<Option<Payment>> {
    let Opening {
        provider,
        capture,
        checkout_id,
        currency,
        commissions,
    } = opening;
    let due: i64 = orders.iter().map(|o| o.total.amount).sum();
    if due <= 0 {
        return Ok(None);
    }
    let mut payment = Payment::open(PaymentDraft {
        id: uuid::Uuid::now_v7(),
        checkout_id: Some(checkout_id),
        customer_id: cx.customer,
        provider: provider.to_owned(),
        provider_ref: None,
        currency,
        amount: due,
        capture_policy: capture,
        capture_before: None,
        client_secret: None,
        created_at: cx.now,
    });
    if let Some(provider) = &cx.in_process {
        // No network: created here, so the answer needs no second transaction to record it
        // (a failure leaves it to the steps after the commit).
        if let Ok(created) = provider
            .create(crate::payments::settle::new_payment(&payment))
            .await
        {
            payment.provider_ref = Some(created.reference);
            payment.client_secret = created.client_secret;
            payment.report(created.state);
        }
    }
    let shares: Vec<PaymentAllocation> = orders
        .iter()
        .map(|o| PaymentAllocation {
            order_id: o.id,
            vendor_id: o.vendor_id,
            amount: o.total.amount,
            commission_bp: commissions.get(&o.vendor_id).copied().unwrap_or(0),
        })
        .collect();
    tx.insert_payment(&payment, &shares).await?;
    let job = new_job(JobKind::SyncPayment, &payment.id.to_string(), cx.sync_at);
    tx.enqueue_job(&job, cx.now).await?;
    Ok(Some(payment))
}

/// Refuses the placement if one of its SKUs was just found with nothing available.
pub(crate) fn sold_out_hint(
    sold_out: &moka::sync::Cache<String, ()>,
    c: &Basket,
    lines_field: &str,
) -> AppResult<()> {
    for (i, (sku, quantity)) in c.lines.iter().enumerate() {
        if sold_out.contains_key(sku.as_str()) {
            return Err(AppError::InsufficientStock {
                sku: sku.to_string(),
                requested: quantity.get(),
                available: 0,
                field: format!("{lines_field}[{i}].quantity"),
            });
        }
    }
    Ok(())
}

impl App {
    /// Runs a checkout transaction (with retries on collisions), consulting and feeding the
    /// sold-out hint.
    pub(crate) async fn run_checkout(
        &self,
        actor: Actor,
        customer: UserId,
        source: BasketSource,
        one_vendor: bool,
        lines_field: &'static str,
        method: Option<String>,
    ) -> AppResult<Checkout> {
        if let BasketSource::Direct(basket) = &source {
            sold_out_hint(&self.sold_out, basket, lines_field)?;
        }
        // A method the provider cannot take is refused before anything is placed.
        if let Some(m) = &method {
            let provider = self
                .provider
                .as_ref()
                .ok_or_else(crate::payments::settle::payments_off)?;
            provider.check_method(m).map_err(|why| {
                AppError::Invalid(
                    ParseError::new("invalid_payment_method", why).at("payment_method"),
                )
            })?;
        }
        let payment = self
            .provider
            .as_ref()
            .map(|p| (p.name(), self.settings.payments.capture));
        let in_process = self.provider.clone().filter(|p| p.in_process());
        let sync_after = self.settings.payments.sync_after;
        let source = Arc::new(source);
        let book = self.pricing_book().await?;
        let ttl = self.settings.reservation_ttl;
        let mut done = with_retry(|| {
            let (source, book, now) = (Arc::clone(&source), Arc::clone(&book), self.now());
            let sold_out = self.sold_out.clone();
            let in_process = in_process.clone();
            self.write_once(move |tx| {
                Box::pin(async move {
                    let checkout_id = CheckoutId::new();
                    let from_cart;
                    let basket = match &*source {
                        BasketSource::Direct(b) => b,
                        BasketSource::Stored(stored) => {
                            from_cart = stored.read(tx, actor).await?;
                            &from_cart
                        }
                    };
                    // Again once the unit's turn has come: the sale may have ended while it
                    // queued for the writer or a connection.
                    sold_out_hint(&sold_out, basket, lines_field)?;
                    let cx = Context {
                        actor,
                        customer,
                        book: &book,
                        now,
                        reservation_ttl: ttl,
                        one_vendor,
                        lines_field,
                        payment,
                        in_process,
                        sync_at: now + sync_after,
                    };
                    let done = place(tx, cx, basket, checkout_id).await?;
                    if let BasketSource::Stored(stored) = &*source {
                        stored.close(tx, checkout_id, now).await?;
                    }
                    Ok(done)
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
        done.replayed = App::replayed();
        if let Some(id) = done.payment_id {
            let payment = match done.payment.take() {
                Some(new) => new,
                // A replay: the payment and its orders as they stand now.
                None => {
                    for order in &mut done.orders {
                        if let Some(now) = self.store.order(order.id).await? {
                            *order = now;
                        }
                    }
                    self.store
                        .payment(id)
                        .await?
                        .ok_or(AppError::NotFound("payment"))?
                }
            };
            let settled = self
                .open_payment(payment, method.as_deref(), done.replayed)
                .await?;
            for paid in settled.orders {
                if let Some(order) = done.orders.iter_mut().find(|o| o.id == paid.id) {
                    *order = paid;
                }
            }
            done.payment = Some(settled.payment);
        }
        Ok(done)
    }
}

/// An order as a customer asks for it, unchecked.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    /// How to pay (a provider's method reference, such as a sandbox test card); `None`: the
    /// answer carries the payment's `client_secret` to confirm it client-side.
    pub payment_method: Option<String>,
    pub currency: String,
    /// (SKU, quantity) in the customer's order.
    pub items: Vec<(String, i64)>,
    pub shipping_address: AddressInput,
    pub promo_code: Option<String>,
}

/// The result of a placement: the order, and whether it was a replay of an earlier request.
#[derive(Debug, Clone)]
pub struct Placed {
    pub order: Order,
    pub replayed: bool,
    /// The order's payment as it stands after the provider answered.
    pub payment: Option<ordo_store::Payment>,
}

/// Lines one order takes at most.
pub const MAX_LINES: usize = 100;

fn check_placement(input: PlaceOrder) -> Result<Basket, ParseError> {
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
    let promo_code = input
        .promo_code
        .filter(|c| !c.trim().is_empty())
        .map(|c| parse_promo_code(&c))
        .transpose()
        .map_err(|e| e.at("promo_code"))?;
    Ok(Basket {
        currency,
        lines,
        address: Some(address),
        promo_code,
    })
}

impl App {
    /// `POST /orders`: a checkout of one vendor's items, without a cart.
    pub async fn place_order(&self, actor: &Actor, input: PlaceOrder) -> AppResult<Placed> {
        if actor.role != Role::Customer {
            return Err(AppError::Forbidden(format!(
                "a {} cannot place orders; customers do",
                actor.role
            )));
        }
        let customer = actor.user_id.ok_or(AppError::Unauthenticated)?;
        let method = input.payment_method.clone();
        let basket = check_placement(input)?;
        let done = self
            .run_checkout(
                *actor,
                customer,
                BasketSource::Direct(Box::new(basket)),
                true,
                "items",
                method,
            )
            .await?;
        let order = done
            .orders
            .into_iter()
            .next()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a checkout placed no order")))?;
        if !done.replayed {
            tracing::info!(order_id = %order.id, total = order.total.amount, "order placed");
        }
        Ok(Placed {
            order,
            replayed: done.replayed,
            payment: done.payment,
        })
    }
}
