//! The web UI: server-rendered pages beside the API, in the same binary. Templates live in
//! files (`templates/web/…`, askama, checked at compile time), one layout and one set of
//! components (`templates/web/components.html`: error summary, inline errors, status tags,
//! timelines) serve every page, and every page and form works without JavaScript; one
//! vendored script (`assets/live.js`) only refreshes a page's live region when its order
//! moves. One module per area: [`storefront`] (products, cart, checkout), [`account`]
//! (sign-in, registration, a customer's orders), [`vendor`] (the order queue) and [`support`]
//! (search, customers, any order, the exception queue); admin comes next (see docs/web.md).
//! [`session`] says who is reading.

pub mod account;
pub mod admin;
pub mod session;
pub mod storefront;
pub mod support;
pub mod vendor;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use ordo_app::{App, AppError};
use ordo_domain::identity::Role;
use ordo_domain::money::{Currency, Money};

use crate::error::ApiError;
use session::Visitor;

/// One link of the main navigation.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
}

/// What the layout needs of every page.
pub struct Page {
    /// The page's `h1` and the start of its `<title>`.
    pub title: String,
    /// The `lang` of the document (the words are English; money and dates follow `locale`).
    pub lang: &'static str,
    /// How money and dates are written for this reader (`en`, `de`).
    pub locale: &'static str,
    pub shop: String,
    /// The page shows a form's errors: the title says so first.
    pub error: bool,
    /// The signed-in person's e-mail address.
    pub who: Option<String>,
    /// The areas this reader may open.
    pub nav: Vec<NavLink>,
    /// A one-line confirmation of what the last action did.
    pub flash: Option<String>,
}

impl Page {
    pub fn new(app: &App, visitor: &Visitor, title: impl Into<String>) -> Self {
        let mut nav = vec![NavLink {
            href: "/",
            label: "Shop",
        }];
        if visitor
            .signed
            .as_ref()
            .is_none_or(|s| s.role() == Role::Customer)
        {
            nav.push(NavLink {
                href: "/cart",
                label: "Cart",
            });
        }
        if let Some(s) = &visitor.signed {
            let areas: &[(&'static str, &'static str)] = match s.role() {
                Role::Customer => &[("/account", "Your orders")],
                Role::Vendor => &[("/vendor", "Vendor console")],
                Role::Support => &[("/support", "Support")],
                Role::Admin => &[("/support", "Support"), ("/admin", "Admin")],
                Role::Carrier | Role::System => &[],
            };
            for (href, label) in areas {
                nav.push(NavLink { href, label });
            }
        }
        Self {
            title: title.into(),
            lang: "en",
            locale: visitor.lang,
            shop: app.settings.notifications.shop_name.clone(),
            error: false,
            who: visitor
                .signed
                .as_ref()
                .map(|s| s.principal.user.email.to_string()),
            nav,
            flash: None,
        }
    }

    /// The page shows these errors.
    pub fn with_errors(mut self, errors: &Errors) -> Self {
        self.error = !errors.is_empty();
        self
    }

    pub fn with_flash(mut self, flash: Option<String>) -> Self {
        self.flash = flash;
        self
    }

    pub fn money(&self, m: &Money) -> String {
        m.format_for(self.locale)
    }

    pub fn date(&self, at: &DateTime<Utc>) -> String {
        date_for(self.locale, at)
    }
}

/// A time as people of `locale` write it (UTC, said so).
pub fn date_for(locale: &str, at: &DateTime<Utc>) -> String {
    let pattern = if locale == "de" {
        "%d.%m.%Y, %H:%M UTC"
    } else {
        "%-d %b %Y, %H:%M UTC"
    };
    at.format(pattern).to_string()
}

/// What a sensitive form says when the session is no longer freshly signed in.
pub const PASSWORD_AGAIN: &str =
    "This needs your password again: enter it and send the form once more";

/// One error of a form: the control it belongs to (its `id`) and what to do.
pub struct FieldError {
    pub id: String,
    pub message: String,
}

