//! The vendor console: the order queue ("needs action" first: paid and not yet accepted,
//! accepted and not yet shipped; then every order, filtered by status and payment status, a
//! page at a time by keyset, with counts that stop at "1,000+"), new orders appearing live,
//! and an order's page with its timeline and the actions the table allows the vendor (accept,
//! ship, cancel) and the capture of an authorized payment; stock per SKU and location, its
//! adjustments (who, why) and the low-stock list; products (add one with up to three variants,
//! set a SKU's price in any currency and its low-stock threshold); webhook endpoints (add,
//! change, pause and resume, a new secret shown once, delete after asking) and their
//! deliveries (test, retry).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ordo_app::payments::requests::Ask;
use ordo_app::{App, AppError};
use ordo_domain::identity::Role;
use ordo_domain::ids::OrderId;
use ordo_domain::order::{Action, OrderStatus, allowed_actions};
use ordo_domain::payment::{PaymentState, PaymentStatus};
use serde::Deserialize;

use super::account::{ORDER_EVENTS, OrderRow, OrderView, order_head};
use super::session::Visitor;
use super::{
    Errors, Page, failure, forgetting, render_flashed, render_form, see_other, signed_as,
    take_flash,
};

/// Counts on the queue stop here.
const COUNT_CAP: u32 = 1000;
/// Orders per page of the queue.
const PAGE: i64 = 25;

/// A count as the queue shows it: exact below the cap, "1,000+" at it.
fn capped(n: u32) -> String {
    if n >= COUNT_CAP {
        "1,000+".to_owned()
    } else {
        n.to_string()
    }
}

/// One part of the queue that needs the vendor.
pub struct Section {
    pub title: &'static str,
    pub count: String,
    pub orders: Vec<OrderRow>,
    pub more: Option<String>,
}

pub struct StatusChoice {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "web/vendor/queue.html")]
struct Queue {
    page: Page,
    needs_action: Vec<Section>,
    all: Section,
    statuses: Vec<StatusChoice>,
    status: String,
    payments: Vec<StatusChoice>,
    payment: String,
    stream: String,
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    pub status: Option<String>,
    /// The payment status of the orders' shares (`authorized`: waiting to be captured).
    pub payment: Option<String>,
    pub after: Option<String>,
}

/// The vendor's staff behind the page (or an admin), or where they should go instead.
fn vendor_only(
    app: &App,
    visitor: &Visitor,
    path: &str,
) -> Result<ordo_domain::identity::Actor, Box<Response>> {
    signed_as(
        app,
        visitor,
        path,
        &[Role::Vendor, Role::Admin],
        "vendor console",
    )
    .map(|s| s.principal.actor)
}

/// `GET /vendor`: the queue.
pub async fn queue(
    State(app): State<App>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(q): Query<QueueQuery>,
) -> Response {
    let actor = match vendor_only(&app, &visitor, "/vendor") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let (flash, forget) = take_flash(&headers);
    let page = Page::new(&app, &visitor, "Order queue").with_flash(flash);
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<OrderStatus>().ok());
    let payment = q
        .payment
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<PaymentStatus>().ok());
    let section = |title: &'static str,
                   status: Option<OrderStatus>,
                   payment: Option<PaymentStatus>,
                   after: Option<String>| {
        let (app, page) = (&app, &page);
        async move {
            let (found, count) = tokio::try_join!(
                app.orders_filtered(
                    &actor,
                    status.map(|s| s.as_str()),
                    payment.map(|p| p.as_str()),
                    Some(PAGE),
                    after.as_deref()
                ),
                app.count_orders(&actor, status, payment, COUNT_CAP)
            )?;
            let orders: Vec<OrderRow> =
                found.orders.iter().map(|o| OrderRow::of(page, o)).collect();
            let more = found
                .has_more
                .then(|| orders.last().map(|o| o.id.clone()))
                .flatten();
            Ok::<_, AppError>(Section {
                title,
                count: capped(count),
                orders,
                more,
            })
        }
    };
    let loaded = tokio::try_join!(
        section(
            "Paid, waiting for you to accept",
            Some(OrderStatus::Paid),
            None,
            None
        ),
        section(
            "Accepted, waiting to ship",
            Some(OrderStatus::Processing),
            None,
            None
        ),
        section("All orders", status, payment, q.after.clone()),
    );
    let (paid, accepted, all) = match loaded {
        Ok(s) => s,
        Err(e) => return failure(&app, &visitor, e),
    };
    let head = app.feed_head().await.unwrap_or(0);
    let statuses = std::iter::once(StatusChoice {
        value: "",
        label: "Any status".into(),
        selected: status.is_none(),
    })
    .chain(
        [
            OrderStatus::PendingPayment,
            OrderStatus::Paid,
            OrderStatus::Processing,
            OrderStatus::Shipped,
            OrderStatus::Delivered,
            OrderStatus::Completed,
            OrderStatus::Cancelled,
        ]
        .into_iter()
        .map(|s| StatusChoice {
            value: s.as_str(),
            label: super::Tag::order(s).text,
            selected: Some(s) == status,
        }),
    )
    .collect();
    let payments = std::iter::once(StatusChoice {
        value: "",
        label: "Any payment".into(),
        selected: payment.is_none(),
    })
    .chain(
        [
            PaymentStatus::Pending,
            PaymentStatus::Authorized,
            PaymentStatus::Paid,
            PaymentStatus::PartiallyPaid,
            PaymentStatus::PartiallyRefunded,
            PaymentStatus::Refunded,
            PaymentStatus::Voided,
            PaymentStatus::Failed,
            PaymentStatus::Expired,
        ]
        .into_iter()
        .map(|p| StatusChoice {
            value: p.as_str(),
            label: super::Tag::payment(p).text,
            selected: Some(p) == payment,
        }),
    )
    .collect();
    render_flashed(
        &Queue {
            page,
            needs_action: vec![paid, accepted],
            all,
            statuses,
            status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            payments,
            payment: payment.map(|p| p.as_str().to_owned()).unwrap_or_default(),
            stream: format!("/api/v1/events?after={head}"),
        },
        forget,
    )
}

