//! The sync passes, one file each. A pass reads from a remote client, maps, and writes
//! the store; a push reads the store and writes Luca through `push`, the one
//! exactly-once pipeline. Passes never call each other.

pub mod accounts;
pub mod delete_sku;
pub mod despatches;
pub mod identity;
pub mod invoices;
pub mod lookups;
pub mod orders;
pub mod partners;
pub mod products;
pub mod push;
pub mod stock;
pub mod stock_cards;
pub mod warehouses;
pub mod window;

use serde_json::Value;

use crate::entity::Entity;
use crate::katana::model::decode;
use crate::report::Tally;
use crate::store::catalog::Change;

/// Pulls one Katana entity through its incremental window: each record decoded and
/// stored by `store` in its page's transaction (which also saves the watermark), a
/// record that cannot be decoded quarantined with its raw JSON.
pub async fn pull_entity<T, F>(
    ctx: &crate::context::Ctx,
    tally: &mut Tally,
    entity: Entity,
    path: &'static str,
    filters: window::Filters,
    mut store: F,
) -> anyhow::Result<()>
where
    T: for<'de> serde::Deserialize<'de>,
    F: FnMut(&rusqlite::Connection, &T, &str, &mut Tally) -> anyhow::Result<Change>,
{
    let mut window = window::Window::open(ctx, entity.as_str(), path, filters).await?;
    // A walk that backs up meets some records twice; each counts once.
    let mut met = std::collections::HashSet::new();
    while let Some(page) = window.next().await? {
        ctx.store.write(|tx| {
            for raw in &page.records {
                let text = raw.to_string();
                let key = raw.get("id").map_or("?".into(), Value::to_string);
                let first = met.insert(key.clone());
                match decode::<T>(raw) {
                    Ok(record) => {
                        crate::store::quarantine::release(tx, entity, &key)?;
                        let failed_before = tally.failed;
                        let change = store(tx, &record, &text, tally)?;
                        // A record `store` held back (a variant without a SKU) counts
                        // as failed, not also as stored.
                        if first {
                            tally.processed += 1;
                            if tally.failed == failed_before {
                                tally.stored(ctx.dry_run(), entity, &key, change);
                            }
                        }
                    }
                    Err(reason) => {
                        crate::store::quarantine::hold(tx, entity, &key, &reason, Some(&text))?;
                        if first {
                            tally.processed += 1;
                            tally.fail(entity, key, reason);
                        }
                    }
                }
            }
            page.save_position(tx)
        })?;
        ctx.checkpoint(tally)?;
        ctx.check_stop()?;
    }
    Ok(())
}
