//! The exactly-once push pipeline: every create in Luca (stock cards, accounts,
//! warehouses, invoices, despatches, stock slips) goes through [`run`].
//!
//! Luca has no idempotency keys and does not refuse a second account or invoice with
//! the same code, so exactly-once *effect* rests on three rules:
//! 1. the intent (`sending`) is committed before the create is sent, so a crash at any
//!    moment leaves a row that says "this may exist";
//! 2. such a row is looked up in Luca by its natural key before anything is sent
//!    again, and adopted when found; a lookup that fails is never read as "absent":
//!    the row waits for the next run;
//! 3. a create is sent once; an unclear outcome (timeout, reset, 5xx, HTML page) makes
//!    the row `unknown`, never a blind resend.
//!
//! Rows run concurrently, one per Luca session (`buffer_unordered(sessions)`), and the
//! store is written between calls only, in short transactions.

use std::cell::Cell;

use futures::StreamExt as _;
use rusqlite::Connection;
use serde_json::Value;

use crate::context::Ctx;
use crate::entity::Entity;
use crate::luca::{self, LucaClient, Outcome};
use crate::progress::Progress;
use crate::report::{Action, Planned, Tally};
use crate::store::outbox::{self, Enqueued, Row, State};
use crate::store::{adjustments, luca_findings, quarantine};

/// What a lookup by natural key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// It exists (with its Luca id when the answer carries one).
    Found(Option<i64>),
    /// Luca answered with a list that does not hold it.
    Absent,
    /// Luca offers no lookup for this kind: an unclear outcome waits for a person.
    Unsupported,
    /// The answer could not settle it (several candidates, or one another row may own):
    /// never "absent"; the row waits for `adjustments resolve`. Says why, with the
    /// candidates' Luca ids.
    Unclear(String),
}

/// One kind of Luca object, as the pipeline needs to know it.
// The pipeline polls every row on the pass's own task, so its futures need not be Send.
#[allow(async_fn_in_trait)]
pub trait Kind {
    /// The outbox kind (`stock_card`, `customer`, …), also the entity its records are
    /// reported and held under.
    fn name(&self) -> Entity;
    /// The create endpoint.
    fn endpoint(&self) -> &'static str;
    /// True where Luca itself would accept a duplicate (accounts, invoices): then even a
    /// never-sent row is looked up first, in case someone created it by hand.
    fn look_before_first_create(&self) -> bool;
    /// Finds the object by its natural key. Errors mean "could not tell".
    async fn lookup(&self, luca: &LucaClient, key: &str) -> Result<Lookup, luca::Error>;
    /// Finds the object of an outbox row. Kinds whose natural key Luca cannot look up
    /// (invoices, despatch notes) match on the row's payload and on what the store has
    /// claimed already; the others look up their key.
    async fn lookup_row(&self, ctx: &Ctx, luca: &LucaClient, row: &Row) -> anyhow::Result<Lookup> {
        let _ = ctx;
        Ok(self.lookup(luca, &row.key).await?)
    }
    /// Rows with the same group are settled one at a time, oldest first (rows whose
    /// lookups could take each other's object: invoices sharing a fingerprint).
    fn serial_group(&self, row: &Row) -> Option<String> {
        let _ = row;
        None
    }
    /// Links the records a row settles (an order's approved adjustments) to it, in the
    /// transaction that first changes its state.
    fn link(&self, conn: &Connection, row: &Row) -> anyhow::Result<()> {
        let _ = (conn, row);
        Ok(())
    }
    /// What a dry run shows beside the payload (an invoice's totals).
    fn plan_totals(&self, payload: &Value) -> Option<Value> {
        let _ = payload;
        None
    }
    /// The new object's id in a create answer.
    fn created_id(&self, answer: &Value) -> Option<i64>;
    /// Records a settled object in the store's id maps (same transaction as the row).
    fn record(
        &self,
        conn: &Connection,
        key: &str,
        id: Option<i64>,
        adopted: bool,
    ) -> anyhow::Result<()>;
}

/// Something to create: its natural key and the body to send.
#[derive(Debug, Clone)]
pub struct Item {
    pub key: String,
    pub payload: Value,
}

