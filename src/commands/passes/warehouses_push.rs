//! `warehouses push`: the Luca warehouse (depo) of every mapped location that has none.

use crate::context::Ctx;
use crate::report::Tally;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Ctx, tally: &mut Tally, _args: Args) -> anyhow::Result<()> {
    crate::sync::warehouses::push(ctx, tally).await
}
