//! User accounts (admins only).

use axum::extract::State;
use axum::http::StatusCode;
use ordo_app::App;
use ordo_app::users::NewUser;
use ordo_domain::ids::VendorId;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Json};
use crate::views::UserView;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(create_user))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: String,
    /// 8 to 256 characters.
    pub password: String,
    /// `customer`, `vendor`, `support`, `admin` or `carrier`.
    #[schema(example = "vendor")]
    pub role: String,
    /// Required for (and only for) vendor users.
    pub vendor_id: Option<Uuid>,
}

/// Creates a user.
#[utoipa::path(post, path = "/users", tag = "users", security(("bearer" = [])), request_body = CreateUserRequest,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "e-mail taken", body = ErrorBody)))]
async fn create_user(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<CreateUserRequest>,
) -> ApiResult<(StatusCode, axum::Json<UserView>)> {
    let user = app
        .create_user(
            &caller.actor,
            NewUser {
                email: req.email,
                password: req.password,
                role: req.role,
                vendor_id: req.vendor_id.map(VendorId),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(user.into())))
}
