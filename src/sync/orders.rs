//! `orders pull`: Katana sales orders (with rows) into the store, incrementally; each
//! order's customer and each row's variant resolved (fetched from Katana when unknown);
//! the approval queue brought in line with the open orders.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;
use serde_json::{Value, json};

use super::window::{Filters, Window};
use crate::context::Ctx;
use crate::katana::model::{Partner, SalesOrder, SalesOrderRow, Variant, decode};
use crate::report::Tally;
use crate::store::adjustments::reconcile_order;
use crate::store::catalog::{Change, partner_known, upsert_partner, upsert_variant, variant_sku};
use crate::store::orders::{
    mark_unlisted_rows_deleted, orders_to_rejudge, stored_order, stored_rows, upsert_order,
    upsert_row,
};
use crate::store::quarantine;

const ENTITY: &str = "sales_order";

/// An order of a page, decoded, with its embedded rows.
struct Decoded {
    order: SalesOrder,
    order_no: String,
    raw: String,
    rows: Vec<(SalesOrderRow, String)>,
}

pub async fn pull(ctx: &Ctx, tally: &mut Tally) -> anyhow::Result<()> {
    let client = ctx.katana().await?;
    let mut window = Window::open(
        ctx,
        "sales_orders",
        "/sales_orders",
        Filters {
            include_deleted: true,
        },
    )
    .await?;
    let cold = window.is_cold();
    let mut touched: BTreeSet<i64> = BTreeSet::new();
    let mut seen: BTreeSet<i64> = BTreeSet::new();
    let mut new_orders: Vec<i64> = Vec::new();
    let mut undecodable = 0u64;

    while let Some(page) = window.next().await? {
        let mut decoded = Vec::new();
        let mut bad = Vec::new();
        for raw in &page.records {
            match decode_order(raw) {
                Ok(d) => decoded.push(d),
                Err((key, reason)) => bad.push((key, reason, raw.to_string())),
            }
        }
        // References the store does not know yet are fetched before the page is stored.
        let (customers, variants) = {
            let conn = ctx.store.conn();
            unknown_references(conn, &decoded)?
        };
        let fetched_customers = if customers.is_empty() {
            Vec::new()
        } else {
            client.by_ids("/customers", &customers).await?
        };
        let fetched_variants = if variants.is_empty() {
            Vec::new()
        } else {
            client.by_ids("/variants", &variants).await?
        };

        ctx.store.write(|tx| {
            store_references(tx, &fetched_customers, &fetched_variants, tally)?;
            let now = crate::store::now();
            for d in &decoded {
                let first_time = seen.insert(d.order.id);
                let change = upsert_order(tx, &d.order, &d.order_no, &d.raw)?;
                if first_time {
                    // A re-walked window meets an order twice; it counts once.
                    tally.stored(ctx.dry_run(), ENTITY, &d.order_no, change);
                    if change == Change::Created {
                        new_orders.push(d.order.id);
                    }
                }
                let listed: Vec<i64> = d.rows.iter().map(|(r, _)| r.id).collect();
                for (row, raw) in &d.rows {
                    upsert_row(tx, d.order.id, row, raw)?;
                }
                mark_unlisted_rows_deleted(tx, d.order.id, &listed, &now)?;
                touched.insert(d.order.id);
            }
            for (key, reason, raw) in &bad {
                quarantine::hold(tx, ENTITY, key, reason, Some(raw))?;
                tally.fail(ENTITY, key.clone(), reason.clone());
            }
            page.save_watermark(tx)
        })?;
        undecodable += bad.len() as u64;
        tally.processed = seen.len() as u64 + undecodable;
    }

    // Row deletions never show in an order's embedded rows: Katana reports them only in
    // the row list (with `include_deleted`). A backfill needs none of this: every row
    // it stored came from an order's own list.
    let mut rows_window = Window::open(
        ctx,
        "sales_order_rows",
        "/sales_order_rows",
        Filters {
            include_deleted: true,
        },
    )
    .await?;
    if cold {
        let hi = rows_window.hi();
        ctx.store
            .write(|tx| crate::store::watermarks::set_watermark(tx, "sales_order_rows", hi))?;
    } else {
        while let Some(page) = rows_window.next().await? {
            ctx.store.write(|tx| {
                for raw in &page.records {
                    match decode::<SalesOrderRow>(raw) {
                        Ok(row) => {
                            let Some(order_id) = row.sales_order_id else {
                                continue;
                            };
                            if upsert_row(tx, order_id, &row, &raw.to_string())?
                                != Change::Unchanged
                            {
                                touched.insert(order_id);
                            }
                        }
                        Err(reason) => {
                            let key = raw.get("id").map_or("?".into(), Value::to_string);
                            quarantine::hold(
                                tx,
                                "sales_order_row",
                                &key,
                                &reason,
                                Some(&raw.to_string()),
                            )?;
                            tally.fail("sales_order_row", key, reason);
                        }
                    }
                }
                page.save_watermark(tx)
            })?;
        }
    }

    // Judge every order that changed, and those held back earlier (what blocked them
    // may have arrived since, e.g. a variant's SKU through `products pull`).
    let summary = ctx.store.write(|tx| {
        let mut ids = touched.clone();
        ids.extend(orders_to_rejudge(tx)?);
        let mut created = 0;
        for id in ids {
            created += judge_order(ctx, tx, id, tally)?;
        }
        new_orders_summary(tx, &new_orders).map(|s| (created, s))
    })?;
    tally
        .extra
        .insert("adjustments_created".into(), json!(summary.0));
    tally
        .extra
        .insert("new_orders".into(), Value::Array(summary.1));
    Ok(())
}

