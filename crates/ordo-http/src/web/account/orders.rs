//! A customer's orders: the list, and one order's page with its live timeline, items, totals,
//! payment and address, what cancelling gives back, and the actions the table allows its
//! customer (cancel, with a password step-up when needed; paying again after a decline; the
//! sandbox bank's step). The order view here is shared by the vendor's and support's pages.

use super::*;

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
            status: Tag::order(o.status()),
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
pub(super) fn sign_in_first(path: &str) -> Response {
    see_other(&format!("/sign-in?next={path}"), None)
}

/// `GET /account`: the customer's orders, newest first, a page at a time.
pub async fn orders(
    State(app): State<App>,
    visitor: Visitor,
    Flash(flash): Flash,
    Query(q): Query<After>,
) -> Response {
    let Some(signed) = &visitor.signed else {
        return sign_in_first("/account");
    };
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
            render(&Orders { page, orders, more })
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
        let state = payment.as_ref().map(|p| p.payment.state());
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
        let status = Tag::order(order.status());
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
            money_note: share.and_then(|a| money_note(&money, &a, order.status())),
            back_on_cancel: share
                .filter(|_| order.status() != OrderStatus::Cancelled)
                .and_then(|a| back_on_cancel(&money, &a)),
            needs_card: order.status() == OrderStatus::PendingPayment
                && state == Some(PaymentState::RequiresPaymentMethod),
            needs_bank: order.status() == OrderStatus::PendingPayment
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
pub(super) fn money_note(
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
pub(super) fn back_on_cancel(
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
    methods: Vec<crate::web::storefront::Method>,
    events: &'static str,
}

/// `GET /account/orders/{id}`: the order, its payment and its live timeline.
pub async fn order(
    State(app): State<App>,
    visitor: Visitor,
    Flash(flash): Flash,
    Path(id): Path<String>,
) -> Response {
    order_page(&app, &visitor, &id, Errors::default(), false, flash, "").await
}

pub(super) async fn order_page(
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
        can_cancel: allowed_actions(order.status(), actor.role).contains(&Action::Cancel),
        ask_password,
        reason: reason.to_owned(),
        methods: if view.needs_card {
            crate::web::storefront::methods(app)
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
