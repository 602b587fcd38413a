//! The pricing rules the admin keeps — FX rates, tax rules, shipping rates, promotions — and
//! the one in-memory copy of them that checkouts price with.
//!
//! Checkouts read the rules as one [`PricingBook`], cached for `Settings::pricing_ttl` (1 s):
//! a change made on this node is seen at once (the cache is dropped), one made on another node
//! within that time. What must be exact under concurrency is not cached: a promotion's use
//! count is checked and counted in the checkout's own transaction (see `checkout`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ordo_domain::ParseError;
use ordo_domain::catalog::Sku;
use ordo_domain::identity::{Actor, Proof, Role, Sensitive};
use ordo_domain::ids::{PromotionId, RuleId, VendorId};
use ordo_domain::money::{Currency, Money};
use ordo_domain::pricing::{
    Discount, FxFactor, FxRate, Percent, PricingBook, Promotion, Rounding, ShippingRate, TaxClass,
    TaxMode, TaxRule, parse_country, parse_promo_code,
};
use ordo_store::{PriceListEntry, RuleKind, StoreError, StoreTx, constraints};
use serde::{Deserialize, Serialize};

use crate::{App, AppError, AppResult};

/// Money as clients send it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneyInput {
    pub amount: i64,
    pub currency: String,
}

impl MoneyInput {
    fn parse(&self, field: &str) -> Result<Money, ParseError> {
        price(
            self.amount,
            &self.currency,
            &format!("{field}.amount"),
            &format!("{field}.currency"),
        )
    }
}

