//! Webhooks on PostgreSQL: the writes of [`ordo_store::webhooks`] in one transaction. The reads
//! and row mappings are shared with SQLite (`ordo-store/shared/sql_store/webhooks.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_store::{StoreResult, WebhookDelivery, WebhookEndpoint, WebhookTx};
use sqlx::types::Json;
use uuid::Uuid;

use crate::sql_store::sql;
use crate::tx::PgTx;

#[async_trait]
impl WebhookTx for PgTx {
    async fn put_webhook_endpoint(&mut self, e: &WebhookEndpoint) -> StoreResult<()> {
        sqlx::query(sql::PUT_WEBHOOK_ENDPOINT)
            .bind(e.id)
            .bind(e.vendor_id.map(|v| v.0))
            .bind(&e.url)
            .bind(Json(&e.events))
            .bind(e.description.as_deref())
            .bind(&e.secret)
            .bind(e.previous_secret.as_deref())
            .bind(e.previous_until)
            .bind(e.disabled_at)
            .bind(e.disabled_reason.as_deref())
            .bind(e.failing_since)
            .bind(e.created_by.0)
            .bind(e.created_at)
            .bind(e.updated_at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn delete_webhook_endpoint(&mut self, id: Uuid) -> StoreResult<bool> {
        sqlx::query(sql::DELETE_WEBHOOK_DELIVERIES)
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        let done = sqlx::query(sql::DELETE_WEBHOOK_ENDPOINT)
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_webhook_health(
        &mut self,
        id: Uuid,
        failing_since: Option<DateTime<Utc>>,
        disabled: Option<(DateTime<Utc>, &str)>,
    ) -> StoreResult<()> {
        sqlx::query(sql::SET_WEBHOOK_HEALTH)
            .bind(failing_since)
            .bind(disabled.map(|d| d.0))
            .bind(disabled.map(|d| d.1))
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn put_webhook_delivery(&mut self, d: &WebhookDelivery) -> StoreResult<()> {
        sqlx::query(sql::PUT_WEBHOOK_DELIVERY)
            .bind(d.id)
            .bind(d.endpoint_id)
            .bind(&d.message_id)
            .bind(&d.event_type)
            .bind(&d.key)
            .bind(d.position)
            .bind(&d.body)
            .bind(d.state.as_str())
            .bind(d.attempts)
            .bind(d.next_at)
            .bind(d.last_status)
            .bind(d.last_error.as_deref())
            .bind(d.last_latency_ms)
            .bind(d.created_at)
            .bind(d.delivered_at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}
