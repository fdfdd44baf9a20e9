//! `all [--due]`: every pass of the registry in dependency order, under one lock, one
//! history row each (SPEC sections 1, 3, 4). A pass runs unless it is not due, disabled,
//! or something it needs failed: a prerequisite that failed (unless it failed on a
//! remote this pass never talks to), or a remote that already rejected the credentials
//! or stayed down in this run (asking again would only lock the account or wait). So
//! with Luca down the Katana pulls still run. The exit code is the worst of the passes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::cli::AllArgs;
use crate::context::{Ctx, Needs, Options};
use crate::error::{Error, Exit, Remote};
use crate::progress::Mode;
use crate::report::{Run, SyncType, render_run};

use super::passes::{PassCmd, PassInfo};

/// An element of `all --json`'s `"runs"`: a recorded run, or a pass that did not run.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Entry {
    Ran(Box<Run>),
    Skipped {
        sync_type: SyncType,
        status: &'static str,
        reason: String,
    },
}

/// How a pass of the chain ended, as the passes after it see it.
enum Outcome {
    Ran {
        run: Box<Run>,
        exit: Exit,
        /// The remote whose failure ended the pass, if that is what did.
        down: Option<Remote>,
    },
    Skipped {
        reason: String,
        /// Whether the passes after it that need it must be skipped too: `Some` with
        /// the remote to blame (passes that never talk to it still run), `Some(None)`
        /// for anything else; `None`: it did not run for a reason of its own (not due,
        /// disabled), which holds nothing back.
        blocks: Option<Option<Remote>>,
    },
}

/// The passes `all` runs, in order: SPEC section 1's (warehouses, customers, suppliers,
/// products, orders, stock, invoices, despatches; each pull before its push), which is
/// the order of `[sync.intervals]`, kept consistent with every pass's `after`.
pub fn order() -> Vec<SyncType> {
    let rank = |i: &PassInfo| {
        let schedule = crate::commands::passes::Interval::ALL
            .iter()
            .position(|(iv, ..)| Some(*iv) == i.interval)
            .unwrap_or(usize::MAX);
        let registry = SyncType::ALL.iter().position(|t| *t == i.sync_type);
        (schedule, registry)
    };
    let mut left: Vec<&PassInfo> = SyncType::ALL
        .iter()
        .map(|t| t.info())
        .filter(|i| !i.cli.is_empty() && i.interval.is_some())
        .collect();
    let mut out: Vec<SyncType> = Vec::new();
    while !left.is_empty() {
        let ready = |i: &&&PassInfo| {
            i.after
                .iter()
                .all(|a| out.contains(a) || !left.iter().any(|l| l.sync_type == *a))
        };
        // A cycle in the registry would leave nothing ready: take the first left then,
        // rather than loop; `order_follows_after` keeps the registry free of one.
        let next = left
            .iter()
            .filter(ready)
            .min_by_key(|i| rank(i))
            .or_else(|| left.first())
            .map(|i| i.sync_type)
            .expect("not empty");
        out.push(next);
        left.retain(|i| i.sync_type != next);
    }
    out
}

