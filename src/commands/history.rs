//! `history [--limit N] [--type T] [--json]`: the last runs, newest first.

use crate::cli::HistoryArgs;
use crate::context::Ctx;
use crate::context::Options;
use crate::error::Exit;
use crate::progress::Mode;
use crate::report::{RunStatus, render_history};
use crate::store::runs::as_interrupted;

pub fn run(opts: &Options, _progress: Mode, args: &HistoryArgs) -> anyhow::Result<Exit> {
    let sync_type = args.sync_type;
    // No config needed: the store comes from --db, KATANA_SYNC_DB, the config if
    // present, or the default path (SPEC section 3). No lock: history only reads.
    let store = Ctx::read_store(opts)?;
    let mut runs = store.runs(args.limit, sync_type)?;
    // `running` only while its process lives (SPEC section 4): a run whose process
    // died is shown as what the next run will record it as.
    if runs.iter().any(|r| r.status == RunStatus::Running)
        && !crate::store::lock::holder_may_be_alive(store.path())
    {
        runs.iter_mut()
            .filter(|r| r.status == RunStatus::Running)
            .for_each(as_interrupted);
    }
    if opts.json {
        opts.host.println(serde_json::to_string_pretty(
            &serde_json::json!({ "runs": runs }),
        )?)?;
    } else {
        opts.host.print(render_history(&runs))?;
    }
    Ok(Exit::Ok)
}
