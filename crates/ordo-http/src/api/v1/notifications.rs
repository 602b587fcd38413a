//! Notifications: each person's choice of language and channels (e-mail, SMS, push), and what
//! was sent about an order, on which channel, to a masked address, and how it went.

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use ordo_app::App;
use ordo_app::notifications::{PreferencesChange, mask};
use ordo_domain::identity::Role;
use ordo_domain::ids::OrderId;
use ordo_store::{Notification, NotificationPreferences};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Json, path_id};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(get_preferences, put_preferences))
        .routes(routes!(order_notifications))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    pub email: bool,
    /// Needs `phone`.
    pub sms: bool,
    /// Through the platform's app.
    pub push: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PreferencesView {
    /// The language of messages: `en` or `de`.
    #[schema(example = "de")]
    pub locale: String,
    pub channels: Channels,
    /// Where SMS go (E.164).
    #[schema(example = "+4915112345678")]
    pub phone: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<NotificationPreferences> for PreferencesView {
    fn from(p: NotificationPreferences) -> Self {
        Self {
            locale: p.locale,
            channels: Channels {
                email: p.email,
                sms: p.sms,
                push: p.push,
            },
            phone: p.phone,
            updated_at: p.updated_at,
        }
    }
}

/// What to change; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesRequest {
    #[schema(example = "de")]
    pub locale: Option<String>,
    pub channels: Option<Channels>,
    /// E.164; `null` clears it (and then SMS must be off).
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(example = "+4915112345678")]
    pub phone: Option<Option<String>>,
}

/// The caller's notification preferences (e-mail only, in English, until they choose).
#[utoipa::path(get, path = "/me/notification-preferences", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = PreferencesView), (status = 401, body = ErrorBody)))]
async fn get_preferences(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<axum::Json<PreferencesView>> {
    Ok(axum::Json(
        app.notification_preferences(&caller.actor).await?.into(),
    ))
}

/// Chooses the language and channels of the caller's notifications. Nothing is sent on a
/// channel turned off.
#[utoipa::path(put, path = "/me/notification-preferences", tag = "notifications", security(("bearer" = [])),
    request_body = PreferencesRequest,
    responses((status = 200, body = PreferencesView),
        (status = 400, description = "invalid_locale, invalid_phone, phone_required", body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn put_preferences(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<PreferencesRequest>,
) -> ApiResult<axum::Json<PreferencesView>> {
    let channels = req.channels;
    let saved = app
        .set_notification_preferences(
            &caller.actor,
            PreferencesChange {
                locale: req.locale,
                email: channels.as_ref().map(|c| c.email),
                sms: channels.as_ref().map(|c| c.sms),
                push: channels.as_ref().map(|c| c.push),
                phone: req.phone,
            },
        )
        .await?;
    Ok(axum::Json(saved.into()))
}

#[derive(Serialize, ToSchema)]
pub struct NotificationView {
    pub id: Uuid,
    /// The event it tells of.
    #[serde(rename = "type")]
    #[schema(example = "order.shipped")]
    pub kind: String,
    /// `email`, `sms` or `push`.
    pub channel: String,
    /// The address, masked: `j***@example.com`, `+49*********78`, `app`.
    pub to: String,
    /// `customer` or `staff` (the vendor's).
    pub recipient: String,
    pub locale: String,
    /// As sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `queued` (to be sent, or tried again), `sent` or `failed`.
    pub status: String,
    pub attempts: i32,
    /// Why the last attempt failed (support and admins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
}

impl NotificationView {
    fn new(n: Notification, staff: bool) -> Self {
        Self {
            id: n.id,
            kind: n.event_type,
            channel: n.channel.as_str().into(),
            to: mask(n.channel, &n.address),
            recipient: if n.to_staff { "staff" } else { "customer" }.into(),
            locale: n.locale,
            subject: n.subject,
            status: n.state.as_str().into(),
            attempts: n.attempts,
            last_error: n.last_error.filter(|_| staff),
            created_at: n.created_at,
            sent_at: n.sent_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct NotificationList {
    pub data: Vec<NotificationView>,
}

/// What was sent about an order, oldest first: the customer sees theirs, the vendor's staff
/// theirs, support and admins everything.
#[utoipa::path(get, path = "/orders/{id}/notifications", tag = "notifications", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = NotificationList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn order_notifications(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<NotificationList>> {
    let id = path_id::<OrderId>(&id, "order")?;
    let staff = matches!(caller.actor.role, Role::Admin | Role::Support);
    let data = app.order_notifications(&caller.actor, id).await?;
    Ok(axum::Json(NotificationList {
        data: data
            .into_iter()
            .map(|n| NotificationView::new(n, staff))
            .collect(),
    }))
}
