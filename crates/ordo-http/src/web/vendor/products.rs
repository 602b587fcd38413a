//! A vendor's products: add one with up to three variants priced in any of the shop's
//! currencies, set a SKU's price in any currency and its low-stock threshold.

use super::*;

/// One variant as the products page shows it.
pub struct VariantView {
    pub sku: String,
    pub title: String,
    pub prices: String,
    /// Its entries on the price lists (what carts charge), in every currency it has one.
    pub listed: String,
    pub threshold: String,
    /// The id the variant's controls share (SKUs may hold characters ids should not).
    pub key: String,
}

#[derive(Template)]
#[template(path = "web/vendor/products.html")]
struct ProductsPage {
    page: Page,
    errors: Errors,
    products: Vec<(String, Vec<VariantView>)>,
    typed: NewProductForm,
    currencies: Vec<(&'static str, &'static str)>,
}

/// `GET /vendor/products`: the vendor's products, their prices and thresholds, and a new one.
pub async fn products(State(app): State<App>, visitor: Visitor, Flash(flash): Flash) -> Response {
    products_page(
        &app,
        &visitor,
        NewProductForm::default(),
        Errors::default(),
        flash,
    )
    .await
}

async fn products_page(
    app: &App,
    visitor: &Visitor,
    typed: NewProductForm,
    errors: Errors,
    flash: Option<String>,
) -> Response {
    let actor = match vendor_only(app, visitor, "/vendor/products") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let Some(vendor) = actor.vendor_id else {
        return failure(
            app,
            visitor,
            AppError::Forbidden("products belong to a vendor: sign in as its staff".into()),
        );
    };
    let products = match app.products(Some(vendor), 200).await {
        Ok(p) => p,
        Err(e) => return failure(app, visitor, e),
    };
    // Each currency's price list (a few currencies; one query each).
    let mut listed = Vec::new();
    for currency in crate::web::storefront::CURRENCIES {
        match app
            .price_list(currency, Some(vendor), None, Some(100))
            .await
        {
            Ok((entries, _)) => listed.extend(entries),
            Err(e) => return failure(app, visitor, e),
        }
    }
    let page = Page::new(app, visitor, "Products")
        .with_errors(&errors)
        .with_flash(flash);
    let products = products
        .iter()
        .map(|p| {
            let variants = p
                .variants
                .iter()
                .map(|v| VariantView {
                    key: crate::web::control_id(v.sku.as_str()),
                    sku: v.sku.to_string(),
                    title: v
                        .title
                        .as_ref()
                        .map_or_else(|| p.title.as_str().to_owned(), |t| t.as_str().to_owned()),
                    prices: v
                        .prices
                        .iter()
                        .map(|m| page.money(m))
                        .collect::<Vec<_>>()
                        .join(", "),
                    listed: listed
                        .iter()
                        .filter(|e| e.sku == v.sku)
                        .map(|e| page.money(&e.price))
                        .collect::<Vec<_>>()
                        .join(", "),
                    threshold: v
                        .low_stock_threshold
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                })
                .collect();
            (p.title.as_str().to_owned(), variants)
        })
        .collect();
    let body = ProductsPage {
        page,
        errors,
        products,
        typed,
        currencies: currency_choices(),
    };
    render_form(&body, &body.errors)
}

/// The currencies a vendor prices in, as a select offers them.
fn currency_choices() -> Vec<(&'static str, &'static str)> {
    crate::web::storefront::CURRENCIES
        .iter()
        .map(|c| (*c, *c))
        .collect()
}

/// How many variants the new-product form offers (rows left empty are skipped); more come
/// through the API.
pub const NEW_VARIANTS: usize = 3;

/// A new product as typed: its title, the currency of its prices, and up to [`NEW_VARIANTS`]
/// variants (SKU, name, price), each row `<field><n>`.
#[derive(Deserialize)]
#[serde(default)]
pub struct NewProductForm {
    pub title: String,
    pub currency: String,
    pub threshold: String,
    pub sku0: String,
    pub name0: String,
    pub price0: String,
    pub sku1: String,
    pub name1: String,
    pub price1: String,
    pub sku2: String,
    pub name2: String,
    pub price2: String,
}

impl Default for NewProductForm {
    fn default() -> Self {
        Self {
            title: String::new(),
            currency: "EUR".into(),
            threshold: String::new(),
            sku0: String::new(),
            name0: String::new(),
            price0: String::new(),
            sku1: String::new(),
            name1: String::new(),
            price1: String::new(),
            sku2: String::new(),
            name2: String::new(),
            price2: String::new(),
        }
    }
}

/// One variant row of the form, as typed.
pub struct VariantRow<'a> {
    pub n: usize,
    pub sku: &'a str,
    pub name: &'a str,
    pub price: &'a str,
}

impl NewProductForm {
    /// Its variant rows, in order.
    pub fn rows(&self) -> [VariantRow<'_>; NEW_VARIANTS] {
        [
            VariantRow {
                n: 0,
                sku: &self.sku0,
                name: &self.name0,
                price: &self.price0,
            },
            VariantRow {
                n: 1,
                sku: &self.sku1,
                name: &self.name1,
                price: &self.price1,
            },
            VariantRow {
                n: 2,
                sku: &self.sku2,
                name: &self.name2,
                price: &self.price2,
            },
        ]
    }
}

