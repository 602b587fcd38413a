//! The admin console's pricing rules: every rule in a table (tax, shipping, promotions, exchange
//! rates), forms to add each kind, deleting or switching a rule after saying what it does, and
//! the JSON import — each change asking for the password again.

use super::*;

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
pub async fn pricing(State(app): State<App>, visitor: Visitor, Flash(flash): Flash) -> Response {
    pricing_page(
        &app,
        &visitor,
        Typed::default(),
        Errors::default(),
        flash,
        None,
    )
    .await
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
    let minor = crate::web::parse_amount(raw, known)
        .ok_or_else(|| Errors::one(field, "Enter an amount, like 4.90"))?;
    Ok(MoneyInput {
        amount: minor,
        currency: code.to_owned(),
    })
}

/// A whole number typed into an optional field, else an error on `field`.
fn typed_count(raw: &str, field: &str) -> Result<Option<i64>, Errors> {
    crate::web::optional_count(raw, field, "Enter a whole number")
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
