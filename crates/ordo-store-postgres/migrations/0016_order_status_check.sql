-- An order's status is one of the lifecycle table's (ordo_domain::order::OrderStatus): the
-- database refuses any other, whoever writes it (issue 19: lifecycles that cannot be bypassed).
-- Twin of ordo-store-sqlite/migrations/0016_order_status_check.sql; a test keeps both lists
-- equal to the table's states.

ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending_payment', 'paid', 'processing', 'shipped', 'delivered', 'completed', 'cancelled'));
