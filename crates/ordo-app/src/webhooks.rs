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

use crate::jobs::JobKind;
use crate::{App, AppError, AppResult};

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

fn parse_url(raw: &str) -> AppResult<reqwest::Url> {
    let bad = |why: &str| -> AppError {
        ParseError::new("invalid_url", why.to_owned())
            .at("url")
            .into()
    };
    if raw.len() > 2_048 {
        return Err(bad("url must be at most 2,048 characters"));
    }
    let url = reqwest::Url::parse(raw).map_err(|e| bad(&format!("url is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(bad("url must be an http or https URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "url must not carry credentials: the signature authenticates Ordo",
        ));
    }
    Ok(url)
}

/// Address ranges the public internet does not route to a server of someone else's: IANA's
/// special-purpose registries (IPv4 and IPv6), less the few entries marked globally reachable,
/// plus the transition prefixes that embed or translate to another address (NAT64, 6to4,
/// Teredo) — a webhook to one of those could reach an internal host through a gateway.
const NON_PUBLIC_V4: &[([u8; 4], u8, &str)] = &[
    ([0, 0, 0, 0], 8, "this network"),
    ([10, 0, 0, 0], 8, "private"),
    ([100, 64, 0, 0], 10, "shared (carrier-grade NAT)"),
    ([127, 0, 0, 0], 8, "loopback"),
    ([169, 254, 0, 0], 16, "link-local (cloud metadata)"),
    ([172, 16, 0, 0], 12, "private"),
    ([192, 0, 0, 0], 24, "IETF protocol assignments"),
    ([192, 0, 2, 0], 24, "documentation"),
    ([192, 88, 99, 0], 24, "6to4 relay anycast"),
    ([192, 168, 0, 0], 16, "private"),
    ([198, 18, 0, 0], 15, "benchmarking"),
    ([198, 51, 100, 0], 24, "documentation"),
    ([203, 0, 113, 0], 24, "documentation"),
    ([224, 0, 0, 0], 4, "multicast"),
    ([240, 0, 0, 0], 4, "reserved, and broadcast"),
];

const NON_PUBLIC_V6: &[([u16; 8], u8, &str)] = &[
    (
        [0, 0, 0, 0, 0, 0, 0, 0],
        96,
        "unspecified, loopback and IPv4-compatible",
    ),
    ([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "IPv4-mapped"),
    ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "NAT64"),
    ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local-use NAT64"),
    ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
    (
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        "IETF protocol assignments (Teredo, benchmarking, ORCHID)",
    ),
    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
    ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4"),
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
    ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "segment routing"),
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local"),
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
];

/// The range of the tables `ip` falls in, if any.
fn non_public_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let addr = u32::from(v4);
            NON_PUBLIC_V4.iter().find_map(|(net, prefix, what)| {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                (addr & mask == u32::from_be_bytes(*net) & mask).then_some(*what)
            })
        }
        IpAddr::V6(v6) => {
            let addr = u128::from(v6);
            NON_PUBLIC_V6.iter().find_map(|(net, prefix, what)| {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                let net = u128::from(std::net::Ipv6Addr::from(*net));
                (addr & mask == net & mask).then_some(*what)
            })
        }
    }
}

/// Whether an address is one the public internet can reach (see [`NON_PUBLIC_V4`] and
/// [`NON_PUBLIC_V6`]).
fn is_public(ip: IpAddr) -> bool {
    non_public_range(ip).is_none()
}

/// Resolves names for the webhook client, refusing non-public addresses (so the check and the
/// connection use the same answer: no DNS rebinding in between).
struct PublicOnly {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{} resolves to no public address", name.as_str()).into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Checks a target before saving it: it must resolve, and only to public addresses.
async fn check_target(url: &reqwest::Url, allow_private: bool) -> AppResult<()> {
    let refused = |why: String| -> AppError {
        AppError::unprocessable("webhook_target_refused", why, Some("url"))
    };
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| refused(format!("{host} does not resolve: {e}")))?
            .map(|a| a.ip())
            .collect(),
    };
    if addrs.is_empty() {
        return Err(refused(format!("{host} does not resolve")));
    }
    if !allow_private && let Some(ip) = addrs.iter().find(|ip| !is_public(**ip)) {
        return Err(refused(format!(
            "{host} is, or resolves to, {ip}, which is not a public address (loopback, private, \
             link-local and metadata addresses are refused)"
        )));
    }
    Ok(())
}

