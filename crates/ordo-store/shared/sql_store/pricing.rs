//! Pricing, shared by both backends: the row mappings (used by their writes too) and
//! the reads of [`ordo_store::pricing`].

use async_trait::async_trait;
use ordo_domain::ids::{PromotionId, RuleId};
use ordo_domain::pricing::{FxRate, PricingBook, Promotion, ShippingRate, TaxRule};
use ordo_store::{PricingStore, StoreResult};

use super::{Cols, SqlStore, corrupt};
use crate::map_err;

/// A row of `pricing_rules` or `promotions` into the book; the row's id is the rule's.
pub(crate) fn add_rule_to_book(book: &mut PricingBook, row: &impl Cols) -> StoreResult<()> {
    let id = RuleId(row.uuid("id")?);
    match row.text("kind")?.as_str() {
        "fx" => book.fx.push(FxRate {
            id,
            ..row.json("data")?
        }),
        "tax" => book.tax.push(TaxRule {
            id,
            ..row.json("data")?
        }),
        "shipping" => book.shipping.push(ShippingRate {
            id,
            ..row.json("data")?
        }),
        other => return Err(corrupt("rule kind", other)),
    }
    Ok(())
}

pub(crate) fn promotion_from_row(row: &impl Cols) -> StoreResult<Promotion> {
    let count = |v: i64| u32::try_from(v).map_err(|e| corrupt("promotion count", e));
    Ok(Promotion {
        id: PromotionId(row.uuid("id")?),
        uses: count(row.int("uses")?)?,
        usage_limit: row.opt_int("usage_limit")?.map(count).transpose()?,
        ..row.json("data")?
    })
}

#[async_trait]
impl PricingStore for SqlStore {
    async fn pricing_book(&self) -> StoreResult<PricingBook> {
        let mut book = PricingBook::default();
        let rules = sqlx::query("SELECT id, kind, data FROM pricing_rules ORDER BY id")
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        for r in &rules {
            add_rule_to_book(&mut book, r)?;
        }
        let promotions =
            sqlx::query("SELECT id, data, usage_limit, uses FROM promotions ORDER BY id")
                .fetch_all(&self.reader)
                .await
                .map_err(map_err)?;
        book.promotions = promotions
            .iter()
            .map(promotion_from_row)
            .collect::<StoreResult<_>>()?;
        Ok(book)
    }
}
