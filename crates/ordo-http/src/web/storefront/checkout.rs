//! The checkout: the address exactly as typed, shipping and tax shown before paying, and
//! paying with the provider's test cards (a guest gives an e-mail address).

use super::*;

/// The address form's fields, exactly as typed.
#[derive(Deserialize, Default, Clone)]
pub struct AddressForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub line1: String,
    #[serde(default)]
    pub line2: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub country: String,
}

impl AddressForm {
    fn input(&self) -> AddressInput {
        let optional = |s: &str| (!s.trim().is_empty()).then(|| s.to_owned());
        AddressInput {
            name: self.name.clone(),
            line1: self.line1.clone(),
            line2: optional(&self.line2),
            city: self.city.clone(),
            region: optional(&self.region),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
        }
    }

    fn of(a: &ordo_domain::address::Address) -> Self {
        Self {
            name: a.name.clone(),
            line1: a.line1.clone(),
            line2: a.line2.clone().unwrap_or_default(),
            city: a.city.clone(),
            region: a.region.clone().unwrap_or_default(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }
    }
}

/// A way to pay the checkout offers.
pub struct Method {
    pub value: &'static str,
    pub label: &'static str,
}

/// The cards the configured provider takes in test mode (the sandbox's documented cards, or
/// Stripe's test payment methods).
pub fn methods(app: &App) -> Vec<Method> {
    match app.settings.payments.provider {
        ProviderChoice::Off => Vec::new(),
        ProviderChoice::Sandbox => vec![
            Method {
                value: "sandbox_card_ok",
                label: "Test card that pays",
            },
            Method {
                value: "sandbox_card_declined",
                label: "Test card that is declined",
            },
            Method {
                value: "sandbox_card_3ds",
                label: "Test card that asks your bank to confirm",
            },
        ],
        ProviderChoice::Stripe(_) => vec![
            Method {
                value: "pm_card_visa",
                label: "Visa test card (Stripe)",
            },
            Method {
                value: "pm_card_chargeDeclined",
                label: "Declined test card (Stripe)",
            },
        ],
    }
}

#[derive(Template)]
#[template(path = "web/storefront/checkout.html")]
pub(super) struct CheckoutPage {
    page: Page,
    errors: Errors,
    address: AddressForm,
    addressed: bool,
    lines: Vec<LineRow>,
    totals: TotalsView,
    methods: Vec<Method>,
    method: String,
    /// A guest checks out with an e-mail address (or signs in first).
    guest: bool,
    email: String,
}

/// `GET /checkout`: the address, then shipping and tax, then the card.
pub async fn checkout(State(app): State<App>, visitor: Visitor) -> Response {
    checkout_page(&app, &visitor, None, Typed::default(), Errors::default()).await
}

/// What the payment form carried, shown again when it comes back with errors.
#[derive(Default)]
pub(super) struct Typed {
    method: String,
    email: String,
}

/// Who may check out: customers, and guests (with their e-mail address); other roles have no
/// cart.
pub(super) fn checkout_gate(visitor: &Visitor) -> Option<Response> {
    match &visitor.signed {
        Some(s) if s.role() != Role::Customer => Some(see_other("/cart", None)),
        _ => None,
    }
}

pub(super) async fn checkout_page(
    app: &App,
    visitor: &Visitor,
    typed: Option<AddressForm>,
    pay: Typed,
    errors: Errors,
) -> Response {
    if let Some(to) = checkout_gate(visitor) {
        return to;
    }
    let Some(quote) = current_cart(app, visitor)
        .await
        .filter(|q| !q.lines.is_empty())
    else {
        return see_other("/cart", None);
    };
    let page = Page::new(app, visitor, "Check out").with_errors(&errors);
    let address = typed.unwrap_or_else(|| {
        quote
            .cart
            .shipping_address
            .as_ref()
            .map(AddressForm::of)
            .unwrap_or_default()
    });
    let body = CheckoutPage {
        errors,
        address,
        addressed: quote.cart.shipping_address.is_some(),
        lines: line_rows(&page, &quote),
        totals: totals_view(&page, &quote),
        methods: methods(app),
        method: pay.method,
        guest: visitor.signed.is_none(),
        email: pay.email,
        page,
    };
    render_form(&body, &body.errors)
}

#[derive(Deserialize)]
pub struct CheckoutForm {
    /// `address` saves the address (and shows shipping and tax); `pay` places and pays.
    pub step: String,
    #[serde(flatten)]
    pub address: AddressForm,
    #[serde(default)]
    pub payment_method: String,
    /// A guest's e-mail address.
    #[serde(default)]
    pub email: String,
}

/// `POST /checkout`: saves the address, or places the orders and pays.
pub async fn place(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<CheckoutForm>,
) -> Response {
    if let Some(to) = checkout_gate(&visitor) {
        return to;
    }
    let Some(cart) = visitor.cart.clone() else {
        return see_other("/cart", None);
    };
    if f.step == "address" {
        let a = &f.address;
        let mut errors = Errors::default();
        for (id, value, say) in [
            (
                "shipping_address-name",
                &a.name,
                "Enter the full name of who receives the parcel",
            ),
            (
                "shipping_address-line1",
                &a.line1,
                "Enter the first line of the address",
            ),
            ("shipping_address-city", &a.city, "Enter the town or city"),
            (
                "shipping_address-postal_code",
                &a.postal_code,
                "Enter the postcode",
            ),
            (
                "shipping_address-country",
                &a.country,
                "Enter the country as two letters, like DE",
            ),
        ] {
            if value.trim().is_empty() {
                errors.push(id, say);
            }
        }
        if !errors.is_empty() {
            return checkout_page(&app, &visitor, Some(f.address), Typed::default(), errors).await;
        }
        let patch = CartPatch {
            shipping_address: Some(Some(f.address.input())),
            ..CartPatch::default()
        };
        return match app
            .update_cart(&visitor.cart_access(), cart.id, patch)
            .await
        {
            Ok(_) => see_other("/checkout#payment", None),
            Err(e) => {
                let errors = Errors::of(e, "shipping_address-name");
                checkout_page(&app, &visitor, Some(f.address), Typed::default(), errors).await
            }
        };
    }
    let methods = methods(&app);
    let typed = Typed {
        method: f.payment_method.clone(),
        email: f.email.clone(),
    };
    let mut errors = Errors::default();
    if visitor.signed.is_none() && f.email.trim().is_empty() {
        errors.push(
            "email",
            "Enter your e-mail address: your order updates go there",
        );
    }
    if !methods.is_empty() && !methods.iter().any(|m| m.value == f.payment_method) {
        errors.push("payment_method", "Choose how to pay");
    }
    if !errors.is_empty() {
        return checkout_page(&app, &visitor, None, typed, errors).await;
    }
    let method = (!methods.is_empty()).then(|| f.payment_method.clone());
    if visitor.signed.is_none() {
        return match app
            .checkout_as_guest(&visitor.cart_access(), cart.id, &f.email, None, method)
            .await
        {
            Ok(done) => {
                let mut res = see_other(&format!("/track/{}", done.link), Some("placed"));
                // The browser keeps the link: registering from it claims the orders.
                res.headers_mut().append(
                    SET_COOKIE,
                    set_cookie(GUEST, &done.link, CART_COOKIE_DAYS * 86_400, &visitor),
                );
                res.headers_mut()
                    .append(SET_COOKIE, set_cookie(CART, "", 0, &visitor));
                res
            }
            Err(e) => {
                let errors = Errors::of(e, "payment_method");
                checkout_page(&app, &visitor, None, typed, errors).await
            }
        };
    }
    match app
        .checkout_cart(visitor.actor(), cart.id, None, method)
        .await
    {
        Ok(done) => {
            let first = done
                .orders
                .first()
                .map(|o| o.id.to_string())
                .unwrap_or_default();
            see_other(&format!("/account/orders/{first}"), Some("placed"))
        }
        Err(e) => {
            let errors = Errors::of(e, "payment_method");
            checkout_page(&app, &visitor, None, typed, errors).await
        }
    }
}
