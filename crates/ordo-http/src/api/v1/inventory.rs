//! Stock levels per SKU.

use axum::extract::{Path, State};
use ordo_app::App;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Json};
use crate::views::StockView;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(get_stock, set_stock))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStockRequest {
    /// Units physically at the location, 0 to 10^9. Cannot go below what is reserved.
    #[schema(example = 100)]
    pub on_hand: i64,
    /// The location's code; the vendor's `main` location when absent.
    pub location: Option<String>,
}

/// Stock of a SKU, in total and per location (the vendor selling it, support, admins).
#[utoipa::path(get, path = "/inventory/{sku}", tag = "inventory", security(("bearer" = [])), params(("sku" = String, Path)),
    responses((status = 200, body = StockView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_stock(
    State(app): State<App>,
    caller: Caller,
    Path(sku): Path<String>,
) -> ApiResult<axum::Json<StockView>> {
    Ok(axum::Json(app.stock(&caller.actor, &sku).await?.into()))
}

/// Sets the units on hand of a SKU at one location (the vendor selling it, admins).
#[utoipa::path(put, path = "/inventory/{sku}", tag = "inventory", security(("bearer" = [])), params(("sku" = String, Path)),
    request_body = SetStockRequest,
    responses((status = 200, body = StockView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "below the reserved units", body = ErrorBody)))]
async fn set_stock(
    State(app): State<App>,
    caller: Caller,
    Path(sku): Path<String>,
    Json(req): Json<SetStockRequest>,
) -> ApiResult<axum::Json<StockView>> {
    let stock = app
        .set_stock(&caller.actor, &sku, req.location.as_deref(), req.on_hand)
        .await?;
    Ok(axum::Json(stock.into()))
}