/// A price (non-negative, bounded), naming the failing field.
fn price(
    amount: i64,
    currency: &str,
    amount_field: &str,
    currency_field: &str,
) -> Result<Money, ParseError> {
    let currency = Currency::parse(currency).map_err(|e| e.at(currency_field))?;
    Money::price(amount, currency).map_err(|e| e.at(amount_field))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FxRateInput {
    pub from: String,
    pub to: String,
    /// Units of `to` per unit of `from`, a decimal string.
    pub rate: String,
    /// `half_up` (default), `half_even`, `up` or `down`.
    pub rounding: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxRuleInput {
    pub country: String,
    pub region: Option<String>,
    pub tax_class: Option<String>,
    /// A percentage as a decimal string (`"19"`, `"7.25"`).
    pub rate: String,
    /// `inclusive` (VAT/GST) or `exclusive` (sales tax).
    pub mode: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingRateInput {
    pub name: String,
    #[serde(default)]
    pub countries: Vec<String>,
    pub vendor_id: Option<uuid::Uuid>,
    pub min_weight_grams: Option<i64>,
    pub max_weight_grams: Option<i64>,
    pub price: MoneyInput,
    pub free_over: Option<MoneyInput>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionInput {
    /// Customers enter it; without one the promotion applies by itself.
    pub code: Option<String>,
    pub name: String,
    /// A percentage off, as a decimal string…
    pub percent: Option<String>,
    /// …or a fixed amount off (exactly one of the two).
    pub amount: Option<MoneyInput>,
    pub min_subtotal: Option<MoneyInput>,
    pub vendor_id: Option<uuid::Uuid>,
    pub usage_limit: Option<i64>,
    pub active: Option<bool>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// One SKU's price in one currency, as a price list entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceInput {
    pub sku: String,
    pub currency: String,
    pub amount: i64,
}

impl PriceInput {
    fn parse(&self) -> Result<(Sku, Money), ParseError> {
        let sku = Sku::parse(&self.sku).map_err(|e| e.at("sku"))?;
        Ok((
            sku,
            price(self.amount, &self.currency, "amount", "currency")?,
        ))
    }
}

/// A whole set of rules, as `ordo pricing import` reads it from a file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingImport {
    /// Price list entries: a SKU's price in a currency, added or replaced.
    #[serde(default)]
    pub prices: Vec<PriceInput>,
    #[serde(default)]
    pub fx_rates: Vec<FxRateInput>,
    #[serde(default)]
    pub tax_rules: Vec<TaxRuleInput>,
    #[serde(default)]
    pub shipping_rates: Vec<ShippingRateInput>,
    #[serde(default)]
    pub promotions: Vec<PromotionInput>,
}

/// What an import changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub prices: usize,
    pub fx_rates: usize,
    pub tax_rules: usize,
    pub shipping_rates: usize,
    pub promotions: usize,
}

fn rounding(raw: Option<&str>) -> Result<Rounding, ParseError> {
    match raw {
        None | Some("half_up") => Ok(Rounding::HalfUp),
        Some("half_even") => Ok(Rounding::HalfEven),
        Some("up") => Ok(Rounding::Up),
        Some("down") => Ok(Rounding::Down),
        Some(_) => Err(ParseError::new(
            "invalid_rounding",
            "rounding is half_up, half_even, up or down",
        )
        .at("rounding")),
    }
}

fn name(raw: &str) -> Result<String, ParseError> {
    ordo_domain::catalog::Name::parse(raw)
        .map(|n| n.as_str().to_owned())
        .map_err(|e| e.at("name"))
}

impl FxRateInput {
    pub fn parse(&self) -> Result<FxRate, ParseError> {
        let from = Currency::parse(&self.from).map_err(|e| e.at("from"))?;
        let to = Currency::parse(&self.to).map_err(|e| e.at("to"))?;
        if from == to {
            return Err(
                ParseError::new("invalid_rate", "from and to are the same currency").at("to"),
            );
        }
        Ok(FxRate {
            id: RuleId::new(),
            from,
            to,
            rate: FxFactor::parse(&self.rate).map_err(|e| e.at("rate"))?,
            rounding: rounding(self.rounding.as_deref())?,
        })
    }
}

impl TaxRuleInput {
    pub fn parse(&self) -> Result<TaxRule, ParseError> {
        let region = match self.region.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(r) => Some(
                ordo_domain::catalog::Name::parse(r)
                    .map_err(|e| e.at("region"))?
                    .as_str()
                    .to_owned(),
            ),
        };
        Ok(TaxRule {
            id: RuleId::new(),
            country: parse_country(&self.country).map_err(|e| e.at("country"))?,
            region,
            tax_class: match &self.tax_class {
                Some(c) => TaxClass::parse(c).map_err(|e| e.at("tax_class"))?,
                None => TaxClass::standard(),
            },
            rate: Percent::parse(&self.rate).map_err(|e| e.at("rate"))?,
            mode: match self.mode.as_str() {
                "inclusive" => TaxMode::Inclusive,
                "exclusive" => TaxMode::Exclusive,
                _ => {
                    return Err(ParseError::new(
                        "invalid_tax_mode",
                        "mode is inclusive (VAT/GST) or exclusive (sales tax)",
                    )
                    .at("mode"));
                }
            },
            name: name(&self.name)?,
        })
    }
}

fn grams(raw: Option<i64>, field: &str) -> Result<Option<u32>, ParseError> {
    raw.map(|g| {
        u32::try_from(g).map_err(|_| {
            ParseError::new("invalid_weight", "weights are 0 to 4294967295 grams").at(field)
        })
    })
    .transpose()
}

impl ShippingRateInput {
    pub fn parse(&self) -> Result<ShippingRate, ParseError> {
        let countries = self
            .countries
            .iter()
            .enumerate()
            .map(|(i, c)| parse_country(c).map_err(|e| e.at(format!("countries[{i}]"))))
            .collect::<Result<Vec<_>, _>>()?;
        let price = self.price.parse("price")?;
        let free_over = self
            .free_over
            .as_ref()
            .map(|m| m.parse("free_over"))
            .transpose()?;
        let min = grams(self.min_weight_grams, "min_weight_grams")?.unwrap_or(0);
        let max = grams(self.max_weight_grams, "max_weight_grams")?;
        if max.is_some_and(|m| m <= min) {
            return Err(ParseError::new(
                "invalid_weight",
                "max_weight_grams must be above min_weight_grams",
            )
            .at("max_weight_grams"));
        }
        Ok(ShippingRate {
            id: RuleId::new(),
            name: name(&self.name)?,
            countries,
            vendor_id: self.vendor_id.map(VendorId),
            min_weight_grams: min,
            max_weight_grams: max,
            price,
            free_over,
        })
    }
}

impl PromotionInput {
    pub fn parse(&self) -> Result<Promotion, ParseError> {
        let discount = match (&self.percent, &self.amount) {
            (Some(p), None) => Discount::Percentage {
                percent: Percent::parse(p).map_err(|e| e.at("percent"))?,
            },
            (None, Some(m)) => Discount::Fixed {
                amount: m.parse("amount")?,
            },
            _ => {
                return Err(ParseError::new(
                    "invalid_discount",
                    "give exactly one of percent and amount",
                )
                .at("percent"));
            }
        };
        let usage_limit = self
            .usage_limit
            .map(|n| {
                u32::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
                    ParseError::new("invalid_usage_limit", "usage_limit is at least 1")
                        .at("usage_limit")
                })
            })
            .transpose()?;
        if let (Some(s), Some(e)) = (self.starts_at, self.ends_at)
            && e <= s
        {
            return Err(
                ParseError::new("invalid_period", "ends_at must be after starts_at").at("ends_at"),
            );
        }
        Ok(Promotion {
            id: PromotionId::new(),
            code: self
                .code
                .as_deref()
                .map(parse_promo_code)
                .transpose()
                .map_err(|e| e.at("code"))?,
            name: name(&self.name)?,
            discount,
            min_subtotal: self
                .min_subtotal
                .as_ref()
                .map(|m| m.parse("min_subtotal"))
                .transpose()?,
            vendor_id: self.vendor_id.map(VendorId),
            usage_limit,
            uses: 0,
            active: self.active.unwrap_or(true),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
        })
    }
}

