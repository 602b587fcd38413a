//! A guest's orders, opened by the unguessable link of their checkout: follow them live, pay,
//! cancel an unpaid one; and `/orders/{id}`, which sends a reader to the page that is theirs.

use super::*;

#[derive(Template)]
#[template(path = "web/account/track.html")]
struct TrackPage {
    page: Page,
    errors: Errors,
    order: OrderView,
    /// The checkout's orders (one per seller), to move between them.
    siblings: Vec<OrderRow>,
    link: String,
    methods: Vec<crate::web::storefront::Method>,
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
    Flash(flash): Flash,
    Path((link, id)): Path<(String, String)>,
) -> Response {
    track_page(&app, &visitor, &link, &id, Errors::default(), flash).await
}

pub(super) async fn track_page(
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
    let cancellable = allowed_actions(order.status(), actor.role).contains(&Action::Cancel);
    let sensitive = Sensitive::of_order_action(Action::Cancel, order.status()).is_some();
    view.stream = format!("/track/{link}/orders/{id}/events?after={}", view.version);
    let body = TrackPage {
        siblings: tracked
            .orders
            .iter()
            .map(|o| OrderRow::of(&page, o))
            .collect(),
        link: link.to_owned(),
        methods: if view.needs_card {
            crate::web::storefront::methods(app)
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
pub(super) async fn pay_as(
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
        detail.payment.state(),
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
