//! `/api/v1`: one module per area, each contributing its routes and their OpenAPI paths.

use ordo_app::App;
use utoipa_axum::router::OpenApiRouter;

pub mod auth;
pub mod carts;
pub mod catalog;
pub mod events;
pub mod exceptions;
pub mod inventory;
pub mod jobs;
pub mod notifications;
pub mod orders;
pub mod payments;
pub mod pricing;
pub mod users;
pub mod webhooks;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(catalog::router())
        .merge(inventory::router())
        .merge(orders::router())
        .merge(payments::router())
        .merge(events::router())
        .merge(webhooks::router())
        .merge(notifications::router())
        .merge(jobs::router())
        .merge(exceptions::router())
        .merge(carts::router())
        .merge(pricing::router())
}
