//! Carts: create, change, show with live prices, merge at login, check out.
//!
//! A guest's cart is opened by its secret token (only its SHA-256 is stored, like session
//! tokens); a customer's by their login, one open cart each. Showing a cart prices it exactly
//! as a checkout would — same FX, promotions, tax and shipping — and says what stands in the
//! way (a code that does not apply, an item short of stock) without refusing to show it.
//! Checking out happens in `checkout`, in one transaction with closing the cart.

use std::pin::Pin;

use chrono::{DateTime, Utc};
use ordo_domain::ParseError;
use ordo_domain::address::{Address, AddressInput};
use ordo_domain::cart::{Cart, CartStatus};
use ordo_domain::catalog::Sku;
use ordo_domain::identity::{Actor, Role};
use ordo_domain::ids::{CartId, CheckoutId, UserId};
use ordo_domain::inventory::Quantity;
use ordo_domain::money::{Currency, Money};
use ordo_domain::pricing::{Destination, FxUsed, PricedOrder, parse_promo_code, price_basket};
use ordo_store::{StoreError, StoreTx, constraints};

use crate::checkout::{
    Basket, BasketSource, Checkout, StoredBasket, pricing_refused, promotions_for, resolve_line,
};
use crate::tokens::{new_token, token_hash};
use crate::{App, AppError, AppResult, with_retry};

/// Who is asking for a cart: a logged-in user, or whoever holds a guest cart's token.
#[derive(Debug, Clone, Default)]
pub struct CartAccess {
    pub actor: Option<Actor>,
    pub token: Option<String>,
}

/// A cart with live prices, availability and totals.
#[derive(Debug, Clone)]
pub struct CartQuote {
    pub cart: Cart,
    pub lines: Vec<QuoteLine>,
    /// One per vendor: what the checkout would place now.
    pub orders: Vec<PricedOrder>,
    pub total: Money,
    /// What would stop a checkout now; empty when it can go ahead.
    pub problems: Vec<ParseError>,
}

#[derive(Debug, Clone)]
pub struct QuoteLine {
    pub sku: Sku,
    pub title: Option<String>,
    pub quantity: u32,
    pub unit_price: Option<Money>,
    pub fx: Option<FxUsed>,
    /// Units available now, over all the vendor's locations.
    pub available: i64,
}

/// What a new cart starts with, unchecked.
#[derive(Debug, Clone, Default)]
pub struct NewCartContent {
    /// (SKU, quantity)
    pub lines: Vec<(String, i64)>,
    pub promo_code: Option<String>,
    pub shipping_address: Option<AddressInput>,
}

#[derive(Debug, Clone)]
struct CheckedContent {
    lines: Vec<(Sku, Quantity)>,
    promo_code: Option<String>,
    shipping_address: Option<Address>,
}

impl CheckedContent {
    fn apply(&self, cart: &mut Cart) -> AppResult<()> {
        for (i, (sku, quantity)) in self.lines.iter().enumerate() {
            cart.add(sku.clone(), *quantity)
                .map_err(|e| e.at(format!("lines[{i}].quantity")))?;
        }
        if self.promo_code.is_some() {
            cart.promo_code.clone_from(&self.promo_code);
        }
        if self.shipping_address.is_some() {
            cart.shipping_address.clone_from(&self.shipping_address);
        }
        Ok(())
    }
}

/// A change to a cart's settings; `Some(None)` clears a field.
#[derive(Debug, Clone, Default)]
pub struct CartPatch {
    pub currency: Option<String>,
    pub promo_code: Option<Option<String>>,
    pub shipping_address: Option<Option<AddressInput>>,
}

/// Guest cart tokens start with this.
const CART_TOKEN_PREFIX: &str = "ordo_cart_";

pub(crate) fn parse_address(input: AddressInput) -> Result<Address, ParseError> {
    Address::parse(input).map_err(|e| {
        let field = format!("shipping_address.{}", e.field.as_deref().unwrap_or(""));
        ParseError {
            field: Some(field.trim_end_matches('.').to_owned()),
            ..e
        }
    })
}

/// May `access` see and change `cart`? A customer's cart is theirs (and support's and
/// admins'); a guest cart is the token holder's, checked by the caller against the store.
fn owns(cart: &Cart, access: &CartAccess, token_ok: bool) -> bool {
    match (cart.customer_id, access.actor) {
        (Some(owner), Some(a)) => {
            a.user_id == Some(owner) || matches!(a.role, Role::Support | Role::Admin)
        }
        (Some(_), None) => false,
        (None, _) => token_ok,
    }
}

