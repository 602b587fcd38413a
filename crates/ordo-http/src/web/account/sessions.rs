//! Signing in (a new session in the cookie; a guest's cart merged into the customer's), signing
//! out, and a shopper's own registration (which claims a guest's orders with one of their links).

use super::*;

#[derive(Deserialize, Default)]
pub struct Next {
    pub next: Option<String>,
    /// Registration from a guest's order page: the checkout link that claims the orders.
    pub link: Option<String>,
    pub email: Option<String>,
}

/// Only a path of this site is a place to go back to (never `//elsewhere`).
pub(super) fn local(next: Option<&str>) -> Option<String> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .map(str::to_owned)
}

#[derive(Template)]
#[template(path = "web/account/sign_in.html")]
struct SignIn {
    page: Page,
    errors: Errors,
    email: String,
    next: String,
}

/// `GET /sign-in`.
pub async fn sign_in_page(
    State(app): State<App>,
    visitor: Visitor,
    Flash(flash): Flash,
    Query(n): Query<Next>,
) -> Response {
    let page = Page::new(&app, &visitor, "Sign in").with_flash(flash);
    render(&SignIn {
        page,
        errors: Errors::default(),
        email: String::new(),
        next: local(n.next.as_deref()).unwrap_or_default(),
    })
}

#[derive(Deserialize)]
pub struct Credentials {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub totp: String,
    #[serde(default)]
    pub next: String,
}

/// `POST /sign-in`: a new session (the old one, if any, revoked), the guest cart merged.
pub async fn sign_in(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<Credentials>,
) -> Response {
    let mut errors = Errors::default();
    if f.email.trim().is_empty() {
        errors.push("email", "Enter your e-mail address");
    }
    if f.password.is_empty() {
        errors.push("password", "Enter your password");
    }
    if errors.is_empty() {
        let next = local(Some(&f.next));
        match start_session(
            &app,
            &visitor,
            &f.email,
            f.password,
            &f.totp,
            next,
            "signed_in",
        )
        .await
        {
            Ok(res) => return res,
            Err(e) => errors = e,
        }
    }
    let page = Page::new(&app, &visitor, "Sign in").with_errors(&errors);
    let body = SignIn {
        page,
        errors,
        email: f.email,
        next: local(Some(&f.next)).unwrap_or_default(),
    };
    render_form(&body, &body.errors)
}

/// Logs in and answers with the cookies of the new session (and cart), going on to `next`.
pub(super) async fn start_session(
    app: &App,
    visitor: &Visitor,
    email: &str,
    password: String,
    totp: &str,
    next: Option<String>,
    flash: &str,
) -> Result<Response, Errors> {
    let guest_cart = visitor.cart.as_ref().and_then(|c| c.token.as_deref());
    let totp = (!totp.trim().is_empty()).then(|| totp.trim());
    let grant = app
        .login(email.trim(), password, totp, guest_cart)
        .await
        .map_err(|e| match e {
            AppError::BadCredentials => Errors::one(
                "email",
                "The e-mail address or password is wrong (or a second factor is needed)",
            ),
            other => Errors::of(other, "email"),
        })?;
    // The browser's old session ends: a session id known before login is worthless after it.
    if let Some(old) = &visitor.signed
        && let Err(e) = app.logout(&old.token).await
    {
        tracing::warn!(error = %e, "the replaced session could not be revoked");
    }
    let role = grant.user.role;
    let to = next.unwrap_or_else(|| {
        match role {
            Role::Customer => "/account",
            Role::Vendor => "/vendor",
            Role::Support => "/support",
            Role::Admin => "/admin",
            Role::Carrier | Role::System => "/",
        }
        .to_owned()
    });
    let mut res = see_other(&to, Some(flash));
    let ttl = (grant.expires_at - app.now()).num_seconds().max(0);
    res.headers_mut()
        .append(SET_COOKIE, set_cookie(SESSION, &grant.token, ttl, visitor));
    if role == Role::Customer {
        // The customer's open cart (the guest's merged into it), named by the cart cookie.
        let cart = match grant.cart_id {
            Some(id) => Some(id),
            None => {
                let actor = ordo_domain::identity::Actor::of(&grant.user);
                app.create_cart(Some(&actor), "EUR", Default::default())
                    .await
                    .ok()
                    .map(|(c, ..)| c.id)
            }
        };
        if let Some(id) = cart {
            let cookie = CartCookie { id, token: None };
            res.headers_mut()
                .append(SET_COOKIE, cart_cookie(&cookie, visitor));
        }
    } else if visitor.cart.is_some() {
        res.headers_mut().append(
            SET_COOKIE,
            set_cookie(crate::web::session::CART, "", 0, visitor),
        );
    }
    Ok(res)
}

/// `POST /sign-out`: the session revoked (the cookie alone would not be enough) and forgotten.
pub async fn sign_out(State(app): State<App>, visitor: Visitor) -> Response {
    if let Some(s) = &visitor.signed
        && let Err(e) = app.logout(&s.token).await
    {
        return failure(&app, &visitor, e);
    }
    let mut res = see_other("/sign-in", Some("signed_out"));
    for name in [SESSION, crate::web::session::CART] {
        res.headers_mut()
            .append(SET_COOKIE, set_cookie(name, "", 0, &visitor));
    }
    res
}

#[derive(Template)]
#[template(path = "web/account/register.html")]
struct Register {
    page: Page,
    errors: Errors,
    email: String,
    next: String,
    link: String,
}

/// `GET /register`.
pub async fn register_page(
    State(app): State<App>,
    visitor: Visitor,
    Query(n): Query<Next>,
) -> Response {
    render(&Register {
        page: Page::new(&app, &visitor, "Create an account"),
        errors: Errors::default(),
        email: n.email.unwrap_or_default(),
        next: local(n.next.as_deref()).unwrap_or_default(),
        link: n.link.unwrap_or_default(),
    })
}

#[derive(Deserialize)]
pub struct NewAccount {
    pub email: String,
    pub password: String,
    pub confirm: String,
    #[serde(default)]
    pub next: String,
    #[serde(default)]
    pub link: String,
}

/// `POST /register`: a customer account, then signed in (keeping the guest's cart).
pub async fn register(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<NewAccount>,
) -> Response {
    let mut errors = Errors::default();
    if f.email.trim().is_empty() {
        errors.push("email", "Enter your e-mail address");
    }
    if f.password.is_empty() {
        errors.push("password", "Enter a password");
    } else if f.password != f.confirm {
        errors.push("confirm", "The two passwords are not the same");
    }
    // The link proves the address's guest orders are theirs (the page's, else this browser's).
    let guest_link = Some(f.link.as_str())
        .filter(|l| !l.is_empty())
        .or(visitor.guest.as_deref());
    if errors.is_empty() {
        match app
            .register_customer(f.email.trim(), f.password.clone(), guest_link)
            .await
        {
            Ok(_) => {
                let next = local(Some(&f.next));
                match start_session(&app, &visitor, &f.email, f.password, "", next, "registered")
                    .await
                {
                    Ok(res) => return res,
                    Err(e) => errors = e,
                }
            }
            Err(e) => errors = Errors::of(e, "email"),
        }
    }
    let page = Page::new(&app, &visitor, "Create an account").with_errors(&errors);
    let body = Register {
        page,
        errors,
        email: f.email,
        next: local(Some(&f.next)).unwrap_or_default(),
        link: f.link,
    };
    render_form(&body, &body.errors)
}
