//! The one error shape: `{"error": {"type", "code", "message", "field"?, "request_id"}}`.
//!
//! Every failure a client can see — a use case's refusal, a body that is not JSON, a path that
//! does not exist, a panic — leaves through [`ApiError`], so clients parse one shape. Internal
//! details are logged with the request id and never put in the body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ordo_app::AppError;
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being served, so errors can quote it (set by `request_scope`).
    pub static REQUEST_ID: String;
}

/// An error as sent to clients.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    pub allowed_actions: Option<Vec<String>>,
    /// Seconds to wait before trying again, sent as `Retry-After` (503, 429).
    pub retry_after: Option<u64>,
}

/// The body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// The class of error: `invalid_request_error`, `authentication_error`, `permission_error`,
    /// `not_found_error`, `conflict_error`, `rate_limit_error` or `api_error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A stable, machine-readable reason, e.g. `insufficient_stock`.
    pub code: String,
    /// For people; may change between versions.
    pub message: String,
    /// The input field at fault, as a path (`items[0].quantity`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// On an invalid transition: what the caller may do instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_actions: Option<Vec<String>>,
    /// Quote this when asking for help; it is in the server's logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            field: None,
            allowed_actions: None,
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    fn kind(&self) -> &'static str {
        match self.status {
            StatusCode::UNAUTHORIZED => "authentication_error",
            StatusCode::FORBIDDEN => "permission_error",
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => "not_found_error",
            StatusCode::CONFLICT => "conflict_error",
            StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
            s if s.is_client_error() => "invalid_request_error",
            _ => "api_error",
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let message = e.to_string();
        match e {
            AppError::Invalid(p) => ApiError {
                field: p.field,
                ..ApiError::new(StatusCode::BAD_REQUEST, p.code, p.message)
            },
            AppError::Unauthenticated => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
            }
            AppError::BadCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", message)
            }
            AppError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            AppError::StepUpRequired { .. } => {
                ApiError::new(StatusCode::UNAUTHORIZED, "step_up_required", message)
            }
            AppError::StepUpFailed => {
                ApiError::new(StatusCode::UNAUTHORIZED, "step_up_failed", message)
            }
            AppError::Locked {
                code,
                message,
                retry_after,
            } => ApiError {
                retry_after,
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message)
            },
            AppError::NotFound(what) => ApiError::not_found(what),
            AppError::InvalidTransition { allowed, .. } => {
                let allowed: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
                let message = if allowed.is_empty() {
                    format!("{message}; no action is possible now")
                } else {
                    format!("{message}; allowed now: {}", allowed.join(", "))
                };
                ApiError {
                    allowed_actions: Some(allowed),
                    ..ApiError::new(StatusCode::CONFLICT, "invalid_transition", message)
                }
            }
            AppError::InsufficientStock { field, .. } => {
                ApiError::new(StatusCode::CONFLICT, "insufficient_stock", message).with_field(field)
            }
            AppError::Conflict {
                code,
                message,
                field,
            } => ApiError {
                field,
                ..ApiError::new(StatusCode::CONFLICT, code, message)
            },
            AppError::Unprocessable {
                code,
                message,
                field,
            } => ApiError {
                field,
                ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            },
            AppError::Gone { code, .. } => ApiError::new(StatusCode::GONE, code, message),
            AppError::CancelledAtPayment { .. } => {
                ApiError::new(StatusCode::CONFLICT, "insufficient_stock", message)
            }
            AppError::Contention => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "contention", message).retry_after(1)
            }
            AppError::Unavailable(source) => {
                tracing::error!(error = ?source, "database unavailable");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
                    .retry_after(1)
            }
            AppError::OutcomeUnknown(source) => {
                tracing::error!(error = ?source, "a write's outcome is unknown");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "outcome_unknown", message)
                    .retry_after(1)
            }
            AppError::Internal(source) => {
                tracing::error!(error = ?source, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = REQUEST_ID.try_with(Clone::clone).ok();
        if self.status.is_client_error() {
            tracing::debug!(status = %self.status, code = %self.code, "request refused");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                kind: self.kind(),
                code: self.code,
                message: self.message,
                field: self.field,
                allowed_actions: self.allowed_actions,
                request_id,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
