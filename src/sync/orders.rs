//! `orders pull`: Katana sales orders (with rows) into the store, incrementally; each
//! order's customer and each row's variant resolved (fetched from Katana when unknown);
//! the approval queue brought in line with the open orders.
//!
//! Every page is judged where it is stored: its orders, their rows, the adjustments
//! they create or supersede and the quarantine entries of what cannot be mapped are
//! written in the one transaction that also moves the walk's cursor (or, on the last
//! page, its watermark). So a watermark never covers an order that was not judged, and
//! a run killed at any moment leaves a store from which the next run reaches exactly
//! the state an uninterrupted run would have.

use std::collections::{BTreeSet, HashSet};

use rusqlite::Connection;
use serde_json::Value;
use serde_json::value::RawValue;

use super::window::{Filters, Window};
use crate::context::Ctx;
use crate::entity::Entity;
use crate::katana::model::{Partner, SalesOrder, SalesOrderRow, Variant, decode, decode_record};
use crate::progress::Progress;
use crate::report::{NEW_ORDERS_SHOWN, Tally};
use crate::store::adjustments::reconcile_order;
use crate::store::catalog::{Change, partner_known, upsert_partner, upsert_variant, variant_sku};
use crate::store::orders::{
    mark_unlisted_rows_deleted, orders_to_rejudge, stored_order, stored_rows, upsert_order,
    upsert_row,
};
use crate::store::quarantine;
use crate::store::watermarks::{set_watermark, watermark};

const ENTITY: Entity = Entity::SalesOrder;
const ROW_ENTITY: Entity = Entity::SalesOrderRow;
const ORDERS: &str = "sales_orders";
const ROWS: &str = "sales_order_rows";

/// Held orders are judged again in transactions of this many.
const REJUDGE_CHUNK: usize = 500;

/// An order of a page, decoded, with its embedded rows.
pub struct Decoded {
    pub order: SalesOrder,
    pub order_no: String,
    /// The order's JSON as stored: as Katana sent it, less its embedded rows.
    pub raw: String,
    /// Each row with its JSON as Katana sent it.
    pub rows: Vec<(SalesOrderRow, String)>,
}

/// What one run has met, so each order counts once however often it is read (a walk
/// that backs up, an order met in both windows), and
/// `processed = created + updated + skipped + failed`.
#[derive(Default)]
struct Met {
    orders: HashSet<i64>,
    undecodable: HashSet<String>,
    new_orders: Vec<i64>,
    new_total: u64,
    adjustments_created: u64,
}

impl Met {
    fn processed(&self) -> u64 {
        (self.orders.len() + self.undecodable.len()) as u64
    }
}

