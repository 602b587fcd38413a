//! Catalog, shared by both backends: the row mappings (used by their writes too) and
//! the reads of [`ordo_store::catalog`].

use async_trait::async_trait;
use ordo_domain::catalog::{
    Location, LocationCode, Name, Product, Sku, Variant, VariantForSale, Vendor,
};
use ordo_domain::identity::Actor;
use ordo_domain::ids::{AdjustmentId, LocationId, ProductId, UserId, VariantId, VendorId};
use ordo_domain::inventory::{AdjustmentReason, StockDeduction, StockLevel};
use ordo_domain::money::{Currency, Money};
use ordo_domain::pricing::TaxClass;
use ordo_store::{
    CatalogStore, LocationStock, LowStock, PriceListEntry, SkuStock, StockAdjustment, StoreResult,
};
use sqlx::{Pool, QueryBuilder};

use super::identity::parse_role;
use super::{Cols, SqlStore, corrupt, currency, group_by, sql};
use crate::{Db, DbRow, map_err};

pub(crate) fn location_from_row(row: &impl Cols) -> StoreResult<Location> {
    Ok(Location {
        id: LocationId(row.uuid("id")?),
        vendor_id: VendorId(row.uuid("vendor_id")?),
        code: LocationCode::parse(&row.text("code")?).map_err(|e| corrupt("location code", e))?,
        name: Name::parse(&row.text("name")?).map_err(|e| corrupt("location name", e))?,
        priority: row.int32("priority")?,
    })
}

pub(crate) fn stock_level_from_row(row: &impl Cols) -> StoreResult<StockLevel> {
    Ok(StockLevel {
        location_id: LocationId(row.uuid("location_id")?),
        priority: row.int32("priority")?,
        on_hand: row.int("on_hand")?,
        reserved: row.int("reserved")?,
    })
}

pub(crate) fn vendor_from_row(row: &impl Cols) -> StoreResult<Vendor> {
    Ok(Vendor {
        id: VendorId(row.uuid("id")?),
        name: Name::parse(&row.text("name")?).map_err(|e| corrupt("vendor name", e))?,
    })
}

/// Folds one row of [`sql::VARIANTS_FOR_SALE`] (one row per variant and price) into `out`,
/// the variants with all their prices.
pub(crate) fn push_variant_for_sale(
    out: &mut Vec<VariantForSale>,
    row: &impl Cols,
) -> StoreResult<()> {
    let id = VariantId(row.uuid("id")?);
    // Rows of one variant usually come together, but SQL promises no order without an
    // ORDER BY, which would cost a sort on every placement: look the variant up instead.
    let at = match out.iter().rposition(|v| v.variant_id == id) {
        Some(at) => at,
        None => {
            out.push(variant_for_sale_from_row(row)?);
            out.len() - 1
        }
    };
    if let Some(code) = row.opt_text("currency")? {
        out[at].prices.push(Money {
            amount: row.int("amount_minor")?,
            currency: currency(&code)?,
        });
    }
    Ok(())
}

pub(crate) fn variant_for_sale_from_row(row: &impl Cols) -> StoreResult<VariantForSale> {
    let product_title = row.text("product_title")?;
    Ok(VariantForSale {
        variant_id: VariantId(row.uuid("id")?),
        product_id: ProductId(row.uuid("product_id")?),
        vendor_id: VendorId(row.uuid("vendor_id")?),
        sku: Sku::parse(&row.text("sku")?).map_err(|e| corrupt("sku", e))?,
        title: match row.opt_text("variant_title")? {
            Some(v) => format!("{product_title} — {v}"),
            None => product_title,
        },
        prices: Vec::new(),
        tax_class: TaxClass::parse(&row.text("tax_class")?).map_err(|e| corrupt("tax class", e))?,
        deduction: StockDeduction::parse(&row.text("stock_deduction")?)
            .map_err(|e| corrupt("stock deduction", e))?,
        weight_grams: u32::try_from(row.int("weight_grams")?).map_err(|e| corrupt("weight", e))?,
        low_stock_threshold: row.opt_int("low_stock_threshold")?,
        commission_bp: u16::try_from(row.int("commission_bp")?)
            .map_err(|e| corrupt("commission", e))?,
    })
}

pub(crate) fn adjustment_from_row(row: &impl Cols) -> StoreResult<StockAdjustment> {
    Ok(StockAdjustment {
        id: AdjustmentId(row.uuid("id")?),
        sku: Sku::parse(&row.text("sku")?).map_err(|e| corrupt("sku", e))?,
        location_id: LocationId(row.uuid("location_id")?),
        delta: row.int("delta")?,
        reason: AdjustmentReason::parse(&row.text("reason")?).map_err(|e| corrupt("reason", e))?,
        note: row.opt_text("note")?,
        actor: Actor {
            user_id: row.opt_uuid("actor_id")?.map(UserId),
            role: parse_role(&row.text("actor_role")?)?,
            vendor_id: None,
        },
        on_hand_after: row.int("on_hand_after")?,
        at: row.time("at")?,
    })
}

