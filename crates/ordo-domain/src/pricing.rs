//! Pricing: turning a basket into exact amounts, and the rules the admin keeps for it.
//!
//! The rules are data — FX rates with their rounding rule, promotions, tax rules by country,
//! region and tax class, shipping rates by destination and weight — and [`price_basket`] applies
//! them to a basket split into one order per vendor. Everything is integer minor units with
//! `i128` intermediates and one named rounding rule per step, so a price is the same on every
//! node and every replay, and each order's totals are exact:
//! `subtotal − discount + shipping + tax = total` (tax here is the tax *added*; tax already
//! inside VAT-inclusive prices is reported beside it as `tax_included`). Every rule used is
//! returned with the amounts, for the order's frozen snapshot.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ParseError;
use crate::address::is_country_code;
use crate::catalog::Sku;
use crate::ids::{PromotionId, RuleId, VendorId};
use crate::money::{Currency, MAX_AMOUNT_MINOR, Money};

/// A percentage with up to four decimals (`19`, `8.875`), kept as parts per million.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Percent(u32);

impl Percent {
    const ONE: u32 = 1_000_000;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let bad = || {
            ParseError::new(
                "invalid_percent",
                format!("'{raw}' is not a percentage from 0 to 100 with at most 4 decimals"),
            )
        };
        let ppm = parse_decimal(raw, 4).ok_or_else(bad)?;
        // Percent with 4 decimals is ppm with scale 10^4: 8.875 -> 88_750.
        if ppm > u128::from(Self::ONE) {
            return Err(bad());
        }
        Ok(Self(ppm as u32))
    }

    pub fn from_ppm(ppm: u32) -> Self {
        Self(ppm.min(Self::ONE))
    }

    pub fn ppm(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_decimal(u128::from(self.0), 4))
    }
}

// Decimals travel as strings (`"8.875"`), exactly as written: a JSON number would pass
// through a float on the way.
crate::string_form!(Percent);

/// Parses a non-negative decimal (`12`, `0.5`, `8.875`) into an integer scaled by 10^`scale`,
/// refusing more decimals than `scale` — a rate is taken exactly as written or not at all.
fn parse_decimal(raw: &str, scale: u32) -> Option<u128> {
    let (int, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 12 || !digits(int) || !digits(frac) {
        return None;
    }
    if frac.len() > scale as usize || (raw.contains('.') && frac.is_empty()) {
        return None;
    }
    let int: u128 = int.parse().ok()?;
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    Some(int * 10u128.pow(scale) + frac_value * 10u128.pow(scale - frac.len() as u32))
}

fn format_decimal(value: u128, scale: u32) -> String {
    let unit = 10u128.pow(scale);
    let (int, frac) = (value / unit, value % unit);
    if frac == 0 {
        return int.to_string();
    }
    let frac = format!("{frac:0width$}", width = scale as usize);
    format!("{int}.{}", frac.trim_end_matches('0'))
}

/// How a division that does not come out even is rounded. Named in every rule that divides, so
/// a figure can always be recomputed from the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Half a minor unit or more rounds up (commercial rounding; taxes and discounts use it).
    #[default]
    HalfUp,
    /// Halves go to the even neighbour (banker's rounding), unbiased over many conversions.
    HalfEven,
    /// Always up (never under-charge).
    Up,
    /// Always down (never over-charge).
    Down,
}

/// `n / d` rounded by `rule`, for `n >= 0` and `d > 0`.
pub fn div_round(n: i128, d: i128, rule: Rounding) -> i128 {
    debug_assert!(n >= 0 && d > 0);
    let (q, r) = (n / d, n % d);
    if r == 0 {
        return q;
    }
    let up = match rule {
        Rounding::Down => false,
        Rounding::Up => true,
        Rounding::HalfUp => 2 * r >= d,
        Rounding::HalfEven => 2 * r > d || (2 * r == d && q % 2 == 1),
    };
    q + i128::from(up)
}

/// An exchange rate: one unit of `from` is worth `rate` units of `to`, rounded to `to`'s minor
/// unit by `rounding`. Used only for a variant that has no price in the order's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxRate {
    pub id: RuleId,
    pub from: Currency,
    pub to: Currency,
    /// Units of `to` per unit of `from`, as a decimal with up to 9 places.
    pub rate: FxFactor,
    pub rounding: Rounding,
}

/// A positive decimal with up to 9 places, kept as billionths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FxFactor(u64);

impl FxFactor {
    const SCALE: u32 = 9;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match parse_decimal(raw, Self::SCALE) {
            Some(v) if v > 0 && v <= u128::from(u64::MAX) => Ok(Self(v as u64)),
            _ => Err(ParseError::new(
                "invalid_rate",
                format!("'{raw}' is not a positive decimal with at most 9 places"),
            )),
        }
    }
}

impl fmt::Display for FxFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_decimal(u128::from(self.0), Self::SCALE))
    }
}

crate::string_form!(FxFactor);

