//! Carts: guest and customer carts, their lines, live prices, and checkout into one order per
//! vendor.
//!
//! A guest opens a cart without logging in and gets a `cart_token` once; it goes in the
//! `Cart-Token` header of every later call, and in the login body to merge the cart into the
//! customer's. A customer's cart is reached with their bearer token.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ordo_app::App;
use ordo_app::carts::{CartAccess, CartPatch, CartQuote, NewCartContent};
use ordo_app::checkout::Checkout;
use ordo_domain::address::{Address, AddressInput};
use ordo_domain::ids::CartId;
use ordo_domain::pricing::PricedOrder;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, CartToken, Json, optional_body, path_id};
use crate::views::PaymentView;
use crate::views::{AddressView, MoneyView, OrderView};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_cart))
        .routes(routes!(get_cart, update_cart))
        .routes(routes!(add_line))
        .routes(routes!(set_line, remove_line))
        .routes(routes!(checkout))
}

fn access(caller: Option<&Caller>, token: Option<CartToken>) -> CartAccess {
    CartAccess {
        actor: caller.map(|c| c.actor),
        token: token.map(|t| t.0),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCartRequest {
    /// ISO 4217; prices are shown and charged in it (converted by FX rates where a product has
    /// no price of its own in it).
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// Items to start with (added to a customer's open cart if they have one).
    #[serde(default)]
    pub lines: Vec<AddLineRequest>,
    pub promo_code: Option<String>,
    #[schema(value_type = Option<AddressView>)]
    pub shipping_address: Option<AddressInput>,
}

#[derive(Serialize, ToSchema)]
pub struct CartLineView {
    pub sku: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub quantity: u32,
    /// Live; absent when the item has no price in the cart's currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<MoneyView>,
    /// Units available now across the vendor's locations.
    pub available: i64,
    pub in_stock: bool,
}

/// What one vendor's order would be if the cart were checked out now.
#[derive(Serialize, ToSchema)]
pub struct CartOrderView {
    pub vendor_id: Uuid,
    pub subtotal: MoneyView,
    pub discount_total: MoneyView,
    pub shipping_total: MoneyView,
    pub tax_total: MoneyView,
    pub tax_included: MoneyView,
    pub total: MoneyView,
    #[schema(value_type = Vec<Object>)]
    pub discounts: Vec<ordo_domain::pricing::DiscountLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub shipping: Option<ordo_domain::pricing::ShippingLine>,
    #[schema(value_type = Vec<Object>)]
    pub taxes: Vec<ordo_domain::pricing::TaxLine>,
}

impl From<PricedOrder> for CartOrderView {
    fn from(o: PricedOrder) -> Self {
        let t = o.totals;
        Self {
            vendor_id: o.vendor_id.0,
            subtotal: t.subtotal.into(),
            discount_total: t.discount.into(),
            shipping_total: t.shipping.into(),
            tax_total: t.tax.into(),
            tax_included: t.tax_included.into(),
            total: t.total.into(),
            discounts: o.discounts,
            shipping: o.shipping,
            taxes: o.taxes,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CartProblem {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CartView {
    pub id: Uuid,
    /// `open`, `merged` (into a customer's cart at login) or `checked_out`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<Uuid>,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promo_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AddressView>)]
    pub shipping_address: Option<Address>,
    pub lines: Vec<CartLineView>,
    /// One per vendor: a checkout places exactly these orders.
    pub orders: Vec<CartOrderView>,
    /// All orders together.
    pub total: MoneyView,
    /// What would stop a checkout now (short stock, a code that does not apply, no address).
    pub problems: Vec<CartProblem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_id: Option<Uuid>,
    pub version: i64,
    /// Shown once, when a guest cart is created: send it as `Cart-Token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cart_token: Option<String>,
}

impl From<CartQuote> for CartView {
    fn from(q: CartQuote) -> Self {
        let c = q.cart;
        Self {
            id: c.id.0,
            status: c.status.as_str().to_owned(),
            customer_id: c.customer_id.map(|u| u.0),
            currency: c.currency.code().to_owned(),
            promo_code: c.promo_code,
            shipping_address: c.shipping_address,
            lines: q
                .lines
                .into_iter()
                .map(|l| CartLineView {
                    in_stock: l.available >= i64::from(l.quantity),
                    sku: l.sku.to_string(),
                    title: l.title,
                    quantity: l.quantity,
                    unit_price: l.unit_price.map(Into::into),
                    available: l.available,
                })
                .collect(),
            orders: q.orders.into_iter().map(Into::into).collect(),
            total: q.total.into(),
            problems: q
                .problems
                .into_iter()
                .map(|p| CartProblem {
                    code: p.code.to_owned(),
                    message: p.message,
                    field: p.field,
                })
                .collect(),
            checkout_id: c.checkout_id.map(|x| x.0),
            version: c.version,
            cart_token: None,
        }
    }
}

/// Opens a cart. Without a login it is a guest cart, and the response carries its
/// `cart_token` (shown once). A customer gets their open cart (201 if new, 200 if they had one).
#[utoipa::path(post, path = "/carts", tag = "carts", request_body = CreateCartRequest,
    responses((status = 201, body = CartView), (status = 200, description = "the customer's open cart", body = CartView),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_cart(
    State(app): State<App>,
    caller: Option<Caller>,
    Json(req): Json<CreateCartRequest>,
) -> ApiResult<(StatusCode, axum::Json<CartView>)> {
    let actor = caller.as_ref().map(|c| c.actor);
    let content = NewCartContent {
        lines: req.lines.into_iter().map(|l| (l.sku, l.quantity)).collect(),
        promo_code: req.promo_code,
        shipping_address: req.shipping_address,
    };
    let (cart, token, created) = app
        .create_cart(actor.as_ref(), &req.currency, content)
        .await?;
    let access = CartAccess {
        actor,
        token: token.clone(),
    };
    let mut view: CartView = app.cart(&access, cart.id).await?.into();
    view.cart_token = token;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(view)))
}

/// The cart with live prices, availability, per-vendor totals (tax and shipping once it has an
/// address) and anything that would stop a checkout.
#[utoipa::path(get, path = "/carts/{id}", tag = "carts", params(("id" = Uuid, Path),
        ("Cart-Token" = Option<String>, Header, description = "opens a guest cart")),
    responses((status = 200, body = CartView), (status = 404, body = ErrorBody)))]
async fn get_cart(
    State(app): State<App>,
    caller: Option<Caller>,
    token: Option<CartToken>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<CartView>> {
    let id = path_id::<CartId>(&id, "cart")?;
    Ok(axum::Json(
        app.cart(&access(caller.as_ref(), token), id).await?.into(),
    ))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateCartRequest {
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
    /// A promotion code; `null` removes it.
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub promo_code: Option<Option<String>>,
    /// Where to ship; `null` removes it.
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<AddressView>)]
    pub shipping_address: Option<Option<AddressInput>>,
}

/// Changes the cart's currency, promotion code or shipping address.
#[utoipa::path(patch, path = "/carts/{id}", tag = "carts", params(("id" = Uuid, Path)), request_body = UpdateCartRequest,
    responses((status = 200, body = CartView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "cart_closed", body = ErrorBody), (status = 422, description = "unknown_promotion_code", body = ErrorBody)))]
