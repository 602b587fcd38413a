//! Admin: users and roles (create, change role or vendor, disable and enable, reset a lost
//! second factor — each a sensitive action that asks for the admin's password again), vendors
//! (list, create), the pricing rules (every one in tables; delete a tax rule, shipping rate or
//! exchange rate, switch a promotion on or off, each after saying what it does; add one from
//! its form; add or replace many from a JSON file, as `ordo pricing import` takes it), and
//! background jobs (counts, the dead ones with their last error, and replay). Support sees the
//! jobs page too: stuck work is theirs to replay.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ordo_app::pricing::{FxRateInput, MoneyInput, PromotionInput, ShippingRateInput, TaxRuleInput};
use ordo_app::users::{NewUser, UserChange};
use ordo_app::{App, AppError};
use ordo_domain::identity::{Actor, Proof, Role};
use ordo_domain::ids::{PromotionId, RuleId, UserId, VendorId};
use ordo_domain::pricing::{Discount, PricingBook, Rounding, TaxMode};
use ordo_store::RuleKind;
use serde::Deserialize;

use super::session::{Signed, Visitor};
use super::{Errors, Page, failure, forgetting, render_form, see_other, signed_as, take_flash};

/// The admin behind the page (or support too, where `support` is true), or where they go.
fn admin_only<'a>(
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

/// One user as the list shows them.
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub role: String,
    pub disabled: bool,
}

#[derive(Template)]
#[template(path = "web/admin/home.html")]
struct Home {
    page: Page,
    errors: Errors,
    users: Vec<UserRow>,
    more: Option<String>,
    vendors: Vec<(String, String)>,
    roles: Vec<&'static str>,
    typed: NewUserForm,
}

#[derive(Deserialize, Default)]
pub struct HomeQuery {
    pub after: Option<String>,
}

/// `GET /admin`: users (by e-mail, a page at a time), vendors, and the forms that add them.
pub async fn home(
    State(app): State<App>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(q): Query<HomeQuery>,
) -> Response {
    let (flash, forget) = take_flash(&headers);
    forgetting(
        home_page(
            &app,
            &visitor,
            q.after.as_deref(),
            NewUserForm::default(),
            Errors::default(),
            flash,
        )
        .await,
        forget,
    )
}

async fn home_page(
    app: &App,
    visitor: &Visitor,
    after: Option<&str>,
    typed: NewUserForm,
    errors: Errors,
    flash: Option<String>,
) -> Response {
    let signed = match admin_only(app, visitor, "/admin", false) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let actor = signed.principal.actor;
    let loaded = tokio::try_join!(app.users(&actor, after, Some(50)), app.vendors(&actor));
    let ((users, more), vendors) = match loaded {
        Ok(l) => l,
        Err(e) => return failure(app, visitor, e),
    };
    let users: Vec<UserRow> = users
        .into_iter()
        .map(|(u, disabled)| UserRow {
            id: u.id.to_string(),
            email: u.email.to_string(),
            role: u.role.to_string(),
            disabled,
        })
        .collect();
    let body = Home {
        page: Page::new(app, visitor, "Admin")
            .with_errors(&errors)
            .with_flash(flash),
        errors,
        more: more
            .then(|| users.last().map(|u| u.email.clone()))
            .flatten(),
        users,
        vendors: vendors
            .into_iter()
            .map(|v| (v.id.to_string(), v.name.as_str().to_owned()))
            .collect(),
        roles: ["customer", "vendor", "support", "admin", "carrier"].to_vec(),
        typed,
    };
    render_form(&body, &body.errors)
}

#[derive(Deserialize, Default)]
pub struct NewUserForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub new_password: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub vendor_id: String,
    /// The admin's own password: creating users is sensitive.
    #[serde(default)]
    pub password: String,
}

/// The admin's proof for a sensitive action: their session's, or freshened by the password the
/// form carried. A wrong password is an error on the form's `password` field.
async fn proof(app: &App, signed: &Signed, password: &str) -> Result<Proof, Errors> {
    signed
        .proof(app, password)
        .await
        .map_err(|e| Errors::of(e, "password"))
}

/// A sensitive action refused for want of a fresh proof, said on the password field.
fn needs_password(e: AppError, fallback: &str) -> Errors {
    Errors::of_sensitive(e, fallback, super::PASSWORD_AGAIN)
}

