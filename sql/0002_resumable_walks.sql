-- katana-sync store, schema version 2: walks that resume, judging that stays linear.

-- A Katana walk in progress, saved with every page it commits (in the same transaction
-- as the page's records and their judgement), so a run killed at any moment resumes at
-- the next page instead of page 1. Deleted when the walk completes and its watermark
-- moves. `last_total` is the window's size as the last committed page reported it: a
-- smaller total on the next page means records left the window and the walk backs up
-- over the positions they vacated (see docs/architecture.md, "Resumable walks").
CREATE TABLE walk_cursors (
    entity     TEXT PRIMARY KEY,
    lo         TEXT,                -- updated_at_min of the window (NULL: a backfill)
    hi         TEXT NOT NULL,       -- updated_at_max, fixed when the walk started
    page_size  INTEGER NOT NULL,    -- the walk's positions are only valid at this size
    next_page  INTEGER NOT NULL,
    last_total INTEGER,
    started_at TEXT NOT NULL
);

-- The judging queries: a row's live adjustments, the rows of a variant (an order held
-- for a SKU that is now shared), the open quarantine entries of an entity.
CREATE INDEX adjustments_row ON adjustments (row_id, status) WHERE kind = 'sale';
CREATE INDEX sales_order_rows_variant ON sales_order_rows (variant_id);
CREATE INDEX quarantine_open ON quarantine (entity, key) WHERE resolved_at IS NULL;