/// One action button on the vendor's order page.
pub struct ActionButton {
    pub action: &'static str,
    pub label: &'static str,
    pub warning: bool,
}

#[derive(Template)]
#[template(path = "web/vendor/order.html")]
struct OrderPage {
    page: Page,
    errors: Errors,
    order: OrderView,
    actions: Vec<ActionButton>,
    events: &'static str,
    /// Cancelling a paid order asked for the password again: the cancel form shows its field,
    /// with the reason as it was typed.
    ask_password: bool,
    reason: String,
}

/// `GET /vendor/orders/{id}`: the order with its live timeline and the vendor's actions.
pub async fn order(
    State(app): State<App>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (flash, forget) = take_flash(&headers);
    forgetting(
        order_page(&app, &visitor, &id, Errors::default(), flash, "").await,
        forget,
    )
}

async fn order_page(
    app: &App,
    visitor: &Visitor,
    id: &str,
    errors: Errors,
    flash: Option<String>,
    reason: &str,
) -> Response {
    let actor = match vendor_only(app, visitor, &format!("/vendor/orders/{id}")) {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let (page, view, order) = match order_head(app, visitor, &actor, id, &errors, flash).await {
        Ok(head) => head,
        Err(to) => return *to,
    };
    let order_id = order.id;
    let mut actions: Vec<ActionButton> = allowed_actions(order.status, actor.role)
        .into_iter()
        .filter_map(|a| match a {
            Action::Accept => Some(ActionButton {
                action: "accept",
                label: "Accept order",
                warning: false,
            }),
            Action::Ship => Some(ActionButton {
                action: "ship",
                label: "Mark as shipped",
                warning: false,
            }),
            Action::Cancel => Some(ActionButton {
                action: "cancel",
                label: "Cancel order",
                warning: true,
            }),
            _ => None,
        })
        .collect();
    let authorized = app
        .order_payment(&actor, order_id)
        .await
        .ok()
        .flatten()
        .is_some_and(|p| p.payment.state == PaymentState::Authorized);
    if authorized {
        actions.insert(
            0,
            ActionButton {
                action: "capture",
                label: "Capture payment",
                warning: false,
            },
        );
    }
    let body = OrderPage {
        ask_password: errors.get("password").is_some(),
        reason: reason.to_owned(),
        page,
        errors,
        order: view,
        actions,
        events: ORDER_EVENTS,
    };
    render_form(&body, &body.errors)
}

#[derive(Deserialize)]
pub struct ActForm {
    #[serde(default)]
    pub reason: String,
    /// Cancelling a paid order needs it again when the session is no longer fresh.
    #[serde(default)]
    pub password: String,
}

/// `POST /vendor/orders/{id}/{action}`: accept, ship, cancel or capture.
pub async fn act(
    State(app): State<App>,
    visitor: Visitor,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<ActForm>,
) -> Response {
    let actor = match vendor_only(&app, &visitor, &format!("/vendor/orders/{id}")) {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let Ok(order_id) = id.parse::<OrderId>() else {
        return failure(&app, &visitor, AppError::NotFound("order"));
    };
    let proof = match visitor.signed.as_ref() {
        Some(signed) => match signed.proof(&app, &f.password).await {
            Ok(p) => p,
            Err(e) => {
                let errors = Errors::of(e, "password");
                return order_page(&app, &visitor, &id, errors, None, &f.reason).await;
            }
        },
        None => ordo_domain::identity::Proof::until(None),
    };
    let reason = (!f.reason.trim().is_empty()).then(|| f.reason.trim().to_owned());
    let (done, flash) = match action.as_str() {
        "capture" => (
            app.move_money(&actor, proof, order_id, Ask::Capture(None), reason)
                .await
                .map(|_| ()),
            "captured",
        ),
        "accept" | "ship" | "cancel" => (
            app.act(&actor, proof, order_id, &action, reason, None)
                .await
                .map(|_| ()),
            match action.as_str() {
                "accept" => "accepted",
                "ship" => "shipped",
                _ => "cancelled",
            },
        ),
        _ => return failure(&app, &visitor, AppError::NotFound("action")),
    };
    match done {
        Ok(()) => see_other(&format!("/vendor/orders/{id}"), Some(flash)),
        Err(e) => {
            let errors = Errors::of_sensitive(e, "", super::PASSWORD_AGAIN);
            order_page(&app, &visitor, &id, errors, None, &f.reason).await
        }
    }
}

/// One location's stock of a SKU.
pub struct LevelRow {
    pub location: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

/// One recorded adjustment: who, why, what came of it.
pub struct AdjustmentRow {
    pub when: String,
    pub delta: String,
    pub reason: String,
    pub note: String,
    pub who: String,
    pub on_hand_after: i64,
}

#[derive(Template)]
#[template(path = "web/vendor/stock.html")]
struct StockPage {
    page: Page,
    errors: Errors,
    sku: String,
    low: Vec<(String, i64, i64)>,
    levels: Vec<LevelRow>,
    adjustments: Vec<AdjustmentRow>,
    /// What the adjustment form carried, shown again with its errors.
    typed: AdjustForm,
}

#[derive(Deserialize, Default)]
pub struct StockQuery {
    pub sku: Option<String>,
}

/// `GET /vendor/stock`: the low-stock list, and one SKU's stock per location with its
/// adjustments (`?sku=`).
pub async fn stock(
    State(app): State<App>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(q): Query<StockQuery>,
) -> Response {
    let (flash, forget) = take_flash(&headers);
    let sku = q.sku.unwrap_or_default().trim().to_owned();
    forgetting(
        stock_page(
            &app,
            &visitor,
            &sku,
            AdjustForm::default(),
            Errors::default(),
            flash,
        )
        .await,
        forget,
    )
}

async fn stock_page(
    app: &App,
    visitor: &Visitor,
    sku: &str,
    typed: AdjustForm,
    mut errors: Errors,
    flash: Option<String>,
) -> Response {
    let actor = match vendor_only(app, visitor, "/vendor/stock") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let low = match app.low_stock(&actor, actor.vendor_id).await {
        Ok(l) => l
            .into_iter()
            .map(|l| (l.sku.to_string(), l.available, l.threshold))
            .collect(),
        Err(_) => Vec::new(),
    };
    let page = Page::new(app, visitor, "Stock");
    let (mut levels, mut adjustments) = (Vec::new(), Vec::new());
    if !sku.is_empty() {
        match tokio::try_join!(app.stock(&actor, sku), app.stock_adjustments(&actor, sku)) {
            Ok((stock, adjusted)) => {
                levels = stock
                    .locations
                    .iter()
                    .map(|l| LevelRow {
                        location: l.code.to_string(),
                        on_hand: l.level.on_hand,
                        reserved: l.level.reserved,
                        available: l.level.on_hand - l.level.reserved,
                    })
                    .collect();
                adjustments = adjusted
                    .iter()
                    .map(|a| AdjustmentRow {
                        when: page.date(&a.at),
                        delta: format!("{:+}", a.delta),
                        reason: a.reason.as_str().to_owned(),
                        note: a.note.clone().unwrap_or_default(),
                        who: a.actor.role.to_string(),
                        on_hand_after: a.on_hand_after,
                    })
                    .collect();
            }
            Err(AppError::NotFound(_)) => {
                errors.push("sku", format!("You sell no SKU “{sku}”"));
            }
            Err(e) => return failure(app, visitor, e),
        }
    }
    let body = StockPage {
        page: page.with_errors(&errors).with_flash(flash),
        errors,
        sku: sku.to_owned(),
        low,
        levels,
        adjustments,
        typed,
    };
    render_form(&body, &body.errors)
}

#[derive(Deserialize, Default)]
pub struct AdjustForm {
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub delta: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub note: String,
}

/// `POST /vendor/stock/{sku}`: adjusts a SKU's units on hand at a location, saying why.
pub async fn adjust(
    State(app): State<App>,
    visitor: Visitor,
    Path(sku): Path<String>,
    Form(f): Form<AdjustForm>,
) -> Response {
    let actor = match vendor_only(&app, &visitor, "/vendor/stock") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let Ok(delta) = f.delta.trim().parse::<i64>() else {
        let errors = Errors::one(
            "delta",
            "Enter the change in units as a whole number: 5 adds five, -2 takes two away",
        );
        return stock_page(&app, &visitor, &sku, f, errors, None).await;
    };
    let input = ordo_app::inventory::AdjustStock {
        location: Some(f.location.trim().to_owned()).filter(|l| !l.is_empty()),
        delta,
        reason: f.reason.clone(),
        note: Some(f.note.trim().to_owned()).filter(|n| !n.is_empty()),
    };
    match app.adjust_stock(&actor, &sku, input).await {
        Ok(_) => see_other(
            &format!("/vendor/stock?sku={}", urlencoded(&sku)),
            Some("adjusted"),
        ),
        Err(e) => {
            let errors = Errors::of(e, "delta");
            stock_page(&app, &visitor, &sku, f, errors, None).await
        }
    }
}

/// A SKU made safe for a query string (SKUs are letters, digits and a few marks).
fn urlencoded(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.~".contains(c) {
                c.to_string()
            } else {
                format!("%{:02X}", c as u32)
            }
        })
        .collect()
}

