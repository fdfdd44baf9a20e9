//! Per-entity watermarks of the incremental pulls, and the cursor of a walk in progress.

use rusqlite::{Connection, OptionalExtension, params};

use super::Store;

/// Where a walk of one entity's window stands, as its last committed page left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// `updated_at_min`; `None` for a backfill (no watermark yet).
    pub lo: Option<jiff::Timestamp>,
    /// `updated_at_max`, fixed when the walk started.
    pub hi: jiff::Timestamp,
    pub page_size: u32,
    pub next_page: u32,
    /// The window's size as the last committed page reported it.
    pub last_total: Option<u64>,
    pub started_at: String,
}

impl Store {
    pub fn watermark(&self, entity: &str) -> anyhow::Result<Option<jiff::Timestamp>> {
        watermark(self.conn(), entity)
    }

    /// The walk of `entity` that an earlier run left unfinished, if any.
    pub fn cursor(&self, entity: &str) -> anyhow::Result<Option<Cursor>> {
        struct Stored {
            lo: Option<String>,
            hi: String,
            page_size: u32,
            next_page: u32,
            last_total: Option<i64>,
            started_at: String,
        }
        let row = self
            .conn()
            .query_row(
                "SELECT lo, hi, page_size, next_page, last_total, started_at
                 FROM walk_cursors WHERE entity = ?1",
                [entity],
                |r| {
                    Ok(Stored {
                        lo: r.get(0)?,
                        hi: r.get(1)?,
                        page_size: r.get(2)?,
                        next_page: r.get(3)?,
                        last_total: r.get(4)?,
                        started_at: r.get(5)?,
                    })
                },
            )
            .optional()?;
        let Some(Stored {
            lo,
            hi,
            page_size,
            next_page,
            last_total,
            started_at,
        }) = row
        else {
            return Ok(None);
        };
        // A cursor the store cannot read back is refused rather than guessed at: a
        // wrong bound could skip records for good.
        let parse = |t: &str| {
            t.parse::<jiff::Timestamp>().map_err(|e| {
                anyhow::anyhow!(
                    "the store's walk cursor of {entity} holds an unreadable time {t:?} ({e})"
                )
            })
        };
        Ok(Some(Cursor {
            lo: lo.as_deref().map(parse).transpose()?,
            hi: parse(&hi)?,
            page_size,
            next_page: next_page.max(1),
            last_total: last_total.map(|t| t.max(0) as u64),
            started_at,
        }))
    }
}

pub fn watermark(conn: &Connection, entity: &str) -> anyhow::Result<Option<jiff::Timestamp>> {
    let text: Option<String> = conn
        .query_row(
            "SELECT updated_at FROM watermarks WHERE entity = ?1",
            [entity],
            |r| r.get(0),
        )
        .optional()?;
    text.map(|t| {
        t.parse().map_err(|e| {
            anyhow::anyhow!("the store's watermark of {entity} is unreadable: {t:?} ({e})")
        })
    })
    .transpose()
}

/// Saves a watermark inside the transaction that stores the data it covers.
pub fn set_watermark(tx: &Connection, entity: &str, at: jiff::Timestamp) -> anyhow::Result<()> {
    tx.prepare_cached(
        "INSERT INTO watermarks (entity, updated_at) VALUES (?1, ?2)
         ON CONFLICT (entity) DO UPDATE SET updated_at = excluded.updated_at",
    )?
    .execute(params![entity, super::format_ts(at)])?;
    Ok(())
}

/// Saves where a walk stands, inside the transaction of the page it has just judged.
pub fn save_cursor(tx: &Connection, entity: &str, c: &Cursor) -> anyhow::Result<()> {
    tx.prepare_cached(
        "INSERT INTO walk_cursors (entity, lo, hi, page_size, next_page, last_total, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (entity) DO UPDATE SET lo = excluded.lo, hi = excluded.hi,
             page_size = excluded.page_size, next_page = excluded.next_page,
             last_total = excluded.last_total, started_at = excluded.started_at",
    )?
    .execute(params![
        entity,
        c.lo.map(super::format_ts),
        super::format_ts(c.hi),
        c.page_size,
        c.next_page,
        c.last_total.map(|t| t as i64),
        c.started_at,
    ])?;
    Ok(())
}

/// Ends a walk: its watermark has moved, in the same transaction.
pub fn clear_cursor(tx: &Connection, entity: &str) -> anyhow::Result<()> {
    tx.prepare_cached("DELETE FROM walk_cursors WHERE entity = ?1")?
        .execute([entity])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store;

    #[test]
    fn watermark_round_trip() {
        let (_d, s) = temp_store();
        assert_eq!(s.watermark("sales_orders").unwrap(), None);
        let t: jiff::Timestamp = "2026-11-28T10:00:00.123Z".parse().unwrap();
        s.write(|tx| set_watermark(tx, "sales_orders", t)).unwrap();
        assert_eq!(s.watermark("sales_orders").unwrap(), Some(t));
    }

    #[test]
    fn cursor_round_trip_and_clear() {
        let (_d, s) = temp_store();
        assert_eq!(s.cursor("sales_orders").unwrap(), None);
        let c = Cursor {
            lo: None,
            hi: "2026-11-28T10:00:00.123Z".parse().unwrap(),
            page_size: 250,
            next_page: 7,
            last_total: Some(1700),
            started_at: "2026-11-28T10:00:00.200Z".into(),
        };
        s.write(|tx| save_cursor(tx, "sales_orders", &c)).unwrap();
        assert_eq!(s.cursor("sales_orders").unwrap(), Some(c.clone()));
        let moved = Cursor {
            lo: Some("2026-11-28T09:50:00Z".parse().unwrap()),
            next_page: 8,
            ..c
        };
        s.write(|tx| save_cursor(tx, "sales_orders", &moved))
            .unwrap();
        assert_eq!(s.cursor("sales_orders").unwrap(), Some(moved));
        s.write(|tx| clear_cursor(tx, "sales_orders")).unwrap();
        assert_eq!(s.cursor("sales_orders").unwrap(), None);
    }

    #[test]
    fn an_unreadable_watermark_is_an_error_not_a_backfill() {
        let (_d, s) = temp_store();
        s.conn()
            .execute(
                "INSERT INTO watermarks (entity, updated_at) VALUES ('x', 'yesterday')",
                [],
            )
            .unwrap();
        assert!(s.watermark("x").is_err());
    }
}
