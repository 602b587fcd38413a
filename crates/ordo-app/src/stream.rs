//! The event stream for other services: every relayed event published to NATS JetStream
//! (`ordo serve --nats-url`), in relay order, at least once — and, thanks to JetStream's
//! de-duplication on `Nats-Msg-Id` (the event's position), once in the stream.
//!
//! Publishing is a consumer of the relay with its own cursor (`relay_cursors.nats`): a
//! recurring job (`stream.publish`, one node at a time) publishes the events after the cursor,
//! waits for JetStream to acknowledge each, then moves the cursor on. A crash between the two
//! publishes some events again, which JetStream drops (its duplicate window is two hours); NATS
//! being down stops the cursor, and publishing resumes where it stopped once NATS is back.
//!
//! Subject: `<prefix>.<type>` (`ordo.order.paid`, `ordo.stock.low`); body: the event as
//! `{"id", "type", "timestamp", "data"}`, `data` being the event's payload as recorded.

use std::time::Duration;

use async_nats::jetstream;
use ordo_store::{OrderScope, RelayedEvent};
use serde::Serialize;

use crate::jobs::{Handler, JobFuture, JobKind, again};
use crate::{App, AppError, AppResult};

/// The relay cursor this consumer keeps.
const CONSUMER: &str = "nats";
/// Events published before their acknowledgements are awaited.
const BATCH: u32 = 500;
/// Batches one run publishes at most, so the job gives others a turn.
const BATCHES_PER_RUN: usize = 20;
/// How long JetStream may take to acknowledge.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long JetStream remembers message ids to drop duplicates.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(2 * 3600);

/// Where events are published (see `Settings::nats`).
#[derive(Debug, Clone)]
pub struct NatsSettings {
    /// `nats://host:port`.
    pub url: String,
    /// The JetStream stream (created if missing).
    pub stream: String,
    /// Subjects are `<prefix>.<event type>`.
    pub prefix: String,
}

impl NatsSettings {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            stream: "ORDO".into(),
            prefix: "ordo".into(),
        }
    }
}

/// An event as other services receive it (the same envelope webhooks will carry).
#[derive(Serialize)]
struct Envelope<'a> {
    id: i64,
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: chrono::DateTime<chrono::Utc>,
    data: &'a serde_json::value::RawValue,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Unavailable(anyhow::anyhow!("NATS: {what}: {e}"))
}

impl App {
    /// The JetStream context, connected (and the stream made sure of) on first use; a failed
    /// attempt is tried again next time.
    async fn jetstream(&self, nats: &NatsSettings) -> AppResult<jetstream::Context> {
        self.stream
            .get_or_try_init(|| async {
                let client = async_nats::ConnectOptions::new()
                    .retry_on_initial_connect()
                    .connection_timeout(Duration::from_secs(5))
                    .connect(&nats.url)
                    .await
                    .map_err(|e| unavailable("connect", e))?;
                let js = jetstream::new(client);
                js.get_or_create_stream(jetstream::stream::Config {
                    name: nats.stream.clone(),
                    subjects: vec![format!("{}.>", nats.prefix)],
                    duplicate_window: DUPLICATE_WINDOW,
                    ..Default::default()
                })
                .await
                .map_err(|e| unavailable("create the stream", e))?;
                Ok(js)
            })
            .await
            .cloned()
    }

    /// Publishes the relayed events after this consumer's cursor to JetStream and moves the
    /// cursor past those acknowledged. Returns how many were published (0 without NATS).
    pub async fn publish_events(&self) -> AppResult<usize> {
        let Some(nats) = self.settings.nats.clone() else {
            return Ok(0);
        };
        let js = self.jetstream(&nats).await?;
        let now = self.now();
        let mut cursor = self
            .write(move |tx| Box::pin(async move { Ok(tx.consumer_cursor(CONSUMER, now).await?) }))
            .await?;
        let mut published = 0;
        let started = std::time::Instant::now();
        for _ in 0..BATCHES_PER_RUN {
            // Well inside the job's lease: the rest waits for the next run, a second away.
            if started.elapsed() > Duration::from_secs(10) {
                break;
            }
            let events = self
                .store
                .events_after(cursor, OrderScope::All, BATCH)
                .await?;
            if events.is_empty() {
                break;
            }
            let full = events.len() == BATCH as usize;
            let mut acks = Vec::with_capacity(events.len());
            for event in &events {
                acks.push((event.position, publish(&js, &nats, event).await?));
            }
            // Acknowledged in order; the cursor moves to the last one before any failure.
            let mut acked = cursor;
            let mut failure = None;
            for (position, ack) in acks {
                match tokio::time::timeout(ACK_TIMEOUT, ack).await {
                    Ok(Ok(_)) => {
                        acked = position;
                        published += 1;
                    }
                    Ok(Err(e)) => {
                        failure = Some(unavailable("acknowledge", e));
                        break;
                    }
                    Err(_) => {
                        failure = Some(unavailable("acknowledge", "timed out"));
                        break;
                    }
                }
            }
            if acked > cursor {
                let at = self.now();
                self.write(move |tx| {
                    Box::pin(async move { Ok(tx.advance_cursor(CONSUMER, acked, at).await?) })
                })
                .await?;
                cursor = acked;
            }
            if let Some(e) = failure {
                return Err(e);
            }
            if !full {
                break;
            }
        }
        Ok(published)
    }
}

/// Sends one event (the acknowledgement is awaited by the caller).
async fn publish(
    js: &jetstream::Context,
    nats: &NatsSettings,
    event: &RelayedEvent,
) -> AppResult<jetstream::context::PublishAckFuture> {
    let m = &event.message;
    let body = serde_json::to_vec(&Envelope {
        id: event.position,
        kind: &m.topic,
        timestamp: m.created_at,
        data: &m.payload,
    })
    .map_err(|e| AppError::Internal(e.into()))?;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", event.position.to_string().as_str());
    js.publish_with_headers(format!("{}.{}", nats.prefix, m.topic), headers, body.into())
        .await
        .map_err(|e| unavailable("publish", e))
}

/// Publishing is a recurring job, kept where `--nats-url` is set.
pub(crate) const JOBS: &[Handler] = &[Handler::recurring(
    JobKind::PublishEvents,
    |app| app.settings.nats.is_some(),
    publish_job,
)];

/// NATS being down is expected now and then: tried again steadily, not with backoff.
fn publish_job<'a>(app: &'a App, _: &'a ordo_store::Job) -> JobFuture<'a> {
    Box::pin(async move {
        if let Err(e) = app.publish_events().await {
            tracing::warn!(error = %e, "publishing events to NATS failed; will retry");
        }
        again(app, Duration::from_secs(1))
    })
}
