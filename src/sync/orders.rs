//! `orders pull`: Katana sales orders (with rows) into the store, incrementally; each
//! order's customer and each row's variant resolved (fetched from Katana when unknown);
//! the approval queue brought in line with the open orders.
//!
//! Every page is judged where it is stored: its orders, their rows, the adjustments
//! they create or supersede and the quarantine entries of what cannot be mapped are
//! written in the one transaction that also moves the walk's cursor (or, on the last
//! page, its watermark); while Katana answers fast, a few pages share that transaction
//! ([`Batch`]). So a watermark never covers an order that was not judged, and
//! a run killed at any moment leaves a store from which the next run reaches exactly
//! the state an uninterrupted run would have.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::Value;
use serde_json::value::RawValue;

use super::window::{Filters, Window, WindowPage};
use crate::context::Ctx;
use crate::entity::Entity;
use crate::katana::model::{Partner, SalesOrder, SalesOrderRow, Variant, decode, decode_record};
use crate::progress::Progress;
use crate::report::{NEW_ORDERS_SHOWN, Tally};
use crate::store::adjustments::reconcile_order;
use crate::store::catalog::{Change, partner_known, upsert_partner, upsert_variant, variant_sku};
use crate::store::orders::{
    DELIVERED, StoredOrder, StoredRow, mark_unlisted_rows_deleted, orders_to_rejudge,
    stored_decimal, stored_order, stored_rows, upsert_order, upsert_row,
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
    known: Known,
}

/// What this run has read of the store and keeps, so that each is read once a run and
/// not once per order: customers and variants found (a pull never removes one, and the
/// run's lock keeps every other writer out), the SKUs held as shared (only `products
/// pull` holds or releases one), and the orders held now (this pass is the only one to
/// hold or release an order, and keeps the set in step; a transaction that fails ends
/// the run).
#[derive(Default)]
struct Known {
    customers: HashSet<i64>,
    /// Each known variant's SKU (`None`: it has none).
    variants: HashMap<i64, Option<String>>,
    shared_skus: HashSet<String>,
    held_orders: HashSet<String>,
}

impl Known {
    fn load(conn: &Connection) -> anyhow::Result<Known> {
        Ok(Known {
            shared_skus: quarantine::held_keys(conn, super::identity::DUPLICATE_SKU)?
                .into_iter()
                .collect(),
            held_orders: quarantine::held_keys(conn, ENTITY)?.into_iter().collect(),
            ..Known::default()
        })
    }

    fn customer(&mut self, conn: &Connection, id: i64) -> anyhow::Result<bool> {
        if self.customers.contains(&id) {
            return Ok(true);
        }
        let known = partner_known(conn, "customer", id)?;
        if known {
            self.customers.insert(id);
        }
        Ok(known)
    }

    /// A variant's SKU as the store knows it: `None` when the variant is unknown,
    /// `Some(None)` when it has no SKU.
    fn sku(&mut self, conn: &Connection, id: i64) -> anyhow::Result<Option<Option<String>>> {
        if let Some(sku) = self.variants.get(&id) {
            return Ok(Some(sku.clone()));
        }
        let found = variant_sku(conn, id)?;
        if let Some(sku) = &found {
            self.variants.insert(id, sku.clone());
        }
        Ok(found)
    }

    fn hold_order(
        &mut self,
        tx: &Connection,
        key: &str,
        reason: &str,
        raw: Option<&str>,
    ) -> anyhow::Result<()> {
        quarantine::hold(tx, ENTITY, key, reason, raw)?;
        self.held_orders.insert(key.to_string());
        Ok(())
    }

    /// Releases an order held under `key`; nothing to write for one that is not held
    /// (nearly every order of a backfill).
    fn release_order(&mut self, tx: &Connection, key: &str) -> anyhow::Result<()> {
        if self.held_orders.remove(key) {
            quarantine::release(tx, ENTITY, key)?;
        }
        Ok(())
    }
}

impl Met {
    fn processed(&self) -> u64 {
        (self.orders.len() + self.undecodable.len()) as u64
    }
}