/// How one row ended this run.
enum Settled {
    Created,
    Adopted,
    Rejected(String),
    InDoubt(String),
    /// An unclear create: worth another lookup before the run ends.
    Unclear(String),
    Planned(Planned),
}

/// Enqueues `items` and settles every open row of the kind (those of earlier runs
/// too); `only` limits the work to these keys.
pub async fn run<K: Kind>(
    ctx: &Ctx,
    tally: &mut Tally,
    kind: &K,
    items: Vec<Item>,
    only: Option<&[String]>,
) -> anyhow::Result<()> {
    let now = crate::store::now();
    ctx.store.write(|tx| {
        let mut accepted: Vec<&str> = Vec::new();
        for item in &items {
            if let Err(reason) = luca::charset::check_payload(&item.payload) {
                quarantine::hold(tx, kind.name(), &item.key, &reason, Some(&item.payload.to_string()))?;
                tally.fail(kind.name(), item.key.clone(), reason);
                continue;
            }
            quarantine::release(tx, kind.name(), &item.key)?;
            accepted.push(&item.key);
            match outbox::enqueue(tx, kind.name(), &item.key, &item.payload, &now)? {
                Enqueued::Done => tally.skipped += 1,
                Enqueued::StillRejected(why) => tally.fail(
                    kind.name(),
                    item.key.clone(),
                    format!("Luca refused it earlier ({why}); fix the data and the next run sends it again"),
                ),
                Enqueued::Open | Enqueued::InDoubt => {}
            }
        }
        if only.is_none() {
            // Intents never sent whose record is gone from the source (deleted since
            // an interrupted run queued them) or is now held back: not to be sent.
            outbox::drop_unsent_except(tx, kind.name(), &accepted)?;
        }
        Ok(())
    })?;
    let mut rows = outbox::open_rows(ctx.store.conn(), kind.name())?;
    if let Some(keys) = only {
        rows.retain(|r| keys.contains(&r.key));
    }
    if rows.is_empty() {
        return Ok(());
    }
    let luca = ctx.luca().await?;
    apply_findings(ctx, tally, luca).await?;
    let progress = Progress::new(ctx.progress, kind.name().as_str(), Some(rows.len() as u64));
    let stop = Cell::new(false);
    let mut fatal: Option<luca::Error> = None;
    let mut planned = Vec::new();
    let pause = retry_pause(ctx, kind)?;
    // Unclear creates (another round may settle them), and rows no round can settle.
    let mut in_doubt: Vec<(String, String)> = Vec::new();
    let mut settled_in_doubt: Vec<(String, String)> = Vec::new();
    let mut round = 0;
    let mut not_started = 0usize;
    loop {
        round += 1;
        let mut results = futures::stream::iter(chains(kind, rows))
            .map(|chain| {
                let (progress, stop) = (&progress, &stop);
                async move {
                    let mut out = Vec::with_capacity(chain.len());
                    for row in chain {
                        // After a fatal error, or once SIGINT/SIGTERM asked for a stop,
                        // no new row starts; rows in flight finish.
                        if stop.get() || ctx.stop_requested().is_some() {
                            out.push(None);
                            continue;
                        }
                        let key = row.key.clone();
                        let r = settle_row(ctx, luca, kind, row).await;
                        if round == 1 {
                            progress.inc(1);
                        }
                        if let Err(e) = &r
                            && e.downcast_ref::<luca::Error>().is_some_and(is_fatal)
                        {
                            stop.set(true);
                        }
                        out.push(Some((key, r)));
                    }
                    out
                }
            })
            .buffer_unordered(luca.sessions())
            .flat_map(futures::stream::iter);
        while let Some(done) = results.next().await {
            let Some((key, r)) = done else {
                not_started += 1;
                continue;
            };
            if round == 1 {
                tally.processed += 1;
            }
            match r {
                Ok(Settled::Created) => tally.created += 1,
                Ok(Settled::Adopted) => tally.updated += 1,
                Ok(Settled::Rejected(why)) => {
                    tally.fail(kind.name(), key, format!("Luca refused it: {why}"))
                }
                Ok(Settled::InDoubt(why)) => settled_in_doubt.push((key, why)),
                Ok(Settled::Unclear(why)) => in_doubt.push((key, why)),
                Ok(Settled::Planned(p)) => planned.push(p),
                Err(e) => match e.downcast::<luca::Error>() {
                    Ok(le) if is_fatal(&le) => {
                        fatal.get_or_insert(le);
                    }
                    Ok(le) => tally.fail(kind.name(), key, le.to_string()),
                    Err(other) => return Err(other),
                },
            }
            ctx.checkpoint(tally)?;
        }
        drop(results);
        // An unclear outcome is looked up again before this run ends, so that one 5xx
        // or lost answer does not hold a record back until the next run; the lookup
        // still comes before any new create.
        let Some(pause) = pause.filter(|_| {
            round < ROUNDS
                && !in_doubt.is_empty()
                && fatal.is_none()
                && !ctx.dry_run()
                && ctx.stop_requested().is_none()
        }) else {
            break;
        };
        tokio::time::sleep(pause).await;
        let keys: Vec<String> = std::mem::take(&mut in_doubt)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        rows = outbox::open_rows(ctx.store.conn(), kind.name())?;
        rows.retain(|r| keys.contains(&r.key));
    }
    for (key, why) in in_doubt.into_iter().chain(settled_in_doubt) {
        // The pass is not complete while an outcome is unknown (exit 1).
        tally.extra.unknown_outcomes += 1;
        tally.fail(kind.name(), key, why);
    }
    for p in planned {
        tally.plan(p);
    }
    if luca.saw_single_login() {
        remember_single_login(ctx, tally, luca)?;
    }
    match fatal {
        Some(e) => Err(e.into()),
        None if not_started > 0 => Ok(ctx.check_stop()?),
        None => Ok(()),
    }
}

