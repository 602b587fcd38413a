-- Events leave Ordo: the outbox gets a gap-free delivery order (`position`) and says whose
-- events they are. Twin of ordo-store-postgres/migrations/0004_events.sql (which explains why
-- readers follow `position`, given out by the relay's sequencer, and never `id`); ids are
-- BLOBs, times TEXT.
ALTER TABLE outbox ADD COLUMN position INTEGER;
ALTER TABLE outbox ADD COLUMN customer_id BLOB;
ALTER TABLE outbox ADD COLUMN vendor_id BLOB;
ALTER TABLE outbox ADD COLUMN carrier_id BLOB;
DROP INDEX outbox_pending_idx;
CREATE INDEX outbox_unsequenced_idx ON outbox (id) WHERE position IS NULL;
CREATE UNIQUE INDEX outbox_position_key ON outbox (position) WHERE position IS NOT NULL;
CREATE INDEX outbox_customer_idx ON outbox (customer_id, position) WHERE position IS NOT NULL AND customer_id IS NOT NULL;
CREATE INDEX outbox_vendor_idx ON outbox (vendor_id, position) WHERE position IS NOT NULL AND vendor_id IS NOT NULL;
CREATE INDEX outbox_carrier_idx ON outbox (carrier_id, position) WHERE position IS NOT NULL AND carrier_id IS NOT NULL;

UPDATE outbox SET position = id, published_at = COALESCE(published_at, created_at);
UPDATE outbox SET customer_id = r.customer_id, vendor_id = r.vendor_id, carrier_id = r.carrier_id
    FROM orders AS r
    WHERE outbox.topic LIKE 'order.%'
      AND outbox.key = lower(substr(hex(r.id), 1, 8) || '-' || substr(hex(r.id), 9, 4) || '-' ||
          substr(hex(r.id), 13, 4) || '-' || substr(hex(r.id), 17, 4) || '-' || substr(hex(r.id), 21));
UPDATE outbox SET vendor_id = p.vendor_id
    FROM variants AS v JOIN products AS p ON p.id = v.product_id
    WHERE outbox.topic LIKE 'stock.%' AND outbox.key = v.sku;

CREATE TABLE relay_cursors (
    consumer    TEXT PRIMARY KEY,
    position    INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);
INSERT INTO relay_cursors (consumer, position, updated_at)
    SELECT 'sequencer', COALESCE(MAX(position), 0), strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM outbox;
