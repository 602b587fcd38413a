//! Conformance of the outbox: messages, their positions and their readers' cursors.

use chrono::{TimeZone, Utc};
use ordo_domain::ids::{UserId, VendorId};
use serde_json::value::RawValue;

use super::unit;
use crate::{Audience, OrderScope, OutboxMessage, Store};

/// Messages wait for a position until the sequencer gives them one, in id order and a limited
/// number at a time; a reader sees only the events its scope admits, in position order; a new
/// consumer starts at the present, and a cursor only moves forward.
pub async fn outbox_messages_are_sequenced_scoped_and_followed(store: &dyn Store) {
    let t0 = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let (ada, shop) = (UserId::new(), VendorId::new());
    let message = |key: &str, audience| OutboxMessage {
        topic: "order.placed".into(),
        key: key.into(),
        payload: RawValue::from_string(format!(r#"{{"key":"{key}","name":"Zoë 🏠"}}"#)).unwrap(),
        created_at: t0,
        audience,
    };
    let messages = vec![
        message(
            "o-1",
            Audience {
                customer: Some(ada),
                vendor: Some(shop),
                carrier: None,
            },
        ),
        message("o-2", Audience::default()),
        message(
            "o-3",
            Audience {
                customer: None,
                vendor: Some(shop),
                carrier: None,
            },
        ),
    ];
    let ms = messages.clone();
    unit(store, move |tx| {
        Box::pin(async move {
            for m in &ms {
                tx.enqueue(m).await?;
            }
            Ok(())
        })
    })
    .await
    .unwrap();
    let kept = store.outbox(0, 10).await.unwrap();
    assert_eq!(
        kept.iter().map(|(_, m)| m.key.as_str()).collect::<Vec<_>>(),
        vec!["o-1", "o-2", "o-3"]
    );
    // The same JSON (PostgreSQL keeps it as jsonb, which does not keep the spacing).
    let json = |raw: &RawValue| serde_json::from_str::<serde_json::Value>(raw.get()).unwrap();
    assert_eq!(json(&kept[0].1.payload), json(&messages[0].payload));
    assert_eq!(kept[0].1.audience, messages[0].audience);
    assert_eq!(
        store.outbox(kept[1].0, 10).await.unwrap().len(),
        1,
        "after an id"
    );
    let waiting = store.relay_state().await.unwrap();
    assert_eq!((waiting.waiting, waiting.oldest_waiting), (3, Some(t0)));

    let given = unit(store, move |tx| {
        Box::pin(async move {
            Ok((
                tx.sequence_outbox(t0, 2).await?,
                tx.sequence_outbox(t0, 2).await?,
                tx.sequence_outbox(t0, 2).await?,
            ))
        })
    })
    .await
    .unwrap();
    let (Some(second), Some(third), None) = given else {
        panic!("positions given two, then one, then none: {given:?}")
    };
    assert_eq!(third, second + 1);
    let all = store.events_after(0, OrderScope::All, 10).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|e| (e.position, e.message.key.as_str()))
            .collect::<Vec<_>>(),
        vec![(second - 1, "o-1"), (second, "o-2"), (third, "o-3")]
    );
    let for_ada = store
        .events_after(0, OrderScope::Customer(ada), 10)
        .await
        .unwrap();
    assert_eq!(
        for_ada
            .iter()
            .map(|e| e.message.key.as_str())
            .collect::<Vec<_>>(),
        vec!["o-1"]
    );
    let for_shop = store
        .events_after(second - 1, OrderScope::Vendor(shop), 10)
        .await
        .unwrap();
    assert_eq!(
        for_shop
            .iter()
            .map(|e| e.message.key.as_str())
            .collect::<Vec<_>>(),
        vec!["o-3"],
        "after a position"
    );
    let state = store.relay_state().await.unwrap();
    assert_eq!(
        (state.waiting, state.oldest_position),
        (0, Some(second - 1))
    );

    // A new consumer starts at the present; its cursor moves forward only.
    let cursors = unit(store, move |tx| {
        Box::pin(async move {
            let start = tx.consumer_cursor("test.reader", t0).await?;
            tx.advance_cursor("test.reader", third + 5, t0).await?;
            tx.advance_cursor("test.reader", second, t0).await?;
            let now = tx.consumer_cursor("test.reader", t0).await?;
            Ok((start, now))
        })
    })
    .await
    .unwrap();
    assert_eq!(cursors, (third, third + 5));
    let state = store.relay_state().await.unwrap();
    assert!(
        state
            .cursors
            .contains(&("test.reader".to_owned(), third + 5)),
        "{state:?}"
    );
    let follows = store.event_wakeups().await.unwrap().is_some();
    assert_eq!(follows, store.backend() == "postgres");
}