/// A batch of pages is committed once it holds this much of Katana's text (about 1,300
/// orders of three rows): one transaction writes each index page the batch touches
/// once, where a transaction per page wrote the same pages of the random-keyed indexes
/// (rows by variant, adjustments) again for every page. Counted in bytes, so the memory
/// a batch holds is bounded whatever the shape of the orders.
const BATCH_BYTES: usize = 4 << 20;

/// What a batch may lose to a kill: it is committed once it is this old, and at once
/// while a fetch takes longer than this (a slow or rate-limited Katana, a stall), so a
/// run that is cut short keeps all it read but the last moment of it.
const BATCH_AGE: Duration = Duration::from_millis(500);

/// A page read and decoded, waiting for its batch's transaction.
struct Pending {
    decoded: Vec<Decoded>,
    /// Orders that cannot be decoded: (key, reason, text as sent).
    bad: Vec<(String, String, String)>,
    /// The page's position in the walk (its records taken out).
    page: WindowPage<Box<RawValue>>,
}

/// The pages read since the last commit. They are stored, judged and passed by the
/// walk's cursor (or watermark) in one transaction, so the watermark still moves only
/// with the judgement of what it covers.
struct Batch<'a> {
    ctx: &'a Ctx,
    cold: bool,
    pages: Vec<Pending>,
    /// The text of the batch's records.
    bytes: usize,
    /// When the oldest page of the batch was read.
    since: Option<Instant>,
    /// False until the run's first commit: a run's first page is committed before the
    /// next request, so every run makes durable progress however soon it is cut short.
    committed: bool,
}

impl<'a> Batch<'a> {
    fn new(ctx: &'a Ctx, cold: bool) -> Self {
        Batch {
            ctx,
            cold,
            pages: Vec::new(),
            bytes: 0,
            since: None,
            committed: false,
        }
    }

    fn push(&mut self, pending: Pending) {
        self.bytes += pending
            .decoded
            .iter()
            .map(|d| d.raw.len() + d.rows.iter().map(|(_, raw)| raw.len()).sum::<usize>())
            .chain(pending.bad.iter().map(|(.., raw)| raw.len()))
            .sum::<usize>();
        self.since.get_or_insert_with(Instant::now);
        self.pages.push(pending);
    }

    fn due(&self) -> bool {
        !self.pages.is_empty()
            && (!self.committed
                || self.bytes >= BATCH_BYTES
                || self.since.is_some_and(|t| t.elapsed() >= BATCH_AGE))
    }

    /// Awaits `fetch`, committing the batch meanwhile when it is due, or as soon as the
    /// fetch has taken [`BATCH_AGE`].
    async fn meanwhile<T>(
        &mut self,
        fetch: impl Future<Output = T>,
        met: &mut Met,
        tally: &mut Tally,
    ) -> anyhow::Result<T> {
        if self.due() {
            let (out, flushed) = futures::join!(fetch, async { self.flush(met, tally) });
            flushed?;
            return Ok(out);
        }
        if self.pages.is_empty() {
            return Ok(fetch.await);
        }
        let mut fetch = std::pin::pin!(fetch);
        let wait = BATCH_AGE.saturating_sub(self.since.map_or(BATCH_AGE, |t| t.elapsed()));
        tokio::select! {
            out = &mut fetch => return Ok(out),
            () = tokio::time::sleep(wait) => {}
        }
        self.flush(met, tally)?;
        Ok(fetch.await)
    }