/// A fresh secret: `whsec_` + base64 of 32 random bytes.
fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill(&mut key);
    format!("whsec_{}", BASE64.encode(key))
}

/// `v1,<signature>` of one message with one secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> AppResult<String> {
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|e| {
            AppError::Internal(anyhow::anyhow!(
                "a stored webhook secret is not base64: {e}"
            ))
        })?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("webhook key: {e}")))?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
}

/// The `webhook.endpoint_disabled` event for an endpoint's owner.
fn disabled_notice(
    endpoint: &WebhookEndpoint,
    at: DateTime<Utc>,
    why: &str,
) -> AppResult<ordo_store::OutboxMessage> {
    let payload = serde_json::json!({
        "endpoint_id": endpoint.id, "url": endpoint.url, "reason": why,
        "failing_since": endpoint.failing_since, "at": at,
    });
    Ok(ordo_store::OutboxMessage {
        topic: "webhook.endpoint_disabled".into(),
        key: endpoint.id.to_string(),
        payload: serde_json::value::to_raw_value(&payload)
            .map_err(|e| AppError::Internal(e.into()))?,
        created_at: at,
        audience: ordo_store::Audience {
            vendor: endpoint.vendor_id,
            ..Default::default()
        },
    })
}

/// The deliver job's key for an endpoint and aggregate.
fn job_key(endpoint: Uuid, key: &str) -> String {
    format!("{endpoint}/{key}")
}

fn deliver_job(endpoint: Uuid, key: &str, at: DateTime<Utc>) -> Job {
    Job {
        id: Uuid::now_v7(),
        kind: JobKind::DeliverWebhooks.as_str().into(),
        key: job_key(endpoint, key),
        payload: serde_json::json!({}),
        state: JobState::Queued,
        run_at: at,
        attempts: 0,
        last_error: None,
        created_at: at,
    }
}

fn new_delivery(
    endpoint: Uuid,
    message_id: String,
    kind: &str,
    key: &str,
    position: Option<i64>,
    body: String,
    at: DateTime<Utc>,
) -> WebhookDelivery {
    WebhookDelivery {
        id: Uuid::now_v7(),
        endpoint_id: endpoint,
        message_id,
        event_type: kind.into(),
        key: key.into(),
        position,
        body,
        state: DeliveryState::Pending,
        attempts: 0,
        next_at: at,
        last_status: None,
        last_error: None,
        last_latency_ms: None,
        created_at: at,
        delivered_at: None,
    }
}

/// Stores deliveries and wakes their senders, in the caller's transaction.
async fn queue(
    tx: &mut dyn ordo_store::StoreTx,
    deliveries: &[WebhookDelivery],
    now: DateTime<Utc>,
) -> AppResult<()> {
    for d in deliveries {
        tx.put_webhook_delivery(d).await?;
        tx.wake_job(&deliver_job(d.endpoint_id, &d.key, now), now)
            .await?;
    }
    Ok(())
}

/// The body of an event's delivery.
fn event_body(event: &RelayedEvent) -> AppResult<String> {
    let m = &event.message;
    serde_json::to_string(&Body {
        kind: &m.topic,
        timestamp: m.created_at,
        data: &m.payload,
    })
    .map_err(|e| AppError::Internal(e.into()))
}

/// Whether `endpoint` subscribes to `event`: its type, and (a vendor's) its vendor's.
fn subscribed(endpoint: &WebhookEndpoint, event: &RelayedEvent) -> bool {
    matches(&endpoint.events, &event.message.topic)
        && endpoint
            .vendor_id
            .is_none_or(|v| event.message.audience.admits(OrderScope::Vendor(v)))
}

