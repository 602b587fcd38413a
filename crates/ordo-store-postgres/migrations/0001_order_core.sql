-- The order core: identity, catalog, stock, orders with their event log, the outbox.
-- Constraint names match ordo-store's `constraints` module and the SQLite schema.

CREATE TABLE vendors (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CONSTRAINT vendors_name_key UNIQUE,
    created_at  timestamptz NOT NULL
);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    email          text NOT NULL CONSTRAINT users_email_key UNIQUE,
    password_hash  text NOT NULL,
    role           text NOT NULL CONSTRAINT users_role_check
                   CHECK (role IN ('customer', 'vendor', 'support', 'admin', 'carrier')),
    vendor_id      uuid REFERENCES vendors (id),
    created_at     timestamptz NOT NULL,
    CONSTRAINT users_vendor_role_check CHECK ((role = 'vendor') = (vendor_id IS NOT NULL))
);

CREATE TABLE sessions (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE locations (
    id          uuid PRIMARY KEY,
    vendor_id   uuid NOT NULL REFERENCES vendors (id),
    code        text NOT NULL,
    name        text NOT NULL,
    priority    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    CONSTRAINT locations_vendor_code_key UNIQUE (vendor_id, code)
);

CREATE TABLE products (
    id          uuid PRIMARY KEY,
    vendor_id   uuid NOT NULL REFERENCES vendors (id),
    title       text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX products_vendor_idx ON products (vendor_id, id);

CREATE TABLE variants (
    id          uuid PRIMARY KEY,
    product_id  uuid NOT NULL REFERENCES products (id),
    sku         text NOT NULL CONSTRAINT variants_sku_key UNIQUE,
    title       text,
    position    integer NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX variants_product_idx ON variants (product_id);

CREATE TABLE variant_prices (
    variant_id    uuid NOT NULL REFERENCES variants (id),
    currency      text NOT NULL,
    amount_minor  bigint NOT NULL CONSTRAINT variant_prices_amount_check CHECK (amount_minor >= 0),
    PRIMARY KEY (variant_id, currency)
);

-- available = on_hand - reserved. The CHECK is the last line against overselling.
CREATE TABLE stock (
    sku          text NOT NULL REFERENCES variants (sku),
    location_id  uuid NOT NULL REFERENCES locations (id),
    on_hand      bigint NOT NULL,
    reserved     bigint NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (sku, location_id),
    CONSTRAINT stock_reserved_within_on_hand CHECK (reserved >= 0 AND reserved <= on_hand)
);

CREATE TABLE orders (
    id                uuid PRIMARY KEY,
    customer_id       uuid NOT NULL REFERENCES users (id),
    vendor_id         uuid NOT NULL REFERENCES vendors (id),
    status            text NOT NULL,
    currency          text NOT NULL,
    subtotal_minor    bigint NOT NULL,
    total_minor       bigint NOT NULL,
    shipping_address  jsonb NOT NULL,
    carrier_id        uuid REFERENCES users (id),
    cancel_reason     text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    version           bigint NOT NULL
);
-- Ids are UUIDv7, so (owner, id DESC) serves "newest first" pages for every role.
CREATE INDEX orders_customer_idx ON orders (customer_id, id);
CREATE INDEX orders_vendor_idx ON orders (vendor_id, id);
CREATE INDEX orders_carrier_idx ON orders (carrier_id, id) WHERE carrier_id IS NOT NULL;
CREATE INDEX orders_status_idx ON orders (status, id);

CREATE TABLE order_lines (
    order_id          uuid NOT NULL REFERENCES orders (id),
    line_no           integer NOT NULL,
    sku               text NOT NULL,
    product_id        uuid NOT NULL,
    variant_id        uuid NOT NULL,
    title             text NOT NULL,
    quantity          bigint NOT NULL,
    unit_price_minor  bigint NOT NULL,
    line_total_minor  bigint NOT NULL,
    allocations       jsonb NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

-- Append-only: the audit trail of every order. Rows are never updated or deleted.
CREATE TABLE order_events (
    order_id         uuid NOT NULL REFERENCES orders (id),
    seq              bigint NOT NULL,
    type             text NOT NULL,
    actor_id         uuid,
    actor_role       text NOT NULL,
    actor_vendor_id  uuid,
    at               timestamptz NOT NULL,
    data             jsonb NOT NULL,
    CONSTRAINT order_events_pkey PRIMARY KEY (order_id, seq)
);

-- Written in the same transaction as each change; drained by background relays.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    topic         text NOT NULL,
    key           text NOT NULL,
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    published_at  timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE idempotency_keys (
    user_id       uuid NOT NULL REFERENCES users (id),
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    order_id      uuid NOT NULL,
    created_at    timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key)
);
