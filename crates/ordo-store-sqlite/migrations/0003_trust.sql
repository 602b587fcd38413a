-- Trust: durable background jobs, idempotency keys for every write (with the answer stored),
-- and what step-up re-authentication and TOTP need.
-- Twin of ordo-store-postgres/migrations/0003_trust.sql; ids are BLOBs, times TEXT, JSON TEXT.

-- Background work: on SQLite the one writer already serialises claims.
CREATE TABLE jobs (
    id            BLOB PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL,
    -- One job per (kind, key): enqueueing twice is a no-op.
    key           TEXT NOT NULL,
    payload       TEXT NOT NULL,
    state         TEXT NOT NULL CONSTRAINT jobs_state_check
                  CHECK (state IN ('queued', 'running', 'done', 'dead')),
    run_at        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    locked_until  TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    CONSTRAINT jobs_kind_key_key UNIQUE (kind, key)
);
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE state = 'queued';
CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE state = 'running';

-- Idempotency keys for every creating or moving write, with the first answer kept (see the
-- PostgreSQL twin for why old keys are not carried over).
DROP TABLE idempotency_keys;
CREATE TABLE idempotency_keys (
    scope         TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  BLOB NOT NULL,
    response      TEXT,
    created_at    TEXT NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

ALTER TABLE sessions ADD COLUMN fresh_until TEXT;
ALTER TABLE sessions ADD COLUMN step_up_failures INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);

ALTER TABLE users ADD COLUMN disabled_at TEXT;
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_confirmed_at TEXT;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
ALTER TABLE users ADD COLUMN step_up_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN step_up_locked_until TEXT;

CREATE TABLE totp_recovery_codes (
    user_id    BLOB NOT NULL REFERENCES users (id),
    code_hash  BLOB NOT NULL,
    used_at    TEXT,
    CONSTRAINT totp_recovery_codes_pkey PRIMARY KEY (user_id, code_hash)
);