impl FxRate {
    /// `amount` (in `from`) in `to`, rounded by the rate's rule; `None` past the amount limit.
    pub fn convert(&self, amount: Money) -> Option<Money> {
        debug_assert_eq!(amount.currency, self.from);
        let from_digits = u32::from(self.from.minor_digits());
        let to_digits = u32::from(self.to.minor_digits());
        let n = i128::from(amount.amount) * i128::from(self.rate.0) * 10i128.pow(to_digits);
        let d = 10i128.pow(FxFactor::SCALE + from_digits);
        let converted = div_round(n, d, self.rounding);
        (converted <= i128::from(MAX_AMOUNT_MINOR)).then_some(Money {
            amount: converted as i64,
            currency: self.to,
        })
    }
}

/// A price converted from another currency, as frozen on an order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxUsed {
    /// The price the vendor set, in its own currency.
    pub original: Money,
    pub rate: FxFactor,
    pub rounding: Rounding,
}

/// The unit price of a variant in `currency`: its own price there, else one of its prices
/// converted by an FX rate (the first currency, in code order, that has a rate to `currency`).
pub fn resolve_price(
    prices: &[Money],
    currency: Currency,
    fx: &[FxRate],
) -> Option<(Money, Option<FxUsed>)> {
    if let Some(p) = prices.iter().find(|p| p.currency == currency) {
        return Some((*p, None));
    }
    let mut sorted: Vec<&Money> = prices.iter().collect();
    sorted.sort_by_key(|p| p.currency.code());
    sorted.into_iter().find_map(|p| {
        let rate = fx
            .iter()
            .find(|r| r.from == p.currency && r.to == currency)?;
        let converted = rate.convert(*p)?;
        Some((
            converted,
            Some(FxUsed {
                original: *p,
                rate: rate.rate,
                rounding: rate.rounding,
            }),
        ))
    })
}

pub use crate::catalog::TaxClass;

/// Whether a tax is inside the price (VAT/GST) or added on top (US sales tax).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    Inclusive,
    Exclusive,
}

/// The tax on one tax class in one country (or one region of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxRule {
    pub id: RuleId,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// A region (state, province) as addresses write it, matched ignoring case and surrounding
    /// spaces; a rule with a region wins over the country's rule without one.
    pub region: Option<String>,
    pub tax_class: TaxClass,
    pub rate: Percent,
    pub mode: TaxMode,
    /// Shown on invoices: "VAT 19%", "CA sales tax".
    pub name: String,
}

/// Checks an ISO 3166-1 alpha-2 code, upper-casing it.
pub fn parse_country(raw: &str) -> Result<String, ParseError> {
    let code = raw.trim().to_ascii_uppercase();
    if is_country_code(&code) {
        Ok(code)
    } else {
        Err(ParseError::new(
            "invalid_country",
            format!("'{raw}' is not an ISO 3166-1 alpha-2 country code"),
        ))
    }
}

/// Region names are matched, never stored, normalised: case and surrounding spaces ignored.
fn same_region(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// What a shipment to one destination costs, by weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingRate {
    pub id: RuleId,
    pub name: String,
    /// ISO 3166-1 alpha-2 codes this rate ships to; empty for everywhere.
    pub countries: Vec<String>,
    /// A rate for one vendor's orders only; platform-wide when `None`. A vendor's own rate wins.
    pub vendor_id: Option<VendorId>,
    /// The parcel's weight must be at least this…
    pub min_weight_grams: u32,
    /// …and below this, when set.
    pub max_weight_grams: Option<u32>,
    pub price: Money,
    /// Free when the goods (after discounts) reach this amount.
    pub free_over: Option<Money>,
}

/// How a promotion takes money off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Discount {
    /// A share of the eligible goods, rounded half up to the minor unit.
    Percentage { percent: Percent },
    /// A fixed amount, in the promotion's currency, never more than the eligible goods.
    Fixed { amount: Money },
}

/// A promotion code as customers type it; matched ignoring case (kept upper-case).
pub fn parse_promo_code(raw: &str) -> Result<String, ParseError> {
    let code = raw.trim().to_ascii_uppercase();
    let ok = (1..=40).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(code)
    } else {
        Err(ParseError::new(
            "invalid_promotion_code",
            "a promotion code is 1 to 40 letters, digits, '-' or '_'",
        ))
    }
}

/// A promotion: with a `code` the customer enters it; without one it applies by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    pub id: PromotionId,
    pub code: Option<String>,
    pub name: String,
    pub discount: Discount,
    /// The eligible goods (before discounts) must reach this; its currency must be the order's.
    pub min_subtotal: Option<Money>,
    /// Only this vendor's items are eligible; all items when `None`.
    pub vendor_id: Option<VendorId>,
    /// At most this many checkouts may use it, ever (enforced by the store, under concurrency).
    pub usage_limit: Option<u32>,
    /// Checkouts that used it so far (read-only; counted by the store).
    #[serde(default)]
    pub uses: u32,
    pub active: bool,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// Why a promotion does not apply to a basket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum NotApplicable {
    #[error("the promotion is not active")]
    Inactive,
    #[error("the promotion has been used as many times as it may be")]
    Exhausted,
    #[error("the promotion is in {promotion}, the basket in {basket}")]
    OtherCurrency {
        promotion: Currency,
        basket: Currency,
    },
    #[error("the eligible items must come to at least {} minor units", minimum.amount)]
    BelowMinimum { minimum: Money },
    #[error("no item in the basket is eligible")]
    NoEligibleItems,
}

