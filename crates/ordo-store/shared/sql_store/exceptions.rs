//! Exceptions, shared by both backends: the row mappings (used by their writes too) and
//! the reads of [`ordo_store::exceptions`].

use async_trait::async_trait;
use ordo_domain::ids::OrderId;
use ordo_store::{ExceptionFilter, ExceptionItem, ExceptionStatus, ExceptionStore, StoreResult};
use sqlx::{AssertSqlSafe, QueryBuilder};
use uuid::Uuid;

use super::{Cols, SqlStore, corrupt};
use crate::{Db, map_err};

pub(crate) const EXCEPTION_COLUMNS: &str =
    "id, kind, key, status, order_id, body, created_at, updated_at";

pub(crate) fn exception_from_row(r: &impl Cols) -> StoreResult<ExceptionItem> {
    Ok(ExceptionItem {
        id: r.uuid("id")?,
        kind: r.text("kind")?,
        key: r.text("key")?,
        status: ExceptionStatus::parse(&r.text("status")?)
            .map_err(|e| corrupt("exception status", e))?,
        order_id: r.opt_uuid("order_id")?.map(OrderId),
        body: r.text("body")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

#[async_trait]
impl ExceptionStore for SqlStore {
    async fn exceptions(&self, f: &ExceptionFilter) -> StoreResult<Vec<ExceptionItem>> {
        let mut qb: QueryBuilder<Db> = QueryBuilder::new(format!(
            "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE 1 = 1"
        ));
        if let Some(status) = &f.status {
            qb.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(kind) = &f.kind {
            qb.push(" AND kind = ").push_bind(kind.clone());
        }
        if let Some(order) = f.order_id {
            qb.push(" AND order_id = ").push_bind(order.0);
        }
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(f.limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(exception_from_row).collect()
    }

    async fn exception(&self, id: Uuid) -> StoreResult<Option<ExceptionItem>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(exception_from_row).transpose()
    }
}
