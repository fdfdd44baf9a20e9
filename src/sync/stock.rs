//! `stock`: Katana's inventory against Luca's on-hand quantities, the drift between them
//! as adjustments in the approval queue, and approved drift adjustments sent to Luca as
//! stock slips through the exactly-once pipeline (docs/stock.md).
//!
//! Luca has no list of slips, so a slip whose outcome is unclear can never be looked
//! up: it is never sent again by itself. Its adjustment becomes `unknown`, each run says
//! whether its drift has closed since, and `adjustments resolve` settles it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::Connection;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::identity::warehouse_code;
use super::push::{self, Item, Kind, Lookup};
use crate::context::Ctx;
use crate::entity::Entity;
use crate::katana::model::{InventoryLevel, decode};
use crate::luca::{self, LucaClient};
use crate::report::{Tally, UnknownSlip};
use crate::store::luca_ids;
use crate::store::stock::{self, DriftAdjustment, Level, SLIP_KIND, slip_key};

/// Stock slips (`EkleStkWsDshBaslik.do`), keyed by the adjustment they apply.
pub struct StockSlips;

impl Kind for StockSlips {
    fn name(&self) -> Entity {
        SLIP_KIND
    }

    fn endpoint(&self) -> &'static str {
        luca::stock::SLIP_CREATE
    }

    /// There is nothing to look a slip up by; a never-sent one is simply sent.
    fn look_before_first_create(&self) -> bool {
        false
    }

    async fn lookup(&self, _luca: &LucaClient, _key: &str) -> Result<Lookup, luca::Error> {
        Ok(Lookup::Unsupported)
    }

    fn created_id(&self, answer: &Value) -> Option<i64> {
        luca::stock::created_id(answer)
    }

    /// The adjustment is applied in the transaction that records its slip as done.
    fn record(
        &self,
        conn: &Connection,
        key: &str,
        _id: Option<i64>,
        _adopted: bool,
    ) -> anyhow::Result<()> {
        stock::apply_slip(conn, key, &crate::store::now())
    }
}

pub async fn run(ctx: &Ctx, tally: &mut Tally) -> anyhow::Result<()> {
    // Outcomes of earlier runs (one killed while sending too) reach their adjustments
    // before anything is judged, so a slip that may have landed is never superseded.
    ctx.store
        .write(|tx| stock::settle_from_slips(tx, &crate::store::now()))?;
    let unknown_before = stock::unknown_adjustments(ctx.store.conn())?;

    let (levels, held_variants) = pull_inventory(ctx, tally).await?;
    let mapping = &ctx.config.mapping;
    let warehouse_of = |location: i64| warehouse_code(mapping, Some(location));
    let wanted: BTreeSet<String> = levels
        .iter()
        .filter_map(|l| warehouse_of(l.location_id))
        .chain(
            stock::live_adjustments(ctx.store.conn())?
                .into_iter()
                .map(|a| a.warehouse),
        )
        .collect();
    let on_hand = pull_on_hand(ctx, tally, &wanted).await?;
    let read: BTreeSet<String> = on_hand.keys().cloned().collect();

    let now = crate::store::now();
    let (drift, reconciled) = ctx.store.write(|tx| {
        stock::replace_inventory(tx, &levels, &now)?;
        stock::replace_on_hand(tx, &on_hand, &now)?;
        let drift = stock::drift(tx, &read, &held_variants, &warehouse_of)?;
        let reconciled = stock::reconcile(tx, &drift, ctx.config.sync.auto_approve, &now)?;
        Ok((drift, reconciled))
    })?;
    tally.processed += drift.compared.len() as u64;
    tally.skipped += (drift.compared.len() - drift.lines.len()) as u64;
    tally.extra.adjustments_created = Some(reconciled.created);
    say_what_was_not_compared(tally, &drift);
    if reconciled.superseded > 0 {
        tally.say(format!(
            "{} drift adjustment(s) superseded: their drift changed or closed by itself",
            reconciled.superseded
        ));
    }
    let deltas: HashMap<(&str, &str), Decimal> = drift
        .lines
        .iter()
        .map(|l| ((l.sku.as_str(), l.warehouse.as_str()), l.delta))
        .collect();
    for a in &unknown_before {
        let compared = drift
            .compared
            .contains(&(a.sku.clone(), a.warehouse.clone()));
        let now = compared.then(|| {
            deltas
                .get(&(a.sku.as_str(), a.warehouse.as_str()))
                .copied()
                .unwrap_or_default()
        });
        tally.extra.unknown_slips.push(UnknownSlip {
            adjustment_id: a.id,
            sku: a.sku.clone(),
            warehouse: a.warehouse.clone(),
            quantity: a.quantity,
            drift_now: now,
            drift_closed: now.map(|d| d.is_zero()),
        });
    }
    tally.extra.drift = Some(drift.lines);

    send_slips(ctx, tally).await?;
    let known: BTreeSet<i64> = unknown_before.iter().map(|a| a.id).collect();
    for a in stock::unknown_adjustments(ctx.store.conn())? {
        if !known.contains(&a.id) {
            tally.extra.unknown_slips.push(UnknownSlip {
                adjustment_id: a.id,
                sku: a.sku,
                warehouse: a.warehouse,
                quantity: a.quantity,
                drift_now: None,
                drift_closed: None,
            });
        }
    }
    Ok(())
}

