//! Conformance of webhooks: endpoints and their deliveries.

use chrono::{Duration, TimeZone, Utc};

use super::{fixture, unit};
use crate::{DeliveryState, Store, WebhookDelivery, WebhookEndpoint};

/// An endpoint and its deliveries read back whole; a vendor sees its own endpoints; pending
/// deliveries of a key come in the order they must go, and a key is due only when its next
/// attempt is and its endpoint is enabled; health is recorded; deleting takes the deliveries.
pub async fn webhook_endpoints_and_deliveries_round_trip(store: &dyn Store) {
    let f = fixture(store, "webhooks").await;
    let t0 = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let endpoint = WebhookEndpoint {
        id: uuid::Uuid::now_v7(),
        vendor_id: Some(f.vendor),
        url: "https://hooks.example.com/ordo?x=ü".into(),
        events: vec!["order.*".into(), "payment.refunded".into()],
        description: Some("Lager «Nord» 📦".into()),
        secret: "whsec_new".into(),
        previous_secret: Some("whsec_old".into()),
        previous_until: Some(t0 + Duration::hours(24)),
        disabled_at: None,
        disabled_reason: None,
        failing_since: None,
        created_by: f.customer.id,
        created_at: t0,
        updated_at: t0,
    };
    let delivery = |key: &str, secs, state| WebhookDelivery {
        id: uuid::Uuid::now_v7(),
        endpoint_id: endpoint.id,
        message_id: uuid::Uuid::now_v7().to_string(),
        event_type: "order.placed".into(),
        key: key.into(),
        position: Some(secs),
        body: format!(r#"{{"n":{secs},"name":"Zoë"}}"#),
        state,
        attempts: 0,
        next_at: t0 + Duration::seconds(secs),
        last_status: None,
        last_error: None,
        last_latency_ms: None,
        created_at: t0 + Duration::seconds(secs),
        delivered_at: None,
    };
    let (a1, a2) = (
        delivery("order-a", 1, DeliveryState::Pending),
        delivery("order-a", 2, DeliveryState::Pending),
    );
    let later = delivery("order-b", 600, DeliveryState::Pending);
    let done = WebhookDelivery {
        attempts: 1,
        last_status: Some(200),
        last_latency_ms: Some(12),
        delivered_at: Some(t0),
        ..delivery("order-c", 3, DeliveryState::Delivered)
    };
    let (e, ds) = (
        endpoint.clone(),
        vec![a2.clone(), a1.clone(), later.clone(), done.clone()],
    );
    unit(store, move |tx| {
        Box::pin(async move {
            tx.put_webhook_endpoint(&e).await?;
            for d in &ds {
                tx.put_webhook_delivery(d).await?;
            }
            Ok(())
        })
    })
    .await
    .unwrap();
    assert_eq!(
        store.webhook_endpoint(endpoint.id).await.unwrap(),
        Some(endpoint.clone())
    );
    assert_eq!(
        store.webhook_endpoints(Some(f.vendor)).await.unwrap(),
        vec![endpoint.clone()]
    );
    assert!(
        store
            .webhook_endpoints(Some(ordo_domain::ids::VendorId::new()))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .webhook_endpoints(None)
            .await
            .unwrap()
            .contains(&endpoint)
    );
    assert_eq!(
        store.webhook_delivery(endpoint.id, done.id).await.unwrap(),
        Some(done.clone())
    );
    assert!(
        store
            .webhook_delivery(uuid::Uuid::now_v7(), done.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .webhook_deliveries(endpoint.id, Some(DeliveryState::Delivered), 10)
            .await
            .unwrap(),
        vec![done.clone()]
    );
    assert_eq!(
        store
            .webhook_deliveries(endpoint.id, None, 10)
            .await
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        store
            .pending_deliveries(endpoint.id, "order-a", 10)
            .await
            .unwrap(),
        vec![a1.clone(), a2.clone()],
        "a key's pending deliveries in the order they must go"
    );
    assert_eq!(
        store
            .due_webhook_keys(t0 + Duration::seconds(5), 10)
            .await
            .unwrap(),
        vec![(endpoint.id, "order-a".to_owned())],
        "only keys with a delivery due"
    );

    // Failing, then disabled: nothing of it is due any more; the change is kept.
    let id = endpoint.id;
    let since = t0 + Duration::minutes(1);
    unit(store, move |tx| {
        Box::pin(async move {
            tx.set_webhook_health(id, Some(since), None).await?;
            tx.set_webhook_health(id, Some(since), Some((since, "failing for 3 days")))
                .await
        })
    })
    .await
    .unwrap();
    let health = store.webhook_endpoint(id).await.unwrap().unwrap();
    assert_eq!(health.failing_since, Some(since));
    assert_eq!(health.disabled_at, Some(since));
    assert_eq!(
        health.disabled_reason.as_deref(),
        Some("failing for 3 days")
    );
    assert!(
        store
            .due_webhook_keys(t0 + Duration::hours(1), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let deleted = unit(store, move |tx| {
        Box::pin(async move {
            Ok((
                tx.delete_webhook_endpoint(id).await?,
                tx.delete_webhook_endpoint(id).await?,
            ))
        })
    })
    .await
    .unwrap();
    assert_eq!(deleted, (true, false));
    assert!(store.webhook_endpoint(id).await.unwrap().is_none());
    assert!(
        store
            .webhook_deliveries(id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
