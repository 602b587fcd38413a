//! Who is looking at a page: the session cookie (the same sessions as API tokens: a login
//! makes one, logout revokes it, step-up freshens it), the guest's cart cookie, the reader's
//! language, and the check that keeps other sites from submitting our forms.
//!
//! The session cookie is `HttpOnly` (no script reads it), `SameSite=Lax` (a cross-site form
//! post does not carry it) and `Secure` when the page came over TLS; a login always makes a
//! new session and revokes the one the browser had, so an id planted before login is
//! worthless after it. On top of `SameSite`, every state-changing request to a page must come
//! from a page of this site: `Sec-Fetch-Site: same-origin`, or, from a browser that does not
//! send it, an `Origin` equal to the host. A request with neither is refused: browsers send
//! one of them on every form post.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request};
use axum::http::header::{HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use ordo_app::App;
use ordo_app::auth::Principal;
use ordo_domain::identity::{Proof, Role};
use ordo_domain::ids::CartId;

pub use crate::cookies::{SESSION, cookie};

/// The cart cookie: `<cart id>` for a customer, `<cart id>.<token>` for a guest.
pub const CART: &str = "ordo_cart";
/// A guest's checkout link, kept by the browser that checked out: registering from it claims
/// the guest's orders.
pub const GUEST: &str = "ordo_guest";
/// The reader's chosen language (`en`, `de`), overriding `Accept-Language`.
pub const LANG: &str = "ordo_lang";

/// The languages pages are written in.
pub const LANGS: [&str; 2] = ["en", "de"];

/// Whether the request came over TLS (directly, or through a proxy that says so).
fn secure(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// A `Set-Cookie` value for this visitor (`Secure` over TLS). `max_age` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age: i64, visitor: &Visitor) -> HeaderValue {
    crate::cookies::set_cookie(name, value, max_age, visitor.secure)
}

/// The signed-in person behind the session cookie.
pub struct Signed {
    pub principal: Principal,
    pub token: String,
}

impl Signed {
    pub fn role(&self) -> Role {
        self.principal.user.role
    }

    /// The session's proof of identity for a sensitive action — freshened first by the
    /// password a form carried (a step-up, counted and locked out as the API's).
    pub async fn proof(&self, app: &App, password: &str) -> Result<Proof, ordo_app::AppError> {
        if password.is_empty() {
            return Ok(self.principal.proof);
        }
        let input = ordo_app::auth::StepUpInput {
            password: Some(password.to_owned()),
            ..Default::default()
        };
        let until = app.step_up(&self.principal, &self.token, input).await?;
        Ok(Proof::until(Some(until)))
    }
}

/// The cart the cookie names.
#[derive(Clone)]
pub struct CartCookie {
    pub id: CartId,
    /// A guest cart's secret.
    pub token: Option<String>,
}

/// Everything a page knows about who is reading it.
pub struct Visitor {
    pub signed: Option<Signed>,
    pub cart: Option<CartCookie>,
    /// The link of the guest checkout this browser made, if any.
    pub guest: Option<String>,
    pub lang: &'static str,
    pub secure: bool,
}

impl Visitor {
    /// The cart access the use cases take.
    pub fn cart_access(&self) -> ordo_app::carts::CartAccess {
        ordo_app::carts::CartAccess {
            actor: self.signed.as_ref().map(|s| s.principal.actor),
            token: self.cart.as_ref().and_then(|c| c.token.clone()),
        }
    }

    pub fn actor(&self) -> Option<&ordo_domain::identity::Actor> {
        self.signed.as_ref().map(|s| &s.principal.actor)
    }
}

impl FromRequestParts<App> for Visitor {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Infallible> {
        let headers = &parts.headers;
        // An expired or revoked session reads as signed out: the page offers sign-in.
        let signed = match cookie(headers, SESSION) {
            Some(token) => app
                .authenticate(&token)
                .await
                .ok()
                .map(|principal| Signed { principal, token }),
            None => None,
        };
        let cart = cookie(headers, CART).and_then(|v| {
            let (id, token) = match v.split_once('.') {
                Some((id, token)) => (id.to_owned(), Some(token.to_owned())),
                None => (v, None),
            };
            Some(CartCookie {
                id: id.parse().ok()?,
                token,
            })
        });
        Ok(Visitor {
            signed,
            cart,
            guest: cookie(headers, GUEST),
            lang: lang(headers),
            secure: secure(headers),
        })
    }
}

/// The reader's language: the cookie, else the first of `Accept-Language` we write, else `en`.
fn lang(headers: &HeaderMap) -> &'static str {
    let wanted = cookie(headers, LANG).into_iter().chain(
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(',')
            .map(|l| l.split(';').next().unwrap_or_default().trim().to_owned()),
    );
    for w in wanted {
        let primary = w.split('-').next().unwrap_or_default().to_ascii_lowercase();
        if let Some(l) = LANGS.iter().find(|l| **l == primary) {
            return l;
        }
    }
    "en"
}

/// Whether a state-changing request came from one of our own pages (see the module's notes).
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site == "same-origin";
    }
    match (headers.get(ORIGIN), headers.get(HOST)) {
        (Some(origin), Some(host)) => {
            let origin = origin.to_str().unwrap_or_default();
            let host = host.to_str().unwrap_or_default();
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .is_some_and(|o| o.eq_ignore_ascii_case(host))
        }
        _ => false,
    }
}

/// Refuses a page's state-changing request that did not come from one of our pages.
pub async fn forms_from_here(
    axum::extract::State(app): axum::extract::State<App>,
    visitor: Visitor,
    req: Request,
    next: Next,
) -> Response {
    if req.method().is_safe() || same_origin(req.headers()) {
        return next.run(req).await;
    }
    super::message(
        &app,
        &visitor,
        StatusCode::FORBIDDEN,
        "This form was not sent from this shop",
        vec!["Nothing was changed. Go back to the page, reload it and try again.".into()],
        Some(("/", "Go to the shop")),
    )
}
