-- katana-sync store: sales invoices and despatch notes without an idempotency key.

-- A Luca invoice or despatch id is claimed by one outbox row at most: a lookup adopts
-- only an unclaimed candidate, and the store itself refuses a second claim.
CREATE UNIQUE INDEX outbox_claims ON outbox (kind, remote_id)
    WHERE remote_id IS NOT NULL AND kind IN ('invoice', 'despatch');

-- `adjustments resolve ID --retry`: the person checked Luca and found nothing, so the
-- row's next send skips the lookup once. Consumed in the transaction that marks the
-- row `sending`.
CREATE TABLE outbox_retries (
    outbox_id  INTEGER PRIMARY KEY REFERENCES outbox(id),
    granted_at TEXT NOT NULL
);

CREATE INDEX adjustments_outbox ON adjustments (outbox_id);
