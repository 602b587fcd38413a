-- Checkout in depth: carts, pricing rules, promotions with usage limits, stock deduction per
-- product, low-stock thresholds, stock adjustments, reservations with a time limit.
-- Twin of ordo-store-postgres/migrations/0002_checkout.sql; ids are BLOBs, times TEXT, JSON TEXT.

ALTER TABLE products ADD COLUMN tax_class TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE products ADD COLUMN stock_deduction TEXT NOT NULL DEFAULT 'at_order'
    CONSTRAINT products_stock_deduction_check CHECK (stock_deduction IN ('at_order', 'at_payment'));
ALTER TABLE variants ADD COLUMN weight_grams INTEGER NOT NULL DEFAULT 0;
-- Available stock at or below this is "low": crossing it emits stock.low.
ALTER TABLE variants ADD COLUMN low_stock_threshold INTEGER;

ALTER TABLE orders ADD COLUMN checkout_id BLOB;
-- Discounts, shipping and tax lines, their totals: the frozen pricing snapshot.
ALTER TABLE orders ADD COLUMN pricing TEXT NOT NULL DEFAULT '{}';
ALTER TABLE orders ADD COLUMN reserved_until TEXT;
CREATE INDEX orders_checkout_idx ON orders (checkout_id) WHERE checkout_id IS NOT NULL;
-- The expiry sweep reads only unpaid orders, oldest deadline first.
CREATE INDEX orders_reservation_idx ON orders (reserved_until) WHERE status = 'pending_payment';
ALTER TABLE order_lines ADD COLUMN pricing TEXT NOT NULL DEFAULT '{}';

-- An Idempotency-Key now names an order or a checkout.
ALTER TABLE idempotency_keys RENAME COLUMN order_id TO resource_id;

CREATE TABLE carts (
    id                BLOB PRIMARY KEY NOT NULL,
    -- SHA-256 of a guest cart's secret token; NULL once the cart belongs to a customer.
    token_hash        BLOB CONSTRAINT carts_token_key UNIQUE,
    customer_id       BLOB REFERENCES users (id),
    status            TEXT NOT NULL CONSTRAINT carts_status_check
                      CHECK (status IN ('open', 'merged', 'checked_out')),
    currency          TEXT NOT NULL,
    promo_code        TEXT,
    shipping_address  TEXT,
    lines             TEXT NOT NULL,
    checkout_id       BLOB,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    version           INTEGER NOT NULL
);
-- One open cart per customer, whatever the concurrency.
CREATE UNIQUE INDEX carts_open_customer_key ON carts (customer_id) WHERE status = 'open';

-- FX rates, tax rules and shipping rates: admin-maintained, read as one pricing book.
CREATE TABLE pricing_rules (
    id          BLOB PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL CONSTRAINT pricing_rules_kind_check CHECK (kind IN ('fx', 'tax', 'shipping')),
    key         TEXT NOT NULL,
    data        TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT pricing_rules_kind_key_key UNIQUE (kind, key)
);

CREATE TABLE promotions (
    id           BLOB PRIMARY KEY NOT NULL,
    code         TEXT CONSTRAINT promotions_code_key UNIQUE,
    data         TEXT NOT NULL,
    usage_limit  INTEGER,
    uses         INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    -- The last line against a limited code being used once too often.
    CONSTRAINT promotions_uses_within_limit CHECK (uses >= 0 AND (usage_limit IS NULL OR uses <= usage_limit))
);

-- Append-only: who changed stock by hand, by how much and why.
CREATE TABLE stock_adjustments (
    id             BLOB PRIMARY KEY NOT NULL,
    sku            TEXT NOT NULL REFERENCES variants (sku),
    location_id    BLOB NOT NULL REFERENCES locations (id),
    delta          INTEGER NOT NULL,
    reason         TEXT NOT NULL CONSTRAINT stock_adjustments_reason_check
                   CHECK (reason IN ('receipt', 'correction', 'damage')),
    note           TEXT,
    actor_id       BLOB,
    actor_role     TEXT NOT NULL,
    on_hand_after  INTEGER NOT NULL,
    at             TEXT NOT NULL
);
CREATE INDEX stock_adjustments_sku_idx ON stock_adjustments (sku, id);
