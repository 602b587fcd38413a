//! The `Idempotency-Key` layer: every write (POST, PUT, PATCH, DELETE) that sends the header is
//! done at most once per key.
//!
//! The layer reads the body once, fingerprints the request (method, path, query and the body
//! in canonical JSON form, so the order of its fields does not matter), ties the key to the
//! caller (their user, a guest's cart token, or a guest) and serves the request with the key in
//! scope. The use case then claims the key and stores its result inside its own transaction
//! (`ordo_app::idempotency`): a replay answers the first result again with
//! `Idempotent-Replayed: true` and changes nothing; the same key with a different request is a
//! 409 `idempotency_key_reused`. Handlers do nothing for it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ordo_app::App;
use ordo_app::idempotency::{KeyScope, KeyedRequest, fingerprint};
use ordo_app::tokens::token_hash;

use crate::error::ApiError;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";

/// The methods whose requests may carry a key.
pub fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

pub async fn layer(State(app): State<App>, req: Request, next: Next) -> Response {
    let Some(raw) = req.headers().get(HEADER) else {
        return next.run(req).await;
    };
    if !is_write(req.method()) {
        return next.run(req).await;
    }
    let Ok(key) = raw.to_str().map(str::to_owned) else {
        return bad_key().into_response();
    };
    let Some(scope) = scope_of(&app, req.headers()).await else {
        // A token that does not authenticate: the handler answers 401, nothing is claimed.
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, crate::BODY_LIMIT).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is larger than the limit",
        )
        .into_response();
    };
    let print = fingerprint(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        &bytes,
    );
    let keyed = match KeyedRequest::new(&scope, &key, print) {
        Ok(k) => Arc::new(k),
        Err(e) => return ApiError::from(ordo_app::AppError::Invalid(e)).into_response(),
    };
    let req = Request::from_parts(parts, Body::from(bytes));
    let mut res = Arc::clone(&keyed).run(next.run(req)).await;
    if res.status().is_success() {
        res.headers_mut().insert(
            REPLAYED,
            HeaderValue::from_static(if keyed.replayed() { "true" } else { "false" }),
        );
    }
    res
}

/// Whose key it is: the bearer token's user, else the guest cart token's holder, else a guest.
/// `None` when a bearer token is sent but does not authenticate.
async fn scope_of(app: &App, headers: &HeaderMap) -> Option<KeyScope> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    if headers.contains_key(AUTHORIZATION) {
        let principal = app.authenticate(bearer?).await.ok()?;
        return Some(KeyScope::User(principal.user.id));
    }
    match headers.get("cart-token").and_then(|v| v.to_str().ok()) {
        Some(t) => Some(KeyScope::Cart(token_hash(t.trim()))),
        None => Some(KeyScope::Guest),
    }
}

fn bad_key() -> ApiError {
    ApiError::bad_request(
        "invalid_idempotency_key",
        "Idempotency-Key must be 1 to 255 visible ASCII characters",
    )
    .with_field("Idempotency-Key")
}
