//! The cookies Ordo reads and writes: the page session's name, reading a cookie's value and
//! writing a `Set-Cookie`, both by the `cookie` crate (the parser behind axum-extra's jar). A
//! leaf, shared by the API's extractors (a page session authorizes safe API requests, so
//! `EventSource` works) and the web pages.

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use cookie::{Cookie, SameSite};

/// The session cookie: an API session token.
pub const SESSION: &str = "ordo_session";

/// A cookie's value from the request (`None` when absent or empty).
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` for one of Ordo's cookies: the whole site (`Path=/`), never read by scripts
/// (`HttpOnly`), not sent with a cross-site form post (`SameSite=Lax`), `Secure` when the page
/// came over TLS. `max_age` is in seconds; 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((name, value))
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("cookie values are tokens and ids")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_among_others_and_written_with_their_attributes() {
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            HeaderValue::from_static("a=1; ordo_session=tok.en; b="),
        );
        headers.append(COOKIE, HeaderValue::from_static("ordo_lang=de"));
        assert_eq!(cookie(&headers, SESSION).as_deref(), Some("tok.en"));
        assert_eq!(cookie(&headers, "ordo_lang").as_deref(), Some("de"));
        assert_eq!(cookie(&headers, "b"), None, "an empty value is no cookie");
        assert_eq!(cookie(&headers, "missing"), None);
        let set = set_cookie(SESSION, "tok", 3600, true);
        let set = set.to_str().unwrap();
        for part in [
            "ordo_session=tok",
            "Path=/",
            "Max-Age=3600",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
        ] {
            assert!(set.contains(part), "{set} lacks {part}");
        }
        let gone = set_cookie("ordo_flash", "", 0, false);
        assert!(gone.to_str().unwrap().contains("Max-Age=0"));
        assert!(!gone.to_str().unwrap().contains("Secure"));
    }
}
