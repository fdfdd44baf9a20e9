//! What the tool has learnt about the Luca tenant (`luca_findings`): facts the reference
//! leaves open, established by `doctor --probe` or noticed by a pass, and used by the
//! passes that follow.

use rusqlite::{Connection, OptionalExtension as _};

/// How many sessions one user may hold at once: "1" or "several".
pub const SESSIONS_PER_USER: &str = "sessions_per_user";
/// Whether the invoice list carries `belgeTakipNo` / `belgeAciklama`: "yes" or "no".
pub const INVOICE_LIST_TAKIP_NO: &str = "invoice_list_belge_takip_no";
pub const INVOICE_LIST_ACIKLAMA: &str = "invoice_list_belge_aciklama";
/// Milliseconds between a create and the listing that first shows it.
pub const READ_AFTER_WRITE_MS: &str = "read_after_write_ms";
/// Prefix of the wrapper each list endpoint answers with (`wrapper:<endpoint>`).
pub const WRAPPER_PREFIX: &str = "wrapper:";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub key: String,
    pub value: String,
    pub source: String,
    pub found_at: String,
}

pub fn record(
    conn: &Connection,
    key: &str,
    value: &str,
    source: &str,
    now: &str,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO luca_findings (key, value, source, found_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, source = excluded.source,
                                         found_at = excluded.found_at",
        (key, value, source, now),
    )?;
    Ok(())
}

pub fn get(conn: &Connection, key: &str) -> anyhow::Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT value FROM luca_findings WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn all(conn: &Connection) -> anyhow::Result<Vec<Finding>> {
    let mut stmt =
        conn.prepare("SELECT key, value, source, found_at FROM luca_findings ORDER BY key")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Finding {
                key: r.get(0)?,
                value: r.get(1)?,
                source: r.get(2)?,
                found_at: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_finding_wins() {
        let (_d, s) = crate::store::temp_store();
        let c = s.conn();
        assert_eq!(get(c, SESSIONS_PER_USER).unwrap(), None);
        record(c, SESSIONS_PER_USER, "several", "probe", "t1").unwrap();
        record(c, SESSIONS_PER_USER, "1", "pass", "t2").unwrap();
        assert_eq!(get(c, SESSIONS_PER_USER).unwrap().as_deref(), Some("1"));
        assert_eq!(all(c).unwrap().len(), 1);
    }
}
