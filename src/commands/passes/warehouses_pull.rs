//! `warehouses pull [--from katana|luca|both]`: Katana locations into the store; Luca's
//! warehouses into the depoKodu → depoId map, each location's mapping checked.

use super::products_pull::From;
use crate::context::Ctx;
use crate::report::Tally;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = From::Both)]
    from: From,
}

pub async fn run(ctx: &Ctx, tally: &mut Tally, args: Args) -> anyhow::Result<()> {
    crate::sync::warehouses::pull(ctx, tally, args.from.side()).await
}
