//! Per-entity watermarks of the incremental pulls.

use rusqlite::{Connection, OptionalExtension, params};

use super::Store;

impl Store {
    pub fn watermark(&self, entity: &str) -> anyhow::Result<Option<jiff::Timestamp>> {
        let text: Option<String> = self
            .conn()
            .query_row(
                "SELECT updated_at FROM watermarks WHERE entity = ?1",
                [entity],
                |r| r.get(0),
            )
            .optional()?;
        Ok(text.and_then(|t| t.parse().ok()))
    }
}

/// Saves a watermark inside the transaction that stores the data it covers.
pub fn set_watermark(tx: &Connection, entity: &str, at: jiff::Timestamp) -> anyhow::Result<()> {
    tx.execute(
        "INSERT INTO watermarks (entity, updated_at) VALUES (?1, ?2)
         ON CONFLICT (entity) DO UPDATE SET updated_at = excluded.updated_at",
        params![entity, super::format_ts(at)],
    )?;
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
}