fn vendor_of(raw: &str) -> Option<VendorId> {
    raw.parse().ok()
}

/// `POST /admin/users`: creates a user.
pub async fn create_user(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<NewUserForm>,
) -> Response {
    let signed = match admin_only(&app, &visitor, "/admin", false) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let proof = match proof(&app, signed, &f.password).await {
        Ok(p) => p,
        Err(errors) => return home_page(&app, &visitor, None, f, errors, None).await,
    };
    let input = NewUser {
        email: f.email.trim().to_owned(),
        password: f.new_password.clone(),
        role: f.role.clone(),
        vendor_id: vendor_of(&f.vendor_id),
    };
    match app.create_user(&signed.principal.actor, proof, input).await {
        Ok(user) => see_other(&format!("/admin/users/{}", user.id), Some("user_created")),
        Err(e) => {
            let mut errors = needs_password(e, "email");
            // The use case names the new user's password `password`; the form's is theirs.
            for e in &mut errors.0 {
                if e.id == "password" && !e.message.contains("your password") {
                    e.id = "new_password".into();
                }
            }
            home_page(&app, &visitor, None, f, errors, None).await
        }
    }
}

#[derive(Template)]
#[template(path = "web/admin/user.html")]
struct UserPage {
    page: Page,
    errors: Errors,
    user: UserRow,
    vendor_id: String,
    vendors: Vec<(String, String)>,
    roles: Vec<&'static str>,
    itself: bool,
    /// They have a TOTP second factor (an admin may reset it).
    totp: bool,
    /// The role shown chosen: the user's, or what the refused form was sent with.
    role: String,
}

/// `GET /admin/users/{id}`: one user, and what an admin may change.
pub async fn user(
    State(app): State<App>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (flash, forget) = take_flash(&headers);
    forgetting(
        user_page(&app, &visitor, &id, Errors::default(), flash, None).await,
        forget,
    )
}

async fn user_page(
    app: &App,
    visitor: &Visitor,
    id: &str,
    errors: Errors,
    flash: Option<String>,
    typed: Option<(String, String)>,
) -> Response {
    let signed = match admin_only(app, visitor, "/admin", false) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let actor = signed.principal.actor;
    let Ok(user_id) = id.parse::<UserId>() else {
        return failure(app, visitor, AppError::NotFound("user"));
    };
    let found = tokio::try_join!(app.user_detail(&actor, user_id), app.vendors(&actor));
    let ((user, disabled, totp), vendors) = match found {
        Ok(f) => f,
        Err(e) => return failure(app, visitor, e),
    };
    let body = UserPage {
        totp,
        page: Page::new(app, visitor, user.email.to_string())
            .with_errors(&errors)
            .with_flash(flash),
        errors,
        itself: Some(user.id) == actor.user_id,
        // What the role form was sent with, when it came back refused; else the user's.
        role: typed
            .as_ref()
            .map_or_else(|| user.role.to_string(), |t| t.0.clone()),
        vendor_id: typed.map_or_else(
            || user.vendor_id.map(|v| v.to_string()).unwrap_or_default(),
            |t| t.1,
        ),
        user: UserRow {
            id: user.id.to_string(),
            email: user.email.to_string(),
            role: user.role.to_string(),
            disabled,
        },
        vendors: vendors
            .into_iter()
            .map(|v| (v.id.to_string(), v.name.as_str().to_owned()))
            .collect(),
        roles: ["customer", "vendor", "support", "admin", "carrier"].to_vec(),
    };
    render_form(&body, &body.errors)
}

#[derive(Deserialize)]
pub struct ChangeForm {
    /// `role` (with `role` and `vendor_id`), `disable`, `enable` or `reset_totp`.
    pub change: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub vendor_id: String,
    #[serde(default)]
    pub password: String,
}

