//! Outbox, shared by both backends: the row mappings (used by their writes too) and
//! the reads of [`ordo_store::outbox`].

use async_trait::async_trait;
use ordo_domain::ids::{UserId, VendorId};
use ordo_store::{
    Audience, OrderScope, OutboxMessage, OutboxStore, RelayState, RelayedEvent, StoreResult,
};
use sqlx::{AssertSqlSafe, QueryBuilder};

use super::orders::push_scope;
use super::{Cols, SqlStore, corrupt};
use crate::{Db, dialect, map_err};

/// The columns [`outbox_from_row`] reads (the payload as text on both databases).
pub(crate) static OUTBOX_COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "topic, key, {}, created_at, customer_id, vendor_id, carrier_id",
        dialect::PAYLOAD_TEXT
    )
});

/// An outbox row (topic, key, payload as text, created_at and the audience).
pub(crate) fn outbox_from_row(r: &impl Cols) -> StoreResult<OutboxMessage> {
    Ok(OutboxMessage {
        topic: r.text("topic")?,
        key: r.text("key")?,
        payload: serde_json::value::RawValue::from_string(r.text("payload")?)
            .map_err(|e| corrupt("outbox payload", e))?,
        created_at: r.time("created_at")?,
        audience: Audience {
            customer: r.opt_uuid("customer_id")?.map(UserId),
            vendor: r.opt_uuid("vendor_id")?.map(VendorId),
            carrier: r.opt_uuid("carrier_id")?.map(UserId),
        },
    })
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn outbox(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxMessage)>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, {} FROM outbox WHERE id > $1 ORDER BY id LIMIT $2",
            *OUTBOX_COLUMNS
        )))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| Ok((r.int("id")?, outbox_from_row(r)?)))
            .collect()
    }

    async fn events_after(
        &self,
        after: i64,
        scope: OrderScope,
        limit: u32,
    ) -> StoreResult<Vec<RelayedEvent>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT position, {} FROM outbox WHERE position > ",
            *OUTBOX_COLUMNS
        ));
        qb.push_bind(after);
        push_scope(&mut qb, scope);
        qb.push(" ORDER BY position LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(RelayedEvent {
                    position: r.int("position")?,
                    message: outbox_from_row(r)?,
                })
            })
            .collect()
    }

    async fn relay_state(&self) -> StoreResult<RelayState> {
        let cursors = sqlx::query("SELECT consumer, position FROM relay_cursors ORDER BY consumer")
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        let waiting = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest, \
             (SELECT MIN(position) FROM outbox) AS oldest_position \
             FROM outbox WHERE position IS NULL",
        )
        .fetch_one(&self.reader)
        .await
        .map_err(map_err)?;
        Ok(RelayState {
            cursors: cursors
                .iter()
                .map(|r| Ok((r.text("consumer")?, r.int("position")?)))
                .collect::<StoreResult<_>>()?,
            waiting: waiting.int("n")?,
            oldest_waiting: waiting.opt_time("oldest")?,
            oldest_position: waiting.opt_int("oldest_position")?,
        })
    }

    async fn event_wakeups(
        &self,
    ) -> StoreResult<Option<std::pin::Pin<Box<dyn futures_util::Stream<Item = i64> + Send>>>> {
        crate::event_wakeups(&self.writer).await
    }
}
