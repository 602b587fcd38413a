//! The cart (a guest's by cookie, merged into the customer's at sign-in): adding, changing
//! and removing lines, a promo code, and the totals as the checkout will charge them.

use super::*;

/// The reader's cart as it stands, if they have an open one.
pub(super) async fn current_cart(app: &App, visitor: &Visitor) -> Option<CartQuote> {
    let cookie = visitor.cart.as_ref()?;
    match app.cart(&visitor.cart_access(), cookie.id).await {
        Ok(q) if q.cart.status == CartStatus::Open => Some(q),
        _ => None,
    }
}

/// The reader's open cart, made now if they have none (with the cookie that names it).
pub(super) async fn cart_for_change(
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

pub(super) fn totals_view(page: &Page, q: &CartQuote) -> TotalsView {
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

pub(super) fn line_rows(page: &Page, q: &CartQuote) -> Vec<LineRow> {
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
pub(super) struct CartPage {
    page: Page,
    errors: Errors,
    lines: Vec<LineRow>,
    totals: Option<TotalsView>,
    promo_code: String,
    can_buy: bool,
}

/// `GET /cart`: the lines with live prices and availability, the promotion code, the totals.
pub async fn cart(State(app): State<App>, visitor: Visitor, Flash(flash): Flash) -> Response {
    cart_page(&app, &visitor, Errors::default(), flash).await
}

pub(super) async fn cart_page(
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
    let id = format!("qty-{}", crate::web::control_id(&sku));
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