async fn update_cart(
    State(app): State<App>,
    caller: Option<Caller>,
    token: Option<CartToken>,
    Path(id): Path<String>,
    Json(req): Json<UpdateCartRequest>,
) -> ApiResult<axum::Json<CartView>> {
    let id = path_id::<CartId>(&id, "cart")?;
    let patch = CartPatch {
        currency: req.currency,
        promo_code: req.promo_code,
        shipping_address: req.shipping_address,
    };
    Ok(axum::Json(
        app.update_cart(&access(caller.as_ref(), token), id, patch)
            .await?
            .into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLineRequest {
    #[schema(example = "NL-JKT-M", pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub sku: String,
    /// Added to what the cart already holds of this SKU.
    #[schema(example = 1, minimum = 1, maximum = 10000)]
    pub quantity: i64,
}

/// Adds units of a SKU to the cart.
#[utoipa::path(post, path = "/carts/{id}/lines", tag = "carts", params(("id" = Uuid, Path)), request_body = AddLineRequest,
    responses((status = 200, body = CartView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "cart_closed", body = ErrorBody)))]
async fn add_line(
    State(app): State<App>,
    caller: Option<Caller>,
    token: Option<CartToken>,
    Path(id): Path<String>,
    Json(req): Json<AddLineRequest>,
) -> ApiResult<axum::Json<CartView>> {
    let id = path_id::<CartId>(&id, "cart")?;
    Ok(axum::Json(
        app.add_cart_line(&access(caller.as_ref(), token), id, &req.sku, req.quantity)
            .await?
            .into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLineRequest {
    /// The new quantity; 0 removes the line.
    #[schema(minimum = 0, maximum = 10000)]
    pub quantity: i64,
}

/// Sets the quantity of one line.
#[utoipa::path(patch, path = "/carts/{id}/lines/{sku}", tag = "carts", params(("id" = Uuid, Path), ("sku" = String, Path)),
    request_body = SetLineRequest,
    responses((status = 200, body = CartView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_line(
    State(app): State<App>,
    caller: Option<Caller>,
    token: Option<CartToken>,
    Path((id, sku)): Path<(String, String)>,
    Json(req): Json<SetLineRequest>,
) -> ApiResult<axum::Json<CartView>> {
    let id = path_id::<CartId>(&id, "cart")?;
    Ok(axum::Json(
        app.set_cart_line(&access(caller.as_ref(), token), id, &sku, req.quantity)
            .await?
            .into(),
    ))
}

/// Removes one line.
#[utoipa::path(delete, path = "/carts/{id}/lines/{sku}", tag = "carts", params(("id" = Uuid, Path), ("sku" = String, Path)),
    responses((status = 200, body = CartView), (status = 404, body = ErrorBody)))]
async fn remove_line(
    State(app): State<App>,
    caller: Option<Caller>,
    token: Option<CartToken>,
    Path((id, sku)): Path<(String, String)>,
) -> ApiResult<axum::Json<CartView>> {
    let id = path_id::<CartId>(&id, "cart")?;
    Ok(axum::Json(
        app.set_cart_line(&access(caller.as_ref(), token), id, &sku, 0)
            .await?
            .into(),
    ))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// Ships here instead of the cart's address.
    #[schema(value_type = Option<AddressView>)]
    pub shipping_address: Option<AddressInput>,
    /// How to pay (a provider's method reference: a sandbox test card such as
    /// `sandbox_card_ok`, or `pm_card_visa` at Stripe): Ordo confirms the payment at once.
    /// Without it the answer's `payment.client_secret` lets the client confirm it.
    #[schema(example = "sandbox_card_ok", min_length = 1, max_length = 255)]
    pub payment_method: Option<String>,
    /// A guest's checkout (no `Authorization`, the cart's `Cart-Token`): the address the
    /// orders' messages go to. The answer's `track_url` opens the orders' live pages.
    #[schema(example = "guest@example.com", max_length = 254)]
    pub email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CheckoutView {
    pub checkout_id: Uuid,
    /// One order per vendor, each with its own totals, tax and shipping.
    pub orders: Vec<OrderView>,
    /// What the customer pays in all.
    pub total: MoneyView,
    /// The checkout's one payment, as the provider left it (none with payments off or nothing
    /// to pay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentView>,
    /// A guest's checkout: the path of its orders' live pages (an unguessable link, also in
    /// the confirmation e-mail). Registering with the same e-mail from that page claims them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_url: Option<String>,
}

/// Checks the cart out (the customer who owns it, or a guest with the cart's `Cart-Token` and
/// an `email`): one order per vendor sharing a
/// `checkout_id`, all or nothing — if any item is short, no order is placed and nothing stays
/// reserved. Stock is held for the reservation time; unpaid orders are then cancelled
/// (`payment_timeout`). Send an `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/carts/{id}/checkout", tag = "carts", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body(content = Option<CheckoutRequest>),
    responses((status = 201, body = CheckoutView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "insufficient_stock, promotion_exhausted, cart_closed or idempotency_key_reused", body = ErrorBody),
              (status = 422, description = "no_shipping_rate or promotion_not_applicable", body = ErrorBody)))]
async fn checkout(
    State(app): State<App>,
    caller: Option<Caller>,
    token: Option<CartToken>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, axum::Json<CheckoutView>)> {
    let id = path_id::<CartId>(&id, "cart")?;
    let req: CheckoutRequest = optional_body(&body)?;
    let actor = caller.as_ref().map(|c| c.actor);
    let (done, track_url): (Checkout, _) = match (&actor, token) {
        (None, Some(token)) => {
            let access = CartAccess {
                actor: None,
                token: Some(token.0),
            };
            let email = req.email.unwrap_or_default();
            let guest = app
                .checkout_as_guest(
                    &access,
                    id,
                    &email,
                    req.shipping_address,
                    req.payment_method,
                )
                .await?;
            (guest.checkout, Some(format!("/track/{}", guest.link)))
        }
        _ => (
            app.checkout_cart(actor.as_ref(), id, req.shipping_address, req.payment_method)
                .await?,
            None,
        ),
    };
    // A guest reads their orders as the guest account they belong to.
    let viewer = actor
        .or_else(|| {
            done.orders.first().map(|o| ordo_domain::identity::Actor {
                user_id: Some(o.customer_id),
                role: ordo_domain::identity::Role::Customer,
                vendor_id: None,
            })
        })
        .unwrap_or_else(ordo_domain::identity::Actor::system);
    let currency = done.orders.first().map(|o| o.currency);
    let total = done.orders.iter().map(|o| o.total.amount).sum();
    Ok((
        StatusCode::CREATED,
        axum::Json(CheckoutView {
            checkout_id: done.checkout_id.0,
            payment: done.payment.map(|p| PaymentView::new(p, &viewer)),
            track_url,
            total: MoneyView {
                amount: total,
                currency: currency.map(|c| c.code().to_owned()).unwrap_or_default(),
            },
            orders: done
                .orders
                .into_iter()
                .map(|o| OrderView::new(o, &viewer))
                .collect(),
        }),
    ))
}
