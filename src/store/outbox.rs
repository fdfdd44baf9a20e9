//! The outbox: one row per remote object we intend to create in Luca, keyed by its
//! natural key, moving through pending → sending → done | rejected | unknown. The
//! `sending` state is committed before the HTTP call, so a crash at any moment leaves a
//! row that the next run looks up before anything is sent again.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::entity::Entity;
use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Sending,
    Unknown,
    Done,
    Rejected,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sending => "sending",
            State::Unknown => "unknown",
            State::Done => "done",
            State::Rejected => "rejected",
        }
    }

    /// The state of outbox row `id`; a state this binary does not know is an error,
    /// never `pending`, which would send the create again.
    pub(crate) fn parse(s: &str, id: i64) -> Result<State, Error> {
        Ok(match s {
            "pending" => State::Pending,
            "sending" => State::Sending,
            "unknown" => State::Unknown,
            "done" => State::Done,
            "rejected" => State::Rejected,
            _ => return Err(Error::unknown_stored("outbox", id, "state", s)),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub key: String,
    pub payload: Value,
    pub state: State,
    pub attempts: i64,
    pub last_error: Option<String>,
}

impl Row {
    /// A row that may have reached Luca before must be looked up before any create.
    pub fn may_exist(&self) -> bool {
        self.attempts > 0 || matches!(self.state, State::Sending | State::Unknown)
    }
}

/// What enqueueing an intent found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// Waiting to be sent (new, or its payload refreshed).
    Open,
    /// Already created or adopted.
    Done,
    /// Refused by Luca earlier, and the data has not changed since: not sent again.
    StillRejected(String),
    /// Sent before with an unclear outcome: its payload stays frozen until settled.
    InDoubt,
}

pub fn hash(payload: &Value) -> String {
    hex::encode(Sha256::digest(payload.to_string().as_bytes()))
}

/// Records the intent to create `key` with `payload`. A payload never sent may be
/// refreshed; one sent with an unclear outcome is frozen; a rejected one is re-opened
/// only when the data changed (fixed at the source or in the mapping).
pub fn enqueue(
    conn: &Connection,
    kind: Entity,
    key: &str,
    payload: &Value,
    now: &str,
) -> anyhow::Result<Enqueued> {
    let h = hash(payload);
    let existing: Option<(i64, String, i64, String, Option<String>)> = conn
        .query_row(
            "SELECT id, state, attempts, payload_hash, last_error FROM outbox WHERE kind = ?1 AND natural_key = ?2",
            params![kind, key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let text = payload.to_string();
    let Some((id, state, attempts, old_hash, last_error)) = existing else {
        conn.execute(
            "INSERT INTO outbox (kind, natural_key, payload, payload_hash, state, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
            params![kind, key, text, h, now],
        )?;
        return Ok(Enqueued::Open);
    };
    let refresh = |state: &str| {
        conn.execute(
            "UPDATE outbox SET payload = ?2, payload_hash = ?3, state = ?4, updated_at = ?5 WHERE id = ?1",
            params![id, text, h, state, now],
        )
    };
    Ok(match State::parse(&state, id)? {
        State::Done => Enqueued::Done,
        State::Sending | State::Unknown => Enqueued::InDoubt,
        State::Pending if attempts == 0 && old_hash != h => {
            refresh("pending")?;
            Enqueued::Open
        }
        State::Pending => Enqueued::Open,
        State::Rejected if old_hash != h => {
            refresh("pending")?;
            Enqueued::Open
        }
        State::Rejected => Enqueued::StillRejected(last_error.unwrap_or_default()),
    })
}

/// Rows of a kind still to settle (pending, sending, unknown), oldest first.
pub fn open_rows(conn: &Connection, kind: Entity) -> anyhow::Result<Vec<Row>> {
    let mut stmt = conn.prepare(
        "SELECT id, natural_key, payload, state, attempts, last_error FROM outbox
         WHERE kind = ?1 AND state IN ('pending','sending','unknown') ORDER BY id",
    )?;
    let raw: Vec<(i64, String, String, String, i64, Option<String>)> = stmt
        .query_map([kind], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    raw.into_iter()
        .map(|(id, key, payload, state, attempts, last_error)| {
            // A payload that does not parse is refused, never sent as `null`.
            let payload = serde_json::from_str(&payload).map_err(|e| {
                Error::unknown_stored("outbox", id, "payload", format!("{payload} ({e})"))
            })?;
            Ok(Row {
                id,
                key,
                payload,
                state: State::parse(&state, id)?,
                attempts,
                last_error,
            })
        })
        .collect()
}

/// The write-ahead intent: committed before the create is sent.
pub fn mark_sending(
    conn: &Connection,
    id: i64,
    run_id: Option<i64>,
    now: &str,
) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    log(conn, id, run_id, now, "sending", None)
}

/// The create was never sent (the login before it failed): back to how it was.
pub fn unsend(conn: &Connection, row: &Row, detail: &str, now: &str) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE outbox SET state = ?2, attempts = ?3, updated_at = ?4 WHERE id = ?1",
        params![row.id, row.state.as_str(), row.attempts, now],
    )?;
    log(conn, row.id, None, now, "not_sent", Some(detail))
}

/// Settles a row. `outcome` names the event in the attempt log (created, adopted,
/// exists, rejected, unknown, lookup_failed, absent).
pub fn settle(
    conn: &Connection,
    id: i64,
    state: State,
    remote_id: Option<i64>,
    outcome: &str,
    detail: Option<&str>,
    now: &str,
) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE outbox SET state = ?2, remote_id = coalesce(?3, remote_id), last_error = ?4,
                updated_at = ?5 WHERE id = ?1",
        params![id, state.as_str(), remote_id, detail, now],
    )?;
    log(conn, id, None, now, outcome, detail)
}

