//! `delete-sku SKU`: deletes the Luca stock card of a SKU. The id comes from the store
//! when known (no listing at all), else from one filtered lookup by code, whose id is
//! then stored.

use std::time::Instant;

use serde::Serialize;

use crate::context::Ctx;
use crate::entity::Entity;
use crate::luca::{Outcome, cards};
use crate::report::Tally;
use crate::store::luca_ids::{Source, card_of, map_card, unmap_card};
use crate::store::outbox;

#[derive(Debug, Clone, Serialize)]
pub struct Deletion {
    pub sku: String,
    pub luca_id: Option<i64>,
    /// "store" or "luca": where the id came from.
    pub lookup: &'static str,
    pub elapsed_ms: u64,
    pub deleted: bool,
    /// The person answered no at the prompt.
    #[serde(skip)]
    pub declined: bool,
}

/// Finds the card, asks `confirm` (unless it says yes at once), deletes it.
pub async fn run(
    ctx: &Ctx,
    tally: &mut Tally,
    sku: &str,
    confirm: &dyn Fn(&str, i64) -> anyhow::Result<bool>,
    out: &mut Option<Deletion>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let sku = sku.trim();
    tally.processed = 1;
    let luca = ctx.luca().await?;
    let (id, lookup) = match card_of(ctx.store.conn(), sku)? {
        Some(Some(id)) => (Some(id), "store"),
        _ => {
            let found = cards::lookup(luca, sku).await?;
            if let Some(card) = &found
                && let Some(id) = card.id
            {
                ctx.store.write(|tx| {
                    map_card(
                        tx,
                        sku,
                        Some(id),
                        card.name.as_deref(),
                        Source::Pull,
                        &crate::store::now(),
                    )
                })?;
            }
            (found.and_then(|c| c.id), "luca")
        }
    };
    let mut report = Deletion {
        sku: sku.to_string(),
        luca_id: id,
        lookup,
        elapsed_ms: 0,
        deleted: false,
        declined: false,
    };
    let Some(id) = id else {
        tally.fail(
            Entity::StockCard,
            sku,
            "Luca has no stock card with this code (looked it up by code); check the SKU",
        );
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        *out = Some(report);
        return Ok(());
    };
    if ctx.dry_run() {
        tally.skipped = 1;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        *out = Some(report);
        return Ok(());
    }
    if !confirm(sku, id)? {
        // Not what was asked for: the pass did not do its one job (exit 1).
        tally.fail(
            Entity::StockCard,
            sku,
            "not deleted: the deletion was not confirmed",
        );
        report.declined = true;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        *out = Some(report);
        return Ok(());
    }
    match cards::delete(luca, id).await? {
        Outcome::Done(_) => {
            ctx.store.write(|tx| {
                unmap_card(tx, sku)?;
                // Forgotten on purpose: while Katana still has a live variant with this SKU,
                // the next `products push` creates a fresh card.
                outbox::forget(tx, Entity::StockCard, sku)
            })?;
            tally.updated = 1;
            report.deleted = true;
        }
        Outcome::Rejected(msg) | Outcome::Exists(msg) => {
            tally.fail(
                Entity::StockCard,
                sku,
                format!("Luca refused the deletion: {msg}"),
            );
        }
        Outcome::Unknown(why) => tally.fail(
            Entity::StockCard,
            sku,
            format!(
                "the deletion's outcome is unknown ({why}); check Luca, then run delete-sku again"
            ),
        ),
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    *out = Some(report);
    Ok(())
}