/// One variant as the products page shows it.
pub struct VariantView {
    pub sku: String,
    pub title: String,
    pub prices: String,
    /// Its entries on the price lists (what carts charge), in every currency it has one.
    pub listed: String,
    pub threshold: String,
    /// The id the variant's controls share (SKUs may hold characters ids should not).
    pub key: String,
}

#[derive(Template)]
#[template(path = "web/vendor/products.html")]
struct ProductsPage {
    page: Page,
    errors: Errors,
    products: Vec<(String, Vec<VariantView>)>,
    typed: NewProductForm,
    currencies: Vec<(&'static str, &'static str)>,
}

/// `GET /vendor/products`: the vendor's products, their prices and thresholds, and a new one.
pub async fn products(State(app): State<App>, visitor: Visitor, headers: HeaderMap) -> Response {
    let (flash, forget) = take_flash(&headers);
    forgetting(
        products_page(
            &app,
            &visitor,
            NewProductForm::default(),
            Errors::default(),
            flash,
        )
        .await,
        forget,
    )
}

async fn products_page(
    app: &App,
    visitor: &Visitor,
    typed: NewProductForm,
    errors: Errors,
    flash: Option<String>,
) -> Response {
    let actor = match vendor_only(app, visitor, "/vendor/products") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let Some(vendor) = actor.vendor_id else {
        return failure(
            app,
            visitor,
            AppError::Forbidden("products belong to a vendor: sign in as its staff".into()),
        );
    };
    let products = match app.products(Some(vendor), 200).await {
        Ok(p) => p,
        Err(e) => return failure(app, visitor, e),
    };
    // Each currency's price list (a few currencies; one query each).
    let mut listed = Vec::new();
    for currency in super::storefront::CURRENCIES {
        match app
            .price_list(currency, Some(vendor), None, Some(100))
            .await
        {
            Ok((entries, _)) => listed.extend(entries),
            Err(e) => return failure(app, visitor, e),
        }
    }
    let page = Page::new(app, visitor, "Products")
        .with_errors(&errors)
        .with_flash(flash);
    let products = products
        .iter()
        .map(|p| {
            let variants = p
                .variants
                .iter()
                .map(|v| VariantView {
                    key: super::control_id(v.sku.as_str()),
                    sku: v.sku.to_string(),
                    title: v
                        .title
                        .as_ref()
                        .map_or_else(|| p.title.as_str().to_owned(), |t| t.as_str().to_owned()),
                    prices: v
                        .prices
                        .iter()
                        .map(|m| page.money(m))
                        .collect::<Vec<_>>()
                        .join(", "),
                    listed: listed
                        .iter()
                        .filter(|e| e.sku == v.sku)
                        .map(|e| page.money(&e.price))
                        .collect::<Vec<_>>()
                        .join(", "),
                    threshold: v
                        .low_stock_threshold
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                })
                .collect();
            (p.title.as_str().to_owned(), variants)
        })
        .collect();
    let body = ProductsPage {
        page,
        errors,
        products,
        typed,
        currencies: currency_choices(),
    };
    render_form(&body, &body.errors)
}

