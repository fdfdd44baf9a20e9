//! `products pull [--from katana|luca|both]`: variants from Katana, stock card ids from Luca.

use crate::cli::PullFrom;
use crate::context::Ctx;
use crate::report::Tally;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = PullFrom::Both)]
    from: PullFrom,
}

pub async fn run(ctx: &Ctx, tally: &mut Tally, args: Args) -> anyhow::Result<()> {
    crate::sync::products::pull(ctx, tally, args.from).await
}
