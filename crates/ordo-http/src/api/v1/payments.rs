//! Payments: an order's payment and its ledger, paying with another method, capture, void and
//! refunds, and the sandbox's test "bank page".

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use ordo_app::App;
use ordo_app::payments::requests::Ask;
use ordo_domain::identity::Actor;
use ordo_domain::ids::OrderId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Json, optional_body, path_id};
use crate::views::{ActorView, MoneyView, PaymentList, PaymentView};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(order_payments))
        .routes(routes!(confirm))
        .routes(routes!(authenticate))
        .routes(routes!(capture))
        .routes(routes!(void))
        .routes(routes!(refund))
        .routes(routes!(provider_webhook))
        .routes(routes!(vendor_balance))
        .routes(routes!(set_commission))
        .routes(routes!(list_payouts, request_payout))
        .routes(routes!(mark_payout_paid))
        .routes(routes!(ledger))
}

/// An order's payment with its amounts, each order's share and the ledger (empty when the order
/// has none: placed with payments off and not yet paid by hand). Everyone who may read the order
/// may read it; a vendor sees its own orders' shares.
#[utoipa::path(get, path = "/orders/{id}/payments", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PaymentList), (status = 404, body = ErrorBody)))]
async fn order_payments(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<PaymentList>> {
    let id = path_id::<OrderId>(&id, "order")?;
    let detail = app.order_payment(&caller.actor, id).await?;
    Ok(axum::Json(PaymentList {
        data: detail
            .into_iter()
            .map(|d| PaymentView::detail(d, &caller.actor))
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// How to pay: a provider's method reference (`pm_card_visa` at Stripe, a sandbox test card
    /// such as `sandbox_card_ok`).
    #[schema(example = "sandbox_card_ok", min_length = 1, max_length = 255)]
    pub payment_method: String,
}

/// Pays an unpaid order (its customer): confirms the order's payment with a method — after a
/// decline, or when the checkout was placed without one. Answers with the payment as the
/// provider left it (`decline_code` when declined again).
#[utoipa::path(post, path = "/orders/{id}/payments/confirm", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ConfirmRequest,
    responses((status = 200, body = PaymentView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "order_not_awaiting_payment, payment_not_awaiting_method or no_payment", body = ErrorBody),
              (status = 422, description = "payments_off", body = ErrorBody)))]
async fn confirm(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<ConfirmRequest>,
) -> ApiResult<axum::Json<PaymentView>> {
    let id = path_id::<OrderId>(&id, "order")?;
    let d = app
        .confirm_payment(&caller.actor, id, &req.payment_method)
        .await?;
    Ok(axum::Json(PaymentView::detail(d, &caller.actor)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthenticateRequest {
    /// Whether the customer passes the bank's check.
    pub success: bool,
}

/// The sandbox's test "bank page" (only where the sandbox takes payments): completes — or
/// fails — the second step a `sandbox_card_3ds` payment waits for, as the customer would at
/// their bank. Answers with the payment as it then stands.
#[utoipa::path(post, path = "/orders/{id}/payments/authenticate", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AuthenticateRequest,
    responses((status = 200, body = PaymentView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "payment_not_awaiting_action", body = ErrorBody)))]
async fn authenticate(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<AuthenticateRequest>,
) -> ApiResult<axum::Json<PaymentView>> {
    let id = path_id::<OrderId>(&id, "order")?;
    let d = app
        .authenticate_sandbox_payment(&caller.actor, id, req.success)
        .await?;
    Ok(axum::Json(PaymentView::detail(d, &caller.actor)))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    /// Minor units; the order's whole uncaptured share when left out.
    #[schema(minimum = 1)]
    pub amount: Option<i64>,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// Captures an order's authorized share (manual capture: at shipment, or by hand) — the order's
/// vendor staff or an admin. Never more than is authorized and not yet captured or on its way
/// (409 `capture_exceeds_authorized`). A provider that fails for a passing reason leaves the
/// capture `capturing`; it is retried from five minutes on.
#[utoipa::path(post, path = "/orders/{id}/payments/capture", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body(content = Option<CaptureRequest>),
    responses((status = 200, body = PaymentView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "capture_exceeds_authorized, no_payment or payment_not_at_provider", body = ErrorBody)))]
async fn capture(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<axum::Json<PaymentView>> {
    let id = path_id::<OrderId>(&id, "order")?;
    let req: CaptureRequest = optional_body(&body)?;
    let d = app
        .move_money(
            &caller.actor,
            caller.proof,
            id,
            Ask::Capture(req.amount),
            req.reason,
        )
        .await?;
    Ok(axum::Json(PaymentView::detail(d, &caller.actor)))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct VoidRequest {
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// Lets an order's uncaptured share go (the order's vendor staff or an admin): 409
/// `nothing_to_void` when nothing is authorized and uncaptured.
#[utoipa::path(post, path = "/orders/{id}/payments/void", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body(content = Option<VoidRequest>),
    responses((status = 200, body = PaymentView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "nothing_to_void, no_payment or payment_not_at_provider", body = ErrorBody)))]
async fn void(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<axum::Json<PaymentView>> {
    let id = path_id::<OrderId>(&id, "order")?;
    let req: VoidRequest = optional_body(&body)?;
    let d = app
        .move_money(&caller.actor, caller.proof, id, Ask::Void, req.reason)
        .await?;
    Ok(axum::Json(PaymentView::detail(d, &caller.actor)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Minor units: at most what the order's share has captured and not refunded or on its way
    /// back (409 `refund_exceeds_captured`).
    #[schema(minimum = 1)]
    pub amount: i64,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// Sends money back to the customer through the provider (support, admins; a sensitive action:
/// step up first). Concurrent refunds are counted together: they never add up to more than was
/// captured, per order and per payment.
#[utoipa::path(post, path = "/orders/{id}/refunds", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = RefundRequest,
    responses((status = 200, body = PaymentView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "refund_exceeds_captured, no_payment or payment_not_at_provider", body = ErrorBody)))]
async fn refund(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<RefundRequest>,
) -> ApiResult<axum::Json<PaymentView>> {
    let id = path_id::<OrderId>(&id, "order")?;
    let d = app
        .move_money(
            &caller.actor,
            caller.proof,
            id,
            Ask::Refund(req.amount),
            req.reason,
        )
        .await?;
    Ok(axum::Json(PaymentView::detail(d, &caller.actor)))
}

#[derive(Serialize, ToSchema)]
pub struct WebhookReceived {
    pub received: bool,
}

/// A payment provider's webhook (`stripe`; `sandbox` for the built-in one). No login: the
/// `Stripe-Signature` header (`t=…,v1=…`, HMAC-SHA256 of `"{t}.{raw body}"` with the
/// endpoint's secret, any of several `v1`, at most 300 s old) proves the sender; a bad one is a
/// 400 and changes nothing. Each event is taken once (a repeat is acknowledged and ignored) and
/// applied by asking the provider for the payment as it is now.
#[utoipa::path(post, path = "/payments/webhooks/{provider}", tag = "payments",
    params(("provider" = String, Path, description = "`stripe` or `sandbox`"),
        ("Stripe-Signature" = String, Header, description = "t=<unix time>,v1=<hex HMAC-SHA256>")),
    request_body(content = Object, description = "The provider's event, as it sent it"),
    responses((status = 200, body = WebhookReceived),
              (status = 400, description = "invalid_webhook: a bad or old signature, or not an event", body = ErrorBody),
              (status = 404, description = "this node takes no payments through that provider", body = ErrorBody),
              (status = 503, description = "the provider could not be asked: send it again", body = ErrorBody)))]
async fn provider_webhook(
    State(app): State<App>,
    Path(provider): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<axum::Json<WebhookReceived>> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    app.receive_payment_webhook(&provider, signature, &body)
        .await?;
    Ok(axum::Json(WebhookReceived { received: true }))
}

/// A vendor's money in one currency (minor units).
#[derive(Serialize, ToSchema)]
pub struct BalanceView {
    pub currency: String,
    /// Captured on the vendor's orders (and paid by hand).
    pub sales: i64,
    pub refunded: i64,
    /// The platform's commission, net of refunds.
    pub commission: i64,
    /// Owed to the vendor in all: sales − refunded − commission.
    pub earned: i64,
    /// Payouts asked for, not yet marked paid.
    pub payouts_pending: i64,
    pub paid_out: i64,
    /// What may still be paid out.
    pub available: i64,
}

#[derive(Serialize, ToSchema)]
pub struct VendorBalanceView {
    pub vendor_id: Uuid,
    /// The platform's commission on new orders, in basis points (1,250 = 12.5 %).
    pub commission_bp: u16,
    /// One per currency the vendor sold in.
    pub balances: Vec<BalanceView>,
}

impl From<ordo_app::payments::balances::VendorBalance> for VendorBalanceView {
    fn from(v: ordo_app::payments::balances::VendorBalance) -> Self {
        Self {
            vendor_id: v.vendor_id.0,
            commission_bp: v.commission_bp,
            balances: v
                .balances
                .into_iter()
                .map(|b| BalanceView {
                    currency: b.currency.map(|c| c.code().to_owned()).unwrap_or_default(),
                    sales: b.sales,
                    refunded: b.refunded,
                    commission: b.commission,
                    earned: b.earned,
                    payouts_pending: b.payouts_pending,
                    paid_out: b.paid_out,
                    available: b.available,
                })
                .collect(),
        }
    }
}

fn vendor_id(raw: &str) -> ApiResult<ordo_domain::ids::VendorId> {
    path_id::<ordo_domain::ids::VendorId>(raw, "vendor")
}

/// A vendor's balances (its staff, support, admins): what it earned — captured, less refunds
/// and the platform's commission — what was paid out, and what is available.
#[utoipa::path(get, path = "/vendors/{id}/balance", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = VendorBalanceView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn vendor_balance(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<VendorBalanceView>> {
    let b = app.vendor_balance(&caller.actor, vendor_id(&id)?).await?;
    Ok(axum::Json(b.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommissionRequest {
    /// 0 to 10,000 (0–100 %).
    #[schema(minimum = 0, maximum = 10000, example = 1250)]
    pub basis_points: i64,
}

/// Sets a vendor's commission (admins; a sensitive action: step up first). Orders placed from
/// now on carry it; placed orders keep theirs.
#[utoipa::path(put, path = "/vendors/{id}/commission", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CommissionRequest,
    responses((status = 200, body = VendorBalanceView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn set_commission(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<CommissionRequest>,
) -> ApiResult<axum::Json<VendorBalanceView>> {
    let b = app
        .set_commission(
            &caller.actor,
            caller.proof,
            vendor_id(&id)?,
            req.basis_points,
        )
        .await?;
    Ok(axum::Json(b.into()))
}

#[derive(Serialize, ToSchema)]
pub struct PayoutView {
    pub id: Uuid,
    pub vendor_id: Uuid,
    pub amount: MoneyView,
    /// `requested` or `paid`.
    pub state: String,
    pub requested_by: ActorView,
    pub requested_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_by: Option<ActorView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<DateTime<Utc>>,
    /// The bank transfer's reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl PayoutView {
    fn new(p: ordo_store::Payout, viewer: &Actor) -> Self {
        Self {
            id: p.id,
            vendor_id: p.vendor_id.0,
            amount: MoneyView {
                amount: p.amount,
                currency: p.currency.code().to_owned(),
            },
            state: p.state().as_str().to_owned(),
            requested_by: ActorView::new(&p.requested_by, viewer),
            requested_at: p.requested_at,
            paid_by: p.paid_by.as_ref().map(|a| ActorView::new(a, viewer)),
            paid_at: p.paid_at,
            reference: p.reference,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PayoutList {
    pub data: Vec<PayoutView>,
}

/// A vendor's payouts, oldest first (its staff, support, admins).
#[utoipa::path(get, path = "/vendors/{id}/payouts", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PayoutList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_payouts(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<PayoutList>> {
    let list = app.payouts(&caller.actor, vendor_id(&id)?).await?;
    Ok(axum::Json(PayoutList {
        data: list
            .into_iter()
            .map(|p| PayoutView::new(p, &caller.actor))
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutRequest {
    /// Minor units: at most what is available (409 `payout_exceeds_balance`).
    #[schema(minimum = 1)]
    pub amount: i64,
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    pub currency: String,
}

/// Asks for a payout of the vendor's balance (its staff, admins; a sensitive action: step up
/// first). Concurrent requests never take out more than is available.
#[utoipa::path(post, path = "/vendors/{id}/payouts", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = PayoutRequest,
    responses((status = 201, body = PayoutView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "payout_exceeds_balance", body = ErrorBody)))]
async fn request_payout(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<PayoutRequest>,
) -> ApiResult<(axum::http::StatusCode, axum::Json<PayoutView>)> {
    let p = app
        .request_payout(
            &caller.actor,
            caller.proof,
            vendor_id(&id)?,
            req.amount,
            &req.currency,
        )
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        axum::Json(PayoutView::new(p, &caller.actor)),
    ))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PaidRequest {
    /// The bank transfer's reference.
    #[schema(max_length = 500)]
    pub reference: Option<String>,
}

/// Marks a payout paid (admins; a sensitive action), with the bank transfer's reference.
#[utoipa::path(post, path = "/vendors/{id}/payouts/{payout_id}/paid", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("payout_id" = Uuid, Path)), request_body(content = Option<PaidRequest>),
    responses((status = 200, body = PayoutView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "payout_paid", body = ErrorBody)))]
async fn mark_payout_paid(
    State(app): State<App>,
    caller: Caller,
    Path((id, payout)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<axum::Json<PayoutView>> {
    let req: PaidRequest = optional_body(&body)?;
    let payout = payout
        .parse()
        .map_err(|_| crate::error::ApiError::not_found("payout"))?;
    let p = app
        .mark_payout_paid(
            &caller.actor,
            caller.proof,
            vendor_id(&id)?,
            payout,
            req.reference,
        )
        .await?;
    Ok(axum::Json(PayoutView::new(p, &caller.actor)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerRange {
    /// From this time (RFC 3339), inclusive.
    pub from: Option<String>,
    /// Up to this time (RFC 3339), exclusive.
    pub to: Option<String>,
}

/// One side of a balanced posting.
#[derive(Serialize, ToSchema)]
pub struct LedgerLineView {
    /// The ledger row or payout that moved the money: its lines sum to zero.
    pub entry_id: Uuid,
    pub at: DateTime<Utc>,
    /// `capture`, `manual_payment`, `refund`, `payout`.
    pub movement: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<Uuid>,
    pub vendor_id: Uuid,
    /// `provider_clearing`, `vendor_payable`, `platform_revenue`, `payouts`.
    pub account: String,
    pub currency: String,
    /// Debit > 0, credit < 0 (minor units).
    pub amount: i64,
}

#[derive(Serialize, ToSchema)]
pub struct LedgerView {
    pub data: Vec<LedgerLineView>,
}

/// The double-entry ledger for accounting (admins): every capture, payment by hand, refund and
/// payout between `from` and `to`, as postings that balance per entry. JSON, or CSV with
/// `Accept: text/csv`.
#[utoipa::path(get, path = "/ledger", tag = "payments", security(("bearer" = [])), params(LedgerRange),
    responses((status = 200, description = "The postings", content((LedgerView = "application/json"), (String = "text/csv"))),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn ledger(
    State(app): State<App>,
    caller: Caller,
    crate::extract::Query(range): crate::extract::Query<LedgerRange>,
    headers: axum::http::HeaderMap,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let lines = app
        .ledger(&caller.actor, range.from.as_deref(), range.to.as_deref())
        .await?;
    let views: Vec<LedgerLineView> = lines
        .into_iter()
        .map(|l| LedgerLineView {
            entry_id: l.entry_id,
            at: l.at,
            movement: l.movement.to_owned(),
            payment_id: l.payment_id,
            order_id: l.order_id,
            vendor_id: l.vendor_id.0,
            account: match l.account {
                ordo_domain::payment::Account::ProviderClearing => "provider_clearing",
                ordo_domain::payment::Account::VendorPayable(_) => "vendor_payable",
                ordo_domain::payment::Account::PlatformRevenue => "platform_revenue",
                ordo_domain::payment::Account::Payouts => "payouts",
            }
            .to_owned(),
            currency: l.currency.code().to_owned(),
            amount: l.amount,
        })
        .collect();
    let csv = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"));
    if !csv {
        return Ok(axum::Json(LedgerView { data: views }).into_response());
    }
    // Every field is an id, a name, a number or an RFC 3339 time: nothing to quote.
    let mut out = String::from(
        "entry_id,at,movement,payment_id,order_id,vendor_id,account,currency,amount\n",
    );
    for v in views {
        let opt = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            v.entry_id,
            v.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            v.movement,
            opt(v.payment_id),
            opt(v.order_id),
            v.vendor_id,
            v.account,
            v.currency,
            v.amount
        ));
    }
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        out,
    )
        .into_response())
}
