//! Live streams over Server-Sent Events: an order's events and a caller's feed, each message
//! with `id:` (where to resume), `event:` (the type) and `data:` (the event as JSON).
//!
//! A client resumes after a dropped connection with the `Last-Event-ID` header (browsers'
//! `EventSource` sends it by itself): the stream replays from the database what came after
//! and goes on live, with no gap and no duplicate (see `ordo_app::relay`). A comment every 15
//! s keeps proxies from closing an idle stream; `retry:` tells clients to reconnect after 3 s.
//! The caller's token is checked again before every message and every 15 s, so a revoked
//! token ends its streams. A stream holds no admission slot: it counts as in flight only until
//! its headers are sent.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use ordo_app::{App, AppResult};

use crate::error::ApiError;

const KEEP_ALIVE: Duration = Duration::from_secs(15);
const RETRY: Duration = Duration::from_secs(3);

/// Whether the client asked for a stream (`Accept: text/event-stream`).
pub fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// Where a stream resumes: `Last-Event-ID` when the client sent one, else `fallback`.
pub fn last_event_id(headers: &HeaderMap, fallback: i64) -> Result<i64, ApiError> {
    match headers.get("last-event-id") {
        None => Ok(fallback),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_last_event_id",
                    "Last-Event-ID must be the id of an event this stream sent",
                )
                .with_field("Last-Event-ID")
            }),
    }
}

/// One stream message from an event: its id, type and JSON.
pub fn message(id: i64, kind: &str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .id(id.to_string())
        .event(kind)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().comment("unserializable event skipped"))
}

/// Serves `events` (already rendered as messages) as an SSE response for as long as the
/// client stays and `token` (a session's) is valid; a guest's stream, opened by its checkout's
/// link (`None`), lasts as long as the client stays. An error ends the stream with an `error`
/// message (the client reconnects and resumes).
pub fn serve<S>(app: App, token: Option<String>, events: S) -> Response
where
    S: Stream<Item = AppResult<Event>> + Send + 'static,
{
    struct State<S> {
        app: App,
        token: Option<String>,
        events: std::pin::Pin<Box<S>>,
        check: tokio::time::Interval,
        greeted: bool,
        ended: bool,
    }
    async fn still_valid(app: &App, token: Option<&str>) -> bool {
        match token {
            Some(t) => app.authenticate(t).await.is_ok(),
            None => true,
        }
    }
    let mut check = tokio::time::interval(KEEP_ALIVE);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = State {
        app,
        token,
        events: Box::pin(events),
        check,
        greeted: false,
        ended: false,
    };
    let stream = futures_util::stream::unfold(state, move |mut s| async move {
        if s.ended {
            return None;
        }
        if !s.greeted {
            s.greeted = true;
            return Some((
                Ok::<_, Infallible>(Event::default().retry(RETRY).comment("ok")),
                s,
            ));
        }
        loop {
            tokio::select! {
                next = s.events.next() => {
                    let next = next?;
                    if !still_valid(&s.app, s.token.as_deref()).await {
                        return None;
                    }
                    return Some((Ok(match next {
                        Ok(event) => event,
                        Err(e) => {
                            tracing::warn!(error = %e, "live stream failed; the client will resume");
                            s.ended = true;
                            Event::default().event("error").data("the stream failed; reconnect to resume")
                        }
                    }), s));
                }
                _ = s.check.tick() => {
                    if !still_valid(&s.app, s.token.as_deref()).await {
                        return None;
                    }
                }
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}