impl App {
    /// Pricing rules are the admins' to change, with a fresh proof of identity.
    fn pricing_admin(&self, actor: &Actor, proof: Proof) -> AppResult<()> {
        admin_only(actor)?;
        self.require_fresh(actor, proof, Sensitive::ChangePricingRules)
    }
}

fn admin_only(actor: &Actor) -> AppResult<()> {
    if matches!(actor.role, Role::Admin | Role::System) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "a {} cannot change pricing rules; admins do",
            actor.role
        )))
    }
}

/// A pricing rule kept as a document in the store, under its natural key: one FX rate per
/// currency pair and one tax rule per place and class replace each other; shipping rates have
/// no natural key (each is its own).
trait StoredRule: Serialize {
    const KIND: RuleKind;
    fn id(&self) -> RuleId;
    fn key(&self) -> String;

    /// The key and JSON document the store keeps.
    fn document(&self) -> AppResult<(String, Box<serde_json::value::RawValue>)> {
        let data =
            serde_json::value::to_raw_value(self).map_err(|e| AppError::Internal(e.into()))?;
        Ok((self.key(), data))
    }
}

impl StoredRule for FxRate {
    const KIND: RuleKind = RuleKind::Fx;
    fn id(&self) -> RuleId {
        self.id
    }
    fn key(&self) -> String {
        format!("{}>{}", self.from, self.to)
    }
}

impl StoredRule for TaxRule {
    const KIND: RuleKind = RuleKind::Tax;
    fn id(&self) -> RuleId {
        self.id
    }
    fn key(&self) -> String {
        let region = self.region.as_deref().map(|r| r.trim().to_lowercase());
        format!(
            "{}|{}|{}",
            self.country,
            region.unwrap_or_default(),
            self.tax_class.as_str()
        )
    }
}

impl StoredRule for ShippingRate {
    const KIND: RuleKind = RuleKind::Shipping;
    fn id(&self) -> RuleId {
        self.id
    }
    fn key(&self) -> String {
        self.id.to_string()
    }
}

impl App {
    /// Puts a SKU on a currency's price list at `amount` (or changes its price there): the
    /// vendor selling it, or an admin. Carts show it at once; orders keep the price they had.
    pub async fn set_price(
        &self,
        actor: &Actor,
        sku: &str,
        currency: &str,
        amount: i64,
    ) -> AppResult<()> {
        let (sku, price) = PriceInput {
            sku: sku.to_owned(),
            currency: currency.to_owned(),
            amount,
        }
        .parse()?;
        self.change_price(actor, sku, price.currency, Some(price))
            .await
    }