fn decode_order(raw: &Value) -> Result<Decoded, (String, String)> {
    let key_of = |raw: &Value| {
        raw.get("order_no")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("id {}", raw.get("id").unwrap_or(&Value::Null)))
    };
    let order: SalesOrder = decode(raw).map_err(|e| (key_of(raw), e))?;
    let order_no = order
        .order_no
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| (key_of(raw), "the order has no order_no".to_string()))?
        .to_string();
    let mut rows = Vec::new();
    for row_raw in order.sales_order_rows.iter().flatten() {
        let row: SalesOrderRow = decode(row_raw).map_err(|e| {
            let id = row_raw.get("id").unwrap_or(&Value::Null);
            (order_no.clone(), format!("row {id}: {e}"))
        })?;
        rows.push((row, row_raw.to_string()));
    }
    Ok(Decoded {
        raw: raw.to_string(),
        order,
        order_no,
        rows,
    })
}

/// Customers and variants the page refers to that the store does not know.
fn unknown_references(conn: &Connection, page: &[Decoded]) -> anyhow::Result<(Vec<i64>, Vec<i64>)> {
    let mut customers = BTreeSet::new();
    let mut variants = BTreeSet::new();
    for d in page {
        if let Some(c) = d.order.customer_id
            && !partner_known(conn, "customer", c)?
        {
            customers.insert(c);
        }
        for (row, _) in &d.rows {
            if let Some(v) = row.variant_id
                && variant_sku(conn, v)?.is_none()
            {
                variants.insert(v);
            }
        }
    }
    Ok((
        customers.into_iter().collect(),
        variants.into_iter().collect(),
    ))
}

fn store_references(
    tx: &Connection,
    customers: &[Value],
    variants: &[Value],
    tally: &mut Tally,
) -> anyhow::Result<()> {
    for raw in customers {
        match decode::<Partner>(raw) {
            Ok(p) => {
                let name = p
                    .display_name()
                    .unwrap_or_else(|| format!("customer {}", p.id));
                upsert_partner(tx, "customer", &p, &name, &raw.to_string())?;
            }
            Err(reason) => tally.fail(
                "customer",
                raw.get("id").map_or("?".into(), Value::to_string),
                reason,
            ),
        }
    }
    for raw in variants {
        match decode::<Variant>(raw) {
            Ok(v) => {
                let sku = super::identity::stock_code(v.sku.as_deref());
                upsert_variant(tx, &v, sku.as_deref(), &raw.to_string())?;
            }
            Err(reason) => tally.fail(
                "variant",
                raw.get("id").map_or("?".into(), Value::to_string),
                reason,
            ),
        }
    }
    Ok(())
}

