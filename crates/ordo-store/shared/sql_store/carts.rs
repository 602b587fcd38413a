//! Carts, shared by both backends: the row mappings (used by their writes too) and
//! the reads of [`ordo_store::carts`].

use async_trait::async_trait;
use ordo_domain::address::Address;
use ordo_domain::cart::{Cart, CartLine, CartStatus};
use ordo_domain::ids::{CartId, CheckoutId, UserId};
use ordo_store::{CartStore, StoreResult};
use sqlx::AssertSqlSafe;

use super::{CART_COLUMNS, Cols, SqlStore, corrupt, currency};
use crate::map_err;

pub(crate) fn cart_from_row(row: &impl Cols) -> StoreResult<Cart> {
    let status = row.text("status")?;
    Ok(Cart {
        id: CartId(row.uuid("id")?),
        customer_id: row.opt_uuid("customer_id")?.map(UserId),
        status: CartStatus::parse(&status).map_err(|e| corrupt("cart status", e))?,
        currency: currency(&row.text("currency")?)?,
        promo_code: row.opt_text("promo_code")?,
        shipping_address: row.json::<Option<Address>>("shipping_address")?,
        lines: row.json::<Vec<CartLine>>("lines")?,
        checkout_id: row.opt_uuid("checkout_id")?.map(CheckoutId),
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        version: row.int("version")?,
    })
}

#[async_trait]
impl CartStore for SqlStore {
    async fn cart(&self, id: CartId) -> StoreResult<Option<Cart>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CART_COLUMNS} FROM carts WHERE id = $1"
        )))
        .bind(id.0)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(cart_from_row).transpose()
    }

    async fn cart_by_token(&self, token_hash: &[u8]) -> StoreResult<Option<Cart>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CART_COLUMNS} FROM carts WHERE token_hash = $1"
        )))
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(cart_from_row).transpose()
    }
}