/// `POST /admin/users/{id}`: changes a user's role or vendor, disables or enables them, or
/// resets their second factor.
pub async fn change_user(
    State(app): State<App>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(f): Form<ChangeForm>,
) -> Response {
    let signed = match admin_only(&app, &visitor, "/admin", false) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let Ok(user_id) = id.parse::<UserId>() else {
        return failure(&app, &visitor, AppError::NotFound("user"));
    };
    // Each of the page's forms has its own password field: an error is said on the one sent,
    // and the role form keeps what was chosen.
    let (form, typed) = match f.change.as_str() {
        "role" => ("role", Some((f.role.clone(), f.vendor_id.clone()))),
        "reset_totp" => ("totp", None),
        _ => ("access", None),
    };
    let on_form = |errors: Errors| {
        Errors(
            errors
                .0
                .into_iter()
                .map(|e| super::FieldError {
                    id: match (e.id.as_str(), form) {
                        ("password", "role") | ("", _) => e.id,
                        ("password", other) => format!("password-{other}"),
                        _ => e.id,
                    },
                    message: e.message,
                })
                .collect(),
        )
    };
    let proof = match proof(&app, signed, &f.password).await {
        Ok(p) => p,
        Err(errors) => {
            return user_page(&app, &visitor, &id, on_form(errors), None, typed).await;
        }
    };
    let actor: Actor = signed.principal.actor;
    let change =
        |role: Option<String>, vendor: Option<Option<VendorId>>, disabled: Option<bool>| {
            UserChange {
                role,
                vendor_id: vendor,
                disabled,
            }
        };
    let done = match f.change.as_str() {
        "role" => app
            .update_user(
                &actor,
                proof,
                user_id,
                change(Some(f.role.clone()), Some(vendor_of(&f.vendor_id)), None),
            )
            .await
            .map(|_| "user_changed"),
        "disable" => app
            .update_user(&actor, proof, user_id, change(None, None, Some(true)))
            .await
            .map(|_| "user_disabled"),
        "enable" => app
            .update_user(&actor, proof, user_id, change(None, None, Some(false)))
            .await
            .map(|_| "user_enabled"),
        "reset_totp" => app
            .reset_totp(&actor, proof, user_id)
            .await
            .map(|()| "totp_reset"),
        _ => return failure(&app, &visitor, AppError::NotFound("change")),
    };
    match done {
        Ok(flash) => see_other(&format!("/admin/users/{id}"), Some(flash)),
        Err(e) => {
            let errors = on_form(needs_password(e, "role"));
            user_page(&app, &visitor, &id, errors, None, typed).await
        }
    }
}

#[derive(Deserialize)]
pub struct NewVendorForm {
    pub name: String,
}

/// `POST /admin/vendors`: creates a vendor.
pub async fn create_vendor(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<NewVendorForm>,
) -> Response {
    let signed = match admin_only(&app, &visitor, "/admin", false) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    match app
        .create_vendor(&signed.principal.actor, f.name.trim())
        .await
    {
        Ok(_) => see_other("/admin#vendors", Some("vendor_created")),
        Err(e) => {
            let errors = Errors::of(e, "name");
            let errors = Errors(
                errors
                    .0
                    .into_iter()
                    .map(|mut e| {
                        e.id = "vendor-name".into();
                        e
                    })
                    .collect(),
            );
            home_page(&app, &visitor, None, NewUserForm::default(), errors, None).await
        }
    }
}

/// One job as the jobs page lists it.
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub key: String,
    pub state: super::Tag,
    pub attempts: i32,
    pub run_at: String,
    pub last_error: String,
    pub dead: bool,
}

#[derive(Template)]
#[template(path = "web/admin/jobs.html")]
struct JobsPage {
    page: Page,
    errors: Errors,
    counts: Vec<(&'static str, i64)>,
    jobs: Vec<JobRow>,
    state: String,
}

#[derive(Deserialize, Default)]
pub struct JobsQuery {
    pub state: Option<String>,
}

/// `GET /admin/jobs`: how much background work is in each state; the dead first.
pub async fn jobs(
    State(app): State<App>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(q): Query<JobsQuery>,
) -> Response {
    let (flash, forget) = take_flash(&headers);
    let state = q
        .state
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "dead".into());
    forgetting(
        jobs_page(&app, &visitor, &state, Errors::default(), flash).await,
        forget,
    )
}

