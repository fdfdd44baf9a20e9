//! Run history: one row per pass, with its counts, request counts and failed records.

use anyhow::Context as _;
use rusqlite::{OptionalExtension, params};

use super::Store;
use crate::entity::Entity;
use crate::error::Error;
use crate::report::{Extra, RecordError, Requests, Run, RunStatus, SyncType, Tally};

/// Shows a run left `running` by a dead process as the next run that takes the lock
/// will record it ([`Store::close_interrupted_runs`]), for readers that cannot write.
pub fn as_interrupted(run: &mut Run) {
    run.status = RunStatus::Failed;
    run.message = Some(INTERRUPTED_UNCLOSED.to_string());
    run.errors.push(RecordError {
        entity: Entity::Run,
        key: run.run_id.to_string(),
        reason: INTERRUPTED_UNCLOSED.to_string(),
    });
}

/// The reason recorded for a run whose process ended without closing it.
pub const INTERRUPTED_UNCLOSED: &str = "interrupted: its process ended without closing the run \
     (killed, e.g. by kill -9, a timeout or a power loss); the counts are those it had recorded. \
     Closed by the next run that took the store's lock; that run carried on";

impl Store {
    /// Opens a run row (status `running`) and returns its id.
    pub fn start_run(&self, sync_type: SyncType, started_at: &str) -> anyhow::Result<i64> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO runs (sync_type, status, started_at) VALUES (?1, 'running', ?2)",
                params![sync_type.as_str(), started_at],
            )?;
            Ok(tx.last_insert_rowid())
        })
        .context("recording the start of the run")
    }

    /// Closes a run row with its final state. `run.run_id` names the row.
    pub fn finish_run(&self, run: &Run) -> anyhow::Result<()> {
        // Nothing stored when the pass set none of its parts, as before they were typed.
        let extra = match serde_json::to_string(&run.extra)? {
            text if text == "{}" => None,
            text => Some(text),
        };
        self.write(|tx| {
            tx.execute(
                "UPDATE runs SET status = ?2, finished_at = ?3, processed = ?4, created = ?5,
                        updated = ?6, skipped = ?7, failed = ?8, katana_requests = ?9,
                        luca_requests = ?10, message = ?11, extra_json = ?12
                 WHERE id = ?1",
                params![
                    run.run_id,
                    run.status.as_str(),
                    run.finished_at,
                    run.processed as i64,
                    run.created as i64,
                    run.updated as i64,
                    run.skipped as i64,
                    run.failed as i64,
                    run.requests.katana as i64,
                    run.requests.luca as i64,
                    run.message,
                    extra
                ],
            )?;
            tx.execute("DELETE FROM run_errors WHERE run_id = ?1", [run.run_id])?;
            let mut ins = tx.prepare(
                "INSERT INTO run_errors (run_id, seq, entity, key, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (seq, e) in run.errors.iter().enumerate() {
                ins.execute(params![run.run_id, seq as i64, e.entity.as_str(), e.key, e.reason])?;
            }
            Ok(())
        })
        .context("recording the end of the run")
    }

    /// Writes a running pass's counts so far to its row, so a run that dies (kill -9,
    /// power loss) keeps what it had done when the next run closes it.
    pub fn checkpoint_run(
        &self,
        run_id: i64,
        tally: &Tally,
        requests: Requests,
    ) -> anyhow::Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE runs SET processed = ?2, created = ?3, updated = ?4, skipped = ?5,
                        failed = ?6, katana_requests = ?7, luca_requests = ?8
                 WHERE id = ?1 AND status = 'running'",
            )?
            .execute(params![
                run_id,
                tally.processed as i64,
                tally.created as i64,
                tally.updated as i64,
                tally.skipped as i64,
                tally.failed as i64,
                requests.katana as i64,
                requests.luca as i64,
            ])?;
            Ok(())
        })
        .context("recording the progress of the run")
    }

    /// Closes every run still marked `running` as `failed`, interrupted, with the counts
    /// it had written. Only the holder of the store's lock may call this: a run marked
    /// running whose process no longer holds the lock is dead. Returns the ids closed.
    pub fn close_interrupted_runs(&self, now: &str) -> anyhow::Result<Vec<i64>> {
        self.write(|tx| {
            let ids: Vec<i64> = tx
                .prepare("SELECT id FROM runs WHERE status = 'running' ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in &ids {
                tx.execute(
                    "UPDATE runs SET status = 'failed', finished_at = ?2, message = ?3 WHERE id = ?1",
                    params![id, now, INTERRUPTED_UNCLOSED],
                )?;
                tx.execute(
                    "INSERT INTO run_errors (run_id, seq, entity, key, reason)
                     SELECT ?1, coalesce(max(seq) + 1, 0), ?4, ?2, ?3 FROM run_errors WHERE run_id = ?1",
                    params![id, id.to_string(), INTERRUPTED_UNCLOSED, Entity::Run],
                )?;
            }
            Ok(ids)
        })
        .context("closing runs that were interrupted")
    }

    /// The last `limit` runs, newest first, optionally of one type.
    pub fn runs(&self, limit: u32, sync_type: Option<SyncType>) -> anyhow::Result<Vec<Run>> {
        let mut stmt = self.conn().prepare(
            "SELECT id, sync_type, status, started_at, finished_at, processed, created, updated,
                    skipped, failed, katana_requests, luca_requests, message, extra_json
             FROM runs WHERE (?1 IS NULL OR sync_type = ?1) ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![sync_type.map(SyncType::as_str), limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                [
                    r.get::<_, i64>(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                ],
                r.get::<_, Option<String>>(12)?,
                r.get::<_, Option<String>>(13)?,
            ))
        })?;
        let mut runs = Vec::new();
        for row in rows {
            let (id, ty, status, started_at, finished_at, n, message, extra) = row?;
            // A run of a type or status this binary does not know is an error, not
            // left out: history would otherwise hide runs without a word.
            let sync_type = SyncType::parse(&ty)
                .ok_or_else(|| Error::unknown_stored("runs", id, "sync_type", &ty))?;
            let status = RunStatus::parse(&status)
                .ok_or_else(|| Error::unknown_stored("runs", id, "status", &status))?;
            let extra: Extra = match extra {
                Some(text) => serde_json::from_str(&text).map_err(|e| {
                    Error::unknown_stored("runs", id, "extra_json", format!("{text} ({e})"))
                })?,
                None => Extra::default(),
            };
            runs.push(Run {
                run_id: id,
                sync_type,
                status,
                started_at,
                finished_at,
                processed: n[0] as u64,
                created: n[1] as u64,
                updated: n[2] as u64,
                skipped: n[3] as u64,
                failed: n[4] as u64,
                requests: Requests {
                    katana: n[5] as u64,
                    luca: n[6] as u64,
                },
                errors: self.run_errors(id)?,
                message,
                extra,
            });
        }
        Ok(runs)
    }

    /// The errors of run `run_id`; one of an entity this binary does not know is an error
    /// naming its `run_errors` row (the rowid), never shown under another name.
    fn run_errors(&self, run_id: i64) -> anyhow::Result<Vec<RecordError>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT rowid, entity, key, reason FROM run_errors WHERE run_id = ?1 ORDER BY seq",
        )?;
        let raw: Vec<(i64, String, String, String)> = stmt
            .query_map([run_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<_, _>>()?;
        raw.into_iter()
            .map(|(id, entity, key, reason)| {
                Ok(RecordError {
                    entity: super::stored_entity("run_errors", id, &entity)?,
                    key,
                    reason,
                })
            })
            .collect()
    }

    /// When the last run of this type that synced everything (`ok`) started.
    pub fn last_success(&self, sync_type: SyncType) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT started_at FROM runs WHERE sync_type = ?1 AND status = 'ok'
                 ORDER BY id DESC LIMIT 1",
                [sync_type.as_str()],
                |r| r.get(0),
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store;

    #[test]
    fn a_run_of_an_unknown_type_or_status_is_an_error_not_left_out() {
        let (_d, s) = temp_store();
        let id = s.start_run(SyncType::OrdersPull, "t").unwrap();
        crate::store::force_value(
            s.conn(),
            &format!("UPDATE runs SET sync_type = 'orders_pull_v2' WHERE id = {id}"),
        );
        let err = s.runs(50, None).unwrap_err().to_string();
        assert!(
            err.contains(&format!("runs row {id} has sync_type \"orders_pull_v2\""))
                && err.contains("newer katana-sync"),
            "{err}"
        );
        crate::store::force_value(
            s.conn(),
            &format!(
                "UPDATE runs SET sync_type = 'orders_pull', status = 'paused' WHERE id = {id}"
            ),
        );
        let err = s.runs(50, None).unwrap_err().to_string();
        assert!(err.contains("has status \"paused\""), "{err}");
        crate::store::force_value(
            s.conn(),
            &format!("UPDATE runs SET status = 'ok', extra_json = '{{oops' WHERE id = {id}"),
        );
        let err = s.runs(50, None).unwrap_err().to_string();
        assert!(err.contains("has extra_json"), "{err}");
    }

    #[test]
    fn runs_round_trip_newest_first_and_filter_by_type() {
        let (_d, s) = temp_store();
        for (ty, status) in [
            (SyncType::OrdersPull, RunStatus::Ok),
            (SyncType::ProductsPush, RunStatus::Partial),
            (SyncType::OrdersPull, RunStatus::Failed),
        ] {
            let id = s.start_run(ty, "2026-11-28T10:00:00.000Z").unwrap();
            let mut run = Run {
                run_id: id,
                sync_type: ty,
                status,
                started_at: "2026-11-28T10:00:00.000Z".into(),
                finished_at: Some("2026-11-28T10:00:01.500Z".into()),
                processed: 3,
                created: 1,
                updated: 1,
                skipped: 1,
                failed: 0,
                requests: Requests { katana: 2, luca: 5 },
                errors: vec![],
                message: None,
                extra: Extra::default(),
            };
            if status == RunStatus::Partial {
                run.failed = 1;
                run.errors.push(RecordError {
                    entity: Entity::Variant,
                    key: "ÇELİK-01".into(),
                    reason: "no SKU".into(),
                });
            }
            if status == RunStatus::Failed {
                run.message = Some("Katana stayed unavailable".into());
            }
            s.finish_run(&run).unwrap();
        }
        let all = s.runs(50, None).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].status, RunStatus::Failed);
        assert_eq!(all[1].errors[0].key, "ÇELİK-01");
        assert_eq!(all[1].requests.luca, 5);
        let orders = s.runs(50, Some(SyncType::OrdersPull)).unwrap();
        assert_eq!(orders.len(), 2);
        assert_eq!(s.runs(1, None).unwrap().len(), 1);
        assert!(s.last_success(SyncType::OrdersPull).unwrap().is_some());
        assert!(s.last_success(SyncType::ProductsPush).unwrap().is_none());
    }

    #[test]
    fn a_dead_run_is_closed_as_interrupted_with_its_counts() {
        let (_d, s) = temp_store();
        let id = s
            .start_run(SyncType::ProductsPush, "2026-11-28T10:00:00.000Z")
            .unwrap();
        let mut tally = Tally::default();
        tally.processed = 40;
        tally.created = 36;
        s.checkpoint_run(
            id,
            &tally,
            Requests {
                katana: 0,
                luca: 41,
            },
        )
        .unwrap();
        assert_eq!(
            s.close_interrupted_runs("2026-11-28T10:05:00.000Z")
                .unwrap(),
            [id]
        );
        let run = &s.runs(1, None).unwrap()[0];
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(
            (run.processed, run.created, run.requests.luca),
            (40, 36, 41)
        );
        assert_eq!(run.finished_at.as_deref(), Some("2026-11-28T10:05:00.000Z"));
        assert!(
            run.errors[0].reason.starts_with("interrupted"),
            "{:?}",
            run.errors
        );
        // A closed run is never touched again, by a checkpoint or a later close.
        s.checkpoint_run(id, &Tally::default(), Requests::default())
            .unwrap();
        assert!(s.close_interrupted_runs("x").unwrap().is_empty());
        assert_eq!(s.runs(1, None).unwrap()[0].created, 36);
    }
}
