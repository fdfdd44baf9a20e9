//! Recent Katana request times, kept in the store so that `requests_per_minute` holds
//! across consecutive runs: a run started right after another must not spend the
//! window's budget a second time.

use rusqlite::params;

use super::Store;

impl Store {
    /// Request times (ms since epoch) newer than `since_ms`, oldest first.
    pub fn katana_requests_since(&self, since_ms: i64) -> anyhow::Result<Vec<i64>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT at_ms FROM katana_requests WHERE at_ms > ?1 ORDER BY at_ms")?;
        let times = stmt
            .query_map([since_ms], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(times)
    }

    /// Records one request and forgets those older than `forget_before_ms`.
    pub fn record_katana_request(&self, at_ms: i64, forget_before_ms: i64) -> anyhow::Result<()> {
        self.write(|tx| {
            tx.execute("INSERT INTO katana_requests (at_ms) VALUES (?1)", [at_ms])?;
            tx.execute(
                "DELETE FROM katana_requests WHERE at_ms < ?1",
                params![forget_before_ms],
            )?;
            Ok(())
        })
    }
}