async fn jobs_page(
    app: &App,
    visitor: &Visitor,
    state: &str,
    errors: Errors,
    flash: Option<String>,
) -> Response {
    let signed = match admin_only(app, visitor, "/admin/jobs", true) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let overview = match app
        .jobs_overview(&signed.principal.actor, Some(state), None, Some(100))
        .await
    {
        Ok(o) => o,
        Err(e) => return failure(app, visitor, e),
    };
    let page = Page::new(app, visitor, "Background jobs")
        .with_errors(&errors)
        .with_flash(flash);
    let c = &overview.counts;
    let body = JobsPage {
        counts: vec![
            ("queued", c.queued),
            ("retrying", c.retrying),
            ("running", c.running),
            ("done", c.done),
            ("dead", c.dead),
        ],
        jobs: overview
            .jobs
            .iter()
            .map(|j| JobRow {
                id: j.id.to_string(),
                kind: j.kind.clone(),
                key: j.key.clone(),
                state: super::Tag {
                    text: j.state.to_string(),
                    class: if j.state.to_string() == "dead" {
                        "tag-stop"
                    } else {
                        "tag-info"
                    },
                },
                attempts: j.attempts,
                run_at: page.date(&j.run_at),
                last_error: j.last_error.clone().unwrap_or_default(),
                dead: j.state.to_string() == "dead",
            })
            .collect(),
        state: state.to_owned(),
        page,
        errors,
    };
    render_form(&body, &body.errors)
}

/// `POST /admin/jobs/{id}/retry`: queues a dead job again now.
pub async fn retry_job(
    State(app): State<App>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let signed = match admin_only(&app, &visitor, "/admin/jobs", true) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let Ok(job) = id.parse::<uuid::Uuid>() else {
        return failure(&app, &visitor, AppError::NotFound("job"));
    };
    match app.retry_job(&signed.principal.actor, job).await {
        Ok(()) => see_other("/admin/jobs", Some("job_retried")),
        Err(e) => jobs_page(&app, &visitor, "dead", Errors::of(e, ""), None).await,
    }
}

#[derive(Template)]
#[template(path = "web/admin/pricing.html")]
struct PricingPage {
    page: Page,
    errors: Errors,
    tables: Vec<RuleTable>,
    /// The forms that add a rule: as typed after an error, else their defaults.
    forms: NewRules,
    import: String,
    /// Asking "are you sure?" (and for the password) before a change.
    confirm: Option<Confirming>,
}

/// What the "add a rule" forms hold: one of each kind.
#[derive(Default)]
pub struct NewRules {
    /// The kind whose form was sent and refused: it opens, so its errors can be reached.
    pub open: String,
    pub tax: RuleForm,
    pub shipping: RuleForm,
    pub promotion: RuleForm,
    pub fx: RuleForm,
}

/// A new pricing rule as typed, every field text (one form shape serves the four kinds; each
/// uses its own fields). Amounts are as people write them (`4,90`), not minor units.
#[derive(Deserialize)]
#[serde(default)]
pub struct RuleForm {
    pub name: String,
    pub country: String,
    pub region: String,
    pub tax_class: String,
    pub rate: String,
    pub mode: String,
    pub countries: String,
    pub price: String,
    pub currency: String,
    pub free_over: String,
    pub min_weight_grams: String,
    pub max_weight_grams: String,
    pub code: String,
    pub percent: String,
    pub amount: String,
    pub usage_limit: String,
    pub from: String,
    pub to: String,
    pub rounding: String,
    pub password: String,
}

impl Default for RuleForm {
    fn default() -> Self {
        Self {
            name: String::new(),
            country: String::new(),
            region: String::new(),
            tax_class: "standard".into(),
            rate: String::new(),
            mode: "inclusive".into(),
            countries: String::new(),
            price: String::new(),
            currency: "EUR".into(),
            free_over: String::new(),
            min_weight_grams: String::new(),
            max_weight_grams: String::new(),
            code: String::new(),
            percent: String::new(),
            amount: String::new(),
            usage_limit: String::new(),
            from: "EUR".into(),
            to: String::new(),
            rounding: "half_up".into(),
            password: String::new(),
        }
    }
}

/// The choices of a tax rule's mode and an exchange rate's rounding, as the forms offer them.
pub const TAX_MODES: &[(&str, &str)] = &[
    ("inclusive", "In the price (VAT, GST)"),
    ("exclusive", "Added to the price (sales tax)"),
];
pub const ROUNDINGS: &[(&str, &str)] = &[
    ("half_up", "Half up"),
    ("half_even", "Half to even"),
    ("up", "Up"),
    ("down", "Down"),
];

