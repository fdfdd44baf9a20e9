//! Run summaries: what a pass did, as a readable table or the JSON of SPEC section 4.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::entity::Entity;

/// The kinds of pass, as named in history and `--json`: the registry's.
pub use crate::pass::SyncType;

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

/// What storing one record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

/// A record a pass could not sync, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordError {
    pub entity: Entity,
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
    /// Pass-specific parts (`planned` of a dry run, `new_orders`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// The parts of a run only some passes have, each left out of the JSON when the pass did
/// not set it. History stored them as one JSON object (`runs.extra_json`), and
/// `serde_json`'s map printed its keys sorted; the fields stand in that order so the
/// JSON stays the same, old rows included.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extra {
    /// Adjustments an orders pull queued (said even when none).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub adjustments_created: Option<u64>,
    /// Where Katana's stock and Luca's on-hand disagree (`stock`; said even when none).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub drift: Option<Vec<DriftLine>>,
    /// The exit code the pass ended with (SPEC section 3), for the metrics of later runs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exit_code: Option<u8>,
    /// How many records held by earlier runs this run did not meet again.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub held: u64,
    /// The first [`HELD_SHOWN`] of them.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub held_records: Vec<HeldRecord>,
    /// The first [`NEW_ORDERS_SHOWN`] new orders of an orders pull (said even when none).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub new_orders: Option<Vec<NewOrder>>,
    /// All the new orders, when there were any.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub new_orders_total: u64,
    /// Lines for the reader, each said once.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub notes: Vec<String>,
    /// What a dry run would write.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub planned: Vec<Planned>,
    /// Creates whose outcome stays unknown (looked up before anything is sent again).
    #[serde(skip_serializing_if = "is_zero", default)]
    pub unknown_outcomes: u64,
    /// Stock slips whose outcome is unknown, and whether their drift closed since.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub unknown_slips: Vec<UnknownSlip>,
}

/// One line of the drift report: a SKU in a warehouse where the books disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftLine {
    pub sku: String,
    pub warehouse: String,
    /// Katana's quantity in stock (summed over the locations mapped to the warehouse).
    #[serde(with = "rust_decimal::serde::str")]
    pub katana: rust_decimal::Decimal,
    /// Luca's on-hand quantity.
    #[serde(with = "rust_decimal::serde::str")]
    pub luca: rust_decimal::Decimal,
    /// What sales already under way will still change in Katana − Luca (approved but
    /// not yet invoiced, invoiced but not yet delivered; docs/stock.md).
    #[serde(
        with = "rust_decimal::serde::str",
        skip_serializing_if = "rust_decimal::Decimal::is_zero",
        default
    )]
    pub in_transit: rust_decimal::Decimal,
    /// Katana − Luca + in transit: what a slip would book into Luca.
    #[serde(with = "rust_decimal::serde::str")]
    pub delta: rust_decimal::Decimal,
}

/// A stock slip sent with no clear answer: it waits for `adjustments resolve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownSlip {
    pub adjustment_id: i64,
    pub sku: String,
    pub warehouse: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: rust_decimal::Decimal,
    /// The drift of its SKU and warehouse in this run's snapshot; `null` for a slip
    /// sent in this run (the next run's snapshot tells).
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub drift_now: Option<rust_decimal::Decimal>,
    /// True when that drift has closed since (the slip most likely landed).
    pub drift_closed: Option<bool>,
}

impl UnknownSlip {
    /// What the operator should do, from what the snapshot shows.
    pub fn advice(&self) -> String {
        let id = self.adjustment_id;
        match (self.drift_now, self.drift_closed) {
            (_, Some(true)) => format!(
                "the drift has closed since, so the slip most likely reached Luca: check \
                 Luca, then `adjustments resolve {id} --applied`"
            ),
            (Some(now), _) if now == self.quantity => format!(
                "the drift is still {now}, so the slip most likely did not reach Luca: check \
                 Luca, then `adjustments resolve {id} --retry`"
            ),
            (Some(now), _) => format!(
                "the drift is now {now} (the slip was for {}): check Luca, then \
                 `adjustments resolve {id} --applied` or `--retry`",
                self.quantity
            ),
            (None, _) => format!(
                "sent in this run; the next `stock` run shows whether its drift closed, then \
                 `adjustments resolve {id} --applied` or `--retry`"
            ),
        }
    }
}

/// A field that is there, even as `null` (serde takes `null` for absent otherwise).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A record quarantined by an earlier run and still held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRecord {
    pub entity: Entity,
    pub key: String,
    pub reason: String,
    pub since: String,
}

