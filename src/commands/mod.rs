//! One file per subcommand that is not a sync pass; the passes live in `crate::sync`.
//! This module dispatches the command line and runs every pass the same way: a run row
//! opened at start, closed with counts and errors, printed as text or JSON.

mod adjustments;
mod completions;
mod delete_sku;
mod doctor;
mod history;

use crate::cli::{Cli, Command, GlobalOpts, OrdersCmd, PartnersCmd, ProductsCmd, WarehousesCmd};
use crate::context::{Ctx, Needs};
use crate::error::Exit;
use crate::progress::Mode;
use crate::report::{Run, RunStatus, SyncType, Tally, render_run};
use crate::sync;

pub async fn run(cli: Cli, progress: Mode) -> anyhow::Result<Exit> {
    let g = &cli.global;
    match cli.command {
        Command::History(args) => history::run(g, progress, &args),
        Command::Completions { shell } => completions::run(shell),
        Command::Sandbox(crate::cli::SandboxCmd::Serve(args)) => {
            crate::sandbox::serve(&args).await?;
            Ok(Exit::Ok)
        }
        Command::Doctor(args) => doctor::run(g, progress, &args).await,
        Command::Adjustments(cmd) => adjustments::run(g, progress, cmd).await,
        Command::DeleteSku(args) => delete_sku::run(g, progress, &args).await,
        Command::Orders(OrdersCmd::Pull) => {
            single_pass(g, progress, SyncType::OrdersPull, async |ctx, t| {
                sync::orders::pull(ctx, t).await
            })
            .await
        }
        Command::Products(ProductsCmd::Pull { from }) => {
            single_pass(g, progress, SyncType::ProductsPull, async move |ctx, t| {
                sync::products::pull(ctx, t, from).await
            })
            .await
        }
        Command::Products(ProductsCmd::Push { skus }) => {
            single_pass(g, progress, SyncType::ProductsPush, async move |ctx, t| {
                sync::products::push(ctx, t, skus).await
            })
            .await
        }
        Command::Customers(PartnersCmd::Pull) => {
            single_pass(g, progress, SyncType::CustomersPull, async |ctx, t| {
                sync::partners::pull(ctx, t, sync::partners::Kind::Customer).await
            })
            .await
        }
        Command::Suppliers(PartnersCmd::Pull) => {
            single_pass(g, progress, SyncType::SuppliersPull, async |ctx, t| {
                sync::partners::pull(ctx, t, sync::partners::Kind::Supplier).await
            })
            .await
        }
        Command::Warehouses(WarehousesCmd::Pull) => {
            single_pass(g, progress, SyncType::WarehousesPull, async |ctx, t| {
                sync::warehouses::pull(ctx, t).await
            })
            .await
        }
    }
}

/// Opens the context a pass needs (config, locked store), runs one pass, prints it.
async fn single_pass(
    opts: &GlobalOpts,
    progress: Mode,
    sync_type: SyncType,
    body: impl AsyncFnOnce(&Ctx, &mut Tally) -> anyhow::Result<()>,
) -> anyhow::Result<Exit> {
    let ctx = Ctx::open(opts, progress, Needs::writer(opts)).await?;
    let (run, err) = run_pass(&ctx, sync_type, async |t| body(&ctx, t).await).await;
    print_run(&ctx, &run)?;
    match err {
        Some(e) => Err(e),
        None => Ok(exit_of(&run)),
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
    let mut tally = Tally::default();
    // A dry run's writes are all rolled back: it computes exactly what a real run
    // would, and keeps none of it.
    let result = match ctx.dry_run().then(|| ctx.store.begin_dry_run()) {
        Some(Err(e)) => Err(e),
        _ => body(&mut tally).await,
    };
    let result = match ctx.dry_run() {
        true => result.and(ctx.store.end_dry_run()),
        false => result,
    };
    ctx.after_pass();
    let after = ctx.requests.snapshot();
    let status = match (&result, ctx.dry_run()) {
        (Err(_), _) => RunStatus::Failed,
        (Ok(()), true) => RunStatus::DryRun,
        (Ok(()), false) if tally.is_complete() => RunStatus::Ok,
        (Ok(()), false) => RunStatus::Partial,
    };
    let run = Run {
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
        errors: tally.errors,
        message: result.as_ref().err().map(|e| format!("{e:#}")),
        extra: tally.extra,
    };
    if let Err(e) = ctx.store.finish_run(&run) {
        return (run, Some(e));
    }
    (run, result.err())
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

/// Prints a run on stdout: JSON with `--json`, else text (nothing with `-q` when all
/// went well, so cron stays quiet).
pub fn print_run(ctx: &Ctx, run: &Run) -> anyhow::Result<()> {
    if ctx.opts.json {
        println!("{}", serde_json::to_string_pretty(run)?);
    } else if ctx.opts.quiet == 0 || exit_of(run) != Exit::Ok {
        print!("{}", render_run(run));
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
