//! Who may read which orders: the ownership rule as a storage filter, shared by the order
//! lists, the event feeds and the live streams. A leaf: it knows actors and scopes, nothing of
//! the use cases that ask.

use ordo_domain::identity::{Actor, Role};
use ordo_store::OrderScope;

use crate::{AppError, AppResult};

/// Whose orders (and their events) an actor may read.
pub(crate) fn scope_of(actor: &Actor) -> AppResult<OrderScope> {
    Ok(match actor.role {
        Role::Admin | Role::Support | Role::System => OrderScope::All,
        Role::Customer => OrderScope::Customer(actor.user_id.ok_or(AppError::Unauthenticated)?),
        Role::Vendor => OrderScope::Vendor(actor.vendor_id.ok_or(AppError::Unauthenticated)?),
        Role::Carrier => OrderScope::Carrier(actor.user_id.ok_or(AppError::Unauthenticated)?),
    })
}
