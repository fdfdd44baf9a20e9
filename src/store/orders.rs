//! Sales orders and their rows.

use rusqlite::{Connection, OptionalExtension, params};

use super::catalog::{Change, upsert};
use crate::katana::model::{SalesOrder, SalesOrderRow};
use crate::report::NewOrder;

pub const DELIVERED: &str = "DELIVERED";

/// Stores an order. Returns what changed and whether the tool had never seen it.
pub fn upsert_order(
    conn: &Connection,
    o: &SalesOrder,
    order_no: &str,
    raw: &str,
) -> anyhow::Result<Change> {
    let status = o.status.clone().unwrap_or_default();
    let rate = o.conversion_rate.map(stored_decimal);
    let total = o.total.map(stored_decimal);
    let change = upsert(
        conn,
        "sales_orders",
        &[("id", &o.id)],
        o.updated_at.as_deref(),
        &[
            ("order_no", &order_no),
            ("customer_id", &o.customer_id),
            ("location_id", &o.location_id),
            ("status", &status),
            ("currency", &o.currency),
            ("conversion_rate", &rate),
            ("order_created_date", &o.order_created_date),
            ("delivery_date", &o.delivery_date),
            ("total", &total),
            ("created_at", &o.created_at),
            ("deleted_at", &o.deleted_at),
            ("raw_json", &raw),
        ],
    )?;
    if change == Change::Created && status == DELIVERED {
        // First seen already delivered (a backfill of history): kept for reference,
        // never queued for stock adjustments or invoicing.
        conn.prepare_cached("UPDATE sales_orders SET reference_only = 1 WHERE id = ?1")?
            .execute([o.id])?;
    }
    Ok(change)
}

/// A decimal as the store keeps it: its shortest exact text ("3", "2.5").
pub fn stored_decimal(d: rust_decimal::Decimal) -> String {
    d.normalize().to_string()
}

/// Stores one row (from an order's embedded list or the row delta).
pub fn upsert_row(
    conn: &Connection,
    order_id: i64,
    r: &SalesOrderRow,
    raw: &str,
) -> anyhow::Result<Change> {
    let qty = stored_decimal(r.quantity);
    let price = r.price_per_unit.map(stored_decimal);
    let discount = r.total_discount.map(stored_decimal);
    upsert(
        conn,
        "sales_order_rows",
        &[("id", &r.id)],
        r.updated_at.as_deref(),
        &[
            ("sales_order_id", &order_id),
            ("variant_id", &r.variant_id),
            ("quantity", &qty),
            ("price_per_unit", &price),
            ("total_discount", &discount),
            ("tax_rate_id", &r.tax_rate_id),
            ("location_id", &r.location_id),
            ("created_at", &r.created_at),
            ("deleted_at", &r.deleted_at),
            ("raw_json", &raw),
        ],
    )
}

/// An order's embedded rows are authoritative for its live rows: stored live rows that
/// are no longer listed were deleted (Katana leaves deleted rows out of the embedded
/// list). Returns whether the store holds any row of the order that the list does not
/// name (deleted earlier or just now).
pub fn mark_unlisted_rows_deleted(
    conn: &Connection,
    order_id: i64,
    listed: &[i64],
    now: &str,
) -> anyhow::Result<bool> {
    // The order's rows are read (through the index) and compared here: a JSON list
    // handed to `json_each` cost more than the whole read, once per order.
    let stored: Vec<(i64, bool)> = conn
        .prepare_cached(
            "SELECT id, deleted_at IS NULL FROM sales_order_rows WHERE sales_order_id = ?1",
        )?
        .query_map([order_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut any = false;
    for (id, live) in stored.into_iter().filter(|(id, _)| !listed.contains(id)) {
        any = true;
        if live {
            conn.prepare_cached("UPDATE sales_order_rows SET deleted_at = ?2 WHERE id = ?1")?
                .execute(params![id, now])?;
        }
    }
    Ok(any)
}

/// An order as the adjustment rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    pub id: i64,
    pub order_no: String,
    pub status: String,
    pub deleted: bool,
    pub reference_only: bool,
    pub location_id: Option<i64>,
    pub customer_id: Option<i64>,
    /// First stored in this transaction, with rows that were all new too: it has no
    /// adjustments yet, so there are none to read.
    pub fresh: bool,
}

impl StoredOrder {
    /// Open: not delivered and not deleted (SPEC section 5).
    pub fn is_open(&self) -> bool {
        !self.deleted && self.status != DELIVERED
    }
}

/// A row with the SKU of its variant, as far as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow {
    pub id: i64,
    pub variant_id: Option<i64>,
    /// `None`: the variant is unknown; `Some(None)`: known but without a SKU.
    pub sku: Option<Option<String>>,
    pub quantity: String,
    pub location_id: Option<i64>,
    pub deleted: bool,
}