impl Promotion {
    /// Whether it may be used at `now`, before looking at the basket.
    pub fn usable(&self, now: DateTime<Utc>) -> Result<(), NotApplicable> {
        let started = self.starts_at.is_none_or(|t| t <= now);
        let not_ended = self.ends_at.is_none_or(|t| now < t);
        if !(self.active && started && not_ended) {
            return Err(NotApplicable::Inactive);
        }
        if self.usage_limit.is_some_and(|limit| self.uses >= limit) {
            return Err(NotApplicable::Exhausted);
        }
        Ok(())
    }

    fn eligible(&self, line: &BasketLine) -> bool {
        self.vendor_id.is_none_or(|v| v == line.vendor_id)
    }
}

/// All the pricing rules, as one value: what a checkout prices with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricingBook {
    pub fx: Vec<FxRate>,
    pub tax: Vec<TaxRule>,
    pub shipping: Vec<ShippingRate>,
    pub promotions: Vec<Promotion>,
}

impl PricingBook {
    /// The promotion a code names, if any.
    pub fn promotion_by_code(&self, code: &str) -> Option<&Promotion> {
        self.promotions
            .iter()
            .find(|p| p.code.as_deref() == Some(code))
    }

    /// Automatic promotions usable at `now`, in id order.
    pub fn automatic(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Promotion> {
        self.promotions
            .iter()
            .filter(move |p| p.code.is_none() && p.usable(now).is_ok())
    }
}

/// One line of a basket, priced in the basket's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasketLine {
    pub sku: Sku,
    pub vendor_id: VendorId,
    pub quantity: u32,
    pub unit_price: Money,
    pub tax_class: TaxClass,
    pub weight_grams: u32,
}

/// Where the basket ships to.
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    pub country: &'a str,
    pub region: Option<&'a str>,
}

/// A promotion's share of one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountLine {
    pub promotion_id: PromotionId,
    pub code: Option<String>,
    pub name: String,
    pub amount: Money,
}

/// The tax of one rule on one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    pub rule_id: RuleId,
    pub name: String,
    pub rate: Percent,
    pub mode: TaxMode,
    /// The amount the rate was applied to (after discounts; tax included for inclusive rules).
    pub taxable: Money,
    pub amount: Money,
}

/// The shipping charge of one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingLine {
    pub rate_id: RuleId,
    pub name: String,
    pub weight_grams: u64,
    pub amount: Money,
}

/// An order's totals; `subtotal − discount + shipping + tax = total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub subtotal: Money,
    pub discount: Money,
    pub shipping: Money,
    /// Tax added on top of the prices (exclusive rules).
    pub tax: Money,
    /// Tax already inside the prices (inclusive rules); informative, not added.
    pub tax_included: Money,
    pub total: Money,
}

impl Totals {
    pub fn zero(currency: Currency) -> Self {
        let z = Money::zero(currency);
        Self {
            subtotal: z,
            discount: z,
            shipping: z,
            tax: z,
            tax_included: z,
            total: z,
        }
    }
}

/// One basket line as priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    /// Its index in the basket.
    pub index: usize,
    pub line_total: Money,
    pub discount: Money,
    /// Tax added (exclusive) or included (inclusive) for this line.
    pub tax: Money,
}

/// One vendor's order, priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedOrder {
    pub vendor_id: VendorId,
    pub lines: Vec<PricedLine>,
    pub discounts: Vec<DiscountLine>,
    pub shipping: Option<ShippingLine>,
    pub taxes: Vec<TaxLine>,
    pub totals: Totals,
}

/// A priced basket: one order per vendor, in the order vendors first appear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedBasket {
    pub orders: Vec<PricedOrder>,
    /// The promotions that took something off, with how much in all.
    pub applied: Vec<(PromotionId, Money)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("no shipping rate ships {weight_grams} g to {country} in {currency}")]
    NoShippingRate {
        vendor_id: VendorId,
        country: String,
        currency: Currency,
        weight_grams: u64,
    },
    #[error("the promotion {code} does not apply: {reason}")]
    PromotionNotApplicable { code: String, reason: NotApplicable },
    #[error("an amount is out of range")]
    Overflow,
}

fn money(amount: i128, currency: Currency) -> Result<Money, PricingError> {
    i64::try_from(amount)
        .map(|amount| Money { amount, currency })
        .map_err(|_| PricingError::Overflow)
}

