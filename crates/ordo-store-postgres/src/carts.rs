//! Carts on PostgreSQL: the writes of [`ordo_store::carts`] in one transaction. The reads
//! and row mappings are shared with SQLite (`ordo-store/shared/sql_store/carts.rs`).

use async_trait::async_trait;
use ordo_domain::cart::Cart;
use ordo_domain::ids::{CartId, UserId};
use ordo_store::{CartTx, StoreError, StoreResult, constraints};
use sqlx::types::Json;

use crate::sql_store::carts::cart_from_row;
use crate::sql_store::{locked, sql};
use crate::tx::PgTx;

#[async_trait]
impl CartTx for PgTx {
    async fn insert_cart(&mut self, c: &Cart, token_hash: Option<&[u8]>) -> StoreResult<()> {
        sqlx::query(sql::INSERT_CART)
            .bind(c.id.0)
            .bind(token_hash)
            .bind(c.customer_id.map(|u| u.0))
            .bind(c.status.as_str())
            .bind(c.currency.code())
            .bind(c.promo_code.as_deref())
            .bind(Json(&c.shipping_address))
            .bind(Json(&c.lines))
            .bind(c.checkout_id.map(|x| x.0))
            .bind(c.created_at)
            .bind(c.updated_at)
            .bind(c.version)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn cart_for_update(&mut self, id: CartId) -> StoreResult<Option<Cart>> {
        let row = sqlx::query(locked::CART.as_str())
            .bind(id.0)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(cart_from_row).transpose()
    }

    async fn open_cart_for_update(&mut self, customer: UserId) -> StoreResult<Option<Cart>> {
        let row = sqlx::query(locked::OPEN_CART.as_str())
            .bind(customer.0)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(cart_from_row).transpose()
    }

    async fn update_cart(&mut self, c: &Cart, expected_version: i64) -> StoreResult<()> {
        let done = sqlx::query(sql::UPDATE_CART)
            .bind(c.customer_id.map(|u| u.0))
            .bind(c.status.as_str())
            .bind(c.currency.code())
            .bind(c.promo_code.as_deref())
            .bind(Json(&c.shipping_address))
            .bind(Json(&c.lines))
            .bind(c.checkout_id.map(|x| x.0))
            .bind(c.updated_at)
            .bind(c.version)
            .bind(c.id.0)
            .bind(expected_version)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(constraints::CARTS_VERSION));
        }
        Ok(())
    }

    async fn set_cart_token(&mut self, id: CartId, token_hash: &[u8]) -> StoreResult<()> {
        sqlx::query(sql::SET_CART_TOKEN)
            .bind(token_hash)
            .bind(id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}
