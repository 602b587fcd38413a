//! Vendors, their locations, and products.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ordo_app::App;
use ordo_app::catalog::{NewLocation, NewProduct, NewVariant};
use ordo_domain::ids::{ProductId, VendorId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, Json, Query, path_id};
use crate::views::{LocationView, ProductList, ProductView, VendorList, VendorView};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_vendor, list_vendors))
        .routes(routes!(get_vendor))
        .routes(routes!(create_location, list_locations))
        .routes(routes!(create_product, list_products))
        .routes(routes!(get_product))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVendorRequest {
    #[schema(
        example = "Nordlicht Outdoor",
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
}

/// Creates a vendor with a default stock location `main` (admins).
#[utoipa::path(post, path = "/vendors", tag = "catalog", security(("bearer" = [])), request_body = CreateVendorRequest,
    responses((status = 201, body = VendorView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_vendor(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<CreateVendorRequest>,
) -> ApiResult<(StatusCode, axum::Json<VendorView>)> {
    let vendor = app.create_vendor(&caller.actor, &req.name).await?;
    Ok((StatusCode::CREATED, axum::Json(vendor.into())))
}

/// Vendors, by name: all of them for admins and support, a vendor's own for its staff.
#[utoipa::path(get, path = "/vendors", tag = "catalog", security(("bearer" = [])),
    responses((status = 200, body = VendorList), (status = 403, body = ErrorBody)))]
async fn list_vendors(State(app): State<App>, caller: Caller) -> ApiResult<axum::Json<VendorList>> {
    let vendors = app.vendors(&caller.actor).await?;
    Ok(axum::Json(VendorList {
        data: vendors.into_iter().map(Into::into).collect(),
    }))
}

/// A vendor (its staff, support, admins).
#[utoipa::path(get, path = "/vendors/{id}", tag = "catalog", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = VendorView), (status = 404, body = ErrorBody)))]
async fn get_vendor(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<VendorView>> {
    let vendor = app
        .vendor(&caller.actor, VendorId(path_id(&id, "vendor")?))
        .await?;
    Ok(axum::Json(vendor.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLocationRequest {
    /// Lower-case letters, digits, `-` and `_`; unique per vendor.
    #[schema(example = "berlin", pattern = "^[a-z0-9_-]{1,40}$")]
    pub code: String,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
    /// Lower is allocated from first; default 0.
    #[serde(default)]
    pub priority: i32,
}

/// Adds a stock location to a vendor (its staff, admins).
#[utoipa::path(post, path = "/vendors/{id}/locations", tag = "catalog", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = CreateLocationRequest,
    responses((status = 201, body = LocationView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_location(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<CreateLocationRequest>,
) -> ApiResult<(StatusCode, axum::Json<LocationView>)> {
    let vendor_id = VendorId(path_id(&id, "vendor")?);
    let location = app
        .create_location(
            &caller.actor,
            NewLocation {
                vendor_id,
                code: req.code,
                name: req.name,
                priority: req.priority,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(location.into())))
}

/// A vendor's stock locations, in allocation order.
#[utoipa::path(get, path = "/vendors/{id}/locations", tag = "catalog", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<LocationView>), (status = 404, body = ErrorBody)))]
async fn list_locations(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Vec<LocationView>>> {
    let locations = app
        .locations(&caller.actor, VendorId(path_id(&id, "vendor")?))
        .await?;
    Ok(axum::Json(locations.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceRequest {
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// Integer minor units.
    #[schema(example = 1999, minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub amount: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantRequest {
    #[schema(example = "TEE-RED-M", pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub sku: String,
    /// What tells it from its siblings, e.g. "Red / M".
    pub title: Option<String>,
    pub prices: Vec<PriceRequest>,
    /// Shipping weight of one unit (0 when absent).
    #[schema(minimum = 0, maximum = 4_294_967_295_i64)]
    pub weight_grams: Option<i64>,
    /// Available stock at or below this is low (emits `stock.low`; listed by `/inventory/low-stock`).
    pub low_stock_threshold: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    pub vendor_id: Uuid,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub title: String,
    /// Which tax rules apply (`standard` when absent).
    pub tax_class: Option<String>,
    /// `at_order` (default: reserved when ordered) or `at_payment` (taken when paid).
    pub stock_deduction: Option<String>,
    pub variants: Vec<VariantRequest>,
}

/// Creates a product with its variants and prices (the vendor's staff, admins).
#[utoipa::path(post, path = "/products", tag = "catalog", security(("bearer" = [])), request_body = CreateProductRequest,
    responses((status = 201, body = ProductView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "SKU taken", body = ErrorBody)))]
async fn create_product(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<CreateProductRequest>,
) -> ApiResult<(StatusCode, axum::Json<ProductView>)> {
    let input = NewProduct {
        vendor_id: VendorId(req.vendor_id),
        title: req.title,
        tax_class: req.tax_class,
        stock_deduction: req.stock_deduction,
        variants: req
            .variants
            .into_iter()
            .map(|v| NewVariant {
                sku: v.sku,
                title: v.title,
                prices: v
                    .prices
                    .into_iter()
                    .map(|p| (p.currency, p.amount))
                    .collect(),
                weight_grams: v.weight_grams,
                low_stock_threshold: v.low_stock_threshold,
            })
            .collect(),
    };
    let product = app.create_product(&caller.actor, input).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ProductView::new(product, &caller.actor)),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductFilter {
    /// Only this vendor's products.
    pub vendor_id: Option<Uuid>,
    /// 1 to 100, default 50.
    pub limit: Option<u32>,
}

/// Products, newest first.
#[utoipa::path(get, path = "/products", tag = "catalog", security(("bearer" = [])), params(ProductFilter),
    responses((status = 200, body = ProductList), (status = 400, body = ErrorBody)))]
async fn list_products(
    State(app): State<App>,
    caller: Caller,
    Query(f): Query<ProductFilter>,
) -> ApiResult<axum::Json<ProductList>> {
    let limit = f.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(
            ApiError::bad_request("invalid_limit", "limit must be 1 to 100").with_field("limit"),
        );
    }
    let products = app.products(f.vendor_id.map(VendorId), limit).await?;
    Ok(axum::Json(ProductList {
        data: products
            .into_iter()
            .map(|p| ProductView::new(p, &caller.actor))
            .collect(),
    }))
}

/// One product.
#[utoipa::path(get, path = "/products/{id}", tag = "catalog", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ProductView), (status = 404, body = ErrorBody)))]
async fn get_product(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ProductView>> {
    let product = app.product(ProductId(path_id(&id, "product")?)).await?;
    Ok(axum::Json(ProductView::new(product, &caller.actor)))
}
