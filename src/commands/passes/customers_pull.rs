//! `customers pull [--from katana|luca|both]`: Katana customers into the store; their existing
//! Luca accounts matched (by code, then tax number) into the store's map.

use super::products_pull::From;
use crate::context::Ctx;
use crate::report::Tally;
use crate::store::luca_ids::AccountKind;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = From::Both)]
    from: From,
}

pub async fn run(ctx: &Ctx, tally: &mut Tally, args: Args) -> anyhow::Result<()> {
    crate::sync::partners::pull(ctx, tally, AccountKind::Customer, args.from.side()).await
}
