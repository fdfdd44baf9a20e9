//! `delete-sku SKU [--yes]`: prints the lookup method and the elapsed time; asks for
//! confirmation on a terminal unless `--yes`.

use std::io::IsTerminal as _;

use crate::cli::{DeleteSkuArgs, GlobalOpts};
use crate::context::{Ctx, Needs};
use crate::error::Exit;
use crate::progress::Mode;
use crate::report::SyncType;
use crate::sync::delete_sku::{self, Deletion};

pub async fn run(opts: &GlobalOpts, progress: Mode, args: &DeleteSkuArgs) -> anyhow::Result<Exit> {
    let ctx = Ctx::open(opts, progress, Needs::writer(opts)).await?;
    let ask = !args.yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let confirm = |sku: &str, id: i64| -> anyhow::Result<bool> {
        if !ask {
            return Ok(true);
        }
        super::confirm(&format!("Delete the Luca stock card {sku} (skartId {id})?"))
    };
    let mut out: Option<Deletion> = None;
    let (run, err) = super::run_pass(&ctx, SyncType::DeleteSku, async |tally| {
        delete_sku::run(&ctx, tally, &args.sku, &confirm, &mut out).await
    })
    .await;
    if let Some(d) = &out {
        if opts.json {
            println!("{}", serde_json::to_string_pretty(d)?);
        } else {
            let what = match (d.deleted, d.luca_id, ctx.dry_run()) {
                (true, _, _) => "deleted".to_string(),
                (false, Some(_), true) => "would be deleted (dry run)".to_string(),
                (false, Some(_), false) if run.errors.is_empty() => {
                    "kept (not confirmed)".to_string()
                }
                (false, _, _) => "not deleted".to_string(),
            };
            println!(
                "{}: skartId {} {what}; id found in the {} in {} ms",
                d.sku,
                d.luca_id.map_or("-".into(), |i| i.to_string()),
                if d.lookup == "store" {
                    "store (no Luca listing)"
                } else {
                    "Luca (one lookup by code)"
                },
                d.elapsed_ms
            );
        }
    }
    for e in &run.errors {
        eprintln!("{} {}: {}", e.entity, e.key, e.reason);
    }
    match err {
        Some(e) => Err(e),
        None => Ok(super::exit_of(&run)),
    }
}
