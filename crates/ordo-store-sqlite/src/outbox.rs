//! Outbox on SQLite: the writes of [`ordo_store::outbox`] in one transaction. The reads
//! and row mappings are shared with PostgreSQL (`ordo-store/shared/sql_store/outbox.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_store::{OutboxMessage, OutboxTx, StoreResult};
use rusqlite::params;

use crate::sql_store::{Cols, corrupt, locked, sql};
use crate::tx::{SqliteTx, ts};

#[async_trait]
impl OutboxTx for SqliteTx {
    async fn enqueue(&mut self, m: &OutboxMessage) -> StoreResult<()> {
        self.execute(
            sql::ENQUEUE,
            params![
                m.topic,
                m.key,
                m.payload.get(),
                ts(&m.created_at),
                m.audience.customer.map(|u| u.0),
                m.audience.vendor.map(|v| v.0),
                m.audience.carrier.map(|u| u.0)
            ],
        )?;
        Ok(())
    }

    async fn sequence_outbox(&mut self, at: DateTime<Utc>, limit: u32) -> StoreResult<Option<i64>> {
        let last: Vec<i64> = self.query(&locked::SEQUENCER, [], |r| r.int("position"))?;
        let last = last.first().copied().unwrap_or(0);
        let given = self.execute(
            sql::SEQUENCE_OUTBOX,
            params![last, ts(&at), i64::from(limit)],
        )?;
        if given == 0 {
            return Ok(None);
        }
        let now_last = last + given as i64;
        self.execute(sql::ADVANCE_SEQUENCER, params![now_last, ts(&at)])?;
        Ok(Some(now_last))
    }

    async fn consumer_cursor(&mut self, consumer: &str, at: DateTime<Utc>) -> StoreResult<i64> {
        self.execute(sql::ENSURE_CURSOR, params![consumer, ts(&at)])?;
        let at: Vec<i64> =
            self.query(sql::READ_CURSOR, params![consumer], |r| r.int("position"))?;
        at.first()
            .copied()
            .ok_or_else(|| corrupt("relay cursor", format!("{consumer} has no cursor")))
    }

    async fn advance_cursor(
        &mut self,
        consumer: &str,
        position: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(sql::ADVANCE_CURSOR, params![position, ts(&at), consumer])?;
        Ok(())
    }
}