/// Whether `endpoint` gets `event`: subscribed to its type, (a vendor's) its vendor's, and
/// not from before the endpoint existed (a replay sends older ones on purpose). A disabled
/// endpoint still gets its deliveries; they wait until it is enabled again.
fn wants(endpoint: &WebhookEndpoint, event: &RelayedEvent) -> bool {
    event.message.created_at >= endpoint.created_at && subscribed(endpoint, event)
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

    /// The fan-out: each relayed event after the cursor becomes one delivery per endpoint that
    /// wants it, in the transaction that moves the cursor. Returns how many events it took (a
    /// full batch: more may wait).
    pub async fn fan_out_webhooks(&self) -> AppResult<usize> {
        let now = self.now();
        let events = self
            .unhandled_events(CONSUMER, crate::outbox::CONSUMER_BATCH)
            .await?;
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(0);
        };
        let endpoints = self.store.webhook_endpoints(None).await?;
        let mut deliveries = Vec::new();
        for event in &events {
            // Serialized once per event, however many endpoints want it.
            let mut body = None;
            for endpoint in endpoints.iter().filter(|e| wants(e, event)) {
                let body = match &body {
                    Some(b) => String::clone(b),
                    None => body.insert(event_body(event)?).clone(),
                };
                deliveries.push(new_delivery(
                    endpoint.id,
                    format!("evt_{}", event.position),
                    &event.message.topic,
                    &event.message.key,
                    Some(event.position),
                    body,
                    now,
                ));
            }
        }
        let taken = events.len();
        self.write(move |tx| {
            Box::pin(async move {
                queue(tx, &deliveries, now).await?;
                tx.advance_cursor(CONSUMER, last, now).await?;
                Ok(taken)
            })
        })
        .await
    }

    /// Wakes the deliver job of every (endpoint, key) with a delivery due: covers a job that
    /// finished just as a delivery was added, and deliveries retried or replayed.
    pub async fn sweep_webhooks(&self) -> AppResult<()> {
        let now = self.now();
        let due = self.store.due_webhook_keys(now, 1_000).await?;
        if due.is_empty() {
            return Ok(());
        }
        self.write(move |tx| {
            Box::pin(async move {
                for (endpoint, key) in &due {
                    tx.wake_job(&deliver_job(*endpoint, key, now), now).await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// The deliver job: sends one endpoint's pending deliveries for one key, oldest first.
    pub(crate) async fn deliver_webhooks(&self, job_key: &str) -> AppResult<JobEnd> {
        let (endpoint, key) = job_key
            .split_once('/')
            .and_then(|(e, k)| Some((e.parse::<Uuid>().ok()?, k.to_owned())))
            .ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("not a deliver job key: {job_key}"))
            })?;
        let started = std::time::Instant::now();
        for _ in 0..SENDS_PER_RUN {
            if started.elapsed() > RUN_FOR {
                break;
            }
            let Some(endpoint) = self.store.webhook_endpoint(endpoint).await? else {
                return Ok(JobEnd::Done);
            };
            if endpoint.disabled_at.is_some() {
                // Re-enabling the endpoint wakes it (through the sweep).
                return Ok(JobEnd::Done);
            }
            let Some(mut delivery) = self
                .store
                .pending_deliveries(endpoint.id, &key, 1)
                .await?
                .pop()
            else {
                return Ok(JobEnd::Done);
            };
            let now = self.now();
            if delivery.next_at > now {
                return Ok(JobEnd::Again {
                    run_at: delivery.next_at,
                });
            }
            let outcome = self.send(&endpoint, &delivery, now).await;
            let now = self.now();
            delivery.attempts += 1;
            let (failing_since, disabled) = match outcome {
                Ok((status, latency)) => {
                    delivery.state = DeliveryState::Delivered;
                    delivery.delivered_at = Some(now);
                    delivery.last_status = Some(status);
                    delivery.last_error = None;
                    delivery.last_latency_ms = Some(latency);
                    (None, None)
                }
                Err((status, error, latency)) => {
                    tracing::warn!(endpoint_id = %endpoint.id, delivery_id = %delivery.id, attempts = delivery.attempts, error = %error, "webhook delivery failed");
                    delivery.last_status = status;
                    delivery.last_error = Some(error);
                    delivery.last_latency_ms = latency;
                    match RETRY_AFTER.get(delivery.attempts as usize - 1) {
                        Some(wait) => {
                            let millis = wait * 1000;
                            let jitter = rand::rng().random_range(0..=millis / 10);
                            delivery.next_at =
                                now + chrono::Duration::milliseconds(millis + jitter);
                        }
                        None => delivery.state = DeliveryState::Dead,
                    }
                    let since = endpoint.failing_since.unwrap_or(now);
                    let disabled = (now - since >= DISABLE_AFTER)
                        .then_some((now, "every delivery failed for 5 days"));
                    (Some(since), disabled)
                }
            };
            let saved = delivery.clone();
            let id = endpoint.id;
            // A success at a healthy endpoint leaves its health as it was: one write less.
            let health_changed = failing_since != endpoint.failing_since || disabled.is_some();
            // The owner hears of a disabling in their event feed (and on any endpoint of
            // theirs that still works).
            let notice = disabled
                .map(|(at, why)| disabled_notice(&endpoint, at, why))
                .transpose()?;
            self.write(move |tx| {
                Box::pin(async move {
                    tx.put_webhook_delivery(&saved).await?;
                    if health_changed {
                        tx.set_webhook_health(id, failing_since, disabled).await?;
                    }
                    if let Some(notice) = &notice {
                        tx.enqueue(notice).await?;
                    }
                    Ok(())
                })
            })
            .await?;
            if let Some((_, why)) = disabled {
                tracing::error!(endpoint_id = %endpoint.id, url = %endpoint.url, "webhook endpoint disabled: {why}");
                return Ok(JobEnd::Done);
            }
            if delivery.state == DeliveryState::Pending {
                return Ok(JobEnd::Again {
                    run_at: delivery.next_at,
                });
            }
        }
        Ok(JobEnd::Again { run_at: self.now() })
    }

    /// One attempt: (status, latency ms) on a 2xx; else (status, what went wrong, latency).
    async fn send(
        &self,
        endpoint: &WebhookEndpoint,
        delivery: &WebhookDelivery,
        now: DateTime<Utc>,
    ) -> Result<(i32, i32), (Option<i32>, String, Option<i32>)> {
        let url = parse_url(&endpoint.url).map_err(|e| (None, e.to_string(), None))?;
        // An address written as such is not resolved, so it is checked here.
        if let Some(Ok(ip)) = url.host_str().map(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
        }) && !self.settings.allow_private_webhook_targets
            && !is_public(ip)
        {
            return Err((None, format!("{ip} is not a public address"), None));
        }
        let timestamp = now.timestamp();
        let mut signatures = vec![
            sign(
                &endpoint.secret,
                &delivery.message_id,
                timestamp,
                &delivery.body,
            )
            .map_err(|e| (None, e.to_string(), None))?,
        ];
        if let (Some(old), Some(until)) = (&endpoint.previous_secret, endpoint.previous_until)
            && until > now
        {
            signatures.push(
                sign(old, &delivery.message_id, timestamp, &delivery.body)
                    .map_err(|e| (None, e.to_string(), None))?,
            );
        }
        let client = self
            .webhook_client()
            .map_err(|e| (None, e.to_string(), None))?;
        let started = std::time::Instant::now();
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", "Ordo-Webhooks/1")
            .header("webhook-id", &delivery.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signatures.join(" "))
            .body(delivery.body.clone())
            .send()
            .await;
        let latency = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
        match sent {
            Ok(res) if res.status().is_success() => Ok((i32::from(res.status().as_u16()), latency)),
            Ok(res) => Err((
                Some(i32::from(res.status().as_u16())),
                format!("answered {}", res.status()),
                Some(latency),
            )),
            Err(e) => Err((None, format!("{e}"), Some(latency))),
        }
    }

    /// The HTTP client for deliveries (built once; resolves through the public-address check).
    fn webhook_client(&self) -> AppResult<Arc<reqwest::Client>> {
        if let Some(client) = self.webhook_client.get() {
            return Ok(Arc::clone(client));
        }
        install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PublicOnly {
                allow_private: self.settings.allow_private_webhook_targets,
            }))
            .build()
            .map_err(|e| AppError::Internal(e.into()))?;
        Ok(Arc::clone(
            self.webhook_client.get_or_init(|| Arc::new(client)),
        ))
    }
}

/// Makes ring the process's TLS crypto provider (a second call is a no-op). Every HTTP client
/// in Ordo's build needs it before it is built: outbound webhooks need TLS, and with ring as
/// the one provider (async-nats uses it too) nothing picks one for them.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A plain HTTP client with the TLS provider in place (for tools and tests).
pub fn http_client() -> reqwest::Client {
    install_tls_provider();
    reqwest::Client::new()
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

    #[test]
    fn non_public_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd00::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} is not public");
        }
        // Public, including the neighbours of each non-public range.
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "2001:200::1",
            "2003::1",
            "64:ff9c::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} is public");
        }
    }
}