/// A new order as a run lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub currency: Option<String>,
    pub customer: Option<String>,
    pub order_no: String,
    pub rows: i64,
    pub status: String,
    pub total: Option<String>,
}

/// What a dry run would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Adopt,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Adopt => "adopt",
        }
    }
}

/// One write a dry run would make: a record stored (`entity`), or a Luca create or
/// adoption of an outbox `kind` (with its payload or the id it would adopt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Planned {
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub entity: Option<Entity>,
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kind: Option<Entity>,
    /// An adoption names the id it found, `null` when Luca's answer carried none.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "present"
    )]
    pub luca_id: Option<Option<i64>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub payload: Option<Value>,
    /// An invoice's totals (net, VAT, gross), decimal strings.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub totals: Option<Value>,
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
    /// `errors` as a set: a pass may list many thousands.
    listed: std::collections::HashSet<RecordError>,
    pub extra: Extra,
}

/// How many records held from earlier runs a run lists by name.
pub const HELD_SHOWN: usize = 50;

impl Tally {
    /// Counts a record that failed or was quarantined, with its reason (once per run,
    /// however often the pass meets it).
    pub fn fail(&mut self, entity: Entity, key: impl Into<String>, reason: impl Into<String>) {
        if self.list_error(entity, key.into(), reason.into()) {
            self.failed += 1;
        }
    }