pub async fn run(opts: &Options, progress: Mode, args: &AllArgs) -> anyhow::Result<Exit> {
    let ctx = Ctx::open(opts, progress, Needs::writer(opts)).await?;
    let chain = order();
    // The whole chain plans in one transaction: the pushes see what the pulls would
    // have stored. It is rolled back at the end, and the dry runs recorded then.
    if ctx.dry_run() {
        ctx.store.begin_dry_run()?;
    }
    let mut outcomes: HashMap<SyncType, Outcome> = HashMap::new();
    let mut entries_order = Vec::new();
    let mut down_remotes: Vec<(Remote, SyncType)> = Vec::new();
    let mut fatal: Option<anyhow::Error> = None;
    for (i, &t) in chain.iter().enumerate() {
        let info = t.info();
        // Luca down: a pull of both sides still runs its Katana side (SPEC: "Luca down,
        // the Katana pulls still run"), and says so.
        let katana_only = down_remotes.iter().any(|(r, _)| *r == Remote::Luca)
            && info.remotes.contains(&Remote::Katana)
            && info.remotes.contains(&Remote::Luca)
            && PassCmd::with_words(t, &["--from", "katana"]).is_some();
        let down_here: Vec<(Remote, SyncType)> = down_remotes
            .iter()
            .copied()
            .filter(|(r, _)| !(katana_only && *r == Remote::Luca))
            .collect();
        let outcome = match skip_reason(&ctx, args, info, &outcomes, &down_here)? {
            Some((reason, blocks)) => Outcome::Skipped { reason, blocks },
            None => {
                let cmd = if katana_only {
                    PassCmd::with_words(t, &["--from", "katana"])
                } else {
                    PassCmd::with_defaults(t)
                };
                let Some(cmd) = cmd else {
                    let reason = format!(
                        "needs arguments of its own: run `katana-sync {}`",
                        info.cli.join(" ")
                    );
                    outcomes.insert(
                        t,
                        Outcome::Skipped {
                            reason,
                            blocks: Some(None),
                        },
                    );
                    entries_order.push(t);
                    continue;
                };
                tracing::info!("{} ({}/{}): {}", t.as_str(), i + 1, chain.len(), info.about);
                let (run, err) = super::run_pass(&ctx, t, async |tally| {
                    if katana_only {
                        tally.say(
                            "Luca is unavailable in this run: only the Katana side was pulled \
                             (`--from katana`)"
                                .to_string(),
                        );
                    }
                    cmd.body(&ctx, tally).await
                })
                .await;
                crate::metrics::after_pass(&ctx);
                let exit = super::pass_exit(&run, err.as_ref());
                let remote = err.as_ref().and_then(remote_down);
                if let Some(r) = remote {
                    down_remotes.push((r, t));
                }
                if let Some(e) = err {
                    // The store failing or a stop asked for ends the chain: nothing after
                    // it could run any better.
                    if matches!(exit, Exit::Store | Exit::Interrupted | Exit::Terminated) {
                        fatal = Some(e);
                    }
                }
                Outcome::Ran {
                    run: Box::new(run),
                    exit,
                    down: remote,
                }
            }
        };
        outcomes.insert(t, outcome);
        entries_order.push(t);
        if let Some(e) = &fatal {
            for &rest in &chain[i + 1..] {
                outcomes.insert(
                    rest,
                    Outcome::Skipped {
                        reason: format!("not started: {}", first_line(e)),
                        blocks: Some(None),
                    },
                );
                entries_order.push(rest);
            }
            break;
        }
    }
    if ctx.dry_run() {
        ctx.store.end_dry_run()?;
        ctx.after_pass();
        // Recorded now that the chain's transaction is gone (SPEC: dry runs are in
        // history as `dry_run`).
        for o in outcomes.values_mut() {
            if let Outcome::Ran { run, .. } = o {
                run.run_id = ctx.store.start_run(run.sync_type, &run.started_at)?;
                ctx.store.finish_run(run)?;
            }
        }
    }
    let mut exit = Exit::Ok;
    let mut entries = Vec::new();
    for t in entries_order {
        match outcomes.remove(&t).expect("every pass has an outcome") {
            Outcome::Ran { run, exit: e, .. } => {
                exit = exit.worst(e);
                entries.push(Entry::Ran(run));
            }
            Outcome::Skipped { reason, .. } => entries.push(Entry::Skipped {
                sync_type: t,
                status: "skipped",
                reason,
            }),
        }
    }
    if ctx.opts.json {
        ctx.opts.host.println(serde_json::to_string_pretty(
            &serde_json::json!({ "runs": entries }),
        )?)?;
    } else if ctx.opts.quiet == 0 || exit != Exit::Ok {
        ctx.opts.host.print(summary(&ctx, &entries, exit)?)?;
    }
    Ok(exit)
}

/// Why the pass must not run now, and whether that holds back the passes after it.
type Skip = Option<(String, Option<Option<Remote>>)>;