/// One kind of rule as a table, each row with its one action.
pub struct RuleTable {
    pub id: &'static str,
    pub title: &'static str,
    pub empty: &'static str,
    pub headers: &'static [&'static str],
    pub rows: Vec<RuleRow>,
}

pub struct RuleRow {
    pub cells: Vec<String>,
    /// Where its button posts.
    pub action: String,
    pub button: &'static str,
    /// Which rule, for a screen reader's button name.
    pub label: String,
}

/// A change waiting for "yes".
pub struct Confirming {
    pub action: String,
    pub what: String,
    pub explains: &'static str,
    pub button: &'static str,
}

/// A promotion's discount in words.
fn discount_words(page: &Page, d: &Discount) -> String {
    match d {
        Discount::Percentage { percent } => format!("{percent} % off"),
        Discount::Fixed { amount } => format!("{} off", page.money(amount)),
    }
}

/// Every rule of the book as the page's tables.
fn rule_tables(page: &Page, book: &PricingBook) -> Vec<RuleTable> {
    let tax = book.tax.iter().map(|t| RuleRow {
        cells: vec![
            t.name.clone(),
            match &t.region {
                Some(r) => format!("{} ({r})", t.country),
                None => t.country.clone(),
            },
            t.tax_class.to_string(),
            format!("{} %", t.rate),
            match t.mode {
                TaxMode::Inclusive => "in the price".into(),
                TaxMode::Exclusive => "added to the price".into(),
            },
        ],
        action: format!("/admin/pricing/tax/{}/delete", t.id),
        button: "Delete",
        label: t.name.clone(),
    });
    let shipping = book.shipping.iter().map(|r| RuleRow {
        cells: vec![
            r.name.clone(),
            if r.countries.is_empty() {
                "everywhere".into()
            } else {
                r.countries.join(", ")
            },
            match (r.min_weight_grams, r.max_weight_grams) {
                (0, None) => "any".into(),
                (0, Some(max)) => format!("under {max} g"),
                (min, Some(max)) => format!("{min} g to under {max} g"),
                (min, None) => format!("from {min} g"),
            },
            page.money(&r.price),
            r.free_over
                .as_ref()
                .map_or_else(String::new, |m| format!("free from {}", page.money(m))),
        ],
        action: format!("/admin/pricing/shipping/{}/delete", r.id),
        button: "Delete",
        label: r.name.clone(),
    });
    let fx = book.fx.iter().map(|r| RuleRow {
        cells: vec![
            format!("1 {} = {} {}", r.from.code(), r.rate, r.to.code()),
            match r.rounding {
                Rounding::HalfUp => "half up",
                Rounding::HalfEven => "half to even",
                Rounding::Up => "up",
                Rounding::Down => "down",
            }
            .into(),
        ],
        action: format!("/admin/pricing/fx/{}/delete", r.id),
        button: "Delete",
        label: format!("{} to {}", r.from.code(), r.to.code()),
    });
    let promotions = book.promotions.iter().map(|p| RuleRow {
        cells: vec![
            p.name.clone(),
            p.code.clone().unwrap_or_else(|| "(automatic)".into()),
            discount_words(page, &p.discount),
            match p.usage_limit {
                Some(limit) => format!("{} of {limit}", p.uses),
                None => p.uses.to_string(),
            },
            match (&p.starts_at, &p.ends_at) {
                (None, None) => "always".into(),
                (Some(a), None) => format!("from {}", page.date(a)),
                (None, Some(b)) => format!("until {}", page.date(b)),
                (Some(a), Some(b)) => format!("{} to {}", page.date(a), page.date(b)),
            },
            if p.active { "on" } else { "off" }.into(),
        ],
        action: format!(
            "/admin/pricing/promotions/{}/{}",
            p.id,
            if p.active { "off" } else { "on" }
        ),
        button: if p.active { "Switch off" } else { "Switch on" },
        label: p.name.clone(),
    });
    vec![
        RuleTable {
            id: "tax",
            title: "Tax rules",
            empty: "No tax rules: checkouts charge no tax.",
            headers: &["Name", "Country", "Tax class", "Rate", "Charged"],
            rows: tax.collect(),
        },
        RuleTable {
            id: "shipping",
            title: "Shipping rates",
            empty: "No shipping rates: checkouts cannot ship anywhere.",
            headers: &["Name", "Ships to", "Parcel weight", "Price", "Free"],
            rows: shipping.collect(),
        },
        RuleTable {
            id: "promotions",
            title: "Promotions",
            empty: "No promotions.",
            headers: &["Name", "Code", "Discount", "Used", "When", "Status"],
            rows: promotions.collect(),
        },
        RuleTable {
            id: "fx",
            title: "Exchange rates",
            empty: "No exchange rates: a product is sold only in the currencies it has prices in.",
            headers: &["Rate", "Rounding"],
            rows: fx.collect(),
        },
    ]
}

