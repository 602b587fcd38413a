//! The SQL of the store shared by both backends: every read, the row mappings, and the text of
//! every write statement. Each aggregate has its file beside this one (`orders.rs`,
//! `payments.rs`, …) with its row mappings and its reads; the write statements' texts are the
//! [`sql`] and [`locked`] modules below, and each backend runs them in its own file per
//! aggregate (`ordo-store-sqlite/src/orders.rs`, `ordo-store-postgres/src/orders.rs`, …).
//!
//! This folder is not a module of `ordo-store`: `ordo-store-sqlite` and `ordo-store-postgres`
//! each compile it with `#[path]`, against their own concrete driver (`crate::Db`), dialect strings
//! (`crate::dialect`), error mapping (`crate::map_err`) and write path (`crate::Writer`,
//! `crate::transact`). The SQL that is the same on both databases — nearly all of it — is
//! therefore written once and checked by the compiler twice, without the generic trait bounds
//! sqlx would otherwise demand. Reads go through sqlx on both. Writes differ in how they run:
//! PostgreSQL runs each unit of work on a pooled sqlx connection, SQLite on one writer thread
//! through its C API (rusqlite), where a statement costs microseconds instead of a round trip
//! to sqlx's worker thread — see `docs/benchmarks.md` for the measurements behind that split.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::money::Currency;
use ordo_store::{Outcome, Store, StoreError, StoreResult, TxWork};
use sqlx::types::Json;
use sqlx::{Pool, Row};
use uuid::Uuid;

use self::catalog::STOCK_OF_SKU;
use self::jobs::JOB_COLUMNS;
use self::payments::{
    MONEY_ORDER, MONEY_ROWS, PAYMENT_COLUMNS, PAYMENT_ENTRY_COLUMNS, PAYOUT_COLUMNS,
};
use crate::{Db, DbRow, dialect, map_err};

pub(crate) mod carts;
pub(crate) mod catalog;
pub(crate) mod exceptions;
pub(crate) mod idempotency;
pub(crate) mod identity;
pub(crate) mod jobs;
pub(crate) mod notifications;
pub(crate) mod orders;
pub(crate) mod outbox;
pub(crate) mod payments;
pub(crate) mod pricing;
pub(crate) mod webhooks;

/// A store over a writer and a reader pool. PostgreSQL's writer is the same pool as its reader;
/// SQLite's is its group-commit writer thread (see `ordo-store-sqlite/src/writer.rs`).
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) writer: crate::Writer,
    pub(crate) reader: Pool<Db>,
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!("corrupt {what} in database: {e}"))
}

fn currency(code: &str) -> StoreResult<Currency> {
    Currency::parse(code).map_err(|e| corrupt("currency", e))
}

/// Typed columns of a result row, whichever driver read it: the row mappings below serve sqlx's
/// rows (reads, PostgreSQL writes) and SQLite's writer thread (rusqlite rows) alike.
pub(crate) trait Cols {
    fn uuid(&self, col: &str) -> StoreResult<Uuid>;
    fn opt_uuid(&self, col: &str) -> StoreResult<Option<Uuid>>;
    fn text(&self, col: &str) -> StoreResult<String>;
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>>;
    /// A `bigint` column.
    fn int(&self, col: &str) -> StoreResult<i64>;
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>>;
    /// An `integer` (32-bit on PostgreSQL) column.
    fn int32(&self, col: &str) -> StoreResult<i32>;
    /// A `boolean` column (SQLite: 0 or 1).
    fn flag(&self, col: &str) -> StoreResult<bool>;
    fn bytes(&self, col: &str) -> StoreResult<Vec<u8>>;
    fn time(&self, col: &str) -> StoreResult<DateTime<Utc>>;
    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>>;
    fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> StoreResult<T>;
}

