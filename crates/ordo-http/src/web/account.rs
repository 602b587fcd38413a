//! A person's account: sign-in (a new session in the cookie; a guest's cart merged into the
//! customer's), sign-out, a shopper's own registration, and a customer's orders — each with
//! its live timeline, items, totals, payment and address, and the actions the order's table
//! allows its customer (cancel, with a password step-up when the action needs one; paying
//! again after a decline; the sandbox bank's confirmation); and a guest's orders, opened by
//! their checkout's link (the same, but cancelling only while unpaid).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::response::Response;
use ordo_app::{App, AppError};
use ordo_domain::identity::{Proof, Role, Sensitive};
use ordo_domain::ids::OrderId;
use ordo_domain::order::{Action, Order, OrderStatus, allowed_actions};
use ordo_domain::payment::PaymentState;
use serde::Deserialize;

use super::session::{CartCookie, SESSION, Signed, Visitor, set_cookie};
use super::storefront::cart_cookie;
use super::{
    Errors, Moment, Page, Tag, failure, forgetting, render, render_flashed, render_form, see_other,
    take_flash,
};

#[derive(Deserialize, Default)]
pub struct Next {
    pub next: Option<String>,
    /// Registration from a guest's order page: the checkout link that claims the orders.
    pub link: Option<String>,
    pub email: Option<String>,
}

/// Only a path of this site is a place to go back to (never `//elsewhere`).
fn local(next: Option<&str>) -> Option<String> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .map(str::to_owned)
}

#[derive(Template)]
#[template(path = "web/account/sign_in.html")]
struct SignIn {
    page: Page,
    errors: Errors,
    email: String,
    next: String,
}

/// `GET /sign-in`.
pub async fn sign_in_page(
    State(app): State<App>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(n): Query<Next>,
) -> Response {
    let (flash, forget) = take_flash(&headers);
    let page = Page::new(&app, &visitor, "Sign in").with_flash(flash);
    render_flashed(
        &SignIn {
            page,
            errors: Errors::default(),
            email: String::new(),
            next: local(n.next.as_deref()).unwrap_or_default(),
        },
        forget,
    )
}

#[derive(Deserialize)]
pub struct Credentials {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub totp: String,
    #[serde(default)]
    pub next: String,
}

/// `POST /sign-in`: a new session (the old one, if any, revoked), the guest cart merged.
pub async fn sign_in(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<Credentials>,
) -> Response {
    let mut errors = Errors::default();
    if f.email.trim().is_empty() {
        errors.push("email", "Enter your e-mail address");
    }
    if f.password.is_empty() {
        errors.push("password", "Enter your password");
    }
    if errors.is_empty() {
        let next = local(Some(&f.next));
        match start_session(
            &app,
            &visitor,
            &f.email,
            f.password,
            &f.totp,
            next,
            "signed_in",
        )
        .await
        {
            Ok(res) => return res,
            Err(e) => errors = e,
        }
    }
    let page = Page::new(&app, &visitor, "Sign in").with_errors(&errors);
    let body = SignIn {
        page,
        errors,
        email: f.email,
        next: local(Some(&f.next)).unwrap_or_default(),
    };
    render_form(&body, &body.errors)
}

