-- Internal notes on orders (issue 12): what support and admins write down about an order, for
-- each other. Staff only: kept apart from the order's event log, which customers, vendors,
-- feeds, streams and webhooks read.
-- Twin of ordo-store-postgres/migrations/0013_order_notes.sql.

CREATE TABLE order_notes (
    id         BLOB PRIMARY KEY,
    order_id   BLOB NOT NULL REFERENCES orders (id),
    -- Who wrote it (the JSON actor).
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX order_notes_order_idx ON order_notes (order_id, created_at);