    /// Stores and judges the batch's pages and moves the walk past them, in one
    /// transaction.
    fn flush(&mut self, met: &mut Met, tally: &mut Tally) -> anyhow::Result<()> {
        if self.pages.is_empty() {
            return Ok(());
        }
        let ctx = self.ctx;
        ctx.store.write(|tx| {
            let now = crate::store::now();
            for Pending { decoded, bad, page } in &self.pages {
                for d in decoded {
                    let change = upsert_order(tx, &d.order, &d.order_no, &d.raw)?;
                    let mut rows_new = true;
                    for (row, raw) in &d.rows {
                        rows_new &= upsert_row(tx, d.order.id, row, raw)? == Change::Created;
                    }
                    let listed: Vec<i64> = d.rows.iter().map(|(r, _)| r.id).collect();
                    let others = mark_unlisted_rows_deleted(tx, d.order.id, &listed, &now)?;
                    // An order held as undecodable under its id is released by its number.
                    met.known.release_order(tx, &id_key(d.order.id))?;
                    // An order stored for the first time, with only new rows, is all the
                    // store holds of it: it is judged from what was decoded, not read back.
                    let order = if change == Change::Created && rows_new && !others {
                        ToJudge::Fresh(fresh_view(tx, d, &mut met.known)?)
                    } else {
                        ToJudge::Stored(d.order.id)
                    };
                    judge_and_count(ctx, tx, order, Some(change), &now, met, tally)?;
                }
                for (key, reason, raw) in bad {
                    met.known.hold_order(tx, key, reason, Some(raw))?;
                    if met.undecodable.insert(key.clone()) {
                        tally.fail(ENTITY, key.clone(), reason.clone());
                    }
                }
                page.save_position(tx)?;
                // A backfill reads every row through its order, so the row delta starts
                // where the backfill's window ends.
                if let Some(hi) = page.completes()
                    && self.cold
                    && watermark(tx, ROWS)?.is_none()
                {
                    set_watermark(tx, ROWS, hi)?;
                }
            }
            Ok(())
        })?;
        self.pages.clear();
        self.bytes = 0;
        self.since = None;
        self.committed = true;
        tally.processed = met.processed();
        ctx.checkpoint(tally)
    }
}

pub async fn pull(ctx: &Ctx, tally: &mut Tally) -> anyhow::Result<()> {
    let client = ctx.katana().await?;
    let mut met = Met {
        known: Known::load(ctx.store.conn())?,
        ..Met::default()
    };
    let filters = Filters {
        include_deleted: true,
    };

    // Each order's text as sent: decoded and stored without a tree of values built for it.
    let mut window =
        Window::<Box<RawValue>>::open_as(ctx, ORDERS, "/sales_orders", filters).await?;
    let cold = window.is_cold();
    let mut batch = Batch::new(ctx, cold);
    let mut next = window.next().await?;
    while let Some(mut page) = next {
        let mut decoded = Vec::new();
        let mut bad = Vec::new();
        for raw in std::mem::take(&mut page.records) {
            match decode_order(raw.get()) {
                Ok(d) => decoded.push(d),
                Err((key, reason)) => bad.push((key, reason, raw.get().to_string())),
            }
        }
        // References the store does not know yet are fetched, and stored at once (they
        // are Katana's master data, true whatever the page's fate), before the page.
        // So a run cut short after them has still made progress.
        let (customers, variants) = unknown_references(ctx.store.conn(), &decoded, &mut met.known)?;
        if !customers.is_empty() {
            let fetched = batch
                .meanwhile(client.by_ids("/customers", &customers), &mut met, tally)
                .await?;
            ctx.store
                .write(|tx| store_references(tx, &fetched?, &[], tally))?;
        }
        if !variants.is_empty() {
            let fetched = batch
                .meanwhile(client.by_ids("/variants", &variants), &mut met, tally)
                .await?;
            ctx.store
                .write(|tx| store_references(tx, &[], &fetched?, tally))?;
        }
        batch.push(Pending { decoded, bad, page });
        if ctx.stop_requested().is_some() {
            // A safe point: what was read is committed before the run stops.
            batch.flush(&mut met, tally)?;
            ctx.check_stop()?;
        }
        // Katana prepares the next page while the batch is stored and judged.
        next = batch.meanwhile(window.next(), &mut met, tally).await??;
    }
    batch.flush(&mut met, tally)?;

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
                    let order = ToJudge::Stored(id);
                    judge_and_count(ctx, tx, order, Some(Change::Updated), &now, &mut met, tally)?;
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
                    judge_and_count(ctx, tx, ToJudge::Stored(id), None, &now, &mut met, tally)?;
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
    order: ToJudge,
    change: Option<Change>,
    now: &str,
    met: &mut Met,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let Some(verdict) = judge_order(ctx, tx, order, now, &mut met.known)? else {
        return Ok(());
    };
    let id = verdict.id;
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
    // One reading finds the order and the text of each of its rows.
    let order: SalesOrder<RowsText> = decode_record(text).map_err(|e| (key_of(), e))?;
    let (order, member) = order.take_rows();
    let order_no = order
        .order_no
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| (key_of(), "the order has no order_no".to_string()))?
        .to_string();
    let (raw, rows_text) = split_rows(text, member).map_err(|e| (order_no.clone(), e))?;
    let mut rows = Vec::with_capacity(rows_text.len());
    for row_raw in rows_text {
        let row: SalesOrderRow = decode_record(row_raw).map_err(|e| {
            let id = serde_json::from_str::<Value>(row_raw)
                .ok()
                .and_then(|r| r.get("id").cloned())
                .unwrap_or(Value::Null);
            (order_no.clone(), format!("row {id}: {e}"))
        })?;
        rows.push((row, row_raw.to_string()));
    }
    Ok(Decoded {
        raw,
        order,
        order_no,
        rows,
    })
}

