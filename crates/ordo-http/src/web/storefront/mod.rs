//! The storefront: the product list (text search; filters by vendor, price range and stock;
//! prices in the chosen currency), a product's page, the cart (a guest's by cookie, merged
//! into the customer's at sign-in) and the checkout (the address exactly as typed, shipping and
//! tax shown before paying, a promotion code, the card through the payment provider).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::response::Response;
use ordo_app::carts::{CartPatch, CartQuote, NewCartContent};
use ordo_app::payments::ProviderChoice;
use ordo_app::{App, AppError};
use ordo_domain::address::AddressInput;
use ordo_domain::cart::CartStatus;
use ordo_domain::catalog::Product;
use ordo_domain::identity::Role;
use ordo_domain::ids::{ProductId, VendorId};
use ordo_domain::money::{Currency, Money};
use serde::Deserialize;

use super::{Errors, Flash, Page, failure, parse_amount, render, render_form, see_other};
use crate::web::session::{CART, CartCookie, GUEST, Visitor, set_cookie};

/// Products the storefront lists at most (search narrows them).
pub(super) const SHOWN: u32 = 200;

/// How long a guest's cart cookie lives.
pub(super) const CART_COOKIE_DAYS: i64 = 30;

/// The currencies a shopper may choose (and a vendor prices in).
pub const CURRENCIES: [&str; 5] = ["EUR", "USD", "GBP", "JPY", "CHF"];

mod cart;
mod catalog;
mod checkout;

pub use cart::*;
pub use catalog::*;
pub use checkout::*;