/// Katana's whole inventory (no delta filter exists), archived variants included, at
/// `page_size` per page and within the rate limit. Also the variants whose level could
/// not be read: their SKUs are not compared this run.
async fn pull_inventory(
    ctx: &Ctx,
    tally: &mut Tally,
) -> anyhow::Result<(Vec<Level>, BTreeSet<i64>)> {
    let katana = ctx.katana().await?;
    let query = [("include_archived", "true".to_string())];
    let mut levels: BTreeMap<(i64, i64), Level> = BTreeMap::new();
    let mut held = BTreeSet::new();
    let mut page = 1u32;
    loop {
        ctx.check_stop()?;
        let p = katana.page("/inventory", &query, page).await?;
        let n = p.records.len();
        for raw in &p.records {
            let decoded = decode::<InventoryLevel>(raw);
            let ids = match &decoded {
                Ok(l) => (l.variant_id, l.location_id),
                Err(_) => (
                    raw.get("variant_id").and_then(Value::as_i64),
                    raw.get("location_id").and_then(Value::as_i64),
                ),
            };
            let (Some(variant_id), Some(location_id)) = ids else {
                // A level that names no variant cannot be set aside by SKU: the
                // snapshot would read that stock as zero, so nothing is compared.
                anyhow::bail!(crate::error::Error::Unavailable {
                    remote: crate::error::Remote::Katana,
                    detail: format!(
                        "Katana's /inventory listed a level without a variant or location id \
                         ({}); the snapshot is incomplete, so no drift was computed. Report it \
                         to Katana; the next run reads the inventory again",
                        crate::luca::answer::excerpt(&raw.to_string())
                    ),
                });
            };
            match decoded {
                Ok(InventoryLevel {
                    quantity_in_stock: Some(quantity),
                    average_cost,
                    ..
                }) => {
                    levels.insert(
                        (variant_id, location_id),
                        Level {
                            variant_id,
                            location_id,
                            quantity,
                            average_cost,
                        },
                    );
                }
                other => {
                    let reason = match other {
                        Err(reason) => reason,
                        Ok(_) => "no quantity_in_stock".to_string(),
                    };
                    held.insert(variant_id);
                    tally.fail(
                        Entity::Inventory,
                        format!("variant {variant_id} at location {location_id}"),
                        format!(
                            "{reason}; this variant's stock is not compared until Katana \
                             reports it readably"
                        ),
                    );
                }
            }
        }
        let pg = &p.pagination;
        let last = pg.last_page.unwrap_or(false)
            || pg.total_pages.is_some_and(|t| u64::from(page) >= t)
            || n < katana.page_size as usize;
        if last {
            break;
        }
        page += 1;
    }
    Ok((levels.into_values().collect(), held))
}

/// Luca's on-hand quantities of each warehouse in `wanted` that Luca has, each read
/// whole; a warehouse that cannot be read is reported and left out of this run's drift.
async fn pull_on_hand(
    ctx: &Ctx,
    tally: &mut Tally,
    wanted: &BTreeSet<String>,
) -> anyhow::Result<BTreeMap<String, Vec<(String, Decimal)>>> {
    let mut out = BTreeMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    let luca = ctx.luca().await?;
    push::learn_wrappers(ctx, luca)?;
    let mut ids = stock::warehouse_ids(ctx.store.conn())?;
    if wanted.iter().any(|w| !ids.contains_key(w)) {
        let listed = luca::accounts::warehouses(luca).await?;
        ctx.store.write(|tx| {
            let now = crate::store::now();
            for w in &listed {
                let name = w.name.as_deref();
                luca_ids::map_warehouse(tx, &w.code, w.id, name, luca_ids::Source::Pull, &now)?;
            }
            Ok(())
        })?;
        ids = stock::warehouse_ids(ctx.store.conn())?;
    }
    for code in wanted {
        let Some(&id) = ids.get(code) else {
            tally.fail(
                Entity::Warehouse,
                code.clone(),
                "Luca has no warehouse with this code, so its stock is not compared; run \
                 `warehouses push` or fix [mapping.warehouses]",
            );
            continue;
        };
        match luca::stock::on_hand(luca, id).await {
            Ok(lines) => {
                let mut merged: BTreeMap<String, Decimal> = BTreeMap::new();
                for l in lines {
                    *merged.entry(l.code).or_default() += l.quantity;
                }
                out.insert(code.clone(), merged.into_iter().collect());
            }
            Err(e) if e.is_fatal() || matches!(e, luca::Error::Unavailable { .. }) => {
                return Err(e.into());
            }
            Err(e) => tally.fail(
                Entity::Warehouse,
                code.clone(),
                format!(
                    "its on-hand list could not be read ({e}); its stock is not compared this run"
                ),
            ),
        }
    }
    Ok(out)
}

