//! Who is acting: users, their roles, and the actor every change is recorded against.
//!
//! Authorization in Ordo is role *and* ownership. This module owns the role list and the
//! ownership rule for orders ([`Actor::can_see_order`]); the state machine owns which role may
//! perform which action.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ParseError;
use crate::ids::{UserId, VendorId};

/// What kind of user someone is. A user has exactly one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    /// Works for one vendor; sees and works only that vendor's orders and stock.
    Vendor,
    Support,
    Admin,
    /// A logistics provider; sees only the orders handed to it.
    Carrier,
    /// Ordo itself (background jobs); never a login.
    System,
}

crate::names!(Role, "invalid_role" {
    Customer => "customer",
    Vendor => "vendor",
    Support => "support",
    Admin => "admin",
    Carrier => "carrier",
    System => "system",
});

impl Role {
    /// The roles a user may hold.
    pub const ALL_USER_ROLES: [Role; 5] = [
        Role::Customer,
        Role::Vendor,
        Role::Support,
        Role::Admin,
        Role::Carrier,
    ];

    /// A role a user may hold (`system` is Ordo itself, never a login), from its name.
    pub fn of_user(s: &str) -> Result<Role, ParseError> {
        Role::parse(s)
            .ok()
            .filter(|r| *r != Role::System)
            .ok_or_else(|| {
                ParseError::new(
                    "invalid_role",
                    "role must be one of customer, vendor, support, admin, carrier",
                )
            })
    }
}

/// An e-mail address, trimmed and lower-cased so that one person cannot hold two accounts by
/// changing case. Deliberately loose beyond the basic shape: the only real check is a mail.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@'));
        if valid {
            Ok(Self(email))
        } else {
            Err(ParseError::new(
                "invalid_email",
                format!("'{raw}' is not an e-mail address"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::string_form!(EmailAddress);

/// A password as typed, checked only for length (NIST 800-63B: length matters, composition
/// rules do not). Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: String) -> Result<Self, ParseError> {
        let n = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&n) {
            return Err(ParseError::new(
                "invalid_password",
                format!(
                    "password must be {} to {} characters",
                    Self::MIN_CHARS,
                    Self::MAX_CHARS
                ),
            ));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A user as the rest of the system sees them (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub email: EmailAddress,
    pub role: Role,
    /// Set exactly when `role` is `vendor`.
    pub vendor_id: Option<VendorId>,
}

/// Who performs an action: recorded on every event, checked on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `None` only for [`Role::System`].
    pub user_id: Option<UserId>,
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<VendorId>,
}

impl Actor {
    pub fn system() -> Self {
        Self {
            user_id: None,
            role: Role::System,
            vendor_id: None,
        }
    }

    pub fn of(user: &User) -> Self {
        Self {
            user_id: Some(user.id),
            role: user.role,
            vendor_id: user.vendor_id,
        }
    }

    /// Whether this actor may see a vendor's private settings (low-stock thresholds…): the
    /// vendor's own staff, support and admins.
    pub fn sees_vendor_internals(&self, vendor: VendorId) -> bool {
        matches!(self.role, Role::Support | Role::Admin | Role::System)
            || (self.role == Role::Vendor && self.vendor_id == Some(vendor))
    }

    /// Whether this actor works for the platform or a vendor (and so may see who on the staff
    /// did what), as opposed to a customer or a carrier.
    pub fn is_staff(&self) -> bool {
        matches!(
            self.role,
            Role::Vendor | Role::Support | Role::Admin | Role::System
        )
    }

    /// Whether this actor may act for the given vendor (the vendor's own staff, or an admin).
    pub fn manages_vendor(&self, vendor: VendorId) -> bool {
        match self.role {
            Role::Admin | Role::System => true,
            Role::Vendor => self.vendor_id == Some(vendor),
            _ => false,
        }
    }
}

/// Actions that need a fresh proof of who the caller is (a login or step-up within the
/// step-up window), whoever may otherwise do them: seed 000's "re-authentication required for
/// sensitive actions like refund processing or order cancellation". This table is the one list;
/// the use cases ask it, and the API publishes it (`GET /api/v1/auth/sensitive-actions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitive {
    /// Cancelling an order that is paid or later (money and goods are in motion).
    CancelPaidOrder,
    /// Creating users or changing a user's role, vendor or status.
    ManageUsers,
    /// Changing pricing rules: FX rates, tax rules, shipping rates, promotions.
    ChangePricingRules,
    /// Removing one's own TOTP second factor.
    RemoveTotp,
    /// Sending a customer's money back (a refund through the payment provider).
    RefundPayment,
    /// Asking for or marking a vendor payout, or changing a vendor's commission.
    ManagePayouts,
}

crate::names!(Sensitive, "invalid_sensitive_action" {
    CancelPaidOrder => "cancel_paid_order",
    ManageUsers => "manage_users",
    ChangePricingRules => "change_pricing_rules",
    RemoveTotp => "remove_totp",
    RefundPayment => "refund_payment",
    ManagePayouts => "manage_payouts",
});

impl Sensitive {
    /// What it covers, for people.
    pub fn description(self) -> &'static str {
        match self {
            Sensitive::CancelPaidOrder => "cancelling an order that is paid or later",
            Sensitive::ManageUsers => "creating users or changing a user's role, vendor or status",
            Sensitive::ChangePricingRules => {
                "changing pricing rules (FX rates, tax rules, shipping rates, promotions)"
            }
            Sensitive::RemoveTotp => "removing your TOTP second factor",
            Sensitive::RefundPayment => "refunding a payment",
            Sensitive::ManagePayouts => {
                "asking for or marking a vendor payout, or changing a vendor's commission"
            }
        }
    }

    /// The endpoints it guards (method and path), for clients.
    pub fn endpoints(self) -> &'static [&'static str] {
        match self {
            Sensitive::CancelPaidOrder => &["POST /api/v1/orders/{id}/actions/cancel"],
            Sensitive::ManageUsers => &["POST /api/v1/users", "PATCH /api/v1/users/{id}"],
            Sensitive::ChangePricingRules => &[
                "PUT /api/v1/fx-rates",
                "DELETE /api/v1/fx-rates/{id}",
                "POST /api/v1/tax-rules",
                "DELETE /api/v1/tax-rules/{id}",
                "POST /api/v1/shipping-rates",
                "DELETE /api/v1/shipping-rates/{id}",
                "POST /api/v1/promotions",
                "PATCH /api/v1/promotions/{id}",
            ],
            Sensitive::RemoveTotp => &["DELETE /api/v1/auth/totp"],
            Sensitive::RefundPayment => &["POST /api/v1/orders/{id}/refunds"],
            Sensitive::ManagePayouts => &[
                "POST /api/v1/vendors/{id}/payouts",
                "POST /api/v1/vendors/{id}/payouts/{payout_id}/paid",
                "PUT /api/v1/vendors/{id}/commission",
            ],
        }
    }
}

/// A caller's proof of identity: until when their session counts as freshly authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proof {
    fresh_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl Proof {
    /// Ordo itself (background jobs, the command line run by an operator on the machine).
    pub const SYSTEM: Proof = Proof {
        fresh_until: Some(chrono::DateTime::<chrono::Utc>::MAX_UTC),
    };

    pub fn until(fresh_until: Option<chrono::DateTime<chrono::Utc>>) -> Self {
        Self { fresh_until }
    }

    pub fn fresh_until(self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.fresh_until
    }

    pub fn is_fresh(self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.fresh_until.is_some_and(|t| t > now)
    }
}
