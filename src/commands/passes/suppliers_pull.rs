//! `suppliers pull`: Katana suppliers into the store.

use crate::context::Ctx;
use crate::report::Tally;
use crate::sync::partners::{self, Kind};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Ctx, tally: &mut Tally, _args: Args) -> anyhow::Result<()> {
    partners::pull(ctx, tally, Kind::Supplier).await
}
