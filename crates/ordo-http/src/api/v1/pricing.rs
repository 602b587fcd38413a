//! Pricing data: price lists per currency (vendors and admins), and the rules admins maintain —
//! FX rates, tax rules, shipping rates, promotions.
//!
//! Bodies are the app's input types (`ordo_app::pricing`), also what `ordo pricing import`
//! reads from a file, so the API and the CLI accept exactly the same rules.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ordo_app::App;
use ordo_app::pricing::{FxRateInput, PromotionInput, ShippingRateInput, TaxRuleInput};
use ordo_domain::ids::{PromotionId, RuleId};
use ordo_domain::pricing::{FxRate, PricingBook, Promotion, ShippingRate, TaxRule};
use ordo_store::RuleKind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Json, Query, path_id};
use crate::views::MoneyView;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(pricing_rules))
        .routes(routes!(put_fx_rate))
        .routes(routes!(delete_fx_rate))
        .routes(routes!(put_tax_rule))
        .routes(routes!(delete_tax_rule))
        .routes(routes!(add_shipping_rate))
        .routes(routes!(delete_shipping_rate))
        .routes(routes!(create_promotion))
        .routes(routes!(update_promotion))
        .routes(routes!(set_price, delete_price))
        .routes(routes!(price_list))
}

// The request bodies below are the app's own input types on the wire (`ordo_app::pricing`);
// these structs only describe them in the OpenAPI document, like `AddressView`.

/// An FX rate: one unit of `from` is worth `rate` units of `to`.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "describes ordo_app::pricing::FxRateInput in the OpenAPI document"
)]
pub struct FxRateRequest {
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    pub from: String,
    #[schema(example = "JPY", pattern = "^[A-Z]{3}$")]
    pub to: String,
    /// A decimal with up to 9 places.
    #[schema(example = "161.235", pattern = "^[0-9]{1,12}(\\.[0-9]{1,9})?$")]
    pub rate: String,
    /// `half_up` (default), `half_even`, `up` or `down`: how a converted price is rounded to
    /// the minor unit.
    pub rounding: Option<String>,
}

/// A tax rule for one tax class in a country or one of its regions.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "describes ordo_app::pricing::TaxRuleInput in the OpenAPI document"
)]
pub struct TaxRuleRequest {
    /// ISO 3166-1 alpha-2.
    #[schema(example = "US", pattern = "^[A-Za-z]{2}$")]
    pub country: String,
    /// As addresses write it; matched ignoring case and spaces.
    #[schema(example = "CA")]
    pub region: Option<String>,
    /// `standard` when absent; `shipping` taxes shipping charges.
    pub tax_class: Option<String>,
    /// A percentage, up to 4 decimals.
    #[schema(example = "7.25", pattern = "^[0-9]{1,12}(\\.[0-9]{1,4})?$")]
    pub rate: String,
    /// `inclusive` (VAT/GST) or `exclusive` (sales tax).
    #[schema(example = "exclusive", pattern = "^(inclusive|exclusive)$")]
    pub mode: String,
    #[schema(
        example = "CA sales tax",
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
}

/// A shipping rate for parcels within a weight band to some countries.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "describes ordo_app::pricing::ShippingRateInput in the OpenAPI document"
)]
pub struct ShippingRateRequest {
    #[schema(
        example = "EU standard",
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
    /// ISO 3166-1 alpha-2 codes; empty or absent for everywhere.
    pub countries: Option<Vec<String>>,
    /// Only this vendor's orders.
    pub vendor_id: Option<uuid::Uuid>,
    #[schema(minimum = 0)]
    pub min_weight_grams: Option<i64>,
    /// Parcels must weigh less than this.
    #[schema(minimum = 0)]
    pub max_weight_grams: Option<i64>,
    pub price: MoneyView,
    /// Free when the goods after discounts reach this.
    pub free_over: Option<MoneyView>,
}