    /// Takes a SKU off a currency's price list (it can then be sold in that currency only
    /// through an FX rate).
    pub async fn delete_price(&self, actor: &Actor, sku: &str, currency: &str) -> AppResult<()> {
        let sku = Sku::parse(sku).map_err(|_| AppError::NotFound("price"))?;
        let currency = Currency::parse(currency).map_err(|_| AppError::NotFound("price"))?;
        self.change_price(actor, sku, currency, None).await
    }

    async fn change_price(
        &self,
        actor: &Actor,
        sku: Sku,
        currency: Currency,
        price: Option<Money>,
    ) -> AppResult<()> {
        let actor = *actor;
        self.write(move |tx| {
            Box::pin(async move { store_price(tx, &actor, &sku, currency, price).await })
        })
        .await
    }

    /// One currency's price list, by SKU (`after`: the last SKU of the previous page).
    pub async fn price_list(
        &self,
        currency: &str,
        vendor: Option<VendorId>,
        after: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<(Vec<PriceListEntry>, bool)> {
        let currency = Currency::parse(currency).map_err(|e| e.at("currency"))?;
        let after = after
            .map(Sku::parse)
            .transpose()
            .map_err(|e| e.at("starting_after"))?;
        let limit = crate::paging::page_limit(limit)?;
        let mut rows = self
            .store
            .price_list(currency, vendor, after.as_ref(), limit + 1)
            .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok((rows, more))
    }

    /// The rules checkouts price with (cached; see the module docs).
    pub async fn pricing_book(&self) -> AppResult<Arc<PricingBook>> {
        if let Some(book) = self.pricing.get(&()) {
            return Ok(book);
        }
        let book = Arc::new(self.store.pricing_book().await?);
        self.pricing.insert((), Arc::clone(&book));
        Ok(book)
    }

    /// Stores a rule, replacing the one with the same natural key; returns its id.
    async fn put_rule<R: StoredRule>(
        &self,
        actor: &Actor,
        proof: Proof,
        rule: &R,
    ) -> AppResult<RuleId> {
        self.pricing_admin(actor, proof)?;
        let (key, data) = rule.document()?;
        let (kind, id) = (R::KIND, rule.id());
        let now = self.now();
        let stored = self
            .write_once(move |tx| {
                Box::pin(async move { Ok(tx.put_rule(kind, &key, id, &data, now).await?) })
            })
            .await?;
        self.pricing.invalidate_all();
        Ok(stored)
    }

    pub async fn put_fx_rate(
        &self,
        actor: &Actor,
        proof: Proof,
        input: &FxRateInput,
    ) -> AppResult<FxRate> {
        let mut rate = input.parse()?;
        rate.id = self.put_rule(actor, proof, &rate).await?;
        Ok(rate)
    }

    pub async fn put_tax_rule(
        &self,
        actor: &Actor,
        proof: Proof,
        input: &TaxRuleInput,
    ) -> AppResult<TaxRule> {
        let mut rule = input.parse()?;
        rule.id = self.put_rule(actor, proof, &rule).await?;
        Ok(rule)
    }

    /// Refuses a rule naming a vendor that does not exist.
    async fn check_vendor(&self, vendor: Option<VendorId>) -> AppResult<()> {
        if let Some(v) = vendor {
            self.store.vendor(v).await?.ok_or_else(|| {
                ParseError::new("unknown_vendor", format!("no vendor {v}")).at("vendor_id")
            })?;
        }
        Ok(())
    }

    pub async fn add_shipping_rate(
        &self,
        actor: &Actor,
        proof: Proof,
        input: &ShippingRateInput,
    ) -> AppResult<ShippingRate> {
        let mut rate = input.parse()?;
        self.check_vendor(rate.vendor_id).await?;
        rate.id = self.put_rule(actor, proof, &rate).await?;
        Ok(rate)
    }

    /// Deletes an FX rate, tax rule or shipping rate.
    pub async fn delete_rule(
        &self,
        actor: &Actor,
        proof: Proof,
        kind: RuleKind,
        id: RuleId,
    ) -> AppResult<()> {
        self.pricing_admin(actor, proof)?;
        let found = self
            .write(move |tx| Box::pin(async move { Ok(tx.delete_rule(kind, id).await?) }))
            .await?;
        self.pricing.invalidate_all();
        if found {
            Ok(())
        } else {
            Err(AppError::NotFound("rule"))
        }
    }

    pub async fn create_promotion(
        &self,
        actor: &Actor,
        proof: Proof,
        input: &PromotionInput,
    ) -> AppResult<Promotion> {
        self.pricing_admin(actor, proof)?;
        let promotion = input.parse()?;
        self.check_vendor(promotion.vendor_id).await?;
        let now = self.now();
        let promotion = self
            .write_once(move |tx| {
                Box::pin(async move {
                    store_promotion(tx, &promotion, now).await?;
                    Ok(promotion)
                })
            })
            .await?;
        self.pricing.invalidate_all();
        Ok(promotion)
    }

    /// Switches a promotion on or off, or changes its limit or end; its use count is kept.
    pub async fn update_promotion(
        &self,
        actor: &Actor,
        proof: Proof,
        id: PromotionId,
        active: Option<bool>,
        usage_limit: Option<Option<i64>>,
        ends_at: Option<Option<DateTime<Utc>>>,
    ) -> AppResult<Promotion> {
        self.pricing_admin(actor, proof)?;
        let book = self.store.pricing_book().await?;
        let mut p = book
            .promotions
            .iter()
            .find(|p| p.id == id)
            .cloned()
            .ok_or(AppError::NotFound("promotion"))?;
        if let Some(a) = active {
            p.active = a;
        }
        if let Some(limit) = usage_limit {
            p.usage_limit = limit
                .map(|n| {
                    u32::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
                        ParseError::new("invalid_usage_limit", "usage_limit is at least 1")
                            .at("usage_limit")
                    })
                })
                .transpose()?;
            if p.usage_limit.is_some_and(|l| l < p.uses) {
                return Err(ParseError::new(
                    "invalid_usage_limit",
                    format!("the promotion was already used {} times", p.uses),
                )
                .at("usage_limit")
                .into());
            }
        }
        if let Some(end) = ends_at {
            p.ends_at = end;
        }
        let now = self.now();
        let p = self
            .write_once(move |tx| {
                Box::pin(async move {
                    match tx.update_promotion(&p, now).await {
                        // A checkout used it meanwhile past the new limit.
                        Err(StoreError::Conflict(c))
                            if c == constraints::PROMOTIONS_USES_WITHIN_LIMIT =>
                        {
                            Err(AppError::conflict(
                                "usage_limit_below_uses",
                                "the promotion was used more often than that",
                                Some("usage_limit"),
                            ))
                        }
                        Ok(true) => Ok(p),
                        Ok(false) => Err(AppError::NotFound("promotion")),
                        Err(e) => Err(e.into()),
                    }
                })
            })
            .await?;
        self.pricing.invalidate_all();
        Ok(p)
    }

    /// Every rule, fresh from the database (for admins and support).
    pub async fn pricing_rules(&self, actor: &Actor) -> AppResult<PricingBook> {
        if !matches!(actor.role, Role::Admin | Role::Support | Role::System) {
            return Err(AppError::Forbidden(format!(
                "a {} cannot read pricing rules",
                actor.role
            )));
        }
        Ok(self.store.pricing_book().await?)
    }

    /// Applies a whole file of rules (`ordo pricing import`) in one transaction: every entry is
    /// checked first, and if any is refused (an unknown SKU, a taken code) nothing is stored.
    pub async fn import_pricing(
        &self,
        actor: &Actor,
        proof: Proof,
        import: &PricingImport,
    ) -> AppResult<ImportSummary> {
        self.pricing_admin(actor, proof)?;
        fn at(what: &'static str, i: usize) -> impl Fn(ParseError) -> ParseError {
            move |e| {
                let inner = e.field.clone().unwrap_or_default();
                ParseError {
                    field: Some(
                        format!("{what}[{i}].{inner}")
                            .trim_end_matches('.')
                            .to_owned(),
                    ),
                    ..e
                }
            }
        }
        let in_entry = |what: &'static str, i: usize| {
            move |e: AppError| match e {
                AppError::Invalid(p) => AppError::Invalid(at(what, i)(p)),
                AppError::Conflict {
                    code,
                    message,
                    field,
                } => AppError::Conflict {
                    code,
                    message,
                    field: Some(format!("{what}[{i}].{}", field.unwrap_or_default())),
                },
                other => other,
            }
        };
        let mut prices = Vec::with_capacity(import.prices.len());
        for (i, r) in import.prices.iter().enumerate() {
            prices.push(r.parse().map_err(at("prices", i))?);
        }
        let mut rules = Vec::new();
        for (i, r) in import.fx_rates.iter().enumerate() {
            let rate = r.parse().map_err(at("fx_rates", i))?;
            let (key, data) = rate.document()?;
            rules.push((RuleKind::Fx, key, rate.id, data));
        }
        for (i, r) in import.tax_rules.iter().enumerate() {
            let rule = r.parse().map_err(at("tax_rules", i))?;
            let (key, data) = rule.document()?;
            rules.push((RuleKind::Tax, key, rule.id, data));
        }
        for (i, r) in import.shipping_rates.iter().enumerate() {
            let rate = r.parse().map_err(at("shipping_rates", i))?;
            self.check_vendor(rate.vendor_id)
                .await
                .map_err(in_entry("shipping_rates", i))?;
            let (key, data) = rate.document()?;
            rules.push((RuleKind::Shipping, key, rate.id, data));
        }
        let mut promotions = Vec::with_capacity(import.promotions.len());
        for (i, r) in import.promotions.iter().enumerate() {
            let p = r.parse().map_err(at("promotions", i))?;
            self.check_vendor(p.vendor_id)
                .await
                .map_err(in_entry("promotions", i))?;
            promotions.push(p);
        }
        let (actor, now) = (*actor, self.now());
        self.write(move |tx| {
            Box::pin(async move {
                for (i, (sku, price)) in prices.iter().enumerate() {
                    store_price(tx, &actor, sku, price.currency, Some(*price))
                        .await
                        .map_err(|e| match e {
                            AppError::NotFound(_) => {
                                ParseError::new("unknown_sku", format!("no product has SKU {sku}"))
                                    .at(format!("prices[{i}].sku"))
                                    .into()
                            }
                            other => other,
                        })?;
                }
                for (kind, key, id, data) in &rules {
                    tx.put_rule(*kind, key, *id, data, now).await?;
                }
                for (i, p) in promotions.iter().enumerate() {
                    store_promotion(tx, p, now)
                        .await
                        .map_err(in_entry("promotions", i))?;
                }
                Ok(())
            })
        })
        .await?;
        self.pricing.invalidate_all();
        Ok(ImportSummary {
            prices: import.prices.len(),
            fx_rates: import.fx_rates.len(),
            tax_rules: import.tax_rules.len(),
            shipping_rates: import.shipping_rates.len(),
            promotions: import.promotions.len(),
        })
    }
}

