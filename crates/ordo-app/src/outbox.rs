//! The outbox messages use cases write beside their changes, in the same transaction, for
//! consumers outside it (webhooks, live updates, the event stream). Only the shapes live here;
//! writing them is the use case's step, and reading them is the relay's (see [`crate::relay`]).

use chrono::{DateTime, Utc};
use ordo_domain::catalog::Sku;
use ordo_domain::order::{Order, OrderEvent};
use ordo_store::{Audience, OutboxMessage, StoreTx};

use crate::{AppError, AppResult};

/// Events a consumer of the relay with its own cursor (webhooks, notifications) takes in one
/// step.
pub(crate) const CONSUMER_BATCH: u32 = 500;

/// The topic of an internal note on an order: in the feed of support and admins (and the
/// platform's webhooks) only — never in the order's own log or stream.
pub const NOTE_ADDED: &str = "order.note_added";

/// Whether a topic is an event of an order's log (its payload an `OrderEvent`, its key the
/// order): `order.*` (but not the staff-only notes that ride beside them), and `payment.*`,
/// the order's money going back to its customer.
pub fn in_order_log(topic: &str) -> bool {
    (topic.starts_with("order.") && topic != NOTE_ADDED) || topic.starts_with("payment.")
}

/// The outbox message for an order event (keyed by the order, so consumers keep its order),
/// seen by the order's customer, vendor and carrier (as the order stands after the event).
pub(crate) fn outbox_for(event: &OrderEvent, order: &Order) -> AppResult<OutboxMessage> {
    Ok(OutboxMessage {
        topic: event.event_type.clone(),
        key: event.order_id.to_string(),
        payload: serde_json::value::to_raw_value(event)
            .map_err(|e| AppError::Internal(e.into()))?,
        created_at: event.at,
        audience: Audience {
            customer: Some(order.customer_id),
            vendor: Some(order.vendor_id),
            carrier: order.carrier_id,
        },
    })
}

/// Writes an outbox message about one SKU's stock (keyed by the SKU, so consumers keep its
/// order), seen by the vendor selling it.
pub(crate) async fn enqueue_stock(
    tx: &mut dyn StoreTx,
    topic: &str,
    sku: &Sku,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let vendor = tx.sku_vendor(sku).await?;
    tx.enqueue(&OutboxMessage {
        topic: topic.into(),
        key: sku.to_string(),
        payload: serde_json::value::to_raw_value(payload)
            .map_err(|e| AppError::Internal(e.into()))?,
        created_at: now,
        audience: Audience {
            vendor,
            ..Audience::default()
        },
    })
    .await?;
    Ok(())
}
