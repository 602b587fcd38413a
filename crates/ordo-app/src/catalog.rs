//! Vendors, their stock locations, and products with variants and prices.

use ordo_domain::ParseError;
use ordo_domain::catalog::{Location, LocationCode, Name, Product, Sku, Variant, Vendor};
use ordo_domain::identity::{Actor, Role};
use ordo_domain::ids::{LocationId, ProductId, VariantId, VendorId};
use ordo_domain::inventory::{StockDeduction, parse_on_hand};
use ordo_domain::money::{Currency, Money};
use ordo_domain::pricing::TaxClass;
use ordo_store::{StoreError, constraints};

use crate::{App, AppError, AppResult};

#[derive(Debug, Clone)]
pub struct NewProduct {
    pub vendor_id: VendorId,
    pub title: String,
    /// `standard` when not given.
    pub tax_class: Option<String>,
    /// `at_order` (default) or `at_payment`.
    pub stock_deduction: Option<String>,
    pub variants: Vec<NewVariant>,
}

#[derive(Debug, Clone)]
pub struct NewVariant {
    pub sku: String,
    pub title: Option<String>,
    pub prices: Vec<(String, i64)>,
    pub weight_grams: Option<i64>,
    pub low_stock_threshold: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewLocation {
    pub vendor_id: VendorId,
    pub code: String,
    pub name: String,
    pub priority: i32,
}

impl App {
    /// Creates a vendor with its default stock location (`main`).
    pub async fn create_vendor(&self, actor: &Actor, name: &str) -> AppResult<Vendor> {
        if !matches!(actor.role, Role::Admin | Role::System) {
            return Err(AppError::Forbidden("only admins create vendors".into()));
        }
        let vendor = Vendor {
            id: VendorId::new(),
            name: Name::parse(name).map_err(|e| e.at("name"))?,
        };
        let location = Location {
            id: LocationId::new(),
            vendor_id: vendor.id,
            code: LocationCode::default_code(),
            name: Name::parse("Main warehouse").expect("a valid name"),
            priority: 0,
        };
        let (now, stored) = (self.now(), vendor);
        self.write_once(move |tx| {
            Box::pin(async move {
                match tx.insert_vendor(&stored, now).await {
                    Err(StoreError::Conflict(c)) if c == constraints::VENDORS_NAME_KEY => {
                        return Err(AppError::conflict(
                            "vendor_name_taken",
                            format!("a vendor is already named {:?}", stored.name.as_str()),
                            Some("name"),
                        ));
                    }
                    other => other?,
                }
                tx.insert_location(&location, now).await?;
                Ok(stored)
            })
        })
        .await
    }

    /// A vendor, visible to its own staff, support and admins.
    pub async fn vendor(&self, actor: &Actor, id: VendorId) -> AppResult<Vendor> {
        if !(actor.manages_vendor(id) || actor.role == Role::Support) {
            return Err(AppError::NotFound("vendor"));
        }
        self.store
            .vendor(id)
            .await?
            .ok_or(AppError::NotFound("vendor"))
    }

    /// Every vendor, as shoppers see them (the storefront names who sells what).
    pub async fn shop_vendors(&self) -> AppResult<Vec<Vendor>> {
        Ok(self.store.vendors().await?)
    }

    /// Units available now per SKU (over all locations), as shoppers see them.
    pub async fn availability(&self, skus: &[Sku]) -> AppResult<Vec<(Sku, i64)>> {
        Ok(self.store.available(skus).await?)
    }

    /// The vendors the actor may see: all for admins and support, its own for a vendor.
    pub async fn vendors(&self, actor: &Actor) -> AppResult<Vec<Vendor>> {
        match actor.role {
            Role::Admin | Role::Support | Role::System => Ok(self.store.vendors().await?),
            Role::Vendor => {
                let own = actor.vendor_id.ok_or(AppError::Unauthenticated)?;
                Ok(self.store.vendor(own).await?.into_iter().collect())
            }
            _ => Err(AppError::Forbidden(format!(
                "a {} cannot list vendors",
                actor.role
            ))),
        }
    }

    pub async fn create_location(&self, actor: &Actor, input: NewLocation) -> AppResult<Location> {
        // The vendor is named by the path here: an unknown one is a 404, like a foreign one.
        self.require_vendor_manager(actor, input.vendor_id)
            .await
            .map_err(|e| match e {
                AppError::Invalid(p) if p.code == "unknown_vendor" => AppError::NotFound("vendor"),
                other => other,
            })?;
        let location = Location {
            id: LocationId::new(),
            vendor_id: input.vendor_id,
            code: LocationCode::parse(&input.code).map_err(|e| e.at("code"))?,
            name: Name::parse(&input.name).map_err(|e| e.at("name"))?,
            priority: input.priority,
        };
        let now = self.now();
        self.write_once(move |tx| {
            Box::pin(async move {
                match tx.insert_location(&location, now).await {
                    Err(StoreError::Conflict(c)) if c == constraints::LOCATIONS_VENDOR_CODE_KEY => {
                        Err(AppError::conflict(
                            "location_exists",
                            format!("location {} already exists", location.code.as_str()),
                            Some("code"),
                        ))
                    }
                    other => {
                        other?;
                        Ok(location)
                    }
                }
            })
        })
        .await
    }

