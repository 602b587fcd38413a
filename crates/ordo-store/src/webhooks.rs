//! Vendor webhook endpoints and their deliveries: the records of this aggregate and what the store
//! does with them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::ids::{UserId, VendorId};

use crate::StoreResult;

/// Where an outbound webhook goes, for which events, signed with which secret.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WebhookEndpoint {
    pub id: uuid::Uuid,
    /// A vendor's endpoint sees that vendor's events only; `None`: the platform's (all).
    pub vendor_id: Option<VendorId>,
    pub url: String,
    /// Patterns: `order.paid`, `order.*`, `*`.
    pub events: Vec<String>,
    pub description: Option<String>,
    /// `whsec_` + base64 of the signing key.
    pub secret: String,
    /// After a rotation, the old secret also signs until `previous_until`.
    pub previous_secret: Option<String>,
    pub previous_until: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed; cleared by a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Dead,
}

ordo_domain::names!(DeliveryState, "invalid_delivery_state" {
    Pending => "pending",
    Delivered => "delivered",
    Dead => "dead",
});

/// One message for one endpoint, and how sending it went.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WebhookDelivery {
    pub id: uuid::Uuid,
    pub endpoint_id: uuid::Uuid,
    /// The `webhook-id` header: the same on every attempt and replay of the event.
    pub message_id: String,
    pub event_type: String,
    /// The aggregate (order, SKU): an endpoint gets one aggregate's messages in order.
    pub key: String,
    /// The event's relay position (`None` for test messages).
    pub position: Option<i64>,
    /// The JSON body, exactly as signed and sent.
    pub body: String,
    pub state: DeliveryState,
    pub attempts: i32,
    /// When the next attempt is due (while pending).
    pub next_at: DateTime<Utc>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Reads: vendor webhook endpoints and their deliveries.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Webhook endpoints: a vendor's, or all of them.
    async fn webhook_endpoints(
        &self,
        vendor: Option<VendorId>,
    ) -> StoreResult<Vec<WebhookEndpoint>>;
    async fn webhook_endpoint(&self, id: uuid::Uuid) -> StoreResult<Option<WebhookEndpoint>>;
    /// An endpoint's deliveries, newest first, optionally in one state.
    async fn webhook_deliveries(
        &self,
        endpoint: uuid::Uuid,
        state: Option<DeliveryState>,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    async fn webhook_delivery(
        &self,
        endpoint: uuid::Uuid,
        id: uuid::Uuid,
    ) -> StoreResult<Option<WebhookDelivery>>;
    /// The pending deliveries of one endpoint and key, in the order they must go.
    async fn pending_deliveries(
        &self,
        endpoint: uuid::Uuid,
        key: &str,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    /// (endpoint, key) pairs of enabled endpoints with a pending delivery due by `now`.
    async fn due_webhook_keys(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(uuid::Uuid, String)>>;
}

/// Writes within one transaction: vendor webhook endpoints and their deliveries.
#[async_trait]
pub trait WebhookTx: Send {
    /// Writes an endpoint whole (created or changed).
    async fn put_webhook_endpoint(&mut self, endpoint: &WebhookEndpoint) -> StoreResult<()>;
    /// Deletes an endpoint and its deliveries; `false` if there was none.
    async fn delete_webhook_endpoint(&mut self, id: uuid::Uuid) -> StoreResult<bool>;
    /// Records how deliveries to an endpoint are going: failing since when (`None`: fine),
    /// and disabled (with why) when they failed too long.
    async fn set_webhook_health(
        &mut self,
        id: uuid::Uuid,
        failing_since: Option<DateTime<Utc>>,
        disabled: Option<(DateTime<Utc>, &str)>,
    ) -> StoreResult<()>;
    /// Writes a delivery whole (new, or after an attempt).
    async fn put_webhook_delivery(&mut self, delivery: &WebhookDelivery) -> StoreResult<()>;
}
