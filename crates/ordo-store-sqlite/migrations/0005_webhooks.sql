-- Signed outbound webhooks (Standard Webhooks): endpoints integrators subscribe, and each
-- delivery of an event to one of them. Twin of ordo-store-postgres/migrations/0005_webhooks.sql.

CREATE TABLE webhook_endpoints (
    id               BLOB PRIMARY KEY,
    -- A vendor's endpoint gets only that vendor's orders and stock; none: the platform's.
    vendor_id        BLOB REFERENCES vendors (id),
    url              TEXT NOT NULL,
    -- JSON array of patterns: "order.paid", "order.*", "*".
    events           TEXT NOT NULL,
    description      TEXT,
    -- "whsec_" + base64 of the key; kept as it is, since deliveries are signed with it.
    secret           TEXT NOT NULL,
    -- After a rotation the old secret signs too, until previous_until.
    previous_secret  TEXT,
    previous_until   TEXT,
    disabled_at      TEXT,
    disabled_reason  TEXT,
    -- Since when every delivery has failed (cleared by a success): disabled after 5 days.
    failing_since    TEXT,
    created_by       BLOB NOT NULL REFERENCES users (id),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_vendor_idx ON webhook_endpoints (vendor_id);

CREATE TABLE webhook_deliveries (
    id               BLOB PRIMARY KEY,
    endpoint_id      BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The webhook-id header: the event's id, the same on every attempt and replay.
    message_id       TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    -- The aggregate (order, SKU): one endpoint gets each aggregate's events in order.
    key              TEXT NOT NULL,
    -- The event's relay position (none for test messages): the order within a key.
    position         INTEGER,
    body             TEXT NOT NULL,
    state            TEXT NOT NULL CONSTRAINT webhook_deliveries_state_check
                     CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts         INTEGER NOT NULL,
    next_at          TEXT NOT NULL,
    last_status      INTEGER,
    last_error       TEXT,
    last_latency_ms  INTEGER,
    created_at       TEXT NOT NULL,
    delivered_at     TEXT
);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (endpoint_id, key, created_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at);