fn skip_reason(
    ctx: &Ctx,
    args: &AllArgs,
    info: &PassInfo,
    outcomes: &HashMap<SyncType, Outcome>,
    down: &[(Remote, SyncType)],
) -> anyhow::Result<Skip> {
    let t = info.sync_type;
    if let Some(signal) = ctx.stop_requested() {
        return Ok(Some((
            format!("not started: interrupted by {signal}"),
            Some(None),
        )));
    }
    if t.as_str() == "despatches" && !ctx.config.sync.despatches {
        return Ok(Some(("disabled: `[sync] despatches = false`".into(), None)));
    }
    for &a in info.after {
        let uses = |r: Option<Remote>| r.is_none_or(|r| info.remotes.contains(&r));
        match outcomes.get(&a) {
            Some(Outcome::Ran {
                run, exit, down, ..
            }) if run.status == crate::report::RunStatus::Failed && uses(*down) => {
                return Ok(Some((
                    format!(
                        "its prerequisite {} failed (exit {}): {}",
                        a.as_str(),
                        exit.code(),
                        run.message.as_deref().map_or("see its run", first_line_str)
                    ),
                    Some(*down),
                )));
            }
            Some(Outcome::Skipped {
                reason,
                blocks: Some(remote),
            }) if uses(*remote) => {
                return Ok(Some((
                    format!("its prerequisite {} did not run ({reason})", a.as_str()),
                    Some(*remote),
                )));
            }
            _ => {}
        }
    }
    if let Some((remote, by)) = down.iter().find(|(r, _)| info.remotes.contains(r)) {
        let what = match outcomes.get(by) {
            Some(Outcome::Ran {
                exit: Exit::AuthRejected,
                ..
            }) => "rejected the credentials",
            Some(Outcome::Ran {
                exit: Exit::Config, ..
            }) => "refused the configured login or branch",
            _ => "stayed unavailable",
        };
        return Ok(Some((
            format!(
                "{remote} {what} in {} of this run; `katana-sync doctor` says what to fix",
                by.as_str()
            ),
            Some(Some(*remote)),
        )));
    }
    if args.due
        && let Some(reason) = not_due(ctx, info)?
    {
        return Ok(Some((reason, None)));
    }
    Ok(None)
}

/// `--due`: why the pass is not due yet, or `None` when it is (never succeeded, or its
/// last success is at least its interval ago).
fn not_due(ctx: &Ctx, info: &PassInfo) -> anyhow::Result<Option<String>> {
    let Some(interval) = info.interval else {
        return Ok(None);
    };
    let key = interval.key();
    let Some(every) = ctx.config.sync.intervals.get(key).copied() else {
        return Ok(None);
    };
    let Some(last) = ctx.store.last_success(info.sync_type)? else {
        return Ok(None);
    };
    let Ok(last_ts) = last.parse::<jiff::Timestamp>() else {
        return Ok(None); // an unreadable time is no reason to hold a pass back
    };
    let age = jiff::Timestamp::now().duration_since(last_ts);
    let age = Duration::try_from(age).unwrap_or(Duration::ZERO);
    if age >= every {
        return Ok(None);
    }
    let due_at = last_ts
        .checked_add(jiff::SignedDuration::try_from(every).unwrap_or_default())
        .map(crate::time::format_ts)
        .unwrap_or_default();
    Ok(Some(format!(
        "not due: last success {last}, every {} (`[sync.intervals] {key}`); due at {due_at}",
        humantime::format_duration(every)
    )))
}

/// The remote whose failure ended a pass: credentials rejected, or down after retries.
fn remote_down(err: &anyhow::Error) -> Option<Remote> {
    err.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return match e {
                Error::Auth { remote, .. } | Error::Unavailable { remote, .. } => Some(*remote),
                _ => None,
            };
        }
        if let Some(e) = cause.downcast_ref::<crate::katana::Error>() {
            return matches!(e.exit(), Exit::AuthRejected | Exit::Unavailable)
                .then_some(Remote::Katana);
        }
        if let Some(e) = cause.downcast_ref::<crate::luca::Error>() {
            return (e.is_fatal() || matches!(e, crate::luca::Error::Unavailable { .. }))
                .then_some(Remote::Luca);
        }
        None
    })
}

fn first_line(e: &anyhow::Error) -> String {
    first_line_str(&e.to_string()).to_string()
}

