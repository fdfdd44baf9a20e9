//! What the metrics file reports beyond the runs themselves: the approval queue and the
//! creates in doubt.

use rusqlite::OptionalExtension as _;

use super::Store;
use crate::report::SyncType;

impl Store {
    /// Adjustments waiting for a decision.
    pub fn pending_adjustments(&self) -> anyhow::Result<u64> {
        let n: i64 = self.conn().query_row(
            "SELECT count(*) FROM adjustments WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Luca creates whose outcome is not known: `unknown`, or `sending` left by a run
    /// that died; each is looked up (or resolved by hand) before anything is sent again.
    pub fn unknown_outcomes(&self) -> anyhow::Result<u64> {
        let n: i64 = self.conn().query_row(
            "SELECT count(*) FROM outbox WHERE state IN ('unknown', 'sending')",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// When the last run of this type that synced everything (`ok`) finished.
    pub fn last_success_finished(&self, sync_type: SyncType) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT finished_at FROM runs WHERE sync_type = ?1 AND status = 'ok'
                   AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                [sync_type.as_str()],
                |r| r.get(0),
            )
            .optional()?)
    }
}
