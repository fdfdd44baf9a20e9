//! `warehouses pull`: Katana locations into the store.

use crate::context::Ctx;
use crate::report::Tally;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Ctx, tally: &mut Tally, _args: Args) -> anyhow::Result<()> {
    crate::sync::warehouses::pull(ctx, tally).await
}