/// The embedded rows as one reading of the order finds them: `null` (`None`) or the
/// text of each row.
type RowsText<'a> = Option<Vec<&'a RawValue>>;

const ROWS_MEMBER: &str = "sales_order_rows";

/// Splits an order's text into the order as stored (as sent, less the embedded rows,
/// which are stored as rows) and the text of each row; `member` is what the order's
/// reading found of its rows (`None`: the order has no such member).
fn split_rows<'a>(
    text: &'a str,
    member: Option<RowsText<'a>>,
) -> Result<(String, Vec<&'a str>), String> {
    let Some(rows) = member else {
        return Ok((text.to_string(), Vec::new()));
    };
    let rows: Vec<&str> = rows
        .unwrap_or_default()
        .into_iter()
        .map(RawValue::get)
        .collect();
    // The member is cut out of the text, which is otherwise kept byte for byte: no
    // second tree of the order built and written out again. Its rows show where it
    // stands; one with none (`null`, `[]`) is found by reading the order once more.
    let span = match (rows.first(), rows.last()) {
        (Some(first), Some(last)) => array_span(text, first, last),
        _ => None,
    };
    let (start, end) = match span {
        Some(span) => span,
        None => member_span(text)?,
    };
    let stored = match cut_member(text, ROWS_MEMBER, start, end) {
        Some(stored) => stored,
        // The key written with escapes: rebuilt from the members instead.
        None => without_member(text, ROWS_MEMBER)?,
    };
    Ok((stored, rows))
}

/// Where in `text` the array stands whose first and last elements are `first` and
/// `last` (slices of `text`): JSON allows only whitespace between them and its brackets.
fn array_span(text: &str, first: &str, last: &str) -> Option<(usize, usize)> {
    let ws = |c: char| c.is_ascii_whitespace();
    let offset = |part: &str| part.as_ptr() as usize - text.as_ptr() as usize;
    let open = text[..offset(first)]
        .trim_end_matches(ws)
        .strip_suffix('[')?
        .len();
    let after = &text[offset(last) + last.len()..];
    let close = text.len() - after.trim_start_matches(ws).strip_prefix(']')?.len();
    Some((open, close))
}

/// Where the value of the order's rows member stands in its text.
fn member_span(text: &str) -> Result<(usize, usize), String> {
    #[derive(serde::Deserialize)]
    struct Member<'a> {
        #[serde(borrow, default, deserialize_with = "crate::katana::model::present")]
        sales_order_rows: Option<&'a RawValue>,
    }
    let found: Member = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let value = found
        .sales_order_rows
        .ok_or_else(|| format!("field `{ROWS_MEMBER}` not found again"))?
        .get();
    let start = value.as_ptr() as usize - text.as_ptr() as usize;
    Ok((start, start + value.len()))
}

/// `text` (an object) less its member `key`, whose value spans `value_start..value_end`;
/// `None` when the key is not written plainly just before its value.
fn cut_member(text: &str, key: &str, value_start: usize, value_end: usize) -> Option<String> {
    let ws = |c: char| c.is_ascii_whitespace();
    let before = text[..value_start].trim_end_matches(ws).strip_suffix(':')?;
    let quoted = format!("\"{key}\"");
    let key_start = before
        .trim_end_matches(ws)
        .strip_suffix(quoted.as_str())?
        .len();
    let after = &text[value_end..];
    let (from, to) = match after.trim_start_matches(ws).strip_prefix(',') {
        // A member follows: the member goes with the comma after it.
        Some(rest) => (key_start, text.len() - rest.len()),
        // The last member: with the comma before it, if any.
        None => {
            let lead = text[..key_start].trim_end_matches(ws);
            match lead.strip_suffix(',') {
                Some(kept) => (kept.len(), value_end),
                None => (key_start, value_end),
            }
        }
    };
    Some(format!("{}{}", &text[..from], &text[to..]))
}

