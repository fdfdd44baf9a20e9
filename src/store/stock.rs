//! The stock pass's data: the two snapshots (Katana's inventory per variant and
//! location, Luca's on-hand per warehouse and stock code), the drift between them, and
//! the drift adjustments with their stock slips.
//!
//! A snapshot is replaced whole, in one transaction, and only once it was read whole: a
//! run cut off while paging keeps the previous snapshot, never half of a new one (a
//! missing line would read as "nothing in stock" and be proposed as drift).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::{Connection, params};
use rust_decimal::Decimal;

use super::adjustments::Status;
use super::outbox;
use crate::entity::Entity;
pub use crate::report::DriftLine;

/// The outbox kind of a stock slip.
pub const SLIP_KIND: Entity = Entity::StockSlip;

/// A slip's natural key (also its `belgeTakipNo`): the adjustment it applies, so each
/// adjustment can be sent at most once.
pub fn slip_key(adjustment_id: i64) -> String {
    format!("ADJ-{adjustment_id}")
}

/// One level of Katana's inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub variant_id: i64,
    pub location_id: i64,
    pub quantity: Decimal,
    pub average_cost: Option<Decimal>,
}

/// Replaces Katana's snapshot with `levels`, read whole at `now`.
pub fn replace_inventory(conn: &Connection, levels: &[Level], now: &str) -> anyhow::Result<()> {
    conn.execute("DELETE FROM inventory", [])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO inventory (variant_id, location_id, quantity_in_stock, average_cost, pulled_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (variant_id, location_id) DO UPDATE SET
            quantity_in_stock = excluded.quantity_in_stock, average_cost = excluded.average_cost",
    )?;
    for l in levels {
        insert.execute(params![
            l.variant_id,
            l.location_id,
            l.quantity.normalize().to_string(),
            l.average_cost.map(|c| c.normalize().to_string()),
            now
        ])?;
    }
    snapshot_taken(conn, "katana", levels.len(), now)
}

/// Replaces Luca's snapshot of the warehouses in `read` (each read whole) at `now`;
/// the lines of other warehouses stay as they were.
pub fn replace_on_hand(
    conn: &Connection,
    read: &BTreeMap<String, Vec<(String, Decimal)>>,
    now: &str,
) -> anyhow::Result<()> {
    let mut lines = 0;
    for (warehouse, quantities) in read {
        conn.execute("DELETE FROM luca_on_hand WHERE warehouse = ?1", [warehouse])?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO luca_on_hand (warehouse, sku, quantity, pulled_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (warehouse, sku) DO UPDATE SET quantity = excluded.quantity",
        )?;
        for (sku, q) in quantities {
            insert.execute(params![warehouse, sku, q.normalize().to_string(), now])?;
            lines += 1;
        }
    }
    snapshot_taken(conn, "luca", lines, now)
}

fn snapshot_taken(conn: &Connection, side: &str, levels: usize, now: &str) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO stock_snapshots (side, taken_at, levels) VALUES (?1, ?2, ?3)
         ON CONFLICT (side) DO UPDATE SET taken_at = excluded.taken_at, levels = excluded.levels",
        params![side, now, levels as i64],
    )?;
    Ok(())
}

/// Luca warehouse ids by code, as last read.
pub fn warehouse_ids(conn: &Connection) -> anyhow::Result<HashMap<String, i64>> {
    let mut stmt =
        conn.prepare("SELECT code, depo_id FROM luca_warehouses WHERE depo_id IS NOT NULL")?;
    let map = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(map)
}

/// What the two snapshots say, and what could not be compared.
#[derive(Debug, Default)]
pub struct Drift {
    /// Lines with a non-zero delta, largest absolute delta first.
    pub lines: Vec<DriftLine>,
    /// (SKU, warehouse) pairs compared, with or without a drift.
    pub compared: BTreeSet<(String, String)>,
    /// SKUs with Katana stock in a compared warehouse but no Luca stock card.
    pub without_card: BTreeSet<String>,
    /// Stock codes Luca holds that no Katana variant carries (not compared).
    pub unknown_to_katana: BTreeSet<String>,
    /// Katana locations with stock that map to no Luca warehouse.
    pub unmapped_locations: BTreeSet<i64>,
    /// Variants with stock that the store does not know (run `products pull`).
    pub unknown_variants: BTreeSet<i64>,
}

