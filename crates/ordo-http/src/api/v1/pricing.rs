//! Pricing rules, as admins maintain them: FX rates, tax rules, shipping rates, promotions.
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
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Json, path_id};

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
    request_body(content = Object, description = r#"{"from": "EUR", "to": "JPY", "rate": "161.235", "rounding": "half_up"}"#),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn put_fx_rate(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<FxRateInput>,
) -> ApiResult<axum::Json<FxRate>> {
    Ok(axum::Json(app.put_fx_rate(&caller.actor, &req).await?))
}

async fn delete(app: &App, caller: &Caller, kind: RuleKind, id: &str) -> ApiResult<StatusCode> {
    app.delete_rule(&caller.actor, kind, path_id::<RuleId>(id, "rule")?)
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
    request_body(content = Object, description = r#"{"country": "US", "region": "CA", "tax_class": "standard", "rate": "7.25", "mode": "exclusive", "name": "CA sales tax"}"#),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn put_tax_rule(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<TaxRuleInput>,
) -> ApiResult<axum::Json<TaxRule>> {
    Ok(axum::Json(app.put_tax_rule(&caller.actor, &req).await?))
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
    request_body(content = Object, description = r#"{"name": "EU", "countries": ["DE","FR"], "max_weight_grams": 5000, "price": {"amount": 490, "currency": "EUR"}, "free_over": {"amount": 5000, "currency": "EUR"}}"#),
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn add_shipping_rate(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<ShippingRateInput>,
) -> ApiResult<(StatusCode, axum::Json<ShippingRate>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(app.add_shipping_rate(&caller.actor, &req).await?),
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
    request_body(content = Object, description = r#"{"code": "SPRING10", "name": "Spring", "percent": "10", "min_subtotal": {"amount": 5000, "currency": "EUR"}, "usage_limit": 500}"#),
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "code_taken", body = ErrorBody)))]
async fn create_promotion(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<PromotionInput>,
) -> ApiResult<(StatusCode, axum::Json<Promotion>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(app.create_promotion(&caller.actor, &req).await?),
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
        app.update_promotion(&caller.actor, id, req.active, req.usage_limit, req.ends_at)
            .await?,
    ))
}
