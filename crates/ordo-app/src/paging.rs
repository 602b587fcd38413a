//! Page sizes for every listing.

use ordo_domain::ParseError;

use crate::AppResult;

pub const MAX_PAGE: u32 = 100;
pub const DEFAULT_PAGE: u32 = 20;

/// A page size: 1 to [`MAX_PAGE`], [`DEFAULT_PAGE`] when not given.
pub(crate) fn page_limit(limit: Option<i64>) -> AppResult<u32> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=i64::from(MAX_PAGE)).contains(&n) => Ok(n as u32),
        Some(_) => Err(
            ParseError::new("invalid_limit", format!("limit must be 1 to {MAX_PAGE}"))
                .at("limit")
                .into(),
        ),
    }
}
