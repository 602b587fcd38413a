//! The storefront: the product list (text search; filters by vendor, price range and stock;
//! prices in the chosen currency), a product's page, the cart (a guest's by cookie, merged
//! into the customer's at sign-in) and the checkout (the address exactly as typed, shipping and
//! tax shown before paying, a promotion code, the card through the payment provider).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::response::Response;
use ordo_app::carts::{CartPatch, CartQuote, NewCartContent};
use ordo_app::payments::ProviderChoice;
use ordo_app::{App, AppError};
use ordo_domain::address::AddressInput;
use ordo_domain::cart::CartStatus;
use ordo_domain::catalog::Product;
use ordo_domain::identity::Role;
use ordo_domain::ids::{ProductId, VendorId};
use ordo_domain::money::{Currency, Money};
use serde::Deserialize;

use super::session::{CART, CartCookie, GUEST, Visitor, set_cookie};
use super::{
    Errors, Page, failure, forgetting, render_flashed, render_form, see_other, take_flash,
};

/// Products the storefront lists at most (search narrows them).
const SHOWN: u32 = 200;

/// How long a guest's cart cookie lives.
const CART_COOKIE_DAYS: i64 = 30;

/// The currencies a shopper may choose (and a vendor prices in).
pub const CURRENCIES: [&str; 5] = ["EUR", "USD", "GBP", "JPY", "CHF"];

#[derive(Deserialize, Default)]
pub struct Search {
    pub q: Option<String>,
    pub currency: Option<String>,
    pub vendor: Option<String>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub in_stock: Option<String>,
}

/// One product as the list shows it.
pub struct Card {
    pub id: String,
    pub title: String,
    pub vendor: String,
    /// Its lowest price in the chosen currency, formatted for the reader.
    pub price: Option<String>,
    /// More than one price: "from".
    pub from: bool,
    pub variants: usize,
    pub in_stock: bool,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "web/storefront/index.html")]
struct Index {
    page: Page,
    errors: Errors,
    q: String,
    min: String,
    max: String,
    in_stock: bool,
    currencies: Vec<Choice>,
    vendors: Vec<Choice>,
    products: Vec<Card>,
}

fn chosen_currency(raw: Option<&str>) -> Currency {
    raw.and_then(|c| Currency::parse(c).ok())
        .unwrap_or_else(|| Currency::parse("EUR").expect("EUR"))
}