/// Logs in and answers with the cookies of the new session (and cart), going on to `next`.
async fn start_session(
    app: &App,
    visitor: &Visitor,
    email: &str,
    password: String,
    totp: &str,
    next: Option<String>,
    flash: &str,
) -> Result<Response, Errors> {
    let guest_cart = visitor.cart.as_ref().and_then(|c| c.token.as_deref());
    let totp = (!totp.trim().is_empty()).then(|| totp.trim());
    let grant = app
        .login(email.trim(), password, totp, guest_cart)
        .await
        .map_err(|e| match e {
            AppError::BadCredentials => Errors::one(
                "email",
                "The e-mail address or password is wrong (or a second factor is needed)",
            ),
            other => Errors::of(other, "email"),
        })?;
    // The browser's old session ends: a session id known before login is worthless after it.
    if let Some(old) = &visitor.signed
        && let Err(e) = app.logout(&old.token).await
    {
        tracing::warn!(error = %e, "the replaced session could not be revoked");
    }
    let role = grant.user.role;
    let to = next.unwrap_or_else(|| {
        match role {
            Role::Customer => "/account",
            Role::Vendor => "/vendor",
            Role::Support => "/support",
            Role::Admin => "/admin",
            Role::Carrier | Role::System => "/",
        }
        .to_owned()
    });
    let mut res = see_other(&to, Some(flash));
    let ttl = (grant.expires_at - app.now()).num_seconds().max(0);
    res.headers_mut()
        .append(SET_COOKIE, set_cookie(SESSION, &grant.token, ttl, visitor));
    if role == Role::Customer {
        // The customer's open cart (the guest's merged into it), named by the cart cookie.
        let cart = match grant.cart_id {
            Some(id) => Some(id),
            None => {
                let actor = ordo_domain::identity::Actor::of(&grant.user);
                app.create_cart(Some(&actor), "EUR", Default::default())
                    .await
                    .ok()
                    .map(|(c, ..)| c.id)
            }
        };
        if let Some(id) = cart {
            let cookie = CartCookie { id, token: None };
            res.headers_mut()
                .append(SET_COOKIE, cart_cookie(&cookie, visitor));
        }
    } else if visitor.cart.is_some() {
        res.headers_mut()
            .append(SET_COOKIE, set_cookie(super::session::CART, "", 0, visitor));
    }
    Ok(res)
}

/// `POST /sign-out`: the session revoked (the cookie alone would not be enough) and forgotten.
pub async fn sign_out(State(app): State<App>, visitor: Visitor) -> Response {
    if let Some(s) = &visitor.signed
        && let Err(e) = app.logout(&s.token).await
    {
        return failure(&app, &visitor, e);
    }
    let mut res = see_other("/sign-in", Some("signed_out"));
    for name in [SESSION, super::session::CART] {
        res.headers_mut()
            .append(SET_COOKIE, set_cookie(name, "", 0, &visitor));
    }
    res
}

#[derive(Template)]
#[template(path = "web/account/register.html")]
struct Register {
    page: Page,
    errors: Errors,
    email: String,
    next: String,
    link: String,
}

/// `GET /register`.
pub async fn register_page(
    State(app): State<App>,
    visitor: Visitor,
    Query(n): Query<Next>,
) -> Response {
    render(&Register {
        page: Page::new(&app, &visitor, "Create an account"),
        errors: Errors::default(),
        email: n.email.unwrap_or_default(),
        next: local(n.next.as_deref()).unwrap_or_default(),
        link: n.link.unwrap_or_default(),
    })
}

#[derive(Deserialize)]
pub struct NewAccount {
    pub email: String,
    pub password: String,
    pub confirm: String,
    #[serde(default)]
    pub next: String,
    #[serde(default)]
    pub link: String,
}

/// `POST /register`: a customer account, then signed in (keeping the guest's cart).
pub async fn register(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<NewAccount>,
) -> Response {
    let mut errors = Errors::default();
    if f.email.trim().is_empty() {
        errors.push("email", "Enter your e-mail address");
    }
    if f.password.is_empty() {
        errors.push("password", "Enter a password");
    } else if f.password != f.confirm {
        errors.push("confirm", "The two passwords are not the same");
    }
    // The link proves the address's guest orders are theirs (the page's, else this browser's).
    let guest_link = Some(f.link.as_str())
        .filter(|l| !l.is_empty())
        .or(visitor.guest.as_deref());
    if errors.is_empty() {
        match app
            .register_customer(f.email.trim(), f.password.clone(), guest_link)
            .await
        {
            Ok(_) => {
                let next = local(Some(&f.next));
                match start_session(&app, &visitor, &f.email, f.password, "", next, "registered")
                    .await
                {
                    Ok(res) => return res,
                    Err(e) => errors = e,
                }
            }
            Err(e) => errors = Errors::of(e, "email"),
        }
    }
    let page = Page::new(&app, &visitor, "Create an account").with_errors(&errors);
    let body = Register {
        page,
        errors,
        email: f.email,
        next: local(Some(&f.next)).unwrap_or_default(),
        link: f.link,
    };
    render_form(&body, &body.errors)
}