/// `POST /vendor/products`: a new product with up to three variants, priced in one currency.
pub async fn create_product(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<NewProductForm>,
) -> Response {
    let actor = match vendor_only(&app, &visitor, "/vendor/products") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let Some(vendor_id) = actor.vendor_id else {
        return failure(
            &app,
            &visitor,
            AppError::Forbidden("sign in as vendor staff".into()),
        );
    };
    let mut errors = Errors::default();
    let currency = match ordo_domain::money::Currency::parse(f.currency.trim()) {
        Ok(c) => Some(c),
        Err(e) => {
            errors.push("currency", e.message);
            None
        }
    };
    let threshold = match crate::web::optional_count(
        &f.threshold,
        "threshold",
        "Enter the low-stock threshold as a whole number, or leave it empty",
    ) {
        Ok(t) => t,
        Err(refused) => {
            errors.0.extend(refused.0);
            None
        }
    };
    // The rows with anything typed in them, keeping their place (errors name it); the first
    // row always counts, so an empty form says what it needs.
    let mut variants = Vec::new();
    // The form row of each variant sent (the use case's errors name the variant's place).
    let mut row_of = Vec::new();
    for row in f.rows() {
        let typed = [row.sku, row.name, row.price]
            .iter()
            .any(|t| !t.trim().is_empty());
        if row.n > 0 && !typed {
            continue;
        }
        let price = currency.and_then(|c| crate::web::parse_amount(row.price, c));
        if price.is_none() {
            errors.push(
                &format!("variants-{}-prices-0-amount", row.n),
                format!("Enter the price of variant {}, like 12.50", row.n + 1),
            );
        }
        row_of.push(row.n);
        variants.push(ordo_app::catalog::NewVariant {
            sku: row.sku.trim().to_owned(),
            title: Some(row.name.trim().to_owned()).filter(|t| !t.is_empty()),
            prices: vec![(f.currency.trim().to_owned(), price.unwrap_or_default())],
            weight_grams: None,
            low_stock_threshold: threshold,
        });
    }
    if !errors.is_empty() {
        return products_page(&app, &visitor, f, errors, None).await;
    }
    let input = ordo_app::catalog::NewProduct {
        vendor_id,
        title: f.title.trim().to_owned(),
        tax_class: None,
        stock_deduction: None,
        variants,
    };
    match app.create_product(&actor, input).await {
        Ok(_) => see_other("/vendor/products", Some("product_created")),
        Err(e) => {
            let mut errors = Errors::of(e, "title");
            for e in &mut errors.0 {
                if e.id == "variants" {
                    e.id = "variants-0-sku".into();
                } else if let Some(rest) = e.id.strip_prefix("variants-") {
                    // `variants-<i>-…`: the i-th variant sent is the form's row `row_of[i]`.
                    let (i, field) = rest.split_once('-').unwrap_or((rest, "sku"));
                    let row = i.parse::<usize>().ok().and_then(|i| row_of.get(i).copied());
                    e.id = format!("variants-{}-{field}", row.unwrap_or(0));
                }
            }
            products_page(&app, &visitor, f, errors, None).await
        }
    }
}

#[derive(Deserialize)]
pub struct VariantForm {
    /// `price` (with `price` and `currency`) or `threshold` (with `threshold`, empty clears
    /// it).
    pub change: String,
    #[serde(default)]
    pub price: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub threshold: String,
}

/// `POST /vendor/products/{sku}`: a SKU's price on one currency's price list, or its
/// threshold.
pub async fn change_variant(
    State(app): State<App>,
    visitor: Visitor,
    Path(sku): Path<String>,
    Form(f): Form<VariantForm>,
) -> Response {
    let actor = match vendor_only(&app, &visitor, "/vendor/products") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let key = crate::web::control_id(&sku);
    let done = match f.change.as_str() {
        "price" => {
            let code = if f.currency.is_empty() {
                "EUR"
            } else {
                f.currency.trim()
            };
            let amount = ordo_domain::money::Currency::parse(code)
                .ok()
                .and_then(|c| crate::web::parse_amount(&f.price, c));
            match amount {
                Some(amount) => app
                    .set_price(&actor, &sku, code, amount)
                    .await
                    .map(|()| "price_set")
                    .map_err(|e| Errors::of(e, &format!("price-{key}"))),
                None => Err(Errors::one(
                    &format!("price-{key}"),
                    format!("Enter the price of {sku} in {code}, like 12.50"),
                )),
            }
        }
        "threshold" => {
            let threshold = crate::web::optional_count(
                &f.threshold,
                &format!("threshold-{key}"),
                &format!("Enter the threshold of {sku} as a whole number, or leave it empty"),
            );
            match threshold {
                Ok(t) => app
                    .set_low_stock_threshold(&actor, &sku, t)
                    .await
                    .map(|()| "threshold_set")
                    .map_err(|e| Errors::of(e, &format!("threshold-{key}"))),
                Err(e) => Err(e),
            }
        }
        _ => return failure(&app, &visitor, AppError::NotFound("change")),
    };
    match done {
        Ok(flash) => see_other("/vendor/products", Some(flash)),
        Err(mut errors) => {
            // The use case names its own fields (`amount`, `low_stock_threshold`): the controls
            // are this SKU's.
            let id = if f.change == "price" {
                format!("price-{key}")
            } else {
                format!("threshold-{key}")
            };
            for e in &mut errors.0 {
                e.id.clone_from(&id);
            }
            products_page(&app, &visitor, NewProductForm::default(), errors, None).await
        }
    }
}
