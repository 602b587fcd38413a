//! The cookies Ordo reads on every request: the page session's name and reading a cookie's
//! value. A leaf, shared by the API's extractors (a page session authorizes safe API requests,
//! so `EventSource` works) and the web pages.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The session cookie: an API session token.
pub const SESSION: &str = "ordo_session";

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}
