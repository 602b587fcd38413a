//! Creating users. Admins create every account through the API; the very first admin comes
//! from the command line (`ordo users create`), acting as the system.

use ordo_domain::ParseError;
use ordo_domain::identity::{Actor, EmailAddress, Password, Role, User};
use ordo_domain::ids::{UserId, VendorId};
use ordo_store::{StoreError, constraints};

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
    pub async fn create_user(&self, actor: &Actor, input: NewUser) -> AppResult<User> {
        if !matches!(actor.role, Role::Admin | Role::System) {
            return Err(AppError::Forbidden("only admins create users".into()));
        }
        let email = EmailAddress::parse(&input.email).map_err(|e| e.at("email"))?;
        let password = Password::parse(input.password).map_err(|e| e.at("password"))?;
        let role: Role = input.role.parse().map_err(|e: ParseError| e.at("role"))?;
        match (role, input.vendor_id) {
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
}
