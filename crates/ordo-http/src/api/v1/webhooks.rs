//! Webhook endpoints: integrators subscribe a URL to events and get them as signed POSTs
//! (Standard Webhooks); their deliveries can be seen, retried and replayed. Admins manage the
//! platform's endpoints and any vendor's; a vendor's staff manage their vendor's.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ordo_app::App;
use ordo_app::webhooks::{EndpointChange, NewEndpoint};
use ordo_domain::ids::VendorId;
use ordo_store::{DeliveryState, WebhookDelivery, WebhookEndpoint};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Json, Query, path_id};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
        .routes(routes!(list_deliveries))
        .routes(routes!(retry_delivery))
        .routes(routes!(replay))
}

#[derive(Serialize, ToSchema)]
pub struct EndpointView {
    pub id: Uuid,
    /// The vendor whose orders and stock it gets; absent: the platform's (every event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<Uuid>,
    pub url: String,
    #[schema(example = json!(["order.*", "stock.low"]))]
    pub events: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Shown only when created and when rotated: keep it; verify signatures with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: Option<String>,
    pub disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed (disabled after 5 days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EndpointView {
    fn new(e: WebhookEndpoint, show_secret: bool) -> Self {
        Self {
            id: e.id,
            vendor_id: e.vendor_id.map(|v| v.0),
            url: e.url,
            events: e.events,
            description: e.description,
            secret: show_secret.then_some(e.secret),
            disabled: e.disabled_at.is_some(),
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EndpointList {
    pub data: Vec<EndpointView>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    /// The `webhook-id` header: the event's id, the same on every attempt and replay.
    pub message_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i32,
    /// When it is tried next (pending only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's last HTTP status, if it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_latency_ms: Option<i32>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<WebhookDelivery> for DeliveryView {
    fn from(d: WebhookDelivery) -> Self {
        Self {
            id: d.id,
            message_id: d.message_id,
            kind: d.event_type,
            status: d.state.as_str().into(),
            attempts: d.attempts,
            next_attempt_at: (d.state == DeliveryState::Pending).then_some(d.next_at),
            last_status: d.last_status,
            last_error: d.last_error,
            last_latency_ms: d.last_latency_ms,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub data: Vec<DeliveryView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpointRequest {
    /// http or https; it must resolve to public addresses only.
    #[schema(example = "https://crm.example.com/hooks/ordo", max_length = 2048)]
    pub url: String,
    /// Event types, or `order.*`, `stock.*`, `*` (1 to 50).
    #[schema(example = json!(["order.*", "stock.low"]))]
    pub events: Vec<String>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Admins: a vendor's endpoint (that vendor's events only). Vendor staff: their own.
    pub vendor_id: Option<Uuid>,
}

/// Subscribes a URL to events. The answer carries the signing secret, shown this once.
#[utoipa::path(post, path = "/webhook-endpoints", tag = "webhooks", security(("bearer" = [])), request_body = CreateEndpointRequest,
    responses((status = 201, body = EndpointView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, description = "no such vendor", body = ErrorBody),
              (status = 422, description = "webhook_target_refused: not a public address", body = ErrorBody)))]
async fn create_endpoint(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<CreateEndpointRequest>,
) -> ApiResult<(StatusCode, axum::Json<EndpointView>)> {
    let endpoint = app
        .create_webhook_endpoint(
            &caller.actor,
            NewEndpoint {
                url: req.url,
                events: req.events,
                description: req.description,
                vendor_id: req.vendor_id.map(VendorId),
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(EndpointView::new(endpoint, true)),
    ))
}

/// The endpoints the caller manages.
#[utoipa::path(get, path = "/webhook-endpoints", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = EndpointList), (status = 403, body = ErrorBody)))]
async fn list_endpoints(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<axum::Json<EndpointList>> {
    let data = app.webhook_endpoints(&caller.actor).await?;
    Ok(axum::Json(EndpointList {
        data: data
            .into_iter()
            .map(|e| EndpointView::new(e, false))
            .collect(),
    }))
}

fn endpoint_id(id: &str) -> ApiResult<Uuid> {
    path_id::<Uuid>(id, "webhook endpoint")
}

#[utoipa::path(get, path = "/webhook-endpoints/{id}", tag = "webhooks", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody)))]
async fn get_endpoint(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<EndpointView>> {
    let endpoint = app
        .webhook_endpoint(&caller.actor, endpoint_id(&id)?)
        .await?;
    Ok(axum::Json(EndpointView::new(endpoint, false)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpointRequest {
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(max_length = 500)]
    pub description: Option<Option<String>>,
    /// `true` stops deliveries (they wait); `false` starts them again, sending what waited.
    pub disabled: Option<bool>,
}

#[utoipa::path(patch, path = "/webhook-endpoints/{id}", tag = "webhooks", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = UpdateEndpointRequest,
    responses((status = 200, body = EndpointView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn update_endpoint(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<UpdateEndpointRequest>,
) -> ApiResult<axum::Json<EndpointView>> {
    let endpoint = app
        .update_webhook_endpoint(
            &caller.actor,
            endpoint_id(&id)?,
            EndpointChange {
                url: req.url,
                events: req.events,
                description: req.description,
                disabled: req.disabled,
            },
        )
        .await?;
    Ok(axum::Json(EndpointView::new(endpoint, false)))
}

/// Deletes the endpoint and its deliveries.
#[utoipa::path(delete, path = "/webhook-endpoints/{id}", tag = "webhooks", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_endpoint(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.delete_webhook_endpoint(&caller.actor, endpoint_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret (in the answer, this once); the old one also signs for 24 hours, so
/// the receiver can switch without losing a delivery.
#[utoipa::path(post, path = "/webhook-endpoints/{id}/rotate-secret", tag = "webhooks", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody)))]
async fn rotate_secret(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<EndpointView>> {
    let endpoint = app
        .rotate_webhook_secret(&caller.actor, endpoint_id(&id)?)
        .await?;
    Ok(axum::Json(EndpointView::new(endpoint, true)))
}

/// Sends a `webhook.test` message to the endpoint (see its deliveries for how it went).
#[utoipa::path(post, path = "/webhook-endpoints/{id}/test", tag = "webhooks", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 202, body = DeliveryView), (status = 404, body = ErrorBody)))]
async fn send_test(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, axum::Json<DeliveryView>)> {
    let delivery = app.test_webhook(&caller.actor, endpoint_id(&id)?).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(delivery.into())))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `dead`.
    #[param(pattern = "^(pending|delivered|dead)$")]
    pub status: Option<String>,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// The endpoint's deliveries, newest first: attempts, the receiver's answer, latency, next try.
#[utoipa::path(get, path = "/webhook-endpoints/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), DeliveryQuery),
    responses((status = 200, body = DeliveryList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_deliveries(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<axum::Json<DeliveryList>> {
    let data = app
        .webhook_deliveries(
            &caller.actor,
            endpoint_id(&id)?,
            q.status.as_deref(),
            q.limit,
        )
        .await?;
    Ok(axum::Json(DeliveryList {
        data: data.into_iter().map(Into::into).collect(),
    }))
}

/// Tries a delivery again now (a dead one too, with its attempts counted afresh).
#[utoipa::path(post, path = "/webhook-endpoints/{id}/deliveries/{delivery_id}/retry", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("delivery_id" = Uuid, Path)),
    responses((status = 200, body = DeliveryView), (status = 404, body = ErrorBody)))]
async fn retry_delivery(
    State(app): State<App>,
    caller: Caller,
    Path((id, delivery)): Path<(String, String)>,
) -> ApiResult<axum::Json<DeliveryView>> {
    let delivery = path_id::<Uuid>(&delivery, "delivery")?;
    let d = app
        .retry_webhook_delivery(&caller.actor, endpoint_id(&id)?, delivery)
        .await?;
    Ok(axum::Json(d.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Send again every kept event from this time on (RFC 3339).
    pub since: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ReplayView {
    /// Deliveries queued (at most 10,000 per call).
    pub queued: usize,
}

/// Sends again the events since a time that the endpoint subscribes to, with their original
/// `webhook-id` (a receiver that has one already drops it).
#[utoipa::path(post, path = "/webhook-endpoints/{id}/replay", tag = "webhooks", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = ReplayRequest,
    responses((status = 202, body = ReplayView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn replay(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<ReplayRequest>,
) -> ApiResult<(StatusCode, axum::Json<ReplayView>)> {
    let queued = app
        .replay_webhooks(&caller.actor, endpoint_id(&id)?, req.since)
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(ReplayView { queued })))
}