/// The rows in chains: each chain is settled in order on one session, chains run side by
/// side. Rows of one serial group share a chain (oldest first); the others are alone.
fn chains<K: Kind>(kind: &K, rows: Vec<Row>) -> Vec<Vec<Row>> {
    let mut out: Vec<Vec<Row>> = Vec::new();
    let mut by_group: std::collections::HashMap<String, usize> = Default::default();
    for row in rows {
        match kind.serial_group(&row) {
            Some(g) => match by_group.get(&g) {
                Some(&i) => out[i].push(row),
                None => {
                    by_group.insert(g, out.len());
                    out.push(vec![row]);
                }
            },
            None => out.push(vec![row]),
        }
    }
    out
}

/// Rounds over the unclear outcomes within one run (the first included).
const ROUNDS: u32 = 4;

/// The pause before another round over unclear outcomes, or `None` when none may run in
/// this pass: where Luca accepts a duplicate (accounts, invoices), a lookup soon after
/// a lost create might not see it yet, so the round waits for twice the read-after-write
/// delay `doctor --probe` measured, and does not run while that delay is unknown. Stock
/// cards need no such wait: Luca itself refuses a second card with the same code.
fn retry_pause<K: Kind>(ctx: &Ctx, kind: &K) -> anyhow::Result<Option<std::time::Duration>> {
    let floor = std::time::Duration::from_millis(500);
    if !kind.look_before_first_create() {
        return Ok(Some(floor));
    }
    let learnt = luca_findings::get(ctx.store.conn(), luca_findings::READ_AFTER_WRITE_MS)?
        .and_then(|ms| ms.parse::<u64>().ok());
    Ok(learnt.map(|ms| floor.max(std::time::Duration::from_millis(ms * 2))))
}

/// Tells the client the list wrappers learnt about the tenant.
pub fn learn_wrappers(ctx: &Ctx, luca: &LucaClient) -> anyhow::Result<()> {
    for f in luca_findings::all(ctx.store.conn())? {
        if let (Some(endpoint), Some(key)) = (
            f.key.strip_prefix(luca_findings::WRAPPER_PREFIX),
            f.value.strip_prefix("key:"),
        ) {
            luca.learn_wrapper(endpoint, key);
        }
    }
    Ok(())
}

