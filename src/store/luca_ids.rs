//! The store's map of Luca identities: SKU → skartId (and, for later passes, account
//! codes and warehouse codes).

use rusqlite::{Connection, OptionalExtension, params};

/// Where a mapping came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// We created the object.
    Push,
    /// It existed; a create answered "already exists" or a lookup found it.
    Adopted,
    /// Read from Luca by `products pull --from luca` or `delete-sku`.
    Pull,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Push => "push",
            Source::Adopted => "adopted",
            Source::Pull => "pull",
        }
    }
}

/// Maps a stock code to its card. A known id is never replaced by an unknown one.
pub fn map_card(
    conn: &Connection,
    sku: &str,
    skart_id: Option<i64>,
    name: Option<&str>,
    source: Source,
    now: &str,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO luca_stock_cards (sku, skart_id, name, source, seen_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (sku) DO UPDATE SET skart_id = coalesce(excluded.skart_id, skart_id),
            name = coalesce(excluded.name, name), seen_at = excluded.seen_at",
        params![sku, skart_id, name, source.as_str(), now],
    )?;
    Ok(())
}

/// The card of a stock code: `None` when unmapped; `Some(None)` when a card is known
/// to exist but its id is not.
pub fn card_of(conn: &Connection, sku: &str) -> anyhow::Result<Option<Option<i64>>> {
    Ok(conn
        .query_row(
            "SELECT skart_id FROM luca_stock_cards WHERE sku = ?1",
            [sku],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn unmap_card(conn: &Connection, sku: &str) -> anyhow::Result<()> {
    conn.execute("DELETE FROM luca_stock_cards WHERE sku = ?1", [sku])?;
    Ok(())
}

/// How many cards the store maps with a known id.
pub fn mapped_card_count(conn: &Connection) -> anyhow::Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM luca_stock_cards WHERE skart_id IS NOT NULL",
        [],
        |r| r.get(0),
    )?)
}

/// The codes the store maps to a card id, within `[first, last]`.
pub fn mapped_in_range(conn: &Connection, first: &str, last: &str) -> anyhow::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT sku FROM luca_stock_cards WHERE skart_id IS NOT NULL AND sku >= ?1 AND sku <= ?2",
    )?;
    let codes = stmt
        .query_map([first, last], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(codes)
}