    /// Lists an error once; true when it was not listed yet.
    fn list_error(&mut self, entity: Entity, key: String, reason: String) -> bool {
        let e = RecordError {
            entity,
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
    pub fn stored(&mut self, dry_run: bool, entity: Entity, key: &str, change: Change) {
        let action = match change {
            Change::Created => {
                self.created += 1;
                Action::Create
            }
            Change::Updated => {
                self.updated += 1;
                Action::Update
            }
            Change::Unchanged => {
                self.skipped += 1;
                return;
            }
        };
        if dry_run {
            self.plan(Planned {
                action,
                entity: Some(entity),
                key: key.to_string(),
                kind: None,
                luca_id: None,
                payload: None,
                totals: None,
            });
        }
    }

    /// Adds an item to the `planned` list of a dry run.
    pub fn plan(&mut self, item: Planned) {
        self.extra.planned.push(item);
    }

    /// A line for the run's output, said once.
    pub fn say(&mut self, text: String) {
        if !self.extra.notes.contains(&text) {
            self.extra.notes.push(text);
        }
    }

    /// Records a problem of a record that is not one of the pass's own (a customer
    /// fetched for an order): listed, so the run is partial, but not counted as one of
    /// the pass's records.
    pub fn note(&mut self, entity: Entity, key: impl Into<String>, reason: impl Into<String>) {
        self.list_error(entity, key.into(), reason.into());
    }

    /// Reports the records of the pass that are still held from earlier runs and that
    /// this run did not meet (so they would otherwise drop out of every report): their
    /// number as `"held"`, the first [`HELD_SHOWN`] as `"held_records"`.
    pub fn hold_over(&mut self, held: &[HeldRecord]) {
        let met: std::collections::HashSet<(Entity, &str)> = self
            .errors
            .iter()
            .map(|e| (e.entity, e.key.as_str()))
            .collect();
        let earlier: Vec<&HeldRecord> = held
            .iter()
            .filter(|h| !met.contains(&(h.entity, h.key.as_str())))
            .collect();
        self.extra.held = earlier.len() as u64;
        self.extra.held_records = earlier
            .iter()
            .take(HELD_SHOWN)
            .map(|h| (*h).clone())
            .collect();
    }

    pub fn is_complete(&self) -> bool {
        self.failed == 0 && self.errors.is_empty() && self.extra.held == 0
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
    for n in &run.extra.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    for e in &run.errors {
        let _ = writeln!(out, "  {} {}: {}", e.entity, e.key, e.reason);
    }
    let held = &run.extra.held_records;
    if !held.is_empty() {
        let total = run.extra.held;
        let _ = writeln!(
            out,
            "  {total} record(s) still held from earlier runs (fix them at the source; the \
             next run picks them up):"
        );
        for h in held.iter().take(10) {
            let _ = writeln!(
                out,
                "    {} {}: {} (since {})",
                h.entity, h.key, h.reason, h.since
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
    if let Some(new) = &run.extra.new_orders
        && !new.is_empty()
    {
        let total = match run.extra.new_orders_total {
            0 => new.len() as u64,
            n => n,
        };
        let shown: Vec<String> = new
            .iter()
            .take(10)
            .map(|o| {
                format!(
                    "{} ({}, {})",
                    o.order_no,
                    o.customer.as_deref().unwrap_or("unknown customer"),
                    o.status
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
    if let Some(drift) = &run.extra.drift {
        render_drift(&mut out, drift);
    }
    for u in &run.extra.unknown_slips {
        let _ = writeln!(
            out,
            "  slip of adjustment {} ({} in {}, {}): outcome unknown; {}",
            u.adjustment_id,
            u.sku,
            u.warehouse,
            u.quantity,
            u.advice()
        );
    }
    let planned = &run.extra.planned;
    if !planned.is_empty() {
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

/// How many drift lines the text table shows (`--json` lists all).
const DRIFT_SHOWN: usize = 50;

/// The drift as a table, largest absolute delta first (the order the pass gives).
fn render_drift(out: &mut String, drift: &[DriftLine]) {
    if drift.is_empty() {
        let _ = writeln!(
            out,
            "  no drift: Katana and Luca agree on every compared SKU"
        );
        return;
    }
    let _ = writeln!(
        out,
        "  drift (Katana − Luca), {} line(s), largest first:",
        drift.len()
    );
    let _ = writeln!(
        out,
        "    {:<24} {:<10} {:>14} {:>14} {:>12} {:>14}",
        "sku", "warehouse", "katana", "luca", "in transit", "delta"
    );
    for d in drift.iter().take(DRIFT_SHOWN) {
        let _ = writeln!(
            out,
            "    {:<24} {:<10} {:>14} {:>14} {:>12} {:>14}",
            d.sku,
            d.warehouse,
            d.katana.to_string(),
            d.luca.to_string(),
            d.in_transit.to_string(),
            d.delta.to_string()
        );
    }
    if drift.len() > DRIFT_SHOWN {
        let _ = writeln!(
            out,
            "    … and {} more (--json lists all)",
            drift.len() - DRIFT_SHOWN
        );
    }
}

/// How many new orders a run lists by name (text and `--json`); the total is counted.
pub const NEW_ORDERS_SHOWN: usize = 50;

/// How many planned writes the text summary lists.
const PLANNED_SHOWN: usize = 30;

/// `key=value` in the JSON's order, without the payload.
fn plan_line(p: &Planned) -> String {
    let mut parts = vec![format!("action={}", p.action.as_str())];
    if let Some(e) = &p.entity {
        parts.push(format!("entity={e}"));
    }
    parts.push(format!("key={}", p.key));
    if let Some(k) = &p.kind {
        parts.push(format!("kind={k}"));
    }
    match p.luca_id {
        Some(Some(id)) => parts.push(format!("luca_id={id}")),
        Some(None) => parts.push("luca_id=null".into()),
        None => {}
    }
    parts.join(" ")
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
        let extra = Extra {
            planned: vec![Planned {
                action: Action::Create,
                entity: Some(Entity::Variant),
                key: "A".into(),
                kind: None,
                luca_id: None,
                payload: None,
                totals: None,
            }],
            ..Extra::default()
        };
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
                entity: Entity::SalesOrder,
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

    /// The typed parts print exactly as the map they replaced printed them (keys sorted,
    /// each left out when unset), and an old row's map reads back into them.
    #[test]
    fn typed_parts_print_as_the_old_map_did() {
        let old = serde_json::json!({
            "adjustments_created": 0,
            "held": 2,
            "held_records": [{"entity": "sales_order", "key": "SO-1", "reason": "r", "since": "t"}],
            "new_orders": [{"currency": null, "customer": "Ç", "order_no": "SO-2", "rows": 1,
                            "status": "NOT_SHIPPED", "total": "1.50"}],
            "new_orders_total": 60,
            "notes": ["n"],
            "planned": [
                {"action": "create", "entity": "variant", "key": "A"},
                {"action": "adopt", "key": "B", "kind": "stock_card", "luca_id": null},
                {"action": "create", "key": "C", "kind": "stock_card", "payload": {"kartAdi": "x"}}
            ],
            "unknown_outcomes": 3
        });
        let old_text = serde_json::to_string(&old).unwrap();
        let typed: Extra = serde_json::from_str(&old_text).unwrap();
        assert_eq!(serde_json::to_string(&typed).unwrap(), old_text);
        assert_eq!(
            serde_json::to_string_pretty(&typed).unwrap(),
            serde_json::to_string_pretty(&old).unwrap()
        );
        assert_eq!(serde_json::to_string(&Extra::default()).unwrap(), "{}");
        let orders_pull = Extra {
            adjustments_created: Some(0),
            new_orders: Some(vec![]),
            ..Extra::default()
        };
        assert_eq!(
            serde_json::to_string(&orders_pull).unwrap(),
            r#"{"adjustments_created":0,"new_orders":[]}"#
        );
        assert_eq!(
            plan_line(&typed.planned[1]),
            "action=adopt key=B kind=stock_card luca_id=null"
        );
    }
}
