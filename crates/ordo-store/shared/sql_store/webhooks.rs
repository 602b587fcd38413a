//! Webhooks, shared by both backends: the row mappings (used by their writes too) and
//! the reads of [`ordo_store::webhooks`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::ids::{UserId, VendorId};
use ordo_store::{DeliveryState, StoreResult, WebhookDelivery, WebhookEndpoint, WebhookStore};
use sqlx::{AssertSqlSafe, QueryBuilder};
use uuid::Uuid;

use super::{Cols, SqlStore, corrupt};
use crate::{Db, map_err};

/// The columns [`webhook_endpoint_from_row`] reads.
pub(crate) const WEBHOOK_ENDPOINT_COLUMNS: &str = "id, vendor_id, url, events, description, \
    secret, previous_secret, previous_until, disabled_at, disabled_reason, failing_since, \
    created_by, created_at, updated_at";

pub(crate) fn webhook_endpoint_from_row(r: &impl Cols) -> StoreResult<WebhookEndpoint> {
    Ok(WebhookEndpoint {
        id: r.uuid("id")?,
        vendor_id: r.opt_uuid("vendor_id")?.map(VendorId),
        url: r.text("url")?,
        events: r.json("events")?,
        description: r.opt_text("description")?,
        secret: r.text("secret")?,
        previous_secret: r.opt_text("previous_secret")?,
        previous_until: r.opt_time("previous_until")?,
        disabled_at: r.opt_time("disabled_at")?,
        disabled_reason: r.opt_text("disabled_reason")?,
        failing_since: r.opt_time("failing_since")?,
        created_by: UserId(r.uuid("created_by")?),
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

pub(crate) const WEBHOOK_DELIVERY_COLUMNS: &str = "id, endpoint_id, message_id, event_type, key, \
    position, body, state, attempts, next_at, last_status, last_error, last_latency_ms, \
    created_at, delivered_at";

pub(crate) fn webhook_delivery_from_row(r: &impl Cols) -> StoreResult<WebhookDelivery> {
    let state = r.text("state")?;
    Ok(WebhookDelivery {
        id: r.uuid("id")?,
        endpoint_id: r.uuid("endpoint_id")?,
        message_id: r.text("message_id")?,
        event_type: r.text("event_type")?,
        key: r.text("key")?,
        position: r.opt_int("position")?,
        body: r.text("body")?,
        state: DeliveryState::parse(&state).map_err(|e| corrupt("delivery state", e))?,
        attempts: r.int32("attempts")?,
        next_at: r.time("next_at")?,
        last_status: r.opt_int("last_status")?.map(|n| n as i32),
        last_error: r.opt_text("last_error")?,
        last_latency_ms: r.opt_int("last_latency_ms")?.map(|n| n as i32),
        created_at: r.time("created_at")?,
        delivered_at: r.opt_time("delivered_at")?,
    })
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn webhook_endpoints(
        &self,
        vendor: Option<VendorId>,
    ) -> StoreResult<Vec<WebhookEndpoint>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {WEBHOOK_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE 1 = 1"
        ));
        if let Some(v) = vendor {
            qb.push(" AND vendor_id = ").push_bind(v.0);
        }
        qb.push(" ORDER BY created_at, id");
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(webhook_endpoint_from_row).collect()
    }

    async fn webhook_endpoint(&self, id: Uuid) -> StoreResult<Option<WebhookEndpoint>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {WEBHOOK_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(webhook_endpoint_from_row).transpose()
    }

    async fn webhook_deliveries(
        &self,
        endpoint: Uuid,
        state: Option<DeliveryState>,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {WEBHOOK_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = "
        ));
        qb.push_bind(endpoint);
        if let Some(state) = state {
            qb.push(" AND state = ").push_bind(state.as_str());
        }
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(webhook_delivery_from_row).collect()
    }

    async fn webhook_delivery(
        &self,
        endpoint: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<WebhookDelivery>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {WEBHOOK_DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE endpoint_id = $1 AND id = $2"
        )))
        .bind(endpoint)
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(webhook_delivery_from_row).transpose()
    }

    async fn pending_deliveries(
        &self,
        endpoint: Uuid,
        key: &str,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {WEBHOOK_DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE endpoint_id = $1 AND key = $2 AND state = 'pending' \
             ORDER BY created_at, position, id LIMIT $3"
        )))
        .bind(endpoint)
        .bind(key)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(webhook_delivery_from_row).collect()
    }

    async fn due_webhook_keys(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(Uuid, String)>> {
        let rows = sqlx::query(
            "SELECT DISTINCT d.endpoint_id, d.key FROM webhook_deliveries d \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE d.state = 'pending' AND d.next_at <= $1 AND e.disabled_at IS NULL LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| Ok((r.uuid("endpoint_id")?, r.text("key")?)))
            .collect()
    }
}
