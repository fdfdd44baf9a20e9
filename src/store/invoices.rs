//! What `invoices` and `despatches` read and write: the orders due for an invoice with
//! their approved rows, the customer account of an order, and the ledger of Luca
//! documents the store has claimed (outbox rows of kind `invoice` / `despatch` with
//! their `remote_id`; one claim per Luca id, enforced by the `outbox_claims` index).

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::entity::Entity;

/// An order due for its invoice (none of its adjustments pending, at least one
/// approved), with what the invoice needs.
#[derive(Debug, Clone)]
pub struct DueOrder {
    pub id: i64,
    pub order_no: String,
    pub customer_id: Option<i64>,
    pub currency: Option<String>,
    /// Decimal texts as Katana sent them.
    pub conversion_rate: Option<String>,
    pub total: Option<String>,
    pub total_in_base: Option<String>,
    /// RFC 3339, as Katana sent it.
    pub created_date: Option<String>,
    pub lines: Vec<DueLine>,
}

/// One approved adjustment of a due order, with its row.
#[derive(Debug, Clone)]
pub struct DueLine {
    pub adjustment_id: i64,
    pub sku: String,
    /// The approved quantity (decimal text).
    pub quantity: String,
    pub location_id: Option<i64>,
    pub price_per_unit: Option<String>,
    pub total_discount: Option<String>,
    pub tax_rate_id: Option<i64>,
    /// Percent as Katana reports it ("20"), when the store knows the rate.
    pub tax_rate_pct: Option<String>,
    pub uom: Option<String>,
}

