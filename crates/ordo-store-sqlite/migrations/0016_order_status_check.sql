-- An order's status is one of the lifecycle table's (ordo_domain::order::OrderStatus): the
-- database refuses any other, whoever writes it (issue 19: lifecycles that cannot be bypassed).
-- SQLite adds no CHECK to a table that exists, so two triggers hold the same rule.
-- Twin of ordo-store-postgres/migrations/0016_order_status_check.sql; a test keeps both lists
-- equal to the table's states.

CREATE TRIGGER orders_status_check_insert BEFORE INSERT ON orders
WHEN NEW.status NOT IN ('pending_payment', 'paid', 'processing', 'shipped', 'delivered', 'completed', 'cancelled')
BEGIN
    SELECT RAISE(ABORT, 'orders_status_check: not a status of the order lifecycle');
END;

CREATE TRIGGER orders_status_check_update BEFORE UPDATE OF status ON orders
WHEN NEW.status NOT IN ('pending_payment', 'paid', 'processing', 'shipped', 'delivered', 'completed', 'cancelled')
BEGIN
    SELECT RAISE(ABORT, 'orders_status_check: not a status of the order lifecycle');
END;