/// `GET /admin/pricing`: every pricing rule in tables, each with its action, and the form that
/// adds or replaces rules.
pub async fn pricing(State(app): State<App>, visitor: Visitor, headers: HeaderMap) -> Response {
    let (flash, forget) = take_flash(&headers);
    forgetting(
        pricing_page(
            &app,
            &visitor,
            Typed::default(),
            Errors::default(),
            flash,
            None,
        )
        .await,
        forget,
    )
}

/// What the pricing page's forms hold after one of them was refused.
#[derive(Default)]
struct Typed {
    import: String,
    forms: NewRules,
}

impl Typed {
    fn import(import: String) -> Self {
        Self {
            import,
            ..Self::default()
        }
    }
}

async fn pricing_page(
    app: &App,
    visitor: &Visitor,
    typed: Typed,
    errors: Errors,
    flash: Option<String>,
    confirm: Option<Confirming>,
) -> Response {
    let signed = match admin_only(app, visitor, "/admin/pricing", false) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let book = match app.pricing_rules(&signed.principal.actor).await {
        Ok(book) => book,
        Err(e) => return failure(app, visitor, e),
    };
    let title = match &confirm {
        Some(c) => format!("{}?", c.button),
        None => "Pricing rules".into(),
    };
    let page = Page::new(app, visitor, title)
        .with_errors(&errors)
        .with_flash(flash);
    let body = PricingPage {
        tables: rule_tables(&page, &book),
        page,
        errors,
        forms: typed.forms,
        import: typed.import,
        confirm,
    };
    render_form(&body, &body.errors)
}

#[derive(Deserialize, Default)]
pub struct ConfirmForm {
    #[serde(default)]
    pub confirm: String,
    #[serde(default)]
    pub password: String,
}

/// `POST /admin/pricing/{kind}/{id}/{action}`: deletes a tax rule, shipping rate or exchange
/// rate (`tax|shipping|fx`, `delete`), or switches a promotion on or off (`promotions`,
/// `on|off`). First a page that says what will happen and asks for the password (a sensitive
/// action); then, with `confirm=yes`, the change.
pub async fn change_rule(
    State(app): State<App>,
    visitor: Visitor,
    Path((kind, id, action)): Path<(String, String, String)>,
    Form(f): Form<ConfirmForm>,
) -> Response {
    let signed = match admin_only(&app, &visitor, "/admin/pricing", false) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let actor = signed.principal.actor;
    let book = match app.pricing_rules(&actor).await {
        Ok(book) => book,
        Err(e) => return failure(&app, &visitor, e),
    };
    let page = Page::new(&app, &visitor, "");
    let tables = rule_tables(&page, &book);
    let here = format!("/admin/pricing/{kind}/{id}/{action}");
    let Some(row) = tables
        .iter()
        .flat_map(|t| &t.rows)
        .find(|r| r.action == here)
    else {
        return failure(&app, &visitor, AppError::NotFound("rule"));
    };
    let (explains, button) = match (kind.as_str(), action.as_str()) {
        ("tax", _) => (
            "Checkouts stop charging this tax at once. Orders already placed keep the tax they were charged.",
            "Delete the tax rule",
        ),
        ("shipping", _) => (
            "Checkouts stop offering this rate at once. Orders already placed keep their shipping.",
            "Delete the shipping rate",
        ),
        ("fx", _) => (
            "Carts stop converting prices with this rate at once: a product without its own price in the currency can no longer be bought in it.",
            "Delete the exchange rate",
        ),
        (_, "off") => (
            "Customers can no longer use it. Orders already placed keep their discount; its use count is kept.",
            "Switch the promotion off",
        ),
        _ => (
            "Customers can use it again, within its dates and its limit.",
            "Switch the promotion on",
        ),
    };
    let confirming = Confirming {
        action: here.clone(),
        what: row
            .cells
            .iter()
            .filter(|c| !c.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" · "),
        explains,
        button,
    };
    // Asked first; with "yes", the change (or why it was refused, on the same page).
    let errors = if f.confirm == "yes" {
        match apply_rule_change(&app, signed, &f.password, &kind, &id, &action).await {
            Ok(()) => return see_other("/admin/pricing", Some("pricing_changed")),
            Err(errors) => errors,
        }
    } else {
        Errors::default()
    };
    pricing_page(
        &app,
        &visitor,
        Typed::default(),
        errors,
        None,
        Some(confirming),
    )
    .await
}

