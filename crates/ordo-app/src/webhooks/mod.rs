//! Signed outbound webhooks, following the Standard Webhooks specification
//! (standardwebhooks.com), so integrators verify deliveries with any of its libraries.
//!
//! An *endpoint* (a URL, event patterns, a secret) belongs to the platform (admins) or to one
//! vendor (its staff), and then sees only that vendor's orders and stock. The *fan-out* is a
//! consumer of the relay with its own cursor (`relay_cursors.webhooks`): a recurring job turns
//! each relayed event into one *delivery* per matching endpoint, in the same transaction as it
//! moves its cursor, so each event becomes each endpoint's delivery exactly once. Deliveries
//! are sent by one job per (endpoint, order or SKU), oldest first, so an endpoint receives each
//! order's events in order; a delivery that keeps failing holds back only its own order's.
//!
//! Each delivery is a POST with `webhook-id` (the event's id, the same on every attempt and
//! replay, so receivers drop repeats), `webhook-timestamp` (unix seconds) and
//! `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed with
//! the secret's base64-decoded bytes; during a rotation both secrets sign). A 2xx within 15 s
//! is delivered; anything else is tried again after about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h
//! and 10 h, then the delivery is dead. An endpoint whose every delivery failed for 5 days is
//! disabled.
//!
//! No server-side request forgery: a target that is, or resolves to, a loopback, private,
//! link-local (cloud metadata) or otherwise non-public address is refused when the endpoint is
//! saved and again at each delivery (the HTTP client resolves through the same check, and
//! follows no redirects) — unless `Settings::allow_private_webhook_targets`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use ordo_domain::ParseError;
use ordo_domain::identity::{Actor, Role};
use ordo_domain::ids::VendorId;
use ordo_store::{
    DeliveryState, Job, JobEnd, JobState, OrderScope, RelayedEvent, WebhookDelivery,
    WebhookEndpoint,
};
use rand::RngExt;
use serde::Serialize;
use uuid::Uuid;

use crate::jobs::{Handler, JobFuture, JobKind, again, always, drain};
use crate::{App, AppError, AppResult};

mod delivery;
mod targets;

pub use delivery::sign;
use delivery::*;
use targets::*;
pub use targets::{http_client, install_tls_provider};

/// The relay cursor the fan-out keeps.
const CONSUMER: &str = "webhooks";
/// Waits after the 1st, 2nd… failed attempt; after the last, the delivery is dead.
const RETRY_AFTER: [i64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];
/// How long a receiver may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);
/// Failing this long, an endpoint is disabled.
const DISABLE_AFTER: chrono::Duration = chrono::Duration::days(5);
/// How long the old secret still signs after a rotation.
const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);
/// Deliveries one job sends before giving others a turn.
const SENDS_PER_RUN: usize = 100;
/// After this long a deliver job starts no new send (its run stays well inside its lease:
/// this plus one send's 15 s).
const RUN_FOR: Duration = Duration::from_secs(5);

/// What a caller asks for when creating an endpoint.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    /// For admins: a vendor's endpoint instead of the platform's.
    pub vendor_id: Option<VendorId>,
}

/// A change to an endpoint (absent fields stay as they are).
#[derive(Debug, Clone, Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub disabled: Option<bool>,
}

/// The event types an endpoint may subscribe to (and `order.*`, `payment.*`, `stock.*`, `*`).
pub const EVENT_TYPES: &[&str] = &[
    "order.placed",
    "order.paid",
    "order.accepted",
    "order.shipped",
    "order.delivered",
    "order.completed",
    "order.cancelled",
    crate::outbox::NOTE_ADDED,
    "payment.refund_requested",
    "payment.refunded",
    "payment.refund_failed",
    "payment.void_requested",
    "payment.voided",
    "payment.void_failed",
    "stock.updated",
    "stock.low",
    "webhook.test",
    "webhook.endpoint_disabled",
];

