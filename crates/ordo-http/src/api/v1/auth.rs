//! Login, logout and "who am I".

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ordo_app::App;
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
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "ada@customer.example")]
    pub email: String,
    pub password: String,
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
        .login(&req.email, req.password, req.cart_token.as_deref())
        .await?;
    Ok(axum::Json(LoginResponse {
        token: grant.token,
        token_type: "Bearer",
        expires_at: grant.expires_at,
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
