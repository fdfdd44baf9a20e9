//! `orders pull`: sales orders and their rows, judged into adjustments page by page.

use crate::context::Ctx;
use crate::report::Tally;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Ctx, tally: &mut Tally, _args: Args) -> anyhow::Result<()> {
    crate::sync::orders::pull(ctx, tally).await
}
