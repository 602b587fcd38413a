//! Notifications on PostgreSQL: the writes of [`ordo_store::notifications`] in one transaction. The
//! reads
//! and row mappings are shared with SQLite (`ordo-store/shared/sql_store/notifications.rs`).

use async_trait::async_trait;
use ordo_store::{Notification, NotificationPreferences, NotificationTx, StoreResult};

use crate::sql_store::sql;
use crate::tx::PgTx;

#[async_trait]
impl NotificationTx for PgTx {
    async fn put_notification_preferences(
        &mut self,
        p: &NotificationPreferences,
    ) -> StoreResult<()> {
        sqlx::query(sql::PUT_NOTIFICATION_PREFERENCES)
            .bind(p.user_id.0)
            .bind(&p.locale)
            .bind(p.email)
            .bind(p.sms)
            .bind(p.push)
            .bind(p.phone.as_deref())
            .bind(p.updated_at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn put_notification(&mut self, n: &Notification) -> StoreResult<()> {
        sqlx::query(sql::PUT_NOTIFICATION)
            .bind(n.id)
            .bind(&n.event_type)
            .bind(n.position)
            .bind(n.order_id.map(|o| o.0))
            .bind(&n.data)
            .bind(n.recipient_id.0)
            .bind(n.to_staff)
            .bind(n.channel.as_str())
            .bind(&n.address)
            .bind(&n.locale)
            .bind(n.subject.as_deref())
            .bind(n.state.as_str())
            .bind(n.attempts)
            .bind(n.last_error.as_deref())
            .bind(n.created_at)
            .bind(n.sent_at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}