pub async fn pull(ctx: &Ctx, tally: &mut Tally) -> anyhow::Result<()> {
    let client = ctx.katana().await?;
    let mut met = Met::default();
    let filters = Filters {
        include_deleted: true,
    };

    // Each order's text as sent: decoded and stored without a tree of values built for it.
    let mut window =
        Window::<Box<RawValue>>::open_as(ctx, ORDERS, "/sales_orders", filters).await?;
    let cold = window.is_cold();
    let mut next = window.next().await?;
    while let Some(page) = next {
        let mut decoded = Vec::new();
        let mut bad = Vec::new();
        for raw in &page.records {
            match decode_order(raw.get()) {
                Ok(d) => decoded.push(d),
                Err((key, reason)) => bad.push((key, reason, raw.get().to_string())),
            }
        }
        // References the store does not know yet are fetched, and stored at once (they
        // are Katana's master data, true whatever the page's fate), before the page.
        // So a run cut short after them has still made progress.
        let (customers, variants) = unknown_references(ctx.store.conn(), &decoded)?;
        if !customers.is_empty() {
            let fetched = client.by_ids("/customers", &customers).await?;
            ctx.store
                .write(|tx| store_references(tx, &fetched, &[], tally))?;
        }
        if !variants.is_empty() {
            let fetched = client.by_ids("/variants", &variants).await?;
            ctx.store
                .write(|tx| store_references(tx, &[], &fetched, tally))?;
        }

        // Katana prepares the next page while this one is stored and judged.
        let (fetched, stored) = futures::join!(window.next(), async {
            ctx.store.write(|tx| {
                let now = crate::store::now();
                for d in &decoded {
                    let change = upsert_order(tx, &d.order, &d.order_no, &d.raw)?;
                    let listed: Vec<i64> = d.rows.iter().map(|(r, _)| r.id).collect();
                    for (row, raw) in &d.rows {
                        upsert_row(tx, d.order.id, row, raw)?;
                    }
                    mark_unlisted_rows_deleted(tx, d.order.id, &listed, &now)?;
                    // An order held as undecodable under its id is released by its number.
                    quarantine::release(tx, ENTITY, &id_key(d.order.id))?;
                    judge_and_count(ctx, tx, d.order.id, Some(change), &now, &mut met, tally)?;
                }
                for (key, reason, raw) in &bad {
                    quarantine::hold(tx, ENTITY, key, reason, Some(raw))?;
                    if met.undecodable.insert(key.clone()) {
                        tally.fail(ENTITY, key.clone(), reason.clone());
                    }
                }
                page.save_position(tx)?;
                // A backfill reads every row through its order, so the row delta starts
                // where the backfill's window ends.
                if let Some(hi) = page.completes()
                    && cold
                    && watermark(tx, ROWS)?.is_none()
                {
                    set_watermark(tx, ROWS, hi)?;
                }
                Ok(())
            })
        });
        stored?;
        tally.processed = met.processed();
        ctx.checkpoint(tally)?;
        // A safe point: the page is committed; the page fetched meanwhile is dropped.
        ctx.check_stop()?;
        next = fetched?;
    }

    // Row deletions never show in an order's embedded rows: Katana reports them only in
    // the row list (with `include_deleted`). A backfill needs none of this (above).
    if !cold {
        let mut rows_window = Window::open(ctx, ROWS, "/sales_order_rows", filters).await?;
        while let Some(page) = rows_window.next().await? {
            ctx.store.write(|tx| {
                let mut touched = BTreeSet::new();
                for raw in &page.records {
                    match decode::<SalesOrderRow>(raw) {
                        Ok(row) => {
                            let Some(order_id) = row.sales_order_id else {
                                continue;
                            };
                            quarantine::release(tx, ROW_ENTITY, &row.id.to_string())?;
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
                                ROW_ENTITY,
                                &key,
                                &reason,
                                Some(&raw.to_string()),
                            )?;
                            if met.undecodable.insert(format!("row {key}")) {
                                tally.fail(ROW_ENTITY, key, reason);
                            }
                        }
                    }
                }
                let now = crate::store::now();
                for id in touched {
                    judge_and_count(ctx, tx, id, Some(Change::Updated), &now, &mut met, tally)?;
                }
                page.save_position(tx)
            })?;
            tally.processed = met.processed();
            ctx.checkpoint(tally)?;
            ctx.check_stop()?;
        }
    }

    // Orders held back earlier and not met above: what blocked them may have arrived
    // since (e.g. a variant's SKU through `products pull`).
    let held: Vec<i64> = orders_to_rejudge(ctx.store.conn())?
        .into_iter()
        .filter(|id| !met.orders.contains(id))
        .collect();
    if !held.is_empty() {
        let progress = Progress::new(ctx.progress, "held orders", Some(held.len() as u64));
        for chunk in held.chunks(REJUDGE_CHUNK) {
            ctx.store.write(|tx| {
                let now = crate::store::now();
                for &id in chunk {
                    judge_and_count(ctx, tx, id, None, &now, &mut met, tally)?;
                }
                Ok(())
            })?;
            progress.inc(chunk.len() as u64);
            tally.processed = met.processed();
            ctx.checkpoint(tally)?;
            ctx.check_stop()?;
        }
    }

    let conn = ctx.store.conn();
    tally.extra.adjustments_created = Some(met.adjustments_created);
    tally.extra.new_orders = Some(crate::store::orders::new_order_summaries(
        conn,
        &met.new_orders,
    )?);
    tally.extra.new_orders_total = met.new_total;
    tally.hold_over(&quarantine::still_held(conn, &[ENTITY, ROW_ENTITY])?);
    Ok(())
}

/// The quarantine key of an order that cannot even be read for its number.
fn id_key(id: impl std::fmt::Display) -> String {
    format!("id {id}")
}

/// Judges one order and counts it once per run: failed when it is held back or needs a
/// person, else by what storing it changed (`None`: met only to be judged again, so
/// counted as updated when it passes now).
fn judge_and_count(
    ctx: &Ctx,
    tx: &Connection,
    id: i64,
    change: Option<Change>,
    now: &str,
    met: &mut Met,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let Some(verdict) = judge_order(ctx, tx, id, now)? else {
        return Ok(());
    };
    met.adjustments_created += verdict.created;
    if !met.orders.insert(id) {
        return Ok(());
    }
    if change == Some(Change::Created) {
        met.new_total += 1;
        if met.new_orders.len() < NEW_ORDERS_SHOWN {
            met.new_orders.push(id);
        }
    }
    if verdict.findings.is_empty() {
        tally.stored(
            ctx.dry_run(),
            ENTITY,
            &verdict.order_no,
            change.unwrap_or(Change::Updated),
        );
    } else {
        tally.fail(ENTITY, verdict.order_no, verdict.findings.join("; "));
    }
    Ok(())
}

