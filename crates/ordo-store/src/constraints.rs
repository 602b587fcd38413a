//! The names of the database constraints that callers react to.
//!
//! Both backends name their constraints exactly so (PostgreSQL reports the name; the SQLite
//! backend maps its messages onto these), so `ordo-app` can turn a refused write into the right
//! client error without knowing which database refused it.

/// Two users with one e-mail address.
pub const USERS_EMAIL_KEY: &str = "users_email_key";
/// A SKU already used by another variant.
pub const VARIANTS_SKU_KEY: &str = "variants_sku_key";
/// A vendor name already taken.
pub const VENDORS_NAME_KEY: &str = "vendors_name_key";
/// A location code already used by the same vendor.
pub const LOCATIONS_VENDOR_CODE_KEY: &str = "locations_vendor_code_key";
/// `0 <= reserved <= on_hand`: the invariant that makes overselling impossible.
pub const STOCK_RESERVED_WITHIN_ON_HAND: &str = "stock_reserved_within_on_hand";
/// An idempotency key already used in the same scope (user, guest cart, guest).
pub const IDEMPOTENCY_KEYS_PKEY: &str = "idempotency_keys_pkey";
/// Two events with one sequence number on one order (a lost race).
pub const ORDER_EVENTS_PKEY: &str = "order_events_pkey";
/// An order changed since it was read (optimistic check in `record_order_changes`).
pub const ORDERS_VERSION: &str = "orders_version";
/// A customer's second open cart (one each).
pub const CARTS_OPEN_CUSTOMER_KEY: &str = "carts_open_customer_key";
/// A cart changed since it was read (optimistic check in `update_cart`).
pub const CARTS_VERSION: &str = "carts_version";
/// A promotion code already taken.
pub const PROMOTIONS_CODE_KEY: &str = "promotions_code_key";
/// A promotion used more often than its limit.
pub const PROMOTIONS_USES_WITHIN_LIMIT: &str = "promotions_uses_within_limit";
/// A second job of one kind and key.
pub const JOBS_KIND_KEY_KEY: &str = "jobs_kind_key_key";
/// A payment changed since it was read (optimistic check in `update_payment`).
pub const PAYMENTS_VERSION: &str = "payments_version";
/// More captured (or being captured) and voided than was authorized.
pub const PAYMENTS_CAPTURE_WITHIN_AUTHORIZED: &str = "payments_capture_within_authorized";
/// More refunded (or being refunded) than was captured.
pub const PAYMENTS_REFUND_WITHIN_CAPTURED: &str = "payments_refund_within_captured";
/// A negative amount on a payment.
pub const PAYMENTS_AMOUNTS_NOT_NEGATIVE: &str = "payments_amounts_not_negative";
/// A second payment for one order.
pub const PAYMENT_ALLOCATIONS_ORDER_KEY: &str = "payment_allocations_order_key";
/// A reference to a row that does not exist (unknown vendor, user, location).
pub const FOREIGN_KEY: &str = "foreign_key";

/// Every name above, for the backends' mapping tables.
pub const ALL: &[&str] = &[
    USERS_EMAIL_KEY,
    VARIANTS_SKU_KEY,
    VENDORS_NAME_KEY,
    LOCATIONS_VENDOR_CODE_KEY,
    STOCK_RESERVED_WITHIN_ON_HAND,
    IDEMPOTENCY_KEYS_PKEY,
    ORDER_EVENTS_PKEY,
    ORDERS_VERSION,
    CARTS_OPEN_CUSTOMER_KEY,
    CARTS_VERSION,
    PROMOTIONS_CODE_KEY,
    PROMOTIONS_USES_WITHIN_LIMIT,
    JOBS_KIND_KEY_KEY,
    PAYMENTS_VERSION,
    PAYMENTS_CAPTURE_WITHIN_AUTHORIZED,
    PAYMENTS_REFUND_WITHIN_CAPTURED,
    PAYMENTS_AMOUNTS_NOT_NEGATIVE,
    PAYMENT_ALLOCATIONS_ORDER_KEY,
    FOREIGN_KEY,
];