/// A JSON number (or string) of a raw Katana record as its exact text.
fn raw_decimal(raw: &Value, key: &str) -> Option<String> {
    match raw.get(key)? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// The orders due for an invoice, oldest first.
pub fn due_orders(conn: &Connection) -> anyhow::Result<Vec<DueOrder>> {
    let mut stmt = conn.prepare(
        "SELECT o.id, o.order_no, o.customer_id, o.currency, o.conversion_rate, o.total,
                o.order_created_date, o.raw_json
         FROM sales_orders o
         WHERE o.deleted_at IS NULL
           AND EXISTS (SELECT 1 FROM adjustments a
                       WHERE a.kind = 'sale' AND a.order_id = o.id AND a.status = 'approved')
           AND NOT EXISTS (SELECT 1 FROM adjustments a
                       WHERE a.kind = 'sale' AND a.order_id = o.id AND a.status = 'pending')
         ORDER BY o.id",
    )?;
    let heads: Vec<(DueOrder, String)> = stmt
        .query_map([], |r| {
            Ok((
                DueOrder {
                    id: r.get(0)?,
                    order_no: r.get(1)?,
                    customer_id: r.get(2)?,
                    currency: r.get(3)?,
                    conversion_rate: r.get(4)?,
                    total: r.get(5)?,
                    total_in_base: None,
                    created_date: r.get(6)?,
                    lines: Vec::new(),
                },
                r.get(7)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut lines = conn.prepare(
        "SELECT a.id, a.sku, a.quantity, a.location_id, r.price_per_unit, r.total_discount,
                r.tax_rate_id, t.rate, p.uom
         FROM adjustments a
         LEFT JOIN sales_order_rows r ON r.id = a.row_id
         LEFT JOIN tax_rates t ON t.id = r.tax_rate_id
         LEFT JOIN variants v ON v.id = a.variant_id
         LEFT JOIN products p ON p.id = v.product_id
         WHERE a.kind = 'sale' AND a.order_id = ?1 AND a.status = 'approved'
         ORDER BY a.row_id, a.id",
    )?;
    let mut out = Vec::with_capacity(heads.len());
    for (mut order, raw) in heads {
        // The number's exact text: the store's raw JSON keeps what Katana sent.
        let raw: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
        order.total_in_base = raw_decimal(&raw, "total_in_base_currency");
        if order.total.is_none() {
            order.total = raw_decimal(&raw, "total");
        }
        order.lines = lines
            .query_map([order.id], |r| {
                Ok(DueLine {
                    adjustment_id: r.get(0)?,
                    sku: r.get(1)?,
                    quantity: r.get(2)?,
                    location_id: r.get(3)?,
                    price_per_unit: r.get(4)?,
                    total_discount: r.get(5)?,
                    tax_rate_id: r.get(6)?,
                    tax_rate_pct: r.get(7)?,
                    uom: r.get(8)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        out.push(order);
    }
    Ok(out)
}

/// Links the approved adjustments of an order to the outbox row that invoices them.
pub fn link_adjustments(
    conn: &Connection,
    kind: Entity,
    key: &str,
    order_id: i64,
) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE adjustments SET outbox_id = (SELECT id FROM outbox WHERE kind = ?1 AND natural_key = ?2)
         WHERE kind = 'sale' AND order_id = ?3 AND status = 'approved'",
        params![kind, key, order_id],
    )?;
    Ok(())
}

/// The key of the outbox row of `kind` other than `except` that claims Luca id `id`.
pub fn claimed_by(
    conn: &Connection,
    kind: Entity,
    id: i64,
    except: i64,
) -> anyhow::Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT natural_key FROM outbox WHERE kind = ?1 AND remote_id = ?2 AND id <> ?3",
            params![kind, id, except],
            |r| r.get(0),
        )
        .optional()?)
}

/// An outbox row of the same kind that shares a lookup group with another.
#[derive(Debug, Clone)]
pub struct Sibling {
    pub id: i64,
    pub key: String,
    pub payload: Value,
    /// Sent at least once (the attempt is counted before the send): it may own a Luca
    /// document. A row never sent owns none, whatever its state.
    pub may_exist: bool,
}

/// The rows of `kind` not yet settled (pending, sending, unknown), other than `except`.
pub fn open_siblings(conn: &Connection, kind: Entity, except: i64) -> anyhow::Result<Vec<Sibling>> {
    let mut stmt = conn.prepare(
        "SELECT id, natural_key, payload, attempts > 0
         FROM outbox WHERE kind = ?1 AND id <> ?2 AND state IN ('pending','sending','unknown')",
    )?;
    let rows = stmt
        .query_map(params![kind, except], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get(3)?))
        })?
        .collect::<Result<Vec<(i64, String, String, bool)>, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, key, payload, may_exist)| {
            Some(Sibling {
                id,
                key,
                payload: serde_json::from_str(&payload).ok()?,
                may_exist,
            })
        })
        .collect())
}

/// An invoiced order Katana reports delivered: what its despatch note needs.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub order_id: i64,
    pub order_no: String,
    pub invoice_id: Option<i64>,
    /// The invoice as it was sent (frozen in the outbox).
    pub invoice: Value,
}

pub fn delivered_invoiced(conn: &Connection) -> anyhow::Result<Vec<Delivered>> {
    let mut stmt = conn.prepare(
        "SELECT o.id, o.order_no, ob.remote_id, ob.payload
         FROM outbox ob JOIN sales_orders o ON o.id = CAST(ob.natural_key AS INTEGER)
         WHERE ob.kind = 'invoice' AND ob.state = 'done' AND o.status = 'DELIVERED'
           AND o.deleted_at IS NULL
         ORDER BY o.id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?))
        })?
        .collect::<Result<Vec<(i64, String, Option<i64>, String)>, _>>()?;
    rows.into_iter()
        .map(|(order_id, order_no, invoice_id, payload)| {
            Ok(Delivered {
                order_id,
                order_no,
                invoice_id,
                invoice: serde_json::from_str(&payload)?,
            })
        })
        .collect()
}

/// The Katana unit of measure of the live variant with this stock code.
pub fn unit_of_sku(conn: &Connection, sku: &str) -> anyhow::Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT p.uom FROM variants v JOIN products p ON p.id = v.product_id
             WHERE v.sku = ?1 AND v.deleted_at IS NULL ORDER BY v.id LIMIT 1",
            [sku],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}