fn say_what_was_not_compared(tally: &mut Tally, drift: &stock::Drift) {
    let some = |set: &BTreeSet<String>| {
        let first: Vec<&str> = set.iter().take(5).map(String::as_str).collect();
        format!(
            "{}{}",
            first.join(", "),
            if set.len() > 5 { ", …" } else { "" }
        )
    };
    if !drift.without_card.is_empty() {
        tally.say(format!(
            "{} SKU(s) with Katana stock have no Luca stock card, so their stock is not \
             compared ({}); run `products push`",
            drift.without_card.len(),
            some(&drift.without_card)
        ));
    }
    if !drift.unknown_to_katana.is_empty() {
        tally.say(format!(
            "{} Luca stock code(s) with stock on hand are not Katana SKUs and are not compared \
             ({})",
            drift.unknown_to_katana.len(),
            some(&drift.unknown_to_katana)
        ));
    }
    if !drift.unmapped_locations.is_empty() {
        let ids: Vec<String> = drift
            .unmapped_locations
            .iter()
            .map(i64::to_string)
            .collect();
        tally.say(format!(
            "stock at Katana location(s) {} is not compared: no Luca warehouse is mapped; add \
             them to [mapping.warehouses] or set mapping.default_warehouse",
            ids.join(", ")
        ));
    }
    if !drift.unknown_variants.is_empty() {
        tally.say(format!(
            "stock of {} variant(s) the store does not know is not compared; run `products pull`",
            drift.unknown_variants.len()
        ));
    }
}

/// Sends the slip of every approved drift adjustment through the push pipeline.
async fn send_slips(ctx: &Ctx, tally: &mut Tally) -> anyhow::Result<()> {
    let conn = ctx.store.conn();
    let mut slips = Vec::new();
    for a in stock::approved_adjustments(conn)? {
        if crate::store::luca_ids::card_of(conn, &a.sku)?.is_none() {
            tally.fail(
                SLIP_KIND,
                slip_key(a.id),
                format!(
                    "{} has no Luca stock card; run `products push`, then `stock` again",
                    a.sku
                ),
            );
            continue;
        }
        let cost = stock::average_cost(conn, &a.sku)?;
        slips.push((a.id, slip_payload(ctx, &a, cost)));
    }
    ctx.store
        .write(|tx| stock::enqueue_slips(tx, &slips, &crate::store::now()))?;
    let items = slips
        .into_iter()
        .map(|(id, payload)| Item {
            key: slip_key(id),
            payload,
        })
        .collect();
    let result = push::run(ctx, tally, &StockSlips, items, None).await;
    // Whatever ended the push, the outcomes it committed reach their adjustments.
    ctx.store
        .write(|tx| stock::settle_from_slips(tx, &crate::store::now()))?;
    result
}

/// A stock slip for one drift adjustment: in (stock_in_doc_type) when Katana holds more,
/// out (stock_out_doc_type) when Luca does; dated the day the drift was seen (so the
/// body is the same on every run), the adjustment named in `belgeAciklama` and
/// `belgeTakipNo`.
fn slip_payload(ctx: &Ctx, a: &DriftAdjustment, cost: Option<Decimal>) -> Value {
    let mapping = &ctx.config.mapping;
    let doc_type = if a.quantity > Decimal::ZERO {
        mapping.stock_in_doc_type
    } else {
        mapping.stock_out_doc_type
    };
    let date = a
        .created_at
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_zoned_datetime(mapping.timezone.clone())
        .date();
    let signed = if a.quantity > Decimal::ZERO {
        format!("+{}", a.quantity)
    } else {
        a.quantity.to_string()
    };
    let mut line = json!({
        "kartTuru": 1,
        "kartKodu": a.sku,
        "miktar": luca::number(a.quantity.abs()),
        "depoKodu": a.warehouse,
    });
    if let Some(c) = cost {
        line["birimFiyat"] = luca::number(c);
    }
    json!({
        "belgeSeri": mapping.invoice_series,
        "belgeTurDetayId": doc_type,
        "belgeTarihi": luca::date(date),
        "belgeTakipNo": slip_key(a.id),
        "belgeAciklama": format!(
            "katana-sync stok farkı düzeltmesi {} ({} {}: {signed})",
            slip_key(a.id),
            a.sku,
            a.warehouse
        ),
        "paraBirimKod": "TRY",
        "depoKodu": a.warehouse,
        "detayList": [line],
    })
}