/// Stores a new promotion in `tx`; a taken code is a 409.
async fn store_promotion(
    tx: &mut dyn StoreTx,
    promotion: &Promotion,
    now: DateTime<Utc>,
) -> AppResult<()> {
    match tx.insert_promotion(promotion, now).await {
        Err(StoreError::Conflict(c)) if c == constraints::PROMOTIONS_CODE_KEY => {
            Err(AppError::conflict(
                "code_taken",
                "another promotion has this code",
                Some("code"),
            ))
        }
        other => Ok(other?),
    }
}

/// Sets (`Some`) or removes (`None`) a SKU's price in one currency, in `tx`, for the vendor
/// selling it or an admin.
async fn store_price(
    tx: &mut dyn StoreTx,
    actor: &Actor,
    sku: &Sku,
    currency: Currency,
    price: Option<Money>,
) -> AppResult<()> {
    if !matches!(actor.role, Role::Vendor | Role::Admin | Role::System) {
        return Err(AppError::Forbidden(format!(
            "a {} cannot set prices",
            actor.role
        )));
    }
    let vendor = tx.sku_vendor(sku).await?.ok_or(AppError::NotFound("sku"))?;
    if !actor.manages_vendor(vendor) {
        return Err(AppError::NotFound("sku"));
    }
    let found = match price {
        Some(p) => tx.set_price(sku, p).await?,
        None => tx.delete_price(sku, currency).await?,
    };
    if found {
        Ok(())
    } else {
        Err(AppError::NotFound("price"))
    }
}
