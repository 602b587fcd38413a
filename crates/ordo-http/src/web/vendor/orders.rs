//! A vendor's order page: its live timeline, the actions the table allows the vendor (accept,
//! ship, cancel — a paid order's cancel asks for the password again when the session is stale)
//! and the capture of an authorized payment.

use super::*;

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
    Flash(flash): Flash,
    Path(id): Path<String>,
) -> Response {
    order_page(&app, &visitor, &id, Errors::default(), flash, "").await
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
    let mut actions: Vec<ActionButton> = allowed_actions(order.status(), actor.role)
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
        .is_some_and(|p| p.payment.state() == PaymentState::Authorized);
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
            let errors = Errors::of_sensitive(e, "", crate::web::PASSWORD_AGAIN);
            order_page(&app, &visitor, &id, errors, None, &f.reason).await
        }
    }
}