/// Splits `total` over `weights` in proportion, exactly: floors first, then the units left over
/// go to the largest remainders (earliest first on ties). Never gives a weight more than itself
/// when `total <= Σ weights`.
fn allocate_proportionally(total: i128, weights: &[i128]) -> Vec<i128> {
    let sum: i128 = weights.iter().sum();
    if sum == 0 || total == 0 {
        return vec![0; weights.len()];
    }
    let mut shares: Vec<i128> = weights.iter().map(|w| total * w / sum).collect();
    let mut left = total - shares.iter().sum::<i128>();
    let mut by_remainder: Vec<usize> = (0..weights.len()).collect();
    by_remainder.sort_by_key(|&i| std::cmp::Reverse(total * weights[i] % sum));
    for i in by_remainder {
        if left == 0 {
            break;
        }
        if shares[i] < weights[i] {
            shares[i] += 1;
            left -= 1;
        }
    }
    shares
}

/// The rule taxing `class` at the destination: a region's rule before the country's.
fn tax_rule<'r>(rules: &'r [TaxRule], dest: Destination<'_>, class: &str) -> Option<&'r TaxRule> {
    let candidates = rules
        .iter()
        .filter(|r| r.country == dest.country && r.tax_class.as_str() == class);
    let mut country_wide = None;
    for r in candidates {
        match (&r.region, dest.region) {
            (Some(rr), Some(dr)) if same_region(rr, dr) => return Some(r),
            (None, _) => country_wide = country_wide.or(Some(r)),
            _ => {}
        }
    }
    country_wide
}

/// The tax on `taxable` under `rule`: added (exclusive) or contained (inclusive), half up.
fn tax_on(taxable: i128, rule: &TaxRule) -> i128 {
    let ppm = i128::from(rule.rate.ppm());
    match rule.mode {
        TaxMode::Exclusive => div_round(taxable * ppm, i128::from(Percent::ONE), Rounding::HalfUp),
        TaxMode::Inclusive => div_round(
            taxable * ppm,
            i128::from(Percent::ONE) + ppm,
            Rounding::HalfUp,
        ),
    }
}

fn pick_shipping<'r>(
    rates: &'r [ShippingRate],
    vendor: VendorId,
    dest: Destination<'_>,
    currency: Currency,
    weight: u64,
) -> Option<&'r ShippingRate> {
    rates
        .iter()
        .filter(|r| r.price.currency == currency)
        .filter(|r| r.vendor_id.is_none_or(|v| v == vendor))
        .filter(|r| r.countries.is_empty() || r.countries.iter().any(|c| c == dest.country))
        .filter(|r| u64::from(r.min_weight_grams) <= weight)
        .filter(|r| r.max_weight_grams.is_none_or(|max| weight < u64::from(max)))
        // A vendor's own rate, then a rate naming the country, then the cheapest.
        .min_by_key(|r| {
            (
                r.vendor_id.is_none(),
                r.countries.is_empty(),
                r.price.amount,
            )
        })
}

/// Prices `lines` in `currency` for `dest`, one order per vendor. Without a destination (a
/// cart with no address yet) there is no shipping or tax to compute, and none is charged.
///
/// `promotions` are those the basket asked for and that are usable now (automatic ones, then
/// the entered code); `code` names the entered one, which must apply or the basket is refused —
/// a customer is never charged other than what the code promised without being told. An
/// automatic promotion that does not apply is simply skipped.
pub fn price_basket(
    currency: Currency,
    lines: &[BasketLine],
    dest: Option<Destination<'_>>,
    book: &PricingBook,
    promotions: &[&Promotion],
    code: Option<&str>,
) -> Result<PricedBasket, PricingError> {
    let totals: Vec<i128> = lines
        .iter()
        .map(|l| i128::from(l.unit_price.amount) * i128::from(l.quantity))
        .collect();
    let mut discounts: Vec<i128> = vec![0; lines.len()];
    // (promotion, share per line)
    let mut applied: Vec<(&Promotion, Vec<i128>)> = Vec::new();
    for promo in promotions {
        let entered = code.is_some() && promo.code.as_deref() == code;
        match discount_of(promo, currency, lines, &totals, &discounts) {
            Ok(shares) => {
                for (d, s) in discounts.iter_mut().zip(&shares) {
                    *d += s;
                }
                applied.push((promo, shares));
            }
            Err(reason) if entered => {
                return Err(PricingError::PromotionNotApplicable {
                    code: promo.code.clone().unwrap_or_default(),
                    reason,
                });
            }
            Err(_) => {}
        }
    }

    let mut vendors: Vec<VendorId> = Vec::new();
    for l in lines {
        if !vendors.contains(&l.vendor_id) {
            vendors.push(l.vendor_id);
        }
    }
    let mut orders = Vec::with_capacity(vendors.len());
    for vendor in vendors {
        let idx: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].vendor_id == vendor)
            .collect();
        orders.push(price_order(
            currency, vendor, &idx, lines, &totals, &discounts, &applied, dest, book,
        )?);
    }
    let mut took_off = Vec::with_capacity(applied.len());
    for (p, shares) in &applied {
        let amount = money(shares.iter().sum(), currency)?;
        if amount.amount > 0 {
            took_off.push((p.id, amount));
        }
    }
    let applied = took_off;
    Ok(PricedBasket { orders, applied })
}