/// Applies what is known about the tenant: its list wrappers, and the session pool
/// sized to what Luca allows one user: the limit learnt earlier (by `doctor --probe` or
/// a pass), else a check once per store (two logins, then one read on the first
/// session), remembered for the next runs.
pub async fn apply_findings(ctx: &Ctx, tally: &mut Tally, luca: &LucaClient) -> anyhow::Result<()> {
    learn_wrappers(ctx, luca)?;
    if luca.configured_sessions() < 2 {
        return Ok(());
    }
    let known = luca_findings::get(ctx.store.conn(), luca_findings::SESSIONS_PER_USER)?;
    match known.as_deref() {
        Some("1") => {
            luca.limit_sessions(1);
            tally.say(format!(
                "Luca allows one session per user (learnt earlier): using 1 of the {} \
                     configured in luca.sessions",
                luca.configured_sessions()
            ));
        }
        Some(_) => {}
        None => {
            let several = luca.several_sessions_allowed().await?;
            if several {
                ctx.store.write(|tx| {
                    luca_findings::record(
                        tx,
                        luca_findings::SESSIONS_PER_USER,
                        "several",
                        "pass",
                        &crate::store::now(),
                    )
                })?;
            } else {
                remember_single_login(ctx, tally, luca)?;
            }
        }
    }
    Ok(())
}

fn remember_single_login(ctx: &Ctx, tally: &mut Tally, luca: &LucaClient) -> anyhow::Result<()> {
    ctx.store.write(|tx| {
        luca_findings::record(
            tx,
            luca_findings::SESSIONS_PER_USER,
            "1",
            "pass",
            &crate::store::now(),
        )
    })?;
    tally.say(format!(
        "Luca ended a session when another session of the same user logged in: it allows \
             one session per user, so this run used 1 of the {} configured in luca.sessions \
             (remembered for the next runs; set luca.sessions = 1 to skip the check)",
        luca.configured_sessions()
    ));
    Ok(())
}

/// Errors after which no further row can succeed this run: stop claiming rows.
fn is_fatal(e: &luca::Error) -> bool {
    e.is_fatal() || matches!(e, luca::Error::Unavailable { .. })
}

/// Settles a row (and, once done, records the object in the store's id maps) in one
/// transaction.
fn finish<K: Kind>(
    ctx: &Ctx,
    kind: &K,
    row: &Row,
    state: State,
    id: Option<i64>,
    outcome: &str,
    detail: Option<&str>,
) -> anyhow::Result<()> {
    ctx.store.write(|tx| {
        let now = crate::store::now();
        kind.link(tx, row)?;
        outbox::settle(tx, row.id, state, id, outcome, detail, &now)?;
        adjustments::follow_outbox(tx, row.id, state, &now)?;
        if state == State::Done {
            kind.record(tx, &row.key, id, outcome == "adopted")?;
        }
        Ok(())
    })
}

/// A row's lookup: a Luca failure is the inner error (the row's "could not tell"); a
/// failure of the store is the outer one.
async fn lookup_row<K: Kind>(
    ctx: &Ctx,
    luca: &LucaClient,
    kind: &K,
    row: &Row,
) -> anyhow::Result<Result<Lookup, luca::Error>> {
    match kind.lookup_row(ctx, luca, row).await {
        Ok(found) => Ok(Ok(found)),
        Err(e) => match e.downcast::<luca::Error>() {
            Ok(le) => Ok(Err(le)),
            Err(other) => Err(other),
        },
    }
}

