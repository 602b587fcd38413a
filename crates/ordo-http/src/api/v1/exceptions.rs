//! The exception queue: what Ordo could not settle by itself, for support and admins to
//! resolve, or hand to engineering.

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use ordo_app::App;
use ordo_app::exceptions::{Exception, ExceptionStatus};
use ordo_domain::identity::{Actor, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, Json, Query};
use crate::views::ActorView;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_exceptions))
        .routes(routes!(get_exception))
        .routes(routes!(resolve))
        .routes(routes!(escalate))
}

#[derive(Serialize, ToSchema)]
pub struct TriedView {
    pub at: DateTime<Utc>,
    pub what: String,
}

#[derive(Serialize, ToSchema)]
pub struct ResolvedView {
    #[schema(example = "retry_now")]
    pub resolution: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub by: ActorView,
    pub at: DateTime<Utc>,
    /// What came of it.
    pub outcome: String,
}

#[derive(Serialize, ToSchema)]
pub struct EscalatedView {
    pub note: String,
    pub by: ActorView,
    pub at: DateTime<Utc>,
}

/// One item of the queue.
#[derive(Serialize, ToSchema)]
pub struct ExceptionView {
    pub id: Uuid,
    /// `payment_capture_failed`, `payment_outcome_unknown`, `refund_failed`,
    /// `payment_void_failed`, `authorization_expiring`, `payment_for_cancelled_order`.
    #[schema(example = "payment_capture_failed")]
    pub kind: String,
    /// `open`, `resolved` or `escalated`.
    #[schema(example = "open")]
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<Uuid>,
    /// What happened, in plain words.
    pub summary: String,
    /// What was tried, and when.
    pub tried: Vec<TriedView>,
    /// What may be done about it now (empty once resolved).
    pub resolutions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<ResolvedView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<EscalatedView>,
    /// The technical detail (the provider's answers, redacted): admins (engineering) only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ExceptionView {
    pub fn new(e: Exception, viewer: &Actor) -> Self {
        let open = e.status() != ExceptionStatus::Resolved;
        Self {
            id: e.id,
            kind: e.kind.to_string(),
            status: e.status().as_str().to_owned(),
            order_id: e.order_id.map(|o| o.0),
            payment_id: e.body.payment_id,
            summary: e.body.summary,
            tried: e
                .body
                .tried
                .into_iter()
                .map(|t| TriedView {
                    at: t.at,
                    what: t.what,
                })
                .collect(),
            resolutions: if open {
                e.kind.resolutions().iter().map(|r| r.to_string()).collect()
            } else {
                Vec::new()
            },
            resolution: e.body.resolution.map(|r| ResolvedView {
                resolution: r.resolution,
                note: r.note,
                by: ActorView::new(&r.by, viewer),
                at: r.at,
                outcome: r.outcome,
            }),
            escalation: e.body.escalation.map(|x| EscalatedView {
                note: x.note,
                by: ActorView::new(&x.by, viewer),
                at: x.at,
            }),
            detail: e.body.detail.filter(|_| viewer.role == Role::Admin),
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ExceptionList {
    pub data: Vec<ExceptionView>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExceptionFilter {
    /// `open`, `resolved` or `escalated`.
    pub status: Option<String>,
    pub kind: Option<String>,
    pub order_id: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
}

/// The exception queue (support, admins), newest first.
#[utoipa::path(get, path = "/exceptions", tag = "exceptions", security(("bearer" = [])), params(ExceptionFilter),
    responses((status = 200, body = ExceptionList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_exceptions(
    State(app): State<App>,
    caller: Caller,
    Query(f): Query<ExceptionFilter>,
) -> ApiResult<axum::Json<ExceptionList>> {
    let items = app
        .exceptions(
            &caller.actor,
            f.status.as_deref(),
            f.kind.as_deref(),
            f.order_id.as_deref(),
            f.limit,
        )
        .await?;
    Ok(axum::Json(ExceptionList {
        data: items
            .into_iter()
            .map(|e| ExceptionView::new(e, &caller.actor))
            .collect(),
    }))
}

fn exception_id(raw: &str) -> ApiResult<Uuid> {
    raw.parse().map_err(|_| ApiError::not_found("exception"))
}

/// One exception (support, admins).
#[utoipa::path(get, path = "/exceptions/{id}", tag = "exceptions", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ExceptionView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_exception(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ExceptionView>> {
    let e = app.exception(&caller.actor, exception_id(&id)?).await?;
    Ok(axum::Json(ExceptionView::new(e, &caller.actor)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// One of the item's `resolutions`.
    #[schema(example = "retry_now")]
    pub resolution: String,
    /// What was done and why (required for `contact_customer` and `dismiss`).
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// Resolves an exception (support, admins) with one of its `resolutions`; it runs through the
/// same use cases as everything else (a retry is a new capture or refund request, or the same
/// one again when its outcome was unknown) and is recorded with who, when, the note and what
/// came of it.
#[utoipa::path(post, path = "/exceptions/{id}/resolve", tag = "exceptions", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ResolveRequest,
    responses((status = 200, body = ExceptionView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "exception_resolved, or what the resolution's use case refused", body = ErrorBody),
              (status = 422, description = "resolution_not_allowed", body = ErrorBody)))]
async fn resolve(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<ResolveRequest>,
) -> ApiResult<axum::Json<ExceptionView>> {
    let e = app
        .resolve_exception(&caller.actor, exception_id(&id)?, &req.resolution, req.note)
        .await?;
    Ok(axum::Json(ExceptionView::new(e, &caller.actor)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateRequest {
    /// What staff saw and tried.
    #[schema(max_length = 2000)]
    pub note: String,
}

/// Hands an open exception to engineering (support, admins): admins see its technical detail.
#[utoipa::path(post, path = "/exceptions/{id}/escalate", tag = "exceptions", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = EscalateRequest,
    responses((status = 200, body = ExceptionView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "exception_not_open", body = ErrorBody)))]
async fn escalate(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<EscalateRequest>,
) -> ApiResult<axum::Json<ExceptionView>> {
    let e = app
        .escalate_exception(&caller.actor, exception_id(&id)?, Some(req.note))
        .await?;
    Ok(axum::Json(ExceptionView::new(e, &caller.actor)))
}
