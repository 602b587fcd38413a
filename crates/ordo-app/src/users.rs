//! Users: creating them, listing them, finding customers by name, changing their role or
//! disabling them. Admins manage
//! every account through the API (a sensitive action: step-up); the very first admin comes
//! from the command line (`ordo users create`), acting as the system.

use ordo_domain::ParseError;
use ordo_domain::address::name_search_form;
use ordo_domain::identity::{Actor, EmailAddress, Password, Proof, Role, Sensitive, User};
use ordo_domain::ids::{UserId, VendorId};
use ordo_store::{NamedCustomer, StoreError, constraints};

use crate::auth::hash_password;
use crate::{App, AppError, AppResult};

/// A new account as requested, unchecked.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub password: String,
    pub role: String,
    pub vendor_id: Option<VendorId>,
}

impl App {
    pub async fn create_user(
        &self,
        actor: &Actor,
        proof: Proof,
        input: NewUser,
    ) -> AppResult<User> {
        if !matches!(actor.role, Role::Admin | Role::System) {
            return Err(AppError::Forbidden("only admins create users".into()));
        }
        self.require_fresh(actor, proof, Sensitive::ManageUsers)?;
        let role = Role::of_user(&input.role).map_err(|e| e.at("role"))?;
        self.check_membership(role, input.vendor_id).await?;
        self.insert_user(input, role).await
    }

    /// A shopper makes their own customer account (the storefront's registration). An address
    /// that checked out as a guest is claimed instead, by whoever holds one of its checkout
    /// links (see [`crate::guests`]).
    pub async fn register_customer(
        &self,
        email: &str,
        password: String,
        guest_link: Option<&str>,
    ) -> AppResult<User> {
        if let Ok(parsed) = EmailAddress::parse(email.trim())
            && let Some(c) = self.store.credentials(&parsed).await?
            && self.store.guest_account(c.user.id).await? == Some(false)
        {
            return self.claim_guest(c.user, password, guest_link).await;
        }
        let input = NewUser {
            email: email.to_owned(),
            password,
            role: Role::Customer.to_string(),
            vendor_id: None,
        };
        self.insert_user(input, Role::Customer).await
    }

    async fn insert_user(&self, input: NewUser, role: Role) -> AppResult<User> {
        let email = EmailAddress::parse(&input.email).map_err(|e| e.at("email"))?;
        let password = Password::parse(input.password).map_err(|e| e.at("password"))?;
        let user = User {
            id: UserId::new(),
            email,
            role,
            vendor_id: input.vendor_id,
        };
        let hash = hash_password(&password).await?;
        let now = self.now();
        let user = self
            .write_once(move |tx| {
                Box::pin(async move {
                    match tx.insert_user(&user, &hash, now).await {
                        Err(StoreError::Conflict(c)) if c == constraints::USERS_EMAIL_KEY => {
                            Err(AppError::conflict(
                                "email_taken",
                                format!("{} already has an account", user.email),
                                Some("email"),
                            ))
                        }
                        other => {
                            other?;
                            Ok(user)
                        }
                    }
                })
            })
            .await?;
        tracing::info!(user_id = %user.id, role = %user.role, "user created");
        Ok(user)
    }

    /// A user found by e-mail address or id (support and admins: the support console's search).
    pub async fn find_user(&self, actor: &Actor, email_or_id: &str) -> AppResult<Option<User>> {
        if !matches!(actor.role, Role::Admin | Role::Support | Role::System) {
            return Err(AppError::Forbidden(
                "only admins and support look people up".into(),
            ));
        }
        let wanted = email_or_id.trim();
        if let Ok(id) = wanted.parse::<UserId>() {
            return Ok(self.store.user(id).await?);
        }
        match EmailAddress::parse(wanted) {
            Ok(email) => Ok(self.store.credentials(&email).await?.map(|c| c.user)),
            Err(_) => Ok(None),
        }
    }

    /// Customers found by a recipient name on their orders: a start of any word of the name, or
    /// of several words in order, in any case ("müller", "jürgen mü"); at most `limit` (support
    /// and admins). Each customer and name comes once, the closest match first.
    pub async fn find_customers(
        &self,
        actor: &Actor,
        name: &str,
        limit: Option<i64>,
    ) -> AppResult<Vec<NamedCustomer>> {
        if !matches!(actor.role, Role::Admin | Role::Support | Role::System) {
            return Err(AppError::Forbidden(
                "only admins and support look people up".into(),
            ));
        }
        let limit = crate::paging::page_limit(limit)?;
        let wanted = name_search_form(name);
        // One letter would match a large share of every customer: ask for two.
        if wanted.chars().count() < 2 {
            return Err(ParseError::new(
                "query_too_short",
                "enter at least two letters of the name",
            )
            .at("q")
            .into());
        }
        // A name matched by two of its words comes twice: read a little more, keep each once.
        let found = self
            .store
            .customers_named(&wanted, i64::from(limit) * 2)
            .await?;
        let mut seen = std::collections::HashSet::new();
        Ok(found
            .into_iter()
            .filter(|c| seen.insert((c.customer_id, c.name.clone())))
            .take(limit as usize)
            .collect())
    }

