-- Events leave Ordo: the outbox gets a gap-free delivery order (`position`) and says whose
-- events they are, so the relay, live streams, webhooks and the event stream can read it.
-- Twin of ordo-store-sqlite/migrations/0004_events.sql.

-- `id` comes from a sequence, and on PostgreSQL ids become visible out of commit order (a
-- transaction holding id 7 may commit after one holding id 8): a reader keeping "everything
-- after 8" would skip 7 for ever. So readers never use `id`: the relay's sequencer numbers
-- committed rows, one sequencer at a time (it locks its cursor row), and `position` is what
-- every consumer and every client cursor follows. A row without one is not yet relayed.
ALTER TABLE outbox ADD COLUMN position bigint;
-- Whose it is: the order's customer, vendor and carrier, or the SKU's vendor (stock events).
ALTER TABLE outbox ADD COLUMN customer_id uuid;
ALTER TABLE outbox ADD COLUMN vendor_id uuid;
ALTER TABLE outbox ADD COLUMN carrier_id uuid;
DROP INDEX outbox_pending_idx;
CREATE INDEX outbox_unsequenced_idx ON outbox (id) WHERE position IS NULL;
CREATE UNIQUE INDEX outbox_position_key ON outbox (position) WHERE position IS NOT NULL;
CREATE INDEX outbox_customer_idx ON outbox (customer_id, position) WHERE position IS NOT NULL AND customer_id IS NOT NULL;
CREATE INDEX outbox_vendor_idx ON outbox (vendor_id, position) WHERE position IS NOT NULL AND vendor_id IS NOT NULL;
CREATE INDEX outbox_carrier_idx ON outbox (carrier_id, position) WHERE position IS NOT NULL AND carrier_id IS NOT NULL;

-- Rows written before this upgrade keep their id as their position (they are all committed),
-- with their audience filled from the orders and products they concern.
UPDATE outbox SET position = id, published_at = COALESCE(published_at, created_at);
UPDATE outbox o SET customer_id = r.customer_id, vendor_id = r.vendor_id, carrier_id = r.carrier_id
    FROM orders r WHERE o.topic LIKE 'order.%' AND o.key = r.id::text;
UPDATE outbox o SET vendor_id = p.vendor_id
    FROM variants v JOIN products p ON p.id = v.product_id
    WHERE o.topic LIKE 'stock.%' AND o.key = v.sku;

-- Where each reader of the outbox has got to: the sequencer (the last position it gave out),
-- and later each consumer (webhooks, notifications, the event stream).
CREATE TABLE relay_cursors (
    consumer    text PRIMARY KEY,
    position    bigint NOT NULL,
    updated_at  timestamptz NOT NULL
);
INSERT INTO relay_cursors (consumer, position, updated_at)
    SELECT 'sequencer', COALESCE(MAX(position), 0), now() FROM outbox;
