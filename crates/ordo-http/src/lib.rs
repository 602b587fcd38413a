//! Ordo's HTTP face: the `/api/v1` JSON API, its OpenAPI document and docs page, health checks.
//!
//! Handlers are thin: extract and check input, call one use case on [`ordo_app::App`], shape
//! the answer. The OpenAPI document is generated from the handlers themselves
//! (`#[utoipa::path]` + `routes!`), so the spec and the router cannot drift apart. [`serve`]
//! takes a bound listener and a shutdown future, so the binary and the tests start the server
//! the same way (tests bind port 0) and stop it cleanly.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ordo_app::App;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub mod admission;
pub mod api;
pub mod cookies;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod live;
pub mod views;
pub mod web;

use error::{ApiError, REQUEST_ID};

/// Request bodies above this are refused with 413; the largest real body (a 100-line order)
/// is a few kilobytes.
pub const BODY_LIMIT: usize = 256 * 1024;

const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(title = "Ordo", description = "Order management for shops and marketplaces. Money is always \
        `{\"amount\": <integer minor units>, \"currency\": \"EUR\"}`; times are RFC 3339 UTC; ids are \
        time-ordered UUIDs. Every error has the shape `{\"error\": {\"type\", \"code\", \"message\", \"field\"?}}`."),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "users"), (name = "catalog"), (name = "inventory"), (name = "orders"), (name = "carts"), (name = "pricing"), (name = "notifications"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("opaque")
                    .build(),
            ),
        );
    }
}

/// Every write operation takes an `Idempotency-Key` (see [`idempotency`]): said once here for
/// all of them, as the layer serves all of them.
struct IdempotencyKeys;

impl Modify for IdempotencyKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        let header = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .description(Some(
                "Makes a retry safe: the same key with the same request returns the first \
                 answer (Idempotent-Replayed: true) and changes nothing; with a different \
                 request it is a 409 idempotency_key_reused. 1 to 255 visible ASCII \
                 characters; kept 24 hours.",
            ))
            .schema(Some(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255))
                    .pattern(Some("^[\\x21-\\x7E]+$")),
            ))
            .build();
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let params = op.parameters.get_or_insert_with(Vec::new);
                let named = |p: &utoipa::openapi::RefOr<utoipa::openapi::path::Parameter>| matches!(p, utoipa::openapi::RefOr::T(p) if p.name == "Idempotency-Key");
                if !params.iter().any(named) {
                    params.push(utoipa::openapi::RefOr::T(header.clone()));
                }
            }
        }
    }
}

/// The statuses an operation can give because of what it is, not what it does — said once
/// here for all operations, as the layers that give them serve all of them: 401 (a bearer
/// token that does not authenticate, on any operation that reads one; step-up), 403 (a role
/// or a TOTP enrolment that is required), 404 (a path naming nothing), 400 (bad query,
/// bad Idempotency-Key), 409 (a reused Idempotency-Key), 413 and 415 (bodies), 429 and 503
/// (admission control, the database), each in the one error shape.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Ref, RefOr, ResponseBuilder};
        let error = |why: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(why)
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let has_params = path.contains('{');
            let ops = [
                (&mut item.get, false),
                (&mut item.post, true),
                (&mut item.put, true),
                (&mut item.patch, true),
                (&mut item.delete, true),
            ];
            for (op, write) in ops {
                let Some(op) = op.as_mut() else { continue };
                let has_body = op.request_body.is_some();
                let r = &mut op.responses.responses;
                let mut add = |status: &str, why: &str| {
                    r.entry(status.to_owned()).or_insert_with(|| error(why));
                };
                add(
                    "400",
                    "bad input: a query, header or body field that does not parse",
                );
                // Any operation reads a bearer token if one is sent (and a bad one is a 401).
                add("401", "unauthenticated, a bad token, or a step-up required");
                add("403", "the caller's role may not do this");
                if has_params {
                    add("404", "no such object (or not the caller's to see)");
                }
                if write {
                    add(
                        "409",
                        "a conflict, an invalid transition or a reused Idempotency-Key",
                    );
                }
                if has_body {
                    add("413", "the body is larger than the limit");
                    add("415", "the body is not sent as application/json");
                }
                add("429", "too many attempts");
                add(
                    "503",
                    "overloaded, unavailable, or an outcome that is unknown (see Retry-After)",
                );
            }
        }
    }
}

/// The OpenAPI document, as served at `/api/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    split().1
}

fn split() -> (Router<App>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api::v1::router())
        .split_for_parts();
    // These speak of every operation, so they run once the operations are in.
    IdempotencyKeys.modify(&mut openapi);
    CommonResponses.modify(&mut openapi);
    (router, openapi)
}

/// The whole application as one router.
pub fn router(app: App) -> Router {
    let (api, openapi) = split();
    let admission = admission::Admission::new(
        app.settings.max_in_flight,
        app.settings.max_waiting,
        app.settings.request_timeout,
    );
    // The web UI's pages share the API's admission control.
    let api = api
        .merge(web::router(&app))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            idempotency::layer,
        ))
        // Admission control (see [`admission`]): bounded work, bounded waiting, bounded time.
        // Health checks are not limited.
        .layer(admission::AdmissionLayer(Arc::clone(&admission)));
    Router::new()
        .merge(api)
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .layer(axum::Extension(admission))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(request_scope))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error").into_response()
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let route = req.extensions().get::<MatchedPath>().map_or(req.uri().path(), |m| m.as_str());
                    let id = req.headers().get(&REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("request", method = %req.method(), route, request_id = id, user_id = tracing::field::Empty)
                })
                .on_response(|res: &Response, latency: Duration, _: &tracing::Span| {
                    tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, "served");
                }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
        .with_state(app)
}

/// Runs the handler with the request id in scope, so error bodies can quote it.
async fn request_scope(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    REQUEST_ID.scope(id, next.run(req)).await
}

/// No such route: the one error shape for the API and any client that did not ask for HTML;
/// a page saying so for a browser that did (a mistyped address, an old link).
async fn not_found(
    State(app): State<App>,
    visitor: web::session::Visitor,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    let browser = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if browser && !uri.path().starts_with("/api/") {
        return web::message(
            &app,
            &visitor,
            StatusCode::NOT_FOUND,
            "Page not found",
            vec!["If you typed the address, check it is right. If you followed a link, it may be out of date.".into()],
            Some(("/", "Go to the shop")),
        );
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        "no such endpoint; see /api/docs",
    )
    .into_response()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

/// Liveness: the process is up and serving.
async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the database answers and can take writes. A fail-stopped SQLite writer, or a
/// PostgreSQL standby, is not ready, so a load balancer sends no more traffic here.
async fn readyz(
    State(app): State<App>,
    axum::Extension(admission): axum::Extension<Arc<admission::Admission>>,
) -> Response {
    let (in_flight, waiting) = admission.load();
    match app.store.ready().await {
        Ok(()) => axum::Json(serde_json::json!({
            "status": "ready",
            "database": app.store.backend(),
            "requests": { "in_flight": in_flight, "waiting": waiting },
            "live_streams": app.live_streams(),
        }))
        .into_response(),
        Err(e) => {
            tracing::warn!(error = ?e, "not ready");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the database does not answer or cannot take writes",
            )
            .into_response()
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops taking connections and
/// waits for in-flight requests to finish.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // `into_make_service` finalizes the router once; handing `axum::serve` the router itself
    // rebuilds every route for each connection (tens of KiB each, held while it is open).
    axum::serve(listener, router(app).into_make_service())
        .with_graceful_shutdown(shutdown)
        .await
}