/// A promotion: exactly one of `percent` and `amount`.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "describes ordo_app::pricing::PromotionInput in the OpenAPI document"
)]
pub struct PromotionRequest {
    /// Customers enter it (any case); without one it applies by itself.
    #[schema(example = "SPRING10")]
    pub code: Option<String>,
    #[schema(
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
    /// A percentage off, up to 4 decimals.
    #[schema(example = "10", pattern = "^[0-9]{1,12}(\\.[0-9]{1,4})?$")]
    pub percent: Option<String>,
    /// A fixed amount off, in the cart's currency.
    pub amount: Option<MoneyView>,
    /// The eligible goods before discounts must reach this.
    pub min_subtotal: Option<MoneyView>,
    /// Only this vendor's items are eligible.
    pub vendor_id: Option<uuid::Uuid>,
    /// At most this many checkouts, ever, under any concurrency.
    #[schema(minimum = 1, maximum = 4_294_967_295_i64)]
    pub usage_limit: Option<i64>,
    pub active: Option<bool>,
    pub starts_at: Option<chrono::DateTime<chrono::Utc>>,
    pub ends_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Every pricing rule and promotion, with each promotion's use count (admins, support).
#[utoipa::path(get, path = "/pricing", tag = "pricing", security(("bearer" = [])),
    responses((status = 200, description = "{fx, tax, shipping, promotions}", body = Object), (status = 403, body = ErrorBody)))]
async fn pricing_rules(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<axum::Json<PricingBook>> {
    Ok(axum::Json(app.pricing_rules(&caller.actor).await?))
}

/// Sets the FX rate of a currency pair, replacing the pair's earlier rate. Used only for a
/// product with no price of its own in a cart's currency; `rounding` (`half_up`, `half_even`,
/// `up`, `down`) rounds the converted price to the minor unit.
#[utoipa::path(put, path = "/fx-rates", tag = "pricing", security(("bearer" = [])),
    request_body = FxRateRequest,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn put_fx_rate(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<FxRateInput>,
) -> ApiResult<axum::Json<FxRate>> {
    Ok(axum::Json(
        app.put_fx_rate(&caller.actor, caller.proof, &req).await?,
    ))
}

async fn delete(app: &App, caller: &Caller, kind: RuleKind, id: &str) -> ApiResult<StatusCode> {
    app.delete_rule(
        &caller.actor,
        caller.proof,
        kind,
        path_id::<RuleId>(id, "rule")?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes an FX rate.
#[utoipa::path(delete, path = "/fx-rates/{id}", tag = "pricing", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_fx_rate(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    delete(&app, &caller, RuleKind::Fx, &id).await
}

/// Sets the tax on one tax class in a country or one of its regions, replacing the earlier
/// rule for the same place and class. `mode`: `inclusive` (VAT/GST, inside the price) or
/// `exclusive` (sales tax, added). A region's rule wins over its country's.
#[utoipa::path(post, path = "/tax-rules", tag = "pricing", security(("bearer" = [])),
    request_body = TaxRuleRequest,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn put_tax_rule(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<TaxRuleInput>,
) -> ApiResult<axum::Json<TaxRule>> {
    Ok(axum::Json(
        app.put_tax_rule(&caller.actor, caller.proof, &req).await?,
    ))
}

/// Deletes a tax rule.
#[utoipa::path(delete, path = "/tax-rules/{id}", tag = "pricing", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_tax_rule(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    delete(&app, &caller, RuleKind::Tax, &id).await
}

/// Adds a shipping rate: a price for parcels within a weight band to some countries (all when
/// `countries` is empty), optionally for one vendor, optionally free over an amount. A checkout
/// uses the vendor's own rate, then one naming the country, then the cheapest. Once any rate
/// exists, a destination no rate covers cannot be checked out (422 `no_shipping_rate`).
#[utoipa::path(post, path = "/shipping-rates", tag = "pricing", security(("bearer" = [])),
    request_body = ShippingRateRequest,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn add_shipping_rate(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<ShippingRateInput>,
) -> ApiResult<(StatusCode, axum::Json<ShippingRate>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(
            app.add_shipping_rate(&caller.actor, caller.proof, &req)
                .await?,
        ),
    ))
}