async fn settle_row<K: Kind>(
    ctx: &Ctx,
    luca: &LucaClient,
    kind: &K,
    row: Row,
) -> anyhow::Result<Settled> {
    let name = kind.name();
    // A person checked Luca and found nothing (`adjustments resolve --retry`): one
    // create without a lookup.
    let retry = adjustments::retry_granted(ctx.store.conn(), row.id)?;
    if !retry && (row.may_exist() || kind.look_before_first_create()) {
        let found = match lookup_row(ctx, luca, kind, &row).await? {
            Ok(found) => found,
            Err(e) if is_fatal(&e) => return Err(e.into()),
            Err(e) => {
                // Fail closed: a failed lookup never means "absent".
                let why =
                    format!("lookup failed ({e}); nothing was sent, the next run looks again");
                if !ctx.dry_run() && row.may_exist() {
                    finish(
                        ctx,
                        kind,
                        &row,
                        State::Unknown,
                        None,
                        "lookup_failed",
                        Some(&why),
                    )?;
                }
                return Ok(Settled::InDoubt(why));
            }
        };
        match found {
            Lookup::Found(id) if ctx.dry_run() => {
                return Ok(Settled::Planned(Planned {
                    action: Action::Adopt,
                    entity: None,
                    key: row.key.clone(),
                    kind: Some(name),
                    luca_id: Some(id),
                    totals: None,
                    payload: None,
                }));
            }
            Lookup::Found(id) => {
                finish(ctx, kind, &row, State::Done, id, "adopted", None)?;
                return Ok(Settled::Adopted);
            }
            Lookup::Unsupported if row.may_exist() => {
                let why = format!(
                    "outcome unknown ({}) and Luca offers no lookup for a {name}: check Luca, \
                     then `adjustments resolve` it",
                    row.last_error
                        .as_deref()
                        .unwrap_or("the run was interrupted")
                );
                if !ctx.dry_run() && row.state != State::Unknown {
                    finish(ctx, kind, &row, State::Unknown, None, "unknown", Some(&why))?;
                }
                return Ok(Settled::InDoubt(why));
            }
            Lookup::Unclear(why) => {
                let why = format!(
                    "could not tell whether Luca has it: {why}; check Luca, then `adjustments \
                     resolve ID --applied --luca-id N` (it exists) or `--retry` (it does not)"
                );
                if !ctx.dry_run() {
                    finish(ctx, kind, &row, State::Unknown, None, "unclear", Some(&why))?;
                }
                return Ok(Settled::InDoubt(why));
            }
            Lookup::Absent | Lookup::Unsupported => {}
        }
    }
    if ctx.dry_run() {
        return Ok(Settled::Planned(Planned {
            action: Action::Create,
            entity: None,
            key: row.key.clone(),
            kind: Some(name),
            luca_id: None,
            totals: kind.plan_totals(&row.payload),
            payload: Some(row.payload.clone()),
        }));
    }
    ctx.store.write(|tx| {
        kind.link(tx, &row)?;
        adjustments::consume_retry(tx, row.id)?;
        outbox::mark_sending(tx, row.id, None, &crate::store::now())
    })?;
    let outcome = match luca.write_once(kind.endpoint(), &row.payload).await {
        Ok(o) => o,
        Err(e) => {
            // Only a failed login gets here: the create never left.
            ctx.store
                .write(|tx| outbox::unsend(tx, &row, &e.to_string(), &crate::store::now()))?;
            return Err(e.into());
        }
    };
    match outcome {
        Outcome::Done(answer) => match kind.created_id(&answer) {
            Some(id) => {
                finish(ctx, kind, &row, State::Done, Some(id), "created", None)?;
                Ok(Settled::Created)
            }
            // A success carries the new id; an answer without one proves nothing.
            None => {
                let why = format!(
                    "outcome unknown (Luca's answer carries no new id: {}); it is looked up \
                     before anything is sent again",
                    luca::answer::excerpt(&answer.to_string())
                );
                finish(ctx, kind, &row, State::Unknown, None, "unknown", Some(&why))?;
                Ok(Settled::Unclear(why))
            }
        },
        // Luca has it already (an earlier run, or a person): adopt its id.
        Outcome::Exists(msg) => match lookup_row(ctx, luca, kind, &row).await? {
            Ok(Lookup::Found(id)) => {
                finish(ctx, kind, &row, State::Done, id, "adopted", Some(&msg))?;
                Ok(Settled::Adopted)
            }
            other => {
                let found = match other {
                    Ok(Lookup::Absent) => "found nothing".to_string(),
                    Ok(_) => "could not tell".to_string(),
                    Err(e) => format!("failed: {e}"),
                };
                let why = format!(
                    "Luca says it exists ({msg}) but the lookup {found}; the next run looks again"
                );
                finish(ctx, kind, &row, State::Unknown, None, "exists", Some(&why))?;
                Ok(Settled::Unclear(why))
            }
        },
        Outcome::Rejected(msg) => {
            finish(
                ctx,
                kind,
                &row,
                State::Rejected,
                None,
                "rejected",
                Some(&msg),
            )?;
            Ok(Settled::Rejected(msg))
        }
        Outcome::Unknown(why) => {
            let why =
                format!("outcome unknown ({why}); it is looked up before anything is sent again");
            finish(ctx, kind, &row, State::Unknown, None, "unknown", Some(&why))?;
            Ok(Settled::Unclear(why))
        }
    }
}
