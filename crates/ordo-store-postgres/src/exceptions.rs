//! Exceptions on PostgreSQL: the writes of [`ordo_store::exceptions`] in one transaction. The reads
//! and row mappings are shared with SQLite (`ordo-store/shared/sql_store/exceptions.rs`).

use async_trait::async_trait;
use ordo_store::{ExceptionItem, ExceptionTx, StoreResult};

use crate::sql_store::sql;
use crate::tx::PgTx;

#[async_trait]
impl ExceptionTx for PgTx {
    async fn raise_exception(&mut self, e: &ExceptionItem) -> StoreResult<bool> {
        let done = sqlx::query(sql::RAISE_EXCEPTION)
            .bind(e.id)
            .bind(&e.kind)
            .bind(&e.key)
            .bind(e.status.as_str())
            .bind(e.order_id.map(|o| o.0))
            .bind(&e.body)
            .bind(e.created_at)
            .bind(e.updated_at)
            .execute(&mut *self.tx)
            .await
            .map_err(|err| self.fail(err))?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_exception(&mut self, e: &ExceptionItem) -> StoreResult<()> {
        sqlx::query(sql::UPDATE_EXCEPTION)
            .bind(e.status.as_str())
            .bind(&e.body)
            .bind(e.updated_at)
            .bind(e.id)
            .execute(&mut *self.tx)
            .await
            .map_err(|err| self.fail(err))?;
        Ok(())
    }
}