/// The columns of the stock rows of one SKU in allocation order; each backend adds its lock.
pub(crate) const STOCK_OF_SKU: &str = "SELECT s.location_id, l.priority, l.code, s.on_hand, s.reserved FROM stock s \
    JOIN locations l ON l.id = s.location_id WHERE s.sku = $1 ORDER BY l.priority, l.code";

/// The variants for `skus` with all their prices, through any sqlx executor (the reader pool,
/// or a PostgreSQL transaction).
pub(crate) async fn fetch_variants_for_sale<'c, E>(
    executor: E,
    skus: &[Sku],
) -> StoreResult<Vec<VariantForSale>>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    if skus.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Db>::new(sql::VARIANTS_FOR_SALE);
    let mut list = qb.separated(", ");
    for sku in skus {
        list.push_bind(sku.as_str());
    }
    qb.push(")");
    let rows = qb.build().fetch_all(executor).await.map_err(map_err)?;
    let mut out = Vec::with_capacity(skus.len());
    for r in &rows {
        push_variant_for_sale(&mut out, r)?;
    }
    Ok(out)
}

pub(crate) async fn products_with_variants(
    pool: &Pool<Db>,
    rows: Vec<DbRow>,
) -> StoreResult<Vec<Product>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT v.product_id, v.id, v.sku, v.title, v.weight_grams, v.low_stock_threshold, p.currency, \
         p.amount_minor FROM variants v LEFT JOIN variant_prices p ON p.variant_id = v.id WHERE v.product_id IN (",
    );
    let mut ids = qb.separated(", ");
    for row in &rows {
        ids.push_bind(row.uuid("id")?);
    }
    qb.push(") ORDER BY v.product_id, v.position, p.currency");
    let variant_rows = qb.build().fetch_all(pool).await.map_err(map_err)?;
    let mut variants_of = group_by(&variant_rows, "product_id")?;
    let mut products = Vec::with_capacity(rows.len());
    for row in &rows {
        let id = row.uuid("id")?;
        let mut variants: Vec<Variant> = Vec::new();
        // Rows come sorted by variant position, then currency: one row per price.
        for v in variants_of.remove(&id).unwrap_or_default() {
            let variant_id = VariantId(v.uuid("id")?);
            if variants.last().is_none_or(|last| last.id != variant_id) {
                variants.push(Variant {
                    id: variant_id,
                    sku: Sku::parse(&v.text("sku")?).map_err(|e| corrupt("sku", e))?,
                    title: v
                        .opt_text("title")?
                        .map(|t| Name::parse(&t))
                        .transpose()
                        .map_err(|e| corrupt("variant title", e))?,
                    prices: Vec::new(),
                    weight_grams: u32::try_from(v.int("weight_grams")?)
                        .map_err(|e| corrupt("weight", e))?,
                    low_stock_threshold: v.opt_int("low_stock_threshold")?,
                });
            }
            if let Some(code) = v.opt_text("currency")? {
                let amount = v.int("amount_minor")?;
                if let Some(last) = variants.last_mut() {
                    last.prices.push(Money {
                        amount,
                        currency: currency(&code)?,
                    });
                }
            }
        }
        products.push(Product {
            id: ProductId(id),
            vendor_id: VendorId(row.uuid("vendor_id")?),
            title: Name::parse(&row.text("title")?).map_err(|e| corrupt("product title", e))?,
            tax_class: TaxClass::parse(&row.text("tax_class")?)
                .map_err(|e| corrupt("tax class", e))?,
            stock_deduction: StockDeduction::parse(&row.text("stock_deduction")?)
                .map_err(|e| corrupt("stock deduction", e))?,
            variants,
        });
    }
    Ok(products)
}