/// Holds an order whose rows or customer cannot be resolved (so it is never invoiced
/// incomplete), else releases it and reconciles its adjustments. Returns how many
/// adjustments were created.
fn judge_order(ctx: &Ctx, tx: &Connection, id: i64, tally: &mut Tally) -> anyhow::Result<u64> {
    let Some(order) = stored_order(tx, id)? else {
        return Ok(0);
    };
    let rows = stored_rows(tx, id)?;
    let mut reasons = Vec::new();
    if order.is_open() && !order.reference_only {
        for r in rows.iter().filter(|r| !r.deleted) {
            match (&r.sku, r.variant_id) {
                (_, None) => reasons.push(format!("row {} has no variant", r.id)),
                (None, Some(v)) => {
                    reasons.push(format!("row {}: variant {v} is unknown to Katana", r.id))
                }
                (Some(None), Some(v)) => reasons.push(format!(
                    "row {}: variant {v} has no SKU (set one in Katana)",
                    r.id
                )),
                (Some(Some(sku)), _) if super::identity::sku_is_quarantined(tx, sku)? => reasons
                    .push(format!(
                        "row {}: SKU {sku} is carried by more than one variant",
                        r.id
                    )),
                _ => {}
            }
        }
        if let Some(c) = order.customer_id
            && !partner_known(tx, "customer", c)?
        {
            reasons.push(format!("customer {c} is unknown to Katana"));
        }
    }
    let warehouse_of = |loc: Option<i64>| super::identity::warehouse_code(&ctx.config.mapping, loc);
    let now = crate::store::now();
    let live_rows: Vec<_> = if reasons.is_empty() {
        quarantine::release(tx, ENTITY, &order.order_no)?;
        rows
    } else {
        let reason = reasons.join("; ");
        quarantine::hold(tx, ENTITY, &order.order_no, &reason, None)?;
        tally.fail(ENTITY, order.order_no.clone(), reason);
        // Only supersessions (deleted rows) apply to a held order.
        rows.into_iter().filter(|r| r.deleted).collect()
    };
    let r = reconcile_order(
        tx,
        &order,
        &live_rows,
        &warehouse_of,
        ctx.config.sync.auto_approve,
        &now,
    )?;
    for row in r.changed_after_apply {
        tally.fail(
            ENTITY,
            order.order_no.clone(),
            format!(
                "row {row} changed after its adjustment was applied in Luca; the invoice is never \
                 re-sent: correct it in Luca by hand (e.g. a return invoice)"
            ),
        );
    }
    Ok(r.created)
}

fn new_orders_summary(conn: &Connection, ids: &[i64]) -> anyhow::Result<Vec<Value>> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.order_no, o.status, o.currency, o.total, p.name,
                (SELECT count(*) FROM sales_order_rows r WHERE r.sales_order_id = o.id AND r.deleted_at IS NULL)
         FROM sales_orders o LEFT JOIN partners p ON p.kind = 'customer' AND p.id = o.customer_id
         WHERE o.id = ?1",
    )?;
    let mut out = Vec::new();
    let mut by_no: BTreeMap<String, Value> = BTreeMap::new();
    for id in ids {
        let v = stmt.query_row([id], |r| {
            Ok(json!({
                "order_no": r.get::<_, String>(0)?,
                "status": r.get::<_, String>(1)?,
                "currency": r.get::<_, Option<String>>(2)?,
                "total": r.get::<_, Option<String>>(3)?,
                "customer": r.get::<_, Option<String>>(4)?,
                "rows": r.get::<_, i64>(5)?,
            }))
        })?;
        by_no.insert(v["order_no"].as_str().unwrap_or_default().to_string(), v);
    }
    out.extend(by_no.into_values());
    Ok(out)
}
