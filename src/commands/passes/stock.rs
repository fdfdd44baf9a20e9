//! `stock`: Katana inventory against Luca on-hand; drift adjustments; approved slips.

use crate::context::Ctx;
use crate::report::Tally;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Ctx, tally: &mut Tally, _args: Args) -> anyhow::Result<()> {
    crate::sync::stock::run(ctx, tally).await
}