/// A form's errors, shown in the error summary at the top and beside each control.
#[derive(Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    /// One error (for `id`, or for the form as a whole when `id` is empty).
    pub fn one(id: &str, message: impl Into<String>) -> Self {
        Self(vec![FieldError {
            id: id.to_owned(),
            message: message.into(),
        }])
    }

    /// A use case's refusal as a form error: the field it names becomes the control's id
    /// (`shipping_address.city` → `shipping_address-city`), else `fallback`.
    pub fn of(e: AppError, fallback: &str) -> Self {
        let api = ApiError::from(e);
        let id = api
            .field
            .map_or_else(|| fallback.to_owned(), |f| control_id(&f));
        Self::one(&id, api.message)
    }

    /// A sensitive action's refusal as form errors: wanting a fresh proof of identity is said
    /// on the form's `password` field in the words of `ask`; anything else as [`Errors::of`].
    pub fn of_sensitive(e: AppError, fallback: &str, ask: &str) -> Self {
        match e {
            AppError::StepUpRequired { .. } => Self::one("password", ask),
            other => Self::of(other, fallback),
        }
    }

    /// The same errors said on one form of a page with several (`cancel`: `password` becomes
    /// `cancel-password`), so only the form that was sent is marked.
    pub fn within(self, form: &str) -> Self {
        Self(
            self.0
                .into_iter()
                .map(|e| FieldError {
                    id: if e.id.is_empty() || e.id.starts_with(&format!("{form}-")) {
                        e.id
                    } else {
                        format!("{form}-{}", e.id)
                    },
                    message: e.message,
                })
                .collect(),
        )
    }

    pub fn push(&mut self, id: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            id: id.to_owned(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The error of one control.
    pub fn get(&self, id: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.message.as_str())
    }
}

/// A whole number typed into an optional field: `None` when left empty, else the number, else
/// `message` as the error of control `id`.
pub fn optional_count(raw: &str, id: &str, message: &str) -> Result<Option<i64>, Errors> {
    match raw.trim() {
        "" => Ok(None),
        n => n.parse().map(Some).map_err(|_| Errors::one(id, message)),
    }
}

/// The `id` of the control a use case's field names.
pub fn control_id(field: &str) -> String {
    field
        .replace(['.', '[', ']'], "-")
        .trim_end_matches('-')
        .to_owned()
}

/// A status as a tag: words (never colour alone) and a class for its colour.
pub struct Tag {
    pub text: String,
    pub class: &'static str,
}

impl Tag {
    pub fn order(status: ordo_domain::order::OrderStatus) -> Self {
        use ordo_domain::order::OrderStatus as S;
        let class = match status {
            S::PendingPayment => "tag-wait",
            S::Paid | S::Processing => "tag-act",
            S::Shipped | S::Delivered | S::Completed => "tag-done",
            S::Cancelled => "tag-stop",
        };
        Self {
            text: status.to_string().replace('_', " "),
            class,
        }
    }

    pub fn payment(status: ordo_domain::payment::PaymentStatus) -> Self {
        use ordo_domain::payment::PaymentStatus as P;
        let class = match status {
            P::Pending | P::Authorized => "tag-wait",
            P::Paid | P::PartiallyPaid => "tag-done",
            P::PartiallyRefunded | P::Refunded | P::Voided => "tag-info",
            P::Failed | P::Expired => "tag-stop",
        };
        Self {
            text: status.to_string().replace('_', " "),
            class,
        }
    }
}

/// One entry of an order's timeline.
pub struct Moment {
    pub when: String,
    pub what: String,
    pub who: String,
}

