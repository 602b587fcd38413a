//! Events: the caller's feed of every event they may see — a customer's orders, a vendor's
//! orders and stock, everything for support and admins — as JSON pages or a live stream.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use ordo_app::App;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Query};
use crate::views::{FeedEventView, FeedPage};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(events))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Only events after this one (an event's `id`; 0 or none: the oldest kept).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// 1 to 100 (default 20); JSON pages only.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// The caller's event feed, oldest first: JSON pages (`?after=` the last `id` you have), or,
/// with `Accept: text/event-stream`, the same events live as Server-Sent Events whose `id:` is
/// the cursor — resume with `Last-Event-ID` and nothing is missed or repeated. Events are kept
/// 30 days (`ordo serve --event-retention`); an older cursor answers 410 `cursor_expired`.
#[utoipa::path(get, path = "/events", tag = "events", security(("bearer" = [])),
    params(FeedQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume a stream after this event id")),
    responses(
        (status = 200, description = "A page (JSON), or the live stream (`text/event-stream`)",
            content((FeedPage = "application/json"), (String = "text/event-stream"))),
        (status = 410, body = ErrorBody, description = "The cursor is older than the events kept")))]
async fn events(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<FeedQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let after = q.after.unwrap_or(0);
    if crate::live::wants_stream(&headers) {
        let after = crate::live::last_event_id(&headers, after)?;
        let viewer = caller.actor;
        let events = app.follow_events(&viewer, after).await?.map(move |e| {
            e.map(|e| {
                let view = FeedEventView::new(e, &viewer);
                crate::live::message(view.id, &view.kind, &view)
            })
        });
        return Ok(crate::live::serve(app, Some(caller.token), events));
    }
    let page = app.events(&caller.actor, after, q.limit).await?;
    let data: Vec<FeedEventView> = page
        .events
        .into_iter()
        .map(|e| FeedEventView::new(e, &caller.actor))
        .collect();
    let next_after = data.last().map_or(after, |e| e.id);
    Ok(axum::Json(FeedPage {
        data,
        has_more: page.has_more,
        next_after,
    })
    .into_response())
}