/// Compares the snapshots, for the warehouses in `warehouses` (those read from Luca in
/// full); `warehouse_of` maps a Katana location to its Luca warehouse. SKUs carried by
/// several live variants (held as duplicates), and those of the variants in `held`
/// (whose level could not be read), are left out.
pub fn drift(
    conn: &Connection,
    warehouses: &BTreeSet<String>,
    held: &BTreeSet<i64>,
    warehouse_of: &dyn Fn(i64) -> Option<String>,
) -> anyhow::Result<Drift> {
    let mut out = Drift::default();
    let mut duplicates: BTreeSet<String> = super::catalog::duplicate_skus(conn)?
        .into_iter()
        .map(|(sku, _)| sku)
        .collect();
    for id in held {
        if let Some(Some(sku)) = super::catalog::variant_sku(conn, *id)? {
            duplicates.insert(sku);
        }
    }
    let katana_skus: BTreeSet<String> = {
        let mut stmt = conn.prepare("SELECT DISTINCT sku FROM variants WHERE sku IS NOT NULL")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    let cards: BTreeSet<String> = {
        let mut stmt = conn.prepare("SELECT sku FROM luca_stock_cards")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    let mut katana: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    let levels: Vec<(i64, i64, Option<String>, String)> = {
        let mut stmt = conn.prepare(
            "SELECT i.variant_id, i.location_id, v.sku, i.quantity_in_stock
             FROM inventory i LEFT JOIN variants v ON v.id = i.variant_id",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?
    };
    for (variant, location, sku, q) in levels {
        let q: Decimal = q.parse()?;
        let Some(warehouse) = warehouse_of(location) else {
            if !q.is_zero() {
                out.unmapped_locations.insert(location);
            }
            continue;
        };
        if !warehouses.contains(&warehouse) {
            continue;
        }
        let Some(sku) = sku else {
            // A variant unknown to the store, or one without a SKU (held by products pull).
            let known: bool = conn
                .query_row(
                    "SELECT count(*) FROM variants WHERE id = ?1",
                    [variant],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n > 0)?;
            if !known && !q.is_zero() {
                out.unknown_variants.insert(variant);
            }
            continue;
        };
        if duplicates.contains(&sku) {
            continue;
        }
        if !cards.contains(&sku) {
            if !q.is_zero() {
                out.without_card.insert(sku);
            }
            continue;
        }
        *katana.entry((sku, warehouse)).or_default() += q;
    }
    let mut luca: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    {
        let mut stmt = conn.prepare("SELECT warehouse, sku, quantity FROM luca_on_hand")?;
        let rows: Vec<(String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        for (warehouse, sku, q) in rows {
            if !warehouses.contains(&warehouse) || duplicates.contains(&sku) {
                continue;
            }
            if !katana_skus.contains(&sku) {
                out.unknown_to_katana.insert(sku);
                continue;
            }
            *luca.entry((sku, warehouse)).or_default() += q.parse::<Decimal>()?;
        }
    }
    let transit = in_transit(conn)?;
    let keys: BTreeSet<(String, String)> = katana.keys().chain(luca.keys()).cloned().collect();
    for key in keys {
        let k = katana.get(&key).copied().unwrap_or_default();
        let l = luca.get(&key).copied().unwrap_or_default();
        let t = transit.get(&key).copied().unwrap_or_default();
        let delta = (k - l + t).normalize();
        if !delta.is_zero() {
            out.lines.push(DriftLine {
                sku: key.0.clone(),
                warehouse: key.1.clone(),
                katana: k.normalize(),
                luca: l.normalize(),
                in_transit: t.normalize(),
                delta,
            });
        }
        out.compared.insert(key);
    }
    out.lines.sort_by(|a, b| {
        b.delta
            .abs()
            .cmp(&a.delta.abs())
            .then_with(|| a.sku.cmp(&b.sku))
            .then_with(|| a.warehouse.cmp(&b.warehouse))
    });
    Ok(out)
}

/// Sales between the two books, per (SKU, warehouse), as their effect on Katana − Luca
/// still to come: an approved sale of a delivered order has left Katana's stock and
/// leaves Luca's when it is invoiced (+q); an invoiced (applied) sale of an order not
/// yet delivered has left Luca and leaves Katana when it ships (−q).
fn in_transit(conn: &Connection) -> anyhow::Result<HashMap<(String, String), Decimal>> {
    let mut stmt = conn.prepare(
        "SELECT a.sku, a.warehouse, a.quantity, a.status, o.status
         FROM adjustments a JOIN sales_orders o ON o.id = a.order_id
         WHERE a.kind = 'sale' AND a.warehouse IS NOT NULL AND o.deleted_at IS NULL
           AND ((a.status = 'approved' AND o.status = 'DELIVERED')
             OR (a.status = 'applied' AND o.status <> 'DELIVERED'))",
    )?;
    let rows: Vec<(String, String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut out: HashMap<(String, String), Decimal> = HashMap::new();
    for (sku, warehouse, q, status) in rows {
        let q: Decimal = q.parse()?;
        let signed = if status == "approved" { q } else { -q };
        *out.entry((sku, warehouse)).or_default() += signed;
    }
    Ok(out)
}

/// A drift adjustment as the stock pass needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftAdjustment {
    pub id: i64,
    pub sku: String,
    pub warehouse: String,
    pub quantity: Decimal,
    pub status: Status,
    pub created_at: String,
}

/// What reconciling the drift with the queue did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub created: u64,
    pub superseded: u64,
}

/// Brings the drift adjustments in line with `drift`: one live adjustment per (SKU,
/// warehouse, delta); a new delta supersedes the live ones of its pair, and so does a
/// drift that closed by itself. A pair with an `unknown` slip is left alone: that slip
/// may have moved the stock, and only `adjustments resolve` settles it.
pub fn reconcile(
    conn: &Connection,
    drift: &Drift,
    auto_approve: bool,
    now: &str,
) -> anyhow::Result<Reconciled> {
    let mut out = Reconciled::default();
    let deltas: HashMap<(&str, &str), Decimal> = drift
        .lines
        .iter()
        .map(|l| ((l.sku.as_str(), l.warehouse.as_str()), l.delta))
        .collect();
    let live = live_adjustments(conn)?;
    let mut by_pair: BTreeMap<(String, String), Vec<&DriftAdjustment>> = BTreeMap::new();
    for a in &live {
        by_pair
            .entry((a.sku.clone(), a.warehouse.clone()))
            .or_default()
            .push(a);
    }
    let status = if auto_approve {
        Status::Approved
    } else {
        Status::Pending
    };
    for pair in &drift.compared {
        let current = by_pair.get(pair).map(Vec::as_slice).unwrap_or_default();
        if current.iter().any(|a| a.status == Status::Unknown) {
            continue;
        }
        let delta = deltas
            .get(&(pair.0.as_str(), pair.1.as_str()))
            .copied()
            .unwrap_or_default();
        if !delta.is_zero() && current.iter().any(|a| a.quantity == delta) {
            continue;
        }
        let new_id = if delta.is_zero() {
            None
        } else {
            conn.prepare_cached(
                "INSERT INTO adjustments (kind, sku, warehouse, quantity, status, created_at, updated_at)
                 VALUES ('stock_drift', ?1, ?2, ?3, ?4, ?5, ?5)",
            )?
            .execute(params![pair.0, pair.1, delta.to_string(), status.as_str(), now])?;
            out.created += 1;
            Some(conn.last_insert_rowid())
        };
        for old in current {
            supersede(conn, old.id, new_id, now)?;
            out.superseded += 1;
        }
    }
    Ok(out)
}

/// Supersedes a drift adjustment that has not reached Luca; a slip intent it had that
/// was never sent (or that `resolve --retry` reopened) goes with it.
fn supersede(conn: &Connection, id: i64, by: Option<i64>, now: &str) -> anyhow::Result<()> {
    conn.prepare_cached(
        "UPDATE adjustments SET status = 'superseded', superseded_by = ?2, outbox_id = NULL,
                updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![id, by, now])?;
    let unsent: bool = conn.query_row(
        "SELECT count(*) FROM outbox WHERE kind = ?1 AND natural_key = ?2 AND state = 'pending'",
        params![SLIP_KIND, slip_key(id)],
        |r| r.get::<_, i64>(0),
    )? > 0;
    if unsent {
        outbox::forget(conn, SLIP_KIND, &slip_key(id))?;
    }
    Ok(())
}

/// The drift adjustments that are neither superseded nor applied.
pub fn live_adjustments(conn: &Connection) -> anyhow::Result<Vec<DriftAdjustment>> {
    adjustments_where(
        conn,
        "status IN ('pending','approved','rejected','unknown')",
    )
}

/// The drift adjustments whose slip's outcome is unknown.
pub fn unknown_adjustments(conn: &Connection) -> anyhow::Result<Vec<DriftAdjustment>> {
    adjustments_where(conn, "status = 'unknown'")
}

/// The approved drift adjustments: the slips to send.
pub fn approved_adjustments(conn: &Connection) -> anyhow::Result<Vec<DriftAdjustment>> {
    adjustments_where(conn, "status = 'approved'")
}

fn adjustments_where(conn: &Connection, filter: &str) -> anyhow::Result<Vec<DriftAdjustment>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id, sku, warehouse, quantity, status, created_at FROM adjustments
         WHERE kind = 'stock_drift' AND warehouse IS NOT NULL AND {filter} ORDER BY id"
    ))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let quantity: String = r.get(3)?;
        let status: String = r.get(4)?;
        out.push(DriftAdjustment {
            id,
            sku: r.get(1)?,
            warehouse: r.get(2)?,
            quantity: quantity.parse()?,
            status: super::adjustments::parse_status(&status, id)?,
            created_at: r.get(5)?,
        });
    }
    Ok(out)
}

