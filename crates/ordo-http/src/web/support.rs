//! The support console: find a customer or an order (by part of a name, an e-mail address or
//! an id), a customer's page with their orders and the newest notes on them, any order with
//! the actions the table allows support (cancel with a reason, refund with a password step-up)
//! and its internal notes (live), and the exception queue — each item's plain-language
//! summary, what was tried, and its allowed resolutions as buttons that ask for confirmation
//! (saying what will happen) before anything is done.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use ordo_app::exceptions::{Exception, ExceptionStatus, Resolution};
use ordo_app::payments::requests::Ask;
use ordo_app::{App, AppError};
use ordo_domain::identity::{Actor, Role};
use ordo_domain::ids::{OrderId, UserId};
use ordo_domain::order::{Action, allowed_actions};
use serde::Deserialize;

use super::account::{ORDER_EVENTS, OrderRow, OrderView, order_head};
use super::session::{Signed, Visitor};
use super::{Errors, Flash, Page, failure, render, render_form, see_other, signed_as};

/// The staff member behind the page, or where they should go instead.
fn staff_only<'a>(
    app: &App,
    visitor: &'a Visitor,
    path: &str,
) -> Result<&'a Signed, Box<Response>> {
    signed_as(
        app,
        visitor,
        path,
        &[Role::Support, Role::Admin],
        "support console",
    )
}

/// What a resolution does, in the words its button and confirmation use.
pub fn resolution_words(r: Resolution) -> (&'static str, &'static str) {
    match r {
        Resolution::RetryNow => (
            "Try again now",
            "Ordo asks the payment provider again, once, now.",
        ),
        Resolution::CaptureNow => (
            "Capture now",
            "Ordo takes the reserved money from the customer's card now.",
        ),
        Resolution::CancelOrder => (
            "Cancel the order",
            "The order is cancelled, its stock goes back, and its money goes back to the customer: what was taken is refunded and the reservation on the card let go.",
        ),
        Resolution::Refund => (
            "Refund",
            "What the order still holds goes back to the customer through the payment provider.",
        ),
        Resolution::MarkRefunded => (
            "Mark as refunded by hand",
            "The money was given back outside the provider (a bank transfer, say): it is recorded as refunded. Write the transfer's reference in the note.",
        ),
        Resolution::MarkPaid => (
            "Mark as paid",
            "The money is recorded as received outside the provider (a bank transfer, say), and the reservation on the card is let go. Write the payment's reference in the note.",
        ),
        Resolution::ContactCustomer => (
            "Sorted out with the customer",
            "Nothing is changed in Ordo: the item is closed with your note saying how it was sorted out.",
        ),
        Resolution::Dismiss => (
            "Dismiss",
            "Nothing is changed in Ordo: the item is closed with your note saying why.",
        ),
    }
}

/// Whether a resolution needs a note.
fn needs_note(r: Resolution) -> bool {
    r.needs_note()
}

/// One exception as the queue lists it.
pub struct ItemRow {
    pub id: String,
    pub kind: String,
    pub status: super::Tag,
    pub summary: String,
    pub order: Option<String>,
    pub raised: String,
}

impl ItemRow {
    fn of(page: &Page, e: &Exception) -> Self {
        Self {
            id: e.id.to_string(),
            kind: e.kind.as_str().replace('_', " "),
            status: status_tag(e.status()),
            summary: e.body.summary.clone(),
            order: e.order_id.map(|o| o.to_string()),
            raised: page.date(&e.created_at),
        }
    }
}

fn status_tag(status: ExceptionStatus) -> super::Tag {
    super::Tag {
        text: status.as_str().to_owned(),
        class: match status {
            ExceptionStatus::Open => "tag-stop",
            ExceptionStatus::Escalated => "tag-wait",
            ExceptionStatus::Resolved => "tag-done",
        },
    }
}

#[derive(Template)]
#[template(path = "web/support/home.html")]
struct Home {
    page: Page,
    errors: Errors,
    q: String,
    /// Customers whose recipient names match the search: (id, name, e-mail).
    customers: Vec<(String, String, String)>,
    items: Vec<ItemRow>,
    status: String,
}

