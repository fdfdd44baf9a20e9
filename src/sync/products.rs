//! `products pull`: Katana products, variants and tax rates into the store
//! (incrementally); Luca stock cards into the SKU → skartId map. `products push`
//! lives with the cards, in `stock_cards`.

use rusqlite::Connection;
use serde_json::Value;

use super::identity::{DUPLICATE_SKU, stock_code};
use super::window::Filters;
use crate::context::Ctx;
use crate::entity::Entity;
use crate::katana::model::{Product, TaxRate, Variant, decode};
use crate::report::Tally;
use crate::store::catalog::{
    Change, duplicate_skus, upsert_product, upsert_tax_rate, upsert_variant,
};
use crate::store::quarantine;

pub use super::stock_cards::push;

/// Which side `products pull` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullFrom {
    Katana,
    Luca,
    Both,
}

pub async fn pull(ctx: &Ctx, tally: &mut Tally, from: PullFrom) -> anyhow::Result<()> {
    if matches!(from, PullFrom::Katana | PullFrom::Both) {
        pull_katana(ctx, tally).await?;
    }
    if matches!(from, PullFrom::Luca | PullFrom::Both) {
        super::stock_cards::pull(ctx, tally).await?;
    }
    Ok(())
}

async fn pull_katana(ctx: &Ctx, tally: &mut Tally) -> anyhow::Result<()> {
    let deleted = Filters {
        include_deleted: true,
    };
    super::pull_entity::<Product, _>(
        ctx,
        tally,
        Entity::Products,
        "/products",
        deleted,
        |tx, p, raw, tally| {
            let name = p.name.clone().unwrap_or_default();
            let change = upsert_product(tx, p, &name, raw)?;
            // Embedded variants ride along; the variant list below catches the rest.
            for v in p.variants.iter().flatten() {
                match decode::<Variant>(v) {
                    Ok(variant) => {
                        store_variant(tx, &variant, &v.to_string(), tally)?;
                    }
                    Err(reason) => hold_variant(tx, v, &reason, tally)?,
                }
            }
            Ok(change)
        },
    )
    .await?;
    super::pull_entity::<Variant, _>(
        ctx,
        tally,
        Entity::Variants,
        "/variants",
        deleted,
        store_variant,
    )
    .await?;
    // Katana's tax rates have no `include_deleted`.
    super::pull_entity::<TaxRate, _>(
        ctx,
        tally,
        Entity::TaxRates,
        "/tax_rates",
        Filters {
            include_deleted: false,
        },
        |tx, t, raw, _| upsert_tax_rate(tx, t, raw),
    )
    .await?;
    ctx.store.write(|tx| judge_duplicate_skus(tx, tally))
}

/// Stores a variant; one without a SKU can never get a stock card, so it is held.
fn store_variant(
    tx: &Connection,
    v: &Variant,
    raw: &str,
    tally: &mut Tally,
) -> anyhow::Result<Change> {
    let sku = stock_code(v.sku.as_deref());
    let change = upsert_variant(tx, v, sku.as_deref(), raw)?;
    let key = v.id.to_string();
    if sku.is_none() && v.at.deleted_at.is_none() {
        let reason = "the variant has no SKU; set one in Katana".to_string();
        quarantine::hold(tx, Entity::Variant, &key, &reason, Some(raw))?;
        tally.fail(Entity::Variant, key, reason);
    } else {
        quarantine::release(tx, Entity::Variant, &key)?;
    }
    Ok(change)
}

fn hold_variant(
    tx: &Connection,
    raw: &Value,
    reason: &str,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let key = raw.get("id").map_or("?".into(), Value::to_string);
    quarantine::hold(tx, Entity::Variant, &key, reason, Some(&raw.to_string()))?;
    tally.fail(Entity::Variant, key, reason.to_string());
    Ok(())
}

/// A SKU carried by several live variants cannot name one stock card: all of them are
/// held until Katana is corrected; a SKU no longer shared is released.
fn judge_duplicate_skus(tx: &Connection, tally: &mut Tally) -> anyhow::Result<()> {
    let dups = duplicate_skus(tx)?;
    for key in quarantine::held_keys(tx, DUPLICATE_SKU)? {
        if !dups.iter().any(|(sku, _)| *sku == key) {
            quarantine::release(tx, DUPLICATE_SKU, &key)?;
        }
    }
    for (sku, ids) in dups {
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        let reason = format!(
            "SKU carried by variants {}; give each a distinct SKU in Katana",
            ids.join(", ")
        );
        quarantine::hold(tx, DUPLICATE_SKU, &sku, &reason, None)?;
        // The variants themselves were counted when they were stored.
        tally.note(DUPLICATE_SKU, sku, reason);
    }
    Ok(())
}
