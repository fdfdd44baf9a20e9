//! Luca stock cards: `products push` (create the card of every variant that has none,
//! append-only, through the push pipeline) and the Luca half of `products pull` (the
//! SKU → skartId map).

use rusqlite::Connection;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::identity::{DUPLICATE_SKU, card_name};
use super::push::{self, Item, Kind, Lookup};
use crate::context::Ctx;
use crate::entity::Entity;
use crate::luca::{self, LucaClient, cards};
use crate::report::Tally;
use crate::store::catalog;
use crate::store::luca_ids::{self, Source, map_card};

/// Up to this many unmapped SKUs are looked up one by one (`kodBas = kodBit`); more are
/// mapped by code ranges over sorted batches, never by one listing of everything.
const LOOKUPS_BEFORE_RANGES: usize = 3;
/// SKUs per range lookup: few calls for a large catalogue, answers of bounded size.
pub const RANGE_BATCH: usize = 200;

pub struct StockCards;

impl Kind for StockCards {
    fn name(&self) -> Entity {
        Entity::StockCard
    }

    fn endpoint(&self) -> &'static str {
        cards::CREATE
    }

    /// Luca refuses a second card with the same code ("Kart kodu daha önce
    /// kullanılmış"), and that answer is adopted: no lookup is needed first.
    fn look_before_first_create(&self) -> bool {
        false
    }

    async fn lookup(&self, luca: &LucaClient, key: &str) -> Result<Lookup, luca::Error> {
        Ok(match cards::lookup(luca, key).await? {
            Some(card) => Lookup::Found(card.id),
            None => Lookup::Absent,
        })
    }

    fn created_id(&self, answer: &Value) -> Option<i64> {
        cards::created_id(answer)
    }

    fn record(
        &self,
        conn: &Connection,
        key: &str,
        id: Option<i64>,
        adopted: bool,
    ) -> anyhow::Result<()> {
        let source = if adopted {
            Source::Adopted
        } else {
            Source::Push
        };
        map_card(conn, key, id, None, source, &crate::store::now())
    }
}

/// `products push [--sku SKU]...`
pub async fn push(ctx: &Ctx, tally: &mut Tally, skus: Vec<String>) -> anyhow::Result<()> {
    let (items, problems) = cards_to_create(ctx)?;
    let only = (!skus.is_empty()).then_some(skus.as_slice());
    let mut chosen = Vec::new();
    for item in items {
        if only.is_none_or(|s| s.contains(&item.key)) {
            chosen.push(item);
        }
    }
    for (sku, reason) in problems {
        if only.is_none_or(|s| s.contains(&sku)) {
            tally.fail(Entity::Variant, sku, reason);
        }
    }
    if let Some(wanted) = only {
        let known = catalog::live_skus(ctx.store.conn())?;
        for sku in wanted {
            if !known.contains(sku) {
                tally.fail(
                    Entity::Variant,
                    sku.clone(),
                    "no live Katana product variant has this SKU; check it, or run `products pull` first",
                );
            }
        }
    }
    push::run(ctx, tally, &StockCards, chosen, only).await
}

/// A SKU that cannot have a card yet, and why.
type Problem = (String, String);

/// Every variant without a card, as a create body; and the variants that cannot have
/// one yet, with the reason.
fn cards_to_create(ctx: &Ctx) -> anyhow::Result<(Vec<Item>, Vec<Problem>)> {
    let conn = ctx.store.conn();
    let mapping = &ctx.config.mapping;
    let vat = default_sales_vat(conn, mapping)?;
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for c in catalog::variants_without_card(conn, DUPLICATE_SKU)? {
        let catalog::CardCandidate {
            sku,
            option_values: options,
            created_at,
            product,
            uom,
        } = c;
        if product.trim().is_empty() {
            problems.push((
                sku,
                "the product has no name in Katana; give it one".to_string(),
            ));
            continue;
        }
        let unit = uom
            .as_deref()
            .and_then(|u| mapping.units.get(u).copied())
            .unwrap_or(mapping.default_unit_id);
        if unit == 0 {
            problems.push((
                sku,
                format!(
                    "unit \"{}\" has no Luca olcumBirimiId; add it to [mapping.units] or set mapping.default_unit_id",
                    uom.unwrap_or_default()
                ),
            ));
            continue;
        }
        let options: Vec<String> = serde_json::from_str(&options).unwrap_or_default();
        // The card's start date is the variant's creation date, so that the body is the
        // same on every run (a changed body would re-open a refused card).
        let start = created_at
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .unwrap_or_else(jiff::Timestamp::now)
            .to_zoned_datetime(mapping.timezone.clone())
            .date();
        let mut body = json!({
            "kartAdi": card_name(&product, &options),
            "kartKodu": sku,
            "kartTipi": 1,
            "kartTuru": 1,
            "baslangicTarihi": luca::date(start),
            "olcumBirimiId": unit,
            "kategoriAgacKod": mapping.category_code,
            "satilabilirFlag": 1,
            "satinAlinabilirFlag": 1,
            "maliyetHesaplanacakFlag": true,
        });
        if let Some(rate) = vat {
            body["kartAlisKdvOran"] = luca::number(rate);
            body["kartSatisKdvOran"] = luca::number(rate);
        }
        items.push(Item {
            key: sku,
            payload: body,
        });
    }
    Ok((items, problems))
}

