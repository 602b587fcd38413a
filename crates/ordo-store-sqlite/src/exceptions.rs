//! Exceptions on SQLite: the writes of [`ordo_store::exceptions`] in one transaction. The reads
//! and row mappings are shared with PostgreSQL (`ordo-store/shared/sql_store/exceptions.rs`).

use async_trait::async_trait;
use ordo_store::{ExceptionItem, ExceptionTx, StoreResult};
use rusqlite::params;

use crate::sql_store::sql;
use crate::tx::{SqliteTx, ts};

#[async_trait]
impl ExceptionTx for SqliteTx {
    async fn raise_exception(&mut self, e: &ExceptionItem) -> StoreResult<bool> {
        Ok(self.execute(
            sql::RAISE_EXCEPTION,
            params![
                e.id,
                e.kind,
                e.key,
                e.status.as_str(),
                e.order_id.map(|o| o.0),
                e.body,
                ts(&e.created_at),
                ts(&e.updated_at)
            ],
        )? == 1)
    }

    async fn update_exception(&mut self, e: &ExceptionItem) -> StoreResult<()> {
        self.execute(
            sql::UPDATE_EXCEPTION,
            params![e.status.as_str(), e.body, ts(&e.updated_at), e.id],
        )?;
        Ok(())
    }
}