    pub async fn locations(&self, actor: &Actor, vendor: VendorId) -> AppResult<Vec<Location>> {
        self.vendor(actor, vendor).await?;
        Ok(self.store.locations(vendor).await?)
    }

    pub async fn create_product(&self, actor: &Actor, input: NewProduct) -> AppResult<Product> {
        self.require_vendor_manager(actor, input.vendor_id).await?;
        let mut variants = Vec::with_capacity(input.variants.len());
        for (i, v) in input.variants.into_iter().enumerate() {
            let at = |f: &str| format!("variants[{i}].{f}");
            let mut prices = Vec::with_capacity(v.prices.len());
            for (j, (code, amount)) in v.prices.into_iter().enumerate() {
                let currency = Currency::parse(&code)
                    .map_err(|e| e.at(at(&format!("prices[{j}].currency"))))?;
                prices.push(
                    Money::price(amount, currency)
                        .map_err(|e| e.at(at(&format!("prices[{j}].amount"))))?,
                );
            }
            variants.push(Variant {
                id: VariantId::new(),
                sku: Sku::parse(&v.sku).map_err(|e| e.at(at("sku")))?,
                title: v
                    .title
                    .filter(|t| !t.is_empty())
                    .map(|t| Name::parse(&t))
                    .transpose()
                    .map_err(|e| e.at(at("title")))?,
                prices,
                weight_grams: match v.weight_grams {
                    None => 0,
                    Some(w) => u32::try_from(w)
                        .ok()
                        .filter(|w| *w <= 1_000_000_000)
                        .ok_or_else(|| {
                            ParseError::new(
                                "invalid_weight",
                                "weight_grams must be between 0 and 1000000000",
                            )
                            .at(at("weight_grams"))
                        })?,
                },
                low_stock_threshold: v
                    .low_stock_threshold
                    .map(parse_on_hand)
                    .transpose()
                    .map_err(|e| e.at(at("low_stock_threshold")))?,
            });
        }
        let product = Product {
            id: ProductId::new(),
            vendor_id: input.vendor_id,
            title: Name::parse(&input.title).map_err(|e| e.at("title"))?,
            tax_class: match &input.tax_class {
                Some(c) => TaxClass::parse(c).map_err(|e| e.at("tax_class"))?,
                None => TaxClass::standard(),
            },
            stock_deduction: match &input.stock_deduction {
                Some(d) => StockDeduction::parse(d).map_err(|e| e.at("stock_deduction"))?,
                None => StockDeduction::AtOrder,
            },
            variants,
        };
        product.check()?;
        let now = self.now();
        self.write_once(move |tx| {
            Box::pin(async move {
                match tx.insert_product(&product, now).await {
                    Err(StoreError::Conflict(c)) if c == constraints::VARIANTS_SKU_KEY => {
                        Err(AppError::conflict(
                            "sku_taken",
                            "one of the SKUs is already in use",
                            Some("variants"),
                        ))
                    }
                    other => {
                        other?;
                        Ok(product)
                    }
                }
            })
        })
        .await
    }

    /// A product; the catalog is public to every logged-in user.
    pub async fn product(&self, id: ProductId) -> AppResult<Product> {
        self.store
            .product(id)
            .await?
            .ok_or(AppError::NotFound("product"))
    }

    pub async fn products(&self, vendor: Option<VendorId>, limit: u32) -> AppResult<Vec<Product>> {
        Ok(self.store.products(vendor, limit).await?)
    }

    /// Admins, or the vendor's own staff; anyone else learns nothing about the vendor.
    pub(crate) async fn require_vendor_manager(
        &self,
        actor: &Actor,
        vendor: VendorId,
    ) -> AppResult<()> {
        match actor.role {
            Role::Admin | Role::System | Role::Vendor => {}
            _ => {
                return Err(AppError::Forbidden(format!(
                    "a {} cannot manage a catalog",
                    actor.role
                )));
            }
        }
        if !actor.manages_vendor(vendor) {
            return Err(AppError::NotFound("vendor"));
        }
        if self.store.vendor(vendor).await?.is_none() {
            return Err(
                ParseError::new("unknown_vendor", format!("no vendor {vendor}"))
                    .at("vendor_id")
                    .into(),
            );
        }
        Ok(())
    }
}