#[derive(Deserialize, Default)]
pub struct HomeQuery {
    pub q: Option<String>,
    pub status: Option<String>,
}

/// `GET /support`: the search, and the exception queue (open items first).
pub async fn home(
    State(app): State<App>,
    visitor: Visitor,
    Flash(flash): Flash,
    Query(q): Query<HomeQuery>,
) -> Response {
    let signed = match staff_only(&app, &visitor, "/support") {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let actor = signed.principal.actor;
    let wanted = q.q.unwrap_or_default().trim().to_owned();
    let mut errors = Errors::default();
    let mut customers = Vec::new();
    if !wanted.is_empty() {
        if let Ok(id) = wanted.parse::<OrderId>()
            && app.order(&actor, id).await.is_ok()
        {
            return see_other(&format!("/support/orders/{id}"), None);
        }
        match app.find_user(&actor, &wanted).await {
            Ok(Some(user)) => return see_other(&format!("/support/customers/{}", user.id), None),
            Ok(None) => {}
            Err(e) => return failure(&app, &visitor, e),
        }
        // Not an e-mail address or id: a name on the customers' orders.
        match app.find_customers(&actor, &wanted, Some(20)).await {
            Ok(found) if found.is_empty() => errors.push(
                "q",
                format!(
                    "No customer or order is “{wanted}”: enter part of a name, a full e-mail address or an order id"
                ),
            ),
            Ok(found) => {
                customers = found
                    .into_iter()
                    .map(|c| (c.customer_id.to_string(), c.name, c.email))
                    .collect();
            }
            Err(e @ AppError::Invalid(_)) => errors = Errors::of(e, "q"),
            Err(e) => return failure(&app, &visitor, e),
        }
    }
    let status = q
        .status
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "open".into());
    let page = Page::new(&app, &visitor, "Support")
        .with_errors(&errors)
        .with_flash(flash);
    let items = match app
        .exceptions(&actor, Some(&status), None, None, Some(50))
        .await
    {
        Ok(items) => items.iter().map(|e| ItemRow::of(&page, e)).collect(),
        Err(e) => return failure(&app, &visitor, e),
    };
    let body = Home {
        page,
        errors,
        q: wanted,
        customers,
        items,
        status,
    };
    render_form(&body, &body.errors)
}

/// An internal note as the pages show it.
pub struct NoteRow {
    pub when: String,
    /// Who wrote it: their e-mail address (their role if they are gone).
    pub who: String,
    pub body: String,
    pub order: String,
    pub order_short: String,
}

impl NoteRow {
    async fn all(
        app: &App,
        actor: &Actor,
        page: &Page,
        notes: Vec<ordo_store::OrderNote>,
    ) -> Vec<Self> {
        let mut rows = Vec::with_capacity(notes.len());
        for n in notes {
            let author = match n.author.user_id {
                Some(uid) => app.find_user(actor, &uid.to_string()).await.ok().flatten(),
                None => None,
            };
            rows.push(Self {
                when: page.date(&n.created_at),
                who: author.map_or_else(|| n.author.role.to_string(), |u| u.email.to_string()),
                body: n.body,
                order: n.order_id.to_string(),
                order_short: super::account::short_id(&n.order_id.to_string()),
            });
        }
        rows
    }
}

#[derive(Template)]
#[template(path = "web/support/customer.html")]
struct CustomerPage {
    page: Page,
    role: String,
    notes: Vec<NoteRow>,
    orders: Vec<OrderRow>,
    more: Option<String>,
    id: String,
}

#[derive(Deserialize, Default)]
pub struct After {
    pub after: Option<String>,
}

