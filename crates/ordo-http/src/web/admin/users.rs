//! The admin console's users and vendors: the list, adding a user (or a vendor), one user's
//! page (role and vendor, access, second factor), each change asking for the password again.

use super::*;

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
    Flash(flash): Flash,
    Query(q): Query<HomeQuery>,
) -> Response {
    home_page(
        &app,
        &visitor,
        q.after.as_deref(),
        NewUserForm::default(),
        Errors::default(),
        flash,
    )
    .await
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
    Flash(flash): Flash,
    Path(id): Path<String>,
) -> Response {
    user_page(&app, &visitor, &id, Errors::default(), flash, None).await
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
                .map(|e| crate::web::FieldError {
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
