//! Idempotency on SQLite: the writes of [`ordo_store::idempotency`] in one transaction. The reads
//! and row mappings are shared with PostgreSQL (`ordo-store/shared/sql_store/idempotency.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_store::{IdempotencyRecord, IdempotencyTx, StoreResult};
use rusqlite::params;

use crate::sql_store::idempotency::idempotency_from_row;
use crate::sql_store::sql;
use crate::tx::{SqliteTx, ts};

#[async_trait]
impl IdempotencyTx for SqliteTx {
    async fn idempotency_claim(
        &mut self,
        scope: &str,
        key: &str,
        request_hash: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let claimed = self.execute(
            sql::IDEMPOTENCY_CLAIM,
            params![scope, key, request_hash, ts(&at)],
        )?;
        if claimed == 1 {
            return Ok(None);
        }
        Ok(self
            .query(sql::IDEMPOTENCY_GET, params![scope, key], |r| {
                idempotency_from_row(r)
            })?
            .pop())
    }

    async fn idempotency_remember(
        &mut self,
        scope: &str,
        key: &str,
        response: &str,
    ) -> StoreResult<()> {
        self.execute(sql::IDEMPOTENCY_REMEMBER, params![response, scope, key])?;
        Ok(())
    }
}
