//! Orders: place, read, list, act, their event log and internal notes; and the state machine
//! itself.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use futures_util::StreamExt;
use ordo_app::App;
use ordo_app::checkout::PlaceOrder;
use ordo_domain::address::AddressInput;
use ordo_domain::identity::Role;
use ordo_domain::ids::{OrderId, UserId};
use ordo_domain::order::{Action, OrderStatus, TRANSITIONS};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Json, Query, optional_body, path_id};
use crate::views::PaymentView;
use crate::views::{ActorView, AddressView, EventList, EventView, OrderList, OrderView};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(place_order, list_orders))
        .routes(routes!(get_order))
        .routes(routes!(act))
        .routes(routes!(order_events))
        .routes(routes!(order_notes, add_order_note))
        .routes(routes!(state_machine))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderItemRequest {
    #[schema(example = "NL-JKT-M", pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub sku: String,
    /// 1 to 10,000.
    #[schema(example = 1, minimum = 1, maximum = 10000)]
    pub quantity: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderRequest {
    /// ISO 4217; every item must have a price in it.
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// 1 to 100 items, all from one vendor.
    pub items: Vec<OrderItemRequest>,
    #[schema(value_type = AddressView)]
    pub shipping_address: AddressInput,
    /// A promotion code; it must apply, or the order is refused (422/409).
    pub promo_code: Option<String>,
    /// How to pay (a provider's method reference: a sandbox test card such as
    /// `sandbox_card_ok`, or `pm_card_visa` at Stripe): Ordo confirms the payment at once and
    /// the order is `paid` when it goes through. Without it the answer's `payment.client_secret`
    /// lets the client confirm it.
    #[schema(example = "sandbox_card_ok", min_length = 1, max_length = 255)]
    pub payment_method: Option<String>,
}

/// Places an order (customers). Stock is reserved atomically: all items or none.
///
/// Send an `Idempotency-Key` header (a UUID, say) to make retries safe: a repeat with the same
/// key and body returns the same order (with `Idempotent-Replayed: true`) and reserves nothing
/// more; the same key with a different body is a 409.
#[utoipa::path(post, path = "/orders", tag = "orders", security(("bearer" = [])), request_body = PlaceOrderRequest,
    responses((status = 201, body = OrderView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "insufficient_stock or idempotency_key_reused", body = ErrorBody)))]
async fn place_order(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<PlaceOrderRequest>,
) -> ApiResult<(StatusCode, axum::Json<OrderView>)> {
    let input = PlaceOrder {
        payment_method: req.payment_method,
        currency: req.currency,
        items: req.items.into_iter().map(|i| (i.sku, i.quantity)).collect(),
        shipping_address: req.shipping_address,
        promo_code: req.promo_code,
    };
    let placed = app.place_order(&caller.actor, input).await?;
    let mut view = OrderView::new(placed.order, &caller.actor);
    view.payment = placed.payment.map(|p| PaymentView::new(p, &caller.actor));
    Ok((StatusCode::CREATED, axum::Json(view)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    /// Only orders in this state.
    pub status: Option<String>,
    /// Only orders whose payment (their share of it) is `pending`, `authorized` (waiting to be
    /// captured), `paid`, `partially_paid`, `partially_refunded`, `refunded`, `voided`,
    /// `failed` or `expired`.
    #[param(
        pattern = "^(pending|authorized|paid|partially_paid|partially_refunded|refunded|voided|failed|expired)$"
    )]
    pub payment_status: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    /// An order id: return the orders placed before it (the next page).
    pub starting_after: Option<String>,
}

/// The orders the caller may see, newest first: a customer's own, a vendor's, a carrier's
/// shipments, or all for support and admins; by status and by payment status.
#[utoipa::path(get, path = "/orders", tag = "orders", security(("bearer" = [])), params(OrderFilter),
    responses((status = 200, body = OrderList), (status = 400, body = ErrorBody)))]
