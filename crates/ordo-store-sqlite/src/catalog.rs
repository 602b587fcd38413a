//! Catalog on SQLite: the writes of [`ordo_store::catalog`] in one transaction. The reads
//! and row mappings are shared with PostgreSQL (`ordo-store/shared/sql_store/catalog.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::catalog::{Location, LocationCode, Name, Product, Sku, VariantForSale, Vendor};
use ordo_domain::ids::{LocationId, VendorId};
use ordo_domain::inventory::StockLevel;
use ordo_domain::money::{Currency, Money};
use ordo_store::{CatalogTx, StockAdjustment, StoreError, StoreResult};
use rusqlite::{OptionalExtension, params, params_from_iter};
use uuid::Uuid;

use crate::sql_store::catalog::{location_from_row, push_variant_for_sale, stock_level_from_row};
use crate::sql_store::{locked, sql};
use crate::tx::{SqliteTx, ts};

#[async_trait]
impl CatalogTx for SqliteTx {
    async fn insert_vendor(&mut self, vendor: &Vendor, at: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
            sql::INSERT_VENDOR,
            params![vendor.id.0, vendor.name.as_str(), ts(&at)],
        )?;
        Ok(())
    }

    async fn insert_location(&mut self, l: &Location, at: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
            sql::INSERT_LOCATION,
            params![
                l.id.0,
                l.vendor_id.0,
                l.code.as_str(),
                l.name.as_str(),
                l.priority,
                ts(&at)
            ],
        )?;
        Ok(())
    }

    async fn location_by_code(
        &mut self,
        vendor: VendorId,
        code: &LocationCode,
    ) -> StoreResult<Option<Location>> {
        Ok(self
            .query(
                sql::LOCATION_BY_CODE,
                params![vendor.0, code.as_str()],
                |r| location_from_row(r),
            )?
            .pop())
    }

    async fn insert_product(&mut self, p: &Product, at: DateTime<Utc>) -> StoreResult<()> {
        let at = ts(&at);
        self.execute(
            sql::INSERT_PRODUCT,
            params![
                p.id.0,
                p.vendor_id.0,
                p.title.as_str(),
                p.tax_class.as_str(),
                p.stock_deduction.as_str(),
                at
            ],
        )?;
        for (position, v) in p.variants.iter().enumerate() {
            self.execute(
                sql::INSERT_VARIANT,
                params![
                    v.id.0,
                    p.id.0,
                    v.sku.as_str(),
                    v.title.as_ref().map(Name::as_str),
                    position as i64,
                    i64::from(v.weight_grams),
                    v.low_stock_threshold,
                    at
                ],
            )?;
            for price in &v.prices {
                self.execute(
                    sql::INSERT_PRICE,
                    params![v.id.0, price.currency.code(), price.amount],
                )?;
            }
        }
        Ok(())
    }

    async fn sku_vendor(&mut self, sku: &Sku) -> StoreResult<Option<VendorId>> {
        self.conn
            .prepare_cached(sql::SKU_VENDOR)
            .and_then(|mut s| {
                s.query_row(params![sku.as_str()], |r| r.get::<_, Uuid>(0))
                    .optional()
            })
            .map(|v| v.map(VendorId))
            .map_err(|e| self.fail(e))
    }

    async fn variants_for_sale(&mut self, skus: &[Sku]) -> StoreResult<Vec<VariantForSale>> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=skus.len()).map(|i| format!("${i}")).collect();
        let sql = format!("{}{})", sql::VARIANTS_FOR_SALE, placeholders.join(", "));
        let mut out = Vec::with_capacity(skus.len());
        self.query(&sql, params_from_iter(skus.iter().map(Sku::as_str)), |r| {
            push_variant_for_sale(&mut out, r)
        })?;
        Ok(out)
    }

    async fn set_price(&mut self, sku: &Sku, price: Money) -> StoreResult<bool> {
        Ok(self.execute(
            sql::SET_PRICE,
            params![price.currency.code(), price.amount, sku.as_str()],
        )? == 1)
    }

    async fn delete_price(&mut self, sku: &Sku, currency: Currency) -> StoreResult<bool> {
        Ok(self.execute(sql::DELETE_PRICE, params![currency.code(), sku.as_str()])? == 1)
    }

    async fn set_low_stock_threshold(
        &mut self,
        sku: &Sku,
        threshold: Option<i64>,
    ) -> StoreResult<bool> {
        Ok(self.execute(sql::SET_THRESHOLD, params![threshold, sku.as_str()])? == 1)
    }

    async fn insert_adjustment(&mut self, a: &StockAdjustment) -> StoreResult<()> {
        self.execute(
            sql::INSERT_ADJUSTMENT,
            params![
                a.id.0,
                a.sku.as_str(),
                a.location_id.0,
                a.delta,
                a.reason.as_str(),
                a.note,
                a.actor.user_id.map(|u| u.0),
                a.actor.role.as_str(),
                a.on_hand_after,
                ts(&a.at)
            ],
        )?;
        Ok(())
    }

    async fn lock_stock(&mut self, sku: &Sku) -> StoreResult<Vec<StockLevel>> {
        self.query(&locked::STOCK, params![sku.as_str()], |r| {
            stock_level_from_row(r)
        })
    }

    async fn change_stock(
        &mut self,
        sku: &Sku,
        location: LocationId,
        on_hand: i64,
        reserved: i64,
    ) -> StoreResult<()> {
        let changed = self.execute(
            sql::CHANGE_STOCK,
            params![on_hand, reserved, sku.as_str(), location.0],
        )?;
        if changed != 1 {
            return Err(StoreError::Other(anyhow::anyhow!(
                "no stock row for {sku} at {location}"
            )));
        }
        Ok(())
    }

    async fn set_on_hand(
        &mut self,
        sku: &Sku,
        location: LocationId,
        on_hand: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            sql::SET_ON_HAND,
            params![sku.as_str(), location.0, on_hand, ts(&at)],
        )?;
        Ok(())
    }
}