/// `GET /support/customers/{id}`: who they are and their orders.
pub async fn customer(
    State(app): State<App>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(q): Query<After>,
) -> Response {
    let signed = match staff_only(&app, &visitor, &format!("/support/customers/{id}")) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let actor = signed.principal.actor;
    let Ok(user_id) = id.parse::<UserId>() else {
        return failure(&app, &visitor, AppError::NotFound("customer"));
    };
    let user = match app.find_user(&actor, &id).await {
        Ok(Some(u)) => u,
        Ok(None) => return failure(&app, &visitor, AppError::NotFound("customer")),
        Err(e) => return failure(&app, &visitor, e),
    };
    let page = Page::new(&app, &visitor, user.email.to_string());
    let notes = match app.customer_notes(&actor, user_id, Some(10)).await {
        Ok(notes) => NoteRow::all(&app, &actor, &page, notes).await,
        Err(e) => return failure(&app, &visitor, e),
    };
    match app
        .customer_orders(&actor, user_id, Some(25), q.after.as_deref())
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
            render(&CustomerPage {
                page,
                role: user.role.to_string(),
                notes,
                orders,
                more,
                id,
            })
        }
        Err(e) => failure(&app, &visitor, e),
    }
}

#[derive(Template)]
#[template(path = "web/support/order.html")]
struct OrderPage {
    page: Page,
    errors: Errors,
    order: OrderView,
    can_cancel: bool,
    can_refund: bool,
    /// The form that was sent and came back (`cancel`, `refund`): only it shows the password
    /// field and its errors, with what was typed in it.
    sent: &'static str,
    ask_password: bool,
    typed: Typed,
    items: Vec<ItemRow>,
    events: &'static str,
    notes: Vec<NoteRow>,
    /// The staff feed from now: `order.note_added` events refresh the notes.
    notes_stream: String,
    note: String,
}

/// `GET /support/orders/{id}`: the order, its exceptions, and support's actions.
pub async fn order(
    State(app): State<App>,
    visitor: Visitor,
    Flash(flash): Flash,
    Path(id): Path<String>,
) -> Response {
    order_page(&app, &visitor, &id, Errors::default(), flash).await
}

/// How the order page comes back after a form: which one was sent, whether it asks for the
/// password, and what was typed.
#[derive(Default)]
struct Back {
    sent: &'static str,
    ask_password: bool,
    typed: Typed,
    note: String,
}

async fn order_page(
    app: &App,
    visitor: &Visitor,
    id: &str,
    errors: Errors,
    flash: Option<String>,
) -> Response {
    order_page_with(app, visitor, id, errors, flash, Back::default()).await
}

async fn order_page_with(
    app: &App,
    visitor: &Visitor,
    id: &str,
    errors: Errors,
    flash: Option<String>,
    back: Back,
) -> Response {
    let signed = match staff_only(app, visitor, &format!("/support/orders/{id}")) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let actor = signed.principal.actor;
    let (page, view, order) = match order_head(app, visitor, &actor, id, &errors, flash).await {
        Ok(head) => head,
        Err(to) => return *to,
    };
    let items = app
        .exceptions(&actor, None, None, Some(id), Some(20))
        .await
        .unwrap_or_default()
        .iter()
        .map(|e| ItemRow::of(&page, e))
        .collect();
    // Where the staff feed stands: new notes (by a colleague, say) refresh the list live.
    let head = match app.feed_head().await {
        Ok(h) => h,
        Err(e) => return failure(app, visitor, e),
    };
    let notes = app.order_notes(&actor, order.id).await.unwrap_or_default();
    let notes = NoteRow::all(app, &actor, &page, notes).await;
    let can_refund = view.payment.as_ref().is_some_and(|t| {
        matches!(
            t.text.as_str(),
            "paid" | "partially paid" | "partially refunded"
        )
    });
    let body = OrderPage {
        can_cancel: allowed_actions(order.status(), actor.role).contains(&Action::Cancel),
        can_refund,
        sent: back.sent,
        ask_password: back.ask_password,
        typed: back.typed,
        items,
        events: ORDER_EVENTS,
        notes,
        notes_stream: format!("/api/v1/events?after={head}"),
        note: back.note,
        order: view,
        page,
        errors,
    };
    render_form(&body, &body.errors)
}

/// What was typed into the order page's money forms, given back when one comes back.
#[derive(Default)]
pub struct Typed {
    pub cancel_reason: String,
    pub amount: String,
    pub refund_reason: String,
}