impl Cols for DbRow {
    fn uuid(&self, col: &str) -> StoreResult<Uuid> {
        self.try_get(col).map_err(map_err)
    }
    fn opt_uuid(&self, col: &str) -> StoreResult<Option<Uuid>> {
        self.try_get(col).map_err(map_err)
    }
    fn text(&self, col: &str) -> StoreResult<String> {
        self.try_get(col).map_err(map_err)
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.try_get(col).map_err(map_err)
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.try_get(col).map_err(map_err)
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.try_get(col).map_err(map_err)
    }
    fn int32(&self, col: &str) -> StoreResult<i32> {
        self.try_get(col).map_err(map_err)
    }
    fn flag(&self, col: &str) -> StoreResult<bool> {
        self.try_get(col).map_err(map_err)
    }
    fn bytes(&self, col: &str) -> StoreResult<Vec<u8>> {
        self.try_get(col).map_err(map_err)
    }
    fn time(&self, col: &str) -> StoreResult<DateTime<Utc>> {
        self.try_get(col).map_err(map_err)
    }
    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.try_get(col).map_err(map_err)
    }
    fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> StoreResult<T> {
        let Json(value): Json<T> = self.try_get(col).map_err(map_err)?;
        Ok(value)
    }
}

/// The SQL of the write path, written once for both backends. Placeholders are numbered in the
/// order they appear, so SQLite's positional binding (rusqlite) and sqlx's agree.
pub(crate) mod sql {
    pub const INSERT_USER: &str = "INSERT INTO users (id, email, password_hash, role, vendor_id, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6)";
    pub const INSERT_GUEST_ACCOUNT: &str =
        "INSERT INTO guest_accounts (user_id, created_at) VALUES ($1, $2)";
    pub const CLAIM_GUEST_ACCOUNT: &str =
        "UPDATE guest_accounts SET claimed_at = $1 WHERE user_id = $2 AND claimed_at IS NULL";
    pub const SET_PASSWORD: &str = "UPDATE users SET password_hash = $1 WHERE id = $2";
    pub const INSERT_ORDER_NOTE: &str = "INSERT INTO order_notes (id, order_id, author, body, created_at) \
        VALUES ($1, $2, $3, $4, $5)";
    pub const INSERT_CHECKOUT_LINK: &str =
        "INSERT INTO checkout_links (token, checkout_id, created_at) VALUES ($1, $2, $3)";
    pub const INSERT_SESSION: &str = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, fresh_until) \
        VALUES ($1, $2, $3, $4, $5)";
    pub const SESSION_FRESH: &str =
        "UPDATE sessions SET fresh_until = $1, step_up_failures = 0 WHERE token_hash = $2";
    pub const USER_STEP_UP_RESET: &str =
        "UPDATE users SET step_up_failures = 0, step_up_locked_until = NULL WHERE id = $1";
    /// Records a TOTP step only if it is later than the last accepted: a code is good once.
    pub const USER_TOTP_STEP: &str = "UPDATE users SET totp_last_step = $1 WHERE id = $2 \
        AND (totp_last_step IS NULL OR totp_last_step < $1)";
    pub const SESSION_STEP_UP_FAILED: &str =
        "UPDATE sessions SET step_up_failures = step_up_failures + 1 WHERE token_hash = $1";
    pub const USER_STEP_UP_FAILED: &str =
        "UPDATE users SET step_up_failures = step_up_failures + 1 WHERE id = $1";
    pub const USER_STEP_UP_LOCKED: &str =
        "UPDATE users SET step_up_failures = 0, step_up_locked_until = $1 WHERE id = $2";
    pub const SET_TOTP: &str = "UPDATE users SET totp_secret = $1, totp_confirmed_at = $2, \
        totp_last_step = NULL WHERE id = $3";
    pub const DELETE_RECOVERY_CODES: &str = "DELETE FROM totp_recovery_codes WHERE user_id = $1";
    pub const INSERT_RECOVERY_CODE: &str =
        "INSERT INTO totp_recovery_codes (user_id, code_hash) VALUES ($1, $2)";
    pub const USE_RECOVERY_CODE: &str = "UPDATE totp_recovery_codes SET used_at = $1 \
        WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL";
    pub const UPDATE_USER: &str =
        "UPDATE users SET role = $1, vendor_id = $2, disabled_at = $3 WHERE id = $4";
    pub const REVOKE_SESSION: &str =
        "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL";
    pub const INSERT_VENDOR: &str =
        "INSERT INTO vendors (id, name, created_at) VALUES ($1, $2, $3)";
    pub const INSERT_LOCATION: &str = "INSERT INTO locations (id, vendor_id, code, name, priority, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6)";
    pub const LOCATION_BY_CODE: &str = "SELECT id, vendor_id, code, name, priority FROM locations WHERE vendor_id = $1 AND code = $2";
    pub const INSERT_PRODUCT: &str = "INSERT INTO products (id, vendor_id, title, tax_class, stock_deduction, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6)";
    pub const INSERT_VARIANT: &str = "INSERT INTO variants (id, product_id, sku, title, position, weight_grams, \
        low_stock_threshold, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    pub const INSERT_PRICE: &str =
        "INSERT INTO variant_prices (variant_id, currency, amount_minor) VALUES ($1, $2, $3)";
    pub const SKU_VENDOR: &str = "SELECT p.vendor_id FROM variants v JOIN products p ON p.id = v.product_id WHERE v.sku = $1";
    /// Followed by one placeholder per SKU and `)`.
    pub const VARIANTS_FOR_SALE: &str = "SELECT v.id, v.product_id, p.vendor_id, v.sku, \
        p.title AS product_title, v.title AS variant_title, p.tax_class, p.stock_deduction, \
        v.weight_grams, v.low_stock_threshold, ve.commission_bp, vp.currency, vp.amount_minor \
        FROM variants v JOIN products p ON p.id = v.product_id \
        JOIN vendors ve ON ve.id = p.vendor_id \
        LEFT JOIN variant_prices vp ON vp.variant_id = v.id WHERE v.sku IN (";
    /// `WHERE` before `ON CONFLICT` also keeps SQLite's parser from reading the upsert as a join.
    pub const SET_PRICE: &str = "INSERT INTO variant_prices (variant_id, currency, amount_minor) \
        SELECT id, $1, $2 FROM variants WHERE sku = $3 \
        ON CONFLICT (variant_id, currency) DO UPDATE SET amount_minor = excluded.amount_minor";
    pub const DELETE_PRICE: &str = "DELETE FROM variant_prices WHERE currency = $1 \
        AND variant_id = (SELECT id FROM variants WHERE sku = $2)";
    pub const SET_THRESHOLD: &str = "UPDATE variants SET low_stock_threshold = $1 WHERE sku = $2";
    pub const INSERT_ADJUSTMENT: &str = "INSERT INTO stock_adjustments (id, sku, location_id, delta, reason, note, \
        actor_id, actor_role, on_hand_after, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    pub const CHANGE_STOCK: &str = "UPDATE stock SET on_hand = on_hand + $1, reserved = reserved + $2 \
        WHERE sku = $3 AND location_id = $4";
    pub const SET_ON_HAND: &str = "INSERT INTO stock (sku, location_id, on_hand, reserved, updated_at) \
        VALUES ($1, $2, $3, 0, $4) ON CONFLICT (sku, location_id) \
        DO UPDATE SET on_hand = excluded.on_hand, updated_at = excluded.updated_at";
    pub const INSERT_ORDER: &str = "INSERT INTO orders (id, customer_id, vendor_id, status, currency, \
        subtotal_minor, total_minor, shipping_address, carrier_id, cancel_reason, created_at, updated_at, version, \
        pricing, checkout_id, reserved_until) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
    pub const INSERT_LINE: &str = "INSERT INTO order_lines (order_id, line_no, sku, product_id, variant_id, \
        title, quantity, unit_price_minor, line_total_minor, allocations, pricing) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    pub const SET_LINE_ALLOCATIONS: &str =
        "UPDATE order_lines SET allocations = $1 WHERE order_id = $2 AND line_no = $3";
    pub const UPDATE_ORDER: &str = "UPDATE orders SET status = $1, carrier_id = $2, cancel_reason = $3, \
        updated_at = $4, version = $5, reserved_until = $6 WHERE id = $7 AND version = $8";
    pub const APPEND_EVENT: &str = "INSERT INTO order_events (order_id, seq, type, actor_id, actor_role, \
        actor_vendor_id, at, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    pub const ENQUEUE: &str = "INSERT INTO outbox (topic, key, payload, created_at, customer_id, \
        vendor_id, carrier_id) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    /// The sequencer's step (its cursor row locked first, see [`super::locked::SEQUENCER`]):
    /// the next positions after `$1`, in id order, to committed messages without one.
    pub const SEQUENCE_OUTBOX: &str = "UPDATE outbox SET position = $1 + n.rn, published_at = $2 \
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM outbox \
        WHERE position IS NULL ORDER BY id LIMIT $3) AS n WHERE outbox.id = n.id";
    pub const ENSURE_CURSOR: &str = "INSERT INTO relay_cursors (consumer, position, updated_at) \
        SELECT $1, position, $2 FROM relay_cursors WHERE consumer = 'sequencer' \
        ON CONFLICT (consumer) DO NOTHING";
    pub const READ_CURSOR: &str = "SELECT position FROM relay_cursors WHERE consumer = $1";
    pub const ADVANCE_CURSOR: &str = "UPDATE relay_cursors SET position = $1, updated_at = $2 \
        WHERE consumer = $3 AND position < $1";
    pub const ADVANCE_SEQUENCER: &str =
        "UPDATE relay_cursors SET position = $1, updated_at = $2 WHERE consumer = 'sequencer'";
    /// Messages every consumer has passed, oldest position first, up to the first one still
    /// young enough to keep — so what is kept is always every position after some point, and
    /// a feed cursor before it can be told it expired.
    pub const PURGE_OUTBOX: &str = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
        WHERE position IS NOT NULL AND position <= COALESCE((SELECT MIN(position) \
        FROM relay_cursors WHERE updated_at >= $1), 9223372036854775807) \
        AND position < COALESCE((SELECT position FROM outbox WHERE position IS NOT NULL \
        AND created_at >= $1 ORDER BY position LIMIT 1), 9223372036854775807) \
        ORDER BY position LIMIT $2)";
    pub const IDEMPOTENCY_GET: &str =
        "SELECT request_hash, response FROM idempotency_keys WHERE scope = $1 AND key = $2";
    pub const IDEMPOTENCY_CLAIM: &str = "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) \
        VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING";
    pub const IDEMPOTENCY_REMEMBER: &str =
        "UPDATE idempotency_keys SET response = $1 WHERE scope = $2 AND key = $3";
    pub const SET_CART_TOKEN: &str =
        "UPDATE carts SET token_hash = $1 WHERE id = $2 AND customer_id IS NULL";
    pub const WAKE_JOB: &str = "INSERT INTO jobs (id, kind, key, payload, state, run_at, attempts, \
        created_at, updated_at) VALUES ($1, $2, $3, $4, 'queued', $5, 0, $6, $6) \
        ON CONFLICT (kind, key) DO UPDATE SET run_at = CASE WHEN jobs.state = 'queued' \
        AND jobs.run_at < $5 THEN jobs.run_at ELSE $5 END, attempts = CASE WHEN \
        jobs.state = 'done' THEN 0 ELSE jobs.attempts END, state = 'queued', \
        updated_at = $6 WHERE jobs.state IN ('done', 'queued')";
    pub const PUT_WEBHOOK_ENDPOINT: &str = "INSERT INTO webhook_endpoints (id, vendor_id, url, \
        events, description, secret, previous_secret, previous_until, disabled_at, \
        disabled_reason, failing_since, created_by, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
        ON CONFLICT (id) DO UPDATE SET url = excluded.url, events = excluded.events, \
        description = excluded.description, secret = excluded.secret, \
        previous_secret = excluded.previous_secret, previous_until = excluded.previous_until, \
        disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason, \
        failing_since = excluded.failing_since, updated_at = excluded.updated_at";
    pub const DELETE_WEBHOOK_DELIVERIES: &str =
        "DELETE FROM webhook_deliveries WHERE endpoint_id = $1";
    pub const DELETE_WEBHOOK_ENDPOINT: &str = "DELETE FROM webhook_endpoints WHERE id = $1";
    pub const SET_WEBHOOK_HEALTH: &str = "UPDATE webhook_endpoints SET failing_since = $1, \
        disabled_at = COALESCE($2, disabled_at), disabled_reason = COALESCE($3, disabled_reason) \
        WHERE id = $4";
    pub const PUT_WEBHOOK_DELIVERY: &str = "INSERT INTO webhook_deliveries (id, endpoint_id, \
        message_id, event_type, key, position, body, state, attempts, next_at, last_status, \
        last_error, last_latency_ms, created_at, delivered_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
        ON CONFLICT (id) DO UPDATE SET state = excluded.state, attempts = excluded.attempts, \
        next_at = excluded.next_at, last_status = excluded.last_status, \
        last_error = excluded.last_error, last_latency_ms = excluded.last_latency_ms, \
        delivered_at = excluded.delivered_at";
    pub const PUT_NOTIFICATION_PREFERENCES: &str = "INSERT INTO notification_preferences \
        (user_id, locale, email, sms, push, phone, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
        ON CONFLICT (user_id) DO UPDATE SET locale = excluded.locale, email = excluded.email, \
        sms = excluded.sms, push = excluded.push, phone = excluded.phone, \
        updated_at = excluded.updated_at";
    pub const PUT_NOTIFICATION: &str = "INSERT INTO notifications (id, event_type, position, \
        order_id, data, recipient_id, to_staff, channel, address, locale, subject, state, \
        attempts, last_error, created_at, sent_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
        ON CONFLICT (id) DO UPDATE SET subject = excluded.subject, state = excluded.state, \
        attempts = excluded.attempts, last_error = excluded.last_error, sent_at = excluded.sent_at";
    pub const HURRY_JOB: &str = "UPDATE jobs SET run_at = $1 \
        WHERE kind = $2 AND key = $2 AND state = 'queued' AND run_at > $1";
    pub const INSERT_PAYMENT: &str = "INSERT INTO payments (id, checkout_id, customer_id, \
        provider, provider_ref, currency, amount, capture_policy, state, authorized, captured, \
        voided, refunded, capturing, voiding, refunding, decline_code, capture_before, \
        client_secret, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
        $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)";
    pub const INSERT_PAYMENT_ALLOCATION: &str = "INSERT INTO payment_allocations \
        (payment_id, order_id, vendor_id, amount, commission_bp) VALUES ($1, $2, $3, $4, $5)";
    pub const PUT_PAYOUT: &str = "INSERT INTO vendor_payouts (id, vendor_id, currency, amount, \
        state, requested_by, requested_at, paid_by, paid_at, reference) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO UPDATE SET \
        state = excluded.state, paid_by = excluded.paid_by, paid_at = excluded.paid_at, \
        reference = excluded.reference";
    pub const VENDOR_COMMISSION: &str = "SELECT commission_bp FROM vendors WHERE id = $1";
    pub const SET_COMMISSION: &str = "UPDATE vendors SET commission_bp = $1 WHERE id = $2";
    /// Placeholders in number order (SQLite numbers `$N` by first appearance).
    pub const UPDATE_PAYMENT: &str = "UPDATE payments SET provider_ref = $1, state = $2, \
        authorized = $3, captured = $4, voided = $5, refunded = $6, capturing = $7, \
        voiding = $8, refunding = $9, decline_code = $10, capture_before = $11, \
        client_secret = $12, updated_at = $13, version = $14 WHERE id = $15 AND version = $16";
    pub const APPEND_PAYMENT_ENTRY: &str = "INSERT INTO payment_ledger (id, payment_id, \
        order_id, kind, amount, request_id, provider_ref, actor, reason, reference, detail, \
        created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
        ON CONFLICT DO NOTHING";
    pub const RAISE_EXCEPTION: &str = "INSERT INTO exceptions (id, kind, key, status, order_id, \
        body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
        ON CONFLICT (key) DO NOTHING";
    pub const UPDATE_EXCEPTION: &str =
        "UPDATE exceptions SET status = $1, body = $2, updated_at = $3 WHERE id = $4";
    pub const TAKE_PAYMENT_EVENT: &str = "INSERT INTO payment_events_inbox (provider, event_id, \
        received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
    pub const RETRY_JOB: &str = "UPDATE jobs SET state = 'queued', run_at = $1, attempts = 0, \
        last_error = NULL, updated_at = $1 WHERE id = $2 AND state = 'dead'";
    pub const ENQUEUE_JOB: &str = "INSERT INTO jobs (id, kind, key, payload, state, run_at, attempts, \
        created_at, updated_at) VALUES ($1, $2, $3, $4, 'queued', $5, 0, $6, $6) \
        ON CONFLICT (kind, key) DO NOTHING";
    /// Due jobs, oldest first: queued ones whose time has come and running ones whose lease
    /// ended (their worker died). (Placeholders appear in number order: SQLite numbers `$N`
    /// by first appearance, so `$2` before `$1` would swap them there.) `SKIP_LOCKED` lets several nodes claim at once without
    /// waiting on each other or taking the same row.
    pub static CLAIM_JOBS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = $1, locked_until = $2 \
             WHERE id IN (SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $1) \
             OR (state = 'running' AND locked_until <= $1) ORDER BY run_at LIMIT $3{}) \
             RETURNING {}",
            crate::dialect::SKIP_LOCKED,
            super::JOB_COLUMNS
        )
    });
    pub const FINISH_JOB: &str = "UPDATE jobs SET state = $1, run_at = COALESCE($2, run_at), last_error = $3, \
        attempts = CASE WHEN $4 THEN 0 ELSE attempts END, locked_until = NULL, updated_at = $5 WHERE id = $6";
    pub const PURGE_IDEMPOTENCY_KEYS: &str = "DELETE FROM idempotency_keys WHERE (scope, key) IN \
        (SELECT scope, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)";
    pub const PURGE_SESSIONS: &str = "DELETE FROM sessions WHERE token_hash IN \
        (SELECT token_hash FROM sessions WHERE expires_at < $1 OR revoked_at < $1 LIMIT $2)";
    pub const PURGE_JOBS: &str = "DELETE FROM jobs WHERE id IN \
        (SELECT id FROM jobs WHERE state = 'done' AND updated_at < $1 LIMIT $2)";
    pub const PURGE_DEAD_JOBS: &str = "DELETE FROM jobs WHERE id IN \
        (SELECT id FROM jobs WHERE state = 'dead' AND updated_at < $1 LIMIT $2)";
    pub const INSERT_CART: &str = "INSERT INTO carts (id, token_hash, customer_id, status, currency, promo_code, \
        shipping_address, lines, checkout_id, created_at, updated_at, version) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    pub const UPDATE_CART: &str = "UPDATE carts SET customer_id = $1, status = $2, currency = $3, promo_code = $4, \
        shipping_address = $5, lines = $6, checkout_id = $7, updated_at = $8, version = $9, \
        token_hash = CASE WHEN $1 IS NULL THEN token_hash ELSE NULL END \
        WHERE id = $10 AND version = $11";
    pub const PUT_RULE: &str = "INSERT INTO pricing_rules (id, kind, key, data, updated_at) VALUES ($1, $2, $3, $4, $5) \
        ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at RETURNING id";
    pub const DELETE_RULE: &str = "DELETE FROM pricing_rules WHERE kind = $1 AND id = $2";
    pub const INSERT_PROMOTION: &str = "INSERT INTO promotions (id, code, data, usage_limit, uses, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, 0, $5, $5)";
    pub const UPDATE_PROMOTION: &str = "UPDATE promotions SET code = $1, data = $2, usage_limit = $3, updated_at = $4 WHERE id = $5";
    /// The guard in the WHERE clause refuses the use past the limit; the CHECK backs it up.
    pub const USE_PROMOTION: &str = "UPDATE promotions SET uses = uses + 1 \
        WHERE id = $1 AND (usage_limit IS NULL OR uses < usage_limit)";
}