/// A promotion's discount on each line (zero for ineligible ones), or why it does not apply.
fn discount_of(
    promo: &Promotion,
    currency: Currency,
    lines: &[BasketLine],
    totals: &[i128],
    discounts: &[i128],
) -> Result<Vec<i128>, NotApplicable> {
    let eligible: Vec<bool> = lines.iter().map(|l| promo.eligible(l)).collect();
    if !eligible.iter().any(|e| *e) {
        return Err(NotApplicable::NoEligibleItems);
    }
    let goods: i128 = (0..lines.len())
        .filter(|&i| eligible[i])
        .map(|i| totals[i])
        .sum();
    if let Some(min) = promo.min_subtotal {
        if min.currency != currency {
            return Err(NotApplicable::OtherCurrency {
                promotion: min.currency,
                basket: currency,
            });
        }
        if goods < i128::from(min.amount) {
            return Err(NotApplicable::BelowMinimum { minimum: min });
        }
    }
    // What is left of each eligible line after earlier promotions: a later one can only take
    // from that, so no line ever goes below zero.
    let left: Vec<i128> = (0..lines.len())
        .map(|i| {
            if eligible[i] {
                totals[i] - discounts[i]
            } else {
                0
            }
        })
        .collect();
    let base: i128 = left.iter().sum();
    let amount = match &promo.discount {
        Discount::Percentage { percent } => div_round(
            base * i128::from(percent.ppm()),
            i128::from(Percent::ONE),
            Rounding::HalfUp,
        ),
        Discount::Fixed { amount } => {
            if amount.currency != currency {
                return Err(NotApplicable::OtherCurrency {
                    promotion: amount.currency,
                    basket: currency,
                });
            }
            i128::from(amount.amount).min(base)
        }
    };
    Ok(allocate_proportionally(amount, &left))
}

