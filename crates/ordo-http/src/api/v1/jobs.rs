//! Background jobs, for support and admins: what is queued, retrying, running and dead, a
//! dead job queued again, and how far each reader of the event relay has got.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ordo_app::App;
use ordo_store::Job;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Query, path_id};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(retry_job))
}

#[derive(Serialize, ToSchema)]
pub struct JobView {
    pub id: Uuid,
    #[schema(example = "webhook.deliver")]
    pub kind: String,
    pub key: String,
    /// `queued`, `running`, `done` or `dead`.
    pub state: String,
    pub run_at: DateTime<Utc>,
    pub attempts: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Job> for JobView {
    fn from(j: Job) -> Self {
        Self {
            id: j.id,
            kind: j.kind,
            key: j.key,
            state: j.state.as_str().into(),
            run_at: j.run_at,
            attempts: j.attempts,
            last_error: j.last_error,
            created_at: j.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct JobCountsView {
    pub queued: i64,
    /// Queued again after a failed attempt.
    pub retrying: i64,
    pub running: i64,
    pub done: i64,
    pub dead: i64,
}

#[derive(Serialize, ToSchema)]
pub struct RelayConsumerView {
    /// `sequencer` (the last event numbered), `webhooks`, `nats`.
    pub name: String,
    pub position: i64,
    /// Events numbered that this reader has not handled yet.
    pub lag: i64,
}

#[derive(Serialize, ToSchema)]
pub struct RelayView {
    /// Committed events still waiting for their number.
    pub waiting: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_waiting_at: Option<DateTime<Utc>>,
    pub consumers: Vec<RelayConsumerView>,
}

#[derive(Serialize, ToSchema)]
pub struct JobsView {
    pub data: Vec<JobView>,
    pub counts: JobCountsView,
    pub relay: RelayView,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// `queued`, `running`, `done` or `dead`.
    #[param(pattern = "^(queued|running|done|dead)$")]
    pub state: Option<String>,
    /// A job kind, e.g. `webhook.deliver`, `reservation.expire`.
    pub kind: Option<String>,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// Background jobs, newest first, with counts by state and the event relay's progress.
#[utoipa::path(get, path = "/jobs", tag = "jobs", security(("bearer" = [])), params(JobQuery),
    responses((status = 200, body = JobsView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_jobs(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<JobQuery>,
) -> ApiResult<axum::Json<JobsView>> {
    let o = app
        .jobs_overview(
            &caller.actor,
            q.state.as_deref(),
            q.kind.as_deref(),
            q.limit,
        )
        .await?;
    Ok(axum::Json(o.into()))
}

impl From<ordo_app::jobs::JobsOverview> for JobsView {
    fn from(o: ordo_app::jobs::JobsOverview) -> Self {
        let numbered = o
            .relay
            .cursors
            .iter()
            .find(|(name, _)| name == "sequencer")
            .map_or(0, |(_, p)| *p);
        JobsView {
            data: o.jobs.into_iter().map(Into::into).collect(),
            counts: JobCountsView {
                queued: o.counts.queued,
                retrying: o.counts.retrying,
                running: o.counts.running,
                done: o.counts.done,
                dead: o.counts.dead,
            },
            relay: RelayView {
                waiting: o.relay.waiting,
                oldest_waiting_at: o.relay.oldest_waiting,
                consumers: o
                    .relay
                    .cursors
                    .into_iter()
                    .map(|(name, position)| RelayConsumerView {
                        lag: numbered - position,
                        name,
                        position,
                    })
                    .collect(),
            },
        }
    }
}

/// Queues a dead job again now, its attempts counted afresh.
#[utoipa::path(post, path = "/jobs/{id}/retry", tag = "jobs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 202), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "job_not_dead", body = ErrorBody)))]
async fn retry_job(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.retry_job(&caller.actor, path_id::<Uuid>(&id, "job")?)
        .await?;
    Ok(StatusCode::ACCEPTED)
}
