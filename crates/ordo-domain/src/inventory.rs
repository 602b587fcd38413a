//! Stock and its allocation to order lines.
//!
//! Stock is kept per (SKU, location) as `on_hand` and `reserved`; `available = on_hand −
//! reserved` is never negative. This module decides *where* a quantity comes from; the store
//! applies the decision under a lock, and a database CHECK refuses any write that would break
//! the invariant, so no unit can be sold twice even if this code were wrong.

use serde::{Deserialize, Serialize};

use crate::ParseError;
use crate::ids::LocationId;

/// Units of one SKU on one order line: 1 to [`Quantity::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Quantity(u32);

impl TryFrom<i64> for Quantity {
    type Error = ParseError;
    fn try_from(raw: i64) -> Result<Self, ParseError> {
        Self::parse(raw)
    }
}

impl From<Quantity> for u32 {
    fn from(q: Quantity) -> u32 {
        q.0
    }
}

impl Quantity {
    /// More than any shop sells on one line; refusing absurd quantities keeps totals far from
    /// overflow and catches client bugs.
    pub const MAX: u32 = 10_000;

    pub fn parse(raw: i64) -> Result<Self, ParseError> {
        if (1..=i64::from(Self::MAX)).contains(&raw) {
            Ok(Self(raw as u32))
        } else {
            Err(ParseError::new(
                "invalid_quantity",
                format!("quantity must be between 1 and {}", Self::MAX),
            ))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A level of stock that an admin or vendor sets (`on_hand`), 0 to 10^9.
pub fn parse_on_hand(raw: i64) -> Result<i64, ParseError> {
    if (0..=1_000_000_000).contains(&raw) {
        Ok(raw)
    } else {
        Err(ParseError::new(
            "invalid_quantity",
            "on_hand must be between 0 and 1000000000",
        ))
    }
}

/// One stock row as read under lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    pub location_id: LocationId,
    /// The location's priority: lower ranks are allocated from first.
    pub priority: i32,
    pub on_hand: i64,
    pub reserved: i64,
}

impl StockLevel {
    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved
    }
}

/// How many units of a line come from which location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub location_id: LocationId,
    pub quantity: u32,
}

/// Not enough available stock across all locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    pub available: i64,
}

/// Allocates `quantity` from `levels`, which come in priority order. A location that can ship the
/// whole line wins (one parcel beats two); otherwise units are taken in priority order.
pub fn allocate(levels: &[StockLevel], quantity: Quantity) -> Result<Vec<Allocation>, Shortfall> {
    let wanted = i64::from(quantity.get());
    if let Some(whole) = levels.iter().find(|l| l.available() >= wanted) {
        return Ok(vec![Allocation {
            location_id: whole.location_id,
            quantity: quantity.get(),
        }]);
    }
    let total: i64 = levels.iter().map(|l| l.available().max(0)).sum();
    if total < wanted {
        return Err(Shortfall { available: total });
    }
    let mut left = wanted;
    let mut out = Vec::new();
    for l in levels {
        let take = l.available().max(0).min(left);
        if take > 0 {
            out.push(Allocation {
                location_id: l.location_id,
                quantity: take as u32,
            });
            left -= take;
        }
    }
    Ok(out)
}

/// When a product's stock is taken for an order: a setting per product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockDeduction {
    /// Reserved when the order is placed (with a time limit for payment), taken at payment.
    /// No paying customer ever finds their item gone.
    #[default]
    AtOrder,
    /// Only checked when the order is placed; taken at payment. Stock is never held for
    /// unpaid orders, so a payment may find it gone: the order is then cancelled
    /// (`insufficient_stock`) and nothing is charged.
    AtPayment,
}

crate::names!(StockDeduction, "invalid_stock_deduction" {
    AtOrder => "at_order",
    AtPayment => "at_payment",
});

/// Why stock was adjusted by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentReason {
    /// Goods arrived.
    Receipt,
    /// A count found a different number.
    Correction,
    /// Units broken, spoiled or lost.
    Damage,
}

crate::names!(AdjustmentReason, "invalid_reason" {
    Receipt => "receipt",
    Correction => "correction",
    Damage => "damage",
});

/// Where each line of one vendor's order ships from. `levels[i]` are line `i`'s stock rows in
/// priority order, `quantities[i]` what it needs (`None` for a line not reserved now). The rule:
/// the highest-priority location that can ship the *whole order* (one parcel); failing that,
/// each line on its own by [`allocate`]. Returns the failing line's index on a shortfall.
pub fn allocate_order(
    levels: &[&[StockLevel]],
    quantities: &[Option<Quantity>],
) -> Result<Vec<Vec<Allocation>>, (usize, Shortfall)> {
    let mut candidates: Vec<(i32, usize, LocationId)> = Vec::new();
    for (seen, l) in levels.iter().flat_map(|l| l.iter()).enumerate() {
        if !candidates.iter().any(|c| c.2 == l.location_id) {
            candidates.push((l.priority, seen, l.location_id));
        }
    }
    candidates.sort();
    let available_at = |line: &[StockLevel], at: LocationId| {
        line.iter()
            .find(|l| l.location_id == at)
            .map_or(0, StockLevel::available)
    };
    let whole = candidates.iter().find(|(_, _, at)| {
        levels
            .iter()
            .zip(quantities)
            .all(|(line, q)| q.is_none_or(|q| available_at(line, *at) >= i64::from(q.get())))
    });
    if let Some((_, _, at)) = whole {
        return Ok(quantities
            .iter()
            .map(|q| match q {
                Some(q) => vec![Allocation {
                    location_id: *at,
                    quantity: q.get(),
                }],
                None => Vec::new(),
            })
            .collect());
    }
    levels
        .iter()
        .zip(quantities)
        .enumerate()
        .map(|(i, (line, q))| match q {
            Some(q) => allocate(line, *q).map_err(|s| (i, s)),
            None => Ok(Vec::new()),
        })
        .collect()
}