/// Drops the never-sent intents of a kind whose key is not in `keep`.
pub fn drop_unsent_except(conn: &Connection, kind: Entity, keep: &[&str]) -> anyhow::Result<usize> {
    Ok(conn.execute(
        "DELETE FROM outbox WHERE kind = ?1 AND state = 'pending' AND attempts = 0
           AND natural_key NOT IN (SELECT value FROM json_each(?2))",
        params![kind, serde_json::to_string(keep)?],
    )?)
}

/// Forgets an intent (the object was deleted on purpose, e.g. by `delete-sku`).
pub fn forget(conn: &Connection, kind: Entity, key: &str) -> anyhow::Result<()> {
    conn.execute(
        "DELETE FROM outbox_attempts WHERE outbox_id IN (SELECT id FROM outbox WHERE kind = ?1 AND natural_key = ?2)",
        params![kind, key],
    )?;
    conn.execute(
        "DELETE FROM outbox WHERE kind = ?1 AND natural_key = ?2",
        params![kind, key],
    )?;
    Ok(())
}

/// Appends to the attempt log (with `finished_at` for events that end something).
fn log(
    conn: &Connection,
    id: i64,
    run_id: Option<i64>,
    now: &str,
    outcome: &str,
    detail: Option<&str>,
) -> anyhow::Result<()> {
    let detail = detail.map(|d| d.chars().take(500).collect::<String>());
    conn.execute(
        "INSERT INTO outbox_attempts (outbox_id, seq, run_id, started_at, finished_at, outcome, detail)
         VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM outbox_attempts WHERE outbox_id = ?1),
                 ?2, ?3, ?3, ?4, ?5)",
        params![id, run_id, now, outcome, detail],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store;
    use serde_json::json;

    #[test]
    fn an_unknown_state_or_a_corrupt_payload_is_refused_not_guessed() {
        let (_d, s) = temp_store();
        let c = s.conn();
        enqueue(c, Entity::StockCard, "R1", &json!({"kartAdi": "Raf"}), "t").unwrap();
        crate::store::force_value(c, "UPDATE outbox SET payload = '{not json'");
        let err = open_rows(c, Entity::StockCard).unwrap_err().to_string();
        assert!(
            err.contains("outbox row 1 has payload") && err.contains("{not json"),
            "{err}"
        );
        crate::store::force_value(c, "UPDATE outbox SET state = 'parked'");
        let err = enqueue(c, Entity::StockCard, "R1", &json!({"kartAdi": "Raf"}), "t")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("outbox row 1 has state \"parked\"") && err.contains("newer katana-sync"),
            "{err}"
        );
    }

    #[test]
    fn the_payload_is_frozen_once_sent_and_rejections_wait_for_new_data() {
        let (_d, s) = temp_store();
        let c = s.conn();
        let p1 = json!({"kartAdi": "Raf"});
        let p2 = json!({"kartAdi": "Çelik Raf"});
        assert_eq!(
            enqueue(c, Entity::StockCard, "R1", &p1, "t").unwrap(),
            Enqueued::Open
        );
        // Never sent: refreshed.
        assert_eq!(
            enqueue(c, Entity::StockCard, "R1", &p2, "t").unwrap(),
            Enqueued::Open
        );
        let row = open_rows(c, Entity::StockCard).unwrap().remove(0);
        assert_eq!(row.payload, p2);
        assert!(!row.may_exist());
        mark_sending(c, row.id, None, "t").unwrap();
        // Sent, outcome unclear: frozen.
        assert_eq!(
            enqueue(c, Entity::StockCard, "R1", &p1, "t").unwrap(),
            Enqueued::InDoubt
        );
        let row = open_rows(c, Entity::StockCard).unwrap().remove(0);
        assert_eq!(row.payload, p2);
        assert!(row.may_exist());
        settle(
            c,
            row.id,
            State::Rejected,
            None,
            "rejected",
            Some("[kartAdi] alanı zorunludur."),
            "t",
        )
        .unwrap();
        assert_eq!(
            enqueue(c, Entity::StockCard, "R1", &p2, "t").unwrap(),
            Enqueued::StillRejected("[kartAdi] alanı zorunludur.".into())
        );
        assert_eq!(
            enqueue(c, Entity::StockCard, "R1", &p1, "t").unwrap(),
            Enqueued::Open
        );
        assert!(
            open_rows(c, Entity::StockCard).unwrap()[0].may_exist(),
            "attempted once: look first"
        );
        settle(c, row.id, State::Done, Some(7), "created", None, "t").unwrap();
        assert_eq!(
            enqueue(c, Entity::StockCard, "R1", &p1, "t").unwrap(),
            Enqueued::Done
        );
        let events: i64 = c
            .query_row(
                "SELECT count(*) FROM outbox_attempts WHERE outbox_id = ?1",
                [row.id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(events, 3);
    }

    #[test]
    fn only_never_sent_intents_are_dropped() {
        let (_d, s) = temp_store();
        let c = s.conn();
        for key in ["A", "B", "C"] {
            enqueue(c, Entity::StockCard, key, &json!({"k": key}), "t").unwrap();
        }
        let b = open_rows(c, Entity::StockCard).unwrap()[1].id;
        mark_sending(c, b, None, "t").unwrap();
        assert_eq!(
            drop_unsent_except(c, Entity::StockCard, &["A"]).unwrap(),
            1,
            "C goes, B was sent"
        );
        let keys: Vec<String> = open_rows(c, Entity::StockCard)
            .unwrap()
            .into_iter()
            .map(|r| r.key)
            .collect();
        assert_eq!(keys, ["A", "B"]);
    }
}
