//! Carts on SQLite: the writes of [`ordo_store::carts`] in one transaction. The reads
//! and row mappings are shared with PostgreSQL (`ordo-store/shared/sql_store/carts.rs`).

use async_trait::async_trait;
use ordo_domain::cart::Cart;
use ordo_domain::ids::{CartId, UserId};
use ordo_store::{CartTx, StoreError, StoreResult, constraints};
use rusqlite::params;

use crate::sql_store::carts::cart_from_row;
use crate::sql_store::{locked, sql};
use crate::tx::{SqliteTx, json, ts};

#[async_trait]
impl CartTx for SqliteTx {
    async fn insert_cart(&mut self, c: &Cart, token_hash: Option<&[u8]>) -> StoreResult<()> {
        self.execute(
            sql::INSERT_CART,
            params![
                c.id.0,
                token_hash,
                c.customer_id.map(|u| u.0),
                c.status.as_str(),
                c.currency.code(),
                c.promo_code,
                json(&c.shipping_address)?,
                json(&c.lines)?,
                c.checkout_id.map(|x| x.0),
                ts(&c.created_at),
                ts(&c.updated_at),
                c.version
            ],
        )?;
        Ok(())
    }

    async fn cart_for_update(&mut self, id: CartId) -> StoreResult<Option<Cart>> {
        Ok(self
            .query(&locked::CART, params![id.0], |r| cart_from_row(r))?
            .pop())
    }

    async fn open_cart_for_update(&mut self, customer: UserId) -> StoreResult<Option<Cart>> {
        Ok(self
            .query(&locked::OPEN_CART, params![customer.0], |r| {
                cart_from_row(r)
            })?
            .pop())
    }

    async fn update_cart(&mut self, c: &Cart, expected_version: i64) -> StoreResult<()> {
        let changed = self.execute(
            sql::UPDATE_CART,
            params![
                c.customer_id.map(|u| u.0),
                c.status.as_str(),
                c.currency.code(),
                c.promo_code,
                json(&c.shipping_address)?,
                json(&c.lines)?,
                c.checkout_id.map(|x| x.0),
                ts(&c.updated_at),
                c.version,
                c.id.0,
                expected_version
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::Conflict(constraints::CARTS_VERSION));
        }
        Ok(())
    }

    async fn set_cart_token(&mut self, id: CartId, token_hash: &[u8]) -> StoreResult<()> {
        self.execute(sql::SET_CART_TOKEN, params![token_hash, id.0])?;
        Ok(())
    }
}