#[allow(clippy::too_many_arguments)]
fn price_order(
    currency: Currency,
    vendor: VendorId,
    idx: &[usize],
    lines: &[BasketLine],
    totals: &[i128],
    discounts: &[i128],
    applied: &[(&Promotion, Vec<i128>)],
    dest: Option<Destination<'_>>,
    book: &PricingBook,
) -> Result<PricedOrder, PricingError> {
    let subtotal: i128 = idx.iter().map(|&i| totals[i]).sum();
    let discount: i128 = idx.iter().map(|&i| discounts[i]).sum();
    let discount_lines = applied
        .iter()
        .filter_map(|(p, shares)| {
            let amount: i128 = idx.iter().map(|&i| shares[i]).sum();
            (amount > 0).then(|| {
                Ok(DiscountLine {
                    promotion_id: p.id,
                    code: p.code.clone(),
                    name: p.name.clone(),
                    amount: money(amount, currency)?,
                })
            })
        })
        .collect::<Result<Vec<_>, PricingError>>()?;

    let weight: u64 = idx
        .iter()
        .map(|&i| u64::from(lines[i].weight_grams) * u64::from(lines[i].quantity))
        .sum();
    // A platform that keeps no shipping rates charges none; one that does must have a rate
    // for every destination it accepts.
    let shipping = if let Some(dest) = dest
        && !book.shipping.is_empty()
    {
        let rate =
            pick_shipping(&book.shipping, vendor, dest, currency, weight).ok_or_else(|| {
                PricingError::NoShippingRate {
                    vendor_id: vendor,
                    country: dest.country.to_owned(),
                    currency,
                    weight_grams: weight,
                }
            })?;
        let goods = subtotal - discount;
        let free = rate
            .free_over
            .is_some_and(|f| f.currency == currency && goods >= i128::from(f.amount));
        Some(ShippingLine {
            rate_id: rate.id,
            name: rate.name.clone(),
            weight_grams: weight,
            amount: if free {
                Money::zero(currency)
            } else {
                rate.price
            },
        })
    } else {
        None
    };
    let shipping_amount = i128::from(shipping.as_ref().map_or(0, |s| s.amount.amount));

    let mut taxes: Vec<TaxLine> = Vec::new();
    let mut add_tax = |rule: &TaxRule, taxable: i128, tax: i128| -> Result<(), PricingError> {
        match taxes.iter_mut().find(|t| t.rule_id == rule.id) {
            Some(t) => {
                t.taxable = money(i128::from(t.taxable.amount) + taxable, currency)?;
                t.amount = money(i128::from(t.amount.amount) + tax, currency)?;
            }
            None => taxes.push(TaxLine {
                rule_id: rule.id,
                name: rule.name.clone(),
                rate: rule.rate,
                mode: rule.mode,
                taxable: money(taxable, currency)?,
                amount: money(tax, currency)?,
            }),
        }
        Ok(())
    };
    let mut priced_lines = Vec::with_capacity(idx.len());
    for &i in idx {
        let taxable = totals[i] - discounts[i];
        let mut tax = 0;
        if let Some(rule) = dest.and_then(|d| tax_rule(&book.tax, d, lines[i].tax_class.as_str())) {
            tax = tax_on(taxable, rule);
            add_tax(rule, taxable, tax)?;
        }
        priced_lines.push(PricedLine {
            index: i,
            line_total: money(totals[i], currency)?,
            discount: money(discounts[i], currency)?,
            tax: money(tax, currency)?,
        });
    }
    if shipping_amount > 0
        && let Some(rule) = dest.and_then(|d| tax_rule(&book.tax, d, TaxClass::SHIPPING))
    {
        add_tax(rule, shipping_amount, tax_on(shipping_amount, rule))?;
    }
    let sum_mode = |mode: TaxMode| -> i128 {
        taxes
            .iter()
            .filter(|t| t.mode == mode)
            .map(|t| i128::from(t.amount.amount))
            .sum()
    };
    let (tax_added, tax_included) = (sum_mode(TaxMode::Exclusive), sum_mode(TaxMode::Inclusive));
    let totals = Totals {
        subtotal: money(subtotal, currency)?,
        discount: money(discount, currency)?,
        shipping: money(shipping_amount, currency)?,
        tax: money(tax_added, currency)?,
        tax_included: money(tax_included, currency)?,
        total: money(subtotal - discount + shipping_amount + tax_added, currency)?,
    };
    Ok(PricedOrder {
        vendor_id: vendor,
        lines: priced_lines,
        discounts: discount_lines,
        shipping,
        taxes,
        totals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn line(vendor: VendorId, price: i64, qty: u32, class: &str) -> BasketLine {
        BasketLine {
            sku: Sku::parse("SKU-1").unwrap(),
            vendor_id: vendor,
            quantity: qty,
            unit_price: Money::price(price, eur()).unwrap(),
            tax_class: TaxClass::parse(class).unwrap(),
            weight_grams: 500,
        }
    }

    fn rule(country: &str, region: Option<&str>, pct: &str, mode: TaxMode) -> TaxRule {
        TaxRule {
            id: RuleId::new(),
            country: country.into(),
            region: region.map(Into::into),
            tax_class: TaxClass::standard(),
            rate: Percent::parse(pct).unwrap(),
            mode,
            name: format!("tax {pct}"),
        }
    }

    fn promo(discount: Discount) -> Promotion {
        Promotion {
            id: PromotionId::new(),
            code: None,
            name: "promo".into(),
            discount,
            min_subtotal: None,
            vendor_id: None,
            usage_limit: None,
            uses: 0,
            active: true,
            starts_at: None,
            ends_at: None,
        }
    }

    const DE: Destination<'static> = Destination {
        country: "DE",
        region: None,
    };

    #[test]
    fn percentages_and_rates_parse_exactly() {
        assert_eq!(Percent::parse("8.875").unwrap().ppm(), 88_750);
        assert_eq!(Percent::parse("19").unwrap().to_string(), "19");
        assert_eq!(Percent::parse("8.875").unwrap().to_string(), "8.875");
        for bad in ["", "-1", "100.1", "1.23456", "1.", ".5", "1e3", "abc"] {
            assert!(Percent::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(FxFactor::parse("1.0834").unwrap().to_string(), "1.0834");
        assert!(FxFactor::parse("0").is_err());
    }

    #[test]
    fn rounding_rules_differ_only_on_the_remainder() {
        assert_eq!(div_round(25, 10, Rounding::HalfUp), 3);
        assert_eq!(div_round(25, 10, Rounding::HalfEven), 2);
        assert_eq!(div_round(35, 10, Rounding::HalfEven), 4);
        assert_eq!(div_round(21, 10, Rounding::Up), 3);
        assert_eq!(div_round(29, 10, Rounding::Down), 2);
        assert_eq!(div_round(30, 10, Rounding::Up), 3);
    }

    #[test]
    fn fx_converts_between_minor_units_by_the_named_rule() {
        let rate = |r: &str, rounding| FxRate {
            id: RuleId::new(),
            from: eur(),
            to: Currency::parse("JPY").unwrap(),
            rate: FxFactor::parse(r).unwrap(),
            rounding,
        };
        // 19.99 EUR at 161.235 JPY = 3223.08765 JPY (0 decimals).
        let price = Money::price(1999, eur()).unwrap();
        assert_eq!(
            rate("161.235", Rounding::HalfUp)
                .convert(price)
                .unwrap()
                .amount,
            3223
        );
        assert_eq!(
            rate("161.235", Rounding::Up).convert(price).unwrap().amount,
            3224
        );
        let (p, used) = resolve_price(
            &[price],
            Currency::parse("JPY").unwrap(),
            &[rate("161.235", Rounding::HalfUp)],
        )
        .unwrap();
        assert_eq!(p.amount, 3223);
        assert_eq!(used.unwrap().original, price);
        assert!(resolve_price(&[price], Currency::parse("USD").unwrap(), &[]).is_none());
    }

    #[test]
    fn inclusive_vat_is_inside_the_price_and_sales_tax_is_added() {
        let v = VendorId::new();
        let lines = [line(v, 11_900, 1, "standard")];
        let vat = PricingBook {
            tax: vec![rule("DE", None, "19", TaxMode::Inclusive)],
            ..Default::default()
        };
        let o = &price_basket(eur(), &lines, Some(DE), &vat, &[], None)
            .unwrap()
            .orders[0];
        assert_eq!(o.totals.tax_included.amount, 1_900);
        assert_eq!(o.totals.tax.amount, 0);
        assert_eq!(o.totals.total.amount, 11_900);

        let us = Destination {
            country: "US",
            region: Some(" ca "),
        };
        let sales = PricingBook {
            tax: vec![
                rule("US", None, "0", TaxMode::Exclusive),
                rule("US", Some("CA"), "7.25", TaxMode::Exclusive),
            ],
            ..Default::default()
        };
        let o = &price_basket(eur(), &lines, Some(us), &sales, &[], None)
            .unwrap()
            .orders[0];
        // 7.25 % of 119.00 = 8.6275 -> 8.63
        assert_eq!(o.totals.tax.amount, 863);
        assert_eq!(o.totals.total.amount, 11_900 + 863);
        assert_eq!(o.taxes[0].name, "tax 7.25");
    }

    #[test]
    fn a_fixed_platform_promotion_is_shared_between_vendor_orders() {
        let (a, b) = (VendorId::new(), VendorId::new());
        let lines = [line(a, 3_000, 1, "standard"), line(b, 1_000, 1, "standard")];
        let p = promo(Discount::Fixed {
            amount: Money::price(1_000, eur()).unwrap(),
        });
        let priced = price_basket(
            eur(),
            &lines,
            Some(DE),
            &PricingBook::default(),
            &[&p],
            None,
        )
        .unwrap();
        let shares: Vec<i64> = priced
            .orders
            .iter()
            .map(|o| o.totals.discount.amount)
            .collect();
        assert_eq!(shares, vec![750, 250]);
        assert_eq!(
            priced.applied,
            vec![(p.id, Money::price(1_000, eur()).unwrap())]
        );
    }

    #[test]
    fn an_entered_code_that_does_not_apply_refuses_the_basket() {
        let v = VendorId::new();
        let lines = [line(v, 1_000, 1, "standard")];
        let mut p = promo(Discount::Percentage {
            percent: Percent::parse("10").unwrap(),
        });
        p.code = Some("TEN".into());
        p.min_subtotal = Some(Money::price(5_000, eur()).unwrap());
        let err = price_basket(
            eur(),
            &lines,
            Some(DE),
            &PricingBook::default(),
            &[&p],
            Some("TEN"),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            PricingError::PromotionNotApplicable {
                reason: NotApplicable::BelowMinimum { .. },
                ..
            }
        ));
        // The same promotion without the code entered is skipped quietly.
        let ok = price_basket(
            eur(),
            &lines,
            Some(DE),
            &PricingBook::default(),
            &[&p],
            None,
        )
        .unwrap();
        assert_eq!(ok.orders[0].totals.discount.amount, 0);
    }

    #[test]
    fn shipping_picks_the_vendors_rate_then_the_countrys_and_can_be_free() {
        let v = VendorId::new();
        let rate = |vendor: Option<VendorId>, countries: &[&str], price: i64| ShippingRate {
            id: RuleId::new(),
            name: format!("rate {price}"),
            countries: countries.iter().map(|c| (*c).to_owned()).collect(),
            vendor_id: vendor,
            min_weight_grams: 0,
            max_weight_grams: None,
            price: Money::price(price, eur()).unwrap(),
            free_over: Some(Money::price(10_000, eur()).unwrap()),
        };
        let book = PricingBook {
            shipping: vec![
                rate(None, &[], 990),
                rate(None, &["DE"], 490),
                rate(Some(v), &[], 1500),
            ],
            ..Default::default()
        };
        let lines = [line(v, 1_000, 1, "standard")];
        let o = &price_basket(eur(), &lines, Some(DE), &book, &[], None)
            .unwrap()
            .orders[0];
        assert_eq!(o.shipping.as_ref().unwrap().amount.amount, 1500);
        let other = [line(VendorId::new(), 1_000, 1, "standard")];
        let o = &price_basket(eur(), &other, Some(DE), &book, &[], None)
            .unwrap()
            .orders[0];
        assert_eq!(o.shipping.as_ref().unwrap().amount.amount, 490);
        let big = [line(VendorId::new(), 10_000, 1, "standard")];
        let o = &price_basket(eur(), &big, Some(DE), &book, &[], None)
            .unwrap()
            .orders[0];
        assert_eq!(o.shipping.as_ref().unwrap().amount.amount, 0);
        let nowhere = PricingBook {
            shipping: vec![rate(None, &["FR"], 490)],
            ..Default::default()
        };
        assert!(matches!(
            price_basket(eur(), &other, Some(DE), &nowhere, &[], None),
            Err(PricingError::NoShippingRate { .. })
        ));
    }

    fn arb_basket() -> impl Strategy<Value = (Vec<BasketLine>, Vec<Promotion>, PricingBook)> {
        let vendors = [VendorId::new(), VendorId::new(), VendorId::new()];
        let lines = prop::collection::vec(
            (0usize..3, 0i64..=2_000_000, 1u32..=50, 0u32..3, 0u32..5_000),
            1..12,
        )
        .prop_map(move |ls| {
            ls.into_iter()
                .map(|(v, price, qty, class, weight)| BasketLine {
                    sku: Sku::parse("SKU").unwrap(),
                    vendor_id: vendors[v],
                    quantity: qty,
                    unit_price: Money::price(price, eur()).unwrap(),
                    tax_class: TaxClass::parse(["standard", "reduced", "zero"][class as usize])
                        .unwrap(),
                    weight_grams: weight,
                })
                .collect::<Vec<_>>()
        });
        let promos = prop::collection::vec(
            (
                any::<bool>(),
                0u32..=1_000_000,
                0i64..5_000_000,
                prop::option::of(0usize..3),
            ),
            0..4,
        )
        .prop_map(move |ps| {
            ps.into_iter()
                .map(|(pct, ppm, fixed, vendor)| {
                    let mut p = promo(if pct {
                        Discount::Percentage {
                            percent: Percent::from_ppm(ppm),
                        }
                    } else {
                        Discount::Fixed {
                            amount: Money::price(fixed, eur()).unwrap(),
                        }
                    });
                    p.vendor_id = vendor.map(|v| vendors[v]);
                    p
                })
                .collect::<Vec<_>>()
        });
        let taxes = (0u32..=300_000, 0u32..=300_000, any::<bool>(), any::<bool>()).prop_map(
            |(a, b, inclusive, shipping_taxed)| {
                let mode = if inclusive {
                    TaxMode::Inclusive
                } else {
                    TaxMode::Exclusive
                };
                let mut rules = vec![
                    TaxRule {
                        rate: Percent::from_ppm(a),
                        ..rule("DE", None, "0", mode)
                    },
                    TaxRule {
                        rate: Percent::from_ppm(b),
                        tax_class: TaxClass::parse("reduced").unwrap(),
                        ..rule("DE", None, "0", TaxMode::Exclusive)
                    },
                ];
                if shipping_taxed {
                    rules.push(TaxRule {
                        tax_class: TaxClass::parse("shipping").unwrap(),
                        ..rule("DE", None, "19", mode)
                    });
                }
                PricingBook {
                    tax: rules,
                    shipping: vec![ShippingRate {
                        id: RuleId::new(),
                        name: "flat".into(),
                        countries: vec![],
                        vendor_id: None,
                        min_weight_grams: 0,
                        max_weight_grams: None,
                        price: Money::price(499, eur()).unwrap(),
                        free_over: Some(Money::price(50_000, eur()).unwrap()),
                    }],
                    ..Default::default()
                }
            },
        );
        (lines, promos, taxes)
    }

    proptest! {
        /// Whatever the basket, promotions and rules: every order's totals add up exactly, no
        /// part is negative, discounts never exceed the goods, and every line is accounted for.
        #[test]
        fn totals_are_exact((lines, promos, book) in arb_basket()) {
            let refs: Vec<&Promotion> = promos.iter().collect();
            let priced = price_basket(eur(), &lines, Some(DE), &book, &refs, None).unwrap();
            let mut seen = 0;
            let mut discount_sum = 0;
            for o in &priced.orders {
                let t = o.totals;
                prop_assert_eq!(
                    t.subtotal.amount - t.discount.amount + t.shipping.amount + t.tax.amount,
                    t.total.amount
                );
                for part in [t.subtotal, t.discount, t.shipping, t.tax, t.tax_included, t.total] {
                    prop_assert!(part.amount >= 0);
                }
                prop_assert!(t.discount.amount <= t.subtotal.amount);
                prop_assert_eq!(
                    o.lines.iter().map(|l| l.line_total.amount).sum::<i64>(),
                    t.subtotal.amount
                );
                prop_assert_eq!(
                    o.lines.iter().map(|l| l.discount.amount).sum::<i64>(),
                    t.discount.amount
                );
                prop_assert_eq!(
                    o.discounts.iter().map(|d| d.amount.amount).sum::<i64>(),
                    t.discount.amount
                );
                prop_assert_eq!(
                    o.taxes.iter().map(|x| x.amount.amount).sum::<i64>(),
                    t.tax.amount + t.tax_included.amount
                );
                for l in &o.lines {
                    prop_assert!(l.discount.amount <= l.line_total.amount);
                }
                seen += o.lines.len();
                discount_sum += t.discount.amount;
            }
            prop_assert_eq!(seen, lines.len());
            prop_assert_eq!(
                priced.applied.iter().map(|(_, m)| m.amount).sum::<i64>(),
                discount_sum
            );
        }
    }
}