/// Records the intent of each slip and links it to its adjustment, in one transaction,
/// so an intent is never without the adjustment it applies (kill -9 at any moment).
/// Links to intents never sent of adjustments no longer approved are dropped.
pub fn enqueue_slips(
    conn: &Connection,
    slips: &[(i64, serde_json::Value)],
    now: &str,
) -> anyhow::Result<()> {
    for (id, payload) in slips {
        outbox::enqueue(conn, SLIP_KIND, &slip_key(*id), payload, now)?;
        conn.prepare_cached(
            "UPDATE adjustments SET outbox_id =
                (SELECT id FROM outbox WHERE kind = ?2 AND natural_key = ?3)
             WHERE id = ?1",
        )?
        .execute(params![id, SLIP_KIND, slip_key(*id)])?;
    }
    // A slip intent pending after an attempt is one known not to be in Luca: refused
    // (and its data changed since), or reopened by `adjustments resolve --retry`. With
    // no lookup to run first, the pipeline would hold it as "may exist" forever; it is
    // one new create, so it starts again as never sent (the attempt log keeps its past).
    conn.execute(
        "UPDATE outbox SET attempts = 0
         WHERE kind = ?1 AND state = 'pending' AND attempts > 0",
        [SLIP_KIND],
    )?;
    conn.execute(
        "UPDATE adjustments SET outbox_id = NULL
         WHERE kind = 'stock_drift' AND status <> 'approved' AND outbox_id IN
            (SELECT id FROM outbox WHERE kind = ?1 AND state = 'pending' AND attempts = 0)",
        [SLIP_KIND],
    )?;
    Ok(())
}