/// One order in a list.
pub struct OrderRow {
    pub id: String,
    pub short: String,
    pub placed: String,
    pub status: Tag,
    pub total: String,
    pub items: usize,
}

impl OrderRow {
    pub fn of(page: &Page, o: &Order) -> Self {
        let id = o.id.to_string();
        Self {
            short: short_id(&id),
            id,
            placed: page.date(&o.created_at),
            status: Tag::order(o.status),
            total: page.money(&o.total),
            items: o.lines.iter().map(|l| l.quantity as usize).sum(),
        }
    }
}

/// The end of an order's id: what people read out (the whole id is in the link).
pub fn short_id(id: &str) -> String {
    id.rsplit('-').next().unwrap_or(id).to_uppercase()
}

#[derive(Template)]
#[template(path = "web/account/orders.html")]
struct Orders {
    page: Page,
    orders: Vec<OrderRow>,
    more: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct After {
    pub after: Option<String>,
}

/// Sends a signed-out reader to sign in, coming back here.
fn sign_in_first(path: &str) -> Response {
    see_other(&format!("/sign-in?next={path}"), None)
}

/// `GET /account`: the customer's orders, newest first, a page at a time.
pub async fn orders(
    State(app): State<App>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(q): Query<After>,
) -> Response {
    let Some(signed) = &visitor.signed else {
        return sign_in_first("/account");
    };
    let (flash, forget) = take_flash(&headers);
    let page = Page::new(&app, &visitor, "Your orders").with_flash(flash);
    match app
        .orders(&signed.principal.actor, None, Some(20), q.after.as_deref())
        .await
    {
        Ok(found) => {
            let orders: Vec<OrderRow> = found
                .orders
                .iter()
                .map(|o| OrderRow::of(&page, o))
                .collect();
            let more = found
                .has_more
                .then(|| orders.last().map(|o| o.id.clone()))
                .flatten();
            render_flashed(&Orders { page, orders, more }, forget)
        }
        Err(e) => failure(&app, &visitor, e),
    }
}

/// An order line as the order page shows it.
pub struct ItemRow {
    pub title: String,
    pub sku: String,
    pub quantity: u32,
    pub price: String,
    pub total: String,
}

/// Everything an order page shows, for any role that may see the order.
pub struct OrderView {
    pub id: String,
    pub short: String,
    pub status: Tag,
    pub payment: Option<Tag>,
    /// Said to screen readers when the live region refreshes.
    pub announce: String,
    pub placed: String,
    pub items: Vec<ItemRow>,
    pub subtotal: String,
    pub shipping: String,
    pub tax: String,
    pub discount: Option<String>,
    pub total: String,
    pub address: Vec<String>,
    pub timeline: Vec<Moment>,
    /// Where money going back stands ("Refund of €49.80 on its way", "Refunded €49.80").
    pub money_note: Option<String>,
    /// What cancelling the order now gives back, said before anyone confirms it.
    pub back_on_cancel: Option<String>,
    /// The payment waits for the customer (declined: another card; or the bank's step).
    pub needs_card: bool,
    pub needs_bank: bool,
    pub decline: Option<String>,
    /// Where the page follows the order live, and after which event.
    pub stream: String,
    /// The order's last event (the stream follows from it).
    pub version: i64,
    pub cancel_reason: Option<String>,
}

impl OrderView {
    pub async fn load(
        app: &App,
        page: &Page,
        actor: &ordo_domain::identity::Actor,
        id: OrderId,
    ) -> Result<(Self, Order), AppError> {
        let (order, events, payment) = tokio::try_join!(
            app.order(actor, id),
            app.order_events(actor, id),
            app.order_payment(actor, id)
        )?;
        let id = order.id.to_string();
        let pay = payment
            .as_ref()
            .and_then(|p| p.order(order.id).map(|(_, s)| s));
        // The order's own share of the money (a checkout's payment may pay several orders).
        let share = payment
            .as_ref()
            .and_then(|p| p.order(order.id).map(|(a, _)| a));
        let state = payment.as_ref().map(|p| p.payment.state);
        let p = &order.pricing;
        let money = |amount: i64| {
            page.money(&ordo_domain::money::Money {
                amount,
                currency: order.currency,
            })
        };
        let a = &order.shipping_address;
        let address = [
            Some(a.name.clone()),
            Some(a.line1.clone()),
            a.line2.clone(),
            Some(format!("{} {}", a.postal_code, a.city)),
            a.region.clone(),
            Some(a.country.clone()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let status = Tag::order(order.status);
        let view = Self {
            short: short_id(&id),
            announce: format!("Order status: {}", status.text),
            status,
            payment: pay.map(Tag::payment),
            placed: page.date(&order.created_at),
            items: order
                .lines
                .iter()
                .map(|l| ItemRow {
                    title: l.title.clone(),
                    sku: l.sku.to_string(),
                    quantity: l.quantity,
                    price: page.money(&l.unit_price),
                    total: page.money(&l.line_total),
                })
                .collect(),
            subtotal: page.money(&order.subtotal),
            shipping: money(p.shipping),
            tax: money(p.tax),
            discount: (p.discount != 0).then(|| money(p.discount)),
            total: page.money(&order.total),
            address,
            timeline: events
                .iter()
                .map(|e| Moment::of(page, e, order.currency))
                .collect(),
            money_note: share.and_then(|a| money_note(&money, &a, order.status)),
            back_on_cancel: share
                .filter(|_| order.status != OrderStatus::Cancelled)
                .and_then(|a| back_on_cancel(&money, &a)),
            needs_card: order.status == OrderStatus::PendingPayment
                && state == Some(PaymentState::RequiresPaymentMethod),
            needs_bank: order.status == OrderStatus::PendingPayment
                && state == Some(PaymentState::RequiresAction),
            decline: payment
                .as_ref()
                .and_then(|p| p.payment.decline_code.as_deref())
                .map(|d| d.replace('_', " ")),
            stream: format!("/api/v1/orders/{id}/events?after={}", order.version),
            version: order.version,
            cancel_reason: order.cancel_reason.clone(),
            id,
        };
        Ok((view, order))
    }
}

/// Where money going back to the customer stands, in words (`None`: none is).
fn money_note(
    money: &dyn Fn(i64) -> String,
    a: &ordo_domain::payment::Amounts,
    status: OrderStatus,
) -> Option<String> {
    let mut said = Vec::new();
    if a.refunding > 0 {
        said.push(format!("Refund of {} on its way", money(a.refunding)));
    }
    if a.refunded > 0 {
        said.push(format!("Refunded {}", money(a.refunded)));
    }
    if a.voiding > 0 {
        said.push(format!(
            "Releasing the {} reserved on the card",
            money(a.voiding)
        ));
    }
    if a.voided > 0 && status == OrderStatus::Cancelled {
        said.push(format!(
            "The {} reserved on the card is released",
            money(a.voided)
        ));
    }
    (!said.is_empty()).then(|| said.join(" · "))
}

/// What cancelling gives back now: the captured money not yet refunded, and the authorization
/// not yet captured.
fn back_on_cancel(
    money: &dyn Fn(i64) -> String,
    a: &ordo_domain::payment::Amounts,
) -> Option<String> {
    let (refund, release) = (a.refundable().max(0), a.capturable().max(0));
    match (refund > 0, release > 0) {
        (true, true) => Some(format!(
            "Cancelling refunds {} to the card or account paid with, and releases the {} still reserved on it.",
            money(refund),
            money(release)
        )),
        (true, false) => Some(format!(
            "Cancelling refunds {} to the card or account paid with.",
            money(refund)
        )),
        (false, true) => Some(format!(
            "Cancelling releases the {} reserved on the card: nothing is charged.",
            money(release)
        )),
        (false, false) => None,
    }
}

/// The top of every order page (customer, vendor, support): the page titled by the order, the
/// order as shown and as it is. A malformed id, or an order the actor may not see, answers the
/// "not found" page.
pub async fn order_head(
    app: &App,
    visitor: &Visitor,
    actor: &ordo_domain::identity::Actor,
    id: &str,
    errors: &Errors,
    flash: Option<String>,
) -> Result<(Page, OrderView, Order), Box<Response>> {
    let fail = |e| Box::new(failure(app, visitor, e));
    let order_id = id
        .parse::<OrderId>()
        .map_err(|_| fail(AppError::NotFound("order")))?;
    let mut page = Page::new(app, visitor, "")
        .with_errors(errors)
        .with_flash(flash);
    let (view, order) = OrderView::load(app, &page, actor, order_id)
        .await
        .map_err(fail)?;
    page.title = format!("Order {}", view.short);
    Ok((page, view, order))
}

/// The event types that refresh an order page.
pub const ORDER_EVENTS: &str = "order.paid order.accepted order.shipped order.delivered \
    order.completed order.cancelled payment.refund_requested payment.refunded \
    payment.refund_failed payment.void_requested payment.voided payment.void_failed";

#[derive(Template)]
#[template(path = "web/account/order.html")]
struct OrderPage {
    page: Page,
    errors: Errors,
    order: OrderView,
    can_cancel: bool,
    /// Cancelling asked for the password (a step-up): the form shows its field.
    ask_password: bool,
    /// The reason typed before the form came back.
    reason: String,
    methods: Vec<super::storefront::Method>,
    events: &'static str,
}

/// `GET /account/orders/{id}`: the order, its payment and its live timeline.
pub async fn order(
    State(app): State<App>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (flash, forget) = take_flash(&headers);
    forgetting(
        order_page(&app, &visitor, &id, Errors::default(), false, flash, "").await,
        forget,
    )
}

async fn order_page(
    app: &App,
    visitor: &Visitor,
    id: &str,
    errors: Errors,
    ask_password: bool,
    flash: Option<String>,
    reason: &str,
) -> Response {
    let Some(signed) = &visitor.signed else {
        return sign_in_first(&format!("/account/orders/{id}"));
    };
    let actor = signed.principal.actor;
    let (page, view, order) = match order_head(app, visitor, &actor, id, &errors, flash).await {
        Ok(head) => head,
        Err(to) => return *to,
    };
    let body = OrderPage {
        can_cancel: allowed_actions(order.status, actor.role).contains(&Action::Cancel),
        ask_password,
        reason: reason.to_owned(),
        methods: if view.needs_card {
            super::storefront::methods(app)
        } else {
            Vec::new()
        },
        events: ORDER_EVENTS,
        order: view,
        page,
        errors,
    };
    render_form(&body, &body.errors)
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub password: String,
}

/// `POST /account/orders/{id}/cancel`: cancels, proving who they are first when asked to.
pub async fn cancel(
    State(app): State<App>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(f): Form<CancelForm>,
) -> Response {
    let Some(signed) = &visitor.signed else {
        return sign_in_first(&format!("/account/orders/{id}"));
    };
    let Ok(order_id) = id.parse::<OrderId>() else {
        return failure(&app, &visitor, AppError::NotFound("order"));
    };
    let proof = match signed.proof(&app, &f.password).await {
        Ok(p) => p,
        Err(e) => {
            let errors = Errors::of(e, "password");
            return order_page(&app, &visitor, &id, errors, true, None, &f.reason).await;
        }
    };
    let reason = (!f.reason.trim().is_empty()).then(|| f.reason.trim().to_owned());
    match app
        .act(
            &signed.principal.actor,
            proof,
            order_id,
            "cancel",
            reason,
            None,
        )
        .await
    {
        Ok(_) => see_other(&format!("/account/orders/{id}"), Some("cancelled")),
        Err(e) => {
            let errors = Errors::of_sensitive(
                e,
                "reason",
                "Cancelling this order needs your password again: enter it to confirm",
            );
            let ask = errors.get("password").is_some();
            order_page(&app, &visitor, &id, errors, ask, None, &f.reason).await
        }
    }
}

#[derive(Deserialize)]
pub struct PayForm {
    #[serde(default)]
    pub payment_method: String,
    /// The sandbox bank's answer (`approve`, `fail`) to a payment waiting for it.
    #[serde(default)]
    pub bank: String,
}

/// `POST /account/orders/{id}/pay`: pays an order whose card was declined with another card,
/// or answers the sandbox bank's confirmation step.
pub async fn pay(
    State(app): State<App>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(f): Form<PayForm>,
) -> Response {
    let Some(signed) = &visitor.signed else {
        return sign_in_first(&format!("/account/orders/{id}"));
    };
    match pay_as(&app, &signed.principal.actor, &id, &f).await {
        Ok(paid) => see_other(&format!("/account/orders/{id}"), paid.then_some("paid")),
        Err(e) => {
            order_page(
                &app,
                &visitor,
                &id,
                Errors::of(e, "payment_method"),
                false,
                None,
                "",
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "web/account/track.html")]
struct TrackPage {
    page: Page,
    errors: Errors,
    order: OrderView,
    /// The checkout's orders (one per seller), to move between them.
    siblings: Vec<OrderRow>,
    link: String,
    methods: Vec<super::storefront::Method>,
    events: &'static str,
    /// The guest may cancel here: the order is not paid yet (no money or goods in motion).
    can_cancel: bool,
    /// Paid, and the table lets its customer cancel: from an account, where they prove who
    /// they are with a password (the link alone is not enough for money already taken).
    cancel_from_account: bool,
}

/// `GET /track/{link}`: a guest's checkout, opened by its link: its first order.
pub async fn track(State(app): State<App>, visitor: Visitor, Path(link): Path<String>) -> Response {
    match app.tracked(&link).await {
        Ok(Some(t)) => {
            let first = t
                .orders
                .first()
                .map(|o| o.id.to_string())
                .unwrap_or_default();
            see_other(&format!("/track/{link}/orders/{first}"), None)
        }
        Ok(None) => failure(&app, &visitor, AppError::NotFound("order")),
        Err(e) => failure(&app, &visitor, e),
    }
}

/// `GET /track/{link}/orders/{id}`: a guest's order, live, as its customer sees it.
pub async fn track_order(
    State(app): State<App>,
    visitor: Visitor,
    headers: HeaderMap,
    Path((link, id)): Path<(String, String)>,
) -> Response {
    let (flash, forget) = take_flash(&headers);
    forgetting(
        track_page(&app, &visitor, &link, &id, Errors::default(), flash).await,
        forget,
    )
}

async fn track_page(
    app: &App,
    visitor: &Visitor,
    link: &str,
    id: &str,
    errors: Errors,
    flash: Option<String>,
) -> Response {
    let tracked = match app.tracked(link).await {
        Ok(Some(t)) if t.orders.iter().any(|o| o.id.to_string() == id) => t,
        Ok(_) => return failure(app, visitor, AppError::NotFound("order")),
        Err(e) => return failure(app, visitor, e),
    };
    let actor = tracked.actor();
    let (page, mut view, order) = match order_head(app, visitor, &actor, id, &errors, flash).await {
        Ok(head) => head,
        Err(to) => return *to,
    };
    let cancellable = allowed_actions(order.status, actor.role).contains(&Action::Cancel);
    let sensitive = Sensitive::of_order_action(Action::Cancel, order.status).is_some();
    view.stream = format!("/track/{link}/orders/{id}/events?after={}", view.version);
    let body = TrackPage {
        siblings: tracked
            .orders
            .iter()
            .map(|o| OrderRow::of(&page, o))
            .collect(),
        link: link.to_owned(),
        methods: if view.needs_card {
            super::storefront::methods(app)
        } else {
            Vec::new()
        },
        events: ORDER_EVENTS,
        can_cancel: cancellable && !sensitive,
        cancel_from_account: cancellable && sensitive,
        order: view,
        page,
        errors,
    };
    render_form(&body, &body.errors)
}

/// `POST /track/{link}/orders/{id}/cancel`: a guest cancels an order not paid yet (its stock
/// goes back at once). A paid one is refused: that needs the password of an account.
pub async fn track_cancel(
    State(app): State<App>,
    visitor: Visitor,
    Path((link, id)): Path<(String, String)>,
    Form(f): Form<CancelForm>,
) -> Response {
    let tracked = match app.tracked(&link).await {
        Ok(Some(t)) if t.orders.iter().any(|o| o.id.to_string() == id) => t,
        Ok(_) => return failure(&app, &visitor, AppError::NotFound("order")),
        Err(e) => return failure(&app, &visitor, e),
    };
    let Ok(order_id) = id.parse::<OrderId>() else {
        return failure(&app, &visitor, AppError::NotFound("order"));
    };
    let reason = (!f.reason.trim().is_empty()).then(|| f.reason.trim().to_owned());
    // The link proves the e-mail address, not a fresh sign-in: no proof beyond it.
    let no_proof = Proof::until(None);
    match app
        .act(&tracked.actor(), no_proof, order_id, "cancel", reason, None)
        .await
    {
        Ok(_) => see_other(&format!("/track/{link}/orders/{id}"), Some("cancelled")),
        Err(e) => {
            let errors = Errors::of_sensitive(
                e,
                "reason",
                "The order is paid: create an account to cancel it, or contact the shop",
            );
            track_page(&app, &visitor, &link, &id, errors, None).await
        }
    }
}

/// `GET /track/{link}/orders/{id}/events`: the order's live stream for its guest (the link is
/// the credential, as the page's).
pub async fn track_events(
    State(app): State<App>,
    visitor: Visitor,
    headers: HeaderMap,
    Path((link, id)): Path<(String, String)>,
    Query(q): Query<After>,
) -> Response {
    let tracked = match app.tracked(&link).await {
        Ok(Some(t)) => t,
        Ok(None) => return failure(&app, &visitor, AppError::NotFound("order")),
        Err(e) => return failure(&app, &visitor, e),
    };
    let Some(order) = tracked.orders.iter().find(|o| o.id.to_string() == id) else {
        return failure(&app, &visitor, AppError::NotFound("order"));
    };
    let after = q.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
    let after = match crate::live::last_event_id(&headers, after) {
        Ok(a) => a,
        Err(e) => return axum::response::IntoResponse::into_response(e),
    };
    let viewer = tracked.actor();
    match app.follow_order(&viewer, order.id, after).await {
        Ok(events) => {
            use futures_util::StreamExt;
            let events = events.map(move |e| {
                e.map(|e| {
                    let (seq, kind) = (e.seq, e.event_type.clone());
                    crate::live::message(seq, &kind, &crate::views::EventView::new(e, &viewer))
                })
            });
            crate::live::serve(app, None, events)
        }
        Err(e) => failure(&app, &visitor, e),
    }
}

/// `POST /track/{link}/orders/{id}/pay`: a guest pays again after a decline, or answers the
/// sandbox bank's step.
pub async fn track_pay(
    State(app): State<App>,
    visitor: Visitor,
    Path((link, id)): Path<(String, String)>,
    Form(f): Form<PayForm>,
) -> Response {
    let tracked = match app.tracked(&link).await {
        Ok(Some(t)) if t.orders.iter().any(|o| o.id.to_string() == id) => t,
        Ok(_) => return failure(&app, &visitor, AppError::NotFound("order")),
        Err(e) => return failure(&app, &visitor, e),
    };
    let here = format!("/track/{link}/orders/{id}");
    match pay_as(&app, &tracked.actor(), &id, &f).await {
        Ok(paid) => see_other(&here, paid.then_some("paid")),
        Err(e) => {
            track_page(
                &app,
                &visitor,
                &link,
                &id,
                Errors::of(e, "payment_method"),
                None,
            )
            .await
        }
    }
}

/// Pays an order with another card, or answers the sandbox bank's step; `true` once the money
/// is held or taken.
async fn pay_as(
    app: &App,
    actor: &ordo_domain::identity::Actor,
    id: &str,
    f: &PayForm,
) -> Result<bool, AppError> {
    let order_id = id
        .parse::<OrderId>()
        .map_err(|_| AppError::NotFound("order"))?;
    let detail = if f.bank.is_empty() {
        app.confirm_payment(actor, order_id, &f.payment_method)
            .await?
    } else {
        app.authenticate_sandbox_payment(actor, order_id, f.bank == "approve")
            .await?
    };
    Ok(matches!(
        detail.payment.state,
        PaymentState::Authorized | PaymentState::Captured
    ))
}

/// `GET /orders/{id}` (the link in a customer's messages): the order's page in the reader's
/// area.
pub async fn any_order(visitor: Visitor, Path(id): Path<String>) -> Response {
    let area = match visitor.signed.as_ref().map(Signed::role) {
        Some(Role::Vendor) => "vendor",
        Some(Role::Support | Role::Admin) => "support",
        _ => "account",
    };
    see_other(&format!("/{area}/orders/{id}"), None)
}

#[derive(Template)]
#[template(path = "web/account/preferences.html")]
struct PreferencesPage {
    page: Page,
    errors: Errors,
    locale: String,
    email: bool,
    sms: bool,
    push: bool,
    phone: String,
}

/// `GET /account/preferences`: how the person hears about their orders.
pub async fn preferences(State(app): State<App>, visitor: Visitor, headers: HeaderMap) -> Response {
    let Some(signed) = &visitor.signed else {
        return sign_in_first("/account/preferences");
    };
    let (flash, forget) = take_flash(&headers);
    match app.notification_preferences(&signed.principal.actor).await {
        Ok(p) => {
            let body = PreferencesPage {
                page: Page::new(&app, &visitor, "Notifications").with_flash(flash),
                errors: Errors::default(),
                locale: p.locale,
                email: p.email,
                sms: p.sms,
                push: p.push,
                phone: p.phone.unwrap_or_default(),
            };
            forgetting(render_form(&body, &body.errors), forget)
        }
        Err(e) => failure(&app, &visitor, e),
    }
}

#[derive(Deserialize)]
pub struct PreferencesForm {
    pub locale: String,
    /// Checkboxes: present when ticked.
    pub email: Option<String>,
    pub sms: Option<String>,
    pub push: Option<String>,
    #[serde(default)]
    pub phone: String,
}

/// `POST /account/preferences`: saves them (SMS needs a phone number).
pub async fn set_preferences(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<PreferencesForm>,
) -> Response {
    let Some(signed) = &visitor.signed else {
        return sign_in_first("/account/preferences");
    };
    let phone = f.phone.trim().to_owned();
    let change = ordo_app::notifications::PreferencesChange {
        locale: Some(f.locale.clone()),
        email: Some(f.email.is_some()),
        sms: Some(f.sms.is_some()),
        push: Some(f.push.is_some()),
        phone: Some((!phone.is_empty()).then_some(phone.clone())),
    };
    match app
        .set_notification_preferences(&signed.principal.actor, change)
        .await
    {
        Ok(_) => see_other("/account/preferences", Some("preferences")),
        Err(e) => {
            let errors = Errors::of(e, "locale");
            let body = PreferencesPage {
                page: Page::new(&app, &visitor, "Notifications").with_errors(&errors),
                errors,
                locale: f.locale,
                email: f.email.is_some(),
                sms: f.sms.is_some(),
                push: f.push.is_some(),
                phone,
            };
            render_form(&body, &body.errors)
        }
    }
}
