//! Stock levels per SKU.

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use ordo_app::App;
use ordo_app::inventory::AdjustStock;
use ordo_domain::ids::VendorId;
use ordo_store::StockAdjustment;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Json, Query};
use crate::views::StockView;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(get_stock, set_stock))
        .routes(routes!(adjust_stock, list_adjustments))
        .routes(routes!(set_threshold))
        .routes(routes!(low_stock))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStockRequest {
    /// Units physically at the location, 0 to 10^9. Cannot go below what is reserved.
    #[schema(example = 100, minimum = 0, maximum = 1_000_000_000)]
    pub on_hand: i64,
    /// The location's code; the vendor's `main` location when absent.
    #[schema(pattern = "^[a-z0-9_-]{1,40}$")]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustStockRequest {
    /// Units added (positive) or removed (negative). Refused if it would leave fewer units
    /// than are reserved for open orders.
    #[schema(example = -2, minimum = -1_000_000_000, maximum = 1_000_000_000)]
    pub delta: i64,
    /// `receipt`, `correction` or `damage`.
    #[schema(example = "damage", pattern = "^(receipt|correction|damage)$")]
    pub reason: String,
    /// Free text kept with the record ("forklift, aisle 3").
    pub note: Option<String>,
    /// The location's code; the vendor's `main` location when absent.
    #[schema(pattern = "^[a-z0-9_-]{1,40}$")]
    pub location: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AdjustmentView {
    pub id: Uuid,
    pub sku: String,
    pub location_id: Uuid,
    pub delta: i64,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Who made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<Uuid>,
    pub actor_role: String,
    /// Units on hand at the location afterwards.
    pub on_hand_after: i64,
    pub at: DateTime<Utc>,
}

impl From<StockAdjustment> for AdjustmentView {
    fn from(a: StockAdjustment) -> Self {
        Self {
            id: a.id.0,
            sku: a.sku.to_string(),
            location_id: a.location_id.0,
            delta: a.delta,
            reason: a.reason.as_str().to_owned(),
            note: a.note,
            actor_id: a.actor.user_id.map(|u| u.0),
            actor_role: a.actor.role.to_string(),
            on_hand_after: a.on_hand_after,
            at: a.at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AdjustmentList {
    pub data: Vec<AdjustmentView>,
}

/// Records a stock adjustment (receipt, correction, damage) with who and why (the vendor
/// selling the SKU, admins).
#[utoipa::path(post, path = "/inventory/{sku}/adjustments", tag = "inventory", security(("bearer" = [])),
    params(("sku" = String, Path)), request_body = AdjustStockRequest,
    responses((status = 201, body = AdjustmentView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "would_go_negative", body = ErrorBody)))]
async fn adjust_stock(
    State(app): State<App>,
    caller: Caller,
    Path(sku): Path<String>,
    Json(req): Json<AdjustStockRequest>,
) -> ApiResult<(axum::http::StatusCode, axum::Json<AdjustmentView>)> {
    let input = AdjustStock {
        location: req.location,
        delta: req.delta,
        reason: req.reason,
        note: req.note,
    };
    let a = app.adjust_stock(&caller.actor, &sku, input).await?;
    Ok((axum::http::StatusCode::CREATED, axum::Json(a.into())))
}

/// A SKU's adjustments, newest first (the last 100).
#[utoipa::path(get, path = "/inventory/{sku}/adjustments", tag = "inventory", security(("bearer" = [])),
    params(("sku" = String, Path)),
    responses((status = 200, body = AdjustmentList), (status = 404, body = ErrorBody)))]
async fn list_adjustments(
    State(app): State<App>,
    caller: Caller,
    Path(sku): Path<String>,
) -> ApiResult<axum::Json<AdjustmentList>> {
    let data = app.stock_adjustments(&caller.actor, &sku).await?;
    Ok(axum::Json(AdjustmentList {
        data: data.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdRequest {
    /// Available stock at or below this is low; `null` switches the alert off.
    pub low_stock_threshold: Option<i64>,
}

/// Sets a SKU's low-stock threshold: when available stock falls to it, a `stock.low` event
/// goes out, and the SKU is listed by `/low-stock`.
#[utoipa::path(put, path = "/inventory/{sku}/low-stock-threshold", tag = "inventory", security(("bearer" = [])),
    params(("sku" = String, Path)), request_body = ThresholdRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_threshold(
    State(app): State<App>,
    caller: Caller,
    Path(sku): Path<String>,
    Json(req): Json<ThresholdRequest>,
) -> ApiResult<axum::http::StatusCode> {
    app.set_low_stock_threshold(&caller.actor, &sku, req.low_stock_threshold)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LowStockFilter {
    /// The vendor (admins and support; a vendor always sees their own).
    pub vendor_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct LowStockView {
    pub sku: String,
    pub low_stock_threshold: i64,
    /// On hand minus reserved, over all locations.
    pub available: i64,
}

#[derive(Serialize, ToSchema)]
pub struct LowStockList {
    pub data: Vec<LowStockView>,
}

/// The vendor's SKUs at or below their low-stock threshold.
#[utoipa::path(get, path = "/low-stock", tag = "inventory", security(("bearer" = [])), params(LowStockFilter),
    responses((status = 200, body = LowStockList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn low_stock(
    State(app): State<App>,
    caller: Caller,
    Query(f): Query<LowStockFilter>,
) -> ApiResult<axum::Json<LowStockList>> {
    let rows = app
        .low_stock(&caller.actor, f.vendor_id.map(VendorId))
        .await?;
    Ok(axum::Json(LowStockList {
        data: rows
            .into_iter()
            .map(|r| LowStockView {
                sku: r.sku.to_string(),
                low_stock_threshold: r.threshold,
                available: r.available,
            })
            .collect(),
    }))
}
