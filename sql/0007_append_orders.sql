-- katana-sync store, schema version 7: orders and rows stored in arrival order.
--
-- Katana lists newest first, so a backfill meets order ids in descending order. Keyed by
-- their Katana id, each order (1.5 KB of JSON, two to a 4 KiB page) was inserted before
-- every stored one: SQLite splits the leftmost page each time and leaves one order per
-- page, so the tables were 2.5 times their data and every page committed was written to
-- the WAL and again by the checkpoint. Keyed by arrival (`seq`), inserts append and pages
-- fill; the Katana id stays unique and is what every query uses.

CREATE TABLE sales_orders_new (
    seq                INTEGER PRIMARY KEY,
    id                 INTEGER NOT NULL UNIQUE,
    order_no           TEXT NOT NULL,
    customer_id        INTEGER,
    location_id        INTEGER,
    status             TEXT NOT NULL,
    currency           TEXT,
    conversion_rate    TEXT,
    order_created_date TEXT,
    delivery_date      TEXT,
    total              TEXT,
    reference_only     INTEGER NOT NULL DEFAULT 0, -- first seen DELIVERED: stored, never queued
    created_at         TEXT,
    updated_at         TEXT,
    deleted_at         TEXT,
    raw_json           TEXT NOT NULL
);
INSERT INTO sales_orders_new (id, order_no, customer_id, location_id, status, currency,
    conversion_rate, order_created_date, delivery_date, total, reference_only, created_at,
    updated_at, deleted_at, raw_json)
SELECT id, order_no, customer_id, location_id, status, currency, conversion_rate,
    order_created_date, delivery_date, total, reference_only, created_at, updated_at,
    deleted_at, raw_json
FROM sales_orders ORDER BY id;
DROP TABLE sales_orders;
ALTER TABLE sales_orders_new RENAME TO sales_orders;
CREATE INDEX sales_orders_no ON sales_orders (order_no);

CREATE TABLE sales_order_rows_new (
    seq            INTEGER PRIMARY KEY,
    id             INTEGER NOT NULL UNIQUE,
    sales_order_id INTEGER NOT NULL,
    variant_id     INTEGER,
    quantity       TEXT NOT NULL,
    price_per_unit TEXT,
    total_discount TEXT,
    tax_rate_id    INTEGER,
    location_id    INTEGER,
    created_at     TEXT,
    updated_at     TEXT,
    deleted_at     TEXT,
    raw_json       TEXT NOT NULL
);
INSERT INTO sales_order_rows_new (id, sales_order_id, variant_id, quantity, price_per_unit,
    total_discount, tax_rate_id, location_id, created_at, updated_at, deleted_at, raw_json)
SELECT id, sales_order_id, variant_id, quantity, price_per_unit, total_discount, tax_rate_id,
    location_id, created_at, updated_at, deleted_at, raw_json
FROM sales_order_rows ORDER BY id;
DROP TABLE sales_order_rows;
ALTER TABLE sales_order_rows_new RENAME TO sales_order_rows;
CREATE INDEX sales_order_rows_order ON sales_order_rows (sales_order_id);
CREATE INDEX sales_order_rows_variant ON sales_order_rows (variant_id);

-- Sale adjustments are read and superseded per order through `adjustments_live_sale`
-- (order, row, SKU, quantity); the index by row served the per-row queries it replaces.
DROP INDEX adjustments_row;
-- Most adjustments are linked to no outbox row: only linked ones are indexed (a query
-- `outbox_id = ?` implies `outbox_id IS NOT NULL`, so SQLite still uses it).
DROP INDEX adjustments_outbox;
CREATE INDEX adjustments_outbox ON adjustments (outbox_id) WHERE outbox_id IS NOT NULL;