/// The currencies a vendor prices in, as a select offers them.
fn currency_choices() -> Vec<(&'static str, &'static str)> {
    super::storefront::CURRENCIES
        .iter()
        .map(|c| (*c, *c))
        .collect()
}

/// How many variants the new-product form offers (rows left empty are skipped); more come
/// through the API.
pub const NEW_VARIANTS: usize = 3;

/// A new product as typed: its title, the currency of its prices, and up to [`NEW_VARIANTS`]
/// variants (SKU, name, price), each row `<field><n>`.
#[derive(Deserialize)]
#[serde(default)]
pub struct NewProductForm {
    pub title: String,
    pub currency: String,
    pub threshold: String,
    pub sku0: String,
    pub name0: String,
    pub price0: String,
    pub sku1: String,
    pub name1: String,
    pub price1: String,
    pub sku2: String,
    pub name2: String,
    pub price2: String,
}

impl Default for NewProductForm {
    fn default() -> Self {
        Self {
            title: String::new(),
            currency: "EUR".into(),
            threshold: String::new(),
            sku0: String::new(),
            name0: String::new(),
            price0: String::new(),
            sku1: String::new(),
            name1: String::new(),
            price1: String::new(),
            sku2: String::new(),
            name2: String::new(),
            price2: String::new(),
        }
    }
}

