//! Carts and their guest tokens: the records of this aggregate and what the store does with them.

use async_trait::async_trait;
use ordo_domain::cart::Cart;
use ordo_domain::ids::{CartId, UserId};

use crate::StoreResult;

/// Reads: carts and their guest tokens.
#[async_trait]
pub trait CartStore: Send + Sync {
    async fn cart(&self, id: CartId) -> StoreResult<Option<Cart>>;
    /// The guest cart a token opens.
    async fn cart_by_token(&self, token_hash: &[u8]) -> StoreResult<Option<Cart>>;
}

/// Writes within one transaction: carts and their guest tokens.
#[async_trait]
pub trait CartTx: Send {
    async fn insert_cart(&mut self, cart: &Cart, token_hash: Option<&[u8]>) -> StoreResult<()>;
    /// Loads a cart for change, locking it where the backend has row locks.
    async fn cart_for_update(&mut self, id: CartId) -> StoreResult<Option<Cart>>;
    /// The customer's open cart, locked.
    async fn open_cart_for_update(&mut self, customer: UserId) -> StoreResult<Option<Cart>>;
    /// Writes the cart if it is still at `expected_version` (else
    /// [`constraints::CARTS_VERSION`]). A cart given a customer loses its guest token.
    async fn update_cart(&mut self, cart: &Cart, expected_version: i64) -> StoreResult<()>;
    /// Gives a guest cart a new token (its old one stops opening it).
    async fn set_cart_token(&mut self, id: CartId, token_hash: &[u8]) -> StoreResult<()>;
}
