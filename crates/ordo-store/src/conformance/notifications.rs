//! Conformance of notifications: preferences and the messages sent.

use chrono::{TimeZone, Utc};

use super::{fixture, order_for, placed, unit};
use crate::{Channel, Notification, NotificationPreferences, NotificationState, Store};

/// Preferences are kept whole and replaced; a notification is written, rewritten after its
/// attempt, and listed with its order's.
pub async fn notification_preferences_and_messages_round_trip(store: &dyn Store) {
    let f = fixture(store, "notify").await;
    let t0 = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    assert!(
        store
            .notification_preferences(f.customer.id)
            .await
            .unwrap()
            .is_none()
    );
    let prefs = NotificationPreferences {
        user_id: f.customer.id,
        locale: "de".into(),
        email: true,
        sms: true,
        push: false,
        phone: Some("+41 44 123 45 67".into()),
        updated_at: t0,
    };
    let changed = NotificationPreferences {
        sms: false,
        phone: None,
        ..prefs.clone()
    };
    let order = order_for(&f, t0);
    let message = Notification {
        id: uuid::Uuid::now_v7(),
        event_type: "order.placed".into(),
        position: 7,
        order_id: Some(order.id),
        data: r#"{"total":"CHF 39.98","name":"Zoë 🏠"}"#.into(),
        recipient_id: f.customer.id,
        to_staff: false,
        channel: Channel::Email,
        address: f.customer.email.as_str().into(),
        locale: "de".into(),
        subject: Some("Bestellung «1» bestätigt".into()),
        state: NotificationState::Queued,
        attempts: 0,
        last_error: None,
        created_at: t0,
        sent_at: None,
    };
    let (p, c, o, m) = (
        prefs.clone(),
        changed.clone(),
        order.clone(),
        message.clone(),
    );
    unit(store, move |tx| {
        Box::pin(async move {
            tx.put_notification_preferences(&p).await?;
            tx.put_notification_preferences(&c).await?;
            tx.insert_order(&o, &placed(&o)).await?;
            tx.put_notification(&m).await
        })
    })
    .await
    .unwrap();
    assert_eq!(
        store.notification_preferences(f.customer.id).await.unwrap(),
        Some(changed)
    );
    assert_eq!(
        store.notification(message.id).await.unwrap(),
        Some(message.clone())
    );
    let sent = Notification {
        state: NotificationState::Sent,
        attempts: 1,
        sent_at: Some(t0 + chrono::Duration::seconds(2)),
        ..message.clone()
    };
    let s = sent.clone();
    unit(store, move |tx| {
        Box::pin(async move { tx.put_notification(&s).await })
    })
    .await
    .unwrap();
    assert_eq!(
        store.order_notifications(order.id).await.unwrap(),
        vec![sent]
    );
    assert!(
        store
            .notification(uuid::Uuid::now_v7())
            .await
            .unwrap()
            .is_none()
    );
}
