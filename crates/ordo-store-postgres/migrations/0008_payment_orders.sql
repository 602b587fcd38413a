-- Payments wired to checkouts (issue 11): each ledger row names the vendor order whose share
-- it moves (so refunds are capped per order as well as per payment), and a payment keeps the
-- secret a client confirms it with.
-- Twin of ordo-store-sqlite/migrations/0008_payment_orders.sql.

ALTER TABLE payment_ledger ADD COLUMN order_id uuid REFERENCES orders (id);
ALTER TABLE payments ADD COLUMN client_secret text;