pub(crate) const LINE_COLUMNS: &str = "order_id, line_no, sku, product_id, variant_id, title, quantity, \
    unit_price_minor, line_total_minor, allocations, pricing";

pub(crate) const CART_COLUMNS: &str = "id, customer_id, status, currency, promo_code, shipping_address, lines, \
    checkout_id, created_at, updated_at, version";

pub(crate) const ORDER_COLUMNS: &str = "id, customer_id, vendor_id, status, currency, subtotal_minor, total_minor, \
    shipping_address, carrier_id, cancel_reason, created_at, updated_at, version, pricing, checkout_id, reserved_until";

/// Statements of the write path built from the column lists once, with each backend's row lock
/// (`dialect::FOR_UPDATE`: `FOR UPDATE` on PostgreSQL; nothing on SQLite, whose one writer
/// thread already excludes every other writer).
pub(crate) mod locked {
    use std::sync::LazyLock;

    use super::{
        CART_COLUMNS, ORDER_COLUMNS, PAYMENT_COLUMNS, PAYMENT_ENTRY_COLUMNS, STOCK_OF_SKU,
    };
    use crate::dialect::{FOR_UPDATE, FOR_UPDATE_OF_STOCK};

    pub static ORDER: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1{FOR_UPDATE}"));
    pub static PAYMENT: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1{FOR_UPDATE}")
    });
    pub static ORDER_PAYMENT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = \
             (SELECT payment_id FROM payment_allocations WHERE order_id = $1){FOR_UPDATE}"
        )
    });
    /// A vendor's row, locked: its money is changed by one payout at a time.
    pub static VENDOR: LazyLock<String> =
        LazyLock::new(|| format!("SELECT id FROM vendors WHERE id = $1{FOR_UPDATE}"));
    /// Read under the vendor's lock.
    pub static VENDOR_MONEY: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{} AND a.vendor_id = $1{}",
            super::MONEY_ROWS,
            super::MONEY_ORDER
        )
    });
    pub static VENDOR_PAYOUTS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {} FROM vendor_payouts WHERE vendor_id = $1 ORDER BY requested_at, id",
            super::PAYOUT_COLUMNS
        )
    });
    /// Not locked itself: read under its payment's lock.
    pub static PAYMENT_LEDGER: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {PAYMENT_ENTRY_COLUMNS} FROM payment_ledger WHERE payment_id = $1 \
             ORDER BY created_at, id"
        )
    });
    /// Not locked itself (shares never change): read under its payment's lock.
    pub const PAYMENT_SHARES: &str =
        "SELECT order_id, amount FROM payment_allocations WHERE payment_id = $1 ORDER BY order_id";
    pub const SET_SHARE_STATUS: &str =
        "UPDATE payment_allocations SET status = $1 WHERE payment_id = $2 AND order_id = $3";
    /// The sequencer's cursor: locked, so one sequencer runs at a time across nodes.
    pub static SEQUENCER: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT position FROM relay_cursors WHERE consumer = 'sequencer'{FOR_UPDATE}")
    });
    pub static STOCK: LazyLock<String> =
        LazyLock::new(|| format!("{STOCK_OF_SKU}{FOR_UPDATE_OF_STOCK}"));
    pub static CART: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {CART_COLUMNS} FROM carts WHERE id = $1{FOR_UPDATE}"));
    pub static OPEN_CART: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {CART_COLUMNS} FROM carts WHERE customer_id = $1 AND status = 'open'{FOR_UPDATE}"
        )
    });
}

/// Groups child rows by their parent's id (column `key`), keeping their order, so a page of
/// parents is assembled in one pass instead of scanning every child row for every parent.
fn group_by<'r>(rows: &'r [DbRow], key: &str) -> StoreResult<HashMap<Uuid, Vec<&'r DbRow>>> {
    let mut groups: HashMap<Uuid, Vec<&DbRow>> = HashMap::new();
    for row in rows {
        groups.entry(row.uuid(key)?).or_default().push(row);
    }
    Ok(groups)
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        dialect::NAME
    }

    async fn transact(&self, work: TxWork) -> StoreResult<Outcome> {
        crate::transact(&self.writer, work).await
    }

    async fn ready(&self) -> StoreResult<()> {
        crate::writable(&self.writer).await?;
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn failed(&self) -> String {
        crate::failed(&self.writer).await
    }
}
