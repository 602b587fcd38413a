-- Vendor money (issue 11): the platform's commission per vendor (basis points, 0–10,000; the
-- app checks the range), frozen on each order's share at checkout, and payouts to vendors.
-- Balances are not stored: they are the double-entry postings of the ledger, less payouts.
-- Twin of ordo-store-postgres/migrations/0010_payouts.sql.

ALTER TABLE vendors ADD COLUMN commission_bp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payment_allocations ADD COLUMN commission_bp INTEGER NOT NULL DEFAULT 0;

CREATE TABLE vendor_payouts (
    id            BLOB PRIMARY KEY,
    vendor_id     BLOB NOT NULL REFERENCES vendors (id),
    currency      TEXT NOT NULL,
    amount        INTEGER NOT NULL CONSTRAINT vendor_payouts_amount_positive CHECK (amount > 0),
    state         TEXT NOT NULL CONSTRAINT vendor_payouts_state_check
                  CHECK (state IN ('requested', 'paid')),
    -- Who asked and who marked it paid (JSON actors), and the bank's reference.
    requested_by  TEXT NOT NULL,
    requested_at  TEXT NOT NULL,
    paid_by       TEXT,
    paid_at       TEXT,
    reference     TEXT
);
CREATE INDEX vendor_payouts_vendor_idx ON vendor_payouts (vendor_id, requested_at);
CREATE INDEX payment_ledger_created_idx ON payment_ledger (created_at);