/// One variant row of the form, as typed.
pub struct VariantRow<'a> {
    pub n: usize,
    pub sku: &'a str,
    pub name: &'a str,
    pub price: &'a str,
}

impl NewProductForm {
    /// Its variant rows, in order.
    pub fn rows(&self) -> [VariantRow<'_>; NEW_VARIANTS] {
        [
            VariantRow {
                n: 0,
                sku: &self.sku0,
                name: &self.name0,
                price: &self.price0,
            },
            VariantRow {
                n: 1,
                sku: &self.sku1,
                name: &self.name1,
                price: &self.price1,
            },
            VariantRow {
                n: 2,
                sku: &self.sku2,
                name: &self.name2,
                price: &self.price2,
            },
        ]
    }
}

/// `POST /vendor/products`: a new product with up to three variants, priced in one currency.
pub async fn create_product(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<NewProductForm>,
) -> Response {
    let actor = match vendor_only(&app, &visitor, "/vendor/products") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let Some(vendor_id) = actor.vendor_id else {
        return failure(
            &app,
            &visitor,
            AppError::Forbidden("sign in as vendor staff".into()),
        );
    };
    let mut errors = Errors::default();
    let currency = match ordo_domain::money::Currency::parse(f.currency.trim()) {
        Ok(c) => Some(c),
        Err(e) => {
            errors.push("currency", e.message);
            None
        }
    };
    let threshold = match super::optional_count(
        &f.threshold,
        "threshold",
        "Enter the low-stock threshold as a whole number, or leave it empty",
    ) {
        Ok(t) => t,
        Err(refused) => {
            errors.0.extend(refused.0);
            None
        }
    };
    // The rows with anything typed in them, keeping their place (errors name it); the first
    // row always counts, so an empty form says what it needs.
    let mut variants = Vec::new();
    // The form row of each variant sent (the use case's errors name the variant's place).
    let mut row_of = Vec::new();
    for row in f.rows() {
        let typed = [row.sku, row.name, row.price]
            .iter()
            .any(|t| !t.trim().is_empty());
        if row.n > 0 && !typed {
            continue;
        }
        let price = currency.and_then(|c| super::storefront::parse_amount(row.price, c));
        if price.is_none() {
            errors.push(
                &format!("variants-{}-prices-0-amount", row.n),
                format!("Enter the price of variant {}, like 12.50", row.n + 1),
            );
        }
        row_of.push(row.n);
        variants.push(ordo_app::catalog::NewVariant {
            sku: row.sku.trim().to_owned(),
            title: Some(row.name.trim().to_owned()).filter(|t| !t.is_empty()),
            prices: vec![(f.currency.trim().to_owned(), price.unwrap_or_default())],
            weight_grams: None,
            low_stock_threshold: threshold,
        });
    }
    if !errors.is_empty() {
        return products_page(&app, &visitor, f, errors, None).await;
    }
    let input = ordo_app::catalog::NewProduct {
        vendor_id,
        title: f.title.trim().to_owned(),
        tax_class: None,
        stock_deduction: None,
        variants,
    };
    match app.create_product(&actor, input).await {
        Ok(_) => see_other("/vendor/products", Some("product_created")),
        Err(e) => {
            let mut errors = Errors::of(e, "title");
            for e in &mut errors.0 {
                if e.id == "variants" {
                    e.id = "variants-0-sku".into();
                } else if let Some(rest) = e.id.strip_prefix("variants-") {
                    // `variants-<i>-…`: the i-th variant sent is the form's row `row_of[i]`.
                    let (i, field) = rest.split_once('-').unwrap_or((rest, "sku"));
                    let row = i.parse::<usize>().ok().and_then(|i| row_of.get(i).copied());
                    e.id = format!("variants-{}-{field}", row.unwrap_or(0));
                }
            }
            products_page(&app, &visitor, f, errors, None).await
        }
    }
}

#[derive(Deserialize)]
pub struct VariantForm {
    /// `price` (with `price` and `currency`) or `threshold` (with `threshold`, empty clears
    /// it).
    pub change: String,
    #[serde(default)]
    pub price: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub threshold: String,
}

