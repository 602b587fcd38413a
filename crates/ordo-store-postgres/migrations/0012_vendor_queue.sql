-- The vendor console's queue (issue 12): a vendor's orders of one status, newest first, and
-- their capped counts, without scanning the vendor's whole history or other vendors' orders.
-- Twin of ordo-store-sqlite/migrations/0012_vendor_queue.sql.

CREATE INDEX orders_vendor_status_idx ON orders (vendor_id, status, id);
