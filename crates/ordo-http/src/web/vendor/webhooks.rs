//! A vendor's webhook endpoints (add, change, pause and resume, a new secret shown once, delete
//! after asking) and their deliveries (test, retry).

use super::*;

/// One webhook endpoint as the vendor sees it.
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub events: String,
    pub description: String,
    pub status: crate::web::Tag,
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
            status: crate::web::Tag {
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
pub async fn webhooks(State(app): State<App>, visitor: Visitor, Flash(flash): Flash) -> Response {
    webhooks_page(
        &app,
        &visitor,
        EndpointForm::default(),
        Errors::default(),
        None,
        flash,
    )
    .await
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
    pub state: crate::web::Tag,
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
    Flash(flash): Flash,
    Path(id): Path<String>,
) -> Response {
    let shown = Shown {
        flash,
        ..Shown::default()
    };
    webhook_page(&app, &visitor, &id, shown).await
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
            state: crate::web::Tag {
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
