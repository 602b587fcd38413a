//! The outbox messages use cases write beside their changes, in the same transaction, for
//! consumers outside it (webhooks, live updates, the event stream). Only the shapes live here;
//! writing them is the use case's step, and reading them is the relay's.

use chrono::{DateTime, Utc};
use ordo_domain::catalog::Sku;
use ordo_domain::order::OrderEvent;
use ordo_store::OutboxMessage;

use crate::{AppError, AppResult};

/// The outbox message for an order event (keyed by the order, so consumers keep its order).
pub(crate) fn outbox_for(event: &OrderEvent) -> AppResult<OutboxMessage> {
    Ok(OutboxMessage {
        topic: event.event_type.clone(),
        key: event.order_id.to_string(),
        payload: serde_json::value::to_raw_value(event)
            .map_err(|e| AppError::Internal(e.into()))?,
        created_at: event.at,
    })
}

/// An outbox message about one SKU's stock (keyed by the SKU, so consumers keep its order).
pub(crate) fn stock_message(
    topic: &str,
    sku: &Sku,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> AppResult<OutboxMessage> {
    Ok(OutboxMessage {
        topic: topic.into(),
        key: sku.to_string(),
        payload: serde_json::value::to_raw_value(payload)
            .map_err(|e| AppError::Internal(e.into()))?,
        created_at: now,
    })
}
