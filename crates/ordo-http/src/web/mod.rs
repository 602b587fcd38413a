//! The web UI (issue 12, in progress): server-rendered pages beside the API, in the same
//! binary. Templates live in files (`templates/web/…`, askama, checked at compile time), one
//! layout serves every page (skip link, landmarks, one `h1`, a visible focus), and every page
//! works without JavaScript. One module per area: [`storefront`] today; the account, vendor,
//! support and admin areas come next (see docs/web.md).

pub mod storefront;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use ordo_app::App;

/// What the layout needs of every page.
pub struct Page {
    /// The page's `h1` and the start of its `<title>`.
    pub title: String,
    /// The `lang` of the document.
    pub lang: &'static str,
    pub shop: String,
    /// The page shows a form's errors: the title says so first.
    pub error: bool,
}

impl Page {
    pub fn new(app: &App, title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            lang: "en",
            shop: app.settings.notifications.shop_name.clone(),
            error: false,
        }
    }
}

/// Renders a page (a template that failed to render is a bug: logged, a plain 500).
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// The pages' routes.
pub fn router() -> axum::Router<App> {
    axum::Router::new().route("/", axum::routing::get(storefront::index))
}
