//! Pricing on PostgreSQL: the writes of [`ordo_store::pricing`] in one transaction. The reads
//! and row mappings are shared with SQLite (`ordo-store/shared/sql_store/pricing.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::ids::{PromotionId, RuleId};
use ordo_domain::pricing::Promotion;
use ordo_store::{PricingTx, RuleKind, StoreResult};
use serde_json::value::RawValue;
use sqlx::types::Json;

use crate::sql_store::{Cols, sql};
use crate::tx::PgTx;

#[async_trait]
impl PricingTx for PgTx {
    async fn put_rule(
        &mut self,
        kind: RuleKind,
        key: &str,
        id: RuleId,
        data: &RawValue,
        at: DateTime<Utc>,
    ) -> StoreResult<RuleId> {
        let row = sqlx::query(sql::PUT_RULE)
            .bind(id.0)
            .bind(kind.as_str())
            .bind(key)
            .bind(Json(data))
            .bind(at)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(RuleId(row.uuid("id")?))
    }

    async fn delete_rule(&mut self, kind: RuleKind, id: RuleId) -> StoreResult<bool> {
        let done = sqlx::query(sql::DELETE_RULE)
            .bind(kind.as_str())
            .bind(id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_promotion(&mut self, p: &Promotion, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(sql::INSERT_PROMOTION)
            .bind(p.id.0)
            .bind(p.code.as_deref())
            .bind(Json(p))
            .bind(p.usage_limit.map(i64::from))
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn update_promotion(&mut self, p: &Promotion, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(sql::UPDATE_PROMOTION)
            .bind(p.code.as_deref())
            .bind(Json(p))
            .bind(p.usage_limit.map(i64::from))
            .bind(at)
            .bind(p.id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn use_promotion(&mut self, id: PromotionId) -> StoreResult<bool> {
        let done = sqlx::query(sql::USE_PROMOTION)
            .bind(id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }
}
