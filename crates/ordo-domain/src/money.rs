//! Money: integer minor units with an ISO 4217 currency, never floats.
//!
//! Arithmetic is checked: an amount that would overflow is an error, not a wrapped number, and
//! two amounts in different currencies cannot be added.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ParseError;

/// An ISO 4217 currency code, validated against the standard's active list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, ParseError> {
        // `from_code` accepts only the exact upper-case code, which is what the API documents.
        iso_currency::Currency::from_code(code)
            .map(Self)
            .ok_or_else(|| {
                ParseError::new(
                    "invalid_currency",
                    format!("'{code}' is not an ISO 4217 currency code"),
                )
            })
    }

    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    /// The sign people know it by (€, $, £); the code where it has none of its own.
    pub fn symbol(&self) -> String {
        let sign = self.0.symbol().to_string();
        if sign == "¤" {
            self.code().to_owned()
        } else {
            sign
        }
    }

    /// Digits after the decimal point (2 for EUR, 0 for JPY, 3 for KWD).
    pub fn minor_digits(&self) -> u16 {
        self.0.exponent().unwrap_or(0)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Self::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// The largest amount Ordo accepts for a single price: 10^12 minor units (ten billion euros).
/// Far beyond any real basket, and small enough that a thousand lines of a thousand units each
/// still cannot overflow an i64.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

/// An amount of money in minor units (cents for EUR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Integer minor units; never a float.
    pub amount: i64,
    pub currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount out of range")]
    Overflow,
}

impl Money {
    /// The amount as people of `locale` write it: `€1,234.50` (`en`), `1.234,50 €` (`de`).
    /// Other locales are written as `en`.
    pub fn format_for(&self, locale: &str) -> String {
        let digits = u32::from(self.currency.minor_digits());
        let scale = 10_i64.pow(digits);
        let (whole, fraction) = (self.amount.abs() / scale, self.amount.abs() % scale);
        let (group, point) = if locale == "de" {
            ('.', ',')
        } else {
            (',', '.')
        };
        let whole = whole.to_string();
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(group);
            }
            grouped.push(c);
        }
        let number = if digits == 0 {
            grouped
        } else {
            format!(
                "{grouped}{point}{fraction:0width$}",
                width = digits as usize
            )
        };
        let sign = if self.amount < 0 { "-" } else { "" };
        let symbol = self.currency.symbol();
        if locale == "de" {
            format!("{sign}{number}\u{a0}{symbol}")
        } else {
            format!("{sign}{symbol}{number}")
        }
    }

    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: 0,
            currency,
        }
    }

    /// A price as set by a vendor: non-negative and within [`MAX_AMOUNT_MINOR`].
    pub fn price(amount: i64, currency: Currency) -> Result<Self, ParseError> {
        if !(0..=MAX_AMOUNT_MINOR).contains(&amount) {
            return Err(ParseError::new(
                "invalid_amount",
                format!("amount must be between 0 and {MAX_AMOUNT_MINOR} minor units"),
            ));
        }
        Ok(Self { amount, currency })
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money {
            amount,
            currency: self.currency,
        })
    }

    pub fn checked_mul(self, factor: u32) -> Result<Money, MoneyError> {
        let amount = self
            .amount
            .checked_mul(i64::from(factor))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money {
            amount,
            currency: self.currency,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts_are_written_as_each_locale_writes_them() {
        let eur = super::Currency::parse("EUR").unwrap();
        let jpy = super::Currency::parse("JPY").unwrap();
        let m = |amount, currency| super::Money { amount, currency };
        assert_eq!(m(123_450, eur).format_for("en"), "€1,234.50");
        assert_eq!(m(123_450, eur).format_for("de"), "1.234,50\u{a0}€");
        assert_eq!(m(5, eur).format_for("en"), "€0.05");
        assert_eq!(m(-99_900, eur).format_for("en"), "-€999.00");
        assert_eq!(m(1_234_567, jpy).format_for("en"), "¥1,234,567");
    }

    use super::*;

    #[test]
    fn currency_codes_are_checked_against_iso_4217() {
        assert_eq!(Currency::parse("EUR").unwrap().code(), "EUR");
        assert_eq!(Currency::parse("JPY").unwrap().minor_digits(), 0);
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("XYZ").is_err());
        assert!(Currency::parse("").is_err());
    }

    #[test]
    fn adding_different_currencies_is_refused() {
        let eur = Money::zero(Currency::parse("EUR").unwrap());
        let usd = Money::zero(Currency::parse("USD").unwrap());
        assert!(matches!(
            eur.checked_add(usd),
            Err(MoneyError::CurrencyMismatch(..))
        ));
    }

    #[test]
    fn prices_must_be_non_negative_and_bounded() {
        let eur = Currency::parse("EUR").unwrap();
        assert!(Money::price(-1, eur).is_err());
        assert!(Money::price(MAX_AMOUNT_MINOR + 1, eur).is_err());
        assert_eq!(Money::price(1999, eur).unwrap().amount, 1999);
    }
}