impl Moment {
    /// An event of an order in `currency` (money going back is said in it).
    pub fn of(page: &Page, e: &ordo_domain::order::OrderEvent, currency: Currency) -> Self {
        use ordo_domain::order::{MoneyMovement as M, OrderChange};
        let (what, reason) = match &e.change {
            // Money moving is said in amounts; its reason (staff's words) stays off the page.
            OrderChange::Money {
                movement, amount, ..
            } => {
                let m = page.money(&Money {
                    amount: *amount,
                    currency,
                });
                let what = match movement {
                    M::RefundRequested => format!("Refund of {m} on its way"),
                    M::Refunded => format!("Refunded {m}"),
                    M::RefundFailed => format!("Refund of {m} failed: support is on it"),
                    M::VoidRequested => format!("Releasing the {m} reserved on the card"),
                    M::Voided => format!("Released the {m} reserved on the card: not charged"),
                    M::VoidFailed => {
                        format!("Releasing the {m} reserved on the card failed: support is on it")
                    }
                };
                (what, None)
            }
            change => {
                let what = e
                    .event_type
                    .strip_prefix("order.")
                    .unwrap_or(&e.event_type)
                    .replace('_', " ");
                let reason = match change {
                    OrderChange::Transitioned { reason, .. } => reason.as_deref(),
                    _ => None,
                };
                (capitalize(&what), reason)
            }
        };
        Self {
            when: page.date(&e.at),
            what: match reason {
                Some(r) => format!("{what}: {r}"),
                None => what,
            },
            who: e.actor.role.to_string(),
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "web/message.html")]
struct Message {
    page: Page,
    lines: Vec<String>,
    link: Option<(String, String)>,
}

/// A page that only says something (not found, refused, sign in first).
pub fn message(
    app: &App,
    visitor: &Visitor,
    status: StatusCode,
    title: &str,
    lines: Vec<String>,
    link: Option<(&str, &str)>,
) -> Response {
    let mut page = Page::new(app, visitor, title);
    page.error = status.is_client_error() || status.is_server_error();
    let body = Message {
        page,
        lines,
        link: link.map(|(h, t)| (h.to_owned(), t.to_owned())),
    };
    (status, render(&body)).into_response()
}

/// A use case's refusal as a page (for errors no form can show beside a control).
pub fn failure(app: &App, visitor: &Visitor, e: AppError) -> Response {
    if matches!(e, AppError::Unauthenticated) {
        return Redirect::to("/sign-in").into_response();
    }
    let api = ApiError::from(e);
    let title = match api.status {
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::FORBIDDEN => "You cannot do that",
        s if s.is_server_error() => "Sorry, something went wrong",
        _ => "That could not be done",
    };
    message(
        app,
        visitor,
        api.status,
        title,
        vec![api.message],
        Some(("/", "Go to the shop")),
    )
}

/// The signed-in reader when their role is one of `roles`; otherwise where they go instead:
/// sign-in (coming back to `path`) when signed out, the "you cannot" page for `area` when
/// their role has no place there.
pub fn signed_as<'a>(
    app: &App,
    visitor: &'a Visitor,
    path: &str,
    roles: &[Role],
    area: &str,
) -> Result<&'a session::Signed, Box<Response>> {
    match &visitor.signed {
        None => Err(Box::new(see_other(&format!("/sign-in?next={path}"), None))),
        Some(s) if roles.contains(&s.role()) => Ok(s),
        Some(_) => Err(Box::new(failure(
            app,
            visitor,
            AppError::Forbidden(format!("the {area} is not for your role")),
        ))),
    }
}

