-- Each order's share of its payment keeps a status of the payment-status table
-- (ordo_domain::payment::PaymentStatus): the database refuses any other, whoever writes it.
-- Twin of ordo-store-sqlite/migrations/0017_payment_share_status_check.sql; a test keeps both
-- lists equal to the table's statuses.

ALTER TABLE payment_allocations ADD CONSTRAINT payment_allocations_status_check
    CHECK (status IN ('pending', 'authorized', 'partially_paid', 'paid', 'partially_refunded', 'refunded', 'voided', 'failed', 'expired'));
