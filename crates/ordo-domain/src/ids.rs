//! Typed, time-ordered identifiers.
//!
//! Every id is a UUIDv7: sortable by creation time, so "newest first" pages are index scans on
//! the primary key and cursors need no extra column. Distinct types keep an `OrderId` from ever
//! being passed where a `UserId` is meant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh id, ordered after every id made before it on this machine.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// A user of any role.
    UserId
);
typed_id!(
    /// A seller on the platform.
    VendorId
);
typed_id!(
    /// A place a vendor keeps stock (warehouse, shop, dropshipper).
    LocationId
);
typed_id!(
    /// A product, which groups one or more sellable variants.
    ProductId
);
typed_id!(
    /// One sellable variant of a product, identified to people by its SKU.
    VariantId
);
typed_id!(
    /// An order: what one customer bought from one vendor.
    OrderId
);
typed_id!(
    /// One checkout: the orders (one per vendor) placed together from one cart.
    CheckoutId
);
typed_id!(
    /// A shopping cart, a guest's or a customer's.
    CartId
);
typed_id!(
    /// A promotion (code-based or automatic).
    PromotionId
);
typed_id!(
    /// A pricing rule the admin maintains: a tax rule, a shipping rate or an FX rate.
    RuleId
);
typed_id!(
    /// One recorded stock adjustment (receipt, correction, damage).
    AdjustmentId
);
