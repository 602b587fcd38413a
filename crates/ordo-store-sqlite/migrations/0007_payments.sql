-- Payments (issue 11): one per checkout, its shares per vendor order, its append-only ledger,
-- and providers' webhook events seen. The amounts are the ledger's fold, kept on the payment
-- row and held by CHECKs, so no bug can store money that does not add up.
-- Twin of ordo-store-postgres/migrations/0007_payments.sql.

CREATE TABLE payments (
    id              BLOB PRIMARY KEY,
    checkout_id     BLOB,
    customer_id     BLOB NOT NULL REFERENCES users (id),
    -- sandbox, stripe, manual
    provider        TEXT NOT NULL,
    -- The provider's id of the payment (a PaymentIntent); none until created there.
    provider_ref    TEXT,
    currency        TEXT NOT NULL,
    -- What is due, in minor units.
    amount          INTEGER NOT NULL CONSTRAINT payments_amount_positive CHECK (amount > 0),
    capture_policy  TEXT NOT NULL CONSTRAINT payments_capture_policy_check
                    CHECK (capture_policy IN ('automatic', 'manual')),
    state           TEXT NOT NULL CONSTRAINT payments_state_check
                    CHECK (state IN ('requires_payment_method', 'requires_action', 'processing',
                                     'authorized', 'captured', 'canceled', 'expired', 'failed')),
    authorized      INTEGER NOT NULL DEFAULT 0,
    captured        INTEGER NOT NULL DEFAULT 0,
    voided          INTEGER NOT NULL DEFAULT 0,
    refunded        INTEGER NOT NULL DEFAULT 0,
    capturing       INTEGER NOT NULL DEFAULT 0,
    voiding         INTEGER NOT NULL DEFAULT 0,
    refunding       INTEGER NOT NULL DEFAULT 0,
    -- Why the last attempt was declined (for the customer).
    decline_code    TEXT,
    -- An authorization lapses then: capture or flag it before.
    capture_before  TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    version         INTEGER NOT NULL,
    CONSTRAINT payments_amounts_not_negative CHECK (authorized >= 0 AND captured >= 0
        AND voided >= 0 AND refunded >= 0 AND capturing >= 0 AND voiding >= 0 AND refunding >= 0),
    CONSTRAINT payments_capture_within_authorized
        CHECK (captured + capturing + voided + voiding <= authorized),
    CONSTRAINT payments_refund_within_captured CHECK (refunded + refunding <= captured)
);
CREATE UNIQUE INDEX payments_provider_ref_key ON payments (provider, provider_ref)
    WHERE provider_ref IS NOT NULL;
CREATE INDEX payments_checkout_idx ON payments (checkout_id);

-- Each vendor order's share of a payment (an order has one payment).
CREATE TABLE payment_allocations (
    payment_id  BLOB NOT NULL REFERENCES payments (id),
    order_id    BLOB NOT NULL REFERENCES orders (id),
    vendor_id   BLOB NOT NULL REFERENCES vendors (id),
    amount      INTEGER NOT NULL CONSTRAINT payment_allocations_amount_check CHECK (amount >= 0),
    PRIMARY KEY (payment_id, order_id)
);
CREATE UNIQUE INDEX payment_allocations_order_key ON payment_allocations (order_id);

-- What happened to a payment's money; rows are only ever added.
CREATE TABLE payment_ledger (
    id            BLOB PRIMARY KEY,
    payment_id    BLOB NOT NULL REFERENCES payments (id),
    kind          TEXT NOT NULL CONSTRAINT payment_ledger_kind_check
                  CHECK (kind IN ('authorized', 'capture_requested', 'capture_succeeded',
                                  'capture_failed', 'void_requested', 'void_succeeded',
                                  'void_failed', 'refund_requested', 'refund_succeeded',
                                  'refund_failed', 'manual_payment', 'authorization_expired')),
    amount        INTEGER NOT NULL CONSTRAINT payment_ledger_amount_check CHECK (amount >= 0),
    -- For an outcome: the request row it ends (stored once).
    request_id    BLOB REFERENCES payment_ledger (id),
    -- The provider's id of what this row records (a capture, a refund), stored once per kind.
    provider_ref  TEXT,
    -- Who asked (JSON), why, and an offline payment's reference.
    actor         TEXT,
    reason        TEXT,
    reference     TEXT,
    -- The provider's answer, redacted: for engineers, never shown to staff.
    detail        TEXT,
    created_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX payment_ledger_request_key ON payment_ledger (request_id)
    WHERE request_id IS NOT NULL;
CREATE UNIQUE INDEX payment_ledger_provider_ref_key ON payment_ledger (payment_id, kind, provider_ref)
    WHERE provider_ref IS NOT NULL;
CREATE INDEX payment_ledger_payment_idx ON payment_ledger (payment_id, created_at);

-- Providers' webhook events, each taken once (they arrive late, twice or not at all).
CREATE TABLE payment_events_inbox (
    provider      TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    PRIMARY KEY (provider, event_id)
);
