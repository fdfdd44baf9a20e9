//! `invoices`: every approved, not yet invoiced order becomes one Luca sales invoice.

use crate::context::Ctx;
use crate::report::Tally;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Ctx, tally: &mut Tally, _args: Args) -> anyhow::Result<()> {
    crate::sync::invoices::run(ctx, tally).await
}
