//! Carts: what a shopper means to buy, before it is priced and split into orders.
//!
//! A cart belongs to a guest (who holds its secret token) or to a customer (one open cart
//! each). It keeps only intent — SKUs and quantities, a currency, a promotion code, an address;
//! prices, availability and totals are computed live whenever it is shown, and frozen only at
//! checkout. When a guest logs in, their cart is merged into the customer's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ParseError;
use crate::address::Address;
use crate::catalog::Sku;
use crate::ids::{CartId, CheckoutId, UserId};
use crate::inventory::Quantity;
use crate::money::Currency;

/// Where a cart is in its short life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CartStatus {
    Open,
    /// Merged into a customer's cart at login; read-only.
    Merged,
    /// Turned into orders; read-only.
    CheckedOut,
}

crate::names!(CartStatus, "invalid_cart_status" {
    Open => "open",
    Merged => "merged",
    CheckedOut => "checked_out",
});

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: Sku,
    pub quantity: Quantity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    pub id: CartId,
    /// `None` for a guest's cart.
    pub customer_id: Option<UserId>,
    pub status: CartStatus,
    pub currency: Currency,
    pub promo_code: Option<String>,
    pub shipping_address: Option<Address>,
    /// In the order they were first added; one line per SKU.
    pub lines: Vec<CartLine>,
    /// Set once checked out.
    pub checkout_id: Option<CheckoutId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change; a change made on a stale copy is refused.
    pub version: i64,
}

/// A cart holds at most this many distinct SKUs (the most an order may have lines).
pub const MAX_CART_LINES: usize = 100;

impl Cart {
    /// Sets the quantity of `sku` (adding the line if new); `None` removes it.
    pub fn set_line(&mut self, sku: Sku, quantity: Option<Quantity>) -> Result<(), ParseError> {
        let at = self.lines.iter().position(|l| l.sku == sku);
        match (at, quantity) {
            (Some(i), Some(q)) => self.lines[i].quantity = q,
            (Some(i), None) => {
                self.lines.remove(i);
            }
            (None, Some(q)) => {
                if self.lines.len() >= MAX_CART_LINES {
                    return Err(ParseError::new(
                        "too_many_items",
                        format!("a cart holds at most {MAX_CART_LINES} different items"),
                    ));
                }
                self.lines.push(CartLine { sku, quantity: q });
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// Adds `quantity` units of `sku` to what the cart already holds.
    pub fn add(&mut self, sku: Sku, quantity: Quantity) -> Result<(), ParseError> {
        let have = self
            .lines
            .iter()
            .find(|l| l.sku == sku)
            .map_or(0, |l| i64::from(l.quantity.get()));
        let total = Quantity::parse(have + i64::from(quantity.get()))?;
        self.set_line(sku, Some(total))
    }

    /// Takes a guest's cart into this one (at login): quantities add up (capped at the most a
    /// line may hold), and the guest's code and address fill in what this cart lacks.
    pub fn merge(&mut self, guest: &Cart) {
        for line in &guest.lines {
            let have = self
                .lines
                .iter()
                .find(|l| l.sku == line.sku)
                .map_or(0, |l| i64::from(l.quantity.get()));
            let sum = (have + i64::from(line.quantity.get())).min(i64::from(Quantity::MAX));
            if let Ok(q) = Quantity::parse(sum) {
                // Over the line limit the guest's extra lines are dropped, not the customer's.
                let _ = self.set_line(line.sku.clone(), Some(q));
            }
        }
        if self.promo_code.is_none() {
            self.promo_code.clone_from(&guest.promo_code);
        }
        if self.shipping_address.is_none() {
            self.shipping_address.clone_from(&guest.shipping_address);
        }
    }

    pub fn is_open(&self) -> bool {
        self.status == CartStatus::Open
    }

    /// Moves the cart to `to` by a row of [`CART_STEPS`]; any other move is refused and
    /// changes nothing.
    pub fn move_to(&mut self, to: CartStatus) -> Result<(), ParseError> {
        if CART_STEPS.contains(&(self.status, to)) {
            self.status = to;
            Ok(())
        } else {
            Err(ParseError::new(
                "cart_closed",
                format!("a cart that is {} cannot become {to}", self.status),
            ))
        }
    }
}

/// A cart's life, the one table of it: an open cart is merged into a customer's at login, or
/// checked out into orders; both ends are final.
pub const CART_STEPS: &[(CartStatus, CartStatus)] = &[
    (CartStatus::Open, CartStatus::Merged),
    (CartStatus::Open, CartStatus::CheckedOut),
];

/// A cart starts open.
pub const NEW_CART: CartStatus = CartStatus::Open;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cart_moves_only_by_its_table() {
        let mut c = Cart {
            id: crate::ids::CartId::new(),
            customer_id: None,
            status: NEW_CART,
            currency: Currency::parse("EUR").unwrap(),
            promo_code: None,
            shipping_address: None,
            lines: Vec::new(),
            checkout_id: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            version: 1,
        };
        assert!(c.move_to(CartStatus::CheckedOut).is_ok());
        assert_eq!(c.move_to(CartStatus::Open).unwrap_err().code, "cart_closed");
        assert_eq!(
            c.move_to(CartStatus::Merged).unwrap_err().code,
            "cart_closed"
        );
        assert_eq!(c.status, CartStatus::CheckedOut);
    }

    fn cart(lines: &[(&str, i64)]) -> Cart {
        let now = Utc::now();
        Cart {
            id: CartId::new(),
            customer_id: None,
            status: CartStatus::Open,
            currency: Currency::parse("EUR").unwrap(),
            promo_code: None,
            shipping_address: None,
            lines: lines
                .iter()
                .map(|(s, q)| CartLine {
                    sku: Sku::parse(s).unwrap(),
                    quantity: Quantity::parse(*q).unwrap(),
                })
                .collect(),
            checkout_id: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn merging_adds_quantities_and_keeps_the_customers_choices() {
        let mut mine = cart(&[("A", 1), ("B", 2)]);
        mine.promo_code = Some("MINE".into());
        let mut guest = cart(&[("B", 3), ("C", 1)]);
        guest.promo_code = Some("GUEST".into());
        mine.merge(&guest);
        let got: Vec<_> = mine
            .lines
            .iter()
            .map(|l| (l.sku.as_str().to_owned(), l.quantity.get()))
            .collect();
        assert_eq!(got, vec![("A".into(), 1), ("B".into(), 5), ("C".into(), 1)]);
        assert_eq!(mine.promo_code.as_deref(), Some("MINE"));
    }

    #[test]
    fn a_line_can_be_set_added_to_and_removed() {
        let mut c = cart(&[]);
        let sku = Sku::parse("A").unwrap();
        c.add(sku.clone(), Quantity::parse(2).unwrap()).unwrap();
        c.add(sku.clone(), Quantity::parse(3).unwrap()).unwrap();
        assert_eq!(c.lines[0].quantity.get(), 5);
        assert!(
            c.add(
                sku.clone(),
                Quantity::parse(i64::from(Quantity::MAX)).unwrap()
            )
            .is_err()
        );
        c.set_line(sku, None).unwrap();
        assert!(c.lines.is_empty());
    }
}
