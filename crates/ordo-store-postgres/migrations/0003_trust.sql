-- Trust: durable background jobs, idempotency keys for every write (with the answer stored),
-- and what step-up re-authentication and TOTP need.
-- Twin of ordo-store-sqlite/migrations/0003_trust.sql; constraint names are shared.

-- Background work every node may do: claimed under row locks (FOR UPDATE SKIP LOCKED), so
-- nodes never work the same row; a claim is a lease, so a crashed node's work is taken over.
CREATE TABLE jobs (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL,
    -- One job per (kind, key): enqueueing twice is a no-op.
    key           text NOT NULL,
    payload       jsonb NOT NULL,
    state         text NOT NULL CONSTRAINT jobs_state_check
                  CHECK (state IN ('queued', 'running', 'done', 'dead')),
    run_at        timestamptz NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CONSTRAINT jobs_kind_key_key UNIQUE (kind, key)
);
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE state = 'queued';
CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE state = 'running';

-- Idempotency keys now serve every creating or moving write, for customers, staff and guests
-- (scope: a user, a guest cart's token, or a guest), and keep what the first request returned,
-- so a replay answers exactly that. Keys of the old shape (orders and checkouts only) are not
-- carried over: they lived 24 hours, and an upgrade is not done mid-checkout.
DROP TABLE idempotency_keys;
CREATE TABLE idempotency_keys (
    scope         text NOT NULL,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    -- The first request's result, as JSON text; set in the same transaction as its change.
    response      text,
    created_at    timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Step-up: until when the session counts as freshly authenticated, and failed attempts.
ALTER TABLE sessions ADD COLUMN fresh_until timestamptz;
ALTER TABLE sessions ADD COLUMN step_up_failures integer NOT NULL DEFAULT 0;
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);

ALTER TABLE users ADD COLUMN disabled_at timestamptz;
-- TOTP (RFC 6238): the shared secret (base32), confirmed once the user proved they hold it.
ALTER TABLE users ADD COLUMN totp_secret text;
ALTER TABLE users ADD COLUMN totp_confirmed_at timestamptz;
-- The last TOTP time step accepted: a code is good once (RFC 6238, section 5.2).
ALTER TABLE users ADD COLUMN totp_last_step bigint;
-- Failed step-ups across all of a user's sessions, and the lockout they lead to.
ALTER TABLE users ADD COLUMN step_up_failures integer NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN step_up_locked_until timestamptz;

-- TOTP recovery codes: shown once, kept only as SHA-256, each usable once.
CREATE TABLE totp_recovery_codes (
    user_id    uuid NOT NULL REFERENCES users (id),
    code_hash  bytea NOT NULL,
    used_at    timestamptz,
    CONSTRAINT totp_recovery_codes_pkey PRIMARY KEY (user_id, code_hash)
);