/// `POST /vendor/products/{sku}`: a SKU's price on one currency's price list, or its
/// threshold.
pub async fn change_variant(
    State(app): State<App>,
    visitor: Visitor,
    Path(sku): Path<String>,
    Form(f): Form<VariantForm>,
) -> Response {
    let actor = match vendor_only(&app, &visitor, "/vendor/products") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let key = super::control_id(&sku);
    let done = match f.change.as_str() {
        "price" => {
            let code = if f.currency.is_empty() {
                "EUR"
            } else {
                f.currency.trim()
            };
            let amount = ordo_domain::money::Currency::parse(code)
                .ok()
                .and_then(|c| super::storefront::parse_amount(&f.price, c));
            match amount {
                Some(amount) => app
                    .set_price(&actor, &sku, code, amount)
                    .await
                    .map(|()| "price_set")
                    .map_err(|e| Errors::of(e, &format!("price-{key}"))),
                None => Err(Errors::one(
                    &format!("price-{key}"),
                    format!("Enter the price of {sku} in {code}, like 12.50"),
                )),
            }
        }
        "threshold" => {
            let threshold = super::optional_count(
                &f.threshold,
                &format!("threshold-{key}"),
                &format!("Enter the threshold of {sku} as a whole number, or leave it empty"),
            );
            match threshold {
                Ok(t) => app
                    .set_low_stock_threshold(&actor, &sku, t)
                    .await
                    .map(|()| "threshold_set")
                    .map_err(|e| Errors::of(e, &format!("threshold-{key}"))),
                Err(e) => Err(e),
            }
        }
        _ => return failure(&app, &visitor, AppError::NotFound("change")),
    };
    match done {
        Ok(flash) => see_other("/vendor/products", Some(flash)),
        Err(mut errors) => {
            // The use case names its own fields (`amount`, `low_stock_threshold`): the controls
            // are this SKU's.
            let id = if f.change == "price" {
                format!("price-{key}")
            } else {
                format!("threshold-{key}")
            };
            for e in &mut errors.0 {
                e.id.clone_from(&id);
            }
            products_page(&app, &visitor, NewProductForm::default(), errors, None).await
        }
    }
}

/// One webhook endpoint as the vendor sees it.
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub events: String,
    pub description: String,
    pub status: super::Tag,
}

impl EndpointRow {
    fn of(e: &ordo_store::WebhookEndpoint) -> Self {
        let status = match (&e.disabled_at, &e.failing_since) {
            (Some(_), _) => ("disabled", "tag-stop"),
            (None, Some(_)) => ("failing", "tag-wait"),
            (None, None) => ("active", "tag-done"),
        };
        Self {
            id: e.id.to_string(),
            url: e.url.clone(),
            events: e.events.join(", "),
            description: e.description.clone().unwrap_or_default(),
            status: super::Tag {
                text: status.0.to_owned(),
                class: status.1,
            },
        }
    }
}

#[derive(Template)]
#[template(path = "web/vendor/webhooks.html")]
struct WebhooksPage {
    page: Page,
    errors: Errors,
    endpoints: Vec<EndpointRow>,
    typed: EndpointForm,
    /// A new endpoint's signing secret: shown this once.
    secret: Option<String>,
}

/// `GET /vendor/webhooks`: the vendor's webhook endpoints, and a new one.
pub async fn webhooks(State(app): State<App>, visitor: Visitor, headers: HeaderMap) -> Response {
    let (flash, forget) = take_flash(&headers);
    forgetting(
        webhooks_page(
            &app,
            &visitor,
            EndpointForm::default(),
            Errors::default(),
            None,
            flash,
        )
        .await,
        forget,
    )
}

async fn webhooks_page(
    app: &App,
    visitor: &Visitor,
    typed: EndpointForm,
    errors: Errors,
    secret: Option<String>,
    flash: Option<String>,
) -> Response {
    let actor = match vendor_only(app, visitor, "/vendor/webhooks") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let endpoints = match app.webhook_endpoints(&actor).await {
        Ok(e) => e.iter().map(EndpointRow::of).collect(),
        Err(e) => return failure(app, visitor, e),
    };
    let body = WebhooksPage {
        page: Page::new(app, visitor, "Webhooks")
            .with_errors(&errors)
            .with_flash(flash),
        errors,
        endpoints,
        typed,
        secret,
    };
    render_form(&body, &body.errors)
}

#[derive(Deserialize, Default)]
pub struct EndpointForm {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub events: String,
    #[serde(default)]
    pub description: String,
}