/// The VAT fraction of Katana's default sales tax rate (or its override), if Katana
/// names one: a card's VAT is only a default, every invoice line carries its own.
fn default_sales_vat(
    conn: &Connection,
    mapping: &crate::config::MappingConfig,
) -> anyhow::Result<Option<Decimal>> {
    let found = catalog::default_sales_tax_rate(conn);
    Ok(found.and_then(|(id, rate)| {
        mapping.tax_rates.get(&id).copied().or_else(|| {
            rate.and_then(|r| r.parse::<Decimal>().ok())
                .map(|pct| (pct / Decimal::ONE_HUNDRED).normalize())
        })
    }))
}

/// The Luca half of `products pull`: reads the cards of the store's SKUs into the
/// SKU → skartId map. Never touches the store's Katana data.
pub async fn pull(ctx: &Ctx, tally: &mut Tally) -> anyhow::Result<()> {
    let luca = ctx.luca().await?;
    push::learn_wrappers(ctx, luca)?;
    let unmapped = catalog::skus_without_card_id(ctx.store.conn())?;
    if unmapped.is_empty() {
        return Ok(());
    }
    if unmapped.len() <= LOOKUPS_BEFORE_RANGES {
        for sku in unmapped {
            tally.processed += 1;
            match cards::lookup(luca, &sku).await {
                Ok(Some(card)) => {
                    ctx.store.write(|tx| {
                        map_card(
                            tx,
                            &sku,
                            card.id,
                            card.name.as_deref(),
                            Source::Pull,
                            &crate::store::now(),
                        )
                    })?;
                    tally.updated += 1;
                }
                Ok(None) => tally.skipped += 1,
                Err(e) if e.is_fatal() || matches!(e, luca::Error::Unavailable { .. }) => {
                    return Err(e.into());
                }
                Err(e) => tally.fail(Entity::StockCard, sku, format!("lookup failed: {e}")),
            }
        }
        return Ok(());
    }
    // `unmapped` is sorted (SQLite's binary order is Rust's string order), so each batch
    // is a contiguous code range.
    for batch in unmapped.chunks(RANGE_BATCH) {
        let (first, last) = (&batch[0], &batch[batch.len() - 1]);
        let found = cards::in_range(luca, first, last).await?;
        let codes: std::collections::BTreeSet<&str> =
            found.iter().map(|c| c.code.as_str()).collect();
        // A range answer that lacks a card the store already maps in that range looks
        // incomplete, and is never taken for the truth.
        let missing = luca_ids::mapped_in_range(ctx.store.conn(), first, last)?
            .into_iter()
            .filter(|code| !codes.contains(code.as_str()))
            .collect::<Vec<_>>();
        if !missing.is_empty() {
            return Err(crate::error::Error::Unavailable {
                remote: crate::error::Remote::Luca,
                detail: format!(
                    "Luca's stock-card listing from {first} to {last} lacks {} card(s) the store \
                     already maps (e.g. {}); the listing looks incomplete, so nothing was \
                     changed. Run `doctor`, then try again",
                    missing.len(),
                    missing[0]
                ),
            }
            .into());
        }
        let wanted: std::collections::BTreeSet<&String> = batch.iter().collect();
        ctx.store.write(|tx| {
            let now = crate::store::now();
            let mut mapped = 0;
            for card in found.iter().filter(|c| wanted.contains(&c.code)) {
                map_card(
                    tx,
                    &card.code,
                    card.id,
                    card.name.as_deref(),
                    Source::Pull,
                    &now,
                )?;
                mapped += 1;
            }
            tally.processed += batch.len() as u64;
            tally.updated += mapped;
            tally.skipped += batch.len() as u64 - mapped;
            Ok(())
        })?;
    }
    Ok(())
}