/// An amount as a shopper types it (`12`, `12.50`, `12,50`) in minor units of `currency`.
pub fn parse_amount(raw: &str, currency: Currency) -> Option<i64> {
    let raw = raw.trim().replace(',', ".");
    let digits = u32::from(currency.minor_digits());
    let (whole, fraction) = raw.split_once('.').unwrap_or((&raw, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
        || fraction.len() > digits as usize
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: i64 = format!("{fraction:0<width$}", width = digits as usize)
        .parse()
        .unwrap_or(0);
    whole.checked_mul(10_i64.pow(digits))?.checked_add(fraction)
}

/// `GET /`: the products (up to 200) that match the search and filters.
pub async fn index(
    State(app): State<App>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(s): Query<Search>,
) -> Response {
    let q = s.q.unwrap_or_default().trim().to_owned();
    let currency = chosen_currency(s.currency.as_deref());
    let mut errors = Errors::default();
    let mut bound = |raw: &Option<String>, id: &str, what: &str| -> Option<i64> {
        let raw = raw.as_deref().unwrap_or_default().trim();
        if raw.is_empty() {
            return None;
        }
        let parsed = parse_amount(raw, currency);
        if parsed.is_none() {
            errors.push(
                id,
                format!("Enter the {what} price as a number, like 12.50"),
            );
        }
        parsed
    };
    let (min, max) = (
        bound(&s.min, "min", "lowest"),
        bound(&s.max, "max", "highest"),
    );
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        errors.push("max", "The highest price must be at least the lowest");
    }
    let vendor: Option<VendorId> = s.vendor.as_deref().and_then(|v| v.parse().ok());
    let in_stock = s.in_stock.is_some();
    let (products, vendors) =
        match tokio::try_join!(app.products(vendor, SHOWN), app.shop_vendors()) {
            Ok(found) => found,
            Err(e) => return failure(&app, &visitor, e),
        };
    let skus: Vec<_> = products
        .iter()
        .flat_map(|p| p.variants.iter().map(|v| v.sku.clone()))
        .collect();
    let available = match app.availability(&skus).await {
        Ok(a) => a,
        Err(e) => return failure(&app, &visitor, e),
    };
    let words: Vec<String> = q
        .to_lowercase()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let vendor_name = |id: VendorId| {
        vendors
            .iter()
            .find(|v| v.id == id)
            .map_or_else(String::new, |v| v.name.as_str().to_owned())
    };
    let (flash, forget) = take_flash(&headers);
    let mut page = Page::new(&app, &visitor, "");
    let cards: Vec<Card> = products
        .into_iter()
        .filter(|p| {
            let title = p.title.as_str().to_lowercase();
            words.iter().all(|w| title.contains(w.as_str()))
        })
        .filter_map(|p| {
            let prices: Vec<i64> = p
                .variants
                .iter()
                .flat_map(|v| v.prices.iter())
                .filter(|m| m.currency == currency)
                .map(|m| m.amount)
                .collect();
            let lowest = prices.iter().min().copied();
            let stocked = p
                .variants
                .iter()
                .any(|v| available.iter().any(|(sku, n)| *sku == v.sku && *n > 0));
            let priced_in = |a: i64| min.is_none_or(|lo| a >= lo) && max.is_none_or(|hi| a <= hi);
            if (in_stock && !stocked)
                || ((min.is_some() || max.is_some()) && !prices.iter().any(|a| priced_in(*a)))
            {
                return None;
            }
            Some(Card {
                id: p.id.to_string(),
                title: p.title.as_str().to_owned(),
                vendor: vendor_name(p.vendor_id),
                price: lowest.map(|amount| page.money(&Money { amount, currency })),
                from: prices.iter().any(|a| Some(*a) != lowest),
                variants: p.variants.len(),
                in_stock: stocked,
            })
        })
        .collect();
    page.title = if q.is_empty() {
        "Products".to_owned()
    } else {
        format!("Products matching “{q}”")
    };
    let page = page.with_errors(&errors).with_flash(flash);
    let body = Index {
        page,
        errors,
        q,
        min: s.min.unwrap_or_default(),
        max: s.max.unwrap_or_default(),
        in_stock,
        currencies: CURRENCIES
            .iter()
            .map(|c| Choice {
                value: (*c).to_owned(),
                label: (*c).to_owned(),
                selected: *c == currency.code(),
            })
            .collect(),
        vendors: vendors
            .iter()
            .map(|v| Choice {
                value: v.id.to_string(),
                label: v.name.as_str().to_owned(),
                selected: Some(v.id) == vendor,
            })
            .collect(),
        products: cards,
    };
    render_flashed(&body, forget)
}

/// One variant as its product's page shows it.
pub struct VariantRow {
    pub sku: String,
    pub title: String,
    pub price: Option<String>,
    pub available: i64,
}

#[derive(Template)]
#[template(path = "web/storefront/product.html")]
struct ProductPage {
    page: Page,
    errors: Errors,
    id: String,
    vendor: String,
    currency: String,
    variants: Vec<VariantRow>,
    /// Whether this reader can have a cart (guests and customers).
    can_buy: bool,
}

#[derive(Deserialize, Default)]
pub struct ProductQuery {
    pub currency: Option<String>,
}

/// `GET /products/{id}`: the variants with their prices and availability, and "add to cart".
pub async fn product(
    State(app): State<App>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(q): Query<ProductQuery>,
) -> Response {
    let currency = chosen_currency(q.currency.as_deref());
    match load_product(&app, &id).await {
        Ok((product, vendor, available)) => product_page(
            &app,
            &visitor,
            &product,
            vendor,
            &available,
            currency,
            Errors::default(),
        ),
        Err(e) => failure(&app, &visitor, e),
    }
}

async fn load_product(
    app: &App,
    id: &str,
) -> Result<(Product, String, Vec<(ordo_domain::catalog::Sku, i64)>), AppError> {
    let id: ProductId = id.parse().map_err(|_| AppError::NotFound("product"))?;
    let product = app.product(id).await?;
    let skus: Vec<_> = product.variants.iter().map(|v| v.sku.clone()).collect();
    let (available, vendors) = tokio::try_join!(app.availability(&skus), app.shop_vendors())?;
    let vendor = vendors
        .into_iter()
        .find(|v| v.id == product.vendor_id)
        .map_or_else(String::new, |v| v.name.as_str().to_owned());
    Ok((product, vendor, available))
}

fn product_page(
    app: &App,
    visitor: &Visitor,
    product: &Product,
    vendor: String,
    available: &[(ordo_domain::catalog::Sku, i64)],
    currency: Currency,
    errors: Errors,
) -> Response {
    let page = Page::new(app, visitor, product.title.as_str()).with_errors(&errors);
    let variants = product
        .variants
        .iter()
        .map(|v| VariantRow {
            sku: v.sku.to_string(),
            title: v.title.as_ref().map_or_else(
                || product.title.as_str().to_owned(),
                |t| t.as_str().to_owned(),
            ),
            price: v
                .prices
                .iter()
                .find(|m| m.currency == currency)
                .or_else(|| v.prices.first())
                .map(|m| page.money(m)),
            available: available
                .iter()
                .find(|(s, _)| *s == v.sku)
                .map_or(0, |(_, n)| *n),
        })
        .collect();
    let can_buy = visitor
        .signed
        .as_ref()
        .is_none_or(|s| s.role() == Role::Customer);
    let body = ProductPage {
        page,
        errors,
        id: product.id.to_string(),
        vendor,
        currency: currency.code().to_owned(),
        variants,
        can_buy,
    };
    render_form(&body, &body.errors)
}

/// The reader's cart as it stands, if they have an open one.
async fn current_cart(app: &App, visitor: &Visitor) -> Option<CartQuote> {
    let cookie = visitor.cart.as_ref()?;
    match app.cart(&visitor.cart_access(), cookie.id).await {
        Ok(q) if q.cart.status == CartStatus::Open => Some(q),
        _ => None,
    }
}

/// The reader's open cart, made now if they have none (with the cookie that names it).
async fn cart_for_change(
    app: &App,
    visitor: &Visitor,
    currency: &str,
) -> Result<(CartCookie, Option<axum::http::HeaderValue>), AppError> {
    if let Some(q) = current_cart(app, visitor).await {
        return Ok((
            CartCookie {
                id: q.cart.id,
                token: visitor.cart.as_ref().and_then(|c| c.token.clone()),
            },
            None,
        ));
    }
    let (cart, token, _) = app
        .create_cart(visitor.actor(), currency, NewCartContent::default())
        .await?;
    let cookie = CartCookie { id: cart.id, token };
    Ok((cookie.clone(), Some(cart_cookie(&cookie, visitor))))
}

/// The `Set-Cookie` that names a cart.
pub fn cart_cookie(cart: &CartCookie, visitor: &Visitor) -> axum::http::HeaderValue {
    let value = match &cart.token {
        Some(t) => format!("{}.{t}", cart.id),
        None => cart.id.to_string(),
    };
    set_cookie(CART, &value, CART_COOKIE_DAYS * 86_400, visitor)
}

#[derive(Deserialize)]
pub struct AddLine {
    pub product: String,
    pub sku: String,
    pub quantity: String,
    pub currency: Option<String>,
}

/// `POST /cart/lines`: adds units of a variant to the reader's cart.
pub async fn add_line(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<AddLine>,
) -> Response {
    let currency = chosen_currency(f.currency.as_deref());
    let quantity = match f.quantity.trim().parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Errors::one(
            "quantity",
            "Enter how many you want, a whole number of 1 or more",
        )),
    };
    let added = match quantity {
        Ok(n) => match cart_for_change(&app, &visitor, currency.code()).await {
            Ok((cart, set)) => {
                let access = ordo_app::carts::CartAccess {
                    actor: visitor.actor().copied(),
                    token: cart.token.clone(),
                };
                app.add_cart_line(&access, cart.id, &f.sku, n)
                    .await
                    .map(|_| set)
                    .map_err(|e| Errors::of(e, "quantity"))
            }
            Err(e) => Err(Errors::of(e, "quantity")),
        },
        Err(errors) => Err(errors),
    };
    match added {
        Ok(set) => {
            let mut res = see_other("/cart", Some("added"));
            if let Some(v) = set {
                res.headers_mut().append(SET_COOKIE, v);
            }
            res
        }
        Err(errors) => match load_product(&app, &f.product).await {
            Ok((product, vendor, available)) => product_page(
                &app, &visitor, &product, vendor, &available, currency, errors,
            ),
            Err(e) => failure(&app, &visitor, e),
        },
    }
}

