//! Outbox on PostgreSQL: the writes of [`ordo_store::outbox`] in one transaction. The reads
//! and row mappings are shared with SQLite (`ordo-store/shared/sql_store/outbox.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_store::{OutboxMessage, OutboxTx, StoreResult};
use sqlx::types::Json;

use crate::sql_store::{Cols, locked, sql};
use crate::tx::PgTx;

#[async_trait]
impl OutboxTx for PgTx {
    async fn enqueue(&mut self, m: &OutboxMessage) -> StoreResult<()> {
        sqlx::query(sql::ENQUEUE)
            .bind(&m.topic)
            .bind(&m.key)
            .bind(Json(&m.payload))
            .bind(m.created_at)
            .bind(m.audience.customer.map(|u| u.0))
            .bind(m.audience.vendor.map(|v| v.0))
            .bind(m.audience.carrier.map(|u| u.0))
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn sequence_outbox(&mut self, at: DateTime<Utc>, limit: u32) -> StoreResult<Option<i64>> {
        // Waits for another node's sequencer to commit, then reads the position it left.
        let row = sqlx::query(locked::SEQUENCER.as_str())
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        let last = row.int("position")?;
        let given = sqlx::query(sql::SEQUENCE_OUTBOX)
            .bind(last)
            .bind(at)
            .bind(i64::from(limit))
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?
            .rows_affected();
        if given == 0 {
            return Ok(None);
        }
        let now_last = last + given as i64;
        sqlx::query(sql::ADVANCE_SEQUENCER)
            .bind(now_last)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        // Delivered at commit, so other nodes never read ahead of what is visible.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::EVENTS_CHANNEL)
            .bind(now_last.to_string())
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(Some(now_last))
    }

    async fn consumer_cursor(&mut self, consumer: &str, at: DateTime<Utc>) -> StoreResult<i64> {
        sqlx::query(sql::ENSURE_CURSOR)
            .bind(consumer)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        let row = sqlx::query(sql::READ_CURSOR)
            .bind(consumer)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.int("position")
    }

    async fn advance_cursor(
        &mut self,
        consumer: &str,
        position: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(sql::ADVANCE_CURSOR)
            .bind(position)
            .bind(at)
            .bind(consumer)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}