/// `text` (an object) less its member `key`, its other members in key order.
fn without_member(text: &str, key: &str) -> Result<String, String> {
    use std::collections::BTreeMap;
    let mut members: BTreeMap<String, &RawValue> =
        serde_json::from_str(text).map_err(|e| e.to_string())?;
    members.remove(key);
    serde_json::to_string(&members).map_err(|e| e.to_string())
}

/// Customers and variants the page refers to that the store does not know.
fn unknown_references(
    conn: &Connection,
    page: &[Decoded],
    known: &mut Known,
) -> anyhow::Result<(Vec<i64>, Vec<i64>)> {
    // Each distinct reference is looked up once (a page names the same few customers
    // and variants many times over).
    let customers: BTreeSet<i64> = page.iter().filter_map(|d| d.order.customer_id).collect();
    let variants: BTreeSet<i64> = page
        .iter()
        .flat_map(|d| d.rows.iter().filter_map(|(row, _)| row.variant_id))
        .collect();
    let mut unknown_customers = Vec::new();
    for c in customers {
        if !known.customer(conn, c)? {
            unknown_customers.push(c);
        }
    }
    let mut unknown_variants = Vec::new();
    for v in variants {
        if known.sku(conn, v)?.is_none() {
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
    id: i64,
    order_no: String,
    /// Why the order is held back, or what about it needs a person; empty = all well.
    findings: Vec<String>,
    /// Adjustments created.
    created: u64,
}

/// An order and its rows as the store holds them.
type OrderView = (StoredOrder, Vec<StoredRow>);

/// An order to judge: read back from the store by its id, or as it was just stored.
enum ToJudge {
    Stored(i64),
    Fresh(OrderView),
}

/// What the store holds of an order it has just stored for the first time, with rows
/// that were all new: exactly what was decoded, as `stored_order` and `stored_rows`
/// would read it back.
fn fresh_view(tx: &Connection, d: &Decoded, known: &mut Known) -> anyhow::Result<OrderView> {
    let status = d.order.status.clone().unwrap_or_default();
    let order = StoredOrder {
        id: d.order.id,
        order_no: d.order_no.clone(),
        reference_only: status == DELIVERED,
        status,
        deleted: d.order.deleted_at.is_some(),
        location_id: d.order.location_id,
        customer_id: d.order.customer_id,
        fresh: true,
    };
    let mut rows = Vec::with_capacity(d.rows.len());
    for (r, _) in &d.rows {
        let sku = match r.variant_id {
            Some(v) => known.sku(tx, v)?,
            None => None,
        };
        rows.push(StoredRow {
            id: r.id,
            variant_id: r.variant_id,
            sku,
            quantity: stored_decimal(r.quantity),
            location_id: r.location_id,
            deleted: r.deleted_at.is_some(),
        });
    }
    rows.sort_by_key(|r| r.id);
    Ok((order, rows))
}

/// Holds an order whose rows or customer cannot be resolved (so it is never invoiced
/// incomplete), else releases it and reconciles its adjustments. `None`: no such order.
fn judge_order(
    ctx: &Ctx,
    tx: &Connection,
    order: ToJudge,
    now: &str,
    known: &mut Known,
) -> anyhow::Result<Option<Verdict>> {
    let (order, rows) = match order {
        ToJudge::Fresh(view) => view,
        ToJudge::Stored(id) => {
            let Some(order) = stored_order(tx, id)? else {
                return Ok(None);
            };
            (order, stored_rows(tx, id)?)
        }
    };
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
                (Some(Some(sku)), _) if known.shared_skus.contains(sku) => reasons.push(format!(
                    "row {}: SKU {sku} is carried by more than one variant",
                    r.id
                )),
                _ => {}
            }
        }
        if let Some(c) = order.customer_id
            && !known.customer(tx, c)?
        {
            reasons.push(format!("customer {c} is unknown to Katana"));
        }
    }
    let warehouse_of = |loc: Option<i64>| super::identity::warehouse_code(&ctx.config.mapping, loc);
    let live_rows: Vec<_> = if reasons.is_empty() {
        known.release_order(tx, &order.order_no)?;
        rows
    } else {
        known.hold_order(tx, &order.order_no, &reasons.join("; "), None)?;
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
        id: order.id,
        order_no: order.order_no,
        findings: reasons,
        created: r.created,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An order judged from what was decoded (first stored now, its rows all new) sees
    /// exactly what the store gives back when it is read: the same status, flags,
    /// SKUs (known, unknown, missing), quantities as stored text and row order.
    #[test]
    fn a_fresh_view_is_what_the_store_reads_back() {
        let (_dir, store) = crate::store::temp_store();
        store
            .conn()
            .execute_batch(
                "INSERT INTO variants (id, sku, raw_json) VALUES (7, 'A-1', '{}'), (8, NULL, '{}');",
            )
            .unwrap();
        let orders = [
            r#"{"id":1,"order_no":"SO-1","status":"DELIVERED","customer_id":5,"location_id":2,
                "sales_order_rows":[{"id":11,"variant_id":7,"quantity":"4.00000"}]}"#,
            r#"{"id":2,"order_no":" SO-2 ","status":"NOT_SHIPPED","customer_id":null,
                "sales_order_rows":[{"id":23,"variant_id":9,"quantity":2.50,"location_id":3},
                    {"id":21,"variant_id":8,"quantity":"1"},{"id":22,"variant_id":null,"quantity":0},
                    {"id":24,"variant_id":7,"quantity":"10","deleted_at":"2026-01-02T03:04:05.000Z"}]}"#,
            r#"{"id":3,"order_no":"SO-3","deleted_at":"2026-01-02T03:04:05Z","sales_order_rows":null}"#,
            r#"{"id":4,"order_no":"SO-4","status":"PARTIALLY_DELIVERED"}"#,
        ];
        for text in orders {
            let d = decode_order(text).unwrap();
            let mut known = Known::default();
            store
                .write(|tx| {
                    assert_eq!(
                        upsert_order(tx, &d.order, &d.order_no, &d.raw)?,
                        Change::Created
                    );
                    for (row, raw) in &d.rows {
                        upsert_row(tx, d.order.id, row, raw)?;
                    }
                    let (mut order, rows) = fresh_view(tx, &d, &mut known)?;
                    assert!(order.fresh);
                    order.fresh = false;
                    assert_eq!(Some(order), stored_order(tx, d.order.id)?, "{text}");
                    assert_eq!(rows, stored_rows(tx, d.order.id)?, "{text}");
                    Ok(())
                })
                .unwrap();
        }
    }

    /// A backfill judges nearly every order from what was decoded; judging each order
    /// again from what the store reads back must find the same: no adjustment created
    /// or superseded, the same holds and reasons.
    #[tokio::test]
    async fn judging_again_from_the_store_changes_nothing_after_a_backfill() {
        use crate::config::{self, Overrides};
        use crate::context::{Needs, Options};
        use crate::sandbox::{Sandbox, SandboxOptions};
        let sb = Sandbox::start(
            SandboxOptions {
                orders: 400,
                bad_records: true,
                rate_limit: 100_000,
                ..SandboxOptions::default()
            },
            "127.0.0.1:0",
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let overrides = Overrides {
            config: None,
            db: Some(dir.path().join("t.db")),
        };
        let cfg = config::defaults(&overrides, &|_| None)
            .unwrap()
            .for_sandbox(sb.katana_url(), sb.luca_url());
        let needs = Needs {
            config_file: false,
            lock: true,
        };
        let ctx = Ctx::with_config(
            &Options::default(),
            crate::progress::Mode::Silent,
            needs,
            cfg,
        )
        .unwrap();
        pull(&ctx, &mut Tally::default()).await.unwrap();

        let judgement = |conn: &Connection| -> Vec<String> {
            let mut stmt = conn
                .prepare(
                    "SELECT 'adjustment ' || id || ' ' || kind || ' ' || order_id || ' ' ||
                            ifnull(row_id, '-') || ' ' || sku || ' ' || quantity || ' ' ||
                            ifnull(warehouse, '-') || ' ' || status || ' ' ||
                            ifnull(superseded_by, '-')
                     FROM adjustments
                     UNION ALL
                     SELECT 'held ' || entity || ' ' || key || ': ' || reason FROM quarantine
                     WHERE resolved_at IS NULL ORDER BY 1",
                )
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let conn = ctx.store.conn();
        let before = judgement(conn);
        assert!(before.iter().any(|l| l.starts_with("adjustment")));
        assert!(before.iter().any(|l| l.starts_with("held sales_order")));
        let ids: Vec<i64> = conn
            .prepare("SELECT id FROM sales_orders")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut known = Known::load(conn).unwrap();
        let now = crate::store::now();
        for id in ids {
            let verdict = ctx
                .store
                .write(|tx| judge_order(&ctx, tx, ToJudge::Stored(id), &now, &mut known))
                .unwrap()
                .expect("stored");
            assert_eq!(
                verdict.created, 0,
                "order {id} judged again created adjustments"
            );
        }
        assert_eq!(judgement(conn), before);
        drop(ctx);
        sb.shutdown().await;
    }

    /// The rows are cut out wherever they stand, the rest kept byte for byte.
    #[test]
    fn rows_are_cut_out_of_the_order_as_sent() {
        let cases = [
            (
                r#"{"id":1,"sales_order_rows":[{"id":2}],"order_no":"SO-1"}"#,
                r#"{"id":1,"order_no":"SO-1"}"#,
            ),
            (
                r#"{"sales_order_rows": [ {"id":2} ] , "id":1}"#,
                r#"{ "id":1}"#,
            ),
            (
                "{\n  \"id\": 1,\n  \"not\": \"ÇŞĞ\",\n  \"sales_order_rows\" :\n [{\"id\":2}]\n}",
                "{\n  \"id\": 1,\n  \"not\": \"ÇŞĞ\"\n}",
            ),
            (r#"{"sales_order_rows":[{"id":2}]}"#, r#"{}"#),
            (r#"{"id":1,"sales_order_rows":null}"#, r#"{"id":1}"#),
            // The key written with an escape: rebuilt from the members.
            (
                r#"{"sales\u005forder_rows":[{"id":2}],"b":2,"a":"x"}"#,
                r#"{"a":"x","b":2}"#,
            ),
            (r#"{"id":1}"#, r#"{"id":1}"#),
        ];
        // The member as the order's reading finds it.
        #[derive(serde::Deserialize)]
        struct Member<'a> {
            #[serde(borrow, default, deserialize_with = "crate::katana::model::present")]
            sales_order_rows: Option<RowsText<'a>>,
        }
        let split = |text| {
            let found: Member = decode_record(text)?;
            split_rows(text, found.sales_order_rows)
        };
        for (text, want) in cases {
            let (stored, rows) = split(text).unwrap();
            assert_eq!(stored, want, "{text}");
            let listed = if text.contains("{\"id\":2}") { 1 } else { 0 };
            assert_eq!(rows.len(), listed, "{text}");
            if listed == 1 {
                assert_eq!(rows[0], r#"{"id":2}"#);
            }
        }
        // Several rows, and an empty list written with spaces.
        let (stored, rows) =
            split(r#"{"id":1,"sales_order_rows":[ {"id":2} ,{"id":3}],"x":1}"#).unwrap();
        assert_eq!(
            (stored.as_str(), rows),
            (r#"{"id":1,"x":1}"#, vec![r#"{"id":2}"#, r#"{"id":3}"#])
        );
        let (stored, rows) = split(r#"{"id":1,"sales_order_rows": [ ] }"#).unwrap();
        assert_eq!((stored.as_str(), rows.len()), (r#"{"id":1 }"#, 0));
        // A string inside a value that looks like the key is left alone.
        let text = r#"{"note":"\"sales_order_rows\":[1]","sales_order_rows":[]}"#;
        assert_eq!(
            split(text).unwrap().0,
            r#"{"note":"\"sales_order_rows\":[1]"}"#
        );
        assert!(
            split(r#"{"sales_order_rows":"none"}"#)
                .unwrap_err()
                .contains("field `sales_order_rows`")
        );
    }
}
