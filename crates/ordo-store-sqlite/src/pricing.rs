//! Pricing on SQLite: the writes of [`ordo_store::pricing`] in one transaction. The reads
//! and row mappings are shared with PostgreSQL (`ordo-store/shared/sql_store/pricing.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::ids::{PromotionId, RuleId};
use ordo_domain::pricing::Promotion;
use ordo_store::{PricingTx, RuleKind, StoreError, StoreResult};
use rusqlite::params;
use serde_json::value::RawValue;

use crate::sql_store::{Cols, sql};
use crate::tx::{SqliteTx, json, ts};

#[async_trait]
impl PricingTx for SqliteTx {
    async fn put_rule(
        &mut self,
        kind: RuleKind,
        key: &str,
        id: RuleId,
        data: &RawValue,
        at: DateTime<Utc>,
    ) -> StoreResult<RuleId> {
        let ids = self.query(
            sql::PUT_RULE,
            params![id.0, kind.as_str(), key, data.get(), ts(&at)],
            |r| Ok(RuleId(r.uuid("id")?)),
        )?;
        ids.into_iter()
            .next()
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("upsert returned no id")))
    }

    async fn delete_rule(&mut self, kind: RuleKind, id: RuleId) -> StoreResult<bool> {
        Ok(self.execute(sql::DELETE_RULE, params![kind.as_str(), id.0])? == 1)
    }

    async fn insert_promotion(&mut self, p: &Promotion, at: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
            sql::INSERT_PROMOTION,
            params![
                p.id.0,
                p.code,
                json(p)?,
                p.usage_limit.map(i64::from),
                ts(&at)
            ],
        )?;
        Ok(())
    }

    async fn update_promotion(&mut self, p: &Promotion, at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(self.execute(
            sql::UPDATE_PROMOTION,
            params![
                p.code,
                json(p)?,
                p.usage_limit.map(i64::from),
                ts(&at),
                p.id.0
            ],
        )? == 1)
    }

    async fn use_promotion(&mut self, id: PromotionId) -> StoreResult<bool> {
        Ok(self.execute(sql::USE_PROMOTION, params![id.0])? == 1)
    }
}
