//! Run summaries: what a pass did, as a readable table or the JSON of SPEC section 4.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The kinds of pass, as named in history and `--json`: the registry's.
pub use crate::commands::passes::SyncType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Ok,
    Partial,
    Failed,
    DryRun,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::DryRun => "dry_run",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "running" => RunStatus::Running,
            "ok" => RunStatus::Ok,
            "partial" => RunStatus::Partial,
            "failed" => RunStatus::Failed,
            "dry_run" => RunStatus::DryRun,
            _ => return None,
        })
    }
}

/// A record a pass could not sync, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordError {
    pub entity: String,
    pub key: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requests {
    pub katana: u64,
    pub luca: u64,
}

/// One run, as history stores it and `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub run_id: i64,
    pub sync_type: SyncType,
    pub status: RunStatus,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub processed: u64,
    pub created: u64,
    pub updated: u64,
    pub skipped: u64,
    pub failed: u64,
    pub requests: Requests,
    pub errors: Vec<RecordError>,
    /// The error that ended a failed run.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
    /// Pass-specific parts (`planned` of a dry run, `drift` of `stock`, `new_orders`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a pass accumulates while it runs; the runner turns it into a [`Run`].
#[derive(Debug, Default)]
pub struct Tally {
    pub processed: u64,
    pub created: u64,
    pub updated: u64,
    pub skipped: u64,
    pub failed: u64,
    pub errors: Vec<RecordError>,
    /// Records held back by earlier runs that this run did not meet again.
    pub held: u64,
    /// `errors` as a set: a pass may list many thousands.
    listed: std::collections::HashSet<RecordError>,
    pub extra: Map<String, Value>,
}

/// How many records held from earlier runs a run lists by name.
pub const HELD_SHOWN: usize = 50;

impl Tally {
    /// Counts a record that failed or was quarantined, with its reason (once per run,
    /// however often the pass meets it).
    pub fn fail(&mut self, entity: &str, key: impl Into<String>, reason: impl Into<String>) {
        if self.list_error(entity, key.into(), reason.into()) {
            self.failed += 1;
        }
    }

    /// Lists an error once; true when it was not listed yet.
    fn list_error(&mut self, entity: &str, key: String, reason: String) -> bool {
        let e = RecordError {
            entity: entity.to_string(),
            key,
            reason,
        };
        let new = self.listed.insert(e.clone());
        if new {
            self.errors.push(e);
        }
        new
    }

    /// Counts what storing one record did; in a dry run, also lists a change as planned.
    pub fn stored(
        &mut self,
        dry_run: bool,
        entity: &str,
        key: &str,
        change: crate::store::catalog::Change,
    ) {
        use crate::store::catalog::Change;
        let action = match change {
            Change::Created => {
                self.created += 1;
                "create"
            }
            Change::Updated => {
                self.updated += 1;
                "update"
            }
            Change::Unchanged => {
                self.skipped += 1;
                return;
            }
        };
        if dry_run {
            self.plan(serde_json::json!({"entity": entity, "key": key, "action": action}));
        }
    }