#[async_trait]
impl CatalogStore for SqlStore {
    async fn vendor(&self, id: VendorId) -> StoreResult<Option<Vendor>> {
        let row = sqlx::query("SELECT id, name FROM vendors WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
        row.map(|r| vendor_from_row(&r)).transpose()
    }

    async fn vendors(&self) -> StoreResult<Vec<Vendor>> {
        let rows = sqlx::query("SELECT id, name FROM vendors ORDER BY name")
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        rows.iter().map(vendor_from_row).collect()
    }

    async fn locations(&self, vendor: VendorId) -> StoreResult<Vec<Location>> {
        let rows = sqlx::query(
            "SELECT id, vendor_id, code, name, priority FROM locations WHERE vendor_id = $1 ORDER BY priority, code",
        )
        .bind(vendor.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(location_from_row).collect()
    }

    async fn product(&self, id: ProductId) -> StoreResult<Option<Product>> {
        let rows = sqlx::query(
            "SELECT id, vendor_id, title, tax_class, stock_deduction FROM products WHERE id = $1",
        )
        .bind(id.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        Ok(products_with_variants(&self.reader, rows).await?.pop())
    }

    async fn products(&self, vendor: Option<VendorId>, limit: u32) -> StoreResult<Vec<Product>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, vendor_id, title, tax_class, stock_deduction FROM products",
        );
        if let Some(v) = vendor {
            qb.push(" WHERE vendor_id = ").push_bind(v.0);
        }
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        products_with_variants(&self.reader, rows).await
    }

    async fn stock(&self, sku: &Sku) -> StoreResult<Option<SkuStock>> {
        let Some(vendor) = sqlx::query(
            "SELECT p.vendor_id FROM variants v JOIN products p ON p.id = v.product_id WHERE v.sku = $1",
        )
        .bind(sku.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(STOCK_OF_SKU)
            .bind(sku.as_str())
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        let mut locations = Vec::with_capacity(rows.len());
        for r in &rows {
            locations.push(LocationStock {
                level: stock_level_from_row(r)?,
                code: LocationCode::parse(&r.text("code")?)
                    .map_err(|e| corrupt("location code", e))?,
            });
        }
        Ok(Some(SkuStock {
            sku: sku.clone(),
            vendor_id: VendorId(vendor.uuid("vendor_id")?),
            locations,
        }))
    }

    async fn low_stock(&self, vendor: VendorId) -> StoreResult<Vec<LowStock>> {
        let rows = sqlx::query(
            // SUM of bigint is numeric on PostgreSQL: cast back so both read an i64.
            "SELECT v.sku, v.low_stock_threshold, CAST(COALESCE(SUM(s.on_hand - s.reserved), 0) AS BIGINT) AS available \
             FROM variants v JOIN products p ON p.id = v.product_id LEFT JOIN stock s ON s.sku = v.sku \
             WHERE p.vendor_id = $1 AND v.low_stock_threshold IS NOT NULL \
             GROUP BY v.sku, v.low_stock_threshold \
             HAVING COALESCE(SUM(s.on_hand - s.reserved), 0) <= v.low_stock_threshold ORDER BY v.sku",
        )
        .bind(vendor.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(LowStock {
                    sku: Sku::parse(&r.text("sku")?).map_err(|e| corrupt("sku", e))?,
                    threshold: r.int("low_stock_threshold")?,
                    available: r.int("available")?,
                })
            })
            .collect()
    }

    async fn stock_adjustments(&self, sku: &Sku, limit: u32) -> StoreResult<Vec<StockAdjustment>> {
        let rows = sqlx::query(
            "SELECT id, sku, location_id, delta, reason, note, actor_id, actor_role, on_hand_after, at \
             FROM stock_adjustments WHERE sku = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(sku.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(adjustment_from_row).collect()
    }

    async fn variants_for_sale(&self, skus: &[Sku]) -> StoreResult<Vec<VariantForSale>> {
        fetch_variants_for_sale(&self.reader, skus).await
    }

    async fn available(&self, skus: &[Sku]) -> StoreResult<Vec<(Sku, i64)>> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        // SUM of bigint is numeric on PostgreSQL: cast back so both read an i64.
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT sku, CAST(SUM(on_hand - reserved) AS BIGINT) AS available FROM stock WHERE sku IN (",
        );
        let mut list = qb.separated(", ");
        for sku in skus {
            list.push_bind(sku.as_str());
        }
        qb.push(") GROUP BY sku");
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    Sku::parse(&r.text("sku")?).map_err(|e| corrupt("sku", e))?,
                    r.int("available")?,
                ))
            })
            .collect()
    }

    async fn price_list(
        &self,
        currency: Currency,
        vendor: Option<VendorId>,
        after_sku: Option<&Sku>,
        limit: u32,
    ) -> StoreResult<Vec<PriceListEntry>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT v.sku, p.vendor_id, vp.amount_minor FROM variant_prices vp \
             JOIN variants v ON v.id = vp.variant_id JOIN products p ON p.id = v.product_id \
             WHERE vp.currency = ",
        );
        qb.push_bind(currency.code());
        if let Some(v) = vendor {
            qb.push(" AND p.vendor_id = ").push_bind(v.0);
        }
        if let Some(after) = after_sku {
            qb.push(" AND v.sku > ").push_bind(after.as_str());
        }
        qb.push(" ORDER BY v.sku LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(PriceListEntry {
                    sku: Sku::parse(&r.text("sku")?).map_err(|e| corrupt("sku", e))?,
                    vendor_id: VendorId(r.uuid("vendor_id")?),
                    price: Money {
                        amount: r.int("amount_minor")?,
                        currency,
                    },
                })
            })
            .collect()
    }
}
