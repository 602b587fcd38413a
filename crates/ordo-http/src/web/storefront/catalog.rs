//! The shop's front: search with filters (seller, price range, in stock, currency), results as
//! cards, and a product's page with its variants and prices.

use super::*;

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
pub(super) struct Index {
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

pub(super) fn chosen_currency(raw: Option<&str>) -> Currency {
    raw.and_then(|c| Currency::parse(c).ok())
        .unwrap_or_else(|| Currency::parse("EUR").expect("EUR"))
}

/// `GET /`: the products (up to 200) that match the search and filters.
pub async fn index(
    State(app): State<App>,
    visitor: Visitor,
    Flash(flash): Flash,
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
    render(&body)
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
pub(super) struct ProductPage {
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

pub(super) async fn load_product(
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

pub(super) fn product_page(
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
