//! Notification preferences and the messages sent to people: the records of this aggregate and what
//! the store does with them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::ids::{OrderId, UserId};

use crate::StoreResult;

/// How a person wants to hear about their orders (and, for vendor staff, their vendor's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationPreferences {
    pub user_id: UserId,
    /// The language of their messages (`en`, `de`).
    pub locale: String,
    pub email: bool,
    pub sms: bool,
    pub push: bool,
    /// Where SMS go (E.164, `+4915112345678`).
    pub phone: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A way a notification reaches a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Push,
}

ordo_domain::names!(Channel, "invalid_channel" {
    Email => "email",
    Sms => "sms",
    Push => "push",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationState {
    /// Waiting to be sent (or to be tried again).
    Queued,
    Sent,
    /// Every attempt failed; a person may retry its job.
    Failed,
}

ordo_domain::names!(NotificationState, "invalid_notification_state" {
    Queued => "queued",
    Sent => "sent",
    Failed => "failed",
});

/// One message to one person on one channel about one event, and how sending it went.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: uuid::Uuid,
    /// The event's type (`order.shipped`, `stock.low`): which template.
    pub event_type: String,
    /// The event's relay position.
    pub position: i64,
    /// The order it is about (none for stock).
    pub order_id: Option<OrderId>,
    /// The event's data, as relayed (what the template shows beside the order).
    pub data: String,
    pub recipient_id: UserId,
    /// Whether it went to vendor staff (else to the order's customer).
    pub to_staff: bool,
    pub channel: Channel,
    /// The e-mail address, phone number or (push) user id it goes to.
    pub address: String,
    pub locale: String,
    /// The subject (or SMS/push title) as sent.
    pub subject: Option<String>,
    pub state: NotificationState,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Reads: notification preferences and the messages sent to people.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// A user's notification preferences, if they chose any.
    async fn notification_preferences(
        &self,
        user: UserId,
    ) -> StoreResult<Option<NotificationPreferences>>;
    /// The notifications about an order, oldest first.
    async fn order_notifications(&self, order: OrderId) -> StoreResult<Vec<Notification>>;
    async fn notification(&self, id: uuid::Uuid) -> StoreResult<Option<Notification>>;
}

/// Writes within one transaction: notification preferences and the messages sent to people.
#[async_trait]
pub trait NotificationTx: Send {
    /// Writes a user's notification preferences whole.
    async fn put_notification_preferences(
        &mut self,
        preferences: &NotificationPreferences,
    ) -> StoreResult<()>;
    /// Writes a notification whole (new, or after an attempt).
    async fn put_notification(&mut self, notification: &Notification) -> StoreResult<()>;
}
