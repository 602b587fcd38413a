-- Vendor money (issue 11): the platform's commission per vendor (basis points, 0–10,000; the
-- app checks the range), frozen on each order's share at checkout, and payouts to vendors.
-- Balances are not stored: they are the double-entry postings of the ledger, less payouts.
-- Twin of ordo-store-sqlite/migrations/0010_payouts.sql.

ALTER TABLE vendors ADD COLUMN commission_bp bigint NOT NULL DEFAULT 0;
ALTER TABLE payment_allocations ADD COLUMN commission_bp bigint NOT NULL DEFAULT 0;

CREATE TABLE vendor_payouts (
    id            uuid PRIMARY KEY,
    vendor_id     uuid NOT NULL REFERENCES vendors (id),
    currency      text NOT NULL,
    amount        bigint NOT NULL CONSTRAINT vendor_payouts_amount_positive CHECK (amount > 0),
    state         text NOT NULL CONSTRAINT vendor_payouts_state_check
                  CHECK (state IN ('requested', 'paid')),
    -- Who asked and who marked it paid (JSON actors), and the bank's reference.
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL,
    paid_by       text,
    paid_at       timestamptz,
    reference     text
);
CREATE INDEX vendor_payouts_vendor_idx ON vendor_payouts (vendor_id, requested_at);
CREATE INDEX payment_ledger_created_idx ON payment_ledger (created_at);
