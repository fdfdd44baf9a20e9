//! `customers push [--id ID]...`: the Luca account of every Katana customer that has none.

use crate::context::Ctx;
use crate::report::Tally;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these Katana customer ids (repeatable)
    #[arg(long = "id", value_name = "ID")]
    ids: Vec<i64>,
}

pub async fn run(ctx: &Ctx, tally: &mut Tally, args: Args) -> anyhow::Result<()> {
    let only = (!args.ids.is_empty()).then_some(args.ids.as_slice());
    crate::sync::accounts::push_customers(ctx, tally, only).await
}