    /// One user, whether they are disabled, and whether they have a TOTP second factor (admins
    /// and support).
    pub async fn user_detail(&self, actor: &Actor, id: UserId) -> AppResult<(User, bool, bool)> {
        if !matches!(actor.role, Role::Admin | Role::Support | Role::System) {
            return Err(AppError::Forbidden(
                "only admins and support look people up".into(),
            ));
        }
        let user = self
            .store
            .user(id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let factors = self
            .store
            .auth_factors(id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        Ok((user, factors.disabled, factors.totp_confirmed))
    }

    /// Every user, by e-mail, a page at a time (admins and support).
    pub async fn users(
        &self,
        actor: &Actor,
        after_email: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<(Vec<(User, bool)>, bool)> {
        if !matches!(actor.role, Role::Admin | Role::Support | Role::System) {
            return Err(AppError::Forbidden(
                "only admins and support list users".into(),
            ));
        }
        let limit = crate::paging::page_limit(limit)?;
        let mut users = self.store.users(after_email, limit + 1).await?;
        let more = users.len() > limit as usize;
        users.truncate(limit as usize);
        Ok((users, more))
    }

    /// Changes a user's role (and vendor), or disables or enables them (admins, with a fresh
    /// proof of identity). Their sessions see the change at once, on every node; a disabled
    /// user's sessions stop working. Admins cannot change or disable themselves, so an admin
    /// cannot lock the last door by accident.
    pub async fn update_user(
        &self,
        actor: &Actor,
        proof: Proof,
        id: UserId,
        change: UserChange,
    ) -> AppResult<(User, bool)> {
        if !matches!(actor.role, Role::Admin | Role::System) {
            return Err(AppError::Forbidden("only admins change users".into()));
        }
        self.require_fresh(actor, proof, Sensitive::ManageUsers)?;
        if actor.user_id == Some(id) {
            return Err(AppError::Forbidden(
                "admins cannot change their own role or status; ask another admin".into(),
            ));
        }
        let mut user = self
            .store
            .user(id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let factors = self
            .store
            .auth_factors(id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        if let Some(role) = change.role {
            user.role = Role::of_user(&role).map_err(|e| e.at("role"))?;
            if user.role != Role::Vendor {
                user.vendor_id = None;
            }
        }
        if let Some(vendor) = change.vendor_id {
            user.vendor_id = vendor;
        }
        self.check_membership(user.role, user.vendor_id).await?;
        let disabled = change.disabled.unwrap_or(factors.disabled);
        let disabled_at = disabled.then(|| self.now());
        let stored = user.clone();
        self.write_once(move |tx| {
            Box::pin(async move {
                if !tx.update_user(&stored, disabled_at).await? {
                    return Err(AppError::NotFound("user"));
                }
                Ok((stored, disabled))
            })
        })
        .await
        .inspect(|_| {
            // This node forgets at once; the others hear of it (see `follow_auth_changes`).
            self.sessions.forget_all();
            tracing::info!(user_id = %id, role = %user.role, disabled, "user changed");
        })
    }

    /// A role and vendor that go together: vendor staff belong to an existing vendor, nobody
    /// else belongs to one.
    async fn check_membership(&self, role: Role, vendor_id: Option<VendorId>) -> AppResult<()> {
        match (role, vendor_id) {
            (Role::Vendor, None) => {
                return Err(
                    ParseError::new("vendor_required", "a vendor user needs a vendor_id")
                        .at("vendor_id")
                        .into(),
                );
            }
            (Role::Vendor, Some(v)) => {
                if self.store.vendor(v).await?.is_none() {
                    return Err(ParseError::new("unknown_vendor", format!("no vendor {v}"))
                        .at("vendor_id")
                        .into());
                }
            }
            (_, Some(_)) => {
                return Err(ParseError::new(
                    "vendor_not_allowed",
                    "only vendor users belong to a vendor",
                )
                .at("vendor_id")
                .into());
            }
            (_, None) => {}
        }
        Ok(())
    }
}

/// What to change about a user; fields left out stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub role: Option<String>,
    /// `Some(None)` takes a user out of their vendor.
    pub vendor_id: Option<Option<VendorId>>,
    pub disabled: Option<bool>,
}