async fn apply_rule_change(
    app: &App,
    signed: &Signed,
    password: &str,
    kind: &str,
    id: &str,
    action: &str,
) -> Result<(), Errors> {
    let proof = proof(app, signed, password).await?;
    let actor = signed.principal.actor;
    let done = match (kind, id.parse::<uuid::Uuid>()) {
        (_, Err(_)) => Err(AppError::NotFound("rule")),
        ("promotions", Ok(id)) => app
            .update_promotion(
                &actor,
                proof,
                PromotionId(id),
                Some(action == "on"),
                None,
                None,
            )
            .await
            .map(|_| ()),
        (kind, Ok(id)) => match kind.parse::<RuleKind>() {
            Ok(kind) => app.delete_rule(&actor, proof, kind, RuleId(id)).await,
            Err(_) => Err(AppError::NotFound("rule")),
        },
    };
    done.map_err(|e| needs_password(e, ""))
}

/// `POST /admin/pricing/new/{kind}`: adds a tax rule (`tax`), shipping rate (`shipping`),
/// promotion (`promotion`) or exchange rate (`fx`, replacing the pair's) from its form; a
/// sensitive action, as every pricing change.
pub async fn add_rule(
    State(app): State<App>,
    visitor: Visitor,
    Path(kind): Path<String>,
    Form(f): Form<RuleForm>,
) -> Response {
    let signed = match admin_only(&app, &visitor, "/admin/pricing", false) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    if !matches!(kind.as_str(), "tax" | "shipping" | "promotion" | "fx") {
        return failure(&app, &visitor, AppError::NotFound("page"));
    }
    let errors = match new_rule(&app, signed, &kind, &f).await {
        Ok(()) => return see_other("/admin/pricing", Some("pricing_changed")),
        Err(errors) => errors,
    };
    // Each form's controls are named by its kind (`tax-rate`), as the page has four forms.
    let errors = Errors(
        errors
            .0
            .into_iter()
            .map(|mut e| {
                let id = if e.id.starts_with("countries") {
                    "countries"
                } else {
                    e.id.as_str()
                };
                e.id = format!("{kind}-{id}");
                e
            })
            .collect(),
    );
    let mut typed = Typed::default();
    typed.forms.open.clone_from(&kind);
    let form = RuleForm {
        password: String::new(),
        ..f
    };
    match kind.as_str() {
        "tax" => typed.forms.tax = form,
        "shipping" => typed.forms.shipping = form,
        "promotion" => typed.forms.promotion = form,
        _ => typed.forms.fx = form,
    }
    pricing_page(&app, &visitor, typed, errors, None, None).await
}

/// Text typed into an optional field: `None` when left empty.
fn given(raw: &str) -> Option<String> {
    Some(raw.trim().to_owned()).filter(|r| !r.is_empty())
}

/// An amount as people write it, in minor units of `currency`, else an error on `field` (an
/// unknown currency is said on the currency's field).
fn typed_money(raw: &str, currency: &str, field: &str) -> Result<MoneyInput, Errors> {
    let code = currency.trim();
    let known = ordo_domain::money::Currency::parse(code)
        .map_err(|e| Errors::one(&field.replace("amount", "currency"), e.message))?;
    let minor = super::storefront::parse_amount(raw, known)
        .ok_or_else(|| Errors::one(field, "Enter an amount, like 4.90"))?;
    Ok(MoneyInput {
        amount: minor,
        currency: code.to_owned(),
    })
}