/// Renders a page (a template that failed to render is a bug: logged, a plain 500).
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => {
            let mut res = Html(html).into_response();
            let headers = res.headers_mut();
            // Pages show a person's own data: never kept by shared caches.
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            // Only our own script and forms; no framing (clickjacking); the one stylesheet is
            // inline. A guest's order link never leaves in a Referer to another site.
            headers.insert(
                axum::http::header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; \
                     base-uri 'none'; object-src 'none'",
                ),
            );
            headers.insert(
                axum::http::header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            headers.insert(
                axum::http::header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// An amount as a person types it (`12`, `12.50`, `12,50`, `.5`) in minor units of `currency`,
/// exactly (a decimal, never a float): `None` for anything else — a sign, an exponent, more
/// decimals than the currency has, or too large.
pub fn parse_amount(raw: &str, currency: Currency) -> Option<i64> {
    use rust_decimal::prelude::ToPrimitive;
    let raw = raw.trim().replace(',', ".");
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let amount: rust_decimal::Decimal = raw.parse().ok()?;
    let digits = u32::from(currency.minor_digits());
    if amount.is_sign_negative() || amount.scale() > digits {
        return None;
    }
    amount
        .checked_mul(rust_decimal::Decimal::from(10_i64.pow(digits)))?
        .to_i64()
}

/// A redirect after a form (303: the browser GETs the next page), with a flash message
/// (one of [`FLASHES`]) for it.
pub fn see_other(to: &str, flash: Option<&str>) -> Response {
    let mut res = Redirect::to(to).into_response();
    if let Some(f) = flash {
        res.headers_mut()
            .append(SET_COOKIE, crate::cookies::set_cookie(FLASH, f, 60, false));
    }
    res
}

/// The flash messages a redirect can leave (a key in a cookie; the words live here).
pub const FLASHES: &[(&str, &str)] = &[
    ("signed_in", "You are signed in."),
    ("signed_out", "You are signed out."),
    ("registered", "Your account is ready and you are signed in."),
    ("added", "Added to your cart."),
    ("cart_updated", "Your cart is updated."),
    ("cancelled", "The order is cancelled."),
    ("accepted", "The order is accepted."),
    ("shipped", "The order is marked as shipped."),
    ("captured", "The payment is captured."),
    ("paid", "The payment went through."),
    ("adjusted", "The stock is adjusted."),
    ("noted", "Your note is added."),
    ("webhook_tested", "A test message is on its way."),
    ("delivery_retried", "The delivery is being tried again."),
    ("webhook_changed", "The endpoint is changed."),
    (
        "webhook_paused",
        "Deliveries to the endpoint are paused: events wait until you resume.",
    ),
    ("webhook_resumed", "Deliveries to the endpoint are resumed."),
    ("webhook_deleted", "The endpoint is deleted."),
    ("product_created", "The product is added."),
    (
        "price_set",
        "The price is set: carts charge it from now on.",
    ),
    ("threshold_set", "The low-stock threshold is set."),
    ("user_created", "The user is created."),
    ("user_changed", "The user's role is changed."),
    (
        "user_disabled",
        "The user is disabled: their sessions have ended.",
    ),
    ("user_enabled", "The user is enabled again."),
    (
        "totp_reset",
        "Their second factor is reset: they set it up again at sign-in.",
    ),
    ("vendor_created", "The vendor is created."),
    ("job_retried", "The job is queued again."),
    ("pricing_imported", "The pricing rules are saved."),
    (
        "pricing_changed",
        "The pricing rules are changed: checkouts use them from now on.",
    ),
    ("preferences", "Your notification settings are saved."),
    ("refunded", "The refund is on its way to the customer."),
    ("resolved", "The exception is resolved."),
    (
        "placed",
        "Thank you: your order is placed. We will e-mail you as it moves.",
    ),
];

/// The cookie a redirect leaves its flash message's key in (see [`see_other`]).
const FLASH: &str = "ordo_flash";

/// The flash message a redirect left for the page it leads to: an extractor, so a page takes
/// it like any other input. It is shown once: [`forget_shown_flash`] forgets it with the page.
pub struct Flash(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Flash {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Flash(session::cookie(&parts.headers, FLASH).and_then(
            |key| {
                FLASHES
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, text)| (*text).to_owned())
            },
        )))
    }
}

/// Forgets a flash message once a page has been rendered for the request that carried it (an
/// HTML answer that is not another redirect), so no handler has to.
pub async fn forget_shown_flash(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let carried = session::cookie(request.headers(), FLASH).is_some();
    let mut res = next.run(request).await;
    let page = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    if carried && page && !res.status().is_redirection() {
        res.headers_mut()
            .append(SET_COOKIE, crate::cookies::set_cookie(FLASH, "", 0, false));
    }
    res
}

/// Renders a page holding a form: 422 when it shows errors (the form came back), else 200.
pub fn render_form(t: &impl Template, errors: &Errors) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, render(t)).into_response()
}

const LIVE_JS: &str = include_str!("../../assets/live.js");

/// `GET /assets/live.js`: the one script, shipped in the binary.
async fn live_js() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        LIVE_JS,
    )
        .into_response()
}