#[derive(Deserialize)]
pub struct OrderActForm {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub note: String,
}

/// `POST /support/orders/{id}/{action}`: cancel (with a reason), refund (an amount), or an
/// internal note (`note`).
pub async fn act(
    State(app): State<App>,
    visitor: Visitor,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<OrderActForm>,
) -> Response {
    let signed = match staff_only(&app, &visitor, &format!("/support/orders/{id}")) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let actor: Actor = signed.principal.actor;
    let Ok(order_id) = id.parse::<OrderId>() else {
        return failure(&app, &visitor, AppError::NotFound("order"));
    };
    if action == "note" {
        return match app.add_order_note(&actor, order_id, &f.note).await {
            Ok(_) => see_other(&format!("/support/orders/{id}#notes"), Some("noted")),
            Err(e) => {
                let errors = Errors::of(e, "note");
                let back = Back {
                    note: f.note,
                    ..Back::default()
                };
                order_page_with(&app, &visitor, &id, errors, None, back).await
            }
        };
    }
    let sent = match action.as_str() {
        "cancel" => "cancel",
        "refund" => "refund",
        _ => return failure(&app, &visitor, AppError::NotFound("action")),
    };
    // What was typed goes back into the form that was sent, whatever is refused.
    let typed = if sent == "cancel" {
        Typed {
            cancel_reason: f.reason.clone(),
            ..Typed::default()
        }
    } else {
        Typed {
            amount: f.amount.clone(),
            refund_reason: f.reason.clone(),
            ..Typed::default()
        }
    };
    let back = |errors: Errors, typed: Typed| {
        let errors = errors.within(sent);
        let ask_password = errors.get(&format!("{sent}-password")).is_some();
        let back = Back {
            sent,
            ask_password,
            typed,
            note: String::new(),
        };
        (errors, back)
    };
    let proof = match signed.proof(&app, &f.password).await {
        Ok(p) => p,
        Err(e) => {
            let (errors, back) = back(Errors::of(e, "password"), typed);
            return order_page_with(&app, &visitor, &id, errors, None, back).await;
        }
    };
    let reason = (!f.reason.trim().is_empty()).then(|| f.reason.trim().to_owned());
    let done = if sent == "cancel" {
        app.act(&actor, proof, order_id, "cancel", reason, None)
            .await
            .map(|_| "cancelled")
    } else {
        let order = match app.order(&actor, order_id).await {
            Ok(o) => o,
            Err(e) => return failure(&app, &visitor, e),
        };
        let Some(amount) = super::parse_amount(&f.amount, order.currency) else {
            let errors = Errors::one("amount", "Enter the amount to refund, like 12.50");
            let (errors, back) = back(errors, typed);
            return order_page_with(&app, &visitor, &id, errors, None, back).await;
        };
        app.move_money(&actor, proof, order_id, Ask::Refund(amount), reason)
            .await
            .map(|_| "refunded")
    };
    match done {
        Ok(flash) => see_other(&format!("/support/orders/{id}"), Some(flash)),
        Err(e) => {
            let field = if sent == "refund" { "amount" } else { "reason" };
            let errors = Errors::of_sensitive(e, field, super::PASSWORD_AGAIN);
            let (errors, back) = back(errors, typed);
            order_page_with(&app, &visitor, &id, errors, None, back).await
        }
    }
}

/// One resolution offered for an item.
pub struct Offer {
    pub value: &'static str,
    pub label: &'static str,
    pub explains: &'static str,
    pub note_required: bool,
}

#[derive(Template)]
#[template(path = "web/support/exception.html")]
struct ExceptionPage {
    page: Page,
    errors: Errors,
    item: ItemRow,
    tried: Vec<(String, String)>,
    resolved: Option<String>,
    offers: Vec<Offer>,
    /// Confirming this resolution (with this note) is what the page asks.
    confirm: Option<Offer>,
    note: String,
}

