-- Each order's share of its payment keeps a status of the payment-status table
-- (ordo_domain::payment::PaymentStatus): the database refuses any other, whoever writes it.
-- SQLite adds no CHECK to a table that exists, so two triggers hold the same rule.
-- Twin of ordo-store-postgres/migrations/0017_payment_share_status_check.sql; a test keeps both
-- lists equal to the table's statuses.

CREATE TRIGGER payment_allocations_status_check_insert BEFORE INSERT ON payment_allocations
WHEN NEW.status NOT IN ('pending', 'authorized', 'partially_paid', 'paid', 'partially_refunded', 'refunded', 'voided', 'failed', 'expired')
BEGIN
    SELECT RAISE(ABORT, 'payment_allocations_status_check: not a payment status');
END;

CREATE TRIGGER payment_allocations_status_check_update BEFORE UPDATE OF status ON payment_allocations
WHEN NEW.status NOT IN ('pending', 'authorized', 'partially_paid', 'paid', 'partially_refunded', 'refunded', 'voided', 'failed', 'expired')
BEGIN
    SELECT RAISE(ABORT, 'payment_allocations_status_check: not a payment status');
END;