fn first_line_str(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The text of `all`: each pass that has something to say, then one table of them all,
/// what was held back, what to try next, and one line on the exit code.
fn summary(ctx: &Ctx, entries: &[Entry], exit: Exit) -> anyhow::Result<String> {
    let mut out = String::new();
    for e in entries {
        if let Entry::Ran(run) = e {
            let detail = render_run(run);
            // The table below carries the counts; only what else the pass said here.
            if detail.lines().count() > 1 {
                out.push_str(&detail);
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{:<16} {:<8} {:>9} {:>8} {:>8} {:>8} {:>7} {:>7} {:>6}",
        "pass", "status", "processed", "created", "updated", "skipped", "failed", "katana", "luca"
    );
    let (mut held, mut held_by) = (0u64, Vec::new());
    let mut requests = (0u64, 0u64);
    for e in entries {
        match e {
            Entry::Ran(r) => {
                let _ = writeln!(
                    out,
                    "{:<16} {:<8} {:>9} {:>8} {:>8} {:>8} {:>7} {:>7} {:>6}",
                    r.sync_type.as_str(),
                    r.status.as_str(),
                    r.processed,
                    r.created,
                    r.updated,
                    r.skipped,
                    r.failed,
                    r.requests.katana,
                    r.requests.luca
                );
                requests.0 += r.requests.katana;
                requests.1 += r.requests.luca;
                let n = r.failed.max(r.errors.len() as u64) + r.extra.held;
                if n > 0 {
                    held += n;
                    held_by.push(format!("{} {n}", r.sync_type.as_str()));
                }
            }
            Entry::Skipped {
                sync_type, reason, ..
            } => {
                let _ = writeln!(out, "{:<16} {:<8} {reason}", sync_type.as_str(), "skipped");
            }
        }
    }
    let _ = writeln!(
        out,
        "{} requests: katana {}, luca {}",
        " ".repeat(17),
        requests.0,
        requests.1
    );
    if held > 0 {
        let _ = writeln!(
            out,
            "\nheld back: {held} record(s) ({}), each listed above with its reason; nothing is \
             lost: once fixed at the source the next run picks them up",
            held_by.join(", ")
        );
    }
    let pending = ctx.store.pending_adjustments()?;
    let unknown = ctx.store.unknown_outcomes()?;
    let mut next = Vec::new();
    if pending > 0 {
        next.push(format!(
            "{pending} stock adjustment(s) wait for approval: `katana-sync adjustments list`, \
             then `katana-sync adjustments approve --all` (or `--order SO-…`); the next \
             `invoices` pass invoices the approved orders"
        ));
    }
    if unknown > 0 {
        next.push(format!(
            "{unknown} Luca create(s) in doubt: the next run looks each up before anything is \
             sent again; `katana-sync adjustments list --status unknown` shows those that wait \
             for `adjustments resolve`"
        ));
    }
    match exit {
        Exit::AuthRejected | Exit::Config => next.push(
            "`katana-sync doctor` names the credential or setting at fault and its fix".into(),
        ),
        Exit::Unavailable => next.push(
            "a remote stayed unavailable: the next run carries on where this one stopped".into(),
        ),
        _ => {}
    }
    if held > 0 {
        next.push("`katana-sync history --type <pass>` lists a pass's held records again".into());
    }
    if ctx.sandbox.is_some() {
        next.push(
            "run it again: the second run shows the incremental behaviour (nothing new); \
             `katana-sync mapping init` and `katana-sync doctor` start a real configuration"
                .into(),
        );
    }
    if !next.is_empty() {
        let _ = writeln!(out, "\nnext:");
        for n in next {
            let _ = writeln!(out, "  - {n}");
        }
    }
    let why = match exit {
        Exit::Ok => "every pass that ran synced every record".to_string(),
        Exit::Partial if ctx.sandbox.is_some() => format!(
            "{held} record(s) were held back: the demo data carries deliberately bad records \
             (a variant with no SKU, a duplicate SKU, a malformed price, a name Luca cannot \
             store), and they are held back as a real tenant's would be"
        ),
        Exit::Partial => format!("{held} record(s) were held back (listed above)"),
        other => format!("{other:?}: see the failed pass above"),
    };
    let _ = writeln!(out, "\nexit {}: {why}", exit.code());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_follows_after() {
        let order = order();
        for (i, t) in order.iter().enumerate() {
            for a in t.info().after {
                if let Some(j) = order.iter().position(|x| x == a) {
                    assert!(j < i, "{} must come after {}", t.as_str(), a.as_str());
                }
            }
        }
        // SPEC section 1's order, for the passes this build has.
        let spec = [
            "warehouses_pull",
            "warehouses_push",
            "customers_pull",
            "customers_push",
            "suppliers_pull",
            "suppliers_push",
            "products_pull",
            "products_push",
            "orders_pull",
            "stock",
            "invoices",
            "despatches",
        ];
        let names: Vec<&str> = order.iter().map(|t| t.as_str()).collect();
        let expected: Vec<&str> = spec.iter().copied().filter(|s| names.contains(s)).collect();
        assert_eq!(names, expected);
        assert!(!names.contains(&"delete_sku"), "a command of its own");
    }

    #[test]
    fn every_pass_of_the_chain_runs_without_arguments() {
        for t in order() {
            assert!(
                PassCmd::with_defaults(t).is_some(),
                "{} cannot run with its defaults",
                t.as_str()
            );
        }
    }
}