/// `POST /vendor/webhooks`: a new endpoint; the page then shows its secret, once.
pub async fn create_webhook(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<EndpointForm>,
) -> Response {
    let actor = match vendor_only(&app, &visitor, "/vendor/webhooks") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let new = ordo_app::webhooks::NewEndpoint {
        url: f.url.trim().to_owned(),
        events: typed_events(&f.events),
        description: Some(f.description.trim().to_owned()).filter(|d| !d.is_empty()),
        vendor_id: None,
    };
    match app.create_webhook_endpoint(&actor, new).await {
        Ok(endpoint) => {
            webhooks_page(
                &app,
                &visitor,
                EndpointForm::default(),
                Errors::default(),
                Some(endpoint.secret),
                Some(
                    "The endpoint is added. Copy its signing secret now: it is not shown again."
                        .into(),
                ),
            )
            .await
        }
        Err(e) => {
            let errors = Errors::of(e, "url");
            webhooks_page(&app, &visitor, f, errors, None, None).await
        }
    }
}

/// One delivery as an endpoint's page lists it.
pub struct DeliveryRow {
    pub id: String,
    pub event: String,
    pub state: super::Tag,
    pub attempts: i32,
    pub when: String,
    pub last: String,
    pub retry: bool,
}

#[derive(Template)]
#[template(path = "web/vendor/webhook.html")]
struct WebhookPage {
    page: Page,
    errors: Errors,
    endpoint: EndpointRow,
    /// Why it is disabled, when it is.
    disabled: Option<String>,
    deliveries: Vec<DeliveryRow>,
    /// The edit form: as typed after an error, else as the endpoint is.
    typed: EndpointForm,
    /// A new signing secret: shown this once.
    secret: Option<String>,
    /// Asking "are you sure?" before deleting.
    confirm_delete: bool,
}

/// What an endpoint's page shows beyond the endpoint itself.
#[derive(Default)]
struct Shown {
    errors: Errors,
    flash: Option<String>,
    typed: Option<EndpointForm>,
    secret: Option<String>,
    confirm_delete: bool,
}

/// `GET /vendor/webhooks/{id}`: an endpoint, its settings and its deliveries, newest first.
pub async fn webhook(
    State(app): State<App>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (flash, forget) = take_flash(&headers);
    let shown = Shown {
        flash,
        ..Shown::default()
    };
    forgetting(webhook_page(&app, &visitor, &id, shown).await, forget)
}

async fn webhook_page(app: &App, visitor: &Visitor, id: &str, shown: Shown) -> Response {
    let actor = match vendor_only(app, visitor, "/vendor/webhooks") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let Ok(endpoint_id) = id.parse::<uuid::Uuid>() else {
        return failure(app, visitor, AppError::NotFound("webhook endpoint"));
    };
    let loaded = tokio::try_join!(
        app.webhook_endpoint(&actor, endpoint_id),
        app.webhook_deliveries(&actor, endpoint_id, None, Some(50))
    );
    let (endpoint, deliveries) = match loaded {
        Ok(l) => l,
        Err(e) => return failure(app, visitor, e),
    };
    let title = if shown.confirm_delete {
        "Delete this endpoint?"
    } else {
        "Webhook endpoint"
    };
    let page = Page::new(app, visitor, title)
        .with_errors(&shown.errors)
        .with_flash(shown.flash);
    let deliveries = deliveries
        .iter()
        .map(|d| DeliveryRow {
            id: d.id.to_string(),
            event: d.event_type.clone(),
            state: super::Tag {
                text: d.state.as_str().to_owned(),
                class: match d.state.as_str() {
                    "delivered" => "tag-done",
                    "dead" => "tag-stop",
                    _ => "tag-wait",
                },
            },
            attempts: d.attempts,
            when: page.date(&d.created_at),
            last: match (d.last_status, &d.last_error) {
                (Some(s), _) => format!("HTTP {s}"),
                (None, Some(e)) => e.clone(),
                (None, None) => String::new(),
            },
            retry: d.state.as_str() != "delivered",
        })
        .collect();
    let typed = shown.typed.unwrap_or_else(|| EndpointForm {
        url: endpoint.url.clone(),
        events: endpoint.events.join(", "),
        description: endpoint.description.clone().unwrap_or_default(),
    });
    let body = WebhookPage {
        page,
        errors: shown.errors,
        endpoint: EndpointRow::of(&endpoint),
        disabled: endpoint
            .disabled_at
            .map(|_| endpoint.disabled_reason.clone().unwrap_or_default()),
        deliveries,
        typed,
        secret: shown.secret,
        confirm_delete: shown.confirm_delete,
    };
    render_form(&body, &body.errors)
}

