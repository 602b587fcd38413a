//! Notifications on SQLite: the writes of [`ordo_store::notifications`] in one transaction. The
//! reads
//! and row mappings are shared with PostgreSQL (`ordo-store/shared/sql_store/notifications.rs`).

use async_trait::async_trait;
use ordo_store::{Notification, NotificationPreferences, NotificationTx, StoreResult};
use rusqlite::params;

use crate::sql_store::sql;
use crate::tx::{SqliteTx, ts};

#[async_trait]
impl NotificationTx for SqliteTx {
    async fn put_notification_preferences(
        &mut self,
        p: &NotificationPreferences,
    ) -> StoreResult<()> {
        self.execute(
            sql::PUT_NOTIFICATION_PREFERENCES,
            params![
                p.user_id.0,
                p.locale,
                p.email,
                p.sms,
                p.push,
                p.phone,
                ts(&p.updated_at)
            ],
        )?;
        Ok(())
    }

    async fn put_notification(&mut self, n: &Notification) -> StoreResult<()> {
        self.execute(
            sql::PUT_NOTIFICATION,
            params![
                n.id,
                n.event_type,
                n.position,
                n.order_id.map(|o| o.0),
                n.data,
                n.recipient_id.0,
                n.to_staff,
                n.channel.as_str(),
                n.address,
                n.locale,
                n.subject,
                n.state.as_str(),
                n.attempts,
                n.last_error,
                ts(&n.created_at),
                n.sent_at.as_ref().map(ts)
            ],
        )?;
        Ok(())
    }
}