/// Deletes a shipping rate.
#[utoipa::path(delete, path = "/shipping-rates/{id}", tag = "pricing", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_shipping_rate(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    delete(&app, &caller, RuleKind::Shipping, &id).await
}

/// Creates a promotion: `percent` or a fixed `amount` off, with a `code` customers enter or
/// automatic without one; optionally a minimum basket, one vendor's items only, a usage limit
/// (never exceeded, under any concurrency) and a validity period.
#[utoipa::path(post, path = "/promotions", tag = "pricing", security(("bearer" = [])),
    request_body = PromotionRequest,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "code_taken", body = ErrorBody)))]
async fn create_promotion(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<PromotionInput>,
) -> ApiResult<(StatusCode, axum::Json<Promotion>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(
            app.create_promotion(&caller.actor, caller.proof, &req)
                .await?,
        ),
    ))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdatePromotionRequest {
    pub active: Option<bool>,
    /// `null` removes the limit.
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<i64>)]
    pub usage_limit: Option<Option<i64>>,
    /// `null` removes the end.
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub ends_at: Option<Option<chrono::DateTime<chrono::Utc>>>,
}

/// Switches a promotion on or off, or changes its usage limit or end.
#[utoipa::path(patch, path = "/promotions/{id}", tag = "pricing", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = UpdatePromotionRequest,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_promotion(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<UpdatePromotionRequest>,
) -> ApiResult<axum::Json<Promotion>> {
    let id = path_id::<PromotionId>(&id, "promotion")?;
    Ok(axum::Json(
        app.update_promotion(
            &caller.actor,
            caller.proof,
            id,
            req.active,
            req.usage_limit,
            req.ends_at,
        )
        .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPriceRequest {
    /// Minor units of the currency in the path.
    #[schema(example = 1999)]
    pub amount: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PriceView {
    pub sku: String,
    pub vendor_id: uuid::Uuid,
    pub price: MoneyView,
}

#[derive(Serialize, ToSchema)]
pub struct PriceList {
    pub data: Vec<PriceView>,
    pub has_more: bool,
}

/// Puts a SKU on a currency's price list, or changes its price there (the vendor selling it,
/// admins). Carts show the new price at once; placed orders keep theirs.
#[utoipa::path(put, path = "/prices/{sku}/{currency}", tag = "pricing", security(("bearer" = [])),
    params(("sku" = String, Path), ("currency" = String, Path)), request_body = SetPriceRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_price(
    State(app): State<App>,
    caller: Caller,
    Path((sku, currency)): Path<(String, String)>,
    Json(req): Json<SetPriceRequest>,
) -> ApiResult<StatusCode> {
    app.set_price(&caller.actor, &sku, &currency, req.amount)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a SKU off a currency's price list.
#[utoipa::path(delete, path = "/prices/{sku}/{currency}", tag = "pricing", security(("bearer" = [])),
    params(("sku" = String, Path), ("currency" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_price(
    State(app): State<App>,
    caller: Caller,
    Path((sku, currency)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    app.delete_price(&caller.actor, &sku, &currency).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PriceListFilter {
    /// One vendor's SKUs only.
    pub vendor_id: Option<uuid::Uuid>,
    /// A SKU: the page after it.
    pub starting_after: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
}

/// One currency's price list, by SKU. Public, like the catalog.
#[utoipa::path(get, path = "/price-lists/{currency}", tag = "pricing", params(("currency" = String, Path), PriceListFilter),
    responses((status = 200, body = PriceList), (status = 400, body = ErrorBody)))]
async fn price_list(
    State(app): State<App>,
    Path(currency): Path<String>,
    Query(f): Query<PriceListFilter>,
) -> ApiResult<axum::Json<PriceList>> {
    let (rows, has_more) = app
        .price_list(
            &currency,
            f.vendor_id.map(ordo_domain::ids::VendorId),
            f.starting_after.as_deref(),
            f.limit,
        )
        .await?;
    Ok(axum::Json(PriceList {
        data: rows
            .into_iter()
            .map(|r| PriceView {
                sku: r.sku.to_string(),
                vendor_id: r.vendor_id.0,
                price: r.price.into(),
            })
            .collect(),
        has_more,
    }))
}
