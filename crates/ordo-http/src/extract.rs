//! Extractors that turn requests into checked input, refusing with [`ApiError`]:
//! [`Json`] (axum's, with its rejections in the one error shape), [`Caller`] (the bearer
//! token's user) and [`Query`]. (`Idempotency-Key` is a layer: see [`crate::idempotency`].)

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use ordo_app::App;
use ordo_app::auth::Principal;
use ordo_domain::identity::{Actor, Proof, User};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Malformed JSON, a wrong type or an unknown field is a 400 naming the field;
/// a missing `Content-Type: application/json` is a 415; a body over the limit is a 413.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(r: &JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonDataError(e) => {
            // serde_path_to_error gives "path: reason"; lift the path into `field`.
            let detail = e.body_text();
            let detail = detail
                .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                .unwrap_or(&detail);
            let mut err = ApiError::bad_request(
                "invalid_body",
                format!("the body does not match the schema: {detail}"),
            );
            if let Some((path, _)) = detail.split_once(": ")
                && !path.contains(' ')
                && path != "."
            {
                err = err.with_field(path);
            }
            err
        }
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request("malformed_json", "the body is not valid JSON")
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is larger than the limit",
        ),
        other => ApiError::bad_request("invalid_body", other.body_text()),
    }
}

/// Query parameters, refused with a 400 naming the problem.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e: QueryRejection| ApiError::bad_request("invalid_query", e.body_text()))
    }
}

/// The authenticated caller.
pub struct Caller {
    pub user: User,
    pub actor: Actor,
    /// Until when the session counts as freshly authenticated (sensitive actions ask).
    pub proof: Proof,
    pub token: String,
    pub principal: Principal,
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .map(str::to_owned)
            // A page's session cookie reads too (a browser's `EventSource` cannot send a
            // header), but only on safe methods: a cookie rides along on cross-site requests,
            // so nothing that changes state may be authorized by one here.
            .or_else(|| {
                parts
                    .method
                    .is_safe()
                    .then(|| crate::cookies::cookie(&parts.headers, crate::cookies::SESSION))
                    .flatten()
            })
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "send Authorization: Bearer <token>",
                )
            })?;
        let principal = app.authenticate(&token).await.map_err(|e| match e {
            ordo_app::AppError::Unauthenticated => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the token is unknown, expired or revoked",
            ),
            other => ApiError::from(other),
        })?;
        // A role that must have a TOTP factor may do nothing else until it has one.
        // (Nested routers see their path without the prefix: ask for the original.)
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |u| u.path().to_owned());
        if principal.must_enrol_totp && !path.starts_with("/api/v1/auth/") {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "totp_enrolment_required",
                "your role needs a TOTP second factor: enrol first (POST /api/v1/auth/totp/enroll)",
            ));
        }
        tracing::Span::current().record("user_id", tracing::field::display(principal.user.id));
        Ok(Caller {
            user: principal.user.clone(),
            actor: principal.actor,
            proof: principal.proof,
            token,
            principal,
        })
    }
}

/// `Option<Caller>`: no `Authorization` header is a guest (`None`); a bad token is still a 401.
impl OptionalFromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Option<Self>, ApiError> {
        let cookie = parts.method.is_safe()
            && crate::cookies::cookie(&parts.headers, crate::cookies::SESSION).is_some();
        if parts.headers.get(AUTHORIZATION).is_none() && !cookie {
            return Ok(None);
        }
        <Caller as FromRequestParts<App>>::from_request_parts(parts, app)
            .await
            .map(Some)
    }
}

/// The `Cart-Token` header: the secret that opens a guest's cart.
pub struct CartToken(pub String);

impl<S: Send + Sync> OptionalFromRequestParts<S> for CartToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, ApiError> {
        Ok(parts
            .headers
            .get("cart-token")
            .and_then(|v| v.to_str().ok())
            .map(|s| CartToken(s.trim().to_owned())))
    }
}

/// An id taken from the path. A malformed id cannot name anything, so it is a 404 exactly like
/// an unknown one (`what` names the resource in the message).
pub fn path_id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}

/// For `#[serde(default, deserialize_with = ...)]`: tells a field set to `null` (`Some(None)`,
/// "clear it") from one left out (`None`, "leave it").
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// A JSON body that may be left out (or blank): then `T::default()`. A body that is there must
/// match the schema, or it is a 400 `invalid_body` naming what is wrong.
pub fn optional_body<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("the body does not match the schema: {e}"),
        )
    })
}
