//! Admin: users and roles (create, change role or vendor, disable and enable, reset a lost
//! second factor — each a sensitive action that asks for the admin's password again), vendors
//! (list, create), the pricing rules (read them all; add or replace rules from a JSON file, as
//! `ordo pricing import` takes it), and background jobs (counts, the dead ones with their last
//! error, and replay). Support sees the jobs page too: stuck work is theirs to replay.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ordo_app::users::{NewUser, UserChange};
use ordo_app::{App, AppError};
use ordo_domain::identity::{Actor, Proof, Role};
use ordo_domain::ids::{UserId, VendorId};
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
        user_page(&app, &visitor, &id, Errors::default(), flash).await,
        forget,
    )
}

async fn user_page(
    app: &App,
    visitor: &Visitor,
    id: &str,
    errors: Errors,
    flash: Option<String>,
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
        vendor_id: user.vendor_id.map(|v| v.to_string()).unwrap_or_default(),
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
    let proof = match proof(&app, signed, &f.password).await {
        Ok(p) => p,
        Err(errors) => return user_page(&app, &visitor, &id, errors, None).await,
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
        Err(e) => user_page(&app, &visitor, &id, needs_password(e, "role"), None).await,
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
    rules: String,
    import: String,
}

/// `GET /admin/pricing`: every pricing rule, and the form that adds or replaces rules.
pub async fn pricing(State(app): State<App>, visitor: Visitor, headers: HeaderMap) -> Response {
    let (flash, forget) = take_flash(&headers);
    forgetting(
        pricing_page(&app, &visitor, String::new(), Errors::default(), flash).await,
        forget,
    )
}

async fn pricing_page(
    app: &App,
    visitor: &Visitor,
    import: String,
    errors: Errors,
    flash: Option<String>,
) -> Response {
    let signed = match admin_only(app, visitor, "/admin/pricing", false) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let rules = match app.pricing_rules(&signed.principal.actor).await {
        Ok(book) => serde_json::to_string_pretty(&book).unwrap_or_default(),
        Err(e) => return failure(app, visitor, e),
    };
    let body = PricingPage {
        page: Page::new(app, visitor, "Pricing rules")
            .with_errors(&errors)
            .with_flash(flash),
        errors,
        rules,
        import,
    };
    render_form(&body, &body.errors)
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
            return pricing_page(&app, &visitor, f.rules, errors, None).await;
        }
    };
    let proof = match proof(&app, signed, &f.password).await {
        Ok(p) => p,
        Err(errors) => return pricing_page(&app, &visitor, f.rules, errors, None).await,
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
            pricing_page(&app, &visitor, f.rules, errors, None).await
        }
    }
}