/// One cart line as the cart shows it.
pub struct LineRow {
    pub sku: String,
    pub title: String,
    pub quantity: u32,
    pub unit_price: String,
    pub available: i64,
}

/// What the cart or checkout shows of its totals.
pub struct TotalsView {
    pub subtotal: String,
    pub discount: Option<String>,
    pub shipping: Option<String>,
    pub tax: Option<String>,
    pub total: String,
    /// The orders the checkout will place (one per vendor).
    pub orders: usize,
}

fn totals_view(page: &Page, q: &CartQuote) -> TotalsView {
    let currency = q.cart.currency;
    let sum = |f: fn(&ordo_domain::pricing::Totals) -> &Money| Money {
        amount: q.orders.iter().map(|o| f(&o.totals).amount).sum(),
        currency,
    };
    let (discount, shipping, tax) = (sum(|t| &t.discount), sum(|t| &t.shipping), sum(|t| &t.tax));
    let addressed = q.cart.shipping_address.is_some();
    TotalsView {
        subtotal: page.money(&sum(|t| &t.subtotal)),
        discount: (discount.amount != 0).then(|| page.money(&discount)),
        shipping: addressed.then(|| page.money(&shipping)),
        tax: addressed.then(|| page.money(&tax)),
        total: page.money(&q.total),
        orders: q.orders.len(),
    }
}

