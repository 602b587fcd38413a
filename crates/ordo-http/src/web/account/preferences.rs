//! How a person is notified: language, channels, phone number.

use super::*;

#[derive(Template)]
#[template(path = "web/account/preferences.html")]
struct PreferencesPage {
    page: Page,
    errors: Errors,
    locale: String,
    email: bool,
    sms: bool,
    push: bool,
    phone: String,
}

/// `GET /account/preferences`: how the person hears about their orders.
pub async fn preferences(
    State(app): State<App>,
    visitor: Visitor,
    Flash(flash): Flash,
) -> Response {
    let Some(signed) = &visitor.signed else {
        return sign_in_first("/account/preferences");
    };
    match app.notification_preferences(&signed.principal.actor).await {
        Ok(p) => {
            let body = PreferencesPage {
                page: Page::new(&app, &visitor, "Notifications").with_flash(flash),
                errors: Errors::default(),
                locale: p.locale,
                email: p.email,
                sms: p.sms,
                push: p.push,
                phone: p.phone.unwrap_or_default(),
            };
            render_form(&body, &body.errors)
        }
        Err(e) => failure(&app, &visitor, e),
    }
}

#[derive(Deserialize)]
pub struct PreferencesForm {
    pub locale: String,
    /// Checkboxes: present when ticked.
    pub email: Option<String>,
    pub sms: Option<String>,
    pub push: Option<String>,
    #[serde(default)]
    pub phone: String,
}

/// `POST /account/preferences`: saves them (SMS needs a phone number).
pub async fn set_preferences(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<PreferencesForm>,
) -> Response {
    let Some(signed) = &visitor.signed else {
        return sign_in_first("/account/preferences");
    };
    let phone = f.phone.trim().to_owned();
    let change = ordo_app::notifications::PreferencesChange {
        locale: Some(f.locale.clone()),
        email: Some(f.email.is_some()),
        sms: Some(f.sms.is_some()),
        push: Some(f.push.is_some()),
        phone: Some((!phone.is_empty()).then_some(phone.clone())),
    };
    match app
        .set_notification_preferences(&signed.principal.actor, change)
        .await
    {
        Ok(_) => see_other("/account/preferences", Some("preferences")),
        Err(e) => {
            let errors = Errors::of(e, "locale");
            let body = PreferencesPage {
                page: Page::new(&app, &visitor, "Notifications").with_errors(&errors),
                errors,
                locale: f.locale,
                email: f.email.is_some(),
                sms: f.sms.is_some(),
                push: f.push.is_some(),
                phone,
            };
            render_form(&body, &body.errors)
        }
    }
}