/// The events a form lists, separated by commas, spaces or lines.
fn typed_events(events: &str) -> Vec<String> {
    events
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `POST /vendor/webhooks/{id}`: changes an endpoint's URL, events and description.
pub async fn change_webhook(
    State(app): State<App>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(f): Form<EndpointForm>,
) -> Response {
    let actor = match vendor_only(&app, &visitor, "/vendor/webhooks") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let Ok(endpoint) = id.parse::<uuid::Uuid>() else {
        return failure(&app, &visitor, AppError::NotFound("webhook endpoint"));
    };
    let change = ordo_app::webhooks::EndpointChange {
        url: Some(f.url.trim().to_owned()),
        events: Some(typed_events(&f.events)),
        description: Some(Some(f.description.trim().to_owned()).filter(|d| !d.is_empty())),
        disabled: None,
    };
    match app.update_webhook_endpoint(&actor, endpoint, change).await {
        Ok(_) => see_other(&format!("/vendor/webhooks/{id}"), Some("webhook_changed")),
        Err(e) => {
            let shown = Shown {
                errors: Errors::of(e, "url"),
                typed: Some(f),
                ..Shown::default()
            };
            webhook_page(&app, &visitor, &id, shown).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct Confirm {
    #[serde(default)]
    pub confirm: String,
}

/// `POST /vendor/webhooks/{id}/{action}`: `test` sends a `webhook.test` message; `pause` stops
/// deliveries and `resume` starts them again (a failing endpoint gets a clean slate); `rotate`
/// makes a new signing secret, shown this once (the old one signs for 24 hours more, so the
/// receiver can switch); `delete` asks first, then removes the endpoint.
pub async fn webhook_action(
    State(app): State<App>,
    visitor: Visitor,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<Confirm>,
) -> Response {
    let actor = match vendor_only(&app, &visitor, "/vendor/webhooks") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let Ok(endpoint) = id.parse::<uuid::Uuid>() else {
        return failure(&app, &visitor, AppError::NotFound("webhook endpoint"));
    };
    let paused = |disabled| ordo_app::webhooks::EndpointChange {
        url: None,
        events: None,
        description: None,
        disabled: Some(disabled),
    };
    let done = match action.as_str() {
        "test" => app
            .test_webhook(&actor, endpoint)
            .await
            .map(|_| "webhook_tested"),
        "pause" => app
            .update_webhook_endpoint(&actor, endpoint, paused(true))
            .await
            .map(|_| "webhook_paused"),
        "resume" => app
            .update_webhook_endpoint(&actor, endpoint, paused(false))
            .await
            .map(|_| "webhook_resumed"),
        "rotate" => {
            return match app.rotate_webhook_secret(&actor, endpoint).await {
                Ok(e) => {
                    let shown = Shown {
                        secret: Some(e.secret),
                        flash: Some("A new signing secret is made. Copy it now: it is not shown again. The old one keeps signing for 24 hours, while your receiver switches.".into()),
                        ..Shown::default()
                    };
                    webhook_page(&app, &visitor, &id, shown).await
                }
                Err(e) => failure(&app, &visitor, e),
            };
        }
        "delete" if f.confirm != "yes" => {
            // Nothing is deleted yet: the page asks first.
            let shown = Shown {
                confirm_delete: true,
                ..Shown::default()
            };
            return webhook_page(&app, &visitor, &id, shown).await;
        }
        "delete" => {
            return match app.delete_webhook_endpoint(&actor, endpoint).await {
                Ok(()) => see_other("/vendor/webhooks", Some("webhook_deleted")),
                Err(e) => failure(&app, &visitor, e),
            };
        }
        _ => return failure(&app, &visitor, AppError::NotFound("page")),
    };
    webhook_done(&app, &visitor, &id, done).await
}

/// `POST /vendor/webhooks/{id}/deliveries/{delivery}/retry`: tries a delivery again now.
pub async fn retry_delivery(
    State(app): State<App>,
    visitor: Visitor,
    Path((id, delivery)): Path<(String, String)>,
) -> Response {
    let actor = match vendor_only(&app, &visitor, "/vendor/webhooks") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let (Ok(endpoint), Ok(delivery)) = (id.parse::<uuid::Uuid>(), delivery.parse::<uuid::Uuid>())
    else {
        return failure(&app, &visitor, AppError::NotFound("webhook delivery"));
    };
    let done = app
        .retry_webhook_delivery(&actor, endpoint, delivery)
        .await
        .map(|_| "delivery_retried");
    webhook_done(&app, &visitor, &id, done).await
}

/// Back to the endpoint's page: saying what was done, or why it was not.
async fn webhook_done(
    app: &App,
    visitor: &Visitor,
    id: &str,
    done: Result<&'static str, AppError>,
) -> Response {
    match done {
        Ok(flash) => see_other(&format!("/vendor/webhooks/{id}"), Some(flash)),
        Err(e) => {
            let shown = Shown {
                errors: Errors::of(e, ""),
                ..Shown::default()
            };
            webhook_page(app, visitor, id, shown).await
        }
    }
}
