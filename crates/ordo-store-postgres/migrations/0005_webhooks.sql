-- Signed outbound webhooks (Standard Webhooks): endpoints integrators subscribe, and each
-- delivery of an event to one of them. Twin of ordo-store-sqlite/migrations/0005_webhooks.sql.

CREATE TABLE webhook_endpoints (
    id               uuid PRIMARY KEY,
    -- A vendor's endpoint gets only that vendor's orders and stock; none: the platform's.
    vendor_id        uuid REFERENCES vendors (id),
    url              text NOT NULL,
    -- JSON array of patterns: "order.paid", "order.*", "*".
    events           jsonb NOT NULL,
    description      text,
    -- "whsec_" + base64 of the key; kept as it is, since deliveries are signed with it.
    secret           text NOT NULL,
    -- After a rotation the old secret signs too, until previous_until.
    previous_secret  text,
    previous_until   timestamptz,
    disabled_at      timestamptz,
    disabled_reason  text,
    -- Since when every delivery has failed (cleared by a success): disabled after 5 days.
    failing_since    timestamptz,
    created_by       uuid NOT NULL REFERENCES users (id),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_vendor_idx ON webhook_endpoints (vendor_id);

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The webhook-id header: the event's id, the same on every attempt and replay.
    message_id       text NOT NULL,
    event_type       text NOT NULL,
    -- The aggregate (order, SKU): one endpoint gets each aggregate's events in order.
    key              text NOT NULL,
    -- The event's relay position (none for test messages): the order within a key.
    position         bigint,
    body             text NOT NULL,
    state            text NOT NULL CONSTRAINT webhook_deliveries_state_check
                     CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL,
    next_at          timestamptz NOT NULL,
    last_status      bigint,
    last_error       text,
    last_latency_ms  bigint,
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz
);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (endpoint_id, key, created_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at);
