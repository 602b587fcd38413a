//! The pricing book: tax, shipping and exchange-rate rules and promotions with their use counts:
//! the records of this aggregate and what the store does with them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::ids::{PromotionId, RuleId};
use ordo_domain::pricing::{PricingBook, Promotion};

use crate::StoreResult;

/// The kinds of admin-maintained pricing rules kept as documents (promotions have their own
/// table, for their usage counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Fx,
    Tax,
    Shipping,
}

ordo_domain::names!(RuleKind, "invalid_rule_kind" {
    Fx => "fx",
    Tax => "tax",
    Shipping => "shipping",
});

/// Reads: the pricing book: tax, shipping and exchange-rate rules and promotions with their use
/// counts.
#[async_trait]
pub trait PricingStore: Send + Sync {
    /// Every pricing rule and promotion, as one book.
    async fn pricing_book(&self) -> StoreResult<PricingBook>;
}

/// Writes within one transaction: the pricing book: tax, shipping and exchange-rate rules and
/// promotions with their use counts.
#[async_trait]
pub trait PricingTx: Send {
    /// Inserts or replaces the rule of `kind` known by `key` (the rule's natural key: a
    /// currency pair, a country/region/class); returns the id it is stored under, which is the
    /// existing one on a replace.
    async fn put_rule(
        &mut self,
        kind: RuleKind,
        key: &str,
        id: RuleId,
        data: &serde_json::value::RawValue,
        at: DateTime<Utc>,
    ) -> StoreResult<RuleId>;
    /// Deletes a rule; false if there was none.
    async fn delete_rule(&mut self, kind: RuleKind, id: RuleId) -> StoreResult<bool>;
    async fn insert_promotion(
        &mut self,
        promotion: &Promotion,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Replaces a promotion's definition (its use count is kept); false if there is none.
    async fn update_promotion(
        &mut self,
        promotion: &Promotion,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Counts one use of a promotion, if its limit allows: false when it is used up. Where the
    /// backend has row locks, the promotion stays locked until commit, so concurrent
    /// checkouts take turns and a limited code is never used once too often.
    async fn use_promotion(&mut self, id: PromotionId) -> StoreResult<bool>;
}