/// Decodes one order of a page from its text: the order, its number (the key it is
/// stored and held by) and each embedded row; else the key to hold it by and why.
pub fn decode_order(text: &str) -> Result<Decoded, (String, String)> {
    // Only a record that fails is read again, for the key to hold it by.
    let key_of = || {
        let raw: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        raw.get("order_no")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| id_key(raw.get("id").unwrap_or(&Value::Null)))
    };
    let mut order: SalesOrder = decode_record(text).map_err(|e| (key_of(), e))?;
    let order_no = order
        .order_no
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| (key_of(), "the order has no order_no".to_string()))?
        .to_string();
    let mut rows = Vec::new();
    for row_raw in order.sales_order_rows.take().into_iter().flatten() {
        let row: SalesOrderRow = decode_record(row_raw.get()).map_err(|e| {
            let id = serde_json::from_str::<Value>(row_raw.get())
                .ok()
                .and_then(|r| r.get("id").cloned())
                .unwrap_or(Value::Null);
            (order_no.clone(), format!("row {id}: {e}"))
        })?;
        rows.push((row, Box::<str>::from(row_raw).into_string()));
    }
    Ok(Decoded {
        raw: without_rows(text).map_err(|e| (order_no.clone(), e))?,
        order,
        order_no,
        rows,
    })
}

/// An order's JSON as stored: its members as sent (in key order), less the embedded
/// rows, which are stored as rows.
fn without_rows(text: &str) -> Result<String, String> {
    use std::collections::BTreeMap;
    // Keys borrowed from the text (no allocation each); only a key written with escapes
    // needs one of its own.
    if let Ok(mut members) = serde_json::from_str::<BTreeMap<&str, &RawValue>>(text) {
        members.remove("sales_order_rows");
        return serde_json::to_string(&members).map_err(|e| e.to_string());
    }
    let mut members: BTreeMap<String, &RawValue> =
        serde_json::from_str(text).map_err(|e| e.to_string())?;
    members.remove("sales_order_rows");
    serde_json::to_string(&members).map_err(|e| e.to_string())
}

/// Customers and variants the page refers to that the store does not know.
fn unknown_references(conn: &Connection, page: &[Decoded]) -> anyhow::Result<(Vec<i64>, Vec<i64>)> {
    // Each distinct reference is looked up once (a page names the same few customers
    // and variants many times over).
    let customers: BTreeSet<i64> = page.iter().filter_map(|d| d.order.customer_id).collect();
    let variants: BTreeSet<i64> = page
        .iter()
        .flat_map(|d| d.rows.iter().filter_map(|(row, _)| row.variant_id))
        .collect();
    let mut unknown_customers = Vec::new();
    for c in customers {
        if !partner_known(conn, "customer", c)? {
            unknown_customers.push(c);
        }
    }
    let mut unknown_variants = Vec::new();
    for v in variants {
        if variant_sku(conn, v)?.is_none() {
            unknown_variants.push(v);
        }
    }
    Ok((unknown_customers, unknown_variants))
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
            Err(reason) => tally.note(
                Entity::Customer,
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
            Err(reason) => tally.note(
                Entity::Variant,
                raw.get("id").map_or("?".into(), Value::to_string),
                reason,
            ),
        }
    }
    Ok(())
}

/// What judging one order found.
struct Verdict {
    order_no: String,
    /// Why the order is held back, or what about it needs a person; empty = all well.
    findings: Vec<String>,
    /// Adjustments created.
    created: u64,
}

/// Holds an order whose rows or customer cannot be resolved (so it is never invoiced
/// incomplete), else releases it and reconciles its adjustments. `None`: no such order.
fn judge_order(ctx: &Ctx, tx: &Connection, id: i64, now: &str) -> anyhow::Result<Option<Verdict>> {
    let Some(order) = stored_order(tx, id)? else {
        return Ok(None);
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
    let live_rows: Vec<_> = if reasons.is_empty() {
        quarantine::release(tx, ENTITY, &order.order_no)?;
        rows
    } else {
        quarantine::hold(tx, ENTITY, &order.order_no, &reasons.join("; "), None)?;
        // Only supersessions (deleted rows) apply to a held order.
        rows.into_iter().filter(|r| r.deleted).collect()
    };
    let r = reconcile_order(
        tx,
        &order,
        &live_rows,
        &warehouse_of,
        ctx.config.sync.auto_approve,
        now,
    )?;
    for row in r.changed_after_apply {
        reasons.push(format!(
            "row {row} changed after its adjustment was applied in Luca; the invoice is never \
             re-sent: correct it in Luca by hand (e.g. a return invoice)"
        ));
    }
    Ok(Some(Verdict {
        order_no: order.order_no,
        findings: reasons,
        created: r.created,
    }))
}
