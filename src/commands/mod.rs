//! One file per subcommand that is not a sync pass; the passes are listed in `passes`
//! (one file each under `passes/`) and run in `crate::sync`. This module dispatches the
//! command line and runs every pass the same way: a run row opened at start, closed with
//! counts and errors, printed as text or JSON.

mod adjustments;
mod all;
mod completions;
mod delete_sku;
mod doctor;
mod history;
mod mapping;
pub mod passes;

use crate::cli::{Cli, Command};
use std::time::Duration;

use crate::context::{Ctx, Stop};
use crate::error::{Error, Exit};
use crate::host::Host;
use crate::progress::Mode;
use crate::report::{RecordError, Run, RunStatus, SyncType, Tally, render_run};

pub async fn run(cli: Cli, progress: Mode) -> anyhow::Result<Exit> {
    run_with(cli, progress, Host::default()).await
}

/// Runs the command line with results and environment from `host`: the binary's own in
/// [`run`]; a buffer and a fixed environment for the tests that run it in-process,
/// which leave the process's signals alone.
pub async fn run_with(cli: Cli, progress: Mode, host: Host) -> anyhow::Result<Exit> {
    let g = &crate::context::Options {
        host,
        ..crate::context::Options::from(&cli.global)
    };
    // `sandbox serve` stops on a signal by itself; everything else stops at a safe
    // point (a pass) or at once (anything else).
    if g.host.is_process()
        && !matches!(cli.command, Command::Sandbox(_))
        && let Err(e) = Stop::process().listen()
    {
        // Better a run that a signal ends abruptly (which the next run closes as
        // interrupted) than no run at all.
        tracing::warn!("cannot listen for SIGINT and SIGTERM ({e}); a signal ends the run at once");
    }
    match cli.command {
        Command::History(args) => history::run(g, progress, &args),
        Command::Completions { shell } => completions::run(g, shell),
        Command::Sandbox(crate::cli::SandboxCmd::Serve(args)) => {
            crate::sandbox::serve(args.options()?, &args.addr).await?;
            Ok(Exit::Ok)
        }
        Command::Doctor(args) => doctor::run(g, progress, &args).await,
        Command::Adjustments(cmd) => adjustments::run(g, progress, cmd).await,
        Command::DeleteSku(args) => delete_sku::run(g, progress, &args).await,
        Command::Pass(cmd) => passes::run(g, progress, cmd).await,
        Command::All(args) => all::run(g, progress, &args).await,
        Command::Mapping(crate::cli::MappingCmd::Init) => mapping::init(g, progress).await,
    }
}

/// Runs one pass and records it in history. A pass that fails returns its error beside
/// the recorded run, so the caller can print both and map the exit code.
pub async fn run_pass(
    ctx: &Ctx,
    sync_type: SyncType,
    body: impl AsyncFnOnce(&mut Tally) -> anyhow::Result<()>,
) -> (Run, Option<anyhow::Error>) {
    let started_at = crate::store::now();
    let before = ctx.requests.snapshot();
    let run_id = match ctx.store.start_run(sync_type, &started_at) {
        Ok(id) => id,
        Err(e) => return (failed_run(sync_type, started_at, &e), Some(e)),
    };
    tracing::debug!(run_id, sync_type = sync_type.as_str(), "pass started");
    ctx.set_active_run(Some(run_id));
    let armed = ctx.stop.arm();
    let mut tally = Tally::default();
    // A dry run's writes are all rolled back: it computes exactly what a real run
    // would, and keeps none of it. Under `all --dry-run` the chain's one transaction is
    // open already: the pass plans on what the passes before it would have stored, and
    // `all` rolls the whole chain back (and writes the rate log) at its end.
    let own_dry_run = ctx.dry_run() && ctx.store.conn().is_autocommit();
    let result = match own_dry_run.then(|| ctx.store.begin_dry_run()) {
        Some(Err(e)) => Err(e),
        _ => until_stopped(&ctx.stop, STOP_GRACE, body(&mut tally)).await,
    };
    let result = match own_dry_run {
        true => result.and(ctx.store.end_dry_run()),
        false => result,
    };
    if !ctx.dry_run() || own_dry_run {
        ctx.after_pass();
    }
    let after = ctx.requests.snapshot();
    let status = match (&result, ctx.dry_run()) {
        (Err(_), _) => RunStatus::Failed,
        (Ok(()), true) => RunStatus::DryRun,
        (Ok(()), false) if tally.is_complete() => RunStatus::Ok,
        (Ok(()), false) => RunStatus::Partial,
    };
    let mut errors = tally.errors;
    if let Some(e) = result.as_ref().err()
        && let Some(Error::Interrupted { .. }) = e.downcast_ref::<Error>()
    {
        // Said among the errors too, where history readers look for why a run failed.
        errors.push(RecordError {
            entity: crate::entity::Entity::Run,
            key: run_id.to_string(),
            reason: e.to_string(),
        });
    }
    let mut run = Run {
        run_id,
        sync_type,
        status,
        started_at,
        finished_at: Some(crate::store::now()),
        processed: tally.processed,
        created: tally.created,
        updated: tally.updated,
        skipped: tally.skipped,
        failed: tally.failed,
        requests: crate::report::Requests {
            katana: after.katana - before.katana,
            luca: after.luca - before.luca,
        },
        errors,
        message: result.as_ref().err().map(|e| format!("{e:#}")),
        extra: tally.extra,
    };
    // Kept with the run: the metrics of a pass that did not run this time say it.
    run.extra.exit_code = Some(pass_exit(&run, result.as_ref().err()).code());
    let finished = ctx.store.finish_run(&run);
    ctx.set_active_run(None);
    drop(armed);
    if let Err(e) = finished {
        return (run, Some(e));
    }
    (run, result.err())
}

