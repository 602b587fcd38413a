//! User accounts: created, listed and changed by admins (support may list them); customers
//! found by name.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ordo_app::App;
use ordo_app::users::{NewUser, UserChange};
use ordo_domain::ids::{UserId, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Json, Query, path_id};
use crate::views::UserView;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(update_user))
        .routes(routes!(find_customers))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    #[schema(max_length = 254)]
    pub email: String,
    /// 8 to 256 characters.
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    /// `customer`, `vendor`, `support`, `admin` or `carrier`.
    #[schema(
        example = "vendor",
        pattern = "^(customer|vendor|support|admin|carrier)$"
    )]
    pub role: String,
    /// Required for (and only for) vendor users.
    pub vendor_id: Option<Uuid>,
}

/// Creates a user (admins; a sensitive action: step up first when the login is not fresh).
#[utoipa::path(post, path = "/users", tag = "users", security(("bearer" = [])), request_body = CreateUserRequest,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 401, description = "step_up_required or an invalid token", body = ErrorBody),
              (status = 409, description = "e-mail taken", body = ErrorBody)))]
async fn create_user(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<CreateUserRequest>,
) -> ApiResult<(StatusCode, axum::Json<UserView>)> {
    let user = app
        .create_user(
            &caller.actor,
            caller.proof,
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

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserListQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The last e-mail of the previous page.
    pub starting_after: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    #[serde(flatten)]
    pub user: UserView,
    pub disabled: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    pub data: Vec<AccountView>,
    pub has_more: bool,
}

/// Every user, by e-mail (admins and support); next page: `starting_after=<last e-mail>`.
#[utoipa::path(get, path = "/users", tag = "users", security(("bearer" = [])), params(UserListQuery),
    responses((status = 200, body = AccountList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn list_users(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<UserListQuery>,
) -> ApiResult<axum::Json<AccountList>> {
    let (users, has_more) = app
        .users(&caller.actor, q.starting_after.as_deref(), q.limit)
        .await?;
    Ok(axum::Json(AccountList {
        data: users
            .into_iter()
            .map(|(user, disabled)| AccountView {
                user: user.into(),
                disabled,
            })
            .collect(),
        has_more,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerSearch {
    /// At least two letters of a name: the start of any of its words, or of several words in
    /// order, in any case.
    #[param(required = true, min_length = 2, max_length = 200, example = "müller")]
    pub q: Option<String>,
    /// At most this many, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// A customer found by a recipient name on their orders.
#[derive(Serialize, ToSchema)]
pub struct CustomerMatch {
    pub customer_id: Uuid,
    pub email: String,
    /// The name as it was typed on the order.
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerMatches {
    pub data: Vec<CustomerMatch>,
}

/// Finds customers by a name they ship to (support and admins): "müller" or "jürgen mü" finds
/// Jürgen Müller's account. The closest matches first; one row per customer and name.
#[utoipa::path(get, path = "/customers", tag = "users", security(("bearer" = [])), params(CustomerSearch),
    responses((status = 200, body = CustomerMatches), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn find_customers(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<CustomerSearch>,
) -> ApiResult<axum::Json<CustomerMatches>> {
    // Who may search is checked before what they typed.
    let name = q.q.as_deref().unwrap_or_default();
    let found = app.find_customers(&caller.actor, name, q.limit).await?;
    Ok(axum::Json(CustomerMatches {
        data: found
            .into_iter()
            .map(|c| CustomerMatch {
                customer_id: c.customer_id.0,
                email: c.email,
                name: c.name,
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// `customer`, `vendor`, `support`, `admin` or `carrier`.
    #[schema(pattern = "^(customer|vendor|support|admin|carrier)$")]
    pub role: Option<String>,
    /// The vendor of a vendor user; `null` takes them out of it.
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub vendor_id: Option<Option<Uuid>>,
    /// A disabled user cannot log in, and their sessions stop working at once.
    pub disabled: Option<bool>,
}

/// Changes a user's role or vendor, or disables or enables them (admins, not on themselves; a
/// sensitive action). Every node sees the change at once.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = UpdateUserRequest,
    responses((status = 200, body = AccountView), (status = 400, body = ErrorBody),
              (status = 401, description = "step_up_required or an invalid token", body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<UpdateUserRequest>,
) -> ApiResult<axum::Json<AccountView>> {
    let id = UserId(path_id(&id, "user")?);
    let (user, disabled) = app
        .update_user(
            &caller.actor,
            caller.proof,
            id,
            UserChange {
                role: req.role,
                vendor_id: req.vendor_id.map(|v| v.map(VendorId)),
                disabled: req.disabled,
            },
        )
        .await?;
    Ok(axum::Json(AccountView {
        user: user.into(),
        disabled,
    }))
}
