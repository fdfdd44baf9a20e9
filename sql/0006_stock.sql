-- The stock pass: drift adjustments, unique among the live ones, and when each snapshot
-- was taken.

-- One live drift adjustment per SKU, warehouse and delta. Applied ones are history (the
-- same delta may come back later as a new drift); superseded ones may repeat.
CREATE UNIQUE INDEX adjustments_live_drift ON adjustments (sku, warehouse, quantity)
    WHERE kind = 'stock_drift' AND status IN ('pending','approved','rejected','unknown');
CREATE INDEX adjustments_drift_key ON adjustments (sku, warehouse)
    WHERE kind = 'stock_drift';
-- (adjustments by outbox_id: indexed by 0005.)

-- Katana's average cost of a level (the slip's unit price).
ALTER TABLE inventory ADD COLUMN average_cost TEXT;

-- When each side's snapshot was last taken in full (a partial pull never replaces one).
CREATE TABLE stock_snapshots (
    side      TEXT PRIMARY KEY CHECK (side IN ('katana','luca')),
    taken_at  TEXT NOT NULL,
    levels    INTEGER NOT NULL
);