/// How long a pass asked to stop may take to reach its own safe point (creates in
/// flight finish) before it is abandoned where it waits. Abandoning is safe too: no
/// store transaction spans an await, and a create cut off stays `sending`, to be
/// looked up before anything is sent again.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Runs a pass's body until it ends, or until a stop was asked for and the body did not
/// stop by itself within `grace`.
async fn until_stopped(
    stop: &Stop,
    grace: Duration,
    body: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let grace_over = async {
        stop.requested_wait().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = body => result,
        () = grace_over => {
            let signal = stop.requested().unwrap_or(crate::error::Signal::Interrupt);
            Err(Error::Interrupted { signal }.into())
        }
    }
}

fn failed_run(sync_type: SyncType, started_at: String, err: &anyhow::Error) -> Run {
    Run {
        run_id: 0,
        sync_type,
        status: RunStatus::Failed,
        started_at,
        finished_at: Some(crate::store::now()),
        processed: 0,
        created: 0,
        updated: 0,
        skipped: 0,
        failed: 0,
        requests: Default::default(),
        errors: vec![],
        message: Some(format!("{err:#}")),
        extra: Default::default(),
    }
}

/// The exit code of a finished pass (SPEC section 3).
pub fn exit_of(run: &Run) -> Exit {
    match run.status {
        RunStatus::Ok => Exit::Ok,
        RunStatus::DryRun if run.errors.is_empty() && run.failed == 0 => Exit::Ok,
        // The error that failed the run decides; see `exit_for`.
        RunStatus::Failed => Exit::Internal,
        _ => Exit::Partial,
    }
}

/// The exit code of a pass that ended with `err` (or none), SPEC section 3.
pub fn pass_exit(run: &Run, err: Option<&anyhow::Error>) -> Exit {
    match err {
        Some(e) => crate::error::exit_for(e),
        None => exit_of(run),
    }
}

/// Prints a run on stdout: JSON with `--json`, else text (nothing with `-q` when all
/// went well, so cron stays quiet).
pub fn print_run(ctx: &Ctx, run: &Run) -> anyhow::Result<()> {
    if ctx.opts.json {
        ctx.opts.host.println(serde_json::to_string_pretty(run)?)?;
    } else if ctx.opts.quiet == 0 || exit_of(run) != Exit::Ok {
        ctx.opts.host.print(render_run(run))?;
    }
    Ok(())
}

/// Reads a yes/no answer on a terminal.
pub(crate) fn confirm(prompt: &str) -> anyhow::Result<bool> {
    use std::io::Write as _;
    eprint!("{prompt} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim(),
        "y" | "Y" | "yes" | "YES" | "evet" | "e"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Signal, exit_for};

    #[tokio::test]
    async fn a_body_that_ignores_a_stop_is_abandoned_after_the_grace() {
        let stop = Stop::default();
        stop.request(Signal::Terminate);
        let grace = Duration::from_millis(20);
        let r = until_stopped(&stop, grace, std::future::pending()).await;
        assert_eq!(exit_for(&r.unwrap_err()), Exit::Terminated);
        // One that ends by itself within the grace keeps its own result.
        let r = until_stopped(&stop, Duration::from_secs(60), async { Ok(()) }).await;
        assert!(r.is_ok());
    }

    #[tokio::test]
    async fn without_a_stop_the_body_runs_to_its_end() {
        let stop = Stop::default();
        let body = async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            anyhow::bail!("its own error")
        };
        let err = until_stopped(&stop, Duration::ZERO, body)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "its own error");
    }
}