/// The pages' routes. State-changing requests must come from our own pages
/// ([`session::forms_from_here`]).
pub fn router(app: &App) -> axum::Router<App> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/", get(storefront::index))
        .route("/products/{id}", get(storefront::product))
        .route("/cart", get(storefront::cart))
        .route("/cart/lines", post(storefront::add_line))
        .route("/cart/lines/{sku}", post(storefront::set_line))
        .route("/cart/promo", post(storefront::set_promo))
        .route(
            "/checkout",
            get(storefront::checkout).post(storefront::place),
        )
        .route(
            "/sign-in",
            get(account::sign_in_page).post(account::sign_in),
        )
        .route("/sign-out", post(account::sign_out))
        .route(
            "/register",
            get(account::register_page).post(account::register),
        )
        .route("/account", get(account::orders))
        .route("/account/orders/{id}", get(account::order))
        .route(
            "/account/preferences",
            get(account::preferences).post(account::set_preferences),
        )
        .route("/account/orders/{id}/cancel", post(account::cancel))
        .route("/account/orders/{id}/pay", post(account::pay))
        .route("/orders/{id}", get(account::any_order))
        .route("/track/{link}", get(account::track))
        .route("/track/{link}/orders/{id}", get(account::track_order))
        .route(
            "/track/{link}/orders/{id}/events",
            get(account::track_events),
        )
        .route("/track/{link}/orders/{id}/pay", post(account::track_pay))
        .route(
            "/track/{link}/orders/{id}/cancel",
            post(account::track_cancel),
        )
        .route("/vendor", get(vendor::queue))
        .route("/vendor/orders/{id}", get(vendor::order))
        .route(
            "/vendor/products",
            get(vendor::products).post(vendor::create_product),
        )
        .route("/vendor/products/{sku}", post(vendor::change_variant))
        .route(
            "/vendor/webhooks",
            get(vendor::webhooks).post(vendor::create_webhook),
        )
        .route(
            "/vendor/webhooks/{id}",
            get(vendor::webhook).post(vendor::change_webhook),
        )
        .route(
            "/vendor/webhooks/{id}/{action}",
            post(vendor::webhook_action),
        )
        .route(
            "/vendor/webhooks/{id}/deliveries/{delivery}/retry",
            post(vendor::retry_delivery),
        )
        .route("/vendor/stock", get(vendor::stock))
        .route("/vendor/stock/{sku}", post(vendor::adjust))
        .route("/vendor/orders/{id}/{action}", post(vendor::act))
        .route("/support", get(support::home))
        .route("/support/customers/{id}", get(support::customer))
        .route("/support/orders/{id}", get(support::order))
        .route("/support/orders/{id}/{action}", post(support::act))
        .route("/support/exceptions/{id}", get(support::exception))
        .route("/support/exceptions/{id}/resolve", post(support::resolve))
        .route("/admin", get(admin::home))
        .route("/admin/users", post(admin::create_user))
        .route(
            "/admin/users/{id}",
            get(admin::user).post(admin::change_user),
        )
        .route("/admin/vendors", post(admin::create_vendor))
        .route("/admin/pricing/new/{kind}", post(admin::add_rule))
        .route(
            "/admin/pricing/{kind}/{id}/{action}",
            post(admin::change_rule),
        )
        .route("/admin/jobs", get(admin::jobs))
        .route("/admin/jobs/{id}/retry", post(admin::retry_job))
        .route(
            "/admin/pricing",
            get(admin::pricing).post(admin::import_pricing),
        )
        .route("/assets/live.js", get(live_js))
        .layer(axum::middleware::from_fn(forget_shown_flash))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            session::forms_from_here,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_amounts_are_read_exactly_or_not_at_all() {
        let eur = Currency::parse("EUR").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        for (raw, want) in [
            ("12", Some(1200)),
            ("12.5", Some(1250)),
            ("12,50", Some(1250)),
            (" 0.05 ", Some(5)),
            (".5", Some(50)),
            ("12.505", None),
            ("-1", None),
            ("1e3", None),
            ("", None),
            ("12.50 €", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(parse_amount(raw, eur), want, "{raw:?}");
        }
        assert_eq!(parse_amount("1500", jpy), Some(1500));
        assert_eq!(parse_amount("15.5", jpy), None, "yen have no minor digits");
    }
}