/// What a change in an order's life does to its stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockEffect {
    None,
    /// Placement: the units are held for the order (`reserved` grows), at the locations the
    /// checkout allocates (or, for stock taken at payment, nothing is held yet).
    Reserve,
    /// Payment: the reserved units leave the shelf (`on_hand` and `reserved` both drop).
    Commit,
    /// Cancelled before payment: the reservation is dropped (`reserved` drops).
    Release,
    /// Cancelled after payment but before shipment: the units go back on the shelf.
    Restock,
}

impl StockEffect {
    /// Whether the step makes units available again (`on_hand - reserved` grows).
    pub fn frees_stock(self) -> bool {
        let (on_hand, reserved) = self.deltas(1);
        on_hand - reserved > 0
    }

    /// The change to (`on_hand`, `reserved`) for `quantity` units.
    pub fn deltas(self, quantity: u32) -> (i64, i64) {
        let q = i64::from(quantity);
        match self {
            StockEffect::None => (0, 0),
            StockEffect::Reserve => (0, q),
            StockEffect::Commit => (-q, -q),
            StockEffect::Release => (0, -q),
            StockEffect::Restock => (q, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(on_hand: i64, reserved: i64) -> StockLevel {
        StockLevel {
            location_id: LocationId::new(),
            priority: 0,
            on_hand,
            reserved,
        }
    }

    #[test]
    fn only_release_and_restock_free_stock() {
        assert!(StockEffect::Release.frees_stock());
        assert!(StockEffect::Restock.frees_stock());
        assert!(!StockEffect::Commit.frees_stock());
        assert!(!StockEffect::None.frees_stock());
    }

    #[test]
    fn a_location_that_covers_the_whole_line_is_preferred() {
        let levels = [level(2, 0), level(10, 5)];
        let a = allocate(&levels, Quantity::parse(4).unwrap()).unwrap();
        assert_eq!(
            a,
            vec![Allocation {
                location_id: levels[1].location_id,
                quantity: 4
            }]
        );
    }

    #[test]
    fn a_line_is_split_when_no_single_location_can_ship_it() {
        let levels = [level(2, 0), level(3, 1)];
        let a = allocate(&levels, Quantity::parse(4).unwrap()).unwrap();
        assert_eq!(a.iter().map(|x| x.quantity).collect::<Vec<_>>(), vec![2, 2]);
        assert_eq!(
            allocate(&levels, Quantity::parse(5).unwrap()),
            Err(Shortfall { available: 4 })
        );
    }

    #[test]
    fn an_order_ships_from_one_location_when_one_can_ship_it_all() {
        let (a, b) = (LocationId::new(), LocationId::new());
        let at = |id, priority, on_hand| StockLevel {
            location_id: id,
            priority,
            on_hand,
            reserved: 0,
        };
        let q = |n| Some(Quantity::parse(n).unwrap());
        // Line 0 alone would come from `a` (first priority), but only `b` has both lines.
        let (first, second) = ([at(a, 0, 5), at(b, 1, 5)], [at(b, 1, 3)]);
        let levels: [&[StockLevel]; 2] = [&first, &second];
        let out = allocate_order(&levels, &[q(2), q(3)]).unwrap();
        assert!(out.iter().flatten().all(|x| x.location_id == b));
        // Nowhere has both: each line by itself, priority first.
        let first = [at(a, 0, 5), at(b, 1, 1)];
        let levels: [&[StockLevel]; 2] = [&first, &second];
        let out = allocate_order(&levels, &[q(2), q(3)]).unwrap();
        assert_eq!(out[0][0].location_id, a);
        assert_eq!(out[1][0].location_id, b);
        // A line not reserved now is skipped; a short one is named.
        let out = allocate_order(&levels, &[None, q(3)]).unwrap();
        assert!(out[0].is_empty());
        assert_eq!(
            allocate_order(&levels, &[q(7), q(1)]),
            Err((0, Shortfall { available: 6 }))
        );
    }

    #[test]
    fn quantities_outside_the_range_are_refused() {
        for q in [0, -1, i64::from(Quantity::MAX) + 1, i64::MAX] {
            assert!(Quantity::parse(q).is_err());
        }
    }
}