/// The body of every delivery.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: DateTime<Utc>,
    data: &'a serde_json::value::RawValue,
}

fn matches(patterns: &[String], kind: &str) -> bool {
    patterns.iter().any(|p| {
        p == "*"
            || p == kind
            || p.strip_suffix(".*").is_some_and(|prefix| {
                kind.strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
    })
}

fn parse_events(events: Vec<String>) -> AppResult<Vec<String>> {
    if events.is_empty() || events.len() > 50 {
        return Err(ParseError::new(
            "invalid_events",
            "events must list 1 to 50 event types or patterns",
        )
        .at("events")
        .into());
    }
    for (i, e) in events.iter().enumerate() {
        let known = e == "*"
            || EVENT_TYPES.contains(&e.as_str())
            || e.strip_suffix(".*")
                .is_some_and(|p| EVENT_TYPES.iter().any(|t| t.starts_with(&format!("{p}."))));
        if !known {
            return Err(ParseError::new(
                "invalid_events",
                format!(
                    "{e:?} is not an event type or pattern; known: {} (or order.*, stock.*, *)",
                    EVENT_TYPES.join(", ")
                ),
            )
            .at(format!("events[{i}]"))
            .into());
        }
    }
    Ok(events)
}

/// A fresh secret: `whsec_` + base64 of 32 random bytes.
fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill(&mut key);
    format!("whsec_{}", BASE64.encode(key))
}

impl App {
    /// The vendor whose endpoints the actor manages (`None`: the platform's, for admins).
    fn webhook_owner(&self, actor: &Actor) -> AppResult<Option<VendorId>> {
        match actor.role {
            Role::Admin | Role::System => Ok(None),
            Role::Vendor => Ok(Some(actor.vendor_id.ok_or(AppError::Unauthenticated)?)),
            _ => Err(AppError::Forbidden(
                "only admins and vendor staff manage webhook endpoints".into(),
            )),
        }
    }

    /// One endpoint, if the actor may manage it (another vendor's is not found).
    pub async fn webhook_endpoint(&self, actor: &Actor, id: Uuid) -> AppResult<WebhookEndpoint> {
        let owner = self.webhook_owner(actor)?;
        let endpoint = self
            .store
            .webhook_endpoint(id)
            .await?
            .ok_or(AppError::NotFound("webhook endpoint"))?;
        if owner.is_some() && endpoint.vendor_id != owner {
            return Err(AppError::NotFound("webhook endpoint"));
        }
        Ok(endpoint)
    }

    pub async fn webhook_endpoints(&self, actor: &Actor) -> AppResult<Vec<WebhookEndpoint>> {
        let owner = self.webhook_owner(actor)?;
        Ok(self.store.webhook_endpoints(owner).await?)
    }

    /// Creates an endpoint; its secret is in the answer (shown this once).
    pub async fn create_webhook_endpoint(
        &self,
        actor: &Actor,
        new: NewEndpoint,
    ) -> AppResult<WebhookEndpoint> {
        let vendor_id = match self.webhook_owner(actor)? {
            Some(own) => {
                if new.vendor_id.is_some_and(|v| v != own) {
                    return Err(AppError::Forbidden(
                        "vendor staff create endpoints for their own vendor only".into(),
                    ));
                }
                Some(own)
            }
            None => new.vendor_id,
        };
        if let Some(v) = vendor_id {
            self.store
                .vendor(v)
                .await?
                .ok_or(AppError::NotFound("vendor"))?;
        }
        let url = parse_url(&new.url)?;
        let events = parse_events(new.events)?;
        let description = parse_description(new.description)?;
        check_target(&url, self.settings.allow_private_webhook_targets).await?;
        let now = self.now();
        let endpoint = WebhookEndpoint {
            id: Uuid::now_v7(),
            vendor_id,
            url: url.to_string(),
            events,
            description,
            secret: new_secret(),
            previous_secret: None,
            previous_until: None,
            disabled_at: None,
            disabled_reason: None,
            failing_since: None,
            created_by: actor.user_id.ok_or(AppError::Unauthenticated)?,
            created_at: now,
            updated_at: now,
        };
        let saved = endpoint.clone();
        self.write_once(move |tx| {
            Box::pin(async move {
                tx.put_webhook_endpoint(&saved).await?;
                Ok(saved)
            })
        })
        .await
    }

    /// Changes an endpoint's URL, events, description or whether it is disabled. Enabling it
    /// again sends what waited meanwhile.
    pub async fn update_webhook_endpoint(
        &self,
        actor: &Actor,
        id: Uuid,
        change: EndpointChange,
    ) -> AppResult<WebhookEndpoint> {
        let mut endpoint = self.webhook_endpoint(actor, id).await?;
        if let Some(url) = change.url {
            let url = parse_url(&url)?;
            check_target(&url, self.settings.allow_private_webhook_targets).await?;
            endpoint.url = url.to_string();
        }
        if let Some(events) = change.events {
            endpoint.events = parse_events(events)?;
        }
        if let Some(description) = change.description {
            endpoint.description = parse_description(description)?;
        }
        let now = self.now();
        match change.disabled {
            Some(true) if endpoint.disabled_at.is_none() => {
                endpoint.disabled_at = Some(now);
                endpoint.disabled_reason = Some("disabled by its owner".into());
            }
            Some(false) => {
                endpoint.disabled_at = None;
                endpoint.disabled_reason = None;
                endpoint.failing_since = None;
            }
            _ => {}
        }
        endpoint.updated_at = now;
        let saved = endpoint.clone();
        self.write(move |tx| {
            Box::pin(async move {
                tx.put_webhook_endpoint(&saved).await?;
                Ok(())
            })
        })
        .await?;
        Ok(endpoint)
    }

    pub async fn delete_webhook_endpoint(&self, actor: &Actor, id: Uuid) -> AppResult<()> {
        self.webhook_endpoint(actor, id).await?;
        self.write(move |tx| {
            Box::pin(async move {
                tx.delete_webhook_endpoint(id).await?;
                Ok(())
            })
        })
        .await
    }

    /// A new secret (in the answer, this once); the old one also signs for 24 hours.
    pub async fn rotate_webhook_secret(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> AppResult<WebhookEndpoint> {
        let mut endpoint = self.webhook_endpoint(actor, id).await?;
        let now = self.now();
        endpoint.previous_secret = Some(std::mem::replace(&mut endpoint.secret, new_secret()));
        endpoint.previous_until = Some(now + ROTATION_OVERLAP);
        endpoint.updated_at = now;
        let saved = endpoint.clone();
        self.write_once(move |tx| {
            Box::pin(async move {
                tx.put_webhook_endpoint(&saved).await?;
                Ok(saved)
            })
        })
        .await
    }

    /// Sends a `webhook.test` message to the endpoint (as a delivery like any other).
    pub async fn test_webhook(&self, actor: &Actor, id: Uuid) -> AppResult<WebhookDelivery> {
        let endpoint = self.webhook_endpoint(actor, id).await?;
        let now = self.now();
        let data = serde_json::value::to_raw_value(&serde_json::json!({ "endpoint_id": endpoint.id, "message": "a test message from Ordo" }))
            .map_err(|e| AppError::Internal(e.into()))?;
        let body = serde_json::to_string(&Body {
            kind: "webhook.test",
            timestamp: now,
            data: &data,
        })
        .map_err(|e| AppError::Internal(e.into()))?;
        let delivery = new_delivery(
            endpoint.id,
            format!("msg_{}", Uuid::now_v7().simple()),
            "webhook.test",
            "webhook.test",
            None,
            body,
            now,
        );
        let saved = delivery.clone();
        self.write_once(move |tx| {
            Box::pin(async move {
                queue(tx, std::slice::from_ref(&saved), now).await?;
                Ok(saved)
            })
        })
        .await
    }

    /// An endpoint's deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        id: Uuid,
        state: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Vec<WebhookDelivery>> {
        self.webhook_endpoint(actor, id).await?;
        let state = state
            .map(DeliveryState::parse)
            .transpose()
            .map_err(|e| e.at("status"))?;
        let limit = crate::paging::page_limit(limit)?;
        Ok(self.store.webhook_deliveries(id, state, limit).await?)
    }

    /// Tries a delivery again now (a dead one comes back to life with its attempts reset).
    pub async fn retry_webhook_delivery(
        &self,
        actor: &Actor,
        id: Uuid,
        delivery: Uuid,
    ) -> AppResult<WebhookDelivery> {
        self.webhook_endpoint(actor, id).await?;
        let mut found = self
            .store
            .webhook_delivery(id, delivery)
            .await?
            .ok_or(AppError::NotFound("delivery"))?;
        let now = self.now();
        found.state = DeliveryState::Pending;
        found.attempts = 0;
        found.next_at = now;
        let saved = found.clone();
        self.write_once(move |tx| {
            Box::pin(async move {
                queue(tx, std::slice::from_ref(&saved), now).await?;
                Ok(saved)
            })
        })
        .await
    }

    /// Sends again every kept event since `since` that the endpoint subscribes to (with their
    /// original `webhook-id`, so a receiver that has one already drops it). Returns how many.
    pub async fn replay_webhooks(
        &self,
        actor: &Actor,
        id: Uuid,
        since: DateTime<Utc>,
    ) -> AppResult<usize> {
        let endpoint = self.webhook_endpoint(actor, id).await?;
        let now = self.now();
        let mut deliveries = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .store
                .events_after(after, OrderScope::All, crate::outbox::CONSUMER_BATCH)
                .await?;
            let full = page.len() == crate::outbox::CONSUMER_BATCH as usize;
            for event in &page {
                after = event.position;
                if event.message.created_at >= since && subscribed(&endpoint, event) {
                    deliveries.push(new_delivery(
                        endpoint.id,
                        format!("evt_{}", event.position),
                        &event.message.topic,
                        &event.message.key,
                        Some(event.position),
                        event_body(event)?,
                        now,
                    ));
                }
            }
            if !full || deliveries.len() >= 10_000 {
                break;
            }
        }
        let count = deliveries.len();
        self.write_once(move |tx| {
            Box::pin(async move {
                queue(tx, &deliveries, now).await?;
                Ok(count)
            })
        })
        .await
    }
}

fn parse_description(d: Option<String>) -> AppResult<Option<String>> {
    match d {
        Some(d) if d.chars().count() > 500 => Err(ParseError::new(
            "invalid_description",
            "description must be at most 500 characters",
        )
        .at("description")
        .into()),
        Some(d) if d.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// The fan-out and sweep run every second on every node; each (endpoint, key) has a sender.
pub(crate) const JOBS: &[Handler] = &[
    Handler::recurring(JobKind::DispatchWebhooks, always, dispatch),
    Handler::once(JobKind::DeliverWebhooks, deliver),
];

fn dispatch<'a>(app: &'a App, _: &'a Job) -> JobFuture<'a> {
    Box::pin(async move {
        drain(|| app.fan_out_webhooks()).await?;
        app.sweep_webhooks().await?;
        again(app, Duration::from_secs(1))
    })
}

fn deliver<'a>(app: &'a App, job: &'a Job) -> JobFuture<'a> {
    Box::pin(app.deliver_webhooks(&job.key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_types_and_families() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(matches(&p(&["order.*"]), "order.paid"));
        assert!(!matches(&p(&["order.*"]), "orders.paid"));
        assert!(!matches(&p(&["order.*"]), "stock.low"));
        assert!(matches(&p(&["stock.low"]), "stock.low"));
        assert!(matches(&p(&["*"]), "stock.updated"));
    }
}