fn line_rows(page: &Page, q: &CartQuote) -> Vec<LineRow> {
    q.lines
        .iter()
        .map(|l| LineRow {
            sku: l.sku.to_string(),
            title: l.title.clone().unwrap_or_else(|| l.sku.to_string()),
            quantity: l.quantity,
            unit_price: l
                .unit_price
                .as_ref()
                .map_or_else(|| "not sold in this currency".to_owned(), |m| page.money(m)),
            available: l.available,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "web/storefront/cart.html")]
struct CartPage {
    page: Page,
    errors: Errors,
    lines: Vec<LineRow>,
    totals: Option<TotalsView>,
    promo_code: String,
    can_buy: bool,
}

/// `GET /cart`: the lines with live prices and availability, the promotion code, the totals.
pub async fn cart(State(app): State<App>, visitor: Visitor, headers: HeaderMap) -> Response {
    let (flash, forget) = take_flash(&headers);
    forgetting(
        cart_page(&app, &visitor, Errors::default(), flash).await,
        forget,
    )
}

async fn cart_page(
    app: &App,
    visitor: &Visitor,
    errors: Errors,
    flash: Option<String>,
) -> Response {
    let quote = current_cart(app, visitor).await;
    let page = Page::new(app, visitor, "Your cart")
        .with_errors(&errors)
        .with_flash(flash);
    let can_buy = visitor
        .signed
        .as_ref()
        .is_none_or(|s| s.role() == Role::Customer);
    let body = CartPage {
        lines: quote
            .as_ref()
            .map(|q| line_rows(&page, q))
            .unwrap_or_default(),
        totals: quote
            .as_ref()
            .filter(|q| !q.lines.is_empty())
            .map(|q| totals_view(&page, q)),
        promo_code: quote
            .as_ref()
            .and_then(|q| q.cart.promo_code.clone())
            .unwrap_or_default(),
        page,
        errors,
        can_buy,
    };
    render_form(&body, &body.errors)
}

#[derive(Deserialize)]
pub struct SetLine {
    pub quantity: String,
}

/// `POST /cart/lines/{sku}`: sets a line's quantity (0 removes it).
pub async fn set_line(
    State(app): State<App>,
    visitor: Visitor,
    Path(sku): Path<String>,
    Form(f): Form<SetLine>,
) -> Response {
    let id = format!("qty-{}", super::control_id(&sku));
    let Some(cart) = visitor.cart.clone() else {
        return see_other("/cart", None);
    };
    let result = match f.quantity.trim().parse::<i64>() {
        Ok(n) if n >= 0 => app
            .set_cart_line(&visitor.cart_access(), cart.id, &sku, n)
            .await
            .map_err(|e| Errors::of(e, &id)),
        _ => Err(Errors::one(
            &id,
            "Enter a whole number of 0 or more (0 removes the line)",
        )),
    };
    match result {
        Ok(_) => see_other("/cart", Some("cart_updated")),
        // The use case names the field `quantity`: the control is this line's.
        Err(Errors(mut list)) => {
            for e in &mut list {
                if e.id == "quantity" {
                    e.id.clone_from(&id);
                }
            }
            cart_page(&app, &visitor, Errors(list), None).await
        }
    }
}

#[derive(Deserialize)]
pub struct SetPromo {
    pub promo_code: String,
}

/// `POST /cart/promo`: applies a promotion code (an empty one removes it).
pub async fn set_promo(
    State(app): State<App>,
    visitor: Visitor,
    Form(f): Form<SetPromo>,
) -> Response {
    let Some(cart) = visitor.cart.clone() else {
        return see_other("/cart", None);
    };
    let code = f.promo_code.trim().to_owned();
    let patch = CartPatch {
        promo_code: Some((!code.is_empty()).then_some(code)),
        ..CartPatch::default()
    };
    match app
        .update_cart(&visitor.cart_access(), cart.id, patch)
        .await
    {
        Ok(_) => see_other("/cart", Some("cart_updated")),
        Err(e) => cart_page(&app, &visitor, Errors::of(e, "promo_code"), None).await,
    }
}

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
struct CheckoutPage {
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
struct Typed {
    method: String,
    email: String,
}

/// Who may check out: customers, and guests (with their e-mail address); other roles have no
/// cart.
fn checkout_gate(visitor: &Visitor) -> Option<Response> {
    match &visitor.signed {
        Some(s) if s.role() != Role::Customer => Some(see_other("/cart", None)),
        _ => None,
    }
}

async fn checkout_page(
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
