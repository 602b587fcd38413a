-- SQLite twin of ordo-store-postgres/migrations/0001_order_core.sql: same tables, same
-- constraint names; ids are 16-byte BLOBs (UUIDv7, so byte order is time order), times RFC 3339 TEXT.
-- The order core: identity, catalog, stock, orders with their event log, the outbox.
-- Constraint names match ordo-store's `constraints` module and the SQLite schema.

CREATE TABLE vendors (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL CONSTRAINT vendors_name_key UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    id             BLOB PRIMARY KEY NOT NULL,
    email          TEXT NOT NULL CONSTRAINT users_email_key UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CONSTRAINT users_role_check
                   CHECK (role IN ('customer', 'vendor', 'support', 'admin', 'carrier')),
    vendor_id      BLOB REFERENCES vendors (id),
    created_at     TEXT NOT NULL,
    CONSTRAINT users_vendor_role_check CHECK ((role = 'vendor') = (vendor_id IS NOT NULL))
);

CREATE TABLE sessions (
    token_hash  BLOB PRIMARY KEY NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users (id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE locations (
    id          BLOB PRIMARY KEY NOT NULL,
    vendor_id   BLOB NOT NULL REFERENCES vendors (id),
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    priority    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    CONSTRAINT locations_vendor_code_key UNIQUE (vendor_id, code)
);

CREATE TABLE products (
    id          BLOB PRIMARY KEY NOT NULL,
    vendor_id   BLOB NOT NULL REFERENCES vendors (id),
    title       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX products_vendor_idx ON products (vendor_id, id);

CREATE TABLE variants (
    id          BLOB PRIMARY KEY NOT NULL,
    product_id  BLOB NOT NULL REFERENCES products (id),
    sku         TEXT NOT NULL CONSTRAINT variants_sku_key UNIQUE,
    title       TEXT,
    position    INTEGER NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX variants_product_idx ON variants (product_id);

CREATE TABLE variant_prices (
    variant_id    BLOB NOT NULL REFERENCES variants (id),
    currency      TEXT NOT NULL,
    amount_minor  INTEGER NOT NULL CONSTRAINT variant_prices_amount_check CHECK (amount_minor >= 0),
    PRIMARY KEY (variant_id, currency)
);

-- available = on_hand - reserved. The CHECK is the last line against overselling.
CREATE TABLE stock (
    sku          TEXT NOT NULL REFERENCES variants (sku),
    location_id  BLOB NOT NULL REFERENCES locations (id),
    on_hand      INTEGER NOT NULL,
    reserved     INTEGER NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (sku, location_id),
    CONSTRAINT stock_reserved_within_on_hand CHECK (reserved >= 0 AND reserved <= on_hand)
);

CREATE TABLE orders (
    id                BLOB PRIMARY KEY NOT NULL,
    customer_id       BLOB NOT NULL REFERENCES users (id),
    vendor_id         BLOB NOT NULL REFERENCES vendors (id),
    status            TEXT NOT NULL,
    currency          TEXT NOT NULL,
    subtotal_minor    INTEGER NOT NULL,
    total_minor       INTEGER NOT NULL,
    shipping_address  TEXT NOT NULL,
    carrier_id        BLOB REFERENCES users (id),
    cancel_reason     TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    version           INTEGER NOT NULL
);
-- Ids are UUIDv7, so (owner, id DESC) serves "newest first" pages for every role.
CREATE INDEX orders_customer_idx ON orders (customer_id, id);
CREATE INDEX orders_vendor_idx ON orders (vendor_id, id);
CREATE INDEX orders_carrier_idx ON orders (carrier_id, id) WHERE carrier_id IS NOT NULL;
CREATE INDEX orders_status_idx ON orders (status, id);

CREATE TABLE order_lines (
    order_id          BLOB NOT NULL REFERENCES orders (id),
    line_no           INTEGER NOT NULL,
    sku               TEXT NOT NULL,
    product_id        BLOB NOT NULL,
    variant_id        BLOB NOT NULL,
    title             TEXT NOT NULL,
    quantity          INTEGER NOT NULL,
    unit_price_minor  INTEGER NOT NULL,
    line_total_minor  INTEGER NOT NULL,
    allocations       TEXT NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

-- Append-only: the audit trail of every order. Rows are never updated or deleted.
CREATE TABLE order_events (
    order_id         BLOB NOT NULL REFERENCES orders (id),
    seq              INTEGER NOT NULL,
    type             TEXT NOT NULL,
    actor_id         BLOB,
    actor_role       TEXT NOT NULL,
    actor_vendor_id  BLOB,
    at               TEXT NOT NULL,
    data             TEXT NOT NULL,
    CONSTRAINT order_events_pkey PRIMARY KEY (order_id, seq)
);

-- Written in the same transaction as each change; drained by background relays.
CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    topic         TEXT NOT NULL,
    key           TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    published_at  TEXT
);
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE idempotency_keys (
    user_id       BLOB NOT NULL REFERENCES users (id),
    key           TEXT NOT NULL,
    request_hash  BLOB NOT NULL,
    order_id      BLOB NOT NULL,
    created_at    TEXT NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key)
);
