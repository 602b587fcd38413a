//! Webhooks on SQLite: the writes of [`ordo_store::webhooks`] in one transaction. The reads
//! and row mappings are shared with PostgreSQL (`ordo-store/shared/sql_store/webhooks.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_store::{StoreResult, WebhookDelivery, WebhookEndpoint, WebhookTx};
use rusqlite::params;
use uuid::Uuid;

use crate::sql_store::sql;
use crate::tx::{SqliteTx, json, ts};

#[async_trait]
impl WebhookTx for SqliteTx {
    async fn put_webhook_endpoint(&mut self, e: &WebhookEndpoint) -> StoreResult<()> {
        self.execute(
            sql::PUT_WEBHOOK_ENDPOINT,
            params![
                e.id,
                e.vendor_id.map(|v| v.0),
                e.url,
                json(&e.events)?,
                e.description,
                e.secret,
                e.previous_secret,
                e.previous_until.as_ref().map(ts),
                e.disabled_at.as_ref().map(ts),
                e.disabled_reason,
                e.failing_since.as_ref().map(ts),
                e.created_by.0,
                ts(&e.created_at),
                ts(&e.updated_at)
            ],
        )?;
        Ok(())
    }

    async fn delete_webhook_endpoint(&mut self, id: Uuid) -> StoreResult<bool> {
        self.execute(sql::DELETE_WEBHOOK_DELIVERIES, params![id])?;
        Ok(self.execute(sql::DELETE_WEBHOOK_ENDPOINT, params![id])? == 1)
    }

    async fn set_webhook_health(
        &mut self,
        id: Uuid,
        failing_since: Option<DateTime<Utc>>,
        disabled: Option<(DateTime<Utc>, &str)>,
    ) -> StoreResult<()> {
        self.execute(
            sql::SET_WEBHOOK_HEALTH,
            params![
                failing_since.as_ref().map(ts),
                disabled.map(|d| ts(&d.0)),
                disabled.map(|d| d.1),
                id
            ],
        )?;
        Ok(())
    }

    async fn put_webhook_delivery(&mut self, d: &WebhookDelivery) -> StoreResult<()> {
        self.execute(
            sql::PUT_WEBHOOK_DELIVERY,
            params![
                d.id,
                d.endpoint_id,
                d.message_id,
                d.event_type,
                d.key,
                d.position,
                d.body,
                d.state.as_str(),
                d.attempts,
                ts(&d.next_at),
                d.last_status,
                d.last_error,
                d.last_latency_ms,
                ts(&d.created_at),
                d.delivered_at.as_ref().map(ts)
            ],
        )?;
        Ok(())
    }
}