/// Loads a cart the caller may use, inside a transaction, open for change.
async fn open_cart(
    tx: &mut dyn StoreTx,
    id: CartId,
    access: &CartAccess,
    token_ok: bool,
) -> AppResult<Cart> {
    let cart = tx
        .cart_for_update(id)
        .await?
        .filter(|c| owns(c, access, token_ok))
        .ok_or(AppError::NotFound("cart"))?;
    if !cart.is_open() {
        return Err(AppError::conflict(
            "cart_closed",
            format!(
                "this cart is {} and can no longer change",
                cart.status.as_str()
            ),
            None,
        ));
    }
    Ok(cart)
}

/// Writes a changed cart (version bumped); a concurrent change makes this one retry.
async fn save(tx: &mut dyn StoreTx, mut cart: Cart, now: DateTime<Utc>) -> AppResult<Cart> {
    let expected = cart.version;
    cart.version += 1;
    cart.updated_at = now;
    match tx.update_cart(&cart, expected).await {
        Err(StoreError::Conflict(c)) if c == constraints::CARTS_VERSION => {
            Err(AppError::Contention)
        }
        other => {
            other?;
            Ok(cart)
        }
    }
}

/// A cart as the checkout sees it: a basket to read and close in its transaction.
pub(crate) struct CartBasket {
    pub(crate) id: CartId,
    /// Overrides the cart's own address when given.
    pub(crate) address: Option<Address>,
    /// A guest's checkout (see [`crate::guests`]): the cart is the one its token opened (checked
    /// before), and the checkout gets this link to its orders' pages.
    pub(crate) guest_link: Option<String>,
}

impl StoredBasket for CartBasket {
    fn read<'a>(
        &'a self,
        tx: &'a mut dyn StoreTx,
        actor: Actor,
    ) -> Pin<Box<dyn Future<Output = AppResult<Basket>> + Send + 'a>> {
        let (access, token_ok) = match self.guest_link {
            Some(_) => (CartAccess::default(), true),
            None => (
                CartAccess {
                    actor: Some(actor),
                    token: None,
                },
                false,
            ),
        };
        Box::pin(async move {
            basket_for_checkout(tx, self.id, &access, token_ok, self.address.clone()).await
        })
    }

    fn close<'a>(
        &'a self,
        tx: &'a mut dyn StoreTx,
        checkout_id: CheckoutId,
        now: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = AppResult<()>> + Send + 'a>> {
        Box::pin(async move {
            close_cart(tx, self.id, checkout_id, now).await?;
            if let Some(link) = &self.guest_link {
                tx.insert_checkout_link(checkout_id, link, now).await?;
            }
            Ok(())
        })
    }
}

/// The basket a cart checks out, read in the checkout's transaction.
async fn basket_for_checkout(
    tx: &mut dyn StoreTx,
    id: CartId,
    access: &CartAccess,
    token_ok: bool,
    address: Option<Address>,
) -> AppResult<Basket> {
    let cart = open_cart(tx, id, access, token_ok).await?;
    if cart.lines.is_empty() {
        return Err(ParseError::new("empty_cart", "the cart has no items")
            .at("lines")
            .into());
    }
    Ok(Basket {
        currency: cart.currency,
        lines: cart
            .lines
            .iter()
            .map(|l| (l.sku.clone(), l.quantity))
            .collect(),
        address: address.or(cart.shipping_address),
        promo_code: cart.promo_code,
    })
}

/// Marks a cart checked out, in the checkout's transaction.
async fn close_cart(
    tx: &mut dyn StoreTx,
    id: CartId,
    checkout_id: CheckoutId,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut cart = tx
        .cart_for_update(id)
        .await?
        .ok_or(AppError::NotFound("cart"))?;
    cart.move_to(CartStatus::CheckedOut)
        .map_err(|e| AppError::conflict(e.code, e.message, None))?;
    cart.checkout_id = Some(checkout_id);
    save(tx, cart, now).await?;
    Ok(())
}

/// Merges the guest cart `token` opens into the customer's open cart (or makes it theirs if
/// they have none), in the login's transaction. An unknown or spent token merges nothing.
pub(crate) async fn merge_at_login(
    tx: &mut dyn StoreTx,
    customer: UserId,
    guest: Option<Cart>,
    now: DateTime<Utc>,
) -> AppResult<Option<CartId>> {
    let Some(guest) = guest else {
        return Ok(None);
    };
    let Some(mut guest) = tx
        .cart_for_update(guest.id)
        .await?
        .filter(|c| c.is_open() && c.customer_id.is_none())
    else {
        return Ok(None);
    };
    match tx.open_cart_for_update(customer).await? {
        Some(mut mine) => {
            mine.merge(&guest);
            let mine = save(tx, mine, now).await?;
            guest.move_to(CartStatus::Merged)?;
            save(tx, guest, now).await?;
            Ok(Some(mine.id))
        }
        None => {
            guest.customer_id = Some(customer);
            let id = guest.id;
            save(tx, guest, now).await?;
            Ok(Some(id))
        }
    }
}

