//! The catalog: vendors, products, variants and their prices.
//!
//! A product groups variants; a variant is what is sold and stocked, named to people by its SKU.
//! Prices are per variant and per currency (a variant without a price in a currency cannot be
//! ordered in it).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{LocationId, ProductId, VariantId, VendorId};
use crate::inventory::StockDeduction;
use crate::money::Money;
use crate::{ParseError, check_text};

/// A stock-keeping unit: 1–64 characters of letters, digits, `-`, `_` and `.`. Unique across the
/// platform, so an order line or a stock row names exactly one variant. Case is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParseError::new(
                "invalid_sku",
                "a SKU is 1 to 64 characters of letters, digits, '-', '_' and '.'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name (vendor, product, variant, location): 1–200 characters, any script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        check_text(raw, 200, "invalid_name")?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A short code for a stock location, unique per vendor (`main`, `berlin-1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocationCode(String);

impl LocationCode {
    /// Every vendor is created with one location of this code; stock updates default to it.
    pub const DEFAULT: &'static str = "main";

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if crate::is_code_token(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParseError::new(
                "invalid_location",
                "a location code is 1 to 40 characters of lower-case letters, digits, '-' and '_'",
            ))
        }
    }

    pub fn default_code() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for LocationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::string_form!(Sku, Name, LocationCode);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vendor {
    pub id: VendorId,
    pub name: Name,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub id: LocationId,
    pub vendor_id: VendorId,
    pub code: LocationCode,
    pub name: Name,
    /// Lower ranks are allocated from first.
    pub priority: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub vendor_id: VendorId,
    pub title: Name,
    /// Which tax rules apply to it (`standard` unless set).
    pub tax_class: TaxClass,
    /// When its stock is taken for an order.
    pub stock_deduction: StockDeduction,
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub id: VariantId,
    pub sku: Sku,
    /// What tells this variant from its siblings ("Red / M"); none for a single-variant product.
    pub title: Option<Name>,
    pub prices: Vec<Money>,
    /// Shipping weight of one unit.
    pub weight_grams: u32,
    /// Available stock at or below this is low: crossing it emits `stock.low`.
    pub low_stock_threshold: Option<i64>,
}

impl Product {
    /// Checks the rules a product must satisfy as a whole: at least one variant, SKUs unique
    /// within it, at most one price per currency per variant.
    pub fn check(&self) -> Result<(), ParseError> {
        if self.variants.is_empty() {
            return Err(
                ParseError::new("invalid_product", "a product needs at least one variant")
                    .at("variants"),
            );
        }
        if self.variants.len() > 100 {
            return Err(
                ParseError::new("invalid_product", "a product has at most 100 variants")
                    .at("variants"),
            );
        }
        for (i, v) in self.variants.iter().enumerate() {
            if self.variants[..i].iter().any(|o| o.sku == v.sku) {
                return Err(ParseError::new(
                    "duplicate_sku",
                    format!("SKU {} appears twice", v.sku),
                )
                .at(format!("variants[{i}].sku")));
            }
            if v.prices.is_empty() {
                return Err(ParseError::new(
                    "invalid_product",
                    "a variant needs at least one price",
                )
                .at(format!("variants[{i}].prices")));
            }
            for (j, p) in v.prices.iter().enumerate() {
                if v.prices[..j].iter().any(|o| o.currency == p.currency) {
                    return Err(ParseError::new(
                        "duplicate_price",
                        format!("two prices in {}", p.currency),
                    )
                    .at(format!("variants[{i}].prices[{j}].currency")));
                }
            }
        }
        Ok(())
    }
}

/// A variant as an order sees it: what it is, who sells it and its price in the order currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantForSale {
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub vendor_id: VendorId,
    pub sku: Sku,
    /// Product title, plus the variant's own title when it has one.
    pub title: String,
    /// Its prices, one per currency (see `pricing::resolve_price` for other currencies).
    pub prices: Vec<Money>,
    pub tax_class: TaxClass,
    pub deduction: StockDeduction,
    pub weight_grams: u32,
    pub low_stock_threshold: Option<i64>,
    /// The platform's commission on the vendor's sales, in basis points (frozen on each order's
    /// share of a payment at checkout).
    pub commission_bp: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_restricted_to_a_safe_alphabet() {
        assert!(Sku::parse("TEE-RED_M.1").is_ok());
        for bad in ["", "has space", "ümlaut", "a/b", &"x".repeat(65)] {
            assert!(Sku::parse(bad).is_err(), "{bad} accepted");
        }
    }
}

/// A tax class of a product (`standard`, `reduced`, `zero`…; `shipping` taxes shipping): 1–40
/// characters of lower-case letters, digits, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaxClass(String);

impl TaxClass {
    pub const STANDARD: &'static str = "standard";
    /// The class whose rule taxes shipping charges.
    pub const SHIPPING: &'static str = "shipping";

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if crate::is_code_token(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParseError::new(
                "invalid_tax_class",
                "a tax class is 1 to 40 characters of lower-case letters, digits, '-' and '_'",
            ))
        }
    }

    pub fn standard() -> Self {
        Self(Self::STANDARD.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaxClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::string_form!(TaxClass);