/// Carries each slip's outcome over to its adjustment: created → `applied`; sent with
/// no clear answer (or cut off while sending) → `unknown`. A slip reopened by
/// `resolve --retry` is pending again and its adjustment approved: left as it is.
pub fn settle_from_slips(conn: &Connection, now: &str) -> anyhow::Result<u64> {
    let applied = conn.execute(
        "UPDATE adjustments SET status = 'applied', updated_at = ?2
         WHERE kind = 'stock_drift' AND status IN ('approved','unknown') AND outbox_id IN
            (SELECT id FROM outbox WHERE kind = ?1 AND state = 'done')",
        params![SLIP_KIND, now],
    )?;
    let unknown = conn.execute(
        "UPDATE adjustments SET status = 'unknown', updated_at = ?2
         WHERE kind = 'stock_drift' AND status = 'approved' AND outbox_id IN
            (SELECT id FROM outbox WHERE kind = ?1 AND state IN ('sending','unknown'))",
        params![SLIP_KIND, now],
    )?;
    Ok((applied + unknown) as u64)
}

/// The slip `key` was created: its adjustment is applied (in the transaction that
/// records the slip as done). Only this one: other slips may still be in flight.
pub fn apply_slip(conn: &Connection, key: &str, now: &str) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE adjustments SET status = 'applied', updated_at = ?3
         WHERE kind = 'stock_drift' AND status IN ('approved','unknown') AND outbox_id =
            (SELECT id FROM outbox WHERE kind = ?1 AND natural_key = ?2 AND state = 'done')",
        params![SLIP_KIND, key, now],
    )?;
    Ok(())
}