impl App {
    /// Opens a cart: a guest's (returned with its token, shown once) or, for a customer, their
    /// open cart — a new one only if they have none. `content` is added in the same
    /// transaction (lines added to what the cart holds; code and address set when given).
    pub async fn create_cart(
        &self,
        actor: Option<&Actor>,
        currency: &str,
        content: NewCartContent,
    ) -> AppResult<(Cart, Option<String>, bool)> {
        let currency = Currency::parse(currency).map_err(|e| e.at("currency"))?;
        let customer = match actor {
            None => None,
            Some(a) if a.role == Role::Customer => {
                Some(a.user_id.ok_or(AppError::Unauthenticated)?)
            }
            Some(a) => {
                return Err(AppError::Forbidden(format!(
                    "a {} has no cart; customers and guests do",
                    a.role
                )));
            }
        };
        let content = self.check_content(content).await?;
        let token = customer.is_none().then(|| new_token(CART_TOKEN_PREFIX));
        let hash = token.as_deref().map(token_hash);
        let now = self.now();
        let fresh = Cart {
            id: CartId::new(),
            customer_id: customer,
            status: ordo_domain::cart::NEW_CART,
            currency,
            promo_code: None,
            shipping_address: None,
            lines: Vec::new(),
            checkout_id: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let (cart, created) = with_retry(|| {
            let (mut fresh, hash, content) = (fresh.clone(), hash.clone(), content.clone());
            self.write_once(move |tx| {
                Box::pin(async move {
                    if let Some(c) = customer
                        && let Some(mut existing) = tx.open_cart_for_update(c).await?
                    {
                        content.apply(&mut existing)?;
                        return Ok((save(tx, existing, now).await?, false));
                    }
                    content.apply(&mut fresh)?;
                    match tx.insert_cart(&fresh, hash.as_deref()).await {
                        // Two first requests at once: the other one made it; try again.
                        Err(StoreError::Conflict(c))
                            if c == constraints::CARTS_OPEN_CUSTOMER_KEY =>
                        {
                            Err(AppError::Contention)
                        }
                        other => {
                            other?;
                            Ok((fresh, true))
                        }
                    }
                })
            })
        })
        .await?;
        if customer.is_none() && App::replayed() {
            // A guest's retry: the first answer (and its token, kept nowhere but there) never
            // reached them. The cart gets a new token, shown now, and the lost one stops
            // opening it.
            let token = new_token(CART_TOKEN_PREFIX);
            let (hash, id) = (token_hash(&token), cart.id);
            self.write(move |tx| Box::pin(async move { Ok(tx.set_cart_token(id, &hash).await?) }))
                .await?;
            return Ok((cart, Some(token), created));
        }
        Ok((cart, token, created))
    }

    /// Checks what a new cart should hold: known SKUs, valid quantities, code and address.
    async fn check_content(&self, content: NewCartContent) -> AppResult<CheckedContent> {
        let mut lines = Vec::with_capacity(content.lines.len());
        for (i, (sku, quantity)) in content.lines.into_iter().enumerate() {
            let sku = Sku::parse(&sku).map_err(|e| e.at(format!("lines[{i}].sku")))?;
            let quantity =
                Quantity::parse(quantity).map_err(|e| e.at(format!("lines[{i}].quantity")))?;
            lines.push((sku, quantity));
        }
        let skus: Vec<Sku> = lines.iter().map(|(s, _)| s.clone()).collect();
        let known = self.store.variants_for_sale(&skus).await?;
        if let Some(i) = skus.iter().position(|s| !known.iter().any(|v| v.sku == *s)) {
            return Err(
                ParseError::new("unknown_sku", format!("no product has SKU {}", skus[i]))
                    .at(format!("lines[{i}].sku"))
                    .into(),
            );
        }
        let promo_code = match content.promo_code {
            Some(c) if !c.trim().is_empty() => Some(self.known_code(&c).await?),
            _ => None,
        };
        Ok(CheckedContent {
            lines,
            promo_code,
            shipping_address: content.shipping_address.map(parse_address).transpose()?,
        })
    }

    /// A promotion code that exists (whether it applies is shown with the cart).
    async fn known_code(&self, raw: &str) -> AppResult<String> {
        let c = parse_promo_code(raw).map_err(|e| e.at("promo_code"))?;
        if self.pricing_book().await?.promotion_by_code(&c).is_none() {
            return Err(AppError::unprocessable(
                "unknown_promotion_code",
                format!("no promotion has the code {c}"),
                Some("promo_code"),
            ));
        }
        Ok(c)
    }

    pub(crate) async fn token_opens(&self, id: CartId, access: &CartAccess) -> AppResult<bool> {
        Ok(match &access.token {
            Some(t) => self
                .store
                .cart_by_token(&token_hash(t))
                .await?
                .is_some_and(|c| c.id == id),
            None => false,
        })
    }

    /// The cart with live prices, availability and totals.
    pub async fn cart(&self, access: &CartAccess, id: CartId) -> AppResult<CartQuote> {
        let token_ok = self.token_opens(id, access).await?;
        let cart = self
            .store
            .cart(id)
            .await?
            .filter(|c| owns(c, access, token_ok))
            .ok_or(AppError::NotFound("cart"))?;
        self.quote(cart).await
    }

    async fn quote(&self, cart: Cart) -> AppResult<CartQuote> {
        let book = self.pricing_book().await?;
        let now = self.now();
        let skus: Vec<Sku> = cart.lines.iter().map(|l| l.sku.clone()).collect();
        let variants = self.store.variants_for_sale(&skus).await?;
        let mut problems: Vec<ParseError> = Vec::new();
        let mut lines = Vec::with_capacity(cart.lines.len());
        let mut priceable = Vec::new();
        let available = self.store.available(&skus).await?;
        for (i, l) in cart.lines.iter().enumerate() {
            let available = available
                .iter()
                .find(|(s, _)| *s == l.sku)
                .map_or(0, |(_, n)| *n);
            if available < i64::from(l.quantity.get()) {
                problems.push(
                    ParseError::new(
                        "insufficient_stock",
                        format!(
                            "{} has {available} available, {} in the cart",
                            l.sku,
                            l.quantity.get()
                        ),
                    )
                    .at(format!("lines[{i}].quantity")),
                );
            }
            let mut line = QuoteLine {
                sku: l.sku.clone(),
                title: None,
                quantity: l.quantity.get(),
                unit_price: None,
                fx: None,
                available,
            };
            match resolve_line(&l.sku, l.quantity, cart.currency, &variants, &book) {
                Ok(r) => {
                    line.title = Some(r.variant.title.clone());
                    line.unit_price = Some(r.line.unit_price);
                    line.fx = r.fx;
                    priceable.push(r.line);
                }
                Err(e) => problems.push(e.at(format!("lines[{i}].sku"))),
            }
            lines.push(line);
        }
        let dest = cart.shipping_address.as_ref().map(|a| Destination {
            country: &a.country,
            region: a.region.as_deref(),
        });
        let mut code = cart.promo_code.as_deref();
        let promotions = match promotions_for(&book, code, now) {
            Ok(p) => p,
            Err(e) => {
                problems.push(problem(e));
                code = None;
                promotions_for(&book, None, now)?
            }
        };
        let priced = match price_basket(cart.currency, &priceable, dest, &book, &promotions, code) {
            Ok(p) => p,
            Err(e) => {
                problems.push(problem(pricing_refused(e)));
                // Show what can be shown: without the code, then without shipping and tax.
                let auto: Vec<_> = promotions
                    .iter()
                    .copied()
                    .filter(|p| p.code.is_none())
                    .collect();
                match price_basket(cart.currency, &priceable, dest, &book, &auto, None) {
                    Ok(p) => p,
                    Err(e) => {
                        problems.push(problem(pricing_refused(e)));
                        price_basket(cart.currency, &priceable, None, &book, &auto, None)
                            .map_err(pricing_refused)?
                    }
                }
            }
        };
        if cart.shipping_address.is_none() && !cart.lines.is_empty() {
            problems.push(
                ParseError::new(
                    "missing_address",
                    "add a shipping address to see shipping and tax",
                )
                .at("shipping_address"),
            );
        }
        let total = Money {
            amount: priced.orders.iter().map(|o| o.totals.total.amount).sum(),
            currency: cart.currency,
        };
        Ok(CartQuote {
            cart,
            lines,
            orders: priced.orders,
            total,
            problems,
        })
    }

    /// Changes a cart in one transaction, then shows it.
    async fn change_cart(
        &self,
        access: &CartAccess,
        id: CartId,
        change: impl Fn(&mut Cart) -> AppResult<()> + Send + Sync + Clone + 'static,
    ) -> AppResult<CartQuote> {
        let token_ok = self.token_opens(id, access).await?;
        let cart = with_retry(|| {
            let (access, change, now) = (access.clone(), change.clone(), self.now());
            self.write_once(move |tx| {
                Box::pin(async move {
                    let mut cart = open_cart(tx, id, &access, token_ok).await?;
                    change(&mut cart)?;
                    save(tx, cart, now).await
                })
            })
        })
        .await?;
        self.quote(cart).await
    }

    pub async fn update_cart(
        &self,
        access: &CartAccess,
        id: CartId,
        patch: CartPatch,
    ) -> AppResult<CartQuote> {
        let currency = patch
            .currency
            .as_deref()
            .map(Currency::parse)
            .transpose()
            .map_err(|e| e.at("currency"))?;
        let code = match patch.promo_code {
            Some(Some(c)) if !c.trim().is_empty() => Some(Some(self.known_code(&c).await?)),
            Some(_) => Some(None),
            None => None,
        };
        let address = match patch.shipping_address {
            Some(Some(a)) => Some(Some(parse_address(a)?)),
            Some(None) => Some(None),
            None => None,
        };
        self.change_cart(access, id, move |cart| {
            if let Some(c) = currency {
                cart.currency = c;
            }
            if let Some(c) = &code {
                cart.promo_code.clone_from(c);
            }
            if let Some(a) = &address {
                cart.shipping_address.clone_from(a);
            }
            Ok(())
        })
        .await
    }

    /// Adds units of a SKU (to what the cart already holds).
    pub async fn add_cart_line(
        &self,
        access: &CartAccess,
        id: CartId,
        sku: &str,
        quantity: i64,
    ) -> AppResult<CartQuote> {
        let sku = Sku::parse(sku).map_err(|e| e.at("sku"))?;
        let quantity = Quantity::parse(quantity).map_err(|e| e.at("quantity"))?;
        if self
            .store
            .variants_for_sale(std::slice::from_ref(&sku))
            .await?
            .is_empty()
        {
            return Err(
                ParseError::new("unknown_sku", format!("no product has SKU {sku}"))
                    .at("sku")
                    .into(),
            );
        }
        self.change_cart(access, id, move |cart| {
            cart.add(sku.clone(), quantity)
                .map_err(|e| e.at("quantity").into())
        })
        .await
    }

    /// Sets a line's quantity; 0 removes it.
    pub async fn set_cart_line(
        &self,
        access: &CartAccess,
        id: CartId,
        sku: &str,
        quantity: i64,
    ) -> AppResult<CartQuote> {
        let sku = Sku::parse(sku).map_err(|_| AppError::NotFound("cart line"))?;
        let quantity = match quantity {
            0 => None,
            q => Some(Quantity::parse(q).map_err(|e| e.at("quantity"))?),
        };
        self.change_cart(access, id, move |cart| {
            if !cart.lines.iter().any(|l| l.sku == sku) {
                return Err(AppError::NotFound("cart line"));
            }
            cart.set_line(sku.clone(), quantity).map_err(AppError::from)
        })
        .await
    }

    /// Checks a customer's cart out: one order per vendor, all or nothing.
    pub async fn checkout_cart(
        &self,
        actor: Option<&Actor>,
        id: CartId,
        shipping_address: Option<AddressInput>,
        payment_method: Option<String>,
    ) -> AppResult<Checkout> {
        // No credentials at all is a 401: logging in (which merges a guest cart) is the way on.
        let actor = actor.ok_or(AppError::Unauthenticated)?;
        if actor.role != Role::Customer {
            return Err(AppError::Forbidden(format!(
                "a {} cannot check out; customers do",
                actor.role
            )));
        }
        let customer = actor.user_id.ok_or(AppError::Unauthenticated)?;
        let address = shipping_address.map(parse_address).transpose()?;
        let done = self
            .run_checkout(
                *actor,
                customer,
                BasketSource::Stored(Box::new(CartBasket {
                    id,
                    address,
                    guest_link: None,
                })),
                false,
                "lines",
                payment_method,
            )
            .await?;
        if !done.replayed {
            tracing::info!(checkout_id = %done.checkout_id, orders = done.orders.len(), "cart checked out");
        }
        Ok(done)
    }
}

/// An error turned into a cart problem (same code, message and field).
fn problem(e: AppError) -> ParseError {
    match e {
        AppError::Invalid(p) => p,
        AppError::Conflict {
            code,
            message,
            field,
        }
        | AppError::Unprocessable {
            code,
            message,
            field,
        } => ParseError {
            code,
            message,
            field,
        },
        other => ParseError::new("unavailable", other.to_string()),
    }
}