    /// Adds an item to the `planned` list of a dry run.
    pub fn plan(&mut self, item: Value) {
        match self
            .extra
            .entry("planned")
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(items) => items.push(item),
            other => *other = Value::Array(vec![item]),
        }
    }

    /// Records a problem of a record that is not one of the pass's own (a customer
    /// fetched for an order): listed, so the run is partial, but not counted as one of
    /// the pass's records.
    pub fn note(&mut self, entity: &str, key: impl Into<String>, reason: impl Into<String>) {
        self.list_error(entity, key.into(), reason.into());
    }

    /// Reports the records of the pass that are still held from earlier runs and that
    /// this run did not meet (so they would otherwise drop out of every report): their
    /// number as `"held"`, the first [`HELD_SHOWN`] as `"held_records"`.
    pub fn hold_over(&mut self, held: &[crate::store::quarantine::Held]) {
        let met: std::collections::HashSet<(&str, &str)> = self
            .errors
            .iter()
            .map(|e| (e.entity.as_str(), e.key.as_str()))
            .collect();
        let earlier: Vec<&crate::store::quarantine::Held> = held
            .iter()
            .filter(|h| !met.contains(&(h.entity.as_str(), h.key.as_str())))
            .collect();
        self.held = earlier.len() as u64;
        if earlier.is_empty() {
            return;
        }
        self.extra.insert("held".into(), Value::from(self.held));
        let shown: Vec<Value> = earlier
            .iter()
            .take(HELD_SHOWN)
            .map(|h| {
                serde_json::json!({
                    "entity": h.entity, "key": h.key, "reason": h.reason, "since": h.first_seen
                })
            })
            .collect();
        self.extra
            .insert("held_records".into(), Value::Array(shown));
    }

    pub fn is_complete(&self) -> bool {
        self.failed == 0 && self.errors.is_empty() && self.held == 0
    }

    /// Adds one to a named counter of the run's report (`"unknown_outcomes": 3`).
    pub fn count(&mut self, name: &str) {
        let n = self.extra.get(name).and_then(Value::as_u64).unwrap_or(0);
        self.extra.insert(name.to_string(), Value::from(n + 1));
    }
}

/// The text form of a run: a short summary, then one line per failed record.
pub fn render_run(run: &Run) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:<8} processed {}  created {}  updated {}  skipped {}  failed {}  \
         requests katana {} luca {}",
        run.sync_type.as_str(),
        run.status.as_str(),
        run.processed,
        run.created,
        run.updated,
        run.skipped,
        run.failed,
        run.requests.katana,
        run.requests.luca
    );
    if let Some(msg) = &run.message {
        let _ = writeln!(out, "  error: {msg}");
    }
    if let Some(Value::Array(notes)) = run.extra.get("notes") {
        for n in notes.iter().filter_map(Value::as_str) {
            let _ = writeln!(out, "  note: {n}");
        }
    }
    for e in &run.errors {
        let _ = writeln!(out, "  {} {}: {}", e.entity, e.key, e.reason);
    }
    if let Some(Value::Array(held)) = run.extra.get("held_records") {
        let total = run.extra.get("held").and_then(Value::as_u64).unwrap_or(0);
        let _ = writeln!(
            out,
            "  {total} record(s) still held from earlier runs (fix them at the source; the \
             next run picks them up):"
        );
        for h in held.iter().take(10) {
            let _ = writeln!(
                out,
                "    {} {}: {} (since {})",
                h["entity"].as_str().unwrap_or("?"),
                h["key"].as_str().unwrap_or("?"),
                h["reason"].as_str().unwrap_or("?"),
                h["since"].as_str().unwrap_or("?")
            );
        }
        if total > 10 {
            let _ = writeln!(
                out,
                "    … and {} more (--json lists the first {HELD_SHOWN})",
                total - 10
            );
        }
    }
    if let Some(Value::Array(new)) = run.extra.get("new_orders")
        && !new.is_empty()
    {
        let total = run
            .extra
            .get("new_orders_total")
            .and_then(Value::as_u64)
            .unwrap_or(new.len() as u64);
        let shown: Vec<String> = new
            .iter()
            .take(10)
            .map(|o| {
                format!(
                    "{} ({}, {})",
                    o["order_no"].as_str().unwrap_or("?"),
                    o["customer"].as_str().unwrap_or("unknown customer"),
                    o["status"].as_str().unwrap_or("?")
                )
            })
            .collect();
        let more = total.saturating_sub(shown.len() as u64);
        let _ = writeln!(
            out,
            "  {total} new order(s): {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more (--json lists the first {NEW_ORDERS_SHOWN})")
            } else {
                String::new()
            }
        );
    }
    if let Some(Value::Array(planned)) = run.extra.get("planned") {
        let _ = writeln!(out, "  would write {} record(s):", planned.len());
        for p in planned.iter().take(PLANNED_SHOWN) {
            let _ = writeln!(out, "    {}", plan_line(p));
        }
        if planned.len() > PLANNED_SHOWN {
            let _ = writeln!(
                out,
                "    … and {} more (--json lists all)",
                planned.len() - PLANNED_SHOWN
            );
        }
    }
    out
}