/// Katana's average cost of a SKU (the highest its levels report), for the slip's
/// unit price.
pub fn average_cost(conn: &Connection, sku: &str) -> anyhow::Result<Option<Decimal>> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.average_cost FROM inventory i JOIN variants v ON v.id = i.variant_id
         WHERE v.sku = ?1 AND i.average_cost IS NOT NULL",
    )?;
    let costs: Vec<String> = stmt
        .query_map([sku], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(costs.iter().filter_map(|c| c.parse::<Decimal>().ok()).max())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// One card, `A`, in warehouse 001: Katana holds 10 at location 1, Luca 10 on hand,
    /// and a sale of `qty` of order 1 in `order_status` whose adjustment is `status`.
    fn books(conn: &Connection, status: &str, order_status: &str, qty: &str) {
        conn.execute_batch(&format!(
            "INSERT INTO variants (id, sku, raw_json) VALUES (7, 'A', '{{}}');
             INSERT INTO luca_stock_cards (sku, skart_id, source, seen_at) VALUES ('A', 1, 'pull', 't');
             INSERT INTO sales_orders (id, order_no, status, raw_json) VALUES (1, 'SO-1', '{order_status}', '{{}}');
             INSERT INTO adjustments (kind, order_id, order_no, row_id, sku, warehouse, quantity, status, created_at, updated_at)
                 VALUES ('sale', 1, 'SO-1', 1, 'A', '001', '{qty}', '{status}', 't', 't');"
        ))
        .unwrap();
        let level = Level {
            variant_id: 7,
            location_id: 1,
            quantity: d("10"),
            average_cost: None,
        };
        replace_inventory(conn, &[level], "t").unwrap();
        let mut read = BTreeMap::new();
        read.insert("001".to_string(), vec![("A".to_string(), d("10"))]);
        replace_on_hand(conn, &read, "t").unwrap();
    }

    fn deltas(conn: &Connection) -> Vec<(Decimal, Decimal)> {
        let wh: BTreeSet<String> = ["001".to_string()].into();
        drift(conn, &wh, &BTreeSet::new(), &|_| Some("001".into()))
            .unwrap()
            .lines
            .iter()
            .map(|l| (l.in_transit, l.delta))
            .collect()
    }

    #[test]
    fn sales_between_the_books_are_counted_each_way_and_only_then() {
        // Books that agree, with a sale each book has or has not booked yet.
        for (status, order, expected) in [
            // Delivered in Katana, invoice to come: Luca will lose 2.
            ("approved", "DELIVERED", vec![(d("2"), d("2"))]),
            // Invoiced, not shipped yet: Katana will lose 2.
            ("applied", "NOT_SHIPPED", vec![(d("-2"), d("-2"))]),
            ("approved", "NOT_SHIPPED", vec![]),
            ("applied", "DELIVERED", vec![]),
            ("pending", "DELIVERED", vec![]),
        ] {
            let (_dir, s) = temp_store();
            books(s.conn(), status, order, "2");
            assert_eq!(deltas(s.conn()), expected, "{status} / {order}");
        }
    }

    #[test]
    fn a_drift_is_queued_once_superseded_when_it_moves_or_closes_and_held_while_unknown() {
        let (_dir, s) = temp_store();
        let c = s.conn();
        books(c, "pending", "NOT_SHIPPED", "1");
        let wh: BTreeSet<String> = ["001".to_string()].into();
        let at = |q: &str| {
            let level = Level {
                variant_id: 7,
                location_id: 1,
                quantity: d(q),
                average_cost: None,
            };
            replace_inventory(c, &[level], "t").unwrap();
            let dr = drift(c, &wh, &BTreeSet::new(), &|_| Some("001".into())).unwrap();
            reconcile(c, &dr, false, "t").unwrap()
        };
        assert_eq!(at("12.5").created, 1);
        assert_eq!(at("12.5"), Reconciled::default(), "the same drift again");
        let moved = at("13");
        assert_eq!((moved.created, moved.superseded), (1, 1));
        let live = live_adjustments(c).unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].quantity, d("3"));
        c.execute(
            "UPDATE adjustments SET status = 'unknown' WHERE id = ?1",
            [live[0].id],
        )
        .unwrap();
        assert_eq!(
            at("10"),
            Reconciled::default(),
            "an unknown slip holds its pair"
        );
        c.execute(
            "UPDATE adjustments SET status = 'applied' WHERE id = ?1",
            [live[0].id],
        )
        .unwrap();
        assert_eq!(
            at("13").created,
            1,
            "after applied, the same delta is a new drift"
        );
        let closed = at("10");
        assert_eq!((closed.created, closed.superseded), (0, 1));
        assert!(live_adjustments(c).unwrap().is_empty());
    }
}
