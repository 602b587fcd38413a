//! A person's account: sign-in (a new session in the cookie; a guest's cart merged into the
//! customer's), sign-out, a shopper's own registration, and a customer's orders — each with
//! its live timeline, items, totals, payment and address, and the actions the order's table
//! allows its customer (cancel, with a password step-up when the action needs one; paying
//! again after a decline; the sandbox bank's confirmation); and a guest's orders, opened by
//! their checkout's link (the same, but cancelling only while unpaid).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::response::Response;
use ordo_app::{App, AppError};
use ordo_domain::identity::{Proof, Role, Sensitive};
use ordo_domain::ids::OrderId;
use ordo_domain::order::{Action, Order, OrderStatus, allowed_actions};
use ordo_domain::payment::PaymentState;
use serde::Deserialize;

use super::{Errors, Flash, Moment, Page, Tag, failure, render, render_form, see_other};
use crate::web::session::{CartCookie, SESSION, Signed, Visitor, set_cookie};
use crate::web::storefront::cart_cookie;

mod orders;
mod preferences;
mod sessions;
mod track;

pub use orders::*;
pub use preferences::*;
pub use sessions::*;
pub use track::*;
