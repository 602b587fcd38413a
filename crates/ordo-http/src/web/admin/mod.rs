//! Admin: users and roles (create, change role or vendor, disable and enable, reset a lost
//! second factor — each a sensitive action that asks for the admin's password again), vendors
//! (list, create), the pricing rules (every one in tables; delete a tax rule, shipping rate or
//! exchange rate, switch a promotion on or off, each after saying what it does; add one from
//! its form; add or replace many from a JSON file, as `ordo pricing import` takes it), and
//! background jobs (counts, the dead ones with their last error, and replay). Support sees the
//! jobs page too: stuck work is theirs to replay.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use ordo_app::pricing::{FxRateInput, MoneyInput, PromotionInput, ShippingRateInput, TaxRuleInput};
use ordo_app::users::{NewUser, UserChange};
use ordo_app::{App, AppError};
use ordo_domain::identity::{Actor, Proof, Role};
use ordo_domain::ids::{PromotionId, RuleId, UserId, VendorId};
use ordo_domain::pricing::{Discount, PricingBook, Rounding, TaxMode};
use ordo_store::RuleKind;
use serde::Deserialize;

use super::{Errors, Flash, Page, failure, render_form, see_other, signed_as};
use crate::web::session::{Signed, Visitor};

/// The admin behind the page (or support too, where `support` is true), or where they go.
pub(super) fn admin_only<'a>(
    app: &App,
    visitor: &'a Visitor,
    path: &str,
    support: bool,
) -> Result<&'a Signed, Box<Response>> {
    let roles: &[Role] = if support {
        &[Role::Admin, Role::Support]
    } else {
        &[Role::Admin]
    };
    signed_as(app, visitor, path, roles, "admin area")
}

/// The admin's proof for a sensitive action: their session's, or freshened by the password the
/// form carried. A wrong password is an error on the form's `password` field.
pub(super) async fn proof(app: &App, signed: &Signed, password: &str) -> Result<Proof, Errors> {
    signed
        .proof(app, password)
        .await
        .map_err(|e| Errors::of(e, "password"))
}

/// A sensitive action refused for want of a fresh proof, said on the password field.
pub(super) fn needs_password(e: AppError, fallback: &str) -> Errors {
    Errors::of_sensitive(e, fallback, crate::web::PASSWORD_AGAIN)
}

mod jobs;
mod pricing;
mod users;

pub use jobs::{jobs, retry_job};
pub use pricing::{add_rule, change_rule, import_pricing, pricing};
pub use users::{change_user, create_user, create_vendor, home, user};
