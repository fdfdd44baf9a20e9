//! `delete-sku SKU [--yes]`: prints the lookup method and the elapsed time; asks for
//! confirmation on a terminal unless `--yes`, and refuses to delete unasked elsewhere.

use crate::cli::DeleteSkuArgs;
use crate::context::Options;
use crate::context::{Ctx, Needs};
use crate::error::{Error, Exit};
use crate::progress::Mode;
use crate::report::SyncType;
use crate::sync::delete_sku::{self, Deletion};

pub async fn run(opts: &Options, progress: Mode, args: &DeleteSkuArgs) -> anyhow::Result<Exit> {
    // Both refusals come before the store or Luca is touched.
    if args.sku.trim().is_empty() {
        return Err(
            Error::Usage("delete-sku needs a SKU: the one given is empty or blank".into()).into(),
        );
    }
    let terminal = opts.host.is_terminal();
    if !args.yes && !opts.dry_run && !terminal {
        return Err(Error::Usage(format!(
            "delete-sku {} would delete a Luca stock card, and there is no terminal to ask \
             for confirmation; pass --yes to delete without asking (or --dry-run to see what \
             would be deleted)",
            args.sku.trim()
        ))
        .into());
    }
    let ctx = Ctx::open(opts, progress, Needs::writer(opts)).await?;
    let ask = !args.yes;
    let confirm = |sku: &str, id: i64| -> anyhow::Result<bool> {
        if !ask {
            return Ok(true);
        }
        let _prompting = ctx.stop.prompting();
        super::confirm(&format!("Delete the Luca stock card {sku} (skartId {id})?"))
    };
    let mut out: Option<Deletion> = None;
    let (run, err) = super::run_pass(&ctx, SyncType::DeleteSku, async |tally| {
        delete_sku::run(&ctx, tally, &args.sku, &confirm, &mut out).await
    })
    .await;
    if let Some(d) = &out {
        if opts.json {
            opts.host.println(serde_json::to_string_pretty(d)?)?;
        } else {
            opts.host.println(describe(d, ctx.dry_run()))?;
        }
    }
    for e in &run.errors {
        opts.host
            .eprintln(format_args!("{} {}: {}", e.entity, e.key, e.reason));
    }
    match err {
        Some(e) => Err(e),
        None => Ok(super::exit_of(&run)),
    }
}

/// One line for people: what happened to the card, and where its id came from.
fn describe(d: &Deletion, dry_run: bool) -> String {
    let source = if d.lookup == "store" {
        "store (no Luca listing)"
    } else {
        "Luca (one lookup by code)"
    };
    let Some(id) = d.luca_id else {
        return format!(
            "{}: Luca has no stock card with this code (one lookup by code, {} ms); nothing deleted",
            d.sku, d.elapsed_ms
        );
    };
    let what = match (d.deleted, dry_run, d.declined) {
        (true, _, _) => "deleted",
        (false, true, _) => "would be deleted (dry run)",
        (false, false, true) => "kept (not confirmed)",
        (false, false, false) => "not deleted",
    };
    format!(
        "{}: skartId {id} {what}; id found in the {source} in {} ms",
        d.sku, d.elapsed_ms
    )
}