pub fn stored_order(conn: &Connection, id: i64) -> anyhow::Result<Option<StoredOrder>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, order_no, status, deleted_at IS NOT NULL, reference_only, location_id,
                    customer_id
             FROM sales_orders WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(StoredOrder {
                id: r.get(0)?,
                order_no: r.get(1)?,
                status: r.get(2)?,
                deleted: r.get(3)?,
                reference_only: r.get(4)?,
                location_id: r.get(5)?,
                customer_id: r.get(6)?,
                fresh: false,
            })
        })
        .optional()?)
}

pub fn stored_rows(conn: &Connection, order_id: i64) -> anyhow::Result<Vec<StoredRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.variant_id, v.id IS NOT NULL, v.sku, r.quantity, r.location_id,
                r.deleted_at IS NOT NULL
         FROM sales_order_rows r LEFT JOIN variants v ON v.id = r.variant_id
         WHERE r.sales_order_id = ?1 ORDER BY r.id",
    )?;
    let rows = stmt
        .query_map([order_id], |r| {
            let known: bool = r.get(2)?;
            let sku: Option<String> = r.get(3)?;
            Ok(StoredRow {
                id: r.get(0)?,
                variant_id: r.get(1)?,
                sku: known.then_some(sku),
                quantity: r.get(4)?,
                location_id: r.get(5)?,
                deleted: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Orders to judge again against what the store knows now: those held back by an
/// earlier run (unknown variant, missing SKU, unknown customer), and open ones with a
/// row whose variant or SKU has been held since (e.g. a SKU found to be shared).
pub fn orders_to_rejudge(conn: &Connection) -> anyhow::Result<Vec<i64>> {
    // Driven from the open quarantine entries (few) through indexes, never a scan of
    // every row: this runs on every pull, however large the store.
    let mut stmt = conn.prepare_cached(
        "SELECT o.id FROM quarantine q JOIN sales_orders o ON o.order_no = q.key
         WHERE q.entity = 'sales_order' AND q.resolved_at IS NULL
         UNION
         SELECT o.id FROM quarantine q
         JOIN variants v ON v.sku = q.key
         JOIN sales_order_rows r ON r.variant_id = v.id
         JOIN sales_orders o ON o.id = r.sales_order_id
         WHERE q.entity = 'sku' AND q.resolved_at IS NULL
           AND r.deleted_at IS NULL AND o.deleted_at IS NULL AND o.status <> 'DELIVERED'
         UNION
         SELECT o.id FROM quarantine q
         JOIN sales_order_rows r ON r.variant_id = CAST(q.key AS INTEGER)
         JOIN sales_orders o ON o.id = r.sales_order_id
         WHERE q.entity = 'variant' AND q.resolved_at IS NULL
           AND r.deleted_at IS NULL AND o.deleted_at IS NULL AND o.status <> 'DELIVERED'",
    )?;
    let ids = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

/// The new orders a run names, sorted by order number.
pub fn new_order_summaries(conn: &Connection, ids: &[i64]) -> anyhow::Result<Vec<NewOrder>> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.order_no, o.status, o.currency, o.total, p.name,
                (SELECT count(*) FROM sales_order_rows r WHERE r.sales_order_id = o.id AND r.deleted_at IS NULL)
         FROM sales_orders o LEFT JOIN partners p ON p.kind = 'customer' AND p.id = o.customer_id
         WHERE o.id = ?1",
    )?;
    let mut out = Vec::new();
    for id in ids {
        out.push(stmt.query_row([id], |r| {
            Ok(NewOrder {
                order_no: r.get(0)?,
                status: r.get(1)?,
                currency: r.get(2)?,
                total: r.get(3)?,
                customer: r.get(4)?,
                rows: r.get(5)?,
            })
        })?);
    }
    out.sort_by(|a, b| a.order_no.cmp(&b.order_no));
    Ok(out)
}