/// How many new orders a run lists by name (text and `--json`); the total is counted.
pub const NEW_ORDERS_SHOWN: usize = 50;

/// How many planned writes the text summary lists.
const PLANNED_SHOWN: usize = 30;

fn plan_line(item: &Value) -> String {
    match item {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| k.as_str() != "payload")
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// History as a table, newest first.
pub fn render_history(runs: &[Run]) -> String {
    if runs.is_empty() {
        return "no runs recorded yet\n".to_string();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>6}  {:<16} {:<8} {:<24} {:>8} {:>9} {:>7} {:>7} {:>7} {:>7}  {:>6} {:>5}",
        "run",
        "type",
        "status",
        "started",
        "duration",
        "processed",
        "created",
        "updated",
        "skipped",
        "failed",
        "katana",
        "luca"
    );
    for r in runs {
        let duration = r
            .finished_at
            .as_deref()
            .and_then(|f| elapsed(&r.started_at, f))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:>6}  {:<16} {:<8} {:<24} {:>8} {:>9} {:>7} {:>7} {:>7} {:>7}  {:>6} {:>5}",
            r.run_id,
            r.sync_type.as_str(),
            r.status.as_str(),
            r.started_at,
            duration,
            r.processed,
            r.created,
            r.updated,
            r.skipped,
            r.failed,
            r.requests.katana,
            r.requests.luca
        );
        if let Some(msg) = &r.message {
            let _ = writeln!(out, "{:>8}error: {msg}", "");
        }
        for e in &r.errors {
            let _ = writeln!(out, "{:>8}{} {}: {}", "", e.entity, e.key, e.reason);
        }
    }
    out
}

fn elapsed(start: &str, end: &str) -> Option<String> {
    let s: jiff::Timestamp = start.parse().ok()?;
    let e: jiff::Timestamp = end.parse().ok()?;
    let ms = e.duration_since(s).as_millis().max(0);
    Some(format!("{}.{:01}s", ms / 1000, (ms % 1000) / 100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_json_has_the_spec_shape() {
        let mut extra = Map::new();
        extra.insert("planned".into(), serde_json::json!([{"sku": "A"}]));
        let run = Run {
            run_id: 17,
            sync_type: SyncType::OrdersPull,
            status: RunStatus::Partial,
            started_at: "2026-11-28T10:00:00.000Z".into(),
            finished_at: Some("2026-11-28T10:00:02.000Z".into()),
            processed: 120,
            created: 4,
            updated: 10,
            skipped: 106,
            failed: 1,
            requests: Requests { katana: 2, luca: 0 },
            errors: vec![RecordError {
                entity: "sales_order".into(),
                key: "SO-1042".into(),
                reason: "unmapped tax rate 7".into(),
            }],
            message: None,
            extra,
        };
        let v = serde_json::to_value(&run).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "run_id",
            "sync_type",
            "status",
            "started_at",
            "finished_at",
            "processed",
            "created",
            "updated",
            "skipped",
            "failed",
            "requests",
            "errors",
            "planned",
        ] {
            assert!(keys.contains(&k), "missing {k} in {v}");
        }
        assert_eq!(v["sync_type"], "orders_pull");
        assert_eq!(v["status"], "partial");
        assert_eq!(v["requests"]["katana"], 2);
        assert_eq!(v["errors"][0]["key"], "SO-1042");
        assert!(!keys.contains(&"message"));
        let back: Run = serde_json::from_value(v).unwrap();
        assert_eq!(back, run);
    }
}
