//! Guests: checking out with an e-mail address and no account. A guest's orders belong to a
//! guest account made for that address (a customer with no usable password; later guest
//! checkouts with the same address add to it), and each guest checkout gets an unguessable
//! link to its orders' live pages, quoted by the confirmation e-mail. Registering with the
//! address claims the account — and with it the orders — only for whoever holds one of its
//! links (it was e-mailed to that address): an address alone proves nothing.

use ordo_domain::address::AddressInput;
use ordo_domain::identity::{Actor, EmailAddress, Password, Role, User};
use ordo_domain::ids::{CartId, CheckoutId, UserId};
use ordo_domain::order::Order;
use ordo_store::{StoreError, constraints};

use crate::auth::hash_password;
use crate::carts::{CartAccess, CartBasket, parse_address};
use crate::checkout::{BasketSource, Checkout};
use crate::tokens::new_token;
use crate::{App, AppError, AppResult};

/// Checkout links start with this.
pub const LINK_PREFIX: &str = "ordo_track_";

/// A guest's checkout and the link to its orders' pages.
#[derive(Debug)]
pub struct GuestCheckout {
    pub checkout: Checkout,
    pub link: String,
}

/// What a checkout link opens: the guest account and the checkout's orders.
#[derive(Debug)]
pub struct Tracked {
    pub customer: UserId,
    pub checkout: CheckoutId,
    pub orders: Vec<Order>,
}

impl Tracked {
    /// The actor the guest's pages read as (the guest account, a customer).
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.customer),
            role: Role::Customer,
            vendor_id: None,
        }
    }
}

impl App {
    /// Checks a guest's cart (opened by its token) out for `email`: one order per vendor, as a
    /// customer's checkout, owned by the address's guest account.
    pub async fn checkout_as_guest(
        &self,
        access: &CartAccess,
        id: CartId,
        email: &str,
        address: Option<AddressInput>,
        method: Option<String>,
    ) -> AppResult<GuestCheckout> {
        if email.trim().is_empty() {
            return Err(AppError::Invalid(
                ordo_domain::ParseError::new(
                    "email_required",
                    "a guest checks out with an e-mail address (or signs in)",
                )
                .at("email"),
            ));
        }
        let email = EmailAddress::parse(email.trim()).map_err(|e| e.at("email"))?;
        if !self.token_opens(id, access).await? {
            return Err(AppError::NotFound("cart"));
        }
        let address = address.map(parse_address).transpose()?;
        let guest = self.guest_account_for(&email).await?;
        let link = new_token(LINK_PREFIX);
        let basket = CartBasket {
            id,
            address,
            guest_link: Some(link.clone()),
        };
        let checkout = self
            .run_checkout(
                Actor::of(&guest),
                guest.id,
                BasketSource::Stored(Box::new(basket)),
                false,
                "lines",
                method,
            )
            .await?;
        // A replay placed nothing new: the link is the one the first answer gave.
        let link = self
            .store
            .checkout_link(checkout.checkout_id)
            .await?
            .unwrap_or(link);
        if !checkout.replayed {
            tracing::info!(checkout_id = %checkout.checkout_id, orders = checkout.orders.len(), "guest cart checked out");
        }
        Ok(GuestCheckout { checkout, link })
    }

    /// The guest account of `email`: the one its earlier guest checkouts made, or a new one. An
    /// address with a real account is refused: its owner signs in.
    async fn guest_account_for(&self, email: &EmailAddress) -> AppResult<User> {
        for _ in 0..2 {
            if let Some(c) = self.store.credentials(email).await? {
                return match self.store.guest_account(c.user.id).await? {
                    Some(false) => Ok(c.user),
                    _ => Err(AppError::conflict(
                        "email_has_account",
                        format!("{email} has an account: sign in to check out"),
                        Some("email"),
                    )),
                };
            }
            // No usable password: the hash of a secret nobody keeps (a sign-in simply fails).
            let secret = Password::parse(new_token("unusable_"))
                .map_err(|e| AppError::Internal(anyhow::anyhow!("{}", e.message)))?;
            let hash = hash_password(&secret).await?;
            let user = User {
                id: UserId::new(),
                email: email.clone(),
                role: Role::Customer,
                vendor_id: None,
            };
            let now = self.now();
            let made = self
                .write(move |tx| {
                    Box::pin(async move {
                        match tx.insert_user(&user, &hash, now).await {
                            // Another checkout with this address made it at the same moment.
                            Err(StoreError::Conflict(c)) if c == constraints::USERS_EMAIL_KEY => {
                                Ok(None)
                            }
                            other => {
                                other?;
                                tx.insert_guest_account(user.id, now).await?;
                                Ok(Some(user))
                            }
                        }
                    })
                })
                .await?;
            if let Some(user) = made {
                tracing::info!(user_id = %user.id, "guest account made");
                return Ok(user);
            }
        }
        Err(AppError::Contention)
    }

    /// What a checkout link opens (`None`: no such link).
    pub async fn tracked(&self, link: &str) -> AppResult<Option<Tracked>> {
        if !link.starts_with(LINK_PREFIX) {
            return Ok(None);
        }
        let Some(checkout) = self.store.checkout_by_link(link).await? else {
            return Ok(None);
        };
        let orders = self.store.orders_of_checkout(checkout).await?;
        let Some(customer) = orders.first().map(|o| o.customer_id) else {
            return Ok(None);
        };
        Ok(Some(Tracked {
            customer,
            checkout,
            orders,
        }))
    }

    /// The link to an order's page that its confirmation e-mail quotes for a guest (`None` for
    /// a customer with an account, whose messages link to their account's page).
    pub(crate) async fn guest_link_of(&self, order: &Order) -> AppResult<Option<String>> {
        match (
            self.store.guest_account(order.customer_id).await?,
            order.checkout_id,
        ) {
            (Some(false), Some(checkout)) => Ok(self.store.checkout_link(checkout).await?),
            _ => Ok(None),
        }
    }

    /// Claims the guest account of `user` for whoever holds `link` (one of its checkouts'):
    /// sets its password, and its orders become an ordinary customer's.
    pub(crate) async fn claim_guest(
        &self,
        user: User,
        password: String,
        link: Option<&str>,
    ) -> AppResult<User> {
        let holds_link = match link {
            Some(l) => self
                .tracked(l)
                .await?
                .is_some_and(|t| t.customer == user.id),
            None => false,
        };
        if !holds_link {
            return Err(AppError::conflict(
                "guest_link_required",
                format!(
                    "{} has orders placed as a guest: open the link in one of their confirmation \
                     e-mails and create your account from that page",
                    user.email
                ),
                Some("email"),
            ));
        }
        let password = Password::parse(password).map_err(|e| e.at("password"))?;
        let hash = hash_password(&password).await?;
        let (id, now) = (user.id, self.now());
        let claimed = self
            .write(move |tx| {
                Box::pin(async move { Ok(tx.claim_guest_account(id, &hash, now).await?) })
            })
            .await?;
        if !claimed {
            return Err(AppError::conflict(
                "email_taken",
                format!("{} already has an account", user.email),
                Some("email"),
            ));
        }
        tracing::info!(user_id = %user.id, "guest account claimed");
        Ok(user)
    }
}