async fn list_orders(
    State(app): State<App>,
    caller: Caller,
    Query(f): Query<OrderFilter>,
) -> ApiResult<axum::Json<OrderList>> {
    let page = app
        .orders_filtered(
            &caller.actor,
            f.status.as_deref(),
            f.payment_status.as_deref(),
            f.limit,
            f.starting_after.as_deref(),
        )
        .await?;
    Ok(axum::Json(OrderList {
        data: page
            .orders
            .into_iter()
            .map(|o| OrderView::new(o, &caller.actor))
            .collect(),
        has_more: page.has_more,
    }))
}

/// One order, if the caller may see it (otherwise 404).
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody)))]
async fn get_order(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<OrderView>> {
    let order = app
        .order(&caller.actor, path_id::<OrderId>(&id, "order")?)
        .await?;
    Ok(axum::Json(OrderView::new(order, &caller.actor)))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// Why (kept on the order for `cancel`, and in the event log for every action).
    pub reason: Option<String>,
    /// For `ship`: the carrier user handed the parcel; that carrier can then see and deliver it.
    pub carrier_id: Option<Uuid>,
}

/// Performs an action from the order state machine (`pay`, `accept`, `ship`, `deliver`,
/// `complete`, `cancel`). An action the current state does not allow is a 409 listing the
/// allowed ones; an action the caller's role may never take is a 403.
///
/// Cancelling an order that holds money gives it back in the same transaction: its uncaptured
/// authorization is released and its captured money refunded (requests sent at once by the
/// job worker, retried from five minutes, handed to the exception queue if the provider keeps
/// failing). The answer's `payment` shows the payment as it is then (`amounts.refunding`,
/// `amounts.voiding` — or `refunded`, `voided` once the worker has sent it — and the order's
/// share in `orders`); its `payment.refunded` event follows. A replay of the same
/// Idempotency-Key shows the payment as it is at the replay.
#[utoipa::path(post, path = "/orders/{id}/actions/{action}", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("action" = String, Path)), request_body(content = Option<ActionRequest>),
    responses((status = 200, body = OrderView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "invalid_transition", body = ErrorBody)))]
async fn act(
    State(app): State<App>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<axum::Json<OrderView>> {
    let id = path_id::<OrderId>(&id, "order")?;
    // The body is optional: most actions need none.
    let req: ActionRequest = optional_body(&body)?;
    let order = app
        .act(
            &caller.actor,
            caller.proof,
            id,
            &action,
            req.reason,
            req.carrier_id.map(UserId),
        )
        .await?;
    let mut view = OrderView::new(order, &caller.actor);
    if action == "cancel" {
        // What became of the money, so an integrator need not guess: the payment as the
        // cancellation left it (a refund or release on its way shows as `refunding`/`voiding`).
        // (Read after the commit: a failure to read it must not make a done cancel look failed.)
        view.payment = app
            .order_payment(&caller.actor, id)
            .await
            .ok()
            .flatten()
            .map(|d| PaymentView::detail(d, &caller.actor));
    }
    Ok(axum::Json(view))
}

/// The order's append-only event log, oldest first — or, with `Accept: text/event-stream`,
/// its events live as Server-Sent Events (`id:` the event's `seq`, `event:` its type, `data:`
/// the event as the list shows it). Resume with `Last-Event-ID` (or `?after=`): the events
/// after it are replayed, then the stream goes on live. Everyone who may read the order may
/// follow it: its customer, vendor and carrier, support and admins.
#[utoipa::path(get, path = "/orders/{id}/events", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path), EventsAfter,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume a stream after this event's seq")),
    responses(
        (status = 200, description = "The log (JSON), or the live stream (`text/event-stream`)",
            content((EventList = "application/json"), (String = "text/event-stream"))),
        (status = 404, body = ErrorBody)))]
