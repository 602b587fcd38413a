//! The vendor console: the order queue ("needs action" first: paid and not yet accepted,
//! accepted and not yet shipped; then every order, filtered by status and payment status, a
//! page at a time by keyset, with counts that stop at "1,000+"), new orders appearing live,
//! and an order's page with its timeline and the actions the table allows the vendor (accept,
//! ship, cancel) and the capture of an authorized payment; stock per SKU and location, its
//! adjustments (who, why) and the low-stock list; products (add one with up to three variants,
//! set a SKU's price in any currency and its low-stock threshold); webhook endpoints (add,
//! change, pause and resume, a new secret shown once, delete after asking) and their
//! deliveries (test, retry).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use ordo_app::payments::requests::Ask;
use ordo_app::{App, AppError};
use ordo_domain::identity::Role;
use ordo_domain::ids::OrderId;
use ordo_domain::order::{Action, OrderStatus, allowed_actions};
use ordo_domain::payment::{PaymentState, PaymentStatus};
use serde::Deserialize;

use super::{Errors, Flash, Page, failure, render, render_form, see_other, signed_as};
use crate::web::account::{ORDER_EVENTS, OrderRow, OrderView, order_head};
use crate::web::session::Visitor;

/// Counts on the queue stop here.
pub(super) const COUNT_CAP: u32 = 1000;
/// Orders per page of the queue.
pub(super) const PAGE: i64 = 25;

/// A count as the queue shows it: exact below the cap, "1,000+" at it.
pub(super) fn capped(n: u32) -> String {
    if n >= COUNT_CAP {
        "1,000+".to_owned()
    } else {
        n.to_string()
    }
}

/// The vendor's staff behind the page (or an admin), or where they should go instead.
pub(super) fn vendor_only(
    app: &App,
    visitor: &Visitor,
    path: &str,
) -> Result<ordo_domain::identity::Actor, Box<Response>> {
    signed_as(
        app,
        visitor,
        path,
        &[Role::Vendor, Role::Admin],
        "vendor console",
    )
    .map(|s| s.principal.actor)
}

mod orders;
mod products;
mod queue;
mod stock;
mod webhooks;

pub use orders::{act, order};
pub use products::{change_variant, create_product, products};
pub use queue::queue;
pub use stock::{adjust, stock};
pub use webhooks::{
    change_webhook, create_webhook, retry_delivery, webhook, webhook_action, webhooks,
};
