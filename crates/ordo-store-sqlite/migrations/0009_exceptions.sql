-- The exception queue (issue 11, seed 003's stage 2): what Ordo could not settle by itself,
-- for people to resolve. The columns people filter by are columns; the rest (summary, what was
-- tried, the technical detail, the resolution) is the item's JSON body, owned by the app.
-- Twin of ordo-store-postgres/migrations/0009_exceptions.sql.

CREATE TABLE exceptions (
    id          BLOB PRIMARY KEY,
    kind        TEXT NOT NULL,
    -- What it is about (`payment.request/<id>`…): raised once however often it is noticed.
    key         TEXT NOT NULL,
    status      TEXT NOT NULL CONSTRAINT exceptions_status_check
                CHECK (status IN ('open', 'resolved', 'escalated')),
    order_id    BLOB REFERENCES orders (id),
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX exceptions_key ON exceptions (key);
CREATE INDEX exceptions_status_idx ON exceptions (status, created_at);
CREATE INDEX exceptions_order_idx ON exceptions (order_id) WHERE order_id IS NOT NULL;