async fn order_events(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<EventsAfter>,
    headers: axum::http::HeaderMap,
) -> ApiResult<axum::response::Response> {
    let id = path_id::<OrderId>(&id, "order")?;
    if crate::live::wants_stream(&headers) {
        let after = crate::live::last_event_id(&headers, q.after.unwrap_or(0))?;
        let viewer = caller.actor;
        let events = app.follow_order(&viewer, id, after).await?.map(move |e| {
            e.map(|e| {
                let (seq, kind) = (e.seq, e.event_type.clone());
                crate::live::message(seq, &kind, &EventView::new(e, &viewer))
            })
        });
        return Ok(crate::live::serve(app, Some(caller.token), events));
    }
    let events = app.order_events(&caller.actor, id).await?;
    Ok(axum::Json(EventList {
        data: events
            .into_iter()
            .filter(|e| q.after.is_none_or(|after| e.seq > after))
            .map(|e| EventView::new(e, &caller.actor))
            .collect(),
    })
    .into_response())
}

/// An internal note on an order: what support and admins write down for each other.
#[derive(Serialize, ToSchema)]
pub struct NoteView {
    pub id: Uuid,
    pub order_id: Uuid,
    pub author: ActorView,
    pub body: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl NoteView {
    fn new(n: ordo_store::OrderNote, viewer: &ordo_domain::identity::Actor) -> Self {
        Self {
            id: n.id,
            order_id: n.order_id.0,
            author: ActorView::new(&n.author, viewer),
            body: n.body,
            created_at: n.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct NoteList {
    pub data: Vec<NoteView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// 1 to 2,000 characters; lines welcome, other control characters not.
    #[schema(
        example = "Customer called: leave the parcel with the neighbour.",
        min_length = 1,
        max_length = 2000
    )]
    pub body: String,
}

/// An order's internal notes, oldest first (support and admins: customers, vendors and carriers
/// never see them).
#[utoipa::path(get, path = "/orders/{id}/notes", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = NoteList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn order_notes(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<NoteList>> {
    let id = path_id::<OrderId>(&id, "order")?;
    let notes = app.order_notes(&caller.actor, id).await?;
    Ok(axum::Json(NoteList {
        data: notes
            .into_iter()
            .map(|n| NoteView::new(n, &caller.actor))
            .collect(),
    }))
}

/// Writes an internal note on an order (support and admins). Staff's feeds and the platform's
/// webhooks carry it as an `order.note_added` event; the order's own log and stream do not.
#[utoipa::path(post, path = "/orders/{id}/notes", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = NoteRequest,
    responses((status = 201, body = NoteView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn add_order_note(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<NoteRequest>,
) -> ApiResult<(StatusCode, axum::Json<NoteView>)> {
    let id = path_id::<OrderId>(&id, "order")?;
    let note = app.add_order_note(&caller.actor, id, &req.body).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(NoteView::new(note, &caller.actor)),
    ))
}

/// Where a list or stream of events starts.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsAfter {
    /// Only events after this one (an order's event `seq`).
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct TransitionView {
    pub from: String,
    pub action: String,
    pub to: String,
    pub roles: Vec<String>,
    /// What the step does to stock: `none`, `commit`, `release` or `restock`.
    pub stock_effect: String,
}

#[derive(Serialize, ToSchema)]
pub struct StateMachineView {
    pub states: Vec<String>,
    pub actions: Vec<String>,
    pub transitions: Vec<TransitionView>,
    /// The same table as a Mermaid state diagram.
    pub mermaid: String,
}

/// The order state machine, exactly as the server enforces it. Public.
#[utoipa::path(get, path = "/order-state-machine", tag = "orders", responses((status = 200, body = StateMachineView)))]
async fn state_machine() -> axum::Json<StateMachineView> {
    let name = |v: serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    axum::Json(StateMachineView {
        states: OrderStatus::ALL.iter().map(|s| s.to_string()).collect(),
        actions: Action::ALL.iter().map(|a| a.to_string()).collect(),
        transitions: TRANSITIONS
            .iter()
            .map(|t| TransitionView {
                from: t.from().map_or_else(|| "new".to_owned(), |s| s.to_string()),
                action: t.action().to_string(),
                to: t.to().to_string(),
                roles: t.roles().iter().map(|r: &Role| r.to_string()).collect(),
                stock_effect: name(serde_json::to_value(t.stock()).unwrap_or_default()),
            })
            .collect(),
        mermaid: ordo_domain::order::mermaid(),
    })
}
