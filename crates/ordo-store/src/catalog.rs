//! Vendors, locations, products and variants, price lists and stock (levels, reservations,
//! adjustments): the records of this aggregate and what the store does with them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::catalog::{Location, LocationCode, Product, Sku, VariantForSale, Vendor};
use ordo_domain::identity::Actor;
use ordo_domain::ids::{AdjustmentId, LocationId, ProductId, VendorId};
use ordo_domain::inventory::{AdjustmentReason, StockLevel};
use ordo_domain::money::{Currency, Money};

use crate::StoreResult;

/// Stock of one SKU at one location, with the location's code for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationStock {
    pub level: StockLevel,
    pub code: LocationCode,
}

/// All stock of one SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuStock {
    pub sku: Sku,
    pub vendor_id: VendorId,
    /// In allocation order (location priority, then code).
    pub locations: Vec<LocationStock>,
}

/// One SKU's price on a currency's price list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceListEntry {
    pub sku: Sku,
    pub vendor_id: VendorId,
    pub price: Money,
}

/// A SKU whose available stock is at or below its threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowStock {
    pub sku: Sku,
    pub threshold: i64,
    /// On hand minus reserved, over all locations.
    pub available: i64,
}

/// One recorded stock adjustment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StockAdjustment {
    pub id: AdjustmentId,
    pub sku: Sku,
    pub location_id: LocationId,
    pub delta: i64,
    pub reason: AdjustmentReason,
    pub note: Option<String>,
    pub actor: Actor,
    pub on_hand_after: i64,
    pub at: DateTime<Utc>,
}

/// Reads: vendors, locations, products and variants, price lists and stock (levels, reservations,
/// adjustments).
#[async_trait]
pub trait CatalogStore: Send + Sync {
    async fn vendor(&self, id: VendorId) -> StoreResult<Option<Vendor>>;
    async fn vendors(&self) -> StoreResult<Vec<Vendor>>;
    async fn locations(&self, vendor: VendorId) -> StoreResult<Vec<Location>>;
    async fn product(&self, id: ProductId) -> StoreResult<Option<Product>>;
    /// Products of one vendor (or all), newest first.
    async fn products(&self, vendor: Option<VendorId>, limit: u32) -> StoreResult<Vec<Product>>;
    async fn stock(&self, sku: &Sku) -> StoreResult<Option<SkuStock>>;
    /// Units available (on hand − reserved, all locations) of each of `skus` that has stock
    /// rows; a SKU without any is absent.
    async fn available(&self, skus: &[Sku]) -> StoreResult<Vec<(Sku, i64)>>;
    /// As [`CatalogTx::variants_for_sale`], outside a transaction (carts show live prices).
    async fn variants_for_sale(&self, skus: &[Sku]) -> StoreResult<Vec<VariantForSale>>;
    /// One vendor's SKUs at or below their low-stock threshold.
    async fn low_stock(&self, vendor: VendorId) -> StoreResult<Vec<LowStock>>;
    /// One currency's price list: SKUs with a price in it, by SKU, after `after_sku`,
    /// optionally one vendor's only.
    async fn price_list(
        &self,
        currency: Currency,
        vendor: Option<VendorId>,
        after_sku: Option<&Sku>,
        limit: u32,
    ) -> StoreResult<Vec<PriceListEntry>>;
    /// A SKU's adjustments, newest first.
    async fn stock_adjustments(&self, sku: &Sku, limit: u32) -> StoreResult<Vec<StockAdjustment>>;
}

/// Writes within one transaction: vendors, locations, products and variants, price lists and stock
/// (levels, reservations, adjustments).
#[async_trait]
pub trait CatalogTx: Send {
    async fn insert_vendor(&mut self, vendor: &Vendor, at: DateTime<Utc>) -> StoreResult<()>;
    async fn insert_location(&mut self, location: &Location, at: DateTime<Utc>) -> StoreResult<()>;
    async fn location_by_code(
        &mut self,
        vendor: VendorId,
        code: &LocationCode,
    ) -> StoreResult<Option<Location>>;
    async fn insert_product(&mut self, product: &Product, at: DateTime<Utc>) -> StoreResult<()>;
    /// The vendor selling `sku`, if any.
    async fn sku_vendor(&mut self, sku: &Sku) -> StoreResult<Option<VendorId>>;
    /// The variants for `skus` with all their prices; unknown SKUs are simply absent.
    async fn variants_for_sale(&mut self, skus: &[Sku]) -> StoreResult<Vec<VariantForSale>>;
    /// Sets a SKU's price in one currency (adding it to that currency's price list or
    /// replacing it); false if there is no such SKU.
    async fn set_price(&mut self, sku: &Sku, price: Money) -> StoreResult<bool>;
    /// Takes a SKU off one currency's price list; false if it had no price there.
    async fn delete_price(&mut self, sku: &Sku, currency: Currency) -> StoreResult<bool>;
    /// Sets (or clears) a SKU's low-stock threshold; false if there is no such SKU.
    async fn set_low_stock_threshold(
        &mut self,
        sku: &Sku,
        threshold: Option<i64>,
    ) -> StoreResult<bool>;
    async fn insert_adjustment(&mut self, adjustment: &StockAdjustment) -> StoreResult<()>;
    /// Reads a SKU's stock rows in allocation order and, where the backend has row locks, locks
    /// them until commit. Callers lock SKUs in sorted order so two orders never deadlock.
    async fn lock_stock(&mut self, sku: &Sku) -> StoreResult<Vec<StockLevel>>;
    /// Adds the deltas to one stock row. A result that breaks `0 <= reserved <= on_hand` is
    /// refused by the database as [`constraints::STOCK_RESERVED_WITHIN_ON_HAND`].
    async fn change_stock(
        &mut self,
        sku: &Sku,
        location: LocationId,
        on_hand: i64,
        reserved: i64,
    ) -> StoreResult<()>;
    /// Sets `on_hand` (creating the row if needed), keeping `reserved`.
    async fn set_on_hand(
        &mut self,
        sku: &Sku,
        location: LocationId,
        on_hand: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}
