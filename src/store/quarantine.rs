//! Records held back for bad input, with the reason, until fixed at the source.

use crate::entity::Entity;
use crate::report::HeldRecord;
use rusqlite::{Connection, OptionalExtension, params};

/// Holds a record back (or counts another sighting of it).
pub fn hold(
    tx: &Connection,
    entity: Entity,
    key: &str,
    reason: &str,
    raw_json: Option<&str>,
) -> anyhow::Result<()> {
    let now = super::now();
    tx.prepare_cached(
        "INSERT INTO quarantine (entity, key, reason, raw_json, first_seen, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (entity, key) DO UPDATE SET
            reason = excluded.reason, raw_json = excluded.raw_json,
            last_seen = excluded.last_seen, seen_count = seen_count + 1, resolved_at = NULL",
    )?
    .execute(params![entity.as_str(), key, reason, raw_json, now])?;
    Ok(())
}

/// Releases a record that now decodes and maps.
pub fn release(tx: &Connection, entity: Entity, key: &str) -> anyhow::Result<()> {
    tx.prepare_cached(
        "UPDATE quarantine SET resolved_at = ?3
         WHERE entity = ?1 AND key = ?2 AND resolved_at IS NULL",
    )?
    .execute(params![entity.as_str(), key, super::now()])?;
    Ok(())
}

/// Every record of `entities` still held, oldest first, as a run reports it. A held row
/// of an entity this binary does not know is an error, never left out: it was written
/// by a newer katana-sync or by hand, and would otherwise drop out of every report.
pub fn still_held(conn: &Connection, entities: &[Entity]) -> anyhow::Result<Vec<HeldRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT rowid, entity, key, reason, first_seen FROM quarantine
         WHERE resolved_at IS NULL
           AND (entity IN (SELECT value FROM json_each(?1))
                OR entity NOT IN (SELECT value FROM json_each(?2)))
         ORDER BY first_seen, entity, key",
    )?;
    let raw: Vec<(i64, String, String, String, String)> = stmt
        .query_map(
            [
                serde_json::to_string(entities)?,
                serde_json::to_string(&Entity::ALL)?,
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?
        .collect::<Result<_, _>>()?;
    raw.into_iter()
        .map(|(id, entity, key, reason, since)| {
            Ok(HeldRecord {
                entity: super::stored_entity("quarantine", id, &entity)?,
                key,
                reason,
                since,
            })
        })
        .collect()
}

/// Whether `key` of `entity` is held now.
pub fn is_held(conn: &Connection, entity: Entity, key: &str) -> anyhow::Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM quarantine WHERE entity = ?1 AND key = ?2 AND resolved_at IS NULL",
        )?
        .query_row([entity.as_str(), key], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The keys of `entity` held now.
pub fn held_keys(conn: &Connection, entity: Entity) -> anyhow::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT key FROM quarantine WHERE entity = ?1 AND resolved_at IS NULL")?;
    let keys = stmt
        .query_map([entity.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store;

    #[test]
    fn hold_counts_and_release_resolves() {
        let (_d, s) = temp_store();
        s.write(|tx| hold(tx, Entity::Variant, "7", "null SKU", None))
            .unwrap();
        s.write(|tx| hold(tx, Entity::Variant, "7", "null SKU", Some("{}")))
            .unwrap();
        let (count, resolved): (i64, Option<String>) = s
            .conn()
            .query_row(
                "SELECT seen_count, resolved_at FROM quarantine WHERE key = '7'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((count, resolved), (2, None));
        s.write(|tx| release(tx, Entity::Variant, "7")).unwrap();
        let resolved: Option<String> = s
            .conn()
            .query_row(
                "SELECT resolved_at FROM quarantine WHERE key = '7'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(resolved.is_some());
        assert!(
            s.write(|tx| still_held(tx, &[Entity::Variant]))
                .unwrap()
                .is_empty()
        );
        s.write(|tx| hold(tx, Entity::Sku, "A", "shared", None))
            .unwrap();
        let held = still_held(s.conn(), &[Entity::Variant, Entity::Sku]).unwrap();
        assert_eq!(held.len(), 1);
        assert_eq!((held[0].entity, held[0].key.as_str()), (Entity::Sku, "A"));
    }

    #[test]
    fn a_held_row_of_an_unknown_entity_is_an_error_not_left_out() {
        let (_d, s) = temp_store();
        s.write(|tx| hold(tx, Entity::SalesOrder, "SO-1", "r", None))
            .unwrap();
        s.conn()
            .execute_batch(
                "INSERT INTO quarantine (entity, key, reason, first_seen, last_seen)
                 VALUES ('gadget', 'G-1', 'r', 't', 't')",
            )
            .unwrap();
        let err = still_held(s.conn(), &[Entity::SalesOrder])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("quarantine row 2 has entity \"gadget\"")
                && err.contains("newer katana-sync"),
            "{err}"
        );
        // Once resolved it is no longer held, and no longer read.
        s.conn()
            .execute_batch("UPDATE quarantine SET resolved_at = 't' WHERE entity = 'gadget'")
            .unwrap();
        assert_eq!(
            still_held(s.conn(), &[Entity::SalesOrder]).unwrap().len(),
            1
        );
    }
}
