//! Idempotency on PostgreSQL: the writes of [`ordo_store::idempotency`] in one transaction. The
//! reads
//! and row mappings are shared with SQLite (`ordo-store/shared/sql_store/idempotency.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_store::{IdempotencyRecord, IdempotencyTx, StoreResult};

use crate::sql_store::idempotency::idempotency_from_row;
use crate::sql_store::sql;
use crate::tx::PgTx;

#[async_trait]
impl IdempotencyTx for PgTx {
    async fn idempotency_claim(
        &mut self,
        scope: &str,
        key: &str,
        request_hash: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let claimed = sqlx::query(sql::IDEMPOTENCY_CLAIM)
            .bind(scope)
            .bind(key)
            .bind(request_hash)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        if claimed.rows_affected() == 1 {
            return Ok(None);
        }
        // Read Committed: this statement sees the claim that the insert waited for.
        let row = sqlx::query(sql::IDEMPOTENCY_GET)
            .bind(scope)
            .bind(key)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(idempotency_from_row).transpose()
    }

    async fn idempotency_remember(
        &mut self,
        scope: &str,
        key: &str,
        response: &str,
    ) -> StoreResult<()> {
        sqlx::query(sql::IDEMPOTENCY_REMEMBER)
            .bind(response)
            .bind(scope)
            .bind(key)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}