/// `GET /support/exceptions/{id}`: the item, what was tried, and what may be done.
pub async fn exception(
    State(app): State<App>,
    visitor: Visitor,
    Flash(flash): Flash,
    Path(id): Path<String>,
) -> Response {
    exception_page(
        &app,
        &visitor,
        &id,
        None,
        String::new(),
        Errors::default(),
        flash,
    )
    .await
}

async fn exception_page(
    app: &App,
    visitor: &Visitor,
    id: &str,
    confirm: Option<Resolution>,
    note: String,
    errors: Errors,
    flash: Option<String>,
) -> Response {
    let signed = match staff_only(app, visitor, &format!("/support/exceptions/{id}")) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let Ok(item_id) = id.parse::<uuid::Uuid>() else {
        return failure(app, visitor, AppError::NotFound("exception"));
    };
    let e = match app.exception(&signed.principal.actor, item_id).await {
        Ok(e) => e,
        Err(err) => return failure(app, visitor, err),
    };
    let offer = |r: Resolution| {
        let (label, explains) = resolution_words(r);
        Offer {
            value: r.as_str(),
            label,
            explains,
            note_required: needs_note(r),
        }
    };
    let title = if confirm.is_some() {
        "Are you sure?".to_owned()
    } else {
        format!("Exception: {}", e.kind.as_str().replace('_', " "))
    };
    let page = Page::new(app, visitor, title)
        .with_errors(&errors)
        .with_flash(flash);
    let body = ExceptionPage {
        item: ItemRow::of(&page, &e),
        tried: e
            .body
            .tried
            .iter()
            .map(|t| (page.date(&t.at), t.what.clone()))
            .collect(),
        resolved: e.body.resolution.as_ref().map(|r| {
            format!(
                "{} by {} on {}: {}{}",
                r.resolution.replace('_', " "),
                r.by.role,
                page.date(&r.at),
                r.outcome,
                r.note
                    .as_ref()
                    .map(|n| format!(" Note: {n}"))
                    .unwrap_or_default()
            )
        }),
        offers: if e.status() == ExceptionStatus::Resolved {
            Vec::new()
        } else {
            e.kind.resolutions().iter().map(|r| offer(*r)).collect()
        },
        confirm: confirm.map(offer),
        note,
        page,
        errors,
    };
    render_form(&body, &body.errors)
}

#[derive(Deserialize)]
pub struct ResolveForm {
    pub resolution: String,
    #[serde(default)]
    pub note: String,
    /// `yes` once the person confirmed on the confirmation page.
    #[serde(default)]
    pub confirm: String,
}

/// `POST /support/exceptions/{id}/resolve`: asks for confirmation, then resolves.
pub async fn resolve(
    State(app): State<App>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(f): Form<ResolveForm>,
) -> Response {
    let signed = match staff_only(&app, &visitor, &format!("/support/exceptions/{id}")) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let Ok(resolution) = Resolution::parse(&f.resolution) else {
        return failure(&app, &visitor, AppError::NotFound("resolution"));
    };
    let note = f.note.trim().to_owned();
    if needs_note(resolution) && note.is_empty() {
        let errors = Errors::one(
            &format!("note-{}", resolution.as_str()),
            "Write a note: it says what was done (for “mark as paid”, the payment's reference)",
        );
        return exception_page(&app, &visitor, &id, None, note, errors, None).await;
    }
    if f.confirm != "yes" {
        return exception_page(
            &app,
            &visitor,
            &id,
            Some(resolution),
            note,
            Errors::default(),
            None,
        )
        .await;
    }
    let Ok(item_id) = id.parse::<uuid::Uuid>() else {
        return failure(&app, &visitor, AppError::NotFound("exception"));
    };
    let note = (!note.is_empty()).then_some(note);
    match app
        .resolve_exception(&signed.principal.actor, item_id, resolution.as_str(), note)
        .await
    {
        Ok(_) => see_other(&format!("/support/exceptions/{id}"), Some("resolved")),
        Err(e) => {
            let errors = Errors::of(e, "");
            exception_page(&app, &visitor, &id, None, String::new(), errors, None).await
        }
    }
}
