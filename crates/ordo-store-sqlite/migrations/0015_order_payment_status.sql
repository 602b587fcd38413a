-- Orders by payment status (issue 12): the vendor console filters its queue by it. Each order's
-- share of its payment keeps the share's status (ordo_domain::payment::payment_status of the
-- share's money), written in the same transaction as the payment whenever its money or state
-- moves, so a filtered page is one index range, never a fold of ledgers.
-- Twin of ordo-store-postgres/migrations/0015_order_payment_status.sql.

ALTER TABLE payment_allocations ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
CREATE INDEX payment_allocations_vendor_status_idx
    ON payment_allocations (vendor_id, status, order_id);
CREATE INDEX payment_allocations_status_idx ON payment_allocations (status, order_id);

-- Shares written before: the status of their payment's money as a whole against the share
-- (exact for a payment of one order, the common case; Ordo rewrites it on the next change).
UPDATE payment_allocations SET status = (
    SELECT CASE
        WHEN p.refunded > 0 AND p.refunded >= p.captured THEN 'refunded'
        WHEN p.refunded > 0 THEN 'partially_refunded'
        WHEN p.captured > 0 AND p.captured >= payment_allocations.amount THEN 'paid'
        WHEN p.captured > 0 THEN 'partially_paid'
        WHEN p.state = 'expired' THEN 'expired'
        WHEN p.state = 'failed' THEN 'failed'
        WHEN p.authorized > 0 AND p.voided >= p.authorized THEN 'voided'
        WHEN p.authorized - p.voided > 0 THEN 'authorized'
        ELSE 'pending'
    END
    FROM payments p WHERE p.id = payment_allocations.payment_id
);