/// A whole number typed into an optional field, else an error on `field`.
fn typed_count(raw: &str, field: &str) -> Result<Option<i64>, Errors> {
    super::optional_count(raw, field, "Enter a whole number")
}

async fn new_rule(app: &App, signed: &Signed, kind: &str, f: &RuleForm) -> Result<(), Errors> {
    let actor = signed.principal.actor;
    let done = match kind {
        "tax" => {
            let input = TaxRuleInput {
                country: f.country.trim().to_owned(),
                region: given(&f.region),
                tax_class: given(&f.tax_class),
                rate: f.rate.trim().trim_end_matches('%').trim().to_owned(),
                mode: f.mode.clone(),
                name: f.name.trim().to_owned(),
            };
            let proof = proof(app, signed, &f.password).await?;
            app.put_tax_rule(&actor, proof, &input).await.map(|_| ())
        }
        "shipping" => {
            let input = ShippingRateInput {
                name: f.name.trim().to_owned(),
                countries: f
                    .countries
                    .split([',', ' '])
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
                vendor_id: None,
                min_weight_grams: typed_count(&f.min_weight_grams, "min_weight_grams")?,
                max_weight_grams: typed_count(&f.max_weight_grams, "max_weight_grams")?,
                price: typed_money(&f.price, &f.currency, "price-amount")?,
                free_over: given(&f.free_over)
                    .map(|raw| typed_money(&raw, &f.currency, "free_over-amount"))
                    .transpose()?,
            };
            let proof = proof(app, signed, &f.password).await?;
            app.add_shipping_rate(&actor, proof, &input)
                .await
                .map(|_| ())
        }
        "promotion" => {
            let input = PromotionInput {
                code: given(&f.code),
                name: f.name.trim().to_owned(),
                percent: given(&f.percent).map(|p| p.trim_end_matches('%').trim().to_owned()),
                amount: given(&f.amount)
                    .map(|raw| typed_money(&raw, &f.currency, "amount-amount"))
                    .transpose()?,
                min_subtotal: None,
                vendor_id: None,
                usage_limit: typed_count(&f.usage_limit, "usage_limit")?,
                active: Some(true),
                starts_at: None,
                ends_at: None,
            };
            let proof = proof(app, signed, &f.password).await?;
            app.create_promotion(&actor, proof, &input)
                .await
                .map(|_| ())
        }
        _ => {
            let input = FxRateInput {
                from: f.from.trim().to_owned(),
                to: f.to.trim().to_owned(),
                rate: f.rate.trim().to_owned(),
                rounding: given(&f.rounding),
            };
            let proof = proof(app, signed, &f.password).await?;
            app.put_fx_rate(&actor, proof, &input).await.map(|_| ())
        }
    };
    done.map_err(|e| needs_password(e, "name"))
}

#[derive(Deserialize)]
pub struct ImportForm {
    pub rules: String,
    #[serde(default)]
    pub password: String,
}

/// `POST /admin/pricing`: applies a file of rules, all or nothing.
pub async fn import_pricing(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<ImportForm>,
) -> Response {
    let signed = match admin_only(&app, &visitor, "/admin/pricing", false) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let parsed: Result<ordo_app::pricing::PricingImport, _> = serde_json::from_str(&f.rules);
    let import = match parsed {
        Ok(i) => i,
        Err(e) => {
            let errors = Errors::one(
                "rules",
                format!("The rules are not valid JSON of the import format: {e}"),
            );
            return pricing_page(&app, &visitor, Typed::import(f.rules), errors, None, None).await;
        }
    };
    let proof = match proof(&app, signed, &f.password).await {
        Ok(p) => p,
        Err(errors) => {
            return pricing_page(&app, &visitor, Typed::import(f.rules), errors, None, None).await;
        }
    };
    match app
        .import_pricing(&signed.principal.actor, proof, &import)
        .await
    {
        Ok(_) => see_other("/admin/pricing", Some("pricing_imported")),
        Err(e) => {
            let mut errors = needs_password(e, "rules");
            // A refused entry names its place in the file: say it on the text area.
            for e in &mut errors.0 {
                if e.id != "password" {
                    e.message = format!("{} ({})", e.message, e.id.replace('-', "."));
                    e.id = "rules".into();
                }
            }
            pricing_page(&app, &visitor, Typed::import(f.rules), errors, None, None).await
        }
    }
}
