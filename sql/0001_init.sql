-- katana-sync store, schema version 1.
-- Times are UTC RFC 3339 text; decimal quantities and amounts are text holding the exact
-- decimal (never REAL). Katana ids identify orders, rows, customers, variants, locations.

-- ---- runs and history ----------------------------------------------------------------

CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    sync_type       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running','ok','partial','failed','dry_run')),
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    processed       INTEGER NOT NULL DEFAULT 0,
    created         INTEGER NOT NULL DEFAULT 0,
    updated         INTEGER NOT NULL DEFAULT 0,
    skipped         INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    katana_requests INTEGER NOT NULL DEFAULT 0,
    luca_requests   INTEGER NOT NULL DEFAULT 0,
    message         TEXT,            -- the error that ended a failed run
    extra_json      TEXT             -- pass-specific report (dry-run plan, drift, new orders)
);
CREATE INDEX runs_by_type ON runs (sync_type, id);

-- Records a run could not sync (quarantined or failed), with the reason.
CREATE TABLE run_errors (
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    entity  TEXT NOT NULL,
    key     TEXT NOT NULL,
    reason  TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- Bad input from either side, held until it is fixed at the source. A record that
-- decodes and maps on a later run is released (resolved_at set).
CREATE TABLE quarantine (
    entity      TEXT NOT NULL,
    key         TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw_json    TEXT,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    seen_count  INTEGER NOT NULL DEFAULT 1,
    resolved_at TEXT,
    PRIMARY KEY (entity, key)
);

-- ---- incremental pulls ---------------------------------------------------------------

-- Per Katana entity, the upper bound of the last complete window.
CREATE TABLE watermarks (
    entity     TEXT PRIMARY KEY,
    updated_at TEXT NOT NULL
);

-- Recent Katana request times (ms since epoch), so the rate limit holds across runs.
CREATE TABLE katana_requests (
    at_ms INTEGER NOT NULL
);
CREATE INDEX katana_requests_at ON katana_requests (at_ms);

-- ---- Katana data (the master) ----------------------------------------------------------

CREATE TABLE tax_rates (
    id         INTEGER PRIMARY KEY,
    name       TEXT,
    rate       TEXT,                -- percent as Katana reports it, e.g. "20"
    updated_at TEXT,
    raw_json   TEXT NOT NULL
);

CREATE TABLE locations (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    legal_name TEXT,
    is_primary INTEGER NOT NULL DEFAULT 0,
    address    TEXT,                -- one line, for Luca's adresSerbest
    city       TEXT,
    created_at TEXT,
    updated_at TEXT,
    deleted_at TEXT,
    raw_json   TEXT NOT NULL
);

-- Customers and suppliers share one table: Katana ids are unique per entity type only,
-- so the kind is part of the key.
CREATE TABLE partners (
    kind         TEXT NOT NULL CHECK (kind IN ('customer','supplier')),
    id           INTEGER NOT NULL,
    name         TEXT NOT NULL,
    first_name   TEXT,
    last_name    TEXT,
    company      TEXT,
    email        TEXT,
    phone        TEXT,
    currency     TEXT,
    reference_id TEXT,
    tax_no       TEXT,              -- VKN (10 digits) or TCKN (11), when Katana carries one
    address      TEXT,
    city         TEXT,
    district     TEXT,
    country      TEXT,
    created_at   TEXT,
    updated_at   TEXT,
    deleted_at   TEXT,
    raw_json     TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE TABLE products (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    uom           TEXT,
    category_name TEXT,
    is_sellable   INTEGER,
    archived_at   TEXT,
    created_at    TEXT,
    updated_at    TEXT,
    deleted_at    TEXT,
    raw_json      TEXT NOT NULL
);

CREATE TABLE variants (
    id             INTEGER PRIMARY KEY,
    product_id     INTEGER,
    material_id    INTEGER,
    sku            TEXT,            -- trimmed; NULL when Katana has none
    option_values  TEXT NOT NULL DEFAULT '[]',  -- JSON array of config values, in order
    sales_price    TEXT,
    purchase_price TEXT,
    kind           TEXT,            -- product | material | service
    created_at     TEXT,
    updated_at     TEXT,
    deleted_at     TEXT,
    raw_json       TEXT NOT NULL
);
CREATE INDEX variants_sku ON variants (sku);
CREATE INDEX variants_product ON variants (product_id);

CREATE TABLE sales_orders (
    id                 INTEGER PRIMARY KEY,
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
CREATE INDEX sales_orders_no ON sales_orders (order_no);

CREATE TABLE sales_order_rows (
    id             INTEGER PRIMARY KEY,
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
CREATE INDEX sales_order_rows_order ON sales_order_rows (sales_order_id);

-- Katana inventory per (variant, location); pulled in full (Katana has no delta filter).
CREATE TABLE inventory (
    variant_id        INTEGER NOT NULL,
    location_id       INTEGER NOT NULL,
    quantity_in_stock TEXT NOT NULL,
    pulled_at         TEXT NOT NULL,
    PRIMARY KEY (variant_id, location_id)
);

-- ---- the approval queue -----------------------------------------------------------------

CREATE TABLE adjustments (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('sale','stock_drift')),
    order_id     INTEGER,           -- sale: the Katana order
    order_no     TEXT,
    row_id       INTEGER,           -- sale: the Katana order row
    variant_id   INTEGER,
    sku          TEXT NOT NULL,
    location_id  INTEGER,
    warehouse    TEXT,              -- Luca depoKodu, when mapped
    quantity     TEXT NOT NULL,     -- sale: ordered quantity; drift: Katana - Luca
    status       TEXT NOT NULL CHECK (status IN
                   ('pending','approved','rejected','applied','superseded','unknown')),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    superseded_by INTEGER REFERENCES adjustments(id),
    outbox_id    INTEGER REFERENCES outbox(id)
);
-- One live adjustment per order row, SKU and quantity; a superseded one may repeat.
CREATE UNIQUE INDEX adjustments_live_sale ON adjustments (order_id, row_id, sku, quantity)
    WHERE kind = 'sale' AND status <> 'superseded';
CREATE INDEX adjustments_status ON adjustments (status, id);
CREATE INDEX adjustments_order ON adjustments (order_id);

-- ---- Luca identities --------------------------------------------------------------------

-- SKU (the kartKodu, byte for byte) -> Luca skartId.
CREATE TABLE luca_stock_cards (
    sku        TEXT PRIMARY KEY,
    skart_id   INTEGER,
    name       TEXT,
    source     TEXT NOT NULL CHECK (source IN ('push','adopted','pull')),
    seen_at    TEXT NOT NULL
);

-- Cari code -> Luca finansalNesneId, for customers and suppliers.
CREATE TABLE luca_accounts (
    kind      TEXT NOT NULL CHECK (kind IN ('customer','supplier')),
    code      TEXT NOT NULL,
    luca_id   INTEGER,
    katana_id INTEGER,
    tax_no    TEXT,
    source    TEXT NOT NULL CHECK (source IN ('push','adopted','pull')),
    seen_at   TEXT NOT NULL,
    PRIMARY KEY (kind, code)
);

-- depoKodu -> Luca depoId.
CREATE TABLE luca_warehouses (
    code     TEXT PRIMARY KEY,
    depo_id  INTEGER,
    name     TEXT,
    source   TEXT NOT NULL CHECK (source IN ('push','adopted','pull')),
    seen_at  TEXT NOT NULL
);

-- Luca on-hand quantity per (warehouse, stock code), as last read.
CREATE TABLE luca_on_hand (
    warehouse TEXT NOT NULL,
    sku       TEXT NOT NULL,
    quantity  TEXT NOT NULL,
    pulled_at TEXT NOT NULL,
    PRIMARY KEY (warehouse, sku)
);

-- ---- the exactly-once push pipeline --------------------------------------------------------

-- One row per remote object we intend to create, keyed by its natural key. The payload
-- is frozen once the row has been sent: an unknown outcome is reconciled against the
-- object that may exist, never against newer data.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN
                  ('stock_card','customer','supplier','warehouse','invoice','despatch','stock_slip')),
    natural_key TEXT NOT NULL,
    payload     TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending','sending','unknown','done','rejected')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    remote_id   INTEGER,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (kind, natural_key)
);
CREATE INDEX outbox_state ON outbox (kind, state);

-- Append-only audit of every attempt: what was sent when, and how it ended.
CREATE TABLE outbox_attempts (
    outbox_id   INTEGER NOT NULL REFERENCES outbox(id),
    seq         INTEGER NOT NULL,    -- one per event: lookup or send
    run_id      INTEGER,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT,                -- created | exists | rejected | unknown | adopted | absent
    detail      TEXT,                -- Luca's message or the transport error, truncated
    PRIMARY KEY (outbox_id, seq)
);
