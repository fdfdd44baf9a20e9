//! The approval queue. A sale adjustment exists per open order row, unique on
//! (order, row, SKU, quantity) among the live ones; a changed quantity supersedes the old
//! adjustment and creates a new one; a deleted order or row supersedes what is not yet
//! applied. Shipping changes nothing: shipped goods still need their invoice.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::orders::{StoredOrder, StoredRow};
use super::outbox::State as OutboxState;
use crate::entity::Entity;

/// What reconciling one order did to its adjustments.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub created: u64,
    pub superseded: u64,
    /// Rows whose adjustment was already applied (or may have been) and that changed
    /// since: an invoice is never re-sent, so this needs a person.
    pub changed_after_apply: Vec<i64>,
}

/// Where an adjustment stands in the approval queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    Applied,
    Superseded,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Applied => "applied",
            Status::Superseded => "superseded",
            Status::Unknown => "unknown",
        }
    }

    /// The status of adjustment `id`; one this binary does not know is an error, since
    /// taking it for any known one could apply or drop a stock movement.
    fn parse(s: &str, id: i64) -> Result<Status, crate::error::Error> {
        Ok(match s {
            "pending" => Status::Pending,
            "approved" => Status::Approved,
            "rejected" => Status::Rejected,
            "applied" => Status::Applied,
            "superseded" => Status::Superseded,
            "unknown" => Status::Unknown,
            _ => {
                return Err(crate::error::Error::unknown_stored(
                    "adjustments",
                    id,
                    "status",
                    s,
                ));
            }
        })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Statuses a change may still supersede.
const SUPERSEDABLE: &str = "('pending','approved','rejected')";

/// Brings an order's adjustments in line with its rows. `rows` must all have a SKU when
/// the order is open (the caller holds orders whose rows cannot be mapped).
pub fn reconcile_order(
    conn: &Connection,
    order: &StoredOrder,
    rows: &[StoredRow],
    warehouse_of: &dyn Fn(Option<i64>) -> Option<String>,
    auto_approve: bool,
    now: &str,
) -> anyhow::Result<Reconciled> {
    let mut out = Reconciled::default();
    if order.reference_only {
        return Ok(out);
    }
    if order.deleted {
        out.superseded += supersede(conn, "order_id = ?2", &[order.id], now)?;
        return Ok(out);
    }
    for row in rows.iter().filter(|r| r.deleted) {
        // The redundant `status <> 'superseded'` lets SQLite use `adjustments_live_sale`.
        out.superseded += supersede(
            conn,
            "status <> 'superseded' AND order_id = ?2 AND row_id = ?3",
            &[order.id, row.id],
            now,
        )?;
    }
    if !order.is_open() {
        return Ok(out);
    }
    let status = if auto_approve {
        Status::Approved
    } else {
        Status::Pending
    };
    // The order's live adjustments in one query (through `adjustments_live_sale`), not
    // one per row: a row belongs to one order for good, so its adjustments are among
    // its order's.
    let live_of_order: Vec<(Option<i64>, i64, String, String, Status)> = if order.fresh {
        Vec::new()
    } else {
        let mut stmt = conn.prepare_cached(
            "SELECT row_id, id, sku, quantity, status FROM adjustments
             WHERE kind = 'sale' AND status <> 'superseded' AND order_id = ?1",
        )?;
        let raw: Vec<(Option<i64>, i64, String, String, String)> = stmt
            .query_map([order.id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        raw.into_iter()
            .map(|(row, id, sku, q, st)| Ok((row, id, sku, q, Status::parse(&st, id)?)))
            .collect::<anyhow::Result<_>>()?
    };
    for row in rows.iter().filter(|r| !r.deleted) {
        let Some(Some(sku)) = &row.sku else {
            continue;
        };
        let live: Vec<_> = live_of_order
            .iter()
            .filter(|(r, ..)| *r == Some(row.id))
            .collect();
        if live
            .iter()
            .any(|(_, _, s, q, _)| s == sku && *q == row.quantity)
        {
            continue;
        }
        if live
            .iter()
            .any(|(.., st)| matches!(st, Status::Applied | Status::Unknown))
        {
            out.changed_after_apply.push(row.id);
            continue;
        }
        let location = row.location_id.or(order.location_id);
        conn.prepare_cached(
            "INSERT INTO adjustments (kind, order_id, order_no, row_id, variant_id, sku,
                                      location_id, warehouse, quantity, status, created_at, updated_at)
             VALUES ('sale', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        )?
        .execute(params![
                order.id,
                order.order_no,
                row.id,
                row.variant_id,
                sku,
                location,
                warehouse_of(location),
                row.quantity,
                status.as_str(),
                now
            ])?;
        let new_id = conn.last_insert_rowid();
        out.created += 1;
        for (_, old, ..) in &live {
            conn.prepare_cached(
                "UPDATE adjustments SET status = 'superseded', superseded_by = ?2, updated_at = ?3
                 WHERE id = ?1",
            )?
            .execute(params![old, new_id, now])?;
            out.superseded += 1;
        }
    }
    Ok(out)
}

/// Supersedes the sale adjustments that `filter` selects (`now` is `?1`, `ids` follow)
/// and that are not applied yet.
fn supersede(conn: &Connection, filter: &str, ids: &[i64], now: &str) -> anyhow::Result<u64> {
    let mut stmt = conn.prepare_cached(&format!(
        "UPDATE adjustments SET status = 'superseded', updated_at = ?1
         WHERE kind = 'sale' AND {filter} AND status IN {SUPERSEDABLE}"
    ))?;
    stmt.raw_bind_parameter(1, now)?;
    for (i, id) in ids.iter().enumerate() {
        stmt.raw_bind_parameter(i + 2, id)?;
    }
    Ok(stmt.raw_execute()? as u64)
}

/// One adjustment as `adjustments list --json` prints it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Adjustment {
    pub id: i64,
    pub order_no: Option<String>,
    pub sku: String,
    pub warehouse: Option<String>,
    /// Decimal as a string ("3.5").
    pub quantity: String,
    pub kind: String,
    pub status: Status,
    pub created_at: String,
}

/// The queue, newest first; `status` None = all.
pub fn list(conn: &Connection, status: Option<Status>) -> anyhow::Result<Vec<Adjustment>> {
    let mut stmt = conn.prepare(
        "SELECT id, order_no, sku, warehouse, quantity, kind, status, created_at
         FROM adjustments WHERE (?1 IS NULL OR status = ?1) ORDER BY id DESC",
    )?;
    let raw: Vec<(Adjustment, String)> = stmt
        .query_map([status.map(Status::as_str)], |r| {
            Ok((
                Adjustment {
                    id: r.get(0)?,
                    order_no: r.get(1)?,
                    sku: r.get(2)?,
                    warehouse: r.get(3)?,
                    quantity: r.get(4)?,
                    kind: r.get(5)?,
                    status: Status::Pending,
                    created_at: r.get(7)?,
                },
                r.get(6)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    raw.into_iter()
        .map(|(mut a, status)| {
            a.status = Status::parse(&status, a.id)?;
            Ok(a)
        })
        .collect()
}

/// Which pending adjustments a decision applies to.
pub enum Selection<'a> {
    All,
    Orders(&'a [String]),
    Ids(&'a [i64]),
}

/// Moves the selected *pending* adjustments to `status` (approved or rejected). Others
/// are left alone, so a repeated decision changes nothing.
pub fn decide(
    conn: &Connection,
    sel: &Selection<'_>,
    status: Status,
    now: &str,
) -> anyhow::Result<u64> {
    let changed = match sel {
        Selection::All => conn.execute(
            "UPDATE adjustments SET status = ?1, updated_at = ?2 WHERE status = 'pending'",
            params![status.as_str(), now],
        )?,
        Selection::Orders(orders) => conn.execute(
            "UPDATE adjustments SET status = ?1, updated_at = ?2
             WHERE status = 'pending' AND order_no IN (SELECT value FROM json_each(?3))",
            params![status.as_str(), now, serde_json::to_string(orders)?],
        )?,
        Selection::Ids(ids) => conn.execute(
            "UPDATE adjustments SET status = ?1, updated_at = ?2
             WHERE status = 'pending' AND id IN (SELECT value FROM json_each(?3))",
            params![status.as_str(), now, serde_json::to_string(ids)?],
        )?,
    };
    Ok(changed as u64)
}

/// Ids among `ids` that do not exist at all (for a clear error).
pub fn missing_ids(conn: &Connection, ids: &[i64]) -> anyhow::Result<Vec<i64>> {
    let mut missing = Vec::new();
    for id in ids {
        let found = conn
            .query_row("SELECT 1 FROM adjustments WHERE id = ?1", [id], |_| Ok(()))
            .optional()?;
        if found.is_none() {
            missing.push(*id);
        }
    }
    Ok(missing)
}

/// Moves the adjustments linked to outbox row `outbox_id` with the row's new state:
/// `applied` once the document exists, `unknown` while its outcome is. Generic over the
/// kind of document (invoice, stock slip), so `adjustments resolve` serves them all.
pub fn follow_outbox(
    conn: &Connection,
    outbox_id: i64,
    state: super::outbox::State,
    now: &str,
) -> anyhow::Result<u64> {
    use super::outbox::State;
    let (to, from) = match state {
        State::Done => ("applied", "('approved','unknown')"),
        State::Unknown => ("unknown", "('approved')"),
        State::Pending => ("approved", "('unknown')"),
        State::Sending | State::Rejected => return Ok(0),
    };
    Ok(conn.execute(
        &format!(
            "UPDATE adjustments SET status = ?2, updated_at = ?3 WHERE outbox_id = ?1 AND status IN {from}"
        ),
        params![outbox_id, to, now],
    )? as u64)
}

/// An adjustment as `adjustments resolve` needs it: its status and the outbox row
/// (kind, key, state, Luca id) it is linked to.
#[derive(Debug, Clone)]
pub struct Linked {
    pub status: Status,
    pub outbox: Option<LinkedOutbox>,
}

/// The outbox row an adjustment is linked to.
#[derive(Debug, Clone)]
pub struct LinkedOutbox {
    pub id: i64,
    pub kind: Entity,
    pub key: String,
    pub state: OutboxState,
    pub remote_id: Option<i64>,
}

pub fn linked(conn: &Connection, id: i64) -> anyhow::Result<Option<Linked>> {
    let raw: Option<(String, Option<i64>)> = conn
        .query_row(
            "SELECT status, outbox_id FROM adjustments WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((status, outbox_id)) = raw else {
        return Ok(None);
    };
    let raw: Option<(i64, String, String, String, Option<i64>)> = match outbox_id {
        Some(o) => conn
            .query_row(
                "SELECT id, kind, natural_key, state, remote_id FROM outbox WHERE id = ?1",
                [o],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?,
        None => None,
    };
    // Fail closed: a kind or state this binary does not know is an error, not a guess.
    let outbox = match raw {
        Some((id, kind, key, state, remote_id)) => Some(LinkedOutbox {
            id,
            kind: super::stored_entity("outbox", id, &kind)?,
            key,
            state: OutboxState::parse(&state, id)?,
            remote_id,
        }),
        None => None,
    };
    Ok(Some(Linked {
        status: Status::parse(&status, id)?,
        outbox,
    }))
}

/// `resolve --applied`: the document exists (with its Luca id when given); the outbox
/// row is done and every adjustment linked to it applied. Returns the adjustments moved.
pub fn resolve_applied(
    conn: &Connection,
    outbox_id: i64,
    luca_id: Option<i64>,
    now: &str,
) -> anyhow::Result<u64> {
    use super::outbox::{self, State};
    outbox::settle(
        conn,
        outbox_id,
        State::Done,
        luca_id,
        "resolved_applied",
        Some("adjustments resolve --applied"),
        now,
    )?;
    conn.execute(
        "DELETE FROM outbox_retries WHERE outbox_id = ?1",
        [outbox_id],
    )?;
    follow_outbox(conn, outbox_id, State::Done, now)
}

/// `resolve --retry`: the document does not exist; the row goes back to `pending` with
/// one create allowed without a lookup, and its adjustments to `approved`.
pub fn resolve_retry(conn: &Connection, outbox_id: i64, now: &str) -> anyhow::Result<u64> {
    use super::outbox::{self, State};
    outbox::settle(
        conn,
        outbox_id,
        State::Pending,
        None,
        "resolved_retry",
        Some("adjustments resolve --retry: one new create allowed"),
        now,
    )?;
    conn.execute(
        "INSERT OR REPLACE INTO outbox_retries (outbox_id, granted_at) VALUES (?1, ?2)",
        params![outbox_id, now],
    )?;
    follow_outbox(conn, outbox_id, State::Pending, now)
}

/// The adjustments of an order an invoice carries or may carry (approved or unknown).
pub fn live_of_order(conn: &Connection, order_id: i64) -> anyhow::Result<Vec<i64>> {
    let mut stmt = conn.prepare(
        "SELECT id FROM adjustments WHERE kind = 'sale' AND order_id = ?1
           AND status IN ('approved','unknown') ORDER BY id",
    )?;
    Ok(stmt
        .query_map([order_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Whether a person allowed outbox row `outbox_id` one create without a lookup.
pub fn retry_granted(conn: &Connection, outbox_id: i64) -> anyhow::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM outbox_retries WHERE outbox_id = ?1",
            [outbox_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Uses up the grant (in the transaction that marks the row `sending`).
pub fn consume_retry(conn: &Connection, outbox_id: i64) -> anyhow::Result<()> {
    conn.execute(
        "DELETE FROM outbox_retries WHERE outbox_id = ?1",
        [outbox_id],
    )?;
    Ok(())
}

// ---- stock drift (the stock pass) ------------------------------------------------------

/// The status of adjustment `id` as stored (an unknown one is an error).
pub fn parse_status(s: &str, id: i64) -> Result<Status, crate::error::Error> {
    Status::parse(s, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store;

    #[test]
    fn an_unknown_status_is_refused_not_guessed() {
        let (_d, s) = temp_store();
        let c = s.conn();
        reconcile_order(c, &order(true), &[row(1, "2")], &|_| None, false, "t").unwrap();
        crate::store::force_value(c, "UPDATE adjustments SET status = 'parked'");
        let err = list(c, None).unwrap_err().to_string();
        assert!(
            err.contains("adjustments row 1 has status \"parked\"")
                && err.contains("newer katana-sync"),
            "{err}"
        );
        // Judging the order again must not take it for a live or a superseded one.
        let err = reconcile_order(c, &order(true), &[row(1, "3")], &|_| None, false, "t");
        assert!(err.unwrap_err().to_string().contains("parked"));
    }

    #[test]
    fn the_outbox_row_of_a_linked_adjustment_fails_closed_on_an_unknown_kind_or_state() {
        let (_d, s) = temp_store();
        let c = s.conn();
        reconcile_order(c, &order(true), &[row(1, "2")], &|_| None, false, "t").unwrap();
        crate::store::outbox::enqueue(c, Entity::Invoice, "1", &serde_json::json!({}), "t")
            .unwrap();
        crate::store::force_value(c, "UPDATE adjustments SET outbox_id = 1");
        let o = linked(c, 1).unwrap().unwrap().outbox.unwrap();
        assert_eq!((o.kind, o.state), (Entity::Invoice, OutboxState::Pending));
        crate::store::force_value(c, "UPDATE outbox SET kind = 'gadget'");
        let err = linked(c, 1).unwrap_err().to_string();
        assert!(err.contains("outbox row 1 has entity \"gadget\""), "{err}");
        crate::store::force_value(c, "UPDATE outbox SET kind = 'invoice', state = 'parked'");
        let err = linked(c, 1).unwrap_err().to_string();
        assert!(err.contains("outbox row 1 has state \"parked\""), "{err}");
    }

    fn order(open: bool) -> StoredOrder {
        StoredOrder {
            id: 1,
            order_no: "SO-1".into(),
            status: if open { "NOT_SHIPPED" } else { "DELIVERED" }.into(),
            deleted: false,
            reference_only: false,
            location_id: Some(10),
            customer_id: Some(5),
            fresh: false,
        }
    }

    fn row(id: i64, qty: &str) -> StoredRow {
        StoredRow {
            id,
            variant_id: Some(100 + id),
            sku: Some(Some(format!("SKU-{id}"))),
            quantity: qty.into(),
            location_id: None,
            deleted: false,
        }
    }

    fn statuses(conn: &Connection) -> Vec<(String, String)> {
        list(conn, None)
            .unwrap()
            .into_iter()
            .rev()
            .map(|a| (a.quantity, a.status.to_string()))
            .collect()
    }

    #[test]
    fn the_adjustment_life_cycle() {
        let (_d, s) = temp_store();
        let c = s.conn();
        let wh = |_: Option<i64>| Some("001".to_string());
        let o = order(true);
        let r = reconcile_order(c, &o, &[row(1, "2"), row(2, "1")], &wh, false, "t1").unwrap();
        assert_eq!(r.created, 2);
        // The same again: nothing new (unique on order, row, SKU, quantity).
        let r = reconcile_order(c, &o, &[row(1, "2"), row(2, "1")], &wh, false, "t2").unwrap();
        assert_eq!(r, Reconciled::default());
        // A changed quantity supersedes and creates.
        let r = reconcile_order(c, &o, &[row(1, "3"), row(2, "1")], &wh, false, "t3").unwrap();
        assert_eq!((r.created, r.superseded), (1, 1));
        // Shipping changes nothing.
        let r = reconcile_order(
            c,
            &order(false),
            &[row(1, "3"), row(2, "1")],
            &wh,
            false,
            "t4",
        )
        .unwrap();
        assert_eq!(r, Reconciled::default());
        // A deleted row supersedes its live adjustment.
        let mut gone = row(2, "1");
        gone.deleted = true;
        let r = reconcile_order(c, &o, &[row(1, "3"), gone], &wh, false, "t5").unwrap();
        assert_eq!(r.superseded, 1);
        assert_eq!(
            statuses(c),
            [
                ("2".to_string(), "superseded".to_string()),
                ("1".into(), "superseded".into()),
                ("3".into(), "pending".into())
            ]
        );
        // Back to the first quantity: a new live adjustment may repeat a superseded one.
        let r = reconcile_order(c, &o, &[row(1, "2")], &wh, false, "t6").unwrap();
        assert_eq!((r.created, r.superseded), (1, 1));
    }

    #[test]
    fn applied_is_never_superseded_and_deleted_orders_supersede_the_rest() {
        let (_d, s) = temp_store();
        let c = s.conn();
        let wh = |_: Option<i64>| None;
        let o = order(true);
        reconcile_order(c, &o, &[row(1, "2"), row(2, "1")], &wh, true, "t1").unwrap();
        c.execute(
            "UPDATE adjustments SET status = 'applied' WHERE row_id = 1",
            [],
        )
        .unwrap();
        let r = reconcile_order(c, &o, &[row(1, "5"), row(2, "1")], &wh, true, "t2").unwrap();
        assert_eq!(r.changed_after_apply, [1]);
        let mut deleted = o.clone();
        deleted.deleted = true;
        let r = reconcile_order(c, &deleted, &[], &wh, true, "t3").unwrap();
        assert_eq!(r.superseded, 1, "only the approved one");
        let st: Vec<String> = list(c, None)
            .unwrap()
            .into_iter()
            .map(|a| a.status.to_string())
            .collect();
        assert!(st.contains(&"applied".to_string()));
    }

    #[test]
    fn decisions_touch_only_pending_and_are_idempotent() {
        let (_d, s) = temp_store();
        let c = s.conn();
        let wh = |_: Option<i64>| None;
        reconcile_order(
            c,
            &order(true),
            &[row(1, "2"), row(2, "1")],
            &wh,
            false,
            "t",
        )
        .unwrap();
        let ids: Vec<i64> = list(c, Some(Status::Pending))
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(
            decide(c, &Selection::Ids(&ids[..1]), Status::Approved, "t").unwrap(),
            1
        );
        assert_eq!(
            decide(c, &Selection::Ids(&ids[..1]), Status::Approved, "t").unwrap(),
            0
        );
        assert_eq!(
            decide(
                c,
                &Selection::Orders(&["SO-1".into()]),
                Status::Rejected,
                "t"
            )
            .unwrap(),
            1
        );
        assert_eq!(
            decide(c, &Selection::All, Status::Approved, "t").unwrap(),
            0
        );
        assert_eq!(missing_ids(c, &[ids[0], 999]).unwrap(), [999]);
    }
}
