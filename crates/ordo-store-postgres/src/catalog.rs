//! Catalog on PostgreSQL: the writes of [`ordo_store::catalog`] in one transaction. The reads
//! and row mappings are shared with SQLite (`ordo-store/shared/sql_store/catalog.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::catalog::{Location, LocationCode, Name, Product, Sku, VariantForSale, Vendor};
use ordo_domain::ids::{LocationId, VendorId};
use ordo_domain::inventory::StockLevel;
use ordo_domain::money::{Currency, Money};
use ordo_store::{CatalogTx, StockAdjustment, StoreError, StoreResult};

use crate::sql_store::catalog::fetch_variants_for_sale;
use crate::sql_store::catalog::{location_from_row, stock_level_from_row};
use crate::sql_store::{Cols, locked, sql};
use crate::tx::PgTx;

#[async_trait]
impl CatalogTx for PgTx {
    async fn insert_vendor(&mut self, vendor: &Vendor, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(sql::INSERT_VENDOR)
            .bind(vendor.id.0)
            .bind(vendor.name.as_str())
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn insert_location(&mut self, l: &Location, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(sql::INSERT_LOCATION)
            .bind(l.id.0)
            .bind(l.vendor_id.0)
            .bind(l.code.as_str())
            .bind(l.name.as_str())
            .bind(l.priority)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn location_by_code(
        &mut self,
        vendor: VendorId,
        code: &LocationCode,
    ) -> StoreResult<Option<Location>> {
        let row = sqlx::query(sql::LOCATION_BY_CODE)
            .bind(vendor.0)
            .bind(code.as_str())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(location_from_row).transpose()
    }

    async fn insert_product(&mut self, p: &Product, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(sql::INSERT_PRODUCT)
            .bind(p.id.0)
            .bind(p.vendor_id.0)
            .bind(p.title.as_str())
            .bind(p.tax_class.as_str())
            .bind(p.stock_deduction.as_str())
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        for (position, v) in p.variants.iter().enumerate() {
            sqlx::query(sql::INSERT_VARIANT)
                .bind(v.id.0)
                .bind(p.id.0)
                .bind(v.sku.as_str())
                .bind(v.title.as_ref().map(Name::as_str))
                .bind(position as i32)
                .bind(i64::from(v.weight_grams))
                .bind(v.low_stock_threshold)
                .bind(at)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| self.fail(e))?;
            for price in &v.prices {
                sqlx::query(sql::INSERT_PRICE)
                    .bind(v.id.0)
                    .bind(price.currency.code())
                    .bind(price.amount)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(|e| self.fail(e))?;
            }
        }
        Ok(())
    }

    async fn sku_vendor(&mut self, sku: &Sku) -> StoreResult<Option<VendorId>> {
        let row = sqlx::query(sql::SKU_VENDOR)
            .bind(sku.as_str())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.map(|r| r.uuid("vendor_id").map(VendorId)).transpose()
    }

    async fn variants_for_sale(&mut self, skus: &[Sku]) -> StoreResult<Vec<VariantForSale>> {
        let found = fetch_variants_for_sale(&mut *self.tx, skus).await;
        if found.is_err() {
            self.failed.set(true);
        }
        found
    }

    async fn set_price(&mut self, sku: &Sku, price: Money) -> StoreResult<bool> {
        let done = sqlx::query(sql::SET_PRICE)
            .bind(price.currency.code())
            .bind(price.amount)
            .bind(sku.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_price(&mut self, sku: &Sku, currency: Currency) -> StoreResult<bool> {
        let done = sqlx::query(sql::DELETE_PRICE)
            .bind(currency.code())
            .bind(sku.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_low_stock_threshold(
        &mut self,
        sku: &Sku,
        threshold: Option<i64>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(sql::SET_THRESHOLD)
            .bind(threshold)
            .bind(sku.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_adjustment(&mut self, a: &StockAdjustment) -> StoreResult<()> {
        sqlx::query(sql::INSERT_ADJUSTMENT)
            .bind(a.id.0)
            .bind(a.sku.as_str())
            .bind(a.location_id.0)
            .bind(a.delta)
            .bind(a.reason.as_str())
            .bind(a.note.as_deref())
            .bind(a.actor.user_id.map(|u| u.0))
            .bind(a.actor.role.as_str())
            .bind(a.on_hand_after)
            .bind(a.at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn lock_stock(&mut self, sku: &Sku) -> StoreResult<Vec<StockLevel>> {
        let rows = sqlx::query(locked::STOCK.as_str())
            .bind(sku.as_str())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(stock_level_from_row).collect()
    }

    async fn change_stock(
        &mut self,
        sku: &Sku,
        location: LocationId,
        on_hand: i64,
        reserved: i64,
    ) -> StoreResult<()> {
        let done = sqlx::query(sql::CHANGE_STOCK)
            .bind(on_hand)
            .bind(reserved)
            .bind(sku.as_str())
            .bind(location.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        if done.rows_affected() != 1 {
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
        sqlx::query(sql::SET_ON_HAND)
            .bind(sku.as_str())
            .bind(location.0)
            .bind(on_hand)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}
