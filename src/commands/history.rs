//! `history [--limit N] [--type T] [--json]`: the last runs, newest first.

use crate::cli::{GlobalOpts, HistoryArgs};
use crate::context::Ctx;
use crate::error::{Error, Exit};
use crate::progress::Mode;
use crate::report::{SyncType, render_history};

pub fn run(opts: &GlobalOpts, _progress: Mode, args: &HistoryArgs) -> anyhow::Result<Exit> {
    let sync_type = match &args.sync_type {
        None => None,
        Some(t) => Some(SyncType::parse(t).ok_or_else(|| {
            let known: Vec<_> = SyncType::ALL.iter().map(|t| t.as_str()).collect();
            Error::Usage(format!(
                "unknown --type \"{t}\"; expected one of {}",
                known.join(", ")
            ))
        })?),
    };
    // No config needed: the store comes from --db, KATANA_SYNC_DB, the config if
    // present, or the default path (SPEC section 3). No lock: history only reads.
    let store = Ctx::read_store(opts)?;
    let runs = store.runs(args.limit, sync_type)?;
    if opts.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "runs": runs }))?
        );
    } else {
        print!("{}", render_history(&runs));
    }
    Ok(Exit::Ok)
}
