//! Notifications, shared by both backends: the row mappings (used by their writes too) and
//! the reads of [`ordo_store::notifications`].

use async_trait::async_trait;
use ordo_domain::ids::{OrderId, UserId};
use ordo_store::{
    Channel, Notification, NotificationPreferences, NotificationState, NotificationStore,
    StoreResult,
};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::{Cols, SqlStore, corrupt};
use crate::map_err;

pub(crate) const NOTIFICATION_COLUMNS: &str = "id, event_type, position, order_id, data, \
    recipient_id, to_staff, channel, address, locale, subject, state, attempts, last_error, \
    created_at, sent_at";

pub(crate) fn notification_from_row(r: &impl Cols) -> StoreResult<Notification> {
    Ok(Notification {
        id: r.uuid("id")?,
        event_type: r.text("event_type")?,
        position: r.int("position")?,
        order_id: r.opt_uuid("order_id")?.map(OrderId),
        data: r.text("data")?,
        recipient_id: UserId(r.uuid("recipient_id")?),
        to_staff: r.flag("to_staff")?,
        channel: Channel::parse(&r.text("channel")?).map_err(|e| corrupt("channel", e))?,
        address: r.text("address")?,
        locale: r.text("locale")?,
        subject: r.opt_text("subject")?,
        state: NotificationState::parse(&r.text("state")?)
            .map_err(|e| corrupt("notification state", e))?,
        attempts: r.int32("attempts")?,
        last_error: r.opt_text("last_error")?,
        created_at: r.time("created_at")?,
        sent_at: r.opt_time("sent_at")?,
    })
}

#[async_trait]
impl NotificationStore for SqlStore {
    async fn notification_preferences(
        &self,
        user: UserId,
    ) -> StoreResult<Option<NotificationPreferences>> {
        let row = sqlx::query(
            "SELECT user_id, locale, email, sms, push, phone, updated_at \
             FROM notification_preferences WHERE user_id = $1",
        )
        .bind(user.0)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.map(|r| {
            Ok(NotificationPreferences {
                user_id: UserId(r.uuid("user_id")?),
                locale: r.text("locale")?,
                email: r.flag("email")?,
                sms: r.flag("sms")?,
                push: r.flag("push")?,
                phone: r.opt_text("phone")?,
                updated_at: r.time("updated_at")?,
            })
        })
        .transpose()
    }

    async fn order_notifications(&self, order: OrderId) -> StoreResult<Vec<Notification>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE order_id = $1 \
             ORDER BY created_at, position, id"
        )))
        .bind(order.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(notification_from_row).collect()
    }

    async fn notification(&self, id: Uuid) -> StoreResult<Option<Notification>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(notification_from_row).transpose()
    }
}
