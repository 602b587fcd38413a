//! Login, logout, "who am I", step-up re-authentication and the TOTP second factor.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ordo_app::App;
use ordo_app::auth::StepUpInput;
use ordo_domain::identity::Sensitive;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Json};
use crate::views::UserView;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(step_up))
        .routes(routes!(sensitive_actions))
        .routes(routes!(enrol_totp))
        .routes(routes!(confirm_totp))
        .routes(routes!(remove_totp))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "ada@customer.example", max_length = 254)]
    pub email: String,
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
    /// A current TOTP code, for a user with a TOTP second factor: with it the new session
    /// counts as freshly authenticated (without it, step up before a sensitive action).
    #[schema(example = "123456")]
    pub totp: Option<String>,
    /// A guest cart's token: that cart is merged into the customer's cart.
    pub cart_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    pub expires_at: DateTime<Utc>,
    /// Until when the session counts as freshly authenticated for sensitive actions (absent:
    /// step up first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fresh_until: Option<DateTime<Utc>>,
    pub user: UserView,
    /// The customer's cart, when a guest cart was merged into it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cart_id: Option<uuid::Uuid>,
}

/// Logs in with e-mail and password and returns a bearer token.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, description = "wrong e-mail or password", body = ErrorBody)))]
async fn login(
    State(app): State<App>,
    Json(req): Json<LoginRequest>,
) -> ApiResult<axum::Json<LoginResponse>> {
    let grant = app
        .login(
            &req.email,
            req.password,
            req.totp.as_deref(),
            req.cart_token.as_deref(),
        )
        .await?;
    Ok(axum::Json(LoginResponse {
        token: grant.token,
        token_type: "Bearer",
        expires_at: grant.expires_at,
        fresh_until: grant.fresh_until,
        user: grant.user.into(),
        cart_id: grant.cart_id.map(|c| c.0),
    }))
}

/// Revokes the token this request was made with.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(State(app): State<App>, caller: Caller) -> ApiResult<StatusCode> {
    app.logout(&caller.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in user.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
async fn me(caller: Caller) -> axum::Json<UserView> {
    axum::Json(caller.user.into())
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct StepUpRequest {
    /// The account's password (for an account without a TOTP second factor).
    #[schema(min_length = 1, max_length = 256)]
    pub password: Option<String>,
    /// A current TOTP code.
    #[schema(example = "123456", pattern = "^[0-9 ]{6,8}$")]
    pub totp: Option<String>,
    /// One of the recovery codes shown at TOTP enrolment (each works once).
    pub recovery_code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StepUpResponse {
    /// Sensitive actions are allowed until then.
    pub fresh_until: DateTime<Utc>,
}

/// Proves again who you are, with exactly one of `password`, `totp` or `recovery_code` (a
/// TOTP or recovery code once the account has a TOTP factor). The session then counts as
/// freshly authenticated for the step-up window (5 minutes by default), which the sensitive
/// actions (`GET /auth/sensitive-actions`) require. Failures are counted per session and per
/// user: too many answer 429 (with `Retry-After` when the lockout ends at a known time).
#[utoipa::path(post, path = "/auth/step-up", tag = "auth", security(("bearer" = [])), request_body = StepUpRequest,
    responses((status = 200, body = StepUpResponse), (status = 400, body = ErrorBody),
              (status = 401, description = "step_up_failed or an invalid token", body = ErrorBody),
              (status = 429, description = "step_up_locked", body = ErrorBody)))]
async fn step_up(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<StepUpRequest>,
) -> ApiResult<axum::Json<StepUpResponse>> {
    let fresh_until = app
        .step_up(
            &caller.principal,
            &caller.token,
            StepUpInput {
                password: req.password,
                totp: req.totp,
                recovery_code: req.recovery_code,
            },
        )
        .await?;
    Ok(axum::Json(StepUpResponse { fresh_until }))
}

#[derive(Serialize, ToSchema)]
pub struct SensitiveActionView {
    #[schema(example = "cancel_paid_order")]
    pub action: &'static str,
    pub description: &'static str,
    /// The endpoints it guards.
    pub endpoints: &'static [&'static str],
}

#[derive(Serialize, ToSchema)]
pub struct SensitiveActionList {
    /// How long a login or step-up lasts as a fresh proof, in seconds.
    pub step_up_window_seconds: i64,
    pub data: Vec<SensitiveActionView>,
}

/// The actions that need a fresh proof of identity (a login or step-up within the window);
/// without one they answer 401 `step_up_required`.
#[utoipa::path(get, path = "/auth/sensitive-actions", tag = "auth",
    responses((status = 200, body = SensitiveActionList)))]
async fn sensitive_actions(State(app): State<App>) -> axum::Json<SensitiveActionList> {
    axum::Json(SensitiveActionList {
        step_up_window_seconds: app.settings.step_up_window.num_seconds(),
        data: Sensitive::ALL
            .iter()
            .map(|&s| SensitiveActionView {
                action: s.as_str(),
                description: s.description(),
                endpoints: s.endpoints(),
            })
            .collect(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The shared secret in base32, for typing into an authenticator by hand.
    pub secret: String,
    /// The `otpauth://totp/...` URI authenticator apps read.
    pub otpauth_uri: String,
    /// The URI as a QR code (an SVG image) to scan.
    pub qr_svg: String,
}

/// Starts enrolling a TOTP second factor (RFC 6238): scan the QR code (or type the secret) into
/// an authenticator app, then confirm with a code. Until confirmed, nothing changes.
#[utoipa::path(post, path = "/auth/totp/enroll", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = TotpEnrolment), (status = 401, body = ErrorBody),
              (status = 409, description = "totp_already_enabled", body = ErrorBody)))]
async fn enrol_totp(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<axum::Json<TotpEnrolment>> {
    let e = app.enrol_totp(&caller.user).await?;
    Ok(axum::Json(TotpEnrolment {
        secret: e.secret,
        otpauth_uri: e.otpauth_uri,
        qr_svg: e.qr_svg,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTotpRequest {
    /// A current code from the authenticator.
    #[schema(
        example = "123456",
        pattern = "^[0-9 ]{6,8}$",
        min_length = 6,
        max_length = 16
    )]
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten codes, each usable once in place of a TOTP code. Shown only now: keep them safe.
    pub recovery_codes: Vec<String>,
}

/// Confirms TOTP enrolment with a current code; from then on step-ups take a TOTP code. Returns
/// recovery codes, shown once. The session counts as freshly authenticated afterwards.
#[utoipa::path(post, path = "/auth/totp/confirm", tag = "auth", security(("bearer" = [])), request_body = ConfirmTotpRequest,
    responses((status = 200, body = RecoveryCodes), (status = 400, description = "invalid_totp", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 409, description = "totp_not_enrolling", body = ErrorBody)))]
async fn confirm_totp(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<ConfirmTotpRequest>,
) -> ApiResult<axum::Json<RecoveryCodes>> {
    let recovery_codes = app
        .confirm_totp(&caller.user, &caller.token, &req.code)
        .await?;
    Ok(axum::Json(RecoveryCodes { recovery_codes }))
}

/// Removes your TOTP second factor and its recovery codes (a sensitive action: step up with a
/// TOTP or recovery code first).
#[utoipa::path(delete, path = "/auth/totp", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, description = "step_up_required or an invalid token", body = ErrorBody)))]
async fn remove_totp(State(app): State<App>, caller: Caller) -> ApiResult<StatusCode> {
    app.remove_totp(&caller.user, &caller.actor, caller.proof)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
